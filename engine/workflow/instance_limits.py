"""Bounds on what a diagram's loops and multi-instance steps may create.

SpiffWorkflow makes every instance of a parallel multi-instance step at once, in the engine's
process, one per item of a collection in the case's data or per count of a cardinality
expression, and repeats a standard loop until its condition holds. A collection of 200,000
items, a cardinality of 10**9 or a loop whose condition never holds would hold the process and
its memory. SpiffWorkflow has no hook for this, so its two entry points are wrapped here, once,
when the runtime is imported. A step over the limit fails naming its element; nothing is saved.
"""
from collections.abc import Iterable, Sized

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask, StandardLoopTask

# One instance per party, department or session is the use here; a hundred is far beyond it.
MAX_INSTANCES = 100


def _refuse(task, what):
    return WorkflowTaskException(f"{what}, over the limit of {MAX_INSTANCES} instances of one step", task=task)


def _instances_wanted(spec, task):
    if spec.data_input is not None:
        name = getattr(spec.data_input, "bpmn_id", None) or getattr(spec.data_input, "name", "")
        items = spec.data_input.get(task) if spec.data_input.exists(task) else None
        if isinstance(items, Sized):
            return len(items)
        if isinstance(items, Iterable):
            return MAX_INSTANCES + 1
        raise WorkflowTaskException(f"the collection {name!r} this step runs over is missing or not a list", task=task)
    count = task.workflow.script_engine.evaluate(task, spec.cardinality)
    if isinstance(count, bool) or not isinstance(count, int):
        raise WorkflowTaskException(f"the loop cardinality gave {type(count).__name__}, not a whole number", task=task)
    return count


def _bounded_multi_instance(update_hook):
    def guarded(self, my_task):
        my_task._inherit_data()  # as the hook itself does first: the count is read from the case's data
        wanted = _instances_wanted(self, my_task)
        if wanted > MAX_INSTANCES:
            raise _refuse(my_task, f"{wanted:,} instances were asked for")
        return update_hook(self, my_task)
    return guarded


def _bounded_loop(create_child):
    def guarded(self, my_task):
        if len(self._merged_children(my_task)) >= MAX_INSTANCES:
            raise _refuse(my_task, "the loop went round too often")
        return create_child(self, my_task)
    return guarded


def install():
    if not getattr(MultiInstanceTask, "_yizhan_bounded", False):
        MultiInstanceTask._update_hook = _bounded_multi_instance(MultiInstanceTask._update_hook)
        StandardLoopTask.create_child = _bounded_loop(StandardLoopTask.create_child)
        MultiInstanceTask._yizhan_bounded = True
