"""Moving running cases to another version of their pathway, in two steps: a dry run that says,
case by case, whether it can move and why not; then the move of the cases chosen, each in its
own transaction and in the case's history.

A case can move when every step it has already started or finished is unchanged in the target
version, and every called pathway it is in still exists there. Steps are aligned by element id;
an open step whose definition changed is opened again on the new definition (name, form, role),
and whoever had claimed it keeps it; counting deadlines keep their due time (SPIFFWORKFLOW-NOTES:
resetting timers would restart them)."""
from dataclasses import dataclass, field

from SpiffWorkflow.bpmn.util.diff import SpecDiff, WorkflowDiff
from SpiffWorkflow.util.task import TaskState as SpiffState
from sqlalchemy import select

from engine.library import catalog
from engine.workflow import runtime
from engine.access.rulebook import require_design
from engine.cases import store
from engine.cases.acting import acting_on_case
from engine.errors import Conflict, NotFound
from engine.messages import Msg
from engine.persistence.models import Case, OrgUnit, ProcessVersion, Task
from engine.persistence.states import CaseStatus, EventKind, TaskState

_DONE_OR_STARTED = SpiffState.COMPLETED | SpiffState.STARTED


@dataclass
class CasePlan:
    case_id: int
    code: str
    from_version: int
    current_step: str
    reasons: list = field(default_factory=list)

    @property
    def movable(self):
        return not self.reasons


def _label(spec):
    return f"「{getattr(spec, 'bpmn_name', None) or spec.bpmn_id}」({spec.bpmn_id})"


def _gone(name):
    return Msg("the called pathway %(name)s is gone from the new version", name=name)


def _removed(spec):
    return Msg("the step %(step)s was removed but the case has been there", step=_label(spec))


def _changed(spec):
    return Msg("the step %(step)s, which the case went through, changed", step=_label(spec))


def _diffs(workflow, target_specs):
    spec, subs = target_specs
    registry = runtime.spec_registry()
    top = WorkflowDiff(workflow, SpecDiff(registry, workflow.spec, spec))
    called = {}
    for sub_id, sub in workflow.subprocesses.items():
        new = subs.get(sub.spec.name)
        called[sub_id] = None if new is None else WorkflowDiff(sub, SpecDiff(registry, sub.spec, new))
    return top, called


def _reasons(workflow, top, called, target_specs):
    reasons = []
    for diff, where in [(top, workflow)] + [(d, workflow.subprocesses[i]) for i, d in called.items()]:
        if diff is None:
            reasons.append(_gone(where.spec.name))
            continue
        for task in diff.removed:
            if task.state & (_DONE_OR_STARTED | SpiffState.READY | SpiffState.WAITING) and getattr(task.task_spec, "bpmn_id", None):
                reasons.append(_removed(task.task_spec))
        for task in diff.changed:
            if task.state & _DONE_OR_STARTED and getattr(task.task_spec, "bpmn_id", None):
                reasons.append(_changed(task.task_spec))
    reasons += _finished_call_reasons(workflow, target_specs[1])
    return list(dict.fromkeys(reasons))


def _finished_call_reasons(workflow, target_subs):
    """The called pathways the case finished are no longer in its state (runtime.drop_finished_calls),
    which kept the elements each went through: they are held to the same rule as the steps still there."""
    reasons = []
    for name, elements in sorted(getattr(workflow, "finished_calls", {}).items()):
        old, new = workflow.subprocess_specs.get(name), target_subs.get(name)
        if new is None:
            reasons.append(_gone(name))
        elif old is not None:
            diff = SpecDiff(runtime.spec_registry(), old, new)
            reasons += [_removed(spec) for spec in diff.removed if getattr(spec, "bpmn_id", None) in elements]
            reasons += [_changed(spec) for spec in diff.changed if getattr(spec, "bpmn_id", None) in elements]
    return reasons


def _target(session, actor, version_id):
    require_design(actor)
    target = session.get(ProcessVersion, version_id)
    if target is None:
        raise NotFound(version_id)
    return catalog.version_info(session, target.id)


def dry_run(session, actor, version_id):
    """Every running case of the pathway in the designer's units on another version: can it move
    to this one, and if not, why. Changes nothing."""
    target = _target(session, actor, version_id)
    target_specs = target.specs(session)
    cases = session.scalars(select(Case).join(ProcessVersion, ProcessVersion.id == Case.process_version_id)
                            .join(OrgUnit, OrgUnit.id == Case.org_unit_id)
                            .where(ProcessVersion.process_key == target.process_key, Case.status == CaseStatus.OPEN,
                                   Case.process_version_id != target.id, OrgUnit.path.startswith(actor.unit_path))
                            .order_by(Case.id)).all()
    plans = []
    for case in cases:
        source = catalog.version_info(session, case.process_version_id)
        plan = CasePlan(case.id, case.code, case.process_version_id, case.current_step)
        try:
            workflow = runtime.load_state(case.state, source.specs(session))
            plan.reasons = _reasons(workflow, *_diffs(workflow, target_specs), target_specs)
        except Exception as exc:  # a case whose state cannot be read cannot move; say so
            plan.reasons = [Msg("the case's state cannot be read: %(why)s", why=str(exc))]
        plans.append(plan)
    return target, plans


def _move(diff, workflow, spec):
    """Put the workflow on the new spec; open steps whose definition changed start again on it."""
    workflow.spec = spec
    for task in list(workflow.tasks.values()):
        new = diff.alignment.get(task)
        if new is not None:
            task.task_spec = new
    for task in diff.changed:
        if task.state == SpiffState.READY and task.id in workflow.tasks:
            task.reset_branch(None)


def _restate_open_steps(session, case_id, meta):
    """Open step rows take the new version's name, form and role for their element."""
    for task in session.scalars(select(Task).where(Task.case_id == case_id, Task.state == TaskState.READY)):
        info = meta["tasks"].get(task.spec_id)
        if info and not info.get("department_from"):
            task.title, task.form_key, task.role = info["name"], info["form"], info["role"]


def migrate(session, actor, version_id, case_ids):
    """Move the chosen cases of the designer's units, each in its own transaction; returns (moved
    case ids, {case id: reasons} for those that could not)."""
    target = _target(session, actor, version_id)
    target_specs = target.specs(session)
    moved, refused = [], {}
    for case_id in case_ids:
        try:
            reasons = _migrate_one(session, actor, case_id, target, target_specs)
        except NotFound:
            reasons = ["not found"]
        except Conflict:
            reasons = [Msg("not a running case on another version")]
        if reasons:
            refused[case_id] = reasons
        else:
            moved.append(case_id)
    return moved, refused


def _migrate_one(session, actor, case_id, target, target_specs):
    """Move one case, or say why it cannot move (and change nothing)."""
    with acting_on_case(session, actor, case_id, "migrate") as act:
        case = act.case
        source = catalog.version_info(session, case.process_version_id)
        if source.process_key != target.process_key or source.id == target.id:
            return [Msg("not a running case on another version")]
        workflow = runtime.load_state(case.state, source.specs(session))
        before = runtime.task_states(workflow)
        top, called = _diffs(workflow, target_specs)
        reasons = _reasons(workflow, top, called, target_specs)
        if reasons:
            return reasons
        spec, subs = target_specs
        workflow.subprocess_specs = subs
        _move(top, workflow, spec)
        for sub_id, diff in called.items():
            _move(diff, workflow.subprocesses[sub_id], subs[workflow.subprocesses[sub_id].spec.name])
        snap = runtime.snapshot(workflow, before)
        case.process_version_id = target.id
        act.log.add(actor, EventKind.CASE_MIGRATED, detail={"from": source.id, "to": target.id,
                                                    "reopened_steps": [c.element for c in snap.changes
                                                                       if c.after == "READY"]})
        store.save(session, case, act.unit_path, workflow, snap, target, actor, act.log)
        _restate_open_steps(session, case.id, target.meta)
        return []
