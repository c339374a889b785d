"""A patient's data rights: their whole record exported, and erasure of their contact data.

Erasure is restriction, not deletion: treatments, check-ins and flags stay for the clinical
record (a clinic must keep them), while everything that reaches or identifies the person goes:
name and email become placeholders, the phone and the date of birth are cleared (the sex is
kept: alone it identifies nobody, and a regulator's report still needs it), reminders stop,
unsent messages are deleted, sent ones keep only what was sent when (their address, subject and
body are blanked), and every link and session ends. Photos are clinical record too and are kept,
unless the admin also asks for them to be deleted (`delete_photos`).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import selectinload, undefer

from ...extensions import db
from ...models import (
    FAILED,
    PENDING,
    SENDING,
    SENT,
    Flag,
    FlagNote,
    OutboxMessage,
    Patient,
    Photo,
    RegulatorReport,
    Treatment,
)
from ...timeutil import utcnow
from ..patients.erased import refuse_if_erased
from ..patients.links import revoke_links
from ..patients.patients import patient_record

EXPORT_FORMAT = "aftercare.patient-export/1"
ERASED_SUBJECT = "(erased)"


def erased_name(patient_id: int) -> str:
    """The name an erased patient is shown by."""
    return f"Erased patient #{patient_id}"


def erased_email(patient_id: int) -> str:
    """An address that can never be delivered (`.invalid` is reserved, RFC 2606)."""
    return f"erased-{patient_id}@invalid"


def _iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with its offset, e.g. 2026-03-02T10:00:00+00:00."""
    return value.astimezone(UTC).isoformat() if value is not None else None


def _staff(user) -> dict[str, Any] | None:
    if user is None:
        return None
    return {"id": user.id, "name": user.name, "registration_number": user.registration_number}


def _report(report: RegulatorReport | None) -> dict[str, Any] | None:
    """What a clinician gave a treatment's regulator report (the rest is in the record)."""
    if report is None:
        return None
    return {
        "seriousness": list(report.seriousness),
        "outcome": report.outcome,
        "other_medicines": report.other_medicines,
        "reaction_descriptions": dict(report.reaction_notes),
        "reported_on": report.reported_on.isoformat() if report.reported_on else None,
        "reference": report.reference,
        "updated_at": _iso(report.updated_at),
    }


def export_record(patient: Patient, now: datetime | None = None) -> dict[str, Any]:
    """The patient's whole record as plain JSON-ready data, oldest first."""
    record = patient_record(patient)
    flag_ids = [f.id for f in record.flags]
    flags = {
        f.id: f
        for f in db.session.scalars(
            select(Flag)
            .where(Flag.id.in_(flag_ids))
            .options(
                selectinload(Flag.notes).selectinload(FlagNote.author),
                selectinload(Flag.acknowledged_by),
                selectinload(Flag.resolved_by),
            )
        )
    }
    reports = {
        r.treatment_id: r
        for r in db.session.scalars(
            select(RegulatorReport).where(
                RegulatorReport.treatment_id.in_([t.id for t in record.treatments])
            )
        )
    }
    messages = db.session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.patient_id == patient.id)
        .order_by(OutboxMessage.created_at, OutboxMessage.id)
    )
    return {
        "format": EXPORT_FORMAT,
        "exported_at": _iso(now or utcnow()),
        "clinic": {"id": patient.clinic_id, "name": patient.clinic.name},
        "patient": {
            "id": patient.id,
            "name": patient.name,
            "email": patient.email,
            "phone": patient.phone,
            "timezone": patient.timezone,
            "language": patient.language,
            "sex": patient.sex,
            "date_of_birth": patient.date_of_birth.isoformat() if patient.date_of_birth else None,
            "created_at": _iso(patient.created_at),
            "erased_at": _iso(patient.erased_at),
        },
        "reminder_settings": {
            "enabled": patient.reminders_enabled,
            "time": patient.reminder_time.strftime("%H:%M"),
            "timezone": patient.timezone,
        },
        "treatments": [
            {
                "id": t.id,
                "treated_at": _iso(t.treated_at),
                "product": t.product,
                "batch_number": t.batch_number,
                "indication": t.indication,
                "areas": list(t.areas),
                "units_by_area": dict(t.units_by_area),
                "units_total": t.units_total,
                "practitioner": _staff(t.practitioner),
                "quarantine_reason": t.quarantine_reason,
                "regulator_report": _report(reports.get(t.id)),
                "created_at": _iso(t.created_at),
            }
            for t in reversed(record.treatments)
        ],
        "checkins": [
            {
                "id": c.id,
                "treatment_id": c.treatment_id,
                "reported_at": _iso(c.reported_at),
                "source": c.source,
                "note": c.note,
                "symptoms": [
                    {
                        "code": r.symptom.code,
                        "name": r.symptom.name,
                        "severity": r.severity,
                        "onset_at": _iso(r.onset_at),
                    }
                    for r in c.reports
                ],
            }
            for c in reversed(record.checkins)
        ],
        "photos": [_photo(photo) for photo in _photos(patient)],
        "flags": [_flag(flags[f.id]) for f in reversed(record.flags)],
        "messages": [
            {
                "id": m.id,
                "kind": m.kind,
                "status": m.status,
                "to_address": m.to_address,
                "subject": m.subject,
                "created_at": _iso(m.created_at),
                "sent_at": _iso(m.sent_at),
            }
            for m in messages
        ],
    }


def _patients_photos(patient: Patient):
    return (
        select(Photo.id)
        .join(Treatment, Treatment.id == Photo.treatment_id)
        .where(Treatment.patient_id == patient.id)
    )


def _photos(patient: Patient):
    """The patient's photos, oldest first, with their image (not their thumbnail) loaded."""
    return db.session.scalars(
        select(Photo)
        .where(Photo.id.in_(_patients_photos(patient)))
        .options(undefer(Photo.data))
        .order_by(Photo.created_at, Photo.id)
    )


def _photo(photo: Photo) -> dict[str, Any]:
    """One photo as stored (the re-encoded JPEG, base64), with its check-in."""
    return {
        "id": photo.id,
        "checkin_id": photo.checkin_id,
        "created_at": _iso(photo.created_at),
        "content_type": photo.content_type,
        "width": photo.width,
        "height": photo.height,
        "data_base64": base64.b64encode(photo.data).decode("ascii"),
    }


def _flag(flag: Flag) -> dict[str, Any]:
    return {
        "id": flag.id,
        "treatment_id": flag.treatment_id,
        "reason": flag.reason,
        "symptom": flag.symptom.code if flag.symptom else None,
        "status": flag.status,
        "episode_started_at": _iso(flag.episode_started_at),
        "observed_at": _iso(flag.observed_at),
        "opened_at": _iso(flag.opened_at),
        "acknowledged_at": _iso(flag.acknowledged_at),
        "acknowledged_by": _staff(flag.acknowledged_by),
        "resolved_at": _iso(flag.resolved_at),
        "resolved_by": _staff(flag.resolved_by),
        "outcome": flag.outcome,
        "notes": [
            {"created_at": _iso(n.created_at), "author": _staff(n.author), "body": n.body}
            for n in flag.notes
        ],
    }


@dataclass(frozen=True)
class Erasure:
    """What an erasure did, counted for the audit row and the admin's confirmation."""

    messages_deleted: int
    messages_blanked: int
    links_revoked: int
    photos_deleted: int = 0


def name_matches(patient: Patient, typed: str | None) -> bool:
    """Whether the admin typed the patient's name (spacing and case aside) to confirm."""
    normal = " ".join((typed or "").split()).casefold()
    return bool(normal) and normal == " ".join(patient.name.split()).casefold()


def erase_patient(
    patient: Patient, now: datetime | None = None, *, delete_photos: bool = False
) -> Erasure:
    """Erase the patient's contact data and unsent messages, end their links (flush only).

    Their photos stay with the clinical record unless `delete_photos` (the admin ticked it).

    Raises `PatientErased` if already done. The caller audits and commits, so all of it is one
    transaction: a failure half way leaves the patient as they were.
    """
    refuse_if_erased(patient)
    now = now or utcnow()
    placeholder = erased_email(patient.id)
    deleted = db.session.execute(
        delete(OutboxMessage)
        .where(
            OutboxMessage.patient_id == patient.id,
            OutboxMessage.status.in_((PENDING, SENDING, FAILED)),
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    # Sent rows stay as the record that the clinic did write (kind, status, when), but their
    # address, subject and body (which name the patient and carry links) go.
    blanked = db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.patient_id == patient.id, OutboxMessage.status == SENT)
        .values(
            to_address=placeholder,
            subject=ERASED_SUBJECT,
            body_text="",
            body_html=None,
            headers={},
            last_error=None,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    photos = 0
    if delete_photos:
        photos = db.session.execute(
            delete(Photo)
            .where(Photo.id.in_(_patients_photos(patient)))
            .execution_options(synchronize_session=False)
        ).rowcount
    links = revoke_links(patient, now)
    patient.name = erased_name(patient.id)
    patient.email = placeholder
    patient.phone = None
    # A date of birth identifies the patient (with the clinic, often uniquely): it goes with the
    # contact data. Their sex stays, as the clinical record does: alone it identifies nobody.
    patient.date_of_birth = None
    patient.reminders_enabled = False
    patient.erased_at = now
    db.session.flush()
    return Erasure(
        messages_deleted=deleted,
        messages_blanked=blanked,
        links_revoked=links,
        photos_deleted=photos,
    )
