"""Bearer tokens for the JSON API, stored only as hashes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..timeutil import utcnow
from .clinic import User
from .types import UTCDateTime


class ApiToken(db.Model):
    """One bearer token of a staff member: random, kept as a SHA-256 hash, expiring.

    `password_stamp` is a hash of the user's password hash when the token was issued, so a
    password change (which rewrites that hash) revokes every token issued before it.
    """

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    password_stamp: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ip_address: Mapped[str | None] = mapped_column(String(45))

    user: Mapped[User] = relationship()
