"""What every staff page shows in its navigation: open flags; for admins, undelivered messages."""

from __future__ import annotations

from flask_login import current_user

from ..services.flags.queue import open_flag_count as count_open_flags
from ..services.messaging.outbox import failed_count
from . import bp


@bp.app_context_processor
def open_flag_count() -> dict:
    """The number of open flags of the signed-in user's clinic (nothing for anyone else)."""
    if not current_user or not current_user.is_authenticated:
        return {}
    count = count_open_flags(current_user.clinic_id)
    if current_user.is_admin:
        return {
            "open_flag_count": count,
            "failed_message_count": failed_count(current_user.clinic_id),
        }
    return {"open_flag_count": count}
