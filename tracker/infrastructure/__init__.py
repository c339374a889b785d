"""What the use cases stand on, apart from them: database helpers (SQLite tuning, write locks,
insert-or-ignore, id limits) and the SMTP transport."""
