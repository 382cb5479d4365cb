"""The law as written: periods counted as the statutes count them, and what the law says happens
when a period runs out, drawn as a path (not only a supervisor's task). Each deadline is fired by
moving time (time-machine)."""
from datetime import date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
import time_machine
from SpiffWorkflow.util.task import TaskState

from engine.library import catalog
from engine.cases import clocks, services
from engine.workflow import runtime
from engine.legaltime import workcalendar
from engine.legaltime.clock import CHINA
from engine.persistence.models import Case, Task
from engine.workflow.scripting import ScriptRejected, months, natural_days

from ..conftest import ROOT
from . import coverage
from .helpers import (
    ACCEPTED, CLOSE, DECISION, GUIDE, LITIGATION, MEDIATION_SUCCESS, SUPERVISE, VISIT_OK, WINDOW_NO, WINDOW_YES, actor,
    complete, file_matter, open_specs, prefiling,
)
from .test_pathways import RECON_APPLIED, RECON_NOT_YET, ruling
from tests.kinds import SEEDED

START = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)  # Monday, 17:00 in China
CLOSED = [("clerk", "Task_close", CLOSE), ("clerk", "Task_visit", VISIT_OK)]


@pytest.fixture
def step(session):
    def run(username, case_id, spec_id, post):
        return complete(session, username, case_id, spec_id, post)
    return run


def _end_of_day(day):
    """The last second of `day` in China, as the database keeps it (naive UTC on SQLite)."""
    return datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=CHINA).astimezone(timezone.utc).replace(tzinfo=None)


def _task(session, case_id, spec_id):
    return session.scalar(sa.select(Task).where(Task.case_id == case_id, Task.spec_id == spec_id).order_by(Task.id.desc()))


def _fire(session, traveller, moment):
    traveller.move_to(moment)
    fired = services.fire_due_timers(session)
    for case_id in session.scalars(sa.select(Case.id)):
        coverage.record(session, case_id)
    return fired


def _walk(session, case, steps):
    for username, spec_id, post in steps:
        case = complete(session, username, case.id, spec_id, post)
    return case


# ---- a month is a month (民法典 Arts. 200-204) -----------------------------------------------------

@pytest.mark.parametrize("start, count, end, why", [
    (date(2026, 11, 23), 1, date(2026, 12, 23), "the corresponding day of the next month"),
    (date(2026, 8, 31), 1, date(2026, 9, 30), "no September 31st: the month's last day"),
    (date(2027, 3, 31), 11, date(2028, 2, 29), "a leap February ends on the 29th"),
    (date(2026, 11, 12), 1, date(2026, 12, 14), "December 12th 2026 is a Saturday: Monday the 14th"),
    (date(2026, 9, 1), 1, date(2026, 10, 8), "October 1st falls in the National Day holiday: the 8th"),
    (date(2026, 1, 31), 1, date(2026, 2, 28), "February 28th 2026 is a Saturday but a make-up working day"),
    (date(2026, 12, 31), 2, date(2027, 3, 1), "February 28th 2027 is a Sunday: Monday March 1st"),
])
def test_a_period_in_months_ends_as_the_civil_code_counts(start, count, end, why):
    assert workcalendar.add_months(start, count).day == end, why


def test_months_ends_at_the_end_of_the_day_in_china_not_at_the_filing_minute():
    # Filed at 23:30 on January 31st in China (15:30 UTC): one month is the end of February 28th,
    # where thirty days from the filing minute would be March 2nd at 23:30.
    with time_machine.travel(datetime(2026, 1, 31, 15, 30, tzinfo=timezone.utc), tick=False):
        assert months(1) == "2026-02-28T23:59:59+08:00"
        assert months(0) == "2026-02-02T23:59:59+08:00"  # the 31st is a Saturday, February 1st a Sunday


def test_a_period_may_count_from_a_day_the_case_names():
    with time_machine.travel(START, tick=False):
        # Sixty days from October 1st is November 30th, a Monday.
        assert natural_days(60, "2026-10-01") == "2026-11-30T23:59:59+08:00"
        assert natural_days(60, date(2026, 10, 1)) == natural_days(60, "2026-10-01")
        assert months(1, "2026-10-31") == "2026-11-30T23:59:59+08:00"
        for bad in ("yesterday", 5, "1990-01-01"):
            with pytest.raises(ScriptRejected):
                natural_days(60, bad)
        with pytest.raises(ScriptRejected):
            months(121)


def test_the_general_mediation_period_is_one_calendar_month_moved_off_rest_days(session, step):
    # Filed on Thursday November 12th 2026: a month later is Saturday December 12th, so the period
    # ends with Monday the 14th (30 days from the filing minute would have been Saturday the 12th).
    with time_machine.travel(datetime(2026, 11, 12, 2, 0, tzinfo=timezone.utc), tick=False) as traveller:
        case = file_matter(session)
        mediation = _task(session, case.id, "Task_mediate")
        assert mediation.due_at.replace(tzinfo=None) == _end_of_day(date(2026, 12, 14))
        assert _fire(session, traveller, datetime(2026, 12, 14, 15, 0, tzinfo=timezone.utc)) == 0  # 23:00 on the 14th
        assert _fire(session, traveller, datetime(2026, 12, 14, 16, 1, tzinfo=timezone.utc)) == 1  # after 24:00
        assert open_specs(session, case.id) == ["Task_mediate", "Task_supervise"]
        case = step("supervisor", case.id, "Task_supervise", SUPERVISE)


# ---- traffic: who mediates decides the period -------------------------------------------------------

def _library():
    drafts, problems = catalog.check_folder(ROOT / "bpmn", ROOT / "forms", SEEDED)
    assert not problems
    [draft] = drafts
    return draft, runtime.spec_from_json(draft.spec_json)


def _ready(workflow, spec_id):
    return next(t for t in workflow.get_tasks(state=TaskState.READY, manual=True) if t.task_spec.bpmn_id == spec_id)


@pytest.mark.parametrize("overdue", [False, True], ids=["in_time", "overdue"])
def test_traffic_police_mediation_has_its_ten_days(overdue):
    """The triage table sends a traffic accident to the traffic police when the parties applied to
    them (committee "traffic_police"); the mediation pathway is driven here on its own."""
    draft, (_intake, subs) = _library()
    with time_machine.travel(START, tick=False) as traveller:
        workflow, snap = runtime.start((subs["people_mediation"], subs), {"committee": "traffic_police", "case_round": 1})
        assert [t.task_spec.bpmn_id for t in snap.ready] == ["Task_mediate_traffic_police"]
        [(_id, element, due)] = snap.timers
        # Ten days from Monday November 23rd: Thursday December 3rd, at the end of the day in China.
        assert element == "Timer_traffic_police_deadline" and due == datetime(2026, 12, 3, 15, 59, 59, tzinfo=timezone.utc)
        assert "公安部令第146号" in draft.meta["deadlines"][element]["legal_basis"]
        if overdue:
            traveller.move_to(START + timedelta(days=11))
            runtime.fire_timers(workflow)
            runtime.complete(workflow, str(_ready(workflow, "Task_supervise").id), {"measure": "urged"})
        workflow = runtime.load_state(runtime.dump_state(workflow), (subs["people_mediation"], subs))
        runtime.complete(workflow, str(_ready(workflow, "Task_mediate_traffic_police").id), {"outcome": "success"})
        snap = runtime.complete(workflow, str(_ready(workflow, "Task_confirm_window").id), {"applied": "no"})
        assert workflow.is_completed()
    coverage.record_workflow("intake", workflow, draft.meta["flows"])


# ---- medical: past its period the mediation counts as failed; extended by agreement ------------------

def test_medical_mediation_past_its_period_counts_as_failed_and_goes_on_to_court(session, step):
    with time_machine.travel(START, tick=False) as traveller:
        case = file_matter(session, category="medical")
        mediation = _task(session, case.id, "Task_mediate_medical")
        assert "国务院令第701号" in mediation.legal_basis
        assert _fire(session, traveller, START + timedelta(days=44)) == 1  # 2027-01-05 ended
        assert open_specs(session, case.id) == ["Task_prefiling"]
        assert session.scalar(sa.select(Task.state).where(Task.id == mediation.id)) == "cancelled"
        case = step("dept_court", case.id, "Task_prefiling", prefiling("no_suit"))
        assert open_specs(session, case.id) == ["Task_close"]


def test_medical_mediation_extended_by_agreement_does_not_fail_at_the_original_end(session):
    with time_machine.travel(START, tick=False) as traveller:
        case = file_matter(session, category="medical")
        mediation = _task(session, case.id, "Task_mediate_medical")
        clocks.extend_deadline(session, actor(session, "supervisor"), mediation.id, 20, "医患双方书面约定延长调解期限",
                                 "医调委主任")
        assert session.scalar(sa.select(Task.due_at).where(Task.id == mediation.id)).replace(tzinfo=None) == _end_of_day(date(2027, 1, 25))
        assert _fire(session, traveller, START + timedelta(days=44)) == 0
        assert open_specs(session, case.id) == ["Task_mediate_medical"]
        assert _fire(session, traveller, START + timedelta(days=64)) == 1
        assert open_specs(session, case.id) == ["Task_prefiling"]


# ---- labour: arbitration before court -------------------------------------------------------------

def test_labour_mediation_without_agreement_in_fifteen_days_goes_to_arbitration(session, step):
    with time_machine.travel(START, tick=False) as traveller:
        case = file_matter(session, category="labour")
        assert _fire(session, traveller, START + timedelta(days=14)) == 0
        assert _fire(session, traveller, START + timedelta(days=16)) == 1
        assert open_specs(session, case.id) == ["Task_arbitration_guide"]
        case = step("clerk", case.id, "Task_arbitration_guide", GUIDE)
        accept = _task(session, case.id, "Task_arb_labour_accept")
        assert accept.legal_basis == "劳动争议调解仲裁法（2008年5月1日施行）第二十九条"


def _to_labour_award(session, step):
    case = file_matter(session, legal_channel="labour_arbitration", category="labour")
    case = step("clerk", case.id, "Task_arbitration_guide", GUIDE)
    return step("dept_labour", case.id, "Task_arb_labour_accept", ACCEPTED)


def test_a_commission_past_its_acceptance_period_lets_the_applicant_sue(session, step):
    with time_machine.travel(START, tick=False) as traveller:
        case = file_matter(session, legal_channel="labour_arbitration", category="labour")
        case = step("clerk", case.id, "Task_arbitration_guide", GUIDE)
        # Five days from Monday the 23rd: Saturday the 28th, a rest day, so Monday the 30th.
        assert _task(session, case.id, "Task_arb_labour_accept").due_at.replace(tzinfo=None) == _end_of_day(date(2026, 11, 30))
        assert _fire(session, traveller, START + timedelta(days=8)) == 1
        assert open_specs(session, case.id) == ["Task_arb_labour_lapsed"]
        case = _walk(session, case, [("clerk", "Task_arb_labour_lapsed", WINDOW_YES),
                                     ("clerk", "Task_arb_litigation", LITIGATION), *CLOSED])
        assert case.status == "completed"


def test_an_award_not_made_in_its_period_lets_the_parties_sue_or_wait(session, step):
    with time_machine.travel(START, tick=False) as traveller:
        case = _to_labour_award(session, step)
        award = _task(session, case.id, "Task_arb_labour_award")
        # 45 days from November 23rd: January 7th 2027 (a year whose notice is not out: provisional).
        assert award.due_at.replace(tzinfo=None) == _end_of_day(date(2027, 1, 7))
        assert _fire(session, traveller, START + timedelta(days=46)) == 1
        assert open_specs(session, case.id) == ["Task_arb_labour_lapsed"]
        # The parties wait for the late award; then the fifteen days to sue run out without a suit.
        case = _walk(session, case, [("clerk", "Task_arb_labour_lapsed", WINDOW_NO),
                                     ("dept_labour", "Task_arb_labour_late", DECISION)])
        window = _task(session, case.id, "Task_arb_labour_suit_window")
        assert window.legal_basis == "劳动争议调解仲裁法（2008年5月1日施行）第四十八条、第五十条"
        assert _fire(session, traveller, START + timedelta(days=46 + 14)) == 0  # 15 days end on Saturday the 23rd: Monday
        assert _fire(session, traveller, START + timedelta(days=46 + 18)) == 1
        assert open_specs(session, case.id) == ["Task_close"]


def test_land_award_takes_effect_when_thirty_days_pass_without_a_suit(session, step):
    with time_machine.travel(START, tick=False) as traveller:
        case = file_matter(session, legal_channel="land_arbitration", category="forest_land")
        case = _walk(session, case, [("clerk", "Task_arbitration_guide", GUIDE),
                                     ("dept_agriculture", "Task_arb_land_accept", ACCEPTED),
                                     ("dept_agriculture", "Task_arb_land_award", DECISION)])
        window = _task(session, case.id, "Task_arb_land_suit_window")
        assert window.legal_basis == "农村土地承包经营纠纷调解仲裁法（2010年1月1日施行）第四十八条"
        assert _fire(session, traveller, START + timedelta(days=29)) == 0
        assert _fire(session, traveller, START + timedelta(days=32)) == 1
        assert open_specs(session, case.id) == ["Task_close"]


# ---- administrative reconsideration and ruling ------------------------------------------------------

def test_reconsideration_not_refused_in_five_working_days_counts_as_accepted(session, step):
    with time_machine.travel(START, tick=False) as traveller:
        case = file_matter(session, legal_channel="reconsideration")
        case = step("clerk", case.id, "Task_recon_guide", RECON_APPLIED)
        accept = _task(session, case.id, "Task_recon_accept")
        assert accept.due_at.replace(tzinfo=None) == _end_of_day(date(2026, 11, 30))  # Tue..Fri, Mon
        assert _fire(session, traveller, START + timedelta(days=7)) == 0  # 17:00 on the 30th
        assert _fire(session, traveller, START + timedelta(days=8)) == 1
        assert open_specs(session, case.id) == ["Task_recon_decide"]
        decide = _task(session, case.id, "Task_recon_decide")
        assert decide.legal_basis.startswith("行政复议法（2023年9月1日修订，2024年1月1日施行）第六十二条")
        case = step("dept_justice", case.id, "Task_recon_decide", DECISION)
        assert open_specs(session, case.id) == ["Task_close"]


def test_the_window_to_apply_for_reconsideration_counts_from_the_day_the_party_knew(session, step):
    with time_machine.travel(START, tick=False) as traveller:
        case = file_matter(session, legal_channel="reconsideration")
        case = step("clerk", case.id, "Task_recon_guide", {**RECON_NOT_YET, "act_known_on": "2026-10-01"})
        window = _task(session, case.id, "Task_recon_apply_window")
        # Sixty days from October 1st: November 30th, not sixty days from the day the party came in.
        assert window.due_at.replace(tzinfo=None) == _end_of_day(date(2026, 11, 30))
        assert window.legal_basis == "行政复议法（2023年9月1日修订，2024年1月1日施行）第二十条"
        assert _fire(session, traveller, datetime(2026, 11, 30, 15, 0, tzinfo=timezone.utc)) == 0
        assert _fire(session, traveller, datetime(2026, 11, 30, 16, 1, tzinfo=timezone.utc)) == 1
        assert open_specs(session, case.id) == ["Task_close"]


def test_ownership_ruling_takes_effect_when_thirty_days_pass_without_a_suit(session, step):
    with time_machine.travel(START, tick=False) as traveller:
        case = file_matter(session, legal_channel="ruling", category="forest_land")
        case = _walk(session, case, [("clerk", "Task_ruling_guide", GUIDE),
                                     ("dept_natural_resources", "Task_ruling_result", ruling("land_ownership"))])
        window = _task(session, case.id, "Task_ruling_suit_window")
        assert "土地管理法（2019年修正，2020年1月1日施行）第十四条" in window.legal_basis
        assert "森林法（2019年修订，2020年7月1日施行）第二十二条" in window.legal_basis
        assert _fire(session, traveller, START + timedelta(days=31)) == 1
        assert open_specs(session, case.id) == ["Task_close"]


# ---- every deadline of the library cites its law's version ------------------------------------------

def test_every_deadline_cites_an_article_and_the_version_of_its_law():
    draft, _specs = _library()
    for element, deadline in draft.meta["deadlines"].items():
        basis = deadline["legal_basis"]
        if element in ("Timer_report", "Timer_specialist"):
            continue  # set by the center itself (the whistle's report-by days, the local hotline rule)
        assert "条" in basis and ("施行" in basis or "修订" in basis or "修正" in basis), (element, basis)
        if deadline["max_extension_days"]:
            assert "条" in deadline["extension_basis"], element
