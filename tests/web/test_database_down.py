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
