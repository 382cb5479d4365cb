"""Drafts of task forms: what a handler typed, kept to finish later (a mediation record is written
over weeks of sessions). A draft is checked only for size, never handed to the workflow and never
written to the audit chain; submitting the task (or the task closing) deletes it, in the same
transaction (engine/cases/store.py)."""
from sqlalchemy import bindparam, select

from engine.access import rulebook
from engine.cases.acting import acting_on_task
from engine.errors import FormInvalid
from engine.legaltime.clock import Clock
from engine.library import forms as formlib
from engine.persistence.models import TaskDraft
from engine.reading import expert_options
from engine.persistence.states import EventKind, TaskState


def save(session, actor, task_id, post):
    """Keep what was posted as the task's draft, in place of any earlier one. Whoever may submit
    the task may save its draft; saving a draft of a task in the pool claims it, so that nobody
    else starts the same record meanwhile. Data too large to submit raises FormInvalid
    with what was typed, exactly as a submission would."""
    # Opened exactly as a submission opens it: the case locked, the task open, the actor allowed.
    with acting_on_task(session, actor, task_id, "submit") as act:
        task, case = act.task, act.case
        form = expert_options.step_form(session, case.process_version_id, task.form_key, act.unit_path)
        data = formlib.data_from_post(form, post)
        errors = formlib.validate(form, data, only=formlib.SIZE_KEYWORDS)
        if errors:
            raise FormInvalid(errors, data)
        if task.assignee_id is None:
            task.assignee_id = actor.user_id
            act.log.add(actor, EventKind.TASK_CLAIMED, task.spec_id, task.title)
        draft = session.scalar(select(TaskDraft).where(TaskDraft.task_id == task.id))
        if draft is None:
            draft = TaskDraft(task_id=task.id)
            session.add(draft)
        draft.user_id, draft.data, draft.saved_at = actor.user_id, data, Clock.now()
        return draft


_OF_TASK = select(TaskDraft).where(TaskDraft.task_id == bindparam("b_task"))  # built once


def of_task(session, actor, task):
    """The draft of an open task, for someone who may work on it; otherwise None."""
    if task.state != TaskState.READY:
        return None
    # The step's unit is usually in the session already (the case's own): read from there.
    # The step's rules read the step alone: no case facts are needed.
    if rulebook.refusal(actor, "submit", None, rulebook.step_facts(task, task.org_unit.path)) is not None:
        return None
    return session.scalar(_OF_TASK, {"b_task": task.id})
