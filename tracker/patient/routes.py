"""Views of the patient's pages. Each checks who is asking via `patient_required`."""

from __future__ import annotations

from collections.abc import Sequence

from flask import (
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..catalogue import ENGLISH
from ..extensions import db
from ..forms import Form
from ..i18n import current_locale, show_page_to
from ..infrastructure.database import restart_write
from ..invalid import InvalidInput
from ..models import CheckIn, PatientLink, SymptomReport, Treatment
from ..photo_files import photos_chosen, uploaded_photos
from ..services.clinics.catalogue_admin import clinic_symptoms
from ..services.flags.timeline import build_timeline, treatment_day
from ..services.patients import fresh_links
from ..services.patients.checkins import SymptomEntry, record_checkin
from ..services.patients.followup import followed_up_treatment
from ..services.patients.fresh_links import FreshLink, daily_cap, offers_fresh_link
from ..services.patients.links import LinkState, check_link, use_link
from ..services.photos.photos import add_photos
from ..timeutil import local_date, utcnow
from . import bp
from .forms import CheckInForm, NoSymptomsForm, OpenLinkForm, SameAsLastForm
from .photo_forms import PHOTOS_REFUSED
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
    if link is not None:
        show_page_to(link.patient)
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
    show_page_to(found.link.patient)
    return render_template(
        "patient/open_link.html", form=OpenLinkForm(), none_form=NoSymptomsForm()
    )


def _use_link_and_sign_in(token: str, form) -> PatientLink | tuple:
    """Use the link up and start the patient's session; or the page saying why not."""
    if not form.validate_on_submit():
        abort(400)
    found = use_link(token)
    if found.state is not LinkState.VALID or found.link is None:
        return _link_problem(found.state, found.link)
    start_patient_session(found.link.patient)
    g.patient = found.link.patient
    audit_patient("patient.link.use", target=f"link:{found.link.id}")
    return found.link


@bp.post("/p/<token>")
def start_session(token: str):
    """Use the link up and start the patient's session."""
    link = _use_link_and_sign_in(token, OpenLinkForm())
    if not isinstance(link, PatientLink):
        return link
    db.session.commit()
    return redirect(url_for("patient.checkin"))


@bp.post("/p/<token>/none")
def start_with_no_symptoms(token: str):
    """ "No symptoms today" from the link's first page: use the link, start the session and
    record a check-in with nothing to report, in one tap (as the invite email promises)."""
    link = _use_link_and_sign_in(token, NoSymptomsForm())
    if not isinstance(link, PatientLink):
        return link
    treatment = followed_up_treatment(g.patient.id, utcnow())
    if treatment is None:
        db.session.commit()
        return render_template("patient/no_treatment.html")
    return _recorded(treatment, [])


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
    return render_template("patient/signed_out.html", way_back=gettext(WAY_BACK))


@bp.route("/checkin", methods=["GET", "POST"])
@patient_required
def checkin():
    """Today's check-in form; saving it shows the answer page."""
    treatment = followed_up_treatment(g.patient.id, utcnow())
    if treatment is None:
        return render_template("patient/no_treatment.html")
    language = current_locale()
    symptoms = clinic_symptoms(g.patient.clinic_id, with_translations=language != ENGLISH)
    form = CheckInForm.for_catalogue(symptoms, language)
    status = 200
    if request.method == "POST":
        unknown = form.unknown_codes(request.form.keys())
        twice = form.duplicated(request.form)
        if form.validate_on_submit() and not unknown and not twice:
            try:
                entries = form.entries(g.patient.timezone)
                uploads = uploaded_photos(request.files)
                return _recorded(treatment, entries, note=form.note.data, uploads=uploads)
            except InvalidInput as invalid:
                form.show_refusal(invalid)
        if unknown:
            form.form_errors.append(
                gettext("Unknown symptom: %(codes)s. Nothing was saved.", codes=", ".join(unknown))
            )
        if twice:
            form.form_errors.append(
                gettext(
                    "Answered twice: %(names)s. Give one answer each. Nothing was saved.",
                    names=", ".join(twice),
                )
            )
        if photos_chosen(request.files):
            form.form_errors.append(
                gettext("Your photos were not saved either: choose them again.")
            )
        restart_write()
        status = 422
    # Read only to show the form: a check-in that is saved never needs the last one.
    last = last_checkin(treatment)
    last_severities = _severities(last)
    if request.method != "POST":
        form.prefill(last_severities)
    previous = build_timeline(treatment, form.symptoms, g.patient.timezone, utcnow())
    last_time = [s for s in form.graded_symptoms if last_severities.get(s.code, 0) >= 1]
    # The form shows what was reported before (health data), also when shown again after a refusal.
    audit_patient("patient.checkin_form.view", target=f"treatment:{treatment.id}")
    html = render_template(
        "patient/checkin.html",
        form=form,
        none_form=NoSymptomsForm(),
        same_form=SameAsLastForm() if last_severities else None,
        last_time=last_time,
        others=form.by_area(exclude=[s.code for s in last_time]),
        today_checkin=last if last and _is_today(last) else None,
        treatment=treatment,
        timeline=previous,
        day=treatment_day(treatment, utcnow(), g.patient.timezone),
    )
    db.session.commit()  # after rendering: committing first would expire the rows shown
    return html, status


def last_checkin(treatment: Treatment) -> CheckIn | None:
    """The treatment's latest check-in (by when it was reported), with its reports."""
    return db.session.scalar(
        select(CheckIn)
        .where(CheckIn.treatment_id == treatment.id)
        .options(selectinload(CheckIn.reports).selectinload(SymptomReport.symptom))
        .order_by(CheckIn.reported_at.desc(), CheckIn.id.desc())
        .limit(1)
    )


def _severities(checkin: CheckIn | None) -> dict[str, int]:
    """The symptoms a check-in reported (severity 1 or more) by code."""
    if checkin is None:
        return {}
    return {r.symptom.code: r.severity for r in checkin.reports if r.severity >= 1}


def _is_today(checkin: CheckIn) -> bool:
    """Whether `checkin` was reported today, on the patient's own calendar."""
    tz = g.patient.timezone
    return local_date(checkin.reported_at, tz) == local_date(utcnow(), tz)


def _recorded(
    treatment: Treatment,
    entries: list[SymptomEntry],
    note: str | None = None,
    uploads: Sequence[bytes] = (),
):
    """Record a check-in (and its photos), audit it, commit, and show its answer page.

    A photo refused does not refuse the check-in: its symptoms are saved (and an urgent one
    alerts the clinic) at once, whatever the photos, and the answer page says which photos
    were refused and why, with the form to add them again. Showing the check-in form again
    instead would lose nothing typed, but would hold back a report that may be urgent until
    the patient finds a photo the server accepts, and the chosen files would be lost anyway
    (a browser never fills a file input in again).
    """
    result = record_checkin(treatment, entries, note=note)
    checkin_id = result.checkin.id  # read before the commit expires it (no re-read after)
    audit_patient("patient.checkin.create", target=f"checkin:{checkin_id}")
    if uploads:  # a check-in without photos costs not one statement more
        try:
            add_photos(result.checkin, uploads)
        except InvalidInput as refused:
            refusal = gettext(
                "Your check-in was saved, but not your photos: %(reason)s", reason=refused
            )
            flash(refusal, PHOTOS_REFUSED)
        else:
            audit_patient("patient.photo.add", target=f"checkin:{checkin_id}")
    db.session.commit()
    return redirect(url_for("patient.answer", checkin_id=checkin_id))


@bp.post("/checkin/none")
@patient_required
def no_symptoms():
    """ "No symptoms today": a check-in with nothing to report, in one tap."""
    treatment = followed_up_treatment(g.patient.id, utcnow())
    if treatment is None or not NoSymptomsForm().validate_on_submit():
        abort(400)
    return _recorded(treatment, [])


@bp.post("/checkin/same")
@patient_required
def same_as_last():
    """ "Same as yesterday": a check-in with exactly the last check-in's severities, in one tap.

    The severities are read here from the last check-in, never from the request (which is only
    its CSRF token); without a last check-in that reported something there is nothing to copy.
    """
    treatment = followed_up_treatment(g.patient.id, utcnow())
    if treatment is None or not SameAsLastForm().validate_on_submit():
        abort(400)
    severities = _severities(last_checkin(treatment))
    if not severities:
        abort(400)
    return _recorded(treatment, [SymptomEntry(code, n) for code, n in severities.items()])
