"""The form that adds photos to a check-in from its answer page (the check-in form takes them
too). Its file inputs are in templates/patient/_photo_inputs.html and read with
`photo_files.uploaded_photos`: the service judges the files, the form only carries them."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import SubmitField

from ..forms import Form

PHOTOS_REFUSED = "photos-refused"
"""The category of the message that carries a photo refusal from the check-in to its answer."""


class AddPhotosForm(Form):
    """Photos for a check-in already sent: the file inputs and this button."""

    submit = SubmitField(_l("Add these photos"))
