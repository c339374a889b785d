"""Clinics: creating one with its catalogue and first users, editing the symptom catalogue (with
its history), and the demo clinic of `make run`."""
