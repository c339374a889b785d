"""The password policy for staff accounts (patients have no passwords).

Guessability is zxcvbn's estimate: it knows the common and breached passwords of public lists,
names, keyboard patterns, dates and l33t spellings, and is told the person's own email and name.
"""

from __future__ import annotations

import re

from zxcvbn import zxcvbn

MIN_PASSWORD_CHARS = 8
MAX_PASSWORD_CHARS = 128
MIN_SCORE = 3  # zxcvbn's 0-4; 3 is "safely unguessable: moderate protection from offline attacks"
SCORED_CHARS = 72  # zxcvbn's own limit; its work grows quickly with length, and 72 is plenty


def _user_inputs(email: str, name: str) -> list[str]:
    """The words of this person's own email and name, which an attacker would try first."""
    return [email, *(word for word in re.split(r"[^\w]+", f"{email} {name}") if word)]


def password_problem(password: str, email: str = "", name: str = "") -> str | None:
    """Why `password` is not acceptable for the account `email` of `name`, or None if it is."""
    if len(password) < MIN_PASSWORD_CHARS:
        return f"Use at least {MIN_PASSWORD_CHARS} characters."
    if len(password) > MAX_PASSWORD_CHARS:
        return f"Use at most {MAX_PASSWORD_CHARS} characters."
    local_part = email.split("@")[0].lower()
    if len(local_part) >= 4 and local_part in password.lower():
        return "Do not use your email address in your password."
    result = zxcvbn(password[:SCORED_CHARS], user_inputs=_user_inputs(email, name))
    if result["score"] >= MIN_SCORE:
        return None
    feedback = result["feedback"]
    advice = " ".join([feedback["warning"], *feedback["suggestions"]]).strip()
    return " ".join(["That password is too easy to guess.", advice or "Try a longer phrase."])
