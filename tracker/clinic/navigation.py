"""What every staff page shows in its navigation: open flags; for admins, undelivered messages."""

from __future__ import annotations

from flask_login import current_user
from sqlalchemy import func, select

from ..extensions import db
from ..models import OPEN, Flag
from ..services.messaging.outbox import failed_count
from . import bp


@bp.app_context_processor
def open_flag_count() -> dict:
    """The number of open flags of the signed-in user's clinic (nothing for anyone else)."""
    if not current_user or not current_user.is_authenticated:
        return {}
    count = db.session.scalar(
        select(func.count(Flag.id)).where(
            Flag.clinic_id == current_user.clinic_id, Flag.status == OPEN
        )
    )
    if current_user.is_admin:
        return {
            "open_flag_count": count,
            "failed_message_count": failed_count(current_user.clinic_id),
        }
    return {"open_flag_count": count}
