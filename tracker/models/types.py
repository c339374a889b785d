"""Column types shared by the models."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime, String
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from ..timeutil import utcnow


class UTCDateTime(TypeDecorator[datetime]):
    """An aware datetime stored as UTC (timestamptz on PostgreSQL, naive UTC text on SQLite).

    Naive datetimes are refused on the way in, and values always come back aware in UTC, so
    nothing depends on the database's or the server's timezone.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime stored: use aware UTC datetimes")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class ServerSessionColumns:
    """The columns of a server-side session row, a staff member's or a patient's.

    The cookie holds a random token and the row only its SHA-256, so a leaked database signs
    nobody in; setting `ended_at` ends the session however often the old cookie is replayed.
    """

    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
