"""A thin layer over SpiffWorkflow with no database: build specs, start, complete, fire timers,
and describe what happened as plain data that the store persists."""
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.util.task import TaskState

from engine.workflow import instance_limits, scripting, spiff_logging, state_format, task_walks
from engine.errors import StepFailed
from engine.messages import Msg
from engine.workflow.scripting import SCRIPT_ENGINE

instance_limits.install()
task_walks.install()
spiff_logging.install()

_STATE_SERIALIZER, _ASCII_STATE_SERIALIZER, _SPEC_SERIALIZER = state_format.make_serializers()


def spec_to_json(spec, subprocess_specs):
    return json.dumps({
        "spec": _SPEC_SERIALIZER.to_dict(spec),
        "subprocess_specs": {k: _SPEC_SERIALIZER.to_dict(v) for k, v in subprocess_specs.items()},
    }, ensure_ascii=False)


def spec_from_json(text):
    dct = json.loads(text)
    spec = _SPEC_SERIALIZER.from_dict(dct["spec"])
    subs = {k: _SPEC_SERIALIZER.from_dict(v) for k, v in dct["subprocess_specs"].items()}
    return spec, subs


class SpecCache:
    """Specs restored once per process version id and shared by every case on that version.

    Kept in each process, and safely so: a process version is immutable (a new content is a new
    version with a new id), so every web worker and machine restoring version 7 holds the same
    thing, and none ever needs what another holds. The module-level caches of the engine and the
    web layer are all of this kind (version info, decision tables, form vocabularies by version id;
    compiled scripts and patterns by their source text; holidays by year) or are filled from what
    the database says in the same transaction (form options by the registry's fingerprint), or are
    one process's own figures (render times, refusal counts). What several processes must agree on
    (sessions are signed cookies; limits, locks, counters, timers) is in the database."""

    def __init__(self):
        self._specs = {}

    def get(self, version_id, load):
        """The specs of a version; `load()` returns its spec JSON and is called only the first time."""
        found = self._specs.get(version_id)
        if found is None:
            found = self._specs[version_id] = spec_from_json(load())
        return found


SPEC_CACHE = SpecCache()


def new_workflow(specs):
    spec, subs = specs
    workflow = BpmnWorkflow(spec, subs, script_engine=SCRIPT_ENGINE)
    return workflow


class StateTooLarge(StepFailed):
    """The case's state would exceed the size a case may hold (MAX_CASE_STATE_KB)."""


# A called diagram is finished when its calling task is: completed (its data copied back to the
# caller) or cancelled (an interrupting boundary event of the call activity).
_CALL_FINISHED = TaskState.COMPLETED | TaskState.CANCELLED
# The steps of a called diagram that a move to another version must find unchanged (migration).
_WENT_THROUGH = TaskState.COMPLETED | TaskState.STARTED


def finished_calls(workflow):
    """The calling tasks of the called diagrams that are finished and whose data went back."""
    found = []
    for task_id, sub in workflow.subprocesses.items():
        caller = workflow.get_task_from_id(task_id)
        if sub.completed and caller is not None and caller.state & _CALL_FINISHED:
            found.append(caller)
    return found


def drop_finished_calls(workflow):
    """Drop the finished called diagrams from the workflow (SpiffWorkflow keeps each, with its
    own copy of the case's data, until the whole case ends). Nothing needs them: their steps
    and timers are finished and in the case's history, the caller holds their result, no task
    can go back into them, and SpiffWorkflow starts a new instance if the caller runs again.
    What a move to another version checks of them is kept: the elements each called diagram
    went through (workflow.finished_calls, by called process)."""
    kept = getattr(workflow, "finished_calls", None)
    if kept is None:
        kept = workflow.finished_calls = {}
    for caller in finished_calls(workflow):
        if caller.id not in workflow.subprocesses:
            continue  # dropped with the called diagram it was in
        for task in workflow.delete_subprocess(caller):
            workflow.event_manager.remove_task(task)
            if task.state & _WENT_THROUGH and getattr(task.task_spec, "bpmn_id", None):
                kept.setdefault(task.workflow.spec.name, set()).add(task.task_spec.bpmn_id)


def dump_state(workflow):
    """The case's state to store (engine/workflow/state_format.py says what is written). The
    finished called diagrams are dropped from `workflow` first."""
    drop_finished_calls(workflow)
    state = _STATE_SERIALIZER.serialize_json(workflow)
    try:
        size = len(state.encode("utf-8"))
    except UnicodeEncodeError:  # a lone surrogate from a script: written as a \u escape instead
        state = _ASCII_STATE_SERIALIZER.serialize_json(workflow)
        size = len(state)
    limit = scripting.MAX_CASE_STATE_BYTES
    if size > limit:
        raise StateTooLarge(Msg("the case's data would take %(size)s KB, over the limit of %(limit)s KB a case may hold; "
                                "nothing was saved", size=f"{size // 1024:,}", limit=f"{limit // 1024:,}"))
    return state


def load_state(state_json, specs):
    token = state_format.attached_spec.set(specs)
    try:
        workflow = _STATE_SERIALIZER.deserialize_json(state_json)
    finally:
        state_format.attached_spec.reset(token)
    workflow.script_engine = SCRIPT_ENGINE
    return workflow


@dataclass
class Change:
    """One BPMN element of the case changing state, for the audit trail."""
    task_id: str
    element: str
    name: str
    kind: str
    before: str | None
    after: str


@dataclass
class Snapshot:
    """What the store needs after an action. `ready` and `timers` are the case's open human tasks
    and waiting timers now; `was_ready` and `was_waiting` are their ids before the action, so the
    store can tell what is new and what went away without reading its own rows back."""
    ready: list = field(default_factory=list)
    timers: list = field(default_factory=list)
    changes: list = field(default_factory=list)
    completed: bool = False
    data: dict = field(default_factory=dict)
    was_ready: frozenset = frozenset()
    was_waiting: frozenset = frozenset()


# Predicted states (FUTURE, LIKELY, MAYBE) change often and mean nothing to an auditor.
_RECORDED_STATES = (TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.COMPLETED
                    | TaskState.CANCELLED | TaskState.ERROR)


def _all_tasks(workflow):
    yield from workflow.tasks.values()
    for sub in workflow.subprocesses.values():
        yield from sub.tasks.values()


def _visible_tasks(workflow):
    """Every task of the case that stands for a drawn BPMN element, subprocesses included."""
    for task in _all_tasks(workflow):
        if getattr(task.task_spec, "bpmn_id", None):
            yield task


def _is_timer(spec):
    return isinstance(getattr(spec, "event_definition", None), TimerEventDefinition)


@dataclass
class Before:
    states: dict
    ready: frozenset
    waiting: frozenset


def task_states(workflow):
    """Each visible task's state before an action, by task id (the UUID: its text is made only
    for the few tasks the store needs by name), and the open human tasks' and waiting timers' ids."""
    states, ready, waiting = {}, set(), set()
    for task in _visible_tasks(workflow):
        state = states[task.id] = task.state
        if state == TaskState.READY and task.task_spec.manual:
            ready.add(str(task.id))
        elif state == TaskState.WAITING and _is_timer(task.task_spec):
            waiting.add(str(task.id))
    return Before(states, frozenset(ready), frozenset(waiting))


_NOTHING = Before({}, frozenset(), frozenset())


def _timer_due(task):
    """The due time in UTC: SQLite keeps no offset, so every stored time must be UTC."""
    value = task.internal_data.get("event_value")
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.astimezone(timezone.utc) if value is not None and value.tzinfo else value


def snapshot(workflow, before):
    """Describe the case after an action: ready human tasks, waiting timers, state changes."""
    snap = Snapshot(completed=workflow.completed, data=workflow.data if workflow.completed else {},
                    was_ready=before.ready, was_waiting=before.waiting)
    for task in _visible_tasks(workflow):
        spec = task.task_spec
        previous = before.states.get(task.id)
        if previous != task.state and task.state & _RECORDED_STATES:
            snap.changes.append(Change(
                str(task.id), spec.bpmn_id, spec.bpmn_name or spec.bpmn_id, type(spec).__name__,
                TaskState.get_name(previous) if previous is not None else None,
                TaskState.get_name(task.state),
            ))
        if task.state == TaskState.READY and spec.manual:
            snap.ready.append(task)
        elif task.state == TaskState.WAITING and _is_timer(spec):
            due = _timer_due(task)
            if due is not None:
                snap.timers.append((str(task.id), spec.bpmn_id, due))
    if not workflow.completed:
        snap.data = _latest_data(workflow, snap.ready)
    return snap


_REACHED = TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.COMPLETED


def taken_flows(workflow, flows):
    """The sequence flows this case has gone along, from its task tree: a reached element and the
    nearest drawn element before it are the two ends of a flow. `flows` maps flow id -> [source, target]."""
    by_ends = {tuple(ends): flow_id for flow_id, ends in flows.items()}
    taken = set()
    for task in _visible_tasks(workflow):
        if not task.state & _REACHED:
            continue
        parent = task.parent
        while parent is not None and not getattr(parent.task_spec, "bpmn_id", None):
            parent = parent.parent
        if parent is not None:
            flow_id = by_ends.get((parent.task_spec.bpmn_id, task.task_spec.bpmn_id))
            if flow_id:
                taken.add(flow_id)
    return taken


def _latest_data(workflow, ready):
    """The data the case carries now: parallel branches each hold their own copy, so merge them."""
    last = workflow.last_task
    merged = dict(last.data) if last is not None else dict(workflow.data)
    for task in ready:
        merged.update(task.data)
    return merged


# Every case starts with this variable: 1, then 2, 3... each time it is reopened. (Not "round":
# a condition on a variable that is missing would quietly find Python's round() instead.)
ROUND = "case_round"
# Whether the case lies in a grid (cases.grid_id): given to the workflow with every step submitted,
# so a diagram can give the grid a step (a visit after closing, checking an agreement is kept).
HAS_GRID = "case_has_grid"


def seed(workflow, data=None):
    """Give a new instance what the process starts with."""
    for task in workflow.get_tasks(state=TaskState.READY):
        # A case is in no grid until the engine says otherwise (runtime.complete's facts).
        task.data.update({HAS_GRID: False, **(data or {ROUND: 1})})


def start(specs, data=None):
    """A new instance, seeded and run to its first wait."""
    workflow = new_workflow(specs)
    seed(workflow, data)
    workflow.do_engine_steps()
    return workflow, snapshot(workflow, _NOTHING)


def next_round(specs, snap):
    """Start the case's next round after a round ended at a restart end event: a fresh instance
    carrying the case's data, so reopening never grows one task tree (no loop drawn back)."""
    data = dict(snap.data)
    data[ROUND] = int(data.get(ROUND) or 1) + 1
    workflow, started = start(specs, data)
    started.changes = snap.changes + started.changes
    started.was_ready, started.was_waiting = snap.was_ready, snap.was_waiting
    return workflow, started


def find_task(workflow, task_id):
    return workflow.get_task_from_id(UUID(task_id))


def complete(workflow, task_id, data, facts=None):
    """Complete a READY user task with the submitted data and run the engine to the next wait.
    `facts` are what the engine knows of the case (HAS_GRID), set after the data so that no form
    field can pass for one."""
    before = task_states(workflow)
    task = find_task(workflow, task_id)
    if task is None or task.state != TaskState.READY:
        raise TaskNotReady(task_id)
    task.data.update(data)
    task.data.update(facts or {})
    task.run()
    workflow.do_engine_steps()
    return snapshot(workflow, before)


def fire_timers(workflow):
    """Fire every timer of this case whose due time has passed (by the wall clock)."""
    before = task_states(workflow)
    workflow.refresh_timers()
    workflow.do_engine_steps()
    return snapshot(workflow, before)


class TaskNotReady(Exception):
    pass


def spec_registry():
    """The serializer registry SpiffWorkflow's spec comparison (migration) needs."""
    return _SPEC_SERIALIZER.registry
