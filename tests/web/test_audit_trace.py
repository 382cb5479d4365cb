"""The auditor's trace: the case's own version of its diagrams, with the path it took marked,
where it stands, and each step's times."""
import json

from tests.engine.helpers import MEDIATION_SUCCESS, complete
from tests.web.support import page


def test_trace_marks_the_path_and_where_the_case_stands(client, login_as, filed_case, session_factory):
    case_id, _task, version = filed_case()
    session = session_factory()
    try:
        complete(session, "mediator", case_id, "Task_mediate", MEDIATION_SUCCESS)
    finally:
        session.close()
    login_as("auditor")
    shown = page(client.get(f"/audit/cases/{case_id}"))
    diagram = shown.get_element_by_id("diagram")
    # It stands at the judicial-confirmation window, drawn in court_link.bpmn.
    assert diagram.get("data-src").endswith(f"/audit/cases/{case_id}/files/bpmn/court_link.bpmn")
    assert "Task_confirm_window" in diagram.get("data-current").split(",")
    assert "Timer_confirm_window" in diagram.get("data-waiting").split(",")
    taken = diagram.get("data-taken").split(",")
    assert {"Task_intake", "Task_mediate", "Flow_intake_triage", "Flow_route_mediation", "Flow_outcome_success"} <= set(taken)
    assert "Task_close" not in taken
    times = json.loads(diagram.get("data-times"))
    assert "李调解（县人民调解委员会）" in times["Task_mediate"] and "完成 / done 20" in times["Task_mediate"]
    tabs = [a.text_content() for a in shown.xpath('//nav[contains(@class, "tabs")]/a')]
    assert tabs[0] == "一窗受理" and "人民调解（一般 / 专业调解委员会）" in tabs and len(tabs) == 3
    intake = page(client.get(f"/audit/cases/{case_id}?file=bpmn/intake.bpmn")).get_element_by_id("diagram")
    assert "Call_mediation" in intake.get("data-current").split(",")
    served = client.get(f"/audit/cases/{case_id}/files/bpmn/court_link.bpmn")
    assert served.status_code == 200 and b'id="Task_confirm_window"' in served.data
    assert client.get(f"/audit/cases/{case_id}/files/bpmn/nosuch.bpmn").status_code == 404


def test_only_auditors_read_the_trace_files(client, login_as, filed_case):
    case_id, _task, _version = filed_case()
    login_as("clerk")
    assert client.get(f"/audit/cases/{case_id}/files/bpmn/intake.bpmn").status_code == 403
