"""Fixtures for the Flask test-client tests: one app on the migrated test database, clients,
and logging in as a demo role or user (in the style of the Flask tutorial's AuthActions)."""
import pytest
import sqlalchemy as sa
from werkzeug.security import generate_password_hash

from engine.access import accounts
from engine.workflow import runtime
from engine.demo import DEMO_PASSWORD
from engine.persistence.models import OrgUnit, User
from tests.conftest import wipe_cases
from tests.engine.helpers import INTAKE, file_matter, open_task
from webui import labels

# A second county mediator, so that two different people can race for one task.
SECOND_MEDIATOR = ("mediator2", "陈调解（县人民调解委员会）")


@pytest.fixture(scope="session")
def app(schema):
    from webui import create_app
    from webui.extensions import db
    app = create_app({"SQLALCHEMY_DATABASE_URI": schema, "TESTING": True, "WTF_CSRF_ENABLED": False})
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(autouse=True)
def no_cases(session_factory):
    """Every test starts with no cases and only the versions recorded from the repository files."""
    wipe_cases(session_factory)
    # SQLite may hand a deleted version's id to the next upload: forget what was cached by id.
    runtime.SPEC_CACHE._specs.clear()
    labels._vocab_cache.clear()
    yield
    runtime.SPEC_CACHE._specs.clear()
    labels._vocab_cache.clear()


@pytest.fixture(scope="session")
def second_mediator(session_factory):
    username, display = SECOND_MEDIATOR
    session = session_factory()
    try:
        if session.scalar(sa.select(User.id).where(User.username == username)) is None:
            county = session.scalar(sa.select(OrgUnit).where(OrgUnit.code == "C01-Q"))
            accounts.create_user(session, username, generate_password_hash(DEMO_PASSWORD, method="pbkdf2:sha256:1000"),
                                 display, county.id, ["mediator"])
            session.commit()
    finally:
        session.close()
    return username


class AuthActions:
    """Log a test client in and out through the real /login and /logout routes. A user's session
    cookie is kept after the first real log-in and reused, so that checking the (deliberately slow)
    password hash happens once per user and not once per request."""

    _cookies = {}

    def __init__(self, client):
        self._client = client

    def login(self, username, password=DEMO_PASSWORD):
        return self._client.post("/login", data={"username": username, "password": password})

    def logout(self):
        # Logging out ends every session of that login, the cached cookies among them.
        AuthActions._cookies.clear()
        return self._client.post("/logout")

    def login_as(self, role_or_username):
        cookie = self._cookies.get(role_or_username)
        if cookie is None:
            self._client.delete_cookie("session")
            response = self.login(role_or_username)
            assert response.status_code == 302, f"log-in as {role_or_username} failed: {response.status_code}"
            cookie = self._cookies[role_or_username] = self._client.get_cookie("session").value
        else:
            self._client.set_cookie("session", cookie)
        return self._client


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def auth(client):
    return AuthActions(client)


@pytest.fixture
def make_client(app):
    """More clients, for two people working at once: make_client("mediator")."""
    def make(role_or_username=None):
        new = app.test_client()
        if role_or_username:
            AuthActions(new).login_as(role_or_username)
        return new
    return make


@pytest.fixture
def login_as(client):
    """login_as("clerk") logs the default client in as that demo role or user name and returns it;
    login_as("mediator", other_client) logs in another client."""
    def login(role_or_username, on=None):
        return AuthActions(on or client).login_as(role_or_username)
    return login


@pytest.fixture
def filed_case(session_factory):
    """A dispute filed by the county clerk through the engine, waiting for mediation. Returns
    (case id, mediation task id, process version id)."""
    def make(username="clerk", **changes):
        session = session_factory()
        try:
            case = file_matter(session, username, **changes)
            task = open_task(session, case.id, "Task_mediate")
            return case.id, task.id if task else None, case.process_version_id
        finally:
            session.close()
    return make


@pytest.fixture
def intake_post():
    return dict(INTAKE)
