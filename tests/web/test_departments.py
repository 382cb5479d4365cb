"""Resident departments: a step for the court reaches the court's login at the county center, who
can open that case and submit the step; other departments see neither the step nor the case."""
from tests.engine.helpers import MEDIATION_FAILURE, complete, prefiling
from tests.web.support import case_row, open_task_id, page, tasks_of, text


def _case_at_the_court(filed_case, session_factory, username="clerk_dg"):
    case_id, _task, _version = filed_case(username)
    session = session_factory()
    try:
        complete(session, "mediator", case_id, "Task_mediate", MEDIATION_FAILURE)
    finally:
        session.close()
    task_id = open_task_id(session_factory, case_id, "Task_prefiling")
    assert task_id is not None
    return case_id, task_id


def test_the_court_finds_the_step_in_its_inbox_and_completes_it(client, login_as, filed_case, session_factory):
    case_id, task_id = _case_at_the_court(filed_case, session_factory)
    code = case_row(session_factory, case_id).code
    login_as("dept_court")
    inbox = client.get("/tasks")
    assert inbox.status_code == 200 and code in text(inbox) and "诉前调解（委派调解）" in text(inbox)
    # The court holds a step of this village's case, so it may open the case, and no other.
    assert client.get(f"/cases/{case_id}").status_code == 200
    form = client.get(f"/tasks/{task_id}")
    assert form.status_code == 200
    assert "最高人民法院关于人民法院特邀调解的规定（法释〔2016〕14号，2016年7月1日施行）第二十七条" in text(form)
    submitted = client.post(f"/tasks/{task_id}", data=prefiling("no_suit"))
    assert submitted.status_code == 302
    assert [(t.state, t.completed_by is not None) for t in tasks_of(session_factory, case_id, "Task_prefiling")] == [
        ("completed", True)]
    assert open_task_id(session_factory, case_id, "Task_close") is not None


def test_another_department_sees_neither_the_step_nor_the_case(client, login_as, filed_case, session_factory):
    case_id, task_id = _case_at_the_court(filed_case, session_factory)
    code = case_row(session_factory, case_id).code
    login_as("dept_housing")
    assert code not in text(client.get("/tasks"))
    assert client.get(f"/cases/{case_id}").status_code == 403
    assert client.get(f"/tasks/{task_id}").status_code == 403
    assert client.post(f"/tasks/{task_id}", data=prefiling("no_suit")).status_code == 403
    assert open_task_id(session_factory, case_id, "Task_prefiling") == task_id


def test_a_department_cannot_file_or_move_cases(client, login_as, filed_case, session_factory):
    case_id, _task = _case_at_the_court(filed_case, session_factory)
    login_as("dept_court")
    assert client.get("/matters/new").status_code == 403
    assert client.post(f"/cases/{case_id}/escalate", data={"note": "上报"}).status_code == 403
    # The case page offers no move between levels to a department.
    assert not page(client.get(f"/cases/{case_id}")).xpath('//form[contains(@action, "/escalate")]')


def test_a_department_finds_the_case_it_worked_on_and_no_other(client, login_as, filed_case, session_factory):
    case_id, task_id = _case_at_the_court(filed_case, session_factory)
    code = case_row(session_factory, case_id).code
    # A case of the same village still with its mediator: the court was never given a step of it.
    other_id, _task, _version = filed_case("clerk_dg")
    other = case_row(session_factory, other_id).code
    login_as("dept_court")
    assert client.post(f"/tasks/{task_id}", data=prefiling("no_suit")).status_code == 302
    # Its step is done and the case is back with the center, yet the court finds it by its code.
    found = client.get("/cases", query_string={"q": code})
    assert found.status_code == 200 and page(found).xpath(f'//a[@href="/cases/{case_id}"]')
    assert client.get(f"/cases/{case_id}").status_code == 200
    assert other not in text(client.get("/cases", query_string={"q": other}))
    assert other not in text(client.get("/cases"))
    assert client.get(f"/cases/{other_id}").status_code == 403
    # Another department finds neither.
    login_as("dept_housing")
    assert code not in text(client.get("/cases", query_string={"q": code}))
    assert code not in text(client.get("/cases"))
