"""The patient's forms. They check shape only; clinical meaning lives in the services."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from wtforms import (
    BooleanField,
    DateTimeLocalField,
    RadioField,
    SubmitField,
    TextAreaField,
    TimeField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional, ValidationError

from ..catalogue import DEFAULT_SCHEDULE, SEVERITY_LABELS
from ..forms import Form
from ..models import Symptom
from ..services.patients.checkins import NOTE_MAX_CHARS, SymptomEntry
from ..timeutil import local_to_utc

SEVERITY_PREFIX = "severity_"
ONSET_PREFIX = "onset_"
SEVERITY_ERROR = "Choose one: " + ", ".join(label.lower() for label in SEVERITY_LABELS) + "."
NOTE_ERROR = f"Keep the note to {NOTE_MAX_CHARS:,} characters or fewer."


class OpenLinkForm(Form):
    """The one button that uses a personal link up (a POST, so mail scanners do not)."""

    submit = SubmitField("Start my check-in")


class NoSymptomsForm(Form):
    """ "No symptoms today" in one tap."""

    submit = SubmitField("No symptoms today")


class CheckInForm(Form):
    """Today's check-in: a severity for every catalogue symptom, an onset if new, and a note."""

    note = TextAreaField(
        "Anything else you want the clinic to know?",
        validators=[Optional(), Length(max=NOTE_MAX_CHARS, message=NOTE_ERROR)],
    )
    submit = SubmitField("Send my check-in")

    symptoms: list[Symptom] = []

    @classmethod
    def for_catalogue(cls, symptoms: Iterable[Symptom], **kwargs) -> CheckInForm:
        """A form class with one severity and one onset field per symptom, instantiated."""
        symptoms = list(symptoms)
        fields = {"symptoms": symptoms}
        for symptom in symptoms:
            fields[SEVERITY_PREFIX + symptom.code] = RadioField(
                symptom.name,
                choices=[SelectChoice(n, label) for n, label in enumerate(SEVERITY_LABELS)],
                coerce=int,
                default=0,
                invalid_value_message=SEVERITY_ERROR,
                invalid_choice_message=SEVERITY_ERROR,
            )
            fields[ONSET_PREFIX + symptom.code] = DateTimeLocalField(
                "When did it start?", format="%Y-%m-%dT%H:%M", validators=[Optional()]
            )
        form_class = type("CatalogueCheckInForm", (cls,), fields)
        return form_class(**kwargs)

    def severity_field(self, symptom: Symptom) -> RadioField:
        return self[SEVERITY_PREFIX + symptom.code]

    def onset_field(self, symptom: Symptom) -> DateTimeLocalField:
        return self[ONSET_PREFIX + symptom.code]

    def unknown_codes(self, submitted: Iterable[str]) -> list[str]:
        """Symptom codes in the submitted field names that are not in this clinic's catalogue."""
        known = {s.code for s in self.symptoms}
        return sorted(
            name.removeprefix(SEVERITY_PREFIX)
            for name in submitted
            if name.startswith(SEVERITY_PREFIX) and name.removeprefix(SEVERITY_PREFIX) not in known
        )

    def entries(self, tz_name: str) -> list[SymptomEntry]:
        """The symptoms reported (severity 1 or more), onsets read in `tz_name` and put in UTC.

        Raises `InvalidInput` for an onset the clocks skipped or repeated that day.
        """
        entries = []
        for symptom in self.symptoms:
            severity = self.severity_field(symptom).data or 0
            if severity >= 1:
                onset: datetime | None = self.onset_field(symptom).data
                if onset is not None:
                    key = f"symptoms.{symptom.code}.onset_at"
                    onset = local_to_utc(onset, tz_name, field=key)
                entries.append(SymptomEntry(symptom.code, severity, onset))
        return entries

    def field_for(self, service_key: str):
        """The form field a check-in service error key belongs to.

        "symptoms.<code>" is the severity field, "symptoms.<code>.onset_at" the onset field.
        """
        if service_key.startswith("symptoms."):
            code, _, part = service_key.removeprefix("symptoms.").partition(".")
            prefix = ONSET_PREFIX if part == "onset_at" else SEVERITY_PREFIX
            return self._fields.get(prefix + code)
        return self._fields.get(service_key)


class StopRemindersForm(Form):
    """The stop link's confirmation: a POST, so a mail scanner fetching the link changes nothing.

    No CSRF token: mail clients POST here for one-click unsubscribe (RFC 8058) with none, and
    the signed token in the URL already proves the request came from the patient's email.
    """

    class Meta:
        csrf = False

    submit = SubmitField("Stop reminders")


class ReminderSettingsForm(Form):
    """The patient's own reminder choices: on or off, and the time of day in their timezone."""

    reminders_enabled = BooleanField("Email me a reminder on the days I have not checked in")
    reminder_time = TimeField(
        "Remind me at", validators=[InputRequired(message="Give a time, e.g. 09:00.")]
    )
    submit = SubmitField("Save")

    def validate_reminder_time(self, field: TimeField) -> None:
        if field.data is None:
            return  # not a time at all: TimeField has said so already
        if problem := DEFAULT_SCHEDULE.reminder_time_problem(field.data):
            raise ValidationError(problem)
