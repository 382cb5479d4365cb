"""The 12345 hotline told back: the acceptance, the milestones, the closing reply and the rating
of a matter it filed are written to the outbox in the transaction that caused them, POSTed signed
(HMAC-SHA256) to a real receiver on 127.0.0.1, retried with growing delays, then FAILED."""
import json
import time
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
import time_machine

from engine.access import accounts
from engine.cases import outbox, services, store, transfers
from engine.persistence.models import AccountEvent, CallbackEndpoint, OutboxMessage, User
from tests.callback_receiver import Receiver

from .helpers import (CLOSE, MEDIATION_SUCCESS, VISIT_BAD, WINDOW_NO, actor, complete, file_matter, open_specs,
                      open_task)

SECRET = "s3cret-shared-with-the-hotline-0001"
START = datetime(2026, 12, 1, 2, 0, tzinfo=timezone.utc)
# A hotline work order as the 12345 system sends it (the API's JSON).
ORDER = {
    "kind": "dispute", "channel": "hotline_12345", "category": "neighbour", "place": "东关村三组",
    "summary": "12345转办：两户因排水沟堵塞发生争执。", "claims": "疏通排水沟", "people_count": 2,
    "parties": [{"role": "applicant", "name": "王五", "id_type": "resident_id", "id_number": "110101198001011234",
                 "phone": "13600136000"},
                {"role": "respondent", "name": "赵六", "id_type": "resident_id", "id_number": "11010119851212345X",
                 "phone": "13700137000"}],
}
PERSONAL = ("王五", "赵六", "110101198001011234", "11010119851212345X", "13600136000", "13700137000")


@pytest.fixture
def endpoint(session):
    """The hotline login's callback address (replaced by each test that starts a receiver)."""
    user_id = session.scalar(sa.select(User.id).where(User.username == "hotline"))
    accounts.set_callback(session, None, user_id, "http://127.0.0.1:9/never-used", SECRET, allow_http=True)
    yield user_id
    session.rollback()
    session.execute(sa.delete(CallbackEndpoint))
    session.execute(sa.delete(AccountEvent).where(AccountEvent.kind == "callback_set"))
    session.commit()


def _point_at(session, user_id, url, secret=SECRET):
    accounts.set_callback(session, None, user_id, url, secret, allow_http=True)


def _file_order(session, number="GD20261201-0007"):
    return services.start_case(session, actor(session, "hotline"), "intake", data=ORDER, new_despite_repeats=True,
                               external_ref=number, by_system=True)


def _callbacks(session, case_id=None):
    session.expire_all()
    query = sa.select(OutboxMessage).where(OutboxMessage.topic == "callback").order_by(OutboxMessage.id)
    if case_id is not None:
        query = query.where(OutboxMessage.case_id == case_id)
    return session.scalars(query).all()


def _bodies(session, case_id):
    return [json.loads(m.body) for m in _callbacks(session, case_id)]


def test_acceptance_milestones_closing_and_rating_are_told_in_the_hotlines_terms(session, endpoint):
    case = _file_order(session)
    told = _bodies(session, case.id)
    assert [(b["event"], b.get("milestone")) for b in told] == [("accepted", None), ("progress", "routed")]
    accepted = told[0]
    assert accepted["order_number"] == "GD20261201-0007" and accepted["case_code"] == case.code
    assert accepted["status"] == "accepted" and accepted["handling_unit"] == "清河县"
    assert accepted["occurred_at"].endswith("+00:00") and accepted["accepted_at"] == accepted["occurred_at"]
    assert case.code in accepted["message"] and "已受理" in accepted["message"]
    assert told[1]["route"] == "mediation" and "已分流" in told[1]["message"]
    assert {m.address for m in _callbacks(session)} == {"http://127.0.0.1:9/never-used"}

    complete(session, "mediator", case.id, "Task_mediate", MEDIATION_SUCCESS)
    complete(session, "mediator", case.id, open_specs(session, case.id)[0], WINDOW_NO)
    # The hotline's login files, but nobody sits behind it: the close goes to the clerks' pool.
    assert open_task(session, case.id, "Task_close").assignee_id is None
    complete(session, "clerk", case.id, "Task_close", CLOSE)
    complete(session, "clerk", case.id, "Task_visit", VISIT_BAD)
    told = _bodies(session, case.id)
    assert [(b["event"], b.get("milestone")) for b in told] == [
        ("accepted", None), ("progress", "routed"), ("progress", "result"), ("closed", None), ("rated", None)]
    result, closed, rated = told[2:]
    assert result["result"] == {"field": "outcome", "value": "success", "label": "调解成功"}
    assert closed["status"] == "closed" and closed["outcome"] == "mediated" and closed["outcome_label"] == "调解结案"
    assert closed["reply"] == CLOSE["closing_summary"] and CLOSE["closing_summary"] in closed["message"]
    assert rated["rating"] == "unsatisfied" and "不满意" in rated["message"]
    # In order, each once, and never a party's name, ID number or phone.
    assert [b["sequence"] for b in told] == sorted({b["sequence"] for b in told})
    assert len({b["event_id"] for b in told}) == 5
    for message in _callbacks(session, case.id):
        assert not [word for word in PERSONAL if word in message.body]
        assert message.recipient_user_id == endpoint and message.state == "pending"


def test_moves_between_levels_are_milestones(session, endpoint):
    case = _file_order(session)
    transfers.assign_down(session, actor(session, "clerk"), case.id, _unit_id(session, "C01-Q-CG"), "属地办理")
    told = _bodies(session, case.id)[-1]
    assert (told["milestone"], told["unit"], told["handling_unit"]) == ("assigned_down", "城关镇", "城关镇")
    assert "城关镇" in told["message"] and "属地办理" not in json.dumps(told, ensure_ascii=False)


def _unit_id(session, code):
    from engine.persistence.models import OrgUnit
    return session.scalar(sa.select(OrgUnit.id).where(OrgUnit.code == code))


def test_a_step_that_fails_tells_nothing(session, endpoint, monkeypatch):
    case = _file_order(session)
    before = len(_callbacks(session))
    saving = store.save

    def broken(*args, **kwargs):
        saving(*args, **kwargs)  # the milestone's events are written, then the action fails
        raise RuntimeError("disk full")
    monkeypatch.setattr(store, "save", broken)
    with pytest.raises(RuntimeError):
        complete(session, "mediator", case.id, "Task_mediate", MEDIATION_SUCCESS)
    assert len(_callbacks(session)) == before
    monkeypatch.setattr(store, "save", saving)
    # Nothing of the failed action is carried into the next transaction either.
    complete(session, "mediator", case.id, "Task_mediate", MEDIATION_SUCCESS)
    assert [b.get("milestone") for b in _bodies(session, case.id)].count("result") == 1


def test_cases_of_other_logins_and_disabled_endpoints_tell_nothing(session, endpoint):
    file_matter(session)  # a clerk at the window
    assert _callbacks(session) == []
    accounts.set_callback(session, None, endpoint, "http://127.0.0.1:9/never-used", active=False, allow_http=True)
    _file_order(session)
    assert _callbacks(session) == []


def test_signed_posts_verify_and_a_wrong_secret_is_refused_until_the_secret_is_rotated(session, endpoint):
    with time_machine.travel(START, tick=False) as traveller, Receiver(SECRET) as receiver:
        _point_at(session, endpoint, receiver.url)
        case = _file_order(session)
        assert outbox.deliver(session) == 2
        (headers, body, valid), _routed = receiver.received
        assert valid and json.loads(body)["event"] == "accepted"
        assert headers["X-Yizhan-Event"] == "accepted" and headers["X-Yizhan-Timestamp"] == str(int(START.timestamp()))
        assert headers["Idempotency-Key"] == headers["X-Yizhan-Delivery"] == f"yizhan-{_callbacks(session)[0].id}"
        assert [m.state for m in _callbacks(session)] == ["sent", "sent"]

        # The receiver holds another secret: it refuses, and the row waits for its retry.
        receiver.secret = "the-receivers-newer-secret-9999"
        complete(session, "mediator", case.id, "Task_mediate", MEDIATION_SUCCESS)
        assert outbox.deliver(session) == 0
        message = _callbacks(session, case.id)[-1]
        assert (message.state, message.attempts, message.error) == ("pending", 1, "HTTP 401 Unauthorized")
        assert not receiver.received[-1][2]
        # Rotating the secret signs the retry with the new one.
        _point_at(session, endpoint, receiver.url, secret="the-receivers-newer-secret-9999")
        traveller.shift(outbox.retry_delay(1))
        assert outbox.deliver(session) == 1
        assert receiver.received[-1][2] and _callbacks(session, case.id)[-1].state == "sent"


def test_delays_grow_then_the_callback_fails(session, endpoint):
    with time_machine.travel(START, tick=False) as traveller, Receiver(SECRET) as receiver:
        _point_at(session, endpoint, receiver.url)
        receiver.status, receiver.only_events = 503, {"accepted"}
        _file_order(session)
        delays = []
        for attempt in range(1, outbox.CALLBACK_MAX_ATTEMPTS + 1):
            now = datetime.now(timezone.utc)
            assert outbox.deliver(session) == 0
            first = _callbacks(session)[0]
            assert first.attempts == attempt and first.error == "HTTP 503 Service Unavailable"
            if attempt == outbox.CALLBACK_MAX_ATTEMPTS:
                break
            delay = first.next_attempt_at.replace(tzinfo=timezone.utc) - now
            delays.append(delay)
            # Not due yet: the sweep leaves it alone (the routing, taken by the receiver, goes meanwhile).
            traveller.shift(delay - timedelta(seconds=1))
            outbox.deliver(session)
            assert [b["event"] for b in receiver.bodies()].count("accepted") == attempt
            traveller.shift(timedelta(seconds=1))
        assert delays[:4] == [timedelta(minutes=m) for m in (1, 2, 4, 8)]
        assert all(b >= a for a, b in zip(delays, delays[1:])) and max(delays) == outbox.CALLBACK_MAX_DELAY
        assert [m.state for m in _callbacks(session)] == ["failed", "sent"]


def test_a_receiver_that_does_not_answer_costs_one_timeout_per_sweep(session, endpoint):
    with Receiver(SECRET) as receiver:
        _point_at(session, endpoint, receiver.url)
        receiver.hang = True
        for number in range(10):
            _file_order(session, f"GD-HANG-{number}")  # 20 callbacks
        began = time.monotonic()
        assert outbox.deliver(session, timeout=0.3) == 0
        spent = time.monotonic() - began
        assert spent < 1.5, spent
        rows = _callbacks(session)
        assert len(receiver.received) == 1 and sum(m.attempts for m in rows) == 1
        assert all(m.state == "pending" and m.next_attempt_at is not None for m in rows)
        assert "timed out" in rows[0].error


def test_sms_rows_keep_their_gateway_and_wait_for_their_time(session, monkeypatch):
    sent = []
    outbox.register_gateway("collect", lambda message: sent.append(message.body))
    monkeypatch.setenv("OUTBOX_GATEWAY", "collect")
    with time_machine.travel(START, tick=False) as traveller:
        with services.as_system(session):
            outbox.enqueue(session, "短信：现在发")
            outbox.enqueue(session, "短信：稍后发")
            session.execute(sa.update(OutboxMessage).where(OutboxMessage.body == "短信：稍后发")
                            .values(next_attempt_at=START + timedelta(minutes=5)))
        assert outbox.deliver(session) == 1 and sent == ["短信：现在发"]
        traveller.shift(timedelta(minutes=5))
        assert outbox.deliver(session) == 1 and sent == ["短信：现在发", "短信：稍后发"]
