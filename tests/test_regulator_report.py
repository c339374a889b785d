"""A case's regulator report (MHRA Yellow Card, FDA MedWatch 3500): the proposed outcome's
table, the page and its form, the JSON, resolving a case as reported to the regulator, and the
print stylesheet. Another clinic's case is 404; bad input saves nothing."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests import builders
from tests.api_helpers import OTHER_NURSE, Api, mint_token
from tests.conftest import TREATED_AT
from tracker.extensions import db
from tracker.models import AuditEvent, Flag, RegulatorReport, User
from tracker.rules import Episode, Point
from tracker.services.flags.regulator_report import (
    age_on,
    initials,
    propose_outcome,
    route_of,
)
from tracker.services.governance.data_rights import erase_patient

NOW = TREATED_AT + timedelta(days=3)
STATIC = Path(__file__).resolve().parent.parent / "tracker" / "static"


def _episode(*severities: int, ended: bool = False) -> Episode:
    points = tuple(
        Point(TREATED_AT + timedelta(hours=6 * n), severity)
        for n, severity in enumerate(severities)
    )
    ended_at = TREATED_AT + timedelta(days=5) if ended else None
    return Episode("pain", TREATED_AT, points, ended_at)


@pytest.mark.parametrize(
    ("episodes", "expected"),
    [
        ([], "unknown"),
        ([_episode(2, 3, ended=True)], "recovered"),
        ([_episode(1, ended=True), _episode(2, ended=True)], "recovered"),
        ([_episode(3, 1)], "recovering"),
        ([_episode(3, 2, 1)], "recovering"),
        ([_episode(1, 3)], "not_recovered"),
        ([_episode(2, 2)], "not_recovered"),
        ([_episode(2)], "not_recovered"),
        ([_episode(3, ended=True), _episode(3, 1)], "recovering"),
        ([_episode(3, ended=True), _episode(1)], "not_recovered"),
        ([_episode(3, 1), _episode(2, 2)], "not_recovered"),
    ],
    ids=[
        "no reports",
        "every episode ended",
        "two episodes, both ended",
        "ongoing, lower than its worst",
        "ongoing, falling",
        "ongoing, rising",
        "ongoing, level",
        "ongoing, one report",
        "ended, then ongoing lower",
        "ended, then ongoing at its worst",
        "one recovering, one at its worst",
    ],
)
def test_the_outcome_proposed_from_the_episodes(episodes, expected):
    assert propose_outcome(episodes) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Pat Example", "P.E."),
        ("mary-jane  watson", "M.J.W."),
        ("Cher", "C."),
        ("  ", ""),
    ],
)
def test_initials(name, expected):
    assert initials(name) == expected


@pytest.mark.parametrize(
    ("born", "day", "age"),
    [
        (date(1980, 3, 2), date(2026, 3, 2), 46),
        (date(1980, 3, 3), date(2026, 3, 2), 45),
        (date(2000, 2, 29), date(2026, 2, 28), 25),
        (date(2000, 2, 29), date(2026, 3, 1), 26),
        (date(2026, 3, 3), date(2026, 3, 2), None),  # born after it: mistyped, asked again
        (None, date(2026, 3, 2), None),
    ],
)
def test_age_in_whole_years_at_the_treatment(born, day, age):
    assert age_on(born, day) == age


@pytest.mark.parametrize(
    ("indication", "route"),
    [
        ("sweating", "intradermal"),
        ("cosmetic", "intramuscular"),
        ("migraine", "intramuscular"),
        ("other", "intramuscular"),
    ],
)
def test_the_route_follows_the_indication(indication, route):
    assert route_of(indication) == route


# --- the page and the JSON -----------------------------------------------------------------


@pytest.fixture(autouse=True)
def frozen_clock(time_machine):
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def case(make_patient):
    """A treatment whose check-ins raised an urgent flag (swallowing, still going at its worst)
    and reported pain that has ended."""
    patient, treatment = make_patient("Pat Example")
    builders.checkin(
        treatment, TREATED_AT + timedelta(hours=20), {"difficulty_swallowing": 3, "pain": 2}
    )
    builders.checkin(
        treatment, TREATED_AT + timedelta(days=2), {"difficulty_swallowing": 3, "pain": 0}
    )
    db.session.commit()
    return treatment


@pytest.fixture
def nurse_user(clinic) -> User:
    return db.session.scalar(select(User).where(User.email == "nurse@riverside.test"))


def _url(treatment) -> str:
    return f"/clinic/cases/{treatment.id}/report"


def _audit(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def _report_rows() -> int:
    return db.session.scalar(select(func.count(RegulatorReport.id)))


def _symptom_id(treatment, code: str) -> int:
    return builders.symptom(treatment.clinic_id, code).id


def test_the_page_fills_the_report_from_the_record_and_lists_what_is_missing(client, nurse, case):
    response = client.get(_url(case))

    assert response.status_code == 200
    page = response.text
    assert "Suspected adverse reaction report" in page
    assert '<dd id="patient-initials">P.E.</dd>' in page
    assert "Pat Example" not in page.split('id="report"')[1].split("report-form")[0]
    assert '<dd id="product-route">Intramuscular</dd>' in page
    assert '<dd id="product-date">2026-03-02</dd>' in page
    assert "C1234AB5" in page and "Botox" in page
    swallowing = page.split(f'id="reaction-{_symptom_id(case, "difficulty_swallowing")}"')[1]
    assert "Ongoing" in swallowing.split("</div>")[0]
    assert "Severe" in swallowing.split("</div>")[0]
    pain = page.split(f'id="reaction-{_symptom_id(case, "pain")}"')[1].split("</div>")[0]
    assert "Moderate" in pain and "Recovered" in pain
    assert "Not recovered (proposed from the check-ins; not confirmed yet)" in page
    for key in (
        "sex",
        "date_of_birth",
        "clinic_address",
        "clinic_phone",
        "profession",
        "registration_number",
        "outcome",
    ):
        assert f'id="missing-{key}"' in page
    assert f'href="/clinic/patients/{case.patient_id}/edit"' in page
    (event,) = _audit("report.view")
    assert event.patient_id == case.patient_id and event.target == f"treatment:{case.id}"


def test_with_everything_recorded_nothing_is_left_to_fill_in(client, nurse, case, nurse_user):
    patient = case.patient
    patient.sex, patient.date_of_birth = "female", date(1980, 3, 3)
    case.patient.clinic.address = "1 River Street\nRiverside RV1 2AB"
    case.patient.clinic.phone = "020 7946 0000"
    nurse_user.profession, nurse_user.registration_number = "Nurse prescriber", "NMC 12A3456B"
    db.session.add(
        RegulatorReport(
            clinic_id=case.clinic_id, treatment_id=case.id, outcome="recovered_with_sequelae"
        )
    )
    db.session.commit()

    page = client.get(_url(case)).text

    assert 'id="to-fill-in"' not in page
    assert '<dd id="patient-sex">Female</dd>' in page
    assert '<dd id="patient-age">45 years</dd>' in page
    assert "Nurse prescriber" in page and "NMC 12A3456B" in page
    assert "1 River Street" in page
    assert "Recovered with lasting effects (confirmed by a clinician)" in page


def test_the_sweating_indication_is_given_intradermally(client, nurse, clinic):
    patient = builders.patient(clinic, "Sam Sweat")
    treatment = builders.treatment(patient, indication="sweating", units={"underarms": 50})
    builders.flag(treatment, "review", "sweating", opened_at=TREATED_AT + timedelta(days=1))
    db.session.commit()

    assert '<dd id="product-route">Intradermal</dd>' in client.get(_url(treatment)).text


def _form(case, **values) -> dict:
    return {
        "seriousness": ["hospitalisation", "medically_important"],
        "outcome": "recovering",
        "other_medicines": "Sertraline 50 mg daily",
        f"description_{_symptom_id(case, 'difficulty_swallowing')}": "Could not swallow solids.",
        **values,
    }


def test_the_clinician_saves_their_part_and_it_is_audited(client, nurse, case):
    response = nurse.post(_url(case), _form(case), form_page=_url(case))

    assert response.status_code == 302
    saved = db.session.scalar(select(RegulatorReport))
    assert saved.seriousness == ["hospitalisation", "medically_important"]
    assert saved.outcome == "recovering"
    assert saved.other_medicines == "Sertraline 50 mg daily"
    assert saved.reaction_notes == {
        str(_symptom_id(case, "difficulty_swallowing")): "Could not swallow solids."
    }
    (event,) = _audit("report.update")
    assert event.target == f"treatment:{case.id}" and "swallow" not in (event.target or "")
    page = client.get(_url(case)).text
    assert "Hospitalisation, or a longer stay in hospital" in page
    assert "Recovering (confirmed by a clinician)" in page
    assert "Could not swallow solids." in page
    assert 'id="missing-outcome"' not in page


@pytest.mark.parametrize(
    "values",
    [
        {"seriousness": ["hospitalisation", "made_up"]},
        {"outcome": "cured"},
        {"other_medicines": "x" * 10_000},
        {"description_999999": "not a reaction of this case"},
    ],
    ids=["unknown criterion", "unknown outcome", "10 kB medicines", "unknown reaction"],
)
def test_bad_input_is_refused_and_nothing_saved(client, nurse, case, values):
    response = nurse.post(_url(case), _form(case, **values), form_page=_url(case))

    if "description_999999" in values:  # not a field of the form: ignored, the rest saved
        assert response.status_code == 302
        assert "999999" not in db.session.scalar(select(RegulatorReport)).reaction_notes
        return
    assert response.status_code == 422
    assert "field-error" in response.text
    assert _report_rows() == 0
    assert not _audit("report.update")


def test_another_clinics_case_and_a_treatment_without_flags_are_404(
    client, nurse, case, other_clinic, make_patient
):
    other_patient = builders.patient(other_clinic, "Olive Other")
    other = builders.treatment(other_patient)
    builders.flag(other, "urgent", "difficulty_breathing", opened_at=TREATED_AT)
    _, unflagged = make_patient("Una Flagless")
    db.session.commit()

    assert client.get(_url(other)).status_code == 404
    assert client.get(_url(unflagged)).status_code == 404
    assert nurse.post(_url(other), _form(case), form_page=_url(case)).status_code == 404
    assert _report_rows() == 0


def test_an_erased_patient_has_no_initials(client, nurse, case):
    erase_patient(case.patient)
    db.session.commit()

    page = client.get(_url(case)).text

    assert "not given: the record is erased" in page
    assert 'id="missing-sex"' in page and "the patient's record is erased" in page


def test_the_case_page_links_to_the_report(client, nurse, case):
    page = client.get(f"/clinic/cases/{case.id}").text

    assert f'href="/clinic/cases/{case.id}/report"' in page


def test_the_print_stylesheet_leaves_the_report_alone():
    css = (STATIC / "app.css").read_text()
    print_rules = css.split("@media print")[1]

    for hidden in ("header.site", ".no-print", "nav", "form"):
        assert hidden in print_rules.split("display: none")[0]


def test_the_report_page_has_no_inline_styles(client, nurse, case):
    page = client.get(_url(case)).text

    assert "style=" not in page and "<style" not in page
    assert 'class="card no-print" id="report-form"' in page
    assert 'class="card to-fill-in no-print"' in page


# --- resolving as reported to the regulator --------------------------------------------------


def _active_flag_ids(case) -> str:
    return ",".join(
        str(i)
        for i in db.session.scalars(
            select(Flag.id).where(Flag.treatment_id == case.id, Flag.status != "resolved")
        )
    )


def _resolve(nurse, case, **values):
    data = {
        "outcome": "reported_to_regulator",
        "flag_ids": _active_flag_ids(case),
        "reported_on": "2026-03-04",
        "reference": "YC-2026-000123",
        "submit": "Resolve the case",
        **values,
    }
    return nurse.post(
        f"/clinic/cases/{case.id}/resolve", data, form_page=f"/clinic/cases/{case.id}"
    )


def test_the_case_page_offers_today_in_the_clinics_timezone(client, nurse, case):
    case.patient.clinic.timezone = "Pacific/Kiritimati"  # UTC+14: already tomorrow there
    db.session.commit()

    page = client.get(f"/clinic/cases/{case.id}").text

    assert NOW.date() == date(2026, 3, 5)
    assert 'name="reported_on" type="date" value="2026-03-06"' in page


def test_resolving_as_reported_keeps_the_date_and_reference(client, nurse, case):
    response = _resolve(nurse, case)

    assert response.status_code == 302
    saved = db.session.scalar(select(RegulatorReport))
    assert (saved.reported_on, saved.reference) == (date(2026, 3, 4), "YC-2026-000123")
    assert _active_flag_ids(case) == ""
    expected = "Reported to the regulator on 2026-03-04, reference"
    assert expected in client.get(f"/clinic/cases/{case.id}").text
    assert expected in client.get(_url(case)).text


def test_resolving_as_reported_without_a_date_is_today(client, nurse, case):
    assert _resolve(nurse, case, reported_on="").status_code == 302

    assert db.session.scalar(select(RegulatorReport.reported_on)) == NOW.date()


@pytest.mark.parametrize(
    "values",
    [
        {"reference": ""},
        {"reference": "   "},
        {"reference": "R" * 10_000},
        {"reported_on": "2026-03-06"},
        {"reported_on": "2026-03-01"},
        {"reported_on": "0001-01-01"},
        {"reported_on": "not a date"},
        {"outcome": "made_up"},
    ],
    ids=[
        "no reference",
        "blank reference",
        "10 kB reference",
        "future",
        "before the treatment",
        "year one",
        "bad date",
        "outcome",
    ],
)
def test_a_bad_report_leaves_the_case_unresolved(client, nurse, case, values):
    before = _active_flag_ids(case)

    response = _resolve(nurse, case, **values)

    assert response.status_code == 422
    assert _active_flag_ids(case) == before != ""
    assert _report_rows() == 0


def test_another_outcome_needs_no_reference(client, nurse, case):
    response = _resolve(nurse, case, outcome="seen_in_clinic", reference="", reported_on="")

    assert response.status_code == 302
    assert _report_rows() == 0


# --- the JSON ------------------------------------------------------------------------------


@pytest.fixture
def api(app, clinic) -> Api:
    return Api(app.test_client(), mint_token())


def test_the_json_report_has_every_part(api, case):
    response = api.get(f"/api/v1/cases/{case.id}/report")

    assert response.status_code == 200
    body = response.get_json()
    assert body["reporter"]["email"] == "nurse@riverside.test"
    assert body["reporter"]["clinic"]["name"] == "Riverside Clinic"
    assert body["patient"] == {"initials": "P.E.", "sex": None, "age": None}
    assert body["product"]["route"] == "intramuscular"
    assert body["product"]["given_on"] == "2026-03-02"
    assert body["product"]["batch_number"] == "C1234AB5"
    reactions = {r["symptom_code"]: r for r in body["reactions"]}
    assert reactions["difficulty_swallowing"]["ended_at"] is None
    assert reactions["difficulty_swallowing"]["worst_severity"] == 3
    assert reactions["pain"]["proposed_outcome"] == "recovered"
    assert reactions["pain"]["ended_at"] is not None
    assert body["outcome"] == {"confirmed": None, "proposed": "not_recovered"}
    # Not assessed yet: proposed serious (an urgent symptom), as the FHIR export says too.
    assert (body["serious"], body["serious_assessed"], body["seriousness"]) == (True, False, [])
    bundle = api.get(f"/api/v1/treatments/{case.id}/fhir").get_json()
    events = [e["resource"] for e in bundle["entry"] if e["resource"]["id"].startswith("flag-")]
    (urgent,) = [e for e in events if any(x.get("valueCode") == "urgent" for x in e["extension"])]
    assert urgent["seriousness"]["coding"][0]["code"] == "Serious"
    assert set(body["missing"]) == {
        "sex",
        "date_of_birth",
        "clinic_address",
        "clinic_phone",
        "profession",
        "registration_number",
        "outcome",
    }
    assert len(_audit("report.view")) == 1


def test_the_json_report_is_404_for_another_clinic(app, case, other_clinic):
    other = Api(app.test_client(), mint_token(OTHER_NURSE))

    assert other.get(f"/api/v1/cases/{case.id}/report").status_code == 404
    put = other.open(f"/api/v1/cases/{case.id}/report", "PUT", json={"outcome": "recovered"})
    assert put.status_code == 404
    assert not _audit("report.view")


def test_the_clinicians_part_through_the_api(api, case):
    swallowing = str(_symptom_id(case, "difficulty_swallowing"))
    body = {
        "seriousness": ["life_threatening"],
        "outcome": "fatal",
        "other_medicines": "None",
        "descriptions": {swallowing: "Aspirated."},
    }

    response = api.open(f"/api/v1/cases/{case.id}/report", "PUT", json=body)

    assert response.status_code == 200, response.get_json()
    result = response.get_json()
    assert result["serious"] is True and result["seriousness"] == ["life_threatening"]
    assert result["outcome"]["confirmed"] == "fatal"
    assert {r["symptom_id"]: r["description"] for r in result["reactions"]}[
        int(swallowing)
    ] == "Aspirated."
    assert len(_audit("report.update")) == 1


@pytest.mark.parametrize(
    "body",
    [
        {"seriousness": ["made_up"]},
        {"outcome": "cured"},
        {"other_medicines": "x" * 10_000},
        {"descriptions": {"999999": "not a reaction"}},
        {"descriptions": {"pain": "keyed by code"}},
        {"descriptions": {"²": "a digit that is no number"}},
        {"descriptions": {"1" * 11: "beyond any id"}},
        {"surprise": 1},
    ],
)
def test_bad_api_input_is_422_and_nothing_saved(api, case, body):
    response = api.open(f"/api/v1/cases/{case.id}/report", "PUT", json=body)

    assert response.status_code == 422
    assert _report_rows() == 0


def _api_resolve(api, case, **values):
    body = {
        "outcome": "reported_to_regulator",
        "flag_ids": [int(i) for i in _active_flag_ids(case).split(",")],
        "reference": "MW-5551212",
        **values,
    }
    return api.post(f"/api/v1/cases/{case.id}/resolve", json=body)


def test_resolving_through_the_api_keeps_the_report(api, case):
    response = _api_resolve(api, case, reported_on="2026-03-05")

    assert response.status_code == 200, response.get_json()
    saved = db.session.scalar(select(RegulatorReport))
    assert (saved.reported_on, saved.reference) == (date(2026, 3, 5), "MW-5551212")
    report = api.get(f"/api/v1/cases/{case.id}/report").get_json()
    assert (report["reported_on"], report["reference"]) == ("2026-03-05", "MW-5551212")


@pytest.mark.parametrize(
    "values",
    [
        {"reference": "R" * 10_000},
        {"reference": None},
        {"reference": " "},
        {"reported_on": "2026-03-06"},
        {"reported_on": "2026-03-01"},
        {"reported_on": "yesterday"},
    ],
)
def test_a_bad_report_through_the_api_resolves_nothing(api, case, values):
    before = _active_flag_ids(case)

    response = _api_resolve(api, case, **values)

    assert response.status_code == 422
    assert _active_flag_ids(case) == before
    assert _report_rows() == 0


def test_the_signed_in_admin_is_the_reporter_of_the_json(app, case, admin):
    admin.profession = "Doctor"
    db.session.commit()
    api = Api(app.test_client(), mint_token("admin@riverside.test"))

    reporter = api.get(f"/api/v1/cases/{case.id}/report").get_json()["reporter"]

    assert reporter["profession"] == "Doctor"
    assert reporter["email"] == "admin@riverside.test"


def test_a_flagged_symptom_without_reports_starts_at_its_flags_episode(api, make_patient):
    _, treatment = make_patient("Pat Example")
    started = TREATED_AT + timedelta(hours=30)
    builders.flag(
        treatment,
        "review",
        "dry_eye",
        opened_at=started + timedelta(hours=2),
        episode_started_at=started,
    )
    db.session.commit()

    (reaction,) = api.get(f"/api/v1/cases/{treatment.id}/report").get_json()["reactions"]

    assert reaction["symptom_code"] == "dry_eye"
    assert reaction["started_at"] == started.isoformat().replace("+00:00", "Z")
    assert (reaction["ended_at"], reaction["worst_severity"]) == (None, 0)
    assert reaction["proposed_outcome"] == "unknown"
