"""What every staff page shows in its navigation: the cases in the queue; for admins,
undelivered messages."""

from __future__ import annotations

from flask import g
from flask_login import current_user

from ..services.flags.cases import case_count
from ..services.messaging.outbox import failed_count
from . import bp


@bp.app_context_processor
def open_flag_count() -> dict:
    """The number of cases in the signed-in user's clinic's queue, acknowledged ones included
    (the number the unfiltered queue shows); nothing for anyone else. The queue page has read
    it already, with its own count (`g.queue_case_count`)."""
    if not current_user or not current_user.is_authenticated:
        return {}
    count = g.get("queue_case_count")
    if count is None:
        count = case_count(current_user.clinic_id)
    if current_user.is_admin:
        return {
            "open_flag_count": count,
            "failed_message_count": failed_count(current_user.clinic_id),
        }
    return {"open_flag_count": count}
