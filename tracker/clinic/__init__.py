"""The clinicians' workspace: patients, treatments, the flag queue, admin pages."""

from flask import Blueprint

bp = Blueprint("clinic", __name__, url_prefix="/clinic")

from . import (  # noqa: E402,F401  (attach views)
    admin,
    data_rights,
    exports,
    flags,
    messages,
    navigation,
    patients,
    treatments,
)
