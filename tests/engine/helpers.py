"""Drive the intake pathway through the engine services, as the web layer would."""
import sqlalchemy as sa

from engine import services

from . import coverage
from engine.models import Case, Task, User
from engine.policy import Actor

INTAKE = {
    "kind": "dispute", "channel": "visit", "category": "neighbour", "place": "东关村三组",
    "summary": "两户因排水沟堵塞发生争执，雨水倒灌一方院内。", "claims": "疏通排水沟并赔偿损失",
    "people_count": "2", "risk_level": "blue",
    "parties-0-role": "applicant", "parties-0-name": "张三", "parties-0-id_type": "resident_id",
    "parties-0-id_number": "110101199003071234", "parties-0-phone": "13800138000",
    "parties-1-role": "respondent", "parties-1-name": "李四", "parties-1-id_type": "resident_id",
    "parties-1-id_number": "11010119851212345X", "parties-1-phone": "13900139000",
}
MEDIATION_SUCCESS = {"sessions-0-held_on": "2026-11-25", "sessions-0-notes": "双方到场，达成一致。",
                     "outcome": "success", "agreement_terms": "李四三日内疏通排水沟并赔偿500元。", "amount": "500"}
MEDIATION_FAILURE = {"sessions-0-held_on": "2026-11-25", "sessions-0-notes": "双方分歧较大。",
                     "outcome": "failure", "failure_reason": "赔偿金额分歧过大。"}
REDIRECT = {"target_channel": "petition_office", "guidance": "已告知其向县信访局提出。"}
CLOSE = {"closing_method": "mediated", "closing_summary": "调解成功，协议已履行。"}
VISIT_OK = {"visit_method": "phone", "satisfaction": "satisfied"}
VISIT_BAD = {"visit_method": "phone", "satisfaction": "unsatisfied", "feedback": "认为赔偿偏低。"}
REVIEW = {"decision": "explained", "finding": "协议合法有效，已向当事人解释。"}
SUPERVISE = {"measure": "urged", "note": "请于三日内办结。"}


def actor(session, username):
    return Actor.of(session.scalar(sa.select(User).where(User.username == username)))


def open_task(session, case_id, spec_id):
    return session.scalar(sa.select(Task).where(Task.case_id == case_id, Task.spec_id == spec_id,
                                                Task.state == "ready"))


def complete(session, username, case_id, spec_id, post):
    task = open_task(session, case_id, spec_id)
    assert task is not None, f"no open task {spec_id}"
    services.complete_task(session, actor(session, username), task.id, post)
    coverage.record(session, case_id)
    return session.get(Case, case_id)


def file_matter(session, username="clerk", repeats_checked=True, **changes):
    """File the standard matter. Scenarios file the same parties again and again, so by default
    the clerk has already said it is a new matter."""
    post = dict(INTAKE)
    post.update(changes)
    case = services.start_case(session, actor(session, username), "intake", post,
                               new_despite_repeats=repeats_checked)
    coverage.record(session, case.id)
    return case


def open_specs(session, case_id):
    return sorted(session.scalars(sa.select(Task.spec_id).where(Task.case_id == case_id, Task.state == "ready")))


def reload(session):
    """Forget everything in memory: the next step loads the case from the database."""
    session.expire_all()
    services.runtime.SPEC_CACHE._specs.clear()
