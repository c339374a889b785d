"""The patient's pages, through the browser: check in, see the answer and the timeline.

Every test drives the real app with CSRF on, as a patient's phone would: open the personal link,
press its button, fill in the form. Time is moved with `time_machine`, never slept.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy
from sqlalchemy import select

from tests.conftest import TREATED_AT, PatientActions, csrf_token, make_app
from tracker.extensions import db
from tracker.models import (
    AuditEvent,
    CheckIn,
    Flag,
    OutboxMessage,
    Patient,
    SymptomReport,
    Treatment,
)
from tracker.patient.forms import SEVERITY_ERROR as LAZY_SEVERITY_ERROR
from tracker.services.clinics.clinics import create_clinic
from tracker.services.flags.flagging import sweep
from tracker.services.messaging.alerts import URGENT_ALERT
from tracker.services.patients.checkins import SymptomEntry, record_checkin
from tracker.services.patients.links import issue_link, revoke_links

SEVERITY_ERROR = str(LAZY_SEVERITY_ERROR)  # in English, as the test client reads it

DAY1 = TREATED_AT + timedelta(days=1)
"""The morning after the treatment: the first reminder day."""
SESSION_ENDED = "Open the link in your latest email"


# --- helpers ---------------------------------------------------------------------------------


def count(model) -> int:
    return len(db.session.scalars(select(model)).all())


def flags_of(treatment: Treatment) -> list[tuple[str, str | None]]:
    """The treatment's flags as (reason, symptom code), sorted."""
    flags = db.session.scalars(select(Flag).where(Flag.treatment_id == treatment.id))
    return sorted((f.reason, f.symptom.code if f.symptom else None) for f in flags)


def follow(client, response):
    """The page a POST redirected to."""
    assert response.status_code == 302, response.text
    return client.get(response.headers["Location"])


def checked_severity(html: str, code: str) -> str | None:
    """The severity radio button that is checked for `code` in a rendered check-in form."""
    checked = [
        re.search(r'value="([^"]*)"', tag).group(1)
        for tag in re.findall(rf'<input[^>]*name="severity_{code}"[^>]*>', html)
        if re.search(r"\schecked[\s>]", tag)
    ]
    assert len(checked) <= 1
    return checked[0] if checked else None


def timeline_days(html: str) -> dict[str, list[tuple[str, str, str, str]]]:
    """Each timeline row by symptom name: its "Day by day" table as (day, date, severity, longer
    than expected), the words a phone shows without hovering."""
    rows = {}
    for block in html.split('<div class="timeline-row">')[1:]:
        name = re.search(r"<h2>(.*?)</h2>", block).group(1)
        body = block.split("<tbody>")[1].split("</tbody>")[0]
        rows[name] = [
            tuple(re.sub(r"<[^>]+>", "", cell).strip() for cell in cells)
            for cells in (
                re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", tr, re.S)
                for tr in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
            )
        ]
    return rows


@pytest.fixture
def signed_in(make_patient, patient_actions, time_machine):
    """Pat, treated yesterday, has opened this morning's link."""
    time_machine.move_to(DAY1, tick=False)
    patient, treatment = make_patient()
    assert patient_actions.sign_in(patient).status_code == 302
    return patient, treatment


def check_in_on(time_machine, patient_actions, patient, when, severities, **fields):
    """Move to `when`, open a fresh link (as from that day's reminder) and send a check-in."""
    time_machine.move_to(when, tick=False)
    assert patient_actions.sign_in(patient).status_code == 302
    response = patient_actions.submit_checkin(severities, **fields)
    assert response.status_code == 302, response.text
    return response


# --- every flag reason, as the patient and the clinic see it ---------------------------------


def test_urgent_symptom_shows_emergency_advice_first_and_alerts_the_clinic(
    client, clinic, signed_in, patient_actions
):
    _, treatment = signed_in
    clinic.alert_email = "alerts@riverside.test"
    response = patient_actions.submit_checkin({"difficulty_breathing": 1, "headache": 1})
    answer = follow(client, response)
    assert answer.status_code == 200
    assert "Get medical help now" in answer.text
    assert 'Call <a class="tel" href="tel:999">999</a>' in answer.text
    assert "Your clinic has been alerted" in answer.text
    assert answer.text.index('Call <a class="tel" href="tel:999">999</a>') < answer.text.index(
        "Thank you"
    )
    assert answer.text.index('Call <a class="tel" href="tel:999">999</a>') < answer.text.index(
        "Headache"
    )
    assert flags_of(treatment) == [("urgent", "difficulty_breathing")]


def test_urgent_symptom_with_nobody_to_alert_does_not_claim_the_clinic_was_alerted(
    client, signed_in, patient_actions
):
    # The clinic has neither an alert address nor an active admin: the flag opens, no email.
    _, treatment = signed_in
    answer = follow(client, patient_actions.submit_checkin({"difficulty_swallowing": 2}))
    assert flags_of(treatment) == [("urgent", "difficulty_swallowing")]
    assert 'Call <a class="tel" href="tel:999">999</a>' in answer.text
    assert "has been alerted" not in answer.text
    assert "Then tell your clinic" in answer.text
    assert "Your clinic has been told" not in answer.text


def test_urgent_symptom_reported_again_while_its_flag_is_open_says_since_when(
    client, clinic, make_patient, patient_actions, time_machine
):
    clinic.alert_email = "alerts@riverside.test"
    patient, treatment = make_patient()
    first = check_in_on(time_machine, patient_actions, patient, DAY1, {"vision_problems": 1})
    assert "Your clinic has been alerted" in follow(client, first).text
    again = check_in_on(
        time_machine, patient_actions, patient, DAY1 + timedelta(days=1), {"vision_problems": 1}
    )
    answer = follow(client, again)
    assert answer.text.index('Call <a class="tel" href="tel:999">999</a>') < answer.text.index(
        "Thank you"
    )
    assert "has been alerted" not in answer.text  # this check-in queued no alert
    assert "Your clinic already knows about this (since Tue 03 Mar, 10:00)" in answer.text


def report_again_after_resolution(clinic, make_patient, patient_actions, time_machine):
    """Difficulty breathing on day 1, the flag resolved, then reported again two hours later."""
    patient, treatment = make_patient()
    check_in_on(time_machine, patient_actions, patient, DAY1, {"difficulty_breathing": 1})
    flag = db.session.scalars(select(Flag)).one()
    flag.status, flag.resolved_at, flag.outcome = "resolved", DAY1, "reassured"
    db.session.commit()
    again = check_in_on(
        time_machine,
        patient_actions,
        patient,
        DAY1 + timedelta(hours=2),
        {"difficulty_breathing": 1},
    )
    return treatment, again


def urgent_alerts_for(flag: Flag) -> list[OutboxMessage]:
    return list(
        db.session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.kind == URGENT_ALERT,
                OutboxMessage.dedupe_key.startswith(f"urgent:{flag.id}"),
            )
        )
    )


def test_urgent_symptom_reported_again_after_its_flag_was_resolved_says_the_clinic_was_alerted(
    client, clinic, make_patient, patient_actions, time_machine
):
    clinic.alert_email = "alerts@riverside.test"
    _, again = report_again_after_resolution(clinic, make_patient, patient_actions, time_machine)
    answer = follow(client, again)
    (reopened,) = db.session.scalars(select(Flag).where(Flag.status == "open")).all()
    assert reopened.reason == "urgent"
    assert [m.to_address for m in urgent_alerts_for(reopened)] == ["alerts@riverside.test"]
    assert answer.text.index('Call <a class="tel" href="tel:999">999</a>') < answer.text.index(
        "Your clinic has been alerted"
    )
    assert "already knows" not in answer.text


def test_urgent_symptom_reported_again_with_nobody_to_alert_claims_no_alert_it_did_not_send(
    client, clinic, make_patient, patient_actions, time_machine
):
    # The new flag opens, but the clinic has no alert address and no admin: no email queued.
    _, again = report_again_after_resolution(clinic, make_patient, patient_actions, time_machine)
    answer = follow(client, again)
    (reopened,) = db.session.scalars(select(Flag).where(Flag.status == "open")).all()
    assert urgent_alerts_for(reopened) == []
    assert (
        "Get medical help now" in answer.text
        and 'Call <a class="tel" href="tel:999">999</a>' in answer.text
    )
    assert "has been alerted" not in answer.text
    assert "Then tell your clinic" in answer.text


def test_emergency_number_is_the_configured_one(database_uri, make_patient, time_machine):
    time_machine.move_to(DAY1, tick=False)
    patient, _ = make_patient()
    abroad = make_app(database_uri, EMERGENCY_NUMBER="112")
    try:
        actions = PatientActions(abroad.test_client())
        assert actions.sign_in(patient).status_code == 302
        answer = follow(actions.client, actions.submit_checkin({"vision_problems": 2}))
        assert 'Call <a class="tel" href="tel:112">112</a>' in answer.text
        assert 'Call <a class="tel" href="tel:999">999</a>' not in answer.text
    finally:
        with abroad.app_context():
            db.engine.dispose()


def test_emergency_number_changed_in_app_config_is_shown(app, client, signed_in, patient_actions):
    app.config["EMERGENCY_NUMBER"] = "000"
    answer = follow(client, patient_actions.submit_checkin({"muscle_weakness": 3}))
    assert 'Call <a class="tel" href="tel:000">000</a>' in answer.text


def test_review_symptom_is_flagged_for_the_clinic_without_emergency_advice(
    client, signed_in, patient_actions
):
    _, treatment = signed_in
    answer = follow(client, patient_actions.submit_checkin({"eyelid_drooping": 1}))
    assert "Eyelid drooping" in answer.text
    assert "Your clinic has been told about this" in answer.text
    assert "Get medical help now" not in answer.text
    assert flags_of(treatment) == [("review", "eyelid_drooping")]


def test_very_severe_symptom_is_flagged_severe(client, signed_in, patient_actions):
    _, treatment = signed_in
    answer = follow(client, patient_actions.submit_checkin({"headache": 4}))
    assert "Very severe" in answer.text
    assert "Your clinic has been told about this" in answer.text
    assert flags_of(treatment) == [("severe", "headache")]


def test_mild_expected_symptom_raises_nothing(client, signed_in, patient_actions):
    _, treatment = signed_in
    answer = follow(client, patient_actions.submit_checkin({"bruising": 1}))
    assert "Bruising usually fades within a few days." in answer.text
    assert "Your clinic has been told" not in answer.text
    assert flags_of(treatment) == []


def test_symptom_getting_worse_a_day_later_is_flagged_worsening(
    client, make_patient, patient_actions, time_machine
):
    patient, treatment = make_patient()
    check_in_on(time_machine, patient_actions, patient, DAY1, {"headache": 1})
    assert flags_of(treatment) == []
    response = check_in_on(
        time_machine, patient_actions, patient, DAY1 + timedelta(days=1), {"headache": 2}
    )
    assert flags_of(treatment) == [("worsening", "headache")]
    answer = follow(client, response)
    assert "Your clinic has been told about this" in answer.text


def test_symptom_lasting_longer_than_expected_is_flagged_overdue_and_shown(
    client, make_patient, patient_actions, time_machine
):
    patient, treatment = make_patient()
    response = check_in_on(time_machine, patient_actions, patient, DAY1, {"bruising": 1})
    answer_url = response.headers["Location"]
    runs_out = DAY1 + timedelta(hours=72)  # bruising is expected to fade within 72 hours

    sweep(now=runs_out)
    db.session.commit()
    assert ("overdue", "bruising") not in flags_of(treatment)
    time_machine.move_to(runs_out, tick=False)
    assert patient_actions.sign_in(patient).status_code == 302
    assert "lasted longer than expected" not in client.get(answer_url).text
    days = timeline_days(client.get("/timeline").text)["Bruising"]
    assert [over for *_, over in days] == ["No"] * 5

    later = runs_out + timedelta(minutes=1)
    sweep(now=later)
    sweep(now=later)  # idempotent
    db.session.commit()
    assert flags_of(treatment).count(("overdue", "bruising")) == 1
    time_machine.move_to(later, tick=False)
    answer = client.get(answer_url)
    assert "This has lasted longer than expected." in answer.text
    # The sweep's flag came after this check-in: the clinic knows, since the sweep's minute.
    assert "Your clinic already knows about this (since Fri 06 Mar, 10:01)" in answer.text
    timeline = client.get("/timeline").text
    days = timeline_days(timeline)["Bruising"]
    assert [over for *_, over in days] == ["No", "No", "No", "No", "Yes"]
    assert days[4] == ("4 (today)", "Fri 06 Mar", "No check-in (still there)", "Yes")


def test_patient_who_stops_answering_is_flagged_no_response(make_patient):
    _, treatment = make_patient()
    sweep(now=TREATED_AT + timedelta(hours=47, minutes=59))
    db.session.commit()
    assert flags_of(treatment) == []
    sweep(now=TREATED_AT + timedelta(hours=48))
    sweep(now=TREATED_AT + timedelta(hours=49))
    db.session.commit()
    assert flags_of(treatment) == [("no_response", None)]


def test_check_in_resets_the_no_response_clock(make_patient, patient_actions, time_machine):
    patient, treatment = make_patient()
    check_in_on(time_machine, patient_actions, patient, DAY1, {})
    sweep(now=DAY1 + timedelta(hours=47))
    db.session.commit()
    assert flags_of(treatment) == []
    sweep(now=DAY1 + timedelta(hours=48))
    db.session.commit()
    assert flags_of(treatment) == [("no_response", None)]


# --- "No symptoms today" -----------------------------------------------------------------------


def test_no_symptoms_today_is_one_tap(client, signed_in, patient_actions):
    _, treatment = signed_in
    page = patient_actions.checkin_page()
    assert "No symptoms today" in page.text
    response = client.post("/checkin/none", data={"csrf_token": csrf_token(page.text)})
    answer = follow(client, response)
    assert answer.status_code == 200
    assert "Thank you: nothing to report today" in answer.text
    checkin = db.session.scalars(select(CheckIn)).one()
    assert checkin.treatment_id == treatment.id
    assert checkin.reported_at == DAY1
    assert checkin.reports == []
    assert flags_of(treatment) == []


# --- bad input: a clear error, nothing stored, never a 500 -------------------------------------


def assert_nothing_stored():
    assert count(CheckIn) == 0
    assert count(SymptomReport) == 0
    assert count(Flag) == 0
    actions = db.session.scalars(select(AuditEvent.action)).all()
    assert "patient.checkin.create" not in actions


CLOCKS_FORWARD = "01:30 on 29 March 2026 does not exist in UK time: the clocks went forward."
CLOCKS_BACK = "01:30 on 25 October 2026 happens twice in UK time: the clocks went back"


def headache_since(onset: str) -> dict[str, str]:
    return {"severity_headache": "2", "onset_headache": onset}


# The patient is signed in on DAY1 at 10:00 London time (GMT in March).
BAD_FORMS = {
    "unknown symptom": ({"severity_bogus": "2"}, "Unknown symptom: bogus"),
    "severity above the scale": ({"severity_headache": "5"}, SEVERITY_ERROR),
    "negative severity": ({"severity_headache": "-1"}, SEVERITY_ERROR),
    "text for a severity": ({"severity_headache": "abc"}, SEVERITY_ERROR),
    "onset in the future": (
        {"severity_headache": "2", "onset_headache": "2026-03-03T11:00"},
        "A symptom cannot start after the check-in.",
    ),
    "onset before the treatment": (
        {"severity_headache": "2", "onset_headache": "2026-03-01T09:00"},
        "starts after the treatment",
    ),
    # London's clocks skip 01:00-02:00 on 29 March 2026 and repeat 01:00-02:00 on 25 October
    "onset the clocks skipped": (headache_since("2026-03-29T01:30"), CLOCKS_FORWARD),
    "onset the clocks repeated": (headache_since("2026-10-25T01:30"), CLOCKS_BACK),
    "onset that is not a date": (
        {"severity_headache": "2", "onset_headache": "yesterday"},
        "Not a valid datetime value.",
    ),
    "note over 2,000 characters": (
        {"severity_headache": "1", "note": "x" * 2001},
        "Keep the note to 2,000 characters or fewer.",
    ),
}


@pytest.mark.parametrize("fields, message", BAD_FORMS.values(), ids=BAD_FORMS.keys())
def test_bad_input_gets_a_clear_error_and_stores_nothing(
    signed_in, patient_actions, fields, message
):
    response = patient_actions.submit_checkin(**fields)
    assert response.status_code == 422
    assert "Please check your answers" in response.text
    assert "Nothing was saved" in response.text
    assert message in response.text
    assert_nothing_stored()


def test_a_note_of_exactly_2000_characters_is_accepted(signed_in, patient_actions):
    response = patient_actions.submit_checkin({"headache": 1}, note="y" * 2000)
    assert response.status_code == 302
    assert db.session.scalars(select(CheckIn)).one().note == "y" * 2000


def test_a_2_mb_note_gets_a_friendly_413_and_stores_nothing(signed_in, patient_actions):
    response = patient_actions.submit_checkin({"headache": 1}, note="x" * (2 * 1024 * 1024))
    assert response.status_code == 413
    assert "That was too much to send" in response.text
    assert "Nothing was saved" in response.text
    assert "Traceback" not in response.text
    assert_nothing_stored()


@pytest.mark.parametrize("path", ["/checkin", "/checkin/none"])
def test_a_form_without_its_csrf_token_is_refused_with_a_clear_page(client, signed_in, path):
    response = client.post(path, data={"severity_headache": "2"})
    assert response.status_code == 400
    assert "did not come from this site, so nothing was saved" in response.text
    assert_nothing_stored()


def test_a_form_with_a_forged_csrf_token_is_refused(client, signed_in):
    response = client.post("/checkin", data={"csrf_token": "forged", "severity_headache": "2"})
    assert response.status_code == 400
    assert_nothing_stored()


def test_the_form_keeps_what_the_patient_entered_when_it_shows_an_error(signed_in, patient_actions):
    response = patient_actions.submit_checkin(
        {"bruising": 3, "headache": 2, "nausea": 9},
        onset_headache="2026-03-03T08:15",
        note="Took <b>paracetamol</b>",
    )
    assert response.status_code == 422
    assert checked_severity(response.text, "bruising") == "3"
    assert checked_severity(response.text, "headache") == "2"
    assert checked_severity(response.text, "redness") == "0"
    assert 'value="2026-03-03T08:15"' in response.text
    assert "Took &lt;b&gt;paracetamol&lt;/b&gt;" in response.text  # kept, and escaped
    assert "<b>paracetamol" not in response.text
    assert_nothing_stored()


def test_a_fresh_form_has_none_chosen_for_every_symptom(signed_in, patient_actions):
    page = patient_actions.checkin_page()
    assert checked_severity(page.text, "bruising") == "0"
    assert checked_severity(page.text, "eyelid_drooping") == "0"
    assert 'name="urgent"' in page.text
    assert 'name="urgent" type="checkbox" value="difficulty_breathing" checked' not in page.text


# --- time zones ----------------------------------------------------------------------------------

SYDNEY_TREATED_AT = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
"""Tuesday 3 March, 01:00 in Sydney (AEDT, UTC+11); still Monday 2 March in London."""


def test_onset_given_in_the_patients_local_time_is_stored_as_utc(
    make_patient, patient_actions, time_machine
):
    time_machine.move_to(SYDNEY_TREATED_AT + timedelta(days=1), tick=False)  # 01:00 Wed, Sydney
    patient, treatment = make_patient(timezone="Australia/Sydney", treated_at=SYDNEY_TREATED_AT)
    assert patient_actions.sign_in(patient).status_code == 302
    response = patient_actions.submit_checkin({"headache": 2}, onset_headache="2026-03-03T20:30")
    assert response.status_code == 302, response.text
    report = db.session.scalars(select(SymptomReport)).one()
    assert report.onset_at == datetime(2026, 3, 3, 9, 30, tzinfo=UTC)


def test_an_onset_an_hour_ahead_in_sydney_is_in_the_future(
    make_patient, patient_actions, time_machine
):
    time_machine.move_to(SYDNEY_TREATED_AT + timedelta(days=1), tick=False)  # 01:00 Wed, Sydney
    patient, _ = make_patient(timezone="Australia/Sydney", treated_at=SYDNEY_TREATED_AT)
    assert patient_actions.sign_in(patient).status_code == 302
    response = patient_actions.submit_checkin({"headache": 2}, onset_headache="2026-03-04T02:00")
    assert response.status_code == 422
    assert "A symptom cannot start after the check-in." in response.text
    assert_nothing_stored()


def test_times_are_shown_in_the_patients_timezone(
    client, make_patient, patient_actions, time_machine
):
    time_machine.move_to(SYDNEY_TREATED_AT + timedelta(days=1), tick=False)
    patient, _ = make_patient(timezone="Australia/Sydney", treated_at=SYDNEY_TREATED_AT)
    assert patient_actions.sign_in(patient).status_code == 302
    page = patient_actions.checkin_page()
    assert "Day 1 after your treatment on Tue 03 Mar." in page.text
    answer = follow(client, patient_actions.submit_checkin({"headache": 1}))
    assert "Check-in sent Wed 04 Mar 2026, 01:00." in answer.text
    timeline = client.get("/timeline").text
    assert "Since your treatment on Tue 03 Mar 2026." in timeline
    days = timeline_days(timeline)["Headache"]
    assert [(day, date) for day, date, *_ in days] == [
        ("0", "Tue 03 Mar"),
        ("1 (today)", "Wed 04 Mar"),
    ]


# --- the timeline ---------------------------------------------------------------------------


def test_timeline_charts_each_symptom_and_lists_its_days_in_words(
    client, make_patient, patient_actions, time_machine
):
    patient, _ = make_patient()
    check_in_on(time_machine, patient_actions, patient, DAY1, {"bruising": 2, "headache": 1})
    check_in_on(time_machine, patient_actions, patient, DAY1 + timedelta(days=1), {"bruising": 3})
    check_in_on(time_machine, patient_actions, patient, DAY1 + timedelta(days=4), {"bruising": 1})
    response = client.get("/timeline")
    assert response.status_code == 200
    rows = timeline_days(response.text)

    assert [(severity, over) for _, _, severity, over in rows["Bruising"]] == [
        ("No check-in", "No"),  # day 0: treatment day
        ("Moderate", "No"),
        ("Severe", "No"),
        ("No check-in (still there)", "No"),
        ("No check-in (still there)", "Yes"),  # 72 hours ran out on day 4 at 10:00
        ("Mild", "Yes"),
    ]
    assert rows["Bruising"][5][:2] == ("5 (today)", "Sat 07 Mar")
    assert [severity for _, _, severity, _ in rows["Headache"]] == [
        "No check-in",
        "Mild",
        "None",
        "No check-in",
        "No check-in",
        "None",
    ]
    assert "Redness" not in response.text  # never reported: no row

    bruising = response.text.split('id="chart-bruising"')[1].split("</figure>")[0]
    assert 'role="img"' in bruising
    assert '<rect class="band"' in bruising  # the expected duration, shaded
    chart = bruising.split("</svg>")[0]  # the chart itself, before the legend's samples
    assert chart.count('<circle class="dot"') == 3
    assert chart.count('<rect class="overdue"') == 2
    assert '<line class="today"' in bruising
    assert "Day 0 = treatment day" in bruising
    desc = re.search(r'<desc id="chart-bruising-desc">(.*?)</desc>', bruising, re.S).group(1)
    assert " ".join(desc.split()) == (
        "Usually gone within 3 days (the shaded days). 3 days with a check-in; worst: severe. "
        "Still there after about 4 days: longer than expected. Today is day 5 of 28."
    )
    assert 'aria-labelledby="chart-bruising-title chart-bruising-desc"' in bruising
    assert "Longer than expected</li>" in bruising  # the legend shows the overdue marker
    assert "Gone." in response.text.split('id="chart-headache-desc"')[1].split("</desc>")[0]
    assert "title=" not in response.text  # nothing only in a tooltip
    assert "style=" not in response.text  # the CSP forbids inline styles


def test_timeline_with_only_no_symptom_days_says_so(client, signed_in, patient_actions):
    page = patient_actions.checkin_page()
    client.post("/checkin/none", data={"csrf_token": csrf_token(page.text)})
    timeline = client.get("/timeline")
    assert timeline.status_code == 200
    assert "You have not reported any symptoms. Good news." in timeline.text


# --- who may see what ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/checkin", "/timeline", "/checkins/1"])
def test_pages_need_a_session_from_a_personal_link(client, make_patient, path):
    patient, treatment = make_patient()
    record_checkin(treatment, [SymptomEntry("headache", 1)])
    db.session.commit()
    response = client.get(path)
    assert response.status_code == 401
    assert SESSION_ENDED in response.text
    assert "Headache" not in response.text


@pytest.mark.parametrize("path", ["/checkin", "/checkin/none"])
def test_posting_without_a_session_is_refused_and_stores_nothing(client, make_patient, path):
    patient, _ = make_patient()
    token = issue_link(patient)
    db.session.commit()
    link_page = client.get(f"/p/{token}")  # a CSRF token, but no patient session yet
    response = client.post(
        path, data={"csrf_token": csrf_token(link_page.text), "severity_headache": "2"}
    )
    assert response.status_code == 401
    assert SESSION_ENDED in response.text
    assert_nothing_stored()


def test_a_patient_never_sees_another_patients_check_in(client, make_patient, patient_actions):
    alice, alice_treatment = make_patient("Alice Able")
    bob, bob_treatment = make_patient("Bob Baker")
    other_clinic = create_clinic("Hillside Clinic")
    carol, carol_treatment = make_patient("Carol Cole", clinic=other_clinic)
    bobs = record_checkin(bob_treatment, [SymptomEntry("headache", 2)], note="Bob's note").checkin
    carols = record_checkin(carol_treatment, [SymptomEntry("nausea", 2)]).checkin
    alices = record_checkin(alice_treatment, []).checkin
    db.session.commit()

    assert patient_actions.sign_in(alice).status_code == 302
    assert client.get(f"/checkins/{alices.id}").status_code == 200
    for checkin in (bobs, carols):
        response = client.get(f"/checkins/{checkin.id}")
        assert response.status_code == 404
        assert "Not found" in response.text
    assert client.get("/checkins/999999").status_code == 404
    timeline = client.get("/timeline").text
    assert "Headache" not in timeline
    assert "Nausea" not in timeline


def test_a_check_in_is_always_stored_against_the_signed_in_patient(
    signed_in, make_patient, patient_actions
):
    patient, treatment = signed_in
    other, other_treatment = make_patient("Other Person")
    page = patient_actions.checkin_page()
    response = patient_actions.client.post(
        "/checkin",
        data={
            "csrf_token": csrf_token(page.text),
            "severity_headache": "1",
            "patient_id": str(other.id),
            "treatment_id": str(other_treatment.id),
        },
    )
    assert response.status_code == 302
    assert db.session.scalars(select(CheckIn.treatment_id)).all() == [treatment.id]


def test_the_session_ends_when_the_clinic_revokes_the_links(client, signed_in):
    patient, _ = signed_in
    assert client.get("/timeline").status_code == 200
    revoke_links(db.session.get(Patient, patient.id))
    db.session.commit()
    response = client.get("/timeline")
    assert response.status_code == 401
    assert SESSION_ENDED in response.text


def test_a_new_link_after_revocation_works_again(client, signed_in, patient_actions):
    patient, _ = signed_in
    revoke_links(patient)
    db.session.commit()
    assert client.get("/checkin").status_code == 401
    assert patient_actions.sign_in(patient).status_code == 302
    assert client.get("/checkin").status_code == 200


# --- headers ---------------------------------------------------------------------------------


def test_patient_pages_send_protective_headers(client, make_patient, patient_actions, time_machine):
    time_machine.move_to(DAY1, tick=False)
    patient, _ = make_patient()
    token = issue_link(patient)
    db.session.commit()
    responses = {"link page": client.get(f"/p/{token}"), "no session": client.get("/checkin")}
    assert patient_actions.sign_in(patient).status_code == 302
    responses["check-in"] = patient_actions.checkin_page()
    answer = patient_actions.submit_checkin({"headache": 1})
    responses["answer"] = client.get(answer.headers["Location"])
    responses["timeline"] = client.get("/timeline")
    responses["not found"] = client.get("/checkins/999999")

    for name, response in responses.items():
        csp = {
            directive.strip()
            for directive in response.headers.get("Content-Security-Policy", "").split(";")
        }
        assert {"object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"} <= csp, name
        assert response.headers.get("X-Content-Type-Options") == "nosniff", name
        assert response.headers.get("Referrer-Policy") == "no-referrer", name
        assert response.headers.get("Cache-Control") == "no-store", name


def test_the_session_cookie_is_httponly_and_samesite(client, make_patient, patient_actions):
    patient, _ = make_patient()
    response = patient_actions.sign_in(patient)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


# --- audit ---------------------------------------------------------------------------------------


def test_patient_actions_are_audited_without_the_note(client, signed_in, patient_actions):
    patient, _ = signed_in
    note = "I bumped my forehead on the cupboard"
    response = patient_actions.submit_checkin({"bruising": 2}, note=note)
    checkin = db.session.scalars(select(CheckIn)).one()
    assert checkin.note == note
    client.get(response.headers["Location"])
    client.get("/timeline")

    events = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    actions = [e.action for e in events]
    for action in (
        "patient.link.use",
        "patient.checkin_form.view",
        "patient.checkin.create",
        "patient.checkin.view",
        "patient.timeline.view",
    ):
        assert action in actions
    assert actions.index("patient.link.use") < actions.index("patient.checkin.create")
    targets = {e.action: e.target for e in events}
    assert targets["patient.checkin.create"] == f"checkin:{checkin.id}"
    assert targets["patient.checkin.view"] == f"checkin:{checkin.id}"
    for event in events:
        assert event.actor_type == "patient"
        assert event.actor_id == patient.id
        assert event.patient_id == patient.id
        assert event.clinic_id == patient.clinic_id
        assert event.at == DAY1
        for column in AuditEvent.__table__.columns:
            value = getattr(event, column.key)
            assert not (isinstance(value, str) and ("cupboard" in value or "forehead" in value))


def test_the_audit_trail_cannot_be_changed_or_deleted(app, signed_in):
    event = db.session.scalars(select(AuditEvent)).first()
    for statement in (
        f"UPDATE audit_events SET action = 'x' WHERE id = {event.id}",
        f"DELETE FROM audit_events WHERE id = {event.id}",
    ):
        with pytest.raises(sqlalchemy.exc.DatabaseError, match="append-only"):
            db.session.execute(sqlalchemy.text(statement))
        db.session.rollback()


def test_a_patient_sees_only_their_own_timeline(
    client, make_patient, patient_actions, time_machine
):
    pat, _ = make_patient()
    sam, _ = make_patient(name="Sam Other")
    check_in_on(time_machine, patient_actions, pat, DAY1, {"bruising": 2})
    check_in_on(time_machine, patient_actions, sam, DAY1, {"headache": 1})
    timeline = client.get("/timeline").text
    assert 'id="chart-headache"' in timeline
    assert 'id="chart-bruising"' not in timeline


def test_a_symptom_without_an_expected_duration_is_charted_without_a_band_and_says_so(
    client, make_patient, patient_actions, time_machine
):
    patient, _ = make_patient()
    check_in_on(time_machine, patient_actions, patient, DAY1, {"eyelid_drooping": 2})
    figure = client.get("/timeline").text.split('id="chart-eyelid_drooping"')[1]
    figure = figure.split("</figure>")[0]
    assert '<rect class="band"' not in figure and "Expected duration</li>" not in figure
    assert "No usual duration: this is not an expected side effect" in figure
    assert figure.count('<circle class="dot"') == 2  # one in the chart, one in the legend
