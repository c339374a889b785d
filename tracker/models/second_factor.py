"""A staff member's second factor: a TOTP authenticator app, and one-time recovery codes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..timeutil import utcnow
from .types import UTCDateTime


class SecondFactor(db.Model):
    """The authenticator app of one staff member: being set up until `confirmed_at`, then in use.

    `secret` is the base32 TOTP key, kept as it is: checking a code needs it in clear, and none
    of our dependencies offers well-kept symmetric encryption (the `cryptography` package would,
    with a key held apart from the database). Treat database backups as sign-in material.
    `last_used_step` is the 30-second step of the last accepted code: no code is accepted
    twice, nor an older one.
    """

    __tablename__ = "second_factors"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    secret: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_step: Mapped[int | None] = mapped_column()


class RecoveryCode(db.Model):
    """One recovery code, shown once at enrolment, stored as its SHA-256 hash, usable once."""

    __tablename__ = "recovery_codes"
    __table_args__ = (UniqueConstraint("user_id", "code_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
