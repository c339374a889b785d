"""What the app refuses in any text from outside, whichever interface it came through.

A NUL character is never part of anything a person means to send, and PostgreSQL cannot store
it in text at all (a 500 there, while SQLite would keep it): every form field, API body and
query string with one is refused with a clear error before any service sees it.
"""

from __future__ import annotations

NUL = "\x00"
NUL_ERROR = "Remove the invisible NUL character from this field (it cannot be stored)."


def contains_nul(value: object) -> bool:
    """True if `value`, or any string inside it (list items, dict keys and values), has a NUL."""
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, dict):
        return any(contains_nul(k) or contains_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        return any(contains_nul(item) for item in value)
    return False
