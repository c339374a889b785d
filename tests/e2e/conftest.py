"""Fixtures of the end-to-end suite: the stack and a Chromium, once per run; a fresh browser
context (phone or desktop) per test. Without chromium, nginx, openssl or Playwright every test
here skips, saying which is missing; the rest of the suite runs as usual.

A failing test's report ends with the last lines of every log of the stack (gunicorn, nginx,
the `flask` commands).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e import data
from tests.e2e.harness import CHROMIUM, Stack, missing_tool, running_stack
from tracker.extensions import db

TIMEOUT_MS = 10_000  # any one wait for the page: the pages answer in milliseconds here
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root in a container, where Chromium's sandbox cannot start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 800}}

_running: list[Stack] = []


@pytest.fixture(scope="session")
def e2e_tools() -> None:
    reason = missing_tool()
    if reason:
        pytest.skip(reason)


@pytest.fixture(scope="session")
def stack(e2e_tools, tmp_path_factory) -> Iterator[Stack]:
    """gunicorn behind nginx (TLS) with aiosmtpd, on a fresh database with one clinic."""
    with running_stack(tmp_path_factory.mktemp("e2e")) as running:
        _running.append(running)
        try:
            yield running
        finally:
            _running.remove(running)


@pytest.fixture(scope="session")
def seeding(stack):
    """An app in this process on the stack's database, for each journey's fresh data."""
    app = data.seeding_app(stack)
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(scope="session")
def chromium(e2e_tools):
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, timeout=30_000
        )
        yield browser
        browser.close()


def _page(chromium, device: dict):
    context = chromium.new_context(ignore_https_errors=True, **device)
    context.set_default_timeout(TIMEOUT_MS)
    return context, context.new_page()


@pytest.fixture
def phone(chromium, stack):
    """A page in a fresh phone-sized touch browser (no cookies yet)."""
    context, page = _page(chromium, PHONE)
    yield page
    context.close()


@pytest.fixture
def desktop(chromium, stack):
    """A page in a fresh desktop browser (no cookies yet)."""
    context, page = _page(chromium, DESKTOP)
    yield page
    context.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.failed and _running:
        report.sections.append(("end-to-end stack logs", _running[0].log_tails()))
    return report
