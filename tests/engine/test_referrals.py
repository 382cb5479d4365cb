"""Referrals (issue 13 §5) through the engine: a step offering referrals refers a party to the
nearest department providing the service; the receiving department's answers, each one transaction
in the case's history; the rulebook's table for the receiving side."""
import pytest
import sqlalchemy as sa

from engine.access.policy import Actor
from engine.access.rulebook import ReferralFacts, StepFacts, permitted, permitted_on_referral
from engine.cases import referrals
from engine.errors import Conflict, NotAllowed, NotFound
from engine.persistence.models import AuditEvent, OrgUnit, Referral
from engine.reading import referrals as reads

from .helpers import actor, file_matter, open_task

LEGAL_AID = "/1/2/20/"


def test_the_rulebook_lets_only_the_receiving_department_answer():
    department = Actor(1, "法援", {"department"}, None, LEGAL_AID, "department")
    other = Actor(2, "心理", {"department"}, None, "/1/2/21/", "department")
    clerk = Actor(3, "受理", {"clerk"}, None, "/1/2/", "county")
    waiting = ReferralFacts(id=1, state="referred", to_unit_path=LEGAL_AID)
    assert permitted_on_referral(department, waiting) == {"accept", "decline"}
    assert permitted_on_referral(department, ReferralFacts(1, "accepted", LEGAL_AID)) == {"complete"}
    assert permitted_on_referral(department, ReferralFacts(1, "completed", LEGAL_AID)) == set()
    assert permitted_on_referral(other, waiting) == set() and permitted_on_referral(clerk, waiting) == set()
    # A step refers only when its diagram offers referrals, and only for whoever may work it.
    mediator = Actor(4, "调解", {"mediator"}, None, "/1/2/", "county")
    step = StepFacts(id=9, state="ready", role="mediator", unit_path="/1/2/", referrals=("legal_aid",))
    assert "refer" in permitted(mediator, None, step)
    assert "refer" not in permitted(mediator, None, StepFacts(id=9, state="ready", role="mediator", unit_path="/1/2/"))
    assert "refer" not in permitted(clerk, None, step)


def test_refer_then_take_on_and_record_the_outcome(session):
    case = file_matter(session)
    task = open_task(session, case.id, "Task_mediate")
    units = reads.receiving_units(session, case.org_unit.path, "legal_aid")
    assert [unit.code for unit in units] == ["C01-Q-D-legal_aid"]
    assert reads.receiving_units(session, case.org_unit.path, "astrology") == []
    mediator = actor(session, "mediator")
    with pytest.raises(referrals.ReferralInvalid) as invalid:
        referrals.refer(session, mediator, task.id, "王五", "legal_aid", units[0].id, "")
    assert set(invalid.value.errors) == {"party_name", "reason"}
    made = referrals.refer(session, mediator, task.id, "张三", "legal_aid", units[0].id, "需要法律援助代理诉讼")
    with pytest.raises(NotAllowed):
        referrals.refer(session, actor(session, "clerk"), task.id, "张三", "legal_aid", units[0].id, "需要法律援助")
    with pytest.raises(NotFound):
        referrals.accept(session, actor(session, "dept_counselling"), made.id)
    department = actor(session, "dept_legal_aid")
    assert reads.open_count(session, department) == 1
    with pytest.raises(Conflict):
        referrals.complete(session, department, made.id, "尚未接收")
    referrals.accept(session, department, made.id)
    referrals.complete(session, department, made.id, "法律援助申请已获批准")
    session.expire_all()
    done = session.get(Referral, made.id)
    assert (done.state, done.outcome, done.outcome_by) == ("completed", "法律援助申请已获批准", department.user_id)
    assert reads.open_count(session, department) == 0
    events = session.execute(sa.select(AuditEvent.kind, AuditEvent.detail, AuditEvent.task_spec)
                             .where(AuditEvent.case_id == case.id, AuditEvent.kind.like("referral_%"))
                             .order_by(AuditEvent.seq)).all()
    assert [kind for kind, _detail, _spec in events] == ["referral_made", "referral_accepted", "referral_completed"]
    assert events[0].detail["referred_to"] == "县法律援助中心" and events[-1].detail["outcome"] == "法律援助申请已获批准"
    assert {spec for _kind, _detail, spec in events} == {"Task_mediate"}
    # The step itself is untouched: still open for the mediator.
    assert open_task(session, case.id, "Task_mediate").id == task.id
    assert session.scalar(sa.select(OrgUnit.department_kind).where(OrgUnit.id == done.to_unit_id)) == "legal_aid"
