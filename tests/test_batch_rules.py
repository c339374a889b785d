"""The batch watch's rules (tracker/batch_rules.py), as tables: no app, no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from fractions import Fraction
from math import comb

import pytest

from tracker.batch_rules import (
    BatchFigures,
    BatchTreatment,
    binomial_upper_tail,
    excess,
    expected_rate,
    is_serious,
    needs_notice,
    signal_change,
    spread_cluster,
)
from tracker.catalogue import DEFAULT_BATCH_WATCH, BatchWatchPolicy

DAY0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def t(treatment_id: int, patient_id: int, day: float, sign: bool = True) -> BatchTreatment:
    return BatchTreatment(treatment_id, patient_id, DAY0 + timedelta(days=day), sign)


# --- spread ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("treatments", "expected"),
    [
        pytest.param([t(1, 1, 0), t(2, 2, 7)], {1, 2}, id="two-patients-a-week-apart"),
        pytest.param([t(1, 1, 0), t(2, 2, 40)], set(), id="the-same-two-40-days-apart"),
        pytest.param([t(1, 1, 0), t(2, 1, 7)], set(), id="one-patient-treated-twice"),
        pytest.param([t(1, 1, 0), t(2, 2, 10), t(3, 3, 60)], {1, 2}, id="three-only-two-close"),
        pytest.param([t(1, 1, 0), t(2, 2, 28)], {1, 2}, id="exactly-28-days-apart"),
        pytest.param([t(1, 1, 0), t(2, 2, 28.01)], set(), id="just-over-28-days"),
        pytest.param([t(1, 1, 0), t(2, 2, 7, sign=False)], set(), id="only-one-has-a-sign"),
        pytest.param([t(1, 1, 0)], set(), id="one-patient"),
        pytest.param([], set(), id="no-treatments"),
        pytest.param(
            [t(1, 1, 0), t(2, 2, 20), t(3, 3, 40)], {1, 2, 3}, id="a-chain-of-close-pairs"
        ),
        pytest.param(
            [t(1, 1, 0), t(2, 2, 20), t(3, 3, 45)], {1, 2, 3}, id="days-0-20-45-one-cluster"
        ),
        pytest.param(
            [t(1, 1, 0), t(2, 1, 5), t(3, 2, 10)], {1, 2, 3}, id="a-patient-twice-and-another"
        ),
    ],
)
def test_spread_needs_different_patients_treated_close_together(treatments, expected):
    assert spread_cluster(treatments) == expected


def test_spread_takes_its_numbers_from_the_policy():
    three = BatchWatchPolicy(spread_min_patients=3, spread_within_days=7)
    assert spread_cluster([t(1, 1, 0), t(2, 2, 7)], three) == set()
    assert spread_cluster([t(1, 1, 0), t(2, 2, 6), t(3, 3, 7)], three) == {1, 2, 3}
    assert spread_cluster([t(1, 1, 0), t(2, 2, 6), t(3, 3, 8)], three) == set()


# --- serious -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reasons", "serious"),
    [
        (["urgent"], True),
        (["severe", "overdue"], True),
        (["review", "worsening", "overdue", "no_response"], False),
        ([], False),
    ],
)
def test_a_serious_case_has_an_urgent_or_severe_flag(reasons, serious):
    assert is_serious(reasons) is serious


# --- the binomial tail ---------------------------------------------------------------------------


def exact_tail(k: int, n: int, p: Fraction) -> float:
    return float(sum(comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k, n + 1)))


@pytest.mark.parametrize(
    ("k", "n", "p", "expected"),
    [
        (3, 10, 0.1, 0.0701908264),  # 1 - (0.9^10 + 10 * 0.1 * 0.9^9 + 45 * 0.01 * 0.9^8)
        (1, 1, 0.5, 0.5),
        (5, 5, 0.5, 0.03125),
        (0, 10, 0.3, 1.0),
        (11, 10, 0.3, 0.0),
        (1, 10, 0.0, 0.0),
        (10, 10, 1.0, 1.0),
    ],
)
def test_the_upper_tail_matches_known_values(k, n, p, expected):
    assert binomial_upper_tail(k, n, p) == pytest.approx(expected, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize(
    ("k", "n", "p"),
    [(60, 1000, Fraction(1, 20)), (30, 3000, Fraction(1, 200)), (900, 2000, Fraction(2, 5))],
)
def test_the_upper_tail_is_exact_for_thousands_of_treatments(k, n, p):
    assert binomial_upper_tail(k, n, float(p)) == pytest.approx(exact_tail(k, n, p), rel=1e-9)


def test_the_expected_rate_is_never_zero():
    assert expected_rate(0, 99) == pytest.approx(0.005)
    assert expected_rate(10, 99) == pytest.approx(0.105)
    assert 0 < expected_rate(0, 1) < 1 and 0 < expected_rate(1, 1) < 1


# --- excess -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("batch", "others", "signal"),
    [
        pytest.param(BatchFigures(20, 5, 5), (200, 4), True, id="5-of-20-against-4-of-200"),
        pytest.param(BatchFigures(20, 2, 2), (200, 0), False, id="two-patients-are-not-enough"),
        pytest.param(BatchFigures(20, 3, 3), (200, 0), True, id="3-of-20-against-none-of-200"),
        pytest.param(BatchFigures(20, 3, 3), (5, 0), False, id="against-a-few-clean-others"),
        pytest.param(BatchFigures(20, 5, 5), (200, 50), False, id="the-others-as-bad"),
        pytest.param(BatchFigures(20, 5, 5), (0, 0), False, id="no-other-batch"),
        pytest.param(BatchFigures(20, 6, 2), (200, 0), False, id="six-cases-of-two-patients"),
    ],
)
def test_excess_needs_patients_and_a_rate_well_above_the_others(batch, others, signal):
    found = excess(batch, *others)
    assert found.is_signal is signal


def test_excess_records_what_it_counted():
    found = excess(BatchFigures(20, 5, 5), 200, 4)
    figures = found.figures()
    assert figures["patients"] == 5 and figures["treatments"] == 20 and figures["serious"] == 5
    assert figures["rate"] == 0.25 and figures["other_rate"] == 0.02
    assert figures["expected_rate"] == round(4.5 / 201, 4)
    assert found.p_value == pytest.approx(binomial_upper_tail(5, 20, 4.5 / 201))
    assert found.p_value < DEFAULT_BATCH_WATCH.excess_p_value


def test_no_other_batch_means_no_test():
    found = excess(BatchFigures(20, 5, 5), 0, 0)
    assert found.p_value is None and not found.is_signal


def test_excess_takes_its_numbers_from_the_policy():
    batch = BatchFigures(20, 3, 3)
    assert excess(batch, 200, 0).is_signal
    assert not excess(batch, 200, 0, BatchWatchPolicy(excess_min_patients=4)).is_signal
    assert not excess(batch, 200, 0, BatchWatchPolicy(excess_p_value=1e-6)).is_signal


# --- idempotence --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("qualifying", "open_ids", "closed_ids", "opens", "ids"),
    [
        pytest.param({1, 2}, None, set(), True, {1, 2}, id="first-time-opens"),
        pytest.param({1, 2}, {1, 2}, set(), False, set(), id="open-already-nothing"),
        pytest.param({1, 2, 3}, {1, 2}, set(), False, {3}, id="open-new-case-joins"),
        pytest.param({1, 2}, None, {1, 2}, False, set(), id="closed-not-reopened-by-same"),
        pytest.param({2, 1}, None, {1, 2, 5}, False, set(), id="closed-covers-more"),
        pytest.param({1, 2, 3}, None, {1, 2}, True, {1, 2, 3}, id="reopened-by-a-new-case"),
        pytest.param(set(), None, set(), False, set(), id="nothing-found"),
        pytest.param(set(), {1, 2}, set(), False, set(), id="nothing-found-open-stays"),
    ],
)
def test_a_signal_opens_once_and_a_closed_one_stays_closed(
    qualifying, open_ids, closed_ids, opens, ids
):
    change = signal_change(qualifying, open_ids, closed_ids)
    assert change.opens is opens
    assert change.treatment_ids == ids
    assert change.is_nothing is (not ids)


@pytest.mark.parametrize(
    ("told", "source", "needed"),
    [
        pytest.param(set(), 7, True, id="first-notice"),
        pytest.param({7}, 7, False, id="told-already-open-or-closed"),
        pytest.param({3}, 7, True, id="another-source-while-one-is-open"),
        pytest.param({3, 7}, 7, False, id="told-of-both"),
    ],
)
def test_a_clinic_hears_of_each_source_signal_once(told, source, needed):
    assert needs_notice(told, source) is needed
