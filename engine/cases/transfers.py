"""Moving a case between the four levels. A village or township escalates a case to the unit
above (the county is the terminal station; the city takes cross-county matters); a higher level
assigns a case down. The receiving unit acknowledges the move within a set time, or the case
goes back where it came from. Open steps follow the case to the role holders of its new unit."""
from datetime import timedelta

from sqlalchemy import select

from engine.cases import store
from engine.legaltime.clock import Clock, as_utc
from engine.errors import NotAllowed, NotFound
from engine.messages import Msg
from engine.persistence.models import Case, CaseTransfer, OrgUnit, Task
from engine.access.policy import SYSTEM, may, unit_covers
from engine.library.routing import unit_for_role
from engine.persistence.uow import Conflict, UnitOfWork

ACKNOWLEDGE_WITHIN = timedelta(hours=24)


def _case_for_move(session, actor, case_id):
    if not may(actor.roles, "move_cases"):
        raise NotAllowed("move_cases")
    row = session.execute(select(Case, OrgUnit).join(OrgUnit, OrgUnit.id == Case.org_unit_id)
                          .where(Case.id == case_id).with_for_update(of=Case)).first()
    if row is None or not unit_covers(actor.unit_path, row[1].path):
        raise NotFound(case_id)
    case, unit = row
    if case.status != "open":
        raise Conflict(Msg("A completed case cannot be moved"))
    if session.scalar(select(CaseTransfer.id).where(CaseTransfer.case_id == case.id, CaseTransfer.state == "pending")):
        raise Conflict(Msg("This case has a move waiting to be acknowledged"))
    return case, unit


def _move(session, case, target):
    """Put the case and its open steps in `target`. A step that lands in another unit waits for
    that unit's role holders; one that stays where it was keeps its handler."""
    case.org_unit_id = target.id
    units = {}
    for task in session.scalars(select(Task).where(Task.case_id == case.id, Task.state == "ready")):
        unit_id = unit_for_role(session, target.id, target.path, task.role, units)
        if unit_id != task.org_unit_id:
            task.org_unit_id, task.assignee_id = unit_id, None


def _transfer(session, actor, case, unit, target, direction, note):
    now = Clock.now()
    transfer = CaseTransfer(case_id=case.id, from_unit_id=unit.id, to_unit_id=target.id, direction=direction,
                            note=(note or "").strip()[:2000], created_by=actor.user_id, created_at=now,
                            due_at=now + ACKNOWLEDGE_WITHIN)
    session.add(transfer)
    _move(session, case, target)
    store.AuditLog(session, case).add(actor, "case_escalated" if direction == "up" else "case_assigned_down",
                                      detail={"from": unit.name, "to": target.name, "note": transfer.note,
                                              "acknowledge_by": transfer.due_at.isoformat()})
    session.flush()
    return transfer


def escalate(session, actor, case_id, note):
    """Send a case to the unit above its own."""
    with UnitOfWork(session):
        case, unit = _case_for_move(session, actor, case_id)
        if unit.parent_id is None:
            raise Conflict(Msg("There is no level above this one"))
        return _transfer(session, actor, case, unit, session.get(OrgUnit, unit.parent_id), "up", note)


def assign_down(session, actor, case_id, unit_id, note):
    """Give a case to a unit below its own."""
    with UnitOfWork(session):
        case, unit = _case_for_move(session, actor, case_id)
        target = session.get(OrgUnit, unit_id)
        if (target is None or target.id == unit.id or not unit_covers(unit.path, target.path)
                or target.level == "department"):
            raise NotAllowed(Msg("Only a unit below this one"))
        return _transfer(session, actor, case, unit, target, "down", note)


def acknowledge(session, actor, transfer_id):
    """The receiving unit takes the case on."""
    with UnitOfWork(session):
        transfer = session.scalar(select(CaseTransfer).where(CaseTransfer.id == transfer_id).with_for_update())
        if transfer is None:
            raise NotFound(transfer_id)
        if not may(actor.roles, "move_cases") or not unit_covers(actor.unit_path, transfer.to_unit.path):
            raise NotAllowed(transfer_id)
        if transfer.state != "pending":
            raise Conflict(Msg("This move was already settled"))
        transfer.state, transfer.settled_by, transfer.settled_at = "acknowledged", actor.user_id, Clock.now()
        case = session.scalar(select(Case).where(Case.id == transfer.case_id).with_for_update())
        store.AuditLog(session, case).add(actor, "transfer_acknowledged", detail={"to": transfer.to_unit.name})
        return transfer


def return_unacknowledged(session, now=None):
    """The sweep's part: every move not acknowledged in time goes back. Returns how many."""
    now = now or Clock.now()
    returned = 0
    for transfer_id in list(session.scalars(select(CaseTransfer.id).where(
            CaseTransfer.state == "pending", CaseTransfer.due_at <= now).order_by(CaseTransfer.due_at))):
        with UnitOfWork(session):
            transfer = session.scalar(select(CaseTransfer).where(CaseTransfer.id == transfer_id,
                                                                 CaseTransfer.state == "pending")
                                      .with_for_update(skip_locked=True))
            if transfer is None or as_utc(transfer.due_at) > now:
                continue
            case = session.scalar(select(Case).where(Case.id == transfer.case_id).with_for_update())
            transfer.state, transfer.settled_at = "returned", now
            _move(session, case, transfer.from_unit)
            store.AuditLog(session, case).add(SYSTEM, "transfer_returned", detail={
                "from": transfer.to_unit.name, "to": transfer.from_unit.name})
            returned += 1
    return returned


def pending_for(session, actor):
    """Moves waiting for the actor's unit to acknowledge them."""
    if not may(actor.roles, "move_cases"):
        return []
    return session.scalars(select(CaseTransfer).where(CaseTransfer.state == "pending",
                                                      CaseTransfer.to_unit_id == actor.unit_id)
                           .order_by(CaseTransfer.due_at)).all()


def pending_of_case(session, case_id):
    return session.scalar(select(CaseTransfer).where(CaseTransfer.case_id == case_id, CaseTransfer.state == "pending"))
