"""The batch pages' cost: the list (page and API) and a batch's page read a fixed number of
statements however many batches, treatments, flags and signals there are."""

from __future__ import annotations

import pytest

from tests.api_helpers import Api, mint_token
from tests.batch_helpers import NOW, batch_url, signal, treated
from tests.conftest import StaffActions
from tests.sql_helpers import executed_statements
from tracker.extensions import db

FEW, MANY = 2, 20


@pytest.fixture(autouse=True)
def frozen_clock(time_machine):
    time_machine.move_to(NOW, tick=False)


def add_batches(clinic, count: int, start: int) -> None:
    """`count` batches, each with two patients (one flagged urgent, one severe) and a signal."""
    for n in range(start, start + count):
        first = treated(clinic, f"Ann {n}", batch=f"B{n}", reasons=("urgent", "review"))
        treated(clinic, f"Bea {n}", batch=f"B{n}", reasons=("severe",))
        signal(clinic, batch=f"B{n}", treatment_ids=[first.id])
    db.session.commit()


def add_treatments(clinic, count: int, start: int) -> None:
    """`count` more patients treated from batch B0, each with an urgent flag."""
    for n in range(start, start + count):
        treated(clinic, f"Cal {n}", batch="B0", reasons=("urgent",))
    db.session.commit()


def statements(client, url: str) -> int:
    with executed_statements() as seen:
        assert client.get(url).status_code == 200
    return len(seen)


@pytest.mark.parametrize("url", ["/clinic/batches", "/api/v1/batches"])
def test_the_batches_list_costs_the_same_for_few_batches_or_many(app, clinic, url):
    client = app.test_client()
    if url.startswith("/api"):
        client = Api(client, mint_token())
    else:
        assert StaffActions(client).sign_in().status_code == 302
    add_batches(clinic, FEW, 0)
    few = statements(client, url)
    add_batches(clinic, MANY, FEW)
    many = statements(client, url)

    assert many == few


@pytest.mark.parametrize("prefix", ["/clinic", "/api/v1"])
def test_a_batch_costs_the_same_for_few_treatments_or_many(app, clinic, prefix):
    client = app.test_client()
    if prefix == "/api/v1":
        client = Api(client, mint_token())
    else:
        assert StaffActions(client).sign_in().status_code == 302
    add_batches(clinic, 1, 0)
    url = batch_url(batch="B0", prefix=prefix)
    few = statements(client, url)
    add_treatments(clinic, MANY, 0)
    many = statements(client, url)

    assert many == few
