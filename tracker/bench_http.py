"""The HTTP half of `make bench`: gunicorn on 127.0.0.1, patients' phones, and load.

The server is the production one (`gunicorn.conf.py`, sync workers, `TRACKER_ENV=production`,
CSRF on) serving `tracker.bench_app`, which adds the bare-insert baseline to the real app. Each
client is one patient signed in through their own personal link; it reads the check-in form's
CSRF token once (it lives as long as the session) and then posts the real form. Only the POSTs
are timed. Cookies are kept by hand, as the production cookie is Secure and this is plain http.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

from .bench_app import BARE_INSERT_PATH, ENABLE_VARIABLE, TREATMENT_VARIABLE

ROOT = Path(__file__).resolve().parent.parent
WORKERS = 4
START_TIMEOUT_SECONDS = 60
REQUEST_TIMEOUT_SECONDS = 60
BENCH_APP = "tracker.bench_app:build()"
CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def production_environment(
    database_url: str, port: int, workers: int, **extra: str
) -> dict[str, str]:
    """A production start's environment on 127.0.0.1:`port`, with nothing inherited that could
    change the app (the gunicorn tests start their servers with it too)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TRACKER_", "FLASK_", "MAIL_", "GUNICORN_"))
        and key not in {"SECRET_KEY", "DATABASE_URL", "WEB_CONCURRENCY", "PORT"}
    }
    env.update(
        DATABASE_URL=database_url,
        GUNICORN_BIND=f"127.0.0.1:{port}",
        WEB_CONCURRENCY=str(workers),
        TRACKER_BASE_URL=f"http://127.0.0.1:{port}",
        **extra,
    )
    return env


def start_gunicorn(env: dict[str, str], log: Path, app: str | None = None) -> subprocess.Popen:
    """gunicorn with the repository's gunicorn.conf.py (serving `app`, else its `wsgi:app`), in
    its own process group, its output in `log`."""
    return subprocess.Popen(  # noqa: S603 (our own interpreter, config and module)
        [sys.executable, "-m", "gunicorn", "--config", str(ROOT / "gunicorn.conf.py")]
        + ([app] if app else []),
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


@contextlib.contextmanager
def gunicorn(database_url: str, secret: str, log: Path, workers: int = WORKERS) -> Iterator[int]:
    """gunicorn serving the bench app on a free local port; yields the port, stopped after."""
    port = free_port()
    bench = {ENABLE_VARIABLE: "1", TREATMENT_VARIABLE: "1"}
    env = production_environment(database_url, port, workers, SECRET_KEY=secret, **bench)
    process = start_gunicorn(env, log, BENCH_APP)
    try:
        wait_until_healthy(process, port, log)
        yield port
    finally:
        stop(process)


def wait_until_healthy(process: subprocess.Popen, port: int, log: Path) -> None:
    """Return once `/healthz` answers 200; raise if gunicorn exits or never answers."""
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}:\n{log.read_text()}")
        with contextlib.suppress(OSError):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"gunicorn did not answer /healthz:\n{log.read_text()[-3000:]}")


def stop(process: subprocess.Popen) -> None:
    """SIGTERM to gunicorn's process group (arbiter and workers), SIGKILL if it lingers."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


def send(
    connection: http.client.HTTPConnection,
    method: str,
    path: str,
    cookies: dict[str, str],
    form: dict | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, str]:
    """One request with `cookies` (updated from the answer's Set-Cookie): status and body.

    Cookies are kept by hand: the production cookie is Secure, so a cookie jar would not send it
    back over plain http."""
    headers = {**(headers or {}), "Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())}
    body = None
    if form is not None:
        body = urlencode(form, doseq=True)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    text = response.read().decode()
    for header in response.headers.get_all("Set-Cookie") or []:
        name, _, rest = header.partition("=")
        cookies[name] = rest.split(";", 1)[0]
    return response.status, text


@dataclass
class Phone:
    """One patient's phone: its own cookies, and the check-in form's CSRF token once read."""

    port: int
    cookies: dict[str, str] = field(default_factory=dict)
    csrf_token: str = ""

    def request(self, method: str, path: str, form: dict | None = None) -> tuple[int, str]:
        """One request on a new connection (sync workers close each one); status and body."""
        connection = http.client.HTTPConnection(
            "127.0.0.1", self.port, timeout=REQUEST_TIMEOUT_SECONDS
        )
        try:
            return send(connection, method, path, self.cookies, form)
        finally:
            connection.close()

    def form_token(self, path: str) -> str:
        """The CSRF token of the form on `path`."""
        status, text = self.request("GET", path)
        match = CSRF_RE.search(text)
        if status != 200 or match is None:
            raise RuntimeError(f"no form on {path}: {status} {text[:300]}")
        return match.group(1)

    def sign_in(self, link_token: str) -> None:
        """Open the personal link and press Start, then read the check-in form's token."""
        csrf = self.form_token(f"/p/{link_token}")
        status, text = self.request("POST", f"/p/{link_token}", {"csrf_token": csrf})
        if status != 302:
            raise RuntimeError(f"signing in with a personal link: {status} {text[:300]}")
        self.csrf_token = self.form_token("/checkin")

    def check_in(self, answers: dict[str, str]) -> bool:
        """Post the check-in form; whether it was saved (the redirect to its answer page)."""
        status, _ = self.request("POST", "/checkin", {"csrf_token": self.csrf_token, **answers})
        return status == 302

    def bare_insert(self) -> bool:
        """Post to the bare one-insert endpoint; whether it answered 204."""
        status, _ = self.request("POST", BARE_INSERT_PATH)
        return status == 204


@dataclass
class Load:
    """What a set of client threads saw: every request's latency, and how many failed."""

    name: str
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    failures: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, started: float, ok: bool) -> None:
        """One request that began at `started` (perf_counter) and has just ended."""
        latency = time.perf_counter() - started
        with self.lock:
            self.latencies.append(latency)
            self.failures += not ok

    @property
    def requests(self) -> int:
        return len(self.latencies)

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile_ms(self, percent: int) -> float:
        """The latency below which `percent`% of requests finished, in milliseconds."""
        if len(self.latencies) < 2:
            return 1000 * (self.latencies[0] if self.latencies else 0.0)
        return 1000 * statistics.quantiles(self.latencies, n=100, method="inclusive")[percent - 1]

    @property
    def longest_ms(self) -> float:
        return 1000 * max(self.latencies, default=0.0)


def _keep_posting(send: Callable[[], bool], load: Load, until: Callable[[], bool], pause: float):
    """Post with `send` until `until()` says stop; an exception counts as a failure."""
    while not until():
        started = time.perf_counter()
        try:
            ok = send()
        except (OSError, http.client.HTTPException):
            ok = False
        load.record(started, ok)
        if pause:
            time.sleep(pause)


def run_load(name: str, senders: list[Callable[[], bool]], seconds: float) -> Load:
    """One thread per sender, all starting together, posting for `seconds`."""
    load = Load(name)
    start = threading.Barrier(len(senders) + 1)
    deadline = 0.0

    def client(send: Callable[[], bool]) -> None:
        start.wait()
        _keep_posting(send, load, lambda: time.perf_counter() >= deadline, pause=0)

    threads = [threading.Thread(target=client, args=(send,), daemon=True) for send in senders]
    for thread in threads:
        thread.start()
    deadline = time.perf_counter() + seconds
    began = time.perf_counter()
    start.wait()
    for thread in threads:
        thread.join(timeout=seconds + REQUEST_TIMEOUT_SECONDS + 5)
    load.seconds = time.perf_counter() - began
    return load


@contextlib.contextmanager
def posting_meanwhile(name: str, senders: list[Callable[[], bool]], pause: float) -> Iterator[Load]:
    """Threads posting (with `pause` between posts) until the block ends: lock-wait probes."""
    load = Load(name)
    done = threading.Event()
    threads = [
        threading.Thread(target=_keep_posting, args=(send, load, done.is_set, pause), daemon=True)
        for send in senders
    ]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    try:
        yield load
    finally:
        done.set()
        for thread in threads:
            thread.join(timeout=REQUEST_TIMEOUT_SECONDS + 5)
        load.seconds = time.perf_counter() - began
