"""The password policy for staff accounts (patients have no passwords)."""

from __future__ import annotations

from functools import cache
from importlib import resources

MIN_PASSWORD_CHARS = 8
MAX_PASSWORD_CHARS = 128


@cache
def common_passwords() -> frozenset[str]:
    """Passwords refused because they top breached-password lists, lower-cased."""
    text = resources.files("tracker.data").joinpath("common_passwords.txt").read_text()
    return frozenset(
        line.strip().lower() for line in text.splitlines() if line and not line.startswith("#")
    )


def password_problem(password: str, email: str = "") -> str | None:
    """Why `password` is not acceptable for the account `email`, or None if it is."""
    if len(password) < MIN_PASSWORD_CHARS:
        return f"Use at least {MIN_PASSWORD_CHARS} characters."
    if len(password) > MAX_PASSWORD_CHARS:
        return f"Use at most {MAX_PASSWORD_CHARS} characters."
    if password.lower() in common_passwords():
        return "That password is too common: choose another."
    local_part = email.split("@")[0].lower()
    if len(local_part) >= 4 and local_part in password.lower():
        return "Do not use your email address in your password."
    return None
