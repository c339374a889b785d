"""Clinical defaults: the symptom catalogue a new clinic starts with, and the follow-up policy.

This is the one place where Aftercare's clinical numbers live. Each clinic gets its own copy of
the catalogue (and may edit it); the rules read every number from a catalogue entry or from a
`FlagPolicy`, never from literals of their own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from flask_babel import gettext
from flask_babel import lazy_gettext as _l

from .catalogue_cy import WELSH

EXPECTED = "expected"
REVIEW = "review"
URGENT = "urgent"
ACTIONS = (EXPECTED, REVIEW, URGENT)

SITES = "sites"
HEAD = "head"
EYES = "eyes"
BODY = "body"
AREAS = (SITES, HEAD, EYES, BODY)
"""Where on the body a symptom is felt; the check-in groups its questions by these."""
AREA_NAMES = {
    SITES: _l("At the injection sites"),
    HEAD: _l("Head and face"),
    EYES: _l("Eyes"),
    BODY: _l("Whole body"),
}

SPREAD_ADVICE = (
    "This can be a sign that the toxin has spread beyond the injection sites. "
    "It needs medical help now."
)


@dataclass(frozen=True)
class DefaultSymptom:
    """One row of the default catalogue."""

    code: str
    name: str
    action: str
    expected_hours: int | None
    expected_text: str
    advice: str
    area: str = BODY
    spread_sign: bool = False
    """A sign that the toxin may have spread beyond the injection sites (the batch watch's
    spread signal counts these)."""


DEFAULT_CATALOGUE: tuple[DefaultSymptom, ...] = (
    DefaultSymptom(
        "bruising",
        "Bruising",
        EXPECTED,
        72,
        "Bruising usually fades within a few days.",
        "A cold compress for 10 minutes at a time helps. Avoid rubbing the area. "
        "Tell us if it is still there after three days.",
        area=SITES,
    ),
    DefaultSymptom(
        "headache",
        "Headache",
        EXPECTED,
        48,
        "A headache usually lasts 24 to 48 hours.",
        "Rest, drink water, and take a simple painkiller such as paracetamol if you need one.",
        area=HEAD,
    ),
    DefaultSymptom(
        "redness",
        "Redness at the injection sites",
        EXPECTED,
        48,
        "Redness usually settles within hours to two days.",
        "Keep the area clean, avoid make-up, heat and exercise for the first day.",
        area=SITES,
    ),
    DefaultSymptom(
        "swelling",
        "Swelling at the injection sites",
        EXPECTED,
        48,
        "Small swellings usually settle within hours to two days.",
        "A cold compress helps. Do not massage the area.",
        area=SITES,
    ),
    DefaultSymptom(
        "pain",
        "Pain or tenderness at the injection sites",
        EXPECTED,
        48,
        "Tenderness usually settles within two days.",
        "A simple painkiller such as paracetamol can help. Do not massage the area.",
        area=SITES,
    ),
    DefaultSymptom(
        "itching",
        "Itching",
        EXPECTED,
        72,
        "Mild itching at the injection sites usually settles within a few days.",
        "Avoid scratching. If the itching is widespread, with hives or wheezing, "
        "that is an allergic reaction: report it as one.",
        area=SITES,
    ),
    DefaultSymptom(
        "nausea",
        "Nausea",
        EXPECTED,
        72,
        "Nausea usually passes within one to three days.",
        "Eat small, plain meals and sip water.",
        area=BODY,
    ),
    DefaultSymptom(
        "sweating",
        "Sweating",
        EXPECTED,
        72,
        "Some extra sweating elsewhere on the body can follow treatment for sweating.",
        "Wear loose, breathable clothing. Tell us if it does not settle.",
        area=BODY,
    ),
    DefaultSymptom(
        "eyelid_drooping",
        "Eyelid drooping",
        REVIEW,
        None,
        "Eyelid drooping can start 3 to 14 days after treatment and may last some weeks.",
        "Your clinic will review this and contact you. It usually wears off.",
        area=EYES,
    ),
    DefaultSymptom(
        "brow_drooping",
        "Brow drooping",
        REVIEW,
        None,
        "A heavy or drooping brow can follow forehead treatment and usually wears off.",
        "Your clinic will review this and contact you.",
        area=HEAD,
    ),
    DefaultSymptom(
        "dry_eye",
        "Dry or irritated eyes",
        REVIEW,
        None,
        "Dry or irritated eyes can follow treatment near the eyes.",
        "Lubricating eye drops can help. Eye pain or any change in vision is urgent: "
        "report it as vision problems.",
        area=EYES,
    ),
    DefaultSymptom(
        "difficulty_swallowing",
        "Difficulty swallowing",
        URGENT,
        None,
        "Difficulty swallowing is not an expected side effect.",
        SPREAD_ADVICE,
        area=BODY,
        spread_sign=True,
    ),
    DefaultSymptom(
        "difficulty_breathing",
        "Difficulty breathing",
        URGENT,
        None,
        "Difficulty breathing is not an expected side effect.",
        SPREAD_ADVICE,
        area=BODY,
        spread_sign=True,
    ),
    DefaultSymptom(
        "difficulty_speaking",
        "Difficulty speaking or hoarse voice",
        URGENT,
        None,
        "Difficulty speaking is not an expected side effect.",
        SPREAD_ADVICE,
        area=HEAD,
        spread_sign=True,
    ),
    DefaultSymptom(
        "vision_problems",
        "Double or blurred vision",
        URGENT,
        None,
        "Double or blurred vision is not an expected side effect.",
        SPREAD_ADVICE,
        area=EYES,
        spread_sign=True,
    ),
    DefaultSymptom(
        "muscle_weakness",
        "Weakness away from the injection sites",
        URGENT,
        None,
        "Weakness away from the injection sites is not an expected side effect.",
        SPREAD_ADVICE,
        area=BODY,
        spread_sign=True,
    ),
    DefaultSymptom(
        "allergic_reaction",
        "Rash, hives, swollen face or lips, wheeze",
        URGENT,
        None,
        "These are signs of an allergic reaction.",
        "An allergic reaction can get worse quickly and needs medical help now.",
        area=BODY,
    ),
)


@dataclass(frozen=True)
class FlagPolicy:
    """The time thresholds of the flag rules that do not belong to any one symptom."""

    severe_sustained_hours: float = 24
    """Severity 3 (severe) or more lasting longer than this is flagged severe."""
    worsening_after_hours: float = 24
    """A rise in severity counts as worsening only this long after the treatment."""
    no_response_hours: float = 48
    """Silence this long (since treatment or last check-in) is flagged no response..."""
    no_response_window_days: float = 7
    """...but only on local days 0 to this one of the treatment (the patient's own dates)."""


DEFAULT_POLICY = FlagPolicy()


@dataclass(frozen=True)
class BatchWatchPolicy:
    """The thresholds of the batch watch (tracker/batch_rules.py): when patients treated from
    one product batch make a signal."""

    lookback_days: int = 120
    """The Batches page and the signals look at treatments given this many days back."""
    spread_within_days: int = 28
    """Patients whose treatments from one batch are this close in time count together."""
    spread_min_patients: int = 2
    """This many different patients with a spread sign from one batch raise a spread signal."""
    excess_min_patients: int = 3
    """A batch needs this many patients with urgent or severe flags before its rate is tested."""
    excess_p_value: float = 0.01
    """...and is in excess when a rate as high would be this unlikely at the product's others."""

    @property
    def lookback(self) -> timedelta:
        return timedelta(days=self.lookback_days)

    @property
    def spread_within(self) -> timedelta:
        return timedelta(days=self.spread_within_days)


DEFAULT_BATCH_WATCH = BatchWatchPolicy()


@dataclass(frozen=True)
class FollowUpSchedule:
    """Which days after a treatment a patient is asked to check in (day 0 is treatment day)."""

    window_days: int = 28
    reminder_days: tuple[int, ...] = field(default=tuple(range(1, 15)) + (21, 28))
    review_day: int = 14
    """The usual review appointment: that day's reminder also reminds of the review."""
    digest_time: time = time(7, 0)
    """From this local time of the clinic, the morning digest of new non-urgent flags is due."""
    earliest_reminder_time: time = time(6, 0)
    latest_reminder_time: time = time(22, 0)
    """Reminder times are kept to the waking day, and well before midnight so that a reminder
    job running every 15 minutes always has a run between the reminder time and the day's end."""

    @property
    def window(self) -> timedelta:
        """How long a treatment is followed up for."""
        return timedelta(days=self.window_days)

    def window_end(self, treated_at: datetime) -> datetime:
        """When a treatment given at `treated_at` leaves its follow-up window."""
        return treated_at + self.window

    def window_start(self, now: datetime) -> datetime:
        """The earliest treatment time still in its follow-up window at `now`."""
        return now - self.window

    def reminder_time_problem(self, value: time) -> str | None:
        """Why `value` can't be a reminder time, or None if it can."""
        if self.earliest_reminder_time <= value <= self.latest_reminder_time:
            return None
        return gettext(
            "Choose a time between %(earliest)s and %(latest)s.",
            earliest=f"{self.earliest_reminder_time:%H:%M}",
            latest=f"{self.latest_reminder_time:%H:%M}",
        )


DEFAULT_SCHEDULE = FollowUpSchedule()

SEVERITY_LABELS = (_l("None"), _l("Mild"), _l("Moderate"), _l("Severe"), _l("Very severe"))
"""PRO-CTCAE's five-point severity scale, stored as 0 to 4 (its words in the page's language)."""
MAX_SEVERITY = len(SEVERITY_LABELS) - 1

# --- languages -----------------------------------------------------------------------------

ENGLISH = "en"
LANGUAGES = (ENGLISH, "cy")
"""The languages the patient's pages are in. English is the catalogue's own columns; the others
are translations of each entry, kept per clinic like the entry itself."""
TRANSLATED_LANGUAGES = tuple(language for language in LANGUAGES if language != ENGLISH)
LANGUAGE_NAMES = {ENGLISH: "English", "cy": "Welsh"}
"""Each language's name in English, for the staff pages."""
LANGUAGE_OWN_NAMES = {ENGLISH: "English", "cy": "Cymraeg"}
"""Each language's name in itself, as the patient's language switch shows it (never translated)."""


@dataclass(frozen=True)
class SymptomText:
    """What a patient reads of a catalogue entry, in one language."""

    name: str
    expected_text: str
    advice: str


def english_text(symptom: DefaultSymptom) -> SymptomText:
    """A default entry's own (English) text."""
    return SymptomText(symptom.name, symptom.expected_text, symptom.advice)


DEFAULT_TRANSLATIONS: dict[str, dict[str, SymptomText]] = {
    "cy": {code: SymptomText(*texts) for code, texts in WELSH.items()}
}
"""The default catalogue's translations: language -> code -> text (every code, every language)."""
