"""Clinics, their staff, and each clinic's symptom catalogue."""

from __future__ import annotations

from datetime import datetime

from flask import current_app
from flask_login import UserMixin
from sqlalchemy import CheckConstraint, Float, ForeignKey, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, attribute_keyed_dict, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from ..catalogue import ACTIONS, BODY, ENGLISH, TRANSLATED_LANGUAGES, SymptomText
from ..extensions import db
from ..timeutil import utcnow
from .types import UTCDateTime

ROLES = ("clinician", "admin")


class Clinic(db.Model):
    """A clinic: the unit every clinician's view is scoped to."""

    __tablename__ = "clinics"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/London")
    phone: Mapped[str | None] = mapped_column(String(40))
    alert_email: Mapped[str | None] = mapped_column(String(254))
    address: Mapped[str | None] = mapped_column(Text)
    """The clinic's postal address, as a regulator's report names the reporter's."""
    require_second_factor: Mapped[bool] = mapped_column(default=False, server_default=false())
    """Every clinician, not only admins, must set up a second factor to sign in."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    symptoms: Mapped[list[Symptom]] = relationship(
        back_populates="clinic", order_by="Symptom.position"
    )


class User(UserMixin, db.Model):
    """A member of a clinic's staff: a clinician, or an admin who also manages the clinic."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint(f"role IN {ROLES}", name="role_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"), index=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20), default="clinician")
    registration_number: Mapped[str | None] = mapped_column(String(60))
    profession: Mapped[str | None] = mapped_column(String(80))
    """E.g. "Nurse prescriber", "Doctor", as a regulator's report names its reporter."""
    is_active: Mapped[bool] = mapped_column(default=True)
    session_version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    clinic: Mapped[Clinic] = relationship()

    def set_password(self, password: str) -> None:
        """Store a memory-hard (scrypt) hash of `password`, never the password itself."""
        method = current_app.config["PASSWORD_HASH_METHOD"] if current_app else "scrypt"
        self.password_hash = generate_password_hash(password, method=method)

    def check_password(self, password: str) -> bool:
        """True if `password` matches the stored hash."""
        return check_password_hash(self.password_hash, password)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


class Symptom(db.Model):
    """One entry of a clinic's symptom catalogue: what to expect and what the rules do."""

    __tablename__ = "symptoms"
    __table_args__ = (
        UniqueConstraint("clinic_id", "code"),
        CheckConstraint(f"action IN {ACTIONS}", name="action_known"),
        CheckConstraint("expected_hours IS NULL OR expected_hours > 0", name="expected_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(20))
    expected_hours: Mapped[float | None] = mapped_column(Float)
    expected_text: Mapped[str] = mapped_column(Text, default="")
    advice: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(default=0)
    area: Mapped[str] = mapped_column(String(20), default=BODY, server_default=BODY)
    """Where it is felt (catalogue.AREAS): the check-in groups its questions by area."""
    spread_sign: Mapped[bool] = mapped_column(default=False, server_default=false())
    """A sign the toxin may have spread beyond the injection sites (the batch watch counts it)."""
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    clinic: Mapped[Clinic] = relationship(back_populates="symptoms")
    translations: Mapped[dict[str, SymptomTranslation]] = relationship(
        back_populates="symptom",
        collection_class=attribute_keyed_dict("language"),
        cascade="all, delete-orphan",
    )
    """By language. Lists of entries load them with `catalogue_admin.WITH_TRANSLATIONS`."""

    def translation(self, language: str) -> SymptomText | None:
        """The entry's text in `language` as a patient may read it, or None: not translated, or
        the translation may no longer say what the English says."""
        row = self.translations.get(language) if language != ENGLISH else None
        if row is None or row.outdated:
            return None
        return SymptomText(
            row.name or self.name,
            row.expected_text or self.expected_text,
            row.advice or self.advice,
        )

    @property
    def current_translations(self) -> dict[str, SymptomText]:
        """The entry's text in each language it has a current translation in (not English)."""
        texts = {language: self.translation(language) for language in TRANSLATED_LANGUAGES}
        return {language: text for language, text in texts.items() if text is not None}

    def text(self, language: str = ENGLISH) -> SymptomText:
        """The entry's text in `language`; in English where it has no (current) translation,
        field by field where a translated field is left empty."""
        return self.translation(language) or SymptomText(self.name, self.expected_text, self.advice)


_TRANSLATED_SQL = ", ".join(f"'{language}'" for language in TRANSLATED_LANGUAGES)


class SymptomTranslation(db.Model):
    """A catalogue entry's patient-facing text in another language than English.

    An empty field falls back to the English one. `outdated` is set when the English text is
    changed without the translation: patients then read the English until an admin checks it.
    """

    __tablename__ = "symptom_translations"
    __table_args__ = (
        UniqueConstraint("symptom_id", "language"),
        CheckConstraint(f"language IN ({_TRANSLATED_SQL})", name="language_translated"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    symptom_id: Mapped[int] = mapped_column(ForeignKey("symptoms.id"))
    language: Mapped[str] = mapped_column(String(8))
    name: Mapped[str] = mapped_column(String(120), default="")
    expected_text: Mapped[str] = mapped_column(Text, default="")
    advice: Mapped[str] = mapped_column(Text, default="")
    outdated: Mapped[bool] = mapped_column(default=False, server_default=false())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    symptom: Mapped[Symptom] = relationship(back_populates="translations")
