from datetime import timedelta

from tests.conftest import TREATED_AT
from tracker.models import CheckIn, Flag


def test_patient_reports_urgent_symptom_end_to_end(
    client, make_patient, patient_actions, time_machine
):
    time_machine.move_to(TREATED_AT + timedelta(days=1), tick=False)
    patient, treatment = make_patient()
    assert patient_actions.sign_in(patient).status_code == 302
    page = patient_actions.checkin_page()
    assert page.status_code == 200, page.text
    response = patient_actions.submit_checkin({"difficulty_swallowing": 2, "bruising": 1})
    assert response.status_code == 302, response.text
    answer = client.get(response.headers["Location"])
    assert 'Call <a class="tel" href="tel:999">999</a>' in answer.text
    assert CheckIn.query.count() == 1
    assert [f.reason for f in Flag.query.all()] == ["urgent"]
    assert client.get("/timeline").status_code == 200
