"""One-time recovery codes: for signing in when the authenticator app is lost.

Ten random codes are made at enrolment and shown once; only their SHA-256 hashes are kept
(each has 50 random bits, so a fast hash is enough), and each works once.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime

from sqlalchemy import delete, func, select, update

from ...extensions import db
from ...models import RecoveryCode, User
from ...timeutil import utcnow
from ...tokens import stored_hash

RECOVERY_CODE_COUNT = 10
ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"  # 32 symbols: 5 bits each
CODE_CHARS = 10
_SEPARATORS = re.compile(r"[\s-]+")


def normalise(code: str) -> str:
    """A code as typed (any case, with or without its dash or spaces), as it is hashed."""
    return _SEPARATORS.sub("", code).lower()


def _hash(code: str) -> str:
    return stored_hash(normalise(code))


def looks_like_recovery_code(code: str) -> bool:
    """The shape of a recovery code (not a 6-digit authenticator code)."""
    text = normalise(code)
    return len(text) == CODE_CHARS and all(char in ALPHABET for char in text)


def replace_codes(user: User, now: datetime | None = None) -> list[str]:
    """A fresh set of codes for `user` (any old ones end); returns them, to be shown once."""
    now = now or utcnow()
    delete_codes(user)
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        text = "".join(secrets.choice(ALPHABET) for _ in range(CODE_CHARS))
        codes.append(f"{text[:5]}-{text[5:]}")
    db.session.add_all(
        RecoveryCode(user_id=user.id, code_hash=_hash(code), created_at=now) for code in codes
    )
    db.session.flush()
    return codes


def use_code(user: User, code: str, now: datetime | None = None) -> bool:
    """Spend one of `user`'s unused codes; False if it is not theirs or was used already.

    A compare-and-set update, so two requests racing with the same code cannot both pass.
    """
    spent = db.session.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == _hash(code),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=now or utcnow())
    )
    return spent.rowcount == 1


def codes_left(user: User) -> int:
    """How many of `user`'s recovery codes are still unused."""
    return db.session.scalar(
        select(func.count(RecoveryCode.id)).where(
            RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)
        )
    )


def delete_codes(user: User) -> None:
    """Forget every recovery code of `user` (a new enrolment or an admin's reset)."""
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
