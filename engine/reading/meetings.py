"""What a joint meeting (联席会议) reads: the meetings of a unit, one meeting with its agenda, and
the cases that need the meeting (overdue steps, red risk, listed for supervision, unresolved after
the whistle), each with its reasons. Everything is read set-based: a handful of queries for the
whole unit, never one per case, so a county with hundreds of open cases renders at once."""
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.orm import joinedload

from engine.access.policy import unit_covers
from engine.errors import NotFound
from engine.legaltime.clock import CHINA, Clock, as_utc
from engine.messages import Msg, N_, in_chinese
from engine.persistence.models import ApiToken, Case, Meeting, MeetingItem, OrgUnit, Resolver, Task, User, UserRole
from engine.persistence.states import CaseStatus, MeetingState, TaskState
from engine.reading.queries import red_now

KINDS = {"daily": N_("Daily consultation"), "weekly": N_("Weekly analysis"), "monthly": N_("Monthly assessment")}
STATES = {"scheduled": N_("Scheduled"), "held": N_("Held"), "cancelled": N_("Cancelled")}
# Why a case is on the agenda, in the order the meeting takes them.
REASONS = {"overdue": N_("Overdue step"), "red": N_("Red risk"), "flagged": N_("Listed for supervision"),
           "whistle": N_("Unresolved after the whistle"), "manual": N_("Added by hand")}
# The whistle (中心吹哨) is the supervisor's step of the specialist pathway (bpmn/specialist_joint.bpmn):
# once it is done, the departments report and a joint consultation decides. A case still open
# after it is one the departments together have not settled.
WHISTLE_STEP = "Task_whistle"
# Most cases a meeting is offered at once (the rest are named by their count).
CANDIDATE_LIMIT = 300


@dataclass
class Need:
    """A case that needs the meeting, and why."""
    case_id: int
    code: str
    summary: str
    party_names: str
    unit: OrgUnit
    risk_level: str | None
    current_step: str | None
    reasons: list = field(default_factory=list)
    overdue_steps: list = field(default_factory=list)   # [(title, due_at)], earliest first
    flagged_at: datetime | None = None
    flag_note: str | None = None
    whistle_at: datetime | None = None
    on_agenda: bool = False

    @property
    def reason_codes(self):
        return ",".join(self.reasons) or "manual"


def suggested_title(kind, day):
    """The title a meeting is prefilled with, as centers name them: 2026年第48周矛盾纠纷研判会."""
    if kind == "daily":
        return in_chinese(Msg("%(year)s-%(month)s-%(day)s daily dispute consultation", year=day.year,
                              month=day.month, day=day.day))
    if kind == "monthly":
        return in_chinese(Msg("%(year)s-%(month)s monthly dispute assessment", year=day.year, month=day.month))
    year, week, _weekday = day.isocalendar()
    return in_chinese(Msg("Week %(week)s of %(year)s dispute analysis meeting", year=year, week=week))


def suggested_day(kind, today=None):
    """When the next meeting of a kind usually is: tomorrow's consultation, next Monday's
    analysis, the first of next month's assessment."""
    today = today or Clock.now().astimezone(CHINA).date()
    if kind == "daily":
        return today + timedelta(days=1)
    if kind == "monthly":
        return date(today.year + (today.month == 12), today.month % 12 + 1, 1)
    return today + timedelta(days=7 - today.weekday())


def meetings_of(session, unit, limit=100):
    """(upcoming, past) meetings of `unit` itself: upcoming soonest first, past newest first."""
    now = Clock.now()
    rows = session.scalars(select(Meeting).where(Meeting.org_unit_id == unit.id)
                           .order_by(Meeting.scheduled_at.desc()).limit(limit * 2)).all()
    upcoming = [m for m in rows if m.state == MeetingState.SCHEDULED and as_utc(m.scheduled_at) >= now - timedelta(hours=12)]
    past = [m for m in rows if m not in upcoming]
    return sorted(upcoming, key=lambda m: m.scheduled_at)[:limit], past[:limit]


def meetings_below(session, unit, limit=50):
    """The latest meetings of the units below `unit` (read-only to it)."""
    return session.scalars(select(Meeting).join(OrgUnit, OrgUnit.id == Meeting.org_unit_id)
                           .options(joinedload(Meeting.org_unit))
                           .where(OrgUnit.path.startswith(unit.path), OrgUnit.id != unit.id)
                           .order_by(Meeting.scheduled_at.desc()).limit(limit)).all()


def visible_meeting(session, actor, meeting_id):
    meeting = session.scalar(select(Meeting).options(joinedload(Meeting.org_unit)).where(Meeting.id == meeting_id))
    if meeting is None or not unit_covers(actor.unit_path, meeting.org_unit.path):
        raise NotFound(meeting_id)
    return meeting


def items_of(session, meeting):
    return session.scalars(select(MeetingItem).options(joinedload(MeetingItem.case).joinedload(Case.org_unit))
                           .where(MeetingItem.meeting_id == meeting.id)
                           .order_by(MeetingItem.position, MeetingItem.id)).all()


def _in(unit):
    return (OrgUnit.path.startswith(unit.path), Case.status == CaseStatus.OPEN)


def needs(session, unit, now=None, case_ids=None, limit=CANDIDATE_LIMIT):
    """The open cases of `unit` and below that need the meeting, with every reason each has:
    ({case id: Need} in the order to take them, how many there were in all). Five queries
    whatever the number of cases; `case_ids` reads the reasons of those cases only (an agenda)."""
    now = now or Clock.now()
    scope = _in(unit) + ((Case.id.in_(case_ids),) if case_ids is not None else ())
    by_case = lambda query: query.join(OrgUnit, OrgUnit.id == Case.org_unit_id).where(*scope)  # noqa: E731
    overdue = session.execute(by_case(
        select(Task.case_id, Task.title, Task.due_at).join(Case, Case.id == Task.case_id)
        .where(Task.state == TaskState.READY, red_now(now))).order_by(Task.due_at)).all()
    whistled = session.execute(by_case(
        select(Task.case_id, func.max(Task.completed_at)).join(Case, Case.id == Task.case_id)
        .where(Task.spec_id == WHISTLE_STEP, Task.state == TaskState.COMPLETED)).group_by(Task.case_id)).all()
    flagged_or_red = set(session.scalars(by_case(select(Case.id).where(
        or_(Case.flagged_at.is_not(None), Case.risk_level == "red")))))
    ids = {row.case_id for row in overdue} | {case_id for case_id, _at in whistled} | flagged_or_red
    if case_ids is not None:
        ids |= set(case_ids)
    if not ids:
        return {}, 0
    rows = session.execute(select(Case.id, Case.code, Case.summary, Case.party_names, Case.risk_level,
                                  Case.current_step, Case.flagged_at, Case.flag_note, OrgUnit)
                           .join(OrgUnit, OrgUnit.id == Case.org_unit_id)
                           .where(Case.id.in_(ids), *(() if case_ids is not None else _in(unit)))).all()
    found = {row.id: Need(row.id, row.code, row.summary or "", row.party_names or "", row.OrgUnit, row.risk_level,
                          row.current_step, flagged_at=row.flagged_at, flag_note=row.flag_note) for row in rows}
    for case_id, title, due in overdue:
        if case_id in found:
            found[case_id].overdue_steps.append((title, due))
    for case_id, at in whistled:
        if case_id in found:
            found[case_id].whistle_at = at
    for need in found.values():
        need.reasons = [code for code, present in (
            ("overdue", need.overdue_steps), ("red", need.risk_level == "red"),
            ("flagged", need.flagged_at is not None), ("whistle", need.whistle_at is not None)) if present]
    ordered = sorted(found.values(), key=lambda n: (-len(n.reasons), as_utc(n.overdue_steps[0][1]) if n.overdue_steps
                                                    else as_utc(datetime.max.replace(tzinfo=CHINA) - timedelta(days=1)),
                                                    n.code))
    return {need.case_id: need for need in ordered[:limit]}, len(ordered)


def overdue_days(due, now=None):
    """Whole days a step is past its deadline (at least 1 once it is past)."""
    now = now or Clock.now()
    return max((now - as_utc(due)).days, 0) + 1


def open_steps(session, case_ids):
    """{case id: [open steps]} for the agenda's cases, with their handlers, in one query."""
    found = {}
    if not case_ids:
        return found
    for task in session.scalars(select(Task).options(joinedload(Task.assignee))
                                .where(Task.case_id.in_(case_ids), Task.state == TaskState.READY)
                                .order_by(Task.id)):
        found.setdefault(task.case_id, []).append(task)
    return found


def handlers(session, steps):
    """{(role, unit id): [logins]} who may be given each of `steps` (active holders of its role in
    its unit; engine/cases/supervision.handlers_for), in one query for all of them."""
    pairs = {(task.role, task.org_unit_id) for task in steps}
    found = {pair: [] for pair in pairs}
    if not pairs:
        return found
    rows = session.execute(select(User, UserRole.role).join(UserRole, UserRole.user_id == User.id)
                           .where(User.active.is_(True), UserRole.role.in_({role for role, _u in pairs}),
                                  User.org_unit_id.in_({unit_id for _r, unit_id in pairs}))
                           .order_by(User.display_name)).all()
    for user, role in rows:
        if (role, user.org_unit_id) in found:
            found[(role, user.org_unit_id)].append(user)
    return found


@dataclass
class Invitees:
    """Whom a meeting of a unit may record as attending: the unit's logins, the resident
    departments stationed at it, and the people of its registry of mediators and experts."""
    people: list
    departments: list
    resolvers: list


def invitees(session, unit):
    # An outside system's login (the 12345 hotline's, acting through an API token) attends nothing.
    people = session.scalars(select(User).where(User.org_unit_id == unit.id, User.active.is_(True),
                                                User.id.not_in(select(ApiToken.user_id)))
                             .order_by(User.display_name)).all()
    departments = session.scalars(select(OrgUnit).where(OrgUnit.parent_id == unit.id, OrgUnit.level == "department")
                                  .order_by(OrgUnit.code)).all()
    resolvers = session.scalars(select(Resolver).where(Resolver.org_unit_id == unit.id, Resolver.active.is_(True),
                                                       Resolver.user_id.is_(None))
                                .order_by(Resolver.kind, Resolver.name)).all()
    return Invitees(people, departments, resolvers)


def chairs(session, unit):
    """Who may chair: the unit's active supervisors (the center's director and deputies)."""
    return session.scalars(select(User).join(UserRole, UserRole.user_id == User.id)
                           .where(User.org_unit_id == unit.id, User.active.is_(True), UserRole.role == "supervisor")
                           .order_by(User.display_name)).all()


def china_moment(day, at):
    """A date and a time of day in China, as the UTC moment stored."""
    return as_utc(datetime.combine(day, at or time(9, 0), CHINA))


_OF_CASE = (select(MeetingItem, Meeting).join(Meeting, Meeting.id == MeetingItem.meeting_id)
            .where(MeetingItem.case_id == bindparam("b_case"), Meeting.state != MeetingState.CANCELLED)
            .order_by(Meeting.scheduled_at))  # built once


def of_case(session, case_id):
    """[(item, meeting)] of the meetings that took up a case, oldest first (the case page)."""
    return session.execute(_OF_CASE, {"b_case": case_id}).all()
