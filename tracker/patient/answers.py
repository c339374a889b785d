"""What the patient reads back: the answer page of a check-in (with its photos) and the
timeline of their treatment (with all its photos)."""

from __future__ import annotations

from flask import abort, g, get_flashed_messages, render_template
from sqlalchemy import select

from ..extensions import db
from ..models import CheckIn, Photo, Treatment
from ..services.clinics.catalogue_admin import clinic_symptoms
from ..services.flags.timeline import build_timeline
from ..services.patients import history
from ..services.patients.followup import followed_up_treatment
from ..services.photos.photos import photos_by_checkin
from ..timeutil import utcnow
from . import bp
from .photo_forms import PHOTOS_REFUSED, AddPhotosForm
from .session import audit_patient, patient_required, sent_in_this_session


def own_checkin_or_404(checkin_id: int) -> CheckIn:
    """A check-in of the signed-in patient's (with its reports), or 404 for anyone else's."""
    checkin = history.patient_checkin(g.patient.id, checkin_id)
    if checkin is None:
        abort(404)
    return checkin


@bp.get("/checkins/<int:checkin_id>")
@patient_required
def answer(checkin_id: int):
    """What to expect and what to do about each symptom in one check-in."""
    checkin = own_checkin_or_404(checkin_id)
    refusals = get_flashed_messages(category_filter=[PHOTOS_REFUSED])
    return answer_page(checkin, photo_refusal=" ".join(refusals) or None)


def answer_page(checkin: CheckIn, status: int = 200, photo_refusal: str | None = None):
    """The answer page of one of the patient's check-ins (audited), with its photos and, in the
    session it was sent in, the form to add more; `photo_refusal` says why photos were not."""
    reports = [r for r in checkin.reports if r.severity >= 1]
    clinic_knows = history.what_the_clinic_knows(checkin, {r.symptom_id for r in reports})
    urgent = [r for r in reports if r.symptom.action == "urgent"]
    timeline = build_timeline(
        checkin.treatment, [r.symptom for r in reports], g.patient.timezone, utcnow()
    )
    audit_patient("patient.checkin.view", target=f"checkin:{checkin.id}")
    html = render_template(
        "patient/answer.html",
        checkin=checkin,
        reports=sorted(reports, key=lambda r: r.symptom.position),
        urgent=urgent,
        urgent_knows=[clinic_knows[r.symptom_id] for r in urgent if r.symptom_id in clinic_knows],
        clinic_knows=clinic_knows,
        timeline=timeline,
        photos=photos_by_checkin([checkin.id]).get(checkin.id, []),
        photos_form=AddPhotosForm() if sent_in_this_session(checkin) else None,
        photo_refusal=photo_refusal,
    )
    db.session.commit()  # after rendering: committing first would expire the rows shown
    return html, status


@bp.get("/timeline")
@patient_required
def timeline():
    """Each symptom's days against its expected duration."""
    treatment = followed_up_treatment(g.patient.id, utcnow())
    if treatment is None:
        return render_template("patient/no_treatment.html")
    data = build_timeline(
        treatment, clinic_symptoms(g.patient.clinic_id), g.patient.timezone, utcnow()
    )
    audit_patient("patient.timeline.view", target=f"treatment:{treatment.id}")
    html = render_template(
        "patient/timeline.html", timeline=data, photos=photos_of_treatment(treatment)
    )
    db.session.commit()  # after rendering: committing first would expire the rows shown
    return html


def photos_of_treatment(treatment: Treatment) -> list[tuple[CheckIn, list[Photo]]]:
    """The treatment's check-ins that have photos, oldest first, each with its photos."""
    checkins = db.session.scalars(
        select(CheckIn)
        .where(CheckIn.treatment_id == treatment.id)
        .order_by(CheckIn.reported_at, CheckIn.id)
    ).all()
    photos = photos_by_checkin([c.id for c in checkins])
    return [(c, photos[c.id]) for c in checkins if photos.get(c.id)]
