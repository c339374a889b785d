"""The batch watch as staff see it: the batches a clinic used (`usage`), one batch's record
(`record`), quarantining it (`quarantine`), and closing its signals (`signals`; the sweep's
rules raise them)."""
