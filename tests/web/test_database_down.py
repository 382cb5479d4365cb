"""The database going away under load (a PostgreSQL restart): a request that meets it gets a 503
with Retry-After (a page in the reader's language, JSON under /api/), its transaction rolled back
with nothing half-stored; the connection pool checks connections, so the next request after the
database is back succeeds without restarting the web process."""
import socket
import sqlite3

import psycopg
import pytest
import sqlalchemy as sa

from engine.persistence.models import AuditEvent, Case
from engine.persistence.uow import is_unavailable
from tests.web.support import count, text


def _lost_connection(dialect):
    """What the driver raises when the server goes away in the middle of a statement."""
    if dialect == "sqlite":
        error = sqlite3.OperationalError("disk I/O error")
        error.sqlite_errorcode = sqlite3.SQLITE_IOERR
        return error
    return psycopg.OperationalError("server closed the connection unexpectedly")


@pytest.fixture
def database_goes_away(app):
    """From the first row of the case's history on, every statement of the app's connections
    fails as a lost connection would."""
    from webui.extensions import db
    with app.app_context():
        engine = db.engine

    def fail(_conn, _cursor, statement, _params, _context, _many):
        if statement.lstrip().upper().startswith("INSERT INTO AUDIT_EVENTS"):
            raise _lost_connection(engine.dialect.name)
    sa.event.listen(engine, "before_cursor_execute", fail)
    yield
    sa.event.remove(engine, "before_cursor_execute", fail)


def test_filing_when_the_database_goes_away_is_a_503_and_stores_nothing(client, login_as, intake_post,
                                                                          session_factory, database_goes_away):
    login_as("clerk")
    response = client.post("/matters/new", data=intake_post)
    assert response.status_code == 503 and response.headers["Retry-After"] == "15"
    assert "暂时无法连接数据库，本次操作未保存任何内容。请稍后再试。" in text(response)
    # The page asks nothing more of the database: no menu, no name.
    assert "mainnav" not in text(response) and "退出" not in text(response)
    # The case row and its parties were written before the history failed: all rolled back.
    assert count(session_factory, Case) == 0 and count(session_factory, AuditEvent) == 0


def test_the_same_connection_pool_serves_again_when_the_database_is_back(client, login_as, intake_post,
                                                                         session_factory, app):
    from webui.extensions import db
    with app.app_context():
        engine = db.engine
    login_as("clerk")
    broken = {"once": True}

    def fail_once(_conn, _cursor, statement, _params, _context, _many):
        if broken["once"] and statement.lstrip().upper().startswith("INSERT INTO AUDIT_EVENTS"):
            broken["once"] = False
            raise _lost_connection(engine.dialect.name)
    sa.event.listen(engine, "before_cursor_execute", fail_once)
    try:
        assert client.post("/matters/new", data=intake_post).status_code == 503
        assert client.post("/matters/new", data=intake_post).status_code == 302
    finally:
        sa.event.remove(engine, "before_cursor_execute", fail_once)
    assert count(session_factory, Case) == 1


def _closed_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def unreachable_app(app):
    """The same application with its database on a port nobody listens on (PostgreSQL down),
    sharing the secret key, so the suite's session cookies are valid there."""
    from webui import create_app
    from webui.extensions import db
    down = create_app({"SQLALCHEMY_DATABASE_URI": f"postgresql://postgres@127.0.0.1:{_closed_port()}/down",
                       "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True, "connect_args": {"connect_timeout": 2}},
                       "TESTING": True, "WTF_CSRF_ENABLED": False, "SECRET_KEY": app.config["SECRET_KEY"]})
    yield down
    with down.app_context():
        db.engine.dispose()


def test_a_logged_in_page_with_the_database_down_is_a_503_page(unreachable_app, client, login_as):
    cookie = login_as("clerk").get_cookie("session").value
    down = unreachable_app.test_client()
    down.set_cookie("session", cookie)
    response = down.get("/tasks")
    assert response.status_code == 503 and response.headers["Retry-After"] == "15"
    assert "暂时无法连接数据库" in text(response)
    english = unreachable_app.test_client()
    english.post("/lang/en", data={"next": "/follow"})
    answer = english.post("/follow", data={"code": "MT20261123000001", "phone": "13800138000"})
    assert answer.status_code == 503
    assert "The database cannot be reached just now and nothing was saved" in text(answer)


def test_the_api_with_the_database_down_answers_json_503(unreachable_app):
    response = unreachable_app.test_client().get("/api/v1/cases/MT20261123000001",
                                                 headers={"Authorization": "Bearer yz_not-checked-the-database-is-down"})
    assert response.status_code == 503 and response.headers["Retry-After"] == "15"
    assert response.get_json() == {
        "error": "The database cannot be reached just now and nothing was saved. Please try again in a moment.",
        "error_zh": "暂时无法连接数据库，本次操作未保存任何内容。请稍后再试。"}


def test_other_database_errors_stay_unexpected(session_factory):
    """A statement the database refuses for what it asks (a missing table) is a bug, not an outage."""
    session = session_factory()
    try:
        with pytest.raises(sa.exc.DBAPIError) as refused:
            session.execute(sa.text("SELECT * FROM no_such_table"))
    finally:
        session.close()
    assert not is_unavailable(refused.value)
    assert is_unavailable(sa.exc.OperationalError("SELECT 1", {}, psycopg.OperationalError("connection refused")))
    assert is_unavailable(sa.exc.TimeoutError("QueuePool limit reached"))


@pytest.fixture
def app_with_outage_views(app):
    """The application with two views meeting an outage the way code outside ours may: one wraps
    the lost connection in an error of its own; one catches it and reads on, so the next
    statement finds the session's transaction invalidated with the connection."""
    from webui import create_app
    from webui.extensions import db
    extra = create_app({"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"], "TESTING": True,
                        "WTF_CSRF_ENABLED": False, "SECRET_KEY": app.config["SECRET_KEY"],
                        # As in production: an error no handler takes is the 500 handler's.
                        "PROPAGATE_EXCEPTIONS": False})
    with extra.app_context():
        engine = db.engine
    failing = {"on": False}

    def lose_connection(_conn, _cursor, _statement, _params, _context, _many):
        if failing["on"]:
            failing["on"] = False
            raise _lost_connection(engine.dialect.name)

    def as_disconnect(context):
        context.is_disconnect = True  # what the driver's dialect says of a server gone away

    sa.event.listen(engine, "before_cursor_execute", lose_connection)
    sa.event.listen(engine, "handle_error", as_disconnect)

    @extra.get("/outage/wrapped")
    def wrapped():
        failing["on"] = True
        try:
            db.session.execute(sa.text("SELECT 1"))
        except sa.exc.DBAPIError as lost:
            raise RuntimeError("a library's own error") from lost
        return "not reached"

    @extra.get("/outage/read-on")
    def read_on():
        failing["on"] = True
        try:
            db.session.execute(sa.text("SELECT 1"))
        except sa.exc.DBAPIError:
            pass  # a careless caller: the next statement meets the invalidated transaction
        db.session.execute(sa.text("SELECT 1"))
        return "not reached"

    @extra.get("/outage/bug")
    def bug():
        db.session.execute(sa.text("SELECT 1"))
        raise RuntimeError("an ordinary bug, with the database up")

    yield extra
    with extra.app_context():
        engine.dispose()


@pytest.mark.parametrize("path", ["/outage/wrapped", "/outage/read-on"])
def test_an_outage_that_reaches_us_in_another_form_is_still_a_503(app_with_outage_views, path):
    response = app_with_outage_views.test_client().get(path)
    assert response.status_code == 503 and response.headers["Retry-After"] == "15"
    assert "暂时无法连接数据库" in text(response)
    # The same process serves the next request: the session was rolled back.
    assert app_with_outage_views.test_client().get("/login").status_code == 200


def test_an_ordinary_bug_stays_a_500(app_with_outage_views):
    response = app_with_outage_views.test_client().get("/outage/bug")
    assert response.status_code == 500 and "Retry-After" not in response.headers
