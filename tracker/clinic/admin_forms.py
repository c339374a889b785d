"""Forms of the admin pages: a catalogue entry, staff, the alert address, the second-factor rule,
the audit log's filters.

They check shape only; what a valid entry or account is lives in the services.
"""

from __future__ import annotations

from dataclasses import asdict

from wtforms import (
    BooleanField,
    EmailField,
    FloatField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    SubmitField,
    TelField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from ..catalogue import (
    ACTIONS,
    AREA_NAMES,
    AREAS,
    LANGUAGE_NAMES,
    TRANSLATED_LANGUAGES,
    SymptomText,
)
from ..emails import EMAIL_MAX_CHARS
from ..forms import Form
from ..infrastructure.database import MAX_ID
from ..models import ROLES, Symptom, User
from ..services.clinics.catalogue_admin import (
    NAME_MAX_CHARS,
    TEXT_FIELDS,
    TEXT_MAX_CHARS,
    SymptomEdit,
    outdated_field,
    stored_translation,
    translated_field,
)
from ..services.clinics.clinics import CLINIC_ADDRESS_MAX_CHARS, CLINIC_PHONE_MAX_CHARS
from ..services.staff.passwords import MAX_PASSWORD_CHARS
from ..services.staff.staff_admin import (
    NAME_MAX_CHARS as STAFF_NAME_MAX_CHARS,
)
from ..services.staff.staff_admin import PROFESSION_MAX_CHARS, REGISTRATION_MAX_CHARS, NewStaff

ACTION_LABELS = {
    "expected": "Expected: flag as overdue once it lasts longer than expected",
    "review": "Review: flag for a clinician as soon as it is reported",
    "urgent": "Urgent: emergency advice and an urgent flag at once",
}
ROLE_LABELS = {"clinician": "Clinician", "admin": "Admin (also manages staff and catalogue)"}


class SymptomForm(Form):
    """One catalogue entry."""

    name = StringField("Name", validators=[InputRequired(), Length(max=NAME_MAX_CHARS)])
    action = SelectField(
        "What the app does when it is reported",
        choices=[SelectChoice(a, ACTION_LABELS[a]) for a in ACTIONS],
    )
    area = SelectField(
        "Where it is felt (groups the patient's check-in)",
        choices=[SelectChoice(a, AREA_NAMES[a]) for a in AREAS],
    )
    spread_sign = BooleanField("A sign that the toxin may have spread")
    expected_hours = FloatField("Expected duration (hours)", validators=[Optional()])
    expected_text = TextAreaField(
        "What to expect (shown to the patient)", validators=[Length(max=TEXT_MAX_CHARS)]
    )
    advice = TextAreaField("Advice (shown to the patient)", validators=[Length(max=TEXT_MAX_CHARS)])
    submit = SubmitField("Save changes")

    @classmethod
    def for_symptom(cls, symptom: Symptom) -> SymptomForm:
        """The form filled with the entry's values (or with what was posted)."""
        stored = {
            translated_field(language, field): value
            for language in TRANSLATED_LANGUAGES
            for field, value in asdict(stored_translation(symptom, language)).items()
        }
        form = cls(obj=symptom, data=stored)
        if not form.is_submitted() and symptom.expected_hours is not None:
            hours = symptom.expected_hours
            form.expected_hours.data = int(hours) if hours.is_integer() else hours
        return form

    def translation_fields(self, language: str) -> list:
        """The fields of one language's translation, in the form's order."""
        return [self[translated_field(language, field)] for field in TEXT_FIELDS]

    def to_edit(self) -> SymptomEdit:
        """The submitted values, for the catalogue service."""
        return SymptomEdit(
            name=self.name.data or "",
            action=self.action.data,
            expected_hours=self.expected_hours.data,
            expected_text=self.expected_text.data or "",
            advice=self.advice.data or "",
            translations={
                language: SymptomText(
                    *(field.data or "" for field in self.translation_fields(language))
                )
                for language in TRANSLATED_LANGUAGES
            },
            confirmed=frozenset(
                language
                for language in TRANSLATED_LANGUAGES
                if self[translated_field(language, "confirmed")].data
            ),
            area=self.area.data,
            spread_sign=bool(self.spread_sign.data),
        )


CHANGE_LABELS = {
    "name": "Name",
    "action": "Action",
    "area": "Body area",
    "spread_sign": "Spread sign",
    "expected_hours": "Expected hours",
    "expected_text": "What to expect",
    "advice": "Advice",
}
"""The change history's name of each field of an entry (translations added below)."""

for _language in TRANSLATED_LANGUAGES:
    _in = LANGUAGE_NAMES[_language]
    CHANGE_LABELS |= {
        translated_field(_language, "name"): f"Name in {_in}",
        translated_field(_language, "expected_text"): f"What to expect in {_in}",
        translated_field(_language, "advice"): f"Advice in {_in}",
        outdated_field(_language): f"{_in} out of date",
    }
    setattr(
        SymptomForm,
        translated_field(_language, "name"),
        StringField(f"Name in {_in}", validators=[Optional(), Length(max=NAME_MAX_CHARS)]),
    )
    setattr(
        SymptomForm,
        translated_field(_language, "expected_text"),
        TextAreaField(f"What to expect, in {_in}", validators=[Length(max=TEXT_MAX_CHARS)]),
    )
    setattr(
        SymptomForm,
        translated_field(_language, "advice"),
        TextAreaField(f"Advice, in {_in}", validators=[Length(max=TEXT_MAX_CHARS)]),
    )
    setattr(
        SymptomForm,
        translated_field(_language, "confirmed"),
        BooleanField(f"The {_in} still says what the English says"),
    )


class StaffForm(Form):
    """A new clinician or admin."""

    name = StringField("Name", validators=[InputRequired(), Length(max=STAFF_NAME_MAX_CHARS)])
    email = EmailField("Email", validators=[InputRequired(), Length(max=EMAIL_MAX_CHARS)])
    role = SelectField("Role", choices=[SelectChoice(r, ROLE_LABELS[r]) for r in ROLES])
    registration_number = StringField(
        "Professional registration number",
        validators=[Optional(), Length(max=REGISTRATION_MAX_CHARS)],
    )
    profession = StringField(
        "Profession (optional)", validators=[Optional(), Length(max=PROFESSION_MAX_CHARS)]
    )
    password = PasswordField(
        "Initial password", validators=[InputRequired(), Length(max=MAX_PASSWORD_CHARS)]
    )
    submit = SubmitField("Add to staff")

    def to_new_staff(self) -> NewStaff:
        """The submitted values, for the staff service."""
        return NewStaff(
            name=self.name.data or "",
            email=self.email.data or "",
            role=self.role.data,
            password=self.password.data or "",
            registration_number=self.registration_number.data,
            profession=self.profession.data,
        )


class StaffDetailsForm(Form):
    """A staff member's profession and registration number."""

    profession = StringField(
        "Profession", validators=[Optional(), Length(max=PROFESSION_MAX_CHARS)]
    )
    registration_number = StringField(
        "Professional registration number",
        validators=[Optional(), Length(max=REGISTRATION_MAX_CHARS)],
    )
    submit = SubmitField("Save")


class AlertSettingsForm(Form):
    """Where the clinic's urgent alerts and morning digest go (empty: to each active admin)."""

    alert_email = EmailField("Alert address", validators=[Optional(), Length(max=EMAIL_MAX_CHARS)])
    submit = SubmitField("Save alert address")


class ClinicAddressForm(Form):
    """The clinic's postal address and phone, as a regulator's report gives the reporter's."""

    address = TextAreaField(
        "Postal address", validators=[Optional(), Length(max=CLINIC_ADDRESS_MAX_CHARS)]
    )
    phone = TelField("Phone", validators=[Optional(), Length(max=CLINIC_PHONE_MAX_CHARS)])
    submit = SubmitField("Save address and phone")


class SecondFactorPolicyForm(Form):
    """Whether every clinician, not only admins, must use a second factor."""

    required = BooleanField("Require a second factor for every clinician")
    submit = SubmitField("Save")


class AuditFilterForm(Form):
    """Filters of the audit log, read from the query string."""

    class Meta:
        csrf = False  # a GET that changes nothing

    patient = IntegerField(
        "Patient ID",
        validators=[
            Optional(),
            NumberRange(min=1, message="Give a patient ID."),
            NumberRange(max=MAX_ID, message="No patient of this clinic has that ID."),
        ],
    )
    user = SelectField("Staff member", default="")

    def __init__(self, staff: list[User], **kwargs):
        super().__init__(**kwargs)
        self.user.choices = [SelectChoice("", "Anyone")] + [
            SelectChoice(str(u.id), u.name) for u in staff
        ]

    @property
    def user_id(self) -> int | None:
        """The chosen staff member's id, if any."""
        return int(self.user.data) if self.user.data else None
