"""Staff second factor: an authenticator app's 6-digit codes (TOTP, RFC 6238).

Required for admins, and for every clinician of a clinic that asks for it. Setting it up: the
page shows a new secret (as a QR code and as text), the person confirms it with a first code
and is given ten one-time recovery codes. No code is accepted twice: the factor remembers the
30-second step of the last code it took.
"""

from __future__ import annotations

import hmac
import re
from datetime import datetime

import pyotp
from sqlalchemy import delete, or_, select, update

from ...extensions import db
from ...models import Clinic, SecondFactor, User
from ...timeutil import utcnow
from ..governance import audit
from .recovery_codes import delete_codes, looks_like_recovery_code, replace_codes, use_code

TOTP_ISSUER = "Aftercare"
VALID_WINDOW = 1  # one step either side: phones whose clocks are up to ~30 seconds off
_SIX_DIGITS = re.compile(r"\d{6}")
_SPACES = re.compile(r"\s+")


def confirmed_factor(user: User) -> SecondFactor | None:
    """`user`'s authenticator, once set up."""
    return db.session.scalar(
        select(SecondFactor).where(
            SecondFactor.user_id == user.id, SecondFactor.confirmed_at.is_not(None)
        )
    )


def is_enrolled(user: User) -> bool:
    """`user` has set up an authenticator: signing in asks for its code."""
    return confirmed_factor(user) is not None


def is_required(user: User) -> bool:
    """`user` may not sign in without a second factor: an admin, or their clinic requires it."""
    return user.is_admin or user.clinic.require_second_factor


def enrolment(user: User, now: datetime | None = None) -> SecondFactor:
    """The authenticator being set up for `user`, made on first call (a reload keeps its secret).

    Only for a user without a confirmed factor; the caller commits.
    """
    factor = db.session.scalar(select(SecondFactor).where(SecondFactor.user_id == user.id))
    if factor is None:
        factor = SecondFactor(user_id=user.id, secret=pyotp.random_base32(), created_at=now)
        db.session.add(factor)
        db.session.flush()
    return factor


def discard_unconfirmed(user: User) -> None:
    """Forget a set-up `user` began but did not confirm, so the next one shows a new key.

    Called at each sign-in: a key shown in an earlier half sign-in (perhaps to someone who had
    only the password) must not become the one the user confirms.
    """
    db.session.execute(
        delete(SecondFactor).where(
            SecondFactor.user_id == user.id, SecondFactor.confirmed_at.is_(None)
        )
    )


def provisioning_uri(user: User, factor: SecondFactor) -> str:
    """The otpauth:// address an authenticator app reads from the QR code."""
    return pyotp.TOTP(factor.secret).provisioning_uri(name=user.email, issuer_name=TOTP_ISSUER)


def _accepted_step(factor: SecondFactor, code: str, now: datetime) -> int | None:
    """The time step whose code `code` is, within the window and after the last one used."""
    code = _SPACES.sub("", code)
    if not _SIX_DIGITS.fullmatch(code):
        return None
    totp = pyotp.TOTP(factor.secret)
    current = totp.timecode(now)
    for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        fresh = factor.last_used_step is None or step > factor.last_used_step
        if fresh and hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _claim_step(factor: SecondFactor, step: int) -> bool:
    """Record `step` as used, unless a concurrent request used it (or a later one) first."""
    claimed = db.session.execute(
        update(SecondFactor)
        .where(
            SecondFactor.id == factor.id,
            or_(SecondFactor.last_used_step.is_(None), SecondFactor.last_used_step < step),
        )
        .values(last_used_step=step)
    )
    return claimed.rowcount == 1


def verify(
    user: User, code: str, *, ip_address: str | None = None, now: datetime | None = None
) -> bool:
    """True for a fresh code of `user`'s authenticator, or an unused recovery code (now spent)."""
    now = now or utcnow()
    factor = confirmed_factor(user)
    if factor is None:
        return False
    if looks_like_recovery_code(code):
        if not use_code(user, code, now):
            return False
        audit.record_staff_change(
            "staff.recovery_code.use", actor=user, user=user, ip_address=ip_address, now=now
        )
        return True
    step = _accepted_step(factor, code, now)
    return step is not None and _claim_step(factor, step)


def confirm_enrolment(
    user: User, code: str, *, ip_address: str | None = None, now: datetime | None = None
) -> list[str] | None:
    """Finish setting up with the app's first code; returns the recovery codes (show them once).

    None if the code is not right. The caller commits.
    """
    now = now or utcnow()
    factor = db.session.scalar(
        select(SecondFactor).where(
            SecondFactor.user_id == user.id, SecondFactor.confirmed_at.is_(None)
        )
    )
    step = _accepted_step(factor, code, now) if factor is not None else None
    if factor is None or step is None:
        return None
    factor.confirmed_at, factor.last_used_step = now, step
    codes = replace_codes(user, now)
    audit.record_staff_change(
        "staff.second_factor.enrol", actor=user, user=user, ip_address=ip_address, now=now
    )
    return codes


def remove(user: User) -> bool:
    """Forget `user`'s authenticator and recovery codes; False if they had none."""
    removed = db.session.execute(delete(SecondFactor).where(SecondFactor.user_id == user.id))
    delete_codes(user)
    return removed.rowcount > 0


def set_requirement(
    clinic: Clinic, required: bool, *, actor: User, ip_address: str | None = None
) -> bool:
    """Require (or stop requiring) a second factor of every clinician; audited. False if same."""
    return audit.change_clinic_setting(
        clinic,
        "require_second_factor",
        required,
        actor=actor,
        ip_address=ip_address,
        action="clinic.second_factor_requirement.update",
    )
