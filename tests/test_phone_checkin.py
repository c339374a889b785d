"""The check-in built for someone unwell (issue 13): urgent questions first, last time's symptoms
pre-filled with "Same as yesterday", the rest by body area, "No symptoms today" from the link's
first page, a notice when already checked in today, tap-to-call numbers, and tampered forms.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from tests import test_patient_pages
from tests.conftest import csrf_token
from tests.test_patient_pages import DAY1, checked_severity, follow
from tracker.catalogue import AREA_NAMES
from tracker.extensions import db
from tracker.models import AuditEvent, CheckIn
from tracker.patient.forms import URGENT_SEVERITY
from tracker.services.patients.links import issue_link
from tracker.templating import tel_href

DAY2 = DAY1 + timedelta(days=1)

signed_in = test_patient_pages.signed_in
"""Pat, treated yesterday, has opened this morning's link (the patient pages' fixture)."""


def stored() -> dict[int, dict[str, int]]:
    """Every check-in's reports: check-in id -> {symptom code: severity}."""
    result: dict[int, dict[str, int]] = {}
    for checkin in db.session.scalars(select(CheckIn).order_by(CheckIn.id)):
        result[checkin.id] = {r.symptom.code: r.severity for r in checkin.reports}
    return result


def audited(action: str) -> list[str]:
    return list(db.session.scalars(select(AuditEvent.target).where(AuditEvent.action == action)))


def yesterday_then_today(time_machine, patient_actions, patient, severities):
    """A check-in on day 1 with `severities`, then a fresh link opened on day 2."""
    assert patient_actions.submit_checkin(severities).status_code == 302
    time_machine.move_to(DAY2, tick=False)
    assert patient_actions.sign_in(patient).status_code == 302


# --- the order of the page -------------------------------------------------------------------


def test_the_urgent_questions_come_first_and_the_warning_is_at_the_top_of_them(
    signed_in, patient_actions
):
    page = patient_actions.checkin_page().text
    urgent = page.index("Right now, do you have any of these?")
    warning = page.index('class="urgent-warning"')
    first_graded = page.index('name="severity_')
    assert page.index('class="card urgent-questions') < warning < urgent < first_graded
    for code in ("difficulty_breathing", "allergic_reaction", "vision_problems"):
        assert f'type="checkbox" value="{code}"' in page
        assert f'name="severity_{code}"' not in page  # not graded: ticked only
    assert '<a class="tel" href="tel:999">999</a>' in page[warning:urgent]
    assert '<a class="tel" href="tel:111">111</a>' in page[warning:urgent]


def test_the_warning_shows_with_css_has_when_an_urgent_box_is_ticked(app):
    css = Path(app.static_folder, "checkin.css").read_text()
    assert ".urgent-questions .urgent-warning { display: none; }" in css
    assert ".urgent-questions:has(input:checked) .urgent-warning { display: block; }" in css


def test_the_clinic_phone_is_a_tel_link_in_the_warning(signed_in, patient_actions):
    patient, _ = signed_in
    patient.clinic.phone = "029 2000 0000"
    db.session.commit()
    page = patient_actions.checkin_page().text
    assert '<a class="tel" href="tel:02920000000">029 2000 0000</a>' in page


def test_the_other_symptoms_are_grouped_by_area_in_closed_groups(signed_in, patient_actions):
    page = patient_actions.checkin_page().text
    groups = re.findall(r'<details class="area area-(\w+)"( open)?>\s*<summary>([^<]*)', page)
    assert [(area, opened, title.strip()) for area, opened, title in groups] == [
        (area, "", AREA_NAMES[area]) for area in ("sites", "head", "eyes", "body")
    ]
    assert "Since your last check-in" not in page
    assert "Same as yesterday" not in page


def test_last_time_symptoms_come_next_pre_filled_and_the_rest_stay_in_their_groups(
    signed_in, patient_actions, time_machine
):
    patient, _ = signed_in
    yesterday_then_today(time_machine, patient_actions, patient, {"bruising": 3, "headache": 1})
    page = patient_actions.checkin_page().text
    last = page.index("Since your last check-in")
    groups = page.index('<details class="area')
    assert page.index("Right now, do you have any of these?") < last < groups
    assert last < page.index('name="severity_bruising"') < groups
    assert last < page.index('name="severity_headache"') < groups
    assert page.index('name="severity_redness"') > groups
    assert checked_severity(page, "bruising") == "3"
    assert checked_severity(page, "headache") == "1"
    assert checked_severity(page, "redness") == "0"
    assert "Same as yesterday" in page


def test_a_group_holding_an_answer_or_an_error_is_shown_open(signed_in, patient_actions):
    response = patient_actions.submit_checkin({"nausea": 9})
    assert response.status_code == 422
    assert '<details class="area area-body" open>' in response.text
    assert '<details class="area area-sites">' in response.text


# --- urgent answers --------------------------------------------------------------------------


def test_a_ticked_urgent_symptom_is_recorded_as_severe_and_shows_the_warning_page(
    client, signed_in, patient_actions
):
    answer = follow(client, patient_actions.submit_checkin({"difficulty_breathing": 1}))
    assert "Get medical help now" in answer.text
    assert list(stored().values()) == [{"difficulty_breathing": URGENT_SEVERITY}]


@pytest.mark.parametrize(
    "data",
    [
        {"urgent": ["headache"]},  # a symptom, but not an urgent one
        {"urgent": ["sneezing"]},  # not a symptom at all
        {"urgent": ["difficulty_breathing", "difficulty_breathing"]},  # one symptom twice
        {"severity_bruising": ["2", "3"]},  # two values for one field
        {"onset_bruising": ["2026-03-02T12:00", "2026-03-02T13:00"], "severity_bruising": "1"},
        {"severity_sneezing": "2"},  # unknown code
        {"severity_difficulty_breathing": "2"},  # urgent symptoms are ticked, not graded
    ],
)
def test_a_tampered_check_in_is_refused_and_saves_nothing(client, signed_in, data):
    page = client.get("/checkin")
    response = client.post("/checkin", data={"csrf_token": csrf_token(page.text), **data})
    assert response.status_code == 422, response.text
    assert "Nothing was saved" in response.text
    assert stored() == {}
    assert audited("patient.checkin.create") == []


def test_a_symptom_answered_twice_is_named(client, signed_in):
    page = client.get("/checkin")
    data = {"csrf_token": csrf_token(page.text), "severity_bruising": ["2", "3"]}
    response = client.post("/checkin", data=data)
    assert "Answered twice: Bruising." in response.text


def test_the_error_summary_names_the_symptom_and_links_to_the_field(signed_in, patient_actions):
    response = patient_actions.submit_checkin({"bruising": 2}, onset_bruising="yesterday")
    assert response.status_code == 422
    summary = response.text.split('class="error-summary"')[1].split("</div>")[0]
    assert '<a href="#onset_bruising">Bruising: when did it start?: ' in summary
    assert 'id="onset_bruising"' in response.text
    response = patient_actions.submit_checkin({"headache": 7})
    summary = response.text.split('class="error-summary"')[1].split("</div>")[0]
    assert '<a href="#severity_headache-0">Headache: Choose one' in summary
    assert 'id="severity_headache-0"' in response.text


# --- same as yesterday -----------------------------------------------------------------------


def test_same_as_yesterday_records_exactly_the_last_check_in_and_is_audited(
    client, signed_in, patient_actions, time_machine
):
    patient, _ = signed_in
    yesterday_then_today(
        time_machine, patient_actions, patient, {"bruising": 3, "headache": 1, "vision_problems": 2}
    )
    page = patient_actions.checkin_page()
    response = client.post(
        "/checkin/same",
        data={"csrf_token": csrf_token(page.text), "severity_bruising": "0", "urgent": []},
    )
    answer = follow(client, response)
    assert answer.status_code == 200
    first, second = stored().values()
    assert second == first == {"bruising": 3, "headache": 1, "vision_problems": URGENT_SEVERITY}
    latest = db.session.scalars(select(CheckIn).order_by(CheckIn.id.desc())).first()
    assert latest.reported_at == DAY2
    assert all(r.onset_at is None for r in latest.reports)
    assert audited("patient.checkin.create")[-1] == f"checkin:{latest.id}"


def test_same_as_yesterday_without_a_last_check_in_is_not_offered_and_refused(
    client, signed_in, patient_actions
):
    page = patient_actions.checkin_page()
    assert "Same as yesterday" not in page.text
    response = client.post("/checkin/same", data={"csrf_token": csrf_token(page.text)})
    assert response.status_code == 400
    assert stored() == {}


def test_same_as_yesterday_after_no_symptoms_is_not_offered_and_refused(
    client, signed_in, patient_actions
):
    page = patient_actions.checkin_page()
    client.post("/checkin/none", data={"csrf_token": csrf_token(page.text)})
    page = patient_actions.checkin_page()
    assert "Same as yesterday" not in page.text
    response = client.post("/checkin/same", data={"csrf_token": csrf_token(page.text)})
    assert response.status_code == 400
    assert len(stored()) == 1


def test_same_as_yesterday_needs_the_csrf_token(client, signed_in, patient_actions, time_machine):
    patient, _ = signed_in
    yesterday_then_today(time_machine, patient_actions, patient, {"bruising": 2})
    assert client.post("/checkin/same").status_code == 400
    assert len(stored()) == 1


# --- no symptoms from the link ---------------------------------------------------------------


def test_no_symptoms_today_in_one_tap_from_the_links_first_page(client, make_patient, time_machine):
    time_machine.move_to(DAY1, tick=False)
    patient, _ = make_patient()
    token = issue_link(patient)
    db.session.commit()
    page = client.get(f"/p/{token}")
    assert f'action="/p/{token}/none"' in page.text and "No symptoms today" in page.text
    answer = follow(
        client, client.post(f"/p/{token}/none", data={"csrf_token": csrf_token(page.text)})
    )
    assert "Thank you: nothing to report today" in answer.text
    assert list(stored().values()) == [{}]
    assert len(audited("patient.link.use")) == 1
    assert len(audited("patient.checkin.create")) == 1
    again = client.post(f"/p/{token}/none", data={"csrf_token": csrf_token(page.text)})
    assert again.status_code in (400, 410)  # a new session's token; the link is used up anyway
    assert len(stored()) == 1


def test_no_symptoms_from_the_link_needs_the_csrf_token(client, make_patient, time_machine):
    time_machine.move_to(DAY1, tick=False)
    patient, _ = make_patient()
    token = issue_link(patient)
    db.session.commit()
    assert client.post(f"/p/{token}/none").status_code == 400
    assert stored() == {}
    assert client.get(f"/p/{token}").status_code == 200  # not used up


# --- already checked in today ----------------------------------------------------------------


SYDNEY_TREATED_AT = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
"""Tuesday 3 March, 01:00 in Sydney (AEDT, UTC+11)."""


@pytest.mark.parametrize(
    ("checked_in", "now", "notice"),
    [
        # 23:30 Wed in Sydney, then 00:30 Thu: a new local day (still Wed 13:30 UTC both times).
        (datetime(2026, 3, 4, 12, 30, tzinfo=UTC), datetime(2026, 3, 4, 13, 30, tzinfo=UTC), None),
        # 00:30 Thu in Sydney, then 23:30 Thu: the same local day, though a UTC day apart.
        (
            datetime(2026, 3, 4, 13, 30, tzinfo=UTC),
            datetime(2026, 3, 5, 12, 30, tzinfo=UTC),
            "You already checked in today at 00:30.",
        ),
    ],
)
def test_already_checked_in_today_is_the_patients_local_day(
    make_patient, patient_actions, time_machine, checked_in, now, notice
):
    patient, _ = make_patient(timezone="Australia/Sydney", treated_at=SYDNEY_TREATED_AT)
    time_machine.move_to(checked_in, tick=False)
    assert patient_actions.sign_in(patient).status_code == 302
    assert "already checked in" not in patient_actions.checkin_page().text
    assert patient_actions.submit_checkin({"headache": 1}).status_code == 302
    time_machine.move_to(now, tick=False)
    assert patient_actions.sign_in(patient).status_code == 302  # that day's fresh link
    page = patient_actions.checkin_page().text
    if notice is None:
        assert "already checked in" not in page
    else:
        assert notice in page
    assert patient_actions.submit_checkin({"headache": 2}).status_code == 302  # still allowed
    assert len(stored()) == 2


# --- tap to call -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "href"),
    [
        ("999", "tel:999"),
        ("029 2000 0000", "tel:02920000000"),
        ("+44 (0)29 2000-0000", "tel:+4402920000000"),
        (" 111 ", "tel:111"),
    ],
)
def test_tel_href_keeps_digits_and_a_leading_plus(number, href):
    assert tel_href(number) == href


def test_the_answer_page_numbers_are_tel_links(client, signed_in, patient_actions):
    patient, _ = signed_in
    patient.clinic.phone = "029 2000 0000"
    db.session.commit()
    answer = follow(client, patient_actions.submit_checkin({"muscle_weakness": 1}))
    for link in ('href="tel:999">999</a>', 'href="tel:111">111</a>', 'href="tel:02920000000"'):
        assert link in answer.text
    assert not re.search(r"(?<![\">:])\b(999|111)\b(?!</a>|\")", answer.text.split("<main")[1])
