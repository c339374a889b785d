"""The batch watch as staff see it: the batches a clinic used, one batch's record, its
quarantine, and closing its signals (the sweep raises them: tracker/services/signals)."""
