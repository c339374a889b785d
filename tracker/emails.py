"""Email addresses: the one check of every address the app stores or compares.

Patients' addresses, staff's, and a clinic's alert address all go through `normalise_email`:
one real-looking address (`email-validator`, without a deliverability lookup), no line breaks
(which could start a new mail header), and short enough for its column (254 characters) in
the form that is stored, which for staff is lower-cased: "İ" lower-cases to two characters.

The `.test` names (RFC 6761: reserved for testing, never delivered) are accepted, for the demo
and the tests; other reserved names such as `localhost` or `.local` are refused.
"""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email

from .invalid import InvalidInput

EMAIL_MAX_CHARS = 254
"""The longest address any column holds (RFC 5321's limit on a mail path)."""
EMAIL_ERROR = "Enter an email address like name@example.com."
EMAIL_TOO_LONG = f"Keep the email address to {EMAIL_MAX_CHARS} characters or fewer."


def as_compared(address: str) -> str:
    """An address as staff accounts are stored and compared at sign-in: trimmed, lower-cased."""
    return address.strip().lower()


def email_too_long(address: str) -> bool:
    """True if `address`, trimmed and lower-cased as sign-in compares it, overflows its column."""
    return len(as_compared(address)) > EMAIL_MAX_CHARS


def normalise_email(address: str, *, lower: bool = False, field: str = "email") -> str:
    """The address as it is stored, or `InvalidInput` naming `field`.

    Trimmed and normalised (the domain lower-cased, Unicode composed); with `lower`, the whole
    address as typed and lower-cased instead, which is how staff addresses are kept and compared
    at sign-in.
    """
    address = (address or "").strip()
    if email_too_long(address) or len(address) > EMAIL_MAX_CHARS:
        raise InvalidInput.on(field, EMAIL_TOO_LONG)
    if any(c in address for c in "\r\n\x00"):
        raise InvalidInput.on(field, EMAIL_ERROR)
    try:
        checked = validate_email(address, check_deliverability=False, test_environment=True)
    except EmailNotValidError:
        raise InvalidInput.on(field, EMAIL_ERROR) from None
    stored = as_compared(address) if lower else checked.normalized
    if len(stored) > EMAIL_MAX_CHARS:
        raise InvalidInput.on(field, EMAIL_TOO_LONG)
    return stored
