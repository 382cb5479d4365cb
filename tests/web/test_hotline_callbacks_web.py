"""The hotline's return channel on the web: the administrator sets where a login is told back (the
secret shown once, then masked; https only unless CALLBACK_ALLOW_HTTP; in the login's history),
and supervisors of the case's unit see the callbacks that keep failing and send them again."""
import json
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
import time_machine
from werkzeug.security import generate_password_hash

from engine.access import accounts
from engine.cases import outbox, services
from engine.demo import DEMO_PASSWORD
from engine.persistence.models import AccountEvent, AuditEvent, CallbackEndpoint, OrgUnit, OutboxMessage, Task, User
from tests.callback_receiver import Receiver
from tests.engine.helpers import actor
from tests.engine.test_hotline_callbacks import ORDER, SECRET
from tests.web.support import reading, text, user_id

# The refusals happen in moved time and the supervisor works in real time afterwards, so the
# refusals are put a day ahead of the real clock: the message still waiting (the routing) is then
# not due while the supervisor works, whatever day the suite runs (a fixed date here stopped
# holding once the real clock passed it).
START = (datetime.now(timezone.utc) + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)


def _endpoint(session_factory):
    with reading(session_factory) as session:
        return session.scalar(sa.select(CallbackEndpoint))


def test_the_administrator_sets_the_address_and_sees_the_secret_once(app, client, login_as, session_factory):
    hotline = user_id(session_factory, "hotline")
    with reading(session_factory) as session:
        seen = session.scalar(sa.select(sa.func.max(AccountEvent.id))) or 0
    login_as("admin")
    page = client.get(f"/admin/users/{hotline}")
    assert page.status_code == 200 and "回告地址" in text(page)

    refused = client.post(f"/admin/users/{hotline}/callback", data={
        "callback_url": "http://hotline.example.cn/callback", "callback_active": "on"})
    assert refused.status_code == 422 and "https://" in text(refused) and _endpoint(session_factory) is None
    assert 'value="http://hotline.example.cn/callback"' in refused.get_data(as_text=True), "what was typed stays"
    for bad in ("ftp://hotline.example.cn/x", "https://user:pw@hotline.example.cn/x", "https://", "not a url"):
        assert client.post(f"/admin/users/{hotline}/callback", data={"callback_url": bad}).status_code == 422

    made = client.post(f"/admin/users/{hotline}/callback", data={
        "callback_url": "https://hotline.example.cn/callback", "callback_active": "on"})
    endpoint = _endpoint(session_factory)
    assert made.status_code == 200 and endpoint.url == "https://hotline.example.cn/callback" and endpoint.active
    assert endpoint.secret in made.get_data(as_text=True), "a made secret is shown on this one answer"
    again = client.get(f"/admin/users/{hotline}")
    assert endpoint.secret not in again.get_data(as_text=True) and "••••••••" in again.get_data(as_text=True)

    # A changed address keeps the secret; the history says what changed and never the secret.
    kept = client.post(f"/admin/users/{hotline}/callback", data={
        "callback_url": "https://hotline.example.cn/v2/callback", "callback_active": "on"})
    assert kept.status_code == 302 and _endpoint(session_factory).secret == endpoint.secret
    rotated = client.post(f"/admin/users/{hotline}/callback", data={
        "callback_url": "https://hotline.example.cn/v2/callback", "callback_active": "on", "new_secret": "on"})
    assert rotated.status_code == 200 and _endpoint(session_factory).secret != endpoint.secret
    with reading(session_factory) as session:
        events = session.scalars(sa.select(AccountEvent).where(AccountEvent.user_id == hotline,
                                                               AccountEvent.kind == "callback_set")
                                 .order_by(AccountEvent.id)).all()
        assert [sorted(e.detail) for e in events] == [["active", "secret", "url"], ["url"], ["secret"]]
        assert events[1].detail["url"] == ["https://hotline.example.cn/callback", "https://hotline.example.cn/v2/callback"]
    history = client.get("/admin/")
    assert "设置回告地址" in text(history) and endpoint.secret not in history.get_data(as_text=True)
    with reading(session_factory) as session:
        session.execute(sa.delete(AccountEvent).where(AccountEvent.user_id == hotline, AccountEvent.id > seen))
        session.commit()


def test_run_py_callback_makes_a_secret_and_refuses_plain_http(schema, session_factory, capsys, monkeypatch):
    import run
    monkeypatch.setenv("DATABASE_URL", schema)
    monkeypatch.delenv("CALLBACK_ALLOW_HTTP", raising=False)
    assert run.main(["callback", "hotline", "--url", "http://127.0.0.1:8080/cb"]) == 1
    assert "CALLBACK_ALLOW_HTTP" in capsys.readouterr().err
    assert run.main(["callback", "hotline", "--url", "https://hotline.example.cn/cb"]) == 0
    secret = capsys.readouterr().out.strip().splitlines()[-1]
    assert _endpoint(session_factory).secret == secret and len(secret) >= 32
    assert run.main(["callback", "nobody_here", "--url", "https://hotline.example.cn/cb"]) == 1


@pytest.fixture
def township_supervisor(session_factory):
    """A supervisor at 柳林镇: the county's cases are not theirs."""
    with reading(session_factory) as session:
        if session.scalar(sa.select(User.id).where(User.username == "supervisor_ll")) is None:
            unit = session.scalar(sa.select(OrgUnit).where(OrgUnit.code == "C01-Q-LL"))
            accounts.create_user(session, "supervisor_ll", generate_password_hash(DEMO_PASSWORD, method="pbkdf2:sha256:1000"),
                                 "林督办（柳林镇）", unit.id, ["supervisor"])
            session.commit()
    return "supervisor_ll"


def _failing_order(session_factory, receiver, traveller):
    """A hotline order whose acceptance the receiver refused three times."""
    with reading(session_factory) as session:
        hotline = session.scalar(sa.select(User.id).where(User.username == "hotline"))
        accounts.set_callback(session, None, hotline, receiver.url, SECRET, allow_http=True)
        case = services.start_case(session, actor(session, "hotline"), "intake", data=ORDER, new_despite_repeats=True,
                                   external_ref="GD20261201-0099")
        for attempt in range(1, 4):
            outbox.deliver(session)
            traveller.shift(outbox.retry_delay(attempt))
        return case.id, case.code


def test_supervisors_of_the_unit_see_failing_callbacks_and_send_them_again(client, login_as, session_factory,
                                                                         township_supervisor):
    with Receiver(SECRET) as receiver:
        # Time moves only while the receiver refuses: a login made in a moved time would be cached
        # for the tests that follow (AuthActions) with a session from the future.
        with time_machine.travel(START, tick=False) as traveller:
            receiver.status = 500
            case_id, code = _failing_order(session_factory, receiver, traveller)
        with reading(session_factory) as session:
            rows = session.scalars(sa.select(OutboxMessage).where(OutboxMessage.topic == "callback")
                                   .order_by(OutboxMessage.id)).all()
            # The routing waits behind the acceptance (one refusal a sweep per receiver): not tried yet.
            assert [r.attempts for r in rows] == [3, 0] and rows[0].error == "HTTP 500 Internal Server Error"
            first = rows[0].id

        login_as("supervisor")
        page = client.get("/supervision/callbacks")
        assert page.status_code == 200
        body = text(page)
        assert code in body and "GD20261201-0099" in body and "HTTP 500" in body and "受理" in body
        assert 'class="count badge-red">1<' in client.get("/supervision/dashboard").get_data(as_text=True)

        receiver.status = 200
        assert client.post(f"/supervision/callbacks/{first}/retry").status_code == 302
        with reading(session_factory) as session:
            row = session.get(OutboxMessage, first)
            assert row.state == "pending" and row.next_attempt_at.replace(tzinfo=timezone.utc) <= datetime.now(timezone.utc)
            retried = session.scalar(sa.select(AuditEvent).where(AuditEvent.case_id == case_id,
                                                                 AuditEvent.kind == "callback_retried"))
            assert retried.actor_name == "张督办（县中心）" and retried.detail["event"] == "accepted"
            assert outbox.deliver(session) == 1  # the routing keeps its own time
            session.expire_all()
            assert session.get(OutboxMessage, first).state == "sent"
            assert receiver.bodies()[-1]["event"] == "accepted"

        # Not theirs: a township's supervisor sees none of it and cannot send it; a clerk is refused.
        login_as(township_supervisor)
        assert code not in text(client.get("/supervision/callbacks"))
        assert client.post(f"/supervision/callbacks/{rows[1].id}/retry").status_code == 404
        login_as("clerk")
        assert client.get("/supervision/callbacks").status_code == 403
        assert client.post(f"/supervision/callbacks/{rows[1].id}/retry").status_code == 403
        assert client.post("/supervision/callbacks/999999/retry").status_code == 403
        login_as("supervisor")
        assert client.post("/supervision/callbacks/999999/retry").status_code == 404


def test_the_openapi_document_describes_the_callback(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    hook = spec["webhooks"]["caseEvent"]["post"]
    assert {p["name"] for p in hook["parameters"]} >= {"X-Yizhan-Signature", "X-Yizhan-Timestamp", "Idempotency-Key"}
    event = spec["components"]["schemas"]["CaseEvent"]
    assert hook["requestBody"]["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/CaseEvent"
    assert event["properties"]["event"]["enum"] == ["accepted", "progress", "closed", "rated"]
    assert {"order_number", "case_code", "status", "occurred_at", "message"} <= set(event["properties"])


def test_an_order_filed_through_the_api_is_told_back_and_its_steps_go_to_the_clerks_pool(client, session_factory):
    """End to end: the hotline's token files a work order; its acceptance waits in the outbox for
    the hotline's address, and nobody sits behind the hotline's login, so the case's next clerk
    step (the close) will go to the county clerks' pool, not to the hotline."""
    with reading(session_factory) as session:
        hotline = session.scalar(sa.select(User.id).where(User.username == "hotline"))
        accounts.set_callback(session, None, hotline, "https://hotline.example.cn/cb", SECRET)
        key = accounts.create_api_token(session, "hotline", "12345热线")
    filed = client.post("/api/v1/matters", json={**ORDER, "order_number": "GD20261201-0500"},
                        headers={"Authorization": f"Bearer {key}"})
    assert filed.status_code == 201
    with reading(session_factory) as session:
        told = session.scalars(sa.select(OutboxMessage).where(OutboxMessage.topic == "callback")
                               .order_by(OutboxMessage.id)).all()
        assert [m.address for m in told] == ["https://hotline.example.cn/cb"] * 2
        first = json.loads(told[0].body)
        assert (first["event"], first["order_number"], first["case_code"]) == (
            "accepted", "GD20261201-0500", filed.get_json()["code"])
        intake = session.scalar(sa.select(Task).where(Task.spec_id == "Task_intake"))
        assert intake.completed_by == hotline and intake.assignee_id is None
