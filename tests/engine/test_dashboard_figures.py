"""The indicators' arithmetic on known data: time per stage by rank in the database, trend
buckets by China-time week and month."""
from datetime import date, datetime, timedelta, timezone

import time_machine

from engine.reading import dashboard
from engine.persistence.models import OrgUnit

from .helpers import MEDIATION_SUCCESS, complete, file_matter

START = datetime(2026, 11, 2, 2, 0, tzinfo=timezone.utc)  # Monday 10:00 in China


def test_median_and_90th_percentile_of_a_stage(session):
    with time_machine.travel(START, tick=False) as traveller:
        cases = [file_matter(session) for _ in range(3)]
        for case, days in zip(cases, (1, 2, 10)):
            traveller.move_to(START + timedelta(days=days))
            complete(session, "mediator", case.id, "Task_mediate", MEDIATION_SUCCESS)
        county = session.query(OrgUnit).filter_by(code="C01-Q").one()
        rows = {r.key: r for r in dashboard.stage_times(session, county, date(2026, 11, 1), date(2026, 11, 30))}
    mediation = rows["Task_mediate"]
    assert mediation.open == 3
    assert round(mediation.extra["median"], 3) == 2.0 and round(mediation.extra["p90"], 3) == 10.0
    assert mediation.extra["legal"] == "调解期限一个月"


def test_trend_buckets_are_china_weeks_and_months(session):
    # 23:30 UTC on Sunday November 8th is Monday the 9th in China: the next week's bucket.
    with time_machine.travel(datetime(2026, 11, 8, 23, 30, tzinfo=timezone.utc), tick=False):
        file_matter(session)
    with time_machine.travel(datetime(2026, 11, 3, 2, 0, tzinfo=timezone.utc), tick=False):
        file_matter(session, category="traffic")
    county = session.query(OrgUnit).filter_by(code="C01-Q").one()
    labels, series = dashboard.trend(session, county, date(2026, 11, 1), date(2026, 11, 15), "week")
    assert labels == ["2026-10-26", "2026-11-02", "2026-11-09"]
    assert series == {"neighbour": [0, 0, 1], "traffic": [0, 1, 0]}
    labels, series = dashboard.trend(session, county, date(2026, 10, 1), date(2026, 11, 15), "month", "place")
    assert labels == ["2026-10", "2026-11"] and series == {"清河县": [0, 2]}
