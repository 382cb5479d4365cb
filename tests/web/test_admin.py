"""Administrators manage the logins of their unit and the units below it."""
import sqlalchemy as sa

from engine.persistence.models import AccountEvent, OrgUnit, User


def _unit(session_factory, code):
    session = session_factory()
    try:
        return session.scalar(sa.select(OrgUnit.id).where(OrgUnit.code == code))
    finally:
        session.close()


def _user(session_factory, username):
    session = session_factory()
    try:
        user = session.scalar(sa.select(User).where(User.username == username))
        return None if user is None else (user.id, user.display_name, sorted(user.roles), user.active, user.org_unit_id)
    finally:
        session.close()


def _cleanup(session_factory, username):
    session = session_factory()
    try:
        user = session.scalar(sa.select(User).where(User.username == username))
        if user is not None:
            session.execute(sa.delete(AccountEvent).where(AccountEvent.user_id == user.id))
            session.delete(user)
            session.commit()
    finally:
        session.close()


def test_admin_creates_a_mediator_who_can_log_in(app, client, login_as, session_factory):
    township = _unit(session_factory, "C01-Q-LL")
    _cleanup(session_factory, "mediator_ll")
    login_as("admin")
    response = client.post("/admin/users/new", data={
        "username": "mediator_ll", "display_name": "何调解（柳林镇）", "unit_id": township,
        "roles": ["mediator"], "password": "s3cret-pass", "active": "on"})
    assert response.status_code == 302
    user_id, name, roles, active, unit = _user(session_factory, "mediator_ll")
    assert (name, roles, active, unit) == ("何调解（柳林镇）", ["mediator"], True, township)
    other = app.test_client()
    assert other.post("/login", data={"username": "mediator_ll", "password": "s3cret-pass"}).status_code == 302
    assert other.get("/tasks").status_code == 200
    _cleanup(session_factory, "mediator_ll")


def test_invalid_user_keeps_what_was_typed(client, login_as, session_factory):
    login_as("admin")
    response = client.post("/admin/users/new", data={
        "username": "clerk", "display_name": "重名的人", "unit_id": _unit(session_factory, "C01-Q"),
        "password": "short"})
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "该用户名已被使用" in body and "请至少选择一个角色" in body and "密码至少 8 位" in body
    assert 'value="重名的人"' in body


def test_disabled_user_cannot_log_in_and_admin_cannot_disable_self(app, client, login_as, session_factory):
    _cleanup(session_factory, "temp_clerk")
    county = _unit(session_factory, "C01-Q")
    login_as("admin")
    client.post("/admin/users/new", data={"username": "temp_clerk", "display_name": "临时受理员", "unit_id": county,
                                          "roles": ["clerk"], "password": "password123", "active": "on"})
    user_id = _user(session_factory, "temp_clerk")[0]
    response = client.post(f"/admin/users/{user_id}", data={"display_name": "临时受理员", "unit_id": county,
                                                            "roles": ["clerk", "mediator"]})
    assert response.status_code == 302
    assert _user(session_factory, "temp_clerk")[2:4] == (["clerk", "mediator"], False)
    other = app.test_client()
    assert other.post("/login", data={"username": "temp_clerk", "password": "password123"}).status_code == 401
    admin_id = _user(session_factory, "admin")[0]
    response = client.post(f"/admin/users/{admin_id}", data={"display_name": "孙管理员", "unit_id": county,
                                                             "roles": ["admin"]})
    assert response.status_code == 422 and "不能停用自己" in response.get_data(as_text=True)
    assert _user(session_factory, "admin")[3] is True
    session = session_factory()
    try:
        events = session.scalars(sa.select(AccountEvent).where(AccountEvent.user_id == user_id)
                                 .order_by(AccountEvent.id)).all()
        assert [e.kind for e in events] == ["user_created", "user_changed"]
        assert events[1].detail == {"roles": [["clerk"], ["clerk", "mediator"]], "active": [True, False]}
        assert events[1].actor_name == "孙管理员"
    finally:
        session.close()
    page = client.get("/admin/").get_data(as_text=True)
    assert "账号变更记录" in page and "temp_clerk" in page
    # The change reads as words: roles by name, before → after, never the stored JSON.
    history = page[page.index("账号变更记录"):]
    assert "可登录" in history and "是 → 否" in history and "受理员" in history and "调解员" in history
    assert '{"' not in history and "[[" not in history
    _cleanup(session_factory, "temp_clerk")


def test_only_admins_and_only_within_their_units(client, login_as, session_factory):
    login_as("supervisor")
    assert client.get("/admin/users/new").status_code == 403
    assert client.post("/admin/users/new", data={"username": "sneaky"}).status_code == 403
    assert _user(session_factory, "sneaky") is None
    login_as("admin")
    page = client.get("/admin/users/new").get_data(as_text=True)
    assert "清河县" in page and "示范市" not in page, "a county admin cannot place people in the city"


def test_an_over_long_name_is_refused_not_cut(client, login_as, session_factory):
    login_as("admin")
    long_name, long_username = "长" * 101, "a" * 31
    response = client.post("/admin/users/new", data={
        "username": long_username, "display_name": long_name, "unit_id": _unit(session_factory, "C01-Q"),
        "roles": ["clerk"], "password": "s3cret-pass", "active": "on"})
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'value="{long_name}"' in body and f'value="{long_username}"' in body, "what was typed is kept whole"
    assert "请填写姓名（不超过100字）" in body and "用户名须为" in body
    assert _user(session_factory, long_username[:30]) is None, "never stored cut to fit"
