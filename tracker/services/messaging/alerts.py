"""Telling the clinic at once: an email for each urgent flag (the rest wait for `digest`).

Urgent means an urgent flag, or a severe or worsening flag on an urgent symptom
(`alerted_at_once`); one email per flag and recipient.

An urgent alert goes to the people who act on it (`urgent_recipients`): the clinic's alert
address (a clinic setting, e.g. a shared inbox that someone always reads) and the treating
practitioner (the staff account the treatment names, if it is active); only when neither
exists, to each of the clinic's active admins, so that it reaches someone. The digest goes to
the alert address or, while it is empty, the admins (`recipients`). No email names a patient:
the link opens the flag for a signed-in clinician, so a forwarded or misdirected email shows no
health record. Times are in the clinic's timezone.

The urgent alert is queued in the transaction that opens the flag (`flagging` calls
`queue_urgent_alerts` for every flag it opens, from a check-in or the sweep), keyed
`urgent:<flag>` for the alert address, `urgent:<flag>:user:<id>` for the practitioner's copy
and `urgent:<flag>:admin:<id>` for an admin's. `urgent_alert_queued` reads these keys: `digest`
leaves those flags out, and the patient's answer page says "alerted".
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import String, and_, cast, literal, or_, select
from sqlalchemy.orm import aliased

from ...catalogue import URGENT
from ...emails import as_compared, normalise_email
from ...extensions import db
from ...models import Clinic, Flag, OutboxMessage, Symptom, SymptomReport, Treatment, User
from ...rules import Reason
from ..governance import audit
from .messages import Outgoing, absolute_url, queue_many, render_email

URGENT_ALERT = "urgent_alert"
ALERT_KEY_PREFIX = "urgent:"
"""An alert's dedupe key is this, the flag's id, and `:<recipient>` for a staff member's copy."""

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Recipient:
    """Someone at a clinic who gets its alerts; `key` keeps each one's message single."""

    address: str
    key: str


def recipients(clinics: Iterable[Clinic]) -> dict[int, list[Recipient]]:
    """Each clinic's alert address, or its active admins where it has none (one query at most)."""
    clinics = list(clinics)
    admins = _active_admins([c.id for c in clinics if not c.alert_email])
    found = {c.id: _alert_address(c) or admins[c.id] for c in clinics}
    for clinic in clinics:
        if not found[clinic.id]:
            log.warning("Clinic %s has no alert address and no active admin to alert.", clinic.id)
    return found


def alert_address_and_admins(clinics: Iterable[Clinic]) -> dict[int, list[Recipient]]:
    """Each clinic's alert address and every one of its active admins, one copy per address
    (one query): who hears of a batch signal, which concerns the whole clinic."""
    clinics = list(clinics)
    admins = _active_admins([c.id for c in clinics])
    found = {}
    for clinic in clinics:
        everyone = _alert_address(clinic)
        for admin in admins[clinic.id]:
            if all(as_compared(r.address) != as_compared(admin.address) for r in everyone):
                everyone.append(admin)
        if not everyone:
            log.warning("Clinic %s has no alert address and no active admin to alert.", clinic.id)
        found[clinic.id] = everyone
    return found


def urgent_recipients(
    clinic: Clinic, practitioner: Recipient | None, admins: Mapping[int, list[Recipient]]
) -> list[Recipient]:
    """Who gets one urgent alert: the alert address and the treating practitioner, or else
    (neither exists) the clinic's active admins from `admins`; one copy per address."""
    found = _alert_address(clinic)
    if practitioner is not None and all(
        as_compared(r.address) != as_compared(practitioner.address) for r in found
    ):
        found.append(practitioner)
    if not found:
        found = list(admins.get(clinic.id, []))
    if not found:
        log.warning("Clinic %s has nobody to send an urgent alert to.", clinic.id)
    return found


def _alert_address(clinic: Clinic) -> list[Recipient]:
    return [Recipient(clinic.alert_email, "alerts")] if clinic.alert_email else []


def _active_admins(clinic_ids: Collection[int]) -> dict[int, list[Recipient]]:
    """The active admins with an address of each clinic, oldest account first (one query)."""
    found: dict[int, list[Recipient]] = defaultdict(list)
    if clinic_ids:
        admins = db.session.execute(
            select(User.clinic_id, User.id, User.email)
            .where(
                User.clinic_id.in_(clinic_ids),
                User.role == "admin",
                User.is_active.is_(True),
                User.email != "",
            )
            .order_by(User.id)
        )
        for row in admins:
            found[row.clinic_id].append(Recipient(row.email, f"admin:{row.id}"))
    return found


def recipient_key(base: str, recipient: Recipient) -> str:
    """The dedupe key of one recipient's copy: the bare key for the clinic's alert address."""
    return base if recipient.key == "alerts" else f"{base}:{recipient.key}"


# --- urgent flags ------------------------------------------------------------------------------


ESCALATING = frozenset({Reason.SEVERE.value, Reason.WORSENING.value})
"""Reasons that are alerted at once when the symptom itself is urgent (else: the digest)."""


def alerted_at_once(reason: str, action: str | None) -> bool:
    """Whether a flag with this reason, on a symptom with this catalogue action, is emailed at once.

    An urgent flag always is; a severe or worsening one when its symptom's action is urgent
    (the product rule); every other flag waits for the morning digest.
    """
    return reason == Reason.URGENT.value or (reason in ESCALATING and action == URGENT)


def queue_urgent_alerts(flags: Sequence[Flag]) -> int:
    """Queue an alert for each just-opened flag that `alerted_at_once` (flush only); how many.

    Called in the transaction that opens the flags, so the alert exists exactly when the flag
    does. Set-based: two or three statements however many flags.
    """
    candidates = [f.id for f in flags if f.reason == Reason.URGENT.value or f.reason in ESCALATING]
    if not candidates:
        return 0
    severity = (
        select(SymptomReport.severity)
        .where(
            SymptomReport.treatment_id == Flag.treatment_id,
            SymptomReport.symptom_id == Flag.symptom_id,
            SymptomReport.reported_at <= Flag.observed_at,
        )
        .order_by(SymptomReport.reported_at.desc())
        .limit(1)
        .correlate(Flag)
        .scalar_subquery()
    )
    practitioner = aliased(User)
    rows = [
        row
        for row in db.session.execute(
            select(
                Flag,
                Clinic,
                Symptom.name,
                Symptom.action,
                severity.label("severity"),
                practitioner.id.label("practitioner_id"),
                practitioner.email.label("practitioner_email"),
            )
            .join(Clinic, Flag.clinic_id == Clinic.id)
            .join(Treatment, Flag.treatment_id == Treatment.id)
            .outerjoin(
                practitioner,
                and_(
                    practitioner.id == Treatment.practitioner_id,
                    practitioner.clinic_id == Flag.clinic_id,
                    practitioner.is_active.is_(True),
                    practitioner.email != "",
                ),
            )
            .outerjoin(Symptom, Flag.symptom_id == Symptom.id)
            .where(Flag.id.in_(candidates))
            .order_by(Flag.id)
        )
        if alerted_at_once(row.Flag.reason, row.action)
    ]
    if not rows:
        return 0
    admins = _active_admins(
        {row.Clinic.id for row in rows if not row.Clinic.alert_email and not row.practitioner_id}
    )
    messages = []
    for row in rows:
        flag, clinic, symptom_name = row.Flag, row.Clinic, row.name
        what = symptom_name or "urgent symptom"
        if flag.reason != Reason.URGENT.value:  # say what happened to the urgent symptom
            what = f"{flag.reason.capitalize()}: {what}"
        email = render_email(
            URGENT_ALERT,
            f"URGENT: {what} reported to {clinic.name}",
            clinic=clinic,
            flag=flag,
            symptom_name=symptom_name,
            what_happened=_what_happened(flag.reason, symptom_name, row.severity),
            flag_link=absolute_url("clinic.flag_detail", flag_id=flag.id),
        )
        treating = (
            Recipient(row.practitioner_email, f"user:{row.practitioner_id}")
            if row.practitioner_id
            else None
        )
        messages += [
            Outgoing(
                clinic.id,
                URGENT_ALERT,
                r.address,
                email,
                recipient_key(f"{ALERT_KEY_PREFIX}{flag.id}", r),
            )
            for r in urgent_recipients(clinic, treating, admins)
        ]
    return len(queue_many(messages, flags[0].opened_at))


def _what_happened(reason: str, symptom_name: str | None, severity: int | None) -> str:
    """The alert's plain words, e.g. "Difficulty swallowing getting worse (now severity 3 of 4)"."""
    name = symptom_name or "an urgent symptom"
    scale = "" if severity is None else f"severity {severity} of 4"
    if reason == Reason.WORSENING.value:
        return f"{name} getting worse" + (f" (now {scale})" if scale else "")
    if reason == Reason.SEVERE.value:
        name = f"{name} as severe"
    return name + (f" ({scale})" if scale else "")


# --- the setting -------------------------------------------------------------------------------


def set_alert_email(
    clinic: Clinic, address: str | None, *, actor: User, ip_address: str | None = None
) -> bool:
    """Set (or clear, for the admins) where the clinic's alerts go; audited. False if unchanged."""
    address = (address or "").strip() or None
    if address is not None:
        address = normalise_email(address, field="alert_email")
    return audit.change_clinic_setting(
        clinic, "alert_email", address, actor=actor, ip_address=ip_address
    )


def urgent_alert_queued():
    """SQL, correlated to `Flag`: the flag had its own alert email at once (any recipient's)."""
    key = literal(ALERT_KEY_PREFIX) + cast(Flag.id, String)
    return (
        select(OutboxMessage.id)
        .where(
            OutboxMessage.kind == URGENT_ALERT,
            or_(OutboxMessage.dedupe_key == key, OutboxMessage.dedupe_key.like(key + ":%")),
        )
        .correlate(Flag)
        .exists()
    )
