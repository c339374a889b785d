"""'Email me a fresh link', offered by the page of an expired or used link: who gets one, how often.

The fresh link goes only to the address on file. At most one goes to a patient in 10 minutes
(the message's dedupe window, messages.py) and `PATIENT_FRESH_LINKS_PER_DAY` are asked for by
one link in 24 hours, counted from the audit rows written here, so an old link in the wrong
hands cannot flood the patient's mailbox. None goes once the clinic has withdrawn the patient's
links (since that link was made) or erased the patient.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from flask import current_app
from sqlalchemy import exists, func, select

from ...extensions import db
from ...infrastructure.database import lock_for_update
from ...models import AuditEvent, OutboxMessage, PatientLink
from ...timeutil import utcnow
from ..governance import audit
from ..messaging.messages import FRESH_LINK, FRESH_LINK_INTERVAL, queue_fresh_link

SENT_ACTION = "patient.link.fresh_sent"
REFUSED_ACTION = "patient.link.fresh_refused"
CAP_WINDOW = timedelta(hours=24)


class FreshLink(StrEnum):
    """What became of a request for a fresh link."""

    SENT = "sent"
    RECENT = "recent"  # one went to the patient less than 10 minutes ago: no second one yet
    CAPPED = "capped"  # this link asked for its day's allowance already
    WITHDRAWN = "withdrawn"  # the clinic withdrew the patient's links, or erased the patient


def offers_fresh_link(link: PatientLink) -> bool:
    """Whether the page of an expired or used link may offer to email a fresh one.

    Not after the clinic revoked the patient's links (since this link was made): a revocation
    must not be undone by whoever holds an old link. Nor for an erased patient.
    """
    if link.patient.erased_at is not None:
        return False
    revoked_since = db.session.scalar(
        select(
            exists().where(
                PatientLink.patient_id == link.patient_id,
                PatientLink.revoked_at.is_not(None),
                PatientLink.revoked_at >= link.created_at,
            )
        )
    )
    return not revoked_since


def daily_cap() -> int:
    """How many fresh links one link may ask for in 24 hours (`PATIENT_FRESH_LINKS_PER_DAY`)."""
    return current_app.config["PATIENT_FRESH_LINKS_PER_DAY"]


def request_fresh_link(
    link: PatientLink, ip_address: str | None, now: datetime | None = None
) -> FreshLink:
    """Queue a fresh link for the patient of `link` if allowed, and audit it (flush only)."""
    now = now or utcnow()
    lock_for_update(PatientLink, link.id)  # requests for one link queue, so its count holds
    outcome = _decide(link, now)
    if outcome is FreshLink.SENT and queue_fresh_link(link, now) is None:
        outcome = FreshLink.RECENT  # a request racing this one queued the window's message
    audit.record(
        SENT_ACTION if outcome is FreshLink.SENT else REFUSED_ACTION,
        actor_type="patient",
        actor_id=None,  # whoever holds the link: not a signed-in patient
        clinic_id=link.patient.clinic_id,
        patient_id=link.patient_id,
        target=f"link:{link.id}",
        ip_address=ip_address,
        now=now,
    )
    db.session.flush()
    return outcome


def _decide(link: PatientLink, now: datetime) -> FreshLink:
    if not offers_fresh_link(link):
        return FreshLink.WITHDRAWN
    if _sent_for_link(link, now) >= daily_cap():
        return FreshLink.CAPPED
    if _sent_to_patient_lately(link.patient_id, now):
        return FreshLink.RECENT
    return FreshLink.SENT


def _sent_for_link(link: PatientLink, now: datetime) -> int:
    return db.session.scalar(
        select(func.count(AuditEvent.id)).where(
            AuditEvent.patient_id == link.patient_id,  # the (patient_id, at) index
            AuditEvent.at > now - CAP_WINDOW,
            AuditEvent.action == SENT_ACTION,
            AuditEvent.target == f"link:{link.id}",
        )
    )


def _sent_to_patient_lately(patient_id: int, now: datetime) -> bool:
    return bool(
        db.session.scalar(
            select(
                exists().where(
                    OutboxMessage.patient_id == patient_id,
                    OutboxMessage.kind == FRESH_LINK,
                    OutboxMessage.created_at > now - FRESH_LINK_INTERVAL,
                )
            )
        )
    )
