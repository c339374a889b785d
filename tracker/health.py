"""`/healthz`: is this process up and can it reach its database? For load balancers, monitors."""

from __future__ import annotations

import contextlib

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from .extensions import db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """200 when `SELECT 1` answers, else 503; no sign-in, no audit row, no write lock.

    The request's write transaction is skipped for this endpoint (`NO_TRANSACTION_ENDPOINTS`),
    so on SQLite a busy writer cannot make the check wait, and the check holds no lock.
    """
    try:
        db.session.execute(text("SELECT 1")).scalar_one()
    except SQLAlchemyError as error:
        current_app.logger.warning("Health check: database unavailable: %s", error)
        return jsonify(status="error", database="unavailable"), 503
    finally:
        with contextlib.suppress(SQLAlchemyError):
            db.session.rollback()  # end the read at once; nothing was written
    return jsonify(status="ok", database="ok")
