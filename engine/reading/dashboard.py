"""What a supervisor reads at a glance: open, overdue and due-soon steps by unit (drillable down
the tree), by stage and by handler; and the figures the centers report for a period and a unit.
Everything is counted in the database (grouped queries over indexed columns); nothing loads
case states."""
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from sqlalchemy import Integer, and_, bindparam, case as when, cast as sa_cast, func, or_, select

from engine.legaltime.clock import CHINA, Clock, as_utc
from engine.errors import NotFound
from engine.library import catalog
from engine.persistence.models import Case, OrgUnit, ProcessVersion, RollupCount, Task, User
from engine.access.policy import unit_covers
from engine.reading import rollup
from engine.reading.queries import DUE_SOON, light_sums, listed_cases, red_now
from engine.persistence.states import CaseStatus, TaskState

RESOLVED_LEVELS = ("village", "township", "county")


def scope_unit(session, actor, unit_id=None):
    """The unit a supervisor looks at: their own, or one below it."""
    unit = session.get(OrgUnit, unit_id) if unit_id else session.get(OrgUnit, actor.unit_id)
    if unit is None or not unit_covers(actor.unit_path, unit.path):
        raise NotFound(unit_id)
    return unit


@dataclass
class Row:
    key: object
    label: str
    open: int = 0
    red: int = 0
    amber: int = 0
    unit: object = None
    extra: dict = field(default_factory=dict)


# The dashboard's statements, built once (building them cost more than running them), the unit
# and the moment bound on each call.
_UNIT_PATH = bindparam("b_unit_path")
_OPEN_GROUPS = (select(OrgUnit.path, Task.spec_id, Task.assignee_id, func.min(Task.title),
                       *light_sums(bindparam("b_now"), bindparam("b_soon")))
                .select_from(Task).join(OrgUnit, OrgUnit.id == Task.org_unit_id)
                .where(Task.state == TaskState.READY, OrgUnit.path.startswith(_UNIT_PATH))
                .group_by(OrgUnit.path, Task.spec_id, Task.assignee_id))
_CHILDREN = (select(OrgUnit).where(OrgUnit.parent_id == bindparam("b_unit"))
             .order_by(OrgUnit.level == "department", OrgUnit.code))
_FLAGGED = (select(Case).join(OrgUnit, OrgUnit.id == Case.org_unit_id).options(*listed_cases())
            .where(Case.flagged_at.is_not(None), OrgUnit.path.startswith(_UNIT_PATH))
            .order_by(Case.flagged_at).limit(bindparam("b_limit")))
# The partial index on the failed cases (ix_cases_failed) finds them without reading the rest.
_FAILED = (select(Case).join(OrgUnit, OrgUnit.id == Case.org_unit_id).options(*listed_cases())
           .where(Case.error.is_not(None), OrgUnit.path.startswith(_UNIT_PATH))
           .order_by(Case.updated_at.desc()).limit(bindparam("b_limit")))


def open_groups(session, unit, now=None):
    """The open steps of `unit` and below counted per unit, stage and handler, with their red and
    amber lights: the one pass over the open steps that the dashboard's three tables share."""
    now = now or Clock.now()
    return session.execute(_OPEN_GROUPS, {"b_unit_path": unit.path, "b_now": now, "b_soon": now + DUE_SOON}).all()


def open_tables(session, unit, now=None):
    """{"units", "stages", "handlers"}: the dashboard's tables from one pass over the open steps."""
    groups = open_groups(session, unit, now)
    return {"units": by_unit(session, unit, groups=groups), "stages": by_stage(session, unit, groups=groups),
            "handlers": by_handler(session, unit, groups=groups)}


def _summed(groups, key_of):
    """{key: [open, red, amber, smallest title]} over the groups."""
    sums = {}
    for path, spec_id, assignee_id, title, total, red, amber in groups:
        entry = sums.setdefault(key_of(path, spec_id, assignee_id), [0, 0, 0, title])
        entry[0], entry[1], entry[2] = entry[0] + total, entry[1] + (red or 0), entry[2] + (amber or 0)
        entry[3] = min(entry[3], title)
    return sums


def by_unit(session, unit, now=None, groups=None):
    """The unit's own steps, then each unit directly below with everything below it."""
    groups = open_groups(session, unit, now) if groups is None else groups
    children = session.scalars(_CHILDREN, {"b_unit": unit.id}).all()
    rows = [Row(unit.id, "", unit=unit)] + [Row(child.id, "", unit=child) for child in children]
    for path, (total, red, amber, _title) in _summed(groups, lambda path, _spec, _who: path).items():
        row = next((r for r in rows[1:] if path.startswith(r.unit.path)), rows[0] if path == unit.path else None)
        if row is not None:
            row.open, row.red, row.amber = row.open + total, row.red + red, row.amber + amber
    return rows


def by_stage(session, unit, now=None, groups=None):
    groups = open_groups(session, unit, now) if groups is None else groups
    sums = _summed(groups, lambda _path, spec_id, _who: spec_id)
    rows = [Row(spec_id, title.split("（")[0], total, red, amber) for spec_id, (total, red, amber, title) in sums.items()]
    return sorted(rows, key=lambda r: (-r.open, r.key))


def by_handler(session, unit, now=None, limit=200, groups=None):
    groups = open_groups(session, unit, now) if groups is None else groups
    sums = _summed(groups, lambda _path, _spec, assignee_id: assignee_id)
    names = dict(session.execute(select(User.id, User.display_name).where(
        User.id.in_([user_id for user_id in sums if user_id is not None]))).all()) if len(sums) > (None in sums) else {}
    rows = [Row(user_id, names.get(user_id) or "", total, red, amber) for user_id, (total, red, amber, _t) in sums.items()]
    return sorted(rows, key=lambda r: (-r.red, -r.open, r.key is not None, r.key or 0))[:limit]


def flagged_cases(session, unit, limit=100):
    return session.scalars(_FLAGGED, {"b_unit_path": unit.path, "b_limit": limit}).all()


def failed_cases(session, unit, limit=100):
    """Cases whose engine step failed (a broken script, say): the sweep marked them and went on."""
    return session.scalars(_FAILED, {"b_unit_path": unit.path, "b_limit": limit}).all()


# ---- indicators for a period -------------------------------------------------------------------

def period(start=None, end=None, today=None):
    """[start, end] as dates in China; by default the last 90 days up to today."""
    today = today or Clock.now().astimezone(CHINA).date()
    end = end or today
    start = start or end - timedelta(days=89)
    if start > end:
        start, end = end, start
    return start, end


def china_bounds(start, end):
    """The days [start, end] in China as [low, high) moments in UTC."""
    return (as_utc(datetime.combine(start, time(0, 0), CHINA)),
            as_utc(datetime.combine(end + timedelta(days=1), time(0, 0), CHINA)))


def _ratio(part, whole):
    return None if not whole else part / whole


CASE_MEASURES = ("kind", "outcome", "rating", "closed", "overdue")


def _span_plan(session, start, end, live, months=True):
    """The days read from the roll-up and those read live (all of them with `live`)."""
    return rollup.Plan(live=[(start, end)]) if live else rollup.plan(session, start, end, months)


def _live_case_measures(session, unit, filed_in):
    """The cases of `unit` and below filed when `filed_in` says, counted by each measure the
    roll-up keeps: one grouped pass (the combinations of the fields counted are few)."""
    groups = session.execute(
        select(Case.kind, Case.outcome, Case.satisfaction, Case.status, OrgUnit.level, Case.overdue, func.count(Case.id))
        .join(OrgUnit, OrgUnit.id == Case.org_unit_id).where(OrgUnit.path.startswith(unit.path), filed_in)
        .group_by(Case.kind, Case.outcome, Case.satisfaction, Case.status, OrgUnit.level, Case.overdue)).all()
    measures = Counter()
    for kind, outcome, satisfaction, status, level, overdue, n in groups:
        measures["kind", kind] += n
        if outcome:
            measures["outcome", outcome] += n
        if satisfaction:
            measures["rating", satisfaction] += n
        if status == CaseStatus.COMPLETED:
            measures["closed", level] += n
        if overdue:
            measures["overdue", None] += n
    return measures


def _of(measures, name):
    return {key: n for (measure, key), n in sorted(measures.items(), key=lambda item: str(item[0][1])) if measure == name}


def indicators(session, unit, start, end, overdue_at=None, live=False, overdue_steps=None):
    """The figures the centers report, for cases of `unit` and below filed in [start, end]: whole
    past days from the daily roll-up, the rest (today, days changed since they were rolled up)
    counted live (with `live`, every day), and one count of the steps overdue now (or at the
    moment `overdue_at`, for a report of a past period; or `overdue_steps` as already counted)."""
    low, high = china_bounds(start, end)
    span_plan = _span_plan(session, start, end, live)
    measures = Counter(rollup.counts(session, unit, span_plan, CASE_MEASURES))
    if span_plan.live:
        measures.update(_live_case_measures(session, unit, span_plan.live_moments(Case.created_at, china_bounds)))
    by_kind, outcomes, ratings, closed_levels = (_of(measures, name) for name in ("kind", "outcome", "rating", "closed"))
    filed, overdue_cases = sum(by_kind.values()), measures["overdue", None]
    closed = sum(closed_levels.values())
    if overdue_steps is None:
        overdue_steps = steps_overdue_count(session, unit, overdue_at)
    success, failure = outcomes.get("success", 0), outcomes.get("failure", 0)
    satisfied = ratings.get("satisfied", 0) + ratings.get("basically_satisfied", 0)
    litigated = litigated_cases(session, unit, low, high)
    population = unit_population(session, unit)
    return {
        "litigated": litigated, "population": population,
        "litigation_per_10k": None if not population else litigated * 10000 / population,
        "filed": filed, "by_kind": by_kind, "petitions": by_kind.get("petition", 0),
        "closed": closed, "closed_levels": closed_levels,
        "resolution_rate": _ratio(success, success + failure), "mediated": success + failure, "succeeded": success,
        "village_share": _ratio(closed_levels.get("village", 0), closed),
        "three_levels_share": _ratio(sum(closed_levels.get(level, 0) for level in RESOLVED_LEVELS), closed),
        "satisfaction_rate": _ratio(satisfied, sum(ratings.values())), "rated": sum(ratings.values()),
        "overdue_cases": overdue_cases, "overdue_steps": overdue_steps,
    }


def overdue_parts(moment, now):
    """The steps overdue at `moment` as conditions that each take the index on (state, due_at):
    the steps open now that were open then, past their deadline, the clock running; and the
    steps completed or cancelled since `moment` that were overdue then. At `moment` now, that is
    the red light. A deadline is the step's as it stands (an extension granted since counts)."""
    return [and_(state, rest) for state, rest in _overdue_conditions(moment, now)]


def _overdue_conditions(moment, now):
    """overdue_parts as (the steps' state, the rest of the condition) pairs."""
    if moment >= now:
        return [(Task.state == TaskState.READY, red_now(now))]
    return [(Task.state == TaskState.READY, and_(Task.due_at < moment, Task.created_at < moment,
                                                 or_(Task.clock_stopped_at.is_(None), Task.clock_stopped_at > moment))),
            (Task.state.in_((TaskState.COMPLETED, TaskState.CANCELLED)),
             and_(Task.due_at < moment, Task.completed_at >= moment, Task.created_at < moment))]


def steps_overdue_count(session, unit, moment=None, now=None):
    """How many steps of `unit` and below were overdue at `moment` (by default now)."""
    return steps_overdue_counts(session, unit, [moment], now)[0]


def steps_overdue_counts(session, unit, moments, now=None):
    """[how many steps of `unit` and below were overdue at each moment (None: now)]: one pass per
    part of overdue_parts for all the moments (a report counts at the end of its period and of
    the period before; a county has a few hundred thousand open steps to count)."""
    now = now or Clock.now()
    conditions = [_overdue_conditions(min(moment or now, now), now) for moment in moments]
    counts = [0] * len(moments)
    for position in range(max(len(parts) for parts in conditions)):
        having = [(i, parts[position]) for i, parts in enumerate(conditions) if position < len(parts)]
        state = having[0][1][0]
        # One moment is a plain count; several, a sum per moment over the steps any of them counts.
        columns = [func.count()] if len(having) == 1 else [func.sum(when((rest, 1), else_=0)) for _i, (_s, rest) in having]
        sums = session.execute(select(*columns)
                               .select_from(Task).join(OrgUnit, OrgUnit.id == Task.org_unit_id)
                               .where(OrgUnit.path.startswith(unit.path), state,
                                      or_(*[rest for _i, (_state, rest) in having]))).one()
        for (i, _part), n in zip(having, sums):
            counts[i] += n or 0
    return counts


# A step that records a filing in court carries this form, whatever pathway it is in (court link
# after failed mediation, a suit after an arbitration award or an administrative ruling).
LITIGATION_FORM = "litigation.json"


def litigated_cases(session, unit, low, high):
    """Cases of `unit` and below that went to litigation in [low, high): their court filing step
    was completed in the period."""
    return session.scalar(select(func.count(func.distinct(Task.case_id))).join(Case, Case.id == Task.case_id)
                          .join(OrgUnit, OrgUnit.id == Case.org_unit_id)
                          .where(Task.form_key == LITIGATION_FORM, Task.state == TaskState.COMPLETED,
                                 OrgUnit.path.startswith(unit.path),
                                 Task.completed_at >= low, Task.completed_at < high)) or 0


def unit_population(session, unit):
    """The unit's residents: its own figure, else the sum over the units directly below it when
    every one of them has one (departments hold no residents). None when not known."""
    if unit.population:
        return unit.population
    below = session.scalars(select(OrgUnit.population).where(OrgUnit.parent_id == unit.id,
                                                             OrgUnit.level != "department")).all()
    return sum(below) if below and all(below) else None


def _days_taken(session):
    """Completed minus created, in days, as SQL."""
    if rollup.dialect(session) == "postgresql":
        return func.extract("epoch", Task.completed_at - Task.created_at) / 86400.0
    return func.julianday(Task.completed_at) - func.julianday(Task.created_at)


def tenths_sql(session):
    """How long a step took, in tenths of a day, as SQL (the roll-up counts by the same)."""
    return sa_cast(func.round(_days_taken(session) * 10), Integer).label("tenths")


def stage_histogram_live(session, unit, completed_in):
    """[(step id, title, tenths, count)] of the steps of `unit` and below completed when
    `completed_in` says."""
    tenths = tenths_sql(session)
    return session.execute(select(Task.spec_id, func.min(Task.title), tenths, func.count(Task.id))
                           .join(OrgUnit, OrgUnit.id == Task.org_unit_id)
                           .where(Task.state == TaskState.COMPLETED, OrgUnit.path.startswith(unit.path), completed_in)
                           .group_by(Task.spec_id, tenths)).all()


def stage_times(session, unit, start, end, live=False):
    """Median and 90th percentile of how long each stage took (steps completed in the period), in
    days to a tenth, beside the legal period the diagram gives it. Steps are counted per stage and
    tenth of a day (a histogram, a few hundred rows): whole past days from the roll-up, the rest
    live; the ranks are read off it, so no step rows come back and nothing is sorted by duration."""
    span_plan = _span_plan(session, start, end, live)
    rows = []
    if span_plan.days or span_plan.months:
        rows += session.execute(select(RollupCount.key, func.min(RollupCount.title), RollupCount.tenths,
                                       func.sum(RollupCount.n))
                                .where(RollupCount.unit_id == unit.id, RollupCount.measure == "stage",
                                       span_plan.rolled())
                                .group_by(RollupCount.key, RollupCount.tenths)).all()
    if span_plan.live:
        rows += stage_histogram_live(session, unit, span_plan.live_moments(Task.completed_at, china_bounds))
    counted, titles = Counter(), {}
    for spec_id, title, bucket, n in rows:
        counted[spec_id, bucket or 0] += int(n)
        titles[spec_id] = min(title, titles.get(spec_id, title))
    histograms = {}
    for (spec_id, bucket), n in sorted(counted.items()):
        histograms.setdefault(spec_id, []).append((bucket, n))
    periods = _legal_periods(session)
    result = []
    for spec_id, histogram in histograms.items():
        total = sum(n for _bucket, n in histogram)
        result.append(Row(spec_id, titles[spec_id].split("（")[0], total, extra={
            "median": _nth(histogram, (total + 1) // 2) / 10, "p90": _nth(histogram, (total * 9 + 9) // 10) / 10,
            "legal": periods.get(spec_id)}))
    return sorted(result, key=lambda r: (-r.open, r.key))


def _nth(histogram, rank):
    """The value of the rank-th smallest (1-based) in a sorted [(value, count)] histogram."""
    seen = 0
    for value, count in histogram:
        seen += count
        if seen >= rank:
            return value
    return histogram[-1][0]


def _legal_periods(session):
    """{step id: the name of its deadline, e.g. "调解期限一个月"} from the newest version."""
    # The version's meta as kept in this process (catalog.version_info): decoding the row's JSON
    # again took more than the rest of the indicators page.
    newest = session.scalar(select(func.max(ProcessVersion.id)))
    meta = catalog.version_info(session, newest).meta if newest is not None else {}
    return {d["attached_to"]: d.get("name") for d in meta.get("deadlines", {}).values() if d.get("attached_to")}


def trend(session, unit, start, end, bucket="week", dimension="category", live=False):
    """Cases filed per day, week or month, split by category or by the unit directly below `unit`
    they belong to (the "dispute trend chart"). Counted in the database by bucket, whole past days
    from the roll-up's day rows; returns (bucket labels, {series: counts})."""
    span_plan = _span_plan(session, start, end, live, months=False)
    children = {child_id: (path, name) for child_id, path, name in session.execute(
        select(OrgUnit.id, OrgUnit.path, OrgUnit.name).where(OrgUnit.parent_id == unit.id))}
    measure = "child" if dimension == "place" else "category"
    rows = []
    if span_plan.days:
        label = rollup.bucket_sql(session, RollupCount.start, bucket, local=False).label("bucket")
        rolled = session.execute(select(label, RollupCount.key, func.sum(RollupCount.n))
                                 .where(RollupCount.unit_id == unit.id, RollupCount.measure == measure,
                                        span_plan.rolled()).group_by(label, RollupCount.key)).all()
        rows += [(text, _series_of(measure, key, children, unit), n) for text, key, n in rolled]
    if span_plan.live:
        rows += _trend_live(session, unit, span_plan.live_moments(Case.created_at, china_bounds), bucket, dimension,
                            children)
    labels = _buckets(start, end, bucket)
    index = {text: i for i, text in enumerate(labels)}
    series = {}
    for text, name, count in rows:
        if text not in index:
            continue
        counts = series.setdefault(name, [0] * len(labels))
        counts[index[text]] += int(count)
    return labels, dict(sorted(series.items(), key=lambda item: (-sum(item[1]), item[0])))


def _series_of(measure, key, children, unit):
    """A roll-up row's series: its category, or the name of the unit below (`unit`'s own cases
    under its own name)."""
    if measure == "category":
        return key or "other"
    return children[int(key)][1] if key and int(key) in children else unit.name


def _trend_live(session, unit, filed_in, bucket, dimension, children):
    label = rollup.bucket_sql(session, Case.created_at, bucket).label("bucket")
    in_scope = (OrgUnit.path.startswith(unit.path), filed_in)
    if dimension == "place":
        rows = session.execute(select(label, OrgUnit.path, func.count(Case.id)).join(OrgUnit, OrgUnit.id == Case.org_unit_id)
                               .where(*in_scope).group_by(label, OrgUnit.path)).all()
        name_of = lambda path: next((n for p, n in children.values() if path.startswith(p)), unit.name)  # noqa: E731
    else:
        rows = session.execute(select(label, Case.category, func.count(Case.id)).join(OrgUnit, OrgUnit.id == Case.org_unit_id)
                               .where(*in_scope).group_by(label, Case.category)).all()
        name_of = lambda category: category or "other"  # noqa: E731
    return [(text, name_of(key), count) for text, key, count in rows]


def _bucket_of(day, bucket):
    if bucket == "month":
        return f"{day:%Y-%m}"
    if bucket == "day":
        return f"{day:%Y-%m-%d}"
    monday = day - timedelta(days=day.weekday())
    return f"{monday:%Y-%m-%d}"


def _buckets(start, end, bucket):
    labels, day = [], start
    while day <= end:
        label = _bucket_of(day, bucket)
        if label not in labels:
            labels.append(label)
        day += timedelta(days=1)
    return labels
