"""The `flask --app wsgi tracker ...` commands: thin wrappers over the services."""

from __future__ import annotations

from datetime import datetime

import click
from flask import current_app
from flask.cli import AppGroup

from .extensions import db
from .infrastructure.database import begin_write
from .invalid import InvalidInput
from .models import Patient
from .services.batches.watch import sweep_and_watch
from .services.clinics import demo as demo_service
from .services.clinics.clinics import create_clinic, create_user, find_clinic
from .services.flags.flagging import rebuild_followup_state
from .services.messaging.delivery import default_transport, deliver_due
from .services.messaging.digest import send_due_digests
from .services.messaging.reminders import send_due_reminders
from .services.patients.erased import PatientErased
from .services.patients.links import issue_link, link_url
from .services.staff import second_factor
from .timeutil import as_utc, utcnow

tracker_cli = AppGroup("tracker", help="Aftercare: clinics, users, demo data and jobs.")


class ISODateTime(click.ParamType):
    """An ISO 8601 timestamp with an offset (or Z), as an aware UTC datetime."""

    name = "ISO8601"

    def convert(self, value, param, ctx):
        if isinstance(value, datetime):
            return value
        try:
            return as_utc(datetime.fromisoformat(value))
        except ValueError:
            self.fail(
                f"{value!r} is not an ISO 8601 time with an offset, e.g. 2026-03-29T09:00+01:00"
            )


def _fail_on_refusal(func):
    """Turn a service's refusal (`InvalidInput`, `PatientErased`) into a clear message and exit
    status 1."""

    def wrapped(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except (InvalidInput, PatientErased) as error:
            db.session.rollback()
            raise click.ClickException(str(error)) from error

    wrapped.__name__ = func.__name__
    wrapped.__doc__ = func.__doc__
    return wrapped


@tracker_cli.command("create-clinic")
@click.argument("name")
@click.option("--timezone", default="Europe/London", show_default=True, help="IANA timezone.")
@_fail_on_refusal
def create_clinic_command(name: str, timezone: str) -> None:
    """Create a clinic NAME with the default symptom catalogue."""
    begin_write()
    clinic = create_clinic(name, timezone)
    db.session.commit()
    click.echo(f"Created clinic {clinic.name!r} (id {clinic.id}).")


@tracker_cli.command("create-user")
@click.option("--clinic", "clinic_name", required=True, help="The clinic's name.")
@click.option("--email", required=True)
@click.option("--password", required=True, help="8 characters or more.")
@click.option("--role", type=click.Choice(["clinician", "admin"]), default="clinician")
@click.option("--name", default=None, help="Display name (default: from the email).")
@click.option("--registration-number", default=None, help="Professional registration number.")
@_fail_on_refusal
def create_user_command(clinic_name, email, password, role, name, registration_number) -> None:
    """Create a staff user at a clinic."""
    begin_write()
    clinic = find_clinic(clinic_name)
    if clinic is None:
        message = f"No clinic called {clinic_name!r}: create it with tracker create-clinic."
        raise InvalidInput.on("clinic", message)
    user = create_user(clinic, email, password, role, name, registration_number)
    db.session.commit()
    click.echo(f"Created {user.role} {user.email} at {clinic.name}.")
    if second_factor.is_required(user):
        click.echo("They set up a second factor (an authenticator app) at their first sign-in.")


@tracker_cli.command("demo")
def demo_command() -> None:
    """Load a demo clinic (once) and print its logins and a fresh link for each patient."""
    if current_app.config["TRACKER_ENV"] == "production":
        raise click.ClickException("The demo clinic has known passwords: not in production.")
    clinic, created = demo_service.ensure_demo()
    links = [
        (patient, link_url(issue_link(patient))) for patient in demo_service.demo_patients(clinic)
    ]
    db.session.commit()
    click.echo(("Created" if created else "Using existing") + f" demo clinic {clinic.name!r}.")
    click.echo("Staff logins (password for both: " + demo_service.DEMO_PASSWORD + "):")
    for email, _name, role, _registration in demo_service.DEMO_STAFF:
        click.echo(f"  {role:<10} {email}")
    click.echo("  (admins set up a second factor, an authenticator app, at their first sign-in)")
    descriptions = {d.email: d.description for d in demo_service.DEMO_PATIENTS}
    click.echo("Patient check-in links (each works once, for 72 hours):")
    for patient, url in links:
        click.echo(f"  {patient.name} ({descriptions.get(patient.email, '')}):\n    {url}")


@tracker_cli.command("patient-link")
@click.argument("patient_id", type=int)
@_fail_on_refusal
def patient_link_command(patient_id: int) -> None:
    """Print a fresh personal link for a patient (not for an erased one)."""
    begin_write()
    patient = db.session.get(Patient, patient_id)
    if patient is None:
        raise click.ClickException(f"No patient with id {patient_id}.")
    url = link_url(issue_link(patient))
    db.session.commit()
    click.echo(url)


@tracker_cli.command("sweep")
@click.option("--now", type=ISODateTime(), default=None, help="Judge as of this time.")
def sweep_command(now: datetime | None) -> None:
    """Run the flag sweep once, then the batch watch."""
    result = sweep_and_watch(now or utcnow())
    db.session.commit()
    click.echo(f"Swept: {result.summary()}.")


@tracker_cli.command("rebuild-state")
@click.option("--now", type=ISODateTime(), default=None, help="Rebuild as of this time.")
def rebuild_state_command(now: datetime | None) -> None:
    """Recompute when the sweep must next judge each treatment, from the check-ins and flags."""
    followed = rebuild_followup_state(now or utcnow())
    click.echo(f"Rebuilt the follow-up state of {followed} treatments.")


@tracker_cli.command("remind")
@click.option("--now", type=ISODateTime(), default=None, help="Run as of this time.")
def remind_command(now: datetime | None) -> None:
    """Queue the check-in and review reminders that are due (once each)."""
    result = send_due_reminders(now or utcnow())
    db.session.commit()
    click.echo(result.summary())


@tracker_cli.command("digest")
@click.option("--now", type=ISODateTime(), default=None, help="Run as of this time.")
def digest_command(now: datetime | None) -> None:
    """Queue each clinic's morning digest of new flags, if its morning has come (once a day)."""
    result = send_due_digests(now or utcnow())
    db.session.commit()
    click.echo(result.summary())


@tracker_cli.command("deliver")
def deliver_command() -> None:
    """Deliver the outbox once: send every message that is due, with retries on failure."""
    result = deliver_due(utcnow(), default_transport())
    click.echo(
        f"Sent {result.sent} messages; {result.retrying} will be retried, "
        f"{result.failed} failed for good."
    )


@tracker_cli.command("scheduler")
def scheduler_command() -> None:
    """Run the scheduled jobs in the foreground until SIGTERM or Ctrl-C (one per deployment)."""
    import logging

    from .scheduler import run_forever

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # our own lines say what ran
    run_forever(current_app._get_current_object())
