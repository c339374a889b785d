"""The patient's reminder pages: the one-click stop link from any email, and their own settings."""

from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext

from ..extensions import csrf, db
from ..i18n import show_page_to
from ..services.messaging.reminder_settings import (
    change_reminders,
    patient_for_stop_token,
    stop_reminders,
)
from . import bp
from .forms import ReminderSettingsForm, StopRemindersForm
from .session import audit_patient, patient_required


@bp.get("/stop/<token>")
def stop_page(token: str):
    """Ask to confirm: fetching the link (as mail scanners do) changes nothing."""
    patient = patient_for_stop_token(token)
    if patient is None:
        abort(404)
    show_page_to(patient)
    return render_template("patient/stop_reminders.html", form=StopRemindersForm(), done=False)


@bp.post("/stop/<token>")
@csrf.exempt  # one-click unsubscribe (RFC 8058) comes with no CSRF token: the link is the proof
def stop(token: str):
    """Turn the link's patient's reminders off, with no sign-in; audited."""
    patient = patient_for_stop_token(token)
    if patient is None:
        abort(404)
    show_page_to(patient)
    stop_reminders(patient, ip_address=request.remote_addr)
    db.session.commit()
    return render_template("patient/stop_reminders.html", form=None, done=True)


@bp.route("/reminders", methods=["GET", "POST"])
@patient_required
def reminder_settings():
    """The signed-in patient turns reminders on or off and chooses their time."""
    form = ReminderSettingsForm(obj=g.patient)
    if form.validate_on_submit():
        changed = change_reminders(
            g.patient,
            enabled=form.reminders_enabled.data,
            reminder_time=form.reminder_time.data,
            ip_address=request.remote_addr,
        )
        db.session.commit()
        saved = gettext("Saved your reminder settings.")
        flash(saved if changed else gettext("Nothing to change."))
        return redirect(url_for("patient.reminder_settings"))
    audit_patient("patient.reminders.view", target=f"patient:{g.patient.id}")  # or shown again
    page = render_template("patient/reminders.html", form=form)
    db.session.commit()  # after rendering: committing first would expire the patient shown
    return page, 422 if form.errors else 200
