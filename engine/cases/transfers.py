"""Moving a case between the four levels. A village or township escalates a case to the unit
above (the county is the terminal station; the city takes cross-county matters); a higher level
assigns a case down. The receiving unit acknowledges the move within a set time, or the case
goes back where it came from. Open steps follow the case to the role holders of its new unit."""
from datetime import timedelta

from sqlalchemy import bindparam, select

from engine.access.policy import SYSTEM, may
from engine.access.rulebook import require_unit_below
from engine.cases import notes
from engine.cases.acting import acting_on_case, as_system, lock_case
from engine.errors import Conflict, NotFound
from engine.messages import Msg
from engine.legaltime.clock import Clock, as_utc
from engine.library.routing import unit_for_role
from engine.persistence.models import CaseTransfer, OrgUnit, Task
from engine.persistence.states import EventKind, TaskState, TransferState

ACKNOWLEDGE_WITHIN = timedelta(hours=24)


def _move(session, case, target):
    """Put the case and its open steps in `target`. A step that lands in another unit waits for
    that unit's role holders; one that stays where it was keeps its handler."""
    case.org_unit_id = target.id
    units = {}
    for task in session.scalars(select(Task).where(Task.case_id == case.id, Task.state == TaskState.READY)):
        unit_id = unit_for_role(session, target.id, target.path, task.role, units)
        if unit_id != task.org_unit_id:
            task.org_unit_id, task.assignee_id = unit_id, None


def _transfer(act, target, direction, note):
    session, actor, case, unit = act.session, act.actor, act.case, act.unit
    now = Clock.now()
    transfer = CaseTransfer(case_id=case.id, from_unit_id=unit.id, to_unit_id=target.id, direction=direction,
                            note=notes.note(note, notes.MOVE_NOTE), created_by=actor.user_id, created_at=now,
                            due_at=now + ACKNOWLEDGE_WITHIN)
    session.add(transfer)
    _move(session, case, target)
    act.log.add(actor, EventKind.CASE_ESCALATED if direction == "up" else EventKind.CASE_ASSIGNED_DOWN,
                detail={"from": unit.name, "to": target.name, "note": transfer.note,
                        "acknowledge_by": transfer.due_at.isoformat()})
    session.flush()
    return transfer


def escalate(session, actor, case_id, note):
    """Send a case to the unit above its own."""
    with acting_on_case(session, actor, case_id, "escalate") as act:
        return send_up(act, note)


def send_up(act, note):
    """escalate within an action already open on the case (a meeting's decision too)."""
    return _transfer(act, act.session.get(OrgUnit, act.unit.parent_id), "up", note)


def assign_down(session, actor, case_id, unit_id, note):
    """Give a case to a unit below its own."""
    with acting_on_case(session, actor, case_id, "assign_down") as act:
        target = session.get(OrgUnit, unit_id) if unit_id is not None else None
        require_unit_below(act.unit, target)
        return _transfer(act, target, "down", note)


def acknowledge(session, actor, transfer_id):
    """The receiving unit takes the case on."""
    case_id = session.scalar(select(CaseTransfer.case_id).where(CaseTransfer.id == transfer_id))
    if case_id is None:
        raise NotFound(transfer_id)
    with acting_on_case(session, actor, case_id, "acknowledge") as act:
        transfer = session.scalar(select(CaseTransfer).where(CaseTransfer.id == transfer_id,
                                                             CaseTransfer.state == TransferState.PENDING).with_for_update())
        if transfer is None:
            raise Conflict(Msg("This move was already settled"))
        transfer.state, transfer.settled_by, transfer.settled_at = TransferState.ACKNOWLEDGED, actor.user_id, Clock.now()
        act.log.add(actor, EventKind.TRANSFER_ACKNOWLEDGED, detail={"to": transfer.to_unit.name})
        return transfer


def return_unacknowledged(session, now=None):
    """The sweep's part: every move not acknowledged in time goes back. Returns how many."""
    now = now or Clock.now()
    returned = 0
    for transfer_id, case_id in list(session.execute(select(CaseTransfer.id, CaseTransfer.case_id).where(
            CaseTransfer.state == TransferState.PENDING, CaseTransfer.due_at <= now).order_by(CaseTransfer.due_at))):
        with as_system(session) as act:
            # The case first, then its move, as an acknowledgement locks them: never a deadlock.
            case = act.begin(lock_case(session, case_id)[0])
            transfer = session.scalar(select(CaseTransfer).where(CaseTransfer.id == transfer_id,
                                                                 CaseTransfer.state == TransferState.PENDING).with_for_update())
            if transfer is None or as_utc(transfer.due_at) > now:
                continue
            transfer.state, transfer.settled_at = TransferState.RETURNED, now
            _move(session, case, transfer.from_unit)
            act.log.add(SYSTEM, EventKind.TRANSFER_RETURNED, detail={
                "from": transfer.to_unit.name, "to": transfer.from_unit.name})
            returned += 1
    return returned


def pending_for(session, actor):
    """Moves waiting for the actor's unit to acknowledge them."""
    if not may(actor.roles, "move_cases"):
        return []
    return session.scalars(_PENDING_FOR, {"b_unit": actor.unit_id}).all()


_PENDING_FOR = (select(CaseTransfer).where(CaseTransfer.state == TransferState.PENDING,
                                           CaseTransfer.to_unit_id == bindparam("b_unit"))
                .order_by(CaseTransfer.due_at))  # built once: read on every inbox


def pending_of_case(session, case_id):
    return session.scalar(select(CaseTransfer).where(CaseTransfer.case_id == case_id, CaseTransfer.state == TransferState.PENDING))
