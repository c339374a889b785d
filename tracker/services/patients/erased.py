"""An erased patient's record is read-only: the one refusal every service raises.

Erasure keeps the clinical record (treatments, check-ins, flags) but closes it: nothing is added
to it by any interface or job. Closing work already open (acknowledging, resolving a flag) stays
allowed. Each interface shows the refusal its own way (a 409 page, 409 JSON, a command error).
"""

from __future__ import annotations

from ...models import Patient

ERASED_REFUSAL = "This patient's contact data was erased: their record can be read, not changed."


class PatientErased(Exception):
    """The patient's contact data was erased: their record is restricted to reading."""

    def __init__(self, patient_id: int):
        self.patient_id = patient_id
        super().__init__(ERASED_REFUSAL)


def refuse_if_erased(patient: Patient) -> None:
    """Raise `PatientErased` if the patient's contact data was erased (nothing is written)."""
    if patient.erased_at is not None:
        raise PatientErased(patient.id)
