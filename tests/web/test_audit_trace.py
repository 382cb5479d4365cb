"""The auditor's trace: the case's own version of its diagrams, with the path it took marked,
where it stands, and each step's times."""
import json

from engine.legaltime.clock import CHINA

from tests.engine.helpers import MEDIATION_SUCCESS
from tests.web.support import complete_steps, events_of, page


def test_trace_marks_the_path_and_where_the_case_stands(client, login_as, filed_case, session_factory):
    case_id, _task, version = filed_case()
    complete_steps(session_factory, case_id, ("mediator", "Task_mediate", MEDIATION_SUCCESS))
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
    tabs = [a.text_content() for a in shown.xpath('//nav[contains(@class, "tabs") and not(contains(@class, "trace-views"))]/a')]
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
    complete_steps(session_factory, case_id, ("mediator", "Task_mediate", MEDIATION_FAILURE),
                   ("dept_court", "Task_prefiling", prefiling("no_suit")), ("clerk", "Task_close", CLOSE),
                   ("clerk", "Task_visit", VISIT_BAD), ("supervisor", "Task_review", REOPEN),
                   ("mediator", "Task_mediate", MEDIATION_SUCCESS))
    login_as("auditor")
    shown = page(client.get(f"/audit/cases/{case_id}"))
    notes = [div.text_content() for div in shown.xpath('//div[contains(@class, "changed")]')]
    assert len(notes) == 1, notes
    # Field titles and option labels of the form, not its keys and codes.
    assert "调解结果 调解不成 → 调解成功" in " ".join(notes[0].split())
    assert "调解不成原因" in notes[0] and "调解协议内容" in notes[0] and "outcome" not in notes[0]


def _without_raw(element):
    """The text a reader sees at first: the collapsed raw record left out."""
    from copy import deepcopy
    element = deepcopy(element)
    for raw in element.xpath('.//details[contains(@class, "raw")]'):
        raw.getparent().remove(raw)
    return element.text_content()


def _trace_rows(response):
    return page(response).xpath('//table[contains(@class, "trace")]/tbody/tr')


def test_the_trace_reads_in_labels_and_china_time_people_first(client, login_as, filed_case, session_factory):
    case_id, _task, _version = filed_case()
    complete_steps(session_factory, case_id, ("mediator", "Task_mediate", MEDIATION_SUCCESS))
    events = events_of(session_factory, case_id)
    login_as("auditor")
    people = client.get(f"/audit/cases/{case_id}")
    rows = _trace_rows(people)
    # People's actions by default: no engine transitions, and the tab says how many of each.
    kinds = [row.get("class") for row in rows]
    assert "ev-engine" not in kinds and "ev-task_completed" in kinds and "ev-case_started" in kinds
    assert len(rows) == sum(1 for e in events if e.kind != "engine") < len(events)
    tabs = [" ".join(a.text_content().split()) for a in page(people).xpath('//nav[contains(@class, "trace-views")]/a')]
    assert tabs == [f"只看人员操作 {len(rows)}", f"全部记录（含流程流转） {len(events)}"]
    shown = _without_raw(page(people).xpath('//table[contains(@class, "trace")]')[0])
    # The intake's data: field titles and option labels, parties as rows, not JSON.
    intake = page(people).xpath('//tr[@class="ev-task_completed"]//details[@class="submitted"]')[0]
    assert "类别" in intake.text_content()
    assert "邻里" in intake.text_content() and "neighbour" not in intake.text_content()
    assert intake.xpath('.//table[@class="mini"]//td[contains(., "张三")]')
    assert '"category"' not in shown and "housing_land" not in shown and "{" not in shown
    # The raw record is one click away, collapsed.
    raw = page(people).xpath('//tr[@class="ev-task_completed"]//details[contains(@class, "raw")]')[0]
    assert raw.get("open") is None and '"category": "neighbour"' in raw.text_content()
    # China time, as on every other page.
    first = events[0]
    assert rows[0].xpath("./td")[1].text_content() == first.at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")
    # Triage and risk read as words.
    routed = _without_raw(page(people).xpath('//tr[@class="ev-triaged"]')[0])
    assert "人民调解" in routed and "mediation" not in routed

    everything = client.get(f"/audit/cases/{case_id}?show=all")
    rows = _trace_rows(everything)
    assert len(rows) == len(events) and any(row.get("class") == "ev-engine" for row in rows)
    steps = [row.xpath("./td")[5].text_content() for row in rows]
    # Gateways by their question, elements without a name by their kind, never by id.
    assert "分流至何处？" in steps and not any(step.startswith(("Gateway_", "Flow_", "Start_", "End_")) for step in steps)
    # The print link keeps the view.
    printed_link = page(everything).xpath('//a[contains(@href, "/print")]/@href')[0]
    assert printed_link.endswith("show=all")


def test_the_printed_trace_keeps_the_view_and_spells_the_data_out(client, login_as, filed_case, session_factory):
    case_id, _task, _version = filed_case()
    events = events_of(session_factory, case_id)
    login_as("auditor")
    printed = client.get(f"/audit/cases/{case_id}/print")
    body = printed.get_data(as_text=True)
    assert len(_trace_rows(printed)) == sum(1 for e in events if e.kind != "engine")
    assert "只列人员操作" in body and "UTC" not in body and '"category"' not in body and "{&#34;" not in body
    # Printed, the submitted data is spelled out, not folded away.
    assert not page(printed).xpath('//section[contains(@class, "print-sheet")]//details')
    assert "邻里" in page(printed).xpath('//tr[@class="ev-task_completed"]')[0].text_content()
    every = client.get(f"/audit/cases/{case_id}/print?show=all")
    assert len(_trace_rows(every)) == len(events) and "全部记录" in every.get_data(as_text=True)
