"""The intake pathway driven through every branch by the engine services, each scenario once
straight through and once with everything in memory dropped between steps."""
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
import time_machine

from engine.cases import services
from engine.persistence.models import AuditEvent, Case, Task, Timer

from .helpers import (
    CLOSE, MEDIATION_FAILURE, MEDIATION_SUCCESS, REVIEW, SUPERVISE, VISIT_BAD, VISIT_OK, WINDOW_NO,
    complete, file_matter, open_specs, prefiling, reload,
)

START = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)


@pytest.fixture(params=[False, True], ids=["straight", "reload"])
def step(request, session):
    """Complete a step; in the reload variant, first forget the session and the spec cache."""
    def run(username, case_id, spec_id, post):
        if request.param:
            reload(session)
        return complete(session, username, case_id, spec_id, post)
    return run


def events(session, case_id, kind=None):
    query = sa.select(AuditEvent).where(AuditEvent.case_id == case_id)
    if kind:
        query = query.where(AuditEvent.kind == kind)
    return session.scalars(query.order_by(AuditEvent.seq)).all()


def test_mediation_success_satisfied(session, step):
    case = file_matter(session)
    assert case.code.startswith("MT") and case.status == "open"
    assert case.route == "mediation" and case.party_names == "张三、李四"
    assert open_specs(session, case.id) == ["Task_mediate"]
    mediation = session.scalar(sa.select(Task).where(Task.case_id == case.id, Task.spec_id == "Task_mediate"))
    assert mediation.role == "mediator" and mediation.due_at is not None
    assert mediation.legal_basis == "人民调解工作若干规定（司法部令第75号，2002年11月1日施行）第三十三条；期间计算：民法典（2021年1月1日施行）第二百零一条至第二百零三条"
    assert session.scalar(sa.select(sa.func.count()).select_from(Timer).where(
        Timer.case_id == case.id, Timer.state == "waiting")) == 1

    case = step("mediator", case.id, "Task_mediate", MEDIATION_SUCCESS)
    assert case.outcome == "success" and open_specs(session, case.id) == ["Task_confirm_window"]
    # Completing mediation cancels its deadline timer; the judicial-confirmation window starts.
    assert session.scalars(sa.select(Timer.state).where(Timer.case_id == case.id).order_by(Timer.id)).all() == [
        "cancelled", "waiting"]
    case = step("mediator", case.id, "Task_confirm_window", WINDOW_NO)
    assert open_specs(session, case.id) == ["Task_close"]
    case = step("clerk", case.id, "Task_close", CLOSE)
    case = step("clerk", case.id, "Task_visit", VISIT_OK)
    assert case.status == "completed" and case.closed_at is not None and case.satisfaction == "satisfied"
    assert open_specs(session, case.id) == []
    submitted = [e.task_spec for e in events(session, case.id, "task_completed")]
    assert submitted == ["Task_intake", "Task_mediate", "Task_confirm_window", "Task_close", "Task_visit"]


def test_mediation_failure_unsatisfied_goes_to_review(session, step):
    case = file_matter(session)
    case = step("mediator", case.id, "Task_mediate", MEDIATION_FAILURE)
    assert case.outcome == "failure" and open_specs(session, case.id) == ["Task_prefiling"]
    case = step("dept_court", case.id, "Task_prefiling", prefiling("no_suit"))
    case = step("clerk", case.id, "Task_close", CLOSE)
    case = step("clerk", case.id, "Task_visit", VISIT_BAD)
    assert case.status == "open" and open_specs(session, case.id) == ["Task_review"]
    case = step("supervisor", case.id, "Task_review", REVIEW)
    assert case.status == "completed"


@pytest.mark.parametrize("changes, route, first", [
    ({"kind": "petition", "petition_type": "complaint_demand"}, "petition", "Task_petition_register"),
    ({"kind": "consultation"}, "consultation", "Task_redirect"),
    ({"kind": "complaint"}, "specialist", "Task_specialist"),
    ({"kind": "dispute", "law_related": "on"}, "law_related", "Task_law_handover"),
    ({"kind": "dispute", "legal_channel": "reconsideration"}, "reconsideration", "Task_recon_guide"),
])
def test_other_matters_are_routed_away_from_mediation(session, changes, route, first):
    case = file_matter(session, **changes)
    assert case.route == route
    assert open_specs(session, case.id) == [first]


def test_mediation_deadline_flags_the_case_and_gives_the_supervisor_a_task(session, step):
    with time_machine.travel(START, tick=False) as traveller:
        case = file_matter(session)
        due = session.scalar(sa.select(Timer.due_at).where(Timer.case_id == case.id))
        assert services.fire_due_timers(session) == 0

        traveller.move_to(START + timedelta(days=29))
        assert services.fire_due_timers(session) == 0
        assert open_specs(session, case.id) == ["Task_mediate"]

        traveller.move_to(START + timedelta(days=31))  # one month after November 23rd is December 23rd
        assert services.fire_due_timers(session) == 1
        assert services.fire_due_timers(session) == 0, "a timer fires once"
        case = session.get(Case, case.id)
        assert case.overdue is True
        assert open_specs(session, case.id) == ["Task_mediate", "Task_supervise"]
        assert events(session, case.id, "timer_fired")[0].task_spec == "Timer_mediation_deadline"

        case = step("supervisor", case.id, "Task_supervise", SUPERVISE)
        case = step("mediator", case.id, "Task_mediate", MEDIATION_SUCCESS)
        case = step("mediator", case.id, "Task_confirm_window", WINDOW_NO)
        case = step("clerk", case.id, "Task_close", CLOSE)
        case = step("clerk", case.id, "Task_visit", VISIT_OK)
        assert case.status == "completed" and case.overdue is True
    assert due is not None


def test_invalid_form_saves_nothing(session):
    with pytest.raises(services.FormInvalid) as invalid:
        file_matter(session, **{"parties-0-phone": "12345", "people_count": "many"})
    assert invalid.value.errors["parties-0-phone"][0] == "请输入11位手机号或带区号的固定电话"
    assert "people_count" in invalid.value.errors
    assert invalid.value.data["parties"][1]["name"] == "李四", "what was typed comes back"
    assert session.scalar(sa.select(sa.func.count()).select_from(Case)) == 0


def test_double_completion_is_a_conflict_naming_who_did_it(session):
    case = file_matter(session)
    complete(session, "mediator", case.id, "Task_mediate", MEDIATION_SUCCESS)
    done = session.scalar(sa.select(Task).where(Task.case_id == case.id, Task.spec_id == "Task_mediate"))
    from .helpers import actor
    with pytest.raises(services.Conflict, match="李调解"):
        services.complete_task(session, actor(session, "mediator"), done.id, MEDIATION_FAILURE)
    assert session.get(Case, case.id).outcome == "success"


def test_audit_events_form_a_hash_chain(session):
    from engine.persistence.chain import GENESIS, event_hash
    case = file_matter(session)
    complete(session, "mediator", case.id, "Task_mediate", MEDIATION_SUCCESS)
    session.expire_all()
    chain = events(session, case.id)
    assert [e.seq for e in chain] == list(range(1, len(chain) + 1))
    previous = GENESIS
    for event in chain:
        assert event.prev_hash == previous
        assert event.hash == event_hash(event.prev_hash, event.case_id, event.seq, event.at.replace(
            tzinfo=timezone.utc) if event.at.tzinfo is None else event.at, event.actor_id, event.actor_name,
            event.kind, event.task_spec, event.detail, event.process_version_id)
        previous = event.hash
