"""A production install (requirements.txt) holds what the app runs on, and no test tooling."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEST_TOOLING = {
    "pytest",
    "ruff",
    "hypothesis",
    "time-machine",
    "schemathesis",
    "playwright",
    "fhir.resources",
    "aiosmtpd",
}


def pinned(path: Path) -> dict[str, str]:
    """`name: version` of every exact pin in a requirements file (lower-cased names)."""
    pins = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]+\])?==(\S+)", line.strip())
        if match:
            pins[match.group(1).lower()] = match.group(2)
    return pins


def test_production_requirements_hold_no_test_tooling():
    assert not TEST_TOOLING & set(pinned(ROOT / "requirements.txt"))


def test_dev_requirements_add_the_tooling_on_top_of_production():
    dev = ROOT / "requirements-dev.txt"
    assert "-r requirements.txt" in dev.read_text().splitlines()
    assert set(pinned(dev)) >= TEST_TOOLING
    assert not set(pinned(dev)) & set(pinned(ROOT / "requirements.txt"))
