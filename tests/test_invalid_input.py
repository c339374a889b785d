"""Refused input is one exception; a page that lets it through still answers 422, never 500."""

from __future__ import annotations

from tracker.invalid import InvalidInput


def test_a_refusal_no_view_caught_is_a_clear_422_page(app, client):
    def refuse():
        raise InvalidInput.on("treated_at", "That time does not exist.")

    app.add_url_rule("/refusing-page", "refusing_page", refuse)

    response = client.get("/refusing-page")

    assert response.status_code == 422
    assert "Please check what you entered" in response.text
    assert "That time does not exist. Go back, correct it and try again." in response.text


def test_a_refusal_names_each_field_and_reads_as_its_messages():
    refused = InvalidInput({"name": "Enter a name.", "email": "Enter an email address."})

    assert refused.fields == {"name": "Enter a name.", "email": "Enter an email address."}
    assert str(refused) == "Enter a name. Enter an email address."
    assert isinstance(refused, ValueError)
    assert InvalidInput.on("email", "Enter one.").fields == {"email": "Enter one."}
