"""PostgreSQL for the tests: fresh databases next to `TEST_DATABASE_URL`'s, and emptying them.

Administration (CREATE/DROP DATABASE) runs on the server's `postgres` database with autocommit,
as those statements cannot run inside a transaction nor on the database being dropped.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator

import psycopg
from psycopg import sql
from sqlalchemy.engine import URL, make_url

RUN_MARK = "pytest"
"""Run databases are named `<base>_pytest_<pid>[_<what>]`; nothing else is ever dropped."""
EXTRA_APPS: list = []
"""Apps a test built itself on the shared database (`make_app`): their pools close after it."""


def redacted(url: str) -> str:
    """The URL with any password hidden, for messages."""
    return make_url(url).render_as_string(hide_password=True)


def _conninfo(url: URL, database: str | None = None) -> dict:
    """psycopg connection arguments for `url` (optionally on another database of the server)."""
    args = {
        "host": url.host or None,
        "port": url.port or None,
        "user": url.username or None,
        "password": url.password or None,
        "dbname": database or url.database,
        "connect_timeout": 5,
    }
    return {key: value for key, value in args.items() if value is not None}


@contextlib.contextmanager
def admin_connection(url: str) -> Iterator[psycopg.Connection]:
    """An autocommit connection to the server's maintenance database (`postgres`)."""
    parsed = make_url(url)
    last_error: Exception | None = None
    for database in ("postgres", parsed.database, "template1"):
        try:
            connection = psycopg.connect(**_conninfo(parsed, database), autocommit=True)
        except psycopg.OperationalError as error:
            last_error = error
            continue
        with connection:
            yield connection
        return
    raise RuntimeError(f"cannot reach PostgreSQL at {redacted(url)}: {last_error}")


def _exists(connection: psycopg.Connection, name: str) -> bool:
    row = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    return row is not None


def drop_database(connection: psycopg.Connection, name: str) -> None:
    """Drop `name`, ending any session still connected to it."""
    connection.execute(
        sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    )


def _drop_leftovers(connection: psycopg.Connection, base: str) -> None:
    """Drop databases left by earlier runs on this machine whose process has gone (a crash)."""
    pattern = re.compile(rf"^{re.escape(base)}_{RUN_MARK}_(?P<pid>\d+)(?:_[a-z]+)?$")
    for (name,) in connection.execute("SELECT datname FROM pg_database").fetchall():
        match = pattern.match(name)
        if not match:
            continue
        try:
            os.kill(int(match["pid"]), 0)
        except ProcessLookupError:
            drop_database(connection, name)
        except PermissionError:  # alive, someone else's
            pass


@contextlib.contextmanager
def fresh_database(url: str, what: str = "") -> Iterator[str]:
    """Create an empty database `<name>_pytest_<pid>[_<what>]` beside `url`'s; drop it after.

    The database `url` names is created too if it is missing, so a new server needs no set-up.
    """
    parsed = make_url(url)
    base = parsed.database or "test"
    name = f"{base}_{RUN_MARK}_{os.getpid()}" + (f"_{what}" if what else "")
    with admin_connection(url) as connection:
        if not _exists(connection, base):
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(base)))
        _drop_leftovers(connection, base)
        drop_database(connection, name)
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield parsed.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin_connection(url) as connection:
            drop_database(connection, name)


class TableEmptier:
    """Empties every table but `alembic_version` between tests, keeping the schema.

    The fast way (about 2 ms): DELETE from each table in one transaction with
    `session_replication_role = replica`, which switches off triggers for this session only, so
    neither foreign keys nor the append-only audit trigger get in the way; then every sequence
    restarts, as in a fresh database. That setting needs a superuser (as `postgres` is on these
    machines); otherwise TRUNCATE ... RESTART IDENTITY CASCADE does the same in about 100 ms
    (TRUNCATE fires no row triggers, so the audit table empties too).
    """

    def __init__(self, url: str):
        self.connection = psycopg.connect(**_conninfo(make_url(url)), autocommit=True)
        tables = [
            name
            for (name,) in self.connection.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                "AND tablename <> 'alembic_version' ORDER BY tablename"
            ).fetchall()
        ]
        self.deletes = [sql.SQL("DELETE FROM {}").format(sql.Identifier(name)) for name in tables]
        self.truncate = sql.SQL("TRUNCATE {} RESTART IDENTITY CASCADE").format(
            sql.SQL(", ").join(sql.Identifier(name) for name in tables)
        )
        self.connection.execute("SET lock_timeout = '5s'")
        self.superuser = self.connection.execute("SHOW is_superuser").fetchone()[0] == "on"

    def empty_all_tables(self) -> None:
        """Empty the tables; connections a finished test left holding locks are ended first."""
        try:
            self._empty()
        except psycopg.errors.LockNotAvailable:
            self.connection.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            self._empty()

    def _empty(self) -> None:
        if not self.superuser:
            self.connection.execute(self.truncate)
            return
        with self.connection.transaction():
            self.connection.execute("SET LOCAL session_replication_role = replica")
            for statement in self.deletes:
                self.connection.execute(statement)
            self.connection.execute(
                "SELECT setval(c.oid, 1, false) FROM pg_class c "
                "WHERE c.relkind = 'S' AND c.relnamespace = current_schema()::regnamespace"
            )

    def __enter__(self) -> TableEmptier:
        return self

    def __exit__(self, *exc_info) -> None:
        self.connection.close()
