"""Numbers and times from outside that no column can hold: a clear 4xx or form error, never a 500.

A page number of 20 digits overflows SQLite's and PostgreSQL's integers; a year-1 or year-9999
time overflows when moved between timezones; a forged cursor names a place that cannot exist.
Each is refused before it reaches the database, on both engines.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.api_helpers import assert_error
from tests.cases import flagged_case
from tests.conftest import TREATED_AT
from tracker.extensions import db

NOW = TREATED_AT + timedelta(days=2)
BEYOND_64_BITS = "99999999999999999999"
BEYOND_INT4 = str(2**31)


@pytest.fixture
def case(app, admin, make_patient, time_machine):
    return flagged_case(app, admin, make_patient, time_machine)


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


# --- page numbers and ids ----------------------------------------------------------------------

PAGED_LISTS = ["/clinic/flags", "/clinic/patients", "/clinic/audit", "/clinic/messages"]


@pytest.mark.parametrize("url", PAGED_LISTS)
@pytest.mark.parametrize("number", [BEYOND_64_BITS, BEYOND_INT4], ids=["64-bit", "int4"])
def test_a_page_number_past_any_possible_page_is_not_found(case, url, number):
    assert case["staff"].get(f"{url}?page={number}").status_code == 404


@pytest.mark.parametrize("url", PAGED_LISTS)
@pytest.mark.parametrize("number", ["2147483647", "0", "-5", "two"])
def test_any_other_page_number_shows_a_page(case, url, number):
    assert case["staff"].get(f"{url}?page={number}").status_code == 200


@pytest.mark.parametrize("number", [BEYOND_64_BITS, BEYOND_INT4])
def test_a_patient_id_past_any_possible_id_is_a_filter_error_on_the_audit_log(case, number):
    page = case["staff"].get(f"/clinic/audit?patient={number}")
    assert page.status_code == 422
    assert "No patient of this clinic has that ID." in page.text


@pytest.mark.parametrize(
    "query",
    [f"limit={BEYOND_64_BITS}", f"treatment_id={BEYOND_64_BITS}", f"treatment_id={BEYOND_INT4}"],
)
def test_api_list_parameters_past_any_possible_value_are_422(case, query):
    assert_error(case["api"].get(f"/api/v1/flags?{query}"), 422, "invalid_fields")


def test_an_api_page_limit_past_64_bits_is_422(case):
    url = f"/api/v1/patients/{case['patient'].id}/checkins?limit={BEYOND_64_BITS}"
    assert_error(case["api"].get(url), 422, "invalid_fields")


@pytest.mark.parametrize("url", ["/clinic/flags/{n}", "/clinic/patients/{n}", "/api/v1/flags/{n}"])
def test_an_id_past_any_possible_id_in_a_url_is_not_found(case, url):
    client = case["api"] if url.startswith("/api/") else case["staff"]
    for number in (BEYOND_64_BITS, BEYOND_INT4):
        assert client.get(url.format(n=number)).status_code in (404, 405)
