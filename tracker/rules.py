"""The flag rules: pure functions that turn a treatment's check-ins into findings.

Plain data in, plain data out, `now` always passed in: no Flask, no SQLAlchemy, no clock. The
numbers come from the clinic's catalogue (`SymptomRule.expected_hours`) and from a `FlagPolicy`.
Each function below says in its docstring which rule it implements and how.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from itertools import pairwise

from .catalogue import DEFAULT_POLICY, EXPECTED, REVIEW, URGENT, FlagPolicy
from .timeutil import day_number


class Reason(StrEnum):
    """Why a flag is raised, in the order the clinic's queue sorts them (most urgent first)."""

    URGENT = "urgent"
    REVIEW = "review"
    SEVERE = "severe"
    WORSENING = "worsening"
    OVERDUE = "overdue"
    NO_RESPONSE = "no_response"

    @property
    def priority(self) -> int:
        """0 for the most urgent reason."""
        return list(Reason).index(self)


CHECKIN_REASONS = frozenset({Reason.URGENT, Reason.REVIEW, Reason.SEVERE, Reason.WORSENING})
"""What a check-in shows by itself, raised at once."""
ALL_REASONS = frozenset(Reason)
"""What the sweep raises: everything, including what needs time to pass."""

SEVERE = 3
VERY_SEVERE = 4

OPEN, ACKNOWLEDGED, RESOLVED = "open", "acknowledged", "resolved"
"""A flag's statuses: open and acknowledged flags are active, a resolved one is closed."""


@dataclass(frozen=True)
class SymptomRule:
    """What the rules need from one catalogue entry."""

    code: str
    action: str
    expected_hours: float | None = None


@dataclass(frozen=True)
class Report:
    """One symptom in one check-in (severity 0 to 4)."""

    code: str
    severity: int
    onset_at: datetime | None = None


@dataclass(frozen=True)
class Observation:
    """A check-in as the rules see it: when, and the symptoms present (left out counts as none).

    Named apart from the model `CheckIn`, which is the stored row this is read from.
    """

    reported_at: datetime
    reports: tuple[Report, ...] = ()

    def severity_of(self, code: str) -> int:
        """The severity reported for `code`, 0 when it was left out."""
        return max((r.severity for r in self.reports if r.code == code), default=0)

    def onset_of(self, code: str) -> datetime | None:
        """The onset the patient gave for `code`, if any."""
        onsets = [r.onset_at for r in self.reports if r.code == code and r.onset_at]
        return min(onsets, default=None)


@dataclass(frozen=True)
class Span:
    """A stretch of time from `start` to `end`, both included; `end` None while it goes on."""

    start: datetime
    end: datetime | None = None

    def overlaps(self, other: Span) -> bool:
        """Whether the two spans share at least one moment."""
        return (other.end is None or self.start <= other.end) and (
            self.end is None or other.start <= self.end
        )


@dataclass(frozen=True)
class Point:
    """One report of a symptom within an episode."""

    reported_at: datetime
    severity: int


@dataclass(frozen=True)
class Episode:
    """A run of check-ins reporting one symptom, from its start until a check-in reports none."""

    code: str
    started_at: datetime
    points: tuple[Point, ...]
    ended_at: datetime | None = None

    @property
    def is_ongoing(self) -> bool:
        """True while no later check-in has reported the symptom as none."""
        return self.ended_at is None

    def duration(self, now: datetime) -> timedelta:
        """How long the episode lasted, or has lasted until `now` while ongoing."""
        return (self.ended_at or now) - self.started_at

    @property
    def span(self) -> Span:
        """The time the episode covers, for matching flags to it by overlap."""
        return episode_span(self.started_at, self.ended_at, self.points)


def episode_span(started_at: datetime, ended_at: datetime | None, points: Sequence[Point]) -> Span:
    """From the episode's start to its last report once ended, or open while it goes on.

    An ended episode's span stops at its last report, not at the "none" that ended it: the next
    episode may start at that very "none" (an onset clipped to it) and is another episode.
    """
    if ended_at is None or not points:
        return Span(started_at)
    return Span(started_at, points[-1].reported_at)


@dataclass(frozen=True)
class Finding:
    """A reason to flag a treatment, with the episode (or silence) it belongs to.

    `episode_ended_at` is None while the episode goes on (always, for a silence); `points` are
    the episode's reports (none for a silence).
    """

    reason: Reason
    code: str | None
    episode_started_at: datetime
    observed_at: datetime
    episode_ended_at: datetime | None = None
    points: tuple[Point, ...] = ()

    @classmethod
    def of(cls, reason: Reason, episode: Episode, observed_at: datetime) -> Finding:
        """A finding about `episode`, observed at `observed_at`."""
        return cls(
            reason, episode.code, episode.started_at, observed_at, episode.ended_at, episode.points
        )

    @property
    def span(self) -> Span:
        """The time the finding's episode (or silence) covers."""
        return episode_span(self.episode_started_at, self.episode_ended_at, self.points)


def episodes_of(code: str, checkins: Sequence[Observation]) -> list[Episode]:
    """Split the check-ins (in time order) into the episodes of one symptom."""
    episodes: list[Episode] = []
    points: list[Point] = []
    started_at: datetime | None = None
    previous_end: datetime | None = None
    for checkin in checkins:
        severity = checkin.severity_of(code)
        if severity >= 1:
            if not points:
                onset = checkin.onset_of(code)
                started_at = min(checkin.reported_at, onset) if onset else checkin.reported_at
                if previous_end and started_at < previous_end:
                    started_at = previous_end  # the patient said "none" then; believe it
            points.append(Point(checkin.reported_at, severity))
        elif points:
            assert started_at is not None
            episodes.append(Episode(code, started_at, tuple(points), checkin.reported_at))
            previous_end, points = checkin.reported_at, []
    if points:
        assert started_at is not None
        episodes.append(Episode(code, started_at, tuple(points)))
    return episodes


def action_finding(episode: Episode, rule: SymptomRule) -> Finding | None:
    """`review` and `urgent` symptoms are flagged as soon as they are reported."""
    reason = {URGENT: Reason.URGENT, REVIEW: Reason.REVIEW}.get(rule.action)
    if reason is None:
        return None
    return Finding.of(reason, episode, episode.points[0].reported_at)


def overdue_finding(episode: Episode, rule: SymptomRule, now: datetime) -> Finding | None:
    """An ongoing `expected` episode lasting strictly longer than its expected duration."""
    if rule.action != EXPECTED or rule.expected_hours is None or not episode.is_ongoing:
        return None
    expected = timedelta(hours=rule.expected_hours)
    if episode.duration(now) <= expected:
        return None
    return Finding.of(Reason.OVERDUE, episode, episode.started_at + expected)


def open_severe_run(episode: Episode) -> datetime | None:
    """When the reports at the episode's end started being severe or worse (3+), if they are."""
    run_start: datetime | None = None
    for point in reversed(episode.points):
        if point.severity < SEVERE:
            break
        run_start = point.reported_at
    return run_start


def severe_finding(episode: Episode, now: datetime, policy: FlagPolicy) -> Finding | None:
    """Severity 4 at once; severity 3 or more for longer than the policy's sustained hours."""
    sustained = timedelta(hours=policy.severe_sustained_hours)
    run_start: datetime | None = None
    candidates: list[datetime] = []
    for point in episode.points:
        if point.severity >= VERY_SEVERE:
            candidates.append(point.reported_at)
        if point.severity >= SEVERE:
            run_start = run_start or point.reported_at
        elif run_start:
            if point.reported_at - run_start > sustained:
                candidates.append(run_start + sustained)
            run_start = None
    if run_start:
        run_end = episode.ended_at or now
        if run_end - run_start > sustained:
            candidates.append(run_start + sustained)
    if not candidates:
        return None
    return Finding.of(Reason.SEVERE, episode, min(candidates))


def worsening_finding(episode: Episode, treated_at: datetime, policy: FlagPolicy) -> Finding | None:
    """A report more severe than the episode's previous one, late enough after the treatment."""
    after = treated_at + timedelta(hours=policy.worsening_after_hours)
    for previous, point in pairwise(episode.points):
        if point.severity > previous.severity and point.reported_at > after:
            return Finding.of(Reason.WORSENING, episode, point.reported_at)
    return None


def no_response_finding(
    treated_at: datetime,
    checkins: Sequence[Observation],
    now: datetime,
    policy: FlagPolicy,
    tz_name: str = "UTC",
) -> Finding | None:
    """On local days 0 to the policy's window (7) of the treatment, too long without a check-in.

    Days are the patient's local dates, so a treatment late in the evening keeps its whole
    last day and one early in the morning does not gain part of the next.
    """
    if day_number(treated_at, now, tz_name) > policy.no_response_window_days:
        return None
    silence_started_at = max([treated_at, *(c.reported_at for c in checkins)])
    if now - silence_started_at < timedelta(hours=policy.no_response_hours):
        return None
    observed_at = silence_started_at + timedelta(hours=policy.no_response_hours)
    return Finding(Reason.NO_RESPONSE, None, silence_started_at, observed_at)


def evaluate(
    treated_at: datetime,
    checkins: Iterable[Observation],
    catalogue: Mapping[str, SymptomRule],
    now: datetime,
    reasons: frozenset[Reason] = ALL_REASONS,
    policy: FlagPolicy = DEFAULT_POLICY,
    *,
    tz_name: str = "UTC",
) -> list[Finding]:
    """Every finding of `reasons` that the check-ins up to `now` show, judged as of `now`.

    `tz_name` is the patient's timezone, for the rules counting days of the treatment.

    Check-ins after `now` are ignored, so a check-in can be judged as of its own time. A symptom
    not in the catalogue is ignored (the check-in service refuses unknown codes).
    """
    history = sorted((c for c in checkins if c.reported_at <= now), key=lambda c: c.reported_at)
    findings: list[Finding] = []
    reported_codes = {r.code for c in history for r in c.reports if r.severity >= 1}
    for code in sorted(reported_codes & catalogue.keys()):
        rule = catalogue[code]
        for episode in episodes_of(code, history):
            findings += [
                f
                for f in (
                    action_finding(episode, rule),
                    overdue_finding(episode, rule, now),
                    severe_finding(episode, now, policy),
                    worsening_finding(episode, treated_at, policy),
                )
                if f is not None and f.reason in reasons
            ]
    if Reason.NO_RESPONSE in reasons:
        silence = no_response_finding(treated_at, history, now, policy, tz_name)
        if silence:
            findings.append(silence)
    return findings


# --- when to judge a treatment again ---------------------------------------------------------

INSTANT = timedelta(microseconds=1)
"""The smallest step of a stored time: a rule that needs "strictly longer than" holds from the
first instant after the boundary."""


def moments_findings_can_appear(
    treated_at: datetime,
    checkins: Iterable[Observation],
    catalogue: Mapping[str, SymptomRule],
    policy: FlagPolicy = DEFAULT_POLICY,
) -> list[datetime]:
    """Every moment at which time passing alone (no new check-in) can make `evaluate` find
    something it did not find just before, for the history as it stands:

    - an ongoing `expected` episode starts lasting longer than expected (`overdue_finding`);
    - an ongoing run of severe reports starts lasting longer than sustained (`severe_finding`);
    - the silence since the last check-in (or the treatment) reaches the no-response hours
      (`no_response_finding`).

    Urgent, review and worsening findings, and an ended episode's, change only with check-ins.
    """
    history = sorted(checkins, key=lambda c: c.reported_at)
    moments = []
    sustained = timedelta(hours=policy.severe_sustained_hours)
    reported_codes = {r.code for c in history for r in c.reports if r.severity >= 1}
    for code in sorted(reported_codes & catalogue.keys()):
        rule = catalogue[code]
        for episode in episodes_of(code, history):
            if not episode.is_ongoing:
                continue
            if rule.action == EXPECTED and rule.expected_hours is not None:
                moments.append(episode.started_at + timedelta(hours=rule.expected_hours) + INSTANT)
            if run_start := open_severe_run(episode):
                moments.append(run_start + sustained + INSTANT)
    silence_started_at = max([treated_at, *(c.reported_at for c in history)])
    moments.append(silence_started_at + timedelta(hours=policy.no_response_hours))
    return moments


def next_moment(moments: Iterable[datetime], after: datetime, until: datetime) -> datetime | None:
    """The first of `moments` later than `after` and no later than `until`, or None."""
    return min((m for m in moments if after < m <= until), default=None)


@dataclass(frozen=True)
class Verdict:
    """What the rules make of a treatment as of a moment: the findings no flag covers yet, and
    the first moment after it, up to the end of its follow-up, at which time alone can change
    what they find (None: never)."""

    unflagged: list[Finding]
    changes_at: datetime | None
    treated_at: datetime

    def next_due(self, *, flagging_now: bool) -> datetime | None:
        """When the sweep must next judge the treatment. If the unflagged findings are being
        flagged now (`flagging_now`, the sweep), or there are none: when time can change them.
        Else at once: the treatment's own time, which every sweep's `now` has passed, whatever
        the clock of the host that wrote it (or a test judging an earlier moment)."""
        if self.unflagged and not flagging_now:
            return self.treated_at
        return self.changes_at


def verdict(
    treated_at: datetime,
    checkins: Sequence[Observation],
    catalogue: Mapping[str, SymptomRule],
    past_flags: Sequence[PastFlag],
    as_of: datetime,
    until: datetime,
    policy: FlagPolicy = DEFAULT_POLICY,
    *,
    tz_name: str = "UTC",
) -> Verdict:
    """Judge a treatment as of `as_of` with every rule (see `Verdict`)."""
    findings = evaluate(treated_at, checkins, catalogue, as_of, policy=policy, tz_name=tz_name)
    moments = moments_findings_can_appear(treated_at, checkins, catalogue, policy)
    return Verdict(unflagged(findings, past_flags), next_moment(moments, as_of, until), treated_at)


# --- matching findings to the flags already raised ------------------------------------------


@dataclass(frozen=True)
class PastFlag:
    """A flag already stored for the treatment, as the matching rules see it.

    `severity_at_resolution` is the highest severity of its symptom known when it was resolved
    (None for no response, or while it is not resolved).
    """

    reason: Reason
    code: str | None
    span: Span
    status: str = OPEN
    resolved_at: datetime | None = None
    severity_at_resolution: int | None = None

    @property
    def is_active(self) -> bool:
        """Open or acknowledged: the clinic has it in hand."""
        return self.status != RESOLVED


def flag_span(episode_started_at: datetime, observed_at: datetime) -> Span:
    """The time a stored flag is known to cover: its episode from the start it was raised with
    until the finding was observed (the episode, or silence, was under way all that time)."""
    return Span(episode_started_at, max(episode_started_at, observed_at))


def episode_of_flag(
    code: str, checkins: Sequence[Observation], episode_started_at: datetime, observed_at: datetime
) -> Episode | None:
    """The episode a stored flag was raised for, found by overlap in time: a late check-in may
    have moved its start or merged it with another since. None when no check-in shows it now."""
    span = flag_span(episode_started_at, observed_at)
    return next((e for e in episodes_of(code, checkins) if e.span.overlaps(span)), None)


def severity_known_at(
    code: str, checkins: Iterable[Observation], since: datetime, until: datetime
) -> int:
    """The highest severity of `code` reported from `since` to `until` (both included), or 0."""
    return max(
        (c.severity_of(code) for c in checkins if since <= c.reported_at <= until), default=0
    )


def unflagged(findings: Iterable[Finding], past_flags: Sequence[PastFlag]) -> list[Finding]:
    """The findings that call for a new flag, given the treatment's flags so far.

    - An active flag for the same symptom and reason: nothing new (one open at a time).
    - A resolved flag for the same symptom and reason whose span overlaps the finding's episode
      (or silence) is the same episode's, however late check-ins moved its start or end:
      nothing new, except
      - urgent: a report after the latest such resolution opens a new flag (never silenced);
      - review: a report after it more severe than known at the resolution opens a new one.
    - Otherwise (a new episode, a new silence): a new flag.

    At most one new flag per symptom and reason, the earliest episode's; a new flag for a
    repeat report is observed at that report.
    """
    active = {(p.reason, p.code) for p in past_flags if p.is_active}
    new: list[Finding] = []
    for finding in findings:
        key = (finding.reason, finding.code)
        if key in active:
            continue
        resolved = [
            p
            for p in past_flags
            if (p.reason, p.code) == key and not p.is_active and p.span.overlaps(finding.span)
        ]
        if resolved:
            finding = _reported_again(finding, max(resolved, key=_resolution_time))
        if finding is not None:
            new.append(finding)
            active.add(key)
    return new


def _resolution_time(flag: PastFlag) -> datetime:
    return flag.resolved_at or flag.span.end or flag.span.start


def _reported_again(finding: Finding, resolved: PastFlag) -> Finding | None:
    """The finding observed at the report that reopens its resolved episode's case, or None."""
    resolved_at = _resolution_time(resolved)
    after = [p for p in finding.points if p.reported_at > resolved_at]
    if finding.reason is Reason.REVIEW:
        known = resolved.severity_at_resolution or 0
        after = [p for p in after if p.severity > known]
    elif finding.reason is not Reason.URGENT:
        return None
    return replace(finding, observed_at=after[0].reported_at) if after else None
