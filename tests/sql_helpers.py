"""Watching the SQL a block of code executes (to count statements, not to time them)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import event

from tracker.extensions import db


@contextmanager
def executed_statements(keep: Callable[[str], bool] = lambda _: True) -> Iterator[list[str]]:
    """The SQL statements (those `keep` accepts) the engine executes inside the block."""
    seen: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        if keep(statement):
            seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
