"""The free text of the batch watch: why a batch is quarantined, why a treatment went ahead
from one, and the note on a closed signal. Each is checked here, once, for every interface."""

from __future__ import annotations

from ...invalid import InvalidInput

REASON_MAX_CHARS = 500
"""A reason (to quarantine a batch, to treat from a quarantined one)."""
NOTE_MAX_CHARS = 2000
"""The note on a closed signal."""


def required_reason(text: str | None, field: str) -> str:
    """`text` trimmed; refused (under `field`) when empty, only spaces, or too long."""
    value = (text or "").strip()
    if not value:
        raise InvalidInput.on(field, "Give a reason.")
    if len(value) > REASON_MAX_CHARS:
        raise InvalidInput.on(
            field, f"Keep the reason to {REASON_MAX_CHARS:,} characters or fewer."
        )
    return value


def optional_note(text: str | None, field: str = "note") -> str | None:
    """`text` trimmed, None when empty; refused (under `field`) when too long."""
    value = (text or "").strip()
    if len(value) > NOTE_MAX_CHARS:
        raise InvalidInput.on(field, f"Keep the note to {NOTE_MAX_CHARS:,} characters or fewer.")
    return value or None
