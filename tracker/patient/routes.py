"""Views of the patient's pages. Each checks who is asking via `patient_required`."""

from __future__ import annotations

from flask import abort, g, redirect, render_template, request, url_for

from ..extensions import db
from ..forms import Form
from ..infrastructure.database import restart_write
from ..invalid import InvalidInput
from ..models import PatientLink
from ..services.clinics.catalogue_admin import clinic_symptoms
from ..services.flags.timeline import build_timeline, treatment_day
from ..services.patients import fresh_links, history
from ..services.patients.checkins import record_checkin
from ..services.patients.followup import followed_up_treatment
from ..services.patients.fresh_links import FreshLink, daily_cap, offers_fresh_link
from ..services.patients.links import LinkState, check_link, use_link
from ..timeutil import utcnow
from . import bp
from .forms import CheckInForm, NoSymptomsForm, OpenLinkForm
from .session import (
    WAY_BACK,
    audit_patient,
    current_patient,
    end_patient_session,
    patient_required,
    start_patient_session,
)

LINK_PROBLEM_STATUS = {
    LinkState.INVALID: 404,
    LinkState.EXPIRED: 410,
    LinkState.USED: 410,
    LinkState.REVOKED: 410,
}


FRESH_LINK_STATES = (LinkState.EXPIRED, LinkState.USED)
"""Links whose page offers to email a fresh one (not revoked ones: the clinic withdrew them)."""


FRESH_LINK_STATUS = {FreshLink.SENT: 200, FreshLink.RECENT: 200, FreshLink.CAPPED: 429}
"""The status of the page answering a request for a fresh link (withdrawn: the link's own)."""


def _link_problem(
    state: LinkState, link: PatientLink | None = None, fresh: FreshLink | None = None
):
    status = FRESH_LINK_STATUS.get(fresh, LINK_PROBLEM_STATUS[state])
    offer = state in FRESH_LINK_STATES and link is not None and offers_fresh_link(link)
    return render_template(
        "patient/link_problem.html",
        state=state.value,
        offer_fresh_link=offer and fresh is None,
        fresh_link=fresh.value if fresh else None,
        fresh_link_cap=daily_cap(),
    ), status


@bp.get("/p/<token>")
def open_link(token: str):
    """Show the start button; fetching this page does not use the link up."""
    found = check_link(token)
    if found.state is not LinkState.VALID:
        return _link_problem(found.state, found.link)
    return render_template("patient/open_link.html", form=OpenLinkForm())


@bp.post("/p/<token>")
def start_session(token: str):
    """Use the link up and start the patient's session."""
    form = OpenLinkForm()
    if not form.validate_on_submit():
        abort(400)
    found = use_link(token)
    if found.state is not LinkState.VALID or found.link is None:
        return _link_problem(found.state, found.link)
    start_patient_session(found.link.patient)
    g.patient = found.link.patient
    audit_patient("patient.link.use", target=f"link:{found.link.id}")
    db.session.commit()
    return redirect(url_for("patient.checkin"))


@bp.post("/p/<token>/fresh")
def request_fresh_link(token: str):
    """Email a fresh link to the address on file for the patient of an expired or used link.

    The page says whether one was queued (or why not), never the address; a forged or unknown
    token gets the "not recognised" page and sends nothing.
    """
    if not Form().validate_on_submit():  # the form is only its CSRF token
        abort(400)
    found = check_link(token)
    if found.state is LinkState.VALID:
        return redirect(url_for("patient.open_link", token=token))
    if found.state not in FRESH_LINK_STATES or found.link is None:
        return _link_problem(found.state, found.link)
    outcome = fresh_links.request_fresh_link(found.link, request.remote_addr)
    db.session.commit()
    return _link_problem(found.state, found.link, fresh=outcome)


@bp.post("/patient/signout")
def sign_out():
    """End this browser's patient session on the server, and say how to come back."""
    if not Form().validate_on_submit():  # the form is only its CSRF token
        abort(400)
    if current_patient() is not None:
        audit_patient("patient.session.end")
        end_patient_session()
        db.session.commit()
    return render_template("patient/signed_out.html", way_back=WAY_BACK)


@bp.route("/checkin", methods=["GET", "POST"])
@patient_required
def checkin():
    """Today's check-in form; saving it shows the answer page."""
    treatment = followed_up_treatment(g.patient.id, utcnow())
    if treatment is None:
        return render_template("patient/no_treatment.html")
    form = CheckInForm.for_catalogue(clinic_symptoms(g.patient.clinic_id))
    status = 200
    if request.method == "POST":
        unknown = form.unknown_codes(request.form.keys())
        if form.validate_on_submit() and not unknown:
            try:
                result = record_checkin(
                    treatment, form.entries(g.patient.timezone), note=form.note.data
                )
            except InvalidInput as invalid:
                form.show_refusal(invalid)
            else:
                audit_patient("patient.checkin.create", target=f"checkin:{result.checkin.id}")
                db.session.commit()
                return redirect(url_for("patient.answer", checkin_id=result.checkin.id))
        if unknown:
            form.form_errors.append(f"Unknown symptom: {', '.join(unknown)}. Nothing was saved.")
        restart_write()
        status = 422
    previous = build_timeline(treatment, form.symptoms, g.patient.timezone, utcnow())
    # The form shows what was reported before (health data), also when shown again after a refusal.
    audit_patient("patient.checkin_form.view", target=f"treatment:{treatment.id}")
    html = render_template(
        "patient/checkin.html",
        form=form,
        none_form=NoSymptomsForm(),
        treatment=treatment,
        timeline=previous,
        day=treatment_day(treatment, utcnow(), g.patient.timezone),
    )
    db.session.commit()  # after rendering: committing first would expire the rows shown
    return html, status


@bp.post("/checkin/none")
@patient_required
def no_symptoms():
    """ "No symptoms today": a check-in with nothing to report, in one tap."""
    treatment = followed_up_treatment(g.patient.id, utcnow())
    if treatment is None or not NoSymptomsForm().validate_on_submit():
        abort(400)
    result = record_checkin(treatment, [])
    audit_patient("patient.checkin.create", target=f"checkin:{result.checkin.id}")
    db.session.commit()
    return redirect(url_for("patient.answer", checkin_id=result.checkin.id))


@bp.get("/checkins/<int:checkin_id>")
@patient_required
def answer(checkin_id: int):
    """What to expect and what to do about each symptom in one check-in."""
    checkin = history.patient_checkin(g.patient.id, checkin_id)
    if checkin is None:
        abort(404)
    reports = [r for r in checkin.reports if r.severity >= 1]
    clinic_knows = history.what_the_clinic_knows(checkin, {r.symptom_id for r in reports})
    urgent = [r for r in reports if r.symptom.action == "urgent"]
    timeline = build_timeline(
        checkin.treatment, [r.symptom for r in reports], g.patient.timezone, utcnow()
    )
    audit_patient("patient.checkin.view", target=f"checkin:{checkin.id}")
    db.session.commit()
    return render_template(
        "patient/answer.html",
        checkin=checkin,
        reports=sorted(reports, key=lambda r: r.symptom.position),
        urgent=urgent,
        urgent_knows=[clinic_knows[r.symptom_id] for r in urgent if r.symptom_id in clinic_knows],
        clinic_knows=clinic_knows,
        timeline=timeline,
    )


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
    db.session.commit()
    return render_template("patient/timeline.html", timeline=data)
