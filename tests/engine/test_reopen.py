"""An unsatisfied rating reviewed as "handle again" reopens the case as a new round: no loop is
drawn back in the diagram, so the task tree never deepens and a case can be reopened any number
of times (SPIFFWORKFLOW-NOTES: a back-edge loop stops working after about 330 passes)."""
import pytest
import sqlalchemy as sa
from SpiffWorkflow.util.task import TaskState

from engine.library import catalog
from engine.workflow import runtime
from engine.cases import services
from engine.persistence.models import AuditEvent, Case

from . import coverage
from ..conftest import ROOT
from .helpers import (
    CLOSE, INTAKE, MEDIATION_FAILURE, MEDIATION_SUCCESS, NOT_ACCEPTED, REDIRECT, REVIEW, VISIT_BAD, VISIT_OK,
    WINDOW_NO, actor, complete, file_matter, open_specs, open_task, petition_register, prefiling,
)
from .test_runtime import _typed
from tests.kinds import SEEDED

REOPEN = dict(REVIEW, decision="reopen", finding="调解协议未履行，重新调解。")


MEDIATION_FAILS = [("mediator", "Task_mediate", MEDIATION_FAILURE), ("dept_court", "Task_prefiling", prefiling("no_suit"))]
ANSWERED = [("clerk", "Task_redirect", REDIRECT)]


def _reopen_round(session, case_id, handling, step=complete):
    for username, spec_id, post in handling:
        step(session, username, case_id, spec_id, post)
    step(session, "clerk", case_id, "Task_close", CLOSE)
    step(session, "clerk", case_id, "Task_visit", VISIT_BAD)
    return step(session, "supervisor", case_id, "Task_review", REOPEN)


def _step_without_coverage(session, username, case_id, spec_id, post):
    """The services alone: 1,600 steps need not each be read back for flow coverage."""
    services.complete_task(session, actor(session, username), open_task(session, case_id, spec_id).id, post)
    return session.get(Case, case_id)


def test_reopened_dispute_goes_back_to_mediation_without_registering_again(session):
    case = file_matter(session)
    case = _reopen_round(session, case.id, MEDIATION_FAILS)
    assert case.status == "open" and open_specs(session, case.id) == ["Task_mediate"]
    reopened = session.scalars(sa.select(AuditEvent).where(AuditEvent.case_id == case.id,
                                                           AuditEvent.kind == "case_reopened")).all()
    assert [e.detail["round"] for e in reopened] == [2]
    complete(session, "mediator", case.id, "Task_mediate", MEDIATION_SUCCESS)
    complete(session, "mediator", case.id, "Task_confirm_window", WINDOW_NO)
    complete(session, "clerk", case.id, "Task_close", CLOSE)
    case = complete(session, "clerk", case.id, "Task_visit", VISIT_OK)
    assert case.status == "completed" and case.outcome == "success"


def test_reopened_petition_goes_back_to_its_channel(session):
    case = file_matter(session, kind="petition")
    case = _reopen_round(session, case.id, [
        ("dept_petition", "Task_petition_register", petition_register("suggestion")),
        ("dept_housing", "Task_petition_accept", NOT_ACCEPTED)])
    assert open_specs(session, case.id) == ["Task_petition_register"]


def _reopen_many_times(session, rounds):
    case = file_matter(session, kind="consultation")
    sizes = []
    for _ in range(rounds):
        case = _reopen_round(session, case.id, ANSWERED, step=_step_without_coverage)
        sizes.append(len(case.state))
    assert open_specs(session, case.id) == ["Task_redirect"]
    assert max(sizes) < 2 * sizes[0], "each round starts afresh: the state does not grow"
    complete(session, "clerk", case.id, "Task_redirect", REDIRECT)
    complete(session, "clerk", case.id, "Task_close", CLOSE)
    case = complete(session, "clerk", case.id, "Task_visit", VISIT_OK)
    assert case.status == "completed"
    reopened = session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.case_id == case.id, AuditEvent.kind == "case_reopened"))
    assert reopened == rounds


def test_a_case_reopened_30_times_still_works(session):
    """The state does not grow from round to round: 30 rounds show it (a deepening task tree
    would grow the state by every round)."""
    _reopen_many_times(session, 30)


@pytest.mark.slow
def test_a_case_reopened_400_times_still_works(session):
    """Past the ~330 passes at which a back-edge loop stops working."""
    _reopen_many_times(session, 400)


@pytest.mark.parametrize("save_between", [False, True], ids=["in-memory", "save-reload"])
def test_the_round_that_ends_takes_the_reopen_flows(save_between):
    """On the runtime alone, so the flows of the round that ends are seen before it is gone."""
    drafts, problems = catalog.check_folder(ROOT / "bpmn", ROOT / "forms", SEEDED)
    draft = next(d for d in drafts if d.process_key == "intake")
    specs = runtime.spec_from_json(draft.spec_json)
    workflow, snap = runtime.start(specs)
    for spec_id, post in [("Task_intake", INTAKE), ("Task_mediate", MEDIATION_FAILURE),
                          ("Task_prefiling", prefiling("no_suit")), ("Task_close", CLOSE),
                          ("Task_visit", VISIT_BAD), ("Task_review", REOPEN)]:
        if save_between:
            workflow = runtime.load_state(runtime.dump_state(workflow), specs)
        ready = [t for t in workflow.get_tasks(state=TaskState.READY, manual=True) if t.task_spec.bpmn_id == spec_id]
        snap = runtime.complete(workflow, str(ready[0].id), _typed(draft, spec_id, post))
    assert snap.completed and "End_reopen" in draft.meta["restarts"]
    coverage.record_workflow("intake", workflow, draft.meta["flows"])
    assert {"Flow_rating_review", "Flow_reopen_yes"} <= runtime.taken_flows(workflow, draft.meta["flows"])
    workflow, snap = runtime.next_round(specs, snap)
    assert snap.data[runtime.ROUND] == 2 and [t.task_spec.bpmn_id for t in snap.ready] == ["Task_mediate"]
    assert "Flow_round_again" in runtime.taken_flows(workflow, draft.meta["flows"])
