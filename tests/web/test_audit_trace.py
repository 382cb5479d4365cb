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
    assert "李调解（县人民调解委员会）" in times["Task_mediate"] and "完成 20" in times["Task_mediate"]
    tabs = [a.text_content() for a in shown.xpath('//nav[contains(@class, "tabs")]/a')]
    assert tabs[0] == "一窗受理" and "人民调解（一般 / 专业调解委员会 / 交警调解）" in tabs and len(tabs) == 3
    intake = page(client.get(f"/audit/cases/{case_id}?file=bpmn/intake.bpmn")).get_element_by_id("diagram")
    assert "Call_mediation" in intake.get("data-current").split(",")
    served = client.get(f"/audit/cases/{case_id}/files/bpmn/court_link.bpmn")
    assert served.status_code == 200 and b'id="Task_confirm_window"' in served.data
    assert client.get(f"/audit/cases/{case_id}/files/bpmn/nosuch.bpmn").status_code == 404


def test_only_auditors_read_the_trace_files(client, login_as, filed_case):
    case_id, _task, _version = filed_case()
    login_as("clerk")
    assert client.get(f"/audit/cases/{case_id}/files/bpmn/intake.bpmn").status_code == 403


def test_trace_exports_as_json_and_a_printable_page(client, login_as, filed_case, session_factory):
    from engine.persistence.chain import GENESIS, event_hash
    from datetime import datetime
    case_id, _task, _version = filed_case()
    login_as("auditor")
    exported = client.get(f"/audit/cases/{case_id}/trace.json")
    assert exported.status_code == 200 and exported.mimetype == "application/json"
    body = json.loads(exported.data)
    events = body["events"]
    assert body["case"]["chain_head"] == events[-1]["hash"]
    # The chain checks out from the export alone; personal data is masked.
    previous = GENESIS
    for e in events:
        assert e["prev_hash"] == previous
        previous = e["hash"]
    intake = next(e for e in events if e["kind"] == "task_completed")
    assert intake["detail"]["data"]["parties"][0]["phone"] == "138****8000"
    first = events[0]
    assert event_hash(GENESIS, case_id, 1, datetime.fromisoformat(first["at"]), first["actor_id"], first["actor"],
                      first["kind"], first["element"], first["detail"], first["version"]) == first["hash"]
    printable = client.get(f"/audit/cases/{case_id}/print")
    assert printable.status_code == 200 and "打印 / 另存为 PDF" in printable.get_data(as_text=True)
    assert "13800138000" not in printable.get_data(as_text=True)
    login_as("clerk")
    assert client.get(f"/audit/cases/{case_id}/trace.json").status_code == 403


def test_a_step_submitted_again_shows_what_changed_since_the_last_time(client, login_as, filed_case, session_factory):
    from tests.engine.helpers import CLOSE, MEDIATION_FAILURE, VISIT_BAD, prefiling
    from tests.engine.test_reopen import REOPEN
    case_id, _task, _version = filed_case()
    session = session_factory()
    try:
        for username, spec, post in [("mediator", "Task_mediate", MEDIATION_FAILURE),
                                     ("dept_court", "Task_prefiling", prefiling("no_suit")), ("clerk", "Task_close", CLOSE),
                                     ("clerk", "Task_visit", VISIT_BAD), ("supervisor", "Task_review", REOPEN),
                                     ("mediator", "Task_mediate", MEDIATION_SUCCESS)]:
            complete(session, username, case_id, spec, post)
    finally:
        session.close()
    login_as("auditor")
    shown = page(client.get(f"/audit/cases/{case_id}"))
    notes = [div.text_content() for div in shown.xpath('//div[contains(@class, "changed")]')]
    assert len(notes) == 1, notes
    assert "outcome failure → success" in " ".join(notes[0].split())
    assert "failure_reason" in notes[0] and "agreement_terms" in notes[0]
