"""Aftercare: a post-treatment side-effect tracker for botulinum-toxin clinics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask

from . import config

ROOT = Path(__file__).resolve().parent.parent


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app: configuration, extensions, blueprints, commands, error pages."""
    app = Flask(
        __name__,
        instance_path=str(ROOT / "instance"),
        instance_relative_config=True,
        template_folder=str(ROOT / "templates"),
    )
    app.config.update(config.DEFAULTS)
    app.config.update(config.from_environment(app.instance_path))
    if test_config:
        app.config.update(test_config)
    check_production_settings(app)
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = config.development_secret_key(app.instance_path)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)

    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    register_security_headers(app)
    register_template_helpers(app)
    register_scheduler(app, test_config)
    return app


def check_production_settings(app: Flask) -> None:
    """Refuse to run in production with debug on or without a real secret key."""
    if app.config["TRACKER_ENV"] != "production":
        return
    if app.debug:
        raise RuntimeError("Refusing to start: debug is on in production.")
    if len(app.config.get("SECRET_KEY") or "") < 32:
        raise RuntimeError(
            "Refusing to start: set SECRET_KEY to a random string of 32+ characters."
        )
    if app.config.get("TRACKER_JOB_INTERVAL_SECONDS"):
        raise RuntimeError(
            "Refusing to start: TRACKER_JOB_INTERVAL_SECONDS is for tests; production jobs "
            "run at their own times."
        )


def register_extensions(app: Flask) -> None:
    """Bind the extension objects and tune SQLite."""
    from .auth.login import init_app as init_login
    from .extensions import csrf, db, migrate
    from .forms import refuse_nul_in_query_string
    from .i18n import init_app as init_i18n
    from .infrastructure.database import IdConverter, begin_request_transaction, configure_sqlite
    from .uploads import SizedRequest

    app.request_class = SizedRequest  # before any request: the photo pages' size limit
    app.url_map.converters["int"] = IdConverter  # before any route is added
    db.init_app(app)
    init_login(app)
    migrate.init_app(app, db, directory=str(Path(__file__).parent / "migrations"))
    csrf.init_app(app)
    init_i18n(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            configure_sqlite(db.engine)
    app.before_request(refuse_nul_in_query_string)  # first: before anything reads the args
    app.before_request(begin_request_transaction)


def register_blueprints(app: Flask) -> None:
    """Mount the web interfaces."""
    from .api import bp as api_bp
    from .auth import bp as auth_bp
    from .clinic import bp as clinic_bp
    from .health import bp as health_bp
    from .patient import bp as patient_bp
    from .public import bp as public_bp

    app.register_blueprint(public_bp)
    app.register_blueprint(patient_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(clinic_bp)
    app.register_blueprint(health_bp)
    app.register_blueprint(api_bp)


def register_errorhandlers(app: Flask) -> None:
    """Friendly pages for every error status."""
    from .errors import register

    register(app)


def register_commands(app: Flask) -> None:
    """The `flask tracker ...` commands."""
    from .cli import tracker_cli

    app.cli.add_command(tracker_cli)


def register_security_headers(app: Flask) -> None:
    """Headers that keep health data out of caches, frames and referrers; the proxies we trust."""
    from .security import add_security_headers, trust_proxies

    app.after_request(add_security_headers)
    trust_proxies(app)


def register_template_helpers(app: Flask) -> None:
    """Filters that show UTC times in the viewer's timezone."""
    from .templating import register

    register(app)


def register_scheduler(app: Flask, test_config: dict[str, Any] | None) -> None:
    """With TRACKER_SCHEDULER=1, run the jobs inside this web process; in tests only if asked."""
    if not app.config["TRACKER_SCHEDULER"]:
        return
    if app.testing and not (test_config or {}).get("TRACKER_SCHEDULER"):
        return
    from .scheduler import start_in_web_process

    start_in_web_process(app)
