"""Saving a case after the engine acted: workflow state, task rows, timer rows, audit events."""
import hashlib
import json

from sqlalchemy import insert, select

from . import runtime
from .clock import Clock
from .models import AuditEvent, Case, Task, Timer

# Workflow data copied onto the case row so lists and searches never unpack the state.
_CASE_FIELDS = ("kind", "category", "channel", "risk_level", "route", "outcome", "satisfaction")
GENESIS = "0" * 64


def event_hash(prev_hash, case_id, seq, at, actor_id, actor_name, kind, task_spec, detail, version_id):
    body = json.dumps([prev_hash, case_id, seq, at.isoformat(timespec="microseconds"), actor_id, actor_name,
                       kind, task_spec, detail, version_id], ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


# Audit rows are append-only and nothing reads them back within a unit of work, so they are
# written with a plain INSERT (an action's engine events in one executemany) rather than as ORM
# objects: about 21 events per case made the ORM's per-object flush work a visible cost (bench/).
_INSERT_EVENT = insert(AuditEvent.__table__)


class AuditLog:
    """Appends hash-chained events to one case within the current unit of work."""

    def __init__(self, session, case):
        self.session = session
        self.case = case
        last = None
        if case.id is not None:
            last = session.execute(select(AuditEvent.seq, AuditEvent.hash).where(AuditEvent.case_id == case.id)
                                   .order_by(AuditEvent.seq.desc()).limit(1)).first()
        self.seq, self.prev = (last.seq, last.hash) if last else (0, GENESIS)

    def _row(self, actor, kind, task_spec, task_title, detail):
        self.seq += 1
        at = Clock.now()
        detail = detail or {}
        digest = event_hash(self.prev, self.case.id, self.seq, at, actor.user_id, actor.name, kind,
                            task_spec, detail, self.case.process_version_id)
        row = dict(
            case_id=self.case.id, seq=self.seq, at=at, actor_id=actor.user_id, actor_name=actor.name,
            org_unit_id=actor.unit_id, kind=kind, task_spec=task_spec, task_title=task_title,
            detail=detail, process_version_id=self.case.process_version_id, prev_hash=self.prev, hash=digest,
        )
        self.prev = digest
        return row

    def add(self, actor, kind, task_spec=None, task_title=None, detail=None):
        self.add_all(actor, [(kind, task_spec, task_title, detail)])

    def add_all(self, actor, events):
        """Several events by one actor, in order: (kind, task_spec, task_title, detail) each."""
        rows = [self._row(actor, *event) for event in events]
        if rows:
            # On the unit of work's own connection and transaction, without the ORM session's
            # per-statement machinery (no autoflush needed: nothing here depends on pending rows).
            self.session.connection().execute(_INSERT_EVENT, rows)


def record_engine_changes(log, actor, snap):
    log.add_all(actor, [
        ("engine", change.element, change.name,
         {"type": change.kind, "from": change.before, "to": change.after, "task_id": change.task_id})
        for change in snap.changes
    ])


def save(session, case, workflow, snap, version, actor, log, completed_task_id=None):
    """Bring every row of the case in line with the workflow after an action."""
    now = Clock.now()
    # Read the open timer and task rows before touching the case, so the case row is written
    # once, by the flush at the end, instead of once more by the autoflush of these queries.
    timers = {row.spiff_task_id: row for row in session.scalars(
        select(Timer).where(Timer.case_id == case.id, Timer.state == "waiting"))}
    open_rows = {row.spiff_task_id: row for row in session.scalars(
        select(Task).where(Task.case_id == case.id, Task.state == "ready"))}
    case.state = runtime.dump_state(workflow)
    case.updated_at = now
    meta = version.meta
    record_engine_changes(log, actor, snap)

    data = snap.data
    for name in _CASE_FIELDS:
        if data.get(name) is not None:
            setattr(case, name, str(data[name]))
    if data.get("summary"):
        case.summary = str(data["summary"])[:4000]
    if data.get("parties"):
        case.party_names = "、".join(str(p.get("name", "")) for p in data["parties"] if isinstance(p, dict))[:2000]
    if data.get("overdue"):
        case.overdue = True

    due_by_task = {}
    waiting_ids = set()
    for spiff_id, element, due in snap.timers:
        waiting_ids.add(spiff_id)
        if spiff_id not in timers:
            session.add(Timer(case_id=case.id, spiff_task_id=spiff_id, spec_id=element, due_at=due))
        deadline = meta["deadlines"].get(element)
        if deadline and deadline.get("attached_to"):
            target = deadline["attached_to"]
            if target not in due_by_task or due < due_by_task[target][0]:
                due_by_task[target] = (due, deadline.get("legal_basis"))
    fired = {c.task_id for c in snap.changes if c.after == "COMPLETED"}
    if any(c.element in meta["deadlines"] for c in snap.changes if c.after == "COMPLETED"):
        case.overdue = True
    for spiff_id, row in timers.items():
        if spiff_id not in waiting_ids:
            row.state = "fired" if spiff_id in fired else "cancelled"
            row.fired_at = now if spiff_id in fired else None

    ready_ids = set()
    for task in snap.ready:
        spiff_id = str(task.id)
        ready_ids.add(spiff_id)
        element = task.task_spec.bpmn_id
        info = meta["tasks"].get(element, {})
        due, basis = due_by_task.get(element, (None, None))
        row = open_rows.get(spiff_id)
        if row is None:
            session.add(Task(
                case_id=case.id, spiff_task_id=spiff_id, spec_id=element,
                title=info.get("name") or task.task_spec.bpmn_name or element, form_key=info.get("form"),
                role=info.get("role") or "supervisor", org_unit_id=case.org_unit_id, due_at=due,
                legal_basis=basis, created_at=now,
            ))
        elif due is not None and row.due_at is None:
            row.due_at, row.legal_basis = due, basis
    for spiff_id, row in open_rows.items():
        if spiff_id == completed_task_id:
            continue
        if spiff_id not in ready_ids:
            row.state = "cancelled"
            row.completed_at = now

    titles = [meta["tasks"].get(t.task_spec.bpmn_id, {}).get("name") or t.task_spec.bpmn_name for t in snap.ready]
    case.current_step = "、".join(dict.fromkeys(titles))[:200]
    if snap.completed:
        case.status = "completed"
        case.closed_at = now
        case.current_step = ""
    session.flush()


def new_case_code(case_id, created_at):
    return f"MT{created_at:%Y%m%d}{case_id:06d}"


def lock_case(session, case_id):
    """Load a case for change. PostgreSQL takes a row lock; SQLite serialises writers itself and the
    version column catches the rest."""
    return session.scalar(select(Case).where(Case.id == case_id).with_for_update())
