"""Scripts and conditions in uploaded diagrams are untrusted code: the dangerous ones are refused
at upload naming the element, and a script that never ends is stopped at run time without
changing the case."""
import pytest

from engine.workflow import scripting
from engine.persistence.models import ProcessVersion
from tests.engine.helpers import INTAKE, MEDIATION_SUCCESS
from tests.web.support import (
    POST_SCRIPT, ROUTE_CONDITION, case_id_from, case_row, count, diagram_with, events_of, intake_with,
    mediation_with_script,
    latest_version_id, page, problems, task_row, tasks_of, upload, version_count,
)

ESCAPES = {
    "import_os": "__import__('os').system('id')",
    "open_file": "open('/etc/passwd').read()",
    "subclasses": "().__class__.__base__.__subclasses__()",
}


@pytest.fixture
def designer(client, login_as):
    login_as("designer")
    return client


def _assert_refused(response, factory, before, element):
    assert response.status_code == 422
    assert version_count(factory) == before
    assert count(factory, ProcessVersion, ProcessVersion.source == "upload") == 0
    found = problems(response)
    assert any(element in p and "is not allowed" in p for p in found), found
    return found


@pytest.mark.parametrize("payload", ESCAPES.values(), ids=ESCAPES.keys())
def test_escape_in_post_script_is_refused(designer, session_factory, payload):
    before = version_count(session_factory)
    response = upload(designer, diagram_with("specialist_joint.bpmn", (POST_SCRIPT, payload)), "specialist_joint.bpmn")
    _assert_refused(response, session_factory, before, "postScript")


@pytest.mark.parametrize("payload", ESCAPES.values(), ids=ESCAPES.keys())
def test_escape_in_gateway_condition_is_refused(designer, session_factory, payload):
    before = version_count(session_factory)
    response = upload(designer, intake_with((ROUTE_CONDITION, payload)))
    _assert_refused(response, session_factory, before, "condition of Flow_route_mediation")


@pytest.mark.parametrize("payload", ESCAPES.values(), ids=ESCAPES.keys())
def test_escape_in_new_script_task_is_refused(designer, session_factory, payload):
    before = version_count(session_factory)
    response = upload(designer, mediation_with_script(payload), "mediation.bpmn")
    _assert_refused(response, session_factory, before, "script of Script_after_mediation")


def test_harmless_script_is_accepted(designer, session_factory):
    """The control: the same place with an ordinary script publishes."""
    response = upload(designer, mediation_with_script("mediated = outcome == 'success'"), "mediation.bpmn")
    assert response.status_code == 302
    assert count(session_factory, ProcessVersion, ProcessVersion.source == "upload") == 1


@pytest.fixture
def short_time_limit(monkeypatch):
    # The engine built its environment at import with the default limit; lower it for this test.
    monkeypatch.setattr(scripting, "SCRIPT_TIME_LIMIT_SECONDS", 0.2)
    monkeypatch.setattr(scripting.SCRIPT_ENGINE.environment, "time_limit", 0.2)


def test_endless_script_fails_the_step_and_leaves_the_case(
        client, login_as, session_factory, filed_case, short_time_limit):
    login_as("designer")
    # A loop whose end the check cannot see (it depends on the data) publishes; it is stopped at run time.
    looping = mediation_with_script("n = 0\nwhile n >= 0:\n    n += 1")
    assert upload(client, looping, "mediation.bpmn").status_code == 302
    version_id = latest_version_id(session_factory)

    login_as("clerk")
    filed = client.post("/matters/new", data=INTAKE)
    assert filed.status_code == 302
    case_id = case_id_from(filed)
    case = case_row(session_factory, case_id)
    assert case.process_version_id == version_id
    task_id = tasks_of(session_factory, case_id, "Task_mediate")[0].id
    lock_version, state = case.lock_version, case.state
    events = [(e.seq, e.kind) for e in events_of(session_factory, case_id)]

    login_as("mediator")
    response = client.post(f"/tasks/{task_id}", data=MEDIATION_SUCCESS)
    assert response.status_code == 422
    alert = page(response).xpath('//form[contains(@class, "task-form")]//div[@role="alert"]')[0].text_content()
    assert "「人民调解」执行失败" in alert and "step failed" not in alert
    assert "@ 调解后处理 (Script_after_mediation)" in alert, alert
    assert "ran longer than 0.2 s" in alert
    # What the mediator typed is still in the form.
    assert page(response).get_element_by_id("f-agreement_terms").text_content() == MEDIATION_SUCCESS["agreement_terms"]

    # Nothing moved: the same open task, the same version of the case row, no new events.
    task = task_row(session_factory, task_id)
    assert (task.state, task.completed_by) == ("ready", None)
    assert [(t.spec_id, t.state) for t in tasks_of(session_factory, case_id) if t.state == "ready"] == \
        [("Task_mediate", "ready")]
    after = case_row(session_factory, case_id)
    assert (after.lock_version, after.state, after.status, after.error) == (lock_version, state, "open", None)
    assert [(e.seq, e.kind) for e in events_of(session_factory, case_id)] == events
