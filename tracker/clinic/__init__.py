"""The clinicians' workspace: patients, treatments, the case queue and case pages, admin pages."""

from flask import Blueprint

bp = Blueprint("clinic", __name__, url_prefix="/clinic")

from . import (  # noqa: E402,F401  (attach views)
    admin,
    batches,
    cases,
    data_rights,
    exports,
    flags,
    messages,
    navigation,
    patients,
    photos,
    reports,
    treatments,
)
