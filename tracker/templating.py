"""Template filters and globals: times in the viewer's timezone, severity labels."""

from __future__ import annotations

from datetime import datetime

from flask import Flask, current_app

from .catalogue import SEVERITY_LABELS
from .timeutil import local


def format_local(value: datetime | None, tz_name: str, pattern: str = "%a %d %b %Y, %H:%M") -> str:
    """A UTC datetime shown in `tz_name`, e.g. "Tue 24 Nov 2026, 09:00"."""
    if value is None:
        return ""
    return local(value, tz_name).strftime(pattern)


def format_hours(hours: float | None) -> str:
    """Hours as a person says them: "48 hours", "3 days"."""
    if hours is None:
        return ""
    if hours >= 48 and hours % 24 == 0:
        return f"{int(hours // 24)} days"
    return f"{hours:g} hours"


def format_elapsed(hours: float) -> str:
    """How long something has lasted so far: "less than an hour", "about 5 hours", "3 days"."""
    if hours < 1:
        return "less than an hour"
    if hours < 48:
        return f"about {round(hours)} hour{'s' if round(hours) != 1 else ''}"
    return f"about {round(hours / 24)} days"


def register(app: Flask) -> None:
    """Make the filters and globals available to every template."""
    app.add_template_filter(format_local, "local")
    app.add_template_filter(format_hours, "duration")
    app.add_template_filter(format_elapsed, "elapsed")
    app.add_template_global(SEVERITY_LABELS, "SEVERITY_LABELS")

    @app.context_processor
    def settings() -> dict:
        config = current_app.config
        return {
            "emergency_number": config["EMERGENCY_NUMBER"],
            "emergency_service": config["EMERGENCY_SERVICE"],
            "non_urgent_number": config["NON_URGENT_NUMBER"],
        }
