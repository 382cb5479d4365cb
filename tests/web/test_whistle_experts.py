"""The whistle summons experts of the registry beside departments, end to end through the pages:
the supervisor chooses from the active experts of the case's unit and above (an expert from
elsewhere is refused by the form's own check), the history names them, an expert with a login is
told by text message; the joint consultation records which experts attended and their opinions,
and the case page reads them by name."""
import sqlalchemy as sa

from engine.persistence.models import OrgUnit, OutboxMessage, Resolver
from tests.engine.helpers import REPORT, WHISTLE, actor, complete_nth
from tests.web.support import events_of, open_task_id, page, reading, text, user_id


def _id(factory, name):
    with reading(factory) as s:
        return s.scalar(sa.select(Resolver.id).where(Resolver.name == name))


def _township_expert(factory):
    """A doctor registered at a township: not offered to a county case."""
    with reading(factory) as s:
        township = s.scalar(sa.select(OrgUnit.id).where(OrgUnit.code == "C01-Q-CG"))
        person = Resolver(org_unit_id=township, name="试医生", kind="doctor", specialties=[])
        s.add(person)
        s.commit()
        return person.id


def test_whistle_with_experts_then_their_opinions(client, login_as, filed_case, session_factory, registry_rows):
    case_id, _task, _version = filed_case(complex="on")
    whistle = open_task_id(session_factory, case_id, "Task_whistle")
    lawyer, judge, outsider = _id(session_factory, "林雅琴"), _id(session_factory, "高卫东"), _township_expert(session_factory)
    login_as("supervisor")
    form = page(client.get(f"/tasks/{whistle}"))
    offered = form.xpath('//select[@name="experts-0-expert"]/option/text()')
    assert any(o.startswith("林雅琴（律师") for o in offered) and any(o.startswith("高卫东（法官") for o in offered)
    assert any(o.startswith("马振国（民警") for o in offered)  # registered at the police stationed at the county
    assert not any("试医生" in o for o in offered)

    post = dict(WHISTLE, **{"experts-0-expert": str(outsider), "experts-0-assignment": "评估伤情"})
    refused = client.post(f"/tasks/{whistle}", data=post)
    assert refused.status_code == 422 and "请从列表中选择" in text(refused)
    assert page(refused).xpath('//input[@name="experts-0-assignment"]/@value') == ["评估伤情"]

    post = dict(WHISTLE, **{"experts-0-expert": str(lawyer), "experts-0-assignment": "提供合同效力法律意见",
                            "experts-1-expert": str(judge), "experts-1-assignment": "说明诉讼风险"})
    assert client.post(f"/tasks/{whistle}", data=post).status_code == 302
    [summoned] = events_of(session_factory, case_id, kind="experts_summoned")
    assert [(e["name"], e["told"]) for e in summoned.detail["experts"]] == [("林雅琴", False), ("高卫东", True)]
    with reading(session_factory) as s:
        told = s.scalars(sa.select(OutboxMessage).where(OutboxMessage.case_id == case_id,
                                                        OutboxMessage.topic == "notice")).all()
    assert [m.recipient_user_id for m in told] == [user_id(session_factory, "dept_court")]
    assert "请您作为法官参加“中心吹哨”：说明诉讼风险" in told[0].body

    session = session_factory()
    try:
        complete_nth(session, "dept_housing", case_id, "Task_report", REPORT, 0)
        complete_nth(session, "dept_natural_resources", case_id, "Task_report", REPORT, 1)
    finally:
        session.close()
    joint = open_task_id(session_factory, case_id, "Task_joint")
    consult = {"held_on": "2026-09-02", "attendees": "住建局、自然资源局、林雅琴律师", "joint_decision": "mediation",
               "joint_summary": "会诊明确各部门职责和化解方案。",
               "expert_opinions-0-expert": str(lawyer), "expert_opinions-0-opinion": "合同有效，宜调解。"}
    assert client.post(f"/tasks/{joint}", data=consult).status_code == 302
    shown = text(client.get(f"/cases/{case_id}"))
    assert "林雅琴（律师·清河明正律师事务所）" in shown and "合同有效，宜调解。" in shown
    assert "高卫东（法官·清河县人民法院）" in shown  # the whistle's record names the summoned experts
