def test_clinician_signs_in_and_sees_the_queue(client, clinic, staff_actions):
    response = staff_actions.sign_in()
    assert response.status_code == 302, response.text
    page = client.get("/clinic/")
    assert page.status_code == 200
    assert "Sign out" in page.text
    assert client.get("/clinic/catalogue").status_code == 403
