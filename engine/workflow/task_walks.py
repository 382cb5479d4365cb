"""SpiffWorkflow's two walks over a case's whole task tree, made cheaper with the same result.

Running a case to its next wait, SpiffWorkflow lists the READY tasks of each workflow again and
again (BpmnWorkflow.do_engine_steps: `get_tasks(state=READY)`, called diagrams included), and
after each task it completes it walks the tree once more for the WAITING tasks to update
(Workflow.update_waiting_tasks). Its iterator is general (filters, breadth-first, a stop at a
spec, depth bookkeeping on every leaf) and pays for that on every task of every walk: the two
walks took about 40 % of the engine's time in a case of the intake pathway (bench/).

The walks here visit the same tasks in the same order and yield the same ones: depth first,
a called diagram's tasks before the calling task's children, the same rule for which tasks'
children are visited (by state), and the same depth limit. Only the plain `get_tasks(state=...)`
or `get_tasks()` (every task: a called diagram's, when it is dropped) from the workflow's root is
taken over; any other question goes to SpiffWorkflow's iterator.
Installed once, when the runtime is imported."""
from SpiffWorkflow.bpmn.util.subworkflow import BpmnBaseWorkflow
from SpiffWorkflow.util.task import TaskFilter, TaskIterator, TaskState
from SpiffWorkflow.workflow import Workflow

# SpiffWorkflow's TaskIterator default (max_depth=1000).
MAX_DEPTH = TaskIterator.__init__.__defaults__[1]
# The depth bookkeeping of SpiffWorkflow's BPMN iterator can drift from a task's true depth when
# it steps into and out of called diagrams; far from its limit that never matters, so a tree this
# deep is left to SpiffWorkflow's own iterator.
_OWN_WALK_DEPTH = MAX_DEPTH // 2


def _min_state(state):
    """TaskIterator: which tasks' children are visited, by the states asked for."""
    if state & TaskState.PREDICTED_MASK:
        return TaskState.MAYBE
    if state & TaskState.DEFINITE_MASK:
        return TaskState.FUTURE
    return TaskState.COMPLETED


class _TooDeep(Exception):
    pass


def _bpmn_tasks(root, state):
    """BpmnTaskIterator(root, state=state) as a list (what Workflow.get_tasks returns)."""
    min_state = _min_state(state)
    subprocesses = root.workflow.top_workflow.subprocesses
    # A called diagram is entered unless the calling task is finished and only finished tasks are
    # asked for (SpiffWorkflow's test, kept as it is written).
    enter_finished = not state <= TaskState.FINISHED_MASK
    found = []
    stack = [(root, 0)]
    pop, push = stack.pop, stack.append
    while stack:
        task, depth = pop()
        subprocess = subprocesses.get(task.id)
        children = task._children
        if (children or subprocess is not None) and (task._state >= min_state or subprocess is not None):
            if depth >= _OWN_WALK_DEPTH:
                raise _TooDeep
            tasks = task.workflow.tasks
            for child in reversed(children):
                push((tasks.get(child), depth + 1))
            if subprocess is not None and (task._state < TaskState.FINISHED_MASK or enter_finished):
                push((subprocess.task_tree, depth + 1))
        if task._state & state and task.last_state_change >= 0:
            found.append(task)
    return found


def _tasks(root, state):
    """TaskIterator(root, state=state), lazily: a task's children are read when it is reached,
    before the caller acts on it, as SpiffWorkflow's iterator reads them."""
    min_state = _min_state(state)
    stack = [(root, 0)]
    pop, push = stack.pop, stack.append
    while stack:
        task, depth = pop()
        children = task._children
        if children and task._state >= min_state and depth < MAX_DEPTH:
            tasks = task.workflow.tasks
            for child in reversed(children):
                push((tasks.get(child), depth + 1))
        if task._state & state and task.last_state_change >= 0:
            yield task


_spiff_get_tasks = Workflow.get_tasks


# TaskFilter's default: every state.
_ANY = TaskFilter.__init__.__defaults__[0]


def get_tasks(self, first_task=None, **kwargs):
    if first_task is None and (not kwargs or len(kwargs) == 1 and "state" in kwargs):
        try:
            return _bpmn_tasks(self.task_tree, kwargs.get("state", _ANY))
        except _TooDeep:
            pass
    return _spiff_get_tasks(self, first_task, **kwargs)


def update_waiting_tasks(self):
    """Workflow.update_waiting_tasks."""
    for task in _tasks(self.task_tree, TaskState.WAITING):
        task.task_spec._update(task)


def install():
    if not getattr(BpmnBaseWorkflow, "_yizhan_walks", False):
        BpmnBaseWorkflow.get_tasks = get_tasks
        Workflow.update_waiting_tasks = update_waiting_tasks
        BpmnBaseWorkflow._yizhan_walks = True
