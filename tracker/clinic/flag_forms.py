"""Forms of the flag pages: the queue's filters, the actions on a flag, a phone check-in.

They check shape only; what a valid action or check-in is lives in the services.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from wtforms import DateTimeLocalField, Field, SelectField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional

from ..catalogue import SEVERITY_LABELS
from ..forms import Form
from ..models import CLINICIAN_OUTCOMES, REASON_LABELS, Symptom, User
from ..rules import Reason
from ..services.flags.flag_actions import NOTE_MAX_CHARS as FLAG_NOTE_MAX_CHARS
from ..services.flags.queue import ALL_STATUSES, FlagFilters
from ..services.patients.checkins import NOTE_MAX_CHARS, SymptomEntry
from ..timeutil import local, local_to_utc

STATUS_LABELS = {
    "": "Open and acknowledged",
    "open": "Open",
    "acknowledged": "Acknowledged",
    "resolved": "Resolved",
    ALL_STATUSES: "All",
}
SEVERITY_PREFIX = "severity_"
CHOOSE_AN_OUTCOME = "Choose an outcome."
OUTCOME_CHOICES = [SelectChoice("", "Choose an outcome")] + [
    SelectChoice(code, label) for code, label in CLINICIAN_OUTCOMES.items()
]
"""A blank first, so no outcome is chosen in advance; never the outcomes only the system gives."""
LOCAL_FORMAT = "%Y-%m-%dT%H:%M"


class FlagFilterForm(Form):
    """The queue's and the export's filters, read from the query string."""

    class Meta:
        csrf = False  # a GET that changes nothing

    reason = SelectField(
        "Reason",
        default="",
        choices=[SelectChoice("", "Any reason")]
        + [SelectChoice(r.value, REASON_LABELS[r.value]) for r in Reason],
    )
    status = SelectField(
        "Status",
        default="",
        choices=[SelectChoice(value, label) for value, label in STATUS_LABELS.items()],
    )
    practitioner = SelectField("Practitioner", default="")

    def __init__(self, staff: Iterable[User], **kwargs):
        super().__init__(**kwargs)
        self.practitioner.choices = [SelectChoice("", "Any practitioner")] + [
            SelectChoice(str(u.id), u.name) for u in staff
        ]

    def to_filters(self) -> FlagFilters:
        """The validated choices as the queue service takes them."""
        return FlagFilters(
            reason=self.reason.data or None,
            status=self.status.data or None,
            practitioner_id=int(self.practitioner.data) if self.practitioner.data else None,
        )

    def query_args(self) -> dict[str, str]:
        """The chosen filters as query arguments, for a link that keeps them (the export)."""
        return {f.name: f.data for f in self if f.data}


class AcknowledgeForm(Form):
    """ "I am looking at this": one button."""

    submit = SubmitField("Acknowledge")


class NoteForm(Form):
    """A clinician's note on a flag."""

    body = TextAreaField(
        "Add a note",
        validators=[
            InputRequired("Write the note before saving it."),
            Length(
                max=FLAG_NOTE_MAX_CHARS,
                message=f"Keep the note to {FLAG_NOTE_MAX_CHARS:,} characters or fewer.",
            ),
        ],
    )
    submit = SubmitField("Save note")

    def field_for(self, key: str) -> Field | None:
        """Every refusal of a note is about its one text field."""
        return self.body


class ResolveForm(Form):
    """Close a flag with an outcome and, if useful, a note."""

    outcome = SelectField(
        "Outcome",
        choices=OUTCOME_CHOICES,
        validate_choice=True,
        validators=[InputRequired(CHOOSE_AN_OUTCOME)],
    )
    resolution_note = TextAreaField(
        "Note (optional)",
        validators=[
            Optional(),
            Length(
                max=FLAG_NOTE_MAX_CHARS,
                message=f"Keep the note to {FLAG_NOTE_MAX_CHARS:,} characters or fewer.",
            ),
        ],
    )
    submit = SubmitField("Resolve")

    def field_for(self, key: str) -> Field | None:
        """A refusal is about the outcome or else the note."""
        return self.outcome if key == "outcome" else self.resolution_note


class PhoneCheckInForm(Form):
    """A check-in a clinician records from a phone call: when, each symptom's severity, a note."""

    reported_at = DateTimeLocalField(
        "When the patient said this (clinic time)", format=LOCAL_FORMAT, validators=[Optional()]
    )
    checkin_note = TextAreaField(
        "What the patient said",
        validators=[
            Optional(),
            Length(
                max=NOTE_MAX_CHARS,
                message=f"Keep the note to {NOTE_MAX_CHARS:,} characters or fewer.",
            ),
        ],
    )
    submit = SubmitField("Record the follow-up")

    symptoms: list[Symptom] = []

    @classmethod
    def for_catalogue(
        cls, symptoms: Iterable[Symptom], tz_name: str, now: datetime, **kwargs
    ) -> PhoneCheckInForm:
        """A form with one severity field per catalogue symptom, the time defaulting to now."""
        symptoms = list(symptoms)
        fields: dict[str, object] = {"symptoms": symptoms}
        for symptom in symptoms:
            fields[SEVERITY_PREFIX + symptom.code] = SelectField(
                symptom.name,
                choices=[SelectChoice(n, label) for n, label in enumerate(SEVERITY_LABELS)],
                coerce=int,
                default=0,
            )
        form_class = type("CataloguePhoneCheckInForm", (cls,), fields)
        form = form_class(**kwargs)
        if form.reported_at.data is None and not form.is_submitted():
            form.reported_at.data = local(now, tz_name).replace(
                second=0, microsecond=0, tzinfo=None
            )
        return form

    def severity_field(self, symptom: Symptom) -> SelectField:
        """The severity field of one catalogue symptom."""
        return self[SEVERITY_PREFIX + symptom.code]

    def entries(self) -> list[SymptomEntry]:
        """The symptoms reported (severity 1 or more); the others count as none."""
        return [
            SymptomEntry(symptom.code, self.severity_field(symptom).data)
            for symptom in self.symptoms
            if (self.severity_field(symptom).data or 0) >= 1
        ]

    def reported_at_utc(self, tz_name: str) -> datetime | None:
        """The time given, read in the clinic's timezone, in UTC; None to mean now.

        Raises `InvalidInput` for a time the clocks skipped or repeated that day.
        """
        value = self.reported_at.data
        return local_to_utc(value, tz_name, field="reported_at") if value else None

    def field_for(self, key: str) -> Field | None:
        """The field of a check-in service error key ("symptoms.<code>..." is its severity)."""
        if key.startswith("symptoms."):
            code = key.removeprefix("symptoms.").partition(".")[0]
            return super().field_for(SEVERITY_PREFIX + code)
        return super().field_for({"note": "checkin_note"}.get(key, key))
