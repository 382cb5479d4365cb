"""The periodic report read from the daily roll-up is the report read from the cases and steps
themselves: on generated cases across a small tree (test_rollup.py's), weekly and monthly, for the
county, a township and a village, before and after a past day changes; and its lists and the
count of steps overdue at a period's end are those a plain reading of the rows gives."""
import random
from datetime import timedelta

import sqlalchemy as sa
import time_machine

from engine.cases import rollup as keeper
from engine.legaltime.clock import CHINA, as_utc
from engine.persistence.models import AuditEvent, Case, OrgUnit, Task
from engine.persistence.states import EventKind
from engine.reading import dashboard, period_report, rollup
from engine.reading.period_report import parse

from .test_rollup import NOW, WHOLE, _generate, _tree, _units_removed_after  # noqa: F401  (the tree goes after each test)

WEEK, MONTH = parse("week", "2026-W46", now=NOW), parse("month", "2026-10", now=NOW)


def _deadlines_and_risks(session):
    """Give some steps deadlines (some open, some done since), colour some cases red, and record
    risk assessments: some red before the periods' ends, some yellow then and raised to red after."""
    rnd = random.Random(46)
    for task_id, created in session.execute(sa.select(Task.id, Task.created_at).order_by(Task.id)).all():
        if rnd.random() < 0.6:
            due = as_utc(created) + timedelta(days=rnd.uniform(1, 25))
            stopped = due + timedelta(days=3) if rnd.random() < 0.1 else None
            session.execute(sa.update(Task).where(Task.id == task_id).values(due_at=due, clock_stopped_at=stopped))
    version = session.scalar(sa.select(Case.process_version_id).limit(1))
    events = []
    cases = session.execute(sa.select(Case.id, Case.created_at, Case.closed_at).order_by(Case.id)).all()
    for case_id, created, closed in cases:
        if rnd.random() < 0.3:
            session.execute(sa.update(Case).where(Case.id == case_id).values(risk_level="red"))
            first = as_utc(created) + timedelta(minutes=5)
            levels = [(first, rnd.choice(["red", "yellow", "blue"]))]
            if rnd.random() < 0.5:
                levels.append((first + timedelta(days=rnd.uniform(1, 60)), "red"))
            for seq, (at, level) in enumerate(levels, start=1):
                events.append(dict(case_id=case_id, seq=seq, at=at, actor_name="test",
                                   kind=EventKind.RISK_ASSESSED if seq == 1 else EventKind.RISK_REASSESSED,
                                   detail={"level": level}, process_version_id=version, prev_hash="0" * 64,
                                   hash=f"{case_id:032d}{seq:032d}"))
        if closed is None and rnd.random() < 0.5:
            session.execute(sa.update(Case).where(Case.id == case_id, Case.status == "completed").values(
                closed_at=as_utc(created) + timedelta(days=rnd.uniform(0, 40))))
    session.execute(sa.insert(AuditEvent.__table__), events)
    session.commit()


def _in(session, unit):
    return set(session.scalars(sa.select(OrgUnit.id).where(OrgUnit.path.startswith(unit.path))))


def _overdue_at(session, unit, moment):
    """The steps of `unit` and below overdue at `moment`, read plainly off the rows."""
    units, n = _in(session, unit), 0
    for state, unit_id, due, created, stopped, done in session.execute(sa.select(
            Task.state, Task.org_unit_id, Task.due_at, Task.created_at, Task.clock_stopped_at, Task.completed_at)):
        if unit_id not in units or due is None or not (as_utc(due) < moment and as_utc(created) < moment):
            continue
        if state == "ready":
            n += stopped is None or as_utc(stopped) > moment
        elif state in ("completed", "cancelled"):
            n += as_utc(done) >= moment
    return n


def _red_at(session, unit, moment):
    """The ids of the cases of `unit` and below open and red at `moment`, oldest first."""
    units = _in(session, unit)
    last = {}
    for case_id, detail in session.execute(sa.select(AuditEvent.case_id, AuditEvent.detail).where(
            AuditEvent.kind.in_(period_report.RISK_EVENTS), AuditEvent.at < moment).order_by(AuditEvent.seq)):
        last[case_id] = detail.get("level") or last.get(case_id)
    rows = session.execute(sa.select(Case.id, Case.created_at, Case.closed_at, Case.org_unit_id).where(
        Case.risk_level == "red")).all()
    return [case_id for case_id, created, closed, unit_id in sorted(rows, key=lambda r: (as_utc(r[1]), r[0]))
            if unit_id in units and as_utc(created) < moment and (closed is None or as_utc(closed) >= moment)
            and last.get(case_id, "red") == "red"]


def _assert_reports_match(session, units):
    for name in ("county", "town0", "village01"):
        for period in (WEEK, MONTH):
            unit = units[name]
            rolled = period_report.build(session, unit, period, now=NOW)
            live = period_report.build(session, unit, period, now=NOW, live=True)
            assert rolled == live, (name, period.code)
            end = period.bounds()[1]
            assert rolled.overdue_total == _overdue_at(session, unit, end)
            assert rolled.before["overdue_steps"] == _overdue_at(session, unit, period.previous().bounds()[1])
            red = _red_at(session, unit, end)
            assert (rolled.red_total, [c.case_id for c in rolled.red]) == (len(red), red[:period_report.LIST_LIMIT])
            short = period_report.build(session, unit, period, now=NOW, limit=3)
            assert [c.case_id for c in short.red] == red[:3] and short.red_total == len(red)


def _filed(report):
    return {code: n for code, n, _before in report.categories}


def test_the_report_from_the_roll_up_is_the_report_from_the_rows(session):
    with time_machine.travel(NOW, tick=False):
        units = _tree(session)
        _generate(session, units)
        _deadlines_and_risks(session)
        keeper.refresh(session, budget_seconds=60)
        assert rollup.plan(session, MONTH.previous().start, WEEK.end).live == []
        county = period_report.build(session, units["county"], MONTH, now=NOW)
        # Not a vacuous comparison: the lists and counts have something in them.
        assert county.overdue_total > 10 and county.red_total > 5 and sum(_filed(county).values()) > 50
        assert county.red_total < len(_red_at(session, units["county"], NOW)), "some were raised to red since"
        _assert_reports_match(session, units)

        # A supervisor of a township sees their villages' cases and not the other township's.
        town0, town1 = (period_report.build(session, units[name], MONTH, now=NOW) for name in ("town0", "town1"))
        assert 0 < sum(_filed(town0).values()) < sum(_filed(county).values())
        assert sum(_filed(town0).values()) + sum(_filed(town1).values()) < sum(_filed(county).values())
        assert {c.unit.id for c in town0.red} <= _in(session, units["town0"])
        assert {s.unit.id for s in town0.overdue} <= _in(session, units["town0"])

        # A case filed in the week, recategorised and moved to the other township after its day was
        # rolled up: its day is read live at once, then rolled up again by the next pass.
        low, high = WEEK.bounds()
        case = session.scalar(sa.select(Case).where(Case.org_unit_id.in_(_in(session, units["town0"])),
                                                    Case.created_at >= low, Case.created_at < high)
                              .order_by(Case.id).limit(1))
        before = _filed(period_report.build(session, units["town0"], WEEK, now=NOW))
        case.category, case.org_unit_id = "medical", units["village10"].id
        session.commit()
        day = as_utc(case.created_at).astimezone(CHINA).date()
        assert (day, day) in rollup.plan(session, WEEK.start, WEEK.end).live
        after = _filed(period_report.build(session, units["town0"], WEEK, now=NOW))
        assert sum(after.values()) == sum(before.values()) - 1
        _assert_reports_match(session, units)
        assert keeper.refresh(session, budget_seconds=WHOLE) == (1, 0), "that day again (November is not over)"
        assert rollup.plan(session, WEEK.start, WEEK.end).live == []
        assert _filed(period_report.build(session, units["town1"], WEEK, now=NOW)).get("medical", 0) >= 1
        _assert_reports_match(session, units)


def test_one_pass_counts_the_steps_overdue_at_several_moments(session):
    with time_machine.travel(NOW, tick=False):
        units = _tree(session)
        _generate(session, units)
        _deadlines_and_risks(session)
        moments = [WEEK.bounds()[1], MONTH.bounds()[1], None]
        counted = {}
        for name in ("county", "town1"):
            together = counted[name] = dashboard.steps_overdue_counts(session, units[name], moments)
            assert together == [dashboard.steps_overdue_count(session, units[name], m) for m in moments]
            assert together[:2] == [_overdue_at(session, units[name], m) for m in moments[:2]]
        assert counted["county"][0] != counted["county"][1] and 0 < counted["town1"][0] < counted["county"][0]
