"""Database engine set-up and the dialect-specific helpers the services share.

Two engines are first-class: SQLite (the embedded default, one file in WAL mode) and PostgreSQL
(psycopg 3, for several gunicorn workers and a scheduler process). What keeps the data right
under concurrency, and how each engine provides it:

- **One intent per key** (flags per treatment/symptom/reason/episode, outbox rows per
  `dedupe_key`): unique indexes plus `insert_ignoring_conflicts` (`ON CONFLICT DO NOTHING` on
  both engines). Two writers racing insert one row; neither fails. No lock is needed for this.
- **State changes** (claiming an outbox row, using a patient link, acknowledging or resolving
  a flag): compare-and-set `UPDATE ... WHERE status = <expected>` and a check of the row count.
  On PostgreSQL under READ COMMITTED the second UPDATE waits for the first's row lock, then
  re-checks its WHERE against the committed row and changes nothing, so the CAS holds.
- **Reads that decide a write** (a check-in judged against the treatment's earlier reports; a
  catalogue edit recorded as "from -> to"): on SQLite every write transaction is serialised by
  `BEGIN IMMEDIATE` (`begin_write`); on PostgreSQL `lock_for_update` takes that one row's lock
  (the treatment, the symptom), so work on the same row queues while the rest runs in
  parallel. Without the treatment lock two simultaneous check-ins could each miss the other's
  report; that would only delay a flag to the next sweep (which re-judges everything), never
  duplicate one.
- **Counts that gate a write** (sign-in throttling counts recent failures): on PostgreSQL
  attempts racing each other may each pass the check, so a burst can exceed the limit by up to
  the number of web workers; the limit still holds for the attempts that follow.

PostgreSQL therefore runs at its default READ COMMITTED level; `begin_write` merely starts the
transaction there. No SERIALIZABLE retries are needed because nothing above relies on them.
"""

from __future__ import annotations

import random
import sqlite3
import time
from typing import Any

from sqlalchemy import JSON, Select, and_, event, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from werkzeug.routing import IntegerConverter

from ..extensions import db

WRITE = {"tracker_write": True}
"""Execution options that make SQLite begin the transaction with BEGIN IMMEDIATE."""

MAX_ID = 2**31 - 1
"""The largest id an INTEGER primary key holds on PostgreSQL (int4); SQLite's are wider."""

NO_TRANSACTION_ENDPOINTS = frozenset({"static", "health.healthz"})
"""Endpoints that never begin the request's write transaction (no writes, no write lock)."""


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
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: Any) -> None:
        if connection.get_execution_options().get("tracker_write"):
            begin_immediate(connection)
        else:
            connection.exec_driver_sql("BEGIN")


BUSY_TIMEOUT_MS = 15000
"""How long a statement waits for SQLite's lock before it fails with "database is locked"."""
WRITE_WAIT_SECONDS = BUSY_TIMEOUT_MS / 1000
"""How long a writer waits for SQLite's write lock (`begin_immediate`): the same."""
WRITE_RETRY_SECONDS = 0.001
"""How often a writer waiting for SQLite's write lock tries again."""


def begin_immediate(connection: Connection) -> None:
    """BEGIN IMMEDIATE on SQLite, trying again every millisecond or so while another writer
    holds the lock, for up to `WRITE_WAIT_SECONDS`; then "database is locked" as before.

    SQLite's own busy handler sleeps ever longer between tries, up to 100 ms a time, so under
    a steady stream of short write transactions (check-ins take a few milliseconds each) a
    waiting writer sleeps through many of them while the lock is free: the bench's form ran at
    a tenth of its possible rate with a p99 of two seconds. Trying again every millisecond
    keeps the lock busy and the wait short (Rails 7.1 replaced its busy handler for the same
    reason). Only the BEGIN waits this way: once it holds the lock a transaction never waits.
    """
    raw = connection.connection.dbapi_connection  # the pragmas are not part of the transaction
    deadline = time.perf_counter() + WRITE_WAIT_SECONDS
    raw.execute("PRAGMA busy_timeout=0")
    try:
        while True:
            try:
                connection.exec_driver_sql("BEGIN IMMEDIATE")
                return
            except OperationalError as error:
                if not _is_busy(error) or time.perf_counter() > deadline:
                    raise
            time.sleep(WRITE_RETRY_SECONDS * random.uniform(0.5, 1.5))  # noqa: S311 (spread)
    finally:
        raw.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")


def _is_busy(error: OperationalError) -> bool:
    """Whether SQLite refused because another connection holds the lock (SQLITE_BUSY, or one
    of its extended codes)."""
    code = getattr(error.orig, "sqlite_errorcode", None)
    return code is not None and code & 0xFF == sqlite3.SQLITE_BUSY


def begin_write() -> None:
    """Start the session's transaction as a write transaction, if it has not begun yet.

    Call before the first statement of any unit of work that writes. On SQLite this is
    BEGIN IMMEDIATE, which serialises writers; on PostgreSQL a plain BEGIN (READ COMMITTED),
    where row locks and the constraints described in this module's docstring do that job.
    """
    if not db.session().in_transaction():
        db.session.connection(execution_options=WRITE)


WRITERS_PAUSE_SECONDS = 10 * WRITE_RETRY_SECONDS
"""A long job's pause between two write transactions on SQLite: several of a waiting writer's
tries (`begin_immediate`), so one of them finds the lock free."""


def let_waiting_writers_in() -> None:
    """Between two write transactions of a long job: on SQLite, pause long enough for a writer
    waiting on the lock to try again and take it. SQLite does not queue writers: a job that
    begins again the instant it commits can keep a request waiting until its busy timeout."""
    if db.engine.dialect.name == "sqlite":
        time.sleep(WRITERS_PAUSE_SECONDS)


def restart_write() -> None:
    """Roll back what this unit of work wrote, and begin again as a write transaction.

    A refused form is rolled back and its page shown again, which writes an audit row: that
    second transaction takes SQLite's write lock first too (see `begin_request_transaction`).
    """
    db.session.rollback()
    begin_write()


def lock_for_update(model: Any, row_id: int) -> None:
    """Take the row lock of `model` `row_id` until commit, serialising work on that row.

    PostgreSQL: `SELECT ... FOR UPDATE`. SQLite has no row locks and needs none: `begin_write`
    already holds the database's write lock, so this only starts the write transaction.
    """
    begin_write()
    if dialect_name() == "postgresql":
        db.session.execute(select(model.id).where(model.id == row_id).with_for_update())


def keyset_page(
    stmt: Select, at_column: Any, id_column: Any, limit: int, after: tuple[Any, int] | None
) -> tuple[list[Any], bool]:
    """Up to `limit` rows of `stmt` in (time, id) order after the position `after`, and whether
    more follow (keyset paging: stable while rows are added, whatever the page)."""
    if after is not None:
        at, row_id = after
        stmt = stmt.where(or_(at_column > at, and_(at_column == at, id_column > row_id)))
    ordered = stmt.order_by(None).order_by(at_column, id_column).limit(limit + 1)
    rows = list(db.session.scalars(ordered))
    return rows[:limit], rows[limit:] != []


def dialect_name() -> str:
    """The name of the session's database dialect: "sqlite" or "postgresql"."""
    return db.session.get_bind().dialect.name


def insert_ignoring_conflicts(model: type) -> Any:
    """An INSERT that skips rows violating a unique constraint (insert-or-ignore).

    Both dialects compile `on_conflict_do_nothing()` without a conflict target, so any unique
    constraint or unique index (including the flags' partial, expression indexes) applies.
    """
    module = postgresql if dialect_name() == "postgresql" else sqlite
    return module.insert(model).on_conflict_do_nothing()


class json_rows(FunctionElement):
    """An aggregate: the group's rows as a JSON array of arrays of the given columns, in no
    particular order (`json_group_array` on SQLite, `json_agg` on PostgreSQL, which gives NULL
    for no rows). Lets one statement carry a few related rows per result row."""

    type = JSON()
    name = "json_rows"
    inherit_cache = True


@compiles(json_rows, "sqlite")
def _json_rows_sqlite(element, compiler, **kw) -> str:
    return f"json_group_array(json_array({compiler.process(element.clauses, **kw)}))"


@compiles(json_rows, "postgresql")
def _json_rows_postgresql(element, compiler, **kw) -> str:
    return f"json_agg(json_build_array({compiler.process(element.clauses, **kw)}))"


class IdConverter(IntegerConverter):
    """`<int:...>` in URLs, limited to the ids the id columns can hold on every engine.

    An id past PostgreSQL's INTEGER range would otherwise be an "integer out of range" error
    (a 500) on PostgreSQL and a plain 404 on SQLite; this way both answer 404 at routing.
    """

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def begin_request_transaction() -> None:
    """Begin each request's transaction as a write transaction (BEGIN IMMEDIATE on SQLite).

    Nearly every page writes: changes, and an audit row for every view of patient data. A
    transaction that reads first and writes later can fail at once on SQLite in WAL mode when
    another writer committed in between (waiting does not help), so the lock is taken first.
    On PostgreSQL this is a plain BEGIN. Static files never touch the database, and the health
    check only reads: neither may queue behind (or hold up) the writers.
    """
    from flask import request

    if request.endpoint not in NO_TRANSACTION_ENDPOINTS:
        begin_write()
