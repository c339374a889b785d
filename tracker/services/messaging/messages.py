"""The emails patients and clinics get, composed from templates/email/ and queued.

Each message is rendered once, when it is queued, so what is delivered is what was decided in the
transaction that caused it (a treatment recorded, a fresh link asked for). Times are shown in the
patient's own timezone. Every email to a patient carries a one-click stop link for reminders.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import gettext

from ...extensions import db
from ...i18n import N_, current_locale, speaking_to
from ...infrastructure.database import insert_ignoring_conflicts
from ...models import PENDING, OutboxMessage, Patient, PatientLink, Treatment
from ...timeutil import utcnow
from ..patients.links import issue_link, link_url
from . import outbox
from .reminder_settings import stop_headers, stop_url

INVITE = "invite"
FRESH_LINK = "fresh_link"
FRESH_LINK_INTERVAL = timedelta(minutes=10)
"""At most one fresh-link email per patient in this long, however often it is asked for."""


@dataclass(frozen=True)
class Email:
    """A rendered message: subject, plain text and HTML."""

    subject: str
    text: str
    html: str


def render_email(template: str, subject: str, **context) -> Email:
    """Render templates/email/<template>.txt and .html (HTML escaped, text not)."""
    env = current_app.jinja_env
    context.setdefault("emergency_number", current_app.config["EMERGENCY_NUMBER"])
    context.setdefault("page_language", current_locale())
    text = env.get_template(f"email/{template}.txt").render(context)
    html = env.get_template(f"email/{template}.html").render(context)
    return Email(subject=subject, text=text, html=html)


def absolute_url(endpoint: str, **values) -> str:
    """The public address of a page, for emails (no request needed: jobs send them too)."""
    path = current_app.url_map.bind("localhost").build(endpoint, values)
    return current_app.config["TRACKER_BASE_URL"] + path


def case_url(treatment_id: int) -> str:
    """The public address of a case (one treatment's flags) on the clinic's site, for emails."""
    return absolute_url("clinic.case_detail", treatment_id=treatment_id)


def patient_headers(kind: str, patient_id: int) -> dict[str, str]:
    """The headers of an email to a patient: its kind, and the one-click unsubscribe."""
    return {"X-Aftercare-Kind": kind, **stop_headers(patient_id)}


@dataclass(frozen=True)
class Outgoing:
    """A rendered email for one recipient, to be queued with others in one statement."""

    clinic_id: int
    kind: str
    to_address: str
    email: Email
    dedupe_key: str
    patient_id: int | None = None
    headers: dict[str, str] | None = None


def queue_many(messages: list[Outgoing], now: datetime) -> list[str]:
    """Queue many emails in one insert-or-ignore statement (flush only); the keys added.

    What a job uses instead of `outbox.enqueue` per row, so its statements do not grow with
    the number of patients. A key already in the outbox is skipped, as `enqueue` does.
    """
    if not messages:
        return []
    rows = [
        {
            "clinic_id": m.clinic_id,
            "patient_id": m.patient_id,
            "kind": m.kind,
            "dedupe_key": m.dedupe_key,
            "to_address": m.to_address,
            "subject": m.email.subject,
            "body_text": m.email.text,
            "body_html": m.email.html,
            "headers": dict(m.headers or {"X-Aftercare-Kind": m.kind}),
            "status": PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for m in messages
    ]
    statement = insert_ignoring_conflicts(OutboxMessage).returning(OutboxMessage.dedupe_key)
    return list(db.session.execute(statement, rows).scalars())


def _queue_link_email(
    patient: Patient,
    *,
    kind: str,
    template: str,
    subject: str,
    dedupe_key: str,
    now: datetime,
    **context,
) -> OutboxMessage | None:
    """Issue a fresh personal link and queue an email carrying it (none to an erased patient).

    The email, `subject` included (a message id, with `%(clinic)s` for the clinic's name), is
    written in the patient's language."""
    if patient.erased_at is not None:
        return None
    token = issue_link(patient, now)
    expires_at = now + timedelta(hours=current_app.config["PATIENT_LINK_HOURS"])
    with speaking_to(patient):
        email = render_email(
            template,
            gettext(subject, clinic=patient.clinic.name),
            patient=patient,
            clinic=patient.clinic,
            link=link_url(token),
            link_expires_at=expires_at,
            stop_link=stop_url(patient.id),
            **context,
        )
    return outbox.enqueue(
        clinic_id=patient.clinic_id,
        patient_id=patient.id,
        kind=kind,
        to_address=patient.email,
        subject=email.subject,
        body_text=email.text,
        body_html=email.html,
        dedupe_key=dedupe_key,
        headers=patient_headers(kind, patient.id),
        now=now,
    )


def queue_invite(
    treatment: Treatment, *, resend: bool = False, now: datetime | None = None
) -> OutboxMessage | None:
    """Queue the invite for a treatment, with a fresh personal link (flush only).

    The first invite of a treatment is keyed `invite:<treatment id>`, so it is written once; each
    re-send by the clinic is a new message with its own key and its own link.
    """
    now = now or utcnow()
    key = f"{INVITE}:{treatment.id}"
    if resend:
        key += f":resend:{secrets.token_hex(8)}"
    patient = treatment.patient
    return _queue_link_email(
        patient,
        kind=INVITE,
        template="invite",
        subject=N_("Your aftercare check-ins with %(clinic)s"),
        dedupe_key=key,
        now=now,
        treatment=treatment,
    )


def queue_fresh_link(link: PatientLink, now: datetime | None = None) -> OutboxMessage | None:
    """Queue a fresh link to the link's patient at the address on file (flush only).

    One per patient per 10-minute window (its dedupe key), however many requests race for it;
    None when that window's message exists already. Who may ask, and how often, is decided in
    fresh_links.py.
    """
    now = now or utcnow()
    window = int(now.timestamp() // FRESH_LINK_INTERVAL.total_seconds())
    return _queue_link_email(
        link.patient,
        kind=FRESH_LINK,
        template="fresh_link",
        subject=N_("Your new check-in link from %(clinic)s"),
        dedupe_key=f"{FRESH_LINK}:{link.patient_id}:{window}",
        now=now,
    )
