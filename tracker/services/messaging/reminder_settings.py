"""A patient's reminder settings: the one-click stop link in every email, and their own choices.

The stop link carries the patient id signed with the app's secret (its own salt, so it cannot be
turned into a personal link or the other way round). It does not expire and needs no sign-in:
mail clients offer it as "unsubscribe" (RFC 8058) long after the email arrived, and all it can do
is turn reminders off. Turning them back on needs the patient's own session.
"""

from __future__ import annotations

from datetime import time

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

from ...extensions import db
from ...models import Patient
from ..governance import audit

SALT = "stop-reminders"


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def stop_url(patient_id: int) -> str:
    """The absolute one-click stop link of a patient, for emails."""
    token = _serializer().dumps({"p": patient_id})
    return f"{current_app.config['TRACKER_BASE_URL']}/stop/{token}"


def stop_headers(patient_id: int) -> dict[str, str]:
    """The headers that let a mail client offer its own one-click unsubscribe (RFC 2369, 8058)."""
    return {
        "List-Unsubscribe": f"<{stop_url(patient_id)}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def patient_for_stop_token(token: str) -> Patient | None:
    """The patient a stop link was made for, or None for a forged or unknown one."""
    try:
        payload = _serializer().loads(token)
    except BadSignature:
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("p"), int):
        return None
    return db.session.get(Patient, payload["p"])


def stop_reminders(patient: Patient, ip_address: str | None = None) -> None:
    """Turn a patient's reminders off from a stop link, and audit it (flush only)."""
    patient.reminders_enabled = False
    audit.record(
        "patient.reminders.stop",
        actor_type="patient",
        actor_id=None,  # whoever holds the link: nobody is signed in
        clinic_id=patient.clinic_id,
        patient_id=patient.id,
        target=f"patient:{patient.id}",
        ip_address=ip_address,
    )
    db.session.flush()


def change_reminders(
    patient: Patient, *, enabled: bool, reminder_time: time, ip_address: str | None = None
) -> bool:
    """The signed-in patient's own choice of reminders and time; audited. False if unchanged."""
    reminder_time = reminder_time.replace(second=0, microsecond=0)
    if (patient.reminders_enabled, patient.reminder_time) == (enabled, reminder_time):
        return False
    patient.reminders_enabled = enabled
    patient.reminder_time = reminder_time
    audit.record(
        "patient.reminders.update",
        actor_type="patient",
        actor_id=patient.id,
        clinic_id=patient.clinic_id,
        patient_id=patient.id,
        target=f"patient:{patient.id}",
        ip_address=ip_address,
    )
    db.session.flush()
    return True
