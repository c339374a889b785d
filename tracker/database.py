"""Database engine set-up and the dialect-specific helpers the services share."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from .extensions import db

WRITE = {"tracker_write": True}
"""Execution options that make SQLite begin the transaction with BEGIN IMMEDIATE."""


def configure_sqlite(engine: Engine) -> None:
    """WAL, a busy timeout, foreign keys, and write transactions that take the lock first.

    pysqlite's own transaction handling is switched off so SQLAlchemy's BEGIN is what runs: a
    writer that began DEFERRED and read first can fail with "database is locked" when it
    upgrades, whereas BEGIN IMMEDIATE simply waits its turn (busy_timeout).
    """

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: Any) -> None:
        immediate = connection.get_execution_options().get("tracker_write")
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def begin_write() -> None:
    """Start the session's transaction as a write transaction, if it has not begun yet.

    Call before the first statement of any unit of work that writes.
    """
    if not db.session().in_transaction():
        db.session.connection(execution_options=WRITE)


def insert_ignoring_conflicts(model: type) -> Any:
    """An INSERT that skips rows violating a unique constraint (insert-or-ignore)."""
    dialect = db.session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(model).on_conflict_do_nothing()


def begin_request_transaction() -> None:
    """Begin each request's transaction as a write transaction (BEGIN IMMEDIATE on SQLite).

    Nearly every page writes: changes, and an audit row for every view of patient data. A
    transaction that reads first and writes later can fail at once on SQLite in WAL mode when
    another writer committed in between (waiting does not help), so the lock is taken first.
    PostgreSQL ignores this. Static files never touch the database.
    """
    from flask import request

    if request.endpoint != "static":
        begin_write()
