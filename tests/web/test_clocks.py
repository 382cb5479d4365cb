"""Stopping, restarting and extending a step's clock from the case page."""
import sqlalchemy as sa

from engine.persistence.models import AuditEvent, Task
from tests.web.support import location_path


def _task(session_factory, task_id):
    session = session_factory()
    try:
        return session.get(Task, task_id)
    finally:
        session.close()


def test_handler_stops_and_restarts_the_clock(client, login_as, filed_case, session_factory):
    case_id, task_id, _version = filed_case()
    login_as("mediator")
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert f"/tasks/{task_id}/clock/stop" in page
    response = client.post(f"/tasks/{task_id}/clock/stop", data={"reason": "等待当事人补充材料"})
    assert response.status_code == 302
    assert _task(session_factory, task_id).clock_stopped_at is not None
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "停止计时" in page and f"/tasks/{task_id}/clock/restart" in page
    again = client.post(f"/tasks/{task_id}/clock/stop", data={"reason": "again"})
    assert again.status_code == 302 and location_path(again) == f"/cases/{case_id}"
    assert "计时已停止" in client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert client.post(f"/tasks/{task_id}/clock/restart").status_code == 302
    assert _task(session_factory, task_id).clock_stopped_at is None


def test_who_may_touch_a_clock(client, login_as, filed_case, session_factory):
    case_id, task_id, _version = filed_case()
    login_as("clerk")  # not the step's role
    assert client.post(f"/tasks/{task_id}/clock/stop", data={"reason": "x"}).status_code == 403
    login_as("auditor")
    assert client.post(f"/tasks/{task_id}/clock/stop", data={"reason": "x"}).status_code == 403
    assert client.post(f"/tasks/{task_id}/deadline/extend", data={"days": 5}).status_code == 403
    login_as("supervisor")
    # The step's deadline may not be extended at all: no form is offered, and a forged one is
    # refused with a message on the case page, as every case action's refusal is.
    assert f"/tasks/{task_id}/deadline/extend" not in client.get(f"/cases/{case_id}").get_data(as_text=True)
    refused = client.post(f"/tasks/{task_id}/deadline/extend", data={"days": 5, "reason": "复杂", "approver": "主任"},
                          follow_redirects=True)
    assert refused.status_code == 200 and "最多还可延长 0 天" in refused.get_data(as_text=True)
    assert refused.request.path == f"/cases/{case_id}"
    session = session_factory()
    try:
        kinds = session.scalars(sa.select(AuditEvent.kind).where(AuditEvent.case_id == case_id)).all()
    finally:
        session.close()
    assert not {"clock_stopped", "deadline_extended"} & set(kinds)


def test_a_provisional_deadline_is_marked_in_the_inbox(client, login_as, filed_case, session_factory, tmp_path,
                                                       monkeypatch):
    import time_machine

    from engine.legaltime import workcalendar
    from tests.engine.test_provisional import START, _publish_working_day_deadline
    session = session_factory()
    try:
        _publish_working_day_deadline(session)
    finally:
        session.close()
    monkeypatch.setattr(workcalendar, "NOTICES_DIR", tmp_path)
    with time_machine.travel(START, tick=False):
        filed_case()
    login_as("mediator")
    inbox = client.get("/tasks").get_data(as_text=True)
    assert "badge-provisional" in inbox and "暂定" in inbox
