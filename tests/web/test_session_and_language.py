"""Log-in failures, CSRF protection and the language switch."""
import re

import pytest

from engine.persistence.models import Case
from tests.engine.helpers import INTAKE
from tests.web.support import count, location_path, page, text


# ---- log-in -----------------------------------------------------------------------------------

@pytest.mark.parametrize("username,password", [("clerk", "wrong-password"), ("clerk", ""),
                                               ("nobody", "demo1234"), ("", "")])
def test_failed_login_is_401_without_a_session(client, username, password):
    response = client.post("/login", data={"username": username, "password": password})
    assert response.status_code == 401
    alert = page(response).xpath('//div[@role="alert"]')
    assert [a.text_content().strip() for a in alert] == ["用户名或密码不正确"]
    # The user name typed is kept, the password is not.
    assert page(response).xpath('//input[@name="username"]')[0].get("value") == username
    assert page(response).xpath('//input[@name="password"]')[0].get("value") is None
    with client.session_transaction() as session:
        assert "_user_id" not in session
    follow = client.get("/tasks")
    assert follow.status_code == 302 and location_path(follow) == "/login"


def test_failed_login_in_english(client):
    client.post("/lang/en")
    response = client.post("/login", data={"username": "clerk", "password": "nope"})
    assert response.status_code == 401
    assert "Wrong user name or password" in text(response)


def test_login_goes_to_the_roles_start_page_and_logout_ends_it(client, auth):
    response = auth.login("supervisor")
    assert response.status_code == 302 and location_path(response) == "/"
    start = client.get("/")
    assert start.status_code == 302 and location_path(start) == "/supervision/"
    assert client.get("/supervision/").status_code == 200
    out = auth.logout()
    assert out.status_code == 302 and location_path(out) == "/login"
    assert "已退出登录" in text(client.get("/login"))
    assert location_path(client.get("/supervision/")) == "/login"


def test_login_follows_a_local_next_only(client, auth):
    response = client.post("/login?next=/audit/cases", data={"username": "auditor", "password": "demo1234"})
    assert response.status_code == 302 and location_path(response) == "/audit/cases"
    auth.logout()
    response = client.post("/login?next=//evil.example/", data={"username": "auditor", "password": "demo1234"})
    assert response.status_code == 302 and response.headers["Location"] == "/"
    auth.logout()
    # Browsers read "/\host" as "//host".
    response = client.post("/login?next=/%5Cevil.example/", data={"username": "auditor", "password": "demo1234"})
    assert response.status_code == 302 and response.headers["Location"] == "/"


# ---- CSRF -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def csrf_app(schema):
    from webui import create_app
    from webui.extensions import db
    app = create_app({"SQLALCHEMY_DATABASE_URI": schema, "TESTING": True, "WTF_CSRF_ENABLED": True})
    yield app
    with app.app_context():
        db.engine.dispose()


def _token(response):
    return re.search(r'name="csrf_token" value="([^"]+)"', response.get_data(as_text=True)).group(1)


def test_login_without_token_is_400(csrf_app):
    client = csrf_app.test_client()
    response = client.post("/login", data={"username": "clerk", "password": "demo1234"})
    assert response.status_code == 400
    assert "请求无效" in text(response)
    with client.session_transaction() as session:
        assert "_user_id" not in session
    bad = client.post("/login", data={"username": "clerk", "password": "demo1234", "csrf_token": "forged"})
    assert bad.status_code == 400


def test_filing_without_token_is_400(csrf_app, session_factory):
    client = csrf_app.test_client()
    token = _token(client.get("/login"))
    logged_in = client.post("/login", data={"username": "clerk", "password": "demo1234", "csrf_token": token})
    assert logged_in.status_code == 302
    assert client.post("/matters/new", data=INTAKE).status_code == 400
    assert client.post("/lang/en").status_code == 400
    assert client.post("/logout").status_code == 400
    assert count(session_factory, Case) == 0
    # With the token from the form the same post goes through.
    form_token = _token(client.get("/matters/new"))
    filed = client.post("/matters/new", data=dict(INTAKE, csrf_token=form_token))
    assert filed.status_code == 302 and location_path(filed).startswith("/cases/")
    assert count(session_factory, Case) == 1


# ---- language ---------------------------------------------------------------------------------

def test_language_switch(client, login_as):
    login_as("clerk")
    chinese = client.get("/tasks")
    assert "我的待办" in text(chinese) and "My tasks" not in text(chinese)
    assert page(chinese).get("lang") == "zh-CN"

    switched = client.post("/lang/en", data={"next": "/tasks"})
    assert switched.status_code == 302 and location_path(switched) == "/tasks"
    english = client.get("/tasks")
    assert page(english).get("lang") == "en"
    body = text(english)
    assert "My tasks" in body and "New matter" in body and "Log out" in body and "我的待办" not in body
    assert "Intake registration" in text(client.get("/matters/new"))

    back = client.post("/lang/zh", data={"next": "/tasks"})
    assert back.status_code == 302
    again = client.get("/tasks")
    assert "我的待办" in text(again) and page(again).get("lang") == "zh-CN"


def test_language_follows_the_browser_until_chosen(client):
    assert "Log in" in text(client.get("/login", headers={"Accept-Language": "en-GB,en;q=0.9"}))
    assert "登录" in text(client.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9"}))
    client.post("/lang/zh")
    assert "用户名" in text(client.get("/login", headers={"Accept-Language": "en"}))


def test_unknown_language_and_foreign_next_are_ignored(client):
    response = client.post("/lang/fr", data={"next": "https://evil.example/"})
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert "登录" in text(client.get("/login"))

