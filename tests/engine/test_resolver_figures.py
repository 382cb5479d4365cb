"""Each registered mediator's figures on constructed cases, with time moved by time-machine: matters
handled (completed, or lapsed in their hands), agreements, time against the legal period, ratings;
rounds of a reopened case counted each with its own outcome."""
from datetime import date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
import time_machine

from engine.cases import services
from engine.persistence.models import OrgUnit, Resolver, Task, User
from engine.reading import resolver_figures

from .helpers import (
    CLOSE, MEDIATION_FAILURE, MEDIATION_SUCCESS, REVIEW, VISIT_BAD, VISIT_OK, WINDOW_NO, actor, complete, file_matter,
    open_task, prefiling,
)

START = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)  # Monday 10:00 in China
REOPEN = dict(REVIEW, decision="reopen", finding="协议未履行，重新调解。")


def _unit(session, code):
    return session.scalar(sa.select(OrgUnit).where(OrgUnit.code == code))


def _user(session, username):
    return session.scalar(sa.select(User).where(User.username == username))


@pytest.fixture
def people(session):
    """Three mediators (two with logins, at the county and the township) and a lawyer, removed after."""
    county, township = _unit(session, "C01-Q"), _unit(session, "C01-Q-CG")
    rows = [Resolver(org_unit_id=county.id, user_id=None, name="测试甲", kind="mediator", employment="full_time",
                     committee="县人民调解委员会", specialties=["neighbour"]),
            Resolver(org_unit_id=township.id, user_id=None, name="测试乙", kind="mediator", employment="part_time",
                     committee="城关镇人民调解委员会", specialties=[]),
            Resolver(org_unit_id=county.id, name="测试丙", kind="mediator", employment="part_time"),
            Resolver(org_unit_id=county.id, name="测试律师", kind="lawyer")]
    # The demo registry may already link the demo mediators' logins: borrow them for the test.
    linked = {r.user_id: r for r in session.scalars(sa.select(Resolver).where(
        Resolver.user_id.in_([_user(session, "mediator").id, _user(session, "mediator_cg").id])))}
    saved = {user_id: r.id for user_id, r in linked.items()}
    for r in linked.values():
        r.user_id = None
    session.flush()
    rows[0].user_id, rows[1].user_id = _user(session, "mediator").id, _user(session, "mediator_cg").id
    session.add_all(rows)
    session.commit()
    yield {r.name: r for r in rows}
    session.rollback()
    for r in rows:
        session.delete(session.get(Resolver, r.id))
    session.flush()
    for user_id, resolver_id in saved.items():
        session.get(Resolver, resolver_id).user_id = user_id
    session.commit()


def _at(traveller, days):
    traveller.move_to(START + timedelta(days=days))


def _by_name(figures):
    return {f.name: f for f in figures}


def test_figures_per_mediator(session, people):
    with time_machine.travel(START, tick=False) as traveller:
        quick, failed, medical, late = (file_matter(session), file_matter(session),
                                        file_matter(session, category="medical"), file_matter(session))
        township_case = file_matter(session, username="clerk_cg")
        held = open_task(session, medical.id, "Task_mediate_medical")
        services.claim_task(session, actor(session, "mediator"), held.id)
        _at(traveller, 2)
        complete(session, "mediator", quick.id, "Task_mediate", MEDIATION_SUCCESS)
        complete(session, "mediator", quick.id, "Task_confirm_window", WINDOW_NO)
        complete(session, "clerk", quick.id, "Task_close", CLOSE)
        complete(session, "clerk", quick.id, "Task_visit", VISIT_OK)
        _at(traveller, 5)
        complete(session, "mediator_cg", township_case.id, "Task_mediate", MEDIATION_SUCCESS)
        _at(traveller, 10)
        complete(session, "mediator", failed.id, "Task_mediate", MEDIATION_FAILURE)
        # One month passes on `late` (the supervisor is called in), then it ends in agreement on day 40.
        _at(traveller, 31)
        services.fire_due_timers(session)
        _at(traveller, 40)
        complete(session, "mediator", late.id, "Task_mediate", MEDIATION_SUCCESS)
        # The medical period (30 working days, to 2027-01-05) lapses in the mediator's hands.
        _at(traveller, 44)
        services.fire_due_timers(session)
        assert session.scalar(sa.select(Task.state).where(Task.id == held.id)) == "cancelled"

        county = _unit(session, "C01-Q")
        figures = _by_name(resolver_figures.mediator_figures(session, county, date(2026, 11, 1), date(2027, 2, 1)))
    assert "测试律师" not in figures and {"测试甲", "测试乙", "测试丙"} <= set(figures)
    a = figures["测试甲"]
    assert (a.handled, a.succeeded, a.failed, a.lapsed) == (4, 2, 2, 1)
    assert a.success_rate == 0.5
    # Within the period: the two-day and ten-day ones; not the one finished on day 40, nor the lapsed one.
    assert (a.timed, a.within_period, a.within_share) == (4, 2, 0.5)
    assert a.median_days == 10.0  # 2, 10, 40, 43.6 days: the second of four
    assert 29 <= a.median_period_days <= 44
    assert (a.rated, a.satisfied, a.satisfaction_rate, a.ratings) == (1, 1, 1.0, {"satisfied": 1})
    b = figures["测试乙"]
    assert (b.handled, b.succeeded, b.within_period, b.median_days, b.rated) == (1, 1, 1, 5.0, 0)
    c = figures["测试丙"]
    assert (c.handled, c.success_rate, c.median_days, c.satisfaction_rate) == (0, None, None, None)


def test_period_unit_and_one_mediator(session, people):
    with time_machine.travel(START, tick=False) as traveller:
        first, second = file_matter(session), file_matter(session)
        township_case = file_matter(session, username="clerk_cg")
        _at(traveller, 2)
        complete(session, "mediator", first.id, "Task_mediate", MEDIATION_SUCCESS)
        complete(session, "mediator_cg", township_case.id, "Task_mediate", MEDIATION_FAILURE)
        _at(traveller, 9)  # Tuesday 2026-12-02 in China
        complete(session, "mediator", second.id, "Task_mediate", MEDIATION_FAILURE)
    county, township = _unit(session, "C01-Q"), _unit(session, "C01-Q-CG")
    # [start, end): December 2nd is out of a period that ends on it.
    november = _by_name(resolver_figures.mediator_figures(session, county, date(2026, 11, 1), date(2026, 12, 2)))
    assert (november["测试甲"].handled, november["测试甲"].succeeded) == (1, 1)
    to_the_minute = resolver_figures.mediator_figures(session, county, START, START + timedelta(days=9, minutes=1))
    assert _by_name(to_the_minute)["测试甲"].handled == 2
    below = resolver_figures.mediator_figures(session, township, date(2026, 11, 1), date(2027, 1, 1))
    # The township's own mediators (the test's, and the demo's with no steps): never the county's.
    assert [(f.name, f.handled, f.succeeded) for f in below if f.name.startswith("测试")] == [("测试乙", 1, 0)]
    assert all(f.unit_name != "清河县" and (f.handled == 0 or f.name == "测试乙") for f in below)
    one = resolver_figures.mediator_figures(session, county, date(2026, 11, 1), date(2027, 1, 1),
                                            resolver_id=people["测试甲"].id)
    assert [(f.name, f.handled, f.succeeded, f.success_rate) for f in one] == [("测试甲", 2, 1, 0.5)]
    # Someone outside the unit asked for is not found through it.
    assert resolver_figures.mediator_figures(session, township, date(2026, 11, 1), date(2027, 1, 1),
                                             resolver_id=people["测试甲"].id) == []


def test_each_round_of_a_reopened_case_counts_with_its_own_outcome(session, people):
    with time_machine.travel(START, tick=False) as traveller:
        case = file_matter(session)
        _at(traveller, 1)
        complete(session, "mediator", case.id, "Task_mediate", MEDIATION_FAILURE)
        complete(session, "dept_court", case.id, "Task_prefiling", prefiling("no_suit"))
        complete(session, "clerk", case.id, "Task_close", CLOSE)
        complete(session, "clerk", case.id, "Task_visit", VISIT_BAD)
        complete(session, "supervisor", case.id, "Task_review", REOPEN)
        _at(traveller, 3)
        complete(session, "mediator", case.id, "Task_mediate", MEDIATION_SUCCESS)
    county = _unit(session, "C01-Q")
    a = _by_name(resolver_figures.mediator_figures(session, county, date(2026, 11, 1), date(2027, 1, 1)))["测试甲"]
    assert (a.handled, a.succeeded, a.failed) == (2, 1, 1)
    # One case, rated once (unsatisfied, in its first round).
    assert (a.rated, a.satisfied, a.ratings) == (1, 0, {"unsatisfied": 1})


def test_a_constant_number_of_queries(session, people):
    with time_machine.travel(START, tick=False) as traveller:
        cases = [file_matter(session) for _ in range(3)]
        _at(traveller, 1)
        for case in cases:
            complete(session, "mediator", case.id, "Task_mediate", MEDIATION_SUCCESS)
    statements = []

    def seen(_conn, _cursor, statement, *_args):
        statements.append(statement)

    bind, county = session.get_bind(), _unit(session, "C01-Q")
    sa.event.listen(bind, "before_cursor_execute", seen)
    try:
        figures = resolver_figures.mediator_figures(session, county, date(2026, 11, 1), date(2027, 1, 1))
    finally:
        sa.event.remove(bind, "before_cursor_execute", seen)
    assert _by_name(figures)["测试甲"].handled == 3
    # The mediators, the counts, two histograms and the ratings, however many steps there are.
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 5
