"""What every form of the app checks, whatever its fields, before any service sees the values.

- No field may hold a NUL character: PostgreSQL refuses it in text, so it would be a 500 there
  (and it is never part of anything a person means to type).
- No date and time may fall outside the range the app stores (`timeutil.time_problem`): year 1
  or 9999 overflows when moved between timezones.

Every form derives from `Form`, which adds both checks to each of its fields as it is bound.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask_wtf import FlaskForm
from wtforms import DateTimeField, Field
from wtforms.validators import StopValidation, ValidationError

from .timeutil import time_problem

NUL = "\x00"
NUL_ERROR = "Remove the invisible NUL character from this field (it cannot be stored)."


def refuse_nul(_form: Any, field: Field) -> None:
    """Stop at a NUL character anywhere in what was sent for the field, with a clear error."""
    if any(isinstance(value, str) and NUL in value for value in field.raw_data or ()):
        raise StopValidation(NUL_ERROR)


def supported_time(_form: Any, field: Field) -> None:
    """Refuse a date and time the app cannot store or move between timezones."""
    if isinstance(field.data, datetime) and (problem := time_problem(field.data)):
        raise ValidationError(problem)


class Form(FlaskForm):
    """The base of every form: CSRF (Flask-WTF), no NUL characters, dates within range."""

    class Meta:
        def bind_field(self, form: Any, unbound_field: Any, options: dict) -> Field:
            field = super().bind_field(form, unbound_field, options)
            checks = [refuse_nul]
            if isinstance(field, DateTimeField):
                checks.append(supported_time)
            field.validators = [*checks, *field.validators]
            return field
