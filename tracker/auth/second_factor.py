"""Views: the second sign-in step (a code), and setting up an authenticator app.

Both take a half sign-in (the password was right) from the cookie; the setup page also serves
a signed-in user who has no factor yet and wants one.
"""

from __future__ import annotations

import segno
from flask import flash, redirect, render_template, request, session, url_for
from flask_login import current_user

from ..extensions import db
from ..models import User
from ..services.staff import accounts, second_factor, staff_sessions
from ..services.staff.accounts import Outcome
from . import bp
from .forms import EnrolForm, SecondFactorForm
from .login import SESSION_KEY, begin_staff_session
from .routes import safe_next

WRONG_CODE = "That code is not right, or was used already. Wait for the next one and try again."


def _address() -> str:
    return request.remote_addr or ""


def _sign_in_again():
    db.session.commit()  # keep the end of a half sign-in that timed out
    flash("Please sign in again (a sign-in left half done ends after a few minutes).")
    return redirect(url_for("auth.signin", next=request.args.get("next")))


def qr_data_uri(text: str) -> str:
    """`text` as a QR code, an SVG image in a data: URI (no script, no request elsewhere)."""
    return segno.make(text, error="m").svg_data_uri(scale=5, border=4, dark="#000", light="#fff")


@bp.route("/signin/code", methods=["GET", "POST"])
def enter_code():
    """The second sign-in step: the authenticator's code, or a recovery code; throttled."""
    user = staff_sessions.pending_user(session.get(SESSION_KEY), staff_sessions.AWAITING_CODE)
    if user is None:
        return _sign_in_again()
    form = SecondFactorForm()
    if form.validate_on_submit():
        checked = accounts.check_code(user, form.code.data, _address())  # may be throttled
        if checked.outcome is Outcome.SIGNED_IN:
            begin_staff_session(user, staff_sessions.start_session(user, _address()))
            db.session.commit()
            return redirect(safe_next(request.args.get("next")))
        db.session.commit()  # keep the failed attempt: it counts towards the throttle
        form.code.errors.append(WRONG_CODE)
        return render_template("auth/second_factor.html", form=form), 401
    return render_template("auth/second_factor.html", form=form), 422 if form.errors else 200


def _enrolling_user() -> tuple[User | None, bool]:
    """Who is setting up a factor, and whether they are only half signed in."""
    if current_user.is_authenticated:
        return current_user._get_current_object(), False
    token = session.get(SESSION_KEY)
    return staff_sessions.pending_user(token, staff_sessions.AWAITING_ENROLMENT), True


@bp.route("/account/second-factor", methods=["GET", "POST"])
def enrol():
    """Set up an authenticator app: scan its QR code, confirm a first code, keep the codes."""
    user, half_signed_in = _enrolling_user()
    if user is None:
        return _sign_in_again()
    if second_factor.is_enrolled(user):
        flash("Your second factor is already set up.")
        return redirect(url_for("auth.change_password"))
    form = EnrolForm()
    if form.validate_on_submit():
        codes = accounts.confirm_enrolment(user, form.code.data, _address())  # may be throttled
        if codes is not None:
            return _recovery_codes_page(user, codes, half_signed_in)
        form.code.errors.append(WRONG_CODE)
    return _enrolment_page(user, form, half_signed_in)


def _enrolment_page(user: User, form: EnrolForm, half_signed_in: bool):
    factor = second_factor.enrolment(user)
    uri = second_factor.provisioning_uri(user, factor)
    page = render_template(
        "auth/enrol.html",
        form=form,
        qr=qr_data_uri(uri),
        secret=" ".join(factor.secret[i : i + 4] for i in range(0, len(factor.secret), 4)),
        half_signed_in=half_signed_in,
    )
    db.session.commit()  # keep the secret, so a reload shows the same QR code
    return page, 422 if form.errors else 200


def _recovery_codes_page(user: User, codes: list[str], half_signed_in: bool):
    """The codes, shown this once; a half sign-in becomes a session."""
    if half_signed_in:
        begin_staff_session(user, staff_sessions.start_session(user, _address()))
    db.session.commit()
    next_page = safe_next(request.args.get("next"))
    return render_template("auth/recovery_codes.html", codes=codes, next_page=next_page)
