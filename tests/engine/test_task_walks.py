"""engine/workflow/task_walks.py: SpiffWorkflow's walks over the task tree, taken over, find the
same tasks in the same order as SpiffWorkflow's own iterator, at every step of two scenarios
(called diagrams, parallel branches, timers), and a tree too deep for the quick walk goes back to
SpiffWorkflow's iterator."""
import pytest
from SpiffWorkflow.util.task import TaskIterator, TaskState

from engine.workflow import task_walks

from .test_runtime import specs  # noqa: F401 - specs is a fixture
from .test_state_size import MEDIATION, SPECIALIST_TO_MEDIATION, _steps

STATES = [TaskState.READY, TaskState.WAITING, TaskState.NOT_FINISHED_MASK, TaskState.FINISHED_MASK, TaskState.ANY_MASK,
          TaskState.COMPLETED, TaskState.PREDICTED_MASK]


def _spiff(workflow, state):
    return [task.id for task in workflow.get_tasks_iterator(None, state=state)]


def _compared(monkeypatch, seen):
    bpmn_tasks, tasks = task_walks._bpmn_tasks, task_walks._tasks

    def bpmn_checked(root, state):
        found = bpmn_tasks(root, state)
        assert [task.id for task in found] == _spiff(root.workflow, state)
        seen["get_tasks"] += 1
        return found

    def lazy_checked(root, state):
        spiff = TaskIterator(root, state=state)  # advanced in step, as the caller acts on each task
        for task in tasks(root, state):
            assert next(spiff) is task
            seen["waiting"] += 1
            yield task
        assert next(spiff, None) is None

    monkeypatch.setattr(task_walks, "_bpmn_tasks", bpmn_checked)
    monkeypatch.setattr(task_walks, "_tasks", lazy_checked)


@pytest.mark.parametrize("steps", [MEDIATION, SPECIALIST_TO_MEDIATION], ids=["mediation", "specialist-joint"])
def test_the_walks_find_what_spiffworkflow_finds(specs, steps, monkeypatch):
    spec_pair, draft = specs
    seen = {"get_tasks": 0, "waiting": 0}
    _compared(monkeypatch, seen)
    for workflow, _snap in _steps(spec_pair, draft, steps):
        for state in STATES:
            for flow in [workflow, *workflow.subprocesses.values()]:
                assert [task.id for task in flow.get_tasks(state=state)] == _spiff(flow, state)
        for flow in [workflow, *workflow.subprocesses.values()]:
            assert [task.id for task in flow.get_tasks()] == [task.id for task in flow.get_tasks_iterator()]
    assert workflow.completed and seen["get_tasks"] > 100 and seen["waiting"] > 0


def test_a_tree_too_deep_for_the_quick_walk_is_walked_by_spiffworkflow(specs, monkeypatch):
    spec_pair, draft = specs
    *_, (workflow, _snap) = _steps(spec_pair, draft, MEDIATION[:2])
    monkeypatch.setattr(task_walks, "_OWN_WALK_DEPTH", 1)
    walked = []
    monkeypatch.setattr(task_walks, "_spiff_get_tasks", lambda *a, spiff=task_walks._spiff_get_tasks, **k:
                        walked.append(1) or spiff(*a, **k))
    for state in STATES:
        assert [task.id for task in workflow.get_tasks(state=state)] == _spiff(workflow, state)
    assert len(walked) == len(STATES)
