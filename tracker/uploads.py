"""The request size limit, per page: 1 MiB everywhere but the few pages that take photos.

Flask-WTF reads the form (for its CSRF token) before any view runs, so a view cannot raise the
limit itself; the request knows its endpoint from the moment its URL is matched, and the limit
is read from it when the body is first parsed.
"""

from __future__ import annotations

from flask import Request, current_app

PHOTO_ENDPOINTS = frozenset({"patient.checkin", "patient.add_photos"})
"""The pages whose form may carry photos (`MAX_PHOTO_REQUEST_LENGTH`)."""


class SizedRequest(Request):
    """A request limited to `MAX_PHOTO_REQUEST_LENGTH` when it brings photos, else to
    `MAX_CONTENT_LENGTH`; a limit set on the request itself wins, as in Flask."""

    @property
    def max_content_length(self) -> int | None:
        if self._max_content_length is None and current_app and self.takes_photos:
            return current_app.config["MAX_PHOTO_REQUEST_LENGTH"]
        return super().max_content_length

    @max_content_length.setter
    def max_content_length(self, value: int | None) -> None:
        self._max_content_length = value

    @property
    def takes_photos(self) -> bool:
        """A form that can carry files, posted to a page that takes photos. Only a multipart
        form carries files; in one, a field that is not a file is still held to Flask's
        `MAX_FORM_MEMORY_SIZE` (500 kB), so a huge note is refused as before."""
        return self.endpoint in PHOTO_ENDPOINTS and self.mimetype == "multipart/form-data"
