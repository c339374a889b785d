"""Writers waiting for SQLite's lock (`begin_immediate`): they take it as soon as it is free,
fail as before once the busy timeout has passed, and leave the connection's timeout as it was.
"""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from tracker.extensions import db
from tracker.infrastructure import database
from tracker.infrastructure.database import BUSY_TIMEOUT_MS, begin_write


@pytest.fixture
def sqlite_file(app) -> str:
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's write lock: PostgreSQL has row locks")
    return db.engine.url.database


def hold_write_lock(path: str, release: threading.Event, held: threading.Event) -> None:
    """Another process's writer: takes the write lock and keeps it until `release`."""
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    held.set()
    release.wait(timeout=30)
    other.execute("COMMIT")
    other.close()


def test_a_waiting_writer_tries_again_until_the_lock_is_free(app, sqlite_file, monkeypatch):
    release, held = threading.Event(), threading.Event()
    holder = threading.Thread(target=hold_write_lock, args=(sqlite_file, release, held))
    holder.start()
    held.wait(timeout=10)
    tries = []
    real_sleep = time.sleep

    def sleep(seconds):
        tries.append(seconds)
        if len(tries) == 20:
            release.set()  # the other writer commits while this one waits
        real_sleep(seconds)

    monkeypatch.setattr(database.time, "sleep", sleep)
    begin_write()
    db.session.execute(text("CREATE TABLE IF NOT EXISTS waited (n INTEGER)"))
    db.session.commit()
    holder.join(timeout=10)

    assert len(tries) >= 20  # it tried again and again, each after a short sleep
    assert max(tries) <= 2 * database.WRITE_RETRY_SECONDS
    assert db.session.execute(text("PRAGMA busy_timeout")).scalar() == BUSY_TIMEOUT_MS


def test_a_writer_still_fails_once_the_busy_timeout_has_passed(app, sqlite_file, monkeypatch):
    release, held = threading.Event(), threading.Event()
    holder = threading.Thread(target=hold_write_lock, args=(sqlite_file, release, held))
    holder.start()
    held.wait(timeout=10)
    monkeypatch.setattr(database, "WRITE_WAIT_SECONDS", 0.05)
    try:
        with pytest.raises(OperationalError, match="database is locked"):
            begin_write()
    finally:
        release.set()
        holder.join(timeout=10)
    db.session.rollback()
    begin_write()  # the connection is usable, its timeout as it was
    assert db.session.execute(text("PRAGMA busy_timeout")).scalar() == BUSY_TIMEOUT_MS
