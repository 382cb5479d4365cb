"""Drive the intake pathway through the engine services, as the web layer would."""
import sqlalchemy as sa

from engine.cases import services

from . import coverage
from engine.persistence.models import Case, Task, User
from engine.access.policy import Actor

INTAKE = {
    "kind": "dispute", "channel": "visit", "category": "neighbour", "place": "东关村三组",
    "summary": "两户因排水沟堵塞发生争执，雨水倒灌一方院内。", "claims": "疏通排水沟并赔偿损失",
    "people_count": "2",
    "parties-0-role": "applicant", "parties-0-name": "张三", "parties-0-id_type": "resident_id",
    "parties-0-id_number": "110101199003071234", "parties-0-phone": "13800138000",
    "parties-1-role": "respondent", "parties-1-name": "李四", "parties-1-id_type": "resident_id",
    "parties-1-id_number": "11010119851212345X", "parties-1-phone": "13900139000",
}
MEDIATION_SUCCESS = {"sessions-0-held_on": "2026-09-01", "sessions-0-notes": "双方到场，达成一致。",
                     "outcome": "success", "agreement_terms": "李四三日内疏通排水沟并赔偿500元。", "amount": "500"}
MEDIATION_FAILURE = {"sessions-0-held_on": "2026-09-01", "sessions-0-notes": "双方分歧较大。",
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


# The intake form once asked for legal categories; scenarios written that way are filed with the
# facts that lead triage to the same place (bpmn/triage.dmn).
LEGACY = {
    ("law_related", "on"): {"judgment_in_force": "on"},
    ("legal_channel", "labour_arbitration"): {"employer_matter": "on", "mediation_tried": "failed"},
    ("legal_channel", "land_arbitration"): {"land_matter": "contract", "mediation_tried": "failed"},
    ("legal_channel", "commercial_arbitration"): {"arbitration_clause": "on"},
    ("legal_channel", "reconsideration"): {"gov_act": "on", "organ_level": "county_department"},
    ("legal_channel", "ruling"): {"land_matter": "ownership"},
}


def facts(changes):
    post = {}
    for key, value in changes.items():
        post.update(LEGACY.get((key, value), {} if key in ("law_related", "legal_channel") else {key: value}))
    return post


def file_matter(session, username="clerk", repeats_checked=True, **changes):
    """File the standard matter. Scenarios file the same parties again and again, so by default
    the clerk has already said it is a new matter."""
    post = dict(INTAKE)
    post.update(facts(changes))
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


# ---- the other pathways' forms -----------------------------------------------------------------
WINDOW_NO = {"applied": "no", "window_note": "双方表示自愿履行，不申请司法确认。"}
WINDOW_YES = {"applied": "yes", "applied_on": "2026-09-02"}
ACCEPTED = {"acceptance": "accepted", "accepted_on": "2026-09-02", "notified_by": "written", "case_number": "（2026）受字第1号"}
NOT_ACCEPTED = {"acceptance": "not_accepted", "accepted_on": "2026-09-02", "notified_by": "written",
                "acceptance_note": "不属于本机关受理范围，已告知向有权机关提出。"}
CONFIRMED = {"court_result": "confirmed", "ruled_on": "2026-09-03", "ruling_number": "（2026）确字第8号"}
REJECTED = {"court_result": "rejected", "ruled_on": "2026-09-03", "ruling_note": "协议内容违反法律规定。"}
LITIGATION = {"representation": "legal_aid", "court_name": "清河县人民法院", "filed_on": "2026-09-04"}
GUIDE = {"competent_body": "清河县劳动人事争议仲裁院", "guidance": "告知申请仲裁所需材料和时效，已当场协助填写申请书。"}
DECISION = {"result": "partly", "decided_on": "2026-09-10", "decision_summary": "部分支持申请人的请求，理由已书面告知。"}
FEEDBACK = {"handled_on": "2026-09-08", "result_summary": "已依法办理并书面答复当事人。", "replied_by": "written"}
REPORT = {"attended_on": "2026-09-01", "opinion": "本部门负责核查房屋权属，三日内出具意见。"}
LAW_HANDOVER = {"legal_organ": "court", "handed_on": "2026-09-01", "receipt_number": "QH-2026-0088"}
WHISTLE = {"summons-0-department": "housing", "summons-0-assignment": "核查房屋质量问题",
           "summons-1-department": "natural_resources", "summons-1-assignment": "核查宅基地权属",
           "report_days": "3", "whistle_reason": "涉及多个部门职责，需联合会诊。"}


def prefiling(outcome):
    return {"prefiling_outcome": outcome, "prefiling_note": "特邀调解员组织双方调解。"}


def specialist(result):
    return {"specialist_result": result, "specialist_note": "部门已约谈双方并现场核查。"}


def joint(decision):
    return {"held_on": "2026-09-02", "attendees": "住建局、自然资源局、司法所", "joint_decision": decision,
            "joint_summary": "会诊明确各部门职责和化解方案。"}


def petition_register(petition_type, department="housing"):
    return {"petition_type": petition_type, "handling_department": department, "forward_mode": "assign"}


def recon_accept(procedure):
    return {"acceptance": "accepted", "procedure": procedure, "respondent_organ": "清河县市场监督管理局"}


def complete_nth(session, username, case_id, spec_id, post, index):
    """Complete one of several instances of a step (a multi-instance task): the index-th created."""
    tasks = session.scalars(sa.select(Task).where(Task.case_id == case_id, Task.spec_id == spec_id)
                            .order_by(Task.id)).all()
    assert tasks[index].state == "ready", f"{spec_id} #{index} is {tasks[index].state}"
    services.complete_task(session, actor(session, username), tasks[index].id, post)
    coverage.record(session, case_id)
    return session.get(Case, case_id)
