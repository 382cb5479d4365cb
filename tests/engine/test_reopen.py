"""An unsatisfied rating reviewed as "handle again" reopens the case as a new round: no loop is
drawn back in the diagram, so the task tree never deepens and a case can be reopened any number
of times (SPIFFWORKFLOW-NOTES: a back-edge loop stops working after about 330 passes)."""
import pytest
import sqlalchemy as sa
from SpiffWorkflow.util.task import TaskState

from engine import catalog, runtime, services
from engine.models import AuditEvent, Case

from . import coverage
from ..conftest import ROOT
from .helpers import (
    CLOSE, INTAKE, MEDIATION_FAILURE, MEDIATION_SUCCESS, REDIRECT, REVIEW, VISIT_BAD, VISIT_OK, actor, complete,
    file_matter, open_specs, open_task,
)
from .test_runtime import _typed

REOPEN = dict(REVIEW, decision="reopen", finding="调解协议未履行，重新调解。")


def _reopen_round(session, case_id, handle_spec, handle_post, step=complete):
    step(session, "mediator" if handle_spec == "Task_mediate" else "clerk", case_id, handle_spec, handle_post)
    step(session, "clerk", case_id, "Task_close", CLOSE)
    step(session, "clerk", case_id, "Task_visit", VISIT_BAD)
    return step(session, "supervisor", case_id, "Task_review", REOPEN)


def _step_without_coverage(session, username, case_id, spec_id, post):
    """The services alone: 1,600 steps need not each be read back for flow coverage."""
    services.complete_task(session, actor(session, username), open_task(session, case_id, spec_id).id, post)
    return session.get(Case, case_id)


def test_reopened_dispute_goes_back_to_mediation_without_registering_again(session):
    case = file_matter(session)
    case = _reopen_round(session, case.id, "Task_mediate", MEDIATION_FAILURE)
    assert case.status == "open" and open_specs(session, case.id) == ["Task_mediate"]
    reopened = session.scalars(sa.select(AuditEvent).where(AuditEvent.case_id == case.id,
                                                           AuditEvent.kind == "case_reopened")).all()
    assert [e.detail["round"] for e in reopened] == [2]
    complete(session, "mediator", case.id, "Task_mediate", MEDIATION_SUCCESS)
    complete(session, "clerk", case.id, "Task_close", CLOSE)
    case = complete(session, "clerk", case.id, "Task_visit", VISIT_OK)
    assert case.status == "completed" and case.outcome == "success"


def test_reopened_petition_goes_back_to_its_channel(session):
    case = file_matter(session, kind="petition", petition_type="complaint_demand")
    case = _reopen_round(session, case.id, "Task_redirect", REDIRECT)
    assert open_specs(session, case.id) == ["Task_redirect"]


def test_a_case_reopened_400_times_still_works(session):
    case = file_matter(session)
    sizes = []
    for _ in range(400):
        case = _reopen_round(session, case.id, "Task_mediate", MEDIATION_FAILURE, step=_step_without_coverage)
        sizes.append(len(case.state))
    assert open_specs(session, case.id) == ["Task_mediate"]
    assert max(sizes) < 2 * sizes[0], "each round starts afresh: the state does not grow"
    complete(session, "mediator", case.id, "Task_mediate", MEDIATION_SUCCESS)
    complete(session, "clerk", case.id, "Task_close", CLOSE)
    case = complete(session, "clerk", case.id, "Task_visit", VISIT_OK)
    assert case.status == "completed"
    rounds = session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.case_id == case.id, AuditEvent.kind == "case_reopened"))
    assert rounds == 400


@pytest.mark.parametrize("save_between", [False, True], ids=["in-memory", "save-reload"])
def test_the_round_that_ends_takes_the_reopen_flows(save_between):
    """On the runtime alone, so the flows of the round that ends are seen before it is gone."""
    drafts, problems = catalog.check_folder(ROOT / "bpmn", ROOT / "forms")
    draft = next(d for d in drafts if d.process_key == "intake")
    specs = runtime.spec_from_json(draft.spec_json)
    workflow, snap = runtime.start(specs)
    for spec_id, post in [("Task_intake", INTAKE), ("Task_mediate", MEDIATION_FAILURE), ("Task_close", CLOSE),
                          ("Task_visit", VISIT_BAD), ("Task_review", REOPEN)]:
        if save_between:
            workflow = runtime.load_state(runtime.dump_state(workflow), specs)
        ready = [t for t in workflow.get_tasks(state=TaskState.READY, manual=True) if t.task_spec.bpmn_id == spec_id]
        snap = runtime.complete(workflow, str(ready[0].id), _typed(draft, spec_id, post))
    assert snap.completed and "End_reopen" in draft.meta["restarts"]
    coverage.record_workflow("intake", workflow, draft.meta["flows"])
    assert {"Flow_review_decision", "Flow_review_reopen"} <= runtime.taken_flows(workflow, draft.meta["flows"])
    workflow, snap = runtime.next_round(specs, snap)
    assert snap.data[runtime.ROUND] == 2 and [t.task_spec.bpmn_id for t in snap.ready] == ["Task_mediate"]
    assert "Flow_round_again" in runtime.taken_flows(workflow, draft.meta["flows"])
