"""What every form of the app checks, whatever its fields, before any service sees the values.

- No field may hold a NUL character (`tracker.inputs`), nor may the query string of any request.
- No date and time may fall outside the range the app stores (`timeutil.time_problem`): year 1
  or 9999 overflows when moved between timezones.
- No email address may be too long for its column once lower-cased (`emails.email_too_long`):
  even at sign-in, where it is compared (and recorded) lower-cased.

Every form derives from `Form`, which adds these checks to each of its fields as it is bound.
Which addresses are real is the services' question (`emails.normalise_email`); what the services
refuse (`InvalidInput`) a form shows next to its fields with `Form.show_refusal`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import abort, request
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateTimeField, EmailField, Field
from wtforms.validators import StopValidation, ValidationError

from .emails import EMAIL_TOO_LONG, email_too_long
from .inputs import NUL_ERROR, contains_nul
from .invalid import InvalidInput
from .timeutil import time_problem


def refuse_nul(_form: Any, field: Field) -> None:
    """Stop at a NUL character anywhere in what was sent for the field, with a clear error."""
    if contains_nul(field.raw_data or []):
        raise StopValidation(NUL_ERROR)


def fits_email_column(_form: Any, field: Field) -> None:
    """Stop at an address that, lower-cased as sign-in compares it, cannot fit any column."""
    if isinstance(field.data, str) and email_too_long(field.data):
        raise StopValidation(EMAIL_TOO_LONG)


def supported_time(_form: Any, field: Field) -> None:
    """Refuse a date and time the app cannot store or move between timezones."""
    if isinstance(field.data, datetime) and (problem := time_problem(field.data)):
        raise ValidationError(problem)


class Form(FlaskForm):
    """The base of every form: CSRF (Flask-WTF), no NUL characters, dates within range."""

    class Meta:
        def bind_field(self, form: Any, unbound_field: Any, options: dict) -> Field:
            field = super().bind_field(form, unbound_field, options)
            checks = []
            if not isinstance(field, BooleanField):  # (and buttons): only "sent or not" is kept
                checks.append(refuse_nul)
            if isinstance(field, EmailField):
                checks.append(fits_email_column)
            if isinstance(field, DateTimeField):
                checks.append(supported_time)
            field.validators = [*checks, *field.validators]
            return field

    def field_for(self, key: str) -> Field | None:
        """The field a service's error key concerns (here: the field of that name), or None."""
        return self._fields.get(key)

    def show_refusal(self, refused: InvalidInput) -> None:
        """Show a service's refusal: each message on its field, the others above the form."""
        for key, message in refused.fields.items():
            field = self.field_for(key)
            (field.errors if field is not None else self.form_errors).append(message)


def refuse_nul_in_query_string() -> None:
    """Answer 400 to any request whose query string has a NUL, before a view reads it."""
    if contains_nul(list(request.args.items(multi=True))):
        abort(400)
