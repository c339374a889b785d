"""Views: sign in, sign out, change password."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, logout_user

from ..errors import render_error
from ..extensions import db
from ..services import accounts, staff_sessions
from . import bp
from .forms import ChangePasswordForm, SignInForm, SignOutForm
from .login import SESSION_KEY, begin_staff_session

SIGN_IN_THROTTLED = "Too many failed sign-ins. Wait 15 minutes and try again."


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never an open redirect."""
    if target and target.startswith("/") and not urlsplit(target).netloc and "\\" not in target:
        return target
    return url_for("clinic.queue")


@bp.route("/signin", methods=["GET", "POST"])
def signin():
    """Staff sign-in, throttled per account and per address."""
    form = SignInForm()
    if form.validate_on_submit():
        try:
            result = accounts.sign_in(
                form.email.data, form.password.data, request.remote_addr or ""
            )
        except accounts.TooManyAttempts:
            db.session.commit()
            return render_error(429, SIGN_IN_THROTTLED)
        if result.user is None or result.token is None:
            db.session.commit()
            form.password.errors.append("That email and password do not match an active account.")
            return render_template("auth/signin.html", form=form), 401
        begin_staff_session(result.user, result.token)
        db.session.commit()
        return redirect(_safe_next(request.args.get("next")))
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
        try:
            problem = accounts.change_password(user, form.current.data, form.new.data, address)
        except accounts.TooManyAttempts:
            db.session.commit()
            return render_error(429, "Too many wrong passwords. Wait 15 minutes and try again.")
        if problem is None:
            begin_staff_session(user, staff_sessions.start_session(user, address))
            db.session.commit()
            flash("Password changed. You have been signed out everywhere else.")
            return redirect(url_for("clinic.queue"))
        db.session.commit()  # keep the record of a wrong current password
        form.new.errors.append(problem)
    return render_template("auth/password.html", form=form), 422 if form.errors else 200
