"""Governance: the append-only audit log of who saw or changed which patient's record, and the
data rights (a patient's whole record exported, their contact data erased)."""
