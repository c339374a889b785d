"""Secrets kept out of every log line: personal-link and stop tokens, cookies, credentials.

A personal link's token starts a patient's session and a stop token turns their reminders off,
so neither may reach a log, whichever way the path was spelt: `//p/<token>`, `/p//<token>`,
`/%2Fp/<token>`, `/%70/<token>` (Werkzeug routes several of these, and a 404 line would still
show the token). Paths are percent-decoded before they are matched, and any segment after a `p`
or `stop` segment becomes `[token]`; a signed token (the app's are JSON signed by itsdangerous)
is redacted wherever else it appears. Query strings may carry anything, so they are dropped.

Used by gunicorn's access and error logs (gunicorn.conf.py) and, through the log record
factory, by every other log line of the process (the app's own, Werkzeug's development server).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

REDACTED = "[token]"
TOKEN_PATH = re.compile(r"(/+(?:p|stop)/+)[^/\s?#\"'<>]+", re.IGNORECASE)
SIGNED_TOKEN = re.compile(r"(?:eyJ|\.eJ)[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_.-]{10,}")
"""itsdangerous output: base64 JSON (`eyJ` is `{"`), or zlib-compressed (`.eJ`), then `.` sig."""
DROPPED_ATOMS = frozenset(
    {"cookie", "set-cookie", "authorization", "proxy-authorization"}  # headers
    | {"http_cookie", "http_authorization", "http_proxy_authorization", "query_string"}  # environ
)
URL_ATOMS = frozenset({"referer", "http_referer", "raw_uri", "request_uri", "path_info"})
MAX_DECODES = 3


def _decoded(text: str) -> str:
    for _ in range(MAX_DECODES):
        unquoted = unquote(text)
        if unquoted == text:
            break
        text = unquoted
    return text


def redact(text: str) -> str:
    """`text` with every token replaced by `[token]` (decoded first if it held one)."""
    decoded = _decoded(text)
    redacted = SIGNED_TOKEN.sub(REDACTED, TOKEN_PATH.sub(rf"\g<1>{REDACTED}", decoded))
    return text if redacted == decoded else redacted


def redact_url(url: str) -> str:
    """A path or URL without its query string or fragment, and with its tokens redacted."""
    return redact(re.split(r"[?#]", url, maxsplit=1)[0])


def redact_atoms(atoms: Mapping[str, Any]) -> dict[str, Any]:
    """gunicorn's access-log atoms with no token, query string, cookie or credential left.

    Covers the atoms of any `access_log_format`, not only ours: the request line, the path,
    the referer, and every request header (`{name}i`), response header (`{name}o`) and
    environ value (`{name}e`).
    """
    clean: dict[str, Any] = {}
    for key, value in atoms.items():
        name = key[1:-2].lower() if key.startswith("{") else None
        if name in DROPPED_ATOMS:
            clean[key] = "-"
        elif name in URL_ATOMS:
            clean[key] = redact_url(str(value))
        else:
            clean[key] = redact(value) if isinstance(value, str) else value
    path = redact_url(str(atoms.get("U") or ""))
    clean["U"], clean["q"] = path, "-"
    clean["r"] = f"{atoms.get('m') or '-'} {path} {atoms.get('H') or '-'}"
    clean["f"] = redact_url(str(atoms.get("f") or "-"))
    return clean


def redact_record(record: logging.LogRecord) -> None:
    """Format the record's message (and traceback) now, without tokens."""
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001  (a bad format is the handler's to report, as usual)
        return
    record.msg, record.args = redact(message), None
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


def install() -> None:
    """Redact every log record this process creates, whichever logger and handler it goes to.

    A record factory rather than a filter on some loggers: filters on a logger miss the
    records of its children, and handlers are configured by whoever runs the app.
    """
    previous = logging.getLogRecordFactory()
    if getattr(previous, "redacts_tokens", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        redact_record(record)
        return record

    factory.redacts_tokens = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)
