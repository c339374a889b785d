"""Setting up clinics and their staff."""

from __future__ import annotations

from dataclasses import asdict

from sqlalchemy import func, select

from ...catalogue import DEFAULT_CATALOGUE, DEFAULT_TRANSLATIONS
from ...emails import normalise_email
from ...extensions import db
from ...invalid import InvalidInput
from ...models import ROLES, Clinic, Symptom, SymptomTranslation, User
from ...timeutil import is_timezone
from ..governance import audit
from ..patients.patients import PHONE_ERROR, PHONE_RE
from ..staff.passwords import password_problem


def create_clinic(name: str, timezone: str = "Europe/London") -> Clinic:
    """A new clinic with its own copy of the default symptom catalogue, in every language."""
    name = name.strip()
    if not name:
        raise InvalidInput.on("name", "A clinic needs a name.")
    if not is_timezone(timezone):
        raise InvalidInput.on("timezone", f"Unknown timezone {timezone!r}.")
    if db.session.scalar(select(Clinic.id).where(func.lower(Clinic.name) == name.lower())):
        raise InvalidInput.on("name", f"A clinic called {name!r} already exists.")
    clinic = Clinic(name=name, timezone=timezone)
    db.session.add(clinic)
    db.session.flush()
    db.session.add_all(
        Symptom(
            clinic_id=clinic.id,
            code=d.code,
            name=d.name,
            action=d.action,
            expected_hours=d.expected_hours,
            expected_text=d.expected_text,
            advice=d.advice,
            area=d.area,
            spread_sign=d.spread_sign,
            position=position,
            translations={
                language: SymptomTranslation(language=language, **asdict(texts[d.code]))
                for language, texts in DEFAULT_TRANSLATIONS.items()
            },
        )
        for position, d in enumerate(DEFAULT_CATALOGUE)
    )
    db.session.flush()
    return clinic


def find_clinic(name: str) -> Clinic | None:
    """A clinic by name, ignoring case."""
    return db.session.scalar(select(Clinic).where(func.lower(Clinic.name) == name.strip().lower()))


def create_user(
    clinic: Clinic,
    email: str,
    password: str,
    role: str = "clinician",
    name: str | None = None,
    registration_number: str | None = None,
) -> User:
    """A staff member of `clinic` with a hashed password."""
    try:
        email = normalise_email(email, lower=True)
    except InvalidInput as invalid:
        message = f"{email.strip()!r} is not an email address: {invalid}"
        raise InvalidInput.on("email", message) from None
    if role not in ROLES:
        raise InvalidInput.on("role", f"Role must be one of {', '.join(ROLES)}.")
    problem = password_problem(password, email, name or "")
    if problem:
        raise InvalidInput.on("password", f"Password refused: {problem}")
    if db.session.scalar(select(User.id).where(User.email == email)):
        raise InvalidInput.on("email", f"A user with email {email} already exists.")
    user = User(
        clinic_id=clinic.id,
        email=email,
        name=name or email.split("@")[0],
        role=role,
        registration_number=registration_number,
    )
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    return user


CLINIC_ADDRESS_MAX_CHARS = 500
CLINIC_PHONE_MAX_CHARS = 40


def set_clinic_contact(
    clinic: Clinic,
    address: str | None,
    phone: str | None,
    *,
    actor: User,
    ip_address: str | None = None,
) -> bool:
    """Set (or clear) the clinic's postal address and phone, which its regulator's reports give
    for the reporter; each change audited. False if neither changed. Raises `InvalidInput`,
    changing nothing, for an address too long or a phone that is not a phone number."""
    lines = [" ".join(line.split()) for line in (address or "").splitlines()]
    address = "\n".join(line for line in lines if line) or None
    phone = (phone or "").strip() or None
    errors = {}
    if address is not None and len(address) > CLINIC_ADDRESS_MAX_CHARS:
        errors["address"] = f"Keep the address to {CLINIC_ADDRESS_MAX_CHARS} characters or fewer."
    if phone is not None and not PHONE_RE.match(phone):
        errors["phone"] = PHONE_ERROR
    if errors:
        raise InvalidInput(errors)
    changes = {"address": address, "phone": phone}
    changed = [
        audit.change_clinic_setting(clinic, name, value, actor=actor, ip_address=ip_address)
        for name, value in changes.items()
    ]
    return any(changed)
