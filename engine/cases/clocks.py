"""Legal clocks of running steps: extending a deadline (a reason, an approver, never past the
legal maximum the diagram cites) and stopping the clock while waiting for the party or an expert
opinion, then restarting it with the time stopped added back. Every change is in the history."""
import time
from datetime import timedelta, timezone

from sqlalchemy import select

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from engine.library import catalog
from engine.legaltime import lights, workcalendar
from engine.workflow import runtime, scripting
from engine.cases import notes, store
from engine.cases.acting import acting_on_task, as_system
from engine.legaltime.clock import Clock, as_utc, china_date, end_of_day_in_china
from engine.errors import Conflict
from engine.messages import Msg
from engine.persistence.models import Case, Task, Timer
from engine.access.policy import SYSTEM
from engine.persistence.states import EventKind, TaskState, TimerState

# A stopped clock's timer waits for this date, which no case reaches.
STOPPED = "9999-12-31T00:00:00+00:00"


def _step(act):
    """The step's running (or stopped) deadline timers, its version and its workflow."""
    session, task, case = act.session, act.task, act.case
    version = catalog.version_info(session, case.process_version_id)
    deadlines = {element for element, d in version.meta["deadlines"].items() if d.get("attached_to") == task.spec_id}
    timers = session.scalars(select(Timer).where(Timer.case_id == case.id, Timer.spec_id.in_(deadlines),
                                                 Timer.state.in_((TimerState.WAITING, TimerState.STOPPED)))).all()
    if not timers:
        raise Conflict(Msg("This step has no running legal deadline"))
    workflow = runtime.load_state(case.state, version.specs(session))
    return task, case, version, timers, workflow


def _set_due(workflow, timer, value):
    runtime.find_task(workflow, timer.spiff_task_id).internal_data["event_value"] = value


def _rewarn(task):
    """The amber moment follows a deadline that moved (config/warnings.json)."""
    task.amber_at = lights.amber_at(task.spec_id, task.created_at, task.due_at, risk=task.case.risk_level)


def _extended(due, days):
    """A deadline extended by `days` days, counted as the period itself is (民事诉讼法 2023 Art. 85;
    民法典 Art. 203): one that ends at the end of a day in China ends at the end of the extended
    day, moved to the next working day when that is a rest day. One that ends at another hour (a
    duration counted in hours) moves by exactly that many days."""
    day = china_date(due)
    if due != end_of_day_in_china(day):
        return due + timedelta(days=days)
    return end_of_day_in_china(workcalendar.add_days(day, days).day).astimezone(timezone.utc)


def extend_deadline(session, actor, task_id, days, reason, approver):
    """A supervisor extends a step's deadline by `days`, within the diagram's legal maximum."""
    with acting_on_task(session, actor, task_id, "extend") as act:
        task, case, version, timers, workflow = _step(act)
        needed = Msg("An extension needs a reason and an approver")
        reason, approver = notes.note(reason, notes.REASON, needed), notes.note(approver, notes.APPROVER, needed)
        deadline = version.meta["deadlines"][timers[0].spec_id]
        allowed = deadline.get("max_extension_days", 0) - (task.extended_days or 0)
        if days < 1 or days > allowed:
            raise Conflict(Msg("At most %(n)s more days may be added (%(basis)s)", n=max(allowed, 0),
                               basis=deadline.get("extension_basis") or Msg("the law allows no extension")))
        old = as_utc(timers[0].due_at)
        new = _extended(old, days)
        for timer in timers:
            timer.due_at = _extended(as_utc(timer.due_at), days)
            _set_due(workflow, timer, timer.due_at.isoformat())
        task.due_at, task.extended_days = new, (task.extended_days or 0) + days
        _rewarn(task)
        case.state = runtime.dump_state(workflow)
        act.log.add(actor, EventKind.DEADLINE_EXTENDED, task.spec_id, task.title, {
            "days": days, "reason": reason, "approver": approver, "from": old.isoformat(),
            "to": new.isoformat(), "basis": deadline.get("extension_basis")})
        return task


def stop_clock(session, actor, task_id, reason):
    """The handler stops a step's clock: waiting for the party, or for an expert opinion."""
    with acting_on_task(session, actor, task_id, "stop_clock") as act:
        task, case, _version, timers, workflow = _step(act)
        reason = notes.note(reason, notes.REASON, Msg("Say why the clock stops"))
        for timer in timers:
            _set_due(workflow, timer, STOPPED)
            timer.state = TimerState.STOPPED  # out of the sweep's way until the clock runs again
        task.clock_stopped_at = Clock.now()
        case.state = runtime.dump_state(workflow)
        act.log.add(actor, EventKind.CLOCK_STOPPED, task.spec_id, task.title,
                    {"reason": reason, "due_at": as_utc(task.due_at).isoformat()})
        return task


def restart_clock(session, actor, task_id, note=""):
    """The clock runs again; the deadline moves by the time it stood still."""
    with acting_on_task(session, actor, task_id, "restart_clock") as act:
        note = notes.note(note, notes.REASON)
        task, case, _version, timers, workflow = _step(act)
        stopped = Clock.now() - as_utc(task.clock_stopped_at)
        for timer in timers:
            timer.due_at, timer.state = as_utc(timer.due_at) + stopped, TimerState.WAITING
            _set_due(workflow, timer, timer.due_at.isoformat())
        task.due_at, task.clock_stopped_at = as_utc(task.due_at) + stopped, None
        task.amber_at = lights.shift(task.amber_at, stopped)
        case.state = runtime.dump_state(workflow)
        act.log.add(actor, EventKind.CLOCK_RESTARTED, task.spec_id, task.title, {
            "stopped_seconds": int(stopped.total_seconds()), "due_at": task.due_at.isoformat(),
            "note": note})
        return task


# Counting provisional deadlines again loads every such case's workflow (in December most open
# cases' deadlines run into the next year): done at every sweep, it kept an idle worker at a third
# of a core. A deadline only moves when the calendar does, so this process counts them again when
# the calendar it counts with changes (its first sweep included), and once more AGAIN_AFTER_SECONDS
# later, for a transaction that counted with the old calendar and committed meanwhile (a request
# lasts at most WEB_TIMEOUT, 120 s). Per process and forgettable: a restarted worker counts again.
AGAIN_AFTER_SECONDS = 150
_counted = {"under": None, "again_at": None}


def _calendar_changed():
    """Whether provisional deadlines are to be counted again now (see above)."""
    version, now = workcalendar.calendar_version(), time.monotonic()
    if version != _counted["under"]:
        _counted.update(under=version, again_at=now + AGAIN_AFTER_SECONDS)
        return True
    if _counted["again_at"] is not None and now >= _counted["again_at"]:
        _counted["again_at"] = None
        return True
    return False


def recompute_provisional(session):
    """Deadlines counted into a year whose holiday notice was not out are counted again from the
    day their timer started, once it is (a package upgrade, or a notice loaded into config/).
    Extensions and stopped time stay added. Returns how many deadlines changed."""
    if not _calendar_changed():
        return 0
    changed = 0
    for timer_id in list(session.scalars(select(Timer.id).where(Timer.provisional.is_(True),
                                                                Timer.state == TimerState.WAITING))):
        with as_system(session):
            timer = session.scalar(select(Timer).where(Timer.id == timer_id, Timer.state == TimerState.WAITING)
                                   .with_for_update(skip_locked=True))
            if timer is None:
                continue
            case = session.scalar(select(Case).where(Case.id == timer.case_id).with_for_update())
            version = catalog.version_info(session, case.process_version_id)
            deadline = version.meta["deadlines"][timer.spec_id]
            start, base = as_utc(timer.started_at), as_utc(timer.base_due_at or timer.due_at)
            workflow = runtime.load_state(case.state, version.specs(session))
            spiff_task = runtime.find_task(workflow, timer.spiff_task_id)
            value = scripting.deadline_from(deadline["expression"], spiff_task.data, china_date(start))
            new_base = TimerEventDefinition.get_datetime(value)
            still = store.provisional(version.meta, timer.spec_id, start, new_base)
            if new_base == base and still:
                continue
            new_due = as_utc(timer.due_at) + (new_base - base)
            old_due = as_utc(timer.due_at)
            timer.due_at, timer.base_due_at, timer.provisional = new_due, new_base, still
            spiff_task.internal_data["event_value"] = new_due.isoformat()
            for task in session.scalars(select(Task).where(Task.case_id == case.id, Task.state == TaskState.READY,
                                                           Task.spec_id == deadline.get("attached_to"))):
                task.due_at, task.due_provisional = new_due, still
                _rewarn(task)
            case.state = runtime.dump_state(workflow)
            store.AuditLog(session, case).add(SYSTEM, EventKind.DEADLINE_RECOMPUTED, timer.spec_id, deadline.get("name"), {
                "from": old_due.isoformat(), "to": new_due.isoformat(), "provisional": still})
            changed += 1
    return changed
