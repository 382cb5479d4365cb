"""How a case's workflow state is written (cases.state): SpiffWorkflow's own serialization, less
what can be worked out again on load. Nothing is lost: a state loads back into the same tasks
with the same data.

- The process spec is left out (stored once per version) and attached again on load.
- Per task, SpiffWorkflow writes its id twice (the key and "id"), its parent (the parent's list of
  children says it), and its defaults (no internal data, not triggered, the type name "Task"):
  they are left out here and put back on load. A task's children are written as their places
  among the workflow's tasks (a small number instead of a 36-character id), and its fields under
  one-letter names (_SHORT): the names took a third of a task's bytes.
- A task's data is written as SpiffWorkflow writes it, as the change from its parent's, except
  where the change would delete more keys than the task holds (a step not reached yet holds
  nothing, yet its change would list every key of the case): then it is written in full.
- A called diagram's first task holds a copy of the calling task's data, and a finished
  workflow's data is a copy of its last task's: each is written as a reference when it still is
  one (the case's summary, however long, is not written again for every diagram it enters).
- JSON without spaces, Chinese as UTF-8 (3 bytes a character, not the 6 of a \\u escape).

States written before this format carry no marker and load as they always did; the next save
writes them in this one. The missing parts are put back before SpiffWorkflow's own format
migrations run, so those always see SpiffWorkflow's format."""
import json
from contextvars import ContextVar
from copy import copy
from uuid import UUID, SafeUUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnSubWorkflowConverter, BpmnWorkflowConverter, TaskConverter
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.util.subworkflow import BpmnSubWorkflow
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

# Present (1) in a state written in this format.
MARK = "compact"
# A called diagram's first task whose data is its calling task's; a workflow whose data is its
# last task's; the called diagrams a case went through and that were dropped from its state.
FROM_CALLER = "data_from_caller"
FROM_LAST_TASK = "data_from_last_task"
FINISHED_CALLS = "finished_calls"
_DEFAULTS = {"typename": "Task", "triggered": False, "internal_data": {}}
_MUTABLE = (dict, list, set)
# The names SpiffWorkflow gives a task's fields, and the ones written here.
_SHORT = {"children": "c", "last_state_change": "t", "state": "s", "task_spec": "n", "internal_data": "i",
          "triggered": "g", "typename": "y", "data": "d", "delta": "x", FROM_CALLER: "f"}
_LONG = {short: name for name, short in _SHORT.items()}
_SHORT_DELTA = {"updates": "u", "deletions": "r"}
_LONG_DELTA = {short: name for name, short in _SHORT_DELTA.items()}

attached_spec = ContextVar("attached_spec")
# Whether the state being loaded is plain JSON (StateSerializer.deserialize_json).
_plain = ContextVar("plain_state", default=False)


def _caller(task):
    """The call activity's task that started the called diagram `task` is the first task of."""
    parent_task_id = task.workflow.parent_task_id
    return None if parent_task_id is None else task.workflow.top_workflow.get_task_from_id(parent_task_id)


# The task ids of the state being loaded, each made once (a task's id is written as its key, its
# children's parent and its parent's child). Emptied as each load begins; shared by the threads of
# a process only as a cache: an id always makes the same UUID.
_IDS = {}


def task_id(text):
    """The UUID of a task id as a state writes it (36 characters): what UUID(text) returns, without
    its checks of forms a state never holds (a state's load makes a few UUIDs per task, and UUID()
    took a tenth of the sweep's time)."""
    made = _IDS.get(text)
    if made is not None:
        return made
    value = int(text.replace("-", ""), 16)
    if len(text) != 36 or value >> 128:
        made = UUID(text)
    else:
        made = object.__new__(UUID)
        object.__setattr__(made, "int", value)
        object.__setattr__(made, "is_safe", SafeUUID.unknown)
    _IDS[text] = made
    return made


class _TaskConverter(TaskConverter):
    """SpiffWorkflow's own TaskConverter's restore, field for field (the same task back), written
    for speed: the sweep loads and dumps a whole case to fire one timer. Tasks are written by
    _compact_tasks."""

    def from_dict(self, dct, workflow):
        task_spec = workflow.spec.task_specs.get(dct["task_spec"])
        task = self.target_class(workflow, task_spec, state=dct["state"], id=task_id(dct["id"]))
        parent_id = dct["parent"]
        task._parent = task_id(parent_id) if parent_id is not None else None
        task._children = [task_id(child) for child in dct["children"]]
        task.last_state_change = dct["last_state_change"]
        task.triggered = dct["triggered"]
        plain = _plain.get()
        internal = dct["internal_data"]
        task.internal_data = (internal if plain else self.registry.restore(internal)) if internal else {}
        if isinstance(task_spec, CatchingEvent) and task._state & TaskState.WAITING:
            task.workflow.top_workflow.event_manager.add_task(task)
        delta = dct.get("delta")
        parent = workflow.tasks.get(task._parent) if parent_id is not None else None
        if delta and parent is not None:
            # DeepMerge.merge({}, parent.data), as SpiffWorkflow restores it: a copy of each
            # dict, list or set value, the rest shared.
            data = {key: copy(value) if isinstance(value, _MUTABLE) else value for key, value in parent.data.items()}
            updates = delta.get("updates", {})
            if updates:
                data.update(updates if plain else self.registry.restore(updates))
            for key in delta.get("deletions", {}):
                if key in data:
                    del data[key]
        else:
            data = dct["data"] if plain else self.registry.restore(dct["data"])
        task.data = data
        return task


class _StateOnlyConverter(BpmnWorkflowConverter):
    """Leaves the process spec out of a case's state; the spec is stored once per version and
    attached again from the cache on load (SPIFFWORKFLOW-NOTES: state alone is a few KB)."""

    def to_dict(self, workflow):
        dct = _workflow_to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        last = workflow.last_task
        if workflow.data and last is not None and workflow.data == last.data:
            dct["data"], dct[FROM_LAST_TASK] = {}, str(last.id)
        finished = getattr(workflow, "finished_calls", None)
        if finished:
            dct[FINISHED_CALLS] = {name: sorted(elements) for name, elements in sorted(finished.items())}
        return dct

    def from_dict(self, dct):
        _IDS.clear()
        spec, subprocess_specs = attached_spec.get()
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], task_id, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(task_id(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        workflow.finished_calls = {name: set(elements) for name, elements in dct.get(FINISHED_CALLS, {}).items()}
        return workflow


class _SubWorkflowConverter(BpmnSubWorkflowConverter):
    """A called diagram's part of the state: its tasks written and read as the case's own."""

    def to_dict(self, workflow):
        dct = _workflow_to_dict(self, workflow)
        dct["parent_task_id"] = str(workflow.parent_task_id)
        dct["spec"] = workflow.spec.name
        return dct

    def from_dict(self, dct, task, top_workflow):
        spec = top_workflow.subprocess_specs.get(task.task_spec.spec)
        subprocess = self.target_class(spec, task.id, top_workflow, deserializing=True)
        subprocess.tasks = self.mapping_from_dict(dct["tasks"], task_id, workflow=subprocess)
        subprocess.task_tree = subprocess.tasks.get(task_id(dct["root"]))
        self.set_default_attributes(subprocess, dct)
        return subprocess


def _workflow_to_dict(converter, workflow):
    """SpiffWorkflow's WorkflowConverter.to_dict, with the tasks written compact (_compact_tasks)."""
    registry = converter.registry
    return {
        "data": registry.convert(registry.clean(workflow.data)),
        "correlations": workflow.correlations,
        "last_task": str(workflow.last_task.id) if workflow.last_task is not None else None,
        "success": workflow.success,
        "completed": workflow.completed,
        "tasks": _compact_tasks(workflow, registry),
        "root": str(workflow.task_tree.id),
    }


class _Encoder(json.JSONEncoder):
    item_separator, key_separator = ",", ":"

    def __init__(self, *args, **kwargs):
        kwargs["ensure_ascii"] = False
        super().__init__(*args, **kwargs)


class _AsciiEncoder(_Encoder):
    """For the rare state holding a lone surrogate, which UTF-8 cannot carry: \\u escapes."""

    def __init__(self, *args, **kwargs):
        json.JSONEncoder.__init__(self, *args, **kwargs)


class StateSerializer(BpmnWorkflowSerializer):

    def to_dict(self, obj, **kwargs):
        dct = super().to_dict(obj, **kwargs)
        if isinstance(obj, BpmnWorkflow):
            dct[MARK] = 1
        return dct

    def deserialize_json(self, serialization, use_gzip=False):
        if use_gzip:
            return super().deserialize_json(serialization, use_gzip)
        dct = json.loads(serialization, cls=self.json_decoder_cls)
        # A state whose only objects written with their type's name are the workflow and its
        # called diagrams (no dates, events... in the tasks), the common case, is plain JSON: its
        # tasks' values are taken as parsed, not walked again for types to restore (each value
        # parsed is used once; _expand copies what it shares).
        plain = serialization.count('"typename"') == 1 + len(dct.get("subprocesses") or {})
        self.migrate(dct)
        token = _plain.set(plain)
        try:
            return self.from_dict(dct)
        finally:
            _plain.reset(token)

    def migrate(self, dct):
        if dct.pop(MARK, None):
            _expand(dct)
        super().migrate(dct)


def _compact_tasks(workflow, registry):
    """The workflow's tasks as this format writes them, by id: what SpiffWorkflow's TaskConverter
    writes, less what can be worked out again on load (the module's docstring), under the short
    names (_SHORT). Written from the tasks directly: the sweep dumps a whole case to fire one timer."""
    tasks = workflow.tasks
    position = {key: i for i, key in enumerate(tasks)}
    written = {}
    for key, task in tasks.items():
        out = {} if task.id == key else {"id": str(task.id)}
        out["c"] = [position[child] if child in position else str(child) for child in task._children]
        out["t"], out["s"], out["n"] = task.last_state_change, task._state, task.task_spec.name
        if task.triggered != _DEFAULTS["triggered"]:
            out["g"] = task.triggered
        if task.internal_data:
            out["i"] = registry.convert(task.internal_data)
        data = task.data
        parent = tasks.get(task._parent)
        if parent is None:
            caller = _caller(task)
            if caller is not None and data and data == caller.data:
                out["f"], data = 1, {}
            out["d"] = data
        else:
            above = parent.data
            deletions = [name for name in above if name not in data]
            if deletions and len(deletions) >= len(data):
                # SpiffWorkflow reads a falsy delta as "data in full".
                out["d"] = data
            else:
                updates = {name: value for name, value in data.items() if name not in above or value != above[name]}
                if updates or deletions:
                    out["x"] = {"u": updates, "r": deletions} if updates and deletions else \
                        {"u": updates} if updates else {"r": deletions}
        written[str(key)] = out
    return written


def _expand(dct):
    """Put back what _compact_tasks left out, so the dict is SpiffWorkflow's own format again."""
    workflows = [dct, *dct["subprocesses"].values()]
    where = {}
    for workflow in workflows:
        tasks = workflow["tasks"]
        keys = list(tasks)
        for key, task in tasks.items():
            task = tasks[key] = {_LONG.get(name, name): value for name, value in task.items()}
            task["children"] = [keys[child] if isinstance(child, int) else child for child in task["children"]]
        parents = {child: key for key, task in tasks.items() for child in task["children"]}
        for key, task in tasks.items():
            task["id"], task["parent"] = key, parents.get(key)
            for name, default in _DEFAULTS.items():
                task.setdefault(name, {} if default == {} else default)
            if "delta" in task:
                task["delta"] = {"updates": {}, "deletions": [],
                                 **{_LONG_DELTA.get(name, name): value for name, value in task["delta"].items()}}
                task["data"] = {}
            elif "data" in task:
                task["delta"] = {}
            else:
                task["data"], task["delta"] = {}, {"updates": {}, "deletions": []}
            where[key] = tasks
    pending = {}  # a called diagram's first task written as a reference -> the calling task
    for sub_id, workflow in dct["subprocesses"].items():
        if workflow["tasks"][workflow["root"]].pop(FROM_CALLER, None):
            pending[workflow["root"]] = sub_id
    while pending:
        root, caller = pending.popitem()
        where[root][root]["data"] = _data_of(where, pending, caller)
    for workflow in workflows:
        last = workflow.pop(FROM_LAST_TASK, None)
        if last is not None:
            workflow["data"] = _data_of(where, pending, last)


def _data_of(where, pending, task_id):
    """A copy of _found_data's: its values are also those of the tasks it was made from."""
    return _copied(_found_data(where, pending, task_id))


def _copied(value):
    """A deep copy of a value json.loads made (dicts, lists and what cannot change)."""
    if type(value) is dict:
        return {key: _copied(item) for key, item in value.items()}
    if type(value) is list:
        return [_copied(item) for item in value]
    return value


def _found_data(where, pending, task_id):
    """A task's data as written in the state (values still in their serialized form): the nearest
    task above it that holds its data in full, and the changes down to it. A called diagram's
    first task still to be resolved (`pending`) is resolved first: its caller may itself be in a
    called diagram."""
    chain = []
    while True:
        task = where[task_id][task_id]
        chain.append(task)
        if not task["delta"]:
            break
        task_id = task["parent"]
    if task_id in pending:
        chain[-1]["data"] = _data_of(where, pending, pending.pop(task_id))
    data = dict(chain[-1]["data"])
    for task in reversed(chain[:-1]):
        data.update(task["delta"]["updates"])
        for key in task["delta"]["deletions"]:
            data.pop(key, None)
    return data


def make_serializers():
    state_config = dict(SPIFF_CONFIG)
    state_config[BpmnWorkflow] = _StateOnlyConverter
    state_config[Task] = _TaskConverter
    state_config[BpmnSubWorkflow] = _SubWorkflowConverter
    state = StateSerializer(StateSerializer.configure(state_config), json_encoder_cls=_Encoder)
    ascii_only = StateSerializer(state.registry, json_encoder_cls=_AsciiEncoder)
    full = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))
    return state, ascii_only, full
