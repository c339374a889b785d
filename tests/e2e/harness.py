"""The production stack of the end-to-end suite, started once per run on 127.0.0.1.

A fresh database migrated with `flask db upgrade` and seeded with the CLI; aiosmtpd as the mail
server; gunicorn with `gunicorn.conf.py` and production settings; Debian's nginx in front with TLS
(a self-signed certificate made here) and the headers of docs/deploy.md. Mail is sent by running
`flask tracker deliver` with the same environment, as the scheduler would every minute.
Every wait is bounded, and `close` stops everything whatever happened.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import secrets
import shutil
import ssl
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests import pg
from tests.conftest import TEST_DATABASE_URL
from tests.test_gunicorn_concurrency import free_port, gunicorn, stop, wait_until_healthy
from tests.test_process_concurrency import flask, process_env
from tests.test_smtp_delivery import SmtpServer

CHROMIUM = "/usr/bin/chromium"
NGINX = "/usr/sbin/nginx"
COMMAND_TIMEOUT = 60  # seconds for one `flask ...` command (about 1 s each here)
START_TIMEOUT = 30
CLINIC = "Riverside Clinic"
WORKERS = 2


def missing_tool() -> str | None:
    """Why the suite cannot run here (a skip reason), or None when everything is installed."""
    if not os.access(CHROMIUM, os.X_OK):
        return f"Debian chromium not found at {CHROMIUM}: apt-get install chromium"
    if not os.access(NGINX, os.X_OK):
        return f"Debian nginx not found at {NGINX}: apt-get install nginx"
    if shutil.which("openssl") is None:
        return "openssl not found (it makes the test certificate): apt-get install openssl"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright not installed: pip install -r requirements-dev.txt"
    return None


def run(args: list[str], env: dict[str, str], log: Path) -> str:
    """`flask --app wsgi ARGS` to completion (bounded); its output, or the test fails with it."""
    process = flask(args, env, log)
    try:
        returncode = process.wait(timeout=COMMAND_TIMEOUT)
    finally:
        stop(process)
    output = log.read_text()
    if returncode != 0:
        pytest.fail(f"flask {' '.join(args)} exited with {returncode}:\n{output}")
    return output


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (an IP address in subjectAltName, as TLS wants)."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(  # noqa: S603 (the system's openssl, fixed arguments)
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
        + ["-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2"]
        + ["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
        timeout=COMMAND_TIMEOUT,
    )
    return cert, key


NGINX_CONF = """\
{user}worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log info;
events {{ worker_connections 256; }}
http {{
    client_body_temp_path {dir}/nginx-tmp/body;
    proxy_temp_path {dir}/nginx-tmp/proxy;
    fastcgi_temp_path {dir}/nginx-tmp/fastcgi;
    uwsgi_temp_path {dir}/nginx-tmp/uwsgi;
    scgi_temp_path {dir}/nginx-tmp/scgi;

    # The access log names the path with personal-link and stop tokens cut out, and no query
    # string: $uri is the decoded, slash-merged path, so //p/... and %70 spellings are caught.
    map $uri $logged_path {{
        "~^(?<kept>/+(p|stop)/)" "${{kept}}[token]";
        default $uri;
    }}
    log_format aftercare '$remote_addr [$time_local] "$request_method $logged_path '
                         '$server_protocol" $status $body_bytes_sent "$http_user_agent"';
    access_log {dir}/nginx-access.log aftercare;

    server {{
        listen 127.0.0.1:{port} ssl;
        server_name 127.0.0.1;
        ssl_certificate     {cert};
        ssl_certificate_key {key};
        client_max_body_size 40m;  # photo forms: the app takes up to 32 MiB there, 1 MiB elsewhere

        # As docs/deploy.md's site for TRUSTED_PROXIES=1.
        location / {{
            proxy_pass http://127.0.0.1:{upstream};
            proxy_set_header Host              $host;
            proxy_set_header X-Forwarded-For   $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Host  $host;
            proxy_set_header X-Forwarded-Port  $server_port;
            proxy_redirect off;
        }}
    }}
}}
"""


def start_nginx(directory: Path, port: int, upstream: int, cert: Path, key: Path):
    """nginx in the foreground with a generated config; every file it writes stays in `directory`.

    Run as root (as in CI containers) its worker would become `nobody`, who cannot reach the
    private temporary directory it buffers large responses in: it stays root there instead.
    """
    (directory / "nginx-tmp").mkdir()
    conf = directory / "nginx.conf"
    user = "user root;\n" if os.geteuid() == 0 else ""
    conf.write_text(
        NGINX_CONF.format(
            user=user, dir=directory, port=port, upstream=upstream, cert=cert, key=key
        )
    )
    log = directory / "nginx-stderr.log"
    return subprocess.Popen(  # noqa: S603 (Debian's nginx, our own config)
        [NGINX, "-p", str(directory), "-c", str(conf), "-e", str(directory / "nginx-error.log")]
        + ["-g", "daemon off;"],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


@dataclass(repr=False)
class Stack:
    """The running stack: where it listens, its logs, its mail, and the commands beside it."""

    dir: Path
    database_url: str
    secret: str = field(default_factory=lambda: secrets.token_hex(32))
    port: int = field(default_factory=free_port)
    gunicorn_port: int = field(default_factory=free_port)
    smtp: SmtpServer = field(default_factory=SmtpServer)
    password: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    tokens: list[str] = field(default_factory=list)
    """Every personal-link and stop token a journey used: none may appear in an access log."""
    commands: int = 0
    """How many `flask tracker` job commands ran, numbering their logs."""
    certificate: Path | None = None

    def __post_init__(self) -> None:
        while len({self.port, self.gunicorn_port, self.smtp.port}) < 3:  # probes let go at once
            self.port, self.gunicorn_port = free_port(), free_port()

    clinician = "nurse@riverside.test"
    admin = "admin@riverside.test"  # the clinic has no alert address: alerts go to its admins

    @property
    def base_url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        """What gunicorn and every `flask` command run with: production, behind one proxy."""
        return process_env(
            self.database_url,
            self.smtp.port,
            SECRET_KEY=self.secret,
            TRACKER_BASE_URL=self.base_url,
            TRUSTED_PROXIES="1",
            GUNICORN_BIND=f"127.0.0.1:{self.gunicorn_port}",
            WEB_CONCURRENCY=str(WORKERS),
        )

    def start(self) -> None:
        """Mail, database, gunicorn and nginx; returns once nginx answers /healthz over TLS."""
        self.smtp.start()
        env = self.env
        run(["db", "upgrade"], env, self.log("migrate"))
        self.processes["gunicorn"] = gunicorn(env, self.log("gunicorn"))
        # Seeding overlaps gunicorn's start: the CLI, as an operator would set a clinic up.
        run(["tracker", "create-clinic", CLINIC], env, self.log("seed-clinic"))
        users = [
            flask(
                ["tracker", "create-user", "--clinic", CLINIC, "--email", email]
                + ["--password", self.password, "--role", role, "--name", name],
                env,
                self.log(f"seed-{role}"),
            )
            for email, role, name in (
                (self.clinician, "clinician", "Nina Nurse"),
                (self.admin, "admin", "Ada Admin"),
            )
        ]
        try:
            failed = [user.args for user in users if user.wait(timeout=COMMAND_TIMEOUT) != 0]
        finally:
            for user in users:
                stop(user)
        if failed:
            pytest.fail(f"{failed} failed:\n{self.log_tails()}")
        wait_until_healthy(self.processes["gunicorn"], self.gunicorn_port, self.log("gunicorn"))
        self.certificate, key = make_certificate(self.dir)
        self.processes["nginx"] = start_nginx(
            self.dir, self.port, self.gunicorn_port, self.certificate, key
        )
        self.wait_for_proxy()

    def wait_for_proxy(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.processes["nginx"].poll() is not None:
                pytest.fail(f"nginx exited:\n{self.log_tails()}")
            with contextlib.suppress(OSError), contextlib.closing(self.https()) as connection:
                connection.request("GET", "/healthz")
                if connection.getresponse().status == 200:
                    return
            time.sleep(0.05)
        pytest.fail(f"nginx did not answer /healthz in {START_TIMEOUT}s:\n{self.log_tails()}")

    def https(self, source: str = "127.0.0.1") -> http.client.HTTPSConnection:
        """A TLS connection to nginx from `source` (any 127.x.y.z address is this machine)."""
        context = ssl.create_default_context(cafile=str(self.certificate))
        return http.client.HTTPSConnection(
            "127.0.0.1", self.port, timeout=30, context=context, source_address=(source, 0)
        )

    def deliver(self) -> str:
        """Send the outbox now (`flask tracker deliver`, as the scheduler's job does)."""
        self.commands += 1
        return run(["tracker", "deliver"], self.env, self.log(f"deliver-{self.commands}"))

    def sweep(self) -> str:
        """Judge what is due now (`flask tracker sweep`, as the scheduler's job does)."""
        self.commands += 1
        return run(["tracker", "sweep"], self.env, self.log(f"sweep-{self.commands}"))

    def mail_to(self, address: str) -> list[EmailMessage]:
        """The messages aiosmtpd has taken for `address`, oldest first."""
        with self.smtp.inbox.lock:
            return [r.message for r in self.smtp.inbox.received if address in r.rcpt_tos]

    def wait_for(self, condition: Callable[[], bool], what: str, timeout: float = 10) -> None:
        """Poll `condition` until it holds; fail after `timeout` seconds, saying `what`."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                pytest.fail(f"{what}: not within {timeout}s\n{self.log_tails()}")
            time.sleep(0.05)

    def log(self, name: str) -> Path:
        """The file a process of the stack logs to, by name (`gunicorn`, `nginx-access`, ...)."""
        return self.dir / f"{name}.log"

    def logs(self) -> dict[str, Path]:
        return {path.name: path for path in sorted(self.dir.glob("*.log"))}

    def log_tails(self, lines: int = 40) -> str:
        """The end of every log, for a failure's report."""
        parts = []
        for name, path in self.logs().items():
            tail = path.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- {name} ---\n" + "\n".join(tail))
        return "\n".join(parts)

    def close(self) -> None:
        for name in ("nginx", "gunicorn"):
            if name in self.processes:
                stop(self.processes.pop(name))
        self.smtp.stop()


@contextlib.contextmanager
def running_stack(directory: Path) -> Iterator[Stack]:
    """The stack on a fresh SQLite file, or with `TEST_DATABASE_URL` a fresh PostgreSQL database."""
    with contextlib.ExitStack() as cleanup:
        if TEST_DATABASE_URL:
            url = cleanup.enter_context(pg.fresh_database(TEST_DATABASE_URL, "e2e"))
        else:
            url = f"sqlite:///{directory / 'aftercare.db'}"
        stack = Stack(directory, url)
        cleanup.callback(stack.close)
        stack.start()
        yield stack
