"""The thin web layer: parses requests, calls one engine service, renders."""
import hashlib
from datetime import timedelta
from pathlib import Path

from flask import Flask
from flask_babel import lazy_gettext as _l

from config.settings import flask_config
from engine.messages import CATALOGUES
from engine.persistence.db import engine_options
from engine.cases import notes
from engine.persistence.states import EventKind, TaskState
from engine.reading.queries import DATA_EVENTS, task_light

from . import errors, guard, i18n, labels
from .extensions import babel, csrf, db, login_manager, migrate


def create_app(overrides=None):
    app = Flask(__name__, instance_relative_config=False)
    _configure(app, overrides)
    _init_extensions(app)
    guard.install(app)
    _register_blueprints(app)
    _template_globals(app)
    errors.register(app)
    app.after_request(_security_headers(app))
    app.url_defaults(_static_versions(app))
    return app


def _configure(app, overrides):
    app.config.update(flask_config())
    app.config.update(
        BABEL_DEFAULT_TIMEZONE="Asia/Shanghai",
        BABEL_DEFAULT_LOCALE="zh",  # also the language of what is written outside a request
        BABEL_TRANSLATION_DIRECTORIES=str(CATALOGUES),
        PERMANENT_SESSION_LIFETIME=timedelta(hours=10),
        # The session is a signed cookie: answered on every request, a late answer to a background
        # request (the intake preview as the clerk types) would put back the cookie as it was before
        # a form's post, and lose what the post stored in it (its flash message). Set only when changed.
        SESSION_REFRESH_EACH_REQUEST=False,
    )
    if overrides:
        app.config.update(overrides)
    if app.config["PROXIES"]:  # behind that many reverse proxies: the client's address is in X-Forwarded-For
        from werkzeug.middleware.proxy_fix import ProxyFix
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=app.config["PROXIES"], x_proto=app.config["PROXIES"])
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if url.startswith("postgresql://"):
        app.config["SQLALCHEMY_DATABASE_URI"] = "postgresql+psycopg://" + url[len("postgresql://"):]
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", engine_options(app.config["SQLALCHEMY_DATABASE_URI"]))
    app.json.ensure_ascii = False  # show Chinese as Chinese wherever data is rendered as JSON


def _init_extensions(app):
    db.init_app(app)
    migrate.init_app(app, db, directory=str(app.root_path + "/../migrations"))
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please log in")
    csrf.init_app(app)
    babel.init_app(app, locale_selector=i18n.select_locale)
    i18n.install_gettext(app)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        with app.app_context():
            from sqlalchemy import event
            from engine.persistence.db import _sqlite_pragmas
            event.listen(db.engine, "connect", _sqlite_pragmas)


def _register_blueprints(app):
    from . import (admin, api, audit, auth, clocks, designer, grid, home, meetings, moves, public, referrals, registry,
                   reports, resident, supervision, unit_inbox, work)
    for module in (auth, home, public, resident, work, unit_inbox, moves, clocks, supervision, reports, meetings, audit,
                   designer, admin, api, grid, referrals, registry):
        app.register_blueprint(module.bp)


def _template_globals(app):
    app.jinja_env.globals.update(
        say=i18n.say, authored=i18n.authored, when=i18n.when, lang=i18n.lang, enum_label=i18n.enum_label,
        field_title=i18n.field_title, unit_name=i18n.unit_name, case_label=labels.case_label, version_name=labels.version_name, label=i18n.label, L=labels,
        may=_may_in_template, DATA_EVENTS=DATA_EVENTS, task_light=task_light, TaskState=TaskState, EventKind=EventKind,
        NOTES=notes,  # the engine's limits on what people write with a case action
        inbox_waiting=_inbox_waiting, referrals_waiting=_referrals_waiting, url_by_id=url_by_id,
    )


_MARKER = 1987654321  # an id no route's other parts contain, within the database's integer range


def url_by_id(endpoint, key, **values):
    """url_for(endpoint, **values, key=id) for every row of a list at the cost of one url_for:
    `link = url_by_id("work.task", "task_id")`, then `link(task.id)` in the loop. Built once with a
    marker id and the marker replaced by each id (routes whose `key` is an <int:...>)."""
    from flask import url_for
    head, found, tail = url_for(endpoint, **values, **{key: _MARKER}).partition(str(_MARKER))
    if not found or str(_MARKER) in tail:
        raise ValueError(f"{endpoint}: {key} is not the one place of the id in its URL")
    return lambda value: f"{head}{int(value)}{tail}"


def _security_headers(app):
    def security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        if app.config["SESSION_COOKIE_SECURE"]:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Content-Security-Policy",
                                    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                                    "script-src 'self'; object-src 'none'; frame-ancestors 'none'")
        return response
    return security_headers


def _static_versions(app):
    """Static URLs carry a hash of the file's content (`?v=`), so the proxy in front
    (deploy/nginx) lets browsers keep them for a year: a changed file is a new URL. Hashed once
    per file per process (an upgrade restarts the processes)."""
    folder = Path(app.static_folder).resolve()
    versions = {}

    def add_version(endpoint, values):
        name = values.get("filename") if endpoint == "static" else None
        if not name or "v" in values:
            return
        if name not in versions:
            path = (folder / name).resolve()
            versions[name] = (hashlib.sha256(path.read_bytes()).hexdigest()[:12]
                              if path.is_relative_to(folder) and path.is_file() else None)
        if versions[name]:
            values["v"] = versions[name]
    return add_version


def _inbox_waiting():
    """Matters awaiting acceptance for the navigation's badge."""
    from .unit_inbox import waiting_count
    return waiting_count()


def _referrals_waiting():
    """Referrals waiting for the department, for the navigation's badge."""
    from .referrals import waiting_count
    return waiting_count()


def _may_in_template(action):
    from flask_login import current_user
    from engine.access.policy import allowed
    from .auth import current_actor
    return current_user.is_authenticated and allowed(current_actor(), action)
