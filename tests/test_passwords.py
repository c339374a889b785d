"""The staff password policy: long enough, not too long, and hard to guess (zxcvbn)."""

from __future__ import annotations

import time

import pytest

from tracker.services.staff.passwords import MAX_PASSWORD_CHARS, password_problem

EMAIL, NAME = "greta@riverside.test", "Greta Gardener"


@pytest.mark.parametrize(
    "password",
    [
        "Password123!",
        "Winter2026",
        "abcdefgh",
        "password1",
        "Password123",
        "qwertyuiop",
        "12345678",
    ],
)
def test_common_or_guessable_passwords_are_refused_with_advice(password):
    problem = password_problem(password, EMAIL, NAME)
    assert problem is not None and problem.startswith("That password is too easy to guess.")


@pytest.mark.parametrize(
    "password",
    [
        "correct horse battery",  # the tests' staff password
        "demo-clinic-2026",  # the demo clinic's
        "plum orchard ninety",
        "riverside-admin-pass",
        "a much longer new phrase",
    ],
)
def test_passphrases_used_in_the_docs_demo_and_tests_are_accepted(password):
    assert password_problem(password, EMAIL, NAME) is None


def test_the_persons_own_name_and_email_count_against_the_password():
    assert password_problem("gardenergreta1") is None  # a stranger's name is a fair password...
    problem = password_problem("gardenergreta1", "gg@riverside.test", NAME)
    assert "too easy to guess" in problem  # ...but not yours


def test_the_email_address_itself_is_refused():
    assert "email address" in password_problem("greta-on-duty-2026", EMAIL, NAME)


@pytest.mark.parametrize(
    ("password", "message"),
    [("a" * 7, "at least 8 characters"), ("a" * (MAX_PASSWORD_CHARS + 1), "at most 128")],
)
def test_length_limits(password, message):
    assert message in password_problem(password, EMAIL, NAME)


def test_the_longest_password_is_scored_quickly():
    started = time.perf_counter()
    words = "plum orchard ninety violet kettle harbour 7 quiet lanterns, 41 copper foxes & a tram. "
    assert password_problem((words * 2)[:MAX_PASSWORD_CHARS], EMAIL, NAME) is None
    assert time.perf_counter() - started < 2  # zxcvbn itself refuses input past 72 characters
