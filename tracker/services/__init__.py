"""The services ring: one package per thing a clinic does, shared by every interface.

The web pages, the JSON API, the CLI and the scheduler's jobs all call these use cases, so a
check-in recorded on a phone, by the API or over the phone with a nurse is judged, stored,
audited and alerted the same way. Services flush; the caller (a view, a command, a job) commits
once. The infrastructure they stand on (the database helpers, the SMTP transport) lives apart in
`tracker.infrastructure`; the pure rules and the default catalogue in `tracker.rules` and
`tracker.catalogue`.
"""
