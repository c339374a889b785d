"""`make bench` still runs end to end: a tiny run prints every row of its table, and no request
posted during it failed. No time is asserted (the bench prints ratios; this only runs it).

It starts a real gunicorn on 127.0.0.1 (stopped at the end) on a temporary SQLite file.
"""

from __future__ import annotations

import importlib.util

import pytest

from tracker import bench
from tracker.bench_app import build

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
        "rebuild-state (once)",
        "sweep, first run",
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
