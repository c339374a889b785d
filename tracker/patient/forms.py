"""The patient's forms. They check shape only; clinical meaning lives in the services."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from functools import lru_cache

from flask_babel import LazyString, gettext
from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import MultiDict
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    RadioField,
    SelectMultipleField,
    SubmitField,
    TextAreaField,
    TimeField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from ..catalogue import AREAS, DEFAULT_SCHEDULE, ENGLISH, SEVERITY_LABELS, URGENT
from ..forms import Form
from ..models import Symptom
from ..services.patients.checkins import NOTE_MAX_CHARS, SymptomEntry, note_too_long
from ..timeutil import local_to_utc

SEVERITY_PREFIX = "severity_"
ONSET_PREFIX = "onset_"
URGENT_FIELD = "urgent"
URGENT_SEVERITY = 3
"""The severity recorded for an urgent symptom the patient ticks ("severe"); see `CheckInForm`."""
URGENT_ERROR = _l("Choose only from the list, or nothing if you have none of these.")


def _severity_error() -> str:
    labels = ", ".join(str(label).lower() for label in SEVERITY_LABELS)
    return gettext("Choose one: %(labels)s.", labels=labels)


SEVERITY_ERROR = LazyString(_severity_error)
NOTE_ERROR = LazyString(note_too_long)


class OpenLinkForm(Form):
    """The one button that uses a personal link up (a POST, so mail scanners do not)."""

    submit = SubmitField(_l("Start my check-in"))


class NoSymptomsForm(Form):
    """ "No symptoms today" in one tap."""

    submit = SubmitField(_l("No symptoms today"))


class SameAsLastForm(Form):
    """ "Same as yesterday": only a CSRF token; the server copies the last check-in itself."""

    submit = SubmitField(_l("Same as yesterday"))


class CheckInForm(Form):
    """Today's check-in: first "Right now, do you have any of these?" (the urgent symptoms, one
    tick each), then a severity (and an onset if new) for every other catalogue symptom, a note.

    An urgent symptom is only ticked, not graded: someone who cannot swallow or breathe should
    be reading the warning and calling 999, not choosing between "moderate" and "severe". A tick
    is recorded as severe (`URGENT_SEVERITY`), the honest reading of "needs help now": an urgent
    symptom is flagged urgent at any severity anyway, and severe is what the severe-sustained
    and worsening rules look for should it persist or a later check-in grade it differently.
    """

    note = TextAreaField(
        _l("Anything else you want the clinic to know?"),
        validators=[Optional(), Length(max=NOTE_MAX_CHARS, message=NOTE_ERROR)],
    )
    submit = SubmitField(_l("Send my check-in"))

    symptoms: list[Symptom] = []
    language: str = ENGLISH

    @classmethod
    def for_catalogue(
        cls, symptoms: Iterable[Symptom], language: str = ENGLISH, **kwargs
    ) -> CheckInForm:
        """A form with the urgent list, a severity and an onset field per other symptom, the
        symptoms named in `language`.

        Its class is built once per catalogue shape (`catalogue_shape`) and language, and
        reused while the catalogue says the same: an edit changes the shape, so the next
        request builds a new class."""
        symptoms = list(symptoms)
        form_class = _form_class(cls, language, catalogue_shape(symptoms, language))
        form = form_class(**kwargs)
        form.symptoms = symptoms
        return form

    @property
    def urgent_symptoms(self) -> list[Symptom]:
        return [s for s in self.symptoms if s.action == URGENT]

    @property
    def graded_symptoms(self) -> list[Symptom]:
        return [s for s in self.symptoms if s.action != URGENT]

    def severity_field(self, symptom: Symptom) -> RadioField:
        return self[SEVERITY_PREFIX + symptom.code]

    def onset_field(self, symptom: Symptom) -> DateTimeLocalField:
        return self[ONSET_PREFIX + symptom.code]

    def prefill(self, severities: Mapping[str, int]) -> None:
        """Start each graded symptom at its last severity (`severities` by code)."""
        for symptom in self.graded_symptoms:
            if symptom.code in severities:
                self.severity_field(symptom).data = severities[symptom.code]

    def by_area(self, exclude: Iterable[str] = ()) -> list[tuple[str, list[Symptom]]]:
        """The graded symptoms not in `exclude` (codes), grouped by body area, areas in order."""
        skip = set(exclude)
        groups = [
            (area, [s for s in self.graded_symptoms if s.area == area and s.code not in skip])
            for area in AREAS
        ]
        return [(area, symptoms) for area, symptoms in groups if symptoms]

    def holds_answer(self, symptoms: Iterable[Symptom]) -> bool:
        """Whether any of `symptoms` has an answer other than "None", or an error."""
        return any(
            self.severity_field(s).data
            or self.severity_field(s).errors
            or self.onset_field(s).errors
            for s in symptoms
        )

    def unknown_codes(self, submitted: Iterable[str]) -> list[str]:
        """Symptom codes in the submitted field names this form has no field for (not in the
        clinic's catalogue, or urgent: those are answered in the urgent list only)."""
        return sorted(
            name.removeprefix(prefix)
            for name in submitted
            for prefix in (SEVERITY_PREFIX, ONSET_PREFIX)
            if name.startswith(prefix) and name not in self._fields
        )

    def duplicated(self, submitted: MultiDict) -> list[str]:
        """What was answered twice: a field sent with two values, or an urgent symptom twice.

        A form error, not a guess at which answer was meant."""
        names = []
        for name in self._fields:
            values = submitted.getlist(name)
            if name == URGENT_FIELD:
                names += [
                    self.summary_label(name, code)
                    for code in sorted(set(values))
                    if values.count(code) > 1
                ]
            elif len(values) > 1:
                names.append(self.summary_label(name))
        return names

    def summary_label(self, name: str, code: str | None = None) -> str:
        """The words naming a field in the error summary: "Bruising: when did it start?"."""
        if code is not None or name == URGENT_FIELD:
            symptom = next((s for s in self.symptoms if s.code == code), None)
            return symptom.text(self.language).name if symptom else self[name].label.text
        if name.startswith(ONSET_PREFIX):
            symptom = next(s for s in self.symptoms if s.code == name.removeprefix(ONSET_PREFIX))
            return f"{symptom.text(self.language).name}: {self[name].label.text.lower()}"
        return self[name].label.text

    def error_anchor(self, name: str) -> str:
        """The id of the element the error summary links to for field `name`."""
        field = self[name]
        if isinstance(field, (RadioField, SelectMultipleField)):
            return f"{field.id}-0"
        return field.id

    def entries(self, tz_name: str) -> list[SymptomEntry]:
        """The symptoms reported (severity 1 or more), onsets read in `tz_name` and put in UTC.

        Raises `InvalidInput` for an onset the clocks skipped or repeated that day.
        """
        ticked = set(self[URGENT_FIELD].data or [])
        entries = []
        for symptom in self.symptoms:
            if symptom.action == URGENT:
                if symptom.code in ticked:
                    entries.append(SymptomEntry(symptom.code, URGENT_SEVERITY))
                continue
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

        "symptoms.<code>" is the severity field (the urgent list for an urgent symptom),
        "symptoms.<code>.onset_at" the onset field.
        """
        if service_key.startswith("symptoms."):
            code, _, part = service_key.removeprefix("symptoms.").partition(".")
            prefix = ONSET_PREFIX if part == "onset_at" else SEVERITY_PREFIX
            return self._fields.get(prefix + code, self._fields.get(URGENT_FIELD))
        return self._fields.get(service_key)


CatalogueShape = tuple[tuple[str, bool, str], ...]
"""What a check-in form's fields are made of: each symptom's code, whether it is urgent, and
its name, in catalogue order."""
FORM_CLASSES_KEPT = 64
"""Check-in form classes kept (a few per clinic: one per language and catalogue version)."""


def catalogue_shape(symptoms: Iterable[Symptom], language: str) -> CatalogueShape:
    """Everything of the catalogue that the check-in form's fields depend on, in `language`."""
    return tuple((s.code, s.action == URGENT, s.text(language).name) for s in symptoms)


@lru_cache(maxsize=FORM_CLASSES_KEPT)
def _form_class(base: type[CheckInForm], language: str, shape: CatalogueShape) -> type:
    """The check-in form class for one catalogue shape and language (built once, then kept)."""
    fields: dict = {"language": language}
    fields[URGENT_FIELD] = SelectMultipleField(
        _l("Right now, do you have any of these?"),
        choices=[SelectChoice(code, name) for code, urgent, name in shape if urgent],
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        validate_choice=True,
    )
    for code, urgent, name in shape:
        if urgent:
            continue
        fields[SEVERITY_PREFIX + code] = RadioField(
            name,
            choices=[SelectChoice(n, label) for n, label in enumerate(SEVERITY_LABELS)],
            coerce=int,
            default=0,
            invalid_value_message=SEVERITY_ERROR,
            invalid_choice_message=SEVERITY_ERROR,
        )
        fields[ONSET_PREFIX + code] = DateTimeLocalField(
            _l("When did it start?"), format="%Y-%m-%dT%H:%M", validators=[Optional()]
        )
    return type("CatalogueCheckInForm", (base,), fields)


class StopRemindersForm(Form):
    """The stop link's confirmation: a POST, so a mail scanner fetching the link changes nothing.

    No CSRF token: mail clients POST here for one-click unsubscribe (RFC 8058) with none, and
    the signed token in the URL already proves the request came from the patient's email.
    """

    class Meta:
        csrf = False

    submit = SubmitField(_l("Stop reminders"))


class ReminderSettingsForm(Form):
    """The patient's own reminder choices: on or off, and the time of day in their timezone."""

    reminders_enabled = BooleanField(_l("Email me a reminder on the days I have not checked in"))
    reminder_time = TimeField(
        _l("Remind me at"), validators=[InputRequired(message=_l("Give a time, e.g. 09:00."))]
    )
    submit = SubmitField(_l("Save"))

    def validate_reminder_time(self, field: TimeField) -> None:
        if field.data is None:
            return  # not a time at all: TimeField has said so already
        if problem := DEFAULT_SCHEDULE.reminder_time_problem(field.data):
            raise ValidationError(problem)
