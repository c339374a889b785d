"""Flags: judging check-ins with the rules, the sweep, flag actions, the queue and the timeline.

`flagging` turns a treatment's check-ins into findings with `tracker.rules` and stores them once;
`flag_actions` acknowledges, notes and resolves; `queue` lists a clinic's open work, most urgent
first; `timeline` draws each symptom's days against its expected duration.
"""
