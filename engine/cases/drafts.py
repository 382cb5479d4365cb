"""Drafts of task forms: what a handler typed, kept to finish later (a mediation record is written
over weeks of sessions). A draft is checked only for size, never handed to the workflow and never
written to the audit chain; submitting the task (or the task closing) deletes it, in the same
transaction (engine/cases/store.py)."""
from sqlalchemy import select

from engine.access.policy import may_work_task
from engine.cases import services, store
from engine.legaltime.clock import Clock
from engine.library import catalog, forms as formlib
from engine.persistence.models import OrgUnit, TaskDraft
from engine.persistence.uow import UnitOfWork


def save(session, actor, task_id, post):
    """Keep what was posted as the task's draft, in place of any earlier one. Whoever may submit
    the task may save its draft; saving a draft of a task in the pool claims it, so that nobody
    else starts the same record meanwhile. Data too large to submit raises services.FormInvalid
    with what was typed, exactly as a submission would."""
    with UnitOfWork(session):
        # Opened exactly as a submission opens it: the case locked, the task open, the actor allowed.
        task, case, _path = services._open_task(session, actor, task_id)
        form = catalog.version_info(session, case.process_version_id).form(task.form_key)
        data = formlib.data_from_post(form, post)
        errors = formlib.validate(form, data, only=formlib.SIZE_KEYWORDS)
        if errors:
            raise services.FormInvalid(errors, data)
        if task.assignee_id is None:
            task.assignee_id = actor.user_id
            store.AuditLog(session, case).add(actor, "task_claimed", task.spec_id, task.title)
        draft = session.scalar(select(TaskDraft).where(TaskDraft.task_id == task.id))
        if draft is None:
            draft = TaskDraft(task_id=task.id)
            session.add(draft)
        draft.user_id, draft.data, draft.saved_at = actor.user_id, data, Clock.now()
        return draft


def of_task(session, actor, task):
    """The draft of an open task, for someone who may work on it; otherwise None."""
    if task.state != "ready":
        return None
    unit_path = session.scalar(select(OrgUnit.path).where(OrgUnit.id == task.org_unit_id))
    if not may_work_task(actor, task.role, unit_path, task.assignee_id):
        return None
    return session.scalar(select(TaskDraft).where(TaskDraft.task_id == task.id))
