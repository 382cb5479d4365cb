"""Every pathway of the library driven through its branches by the engine services, each scenario
once straight through and once with everything in memory dropped between steps. Together with the
deadline scenarios below they take every sequence flow of every diagram (the flow-coverage line)."""
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
import time_machine

from engine.cases import services
from engine.legaltime.clock import CHINA
from engine.persistence.models import Case, OrgUnit, Task, Timer

from . import coverage
from .helpers import (
    ACCEPTED, CLOSE, CONFIRMED, DECISION, FEEDBACK, GUIDE, LAW_HANDOVER, LITIGATION, MEDIATION_FAILURE,
    MEDIATION_SUCCESS, NOT_ACCEPTED, REDIRECT, REJECTED, REPORT, REVIEW, SUPERVISE, VISIT_BAD, VISIT_OK, WHISTLE,
    WINDOW_NO, WINDOW_YES, complete, complete_nth, file_matter, joint, open_specs, petition_register, prefiling,
    recon_accept, reload, specialist,
)

START = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
RECON_APPLIED = {**GUIDE, "competent_body": "清河县人民政府（行政复议）", "act_known_on": "2026-11-02", "applied": "yes"}
RECON_NOT_YET = {**RECON_APPLIED, "applied": "no"}


def ruling(subject):
    return {**DECISION, "ruling_subject": subject}
CLOSED = [("clerk", "Task_close", CLOSE), ("clerk", "Task_visit", VISIT_OK)]
MEDIATED = [("mediator", "Task_mediate", MEDIATION_SUCCESS), ("mediator", "Task_confirm_window", WINDOW_NO)]

# name: (what the clerk registers, the steps (who, step, form data; an int picks one of several
# instances of a step), the case's route)
SCENARIOS = {
    "mediation_confirmed_by_court": ({}, [
        ("mediator", "Task_mediate", MEDIATION_SUCCESS), ("mediator", "Task_confirm_window", WINDOW_YES),
        ("dept_court", "Task_court_accept", ACCEPTED), ("dept_court", "Task_court_confirm", CONFIRMED), *CLOSED],
        "mediation"),
    "court_rejects_agreement_then_litigation": ({}, [
        ("mediator", "Task_mediate", MEDIATION_SUCCESS), ("mediator", "Task_confirm_window", WINDOW_YES),
        ("dept_court", "Task_court_accept", ACCEPTED), ("dept_court", "Task_court_confirm", REJECTED),
        ("clerk", "Task_litigation", LITIGATION), *CLOSED], "mediation"),
    "court_does_not_accept": ({}, [
        ("mediator", "Task_mediate", MEDIATION_SUCCESS), ("mediator", "Task_confirm_window", WINDOW_YES),
        ("dept_court", "Task_court_accept", NOT_ACCEPTED), *CLOSED], "mediation"),
    "failed_mediation_settled_before_filing": ({}, [
        ("mediator", "Task_mediate", MEDIATION_FAILURE), ("dept_court", "Task_prefiling", prefiling("success")),
        *CLOSED], "mediation"),
    "failed_mediation_goes_to_litigation": ({}, [
        ("mediator", "Task_mediate", MEDIATION_FAILURE), ("dept_court", "Task_prefiling", prefiling("failure")),
        ("clerk", "Task_litigation", LITIGATION), *CLOSED], "mediation"),
    "failed_mediation_no_suit": ({}, [
        ("mediator", "Task_mediate", MEDIATION_FAILURE), ("dept_court", "Task_prefiling", prefiling("no_suit")),
        *CLOSED], "mediation"),
    "traffic_committee": ({"category": "traffic"}, [
        ("mediator", "Task_mediate_traffic", MEDIATION_SUCCESS), ("mediator", "Task_confirm_window", WINDOW_NO),
        *CLOSED], "mediation"),
    "medical_committee": ({"category": "medical"}, [
        ("mediator", "Task_mediate_medical", MEDIATION_SUCCESS), ("mediator", "Task_confirm_window", WINDOW_NO),
        *CLOSED], "mediation"),
    "labour_committee": ({"category": "labour"}, [
        ("mediator", "Task_mediate_labour", MEDIATION_SUCCESS), ("mediator", "Task_confirm_window", WINDOW_NO),
        *CLOSED], "mediation"),
    # Arbitration comes before court in labour disputes (劳动争议调解仲裁法 Arts. 5, 14): a failed labour
    # mediation is guided to labour arbitration, never to the court's pre-filing mediation.
    "failed_labour_mediation_goes_to_arbitration": ({"category": "labour"}, [
        ("mediator", "Task_mediate_labour", MEDIATION_FAILURE), ("clerk", "Task_arbitration_guide", GUIDE),
        ("dept_labour", "Task_arb_labour_accept", ACCEPTED), ("dept_labour", "Task_arb_labour_award", DECISION),
        ("clerk", "Task_arb_labour_suit_window", WINDOW_NO), *CLOSED], "mediation"),
    "family_committee_mediates_in_the_general_period": ({"category": "marriage_family"}, [*MEDIATED, *CLOSED],
                                                        "mediation"),
    "specialist_resolves": ({"kind": "complaint"}, [
        ("dept_justice", "Task_specialist", specialist("resolved")), *CLOSED], "specialist"),
    "specialist_fails_then_whistle_and_joint_mediation": ({"kind": "complaint"}, [
        ("dept_justice", "Task_specialist", specialist("unresolved")), ("supervisor", "Task_whistle", WHISTLE),
        ("dept_housing", "Task_report", REPORT, 0), ("dept_natural_resources", "Task_report", REPORT, 1),
        ("supervisor", "Task_joint", joint("mediation")), *MEDIATED, *CLOSED], "specialist"),
    "complex_dispute_whistle_at_once": ({"complex": "on"}, [
        ("supervisor", "Task_whistle", WHISTLE), ("dept_natural_resources", "Task_report", REPORT, 1),
        ("dept_housing", "Task_report", REPORT, 0), ("supervisor", "Task_joint", joint("resolved")), *CLOSED],
        "specialist"),
    "labour_arbitration_award": ({"legal_channel": "labour_arbitration", "category": "labour"}, [
        ("clerk", "Task_arbitration_guide", GUIDE), ("dept_labour", "Task_arb_labour_accept", ACCEPTED),
        ("dept_labour", "Task_arb_labour_award", DECISION), ("clerk", "Task_arb_labour_suit_window", WINDOW_NO),
        *CLOSED], "arbitration"),
    "labour_award_then_suit": ({"legal_channel": "labour_arbitration", "category": "labour"}, [
        ("clerk", "Task_arbitration_guide", GUIDE), ("dept_labour", "Task_arb_labour_accept", ACCEPTED),
        ("dept_labour", "Task_arb_labour_award", DECISION), ("clerk", "Task_arb_labour_suit_window", WINDOW_YES),
        ("clerk", "Task_arb_litigation", LITIGATION), *CLOSED], "arbitration"),
    "labour_arbitration_not_accepted": ({"legal_channel": "labour_arbitration"}, [
        ("clerk", "Task_arbitration_guide", GUIDE), ("dept_labour", "Task_arb_labour_accept", NOT_ACCEPTED),
        ("clerk", "Task_arb_labour_sue", WINDOW_NO), *CLOSED], "arbitration"),
    "labour_arbitration_not_accepted_then_suit": ({"legal_channel": "labour_arbitration"}, [
        ("clerk", "Task_arbitration_guide", GUIDE), ("dept_labour", "Task_arb_labour_accept", NOT_ACCEPTED),
        ("clerk", "Task_arb_labour_sue", WINDOW_YES), ("clerk", "Task_arb_litigation", LITIGATION), *CLOSED],
        "arbitration"),
    "land_arbitration_award": ({"legal_channel": "land_arbitration", "category": "forest_land"}, [
        ("clerk", "Task_arbitration_guide", GUIDE), ("dept_agriculture", "Task_arb_land_accept", ACCEPTED),
        ("dept_agriculture", "Task_arb_land_award", DECISION), ("clerk", "Task_arb_land_suit_window", WINDOW_NO),
        *CLOSED], "arbitration"),
    "land_award_then_suit": ({"legal_channel": "land_arbitration", "category": "forest_land"}, [
        ("clerk", "Task_arbitration_guide", GUIDE), ("dept_agriculture", "Task_arb_land_accept", ACCEPTED),
        ("dept_agriculture", "Task_arb_land_award", DECISION), ("clerk", "Task_arb_land_suit_window", WINDOW_YES),
        ("clerk", "Task_arb_litigation", LITIGATION), *CLOSED], "arbitration"),
    "land_arbitration_not_accepted": ({"legal_channel": "land_arbitration"}, [
        ("clerk", "Task_arbitration_guide", GUIDE), ("dept_agriculture", "Task_arb_land_accept", NOT_ACCEPTED),
        *CLOSED], "arbitration"),
    "commercial_arbitration": ({"legal_channel": "commercial_arbitration", "category": "contract"}, [
        ("clerk", "Task_arbitration_guide", GUIDE), ("dept_arbitration", "Task_arb_commercial_accept", ACCEPTED),
        *CLOSED], "arbitration"),
    "reconsideration_normal": ({"legal_channel": "reconsideration"}, [
        ("clerk", "Task_recon_guide", RECON_APPLIED),
        ("dept_justice", "Task_recon_accept", recon_accept("normal")), ("dept_justice", "Task_recon_decide", DECISION),
        *CLOSED], "reconsideration"),
    "reconsideration_simplified": ({"legal_channel": "reconsideration"}, [
        ("clerk", "Task_recon_guide", RECON_APPLIED),
        ("dept_justice", "Task_recon_accept", recon_accept("simplified")),
        ("dept_justice", "Task_recon_decide_simple", DECISION), *CLOSED], "reconsideration"),
    "reconsideration_not_accepted": ({"legal_channel": "reconsideration"}, [
        ("clerk", "Task_recon_guide", RECON_APPLIED),
        ("dept_justice", "Task_recon_accept", NOT_ACCEPTED), *CLOSED], "reconsideration"),
    "land_ownership_ruling_then_suit": ({"legal_channel": "ruling", "category": "forest_land"}, [
        ("clerk", "Task_ruling_guide", GUIDE), ("dept_natural_resources", "Task_ruling_result", ruling("land_ownership")),
        ("clerk", "Task_ruling_suit_window", WINDOW_YES), ("clerk", "Task_ruling_litigation", LITIGATION), *CLOSED],
        "ruling"),
    "forest_ownership_ruling_accepted": ({"legal_channel": "ruling", "category": "forest_land"}, [
        ("clerk", "Task_ruling_guide", GUIDE), ("dept_natural_resources", "Task_ruling_result", ruling("forest_ownership")),
        ("clerk", "Task_ruling_suit_window", WINDOW_NO), *CLOSED], "ruling"),
    "reconsideration_applied_later": ({"legal_channel": "reconsideration"}, [
        ("clerk", "Task_recon_guide", RECON_NOT_YET), ("clerk", "Task_recon_apply_window", WINDOW_YES),
        ("dept_justice", "Task_recon_accept", NOT_ACCEPTED), *CLOSED], "reconsideration"),
    "reconsideration_not_applied": ({"legal_channel": "reconsideration"}, [
        ("clerk", "Task_recon_guide", RECON_NOT_YET), ("clerk", "Task_recon_apply_window", WINDOW_NO), *CLOSED],
        "reconsideration"),
    "administrative_ruling": ({"legal_channel": "ruling", "category": "forest_land"}, [
        ("clerk", "Task_ruling_guide", GUIDE), ("dept_natural_resources", "Task_ruling_result", ruling("other")), *CLOSED],
        "ruling"),
    "petition_decided_no_review": ({"kind": "petition"}, [
        ("dept_petition", "Task_petition_register", petition_register("complaint_demand")),
        ("dept_housing", "Task_petition_accept", ACCEPTED), ("dept_housing", "Task_petition_decide", DECISION),
        ("clerk", "Task_petition_review_window", WINDOW_NO), *CLOSED], "petition"),
    "petition_review_and_re_review": ({"kind": "petition"}, [
        ("dept_petition", "Task_petition_register", petition_register("complaint_demand")),
        ("dept_housing", "Task_petition_accept", ACCEPTED), ("dept_housing", "Task_petition_decide", DECISION),
        ("clerk", "Task_petition_review_window", WINDOW_YES), ("dept_petition", "Task_petition_review", DECISION),
        ("clerk", "Task_petition_rereview_window", WINDOW_YES), ("dept_petition", "Task_petition_rereview", DECISION),
        *CLOSED], "petition"),
    "petition_review_then_no_re_review": ({"kind": "petition"}, [
        ("dept_petition", "Task_petition_register", petition_register("complaint_demand")),
        ("dept_housing", "Task_petition_accept", ACCEPTED), ("dept_housing", "Task_petition_decide", DECISION),
        ("clerk", "Task_petition_review_window", WINDOW_YES), ("dept_petition", "Task_petition_review", DECISION),
        ("clerk", "Task_petition_rereview_window", WINDOW_NO), *CLOSED], "petition"),
    "petition_suggestion_replied": ({"kind": "petition"}, [
        ("dept_petition", "Task_petition_register", petition_register("suggestion", "market")),
        ("dept_market", "Task_petition_accept", ACCEPTED), ("dept_market", "Task_petition_reply", FEEDBACK), *CLOSED],
        "petition"),
    "petition_not_accepted": ({"kind": "petition"}, [
        ("dept_petition", "Task_petition_register", petition_register("accusation", "police")),
        ("dept_police", "Task_petition_accept", NOT_ACCEPTED), *CLOSED], "petition"),
    "law_related_to_the_court": ({"law_related": "on"}, [
        ("clerk", "Task_law_handover", LAW_HANDOVER), ("dept_court", "Task_law_feedback", FEEDBACK), *CLOSED],
        "law_related"),
    "consultation_answered": ({"kind": "consultation"}, [
        ("clerk", "Task_redirect", REDIRECT), *CLOSED], "consultation"),
    "unsatisfied_then_explained": ({}, [*MEDIATED, ("clerk", "Task_close", CLOSE), ("clerk", "Task_visit", VISIT_BAD),
                                        ("supervisor", "Task_review", REVIEW)], "mediation"),
}


@pytest.fixture(params=[False, True], ids=["straight", "reload"])
def step(request, session):
    """Complete a step; in the reload variant, first forget the session and the spec cache."""
    def run(username, case_id, spec_id, post, index=None):
        if request.param:
            reload(session)
        if index is None:
            return complete(session, username, case_id, spec_id, post)
        return complete_nth(session, username, case_id, spec_id, post, index)
    return run


def _unit_code(session, task):
    return session.scalar(sa.select(OrgUnit.code).where(OrgUnit.id == task.org_unit_id))


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_pathway_scenario(session, step, name):
    changes, steps, route = SCENARIOS[name]
    case = file_matter(session, **changes)
    assert case.route == route
    for username, spec_id, post, *index in steps:
        assert spec_id in open_specs(session, case.id), (spec_id, open_specs(session, case.id))
        task = session.scalar(sa.select(Task).where(Task.case_id == case.id, Task.spec_id == spec_id,
                                                    Task.state == "ready").order_by(Task.id))
        if username.startswith("dept_"):
            # A resident department's step goes to that department, stationed at the county center.
            kind = username.removeprefix("dept_")
            if not index:
                assert _unit_code(session, task) == f"C01-Q-D-{kind}"
        case = step(username, case.id, spec_id, post, *index)
    assert case.status == "completed", open_specs(session, case.id)
    assert open_specs(session, case.id) == []


def test_each_summoned_department_gets_its_own_step_with_the_report_by_deadline(session):
    with time_machine.travel(START, tick=False):
        case = file_matter(session, complex="on")
        assert open_specs(session, case.id) == ["Task_whistle"]
        case = complete(session, "supervisor", case.id, "Task_whistle", WHISTLE)
        reports = session.scalars(sa.select(Task).where(Task.case_id == case.id, Task.spec_id == "Task_report")
                                  .order_by(Task.id)).all()
        assert [_unit_code(session, t) for t in reports] == ["C01-Q-D-housing", "C01-Q-D-natural_resources"]
        assert [t.title for t in reports] == ["部门报到（住建局）", "部门报到（自然资源局）"]
        # Three days from Monday November 23rd, the end of Thursday the 26th in China.
        assert {t.due_at.replace(tzinfo=None) for t in reports} == {datetime(2026, 11, 26, 15, 59, 59)}
        assert all(t.legal_basis.startswith("中心吹哨、部门报到") for t in reports)
        # The housing department cannot take the natural resources department's step.
        from .helpers import actor
        with pytest.raises(services.NotAllowed):
            services.complete_task(session, actor(session, "dept_housing"), reports[1].id, REPORT)
        case = complete_nth(session, "dept_natural_resources", case.id, "Task_report", REPORT, 1)
        assert open_specs(session, case.id) == ["Task_report"]
        case = complete_nth(session, "dept_housing", case.id, "Task_report", REPORT, 0)
        assert open_specs(session, case.id) == ["Task_joint"]


def _fire_after(session, traveller, days):
    traveller.move_to(START + timedelta(days=days))
    fired = services.fire_due_timers(session)
    for case_id in session.scalars(sa.select(Case.id)):
        coverage.record(session, case_id)
    return fired


MEDIATION_BASIS = ("人民调解工作若干规定（司法部令第75号，2002年11月1日施行）第三十三条{}；期间计算：民法典（2021年1月1日施行）"
                   "第二百零一条至第二百零三条")


# Periods whose passing the law gives no consequence for: the supervisor steps in. (The medical and
# labour periods have their own paths, in tests/engine/test_law.py.)
@pytest.mark.parametrize("changes, task, days, basis", [
    # One month from Monday 2026-11-23 is Wednesday 2026-12-23, a working day.
    ({}, "Task_mediate", 31, MEDIATION_BASIS.format("")),
    # A people's mediation committee for traffic accidents mediates in the people's-mediation month,
    # not in the traffic police's ten days.
    ({"category": "traffic"}, "Task_mediate_traffic", 31, MEDIATION_BASIS.format("（道路交通事故人民调解委员会）")),
])
def test_each_committee_period_flags_the_case_for_the_supervisor(session, step, changes, task, days, basis):
    with time_machine.travel(START, tick=False) as traveller:
        case = file_matter(session, **changes)
        mediation = session.scalar(sa.select(Task).where(Task.case_id == case.id, Task.spec_id == task))
        assert mediation.legal_basis == basis and mediation.role == "mediator"
        assert _fire_after(session, traveller, days - 2) == 0
        assert _fire_after(session, traveller, days) == 1
        assert session.get(Case, case.id).overdue is True
        assert open_specs(session, case.id) == sorted([task, "Task_supervise"])
        case = step("supervisor", case.id, "Task_supervise", SUPERVISE)
        case = step("mediator", case.id, task, MEDIATION_SUCCESS)
        case = step("mediator", case.id, "Task_confirm_window", WINDOW_NO)
        assert open_specs(session, case.id) == ["Task_close"]


def test_medical_mediation_counts_thirty_working_days(session):
    with time_machine.travel(START, tick=False):
        case = file_matter(session, category="medical")
        due = session.scalar(sa.select(Task.due_at).where(Task.case_id == case.id, Task.spec_id == "Task_mediate_medical"))
        # 30 working days after Monday 2026-11-23 (no holidays in between): Monday 2027-01-04 would be
        # the 30th if New Year's Day 2027 were a working day; it is a holiday, so Tuesday the 5th.
        assert due.replace(tzinfo=None) == datetime(2027, 1, 5, 15, 59, 59)


def test_judicial_confirmation_window_closes_after_thirty_days(session, step):
    with time_machine.travel(START, tick=False) as traveller:
        case = file_matter(session)
        case = step("mediator", case.id, "Task_mediate", MEDIATION_SUCCESS)
        window = session.scalar(sa.select(Task).where(Task.case_id == case.id, Task.spec_id == "Task_confirm_window"))
        assert window.legal_basis == "人民调解法（2011年1月1日施行）第三十三条；民事诉讼法（2023年修正，2024年1月1日施行）第二百零五条"
        assert window.due_at.replace(tzinfo=None) == datetime(2026, 12, 23, 15, 59, 59)
        assert _fire_after(session, traveller, 29) == 0
        assert _fire_after(session, traveller, 31) == 1
        # The window closed: the step is gone and the case goes on to be closed.
        assert open_specs(session, case.id) == ["Task_close"]
        assert session.scalar(sa.select(Task.state).where(Task.id == window.id)) == "cancelled"
        case = step("clerk", case.id, "Task_close", CLOSE)
        case = step("clerk", case.id, "Task_visit", VISIT_OK)
        assert case.status == "completed"


@pytest.mark.parametrize("window, answered", [
    ("Task_petition_review_window", []),
    ("Task_petition_rereview_window", [("clerk", "Task_petition_review_window", WINDOW_YES),
                                       ("dept_petition", "Task_petition_review", DECISION)]),
])
def test_petition_review_windows_close_after_thirty_days(session, step, window, answered):
    with time_machine.travel(START, tick=False) as traveller:
        case = file_matter(session, kind="petition")
        for username, spec_id, post in [
                ("dept_petition", "Task_petition_register", petition_register("complaint_demand")),
                ("dept_housing", "Task_petition_accept", ACCEPTED),
                ("dept_housing", "Task_petition_decide", DECISION), *answered]:
            case = step(username, case.id, spec_id, post)
        assert open_specs(session, case.id) == [window]
        assert _fire_after(session, traveller, 31) == 1
        assert open_specs(session, case.id) == ["Task_close"]


def test_petition_clocks_cite_the_ordinance(session):
    with time_machine.travel(START, tick=False):
        case = file_matter(session, kind="petition")
        register = session.scalar(sa.select(Task).where(Task.case_id == case.id, Task.spec_id == "Task_petition_register"))
        assert register.legal_basis == "信访工作条例（2022年5月1日施行）第二十二条"
        assert register.due_at.replace(tzinfo=None) == datetime(2026, 12, 8, 15, 59, 59)
        complete(session, "dept_petition", case.id, "Task_petition_register", petition_register("complaint_demand"))
        complete(session, "dept_housing", case.id, "Task_petition_accept", ACCEPTED)
        decide = session.scalar(sa.select(Task).where(Task.case_id == case.id, Task.spec_id == "Task_petition_decide"))
        assert decide.legal_basis == "信访工作条例（2022年5月1日施行）第三十四条"
        # 60 days from 2026-11-23 is 2027-01-22, a year whose notice is not published: provisional.
        assert decide.due_at.replace(tzinfo=None) == datetime(2027, 1, 22, 15, 59, 59)
        assert decide.due_provisional is True


def test_reconsideration_acceptance_counts_working_days_and_decision_may_be_extended(session):
    with time_machine.travel(datetime(2026, 9, 28, 9, 0, tzinfo=timezone.utc), tick=False):
        case = file_matter(session, legal_channel="reconsideration")
        case = complete(session, "clerk", case.id, "Task_recon_guide", {**RECON_APPLIED, "act_known_on": "2026-09-20"})
        accept = session.scalar(sa.select(Task).where(Task.case_id == case.id, Task.spec_id == "Task_recon_accept"))
        # Five working days from Monday September 28th, across the National Day holiday (October
        # 1st to 7th): the 29th, the 30th, October 8th, 9th and Saturday the 10th, a make-up working day.
        assert accept.legal_basis == "行政复议法（2023年9月1日修订，2024年1月1日施行）第三十条、第八十八条"
        assert accept.due_at.astimezone(CHINA).date().isoformat() == "2026-10-10"
        assert accept.org_unit_id == session.scalar(sa.select(OrgUnit.id).where(OrgUnit.code == "C01-Q-D-justice"))


def test_no_timer_is_left_waiting_when_a_pathway_ends(session):
    case = file_matter(session, kind="petition")
    for username, spec_id, post in SCENARIOS["petition_review_and_re_review"][1]:
        case = complete(session, username, case.id, spec_id, post)
    assert case.status == "completed"
    assert session.scalar(sa.select(sa.func.count()).select_from(Timer).where(
        Timer.case_id == case.id, Timer.state == "waiting")) == 0
