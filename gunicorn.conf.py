"""gunicorn settings for production: `gunicorn wsgi:app` (this file is read from the working dir).

Every setting can be changed from the environment; see docs/deploy.md. The scheduler is not run
here: start one `flask --app wsgi tracker scheduler` process beside the web workers.
"""

import os

from gunicorn.glogging import Logger

from tracker.redaction import install as install_redaction
from tracker.redaction import redact_atoms

# The app refuses to start in production without a real SECRET_KEY or with debug on.
os.environ.setdefault("TRACKER_ENV", "production")

if os.environ.get("TRACKER_SCHEDULER", "").strip().lower() in {"1", "true", "yes", "on"}:
    # Every worker would run every job: reminders and alerts sent once per worker.
    raise SystemExit(
        "TRACKER_SCHEDULER=1 is for `make run` only: under gunicorn, unset it and run one "
        "`flask --app wsgi tracker scheduler` process beside the workers."
    )

wsgi_app = "wsgi:app"
bind = os.environ.get("GUNICORN_BIND") or f"127.0.0.1:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY") or 4)
worker_class = "sync"  # one request per process: SQLite's writers queue on its lock, not threads
timeout = int(os.environ.get("GUNICORN_TIMEOUT") or 30)
graceful_timeout = 30
keepalive = 5
preload_app = False  # each worker builds its own app and database pool after the fork
max_requests = 2000
max_requests_jitter = 200
# No runtime control socket: its default path is shared by every gunicorn of this user.
control_socket_disable = True
# gunicorn's own X-Forwarded-Proto handling stays off: the app's TRUSTED_PROXIES setting alone
# decides which forwarded headers are believed (address, scheme, host and port together).
forwarded_allow_ips = ""

accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms "%(a)s"'

# Tokens (personal links, stop links) never reach a log line: every record of this process is
# redacted, and the access log's atoms lose their query strings, cookies and credentials too.
install_redaction()


class RedactingLogger(Logger):
    """gunicorn's logger, with the atoms of the access log redacted (tracker/redaction.py)."""

    def atoms(self, resp, req, environ, request_time):
        return redact_atoms(super().atoms(resp, req, environ, request_time))


logger_class = RedactingLogger
