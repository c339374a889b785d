"""No personal-link or stop token in any log line: gunicorn's access and error logs, the
development server's request lines, and the app's own messages and tracebacks.

A token here is `SeCrEt-ToKeN_42` (not shaped like a signed token), so only the path rules can
catch it, and a real signed link where the test needs one.
"""

from __future__ import annotations

import http.client
import logging
import runpy
import threading
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote

import pytest
from gunicorn.config import Config
from gunicorn.glogging import SafeAtoms
from werkzeug.serving import make_server

from tracker.extensions import db
from tracker.redaction import redact
from tracker.services.messaging.reminder_settings import stop_url
from tracker.services.patients.links import issue_link

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "SeCrEt-ToKeN_42"


@pytest.fixture(scope="module")
def gunicorn_settings():
    """What gunicorn.conf.py defines; the TRACKER_ENV it sets is put back for the other tests."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TRACKER_ENV", "production")
        patch.delenv("TRACKER_SCHEDULER", raising=False)
        return runpy.run_path(str(ROOT / "gunicorn.conf.py"))


def make_logger(settings):
    """The logger gunicorn.conf.py names, writing to the sys.stdout and sys.stderr of now."""
    config = Config()
    config.set("accesslog", "-")
    config.set("errorlog", "-")
    config.set("access_log_format", settings["access_log_format"])
    return settings["RedactingLogger"](config)


@pytest.fixture
def gunicorn_logger(gunicorn_settings):
    return make_logger(gunicorn_settings)


class FakeResponse:
    status = "200 OK"
    sent = 512
    headers = [("Content-Type", "text/html"), ("Set-Cookie", f"session={TOKEN}")]


class FakeRequest:
    def __init__(self, environ):
        self.headers = [
            ("REFERER", environ["HTTP_REFERER"]),
            ("COOKIE", environ["HTTP_COOKIE"]),
            ("AUTHORIZATION", f"Bearer {TOKEN}"),
        ]


def environ_for(raw_uri: str, referer: str = "-") -> dict[str, str]:
    """What gunicorn puts in the environ: PATH_INFO is the raw path percent-decoded once."""
    path, _, query = raw_uri.partition("?")
    return {
        "REQUEST_METHOD": "GET",
        "RAW_URI": raw_uri,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "PATH_INFO": unquote(path),
        "QUERY_STRING": query,
        "HTTP_REFERER": referer,
        "HTTP_COOKIE": f"session={TOKEN}",
        "HTTP_USER_AGENT": "Mozilla/5.0",
        "REMOTE_ADDR": "203.0.113.9",
    }


def atoms_for(logger, raw_uri: str, referer: str = "-") -> dict:
    environ = environ_for(raw_uri, referer)
    return logger.atoms(FakeResponse(), FakeRequest(environ), environ, timedelta(milliseconds=7))


def access_line(logger, atoms) -> str:
    return logger.cfg.access_log_format % SafeAtoms(atoms)


# raw request target -> the path the access log shows
PATHS = {
    "/p/T": "/p/[token]",
    "/p/T/fresh": "/p/[token]/fresh",
    "//p/T": "//p/[token]",
    "////p/T/fresh": "////p/[token]/fresh",
    "/p//T": "/p//[token]",
    "/%2Fp/T": "//p/[token]",
    "/%2f%2fp/T": "///p/[token]",
    "/%252Fp/T": "//p/[token]",
    "/%70/T": "/p/[token]",
    "/P/T": "/P/[token]",
    "/p/T;v=1": "/p/[token]",
    "/p/T%3Fnext=x": "/p/[token]",
    "/x/../p/T": "/x/../p/[token]",
    "/stop/T": "/stop/[token]",
    "//stop/T": "//stop/[token]",
    "/%73top/T": "/stop/[token]",
    "/checkin?next=/p/T": "/checkin",
    "/clinic/patients/12?q=T": "/clinic/patients/12",
    "/clinic/patients/12": "/clinic/patients/12",
    "/static/app.css": "/static/app.css",
}


@pytest.mark.parametrize(("raw", "shown"), PATHS.items(), ids=PATHS.keys())
def test_the_access_log_shows_no_token_however_the_path_is_spelt(gunicorn_logger, raw, shown):
    atoms = atoms_for(gunicorn_logger, raw.replace("T", TOKEN))
    leaks = {key: value for key, value in atoms.items() if TOKEN in str(value)}
    assert leaks == {}
    assert atoms["U"] == shown
    assert atoms["r"] == f"GET {shown} HTTP/1.1"
    assert atoms["q"] == "-"
    assert TOKEN not in access_line(gunicorn_logger, atoms)


REFERERS = {
    "https://aftercare.example/p/T": "https://aftercare.example/p/[token]",
    "https://aftercare.example//p/T/fresh?x=1": "https://aftercare.example//p/[token]/fresh",
    "https://aftercare.example/stop/T": "https://aftercare.example/stop/[token]",
    "https://aftercare.example/checkin?t=T": "https://aftercare.example/checkin",
    "-": "-",
}


@pytest.mark.parametrize(("referer", "shown"), REFERERS.items(), ids=REFERERS.keys())
def test_the_referer_shows_no_token_or_query(gunicorn_logger, referer, shown):
    atoms = atoms_for(gunicorn_logger, "/checkin", referer=referer.replace("T", TOKEN))
    assert atoms["f"] == shown
    assert TOKEN not in atoms["{referer}i"]


def test_cookies_and_credentials_are_left_out_of_every_atom(gunicorn_logger):
    atoms = atoms_for(gunicorn_logger, "/checkin")
    for key in ("{cookie}i", "{authorization}i", "{set-cookie}o", "{http_cookie}e"):
        assert atoms[key] == "-", key
    assert atoms["{query_string}e"] == "-"


def test_the_line_gunicorn_writes_has_no_token(capsys, gunicorn_settings):
    gunicorn_logger = make_logger(gunicorn_settings)  # here, where capsys has taken the streams
    environ = environ_for(f"//p/{TOKEN}/fresh?x={TOKEN}", referer=f"https://a.example/p/{TOKEN}")
    gunicorn_logger.access(FakeResponse(), FakeRequest(environ), environ, timedelta(seconds=1))
    out = capsys.readouterr().out
    assert '"GET //p/[token]/fresh HTTP/1.1" 200 512' in out
    assert TOKEN not in out


def test_gunicorn_errors_name_no_token(capsys, gunicorn_settings):
    gunicorn_logger = make_logger(gunicorn_settings)
    try:
        raise ValueError(f"bad request line: GET /p/{TOKEN} HTTP/1.1")
    except ValueError:
        gunicorn_logger.exception("Error handling request %s", f"//p/{TOKEN}")
    err = capsys.readouterr().err
    assert "Error handling request //p/[token]" in err
    assert "bad request line: GET /p/[token] HTTP/1.1" in err
    assert TOKEN not in err


# --- the app's own lines and the development server --------------------------------------------


def test_a_signed_token_is_redacted_anywhere_in_a_line(app):
    with app.test_request_context():
        token = stop_url(1).rsplit("/", 1)[1]
        assert redact(f"unsubscribe={token} from x") == "unsubscribe=[token] from x"


@pytest.fixture
def app_log(app, caplog, monkeypatch):
    """What the app logs in this test (Alembic's logging set-up disables loggers it finds)."""
    monkeypatch.setattr(app.logger, "disabled", False)
    return caplog


def test_an_unexpected_error_logs_no_token(client, make_patient, monkeypatch, app_log):
    patient, _ = make_patient()
    token = issue_link(patient)
    db.session.commit()

    def broken(given):
        raise RuntimeError(f"could not check {given}")

    monkeypatch.setattr("tracker.patient.routes.check_link", broken)
    response = client.get(f"/p/{token}")
    assert response.status_code == 500
    assert "Unhandled error" in app_log.text
    assert "could not check [token]" in app_log.text
    assert token not in app_log.text


def test_a_refused_form_logs_no_token(client, make_patient, app_log):
    patient, _ = make_patient()
    token = issue_link(patient)
    db.session.commit()
    client.get(f"/p/{token}")
    assert client.post(f"/p/{token}", data={"csrf_token": "forged"}).status_code == 400
    assert "CSRF refused" in app_log.text
    assert token not in app_log.text


def test_the_development_server_logs_no_token(app, make_patient, caplog, monkeypatch):
    patient, _ = make_patient()
    token = issue_link(patient)
    db.session.commit()
    server = make_server("127.0.0.1", 0, app)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    caplog.set_level(logging.INFO, logger="werkzeug")
    monkeypatch.setattr(logging.getLogger("werkzeug"), "disabled", False)
    try:
        for path in (f"/p/{token}", f"//p/{token}", f"/%70/{token}", f"/stop/{TOKEN}"):
            connection = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=10)
            connection.request("GET", path)
            connection.getresponse().read()
            connection.close()
    finally:
        server.shutdown()
        thread.join(timeout=10)
    lines = [r.getMessage() for r in caplog.records if r.name == "werkzeug"]
    assert len(lines) == 4
    assert all("[token]" in line for line in lines), lines
    assert not [line for line in lines if token in line or TOKEN in line]
