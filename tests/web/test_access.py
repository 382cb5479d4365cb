"""Every page for every role: 200 where the role may see it, 403 where not, /login for nobody;
and the POST routes refuse roles without the right and change nothing."""
import pytest

from engine.persistence.models import Case, ProcessVersion
from tests.engine.helpers import INTAKE, MEDIATION_SUCCESS
from tests.web.support import (
    INTAKE_BPMN, MEDIATION_BPMN, ROLES, case_row, count, events_of, location_path, task_row, upload, user_id, version_count,
)

# (url template, roles that get 200). {case}, {task} (the open 人民调解 task) and {version}
# are filled in from a case the county clerk filed.
PAGES = [
    ("/tasks", {"clerk", "mediator", "supervisor"}),
    ("/matters/new", {"clerk"}),
    ("/cases", {"clerk", "mediator", "supervisor", "auditor", "admin"}),
    ("/cases/{case}", {"clerk", "mediator", "supervisor", "auditor", "admin"}),
    ("/cases/{case}/receipt", {"clerk", "mediator", "supervisor", "auditor", "admin"}),
    ("/tasks/{task}", {"mediator"}),  # a task page is for the task's own role
    ("/supervision/", {"supervisor"}),
    ("/audit/cases", {"auditor"}),
    ("/audit/cases/{case}", {"auditor"}),
    ("/designer/", {"designer"}),
    ("/designer/versions/{version}", {"designer"}),
    ("/designer/versions/{version}/files/bpmn/intake.bpmn", {"designer"}),
    ("/admin/", {"admin"}),
    ("/admin/users/new", {"admin"}),
]


def _fill(template, ids):
    case_id, task_id, version_id = ids
    return template.format(case=case_id, task=task_id, version=version_id)


@pytest.mark.parametrize("template,allowed", PAGES, ids=[p[0] for p in PAGES])
def test_page_answers_each_role(client, login_as, filed_case, template, allowed):
    url = _fill(template, filed_case())
    got = {}
    for role in ROLES:
        login_as(role)
        got[role] = client.get(url).status_code
    expected = {role: 200 if role in allowed else 403 for role in ROLES}
    assert got == expected, url


@pytest.mark.parametrize("template", [p[0] for p in PAGES])
def test_anonymous_is_sent_to_login(client, filed_case, template):
    url = _fill(template, filed_case())
    response = client.get(url)
    assert response.status_code == 302
    assert location_path(response) == "/login"
    assert "next=" in response.headers["Location"]


def test_forbidden_page_says_so(client, login_as, filed_case):
    login_as("designer")
    case_id, _task, _version = filed_case()
    response = client.get(f"/cases/{case_id}")
    assert response.status_code == 403
    assert "您没有权限访问此页面或执行此操作。" in response.get_data(as_text=True)


def test_designer_file_is_the_recorded_diagram(client, login_as, filed_case):
    _case, _task, version_id = filed_case()
    login_as("designer")
    response = client.get(f"/designer/versions/{version_id}/files/bpmn/intake.bpmn")
    assert response.status_code == 200
    assert response.mimetype == "application/xml"
    assert response.get_data(as_text=True) == INTAKE_BPMN
    assert client.get(f"/designer/versions/{version_id}/files/bpmn/nothing.bpmn").status_code == 404


def test_unknown_records_are_404(client, login_as):
    login_as("auditor")
    assert client.get("/cases/999999").status_code == 404
    assert client.get("/audit/cases/999999").status_code == 404
    login_as("mediator")
    assert client.get("/tasks/999999").status_code == 404
    login_as("designer")
    assert client.get("/designer/versions/999999").status_code == 404


@pytest.mark.parametrize("role", sorted(set(ROLES) - {"clerk"}))
def test_only_clerks_file_matters(client, login_as, session_factory, role):
    login_as(role)
    response = client.post("/matters/new", data=INTAKE)
    assert response.status_code == 403
    assert count(session_factory, Case) == 0


@pytest.mark.parametrize("role", sorted(set(ROLES) - {"mediator"}))
def test_only_the_tasks_role_submits_it(client, login_as, session_factory, filed_case, role):
    case_id, task_id, _version = filed_case()
    lock_version = case_row(session_factory, case_id).lock_version
    events = len(events_of(session_factory, case_id))
    login_as(role)
    response = client.post(f"/tasks/{task_id}", data=MEDIATION_SUCCESS)
    assert response.status_code == 403
    after = task_row(session_factory, task_id)
    assert (after.state, after.assignee_id, after.completed_by) == ("ready", None, None)
    assert case_row(session_factory, case_id).lock_version == lock_version
    assert len(events_of(session_factory, case_id)) == events


@pytest.mark.parametrize("role", sorted(set(ROLES) - {"mediator"}))
def test_only_the_tasks_role_claims_it(client, login_as, session_factory, filed_case, role):
    _case, task_id, _version = filed_case()
    login_as(role)
    response = client.post(f"/tasks/{task_id}/claim")
    assert response.status_code == 403
    assert task_row(session_factory, task_id).assignee_id is None


def test_the_tasks_role_may_claim_it(client, login_as, session_factory, filed_case):
    _case, task_id, _version = filed_case()
    login_as("mediator")
    response = client.post(f"/tasks/{task_id}/claim")
    assert response.status_code == 302
    assert location_path(response) == f"/tasks/{task_id}"
    assert task_row(session_factory, task_id).assignee_id == user_id(session_factory, "mediator")


@pytest.mark.parametrize("role", sorted(set(ROLES) - {"designer"}))
def test_only_designers_upload(client, login_as, session_factory, role):
    before = version_count(session_factory)
    login_as(role)
    response = upload(client, MEDIATION_BPMN.replace("months(1)", "natural_days(20)"), "mediation.bpmn")
    assert response.status_code == 403
    assert version_count(session_factory) == before
    assert count(session_factory, ProcessVersion, ProcessVersion.source == "upload") == 0


@pytest.mark.parametrize("url", ["/matters/new", "/tasks/{task}", "/tasks/{task}/claim", "/designer/upload"])
def test_anonymous_posts_are_sent_to_login(client, session_factory, filed_case, url):
    ids = filed_case()
    response = client.post(_fill(url, ids), data={})
    assert response.status_code == 302
    assert location_path(response) == "/login"
    assert task_row(session_factory, ids[1]).assignee_id is None
