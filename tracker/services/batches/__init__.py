"""Batches: the batch watch and its signals, quarantines, and the Batches pages' figures."""
