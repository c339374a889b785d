"""A migrated database of its own for tests that run the app in other processes (gunicorn, the
scheduler), and an app context on it in this process for seeding and counting.

The suite's `database_uri` fixture cannot serve them: other processes need a file or server they
can open themselves, and SQLite must be a real file in WAL mode for them to share it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from flask import Flask
from flask_migrate import upgrade

from tests import pg
from tests.conftest import ON_POSTGRESQL, TEST_DATABASE_URL
from tracker import create_app
from tracker.extensions import db


def app_on(database_url: str, secret: str) -> Flask:
    """An app in this process on `database_url`, signing with the other processes' `secret`."""
    return create_app(
        {
            "TESTING": True,
            "SECRET_KEY": secret,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "PASSWORD_HASH_METHOD": "scrypt:1024:8:1",  # fast to seed; the processes' is their own
        }
    )


def migrate(database_url: str) -> None:
    """Run the real migrations on `database_url`."""
    app = app_on(database_url, "migrating")
    with app.app_context():
        upgrade()
        db.engine.dispose()


@contextlib.contextmanager
def own_database(tmp_path: Path, name: str) -> Iterator[str]:
    """A migrated database for these processes alone: a SQLite file in `tmp_path`, or a fresh
    PostgreSQL database named after `name`, dropped afterwards."""
    if ON_POSTGRESQL:
        with pg.fresh_database(TEST_DATABASE_URL, name) as url:
            migrate(url)
            yield url
    else:
        url = f"sqlite:///{tmp_path / 'aftercare.db'}"
        migrate(url)
        yield url


@contextlib.contextmanager
def on(database_url: str, secret: str) -> Iterator[Flask]:
    """An app context on the processes' database; its session is removed afterwards."""
    app = app_on(database_url, secret)
    with app.app_context():
        try:
            yield app
        finally:
            db.session.remove()
            db.engine.dispose()
