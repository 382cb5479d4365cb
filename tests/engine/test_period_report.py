"""The periodic report's periods (days, ISO weeks from Monday, calendar months, all in China time;
the period before) and its figures and lists on constructed cases moved through time."""
from datetime import date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
import time_machine

from engine.persistence.models import Case, OrgUnit, Task
from engine.reading import period_report
from engine.reading.period_report import BadPeriod, Period, last_complete, parse, period_of

from .helpers import MEDIATION_SUCCESS, complete, file_matter
from .test_resolver_figures import people  # noqa: F401  (three registered mediators, removed after)


def china(y, m, d, hh=0, mm=0):
    """A moment given in China time, as UTC."""
    return datetime(y, m, d, hh, mm, tzinfo=timezone(timedelta(hours=8))).astimezone(timezone.utc)


def county(session):
    return session.scalar(sa.select(OrgUnit).where(OrgUnit.code == "C01-Q"))


# ---- periods --------------------------------------------------------------------------------------

def test_a_week_runs_monday_to_sunday_and_is_written_as_its_iso_week():
    week = period_of("week", date(2026, 11, 29))  # a Sunday
    assert (week.start, week.end, week.code) == (date(2026, 11, 23), date(2026, 11, 29), "2026-W48")
    assert period_of("week", date(2026, 11, 23)) == week
    assert week.previous() == Period("week", date(2026, 11, 16), date(2026, 11, 22))
    assert week.following().start == date(2026, 11, 30)
    # 2026 has 53 ISO weeks; its last one ends in 2027, and 2027-01-01 belongs to it.
    last = parse("week", "2026-W53", now=china(2027, 6, 1))
    assert (last.start, last.end) == (date(2026, 12, 28), date(2027, 1, 3))
    assert period_of("week", date(2027, 1, 1)) == last and last.following().code == "2027-W01"
    with pytest.raises(BadPeriod):
        parse("week", "2025-W53", now=china(2027, 6, 1))  # 2025 has 52


def test_months_are_calendar_months_and_the_one_before_may_be_last_year():
    feb = parse("month", "2028-02", now=china(2028, 6, 1))
    assert (feb.start, feb.end) == (date(2028, 2, 1), date(2028, 2, 29))  # a leap year
    assert parse("month", "2026-03", now=china(2026, 6, 1)).previous() == Period("month", date(2026, 2, 1), date(2026, 2, 28))
    january = period_of("month", date(2027, 1, 15))
    assert january.previous() == Period("month", date(2026, 12, 1), date(2026, 12, 31))
    assert january.code == "2027-01" and period_of("month", date(2026, 12, 31)).following() == january
    day = parse("day", "2027-01-01", now=china(2027, 1, 1, 9))
    assert day.previous() == Period("day", date(2026, 12, 31), date(2026, 12, 31))


def test_the_bounds_are_midnight_in_china():
    low, high = period_of("day", date(2026, 11, 23)).bounds()
    assert low == datetime(2026, 11, 22, 16, 0, tzinfo=timezone.utc)
    assert high == datetime(2026, 11, 23, 16, 0, tzinfo=timezone.utc)


def test_the_last_complete_period_is_counted_in_china_time():
    # 15:30 UTC on Sunday is 23:30 in China: the week is not over yet.
    sunday_night = datetime(2026, 11, 29, 15, 30, tzinfo=timezone.utc)
    assert last_complete("week", sunday_night).code == "2026-W47"
    # An hour later it is Monday in China (still Sunday in UTC): the week just ended is the last.
    monday_early = datetime(2026, 11, 29, 16, 30, tzinfo=timezone.utc)
    assert last_complete("week", monday_early).code == "2026-W48"
    assert last_complete("day", monday_early).code == "2026-11-29"
    assert last_complete("month", datetime(2026, 11, 30, 16, 30, tzinfo=timezone.utc)).code == "2026-11"
    assert last_complete("month", datetime(2026, 11, 30, 15, 30, tzinfo=timezone.utc)).code == "2026-10"
    with time_machine.travel(monday_early, tick=False):
        assert parse("week", None).code == "2026-W48", "no period given: the last complete one"


@pytest.mark.parametrize("kind, code", [("week", "2026-48"), ("week", "2026-W60"), ("month", "2026-13"),
                                        ("day", "2026-02-30"), ("day", "26-11-23"), ("month", "1999-12"),
                                        ("day", "2026-12-01"), ("year", "2026")])
def test_what_names_no_period_is_refused_with_a_reason(kind, code):
    with pytest.raises(BadPeriod) as refused:
        parse(kind, code, now=china(2026, 11, 30, 10))
    assert str(refused.value)


def test_the_period_still_running_may_be_asked_for():
    now = china(2026, 11, 30, 10)
    assert parse("week", "2026-W49", now=now).start == date(2026, 11, 30)
    with pytest.raises(BadPeriod, match="not begun"):
        parse("week", "2026-W50", now=now)


# ---- the report on constructed cases -------------------------------------------------------------

def _due(session, case_id, moment):
    session.execute(sa.update(Task).where(Task.case_id == case_id, Task.spec_id == "Task_mediate")
                    .values(due_at=moment, amber_at=moment - timedelta(days=1)))
    session.commit()


def test_cases_fall_in_the_china_week_they_were_filed_in_and_are_compared_with_the_week_before(session):
    with time_machine.travel(china(2026, 11, 18, 10), tick=False):      # Wednesday of W47
        file_matter(session, category="traffic")
    with time_machine.travel(china(2026, 11, 29, 23, 30), tick=False):  # Sunday 23:30 in China: W48
        late = file_matter(session)
    with time_machine.travel(china(2026, 11, 30, 0, 30), tick=False):   # Monday 00:30 in China: W49
        file_matter(session)
    with time_machine.travel(china(2026, 12, 2, 9), tick=False):
        report = period_report.build(session, county(session), parse("week", "2026-W48"))
        previous = period_report.build(session, county(session), parse("week", "2026-W47"))
    assert report.complete and report.as_of == china(2026, 11, 30)
    filed = next(f for f in report.rows if f.key == "filed")
    assert (filed.value, filed.before, filed.change) == (1, 1, 0)
    assert report.trend_labels == ["11-23", "11-24", "11-25", "11-26", "11-27", "11-28", "11-29"]
    assert report.trend == {"neighbour": [0, 0, 0, 0, 0, 0, 1]}, late.code
    assert report.categories == [("neighbour", 1, 0), ("traffic", 0, 1)]
    assert previous.trend == {"traffic": [0, 0, 1, 0, 0, 0, 0]}


def test_a_month_is_charted_by_its_weeks_clipped_to_the_month(session):
    with time_machine.travel(china(2026, 11, 1, 10), tick=False):   # a Sunday: the week of Oct 26
        file_matter(session)
    with time_machine.travel(china(2026, 11, 30, 10), tick=False):  # a Monday
        file_matter(session)
        file_matter(session, category="traffic")
    with time_machine.travel(china(2026, 12, 1, 10), tick=False):
        report = period_report.build(session, county(session), parse("month", "2026-11"))
    assert report.trend_labels == ["11-01–11-01", "11-02–11-08", "11-09–11-15", "11-16–11-22", "11-23–11-29",
                                   "11-30–11-30"]
    assert report.trend["neighbour"] == [1, 0, 0, 0, 0, 1] and report.trend["traffic"] == [0, 0, 0, 0, 0, 1]
    assert report.figures["filed"] == 3


def test_the_overdue_list_is_as_at_the_end_of_a_past_week_and_as_now_for_the_running_one(session):
    with time_machine.travel(china(2026, 11, 16, 9), tick=False) as traveller:
        done_later = file_matter(session)
        still_open = file_matter(session)
        not_yet = file_matter(session)
        _due(session, done_later.id, china(2026, 11, 20, 23, 59))   # overdue from Friday night
        _due(session, still_open.id, china(2026, 11, 18))
        _due(session, not_yet.id, china(2026, 11, 24))                 # only overdue the week after
        traveller.move_to(china(2026, 11, 25, 10))                     # Wednesday of W48
        complete(session, "mediator", done_later.id, "Task_mediate", MEDIATION_SUCCESS)
        unit = county(session)
        week47 = period_report.build(session, unit, parse("week", "2026-W47"))
        running = period_report.build(session, unit, parse("week", "2026-W48"))
    assert [s.case_id for s in week47.overdue] == [still_open.id, done_later.id], "longest overdue first"
    assert week47.overdue_total == 2 and week47.figures["overdue_steps"] == 2
    assert week47.overdue[1].done_at == china(2026, 11, 25, 10), "done since the week ended"
    assert week47.overdue[0].done_at is None and round(week47.overdue[0].days_over, 2) == 5.0
    # The running week: as it stands now, the completed one gone, the later deadline come.
    assert not running.complete and running.as_of == china(2026, 11, 25, 10)
    assert sorted(s.case_id for s in running.overdue) == sorted([still_open.id, not_yet.id])
    overdue = next(f for f in running.rows if f.key == "overdue_steps")
    assert (overdue.value, overdue.before, overdue.change) == (2, 2, 0)


def test_a_stopped_clock_is_not_overdue_and_the_list_is_cut_to_its_limit(session):
    with time_machine.travel(china(2026, 11, 16, 9), tick=False):
        cases = [file_matter(session) for _ in range(3)]
    for i, case in enumerate(cases):
        _due(session, case.id, china(2026, 11, 17 + i))
    session.execute(sa.update(Task).where(Task.case_id == cases[2].id, Task.spec_id == "Task_mediate")
                    .values(clock_stopped_at=china(2026, 11, 19)))
    session.commit()
    with time_machine.travel(china(2026, 11, 26, 9), tick=False):
        report = period_report.build(session, county(session), parse("week", "2026-W47"), limit=1)
    assert report.overdue_total == 2 and [s.case_id for s in report.overdue] == [cases[0].id]


def test_the_red_list_holds_cases_red_and_open_at_the_period_end(session):
    with time_machine.travel(china(2026, 11, 17, 9), tick=False) as traveller:
        red_open = file_matter(session, people_count="60")
        red_closed_after = file_matter(session, extreme_signs="on")
        blue_then = file_matter(session)
        assert red_open.risk_level == red_closed_after.risk_level == "red"
        traveller.move_to(china(2026, 11, 24, 9))
        # Turned red after the week (its assessment before the week's end said blue): left out.
        session.execute(sa.update(Case).where(Case.id == blue_then.id).values(risk_level="red"))
        session.execute(sa.update(Case).where(Case.id == red_closed_after.id)
                        .values(status="completed", closed_at=china(2026, 11, 24, 8)))
        session.commit()
        unit = county(session)
        week47 = period_report.build(session, unit, parse("week", "2026-W47"))
        running = period_report.build(session, unit, parse("week", "2026-W48"))
    assert [c.case_id for c in week47.red] == [red_open.id, red_closed_after.id] and week47.red_total == 2
    assert week47.red[1].closed_at == china(2026, 11, 24, 8) and week47.red[0].flagged is False
    assert {c.case_id for c in running.red} == {red_open.id, blue_then.id}, "now: the colours as they are"


def test_the_report_is_scoped_to_the_unit_and_below(session):
    with time_machine.travel(china(2026, 11, 17, 9), tick=False):
        file_matter(session, "clerk_dg")
        file_matter(session, "clerk")
    with time_machine.travel(china(2026, 11, 24, 9), tick=False):
        township = session.scalar(sa.select(OrgUnit).where(OrgUnit.name == "城关镇"))
        below = period_report.build(session, township, parse("week", "2026-W47"))
        whole = period_report.build(session, county(session), parse("week", "2026-W47"))
    assert below.figures["filed"] == 1 and whole.figures["filed"] == 2


def test_closed_levels_are_shares_of_what_closed_village_first():
    assert period_report._levels({"closed_levels": {"township": 1, "village": 3}}) == [
        ("village", 3, 0.75), ("township", 1, 0.25)]
    assert period_report._levels({"closed_levels": {}}) == []


def test_the_mediators_who_handled_a_matter_in_the_week_are_listed(session, people):
    with time_machine.travel(china(2026, 11, 23, 10), tick=False) as traveller:
        case = file_matter(session)
        traveller.move_to(china(2026, 11, 25, 10))
        complete(session, "mediator", case.id, "Task_mediate", MEDIATION_SUCCESS)
        traveller.move_to(china(2026, 12, 1, 10))
        report = period_report.build(session, county(session), parse("week", "2026-W48"))
        before = period_report.build(session, county(session), parse("week", "2026-W47"))
    assert [(m.name, m.handled, m.succeeded, m.within_period) for m in report.mediators] == [("测试甲", 1, 1, 1)]
    assert report.idle_mediators >= 2, "测试乙 and 测试丙 are registered and handled nothing"
    assert before.mediators == []
