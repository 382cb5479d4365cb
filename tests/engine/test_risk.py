"""The risk colour from the facts (bpmn/risk.dmn): reasons, raising and lowering, repeat visits
and earlier petitions counted from the history, a red case's supervisor follow-up and earlier
amber light, re-assessment at a repeat visit; the labour limitation warning; 万人成讼率."""
from datetime import date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
import time_machine

from engine.reading import dashboard
from engine.legaltime import lights
from engine.cases import services
from engine.library import triage
from engine.messages import in_chinese
from engine.persistence.models import AuditEvent, Case, OrgUnit, Task
from engine.cases.services import FormInvalid

from .helpers import (
    CLOSE, INTAKE, LITIGATION, MEDIATION_FAILURE, MEDIATION_SUCCESS, VISIT_OK, WINDOW_NO, actor, complete,
    file_matter, open_specs, prefiling, reload,
)

START = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)


def other_party(n):
    """A matter whose parties have no history here."""
    return {"parties-0-id_number": f"1101011990030{n:04d}1", "parties-0-phone": f"1370013{n:04d}",
            "parties-1-id_number": f"1101011985121{n:04d}2", "parties-1-phone": f"1360013{n:04d}"}


def assessed(session, case_id):
    return session.scalar(sa.select(AuditEvent).where(AuditEvent.case_id == case_id,
                                                      AuditEvent.kind.in_(("risk_assessed", "risk_reassessed")))
                          .order_by(AuditEvent.seq.desc()).limit(1)).detail


@pytest.mark.parametrize("facts, level, reasons", [
    ({}, "blue", []),
    ({"people_count": "5"}, "yellow", ["集体访（5人以上）"]),
    ({"people_count": "4"}, "blue", []),
    ({"people_count": "50"}, "red", ["涉及50人以上", "集体访（5人以上）"]),
    ({"amount": "100000"}, "yellow", ["涉及金额10万元以上"]),
    ({"amount": "99999.5"}, "blue", []),
    ({"amount": "1200000"}, "red", ["涉及金额100万元以上", "涉及金额10万元以上"]),
    ({"extreme_signs": "on"}, "red", ["有暴力或极端行为苗头"]),
    ({"vulnerable": "on"}, "yellow", ["当事人中有老人、未成年人、残疾人、重病患者或孕妇等"]),
    ({"petitioned_before": "on"}, "yellow", ["此前已就此信访"]),
])
def test_the_colour_and_its_reasons_come_from_the_facts(session, facts, level, reasons):
    case = file_matter(session, **other_party(1), **facts)
    detail = assessed(session, case.id)
    assert (case.risk_level, detail["assessed"], detail["how"]) == (level, level, "assessed")
    assert [zh for zh, _en, _level in detail["reasons"]] == reasons


def test_visits_in_the_last_90_days_and_earlier_petitions_count(session):
    with time_machine.travel(START, tick=False):
        first = file_matter(session, kind="petition", petition_type="complaint_demand")
    with time_machine.travel(START + timedelta(days=30), tick=False):
        second = file_matter(session)
    reasons = [zh for zh, _en, _level in assessed(session, second.id)["reasons"]]
    assert reasons == ["90日内再次来访", "此前已就此信访"] and second.risk_level == "yellow"
    assert assessed(session, second.id)["facts"]["repeat_visits"] == 1
    with time_machine.travel(START + timedelta(days=200), tick=False):
        later = file_matter(session)
    # Both filings are more than 90 days old now; the petition still counts.
    assert [zh for zh, _en, _level in assessed(session, later.id)["reasons"]] == ["此前已就此信访"]
    assert first.id != later.id


def test_a_group_back_again_is_red(session):
    with time_machine.travel(START, tick=False):
        file_matter(session, **other_party(2), people_count="8")
    with time_machine.travel(START + timedelta(days=10), tick=False):
        again = file_matter(session, **other_party(2), people_count="8")
    assert again.risk_level == "red"
    assert "集体访且90日内再次来访" in [zh for zh, _en, _level in assessed(session, again.id)["reasons"]]


def test_the_clerk_may_raise_the_colour(session):
    case = file_matter(session, **other_party(3), risk_level="yellow")
    detail = assessed(session, case.id)
    assert (case.risk_level, detail["assessed"], detail["how"]) == ("yellow", "blue", "raised")


def test_lowering_needs_a_reason_which_goes_into_the_history(session):
    with pytest.raises(FormInvalid) as refused:
        file_matter(session, **other_party(4), people_count="60", risk_level="yellow")
    assert set(refused.value.errors) == {"risk_reason"}
    assert refused.value.data["people_count"] == 60  # what was typed comes back
    session.rollback()
    assert session.scalar(sa.select(sa.func.count()).select_from(Case)) == 0
    case = file_matter(session, **other_party(4), people_count="60", risk_level="yellow",
                       risk_reason="实为同一楼栋业主委托的三名代表，现场平稳。")
    detail = assessed(session, case.id)
    assert (case.risk_level, detail["assessed"], detail["how"]) == ("yellow", "red", "lowered")
    assert detail["reason"] == "实为同一楼栋业主委托的三名代表，现场平稳。"


def test_a_red_case_gets_a_supervisors_follow_up_and_closes_when_both_are_done(session):
    case = file_matter(session, **other_party(5), extreme_signs="on",
                       summary="对方扬言要带人来砸房子，双方已经推搡过一次。")
    assert open_specs(session, case.id) == ["Task_mediate", "Task_risk_followup"]
    followup = session.scalar(sa.select(Task).where(Task.case_id == case.id, Task.spec_id == "Task_risk_followup"))
    assert (followup.role, session.get(OrgUnit, followup.org_unit_id).name) == ("supervisor", "清河县")
    complete(session, "mediator", case.id, "Task_mediate", MEDIATION_SUCCESS)
    complete(session, "mediator", case.id, "Task_confirm_window", WINDOW_NO)
    complete(session, "clerk", case.id, "Task_close", CLOSE)
    reload(session)
    case = complete(session, "clerk", case.id, "Task_visit", VISIT_OK)
    # The pathway is done; the round waits for the supervisor.
    assert case.status == "open" and open_specs(session, case.id) == ["Task_risk_followup"]
    case = complete(session, "supervisor", case.id, "Task_risk_followup", {
        "followup_measures": "leader_package", "followup_responsible": "县中心主任",
        "followup_note": "已约谈双方，落实包案稳控。"})
    assert case.status == "completed"


def test_a_non_red_case_has_no_follow_up(session):
    case = file_matter(session, **other_party(6))
    assert open_specs(session, case.id) == ["Task_mediate"]


def test_a_red_case_warns_earlier(session):
    with time_machine.travel(START, tick=False):
        plain = file_matter(session, **other_party(7))
        red = file_matter(session, **other_party(8), extreme_signs="on")
    amber = {case.id: session.scalar(sa.select(Task.amber_at).where(Task.case_id == case.id,
                                                                    Task.spec_id == "Task_mediate"))
             for case in (plain, red)}
    due = {case.id: session.scalar(sa.select(Task.due_at).where(Task.case_id == case.id, Task.spec_id == "Task_mediate"))
           for case in (plain, red)}
    assert due[plain.id] == due[red.id]
    assert amber[red.id] < amber[plain.id]
    assert lights.load()["red_risk_earlier_working_days"] == 2
    # Two working days earlier than the stage's own rule (five working days before the deadline).
    assert amber[plain.id] - amber[red.id] >= timedelta(days=2)


def test_a_repeat_visit_reassesses_and_a_case_turning_red_is_listed(session):
    clerk = actor(session, "clerk")
    with time_machine.travel(START, tick=False):
        case = file_matter(session, **other_party(9))
    assert case.risk_level == "blue"
    post = dict(INTAKE, **other_party(9), summary="再次来访：对方仍未疏通。")
    for day in (5, 12):
        with time_machine.travel(START + timedelta(days=day), tick=False):
            services.record_repeat_visit(session, clerk, "intake", case.id, post)
    session.refresh(case)
    assert case.risk_level == "yellow" and case.flagged_at is None
    before = session.scalar(sa.select(Task.amber_at).where(Task.case_id == case.id, Task.spec_id == "Task_mediate"))
    with time_machine.travel(START + timedelta(days=20), tick=False):
        services.record_repeat_visit(session, clerk, "intake", case.id, post)
    session.refresh(case)
    detail = assessed(session, case.id)
    assert (case.risk_level, detail["before"], detail["facts"]["repeat_visits"]) == ("red", "yellow", 3)
    assert "90日内来访3次以上" in [zh for zh, _en, _level in detail["reasons"]]
    assert case.flagged_at is not None and "红色" in case.flag_note
    after = session.scalar(sa.select(Task.amber_at).where(Task.case_id == case.id, Task.spec_id == "Task_mediate"))
    assert after < before


def test_a_visit_alone_never_lowers_the_colour(session):
    clerk = actor(session, "clerk")
    case = file_matter(session, **other_party(10), people_count="9")
    assert case.risk_level == "yellow"
    services.record_repeat_visit(session, clerk, "intake", case.id, dict(INTAKE, **other_party(10), people_count="9"))
    session.refresh(case)
    assert case.risk_level == "red"  # a group back again
    services.record_repeat_visit(session, clerk, "intake", case.id, dict(INTAKE, **other_party(10), people_count="1"))
    session.refresh(case)
    assert case.risk_level == "red"


@pytest.mark.parametrize("known, today, says", [
    ("2025-10-01", date(2026, 11, 20), "已于 2026-10-01 届满"),
    ("2025-12-10", date(2026, 11, 20), "将于 2026-12-10 届满，仅剩 20 天"),
    ("2026-09-01", date(2026, 11, 20), "至 2027-09-01 届满"),
    ("2024-02-29", date(2024, 6, 1), "至 2025-02-28 届满"),
])
def test_the_labour_limitation_period_is_one_year(known, today, says):
    [(message, urgent)] = triage.labour_limitation({"employer_matter": True, "rights_known_on": known}, today)
    assert says in in_chinese(message) and "第二十七条" in in_chinese(message) and "Art. 27" in str(message)
    assert urgent == ("至" not in says)


def test_no_limitation_warning_without_an_employer_and_a_prompt_without_a_date():
    assert triage.labour_limitation({"employer_matter": False, "rights_known_on": "2020-01-01"}) == []
    [(message, urgent)] = triage.labour_limitation({"employer_matter": True})
    assert "请询问" in in_chinese(message) and not urgent


def test_litigation_per_10000_residents(session):
    with time_machine.travel(START, tick=False):
        case = file_matter(session, **other_party(11))
        complete(session, "mediator", case.id, "Task_mediate", MEDIATION_FAILURE)
        complete(session, "dept_court", case.id, "Task_prefiling", prefiling("failure"))
        complete(session, "clerk", case.id, "Task_litigation", LITIGATION)
        settled = file_matter(session, **other_party(12))
        complete(session, "mediator", settled.id, "Task_mediate", MEDIATION_SUCCESS)
    county = session.scalar(sa.select(OrgUnit).where(OrgUnit.code == "C01-Q"))
    figures = dashboard.indicators(session, county, date(2026, 11, 1), date(2026, 11, 30))
    assert (figures["litigated"], figures["population"]) == (1, county.population)
    assert figures["litigation_per_10k"] == pytest.approx(10000 / county.population)
    town = session.scalar(sa.select(OrgUnit).where(OrgUnit.code == "C01-Q-CG"))
    assert dashboard.indicators(session, town, date(2026, 11, 1), date(2026, 11, 30))["litigated"] == 0
    earlier = dashboard.indicators(session, county, date(2026, 10, 1), date(2026, 10, 31))
    assert earlier["litigated"] == 0 and earlier["litigation_per_10k"] == 0


def test_a_unit_without_a_population_takes_its_units_below_or_none(session):
    town = session.scalar(sa.select(OrgUnit).where(OrgUnit.code == "C01-Q-CG"))
    villages = session.scalars(sa.select(OrgUnit).where(OrgUnit.parent_id == town.id)).all()
    own = town.population
    town.population = None
    session.flush()
    assert dashboard.unit_population(session, town) == sum(v.population for v in villages)
    villages[0].population = None
    session.flush()
    assert dashboard.unit_population(session, town) is None
    session.rollback()
    assert session.get(OrgUnit, town.id).population == own
