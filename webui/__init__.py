"""The thin web layer: parses requests, calls one engine service, renders."""
from datetime import timedelta

from flask import Flask, jsonify, render_template, request

from config.settings import flask_config
from engine.errors import NotAllowed, NotFound
from engine.reading.queries import DATA_EVENTS, task_light
from engine.persistence.uow import Conflict

from . import guard, i18n, labels
from .extensions import babel, csrf, db, login_manager, migrate


def create_app(overrides=None):
    app = Flask(__name__, instance_relative_config=False)
    app.config.update(flask_config())
    app.config.update(
        BABEL_DEFAULT_TIMEZONE="Asia/Shanghai",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=10),
        SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True},
    )
    if overrides:
        app.config.update(overrides)
    if app.config["PROXIES"]:  # behind that many reverse proxies: the client's address is in X-Forwarded-For
        from werkzeug.middleware.proxy_fix import ProxyFix
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=app.config["PROXIES"], x_proto=app.config["PROXIES"])
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if url.startswith("postgresql://"):
        app.config["SQLALCHEMY_DATABASE_URI"] = "postgresql+psycopg://" + url[len("postgresql://"):]

    app.json.ensure_ascii = False  # show Chinese as Chinese wherever data is rendered as JSON
    db.init_app(app)
    migrate.init_app(app, db, directory=str(app.root_path + "/../migrations"))
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "请先登录 / Please log in"
    csrf.init_app(app)
    babel.init_app(app, locale_selector=i18n.select_locale)

    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        with app.app_context():
            from engine.persistence.db import _sqlite_pragmas
            from sqlalchemy import event
            event.listen(db.engine, "connect", _sqlite_pragmas)

    guard.install(app)
    from . import admin, api, audit, auth, clocks, designer, home, moves, public, supervision, work
    for module in (auth, home, public, work, moves, clocks, supervision, audit, designer, admin, api):
        app.register_blueprint(module.bp)

    app.jinja_env.globals.update(
        t=i18n.t, pick=i18n.pick, when=i18n.when, lang=i18n.lang, enum_label=i18n.enum_label,
        field_title=i18n.field_title, unit_name=i18n.unit_name, case_label=labels.case_label, label=labels.label, L=labels,
    )
    app.jinja_env.globals.update(may=_may_in_template, DATA_EVENTS=DATA_EVENTS, task_light=task_light)

    @app.errorhandler(403)
    @app.errorhandler(NotAllowed)
    def forbidden(_error):
        return _error_page(403, "您没有权限访问此页面或执行此操作。", "You may not see this page or do this.")

    @app.errorhandler(404)
    @app.errorhandler(NotFound)
    def not_found(_error):
        return _error_page(404, "找不到该页面或记录。", "Not found.")

    @app.errorhandler(405)
    def not_allowed_here(_error):
        return _error_page(405, "此地址不接受该请求方式。", "This address does not take that method.")

    @app.errorhandler(Conflict)
    def conflict(error):
        return _error_page(409, str(error), str(error))

    @app.errorhandler(400)
    def bad_request(error):
        if isinstance(error, guard.BadInput):
            return _error_page(400, error.zh, error.en)
        return _error_page(400, "请求无效（页面可能已过期，请刷新后重试）。",
                           "Bad request (the page may have expired; reload and try again).")

    @app.errorhandler(413)
    def too_large(_error):
        limit = app.config["MAX_CONTENT_LENGTH"] // (1024 * 1024)
        return _error_page(413, f"提交的内容超过 {limit} MB 的上限。", f"The request is larger than the {limit} MB limit.")

    @app.after_request
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

    return app


def _error_page(code, zh, en):
    """An error as a page, or as JSON ({"error": English, "error_zh": Chinese}) for the API."""
    if request.path.startswith("/api/"):
        return jsonify(error=en, error_zh=zh), code
    return render_template("error.html", code=code, message=i18n.t(zh, en)), code


def _may_in_template(action):
    from flask_login import current_user
    from engine.access.policy import allowed
    from .auth import current_actor
    return current_user.is_authenticated and allowed(current_actor(), action)
