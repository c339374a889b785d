"""What the second-factor tests share: a frozen clock's moment, the accounts, codes and checks."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pyotp
from sqlalchemy import select

from tests.conftest import give_second_factor as _give_second_factor
from tracker.extensions import db
from tracker.models import AuditEvent, User

NOW = datetime(2026, 11, 24, 9, 0, 10, tzinfo=UTC)  # 10 s into a 30-second step
NURSE, ADMIN = "nurse@riverside.test", "admin@riverside.test"
SECRET_RE = re.compile(r'<code class="secret">([A-Z2-7 ]+)</code>')


def user(email: str = NURSE) -> User:
    return db.session.scalar(select(User).where(User.email == email))


def give_second_factor(email: str = NURSE) -> pyotp.TOTP:
    return pyotp.TOTP(_give_second_factor(user(email)).secret)


def code_at(totp: pyotp.TOTP, seconds: int = 0) -> str:
    return totp.at(NOW + timedelta(seconds=seconds))


def audit_actions() -> list[str]:
    return [event.action for event in db.session.scalars(select(AuditEvent))]


def words(html: str) -> str:
    return " ".join(html.split())


def signed_in(client) -> bool:
    return client.get("/clinic/").status_code == 200
