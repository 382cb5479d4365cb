"""A resident rates the outcome online: it completes the return visit (visit_method "online") as
the resident, once, only while the visit is open; unsatisfied goes on to the supervisor's review."""
import pytest
import sqlalchemy as sa

from engine.cases import inbox, rating
from engine.errors import Conflict, FormInvalid, NotFound
from engine.persistence.models import AuditEvent, Case, Task
from engine.reading import follow

from . import coverage
from .helpers import CLOSE, INTAKE, MEDIATION_SUCCESS, WINDOW_NO, actor, complete, file_matter, open_task
from .test_unit_inbox import RESIDENT_PHONE, completed_post, submit


def closed_case(session, reported=True):
    """A case brought to its return visit; filed from a resident's report, or at the window."""
    if reported:
        resident = submit(session)
        case = inbox.accept(session, actor(session, "clerk"), resident.id, completed_post(session, resident),
                            new_despite_repeats=True)
    else:
        case = file_matter(session)
    complete(session, "mediator", case.id, "Task_mediate", MEDIATION_SUCCESS)
    complete(session, "mediator", case.id, "Task_confirm_window", WINDOW_NO)
    complete(session, "clerk", case.id, "Task_close", CLOSE)
    return session.get(Case, case.id)


def proof(case, phone=RESIDENT_PHONE):
    return follow.proof_of(case.code, phone)


def test_a_satisfied_rating_completes_the_visit_and_the_case(session):
    case = closed_case(session)
    assert follow.progress(session, case).visit_open
    rating.rate_online(session, case.code, proof(case), "satisfied", "  调解员很耐心  ")
    coverage.record(session, case.id)
    session.expire_all()
    case = session.get(Case, case.id)
    visit = session.scalar(sa.select(Task).where(Task.case_id == case.id, Task.spec_id == "Task_visit"))
    assert visit.state == "completed" and visit.completed_by is None
    assert case.status == "completed" and case.satisfaction == "satisfied"
    event = session.scalar(sa.select(AuditEvent).where(AuditEvent.case_id == case.id, AuditEvent.task_spec == "Task_visit",
                                                       AuditEvent.kind == "task_completed"))
    assert event.detail["data"] == {"visit_method": "online", "satisfaction": "satisfied", "feedback": "调解员很耐心"}
    assert event.actor_name == "当事人（网上）"
    shown = follow.progress(session, case)
    assert not shown.visit_open and shown.rated == "satisfied" and shown.closing_method == "mediated"


def test_an_unsatisfied_rating_goes_to_the_supervisors_review(session):
    case = closed_case(session)
    rating.rate_online(session, case.code, proof(case), "unsatisfied", "赔偿至今未到位")
    coverage.record(session, case.id)
    review = open_task(session, case.id, "Task_review")
    assert review is not None and review.role == "supervisor"
    assert session.get(Case, case.id).status == "open"


def test_a_party_at_the_window_rates_with_their_own_phone(session):
    case = closed_case(session, reported=False)
    rating.rate_online(session, case.code, proof(case, INTAKE["parties-1-phone"]), "basically_satisfied")
    assert session.get(Case, case.id).satisfaction == "basically_satisfied"


def test_only_once_only_after_closing_only_with_the_right_phone(session):
    resident = submit(session)
    case = inbox.accept(session, actor(session, "clerk"), resident.id, completed_post(session, resident))
    with pytest.raises(Conflict, match="still being handled"):
        rating.rate_online(session, case.code, proof(case), "satisfied")
    case = closed_case(session)
    with pytest.raises(NotFound):
        rating.rate_online(session, case.code, proof(case, "13600136000"), "satisfied")
    with pytest.raises(FormInvalid):
        rating.rate_online(session, case.code, proof(case), "delighted")
    with pytest.raises(FormInvalid):
        rating.rate_online(session, case.code, proof(case), "satisfied", "很" * (rating.WORDS + 1))
    rating.rate_online(session, case.code, proof(case), "satisfied")
    with pytest.raises(Conflict, match="already been rated"):
        rating.rate_online(session, case.code, proof(case), "unsatisfied")
    assert session.get(Case, case.id).satisfaction == "satisfied"


def test_after_the_clerks_visit_the_resident_sees_it_rated(session):
    case = closed_case(session)
    complete(session, "clerk", case.id, "Task_visit", {"visit_method": "phone", "satisfaction": "satisfied"})
    shown = follow.progress(session, session.get(Case, case.id))
    assert shown.rated == "satisfied" and not shown.visit_open
    with pytest.raises(Conflict, match="already been rated"):
        rating.rate_online(session, case.code, proof(case), "unsatisfied")


def test_the_rulebook_lets_a_resident_do_nothing_else(session):
    """The resident's actor completes the visit and no other step, not even on the same case."""
    from engine.access.policy import RESIDENT
    from engine.access.rulebook import permitted, step_facts
    case = closed_case(session)
    facts = sa.select(Task).where(Task.case_id == case.id).order_by(Task.id)
    allowed = {task.spec_id: permitted(RESIDENT, None, step_facts(task, "/1/2/")) for task in session.scalars(facts)}
    assert allowed["Task_visit"] == {"rate_online"}
    assert all(verbs == frozenset() for spec, verbs in allowed.items() if spec != "Task_visit")
