"""Logging in (issue 9, part 4): every login lands on its start page; no redirect taken from the
request leaves the site; guessing is slowed per name and address without locking anyone out;
nothing tells whether a login exists; sessions end when they should; cookie flags; argon2."""
import ast
import re
from datetime import datetime, timedelta, timezone
from urllib.parse import urljoin, urlsplit

import argon2
import pytest
import sqlalchemy as sa
import time_machine
from werkzeug.security import generate_password_hash

from engine.access import accounts, passwords
from engine.demo import DEMO_PASSWORD, USERS
from engine.persistence.models import AccountEvent, LoginThrottle, OrgUnit, User
from engine.access.policy import ROLES
from tests.conftest import ROOT
from tests.web.support import location_path, page, reading, text
from webui.home import LANDING

START = {"clerk": "/tasks", "mediator": "/tasks", "department": "/tasks", "supervisor": "/supervision/",
         "auditor": "/audit/cases", "designer": "/designer/", "admin": "/admin/", "grid_worker": "/grid/"}
WRONG_ZH = "用户名或密码不正确"


@pytest.fixture(autouse=True)
def fresh_throttle(session_factory):
    """Each test counts its own failures."""
    def clear():
        with reading(session_factory) as s:
            s.execute(sa.delete(LoginThrottle))
            s.commit()
    clear()
    yield
    clear()


def post_login(client, username, password=DEMO_PASSWORD, address="10.9.0.1", path="/login", **kwargs):
    return client.post(path, data={"username": username, "password": password},
                       environ_base={"REMOTE_ADDR": address}, **kwargs)


def alert(response):
    return [a.text_content().strip() for a in page(response).xpath('//div[@role="alert"]')]


@pytest.fixture
def temp_user(session_factory):
    """A login of its own (county clerk), so that ending its sessions leaves the demo logins alone."""
    made = []

    def make(username="temp_sessions", password="temp-pass-1", password_hash=None, roles=("clerk",)):
        with reading(session_factory) as s:
            county = s.scalar(sa.select(OrgUnit).where(OrgUnit.code == "C01-Q"))
            old = s.scalar(sa.select(User).where(User.username == username))
            if old is not None:
                s.execute(sa.delete(AccountEvent).where(AccountEvent.user_id == old.id))
                s.delete(old)
                s.flush()
            user = accounts.create_user(s, username, password_hash or passwords.hash_password(password),
                                        "临时用户", county.id, list(roles))
            s.commit()
            made.append(username)
            return user.id
    yield make
    with reading(session_factory) as s:
        for user in s.scalars(sa.select(User).where(User.username.in_(made))):
            s.execute(sa.delete(AccountEvent).where(AccountEvent.user_id == user.id))
            s.delete(user)
        s.commit()


# ---- every login lands on its start page ------------------------------------------------------

def test_every_role_has_a_start_page():
    assert {role for role, _action, _endpoint in LANDING} == set(ROLES)


@pytest.mark.parametrize("username,roles", [(u, r) for u, _name, _unit, r in USERS])
def test_every_demo_login_lands_on_its_start_page(app, username, roles):
    client = app.test_client()
    response = post_login(client, username)
    assert response.status_code == 302 and location_path(response) == "/"
    start = client.get("/")
    assert start.status_code == 302 and location_path(start) == START[roles[0]], username
    assert client.get(location_path(start)).status_code == 200


def test_a_request_that_changes_nothing_in_the_session_does_not_set_its_cookie(app):
    """A background request answered late (the intake preview) must not put back an older session
    cookie over the one a form's post just set (which holds the post's flash message)."""
    client = app.test_client()
    post_login(client, "clerk")
    assert client.get("/tasks").status_code == 200  # the CSRF token and the rest are in place now
    preview = client.post("/matters/preview", data={"csrf_token": "x"})
    quiet = client.get("/tasks")
    assert not any(h.startswith("session=") for h in quiet.headers.getlist("Set-Cookie")), quiet.headers
    assert preview.status_code in (200, 400)
    assert not any(h.startswith("session=") for h in preview.headers.getlist("Set-Cookie"))


# ---- no redirect leaves the site ----------------------------------------------------------------

HOSTILE = [
    "//evil.example", "///evil.example", "////evil.example", "//evil.example/%2F..", "/\\evil.example",
    "\\\\evil.example", "/\\/evil.example", "\\/evil.example", "/\t/evil.example", "/\n/evil.example",
    "/\r\n/evil.example", "/\x00/evil.example", "/\x0b/evil.example", " //evil.example", "\t//evil.example",
    "/ /evil.example", "/%2F/evil.example", "/%2f/evil.example", "%2F%2Fevil.example", "/%5Cevil.example",
    "/%5cevil.example", "/%09/evil.example", "/%0A/evil.example", "/%252F/evil.example",
    "/%25252F%25252Fevil.example", "/\uff0fevil.example", "/%EF%BC%8Fevil.example", "https://evil.example/",
    "HTTPS://evil.example", "http:evil.example", "http:/evil.example", "//evil.example@localhost/",
    "http://localhost@evil.example/", "javascript:alert(1)", "JaVaScRiPt:alert(1)", "java\tscript:alert(1)",
    "data:text/html,<script>alert(1)</script>", "evil.example", "./evil.example", "../evil.example",
    "?next=//evil.example", "/tasks\r\nSet-Cookie: x=1", "/" + "a" * 5000,
]
SAFE = ["/tasks", "/audit/cases", "/cases?q=%E5%BC%A0&page=2", "/supervision/?only=overdue", "/cases/12"]


def leaves(location):
    """Where a browser would go: it drops tabs and newlines and reads a backslash as a slash."""
    cleaned = re.sub(r"[\t\n\r]", "", location).replace("\\", "/")
    return urlsplit(urljoin("http://localhost/login", cleaned)).netloc != "localhost"


def goes_home(response):
    """To the start page, or refused as a bad request (a NUL byte may be refused before any view)."""
    if response.status_code == 400:
        return True
    return response.status_code == 302 and response.headers["Location"] == "/" and not leaves(response.headers["Location"])


@pytest.mark.parametrize("target", HOSTILE)
def test_login_never_redirects_off_site(app, target):
    assert goes_home(post_login(app.test_client(), "auditor", query_string={"next": target}))


@pytest.mark.parametrize("target", HOSTILE)
def test_language_switch_never_redirects_off_site(app, target):
    assert goes_home(app.test_client().post("/lang/en", data={"next": target}))


def test_same_site_paths_are_followed_and_a_newline_is_no_error(app):
    for target in SAFE:
        assert app.test_client().post("/lang/en", data={"next": target}).headers["Location"] == target
        assert post_login(app.test_client(), "auditor", query_string={"next": target}).headers["Location"] == target
    client = app.test_client()
    bounced = client.get("/cases?q=%E5%BC%A0")
    assert location_path(bounced) == "/login"
    assert post_login(client, "clerk", path=bounced.headers["Location"]).headers["Location"] == "/cases?q=%E5%BC%A0"
    switched = client.post("/lang/en", data={"next": "/tasks\nLocation: https://evil.example/"})
    assert switched.status_code == 302 and switched.headers["Location"] == "/"


def test_every_redirect_in_the_web_layer_is_built_by_url_for_or_safe_next():
    """The class, not the example: a redirect target from the request must pass safe_next."""
    offenders = []
    for path in sorted((ROOT / "webui").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "redirect":
                target = node.args[0]
                while isinstance(target, ast.BinOp):  # url_for(...) + "#anchor"
                    target = target.left
                if not (isinstance(target, ast.Call) and getattr(target.func, "id", None) in ("url_for", "safe_next")):
                    offenders.append(f"{path.name}:{node.lineno}")
    assert offenders == []
    assert "safe_next(request" in (ROOT / "webui" / "auth.py").read_text(encoding="utf-8")


# ---- guessing is slowed per name and address; nobody is locked out -----------------------------

def delays(client, username, failures, address, traveller, now):
    """Fail `failures` times, each as soon as allowed; the wait (seconds) each failure announces,
    checked by an attempt at once, which is refused without counting."""
    waits = []
    for _ in range(failures):
        failed = post_login(client, username, "wrong-guess", address)
        assert failed.status_code == 401 and alert(failed)[0].startswith(WRONG_ZH)
        found = re.search(r"请 (\d+) 秒后再试", alert(failed)[0])
        waits.append(int(found.group(1)) if found else 0)
        if waits[-1]:
            assert post_login(client, username, "wrong-guess", address).status_code == 429
        now += timedelta(seconds=waits[-1])
        traveller.move_to(now)
    return waits, now


def test_guessing_one_login_slows_that_address_only_with_growing_delays(app):
    client = app.test_client()
    start = datetime.now(timezone.utc)
    with time_machine.travel(start, tick=False) as traveller:
        waits, now = delays(client, "supervisor", 14, "10.1.0.1", traveller, start)
        assert waits == [0, 0, 0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900]
        # Still guessing at the cap: even the right password waits at that address ...
        assert post_login(client, "supervisor", "wrong-guess", "10.1.0.1").status_code == 401
        held = post_login(client, "supervisor", address="10.1.0.1")
        assert held.status_code == 429 and "秒后再试" in text(held)
        # ... but the real user at another address gets in at once, and so do other logins here.
        assert post_login(app.test_client(), "supervisor", address="10.1.0.2").status_code == 302
        assert post_login(app.test_client(), "mediator", address="10.1.0.1").status_code == 302
        traveller.move_to(now + timedelta(seconds=901))
        assert post_login(client, "supervisor", address="10.1.0.1").status_code == 302
        # The right password starts that name at that address afresh.
        assert delays(client, "supervisor", 4, "10.1.0.1", traveller, now + timedelta(seconds=901))[0] == [0, 0, 0, 1]


def test_one_address_trying_many_logins_is_slowed(app):
    client = app.test_client()
    start = datetime.now(timezone.utc)
    with time_machine.travel(start, tick=False) as traveller:
        for n in range(21):
            assert post_login(client, f"guess{n}", "password1", "10.2.0.1").status_code == 401
        assert post_login(client, "clerk", address="10.2.0.1").status_code == 429
        assert post_login(app.test_client(), "clerk", address="10.2.0.2").status_code == 302
        traveller.move_to(start + timedelta(seconds=1))
        assert post_login(client, "clerk", address="10.2.0.1").status_code == 302


def test_behind_a_proxy_the_forwarded_address_counts(schema, monkeypatch):
    from webui import create_app
    monkeypatch.setenv("YIZHAN_PROXIES", "1")
    proxied = create_app({"SQLALCHEMY_DATABASE_URI": schema, "TESTING": True, "WTF_CSRF_ENABLED": False})
    client = proxied.test_client()
    start = datetime.now(timezone.utc)
    with time_machine.travel(start, tick=False):
        for _ in range(4):
            post_login(client, "auditor", "wrong-guess", "127.0.0.1", headers={"X-Forwarded-For": "203.0.113.7"})
        assert post_login(client, "auditor", address="127.0.0.1",
                          headers={"X-Forwarded-For": "203.0.113.7"}).status_code == 429
        assert post_login(client, "auditor", address="127.0.0.1",
                          headers={"X-Forwarded-For": "203.0.113.8"}).status_code == 302


# ---- nothing tells whether a login exists --------------------------------------------------------

def test_unknown_and_real_logins_are_slowed_alike(app):
    start = datetime.now(timezone.utc)
    with time_machine.travel(start, tick=False) as traveller:
        known, now = delays(app.test_client(), "clerk_cg", 7, "10.3.0.1", traveller, start)
        unknown, _ = delays(app.test_client(), "no_such_login", 7, "10.3.0.2", traveller, now)
    assert known == unknown == [0, 0, 0, 1, 2, 4, 8]


@pytest.mark.parametrize("username", ["clerk", "no_such_login", "temp_disabled_2"])
def test_every_refusal_costs_one_password_hash_check(app, temp_user, session_factory, monkeypatch, username):
    """Timing: an unknown or disabled login checks a hash too (argon2, as long as a real one), and
    the answer reads the same."""
    temp_user("temp_disabled_2", "right-pass-1")
    with reading(session_factory) as s:
        s.execute(sa.update(User).where(User.username == "temp_disabled_2").values(active=False))
        s.commit()
    calls = []
    real = argon2.PasswordHasher.verify
    monkeypatch.setattr(argon2.PasswordHasher, "verify", lambda self, h, p: calls.append(h) or real(self, h, p))
    response = post_login(app.test_client(), username, "not-the-password")
    assert response.status_code == 401 and alert(response) == [WRONG_ZH]
    assert len(calls) == 1


# ---- sessions end --------------------------------------------------------------------------------

def saved_session(app, username, password):
    client = app.test_client()
    assert post_login(client, username, password).status_code == 302
    assert client.get("/tasks").status_code == 200
    return client, client.get_cookie("session").value


def still_works(app, cookie):
    replay = app.test_client()
    replay.set_cookie("session", cookie)
    return replay.get("/tasks").status_code == 200


def test_logout_ends_every_session_of_the_login(app, temp_user):
    temp_user()
    laptop, laptop_cookie = saved_session(app, "temp_sessions", "temp-pass-1")
    _phone, phone_cookie = saved_session(app, "temp_sessions", "temp-pass-1")
    assert laptop.post("/logout").status_code == 302
    assert not still_works(app, laptop_cookie), "a saved cookie must not outlive the log-out"
    assert not still_works(app, phone_cookie), "logging out ends the other devices too"


def test_changing_ones_own_password_ends_the_other_sessions(app, temp_user, make_client):
    temp_user()
    me, _ = saved_session(app, "temp_sessions", "temp-pass-1")
    _other, other_cookie = saved_session(app, "temp_sessions", "temp-pass-1")
    refused = me.post("/password", data={"current": "not-it", "new": "brand-new-pass", "repeat": "brand-new-pass"})
    assert refused.status_code == 422 and "当前密码不正确" in text(refused)
    assert me.post("/password", data={"current": "temp-pass-1", "new": "brand-new-pass",
                                      "repeat": "other-new-pass"}).status_code == 422
    assert still_works(app, other_cookie)
    changed = me.post("/password", data={"current": "temp-pass-1", "new": "brand-new-pass", "repeat": "brand-new-pass"})
    assert changed.status_code == 302
    assert me.get("/tasks").status_code == 200, "this session goes on"
    assert not still_works(app, other_cookie)
    assert post_login(app.test_client(), "temp_sessions", "temp-pass-1", "10.5.0.1").status_code == 401
    assert post_login(app.test_client(), "temp_sessions", "brand-new-pass", "10.5.0.2").status_code == 302
    assert "本人修改密码" in text(make_client("admin").get("/admin/"))


def test_a_session_cannot_be_used_to_guess_the_password(app, temp_user):
    temp_user()
    me, _ = saved_session(app, "temp_sessions", "temp-pass-1")
    start = datetime.now(timezone.utc)

    def change(current):
        return me.post("/password", data={"current": current, "new": "brand-new-pass", "repeat": "brand-new-pass"},
                       environ_base={"REMOTE_ADDR": "10.6.0.1"})
    with time_machine.travel(start, tick=False) as traveller:
        for _ in range(4):
            wrong = change("guess-123")
            assert wrong.status_code == 422 and "当前密码不正确" in text(wrong)
        held = change("temp-pass-1")
        assert held.status_code == 422 and "请 1 秒后再试" in text(held)
        assert post_login(app.test_client(), "temp_sessions", "temp-pass-1", "10.6.0.1").status_code == 429
        traveller.move_to(start + timedelta(seconds=1))
        assert change("temp-pass-1").status_code == 302


@pytest.mark.parametrize("change,ends", [
    ({"password": "reset-pass-99"}, True),
    ({"roles": ["clerk", "mediator"]}, True),
    ({"unit": "C01-Q-CG"}, True),
    ({"active": False}, True),
    ({"display_name": "改名的临时用户"}, False),
])
def test_an_administrators_change_ends_the_logins_sessions(app, temp_user, login_as, make_client, session_factory,
                                                           change, ends):
    user_id = temp_user()
    _client, cookie = saved_session(app, "temp_sessions", "temp-pass-1")
    with reading(session_factory) as s:
        unit = s.scalar(sa.select(OrgUnit.id).where(OrgUnit.code == change.get("unit", "C01-Q")))
    form = {"display_name": change.get("display_name", "临时用户"), "unit_id": unit,
            "roles": change.get("roles", ["clerk"]), "password": change.get("password", "")}
    if change.get("active", True):
        form["active"] = "on"
    admin = make_client("admin")
    assert admin.post(f"/admin/users/{user_id}", data=form).status_code == 302
    assert still_works(app, cookie) is not ends


# ---- cookies and hashes --------------------------------------------------------------------------

def test_session_cookie_flags_and_secure_over_https(schema, app, monkeypatch):
    from webui import create_app
    cookie = post_login(app.test_client(), "clerk").headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    monkeypatch.setenv("YIZHAN_HTTPS", "on")
    https = create_app({"SQLALCHEMY_DATABASE_URI": schema, "TESTING": True, "WTF_CSRF_ENABLED": False})
    response = post_login(https.test_client(), "clerk", base_url="https://localhost")
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_older_hashes_become_argon2_at_the_next_login(app, temp_user, session_factory):
    temp_user("temp_old_hash", password_hash=generate_password_hash("old-pass-123", method="pbkdf2:sha256:1000"))
    assert post_login(app.test_client(), "temp_old_hash", "old-pass-123").status_code == 302
    with reading(session_factory) as s:
        stored = s.scalar(sa.select(User.password_hash).where(User.username == "temp_old_hash"))
    assert stored.startswith("$argon2id$")
    assert post_login(app.test_client(), "temp_old_hash", "old-pass-123").status_code == 302
    assert post_login(app.test_client(), "temp_old_hash", "wrong-pass-1").status_code == 401
