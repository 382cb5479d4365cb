"""The daily roll-up of the indicators, kept by the scheduler (engine/cases/scheduler.py). Each
China day is rolled up once it has ended (and CLOSE_AFTER more, longer than any transaction, so
no write of that day is still on its way): for the day and for each unit with everything below
it, the cases filed that day counted by each measure the indicators show, and the steps
completed that day counted by stage and tenth of a day taken. A whole month is then summed from
its days. A write that changes a case of a past day marks that day and month stale in its own
transaction (engine/persistence/rollup_marks.py); the next pass rolls them up again. Every pass
is idempotent (a span's rows are deleted and written anew), and readers count live whatever is
not rolled up or stale (engine/reading/rollup.py), so the figures never depend on when it ran.

On a first start over an existing history, the passes fill the roll-up DAYS_PER_PASS days to a
transaction, oldest first, within a time budget per run, so the sweep is never held up long."""
import time
from collections import Counter
from datetime import date, timedelta

from sqlalchemy import and_, delete, func, insert, literal, or_, select

from engine.cases.acting import as_system
from engine.legaltime.clock import Clock, as_utc, china_date
from engine.persistence.models import Case, OrgUnit, RollupCount, RollupSpan, Task
from engine.persistence.rollup_marks import upsert_spans
from engine.persistence.states import CaseStatus, TaskState
from engine.reading.dashboard import china_bounds, tenths_sql
from engine.reading.rollup import DAY, MONTH, bucket_sql, month_end, ranges

CLOSE_AFTER = timedelta(minutes=10)
DAYS_PER_PASS = 31


def last_closed_day(now):
    """The last China day that ended at least CLOSE_AFTER before `now`."""
    return china_date(now - CLOSE_AFTER) - timedelta(days=1)


def refresh(session, now=None, budget_seconds=5.0):
    """Roll up the days and months that are missing or stale, until none is left or the budget is
    spent. Returns (days, months) rolled up."""
    now = now or Clock.now()
    last = last_closed_day(now)
    began, days_done, months_done = time.monotonic(), 0, 0
    while True:
        days = _days_to_roll(session, last)
        if days:
            with as_system(session):
                _roll_days(session, days)
            days_done += len(days)
        else:
            for month in _months_to_roll(session, last):
                with as_system(session):
                    months_done += _roll_month(session, month)
            return days_done, months_done
        if time.monotonic() - began > budget_seconds:
            return days_done, months_done


def _first_day(session):
    """The first of the month of the earliest filing or completed step: where the roll-up starts."""
    moments = [session.scalar(select(func.min(Case.created_at))), session.scalar(select(func.min(Task.completed_at)))]
    moments = [as_utc(m) for m in moments if m is not None]
    if not moments:
        return None
    first = china_date(min(moments))
    return date(first.year, first.month, 1)


def _days_to_roll(session, last, limit=DAYS_PER_PASS):
    """Up to `limit` closed days whose roll-up is stale or missing, oldest first."""
    first = _first_day(session)
    if first is None or first > last:
        return []
    stale = set(session.scalars(select(RollupSpan.start).where(RollupSpan.span == DAY, RollupSpan.stale > 0,
                                                               RollupSpan.start <= last)
                                .order_by(RollupSpan.start).limit(limit)))
    span_days = (last - first).days + 1
    present = session.scalar(select(func.count()).select_from(RollupSpan).where(
        RollupSpan.span == DAY, RollupSpan.start.between(first, last)))
    missing = []
    if present < span_days:
        have = set(session.scalars(select(RollupSpan.start).where(RollupSpan.span == DAY,
                                                                  RollupSpan.start.between(first, last))))
        missing = [first + timedelta(days=i) for i in range(span_days) if first + timedelta(days=i) not in have]
    return sorted(stale | set(missing[:limit]))[:limit]


def _months_to_roll(session, last):
    """The whole closed months whose month rows are stale or missing and whose days are all
    rolled up and fresh."""
    first = _first_day(session)
    if first is None:
        return []
    months = []
    month = first
    while month_end(month) <= last:
        months.append(month)
        month = month_end(month) + timedelta(days=1)
    if not months:
        return []
    done = set(session.scalars(select(RollupSpan.start).where(RollupSpan.span == MONTH, RollupSpan.stale == 0,
                                                              RollupSpan.start.in_(months))))
    fresh_days = Counter(date(d.year, d.month, 1) for d in session.scalars(
        select(RollupSpan.start).where(RollupSpan.span == DAY, RollupSpan.stale == 0,
                                       RollupSpan.start.between(months[0], month_end(months[-1])))))
    return [m for m in months if m not in done and fresh_days[m] == month_end(m).day]


def _claim(session, span, starts):
    """Mark the spans about to be rolled up fresh, first in the transaction: this waits for any
    writer that is marking one of them stale, so what is read next includes its change."""
    upsert_spans(session.connection(), [(span, start) for start in starts], 0, 0)


def _roll_days(session, days):
    _claim(session, DAY, days)
    connection = session.connection()
    runs = ranges(days)
    connection.execute(delete(RollupCount.__table__).where(RollupCount.span == DAY, or_(*[
        RollupCount.start.between(a, b) for a, b in runs])))
    chains = {unit_id: ([int(part) for part in path.strip("/").split("/") if part], level)
              for unit_id, path, level in connection.execute(select(OrgUnit.id, OrgUnit.path, OrgUnit.level))}
    counted, titles = Counter(), {}
    _count_cases(session, runs, chains, counted)
    _count_steps(session, runs, chains, counted, titles)
    rows = [dict(span=DAY, start=day, unit_id=unit_id, measure=measure, key=key, tenths=tenths, n=n,
                 title=titles.get((day, unit_id, key, tenths)) if measure == "stage" else None)
            for (day, unit_id, measure, key, tenths), n in counted.items()]
    if rows:
        connection.execute(insert(RollupCount.__table__), rows)


def _when(column, runs):
    return or_(*[and_(column >= low, column < high) for low, high in (china_bounds(a, b) for a, b in runs)])


def _count_cases(session, runs, chains, counted):
    """Each case counts for its own unit and every unit above it."""
    day = bucket_sql(session, Case.created_at, "day").label("day")
    fields = (Case.org_unit_id, Case.kind, Case.category, Case.outcome, Case.satisfaction, Case.status, Case.overdue)
    for text, unit_id, kind, category, outcome, satisfaction, status, overdue, n in session.execute(
            select(day, *fields, func.count(Case.id)).where(_when(Case.created_at, runs)).group_by(day, *fields)):
        on = date.fromisoformat(str(text))
        chain, level = chains[unit_id]
        for depth, scope in enumerate(chain):
            child = str(chain[depth + 1]) if depth + 1 < len(chain) else None
            measures = [("kind", kind), ("category", category), ("child", child)]
            measures += [("outcome", outcome)] if outcome else []
            measures += [("rating", satisfaction)] if satisfaction else []
            measures += [("closed", level)] if status == CaseStatus.COMPLETED else []
            measures += [("overdue", None)] if overdue else []
            for measure, key in measures:
                counted[on, scope, measure, key, None] += n


def _count_steps(session, runs, chains, counted, titles):
    day = bucket_sql(session, Task.completed_at, "day").label("day")
    tenths = tenths_sql(session)
    for text, unit_id, spec_id, bucket, title, n in session.execute(
            select(day, Task.org_unit_id, Task.spec_id, tenths, func.min(Task.title), func.count(Task.id))
            .where(Task.state == TaskState.COMPLETED, _when(Task.completed_at, runs))
            .group_by(day, Task.org_unit_id, Task.spec_id, tenths)):
        on = date.fromisoformat(str(text))
        for scope in chains[unit_id][0]:
            key = (on, scope, "stage", spec_id, bucket)
            counted[key] += n
            titles[on, scope, spec_id, bucket] = min(title, titles.get((on, scope, spec_id, bucket), title))


def _roll_month(session, month):
    """The month's rows summed from its day rows; nothing if one of its days went stale meanwhile."""
    _claim(session, MONTH, [month])
    last = month_end(month)
    fresh = session.scalar(select(func.count()).select_from(RollupSpan).where(
        RollupSpan.span == DAY, RollupSpan.stale == 0, RollupSpan.start.between(month, last)))
    if fresh != last.day:
        session.connection().execute(RollupSpan.__table__.update().where(
            RollupSpan.span == MONTH, RollupSpan.start == month).values(stale=RollupSpan.stale + 1))
        return 0
    connection = session.connection()
    connection.execute(delete(RollupCount.__table__).where(RollupCount.span == MONTH, RollupCount.start == month))
    day_rows = select(RollupCount.unit_id, RollupCount.measure, RollupCount.key, RollupCount.tenths,
                      func.min(RollupCount.title), func.sum(RollupCount.n)).where(
        RollupCount.span == DAY, RollupCount.start.between(month, last)).group_by(
        RollupCount.unit_id, RollupCount.measure, RollupCount.key, RollupCount.tenths)
    connection.execute(insert(RollupCount.__table__).from_select(
        ["unit_id", "measure", "key", "tenths", "title", "n", "span", "start"],
        select(*day_rows.subquery().c, literal(MONTH, RollupCount.span.type).label("span"),
               literal(month, RollupCount.start.type).label("start"))))
    return 1
