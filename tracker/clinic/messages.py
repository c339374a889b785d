"""Admin page: the clinic's undelivered messages, and putting them back in the queue.

Admins only (clinicians get 403); another clinic's message answers 404.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user

from ..extensions import db
from ..services.messaging import outbox
from . import bp
from .access import admin_required, audit_staff
from .paging import page_number


@bp.get("/messages")
@admin_required
def messages():
    """Messages that failed for good: to whom, what, how often tried, and the last error."""
    failed = outbox.failed_messages(current_user.clinic_id, page=page_number())
    audit_staff("messages.failed.list")  # recipients are patients' contact details
    page = render_template(
        "clinic/messages.html",
        failed=failed,
        max_attempts=outbox.MAX_ATTEMPTS,
        tz=current_user.clinic.timezone,
    )
    db.session.commit()  # after rendering: committing first would expire the rows shown
    return page


@bp.post("/messages/<int:message_id>/retry")
@admin_required
def retry_message(message_id: int):
    """Put a failed message back in the queue with its attempts reset; the next run sends it."""
    message = outbox.clinic_message(current_user.clinic_id, message_id)
    if message is None:
        abort(404)
    if outbox.retry_failed(message):
        audit_staff("message.retry", patient_id=message.patient_id, target=f"outbox:{message.id}")
        flash(f"The message to {message.to_address} is back in the queue.")
    else:
        flash(f"The message to {message.to_address} was not failed: nothing to retry.")
    db.session.commit()
    return redirect(url_for("clinic.messages"))
