"""The rulebook as a table: who may do what with a case, or a step of it, in which situation.
And the level moves it allows, enforced by the services whatever a request says."""
import pytest
import sqlalchemy as sa

from engine.access.policy import Actor
from engine.access.rulebook import CaseFacts, StepFacts, SubmissionFacts, permitted, permitted_on_submission, submission_refusal
from engine.cases import transfers
from engine.errors import Conflict, NotAllowed, NotFound
from engine.persistence.models import Case, CaseTransfer

from .helpers import (CLOSE, MEDIATION_FAILURE, MEDIATION_SUCCESS, VISIT_OK, WINDOW_NO, actor, complete, file_matter,
                      prefiling)

CITY, COUNTY, TOWNSHIP, VILLAGE, COURT = "/1/", "/1/2/", "/1/2/3/", "/1/2/3/4/", "/1/2/9/"


def person(user_id, roles, path, level):
    return Actor(user_id, f"user {user_id}", roles, None, path, level)


CLERK = person(1, {"clerk"}, COUNTY, "county")
MEDIATOR = person(2, {"mediator"}, COUNTY, "county")
OTHER_MEDIATOR = person(3, {"mediator"}, COUNTY, "county")
SUPERVISOR = person(4, {"supervisor"}, COUNTY, "county")
AUDITOR = person(5, {"auditor"}, COUNTY, "county")
DESIGNER = person(6, {"designer"}, COUNTY, "county")
TOWNSHIP_CLERK = person(7, {"clerk"}, TOWNSHIP, "township")
VILLAGE_CLERK = person(8, {"clerk"}, VILLAGE, "village")
CITY_CLERK = person(9, {"clerk"}, CITY, "city")
COURT_DEPT = person(10, {"department"}, COURT, "department")


def case(**facts):
    base = dict(id=1, status="open", unit_path=COUNTY, unit_level="county", route="mediation", has_unit_above=True)
    return CaseFacts(**{**base, **facts})


MEDIATION = case()
CASES = [
    # who, which case, what they may do with it
    (SUPERVISOR, MEDIATION, {"place_in_grid", "escalate", "assign_down", "flag", "retry_callback",
                             "meeting_decision"}),
    (CLERK, MEDIATION, {"place_in_grid", "escalate", "assign_down", "record_repeat_visit", "join_submission"}),
    (MEDIATOR, MEDIATION, {"escalate", "assign_down"}),
    (AUDITOR, MEDIATION, set()),
    (DESIGNER, MEDIATION, {"migrate"}),
    (COURT_DEPT, MEDIATION, set()),
    (TOWNSHIP_CLERK, MEDIATION, set()),  # a case of the unit above is out of reach
    (CLERK, case(route="petition"), {"place_in_grid", "escalate", "assign_down", "record_repeat_visit", "join_submission"}),
    # Reconsideration, arbitration, ruling, law-related matters stay with the body the law names.
    (CLERK, case(route="reconsideration"), {"place_in_grid", "record_repeat_visit", "join_submission"}),
    (SUPERVISOR, case(route="reconsideration"), {"place_in_grid", "flag", "retry_callback", "meeting_decision"}),
    (CLERK, case(route="arbitration"), {"place_in_grid", "record_repeat_visit", "join_submission"}),
    (CLERK, case(route="law_related"), {"place_in_grid", "record_repeat_visit", "join_submission"}),
    # A step with a resident department: the case is in its hands.
    (CLERK, case(department_step=True), {"place_in_grid", "record_repeat_visit", "join_submission"}),
    (CLERK, case(status="completed"), {"record_repeat_visit"}),
    # A closed case's callback (the closing reply) may still be sent again.
    (SUPERVISOR, case(status="completed"), {"retry_callback"}),
    (SUPERVISOR, case(status="completed", flagged=True), {"unflag", "retry_callback"}),
    (SUPERVISOR, case(flagged=True), {"place_in_grid", "escalate", "assign_down", "unflag", "retry_callback",
                                      "meeting_decision"}),
    (person(11, {"supervisor"}, TOWNSHIP, "township"), MEDIATION, set()),
    # A move waiting: the receiving unit acknowledges it, nobody moves it again meanwhile.
    (CLERK, case(move_to_path=COUNTY), {"place_in_grid", "acknowledge", "record_repeat_visit", "join_submission"}),
    (CLERK, case(move_to_path=TOWNSHIP), {"place_in_grid", "acknowledge", "record_repeat_visit", "join_submission"}),
    (TOWNSHIP_CLERK, case(unit_path=TOWNSHIP, unit_level="township", move_to_path=TOWNSHIP),
     {"place_in_grid", "acknowledge", "record_repeat_visit", "join_submission"}),
    (TOWNSHIP_CLERK, case(unit_path=TOWNSHIP, unit_level="township"), {"place_in_grid", "escalate", "assign_down", "record_repeat_visit", "join_submission"}),
    (VILLAGE_CLERK, case(unit_path=VILLAGE, unit_level="village"), {"place_in_grid", "escalate", "record_repeat_visit", "join_submission"}),
    (CITY_CLERK, case(unit_path=CITY, unit_level="city", has_unit_above=False), {"place_in_grid", "assign_down", "record_repeat_visit", "join_submission"}),
    (CLERK, case(has_unit_above=False), {"place_in_grid", "assign_down", "record_repeat_visit", "join_submission"}),
]


# The case a reported matter is joined to must be open: the same rule as the case page's actions.
@pytest.mark.parametrize("who, facts, verbs", CASES)
def test_what_may_be_done_with_a_case(who, facts, verbs):
    assert permitted(who, facts) == verbs


def step(**facts):
    base = dict(id=7, state="ready", role="mediator", unit_path=COUNTY, timed=True)
    return StepFacts(**{**base, **facts})


UNCLAIMED = step()
STEPS = [
    (MEDIATOR, UNCLAIMED, {"open", "claim", "submit", "stop_clock"}),
    (SUPERVISOR, UNCLAIMED, {"stop_clock", "extend", "claim_on_behalf", "remind", "assign_mediator"}),
    (SUPERVISOR, step(extension_left=0), {"stop_clock", "claim_on_behalf", "remind", "assign_mediator"}),
    # A clerk dispatches a mediator's step waiting in the pool to a registered mediator, nothing else.
    (CLERK, UNCLAIMED, {"assign_mediator"}),
    (CLERK, step(assignee_id=2, assignee_name="李调解"), set()),
    (CLERK, step(role="clerk"), {"open", "claim", "submit", "stop_clock"}),
    (AUDITOR, UNCLAIMED, set()),
    (TOWNSHIP_CLERK, UNCLAIMED, set()),
    (person(11, {"mediator"}, TOWNSHIP, "township"), UNCLAIMED, {"open"}),  # sees it, may not work it
    (MEDIATOR, step(timed=False), {"open", "claim", "submit"}),
    (MEDIATOR, step(assignee_id=2, assignee_name="李调解"), {"open", "release", "submit", "stop_clock"}),
    (OTHER_MEDIATOR, step(assignee_id=2, assignee_name="李调解"), {"open", "stop_clock"}),
    (SUPERVISOR, step(assignee_id=2, assignee_name="李调解"), {"stop_clock", "extend", "reassign", "remind", "assign_mediator"}),
    (MEDIATOR, step(clock_stopped=True), {"open", "claim", "submit", "restart_clock"}),
    (SUPERVISOR, step(clock_stopped=True), {"restart_clock", "claim_on_behalf", "remind", "assign_mediator"}),
    (SUPERVISOR, step(role="department", unit_path=COURT), {"stop_clock", "extend", "claim_on_behalf", "remind"}),
    (MEDIATOR, step(state="completed"), set()),
    (SUPERVISOR, step(state="completed"), set()),
    (COURT_DEPT, step(role="department", unit_path=COURT), {"open", "claim", "submit", "stop_clock"}),
]


@pytest.mark.parametrize("who, facts, verbs", STEPS)
def test_what_may_be_done_with_a_step(who, facts, verbs):
    assert permitted(who, MEDIATION, facts) == verbs


def matter(**facts):
    base = dict(id=5, state="pending", unit_path=VILLAGE, deciding_path=VILLAGE)
    return SubmissionFacts(**{**base, **facts})


DECIDE = {"accept", "join", "decline"}
SUBMISSIONS = [
    # who, which matter in a unit's inbox, what they may do with it
    (VILLAGE_CLERK, matter(), DECIDE),
    (CLERK, matter(), set()),                                     # sees it from above, read-only
    (SUPERVISOR, matter(), set()),
    (TOWNSHIP_CLERK, matter(deciding_path=TOWNSHIP), DECIDE),     # the village has no clerk
    (VILLAGE_CLERK, matter(state="accepted", decided_by_name="王受理"), set()),
    (MEDIATOR, matter(unit_path=COUNTY, deciding_path=COUNTY), set()),
    (AUDITOR, matter(unit_path=COUNTY, deciding_path=COUNTY), set()),
    (person(12, {"clerk"}, "/1/2/3/5/", "village"), matter(), set()),  # another village's clerk
]


@pytest.mark.parametrize("who, facts, verbs", SUBMISSIONS)
def test_who_decides_a_reported_matter(who, facts, verbs):
    assert permitted_on_submission(who, facts) == verbs


def test_a_reported_matter_is_refused_by_kind():
    """Outside the units: not there at all; from above: not theirs to decide; decided: who did."""
    assert isinstance(submission_refusal(person(12, {"clerk"}, "/1/2/3/5/", "village"), "accept", matter()), NotFound)
    assert isinstance(submission_refusal(CLERK, "accept", matter()), NotAllowed)
    decided = submission_refusal(VILLAGE_CLERK, "join", matter(state="declined", decided_by_name="王受理"))
    assert isinstance(decided, Conflict) and "王受理" in str(decided)


def test_refusals_say_why():
    from engine.access.rulebook import refusal
    assert isinstance(refusal(CLERK, "escalate", case(route="reconsideration")), NotAllowed)
    assert isinstance(refusal(CLERK, "escalate", case(status="completed")), Conflict)
    assert "李调解" in str(refusal(OTHER_MEDIATOR, "claim", MEDIATION, step(assignee_id=2, assignee_name="李调解")))


# ---- the level moves, enforced by the services ----------------------------------------------------

def _unmoved(session, case_id, unit_id):
    session.expire_all()
    assert session.get(Case, case_id).org_unit_id == unit_id
    assert session.scalar(sa.select(CaseTransfer.id).where(CaseTransfer.case_id == case_id)) is None


def test_a_reconsideration_never_moves_between_levels(session):
    recon = file_matter(session, "clerk_cg", legal_channel="reconsideration")
    assert recon.route == "reconsideration"
    with pytest.raises(NotAllowed):
        transfers.escalate(session, actor(session, "clerk_cg"), recon.id, "请县里办")
    with pytest.raises(NotAllowed):
        transfers.assign_down(session, actor(session, "clerk_cg"), recon.id, recon.org_unit_id, "x")
    _unmoved(session, recon.id, recon.org_unit_id)


def test_a_case_in_a_departments_hands_does_not_move(session):
    case_ = file_matter(session)
    complete(session, "mediator", case_.id, "Task_mediate", MEDIATION_FAILURE)  # to the court's pre-filing mediation
    with pytest.raises(NotAllowed):
        transfers.escalate(session, actor(session, "supervisor"), case_.id, "x")
    _unmoved(session, case_.id, case_.org_unit_id)
    complete(session, "dept_court", case_.id, "Task_prefiling", prefiling("no_suit"))
    moved = transfers.escalate(session, actor(session, "supervisor"), case_.id, "跨县")  # back with the center
    assert moved.direction == "up"


def test_a_closed_case_does_not_move(session):
    closed = file_matter(session)
    for username, spec, post in [("mediator", "Task_mediate", MEDIATION_SUCCESS),
                                 ("mediator", "Task_confirm_window", WINDOW_NO), ("clerk", "Task_close", CLOSE),
                                 ("clerk", "Task_visit", VISIT_OK)]:
        complete(session, username, closed.id, spec, post)
    session.expire_all()
    assert session.get(Case, closed.id).status == "completed"
    with pytest.raises(Conflict, match="completed case cannot be moved"):
        transfers.escalate(session, actor(session, "clerk"), closed.id, "x")
    _unmoved(session, closed.id, closed.org_unit_id)
