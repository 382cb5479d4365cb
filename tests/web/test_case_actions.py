"""Case actions on the web: the case page offers exactly what the rulebook allows; every action
reports a refusal the same way (a message on the case page); a level move the rulebook refuses
is refused when forged too (403, nothing changed)."""
import lxml.html
import pytest
import sqlalchemy as sa

from engine.access.policy import Actor
from engine.access.rulebook import permitted_on_case
from engine.persistence.models import AuditEvent, Case, CaseTransfer, Task, User
from tests.engine.helpers import MEDIATION_FAILURE, complete, file_matter
from tests.web.support import location_path, reading

# The form each verb posts to, as a path pattern on the case page.
CASE_FORMS = {"escalate": "/cases/{case}/escalate", "assign_down": "/cases/{case}/assign",
              "flag": "/supervision/cases/{case}/flag", "unflag": "/supervision/cases/{case}/unflag",
              "place_in_grid": "/grid/cases/{case}/grid"}
STEP_FORMS = {"extend": "/tasks/{task}/deadline/extend", "stop_clock": "/tasks/{task}/clock/stop",
              "restart_clock": "/tasks/{task}/clock/restart", "remind": "/supervision/tasks/{task}/remind",
              "reassign": "/supervision/tasks/{task}/assign", "claim_on_behalf": "/supervision/tasks/{task}/assign",
              "assign_mediator": "/registry/tasks/{task}/assign"}


def _actions(page):
    return {form.get("action") for form in lxml.html.fromstring(page).xpath("//form[@method='post']")}


def _expected(session_factory, username, case_id):
    with reading(session_factory) as session:
        who = Actor.of(session.scalar(sa.select(User).where(User.username == username)))
        found = session.get(Case, case_id)
        tasks = session.scalars(sa.select(Task).where(Task.case_id == case_id)).all()
        case_verbs, step_verbs = permitted_on_case(session, who, found, tasks)
    urls = {CASE_FORMS[verb].format(case=case_id) for verb in case_verbs if verb in CASE_FORMS}
    for task_id, verbs in step_verbs.items():
        urls |= {STEP_FORMS[verb].format(task=task_id) for verb in verbs if verb in STEP_FORMS}
    return urls


@pytest.mark.parametrize("username", ["clerk", "mediator", "supervisor", "auditor"])
def test_the_case_page_offers_exactly_what_the_rulebook_allows(client, login_as, filed_case, session_factory,
                                                               username):
    case_id, _task, _version = filed_case()
    login_as(username)
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    offered = {url for url in _actions(page) if "/cases/" in url or "/tasks/" in url}
    assert offered == _expected(session_factory, username, case_id)
    if username == "supervisor":
        assert {f"/cases/{case_id}/escalate", f"/supervision/cases/{case_id}/flag"} <= offered


def _file(session_factory, username="clerk", **changes):
    session = session_factory()
    try:
        return file_matter(session, username, **changes).id
    finally:
        session.close()


def _moves_refused(client, session_factory, case_id):
    with reading(session_factory) as session:
        unit_id = session.get(Case, case_id).org_unit_id
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "上报上级" not in page and f"/cases/{case_id}/escalate" not in page
    assert f"/cases/{case_id}/assign" not in page
    assert client.post(f"/cases/{case_id}/escalate", data={"note": "伪造"}).status_code == 403
    assert client.post(f"/cases/{case_id}/assign", data={"unit_id": unit_id, "note": "伪造"}).status_code == 403
    with reading(session_factory) as session:
        assert session.get(Case, case_id).org_unit_id == unit_id
        assert session.scalar(sa.select(CaseTransfer.id).where(CaseTransfer.case_id == case_id)) is None
        kinds = session.scalars(sa.select(AuditEvent.kind).where(AuditEvent.case_id == case_id)).all()
    assert not {"case_escalated", "case_assigned_down"} & set(kinds)


def test_a_reconsideration_offers_no_level_move_and_refuses_a_forged_one(client, login_as, session_factory):
    case_id = _file(session_factory, "clerk_cg", legal_channel="reconsideration")
    login_as("clerk_cg")
    _moves_refused(client, session_factory, case_id)


def test_a_case_with_a_department_offers_no_level_move(client, login_as, session_factory):
    case_id = _file(session_factory)
    session = session_factory()
    try:
        complete(session, "mediator", case_id, "Task_mediate", MEDIATION_FAILURE)  # the court's pre-filing mediation
    finally:
        session.close()
    login_as("supervisor")
    _moves_refused(client, session_factory, case_id)


# ---- every action's refusal: a message on the case page -----------------------------------------

def _refused_on_case_page(response, case_id, message):
    assert response.status_code == 302 and location_path(response).startswith(f"/cases/{case_id}")
    return message


def _shown(client, case_id, message):
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert message in page and "flash-error" in page


def test_an_extension_refused_is_a_message_on_the_case_page(client, login_as, filed_case):
    case_id, task_id, _version = filed_case()
    login_as("supervisor")
    refused = client.post(f"/tasks/{task_id}/deadline/extend", data={"days": 3, "reason": "", "approver": ""})
    _shown(client, case_id, _refused_on_case_page(refused, case_id, "延长期限须写明理由和批准人"))


def test_a_clock_stopped_twice_is_a_message(client, login_as, filed_case):
    case_id, task_id, _version = filed_case()
    login_as("mediator")
    assert client.post(f"/tasks/{task_id}/clock/stop", data={"reason": "等待材料"}).status_code == 302
    again = client.post(f"/tasks/{task_id}/clock/stop", data={"reason": "again"})
    _shown(client, case_id, _refused_on_case_page(again, case_id, "计时已停止"))


def test_a_supervisors_action_without_a_note_is_a_message(client, login_as, filed_case, session_factory):
    case_id, task_id, _version = filed_case()
    login_as("supervisor")
    for url in (f"/supervision/cases/{case_id}/flag", f"/supervision/tasks/{task_id}/remind"):
        refused = client.post(url, data={"note": "  "})
        _shown(client, case_id, _refused_on_case_page(refused, case_id, "请填写督办说明"))
    with reading(session_factory) as session:
        assert session.get(Case, case_id).flagged_at is None


def test_a_release_by_someone_else_and_a_second_acknowledgement_are_messages(client, login_as, filed_case,
                                                                            session_factory):
    case_id, task_id, _version = filed_case("clerk_cg")
    with reading(session_factory) as session:
        mediation = session.scalar(sa.select(Task.id).where(Task.case_id == case_id, Task.spec_id == "Task_mediate"))
    login_as("mediator_cg")
    assert client.post(f"/tasks/{mediation}/claim").status_code == 302
    assert client.post(f"/cases/{case_id}/escalate", data={"note": "跨乡镇"}).status_code == 302
    login_as("clerk")
    with reading(session_factory) as session:
        transfer_id = session.scalar(sa.select(CaseTransfer.id).where(CaseTransfer.case_id == case_id))
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert f"/transfers/{transfer_id}/acknowledge" in page, "the receiving unit acknowledges from the case page"
    assert client.post(f"/transfers/{transfer_id}/acknowledge").status_code == 302
    again = client.post(f"/transfers/{transfer_id}/acknowledge")
    _shown(client, case_id, _refused_on_case_page(again, case_id, "该移交已处理"))
    login_as("mediator")
    with reading(session_factory) as session:
        assert session.get(Task, mediation).assignee_id is None, "the step went to the county's mediators"
    assert client.post(f"/tasks/{mediation}/claim").status_code == 302
    login_as("supervisor")
    # The supervisor holds no mediator role: the release is not theirs to make (403), as forged.
    assert client.post(f"/tasks/{mediation}/release").status_code == 403


# ---- notes are kept whole or refused, never cut ------------------------------------------------

TOO_LONG = "久" * 1001  # one over the 1,000 characters of a reason or a supervisor's note


def test_an_over_long_note_is_refused_whole_never_cut(client, login_as, filed_case, session_factory):
    case_id, task_id, _version = filed_case()
    login_as("supervisor")
    refused = [
        client.post(f"/tasks/{task_id}/deadline/extend", data={"days": 3, "reason": TOO_LONG, "approver": "主任"}),
        client.post(f"/tasks/{task_id}/deadline/extend", data={"days": 3, "reason": "鉴定", "approver": "主" * 101}),
        client.post(f"/supervision/cases/{case_id}/flag", data={"note": TOO_LONG}),
        client.post(f"/supervision/tasks/{task_id}/remind", data={"note": TOO_LONG}),
        client.post(f"/cases/{case_id}/escalate", data={"note": "移" * 2001}),
    ]
    login_as("mediator")
    refused.append(client.post(f"/tasks/{task_id}/clock/stop", data={"reason": TOO_LONG}))
    for response in refused:
        _refused_on_case_page(response, case_id, "")
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "请删减后再提交" in page and "flash-error" in page
    with reading(session_factory) as session:
        case, task = session.get(Case, case_id), session.get(Task, task_id)
        assert (case.flagged_at, task.extended_days or 0, task.clock_stopped_at) == (None, 0, None)
        assert session.scalar(sa.select(CaseTransfer.id).where(CaseTransfer.case_id == case_id)) is None
    # The page counts the characters as one types instead of letting the browser cut a paste.
    assert 'data-maxlength="1000"' in page and ' maxlength=' not in page and "counter.js" in page


def test_a_note_at_its_limit_is_kept_whole(client, login_as, filed_case, session_factory):
    case_id, task_id, _version = filed_case()
    login_as("mediator")
    assert client.post(f"/tasks/{task_id}/clock/stop", data={"reason": "等" * 1000}).status_code == 302
    with reading(session_factory) as session:
        stopped = session.scalar(sa.select(AuditEvent).where(AuditEvent.case_id == case_id,
                                                             AuditEvent.kind == "clock_stopped"))
        assert stopped.detail["reason"] == "等" * 1000
