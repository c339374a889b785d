"""The flag rules (tracker/rules.py), as tables: check-ins in, findings out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tracker import rules
from tracker.catalogue import (
    DEFAULT_CATALOGUE,
    DEFAULT_POLICY,
    EXPECTED,
    REVIEW,
    URGENT,
    FlagPolicy,
)
from tracker.rules import (
    ACKNOWLEDGED,
    ALL_REASONS,
    CHECKIN_REASONS,
    OPEN,
    RESOLVED,
    Observation,
    PastFlag,
    Reason,
    Report,
    Span,
    SymptomRule,
    episodes_of,
    evaluate,
    flag_span,
    severity_known_at,
    unflagged,
)

TREATED_AT = datetime(2026, 3, 2, 10, tzinfo=UTC)


def at(hours: float, minutes: float = 0) -> datetime:
    """The moment `hours` (and `minutes`) after the treatment."""
    return TREATED_AT + timedelta(hours=hours, minutes=minutes)


def checkin(hours: float, onset: float | None = None, **severities: int) -> Observation:
    """A check-in `hours` after treatment reporting `code=severity`; no keywords: no symptoms."""
    onset_at = at(onset) if onset is not None else None
    return Observation(
        at(hours), tuple(Report(code, s, onset_at) for code, s in severities.items())
    )


def catalogue(*edits: SymptomRule) -> dict[str, SymptomRule]:
    """The default catalogue as the rules see it, with `edits` replacing entries by code."""
    rules = {s.code: SymptomRule(s.code, s.action, s.expected_hours) for s in DEFAULT_CATALOGUE}
    rules.update({rule.code: rule for rule in edits})
    return rules


def codes_with(action: str) -> list[str]:
    """The default catalogue's codes with `action`."""
    return [s.code for s in DEFAULT_CATALOGUE if s.action == action]


def flags(
    checkins: Sequence[Observation],
    now: datetime,
    reasons: frozenset[Reason] = ALL_REASONS,
    rules: dict[str, SymptomRule] | None = None,
    policy: FlagPolicy = DEFAULT_POLICY,
) -> list[tuple[str, str | None]]:
    """The (reason, symptom) pairs that `evaluate` finds, in a stable order."""
    findings = evaluate(TREATED_AT, checkins, rules or catalogue(), now, reasons, policy)
    return sorted(((f.reason.value, f.code) for f in findings), key=str)


OVERDUE = frozenset({Reason.OVERDUE})
SEVERE = frozenset({Reason.SEVERE})
WORSENING = frozenset({Reason.WORSENING})
NO_RESPONSE = frozenset({Reason.NO_RESPONSE})

BRUISING_DAYS_1_TO_4 = [checkin(24 * day, bruising=2) for day in (1, 2, 3, 4)]


# --- overdue -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("checkins", "now", "expected"),
    [
        pytest.param(
            BRUISING_DAYS_1_TO_4, at(96, 15), [("overdue", "bruising")], id="sweep-after-day-4"
        ),
        pytest.param(BRUISING_DAYS_1_TO_4, at(96), [], id="at-day-4-checkin-exactly-72h"),
        pytest.param(BRUISING_DAYS_1_TO_4[:3], at(72, 15), [], id="days-1-to-3-only"),
        pytest.param([*BRUISING_DAYS_1_TO_4[:3], checkin(96)], at(100), [], id="gone-on-day-4"),
        pytest.param(
            [*BRUISING_DAYS_1_TO_4, checkin(120)], at(121), [], id="gone-on-day-5-after-lasting-96h"
        ),
    ],
)
def test_bruising_still_present_after_four_days_is_flagged_overdue(checkins, now, expected):
    assert flags(checkins, now) == expected


def test_overdue_finding_is_keyed_by_episode_start_and_observed_when_duration_ran_out():
    (finding,) = evaluate(TREATED_AT, BRUISING_DAYS_1_TO_4, catalogue(), at(100))
    assert (finding.reason, finding.code) == (Reason.OVERDUE, "bruising")
    assert finding.episode_started_at == at(24)
    assert finding.observed_at == at(24 + 72)


@pytest.mark.parametrize(
    ("at_60h", "now", "expected"),
    [
        pytest.param(0, at(61), [], id="gone-at-60h"),
        pytest.param(0, at(200), [], id="gone-at-60h-judged-days-later"),
        pytest.param(1, at(60), [], id="present-at-60h-judged-then-exactly-48h"),
        pytest.param(1, at(60, 15), [("overdue", "headache")], id="present-at-60h-judged-later"),
    ],
)
def test_headache_is_overdue_only_while_still_present_after_48_hours(at_60h, now, expected):
    history = [checkin(12, headache=2), checkin(36, headache=1), checkin(60, headache=at_60h)]
    assert flags(history, now) == expected


@pytest.mark.parametrize(
    ("code", "minutes_after_expected", "is_overdue"),
    [
        pytest.param(
            s.code, minutes, minutes > 0, id=f"{s.code}-{s.expected_hours}h{minutes:+d}min"
        )
        for s in DEFAULT_CATALOGUE
        if s.action == EXPECTED
        for minutes in (-1, 0, 1)
    ],
)
def test_symptom_is_overdue_only_strictly_after_its_expected_duration(
    code, minutes_after_expected, is_overdue
):
    expected_hours = catalogue()[code].expected_hours
    now = at(24 + expected_hours, minutes_after_expected)
    expected = [("overdue", code)] if is_overdue else []
    assert flags([checkin(24, **{code: 1})], now, OVERDUE) == expected


@pytest.mark.parametrize("code", codes_with(REVIEW) + codes_with(URGENT))
def test_review_and_urgent_symptoms_are_never_overdue(code):
    assert flags([checkin(24, **{code: 1})], at(24 * 27), OVERDUE) == []


# --- review and urgent ---------------------------------------------------------------------------


@pytest.mark.parametrize("severity", [1, 2, 3, 4], ids=lambda s: f"severity-{s}")
def test_eyelid_drooping_at_any_severity_is_flagged_for_review_on_first_report(severity):
    history = [checkin(24 * 5, eyelid_drooping=severity)]
    findings = evaluate(TREATED_AT, history, catalogue(), at(24 * 5), CHECKIN_REASONS)
    (review,) = [f for f in findings if f.reason is Reason.REVIEW]
    assert (review.code, review.observed_at) == ("eyelid_drooping", at(24 * 5))


@pytest.mark.parametrize(
    ("code", "reason"),
    [pytest.param(code, "review", id=code) for code in codes_with(REVIEW)]
    + [pytest.param(code, "urgent", id=code) for code in codes_with(URGENT)],
)
def test_review_and_urgent_symptoms_are_flagged_as_soon_as_reported(code, reason):
    assert flags([checkin(3, **{code: 1})], at(3), CHECKIN_REASONS) == [(reason, code)]


def test_difficulty_swallowing_is_urgent_as_soon_as_reported():
    history = [checkin(24 * 10, difficulty_swallowing=2)]
    assert flags(history, at(24 * 10), CHECKIN_REASONS) == [("urgent", "difficulty_swallowing")]


@pytest.mark.parametrize("code", codes_with(EXPECTED))
def test_expected_symptoms_are_not_flagged_on_first_report(code):
    assert flags([checkin(3, **{code: 2})], at(3)) == []


def test_eyelid_drooping_over_several_checkins_is_one_review_for_one_episode():
    history = [checkin(24 * day, eyelid_drooping=1) for day in (4, 5, 6)]
    findings = evaluate(TREATED_AT, history, catalogue(), at(24 * 6))
    assert [(f.reason, f.episode_started_at) for f in findings] == [(Reason.REVIEW, at(96))]


# --- severe --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("severities", "now", "observed_at"),
    [
        pytest.param({6: 4}, at(6), at(6), id="very-severe-at-once"),
        pytest.param({30: 2, 40: 4, 50: 1}, at(50), at(40), id="very-severe-once-then-better"),
        pytest.param({30: 3}, at(54), None, id="severe-exactly-24h"),
        pytest.param({30: 3}, at(54, 1), at(54), id="severe-24h-and-1-minute"),
        pytest.param({30: 3, 50: 3, 60: 3}, at(60), at(54), id="severe-reported-3-times-over-30h"),
        pytest.param({30: 3, 50: 2}, at(80), None, id="severe-drops-to-2-before-24h"),
        pytest.param({30: 3, 54: 2}, at(80), None, id="severe-drops-to-2-at-exactly-24h"),
        pytest.param({30: 3, 60: 2}, at(80), at(54), id="severe-drops-to-2-after-30h"),
        pytest.param({30: 3, 50: 0}, at(80), None, id="severe-gone-before-24h"),
        pytest.param({30: 3, 60: 0}, at(80), at(54), id="severe-gone-after-30h"),
        pytest.param({30: 3, 50: 2, 60: 3}, at(80), None, id="severe-twice-each-under-24h"),
        pytest.param({30: 3, 40: 4}, at(40), at(40), id="severe-then-very-severe"),
        pytest.param({30: 2, 50: 2}, at(200), None, id="moderate-for-days"),
    ],
)
def test_severe_is_severity_4_or_severity_3_for_more_than_24_hours(severities, now, observed_at):
    history = [checkin(hours, headache=severity) for hours, severity in severities.items()]
    findings = evaluate(TREATED_AT, history, catalogue(), now, SEVERE)
    assert [f.observed_at for f in findings] == ([observed_at] if observed_at else [])


# --- worsening -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("severities", "observed_at"),
    [
        pytest.param({30: 1, 54: 2}, at(54), id="rises-on-day-2"),
        pytest.param({2: 1, 20: 3}, None, id="rises-within-first-24h"),
        pytest.param({10: 1, 24: 2}, None, id="rises-at-exactly-24h"),
        pytest.param({2: 1, 25: 2}, at(25), id="rises-just-after-24h"),
        pytest.param({30: 2, 40: 1, 50: 2}, at(50), id="better-then-worse-again"),
        pytest.param({30: 2, 54: 2}, None, id="unchanged"),
        pytest.param({30: 3, 54: 1}, None, id="improving"),
        pytest.param({30: 3}, None, id="first-report-is-onset"),
        pytest.param({30: 1, 40: 0, 54: 3}, None, id="new-episode-is-onset"),
        pytest.param({30: 1, 40: 0, 54: 1, 78: 2}, at(78), id="rises-within-second-episode"),
    ],
)
def test_worsening_is_a_rise_within_an_episode_more_than_24_hours_after_treatment(
    severities, observed_at
):
    history = [checkin(hours, swelling=severity) for hours, severity in severities.items()]
    findings = evaluate(TREATED_AT, history, catalogue(), at(100), WORSENING)
    assert [f.observed_at for f in findings] == ([observed_at] if observed_at else [])


# --- no response ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("checkins", "now", "silence_started_at"),
    [
        pytest.param([], at(47, 59), None, id="no-checkin-47h59m"),
        pytest.param([], at(48), TREATED_AT, id="no-checkin-48h"),
        pytest.param([checkin(30)], at(48), None, id="checkin-resets-silence"),
        pytest.param([checkin(30)], at(77, 59), None, id="47h59m-since-checkin"),
        pytest.param([checkin(30)], at(78), at(30), id="48h-since-checkin"),
        pytest.param([checkin(30, bruising=1)], at(78), at(30), id="48h-since-symptom-checkin"),
        pytest.param([checkin(24), checkin(100)], at(148), at(100), id="silence-from-last-checkin"),
        pytest.param([checkin(110)], at(24 * 7 - 1), at(110), id="silence-on-day-7"),
        pytest.param([], at(24 * 7, 1), TREATED_AT, id="day-7-after-168h"),
        pytest.param([], at(24 * 8 - 10), None, id="day-8-from-midnight"),
        pytest.param([checkin(24)], at(24 * 10), None, id="day-10"),
    ],
)
def test_no_checkin_for_48_hours_in_the_first_week_is_no_response(
    checkins, now, silence_started_at
):
    findings = evaluate(TREATED_AT, checkins, catalogue(), now, NO_RESPONSE)
    assert [f.episode_started_at for f in findings] == (
        [silence_started_at] if silence_started_at else []
    )


def local(tz: str, day: int, hour: int, minute: int = 0) -> datetime:
    """A wall-clock time on `day` March 2026 in `tz` (London is on UTC, Sydney on UTC+11)."""
    return datetime(2026, 3, day, hour, minute, tzinfo=ZoneInfo(tz))


@pytest.mark.parametrize(
    ("tz", "treated_at", "now", "flagged"),
    [
        pytest.param(
            "Europe/London", (2, 23, 30), (9, 23, 0), True, id="london-late-treatment-day-7-23h00"
        ),
        pytest.param(
            "Europe/London", (2, 23, 30), (9, 23, 50), True, id="london-day-7-23h50-past-168h"
        ),
        pytest.param("Europe/London", (2, 23, 30), (10, 0, 30), False, id="london-day-8-00h30"),
        pytest.param(
            "Europe/London", (2, 0, 30), (10, 0, 10), False, id="london-day-8-before-168h"
        ),
        pytest.param(
            "Australia/Sydney", (2, 23, 30), (9, 23, 50), True, id="sydney-day-7-23h50-past-168h"
        ),
        pytest.param(
            "Australia/Sydney", (2, 0, 30), (10, 0, 10), False, id="sydney-day-8-before-168h"
        ),
        pytest.param("Australia/Sydney", (2, 9, 0), (9, 21, 0), True, id="sydney-day-7-utc-day-8"),
        pytest.param("Australia/Sydney", (2, 9, 0), (10, 0, 5), False, id="sydney-day-8-utc-day-8"),
    ],
)
def test_no_response_is_raised_on_local_days_0_to_7_of_the_treatment(tz, treated_at, now, flagged):
    treated = local(tz, *treated_at)
    findings = evaluate(treated, [], catalogue(), local(tz, *now), NO_RESPONSE, tz_name=tz)
    assert [f.reason for f in findings] == ([Reason.NO_RESPONSE] if flagged else [])


@pytest.mark.parametrize(("day", "flagged"), [(3, True), (4, False)])
def test_the_no_response_window_comes_from_the_policy(day, flagged):
    policy = replace(DEFAULT_POLICY, no_response_window_days=3)
    tz = "Europe/London"
    now = local(tz, 2 + day, 23, 0)
    findings = evaluate(local(tz, 2, 9), [], catalogue(), now, NO_RESPONSE, policy, tz_name=tz)
    assert bool(findings) == flagged


def test_no_response_has_no_symptom_and_is_keyed_by_the_silence_start():
    (finding,) = evaluate(TREATED_AT, [checkin(30)], catalogue(), at(90))
    assert (finding.reason, finding.code) == (Reason.NO_RESPONSE, None)
    assert (finding.episode_started_at, finding.observed_at) == (at(30), at(78))


# --- episodes ------------------------------------------------------------------------------------

BRUISING_BACK_A_DAY_LATER = [checkin(24, bruising=2), checkin(48), checkin(72, bruising=2)]


def test_symptom_left_out_of_a_checkin_ends_the_episode_and_its_return_starts_a_new_one():
    first, second = episodes_of("bruising", BRUISING_BACK_A_DAY_LATER)
    assert (first.started_at, first.ended_at, first.is_ongoing) == (at(24), at(48), False)
    assert (second.started_at, second.ended_at, second.is_ongoing) == (at(72), None, True)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        pytest.param(at(100), [], id="76h-after-first-report-but-28h-into-new-episode"),
        pytest.param(at(144), [], id="new-episode-exactly-72h"),
        pytest.param(at(144, 1), [("overdue", "bruising")], id="new-episode-72h-and-1-minute"),
    ],
)
def test_bruising_that_comes_back_is_measured_afresh(now, expected):
    assert flags(BRUISING_BACK_A_DAY_LATER, now, OVERDUE) == expected


def test_review_symptom_that_comes_back_is_a_new_review_with_its_own_episode_start():
    history = [checkin(96, dry_eye=1), checkin(120), checkin(144, dry_eye=1)]
    findings = evaluate(TREATED_AT, history, catalogue(), at(144), CHECKIN_REASONS)
    assert [f.episode_started_at for f in findings] == [at(96), at(144)]


@pytest.mark.parametrize(
    ("checkins", "started_at"),
    [
        pytest.param([checkin(48, bruising=2)], at(48), id="no-onset"),
        pytest.param([checkin(48, onset=20, bruising=2)], at(20), id="onset-earlier"),
        pytest.param([checkin(48, onset=50, bruising=2)], at(48), id="onset-after-report"),
        pytest.param(
            [checkin(48, bruising=2), checkin(72, onset=10, bruising=2)],
            at(48),
            id="onset-on-a-later-report-of-the-episode",
        ),
        pytest.param(
            [checkin(24, bruising=1), checkin(36), checkin(48, onset=10, bruising=2)],
            at(36),
            id="onset-clipped-to-end-of-previous-episode",
        ),
    ],
)
def test_onset_earlier_than_the_first_report_starts_the_episode_earlier(checkins, started_at):
    assert episodes_of("bruising", checkins)[-1].started_at == started_at


@pytest.mark.parametrize(
    ("onset", "now", "expected"),
    [
        pytest.param(None, at(93), [], id="no-onset-45h-after-report"),
        pytest.param(20, at(92), [], id="onset-exactly-72h-before"),
        pytest.param(20, at(93), [("overdue", "bruising")], id="onset-73h-before"),
    ],
)
def test_earlier_onset_makes_bruising_overdue_sooner(onset, now, expected):
    history = [checkin(48, onset=onset, bruising=2), checkin(92, bruising=2)]
    assert flags(history, now, OVERDUE) == expected


# --- what a check-in raises, and as of when ------------------------------------------------------

OVERDUE_AND_SILENT = [checkin(24, bruising=2)]  # at(150): bruising for 126 h, silent for 126 h


@pytest.mark.parametrize(
    ("checkins", "now", "reasons", "expected"),
    [
        pytest.param(
            OVERDUE_AND_SILENT,
            at(150),
            ALL_REASONS,
            [("no_response", None), ("overdue", "bruising")],
            id="sweep",
        ),
        pytest.param(OVERDUE_AND_SILENT, at(150), CHECKIN_REASONS, [], id="checkin"),
        pytest.param(
            [checkin(24, headache=3), checkin(60, headache=4)],
            at(150),
            CHECKIN_REASONS,
            [("severe", "headache"), ("worsening", "headache")],
            id="checkin-severe-worsening",
        ),
    ],
)
def test_checkin_reasons_never_include_overdue_or_no_response(checkins, now, reasons, expected):
    assert flags(checkins, now, reasons) == expected


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        pytest.param(at(49), [("no_response", None)], id="before-the-checkin"),
        pytest.param(at(50), [("urgent", "difficulty_swallowing")], id="as-of-the-checkin"),
    ],
)
def test_checkins_after_now_are_ignored(now, expected):
    assert flags([checkin(50, difficulty_swallowing=1)], now) == expected


def test_symptom_not_in_the_catalogue_is_ignored():
    rules = catalogue()
    del rules["difficulty_swallowing"]
    assert flags([checkin(5, difficulty_swallowing=4)], at(5), rules=rules) == []


# --- the numbers come from the catalogue and the policy ------------------------------------------


def test_catalogue_helper_matches_the_product_defaults():
    rules = catalogue()
    assert (rules["bruising"].expected_hours, rules["headache"].expected_hours) == (72, 48)
    assert rules["eyelid_drooping"].action == REVIEW
    assert rules["difficulty_swallowing"].action == URGENT


@pytest.mark.parametrize(
    ("bruising_hours", "expected"),
    [
        pytest.param(72, [("overdue", "bruising")], id="default-72h"),
        pytest.param(76, [], id="edited-to-76h"),
        pytest.param(75.9, [("overdue", "bruising")], id="edited-to-75.9h"),
        pytest.param(120, [], id="edited-to-120h"),
    ],
)
def test_bruising_expected_duration_comes_from_the_catalogue(bruising_hours, expected):
    rules = catalogue(SymptomRule("bruising", EXPECTED, bruising_hours))
    history = [checkin(24, bruising=2), checkin(48, bruising=2), checkin(100, bruising=2)]
    assert flags(history, at(100), rules=rules) == expected


@pytest.mark.parametrize(
    ("edit", "code", "now", "expected"),
    [
        pytest.param(
            SymptomRule("headache", REVIEW),
            "headache",
            at(3),
            [("review", "headache")],
            id="headache-made-review",
        ),
        pytest.param(
            SymptomRule("eyelid_drooping", EXPECTED, 72),
            "eyelid_drooping",
            at(3),
            [],
            id="eyelid-drooping-made-expected-not-reviewed",
        ),
        pytest.param(
            SymptomRule("eyelid_drooping", EXPECTED, 72),
            "eyelid_drooping",
            at(75, 1),
            [("overdue", "eyelid_drooping")],
            id="eyelid-drooping-made-expected-overdue",
        ),
        pytest.param(
            SymptomRule("dry_eye", URGENT),
            "dry_eye",
            at(3),
            [("urgent", "dry_eye")],
            id="dry-eye-made-urgent",
        ),
    ],
)
def test_edited_catalogue_action_drives_the_flag(edit, code, now, expected):
    reasons = ALL_REASONS - NO_RESPONSE
    assert flags([checkin(3, **{code: 1})], now, reasons, rules=catalogue(edit)) == expected


@pytest.mark.parametrize(
    ("policy", "checkins", "now", "expected"),
    [
        pytest.param(DEFAULT_POLICY, [], at(24), [], id="default-silence-24h"),
        pytest.param(
            replace(DEFAULT_POLICY, no_response_hours=24),
            [],
            at(24),
            [("no_response", None)],
            id="no-response-after-24h",
        ),
        pytest.param(
            DEFAULT_POLICY,
            [checkin(24 * 3)],
            at(24 * 5),
            [("no_response", None)],
            id="default-silence-on-day-5",
        ),
        pytest.param(
            replace(DEFAULT_POLICY, no_response_window_days=3),
            [checkin(24 * 3)],
            at(24 * 5),
            [],
            id="window-3-days-silence-on-day-5",
        ),
        pytest.param(
            replace(DEFAULT_POLICY, severe_sustained_hours=12),
            [checkin(30, headache=3)],
            at(42, 1),
            [("severe", "headache")],
            id="severe-after-12h",
        ),
        pytest.param(
            replace(DEFAULT_POLICY, worsening_after_hours=0),
            [checkin(2, headache=1), checkin(6, headache=2)],
            at(6),
            [("worsening", "headache")],
            id="worsening-from-treatment",
        ),
    ],
)
def test_flag_policy_drives_the_thresholds(policy, checkins, now, expected):
    assert flags(checkins, now, policy=policy) == expected


def test_reasons_are_ordered_most_urgent_first_as_in_the_queue():
    assert [r.value for r in sorted(Reason, key=lambda r: r.priority)] == [
        "urgent",
        "review",
        "severe",
        "worsening",
        "overdue",
        "no_response",
    ]


# --- matching findings to the flags already raised -----------------------------------------------


def past(
    reason: str,
    code: str | None,
    started: float,
    observed: float,
    status: str = RESOLVED,
    resolved: float | None = None,
    severity: int | None = None,
) -> PastFlag:
    """A flag raised for the episode starting at `started`, observed at `observed` (hours)."""
    return PastFlag(
        Reason(reason),
        code,
        flag_span(at(started), at(observed)),
        status,
        at(resolved) if resolved is not None else None,
        severity,
    )


def new_flags(
    checkins: Sequence[Observation],
    now: datetime,
    past_flags: Sequence[PastFlag],
    reasons: frozenset[Reason] = ALL_REASONS,
) -> list[tuple[str, str | None, datetime]]:
    """(reason, symptom, observed at) of each new flag `unflagged` leaves, as of `now`."""
    findings = evaluate(TREATED_AT, checkins, catalogue(), now, reasons)
    return [(f.reason.value, f.code, f.observed_at) for f in unflagged(findings, past_flags)]


SWALLOWING_AT_20 = [checkin(20, difficulty_swallowing=2)]
SWALLOWING_AT_20_AND_30 = [*SWALLOWING_AT_20, checkin(30, difficulty_swallowing=2)]
URGENT_AT_20 = ("urgent", "difficulty_swallowing", 20, 20)


@pytest.mark.parametrize(
    ("checkins", "now", "past_flags", "expected"),
    [
        pytest.param(
            SWALLOWING_AT_20_AND_30,
            at(30),
            [past(*URGENT_AT_20, resolved=22)],
            [("urgent", "difficulty_swallowing", at(30))],
            id="resolved-at-22h-reported-again-at-30h",
        ),
        pytest.param(
            SWALLOWING_AT_20_AND_30,
            at(30),
            [past(*URGENT_AT_20, resolved=22), past(*URGENT_AT_20, resolved=25)],
            [("urgent", "difficulty_swallowing", at(30))],
            id="resolved-twice-reported-again-after-the-latest",
        ),
        pytest.param(
            SWALLOWING_AT_20,
            at(30),
            [past(*URGENT_AT_20, resolved=22)],
            [],
            id="not-reported-since",
        ),
        pytest.param(
            SWALLOWING_AT_20_AND_30,
            at(30),
            [past(*URGENT_AT_20, status=OPEN)],
            [],
            id="reported-again-while-open-at-most-one",
        ),
        pytest.param(
            SWALLOWING_AT_20_AND_30,
            at(30),
            [past(*URGENT_AT_20, status=ACKNOWLEDGED)],
            [],
            id="reported-again-while-acknowledged",
        ),
        pytest.param(
            SWALLOWING_AT_20_AND_30,
            at(40),
            [
                past(*URGENT_AT_20, resolved=22),
                past("urgent", "difficulty_swallowing", 20, 30, resolved=35),
            ],
            [],
            id="the-repeat-flag-resolved-too",
        ),
        pytest.param(
            SWALLOWING_AT_20_AND_30,
            at(30),
            [past(*URGENT_AT_20, resolved=32)],
            [],
            id="late-phone-report-from-before-the-resolution",
        ),
        pytest.param(
            [*SWALLOWING_AT_20, checkin(30), checkin(40, difficulty_swallowing=1)],
            at(40),
            [past(*URGENT_AT_20, resolved=22)],
            [("urgent", "difficulty_swallowing", at(40))],
            id="gone-then-back-a-new-episode",
        ),
    ],
)
def test_urgent_reported_again_after_resolution_alerts_the_clinic_again(
    checkins, now, past_flags, expected
):
    assert new_flags(checkins, now, past_flags, CHECKIN_REASONS) == expected


BRUISING_DAYS_1_TO_4_RESOLVED = past("overdue", "bruising", 24, 96, resolved=100)
PHONE_CALL_FROM_DAY_0 = checkin(5, bruising=2)


@pytest.mark.parametrize(
    ("checkins", "now", "past_flags", "expected"),
    [
        pytest.param(
            [PHONE_CALL_FROM_DAY_0, *BRUISING_DAYS_1_TO_4],
            at(120),
            [BRUISING_DAYS_1_TO_4_RESOLVED],
            [],
            id="day-0-call-recorded-on-day-5-after-the-overdue-flag-was-resolved",
        ),
        pytest.param(
            [checkin(24, onset=2, bruising=2), *BRUISING_DAYS_1_TO_4[1:]],
            at(120),
            [BRUISING_DAYS_1_TO_4_RESOLVED],
            [],
            id="onset-given-later-moves-the-start-earlier",
        ),
        pytest.param(
            [PHONE_CALL_FROM_DAY_0, *BRUISING_DAYS_1_TO_4],
            at(120),
            [past("overdue", "bruising", 24, 96, status=OPEN)],
            [],
            id="day-0-call-while-the-flag-is-still-open",
        ),
        pytest.param(
            [PHONE_CALL_FROM_DAY_0, *BRUISING_DAYS_1_TO_4, checkin(110), checkin(130, bruising=1)],
            at(130 + 72, 1),
            [BRUISING_DAYS_1_TO_4_RESOLVED],
            [("overdue", "bruising", at(130 + 72))],
            id="the-bruise-went-and-came-back-a-new-episode",
        ),
        pytest.param(
            [checkin(10, headache=4), checkin(30, headache=4)],
            at(40),
            [past("severe", "headache", 30, 30, resolved=31)],
            [],
            id="headache-call-from-10h-before-a-resolved-severe-flag",
        ),
    ],
)
def test_late_phone_checkin_that_moves_a_bruise_start_does_not_reopen_its_resolved_flag(
    checkins, now, past_flags, expected
):
    assert new_flags(checkins, now, past_flags, ALL_REASONS - NO_RESPONSE) == expected


EYELID_RESOLVED_AT_100 = past("review", "eyelid_drooping", 96, 96, resolved=100, severity=2)


@pytest.mark.parametrize(
    ("later", "past_flags", "expected"),
    [
        pytest.param(
            [checkin(120, eyelid_drooping=2)], [EYELID_RESOLVED_AT_100], [], id="again-the-same"
        ),
        pytest.param(
            [checkin(120, eyelid_drooping=1)], [EYELID_RESOLVED_AT_100], [], id="again-milder"
        ),
        pytest.param(
            [checkin(120, eyelid_drooping=3)],
            [EYELID_RESOLVED_AT_100],
            [("review", "eyelid_drooping", at(120))],
            id="again-worse",
        ),
        pytest.param(
            [checkin(110, eyelid_drooping=1), checkin(120, eyelid_drooping=3)],
            [past("review", "eyelid_drooping", 96, 96, resolved=115, severity=3)],
            [],
            id="was-3-then-1-when-resolved-now-3-no-worse-than-known",
        ),
        pytest.param(
            [checkin(110), checkin(120, eyelid_drooping=1)],
            [EYELID_RESOLVED_AT_100],
            [("review", "eyelid_drooping", at(120))],
            id="gone-then-back-a-new-episode",
        ),
        pytest.param(
            [checkin(120, eyelid_drooping=3)],
            [past("review", "eyelid_drooping", 96, 96, status=OPEN)],
            [],
            id="worse-while-the-flag-is-still-open",
        ),
    ],
)
def test_review_symptom_reported_again_in_the_same_episode_raises_nothing_unless_worse(
    later, past_flags, expected
):
    history = [checkin(96, eyelid_drooping=2), *later]
    reasons = frozenset({Reason.REVIEW})
    assert new_flags(history, later[-1].reported_at, past_flags, reasons) == expected


SILENCE_FROM_0_RESOLVED = past("no_response", None, 0, 48, resolved=50)


@pytest.mark.parametrize(
    ("checkins", "now", "expected"),
    [
        pytest.param([], at(60), [], id="still-silent-after-the-resolution"),
        pytest.param(
            [checkin(20)], at(80), [], id="call-from-20h-recorded-late-the-same-silence-extended"
        ),
        pytest.param(
            [checkin(70)],
            at(70 + 48),
            [("no_response", None, at(70 + 48))],
            id="checked-in-at-70h-then-silent-again-a-new-silence",
        ),
        pytest.param([checkin(70)], at(70 + 47), [], id="checked-in-at-70h-silent-47h"),
    ],
)
def test_resolved_no_response_is_not_reopened_for_the_same_silence_but_a_new_silence_raises_one(
    checkins, now, expected
):
    assert new_flags(checkins, now, [SILENCE_FROM_0_RESOLVED], NO_RESPONSE) == expected


@pytest.mark.parametrize(
    ("checkins", "past_flags", "expected"),
    [
        pytest.param(
            [checkin(30, headache=4), checkin(40, headache=4)],
            [past("severe", "headache", 30, 30, resolved=35)],
            [],
            id="severe-again-in-the-same-headache",
        ),
        pytest.param(
            [checkin(30, swelling=1), checkin(40, swelling=2), checkin(50, swelling=3)],
            [past("worsening", "swelling", 30, 40, resolved=45)],
            [],
            id="worse-again-in-the-same-swelling",
        ),
        pytest.param(
            [checkin(30, headache=4), checkin(40), checkin(50, headache=4)],
            [past("severe", "headache", 30, 30, resolved=35)],
            [("severe", "headache", at(50))],
            id="severe-in-a-new-headache",
        ),
        pytest.param(
            [checkin(30, headache=4), checkin(40), checkin(50, headache=4)],
            [past("severe", "headache", 30, 30, status=OPEN)],
            [],
            id="new-headache-while-the-first-flag-is-open",
        ),
        pytest.param(
            [checkin(30, headache=4), checkin(40), checkin(50, headache=4)],
            [],
            [("severe", "headache", at(30))],
            id="two-headaches-never-flagged-one-flag-the-first",
        ),
        pytest.param(
            [checkin(30, headache=4)],
            [past("severe", "pain", 30, 30, status=OPEN), past("urgent", "headache", 30, 30)],
            [("severe", "headache", at(30))],
            id="open-flags-of-another-symptom-or-reason",
        ),
    ],
)
def test_other_reasons_resolved_for_an_episode_are_not_raised_again_for_it(
    checkins, past_flags, expected
):
    now = checkins[-1].reported_at
    assert new_flags(checkins, now, past_flags, SEVERE | WORSENING) == expected


@pytest.mark.parametrize(
    ("first", "second", "overlap"),
    [
        pytest.param(Span(at(0), at(10)), Span(at(5), at(20)), True, id="crossing"),
        pytest.param(Span(at(0), at(10)), Span(at(10), at(20)), True, id="touching"),
        pytest.param(Span(at(0), at(10)), Span(at(11), at(20)), False, id="apart"),
        pytest.param(Span(at(0), at(10)), Span(at(5), None), True, id="ongoing-from-inside"),
        pytest.param(Span(at(0), at(10)), Span(at(11), None), False, id="ongoing-from-after"),
        pytest.param(
            Span(at(0), None), Span(at(-5), at(0)), True, id="ongoing-and-ending-at-start"
        ),
        pytest.param(Span(at(5), at(5)), Span(at(0), at(10)), True, id="a-moment-inside"),
    ],
)
def test_spans_overlap_when_they_share_a_moment(first, second, overlap):
    assert first.overlaps(second) is overlap
    assert second.overlaps(first) is overlap


def test_an_episode_that_ended_spans_up_to_its_last_report_so_the_next_one_is_apart():
    history = [checkin(24, bruising=1), checkin(36), checkin(48, onset=10, bruising=2)]
    first, second = episodes_of("bruising", history)
    assert first.span == Span(at(24), at(24))
    assert second.span == Span(at(36), None)
    assert not first.span.overlaps(second.span)


@pytest.mark.parametrize(
    ("until", "expected"),
    [
        pytest.param(95, 0, id="before-any-report"),
        pytest.param(96, 2, id="at-the-first-report"),
        pytest.param(115, 3, id="after-the-peak-and-a-better-day"),
    ],
)
def test_severity_known_at_resolution_is_the_highest_reported_until_then(until, expected):
    history = [checkin(96, eyelid_drooping=2), checkin(105, eyelid_drooping=3), checkin(110)]
    assert severity_known_at("eyelid_drooping", history, at(96), at(until)) == expected


# --- when the sweep must next judge a treatment ----------------------------------------------


@pytest.mark.parametrize(
    ("history", "past_flags", "unflagged_codes", "due_when_not_flagging"),
    [
        # mild bruising, flagged by nothing and needing no flag yet: due when time changes that
        ([checkin(1, bruising=1)], [], [], "changes_at"),
        # an urgent symptom no flag covers: due at once unless it is being flagged now
        ([checkin(1, difficulty_swallowing=2)], [], ["difficulty_swallowing"], "at_once"),
        # the same, its flag already open: due only when time changes what the rules find
        (
            [checkin(1, difficulty_swallowing=2)],
            [PastFlag(Reason.URGENT, "difficulty_swallowing", flag_span(at(1), at(1)))],
            [],
            "changes_at",
        ),
    ],
)
def test_the_next_judgement_follows_what_is_unflagged(
    history, past_flags, unflagged_codes, due_when_not_flagging
):
    until = TREATED_AT + timedelta(days=28)
    verdict = rules.verdict(TREATED_AT, history, catalogue(), past_flags, at(2), until)

    assert [f.code for f in verdict.unflagged] == unflagged_codes
    assert at(2) < verdict.changes_at <= until  # a silence is always still to come
    assert verdict.next_due(flagging_now=True) == verdict.changes_at
    expected = TREATED_AT if due_when_not_flagging == "at_once" else verdict.changes_at
    assert verdict.next_due(flagging_now=False) == expected
