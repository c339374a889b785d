"""The batch watch's rules: when the treatments of one product batch make a signal.

Pure functions over plain data (no Flask, no SQLAlchemy), every threshold from
`catalogue.BatchWatchPolicy`:

- `spread_cluster`: different patients of one batch, treated close together, each reporting a
  sign that the toxin may have spread (a possible bad batch: alert at once);
- `excess`: a batch whose rate of serious cases is well above the product's other batches at
  the clinic (one-sided exact binomial test; for the morning digest);
- `signal_change`: what the watch does with what a rule found, given the signals already
  stored, so that re-running it raises nothing twice and a closed signal stays closed;
  `needs_notice` the same for the notices other clinics get.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from .catalogue import DEFAULT_BATCH_WATCH, BatchWatchPolicy
from .rules import Reason

SERIOUS_REASONS = frozenset({Reason.URGENT.value, Reason.SEVERE.value})
"""A treatment is a serious case when it has at least one flag with one of these reasons, in any
status (resolved ones too: the reaction happened). The one measure of "serious" for the excess
rule and the Batches page's serious rate."""


def is_serious(reasons: Iterable[str]) -> bool:
    """Whether a treatment with flags of these reasons is a serious case (`SERIOUS_REASONS`)."""
    return any(reason in SERIOUS_REASONS for reason in reasons)


# --- spread -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchTreatment:
    """One treatment from the batch, as the spread rule sees it."""

    treatment_id: int
    patient_id: int
    treated_at: datetime
    spread_sign: bool
    """Its patient reported a spread sign (severity >= 1 of a catalogue entry marked as one)
    within its follow-up."""


def spread_cluster(
    treatments: Iterable[BatchTreatment], policy: BatchWatchPolicy = DEFAULT_BATCH_WATCH
) -> frozenset[int]:
    """The treatments with a spread sign that make a spread signal, or none (empty).

    A signal needs at least `policy.spread_min_patients` different patients with a spread
    sign whose treatments from the batch were given within `policy.spread_within` of each other
    (inclusive). Every treatment of every such group counts (the whole cluster); a spread-sign
    treatment too far from any other patient's is left out. One patient treated twice is one
    patient.
    """
    signs = sorted((t for t in treatments if t.spread_sign), key=lambda t: t.treated_at)
    cluster: set[int] = set()
    for start, first in enumerate(signs):
        window = [
            t for t in signs[start:] if t.treated_at - first.treated_at <= policy.spread_within
        ]
        if len({t.patient_id for t in window}) >= policy.spread_min_patients:
            cluster.update(t.treatment_id for t in window)
    return frozenset(cluster)


# --- excess -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchFigures:
    """A batch's counts in the lookback: treatments, serious cases, and their patients."""

    treatments: int
    serious: int
    serious_patients: int


@dataclass(frozen=True)
class ExcessTest:
    """What the excess rule counted and found (kept as the signal's figures)."""

    treatments: int
    serious: int
    patients: int
    other_treatments: int
    other_serious: int
    rate: float
    other_rate: float
    expected_rate: float
    """The others' rate the test compares with (see `expected_rate`)."""
    p_value: float | None
    """None: no test (the product has no other batch at the clinic)."""
    is_signal: bool

    def figures(self) -> dict:
        """As stored in `BatchSignal.figures` (JSON)."""
        return {
            "patients": self.patients,
            "treatments": self.treatments,
            "serious": self.serious,
            "rate": round(self.rate, 4),
            "other_treatments": self.other_treatments,
            "other_serious": self.other_serious,
            "other_rate": round(self.other_rate, 4),
            "expected_rate": round(self.expected_rate, 4),
            "p_value": self.p_value,
        }


def expected_rate(other_serious: int, other_treatments: int) -> float:
    """The serious rate the batch is compared with: (k0 + 0.5) / (n0 + 1) from the product's
    other batches, the mean of the Jeffreys posterior of their rate.

    Never 0 (nor 1): with the plain k0 / n0, others with no serious case would make any serious
    case at the batch infinitely unlikely (p = 0), so three serious cases among thirty treated
    would be "in excess" of three others' treatments without one. The half case is what those
    few clean treatments can vouch for; with many it is negligible (0.5 in 1,000 treatments).
    """
    return (other_serious + 0.5) / (other_treatments + 1)


def binomial_upper_tail(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p), exactly, summed in log space (stable for large n)."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    if p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 1.0
    log_p, log_q = math.log(p), math.log1p(-p)
    log_n = math.lgamma(n + 1)
    terms = [
        log_n - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * log_p + (n - i) * log_q
        for i in range(k, n + 1)
    ]
    top = max(terms)
    return min(1.0, math.exp(top) * math.fsum(math.exp(t - top) for t in terms))


def excess(
    batch: BatchFigures,
    other_treatments: int,
    other_serious: int,
    policy: BatchWatchPolicy = DEFAULT_BATCH_WATCH,
) -> ExcessTest:
    """Whether a batch has more serious cases than the product's other batches at the clinic.

    The statistic: a one-sided exact binomial test. Under "this batch is like the others", its
    serious cases X among its n treatments follow Binomial(n, p0), p0 = `expected_rate` of the
    others pooled; the p-value is P(X >= k), k the batch's serious cases. A signal when the
    batch has at least `policy.excess_min_patients` patients with serious cases and
    p < `policy.excess_p_value`. Exact, because the counts are small (a Poisson or normal
    approximation is poor at a handful of cases); one-sided, because only a worse batch is a
    concern. With no other batch of the product at the clinic there is nothing to compare with:
    no test, no signal.
    """
    rate = batch.serious / batch.treatments if batch.treatments else 0.0
    other_rate = other_serious / other_treatments if other_treatments else 0.0
    p0 = expected_rate(other_serious, other_treatments) if other_treatments else 0.0
    p_value = None
    if other_treatments:
        p_value = binomial_upper_tail(batch.serious, batch.treatments, p0)
    return ExcessTest(
        treatments=batch.treatments,
        serious=batch.serious,
        patients=batch.serious_patients,
        other_treatments=other_treatments,
        other_serious=other_serious,
        rate=rate,
        other_rate=other_rate,
        expected_rate=p0,
        p_value=p_value,
        is_signal=(
            p_value is not None
            and batch.serious_patients >= policy.excess_min_patients
            and p_value < policy.excess_p_value
        ),
    )


# --- idempotence --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignalChange:
    """What to store for one clinic, kind and batch: open a new signal with `treatment_ids`,
    add `treatment_ids` to the open one, or nothing (`is_nothing`)."""

    opens: bool
    treatment_ids: frozenset[int]

    @property
    def is_nothing(self) -> bool:
        return not self.treatment_ids


NOTHING = SignalChange(False, frozenset())


def signal_change(
    qualifying: Collection[int],
    open_ids: Collection[int] | None,
    closed_ids: Collection[int],
) -> SignalChange:
    """What the watch stores for the cases a rule found (`qualifying`, empty: no signal).

    `open_ids`: the open signal's cases (None: no signal is open); `closed_ids`: every case of
    the closed signals of the same clinic, kind and batch. With a signal open, new cases join it
    (no second alert); with none, a new one opens only if some case is not in a closed signal:
    an admin who closed a signal is not asked again about the same cases, but is about a new one.
    """
    found = frozenset(qualifying)
    if open_ids is not None:
        new = found - frozenset(open_ids)
        return SignalChange(False, new) if new else NOTHING
    if found - frozenset(closed_ids):
        return SignalChange(True, found)
    return NOTHING


def needs_notice(told_sources: Collection[int], source_id: int) -> bool:
    """Whether another clinic that used the batch is told of the signal `source_id`: once per
    source signal, whether its notice of it is still open or closed (a closed notice is not
    reopened by the same signal). A clinic with an open notice of the batch from another source
    is told too: that notice then carries the newer source (one open notice per clinic and
    batch), and `told_sources` are every source any of its notices of the batch told of."""
    return source_id not in told_sources


def sorted_ids(ids: Iterable[int]) -> Sequence[int]:
    """Treatment ids as stored: sorted, once each."""
    return sorted(set(ids))
