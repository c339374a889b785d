"""Personal links: how a patient gets in without a password.

A link carries a token signed with the app's secret (so it cannot be forged) and is stored only
as a SHA-256 hash (so a leaked database cannot be turned back into working links). Opening a link
shows a page whose button POSTs; only that POST uses the link up, so a mail scanner that fetches
the URL does no harm.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import insert, select, update

from ...extensions import db
from ...models import Patient, PatientLink
from ...timeutil import utcnow
from ...tokens import stored_hash
from .erased import refuse_if_erased
from .patient_sessions import Ended, end_all_sessions

SALT = "patient-link"


class LinkState(StrEnum):
    """What a link is good for right now."""

    VALID = "valid"
    EXPIRED = "expired"
    USED = "used"
    REVOKED = "revoked"
    INVALID = "invalid"


@dataclass(frozen=True)
class LinkCheck:
    """The state of a link, and its row where the token was genuine."""

    state: LinkState
    link: PatientLink | None = None


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def issue_link(patient: Patient, now: datetime | None = None) -> str:
    """Create a fresh personal link for `patient` and return its token (older ones stay valid).

    Raises `PatientErased` for an erased patient: nobody may reach them any more.
    """
    refuse_if_erased(patient)
    now = now or utcnow()
    token = _serializer().dumps({"p": patient.id, "n": secrets.token_urlsafe(16)})
    hours = current_app.config["PATIENT_LINK_HOURS"]
    db.session.add(
        PatientLink(
            patient_id=patient.id,
            token_hash=stored_hash(token),
            created_at=now,
            expires_at=now + timedelta(hours=hours),
        )
    )
    db.session.flush()
    return token


def issue_links(patient_ids: Iterable[int], now: datetime | None = None) -> dict[int, str]:
    """Fresh links for many patients in one statement (a job's batch); token by patient id."""
    tokens = new_tokens(patient_ids)
    store_links(tokens, now)
    return tokens


def new_tokens(patient_ids: Iterable[int]) -> dict[int, str]:
    """Fresh link tokens for many patients, not yet stored (so not yet valid); by patient id.

    A job signs them before it takes the write lock and stores (`store_links`) only those of
    the emails it did queue: a token never stored opens nothing.
    """
    serializer = _serializer()
    return {
        patient_id: serializer.dumps({"p": patient_id, "n": secrets.token_urlsafe(16)})
        for patient_id in patient_ids
    }


def store_links(tokens: dict[int, str], now: datetime | None = None) -> None:
    """Store tokens made by `new_tokens` (patient id -> token) as valid links, one statement."""
    now = now or utcnow()
    expires_at = now + timedelta(hours=current_app.config["PATIENT_LINK_HOURS"])
    if tokens:
        db.session.execute(
            insert(PatientLink),
            [
                {
                    "patient_id": patient_id,
                    "token_hash": stored_hash(token),
                    "created_at": now,
                    "expires_at": expires_at,
                }
                for patient_id, token in tokens.items()
            ],
        )


def link_url(token: str) -> str:
    """The absolute URL of a personal link, for emails and the CLI."""
    return f"{current_app.config['TRACKER_BASE_URL']}/p/{token}"


def check_link(token: str, now: datetime | None = None) -> LinkCheck:
    """Look a token up without using it."""
    now = now or utcnow()
    try:
        payload = _serializer().loads(token)
    except BadSignature:
        return LinkCheck(LinkState.INVALID)
    link = db.session.scalar(
        select(PatientLink).where(PatientLink.token_hash == stored_hash(token))
    )
    if link is None or not isinstance(payload, dict) or payload.get("p") != link.patient_id:
        return LinkCheck(LinkState.INVALID)
    if link.revoked_at is not None:
        return LinkCheck(LinkState.REVOKED, link)
    if link.used_at is not None:
        return LinkCheck(LinkState.USED, link)
    if now >= link.expires_at:
        return LinkCheck(LinkState.EXPIRED, link)
    return LinkCheck(LinkState.VALID, link)


def use_link(token: str, now: datetime | None = None) -> LinkCheck:
    """Use a link up to start a session; of two simultaneous uses, only one succeeds."""
    now = now or utcnow()
    found = check_link(token, now)
    if found.state is not LinkState.VALID or found.link is None:
        return found
    claimed = db.session.execute(
        update(PatientLink)
        .where(PatientLink.id == found.link.id, PatientLink.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        return LinkCheck(LinkState.USED, found.link)
    return found


def revoke_links(patient: Patient, now: datetime | None = None) -> int:
    """Revoke every unused link of a patient and end their sessions; returns how many links."""
    now = now or utcnow()
    result = db.session.execute(
        update(PatientLink)
        .where(
            PatientLink.patient_id == patient.id,
            PatientLink.used_at.is_(None),
            PatientLink.revoked_at.is_(None),
        )
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    end_all_sessions(patient, Ended.REVOKED, now)
    return result.rowcount
