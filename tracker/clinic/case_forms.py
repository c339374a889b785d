"""Forms of the case queue and the case page: filters, assignment, resolving the whole case.

They check shape only; who may be assigned and whether the case changed is the services' call.
"""

from __future__ import annotations

from collections.abc import Iterable

from wtforms import (
    DateField,
    Field,
    HiddenField,
    SelectField,
    StringField,
    SubmitField,
    ValidationError,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional

from ..forms import Form
from ..models import ACKNOWLEDGED, OPEN, User
from ..services.flags.cases import CaseFilters
from ..services.flags.regulator_report import REFERENCE_MAX_CHARS
from .flag_forms import FlagFilterForm, ResolveForm

CASE_STATUS_LABELS = {"": "Open and acknowledged", OPEN: "Open", ACKNOWLEDGED: "Acknowledged"}
OUT_OF_DATE = "This form is out of date: reload the case and try again."


class CaseFilterForm(FlagFilterForm):
    """The case queue's filters, read from the query string: the flag filters' reason and
    practitioner, a case status, and "assigned to me"."""

    status = SelectField(
        "Status",
        default="",
        choices=[SelectChoice(value, label) for value, label in CASE_STATUS_LABELS.items()],
    )
    assigned = SelectField(
        "Assigned",
        default="",
        choices=[SelectChoice("", "Anyone or nobody"), SelectChoice("me", "Assigned to me")],
    )

    def to_case_filters(self, me: User) -> CaseFilters:
        """The validated choices as the case queue takes them."""
        flags = self.to_filters()
        return CaseFilters(
            reason=flags.reason,
            status=flags.status,
            practitioner_id=flags.practitioner_id,
            assigned_to_id=me.id if self.assigned.data == "me" else None,
        )


def _optional_id(value: str | None) -> int | None:
    if value in (None, ""):
        return None
    if not value.isdigit() or len(value) > 10:
        raise ValueError(value)
    return int(value)


class AssignForm(Form):
    """Give the case to a clinician, or to nobody. Any id is taken as sent: the service says
    why someone cannot be assigned (another clinic's, or a deactivated account)."""

    assignee = SelectField("Assign to", validate_choice=False)
    submit = SubmitField("Assign")

    def __init__(self, staff: Iterable[User], **kwargs):
        super().__init__(**kwargs)
        self.assignee.choices = [SelectChoice("", "Nobody")] + [
            SelectChoice(str(u.id), u.name) for u in staff if u.is_active
        ]

    def validate_assignee(self, field: Field) -> None:
        try:
            _optional_id(field.data)
        except ValueError:
            raise ValidationError("Choose someone from the list.") from None

    def assignee_id(self) -> int | None:
        """The chosen clinician's id; None to unassign."""
        return _optional_id(self.assignee.data)


class CaseResolveForm(ResolveForm):
    """Close every flag of the case with one outcome; it carries the ids of the flags it showed,
    so a case that changed meanwhile is refused rather than closed unseen."""

    flag_ids = HiddenField()
    reported_on = DateField(
        "Date reported to the regulator (if that is the outcome)", validators=[Optional()]
    )
    reference = StringField(
        "The regulator's reference (if that is the outcome)",
        validators=[
            Optional(),
            Length(
                max=REFERENCE_MAX_CHARS,
                message=f"Keep the reference to {REFERENCE_MAX_CHARS} characters or fewer.",
            ),
        ],
    )
    submit = SubmitField("Resolve the case")
    resolve_and_next = SubmitField("Resolve and open next case")

    def validate_flag_ids(self, field: Field) -> None:
        try:
            self.shown_flag_ids()
        except ValueError:
            raise ValidationError(OUT_OF_DATE) from None

    def shown_flag_ids(self) -> set[int]:
        """The flags the page showed as active when the clinician chose to resolve."""
        parts = [part for part in (self.flag_ids.data or "").split(",") if part]
        if not parts or len(parts) > 100:
            raise ValueError(self.flag_ids.data)
        ids = {_optional_id(part) for part in parts}
        return {i for i in ids if i is not None}

    def field_for(self, key: str) -> Field | None:
        if key in ("outcome", "reported_on", "reference"):
            return self[key]
        return self.resolution_note
