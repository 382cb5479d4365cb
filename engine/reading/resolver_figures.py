"""What each registered mediator did in a period: matters handled, how many ended in agreement,
time taken against the legal period, and how the parties rated the cases.

A matter handled is a people's-mediation step (a step of the mediator's role with the mediation
form) that the mediator's login finished in the period: completed by them, or lapsed in their hands
(a medical or labour mediation whose period ran out cancels the step, and the law counts it as no
agreement: 医疗纠纷预防和处理条例 第三十八条, 劳动争议调解仲裁法 第十四条). Its outcome is the
`outcome` the mediator recorded on that step's form (mediation.json: success or failure), read from
the step's completion in the case's history; a case mediated in two rounds counts twice, each with
its own outcome. The time is from the step's opening to its end, against its deadline as it stood
at the end (extensions and stopped clocks included). Satisfaction is the case's return-visit rating
(Case.satisfaction) of the cases they handled.

Everything is counted in the database with a constant number of grouped queries, whatever the
number of mediators or steps; a mediator with no linked login has no steps and counts zero."""
from dataclasses import dataclass, field
from datetime import date, datetime, time

from sqlalchemy import Integer, and_, case as when, cast as sa_cast, func, or_, select

from engine.legaltime.clock import CHINA, as_utc
from engine.persistence.models import AuditEvent, Case, OrgUnit, Resolver, Task
from engine.persistence.states import EventKind, TaskState
from engine.reading.dashboard import _nth

# The step a mediator mediates on: its form, and the role of its lane. The traffic police's own
# mediation uses the same form but is a department's step, not a registered mediator's.
MEDIATION_FORM = "mediation.json"
MEDIATOR_ROLE = "mediator"
MEDIATOR_KIND = "mediator"
SATISFIED = ("satisfied", "basically_satisfied")


@dataclass
class MediatorFigures:
    resolver_id: int
    name: str
    unit_id: int
    unit_name: str
    user_id: int | None
    employment: str | None
    committee: str
    grade: str | None
    active: bool
    handled: int = 0
    succeeded: int = 0
    # Steps that lapsed in the mediator's hands (no agreement by law), among `handled`.
    lapsed: int = 0
    # Steps with a deadline, and of those, finished by it.
    timed: int = 0
    within_period: int = 0
    median_days: float | None = None
    # The median legal period of their steps, in days (about 30 for one month, 15 for labour).
    median_period_days: float | None = None
    rated: int = 0
    satisfied: int = 0
    ratings: dict = field(default_factory=dict)

    @property
    def failed(self):
        return self.handled - self.succeeded

    @property
    def success_rate(self):
        return _ratio(self.succeeded, self.handled)

    @property
    def within_share(self):
        return _ratio(self.within_period, self.timed)

    @property
    def satisfaction_rate(self):
        return _ratio(self.satisfied, self.rated)


def _ratio(part, whole):
    return None if not whole else part / whole


def _instant(value):
    """A date is its first moment in China; a datetime is taken as it is (naive = UTC)."""
    if isinstance(value, datetime):
        return as_utc(value)
    if isinstance(value, date):
        return as_utc(datetime.combine(value, time(0, 0), CHINA))
    raise TypeError(f"a date or datetime, not {value!r}")


def _days(session, later, earlier):
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", later - earlier) / 86400.0
    return func.julianday(later) - func.julianday(earlier)


def _tenths(expression):
    return sa_cast(func.round(expression * 10), Integer)


def mediator_figures(session, unit, start, end, resolver_id=None, active=None):
    """[MediatorFigures] for the mediators registered at `unit` (an OrgUnit) and the units below
    it, for steps finished in [start, end) (dates in China, or aware datetimes), in the order of
    their unit and name. `resolver_id` narrows it to one mediator (still within `unit`); `active`
    True/False keeps only the active/inactive ones (None: all)."""
    low, high = _instant(start), _instant(end)
    people = (select(Resolver, OrgUnit.name).join(OrgUnit, OrgUnit.id == Resolver.org_unit_id)
              .where(Resolver.kind == MEDIATOR_KIND, OrgUnit.path.startswith(unit.path)))
    if resolver_id is not None:
        people = people.where(Resolver.id == resolver_id)
    if active is not None:
        people = people.where(Resolver.active.is_(active))
    rows = session.execute(people.order_by(OrgUnit.path, Resolver.name, Resolver.id)).all()
    figures = [MediatorFigures(resolver_id=r.id, name=r.name, unit_id=r.org_unit_id, unit_name=unit_name,
                               user_id=r.user_id, employment=r.employment, committee=r.committee or "",
                               grade=r.grade, active=r.active) for r, unit_name in rows]
    by_user = {f.user_id: f for f in figures if f.user_id is not None}
    if by_user:
        _count(session, by_user, low, high)
    return figures


def _handled_steps(session, user_ids, low, high):
    """The mediation steps finished in [low, high) by the given logins, as a subquery: each with
    its handler, its case, and whether it lapsed."""
    handler = func.coalesce(Task.completed_by, Task.assignee_id)
    lapsed = and_(Task.state == TaskState.CANCELLED, Task.due_at.is_not(None), Task.completed_at >= Task.due_at)
    return (select(Task.id.label("task_id"), Task.case_id, Task.spec_id, Task.created_at, Task.completed_at,
                   Task.due_at, handler.label("handler"), when((lapsed, 1), else_=0).label("lapsed"))
            .where(Task.form_key == MEDIATION_FORM, Task.role == MEDIATOR_ROLE,
                   Task.completed_at >= low, Task.completed_at < high,
                   or_(and_(Task.state == TaskState.COMPLETED, Task.completed_by.in_(user_ids)),
                       and_(lapsed, Task.assignee_id.in_(user_ids))))
            .subquery("handled"))


def _outcomes(handled):
    """Each completed step's recorded outcome: the n-th completion of a step in a case is the n-th
    completion event of that step in the case's history (rounds of a reopened case repeat steps)."""
    ranked_steps = (select(Task.id.label("task_id"), func.row_number().over(
        partition_by=(Task.case_id, Task.spec_id), order_by=(Task.completed_at, Task.id)).label("n"))
        .where(Task.state == TaskState.COMPLETED, Task.form_key == MEDIATION_FORM,
               Task.case_id.in_(select(handled.c.case_id)))
        .subquery("ranked_steps"))
    step_of = select(Task.id, Task.case_id, Task.spec_id).subquery("step_of")
    ranked_events = (select(AuditEvent.case_id, AuditEvent.task_spec,
                            AuditEvent.detail[("data", "outcome")].as_string().label("outcome"),
                            func.row_number().over(partition_by=(AuditEvent.case_id, AuditEvent.task_spec),
                                                   order_by=AuditEvent.seq).label("n"))
                     .where(AuditEvent.kind == EventKind.TASK_COMPLETED,
                            AuditEvent.case_id.in_(select(handled.c.case_id)))
                     .subquery("ranked_events"))
    return (select(ranked_steps.c.task_id, ranked_events.c.outcome)
            .join(step_of, step_of.c.id == ranked_steps.c.task_id)
            .join(ranked_events, and_(ranked_events.c.case_id == step_of.c.case_id,
                                      ranked_events.c.task_spec == step_of.c.spec_id,
                                      ranked_events.c.n == ranked_steps.c.n))
            .subquery("outcomes"))


def _count(session, by_user, low, high):
    handled = _handled_steps(session, sorted(by_user), low, high)
    outcomes = _outcomes(handled)
    in_time = and_(handled.c.due_at.is_not(None), handled.c.completed_at <= handled.c.due_at,
                   handled.c.lapsed == 0)
    for user_id, total, succeeded, lapsed, timed, within in session.execute(
            select(handled.c.handler, func.count(),
                   func.sum(when((and_(handled.c.lapsed == 0, outcomes.c.outcome == "success"), 1), else_=0)),
                   func.sum(handled.c.lapsed),
                   func.sum(when((handled.c.due_at.is_not(None), 1), else_=0)),
                   func.sum(when((in_time, 1), else_=0)))
            .outerjoin(outcomes, outcomes.c.task_id == handled.c.task_id)
            .group_by(handled.c.handler)):
        figures = by_user[user_id]
        figures.handled, figures.succeeded, figures.lapsed = total, succeeded or 0, lapsed or 0
        figures.timed, figures.within_period = timed or 0, within or 0

    taken = _tenths(_days(session, handled.c.completed_at, handled.c.created_at)).label("tenths")
    allowed = _tenths(_days(session, handled.c.due_at, handled.c.created_at)).label("tenths")
    for attribute, tenths, condition in (("median_days", taken, True),
                                         ("median_period_days", allowed, handled.c.due_at.is_not(None))):
        histograms = {}
        for user_id, bucket, n in session.execute(select(handled.c.handler, tenths, func.count())
                                                  .where(condition).group_by(handled.c.handler, tenths)):
            histograms.setdefault(user_id, []).append((bucket or 0, n))
        for user_id, histogram in histograms.items():
            histogram.sort()
            total = sum(n for _bucket, n in histogram)
            setattr(by_user[user_id], attribute, _nth(histogram, (total + 1) // 2) / 10)

    # Each case once per mediator, however many rounds they mediated it.
    cases = select(handled.c.handler, handled.c.case_id).distinct().subquery("their_cases")
    for user_id, rating, n in session.execute(
            select(cases.c.handler, Case.satisfaction, func.count())
            .join(Case, Case.id == cases.c.case_id).where(Case.satisfaction.is_not(None))
            .group_by(cases.c.handler, Case.satisfaction)):
        figures = by_user[user_id]
        figures.ratings[rating] = n
        figures.rated += n
        figures.satisfied += n if rating in SATISFIED else 0

