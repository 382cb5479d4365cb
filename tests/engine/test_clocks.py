"""Stopping and restarting a step's legal clock, and extending a deadline within the legal
maximum the diagram cites."""
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
import time_machine

from engine.library import catalog
from engine.cases import clocks, services
from engine.legaltime.clock import CHINA, as_utc
from engine.persistence.models import AuditEvent, Case, Timer

from ..conftest import ROOT
from .helpers import MEDIATION_SUCCESS, actor, complete, file_matter, open_specs, open_task
from tests.kinds import SEEDED

START = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)


def _events(session, case_id, kind):
    return session.scalars(sa.select(AuditEvent).where(AuditEvent.case_id == case_id, AuditEvent.kind == kind)
                           .order_by(AuditEvent.seq)).all()


def test_waiting_for_the_party_stops_the_clock_and_adds_the_time_back(session):
    with time_machine.travel(START, tick=False) as traveller:
        case = file_matter(session)
        task = open_task(session, case.id, "Task_mediate")
        due = as_utc(task.due_at)
        traveller.move_to(START + timedelta(days=10))
        clocks.stop_clock(session, actor(session, "mediator"), task.id, "等待当事人提交医疗费票据")
        # Forty days pass while the clock stands still: the one-month deadline does not fire.
        traveller.move_to(START + timedelta(days=50))
        assert services.fire_due_timers(session) == 0
        session.expire_all()
        assert session.get(Case, case.id).overdue is False
        clocks.restart_clock(session, actor(session, "mediator"), task.id)
        session.expire_all()
        moved = open_task(session, case.id, "Task_mediate")
        assert as_utc(moved.due_at) == due + timedelta(days=40) and moved.clock_stopped_at is None
        traveller.move_to(due + timedelta(days=40) - timedelta(minutes=1))
        assert services.fire_due_timers(session) == 0
        traveller.move_to(due + timedelta(days=40, minutes=1))
        assert services.fire_due_timers(session) == 1
        assert open_specs(session, case.id) == ["Task_mediate", "Task_supervise"]
    [stopped] = _events(session, case.id, "clock_stopped")
    [restarted] = _events(session, case.id, "clock_restarted")
    assert stopped.detail["reason"] == "等待当事人提交医疗费票据" and restarted.detail["stopped_seconds"] == 40 * 86400


def test_a_step_finished_while_stopped_takes_its_timer_with_it(session):
    case = file_matter(session)
    task = open_task(session, case.id, "Task_mediate")
    clocks.stop_clock(session, actor(session, "mediator"), task.id, "等待鉴定意见")
    complete(session, "mediator", case.id, "Task_mediate", MEDIATION_SUCCESS)
    assert session.scalar(sa.select(Timer.state).where(Timer.case_id == case.id,
                                                     Timer.spec_id == "Timer_mediation_deadline")) == "cancelled"


def test_mediation_deadline_cannot_be_extended_where_the_law_gives_no_extension(session):
    case = file_matter(session)
    task = open_task(session, case.id, "Task_mediate")
    with pytest.raises(services.Conflict, match="At most 0 more days"):
        clocks.extend_deadline(session, actor(session, "supervisor"), task.id, 5, "案情复杂", "县中心主任")
    with pytest.raises(services.NotAllowed):
        clocks.extend_deadline(session, actor(session, "mediator"), task.id, 5, "案情复杂", "县中心主任")


def test_extension_within_the_legal_maximum(session, monkeypatch):
    case = file_matter(session)
    task = open_task(session, case.id, "Task_mediate")
    version = catalog.version_info(session, case.process_version_id)
    deadline = dict(version.meta["deadlines"]["Timer_mediation_deadline"], max_extension_days=30,
                    extension_basis="（测试用）可延长三十日")
    monkeypatch.setitem(version.meta["deadlines"], "Timer_mediation_deadline", deadline)
    due = as_utc(task.due_at)
    with pytest.raises(services.Conflict, match="a reason and an approver"):
        clocks.extend_deadline(session, actor(session, "supervisor"), task.id, 10, "", "")
    clocks.extend_deadline(session, actor(session, "supervisor"), task.id, 20, "需补充调查", "县中心主任")
    with pytest.raises(services.Conflict, match="At most 10 more days"):
        clocks.extend_deadline(session, actor(session, "supervisor"), task.id, 11, "再延", "县中心主任")
    session.expire_all()
    extended = open_task(session, case.id, "Task_mediate")
    expected = clocks._extended(due, 20)
    assert as_utc(extended.due_at) == expected and extended.extended_days == 20
    assert as_utc(session.scalar(sa.select(Timer.due_at).where(Timer.case_id == case.id))) == expected
    [event] = _events(session, case.id, "deadline_extended")
    assert event.detail["approver"] == "县中心主任" and event.detail["days"] == 20


def test_an_extendable_deadline_must_cite_its_basis():
    diagrams, forms = catalog.read_folder(ROOT / "bpmn", ROOT / "forms")
    text = diagrams["bpmn/mediation.bpmn"].decode().replace(
        '<spiffworkflow:property name="legalBasis" value="人民调解工作若干规定（司法部令第75号，2002年11月1日施行）第三十三条；期间计算：民法典（2021年1月1日施行）第二百零一条至第二百零三条" />',
        '<spiffworkflow:property name="legalBasis" value="人民调解工作若干规定（司法部令第75号，2002年11月1日施行）第三十三条；期间计算：民法典（2021年1月1日施行）第二百零一条至第二百零三条" />\n'
        '          <spiffworkflow:property name="maxExtensionDays" value="30" />')
    diagrams["bpmn/mediation.bpmn"] = text.encode()
    _drafts, problems = catalog.compile_library(diagrams, forms, SEEDED)
    assert [p.message for p in problems] == [
        "deadline Timer_mediation_deadline may be extended but cites no basis (property extensionBasis)"]


def test_an_extension_ending_on_a_rest_day_moves_to_the_next_working_day(session, monkeypatch):
    """民事诉讼法 Art. 85 / 民法典 Art. 203: the extended period ends like the period itself, at the
    end of a working day in China."""
    with time_machine.travel(datetime(2026, 6, 1, 10, 0, tzinfo=CHINA), tick=False):
        case = file_matter(session)
        task = open_task(session, case.id, "Task_mediate")
        version = catalog.version_info(session, case.process_version_id)
        monkeypatch.setitem(version.meta["deadlines"], "Timer_mediation_deadline", dict(
            version.meta["deadlines"]["Timer_mediation_deadline"], max_extension_days=30, extension_basis="（测试用）"))
        assert as_utc(task.due_at) == datetime(2026, 7, 1, 23, 59, 59, tzinfo=CHINA)  # one month, a Wednesday
        clocks.extend_deadline(session, actor(session, "supervisor"), task.id, 3, "需补充调查", "县中心主任")
        session.expire_all()
        # Three days after is Saturday 4 July: the extended deadline is Monday 6 July, end of day.
        assert as_utc(open_task(session, case.id, "Task_mediate").due_at) == datetime(2026, 7, 6, 23, 59, 59, tzinfo=CHINA)


def test_an_extension_of_a_deadline_in_hours_moves_it_by_whole_days():
    due = datetime(2026, 7, 1, 8, 30, tzinfo=timezone.utc)
    assert clocks._extended(due, 3) == due + timedelta(days=3)
