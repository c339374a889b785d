"""`make bench` still runs end to end: a tiny run prints every row of its table, and no request
posted during it failed. No time is asserted (the bench prints ratios; this only runs it).

It starts a real gunicorn on 127.0.0.1 (stopped at the end) on a temporary SQLite file.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tracker import bench
from tracker.bench_app import build
from tracker.bench_http import BENCH_APP, ROOT

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("gunicorn") is None,
    reason="gunicorn is not installed: the bench serves check-ins through it",
)

TINY = [
    "--treatments", "120",
    "--repeat", "1",
    "--open-flags", "60",
    "--workers", "2",
    "--clients", "2",
    "--probes", "1",
    "--http-seconds", "0.5",
]  # fmt: skip


def test_a_tiny_bench_prints_every_row_and_no_request_fails(capsys):
    results = bench.main(TINY)

    printed = capsys.readouterr().out
    jobs = [
        "rebuild-state (once, at the upgrade)",
        "sweep, first run (the catch-up)",
        "sweep, next run",
        "reminder run",
        "reminder run, next",
        "case queue, one page (60 open flags)",
        "check-ins through the form (2 clients)",
    ]
    assert [row.job for row in results.rows] == jobs
    for job in jobs:
        assert f"| {job} |" in printed
    assert "FAILED" not in printed
    assert all(row.ours > 0 and row.baseline > 0 for row in results.rows)
    assert [load.name for load in results.loads] == [
        "patient check-in form (POST /checkin)",
        "bare one-insert endpoint",
    ]
    assert all(load.requests > 0 for load in results.loads)
    assert results.failed_requests == 0
    assert "left in place" not in printed  # a temporary database, removed


def test_the_bench_app_refuses_to_start_without_its_variable():
    with pytest.raises(SystemExit, match="TRACKER_BENCH=1"):
        build({"TRACKER_BENCH": ""})


def bench_servers() -> set[int]:
    """The pids of the bench's gunicorn processes running now."""
    running = set()
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if entry.name.isdigit() and BENCH_APP.encode() in (entry / "cmdline").read_bytes():
                running.add(int(entry.name))
    return running


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="lists processes through /proc")
def test_a_bench_stopped_by_sigterm_stops_its_gunicorn(tmp_path):
    before = bench_servers()
    args = [sys.executable, "-m", "tracker.bench", *TINY, "--http-seconds", "30"]
    process = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
        args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        for line in process.stdout:  # a job's line: gunicorn is serving by then
            if line.startswith("rebuild-state"):
                break
        started = bench_servers() - before
        assert started, "the bench's gunicorn was not found running"
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    deadline = time.monotonic() + 30
    while started & bench_servers() and time.monotonic() < deadline:
        time.sleep(0.2)
    left = started & bench_servers()
    for pid in left:  # not to leave them behind for the rest of the suite
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    assert not left
