"""Moving cases between levels through the web: escalate, see it waiting, acknowledge."""
import sqlalchemy as sa

from engine.persistence.models import Case, CaseTransfer, OrgUnit
from tests.web.support import location_path


def _row(session_factory, model, **where):
    session = session_factory()
    try:
        return session.scalar(sa.select(model).filter_by(**where))
    finally:
        session.close()


def test_township_escalates_and_the_county_acknowledges(client, login_as, filed_case, session_factory):
    case_id, _task, _version = filed_case("clerk_cg")
    login_as("clerk_cg")
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "上报至 清河县" in page and "指派给下级" in page and "东关村" in page
    response = client.post(f"/cases/{case_id}/escalate", data={"note": "跨乡镇，请县中心统筹"})
    assert response.status_code == 302
    county = _row(session_factory, OrgUnit, code="C01-Q")
    assert _row(session_factory, Case, id=case_id).org_unit_id == county.id
    login_as("clerk")
    inbox = client.get("/tasks").get_data(as_text=True)
    assert "待签收的移交" in inbox and "跨乡镇，请县中心统筹" in inbox
    transfer = _row(session_factory, CaseTransfer, case_id=case_id)
    response = client.post(f"/transfers/{transfer.id}/acknowledge")
    assert response.status_code == 302 and location_path(response) == f"/cases/{case_id}"
    assert _row(session_factory, CaseTransfer, case_id=case_id).state == "acknowledged"
    assert "待签收的移交" not in client.get("/tasks").get_data(as_text=True)
    again = client.post(f"/transfers/{transfer.id}/acknowledge", follow_redirects=True)
    assert again.request.path == f"/cases/{case_id}" and "该移交已处理" in again.get_data(as_text=True)


def test_only_handlers_move_cases(client, login_as, filed_case, session_factory):
    case_id, _task, _version = filed_case()
    for role in ("auditor", "designer", "admin"):
        login_as(role)
        assert client.post(f"/cases/{case_id}/escalate", data={"note": "x"}).status_code == 403
    login_as("auditor")
    assert "层级移交" not in client.get(f"/cases/{case_id}").get_data(as_text=True)
    login_as("clerk_ll")
    assert client.post(f"/cases/{case_id}/escalate", data={"note": "x"}).status_code == 404
    assert _row(session_factory, CaseTransfer, case_id=case_id) is None


def test_a_reopened_case_shows_its_round(client, login_as, filed_case, session_factory):
    from tests.engine.helpers import CLOSE, MEDIATION_FAILURE, VISIT_BAD, complete, prefiling
    from tests.engine.test_reopen import REOPEN
    case_id, _task, _version = filed_case()
    session = session_factory()
    try:
        for username, spec, post in [("mediator", "Task_mediate", MEDIATION_FAILURE),
                                     ("dept_court", "Task_prefiling", prefiling("no_suit")), ("clerk", "Task_close", CLOSE),
                                     ("clerk", "Task_visit", VISIT_BAD), ("supervisor", "Task_review", REOPEN)]:
            complete(session, username, case_id, spec, post)
    finally:
        session.close()
    login_as("clerk")
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "第2轮办理" in page
