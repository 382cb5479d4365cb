"""Saving a case after the engine acted: workflow state, task rows, timer rows, audit events."""
from contextlib import contextmanager
from functools import partial

from sqlalchemy import and_, bindparam, delete, insert, inspect, select, tuple_, update
from sqlalchemy.orm.attributes import NO_VALUE, set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from engine.cases import hotline
from engine.legaltime import lights, workcalendar
from engine.workflow import runtime
from engine.legaltime.clock import Clock
from engine.access.policy import SYSTEM
from engine.access.rulebook import VISIT_FORM
from engine.persistence import rollup_marks
from engine.persistence.models import AuditEvent, Case, CaseParty, Task, TaskDraft, Timer, User, UserRole
from engine.access import department_kinds
from engine.library.routing import route_task, step_title
from engine.persistence.chain import GENESIS, event_hash
from engine.persistence.keys import contact_key, normalize_id, normalize_phone
from engine.persistence.states import CaseStatus, EventKind, TaskState, TimerState

# Workflow data copied onto the case row so lists and searches never unpack the state.
_CASE_FIELDS = ("kind", "category", "channel", "risk_level", "route", "outcome", "satisfaction")
# Audit rows are append-only and nothing reads them back within a unit of work, so they are
# written with a plain INSERT (an action's engine events in one executemany) rather than as ORM
# objects: about 21 events per case made the ORM's per-object flush work a visible cost (bench/).
_INSERT_EVENT = insert(AuditEvent.__table__)
# The statements of every action, built once: building a statement and its cache key again for
# each call cost about four times what executing it costs on SQLite (bench/).
INSERT_TASK = insert(Task.__table__)
_INSERT_TIMER = insert(Timer.__table__)
_INSERT_PARTY = insert(CaseParty.__table__)
_DELETE_PARTIES = delete(CaseParty.__table__).where(CaseParty.__table__.c.case_id == bindparam("b_case"))


def _closing(table):
    """Close a case's open rows by spiff task id; what they become is given with the values."""
    return update(table).where(table.c.case_id == bindparam("b_case"),
                               table.c.spiff_task_id.in_(bindparam("b_ids", expanding=True)),
                               table.c.state.in_(bindparam("b_open", expanding=True)))


_CLOSE = {Task: _closing(Task.__table__), Timer: _closing(Timer.__table__)}
_DROP_DRAFTS = delete(TaskDraft.__table__).where(TaskDraft.__table__.c.task_id.in_(
    select(Task.id).where(Task.case_id == bindparam("b_case"), Task.spiff_task_id.in_(bindparam("b_ids", expanding=True)))))


class Writes:
    """Rows that several actions in one transaction insert, written together at the end (the
    sweep fires many timers to a transaction: one INSERT per table instead of one per timer)."""

    def __init__(self):
        self.audit, self.tasks, self.closed_timers = [], [], {}
        # The batch's case rows, written by one executemany (the ORM writes a row per case when
        # the cases changed different columns).
        self.cases = {}
        # Each case's last handler per role, read for the whole batch at once (last_handlers).
        self.handlers = {}
        # One moment for the whole batch (one transaction), so its rows close in one statement.
        self.now = Clock.now()

    def close_timers(self, case_id, spiff_ids, open_states, values):
        key = (open_states, tuple(sorted(values.items())))
        self.closed_timers.setdefault(key, []).append((case_id, sorted(spiff_ids)))

    def flush(self, session):
        connection = session.connection()
        if self.audit:
            connection.execute(_INSERT_EVENT, self.audit)
        if self.tasks:
            connection.execute(INSERT_TASK, self.tasks)
        for (open_states, values), cases in self.closed_timers.items():
            connection.execute(_closing_pairs(tuple(name for name, _value in values)), dict(
                {f"v_{name}": value for name, value in values}, b_open=list(open_states),
                b_pairs=[(case_id, spiff_id) for case_id, ids in cases for spiff_id in ids]))
        _write_case_rows(session, list(self.cases.values()))
        self.audit, self.tasks, self.closed_timers, self.cases = [], [], {}, {}


_CLOSING_PAIRS = {}


def _closing_pairs(columns):
    """Close the timer rows of several cases, by (case, spiff task id) pairs, setting these
    columns: one statement for a batch, built once per set of columns."""
    found = _CLOSING_PAIRS.get(columns)
    if found is None:
        table = Timer.__table__
        found = _CLOSING_PAIRS[columns] = update(table).where(
            table.c.state.in_(bindparam("b_open", expanding=True)),
            tuple_(table.c.case_id, table.c.spiff_task_id).in_(bindparam("b_pairs", expanding=True))).values(
            {name: bindparam(f"v_{name}") for name in columns})
    return found


# What saving a case after the engine acted changes on its row (the rest is left to the ORM); the
# code is given once, to a case just filed.
_CASE_ROW = ("code", "state", "updated_at", "current_step", "status", "closed_at", "overdue", "audit_seq",
             "audit_head", "summary", "party_names", "contact_keys") + _CASE_FIELDS
_CASE_ROW_SET = frozenset(_CASE_ROW)
_UPDATES_OF = {}


def _update_case(columns):
    """The versioned UPDATE of these columns of a case row, built once per set of columns (the ORM
    too writes only what changed: an indexed column left out is an index left alone)."""
    found = _UPDATES_OF.get(columns)
    if found is None:
        table = Case.__table__
        found = _UPDATES_OF[columns] = update(table).where(
            table.c.id == bindparam("b_id"), table.c.lock_version == bindparam("b_version")).values(
            dict({name: bindparam(f"v_{name}") for name in columns}, lock_version=bindparam("b_next")))
    return found


def _changed(state):
    """The attributes of an object changed since its last flush, as the ORM's history says, without
    making a history for each of the row's columns: only what was set since can have changed
    (committed_state keeps those), and a column set to its value again has not."""
    current, manager, changed = state.dict, state.manager, set()
    for key, original in state.committed_state.items():
        value = current.get(key, NO_VALUE)
        if key in _CASE_ROW_SET and value is not NO_VALUE:
            if manager[key].impl.is_equal(value, original) is not True:
                changed.add(key)
        elif state.attrs[key].history.has_changes():
            changed.add(key)
    return changed


def _write_case_rows(session, cases):
    """The case rows of a batch in one versioned executemany, as the ORM would write them (the
    version column checked and raised by one); the objects are then as if flushed. A case with a
    change outside these columns is left to the ORM's flush."""
    written, columns, days = [], set(), set()
    for case in cases:
        state = inspect(case)
        changed = _changed(state)
        if not changed or not changed <= _CASE_ROW_SET:
            continue
        if not changed.isdisjoint(rollup_marks.ROLLED_FIELDS):
            days.add(rollup_marks.filing_day(case))
        columns |= changed
        written.append(case)
    if not written:
        return
    # The columns any case of the batch changed (a case whose value did not change writes it again).
    columns = tuple(name for name in _CASE_ROW if name in columns)
    rows = [dict({f"v_{name}": getattr(case, name) for name in columns}, b_id=case.id, b_version=case.lock_version,
                 b_next=case.lock_version + 1) for case in written]
    connection = session.connection()
    if connection.execute(_update_case(columns), rows[0] if len(rows) == 1 else rows).rowcount != len(rows):
        raise StaleDataError("a case of the batch was changed by someone else meanwhile")
    rollup_marks.mark_stale(connection, days)
    for case, row in zip(written, rows):
        set_committed_value(case, "lock_version", row["b_next"])
        # Clean, as after the ORM's own flush: every change it had is written (the rest of what
        # was set holds its loaded value), so no later flush goes through the object again.
        state = inspect(case)
        state._commit_all(state.dict, session.identity_map)


_HANDLERS = (select(Task.case_id, Task.role, Task.assignee_id, User.display_name, User.org_unit_id, UserRole.role)
             .outerjoin(User, and_(User.id == Task.assignee_id, User.active.is_(True)))
             .outerjoin(UserRole, and_(UserRole.user_id == User.id, UserRole.role == Task.role))
             .where(Task.case_id.in_(bindparam("b_cases", expanding=True)),
                    Task.state.in_((TaskState.READY, TaskState.COMPLETED)))
             .order_by(Task.id.desc()))
_HANDLERS_OF_ROLES = _HANDLERS.where(Task.role.in_(bindparam("b_roles", expanding=True)))


def last_handlers(session, case_ids, roles=None):
    """{case id: {role: (who holds or did the case's last step of that role, their name if they
    are active and still hold the role, their unit)}} for several cases in one query (the sweep's
    batch reads it once for all its cases)."""
    handlers = {case_id: {} for case_id in case_ids}
    parameters = {"b_cases": list(case_ids)}
    if roles is not None:
        parameters["b_roles"] = sorted(roles)
    # With each step, in the same query, whether its holder can still work that role, and where.
    rows = session.connection().execute(_HANDLERS if roles is None else _HANDLERS_OF_ROLES, parameters)
    for case_id, role, assignee_id, name, unit_id, holds in rows:
        handlers[case_id].setdefault(role, (assignee_id, name if holds is not None else None, unit_id))
    return handlers


class AuditLog:
    """Appends hash-chained events to one case within the current unit of work. The chain's head
    lives on the case row, so appending reads nothing back. With `writes`, the rows wait there
    to be inserted with others'."""

    def __init__(self, session, case, writes=None):
        self.session = session
        self.case = case
        self.writes = writes
        self._held = None

    @contextmanager
    def held(self):
        """The events added within the block are inserted together when it ends: one statement
        for an action's events instead of one each. Nothing within the block reads them back."""
        if self.writes is not None or self._held is not None:
            yield
            return
        self._held = held = []
        try:
            yield
        finally:
            self._held = None
        if held:
            self.session.connection().execute(_INSERT_EVENT, held)

    def _rows(self, actor, events):
        """The events' rows, each chained to the one before; the case row's chain head is moved
        once, to the last of them."""
        case = self.case
        case_id, version_id, seq, prev = case.id, case.process_version_id, case.audit_seq or 0, case.audit_head or GENESIS
        rows = []
        for kind, task_spec, task_title, detail in events:
            seq, at, detail = seq + 1, Clock.now(), detail or {}
            digest = event_hash(prev, case_id, seq, at, actor.user_id, actor.name, kind, task_spec, detail, version_id)
            rows.append(dict(
                case_id=case_id, seq=seq, at=at, actor_id=actor.user_id, actor_name=actor.name,
                org_unit_id=actor.unit_id, kind=kind, task_spec=task_spec, task_title=task_title,
                detail=detail, process_version_id=version_id, prev_hash=prev, hash=digest,
            ))
            prev = digest
        if rows:
            case.audit_seq, case.audit_head = seq, prev
        return rows

    def add(self, actor, kind, task_spec=None, task_title=None, detail=None):
        self.add_all(actor, [(kind, task_spec, task_title, detail)])

    def add_all(self, actor, events):
        """Several events by one actor, in order: (kind, task_spec, task_title, detail) each. The
        outside system that filed the case hears of its milestones from these (engine/cases/hotline.py)."""
        rows = self._rows(actor, events)
        if rows:
            hotline.kept(self.session, self.case, rows)
        if rows and self._held is not None:
            self._held.extend(rows)
        elif rows and self.writes is not None:
            self.writes.audit.extend(rows)
        elif rows:
            # On the unit of work's own connection and transaction, without the ORM session's
            # per-statement machinery (no autoflush needed: nothing here depends on pending rows).
            self.session.connection().execute(_INSERT_EVENT, rows)


def record_engine_changes(log, actor, snap):
    log.add_all(actor, [
        (EventKind.ENGINE, change.element, change.name,
         {"type": change.kind, "from": change.before, "to": change.after, "task_id": change.task_id})
        for change in snap.changes
    ])


def _record_parties(session, case, data):
    parties = [p for p in data["parties"] if isinstance(p, dict)]
    if case.state:
        # A case being filed (services.start_case: its state not yet written) has no parties to drop.
        session.connection().execute(_DELETE_PARTIES, {"b_case": case.id})
    session.connection().execute(_INSERT_PARTY, [dict(
        case_id=case.id, name=str(p.get("name", ""))[:100],
        id_number=normalize_id(p.get("id_number")), phone=normalize_phone(p.get("phone")),
    ) for p in parties])


def save(session, case, unit_path, workflow, snap, version, actor, log, completed_task_id=None, submitted=None,
         routes=None, writes=None, completed_has_draft=True):
    """Bring every row of the case in line with the workflow after an action. What is new or gone
    comes from the snapshot, so nothing is read back: new task and timer rows are inserted,
    those that went away are closed (plain statements on the unit of work's connection, so no
    autoflush writes the case early), and the case row is written once, by the final flush."""
    now = Clock.now() if writes is None else writes.now
    meta = version.meta
    with log.held():
        record_engine_changes(log, actor, snap)
        route_before = case.route
        _copy_case_fields(case, snap.data)
        if submitted and submitted.get("parties"):
            _record_parties(session, case, submitted)

        due_by_task = _save_timers(session, case, snap, meta, now, writes)
        drafts_gone = snap.was_ready if completed_has_draft else snap.was_ready - {completed_task_id}
        _save_tasks(session, case, unit_path, snap, meta, now, log, due_by_task, completed_task_id, routes, writes,
                    drafts_gone)
        _save_case_row(case, workflow, snap, meta, now)
        _tell_reporters(session, case, route_before, snap, meta)
    if writes is not None:
        writes.cases[case.id] = case
    else:
        # One versioned UPDATE of the columns saving changes, without the ORM's flush of the
        # object (a visible share of an action's cost); anything else pending is flushed as before.
        _write_case_rows(session, [case])
        session.flush()


def _save_timers(session, case, snap, meta, now, writes):
    """Insert the new timer rows, close those that fired or went away; returns each step's
    earliest deadline as {element: (due, legal basis, provisional)}."""
    due_by_task = {}
    new_timers = []
    for spiff_id, element, due in snap.timers:
        guessed = provisional(meta, element, now, due)
        if spiff_id not in snap.was_waiting:
            new_timers.append(dict(case_id=case.id, spiff_task_id=spiff_id, spec_id=element, due_at=due,
                                   state=TimerState.WAITING, started_at=now, base_due_at=due, provisional=guessed))
        deadline = meta["deadlines"].get(element)
        if deadline and deadline.get("attached_to"):
            target = deadline["attached_to"]
            if target not in due_by_task or due < due_by_task[target][0]:
                due_by_task[target] = (due, deadline.get("legal_basis"), guessed)
    waiting = {spiff_id for spiff_id, _element, _due in snap.timers}
    if new_timers:
        session.connection().execute(_INSERT_TIMER, new_timers)
    gone = snap.was_waiting - waiting
    fired = {c.task_id for c in snap.changes if c.task_id in gone and c.after == "COMPLETED"}
    # A deadline on a step (a boundary timer) that passed makes the case overdue; a plain wait does not.
    if any(meta["deadlines"].get(c.element, {}).get("attached_to") for c in snap.changes if c.task_id in fired):
        case.overdue = True
    _close_rows(session, Timer, case.id, fired, (TimerState.WAITING,), writes, state=TimerState.FIRED, fired_at=now)
    # A step finished while its clock was stopped takes its stopped timer with it.
    _close_rows(session, Timer, case.id, gone - fired, (TimerState.WAITING, TimerState.STOPPED), writes,
               state=TimerState.CANCELLED)
    return due_by_task


def _save_tasks(session, case, unit_path, snap, meta, now, log, due_by_task, completed_task_id, routes, writes,
                drafts_gone):
    """Insert a row for each new ready step (routed to its unit, kept with its handler where the
    role allows), close the steps that went away and their drafts (of those among `drafts_gone`:
    the step submitted is left out when it is known to have none)."""
    ready = {str(task.id) for task in snap.ready}
    # Who holds which role where: looked up once per action, or once per sweep (`routes`).
    units = {} if routes is None else routes
    new_tasks, kept = [], []
    for task in snap.ready:
        spiff_id = str(task.id)
        if spiff_id in snap.was_ready:
            continue
        element = task.task_spec.bpmn_id
        info = meta["tasks"].get(element, {})
        # A grid step with no grid worker to take it comes back with another role (routing.grid_step).
        role, unit_id = route_task(session, case, unit_path, info, info.get("role") or "supervisor", task.data, units)
        due, basis, guessed = due_by_task.get(element, (None, None, False))
        title = step_title(info, task, partial(department_kinds.read, session))
        new_tasks.append(dict(
            case_id=case.id, spiff_task_id=spiff_id, spec_id=element, state=TaskState.READY,
            title=title[:200], form_key=info.get("form"), role=role,
            org_unit_id=unit_id,
            due_at=due, amber_at=lights.amber_at(element, now, due, risk=case.risk_level), legal_basis=basis,
            due_provisional=guessed, created_at=now, assignee_id=None,
        ))
        if role != "department" and not (info.get("department") or info.get("department_from")):
            kept.append(new_tasks[-1])
    _keep_with_handler(session, log, case, kept, None if writes is None else writes.handlers.get(case.id))
    if new_tasks and writes is not None:
        writes.tasks.extend(new_tasks)
    elif new_tasks:
        session.connection().execute(INSERT_TASK, new_tasks)
    _close_rows(session, Task, case.id, snap.was_ready - ready - {completed_task_id}, (TaskState.READY,),
                state=TaskState.CANCELLED, completed_at=now)
    _drop_drafts(session, case.id, drafts_gone - ready)


def _tell_reporters(session, case, route_before, snap, meta):
    """A resident or grid worker who reported the matter hears when its route is decided anew and
    when it is closed (its return visit opens), in this same transaction."""
    closed = any(meta["tasks"].get(task.task_spec.bpmn_id, {}).get("form") == VISIT_FORM
                 for task in snap.ready if str(task.id) not in snap.was_ready)
    if closed or (route_before is not None and case.route != route_before):
        # Imported here: the notices send through the outbox, whose module needs this one loaded.
        from engine.cases import resident_notices
        resident_notices.case_moved(session, case, route_before, closed)


def _save_case_row(case, workflow, snap, meta, now):
    """The case row: its workflow state, the current step's name, and whether it is closed."""
    case.state = runtime.dump_state(workflow)
    case.updated_at = now
    titles = [meta["tasks"].get(t.task_spec.bpmn_id, {}).get("name") or t.task_spec.bpmn_name for t in snap.ready]
    case.current_step = "、".join(dict.fromkeys(titles))[:200]
    if snap.completed:
        case.status = CaseStatus.COMPLETED
        case.closed_at = now
        case.current_step = ""


def _drop_drafts(session, case_id, spiff_ids):
    """A step submitted or cancelled takes its draft with it: what was half typed for it is moot."""
    if spiff_ids:
        session.connection().execute(_DROP_DRAFTS, {"b_case": case_id, "b_ids": sorted(spiff_ids)})


def _keep_with_handler(session, log, case, rows, handlers=None):
    """A new step goes to whoever answers for its role on the case, not back to the pool: the one
    who did (or holds) the case's last step of that role, so the first handler stays responsible
    until a supervisor reassigns or they release a step (a released step in the pool makes nobody
    responsible, and whoever then does it is). Only if that person can still work the step: active,
    still holding the role, in the unit the step went to. Resident departments' steps (the
    department's pool) never come here. `rows` are the new task rows, given their assignee here;
    `handlers` the case's last handlers if already read (last_handlers)."""
    if not rows:
        return
    roles = {row["role"] for row in rows}
    # A done step keeps its holder (its completer) as assignee; an outside system's intake step has
    # none (services.start_case), so nobody keeps the case for a login nobody sits behind.
    if handlers is None:
        handlers = last_handlers(session, [case.id], roles)[case.id]
    last = {role: holder for role, holder in handlers.items() if role in roles}
    for row in rows:
        assignee_id, name, unit_id = last.get(row["role"], (None, None, None))
        if assignee_id is not None and name is not None and unit_id == row["org_unit_id"]:
            row["assignee_id"] = assignee_id
            log.add(SYSTEM, EventKind.TASK_ASSIGNED, row["spec_id"], row["title"],
                    {"to": name, "to_id": row["assignee_id"], "why": "previous_handler"})


def provisional(meta, element, start, due):
    """A calendar-counted deadline that crosses a year whose holiday notice is not out yet."""
    if not meta["deadlines"].get(element, {}).get("calendar"):
        return False
    return not all(workcalendar.is_published(year) for year in range(start.year, due.year + 1))


def _copy_case_fields(case, data):
    values = {name: str(data[name]) for name in _CASE_FIELDS if data.get(name) is not None}
    # Both columns are TEXT: copied whole, as the form's own limits let them be typed, never cut.
    if data.get("summary"):
        values["summary"] = str(data["summary"])
    if data.get("parties"):
        parties = [p for p in data["parties"] if isinstance(p, dict)]
        values["party_names"] = "、".join(str(p.get("name", "")) for p in parties)
        values["contact_keys"] = " ".join(sorted({contact_key(case.code, p["phone"]) for p in parties if p.get("phone")}))
    for name, value in values.items():
        # Set only what differs: the value again would change nothing but cost the ORM's bookkeeping.
        if getattr(case, name) != value:
            setattr(case, name, value)


def _close_rows(session, model, case_id, spiff_ids, open_states, writes=None, **values):
    if spiff_ids and writes is not None and model is Timer:
        writes.close_timers(case_id, spiff_ids, open_states, values)
    elif spiff_ids:
        session.connection().execute(_CLOSE[model], dict(values, b_case=case_id, b_ids=sorted(spiff_ids),
                                                         b_open=list(open_states)))


def new_case_code(case_id, created_at):
    return f"MT{created_at:%Y%m%d}{case_id:06d}"

