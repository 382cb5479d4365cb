"""Read-only views: inbox, supervision list, case search, case page, history. Every query is
limited to the actor's unit and the units below it."""
import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone

from sqlalchemy import and_, bindparam, case, exists, func, or_, select
from sqlalchemy.orm import aliased, defer, joinedload

from engine.legaltime.clock import CHINA, Clock, as_utc
from engine.access import department_kinds
from engine.library import catalog, form_options
from engine.library.forms import FormDef
from engine.persistence.models import (
    Attachment, AuditEvent, Case, CaseParty, MeetingItem, OrgUnit, ProcessVersion, Referral, Submission, Task, User,
)
from engine.access.policy import GRID_ROLES, grid_only, mask_id_number, mask_phone, sees_personal_data, unit_covers
from engine.persistence.keys import normalize_id, normalize_phone
from engine.persistence.states import CaseStatus, EventKind, TaskState
from engine.reading import expert_options

DUE_SOON = timedelta(days=3)
PAGE_SIZE = 50


def listed_cases(load=None):
    """Loader options for the cases a list shows, without their workflow state (kilobytes each for
    an open case, never shown in a list; read after all if something asks for it):
    `listed_cases()` for select(Case), `listed_cases(joinedload(Task.case))` for the steps' cases."""
    skip = defer(Case.state)
    return (skip,) if load is None else (load.options(skip),)


def page_count(total):
    return max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1)


def light(due_at, now=None, amber_at=None):
    """Time colour: red overdue; amber from the moment config/warnings.json sets for the stage
    (`amber_at`; three days before the deadline where none was recorded); green otherwise."""
    if due_at is None:
        return "none"
    now = now or Clock.now()
    due_at = as_utc(due_at)
    if due_at < now:
        return "red"
    if as_utc(amber_at) <= now if amber_at is not None else due_at - now <= DUE_SOON:
        return "amber"
    return "green"


def task_light(task, now=None):
    """A step's time colour; "stopped" while its clock is stopped."""
    if task.clock_stopped_at is not None:
        return "stopped"
    return light(task.due_at, now, task.amber_at)


def amber_now(now, soon=None):
    """Open steps whose light is amber now, as a query condition (the index on state, amber_at);
    `soon` is now + DUE_SOON (given apart when `now` is a bound parameter)."""
    return and_(Task.clock_stopped_at.is_(None), Task.due_at >= now,
                or_(Task.amber_at <= now, and_(Task.amber_at.is_(None), Task.due_at <= (now + DUE_SOON if soon is None
                                                                                        else soon))))


def red_now(now):
    return and_(Task.clock_stopped_at.is_(None), Task.due_at < now)


def _in_subtree(actor):
    return OrgUnit.path.startswith(actor.unit_path)


def _grid_cases(actor):
    """What a grid worker sees (policy.grid_only): the cases of their grid, those made from what
    they reported, those they held or did a step of, and a case with no grid whose grid step waits
    in their village's pool. Never the rest of the village."""
    seen = [Case.id.in_(select(Submission.case_id).where(Submission.reporter_id == actor.user_id,
                                                         Submission.case_id.is_not(None))),
            Case.id.in_(select(Task.case_id).where(or_(Task.assignee_id == actor.user_id,
                                                       Task.completed_by == actor.user_id))),
            and_(Case.grid_id.is_(None), Case.id.in_(select(Task.case_id).where(
                Task.role.in_(GRID_ROLES), Task.state == TaskState.READY, Task.org_unit_id == actor.unit_id)))]
    if actor.grid_id is not None:
        seen.append(Case.grid_id == actor.grid_id)
    return or_(*seen)


def _grid_steps(actor):
    """A grid step is for the workers of its case's grid, or of the village when the case has none."""
    mine = [Case.grid_id.is_(None)] + ([Case.grid_id == actor.grid_id] if actor.grid_id is not None else [])
    return or_(Task.role.not_in(GRID_ROLES), Task.case_id.in_(select(Case.id).where(or_(*mine))))


def _cases_seen(actor):
    """The condition on a case (joined with its unit) for the actor to find it: a case of their
    unit or below; for a resident department, whose unit owns no cases, also a case it was given
    a step of (held or done), so it finds what it worked on, and nothing else; for a grid worker,
    _grid_cases."""
    if grid_only(actor):
        return _grid_cases(actor)
    if actor.unit_level != "department":
        return _in_subtree(actor)
    step_unit = aliased(OrgUnit)
    worked_on = select(Task.case_id).join(step_unit, step_unit.id == Task.org_unit_id).where(
        step_unit.path.startswith(actor.unit_path))
    return or_(_in_subtree(actor), Case.id.in_(worked_on))


MINE_LIMIT = 500


@dataclass
class Inbox:
    """What a person's inbox shows: every step they hold, one page of their pool (most urgent
    first: a county's pool can hold hundreds of steps, and nobody reads past the first fifty), and
    the counts over all of it, so the warnings and the pool's size are true beyond the page."""
    mine: list
    pool: list
    pool_total: int
    pool_page: int
    red: int
    amber: int
    now: datetime

    @property
    def pool_pages(self):
        return page_count(self.pool_total)


def _pool_of(grid_steps):
    """The unclaimed steps a person may claim: their roles' steps in their unit; a supervisor's in
    every unit below; a grid worker's only those of their grid (or a case with none: `grid_steps`,
    True for everyone else). The person is bound as b_roles, b_unit and b_unit_path."""
    return and_(Task.state == TaskState.READY, Task.assignee_id.is_(None),
                Task.role.in_(bindparam("b_roles", expanding=True)), grid_steps,
                or_(Task.org_unit_id == bindparam("b_unit"),
                    and_(Task.role == "supervisor", OrgUnit.path.startswith(bindparam("b_unit_path")))))


# What an inbox row shows of its case (its workflow state and long texts are never read there).
INBOX_CASE = joinedload(Task.case).load_only(Case.code, Case.category, Case.party_names, Case.risk_level,
                                             Case.process_version_id)


def _inbox_statements(grid_steps):
    """The inbox's three statements (my steps; the pool's counts; a page of the pool), with the
    person, the moment and the page bound on each call."""
    now, soon = bindparam("b_now"), bindparam("b_soon")
    urgent_first = (Task.due_at.is_(None), Task.due_at, Task.created_at, Task.id)
    steps = select(Task).join(OrgUnit, OrgUnit.id == Task.org_unit_id).options(INBOX_CASE, joinedload(Task.org_unit))
    pool = _pool_of(grid_steps)
    return (steps.where(Task.state == TaskState.READY, Task.assignee_id == bindparam("b_user"))
            .order_by(*urgent_first).limit(MINE_LIMIT),
            select(func.count(Task.id), func.count(Task.id).filter(red_now(now)),
                   func.count(Task.id).filter(amber_now(now, soon)))
            .select_from(Task).join(OrgUnit, OrgUnit.id == Task.org_unit_id).where(pool),
            steps.where(pool).order_by(*urgent_first).offset(bindparam("b_offset")).limit(PAGE_SIZE))


_INBOX = _inbox_statements(True)  # built once: building them cost more than running them


def inbox(session, actor, pool_page=1):
    """My claimed steps, then a page of my roles' unclaimed steps in my unit; overdue and due-soon
    first; with the overdue and due-soon counts over both, the whole pool included."""
    now = Clock.now()
    mine_of, counts_of, pool_of = _inbox_statements(_grid_steps(actor)) if actor.roles & GRID_ROLES else _INBOX
    bound = {"b_user": actor.user_id, "b_roles": sorted(actor.roles), "b_unit": actor.unit_id,
             "b_unit_path": actor.unit_path, "b_now": now, "b_soon": now + DUE_SOON}
    mine = session.scalars(mine_of, bound).all()
    total, red, amber = session.execute(counts_of, bound).one()
    pool_page = min(max(pool_page, 1), page_count(total))
    pool = session.scalars(pool_of, dict(bound, b_offset=(pool_page - 1) * PAGE_SIZE)).all() if total else []
    lights = [task_light(task, now) for task in mine]
    return Inbox(mine=mine, pool=pool, pool_total=total, pool_page=pool_page,
                 red=red + lights.count("red"), amber=amber + lights.count("amber"), now=now)


@dataclass
class StepFilter:
    """What the supervision list is narrowed to; every dashboard number links to one."""
    only: str | None = None       # "red", "amber"
    unit_path: str | None = None  # a unit (and below) within the actor's
    stage: str | None = None      # BPMN id of the step
    assignee: str | None = None   # a user id, or "none" for unclaimed


def open_tasks(session, actor, page=1, only=None, flt=None, counts=None):
    """Open tasks across the actor's unit and below, overdue first, then by due time, those with
    no deadline last: the order of the index on (state, due_at), so a page reads its own rows only.
    `counts` (light_counts) gives the total when the list is narrowed by its light alone."""
    now = Clock.now()
    flt = flt or StepFilter(only=only)
    by_unit = bool(flt.unit_path and flt.unit_path.startswith(actor.unit_path))
    assignee = "none" if flt.assignee == "none" else "one" if flt.assignee and flt.assignee.isdigit() else None
    shape = (flt.only if flt.only in ("red", "amber") else None, by_unit, bool(flt.stage), assignee)
    if shape not in _OPEN_TASKS:
        _OPEN_TASKS[shape] = _open_tasks_statements(*shape)
    count_of, rows_of = _OPEN_TASKS[shape]
    bound = {"b_unit_path": actor.unit_path, "b_now": now, "b_soon": now + DUE_SOON, "b_narrow_path": flt.unit_path,
             "b_stage": flt.stage, "b_assignee": int(flt.assignee) if assignee == "one" else None,
             "b_offset": (page - 1) * PAGE_SIZE}
    narrowed = bool(flt.unit_path or flt.stage or flt.assignee)
    if counts is not None and not narrowed:
        total = counts[flt.only or "all"]
    else:
        total = session.scalar(count_of, bound)
    rows = session.scalars(rows_of, bound).all()
    units = {row.id: (row.name, row.name_en or row.name) for row in session.execute(_UNIT_NAMES)}
    return rows, total, units, now


_UNIT_NAMES = select(OrgUnit.id, OrgUnit.name, OrgUnit.name_en)
_OPEN_TASKS = {}  # (light, by unit, by stage, by assignee): the list's statements, built once per shape


def _open_tasks_statements(only, by_unit, by_stage, assignee):
    """The supervision list's count and page for one shape of filter, everything else bound."""
    now = bindparam("b_now")
    query = (select(Task).join(OrgUnit, OrgUnit.id == Task.org_unit_id).options(
        *listed_cases(joinedload(Task.case)), joinedload(Task.assignee), joinedload(Task.org_unit)).where(
        Task.state == TaskState.READY, OrgUnit.path.startswith(bindparam("b_unit_path"))))
    if only == "red":
        query = query.where(red_now(now))
    elif only == "amber":
        query = query.where(amber_now(now, bindparam("b_soon")))
    if by_unit:
        query = query.where(OrgUnit.path.startswith(bindparam("b_narrow_path")))
    if by_stage:
        query = query.where(Task.spec_id == bindparam("b_stage"))
    if assignee == "none":
        query = query.where(Task.assignee_id.is_(None))
    elif assignee == "one":
        query = query.where(Task.assignee_id == bindparam("b_assignee"))
    return (select(func.count()).select_from(query.subquery()),
            query.order_by(Task.due_at.asc().nulls_last(), Task.id).offset(bindparam("b_offset")).limit(PAGE_SIZE))


def light_sums(now, soon=None):
    """How many open steps, how many red and how many amber now, as the columns of one pass (the
    open steps' index, ix_tasks_open_lights, answers without the rows); `soon` as for amber_now."""
    return (func.count(), func.sum(case((red_now(now), 1), else_=0)),
            func.sum(case((amber_now(now, soon), 1), else_=0)))


_LIGHT_COUNTS = (select(*light_sums(bindparam("b_now"), bindparam("b_soon"))).select_from(Task)
                 .join(OrgUnit, OrgUnit.id == Task.org_unit_id)
                 .where(Task.state == TaskState.READY, OrgUnit.path.startswith(bindparam("b_unit_path"))))


def light_counts(session, actor, now=None):
    """{"all", "red", "amber"}: the open steps of the actor's unit and below, in one pass."""
    now = now or Clock.now()
    total, red, amber = session.execute(_LIGHT_COUNTS, {"b_unit_path": actor.unit_path, "b_now": now,
                                                        "b_soon": now + DUE_SOON}).one()
    return {"red": red or 0, "amber": amber or 0, "all": total}


@dataclass
class CaseFilter:
    text: str = ""
    status: str = ""
    category: str = ""
    page: int = 1
    unit_id: int | None = None      # a unit (and below) within the actor's
    filed_from: object = None       # dates in China, inclusive
    filed_to: object = None
    handler: str = ""               # part of the name of someone who took or did a step

    def params(self):
        """The filter as URL parameters, for paging links and exports."""
        found = {"q": self.text, "status": self.status, "category": self.category, "unit": self.unit_id,
                 "from": self.filed_from.isoformat() if self.filed_from else None,
                 "to": self.filed_to.isoformat() if self.filed_to else None, "handler": self.handler}
        return {key: value for key, value in found.items() if value}


# A resident identity card number: 18 characters (the last a check digit or X), or 15 digits.
RESIDENT_ID = re.compile(r"\d{17}[\dX]|\d{15}")


def search_cases(session, actor, flt):
    query = (select(Case).join(OrgUnit, OrgUnit.id == Case.org_unit_id).options(*listed_cases())
             .where(_cases_seen(actor)))
    if flt.text:
        text = flt.text.strip()
        like = f"%{text}%"
        matches = [Case.code.like(like), Case.party_names.like(like), Case.summary.like(like),
                   Case.external_ref == text]  # a hotline work order's number
        if RESIDENT_ID.fullmatch(normalize_id(text) or ""):
            # A whole resident ID number names a person: looked up on the indexed party rows
            # alone, never in every case's text (a scan of the whole table in a big county).
            matches = []
        # A party's ID number or phone is matched exactly, on the indexed party rows (one
        # subquery, so alone it is a join on them).
        parties = [CaseParty.id_number == normalize_id(text)] if normalize_id(text) else []
        if normalize_phone(text) and len(normalize_phone(text)) >= 7:
            parties.append(CaseParty.phone == normalize_phone(text))
        if parties:
            matches.append(Case.id.in_(select(CaseParty.case_id).where(or_(*parties))))
        query = query.where(or_(*matches))
    if flt.status:
        query = query.where(Case.status == flt.status)
    if flt.category:
        query = query.where(Case.category == flt.category)
    if flt.unit_id:
        unit_path = session.scalar(select(OrgUnit.path).where(OrgUnit.id == flt.unit_id))
        if unit_path and unit_path.startswith(actor.unit_path):
            query = query.where(OrgUnit.path.startswith(unit_path))
    if flt.filed_from:
        query = query.where(Case.created_at >= as_utc(datetime.combine(flt.filed_from, time(0, 0), CHINA)))
    if flt.filed_to:
        query = query.where(Case.created_at < as_utc(datetime.combine(flt.filed_to + timedelta(days=1), time(0, 0), CHINA)))
    if flt.handler.strip():
        people = select(User.id).where(User.display_name.like(f"%{flt.handler.strip()}%"))
        query = query.where(Case.id.in_(select(Task.case_id).where(
            or_(Task.assignee_id.in_(people), Task.completed_by.in_(people)))))
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    rows = session.scalars(query.options(joinedload(Case.org_unit)).order_by(Case.created_at.desc(), Case.id.desc())
                           .offset((flt.page - 1) * PAGE_SIZE).limit(PAGE_SIZE)).all()
    return rows, total


REPEAT_WINDOW = timedelta(days=90)
# Events that carry data someone submitted: a completed step, or a repeat visit registered.
DATA_EVENTS = (EventKind.TASK_COMPLETED, EventKind.REPEAT_VISIT)


def possible_repeats(session, actor, parties):
    """Open cases, or cases filed in the last 90 days, within the actor's units, that share a
    party's ID number or phone with the matter being filed."""
    ids = {normalize_id(p.get("id_number")) for p in parties or () if isinstance(p, dict)} - {None}
    phones = {normalize_phone(p.get("phone")) for p in parties or () if isinstance(p, dict)} - {None}
    if not ids and not phones:
        return []
    return session.scalars(_REPEATS, {"b_unit_path": actor.unit_path, "b_ids": sorted(ids), "b_phones": sorted(phones),
                                      "b_since": Clock.now() - REPEAT_WINDOW}).all()


# Built once, what is filed bound on each call; the cases found without their workflow state.
_REPEATS = (select(Case).join(OrgUnit, OrgUnit.id == Case.org_unit_id).options(joinedload(Case.org_unit), *listed_cases())
            .where(OrgUnit.path.startswith(bindparam("b_unit_path")),
                   Case.id.in_(select(CaseParty.case_id).where(or_(
                       CaseParty.id_number.in_(bindparam("b_ids", expanding=True)),
                       CaseParty.phone.in_(bindparam("b_phones", expanding=True))))),
                   or_(Case.status == CaseStatus.OPEN, Case.created_at >= bindparam("b_since")))
            .order_by(Case.created_at.desc()).limit(10))


def visible_case_by_code(session, actor, code):
    case = session.scalar(select(Case).join(OrgUnit, OrgUnit.id == Case.org_unit_id)
                          .options(joinedload(Case.org_unit)).where(Case.code == (code or "").strip().upper(),
                                                                      _cases_seen(actor)))
    return case


def case_of_order(session, actor, order_number):
    """The case the actor's login filed for an outside system's own order number (a 12345 work
    order), or None: an order names a case for the login that sent it, whatever unit holds it now."""
    return session.scalar(select(Case).options(joinedload(Case.org_unit))
                          .where(Case.external_ref == order_number, Case.created_by == actor.user_id)
                          .order_by(Case.id).limit(1))


# The case pages' statements are built once, the case bound on each call: building a statement
# cost more CPU than running it.
_CASE = bindparam("b_case")
_VISIBLE_CASE = select(Case).options(joinedload(Case.org_unit), *listed_cases()).where(Case.id == _CASE)


def visible_case(session, actor, case_id):
    """The case if the actor's unit covers it, else None (the web layer answers 403/404); its
    workflow state is left unread (no page shows it; read after all if something asks for it)."""
    case = session.scalar(_VISIBLE_CASE, {"b_case": case_id})
    if case is None:
        return None, False
    return case, _sees(session, actor, case)


_VISIBLE_TASK = (select(Task, Case, OrgUnit).join(Case, Case.id == Task.case_id)
                 .join(OrgUnit, OrgUnit.id == Case.org_unit_id).where(Task.id == bindparam("b_task")))


def visible_task(session, actor, task_id):
    """A step and its case, read together, and whether the actor's unit covers the case:
    (task, case, visible), or (None, None, False)."""
    row = session.execute(_VISIBLE_TASK, {"b_task": task_id}).first()
    if row is None:
        return None, None, False
    task, case, _unit = row  # the unit is now in the session: case.org_unit reads it from there
    return task, case, _sees(session, actor, case)


def _sees(session, actor, case):
    if grid_only(actor):
        return session.scalar(select(Case.id).where(Case.id == case.id, _grid_cases(actor))) is not None
    return unit_covers(actor.unit_path, case.org_unit.path) or _holds_a_step(session, actor, case.id)


def _holds_a_step(session, actor, case_id):
    """A resident department sees a case it was given a step of (its unit owns no cases)."""
    return session.scalar(select(Task.id).join(OrgUnit, OrgUnit.id == Task.org_unit_id)
                          .where(Task.case_id == case_id, _in_subtree(actor)).limit(1)) is not None


# The people are shown by name: their roles are not read (two queries a page otherwise).
_CASE_TASKS = (select(Task).options(joinedload(Task.assignee).lazyload(User.role_rows),
                                    joinedload(Task.completer).lazyload(User.role_rows), joinedload(Task.org_unit))
               .where(Task.case_id == _CASE).order_by(Task.id))
_CASE_EVENTS = select(AuditEvent).where(AuditEvent.case_id == _CASE).order_by(AuditEvent.seq)
_CASE_EVENTS_OF_KINDS = (select(AuditEvent).where(AuditEvent.case_id == _CASE,
                                                  AuditEvent.kind.in_(bindparam("b_kinds", expanding=True)))
                         .order_by(AuditEvent.seq))


# Whether a case has any reported matter, meeting item, referral or file: most have none, and the
# case page then reads none of those four lists (one statement instead of four).
_CASE_HAS = select(exists().where(Submission.case_id == _CASE), exists().where(MeetingItem.case_id == _CASE),
                   exists().where(Referral.case_id == _CASE), exists().where(Attachment.case_id == _CASE))


def case_has(session, case_id):
    """{"reported", "meetings", "referrals", "files"}: which of them the case may have (a list
    named here can still come out empty; one not named is)."""
    row = session.execute(_CASE_HAS, {"b_case": case_id}).one()
    return {name for name, present in zip(("reported", "meetings", "referrals", "files"), row) if present}


def case_tasks(session, case_id):
    return session.scalars(_CASE_TASKS, {"b_case": case_id}).all()


def case_events(session, case_id, kinds=None):
    if kinds:
        return session.scalars(_CASE_EVENTS_OF_KINDS, {"b_case": case_id, "b_kinds": list(kinds)}).all()
    return session.scalars(_CASE_EVENTS, {"b_case": case_id}).all()


def mask_data(form_definition, data, actor):
    """Mask ID numbers and phones in submitted data for people who do not handle the case."""
    if form_definition is None or sees_personal_data(actor) or not isinstance(data, dict):
        return data
    form = FormDef("", form_definition)
    masked = dict(data)
    for path in form.personal_fields():
        if len(path) == 1 and path[0] in masked:
            masked[path[0]] = _mask_value(path[0], masked[path[0]])
        elif len(path) == 2 and isinstance(masked.get(path[0]), list):
            masked[path[0]] = [dict(item, **{path[1]: _mask_value(path[1], item[path[1]])})
                               if isinstance(item, dict) and path[1] in item else item for item in masked[path[0]]]
    return masked


def _mask_value(name, value):
    return mask_phone(value) if "phone" in name else mask_id_number(value)


def submitted_steps(session, case, actor, events=None):
    """What each completed step recorded, in order, masked as the actor may see it; from `events`
    (the case's events in order, those of DATA_EVENTS' kinds among them) when the caller read them."""
    kinds = department_kinds.read(session)
    version = catalog.version_info(session, case.process_version_id)
    if events is None:
        events = case_events(session, case.id, kinds=DATA_EVENTS)
    return [(event, *event_data(version, event, actor, kinds, session))
            for event in events if event.kind in DATA_EVENTS]


INTAKE_DECISIONS = (EventKind.TRIAGED, EventKind.RISK_ASSESSED, EventKind.RISK_REASSESSED)


def intake_decisions(session, case_id, events=None):
    """Why the case went where it went and why it has its colour: the last triage decision and
    the last risk assessment recorded in its history, {kind: event} (from `events`, as
    submitted_steps, when the caller read them)."""
    found = {}
    if events is None:
        events = case_events(session, case_id, kinds=INTAKE_DECISIONS)
    for event in events:
        if event.kind in INTAKE_DECISIONS:
            found["risk" if event.kind.startswith("risk") else event.kind] = event
    return found


# What the case page reads of a case's history, in one query: the submitted steps, the intake
# decisions and the reopenings that number its rounds.
CASE_PAGE_EVENTS = DATA_EVENTS + INTAKE_DECISIONS + (EventKind.CASE_REOPENED,)


def event_data(version, event, actor, kinds, session=None):
    """The form a data event was submitted on (its options filled from the department registry
    `kinds`, so a department reads by name, and with `session` from the registry of experts) and
    its data, masked as the actor may see it."""
    form_key = version.meta["tasks"].get(event.task_spec, {}).get("form")
    definition = form_options.fill(version.forms.get(form_key), kinds) if form_key else None
    if session is not None:
        definition = expert_options.fill(session, definition)
    return definition, mask_data(definition, (event.detail or {}).get("data", {}), actor)


def units_below(session, unit):
    """Units a case of `unit` can be assigned down to."""
    return session.scalars(select(OrgUnit).where(OrgUnit.path.startswith(unit.path), OrgUnit.id != unit.id,
                                                 OrgUnit.level != "department").order_by(OrgUnit.path)).all()


def filed_today(session, actor, now=None):
    """The matters this clerk registered today (China time), newest first."""
    now = now or Clock.now()
    # Bound as UTC: SQLite stores times without an offset, all of them UTC.
    midnight = now.astimezone(CHINA).replace(hour=0, minute=0, second=0, microsecond=0).astimezone(timezone.utc)
    return session.scalars(_FILED_TODAY, {"b_user": actor.user_id, "b_since": midnight}).all()


_FILED_TODAY = (select(Case).options(*listed_cases())
                .where(Case.created_by == bindparam("b_user"), Case.created_at >= bindparam("b_since"))
                .order_by(Case.created_at.desc()).limit(200))  # built once


def case_round(session, case_id, events=None):
    """1 for a case never reopened, then 2, 3... (counted in `events`, as submitted_steps, when the
    caller read them)."""
    if events is not None:
        return 1 + sum(1 for event in events if event.kind == EventKind.CASE_REOPENED)
    return 1 + session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.case_id == case_id, AuditEvent.kind == "case_reopened"))


def versions(session):
    return session.scalars(select(ProcessVersion).order_by(ProcessVersion.process_key, ProcessVersion.id.desc())).all()


def version_case_counts(session, unit_path):
    """Cases per version, of the units at and below `unit_path` (a designer's)."""
    return dict(session.execute(select(Case.process_version_id, func.count()).join(OrgUnit, OrgUnit.id == Case.org_unit_id)
                                .where(OrgUnit.path.startswith(unit_path)).group_by(Case.process_version_id)).all())
