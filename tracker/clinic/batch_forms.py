"""Forms of the batch page: quarantine a batch, lift it, close a signal. They check shape; the
services (tracker/services/batches) decide what is valid."""

from __future__ import annotations

from wtforms import SelectField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice

from ..forms import Form
from ..models import SIGNAL_OUTCOMES


class QuarantineForm(Form):
    """Quarantine the batch: treating from it then asks for a reason to go ahead."""

    reason = TextAreaField("Why quarantine this batch?")
    submit = SubmitField("Quarantine this batch")


class LiftQuarantineForm(Form):
    """Lift the batch's quarantine (CSRF only)."""

    submit = SubmitField("Lift the quarantine")


class CloseSignalForm(Form):
    """Close a signal with an outcome and an optional note."""

    outcome = SelectField(
        "Outcome",
        choices=[SelectChoice("", "Choose an outcome")]
        + [SelectChoice(code, label) for code, label in SIGNAL_OUTCOMES.items()],
        validate_choice=False,  # the service refuses an unknown outcome, with its message
    )
    note = TextAreaField("Note (optional)")
    submit = SubmitField("Close this signal")
