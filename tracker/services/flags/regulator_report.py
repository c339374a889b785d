"""A case's report to a regulator (the MHRA Yellow Card, the FDA MedWatch 3500), filled from
the record: reporter, patient, suspected product, each reaction, seriousness and outcome.

What only the clinician can give (the seriousness criteria, the confirmed outcome, other
medicines, each reaction's description) is kept in the case's `RegulatorReport`, with the date
and reference of the report once the case is resolved as reported to the regulator; the rest
is read from the record each time it is shown, so the report always says what the record says.

`propose_outcome` is the pure part: a reaction's outcome as its episodes show it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select

from ... import rules
from ...catalogue import SEVERITY_LABELS
from ...extensions import db
from ...infrastructure.database import lock_for_update
from ...invalid import InvalidInput
from ...models import (
    REACTION_OUTCOMES,
    SERIOUSNESS,
    Clinic,
    Flag,
    Patient,
    RegulatorReport,
    Symptom,
    Treatment,
    User,
)
from ...timeutil import local_date, utcnow
from ..clinics.catalogue_admin import clinic_symptoms
from .flagging import load_catalogues, load_histories

RECOVERED = "recovered"
RECOVERING = "recovering"
NOT_RECOVERED = "not_recovered"
UNKNOWN = "unknown"
TEXT_MAX_CHARS = 2000
REFERENCE_MAX_CHARS = 100
INTRADERMAL_INDICATIONS = frozenset({"sweating"})
"""Indications injected into the skin (intradermal); every other is into muscle."""

MISSING_LABELS = {
    "sex": "The patient's sex",
    "date_of_birth": "The patient's date of birth (for their age)",
    "clinic_address": "The clinic's postal address",
    "clinic_phone": "The clinic's phone",
    "profession": "Your profession",
    "registration_number": "Your professional registration number",
    "outcome": "The outcome, confirmed by a clinician",
}
"""What the report lacks, as the "To fill in" list names it (by the keys `missing` returns)."""


def propose_outcome(episodes: Sequence[rules.Episode]) -> str:
    """The outcome the episodes of a reaction (or of every reaction of a case) suggest.

    No episode: unknown. An episode going on at its worst: not recovered. Every one going on
    reports less than its worst now: recovering. Every episode ended: recovered. (Lasting
    effects and death the record cannot tell: the clinician confirms the outcome.)
    """
    if not episodes:
        return UNKNOWN
    ongoing = [e for e in episodes if e.is_ongoing]
    if not ongoing:
        return RECOVERED
    if any(e.points[-1].severity >= max(p.severity for p in e.points) for e in ongoing):
        return NOT_RECOVERED
    return RECOVERING


def initials(name: str) -> str:
    """ "Pat Example-Jones" -> "P.E.J." (the regulators ask for initials, never the name)."""
    words = name.replace("-", " ").split()
    return "".join(f"{word[0].upper()}." for word in words if word[0].isalpha())


SERIOUS_OUTCOMES = frozenset({"emergency_care"})
"""Flag outcomes that make a reaction serious until a clinician has assessed it."""


def proposed_serious(flags: Iterable[Flag]) -> bool:
    """Whether reactions with these flags are serious before a clinician ticks any criterion:
    an urgent symptom, or one that needed emergency care. The report and the FHIR export both
    propose it so, and both follow the clinician's criteria once saved."""
    return any(f.reason == rules.Reason.URGENT or f.outcome in SERIOUS_OUTCOMES for f in flags)


def age_on(born: date | None, day: date) -> int | None:
    """Whole years from `born` to `day`; None without a date of birth, or with one after `day`
    (a mistyped date: the report asks for it again rather than give a negative age)."""
    if born is None or born > day:
        return None
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def route_of(indication: str) -> str:
    """How the toxin was given for `indication`."""
    return "intradermal" if indication in INTRADERMAL_INDICATIONS else "intramuscular"


@dataclass(frozen=True)
class Reaction:
    """One symptom of the case: its episodes' start and end, its worst severity, and the
    clinician's description. `ended_at` is None while it goes on."""

    symptom: Symptom
    started_at: datetime
    ended_at: datetime | None
    worst: int
    proposed_outcome: str
    description: str = ""
    flagged: bool = False

    @property
    def worst_label(self) -> str:
        return str(SEVERITY_LABELS[self.worst])


@dataclass(frozen=True)
class Report:
    """Everything the report says, read from the record and the clinician's additions."""

    treatment: Treatment
    patient: Patient
    clinic: Clinic
    reporter: User
    reactions: list[Reaction]
    saved: RegulatorReport | None
    proposed_outcome: str
    proposed_serious: bool
    given_on: date
    patient_initials: str | None
    patient_age: int | None
    route: str
    missing: list[str] = field(default_factory=list)

    @property
    def seriousness(self) -> list[str]:
        return list(self.saved.seriousness) if self.saved else []

    @property
    def is_serious(self) -> bool:
        """As the clinician's criteria say, once saved; until then as proposed."""
        return bool(self.seriousness) if self.saved else self.proposed_serious

    @property
    def confirmed_outcome(self) -> str | None:
        return self.saved.outcome if self.saved else None

    @property
    def outcome(self) -> str:
        """The confirmed outcome, else the proposed one."""
        return self.confirmed_outcome or self.proposed_outcome

    @property
    def other_medicines(self) -> str:
        return self.saved.other_medicines if self.saved else ""

    @property
    def reported_on(self) -> date | None:
        return self.saved.reported_on if self.saved else None

    @property
    def reference(self) -> str | None:
        return self.saved.reference if self.saved else None


def saved_report(treatment_id: int) -> RegulatorReport | None:
    """The clinician's additions to the case's report, if they have made any."""
    return db.session.scalar(
        select(RegulatorReport).where(RegulatorReport.treatment_id == treatment_id)
    )


def symptom_episodes(treatment: Treatment) -> dict[str, list[rules.Episode]]:
    """Each catalogue symptom's episodes after the treatment (the rules' own split), by code;
    a symptom never reported has none."""
    catalogue = load_catalogues([treatment.clinic_id])[treatment.clinic_id]
    history = load_histories([treatment.id], catalogue.codes)[treatment.id]
    reported = {r.code for c in history for r in c.reports}
    return {code: rules.episodes_of(code, history) for code in sorted(reported)}


def proposed_outcomes(treatment: Treatment) -> dict[str, str]:
    """Each reported symptom's proposed outcome, by code (the FHIR export's, unconfirmed)."""
    return {code: propose_outcome(eps) for code, eps in symptom_episodes(treatment).items()}


def case_flags(treatment: Treatment) -> list[Flag]:
    """Every flag of the treatment, any status, oldest first (a case has at least one)."""
    return list(
        db.session.scalars(
            select(Flag).where(Flag.treatment_id == treatment.id).order_by(Flag.opened_at, Flag.id)
        )
    )


def _reactions(
    treatment: Treatment, flags: Iterable[Flag], saved: RegulatorReport | None
) -> tuple[list[Reaction], list[rules.Episode]]:
    episodes = symptom_episodes(treatment)
    flagged: dict[int, datetime] = {}  # each flagged symptom's earliest flagged episode start
    for flag in flags:
        if flag.symptom_id is not None:
            started = flagged.get(flag.symptom_id, flag.episode_started_at)
            flagged[flag.symptom_id] = min(started, flag.episode_started_at)
    notes = saved.reaction_notes if saved else {}
    reactions, every_episode = [], []
    for symptom in clinic_symptoms(treatment.clinic_id, with_translations=False):
        found = episodes.get(symptom.code, [])
        if not found and symptom.id not in flagged:
            continue
        every_episode += found
        reactions.append(
            Reaction(
                symptom=symptom,
                started_at=found[0].started_at if found else flagged[symptom.id],
                ended_at=found[-1].ended_at if found else None,
                worst=max((p.severity for e in found for p in e.points), default=0),
                proposed_outcome=propose_outcome(found),
                description=notes.get(str(symptom.id), ""),
                flagged=symptom.id in flagged,
            )
        )
    return reactions, every_episode


def build_report(treatment: Treatment, reporter: User) -> Report:
    """The case's report as `reporter` (the signed-in clinician) would send it."""
    patient = treatment.patient
    clinic = patient.clinic  # (a treatment is of its patient's clinic)
    saved = saved_report(treatment.id)
    flags = case_flags(treatment)
    reactions, episodes = _reactions(treatment, flags, saved)
    given_on = local_date(treatment.treated_at, clinic.timezone)
    report = Report(
        treatment=treatment,
        patient=patient,
        clinic=clinic,
        reporter=reporter,
        reactions=reactions,
        saved=saved,
        proposed_outcome=propose_outcome(episodes),
        proposed_serious=proposed_serious(flags),
        given_on=given_on,
        patient_initials=None if patient.erased_at else initials(patient.name),
        patient_age=age_on(patient.date_of_birth, given_on),
        route=route_of(treatment.indication),
    )
    report.missing.extend(missing(report))
    return report


def missing(report: Report) -> list[str]:
    """What the report still lacks, as keys of `MISSING_LABELS`, in the form's order."""
    gaps = {
        "sex": not report.patient.sex,
        "date_of_birth": report.patient_age is None,
        "clinic_address": not report.clinic.address,
        "clinic_phone": not report.clinic.phone,
        "profession": not report.reporter.profession,
        "registration_number": not report.reporter.registration_number,
        "outcome": not report.confirmed_outcome,
    }
    return [key for key, lacking in gaps.items() if lacking]


@dataclass(frozen=True)
class ReportChanges:
    """What the clinician gives the report: criteria and outcome codes as sent (checked here),
    and each reaction's description by symptom id."""

    seriousness: list[str]
    outcome: str | None
    other_medicines: str
    descriptions: dict[int, str]


def _report_for_update(treatment: Treatment) -> RegulatorReport:
    """The case's report row, created if need be, with the treatment's row locked first (two
    clinicians saving at once are served one after the other, and make one row)."""
    lock_for_update(Treatment, treatment.id)
    saved = saved_report(treatment.id)
    if saved is None:
        saved = RegulatorReport(
            clinic_id=treatment.clinic_id,
            treatment_id=treatment.id,
            seriousness=[],
            other_medicines="",
            reaction_notes={},
        )
        db.session.add(saved)
    return saved


def _too_long(text: str) -> bool:
    return len(text) > TEXT_MAX_CHARS


def update_report(
    report: Report, actor: User, changes: ReportChanges, now: datetime | None = None
) -> RegulatorReport:
    """Keep the clinician's part of the report (flush only); raises `InvalidInput`, having
    written nothing, for a criterion or outcome that does not exist or a text too long."""
    errors: dict[str, str] = {}
    unknown = [c for c in changes.seriousness if c not in SERIOUSNESS]
    if unknown:
        errors["seriousness"] = "Tick only the seriousness criteria in the list."
    if changes.outcome is not None and changes.outcome not in REACTION_OUTCOMES:
        errors["outcome"] = "Choose one of the outcomes in the list."
    if _too_long(changes.other_medicines):
        errors["other_medicines"] = f"Keep it to {TEXT_MAX_CHARS} characters or fewer."
    reaction_ids = {r.symptom.id for r in report.reactions}
    for symptom_id, text in changes.descriptions.items():
        if symptom_id not in reaction_ids:
            errors[f"description.{symptom_id}"] = "That symptom is not a reaction of this case."
        elif _too_long(text):
            errors[f"description.{symptom_id}"] = (
                f"Keep it to {TEXT_MAX_CHARS} characters or fewer."
            )
    if errors:
        raise InvalidInput(errors)
    saved = _report_for_update(report.treatment)
    saved.seriousness = [c for c in SERIOUSNESS if c in set(changes.seriousness)]
    saved.outcome = changes.outcome
    saved.other_medicines = changes.other_medicines.strip()
    saved.reaction_notes = {
        str(symptom_id): text.strip()
        for symptom_id, text in sorted(changes.descriptions.items())
        if text.strip()
    }
    saved.updated_at = now or utcnow()
    saved.updated_by_id = actor.id
    db.session.flush()
    return saved


def reported_problems(
    reported_on: date | None, reference: str | None, today: date, given_on: date
) -> dict:
    """Why a report to the regulator cannot be recorded as given (empty: it can): its date
    must be from the day the treatment was given (`given_on`) to `today`."""
    errors = {}
    if reported_on is not None and reported_on > today:
        errors["reported_on"] = "The date it was reported cannot be in the future."
    elif reported_on is not None and reported_on < given_on:
        errors["reported_on"] = "The date it was reported cannot be before the treatment."
    reference = (reference or "").strip()
    if not reference:
        errors["reference"] = "Give the regulator's reference for the report."
    elif len(reference) > REFERENCE_MAX_CHARS:
        errors["reference"] = f"Keep the reference to {REFERENCE_MAX_CHARS} characters or fewer."
    return errors


def record_reported(
    treatment: Treatment, actor: User, reported_on: date, reference: str, now: datetime
) -> RegulatorReport:
    """Keep the date and the regulator's reference of the case's report (flush only; the
    caller has checked them with `reported_problems`)."""
    saved = _report_for_update(treatment)
    saved.reported_on = reported_on
    saved.reference = reference.strip()
    saved.updated_at = now
    saved.updated_by_id = actor.id
    db.session.flush()
    return saved
