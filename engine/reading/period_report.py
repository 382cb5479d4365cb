"""A unit's periodic report (日报、周报、月报) for the center's daily, weekly and monthly meetings:
the dashboard's indicators for one day, one ISO week (Monday to Sunday) or one calendar month in
China, beside the period before; the trend over the period; the steps overdue and the red-risk
cases as they stood when the period ended; the cases filed by category and closed by level; the
registered mediators' figures for the period (resolver_figures.py).

A period that has ended is reported as it stood at its end (24:00 on its last day, China time),
so last week's report reads the same on Monday and on Friday; the period still running is
reported as it stands now. The counts of cases filed in a period (closed, rated, resolved) are
the indicators' own: those cases as they are when the report is made.

Everything is counted in the database by grouped queries over indexed columns (dashboard.py);
the two lists are one page of rows each, with their totals."""
import re
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, or_, select

from engine.legaltime.clock import CHINA, Clock, as_utc
from engine.messages import N_, Msg
from engine.persistence.models import AuditEvent, Case, OrgUnit, Task, User
from engine.persistence.states import EventKind
from engine.reading import dashboard, resolver_figures, rollup

KINDS = {"day": N_("Daily report"), "week": N_("Weekly report"), "month": N_("Monthly report")}
EARLIEST, LATEST = date(2000, 1, 1), date(2100, 12, 31)
# Rows of each list on the page (and in print); the download holds up to FULL_LIST.
LIST_LIMIT, FULL_LIST = 100, 10_000
RISK_EVENTS = (EventKind.RISK_ASSESSED, EventKind.RISK_REASSESSED)
LEVEL_ORDER = ("village", "township", "county", "city")

# The indicators compared with the period before: (key in dashboard.indicators, label, kind).
FIGURES = [
    ("filed", N_("Matters filed"), "count"),
    ("petitions", N_("Petitions"), "count"),
    ("resolution_rate", N_("Mediation success rate"), "share"),
    ("village_share", N_("Resolved at village level"), "share"),
    ("three_levels_share", N_("Resolved within three levels"), "share"),
    ("satisfaction_rate", N_("Satisfaction rate"), "share"),
    ("overdue_cases", N_("Cases ever overdue"), "count"),
    ("overdue_steps", N_("Steps overdue at the period's end"), "count"),
    ("litigated", N_("Matters that went to litigation"), "count"),
    ("litigation_per_10k", N_("Litigation per 10,000 residents"), "per_10k"),
]


class BadPeriod(ValueError):
    """A period kind or code that names no period one can report on; `message` says why."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


@dataclass(frozen=True)
class Period:
    kind: str
    start: date
    end: date  # the last day, included

    @property
    def code(self):
        """How the period is written in an address: 2026-11-23, 2026-W48 (ISO week), 2026-11."""
        if self.kind == "day":
            return self.start.isoformat()
        if self.kind == "week":
            year, week, _day = self.start.isocalendar()
            return f"{year}-W{week:02d}"
        return f"{self.start:%Y-%m}"

    def previous(self):
        return period_of(self.kind, self.start - timedelta(days=1))

    def following(self):
        return period_of(self.kind, self.end + timedelta(days=1))

    def bounds(self):
        """[low, high) in UTC: from 00:00 on the first day to 24:00 on the last, China time."""
        return dashboard.china_bounds(self.start, self.end)


def period_of(kind, day):
    """The day, the ISO week (Monday to Sunday) or the calendar month that holds `day`."""
    if kind == "day":
        return Period("day", day, day)
    if kind == "week":
        monday = day - timedelta(days=day.weekday())
        return Period("week", monday, monday + timedelta(days=6))
    if kind == "month":
        first = day.replace(day=1)
        return Period("month", first, (first + timedelta(days=32)).replace(day=1) - timedelta(days=1))
    raise ValueError(kind)


def today_in_china(now=None):
    return (now or Clock.now()).astimezone(CHINA).date()


def last_complete(kind, now=None):
    """The default: the last day, week or month that has ended."""
    return period_of(kind, today_in_china(now)).previous()


_FORMS = {"day": re.compile(r"(\d{4})-(\d{2})-(\d{2})"), "week": re.compile(r"(\d{4})-W(\d{2})"),
          "month": re.compile(r"(\d{4})-(\d{2})")}
_EXAMPLES = {"day": "2026-11-23", "week": "2026-W48", "month": "2026-11"}


def parse(kind, code, now=None):
    """The period `code` names (see Period.code), or the last complete one when there is none.
    A period that has not begun yet, or lies outside 2000-2100, is refused."""
    if kind not in KINDS:
        raise BadPeriod(Msg("A report is daily, weekly or monthly, not “%(kind)s”", kind=str(kind)[:20]))
    if not code:
        return last_complete(kind, now)
    match = _FORMS[kind].fullmatch(code.strip())
    try:
        if match is None:
            raise ValueError(code)
        numbers = [int(n) for n in match.groups()]
        if kind == "day":
            first = date(*numbers)
        elif kind == "week":
            first = date.fromisocalendar(numbers[0], numbers[1], 1)
        else:
            first = date(numbers[0], numbers[1], 1)
    except ValueError:
        raise BadPeriod(Msg("“%(code)s” is not a period of this kind; write it as %(example)s",
                            code=str(code)[:20], example=_EXAMPLES[kind])) from None
    found = period_of(kind, first)
    if not EARLIEST <= found.start <= LATEST:
        raise BadPeriod(Msg("Reports cover the years 2000 to 2100"))
    if found.start > today_in_china(now):
        raise BadPeriod(Msg("The period %(code)s has not begun yet", code=found.code))
    return found


# ---- the report ---------------------------------------------------------------------------------

@dataclass
class Figure:
    key: str
    label: str
    kind: str
    value: object
    before: object

    @property
    def change(self):
        if self.value is None or self.before is None:
            return None
        return self.value - self.before


@dataclass
class Report:
    unit: OrgUnit
    period: Period
    previous: Period
    as_of: datetime           # when the lists and "overdue at the end" are judged (UTC)
    complete: bool            # the period has ended
    figures: dict             # dashboard.indicators for the period, its overdue steps at as_of
    before: dict              # the same for the previous period, as at its end
    rows: list                # [Figure] the indicators with the previous period's
    trend_labels: list
    trend: dict               # {category: [count per day, or per week for a month]}
    categories: list          # [(category, filed, filed the period before)]
    levels: list              # [(level, closed, share of those closed)]
    overdue: list             # [OverdueStep], longest overdue first
    overdue_total: int
    red: list                 # [RedCase], oldest first
    red_total: int
    mediators: list           # [resolver_figures.MediatorFigures] of those who handled a matter
    idle_mediators: int       # registered mediators (active) who handled none


@dataclass
class OverdueStep:
    task_id: int
    case_id: int
    code: str
    category: str
    step: str
    unit: OrgUnit
    handler: str
    due_at: datetime
    days_over: float          # at as_of
    done_at: datetime | None  # completed (or closed) since as_of; None while still open


@dataclass
class RedCase:
    case_id: int
    code: str
    category: str
    unit: OrgUnit
    filed_at: datetime
    current_step: str
    closed_at: datetime | None  # closed since as_of
    flagged: bool


def build(session, unit, period, now=None, limit=LIST_LIMIT, live=False):
    """The report of `unit` and the units below it for `period`: the counts of cases filed from
    the daily roll-up where it answers (with `live`, all from the cases and steps themselves)."""
    now = now or Clock.now()
    high = period.bounds()[1]
    as_of = min(high, now)
    previous = period.previous()
    overdue_now, overdue_before = dashboard.steps_overdue_counts(session, unit, [as_of, previous.bounds()[1]], now)
    figures = dashboard.indicators(session, unit, period.start, period.end, live=live, overdue_steps=overdue_now)
    before = dashboard.indicators(session, unit, previous.start, previous.end, live=live, overdue_steps=overdue_before)
    rows = [Figure(key, label, kind, figures.get(key), before.get(key)) for key, label, kind in FIGURES]
    labels, trend = _trend(session, unit, period, live)
    red, red_total = red_cases(session, unit, as_of, now, limit)
    mediators, idle = _mediators(session, unit, period)
    return Report(unit=unit, period=period, previous=previous, as_of=as_of, complete=high <= now,
                  figures=figures, before=before, rows=rows, trend_labels=labels, trend=trend,
                  categories=_categories(session, unit, period, previous, live), levels=_levels(figures),
                  overdue=overdue_steps(session, unit, as_of, now, limit), overdue_total=figures["overdue_steps"],
                  red=red, red_total=red_total, mediators=mediators, idle_mediators=idle)


def _mediators(session, unit, period):
    """The mediators of `unit` and below who handled a matter in the period, most matters first,
    and how many active ones handled none."""
    everyone = resolver_figures.mediator_figures(session, unit, *period.bounds())
    busy = sorted((m for m in everyone if m.handled), key=lambda m: (-m.handled, m.name, m.resolver_id))
    return busy, sum(1 for m in everyone if not m.handled and m.active)


def _trend(session, unit, period, live=False):
    """By day over a week (and over the week up to a day: one bar says little), by week over a
    month; each week of a month is labelled by its days within the month."""
    if period.kind == "month":
        labels, series = dashboard.trend(session, unit, period.start, period.end, "week", live=live)
        names = []
        for monday in labels:
            first = max(date.fromisoformat(monday), period.start)
            last = min(date.fromisoformat(monday) + timedelta(days=6), period.end)
            names.append(f"{first:%m-%d}–{last:%m-%d}")
        return names, series
    start = period.end - timedelta(days=6)
    labels, series = dashboard.trend(session, unit, start, period.end, "day", live=live)
    return [text[5:] for text in labels], series


def _filed_by_category(session, unit, period, live):
    """{category: cases of `unit` and below filed in the period}: whole past days from the daily
    roll-up, the rest counted live (dashboard.indicators)."""
    span_plan = rollup.Plan(live=[(period.start, period.end)]) if live else rollup.plan(session, period.start, period.end)
    filed = Counter({key: n for (_measure, key), n in rollup.counts(session, unit, span_plan, ("category",)).items()})
    if span_plan.live:
        filed.update(dict(session.execute(
            select(Case.category, func.count(Case.id)).join(OrgUnit, OrgUnit.id == Case.org_unit_id)
            .where(OrgUnit.path.startswith(unit.path), span_plan.live_moments(Case.created_at, dashboard.china_bounds))
            .group_by(Case.category)).all()))
    return filed


def _categories(session, unit, period, previous, live=False):
    now = _filed_by_category(session, unit, period, live)
    before = _filed_by_category(session, unit, previous, live)
    keys = sorted(set(now) | set(before), key=lambda k: (-now.get(k, 0), -before.get(k, 0), k or ""))
    return [(key or "other", now.get(key, 0), before.get(key, 0)) for key in keys]


def _levels(figures):
    closed = figures["closed_levels"]
    total = sum(closed.values())
    order = [level for level in LEVEL_ORDER if level in closed] + sorted(set(closed) - set(LEVEL_ORDER))
    return [(level, closed[level], closed[level] / total) for level in order]


# ---- the lists, as at a moment ----------------------------------------------------------------------

def overdue_steps(session, unit, moment, now=None, limit=LIST_LIMIT):
    """[OverdueStep] of `unit` and below overdue at `moment`, the longest overdue first, at most
    `limit`: the first of each part of dashboard.overdue_parts in the order of its index, merged."""
    now = now or Clock.now()
    rows = []
    for part in dashboard.overdue_parts(min(moment, now), now):
        rows += session.execute(
            select(Task.id, Task.case_id, Case.code, Case.category, Task.title, Task.org_unit_id, User.display_name,
                   Task.due_at, Task.completed_at)
            .join(OrgUnit, OrgUnit.id == Task.org_unit_id).join(Case, Case.id == Task.case_id)
            .outerjoin(User, User.id == Task.assignee_id)
            .where(OrgUnit.path.startswith(unit.path), part).order_by(Task.due_at, Task.id).limit(limit)).all()
    rows.sort(key=lambda row: (as_utc(row.due_at), row.id))
    rows = rows[:limit]
    units = _units(session, {row.org_unit_id for row in rows})
    return [OverdueStep(task_id, case_id, code, category or "other", title.split("（")[0], units[unit_id],
                        handler or "", as_utc(due), (moment - as_utc(due)).total_seconds() / 86400, as_utc(done))
            for task_id, case_id, code, category, title, unit_id, handler, due, done in rows]


def _units(session, ids):
    """{id: OrgUnit} of the units a list names: read once, not with each of its rows (a download
    lists thousands)."""
    return {found.id: found for found in session.scalars(select(OrgUnit).where(OrgUnit.id.in_(ids)))} if ids else {}


def red_cases(session, unit, moment, now=None, limit=LIST_LIMIT):
    """([RedCase], total): cases of `unit` and below open at `moment` whose risk was red then.
    The colour only rises by itself (a repeat visit); a case red now that was not red yet at
    `moment` (its last assessment before then says so) is left out. A colour lowered from red
    after `moment`, which only a clerk does with a reason, is not looked for.

    The cases are counted by what the red cases' index holds (on PostgreSQL), those not red then
    are looked up among the few risk assessments, and only the first `limit` are read in full: a
    county has thousands of red cases open, and the page lists a hundred."""
    now = now or Clock.now()
    units = select(OrgUnit.id).where(OrgUnit.path.startswith(unit.path)).scalar_subquery()
    picked = (Case.risk_level == "red", Case.created_at < moment, or_(Case.closed_at.is_(None), Case.closed_at >= moment),
              Case.org_unit_id.in_(units))
    total = session.scalar(select(func.count()).select_from(Case).where(*picked))
    not_red = _not_red_at(session, select(Case.id).where(*picked), moment) if moment < now and total else set()
    total -= len(not_red)
    # The first `limit` picked by the index alone, then read by their ids (the index walks the
    # cases closed before `moment` too, and reading each of those from the table cost more).
    first = select(Case.id).where(*picked, Case.id.not_in(not_red)).order_by(Case.created_at, Case.id).limit(limit)
    rows = session.execute(
        select(Case.id, Case.code, Case.category, Case.org_unit_id, Case.created_at, Case.current_step, Case.closed_at,
               Case.flagged_at).where(Case.id.in_(first.scalar_subquery()))
        .order_by(Case.created_at, Case.id)).all() if total and limit else []
    names = _units(session, {row.org_unit_id for row in rows})
    found = [RedCase(case_id, code, category or "other", names[unit_id], as_utc(filed), step or "", as_utc(closed),
                     flagged is not None)
             for case_id, code, category, unit_id, filed, step, closed, flagged in rows]
    return found, total


def _not_red_at(session, picked, moment):
    """The ids among the `picked` cases whose colour after their last assessment before `moment`
    (the last that names one) was not red."""
    level = func.coalesce(AuditEvent.detail["level"].as_string(), "")
    ranked = (select(AuditEvent.case_id, level.label("level"), func.row_number().over(
        partition_by=AuditEvent.case_id, order_by=AuditEvent.seq.desc()).label("n"))
        .where(AuditEvent.kind.in_(RISK_EVENTS), AuditEvent.at < moment, level != "",
               AuditEvent.case_id.in_(picked)).subquery("assessed"))
    return set(session.scalars(select(ranked.c.case_id).where(ranked.c.n == 1, ranked.c.level != "red")))
