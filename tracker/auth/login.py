"""Flask-Login wired to our server-side staff sessions."""

from __future__ import annotations

from flask import Flask, flash, g, redirect, request, session, url_for
from flask_login import LoginManager, login_url, login_user

from ..extensions import db
from ..infrastructure.database import begin_write
from ..models import User
from ..services.patients import patient_sessions
from ..services.patients.patient_sessions import Ended
from ..services.staff import staff_sessions

SESSION_KEY = "staff_token"

login_manager = LoginManager()
login_manager.login_view = "auth.signin"
login_manager.login_message = "Please sign in to continue."
login_manager.session_protection = None  # the server-side session row does this job

STEP_PAGES = {
    staff_sessions.AWAITING_CODE: "auth.enter_code",
    staff_sessions.AWAITING_ENROLMENT: "auth.enrol",
}
"""Where a half sign-in (password given, second factor not yet) goes on."""


@login_manager.unauthorized_handler
def sign_in_first():
    """A staff page without a session: back to the step a half sign-in is at, or to sign-in."""
    step = staff_sessions.pending_step(session.get(SESSION_KEY))
    if step is not None:
        flash("Finish signing in first.")
        return redirect(url_for(STEP_PAGES[step]))
    flash(login_manager.login_message)
    return redirect(login_url(login_manager.login_view, next_url=request.url))


def load_staff_session() -> None:
    """Before each request: check this browser's staff session, note activity, commit that.

    Runs before the view's own transaction begins, so recording activity (or the end of an
    expired session) never mixes with what the view writes or rolls back.
    """
    token = session.get(SESSION_KEY)
    if token:
        begin_write()
        g.staff_user = staff_sessions.session_user(token)
        db.session.commit()


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """The user of this browser's live session, if it is still live and still theirs."""
    user = g.get("staff_user")
    return user if user is not None and str(user.id) == user_id else None


def hold_session_token(token: str) -> None:
    """Replace whatever the cookie held with `token`, ending the earlier session's row.

    Ending it on the server too means a copy of the earlier cookie no longer signs anyone in.
    On its own (a half sign-in, the second factor still to come) this signs nobody in.
    """
    staff_sessions.end_session(session.get(SESSION_KEY))
    # A browser is one person's at a time: a patient session it held ends too.
    patient_sessions.end_session(session.get(patient_sessions.COOKIE_KEY), Ended.REPLACED)
    session.clear()
    session[SESSION_KEY] = token


def begin_staff_session(user: User, token: str) -> None:
    """Replace whatever the cookie held with a fresh staff session of `user`."""
    hold_session_token(token)
    login_user(user)


def init_app(app: Flask) -> None:
    """Bind Flask-Login to the app; the session check runs before any other request hook."""
    login_manager.init_app(app)
    app.before_request(load_staff_session)
