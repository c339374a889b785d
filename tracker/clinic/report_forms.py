"""The form of a case's regulator report: what only the clinician can give. It checks shape;
the service refuses what does not exist and what is too long."""

from __future__ import annotations

from collections.abc import Iterable

from wtforms import Field, SelectField, SelectMultipleField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from ..forms import Form
from ..models import REACTION_OUTCOMES, SERIOUSNESS
from ..services.flags.regulator_report import TEXT_MAX_CHARS, Reaction, ReportChanges

DESCRIPTION_PREFIX = "description_"
TOO_LONG = f"Keep it to {TEXT_MAX_CHARS:,} characters or fewer."


def _text(label: str) -> TextAreaField:
    return TextAreaField(
        label, validators=[Optional(), Length(max=TEXT_MAX_CHARS, message=TOO_LONG)]
    )


class ReportForm(Form):
    """Seriousness criteria, the confirmed outcome, other medicines and, per reaction, the
    clinician's description (one field each, made by `for_reactions`)."""

    seriousness = SelectMultipleField(
        "Seriousness (tick each that applies; none: not serious)",
        choices=[SelectChoice(code, label) for code, label in SERIOUSNESS.items()],
        validate_choice=True,
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )
    outcome = SelectField(
        "Outcome",
        choices=[SelectChoice("", "Not confirmed yet")]
        + [SelectChoice(code, label) for code, label in REACTION_OUTCOMES.items()],
        validate_choice=True,
        default="",
    )
    other_medicines = _text("Other medicines the patient takes (or none)")
    submit = SubmitField("Save the report")

    reactions: list[Reaction] = []

    @classmethod
    def for_reactions(cls, reactions: Iterable[Reaction], **kwargs) -> ReportForm:
        """A form with a description field for each reaction of the case."""
        reactions = list(reactions)
        fields: dict[str, object] = {"reactions": reactions}
        for reaction in reactions:
            fields[DESCRIPTION_PREFIX + str(reaction.symptom.id)] = _text(
                f"{reaction.symptom.name}: what happened, in your words"
            )
        return type("CaseReportForm", (cls,), fields)(**kwargs)

    def description_field(self, reaction: Reaction) -> TextAreaField:
        return self[DESCRIPTION_PREFIX + str(reaction.symptom.id)]

    def changes(self) -> ReportChanges:
        """The submitted values, for the report service."""
        return ReportChanges(
            seriousness=list(self.seriousness.data or []),
            outcome=self.outcome.data or None,
            other_medicines=self.other_medicines.data or "",
            descriptions={
                r.symptom.id: self.description_field(r).data or "" for r in self.reactions
            },
        )

    def field_for(self, key: str) -> Field | None:
        """The field of a service error key ("description.<symptom id>" is that reaction's)."""
        if key.startswith("description."):
            return super().field_for(DESCRIPTION_PREFIX + key.removeprefix("description."))
        return super().field_for(key)
