"""A batch's keys in a URL: /clinic/batches/<batch_key:product>/<batch_key:batch>.

Keys may hold spaces, "/", "%" and any letter ("botox 50/100", "bocouture ü"), and a "/" sent
as %2F reaches the app decoded, so each key is written in a form of its own: ASCII letters,
digits, "-", "." and "_" as they are; every other character as "~" and the two hex digits of
each of its UTF-8 bytes ("botox~2050~2F100"); dots too in a key of dots only (a client would
resolve "." and ".." away). An empty key is "~". Only this exact form is
read back: anything else is no batch (404).
"""

from __future__ import annotations

import re
import string

from flask import Blueprint
from werkzeug.routing import BaseConverter, ValidationError

KEPT = frozenset(string.ascii_letters + string.digits + "-._")
EMPTY = "~"
_SEGMENT = re.compile(r"(?:[A-Za-z0-9._-]|~[0-9A-F]{2})+")
BATCH_KEY_SCHEMA = {
    "type": "string",
    "pattern": "^(~|(?:[A-Za-z0-9._-]|~[0-9A-F]{2})+)$",
    "description": "The key as the list's `url` writes it: ASCII letters, digits, `-._` as "
    "they are, every other character as `~` and the hex of each UTF-8 byte; `~` alone: empty.",
}


def key_to_segment(key: str) -> str:
    """The URL path segment of a product or batch key."""
    if not key:
        return EMPTY
    kept = KEPT if key.strip(".") else KEPT - {"."}  # "." and ".." would be resolved away
    return "".join(
        char if char in kept else "".join(f"~{byte:02X}" for byte in char.encode()) for char in key
    )


def segment_to_key(segment: str) -> str | None:
    """The key a segment names, or None when it is not exactly as `key_to_segment` writes it."""
    if segment == EMPTY:
        return ""
    if not _SEGMENT.fullmatch(segment):
        return None
    raw = bytearray()
    position = 0
    while position < len(segment):
        if segment[position] == "~":
            raw.append(int(segment[position + 1 : position + 3], 16))
            position += 3
        else:
            raw.extend(segment[position].encode())
            position += 1
    try:
        key = raw.decode()
    except UnicodeDecodeError:
        return None
    return key if key_to_segment(key) == segment else None


class BatchKeyConverter(BaseConverter):
    """`<batch_key:name>`: the view gets the key, `url_for` takes the key."""

    def to_python(self, value: str) -> str:
        key = segment_to_key(value)
        if key is None:
            raise ValidationError()
        return key

    def to_url(self, value: str) -> str:
        return key_to_segment(value)


def add_converter(bp: Blueprint) -> None:
    """Make `batch_key` known to the app before `bp`'s batch routes are added."""
    bp.record_once(
        lambda state: state.app.url_map.converters.setdefault("batch_key", BatchKeyConverter)
    )
