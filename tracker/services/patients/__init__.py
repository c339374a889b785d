"""Patients and their follow-up: records, treatments, check-ins, personal links and sessions.

`patients` and `treatments` keep the clinic's records (a treatment queues its invite);
`checkins` validates and stores a check-in and raises what it shows at once, `history` reads
them back; `links`,
`fresh_links` and `patient_sessions` are how a patient gets in without a password.
"""
