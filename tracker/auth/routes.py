"""Views: sign in (its first step, the password), sign out, change password."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, logout_user

from ..errors import render_error
from ..extensions import db
from ..services.staff import accounts, recovery_codes, second_factor, staff_sessions
from ..services.staff.accounts import Outcome
from . import bp
from .forms import ChangePasswordForm, SignInForm, SignOutForm
from .login import SESSION_KEY, begin_staff_session, hold_session_token

THROTTLED = {"auth.change_password": "Too many wrong passwords. Wait 15 minutes and try again."}
SIGN_IN_THROTTLED = "Too many failed sign-ins. Wait 15 minutes and try again."
NEXT_STEP = {Outcome.CODE_REQUIRED: "auth.enter_code", Outcome.ENROLMENT_REQUIRED: "auth.enrol"}


def safe_next(target: str | None) -> str:
    """Only a path on this site: never an open redirect."""
    if target and target.startswith("/") and not urlsplit(target).netloc and "\\" not in target:
        return target
    return url_for("clinic.queue")


@bp.errorhandler(accounts.TooManyAttempts)
def too_many_attempts(_error: accounts.TooManyAttempts):
    """Any step of signing in, or the password page, after too many recent failures (429)."""
    db.session.commit()  # keep what the request recorded before the refusal
    return render_error(429, THROTTLED.get(request.endpoint or "", SIGN_IN_THROTTLED))


@bp.route("/signin", methods=["GET", "POST"])
def signin():
    """Staff sign-in, throttled per account and per address; then the second factor's step."""
    form = SignInForm()
    if form.validate_on_submit():
        address = request.remote_addr or ""  # throttled: see too_many_attempts
        result = accounts.sign_in(form.email.data, form.password.data, address)
        if result.user is None or result.token is None:
            db.session.commit()
            form.password.errors.append("That email and password do not match an active account.")
            return render_template("auth/signin.html", form=form), 401
        if result.outcome in NEXT_STEP:
            hold_session_token(result.token)  # half signed in: that step's page alone takes it
            db.session.commit()
            return redirect(url_for(NEXT_STEP[result.outcome], next=request.args.get("next")))
        begin_staff_session(result.user, result.token)
        db.session.commit()
        return redirect(safe_next(request.args.get("next")))
    return render_template("auth/signin.html", form=form), 422 if form.errors else 200


@bp.post("/signout")
def signout():
    """End this browser's session on the server, then forget the cookie."""
    if SignOutForm().validate_on_submit():
        staff_sessions.end_session(session.get(SESSION_KEY))
        db.session.commit()
    logout_user()
    session.clear()
    return redirect(url_for("auth.signin"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    """Change one's own password; every other session ends. Wrong guesses are throttled."""
    form = ChangePasswordForm()
    if form.validate_on_submit():
        user, address = current_user._get_current_object(), request.remote_addr or ""
        problem = accounts.change_password(user, form.current.data, form.new.data, address)
        if problem is None:
            begin_staff_session(user, staff_sessions.start_session(user, address))
            db.session.commit()
            flash("Password changed. You have been signed out everywhere else.")
            return redirect(url_for("clinic.queue"))
        db.session.commit()  # keep the record of a wrong current password
        form.new.errors.append(problem)
    return render_template("auth/password.html", form=form, **_factor_status()), (
        422 if form.errors else 200
    )


def _factor_status() -> dict:
    """What the account page says about the signed-in user's second factor."""
    user = current_user._get_current_object()
    factor = second_factor.confirmed_factor(user)
    left = recovery_codes.codes_left(user) if factor else 0
    required = second_factor.is_required(user)
    return {"factor": factor, "codes_left": left, "factor_required": required}
