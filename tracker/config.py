"""Configuration, read from the environment by the app factory and nowhere else."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

DEV_SECRET_FILE = "secret_key"  # noqa: S105  (a file name, not a secret)


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def database_url(instance_path: str, env: dict[str, str]) -> str:
    """`DATABASE_URL`, with plain PostgreSQL URLs pointed at psycopg 3; SQLite in instance/."""
    url = env.get("DATABASE_URL")
    if not url:
        return f"sqlite:///{Path(instance_path) / 'aftercare.db'}"
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


def development_secret_key(instance_path: str) -> str:
    """A random key kept in instance/ so development sessions survive a restart."""
    path = Path(instance_path) / DEV_SECRET_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def trusted_proxies(value: str | None) -> int:
    """`TRUSTED_PROXIES`: how many reverse proxies stand in front (0, the default: none)."""
    text = (value or "").strip() or "0"
    if not text.isdigit() or int(text) > 10:
        raise RuntimeError(
            "TRUSTED_PROXIES must be the number of reverse proxies in front (0 to 10), "
            f"not {text!r}."
        )
    return int(text)


def from_environment(instance_path: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """The app's settings from environment variables, with development defaults."""
    env = dict(os.environ if env is None else env)
    production = env.get("TRACKER_ENV", "development") == "production"
    return {
        "TRACKER_ENV": "production" if production else "development",
        "SECRET_KEY": env.get("SECRET_KEY") or None,
        "SQLALCHEMY_DATABASE_URI": database_url(instance_path, env),
        "MAIL_SERVER": env.get("MAIL_SERVER") or None,
        "MAIL_PORT": int(env.get("MAIL_PORT") or 25),
        "MAIL_USERNAME": env.get("MAIL_USERNAME") or None,
        "MAIL_PASSWORD": env.get("MAIL_PASSWORD") or None,
        "MAIL_USE_TLS": _flag(env.get("MAIL_USE_TLS")),
        "MAIL_USE_SSL": _flag(env.get("MAIL_USE_SSL")),
        "MAIL_TIMEOUT": float(env.get("MAIL_TIMEOUT") or 10),
        "MAIL_DEFAULT_SENDER": env.get("MAIL_DEFAULT_SENDER") or "aftercare@localhost",
        "TRACKER_SCHEDULER": _flag(env.get("TRACKER_SCHEDULER")),
        # Testing only: run every scheduled job every N seconds instead of at its cron times.
        "TRACKER_JOB_INTERVAL_SECONDS": float(env.get("TRACKER_JOB_INTERVAL_SECONDS") or 0) or None,
        "OUTBOX_SENDING_TIMEOUT_SECONDS": float(env.get("OUTBOX_SENDING_TIMEOUT_SECONDS") or 900),
        "TRACKER_BASE_URL": (env.get("TRACKER_BASE_URL") or "http://127.0.0.1:5000").rstrip("/"),
        "EMERGENCY_NUMBER": env.get("EMERGENCY_NUMBER") or "999",
        "EMERGENCY_SERVICE": env.get("EMERGENCY_SERVICE") or "A&E",
        "NON_URGENT_NUMBER": env.get("NON_URGENT_NUMBER") or "111",
        "SESSION_COOKIE_SECURE": production,
        "TRUSTED_PROXIES": trusted_proxies(env.get("TRUSTED_PROXIES")),
    }


DEFAULTS: dict[str, Any] = {
    "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
    "MAX_CONTENT_LENGTH": 1024 * 1024,
    # The pages that take photos (`uploads.PHOTO_ENDPOINTS`): three of up to 10 MB each, and the
    # form around them. Every other request keeps the 1 MiB above.
    "MAX_PHOTO_REQUEST_LENGTH": 32 * 1024 * 1024,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session
    # Flask-WTF's HTTPS check wants a same-site Referer, which our `Referrer-Policy: no-referrer`
    # (patient-link tokens never leave in a Referer) makes browsers leave out. The token check
    # stays; `security.check_request_origin` checks what browsers do send instead.
    "WTF_CSRF_SSL_STRICT": False,
    "PATIENT_LINK_HOURS": 72,
    "PATIENT_SESSION_HOURS": 24,
    "PATIENT_SESSION_IDLE_MINUTES": 30,
    "PATIENT_FRESH_LINKS_PER_DAY": 3,  # "Email me a fresh link" per link in 24 hours
    "NOTE_MAX_CHARS": 2000,
    "PASSWORD_HASH_METHOD": "scrypt",
    # Werkzeug's scrypt (N=2**15, r=8, p=1). Only the tests lower N, to keep the suite quick;
    # a stored hash names its own parameters, so checking never depends on this setting.
}
