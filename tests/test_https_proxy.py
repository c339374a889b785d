"""Over HTTPS behind a reverse proxy: forms work without a Referer, cross-site posts are refused,
and the client's address and scheme come from exactly `TRUSTED_PROXIES` forwarded hops."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.conftest import STAFF_PASSWORD, csrf_token, make_app
from tracker.extensions import db
from tracker.models import AuditEvent, LoginAttempt
from tracker.security import cross_origin_problem

OWN = "https://aftercare.example"
BROWSER_FORM_POST = {"Sec-Fetch-Site": "same-origin", "Origin": "null"}
"""What Chromium sends with a form POST under `Referrer-Policy: no-referrer`: no Referer."""


@pytest.mark.parametrize(
    ("headers", "refused"),
    [
        ({}, False),  # no browser metadata: an old browser or a script; the token decides
        ({"Sec-Fetch-Site": "same-origin"}, False),
        ({"Sec-Fetch-Site": "none"}, False),  # the user's own navigation
        ({"Sec-Fetch-Site": "same-origin", "Origin": "null"}, False),
        ({"Sec-Fetch-Site": "cross-site"}, True),
        ({"Sec-Fetch-Site": "same-site"}, True),  # a sibling subdomain is another site
        ({"Sec-Fetch-Site": "cross-site", "Origin": OWN}, True),  # metadata wins
        ({"Origin": OWN}, False),
        ({"Origin": OWN + "/"}, False),
        ({"Origin": "HTTPS://AFTERCARE.EXAMPLE"}, False),
        ({"Origin": "null"}, False),  # no-referrer makes it null; the token decides
        ({"Origin": "https://evil.example"}, True),
        ({"Origin": "http://aftercare.example"}, True),  # same host, other scheme
        ({"Origin": "https://aftercare.example:8443"}, True),  # same host, other port
    ],
)
def test_cross_origin_problem(headers, refused):
    assert (cross_origin_problem(headers, OWN) is not None) is refused


@pytest.fixture
def https(clinic, database_uri):
    """A client of an app behind one trusted TLS proxy, as nginx in front of gunicorn."""
    app = make_app(database_uri, TRUSTED_PROXIES=1)
    return app.test_client()


def proxied(client_address: str, **headers: str) -> dict[str, str]:
    """Headers the proxy adds for a browser at `client_address` talking HTTPS to it."""
    return {
        "X-Forwarded-For": client_address,
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "aftercare.example",
        "X-Forwarded-Port": "443",
        **headers,
    }


def sign_in(client, email="nurse@riverside.test", password=STAFF_PASSWORD, **headers):
    page = client.get("/signin", headers=proxied("203.0.113.7"))
    form = {"csrf_token": csrf_token(page.text), "email": email, "password": password}
    return client.post("/signin", data=form, headers={**proxied("203.0.113.7"), **headers})


def test_sign_in_over_https_works_without_a_referer(https):
    response = sign_in(https, **BROWSER_FORM_POST)
    assert response.status_code == 302, response.text
    assert response.headers["Location"] == "/clinic/flags"
    assert "Strict-Transport-Security" in response.headers


def test_a_cross_site_post_with_a_valid_token_is_refused_and_changes_nothing(https):
    response = sign_in(https, **{"Sec-Fetch-Site": "cross-site"})
    assert response.status_code == 400
    assert "did not come from this site" in response.text
    assert db.session.scalar(select(LoginAttempt)) is None


def test_a_post_from_another_origin_is_refused(https):
    response = sign_in(https, Origin="https://evil.example")
    assert response.status_code == 400


def test_the_token_is_still_required_from_a_same_origin_browser(https):
    https.get("/signin", headers=proxied("203.0.113.7"))
    response = https.post(
        "/signin",
        data={"email": "nurse@riverside.test", "password": STAFF_PASSWORD},
        headers=proxied("203.0.113.7", **BROWSER_FORM_POST),
    )
    assert response.status_code == 400
    assert db.session.scalar(select(LoginAttempt)) is None


def test_the_client_address_is_the_forwarded_one_and_only_one_hop_is_trusted(https):
    page = https.get("/signin", headers=proxied("203.0.113.7"))
    # The client made up the first hop itself; the proxy appended the address it saw.
    headers = proxied("10.6.6.6, 198.51.100.2", **BROWSER_FORM_POST)
    form = {"csrf_token": csrf_token(page.text), "email": "nurse@riverside.test", "password": "x"}
    https.post("/signin", data=form, headers=headers)
    assert db.session.scalars(select(LoginAttempt.ip_address)).all() == ["198.51.100.2"]


def test_audit_rows_record_the_forwarded_client(https):
    assert sign_in(https, **BROWSER_FORM_POST).status_code == 302
    https.get("/clinic/patients", headers=proxied("198.51.100.9"))
    addresses = set(db.session.scalars(select(AuditEvent.ip_address)))
    assert addresses == {"198.51.100.9"}


def test_one_throttled_address_does_not_lock_out_another(https, clinic):
    for attempt in range(20):
        page = https.get("/signin", headers=proxied("198.51.100.1"))
        form = {
            "csrf_token": csrf_token(page.text),
            "email": f"guess{attempt}@riverside.test",
            "password": "wrong password",
        }
        https.post("/signin", data=form, headers=proxied("198.51.100.1", **BROWSER_FORM_POST))
    page = https.get("/signin", headers=proxied("198.51.100.1"))
    form = {"csrf_token": csrf_token(page.text), "email": "nurse@riverside.test"}
    throttled = https.post(
        "/signin",
        data={**form, "password": STAFF_PASSWORD},
        headers=proxied("198.51.100.1", **BROWSER_FORM_POST),
    )
    assert throttled.status_code == 429
    other = https.post(
        "/signin",
        data={**form, "password": STAFF_PASSWORD},
        headers=proxied("198.51.100.2", **BROWSER_FORM_POST),
    )
    assert other.status_code == 302


def test_without_trusted_proxies_forwarded_headers_are_ignored(client, clinic):
    response = client.get("/signin", headers=proxied("198.51.100.1"))
    assert "Strict-Transport-Security" not in response.headers
    form = {"csrf_token": csrf_token(response.text), "email": "nurse@riverside.test"}
    client.post("/signin", data={**form, "password": "x"}, headers=proxied("198.51.100.1"))
    assert db.session.scalars(select(LoginAttempt.ip_address)).all() == ["127.0.0.1"]


def test_trusted_proxies_must_be_a_small_count():
    from tracker.config import trusted_proxies

    assert trusted_proxies(None) == 0
    assert trusted_proxies(" 2 ") == 2
    for bad in ("-1", "yes", "1.5", "99"):
        with pytest.raises(RuntimeError, match="TRUSTED_PROXIES"):
            trusted_proxies(bad)
