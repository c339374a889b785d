"""Messages to patients and clinics: the outbox and its delivery, reminders, alerts, stop links.

Every email is an outbox row written in the same transaction as what caused it (`messages`
composes them); `outbox` writes rows, claims them and backs off after failures; `delivery` runs
the sending through a transport; `reminders` queues the daily check-in and day-14 review
reminders; `alerts` the clinic's alerts at once, `digest` its morning digest;
`reminder_settings` the patient's time of day and one-click stop.
"""
