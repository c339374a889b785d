"""Forms for patients and treatments. They check shape; the services decide what is valid."""

from __future__ import annotations

from datetime import time

from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    EmailField,
    Field,
    FloatField,
    SelectField,
    StringField,
    SubmitField,
    TelField,
    TextAreaField,
    TimeField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from ..catalogue import ENGLISH, LANGUAGE_NAMES, LANGUAGE_OWN_NAMES, LANGUAGES
from ..forms import Form
from ..models import INDICATIONS, SEXES, User
from ..services.patients.patients import PatientDetails
from ..services.patients.treatments import (
    COMMON_AREAS,
    MAX_UNITS_PER_AREA,
    TreatmentDetails,
)
from ..timeutil import local_to_utc, timezone_names

UNITS_PREFIX = "units_"
SEX_LABELS = {"female": "Female", "male": "Male", "other": "Other"}
INDICATION_LABELS = {
    "cosmetic": "Cosmetic",
    "sweating": "Excessive sweating",
    "migraine": "Migraine",
    "other": "Other",
}

# Each language as its readers name it, with the English name for staff who do not read it.
LANGUAGE_CHOICES = [
    SelectChoice(
        code,
        LANGUAGE_NAMES[code]
        if LANGUAGE_OWN_NAMES[code] == LANGUAGE_NAMES[code]
        else f"{LANGUAGE_OWN_NAMES[code]} ({LANGUAGE_NAMES[code]})",
    )
    for code in LANGUAGES
]


def area_field_name(area: str) -> str:
    """The form field of an area's units: "crow's feet" -> "units_crows_feet"."""
    return UNITS_PREFIX + "".join(c if c.isalnum() else "_" for c in area if c != "'")


class ActionForm(Form):
    """A button that changes something (CSRF only): re-send invite, revoke links."""


class EraseForm(Form):
    """Confirm an erasure by typing the patient's name (the service compares it)."""

    confirm_name = StringField("Type the patient's name to confirm", validators=[Length(max=200)])
    delete_photos = BooleanField("Also delete their photos")
    submit = SubmitField("Erase contact data")


class PatientForm(Form):
    """Add or edit a patient."""

    name = StringField("Name", validators=[InputRequired(), Length(max=200)])
    email = EmailField("Email", validators=[InputRequired(), Length(max=254)])
    phone = TelField("Phone (optional)", validators=[Optional(), Length(max=40)])
    timezone = SelectField("Timezone", validate_choice=True)
    reminder_time = TimeField(
        "Daily reminder time (the patient's time)", format="%H:%M", default=time(9, 0)
    )
    reminders_enabled = BooleanField("Send check-in reminders", default=True)
    language = SelectField(
        "Language of pages and emails",
        choices=LANGUAGE_CHOICES,
        default=ENGLISH,
        validate_choice=True,
    )
    sex = SelectField(
        "Sex (optional, for a regulator's report)",
        choices=[SelectChoice("", "Not recorded")]
        + [SelectChoice(code, SEX_LABELS[code]) for code in SEXES],
        default="",
        validate_choice=False,  # the service refuses an unknown sex, with its message
    )
    date_of_birth = DateField(
        "Date of birth (optional, for a regulator's report)", validators=[Optional()]
    )
    submit = SubmitField("Save patient")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.timezone.choices = [SelectChoice(name) for name in timezone_names()]

    def details(self) -> PatientDetails:
        """The submitted details, for the service to validate and store."""
        return PatientDetails(
            name=self.name.data or "",
            email=self.email.data or "",
            phone=self.phone.data or None,
            timezone=self.timezone.data or "",
            reminder_time=self.reminder_time.data,
            reminders_enabled=bool(self.reminders_enabled.data),
            language=self.language.data or "",
            sex=self.sex.data or None,
            date_of_birth=self.date_of_birth.data,
        )


class TreatmentForm(Form):
    """Record a treatment. The time is the clinic's wall-clock time; areas have units each."""

    treated_at = DateTimeLocalField(
        "Date and time", format="%Y-%m-%dT%H:%M", validators=[InputRequired()]
    )
    product = StringField("Product (brand)", validators=[InputRequired(), Length(max=120)])
    batch_number = StringField("Batch / lot number", validators=[InputRequired(), Length(max=60)])
    indication = SelectField(
        "Indication",
        choices=[SelectChoice(i, INDICATION_LABELS.get(i, i.capitalize())) for i in INDICATIONS],
    )
    other_area = StringField("Other area: which?", validators=[Optional(), Length(max=60)])
    practitioner_id = SelectField("Practitioner", coerce=int, validate_choice=True)
    quarantine_reason = TextAreaField("Reason to go ahead")
    """Asked for only when the batch is quarantined (the service says so)."""
    submit = SubmitField("Save treatment and invite the patient")

    areas = COMMON_AREAS

    def set_practitioners(self, staff: list[User]) -> None:
        """Offer the clinic's active staff, with their registration numbers."""
        self.practitioner_id.choices = [
            SelectChoice(
                u.id, f"{u.name} ({u.registration_number})" if u.registration_number else u.name
            )
            for u in staff
        ]

    def area_fields(self) -> list[tuple[str, FloatField]]:
        """(area, units field) for each common area, in order."""
        return [(area, self[area_field_name(area)]) for area in self.areas]

    def units_by_area(self) -> dict[str, float]:
        """Units per area as entered ("other" named by its description when given)."""
        units = {}
        for area, field in self.area_fields():
            if field.data is not None:
                name = area
                if area == "other" and (self.other_area.data or "").strip():
                    name = self.other_area.data.strip().lower()
                units[name] = field.data
        return units

    def details(self, clinic_timezone: str) -> TreatmentDetails:
        """The submitted treatment with its time turned into UTC (may raise InvalidInput)."""
        return TreatmentDetails(
            treated_at=local_to_utc(self.treated_at.data, clinic_timezone, field="treated_at"),
            product=self.product.data or "",
            batch_number=self.batch_number.data or "",
            indication=self.indication.data or "",
            units_by_area=self.units_by_area(),
            practitioner_id=self.practitioner_id.data,
            quarantine_reason=self.quarantine_reason.data or None,
        )

    def field_for(self, key: str) -> Field | None:
        """The field of a service error key: "units_by_area.<area>" is that area's units."""
        aliases = {f"units_by_area.{area}": area_field_name(area) for area in self.areas}
        if (self.other_area.data or "").strip():
            aliases[f"units_by_area.{self.other_area.data.strip().lower()}"] = area_field_name(
                "other"
            )
        return super().field_for(aliases.get(key, key))


for _area in COMMON_AREAS:
    setattr(
        TreatmentForm,
        area_field_name(_area),
        FloatField(
            _area.capitalize(),
            validators=[
                Optional(),
                NumberRange(min=0, max=MAX_UNITS_PER_AREA, message="From 0 to 1000 units."),
            ],
        ),
    )
