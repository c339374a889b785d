"""The batch watch: the batches a clinic used (`usage`), one batch's record (`record`),
quarantining it (`quarantine`), finding and raising signals in the sweep (`findings`, `watch`),
telling the clinics (`notices`), and closing signals (`signals`)."""
