"""Reading the daily roll-up (kept by the sweep, engine/cases/rollup.py). A period of China days
is split into what the roll-up answers (whole months and days rolled up and not stale since) and
what is read live (today, a day not rolled up yet, a day a write has changed since), so the
figures are those of the live queries whatever the roll-up's state."""
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import scoped_session

from engine.persistence.models import RollupCount, RollupSpan

DAY, MONTH = "day", "month"


def dialect(session):
    return session.get_bind().dialect.name


def bucket_sql(session, column, bucket, local=True):
    """The China-time day, week (its Monday) or month of a moment column (a date column with
    `local` False), as text, in SQL."""
    if dialect(session) == "postgresql":
        value = func.timezone("Asia/Shanghai", column) if local else column
        if bucket == "month":
            return func.to_char(value, "YYYY-MM")
        if bucket == "day":
            return func.to_char(value, "YYYY-MM-DD")
        return func.to_char(func.date_trunc("week", value), "YYYY-MM-DD")
    shift = ("+8 hours",) if local else ()
    if bucket == "month":
        return func.strftime("%Y-%m", column, *shift)
    if bucket == "day":
        return func.date(column, *shift)
    return func.date(column, *shift, "-6 days", "weekday 1")


def month_end(first):
    return (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def ranges(days):
    """Sorted days as [(first, last)] runs of consecutive days."""
    runs = []
    for day in sorted(days):
        if runs and runs[-1][1] + timedelta(days=1) == day:
            runs[-1][1] = day
        else:
            runs.append([day, day])
    return [tuple(run) for run in runs]


@dataclass
class Plan:
    months: list = field(default_factory=list)  # first days of whole months read from month rows
    days: list = field(default_factory=list)  # [(first, last)] read from day rows
    live: list = field(default_factory=list)  # [(first, last)] read from the cases and steps

    def rolled(self):
        """The roll-up rows of the planned spans, as a condition."""
        parts = [and_(RollupCount.span == DAY, RollupCount.start.between(a, b)) for a, b in self.days]
        if self.months:
            parts.append(and_(RollupCount.span == MONTH, RollupCount.start.in_(self.months)))
        return or_(*parts)

    def live_moments(self, column, bounds):
        """The live days as a condition on a moment column; `bounds` turns (first, last) days
        into [low, high) moments."""
        return or_(*[and_(column >= low, column < high) for low, high in (bounds(a, b) for a, b in self.live)])


_FRESH = "rollup_fresh_spans"


def _fresh(session, low, end):
    """The spans rolled up and not stale since, starting from `low` to `end`: read once per
    transaction (a page plans several figures over the same days), never kept beyond it."""
    if isinstance(session, scoped_session):
        session = session()  # the web layer's request-scoped session
    transaction = session.get_transaction()
    cached = session.info.get(_FRESH)
    if cached is not None and transaction is not None and cached[0] is transaction and (low, end) in cached[1]:
        return cached[1][(low, end)]
    found = set(session.execute(select(RollupSpan.span, RollupSpan.start).where(
        RollupSpan.stale == 0, RollupSpan.start >= low, RollupSpan.start <= end)).all())
    transaction = session.get_transaction()
    if cached is None or cached[0] is not transaction:
        cached = session.info[_FRESH] = (transaction, {})
    cached[1][(low, end)] = found
    return found


def plan(session, start, end, months=True):
    """Which parts of the China days [start, end] the roll-up answers. With `months`, a whole
    month inside the period that is rolled up as a month is read from its month rows."""
    fresh = _fresh(session, date(start.year, start.month, 1), end)
    whole, covered = [], set()
    if months:
        first = date(start.year, start.month, 1)
        while first <= end:
            last = month_end(first)
            if first >= start and last <= end and (MONTH, first) in fresh:
                whole.append(first)
                covered.update(first + timedelta(days=i) for i in range((last - first).days + 1))
            first = last + timedelta(days=1)
    rolled, live = [], []
    day = start
    while day <= end:
        if day not in covered:
            (rolled if (DAY, day) in fresh else live).append(day)
        day += timedelta(days=1)
    return Plan(whole, ranges(rolled), ranges(live))


def counts(session, unit, span_plan, measures):
    """{(measure, key): count} of the roll-up for `unit` and below over the planned spans."""
    if not (span_plan.days or span_plan.months):
        return {}
    rows = session.execute(select(RollupCount.measure, RollupCount.key, func.sum(RollupCount.n))
                           .where(RollupCount.unit_id == unit.id, RollupCount.measure.in_(measures),
                                  span_plan.rolled())
                           .group_by(RollupCount.measure, RollupCount.key)).all()
    return {(measure, key): int(n) for measure, key, n in rows}
