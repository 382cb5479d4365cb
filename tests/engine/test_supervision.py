"""Warning lights per stage, the reminders the sweep makes, and a supervisor's actions on a step
or a case, each with a note and each in the history."""
import json
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
import time_machine

from engine.cases import clocks, outbox, services, supervision
from engine.legaltime import lights
from engine.reading import queries
from engine.legaltime.clock import CHINA
from engine.persistence.models import AuditEvent, Case, OutboxMessage, Reminder, Task, User

from .helpers import MEDIATION_SUCCESS, actor, complete, file_matter, open_task

START = datetime(2026, 11, 23, 1, 0, tzinfo=timezone.utc)  # Monday 09:00 in China


def _events(session, case_id, kind):
    return session.scalars(sa.select(AuditEvent).where(AuditEvent.case_id == case_id, AuditEvent.kind == kind)
                           .order_by(AuditEvent.seq)).all()


def test_amber_starts_the_configured_working_days_before_the_deadline(session):
    with time_machine.travel(START, tick=False) as traveller:
        case = file_matter(session)
        task = open_task(session, case.id, "Task_mediate")
        # One month: due at the end of Wednesday December 23rd; Task_mediate turns amber five
        # working days before, counting the due day: from Thursday December 17th, 00:00 in China.
        assert task.due_at.astimezone(CHINA).date().isoformat() == "2026-12-23"
        assert task.amber_at.astimezone(CHINA) == datetime(2026, 12, 17, 0, 0, tzinfo=CHINA)
        traveller.move_to(datetime(2026, 12, 16, 23, 59, tzinfo=CHINA))
        assert queries.task_light(task) == "green"
        traveller.move_to(datetime(2026, 12, 17, 0, 1, tzinfo=CHINA))
        assert queries.task_light(task) == "amber"
        assert queries.light_counts(session, actor(session, "supervisor"))["amber"] == 1
        traveller.move_to(datetime(2026, 12, 24, 0, 1, tzinfo=CHINA))
        assert queries.task_light(task) == "red"


def test_a_share_of_the_period_and_the_default():
    start = datetime(2026, 11, 23, 1, 0, tzinfo=timezone.utc)
    due = start + timedelta(days=3)
    config = {"default": {"amber_working_days": 1}, "stages": {"Task_court_accept": {"amber_share": 0.5}}}
    assert lights.amber_at("Task_court_accept", start, due, config) == start + timedelta(days=1, hours=12)
    # The default: the last working day (Thursday the 26th here), from midnight in China.
    assert lights.amber_at("Task_other", start, due, config) == datetime(2026, 11, 26, 0, 0, tzinfo=CHINA)


def test_a_broken_warning_file_is_a_clear_error(tmp_path):
    path = tmp_path / "warnings.json"
    path.write_text(json.dumps({"default": {"amber_share": 2}}))
    with pytest.raises(lights.WarningConfigError, match="warnings.json"):
        lights.load(path)
    assert lights.load()["default"] == {"amber_working_days": 3}


def test_an_extension_moves_the_amber_moment(session, monkeypatch):
    with time_machine.travel(START, tick=False):
        case = file_matter(session)
        task = open_task(session, case.id, "Task_mediate")
        version = services.catalog.version_info(session, case.process_version_id)
        deadline = dict(version.meta["deadlines"]["Timer_mediation_deadline"], max_extension_days=30, extension_basis="测试")
        monkeypatch.setitem(version.meta["deadlines"], "Timer_mediation_deadline", deadline)
        clocks.extend_deadline(session, actor(session, "supervisor"), task.id, 10, "案情复杂", "县中心主任")
        session.refresh(task)
        # Ten days on is Saturday January 2nd, 2027, a rest day: the extended deadline is the end of
        # Monday January 4th (民事诉讼法 Art. 85). Five working days back, past the New Year's Day
        # holiday and the weekend: from Monday December 28th.
        assert task.due_at.astimezone(CHINA).date().isoformat() == "2027-01-04"
        assert task.amber_at.astimezone(CHINA) == datetime(2026, 12, 28, 0, 0, tzinfo=CHINA)


def test_the_sweep_reminds_once_when_amber_and_once_when_overdue(session):
    with time_machine.travel(START, tick=False) as traveller:
        case = file_matter(session)
        assert supervision.sweep_reminders(session) == 0
        traveller.move_to(datetime(2026, 12, 17, 9, 0, tzinfo=CHINA))
        assert supervision.sweep_reminders(session) == 1
        assert supervision.sweep_reminders(session) == 0, "one reminder per stage of the light"
        reminder = session.scalar(sa.select(Reminder))
        task = open_task(session, case.id, "Task_mediate")
        # Unclaimed: the reminder goes to the pool of the step's role in its unit.
        assert (reminder.kind, reminder.user_id, reminder.role, reminder.org_unit_id) == (
            "due_soon", None, "mediator", task.org_unit_id)
        mediator = actor(session, "mediator")
        assert [r.id for r in supervision.reminders_for(session, mediator)] == [reminder.id]
        assert supervision.reminders_for(session, actor(session, "clerk")) == []
        message = session.scalar(sa.select(OutboxMessage))
        assert message.state == "pending" and case.code in message.body and "即将到期" in message.body
        assert outbox.deliver(session) == 1
        session.refresh(message)
        assert message.state == "sent" and message.attempts == 1

        traveller.move_to(datetime(2026, 12, 24, 9, 0, tzinfo=CHINA))
        services.fire_due_timers(session)
        assert supervision.sweep_reminders(session) == 1
        kinds = sorted(r.kind for r in session.scalars(sa.select(Reminder)))
        assert kinds == ["due_soon", "overdue"]
        supervision.mark_read(session, mediator, reminder.id)
        assert [r.kind for r in supervision.reminders_for(session, mediator)] == ["overdue"]


def test_a_failing_gateway_is_retried_then_given_up(session, monkeypatch):
    case = file_matter(session)
    supervision.remind(session, actor(session, "supervisor"), open_task(session, case.id, "Task_mediate").id, "请尽快办理")

    def broken(_message):
        raise ConnectionError("gateway down")
    outbox.register_gateway("broken", broken)
    monkeypatch.setenv("OUTBOX_GATEWAY", "broken")
    for _ in range(outbox.MAX_ATTEMPTS):
        assert outbox.deliver(session) == 0
    message = session.scalar(sa.select(OutboxMessage))
    assert (message.state, message.attempts, message.error) == ("failed", outbox.MAX_ATTEMPTS, "gateway down")


def test_reassign_and_claim_on_behalf_are_in_the_history(session):
    case = file_matter(session)
    task = open_task(session, case.id, "Task_mediate")
    supervisor = actor(session, "supervisor")
    mediator = session.scalar(sa.select(User).where(User.username == "mediator"))
    # Active mediators of the step's unit (other tests may have added a second county mediator).
    handlers = supervision.handlers_for(session, supervisor, task)
    assert "mediator" in [u.username for u in handlers]
    assert all("mediator" in u.roles and u.active and u.org_unit_id == task.org_unit_id for u in handlers)
    with pytest.raises(services.Conflict, match="Write a note"):
        supervision.assign_task(session, supervisor, task.id, mediator.id, "  ")
    clerk = session.scalar(sa.select(User).where(User.username == "clerk"))
    with pytest.raises(services.Conflict, match="cannot take this step"):
        supervision.assign_task(session, supervisor, task.id, clerk.id, "请受理员办理")
    supervision.assign_task(session, supervisor, task.id, mediator.id, "由李调解负责")
    session.refresh(task)
    assert task.assignee_id == mediator.id
    event = _events(session, case.id, "task_claimed_on_behalf")[0]
    assert event.detail == {"from": None, "to": mediator.display_name, "note": "由李调解负责"}
    assert event.actor_name == "张督办（县中心）"
    # The handler is told.
    assert [r.kind for r in supervision.reminders_for(session, actor(session, "mediator"))] == ["assigned"]
    with pytest.raises(services.NotAllowed):
        supervision.assign_task(session, actor(session, "mediator"), task.id, mediator.id, "自己改派")


def test_flag_and_lift_a_case(session):
    case = file_matter(session)
    supervisor = actor(session, "supervisor")
    supervision.flag_case(session, supervisor, case.id, "群体性纠纷，县中心挂牌督办")
    case = session.get(Case, case.id)
    assert case.flagged_at is not None and case.flag_note == "群体性纠纷，县中心挂牌督办"
    with pytest.raises(services.Conflict):
        supervision.flag_case(session, supervisor, case.id, "again")
    supervision.unflag_case(session, supervisor, case.id, "已化解")
    assert session.get(Case, case.id).flagged_at is None
    assert [e.detail["note"] for e in _events(session, case.id, "case_flagged") + _events(session, case.id, "case_unflagged")] == [
        "群体性纠纷，县中心挂牌督办", "已化解"]
    # A village clerk's supervisor powers: none.
    with pytest.raises(services.NotAllowed):
        supervision.flag_case(session, actor(session, "clerk_dg"), case.id, "x")


def test_a_supervisor_stops_and_restarts_a_handlers_clock_with_notes(session):
    with time_machine.travel(START, tick=False) as traveller:
        case = file_matter(session)
        task = open_task(session, case.id, "Task_mediate")
        due = task.due_at
        supervisor = actor(session, "supervisor")
        clocks.stop_clock(session, supervisor, task.id, "等待司法鉴定")
        traveller.move_to(START + timedelta(days=4))
        clocks.restart_clock(session, supervisor, task.id, "鉴定意见已出")
        session.refresh(task)
        assert task.due_at - due == timedelta(days=4)
        assert _events(session, case.id, "clock_restarted")[0].detail["note"] == "鉴定意见已出"
        complete(session, "mediator", case.id, "Task_mediate", MEDIATION_SUCCESS)


def test_the_supervision_list_puts_overdue_first_and_steps_without_a_deadline_last(session):
    """Overdue steps first, then by deadline, then the steps with no deadline, on both databases
    (SQLite sorts NULL first unless told); the tiles' counts come from one pass and the total of a
    list narrowed by its light alone is its tile's count."""
    with time_machine.travel(START, tick=False) as traveller:
        cases = [file_matter(session) for _ in range(4)]
        steps = [open_task(session, case.id, "Task_mediate") for case in cases]
        dues = [None, START + timedelta(days=9), START - timedelta(days=1), START + timedelta(days=2)]
        for step, due in zip(steps, dues):
            session.execute(sa.update(Task).where(Task.id == step.id).values(due_at=due, amber_at=None))
        session.commit()
        traveller.move_to(START + timedelta(hours=1))
        supervisor = actor(session, "supervisor")
        counts = queries.light_counts(session, supervisor)
        others = session.scalars(sa.select(Task.id).where(Task.state == "ready", Task.id.not_in([s.id for s in steps]),
                                                          Task.due_at.is_(None)).order_by(Task.id)).all()
        assert counts == {"all": 4 + len(others), "red": 1, "amber": 1}
        rows, total, _units, _now = queries.open_tasks(session, supervisor)
        assert [row.id for row in rows] == [steps[2].id, steps[3].id, steps[1].id] + sorted([steps[0].id, *others])
        assert total == 4 + len(others)
        rows, total, _units, _now = queries.open_tasks(session, supervisor, only="red", counts=counts)
        assert ([row.id for row in rows], total) == ([steps[2].id], 1)
        narrowed = queries.StepFilter(only="amber", assignee="none")
        rows, total, _units, _now = queries.open_tasks(session, supervisor, flt=narrowed, counts=counts)
        assert [row.id for row in rows] == [steps[3].id] and total == len(rows)
