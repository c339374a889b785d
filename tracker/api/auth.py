"""Bearer authentication: a token for the sign-in page's own credential check, sent back as
`Authorization: Bearer <token>`. Tokens themselves live in `services.api_tokens`.
"""

from __future__ import annotations

from flask import g, request

from ..models import User
from ..services.staff import accounts
from ..services.staff.accounts import Outcome
from ..services.staff.api_tokens import IssuedToken, issue_token, token_user
from .errors import ApiError

RETRY_AFTER_SECONDS = int(accounts.THROTTLE_WINDOW.total_seconds())
CHALLENGE = 'Bearer realm="aftercare"'
REFUSALS = {
    Outcome.WRONG_CREDENTIALS: (
        "bad_credentials",
        "That email and password do not match an active account.",
    ),
    Outcome.CODE_REQUIRED: (
        "otp_required",
        "This account has a second factor: send its current 6-digit code as `otp`.",
    ),
    Outcome.WRONG_CODE: (
        "invalid_otp",
        "That code is not right or was used already: send the next one as `otp`.",
    ),
    Outcome.ENROLMENT_REQUIRED: (
        "enrolment_required",
        "This account must set up a second factor first: sign in once in a browser.",
    ),
}


def token_for_credentials(
    email: str, password: str, otp: str | None, ip_address: str
) -> IssuedToken:
    """A new token after the sign-in page's own check, or the `ApiError` saying why not.

    A 429 when the account or address has failed too often. The caller commits either way.
    """
    try:
        checked = accounts.authenticate(email, password, ip_address, code=otp)
    except accounts.TooManyAttempts:
        raise ApiError(
            429,
            "Too many failed attempts. Wait 15 minutes and try again.",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        ) from None
    if checked.user is None or checked.outcome is not Outcome.SIGNED_IN:
        code, message = REFUSALS[checked.outcome]
        raise ApiError(401, message, code=code)
    return issue_token(checked.user, ip_address)


def _bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not value or len(value) > 200:
        return None
    return value


def require_user() -> User:
    """The token's user for this request (kept in `g.api_user`, its token in `g.api_token`)."""
    token = _bearer_token()
    if token is None:
        raise ApiError(401, headers={"WWW-Authenticate": CHALLENGE})
    user = token_user(token)
    if user is None:
        raise ApiError(
            401,
            "The token is invalid, expired or revoked: ask for a new one.",
            code="invalid_token",
            headers={"WWW-Authenticate": CHALLENGE + ', error="invalid_token"'},
        )
    g.api_user, g.api_token = user, token
    return user


def current_user() -> User:
    """The authenticated user of this API request."""
    return g.api_user


def current_token() -> str:
    """The bearer token this API request was authenticated with."""
    return g.api_token
