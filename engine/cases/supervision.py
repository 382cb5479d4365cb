"""What a supervisor does about a step or a case, each with a note and each in the case's
history: give a step to a handler (reassign, or claim it on someone's behalf), list a case for
supervision (挂牌督办) and lift it, and remind a handler. The sweep also reminds handlers when a
step turns amber and when it is overdue."""
from types import SimpleNamespace

from sqlalchemy import and_, bindparam, insert, or_, select, update
from sqlalchemy.orm import joinedload
from sqlalchemy.exc import IntegrityError

from engine.cases import notes, outbox
from engine.cases.acting import acting_on_case, acting_on_task, as_system, personal
from engine.legaltime.clock import CHINA, Clock, as_utc
from engine.errors import Conflict, NotFound
from engine.messages import Msg, in_chinese
from engine.persistence.models import Case, OrgUnit, Reminder, Task, User, UserRole
from engine.reading.queries import amber_now, red_now
from engine.persistence.states import EventKind, TaskState


def _note(note):
    return notes.note(note, notes.REASON, Msg("Write a note"))


def handlers_for(session, actor, task):
    """Who may be given a step: active holders of its role in the step's unit (only they can work
    on it), if that unit is within the supervisor's."""
    return session.scalars(
        select(User).join(UserRole, UserRole.user_id == User.id).join(OrgUnit, OrgUnit.id == User.org_unit_id)
        .where(UserRole.role == task.role, User.active.is_(True), User.org_unit_id == task.org_unit_id,
               OrgUnit.path.startswith(actor.unit_path)).order_by(User.display_name)).all()


def assign_task(session, actor, task_id, user_id, note):
    """Give a step to a handler: reassigns a claimed step, or claims an unclaimed one on the
    handler's behalf."""
    with acting_on_task(session, actor, task_id, ("reassign", "claim_on_behalf")) as act:
        return give_step(act, user_id, _note(note))


def give_step(act, user_id, note):
    """assign_task within an action already open on the step (a meeting's decision too)."""
    session, actor, task, case = act.session, act.actor, act.task, act.case
    target = next((u for u in handlers_for(session, actor, task) if u.id == user_id), None)
    if target is None:
        raise Conflict(Msg("That person cannot take this step"))
    before = task.assignee
    if before is not None and before.id == target.id:
        raise Conflict(Msg("Already with %(who)s", who=target.display_name))
    task.assignee_id = target.id
    kind = EventKind.TASK_REASSIGNED if before is not None else EventKind.TASK_CLAIMED_ON_BEHALF
    act.log.add(actor, kind, task.spec_id, task.title, {
        "from": before.display_name if before else None, "to": target.display_name, "note": note})
    _remind(session, actor, task, case, "assigned", note, user_id=target.id)
    return task


def flag_case(session, actor, case_id, note):
    """List a case for supervision (挂牌督办)."""
    with acting_on_case(session, actor, case_id, "flag") as act:
        return list_case(act, _note(note))


def list_case(act, note):
    """flag_case within an action already open on the case."""
    case = act.case
    case.flagged_at, case.flagged_by, case.flag_note = Clock.now(), act.actor.user_id, note
    act.log.add(act.actor, EventKind.CASE_FLAGGED, detail={"note": note})
    return case


def unflag_case(session, actor, case_id, note):
    with acting_on_case(session, actor, case_id, "unflag") as act:
        case = act.case
        note = _note(note)
        case.flagged_at, case.flagged_by, case.flag_note = None, None, None
        act.log.add(actor, EventKind.CASE_UNFLAGGED, detail={"note": note})
        return case


def remind(session, actor, task_id, note):
    """A supervisor's reminder to the handler of a step (or, if unclaimed, to its pool)."""
    with acting_on_task(session, actor, task_id, "remind") as act:
        return remind_handler(act, _note(note))


def remind_handler(act, note):
    """remind within an action already open on the step."""
    task, case = act.task, act.case
    _remind(act.session, act.actor, task, case, "manual", note, user_id=task.assignee_id)
    act.log.add(act.actor, EventKind.REMINDER_SENT, task.spec_id, task.title, {
        "to": task.assignee.display_name if task.assignee else None, "note": note})
    return task


def tell_assigned(session, actor, task, case, note, user_id):
    """The handler a step was given to hears of it (a reminder in their list and a text message)."""
    _remind(session, actor, task, case, "assigned", note, user_id=user_id)


def _message(case, task, kind, note):
    """The text message, in Chinese: it goes to a handler's phone, outside any page."""
    due = Msg(", due %(at)s", at=f"{as_utc(task.due_at).astimezone(CHINA):%Y-%m-%d %H:%M}") if task.due_at else ""
    what = {"due_soon": Msg("due soon"), "overdue": Msg("overdue"), "manual": Msg("supervision reminder"),
            "assigned": Msg("given to you")}[kind]
    return in_chinese(Msg("[Yizhan] %(code)s “%(step)s” %(what)s%(due)s%(note)s", code=case.code, step=task.title, what=what,
                          due=due, note=Msg(": %(note)s", note=note) if note else ""))


def _remind(session, actor, task, case, kind, note, user_id=None, dedupe=None):
    result = session.connection().execute(insert(Reminder.__table__).returning(Reminder.__table__.c.id), dict(
        task_id=task.id, case_id=case.id, kind=kind, user_id=user_id, org_unit_id=task.org_unit_id,
        role=task.role, note=note or "", created_by=actor.user_id if actor else None, created_at=Clock.now(),
        dedupe=dedupe))
    outbox.enqueue(session, _message(case, task, kind, note), user_id=user_id,
                   unit_id=None if user_id else task.org_unit_id, role=None if user_id else task.role,
                   reminder_id=result.scalar_one())


def sweep_reminders(session, now=None, limit=1000, batch=200):
    """Remind a step's handler (or its pool) once when the step turns amber and once when it is
    overdue. Returns how many reminders were made. Reminders are written `batch` to a transaction;
    with several workers, the dedupe key is unique, so if two race for the same step the loser's
    batch fails and is redone one by one, skipping what the other made."""
    now = now or Clock.now()
    made = 0
    for kind, due_now in (("overdue", and_(red_now(now), or_(Task.reminded.is_(None), Task.reminded != "overdue"))),
                          ("due_soon", and_(amber_now(now), Task.reminded.is_(None)))):
        # Only the columns a reminder needs (a case row carries its whole workflow state), and
        # only from the tasks table: which steps were reminded is kept on the step.
        found = session.execute(
            select(Task.id, Task.org_unit_id, Task.role, Task.title, Task.due_at, Task.assignee_id,
                   Task.case_id, Case.code).join(Case, Case.id == Task.case_id)
            .where(Task.state == TaskState.READY, due_now)
            .order_by(Task.due_at).limit(limit)).all()
        rows = [(row, SimpleNamespace(id=row.case_id, code=row.code)) for row in found]
        for start in range(0, len(rows), batch):
            chunk = rows[start:start + batch]
            try:
                with as_system(session):
                    for task, case in chunk:
                        _sweep_remind(session, task, case, kind)
                made += len(chunk)
            except IntegrityError:
                for task, case in chunk:
                    try:
                        with as_system(session):
                            _sweep_remind(session, task, case, kind)
                        made += 1
                    except IntegrityError:
                        with as_system(session):  # another worker made it: only note that on the step
                            session.execute(update(Task).where(Task.id == task.id).values(reminded=kind))
    return made


def _sweep_remind(session, task, case, kind):
    _remind(session, None, task, case, kind, "", user_id=task.assignee_id, dedupe=f"{task.id}:{kind}")
    session.execute(update(Task).where(Task.id == task.id).values(reminded=kind))


def _reminders(unread_only):
    query = (select(Reminder).join(Task, Task.id == Reminder.task_id)
             .where(Task.state == TaskState.READY,
                    (Reminder.user_id == bindparam("b_user"))
                    | (Reminder.user_id.is_(None) & (Reminder.org_unit_id == bindparam("b_unit"))
                       & Reminder.role.in_(bindparam("b_roles", expanding=True)))))
    if unread_only:
        query = query.where(Reminder.read_at.is_(None))
    # Each reminder names its step and case: loaded with it, not one query each as the page reads
    # them; of the step and the case, what a reminder shows (the rest, the case's workflow state
    # above all, when asked for).
    return (query.options(joinedload(Reminder.task).load_only(Task.title),
                          joinedload(Reminder.case).load_only(Case.code))
            .order_by(Reminder.created_at.desc()).limit(100))


_REMINDERS = {unread_only: _reminders(unread_only) for unread_only in (True, False)}  # built once


def reminders_for(session, actor, unread_only=True):
    """Reminders addressed to me, or to the pool of a role I hold in my unit, newest first."""
    return session.scalars(_REMINDERS[bool(unread_only)], {"b_user": actor.user_id, "b_unit": actor.unit_id,
                                                           "b_roles": sorted(actor.roles)}).all()


def mark_read(session, actor, reminder_id):
    with personal(session, actor):
        reminder = session.get(Reminder, reminder_id)
        mine = reminder is not None and (reminder.user_id == actor.user_id or (
            reminder.user_id is None and reminder.org_unit_id == actor.unit_id and reminder.role in actor.roles))
        if not mine:
            raise NotFound(reminder_id)
        reminder.read_at = reminder.read_at or Clock.now()
        return reminder
