"""The daily roll-up gives the indicators exactly the figures of the live queries: on generated
cases and steps across a small tree, for the county, a township and a village, over periods whose
edges fall at China midnight, before and after a late change to a past day."""
import random
from datetime import date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
import time_machine

from engine.cases import rollup as keeper
from engine.legaltime.clock import CHINA
from engine.persistence.models import Case, OrgUnit, ProcessVersion, RollupSpan, Task
from engine.reading import dashboard, rollup
from tests.conftest import wipe_cases

NOW = datetime(2026, 11, 20, 3, 0, tzinfo=timezone.utc)  # 11:00 on November 20th in China
TODAY = date(2026, 11, 20)
# A refresh's time budget is wall time: a loaded test machine must not cut a pass short here.
WHOLE = 3600
KINDS = ["dispute", "petition", "complaint", None]
CATEGORIES = ["neighbour", "traffic", "labour", None]


@pytest.fixture(autouse=True)
def _units_removed_after(session_factory):
    """The small tree these tests add under the county goes when each test ends (with the cases and
    roll-up rows that name it): other tests count the demo's units (the posters of every unit)."""
    yield
    wipe_cases(session_factory)
    cleanup = session_factory()
    try:
        # Villages before their townships (a unit's parent must still be there).
        for pattern in ("R-T_-V_", "R-T_"):
            cleanup.execute(sa.delete(OrgUnit).where(OrgUnit.code.like(pattern)))
        cleanup.commit()
    finally:
        cleanup.close()


def _unit(session, code, name, level, parent):
    """The unit with this code, or a new one under `parent`."""
    unit = session.scalar(sa.select(OrgUnit).where(OrgUnit.code == code))
    if unit is None:
        unit = OrgUnit(code=code, name=name, level=level, parent_id=parent.id)
        session.add(unit)
        session.flush()
        unit.path = f"{parent.path}{unit.id}/"
    return unit


def _tree(session):
    county = session.scalar(sa.select(OrgUnit).where(OrgUnit.code == "C01-Q"))
    units = {"county": county}
    for t in range(2):
        town = units[f"town{t}"] = _unit(session, f"R-T{t}", f"卷镇{t}", "township", county)
        for v in range(2):
            units[f"village{t}{v}"] = _unit(session, f"R-T{t}-V{v}", f"卷村{t}{v}", "village", town)
    session.commit()
    return units


def _generate(session, units):
    """About 400 cases over the 100 days before now, some of them on either side of a China
    midnight, with their completed steps (a few of them court filings)."""
    rnd = random.Random(14)
    version = session.scalar(sa.select(ProcessVersion.id).limit(1))
    places = list(units.values())
    cases, tasks = [], []
    edges = [datetime(2026, 10, 31, 15, 59, 59, tzinfo=timezone.utc), datetime(2026, 10, 31, 16, 0, tzinfo=timezone.utc),
             datetime(2026, 11, 19, 15, 59, 59, tzinfo=timezone.utc), datetime(2026, 11, 19, 16, 0, tzinfo=timezone.utc)]
    moments = edges + [NOW - timedelta(seconds=rnd.randint(0, 100 * 86400)) for _ in range(400)]
    for i, created in enumerate(moments):
        closed = rnd.random() < 0.7
        unit = rnd.choice(places)
        cases.append(dict(code=f"RU{i:05d}", process_version_id=version, org_unit_id=unit.id,
                          status="completed" if closed else "open", kind=rnd.choice(KINDS),
                          category=rnd.choice(CATEGORIES), outcome=rnd.choice(["success", "failure", None]) if closed else None,
                          satisfaction=rnd.choice(["satisfied", "basically_satisfied", "unsatisfied", None]) if closed else None,
                          overdue=rnd.random() < 0.2, state="", summary="", party_names="", contact_keys="",
                          current_step="", created_at=created, updated_at=created, lock_version=1, audit_seq=0,
                          audit_head="0" * 64))
    session.execute(sa.insert(Case.__table__), cases)
    for case_id, created, unit_id in session.execute(sa.select(Case.id, Case.created_at, Case.org_unit_id)):
        start = created if created.tzinfo else created.replace(tzinfo=timezone.utc)
        for j, spec in enumerate(rnd.sample(["Task_intake", "Task_mediate", "Task_close", "Task_sue"], 3)):
            done = start + timedelta(hours=rnd.randint(0, 30 * 24))
            completed = done < NOW - timedelta(hours=1)
            tasks.append(dict(case_id=case_id, spiff_task_id=f"t{j}", spec_id=spec, title=f"{spec}（第{j}轮）",
                              form_key="litigation.json" if spec == "Task_sue" else None, role="clerk",
                              org_unit_id=rnd.choice([unit_id, units["town0"].id]),
                              state="completed" if completed else "ready", due_provisional=False, extended_days=0,
                              created_at=start, completed_at=done if completed else None))
    session.execute(sa.insert(Task.__table__), tasks)
    session.commit()


PERIODS = [(date(2026, 8, 12), TODAY), (date(2026, 9, 1), date(2026, 10, 31)), (date(2026, 10, 31), date(2026, 10, 31)),
           (date(2026, 11, 1), date(2026, 11, 19)), (date(2026, 11, 19), TODAY), (date(2026, 9, 15), date(2026, 11, 3))]


def _figures(session, unit, start, end, live):
    stages = [(r.key, r.label, r.open, r.extra) for r in dashboard.stage_times(session, unit, start, end, live=live)]
    trends = [dashboard.trend(session, unit, start, end, bucket, by, live=live)
              for bucket in ("day", "week", "month") for by in ("category", "place")]
    return dashboard.indicators(session, unit, start, end, live=live), stages, trends


def _assert_same_as_live(session, units):
    for name in ("county", "town0", "village01", "town1"):
        for start, end in PERIODS:
            assert _figures(session, units[name], start, end, live=False) == \
                _figures(session, units[name], start, end, live=True), (name, start, end)


def test_the_roll_up_gives_the_live_figures(session):
    with time_machine.travel(NOW, tick=False):
        units = _tree(session)
        _generate(session, units)
        county = units["county"]
        assert keeper.refresh(session, budget_seconds=WHOLE)[0] > 90
        assert keeper.refresh(session, budget_seconds=WHOLE) == (0, 0)
        # Past days and whole months come from the roll-up; today alone is read live.
        span_plan = rollup.plan(session, date(2026, 8, 12), TODAY)
        assert span_plan.live == [(TODAY, TODAY)] and date(2026, 9, 1) in span_plan.months
        figures = dashboard.indicators(session, county, date(2026, 8, 12), TODAY)
        assert figures["filed"] == 404 and figures["closed"] > 200 and figures["litigated"] > 0
        # The China day of a moment: 23:59:59 on October 31st and midnight of November 1st.
        assert dashboard.indicators(session, county, date(2026, 10, 31), date(2026, 10, 31))["filed"] >= 2
        _assert_same_as_live(session, units)

        # A supervisor of a township sees their villages' cases and not the other township's.
        town = dashboard.indicators(session, units["town0"], date(2026, 8, 12), TODAY)["filed"]
        other = dashboard.indicators(session, units["town1"], date(2026, 8, 12), TODAY)["filed"]
        own = dashboard.indicators(session, county, date(2026, 8, 12), TODAY, live=True)["filed"] - town - other
        assert 0 < town < figures["filed"] and 0 < other and own > 0

        # A late change to a case filed weeks ago: closed with an outcome and rated, moved to
        # the other township. Its day is read live at once, and rolled up again by the next pass.
        case = session.scalar(sa.select(Case).where(Case.status == "open", Case.org_unit_id == units["village01"].id,
                                                    Case.created_at < datetime(2026, 10, 1, tzinfo=timezone.utc)))
        day = case.created_at.replace(tzinfo=timezone.utc).astimezone(CHINA).date()
        case.status, case.outcome, case.satisfaction = "completed", "success", "satisfied"
        case.org_unit_id = units["village10"].id
        session.commit()
        stale = session.scalars(sa.select(RollupSpan.span).where(RollupSpan.stale > 0)).all()
        assert sorted(stale) == ["day", "month"]
        assert (day, day) in rollup.plan(session, date(2026, 8, 12), TODAY).live
        _assert_same_as_live(session, units)
        assert keeper.refresh(session, budget_seconds=WHOLE) == (1, 1)
        assert rollup.plan(session, date(2026, 8, 12), TODAY).live == [(TODAY, TODAY)]
        _assert_same_as_live(session, units)
        after = dashboard.indicators(session, units["town1"], date(2026, 8, 12), TODAY)["filed"]
        assert after == other + 1


def test_a_day_is_rolled_up_once_it_has_closed(session):
    """Yesterday in China is rolled up ten minutes after China's midnight, not before."""
    with time_machine.travel(datetime(2026, 11, 19, 16, 5, tzinfo=timezone.utc), tick=False):
        units = _tree(session)
        _generate(session, units)
        keeper.refresh(session, budget_seconds=WHOLE)
        assert rollup.plan(session, date(2026, 11, 19), date(2026, 11, 19)).live == [(date(2026, 11, 19),) * 2]
    with time_machine.travel(datetime(2026, 11, 19, 16, 11, tzinfo=timezone.utc), tick=False):
        assert keeper.refresh(session, budget_seconds=WHOLE) == (1, 0)
        assert rollup.plan(session, date(2026, 11, 19), date(2026, 11, 19)).live == []
        _assert_same_as_live(session, units)


def test_moving_a_unit_makes_every_day_stale(session):
    with time_machine.travel(NOW, tick=False):
        units = _tree(session)
        _generate(session, units)
        keeper.refresh(session, budget_seconds=WHOLE)
        village = units["village01"]
        home = (village.parent_id, village.path)
        try:
            village.parent_id, village.path = units["town1"].id, f"{units['town1'].path}{village.id}/"
            session.commit()
            fresh = sa.select(sa.func.count()).select_from(RollupSpan).where(RollupSpan.stale == 0)
            assert session.scalar(fresh) == 0
            _assert_same_as_live(session, units)
            keeper.refresh(session, budget_seconds=WHOLE)
            assert session.scalar(fresh) > 90
            _assert_same_as_live(session, units)
        finally:
            village.parent_id, village.path = home
            session.commit()
