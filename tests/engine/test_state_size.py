"""What a case stores of its workflow (engine/workflow/state_format.py, runtime.dump_state): the
finished called pathways are dropped, the rest is written compactly and loads back exactly; a
state written before loads, and the next save makes it small; reopened rounds do not grow it."""
import json
from datetime import datetime

import pytest
import sqlalchemy as sa
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.util.task import TaskState

from engine.cases import migration
from engine.persistence.models import AuditEvent
from engine.workflow import runtime

from .helpers import (
    CLOSE, INTAKE, MEDIATION_FAILURE, MEDIATION_SUCCESS, REPORT, REVIEW, VISIT_BAD, VISIT_OK, WHISTLE, WINDOW_NO,
    actor, complete, file_matter, joint, open_specs, prefiling,
)
from .test_migration import _publish
from .test_runtime import _typed, specs  # noqa: F401 - specs is a fixture

LIMIT = 10 * 1024
REOPEN = dict(REVIEW, decision="reopen", finding="调解协议未履行，重新调解。")


def _size(case):
    return len(case.state.encode("utf-8"))


def _everything(workflow):
    """All that a workflow holds that SpiffWorkflow acts on, to compare a state loaded back."""
    tasks = {str(t.id): (t.task_spec.name, t.state, t.parent and t.parent.id, [c.id for c in t.children], t.data,
                         t.internal_data, t.triggered, t.last_state_change) for t in runtime._all_tasks(workflow)}
    subs = {str(k): (v.spec.name, v.completed, v.data, v.last_task and v.last_task.id, v.task_tree.id)
            for k, v in workflow.subprocesses.items()}
    waiting = sorted(str(t.id) for t in workflow.event_manager.tasks.values())
    return tasks, subs, waiting, workflow.data, workflow.last_task and workflow.last_task.id, workflow.completed


def _steps(specs, draft, steps):
    """Drive the intake pathway on the runtime alone; yields the live workflow after each step."""
    workflow, snap = runtime.start(specs)
    for spec_id, post, index in steps:
        ready = [t for t in workflow.get_tasks(state=TaskState.READY, manual=True) if t.task_spec.bpmn_id == spec_id]
        snap = runtime.complete(workflow, str(ready[index].id), _typed(draft, spec_id, post))
        yield workflow, snap


SPECIALIST_TO_MEDIATION = [("Task_intake", dict(INTAKE, complex="on"), 0), ("Task_whistle", WHISTLE, 0),
                           ("Task_report", REPORT, 0), ("Task_report", REPORT, 0), ("Task_joint", joint("mediation"), 0),
                           ("Task_mediate", MEDIATION_SUCCESS, 0), ("Task_confirm_window", WINDOW_NO, 0),
                           ("Task_close", CLOSE, 0), ("Task_visit", VISIT_OK, 0)]
MEDIATION = [("Task_intake", INTAKE, 0), ("Task_mediate", MEDIATION_SUCCESS, 0), ("Task_confirm_window", WINDOW_NO, 0),
             ("Task_close", CLOSE, 0), ("Task_visit", VISIT_OK, 0)]


@pytest.mark.parametrize("steps", [MEDIATION, SPECIALIST_TO_MEDIATION], ids=["mediation", "specialist-joint"])
def test_a_state_loads_back_exactly_what_was_saved(specs, steps):
    """Every task with its state, parent, children in order, data, internal data and times; the
    called pathways still running; the waiting timers. Saved again, it is the same state (the
    keys of a step's data may come in another order)."""
    spec_pair, draft = specs
    for workflow, _snap in _steps(spec_pair, draft, steps):
        state = runtime.dump_state(workflow)
        again = runtime.load_state(state, spec_pair)
        assert _everything(again) == _everything(workflow)
        assert json.loads(runtime.dump_state(again)) == json.loads(state)
        assert len(state.encode("utf-8")) < 12 * 1024
    assert workflow.completed and workflow.data["satisfaction"] == "satisfied"


def _reference():
    """A state loader with SpiffWorkflow's own converters for the tasks and the called pathways, as
    state_format.py's were before they were written out for speed."""
    from SpiffWorkflow.bpmn import BpmnWorkflow
    from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnSubWorkflowConverter, TaskConverter
    from SpiffWorkflow.bpmn.util.subworkflow import BpmnSubWorkflow
    from SpiffWorkflow.task import Task
    from engine.workflow import state_format
    config = dict(SPIFF_CONFIG)
    config.update({BpmnWorkflow: state_format._StateOnlyConverter, Task: TaskConverter,
                   BpmnSubWorkflow: BpmnSubWorkflowConverter})
    serializer = state_format.StateSerializer(state_format.StateSerializer.configure(config))

    def load(state, spec_pair):
        token = state_format.attached_spec.set(spec_pair)
        try:
            return serializer.deserialize_json(state)
        finally:
            state_format.attached_spec.reset(token)
    return load


def _shared(workflow):
    """Where a dict, list or set is held in more than one place among the tasks' and workflows'
    data: a script changing it in one task would change it in the others."""
    places = {}

    def walk(value, where):
        if isinstance(value, (dict, list, set)):
            places.setdefault(id(value), []).append(where)
            items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
            for key, item in items:
                walk(item, (*where, key))
    for number, each in enumerate([workflow, *workflow.subprocesses.values()]):
        walk(each.data, (number, "workflow"))
        for task in each.tasks.values():
            walk(task.data, (number, str(task.id), "data"))
            walk(task.internal_data, (number, str(task.id), "internal"))
    return sorted(sorted(map(repr, found)) for found in places.values() if len(found) > 1)


def test_a_state_loads_as_spiffworkflow_itself_loads_it(specs):
    """The state's tasks are read by a converter written for speed (the sweep loads a whole case to
    fire one timer): every task, its data and what its data shares with other tasks' are what
    SpiffWorkflow's own converters make of the same state, with a date in a step's data too."""
    spec_pair, draft = specs
    reference = _reference()
    for workflow, _snap in _steps(spec_pair, draft, MEDIATION):
        plain = runtime.dump_state(workflow)
        for task in workflow.get_tasks(state=TaskState.READY, manual=True):
            task.data["asked_on"] = datetime(2026, 11, 23, 9, 0)
        typed = runtime.dump_state(workflow)
        for state in (plain, typed):
            loaded, expected = runtime.load_state(state, spec_pair), reference(state, spec_pair)
            assert _everything(loaded) == _everything(expected)
            assert _shared(loaded) == _shared(expected)
        if not workflow.completed:
            assert '"typename":"datetime"' in typed
            assert {task.data["asked_on"] for task in loaded.get_tasks(state=TaskState.READY, manual=True)} == {
                datetime(2026, 11, 23, 9, 0)}


def test_finished_called_pathways_leave_the_state(specs):
    """Mediation calls judicial-confirmation (court_link); once both are done, the case is in the
    close-and-follow-up pathway and its state holds that one alone, with the elements the two
    finished ones went through (a move to another version still checks them)."""
    spec_pair, draft = specs
    called = []
    for workflow, _snap in _steps(spec_pair, draft, MEDIATION):
        state = json.loads(runtime.dump_state(workflow))
        called.append(sorted(sub["spec"] for sub in state["subprocesses"].values()))
    assert called == [["people_mediation"], ["court_link", "people_mediation"], ["close_followup"], ["close_followup"], []]
    assert workflow.finished_calls["people_mediation"] >= {"Task_mediate", "Call_court_link", "End_mediation"}
    assert "Task_confirm_window" in workflow.finished_calls["court_link"]
    assert "Task_visit" in workflow.finished_calls["close_followup"]
    assert "Task_supervise" not in workflow.finished_calls["people_mediation"], "only what the case went through"


def test_the_case_data_is_written_once_and_chinese_as_utf8(specs):
    """The summary is in the intake step's change alone, not again in each called pathway's first
    step nor in the finished case's data; Chinese text is written as it is, not as \\u escapes."""
    spec_pair, draft = specs
    for workflow, _snap in _steps(spec_pair, draft, MEDIATION[:2]):
        state = runtime.dump_state(workflow)
        assert state.count(INTAKE["summary"]) == 1 and "\\u" not in state
    *_, (workflow, _snap) = _steps(spec_pair, draft, MEDIATION)
    state = runtime.dump_state(workflow)
    assert state.count(INTAKE["summary"]) == 1
    assert runtime.load_state(state, spec_pair).data["summary"] == INTAKE["summary"]


def test_text_that_utf8_cannot_carry_is_kept_escaped(specs):
    """A lone surrogate (which a script could make) cannot be written as UTF-8: the state falls
    back to \\u escapes and the text comes back as it was."""
    spec_pair, _draft = specs
    workflow, _snap = runtime.start(spec_pair, {runtime.ROUND: 1, "note": "半个\ud800字"})
    state = runtime.dump_state(workflow)
    state.encode("utf-8")
    assert "\\ud800" in state
    again = runtime.load_state(state, spec_pair)
    assert again.get_tasks(state=TaskState.READY, manual=True)[0].data["note"] == "半个\ud800字"


def _written_before(workflow):
    """The state as the engine wrote it before this format: SpiffWorkflow's own serialization
    with the spec left out, finished called pathways and all."""
    full = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))
    dct = json.loads(full.serialize_json(workflow))
    del dct["spec"], dct["subprocess_specs"]
    return json.dumps(dct)


def test_a_state_written_before_loads_and_the_next_save_makes_it_small(session, monkeypatch):
    """Cases saved by the engine before this format keep their state until their next step."""
    monkeypatch.setattr(runtime, "dump_state", _written_before)
    case = file_matter(session)
    complete(session, "mediator", case.id, "Task_mediate", MEDIATION_SUCCESS)
    case = complete(session, "mediator", case.id, "Task_confirm_window", WINDOW_NO)
    old = json.loads(case.state)
    assert "compact" not in old
    assert sorted(sub["spec"] for sub in old["subprocesses"].values()) == ["close_followup", "court_link", "people_mediation"]
    monkeypatch.undo()
    before = _size(case)

    case = complete(session, "clerk", case.id, "Task_close", CLOSE)
    new = json.loads(case.state)
    assert new["compact"] == 1 and [sub["spec"] for sub in new["subprocesses"].values()] == ["close_followup"]
    assert _size(case) < LIMIT < before
    assert sorted(new["finished_calls"]) == ["court_link", "people_mediation"]
    case = complete(session, "clerk", case.id, "Task_visit", VISIT_OK)
    assert case.status == "completed" and case.satisfaction == "satisfied"


def test_a_finished_called_pathway_still_holds_a_move_to_its_changed_steps(session):
    """The rule of engine/cases/migration.py holds for a called pathway the case finished: a step
    it went through that changed keeps it from moving; a change to a step it never reached does not."""
    done = file_matter(session)
    complete(session, "mediator", done.id, "Task_mediate", MEDIATION_SUCCESS)
    done = complete(session, "mediator", done.id, "Task_confirm_window", WINDOW_NO)
    assert open_specs(session, done.id) == ["Task_close"]
    assert "people_mediation" not in {sub["spec"] for sub in json.loads(done.state)["subprocesses"].values()}
    designer = actor(session, "designer")

    untouched = _publish(session, [('name="交通事故人民调解委员会调解"', 'name="交通事故调解"')])
    _target, plans = migration.dry_run(session, designer, untouched)
    assert [p.movable for p in plans if p.case_id == done.id] == [True]

    changed = _publish(session, [('<bpmn:userTask id="Task_mediate" name="人民调解">',
                                  '<bpmn:userTask id="Task_mediate" name="人民调解（新）">')])
    _target, plans = migration.dry_run(session, designer, changed)
    [plan] = [p for p in plans if p.case_id == done.id]
    assert not plan.movable and "Task_mediate" in str(plan.reasons[0]) and "changed" in str(plan.reasons[0])


def _reopen_round(session, case_id, sizes):
    """One round: mediation fails, the court's pre-filing mediation too, the case is closed, the
    party is unsatisfied and the supervisor reopens it. The state's size after each step."""
    for username, spec_id, post in [("mediator", "Task_mediate", MEDIATION_FAILURE),
                                    ("dept_court", "Task_prefiling", prefiling("no_suit")),
                                    ("clerk", "Task_close", CLOSE), ("clerk", "Task_visit", VISIT_BAD),
                                    ("supervisor", "Task_review", REOPEN)]:
        case = complete(session, username, case_id, spec_id, post)
        sizes.append(_size(case))
    return case


def test_reopened_rounds_do_not_grow_the_state(session):
    """A reopened case starts its next round afresh (services._next_round_if_restarted), carrying
    the case's data; the finished called pathways of each round go with it. Five rounds, each
    through mediation and the court's pre-filing mediation (a called pathway within a called
    pathway): the state after the fifth is the state after the first, give or take the digits
    of the times, and never more than 10 KB."""
    case = file_matter(session)
    per_round = []
    for _round in range(5):
        sizes = [_size(case)]
        case = _reopen_round(session, case.id, sizes)
        per_round.append(sizes)
    assert case.status == "open" and open_specs(session, case.id) == ["Task_mediate"]
    rounds = session.scalars(sa.select(AuditEvent.detail).where(AuditEvent.case_id == case.id,
                                                                AuditEvent.kind == "case_reopened")
                           .order_by(AuditEvent.seq)).all()
    assert [r["round"] for r in rounds] == [2, 3, 4, 5, 6]
    after = [sizes[-1] for sizes in per_round]
    assert after[4] <= after[0] + 64, after
    assert max(max(sizes) for sizes in per_round[1:]) <= max(per_round[1]) + 64, per_round
    assert max(max(sizes) for sizes in per_round) <= LIMIT, per_round
