"""Overseeing a clinic's staff: adding, deactivating and reactivating them; reading the audit log.

A deactivated user cannot sign in, and every session and API token they had ends at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import func, select

from ...emails import as_compared, normalise_email
from ...extensions import db
from ...invalid import InvalidInput
from ...models import ROLES, AuditEvent, Clinic, Patient, SecondFactor, StaffSession, User
from ...timeutil import utcnow
from ..clinics.clinics import create_user
from ..governance import audit
from . import second_factor, staff_sessions
from .api_tokens import revoke_all_tokens
from .passwords import password_problem

NAME_MAX_CHARS = 200
EMAIL_UNAVAILABLE = (
    "This address cannot be used for a new account. If the person is already on your staff "
    "list, use that account (reactivate it if need be); otherwise ask them for another address."
)
"""The refusal of an address that has an account, ours or another clinic's: the same words, so
that adding staff never tells an admin who has an account elsewhere."""
REGISTRATION_MAX_CHARS = 60
PROFESSION_MAX_CHARS = 80
AUDIT_PAGE_SIZE = 50


@dataclass(frozen=True)
class NewStaff:
    """A staff member to add, as submitted."""

    name: str
    email: str
    role: str
    password: str
    registration_number: str | None = None
    profession: str | None = None  # e.g. "Nurse prescriber", as a regulator's report names it


@dataclass(frozen=True)
class StaffRow:
    """A staff member, when they last signed in and set up their second factor (None: never)."""

    user: User
    last_sign_in_at: datetime | None
    second_factor_at: datetime | None = None


def list_staff(clinic_id: int) -> list[StaffRow]:
    """The clinic's staff, active first, then by name, with their latest sign-in (one query).

    A half sign-in (the second factor still to come) does not count.
    """
    last_sign_in = (
        select(StaffSession.user_id, func.max(StaffSession.created_at).label("at"))
        .where(StaffSession.pending.is_(None))
        .group_by(StaffSession.user_id)
        .subquery()
    )
    rows = db.session.execute(
        select(User, last_sign_in.c.at, SecondFactor.confirmed_at)
        .outerjoin(last_sign_in, last_sign_in.c.user_id == User.id)
        .outerjoin(SecondFactor, SecondFactor.user_id == User.id)
        .where(User.clinic_id == clinic_id)
        .order_by(User.is_active.desc(), func.lower(User.name), User.id)
    ).all()
    return [StaffRow(user, at, factor_at) for user, at, factor_at in rows]


def clinic_user(clinic_id: int, user_id: int) -> User | None:
    """A staff member of the clinic, or None (also for another clinic's)."""
    return db.session.scalar(select(User).where(User.id == user_id, User.clinic_id == clinic_id))


def _problems(new: NewStaff) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not new.name:
        errors["name"] = "Give the person's name."
    elif len(new.name) > NAME_MAX_CHARS:
        errors["name"] = f"Keep the name to {NAME_MAX_CHARS} characters or fewer."
    try:
        email = normalise_email(new.email, lower=True)
    except InvalidInput as invalid:
        errors.update(invalid.fields)
    else:
        if db.session.scalar(select(User.id).where(User.email == email)):
            errors["email"] = EMAIL_UNAVAILABLE
    if new.role not in ROLES:
        errors["role"] = f"Choose one of: {', '.join(ROLES)}."
    if len(new.registration_number or "") > REGISTRATION_MAX_CHARS:
        errors["registration_number"] = f"Keep it to {REGISTRATION_MAX_CHARS} characters or fewer."
    if len(new.profession or "") > PROFESSION_MAX_CHARS:
        errors["profession"] = f"Keep it to {PROFESSION_MAX_CHARS} characters or fewer."
    problem = password_problem(new.password, new.email, new.name)
    if problem:
        errors["password"] = problem
    return errors


def add_staff(
    clinic: Clinic,
    new: NewStaff,
    *,
    actor: User,
    ip_address: str | None = None,
    now: datetime | None = None,
) -> User:
    """Add a clinician or admin to `clinic`, with an audit row.

    Raises `InvalidInput` before writing anything. The caller commits.
    """
    new = NewStaff(
        name=new.name.strip(),
        email=as_compared(new.email),
        role=new.role,
        password=new.password,
        registration_number=(new.registration_number or "").strip() or None,
        profession=(new.profession or "").strip() or None,
    )
    errors = _problems(new)
    if errors:
        raise InvalidInput(errors)
    # create_user's own refusals (a rule ours did not foresee) name the same fields as ours
    user = create_user(clinic, new.email, new.password, new.role, new.name, new.registration_number)
    user.profession = new.profession
    _audit("staff.create", actor, user, ip_address, now)
    return user


def set_professional_details(
    user: User,
    profession: str | None,
    registration_number: str | None,
    *,
    actor: User,
    ip_address: str | None = None,
) -> bool:
    """Set a staff member's profession and registration number (as their regulator's reports
    and treatments name them); audited. False if unchanged; raises `InvalidInput` if too long."""
    profession = (profession or "").strip() or None
    registration_number = (registration_number or "").strip() or None
    errors = {}
    if len(profession or "") > PROFESSION_MAX_CHARS:
        errors["profession"] = f"Keep it to {PROFESSION_MAX_CHARS} characters or fewer."
    if len(registration_number or "") > REGISTRATION_MAX_CHARS:
        errors["registration_number"] = f"Keep it to {REGISTRATION_MAX_CHARS} characters or fewer."
    if errors:
        raise InvalidInput(errors)
    if (user.profession, user.registration_number) == (profession, registration_number):
        return False
    user.profession, user.registration_number = profession, registration_number
    _audit("staff.update", actor, user, ip_address, None)
    return True


def deactivate(
    user: User, *, actor: User, ip_address: str | None = None, now: datetime | None = None
) -> bool:
    """Stop `user` signing in, end their sessions and API tokens; False if already inactive.

    The tokens are revoked rather than merely refused, so reactivating the account does not
    bring an old token back to life.

    Raises `InvalidInput` when an admin tries it on themself (they would lock themself out).
    """
    if user.id == actor.id:
        raise InvalidInput({"user": "You cannot deactivate your own account."})
    if not user.is_active:
        return False
    now = now or utcnow()
    user.is_active = False
    staff_sessions.end_all_sessions(user, now)
    revoke_all_tokens(user, now)
    _audit("staff.deactivate", actor, user, ip_address, now)
    return True


def reactivate(
    user: User, *, actor: User, ip_address: str | None = None, now: datetime | None = None
) -> bool:
    """Let `user` sign in again (old sessions stay ended); False if they were already active."""
    if user.is_active:
        return False
    user.is_active = True
    _audit("staff.reactivate", actor, user, ip_address, now)
    return True


def reset_second_factor(
    user: User, *, actor: User, ip_address: str | None = None, now: datetime | None = None
) -> bool:
    """Remove a colleague's second factor: they set one up again at their next sign-in.

    Their sessions and API tokens end too, in case whoever holds the lost phone is signed in.
    Audited; False if they had no factor. Raises `InvalidInput` for one's own factor.
    """
    if user.id == actor.id:
        raise InvalidInput({"user": "You cannot reset your own second factor."})
    if not second_factor.remove(user):
        return False
    now = now or utcnow()
    staff_sessions.end_all_sessions(user, now)
    revoke_all_tokens(user, now)
    _audit("staff.second_factor.reset", actor, user, ip_address, now)
    return True


def _audit(
    action: str, actor: User, user: User, ip_address: str | None, now: datetime | None
) -> None:
    audit.record_staff_change(action, actor=actor, user=user, ip_address=ip_address, now=now)
    db.session.flush()


# --- the audit log ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditRow:
    """One audit event with who did it ("patient", "system" or a user's name) and the patient."""

    event: AuditEvent
    actor: str
    patient_name: str | None


@dataclass(frozen=True)
class AuditPage:
    """One page of the audit log, newest first."""

    pagination: Pagination
    rows: list[AuditRow]


def clinic_patient(clinic_id: int, patient_id: int) -> Patient | None:
    """A patient of the clinic, or None (also for another clinic's)."""
    return db.session.scalar(
        select(Patient).where(Patient.id == patient_id, Patient.clinic_id == clinic_id)
    )


def audit_log(
    clinic_id: int, *, patient_id: int | None = None, user_id: int | None = None, page: int = 1
) -> AuditPage:
    """The clinic's audit events, newest first, optionally of one patient or one staff member.

    Three queries a page however long it is: the events, then the names they mention.
    """
    query = select(AuditEvent).where(AuditEvent.clinic_id == clinic_id)
    if patient_id is not None:
        query = query.where(AuditEvent.patient_id == patient_id)
    if user_id is not None:
        query = query.where(AuditEvent.actor_type == "user", AuditEvent.actor_id == user_id)
    pagination = db.paginate(
        query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc()),
        page=max(page, 1),
        per_page=AUDIT_PAGE_SIZE,
        max_per_page=AUDIT_PAGE_SIZE,
        error_out=False,
    )
    events: list[AuditEvent] = list(pagination.items)
    user_ids = {e.actor_id for e in events if e.actor_type == "user" and e.actor_id}
    patient_ids = {e.patient_id for e in events if e.patient_id}
    users = _names(User, user_ids)
    patients = _names(Patient, patient_ids)
    rows = [
        AuditRow(
            event=e,
            actor=users.get(e.actor_id, f"user {e.actor_id}")
            if e.actor_type == "user"
            else e.actor_type,
            patient_name=patients.get(e.patient_id) if e.patient_id else None,
        )
        for e in events
    ]
    return AuditPage(pagination, rows)


def _names(model: type[User] | type[Patient], ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(db.session.execute(select(model.id, model.name).where(model.id.in_(ids))).all())


def staff_by_name(clinic_id: int) -> list[User]:
    """The clinic's staff by name, former staff too (their treatments' flags stay), as the flag
    queue's practitioner filter lists them."""
    return list(
        db.session.scalars(select(User).where(User.clinic_id == clinic_id).order_by(User.name))
    )
