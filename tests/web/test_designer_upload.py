"""Uploading diagrams: refused uploads list their problems and publish nothing; hostile XML is
refused quickly without reading local files; a good upload becomes a new version that new cases
take while running cases stay on theirs."""
import re
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select as sa_select

from engine.legaltime.clock import as_utc
from engine.persistence.models import ProcessVersion
from engine.workflow.scripting import natural_days
from tests.engine.helpers import INTAKE, MEDIATION_SUCCESS
from tests.web.support import (
    INTAKE_BPMN, case_id_from, case_row, count, diagram_with, intake_with, latest_version_id, open_task_id, page,
    problems, tasks_of, text, upload, version_count,
)

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<lolz>&lol9;</lolz>
"""

MONTH_TIMER = 'TimerDef_Timer_mediation_deadline">\n        <bpmn:timeDate>months(1)</bpmn:timeDate>'
TWENTY_DAY_TIMER = 'TimerDef_Timer_mediation_deadline">\n        <bpmn:timeDate>natural_days(20)</bpmn:timeDate>'


def _xxe():
    """intake.bpmn with an external entity for /etc/passwd, used in the process documentation."""
    doctype = '<!DOCTYPE bpmn:definitions [\n  <!ENTITY xxe SYSTEM "file:///etc/passwd">\n]>\n'
    body = intake_with(('<bpmn:documentation>One-window intake:', '<bpmn:documentation>&xxe; One-window intake:'))
    return body.replace('<?xml version="1.0" encoding="UTF-8"?>\n', '<?xml version="1.0" encoding="UTF-8"?>\n' + doctype)


def _refuses_entities(problem):
    """libxml2 stops an entity bomb itself ("Maximum entity amplification factor exceeded");
    anything that gets through the parser is stopped by our DOCTYPE check."""
    return "DOCTYPE declarations are not allowed" in problem or "entity amplification" in problem


def _refused(response, factory, before):
    assert response.status_code == 422
    assert version_count(factory) == before
    assert count(factory, ProcessVersion, ProcessVersion.source == "upload") == 0
    found = problems(response)
    assert found, "a refused upload lists its problems"
    return found


@pytest.fixture
def designer(client, login_as):
    login_as("designer")
    return client


def test_malformed_xml_names_file_and_line(designer, session_factory):
    before = version_count(session_factory)
    broken = INTAKE_BPMN.replace('<bpmn:userTask id="Task_intake" name="受理登记">',
                                 '<bpmn:userTask id="Task_intake" name="受理登记"', 1)
    line = INTAKE_BPMN[:INTAKE_BPMN.index('id="Task_intake"')].count("\n") + 1
    found = _refused(upload(designer, broken), session_factory, before)
    assert len(found) == 1
    match = re.fullmatch(r"bpmn/intake\.bpmn:(\d+): not well-formed XML: .+", found[0])
    assert match, found
    assert abs(int(match.group(1)) - line) <= 1, (found, line)


def test_refused_upload_page_says_not_published(designer, session_factory):
    before = version_count(session_factory)
    response = upload(designer, "<bpmn:definitions")
    _refused(response, session_factory, before)
    assert "未发布：intake.bpmn" in text(response)


def test_user_task_without_form_is_named(designer, session_factory):
    before = version_count(session_factory)
    formless = diagram_with("close_followup.bpmn", ('''<bpmn:userTask id="Task_close" name="结案">
      <bpmn:extensionElements>
        <spiffworkflow:properties>
          <spiffworkflow:property name="formJsonSchemaFilename" value="close.json" />
        </spiffworkflow:properties>
      </bpmn:extensionElements>''', '<bpmn:userTask id="Task_close" name="结案">'))
    found = _refused(upload(designer, formless, "close_followup.bpmn"), session_factory, before)
    line = formless[:formless.index('id="Task_close"')].count("\n") + 1
    assert f'bpmn/close_followup.bpmn:{line}: user task Task_close ("结案") names no form (property formJsonSchemaFilename)' in found


def test_user_task_with_missing_form_file_is_named(designer, session_factory):
    before = version_count(session_factory)
    missing = diagram_with("close_followup.bpmn", ('value="close.json"', 'value="closing.json"'))
    found = _refused(upload(designer, missing, "close_followup.bpmn"), session_factory, before)
    assert any("Task_close" in p and "forms/closing.json does not exist" in p for p in found), found


def test_billion_laughs_is_refused_quickly(designer, session_factory):
    before = version_count(session_factory)
    started = time.monotonic()
    response = upload(designer, BILLION_LAUGHS, "bomb.bpmn")
    elapsed = time.monotonic() - started
    found = _refused(response, session_factory, before)
    # Not a speed target: an expanded bomb takes minutes and gigabytes; refused, it takes well
    # under a second, so 20 s only fails if the entities were expanded (a loaded machine stays far below).
    assert elapsed < 20, f"took {elapsed:.1f} s"
    assert any(_refuses_entities(p) for p in found), found
    assert "lollol" not in response.get_data(as_text=True)


def test_billion_laughs_in_a_diagram_is_refused(designer, session_factory):
    """The same bomb inside an otherwise valid copy of the pathway."""
    before = version_count(session_factory)
    doctype = BILLION_LAUGHS.split("<lolz>")[0].replace("<!DOCTYPE lolz", "<!DOCTYPE bpmn:definitions")
    bomb = intake_with(('<?xml version="1.0" encoding="UTF-8"?>\n', ""),
                       ('<bpmn:documentation>One-window intake:', '<bpmn:documentation>&lol9; One-window intake:'))
    started = time.monotonic()
    response = upload(designer, doctype + bomb)
    assert time.monotonic() - started < 20  # as above: only an expansion takes this long
    found = _refused(response, session_factory, before)
    assert any(_refuses_entities(p) for p in found), found


def test_external_entity_is_refused_and_never_read(designer, session_factory):
    before = version_count(session_factory)
    response = upload(designer, _xxe())
    found = _refused(response, session_factory, before)
    assert any("DOCTYPE" in p for p in found), found
    body = response.get_data(as_text=True)
    passwd = Path("/etc/passwd").read_text()
    for line in passwd.splitlines():
        if line.strip():
            assert line not in body
    assert "root:" not in body
    # Nothing was recorded that could show it later either.
    listing = designer.get("/designer/")
    assert "root:" not in listing.get_data(as_text=True)


def test_unsafe_file_name_is_refused(designer, session_factory):
    before = version_count(session_factory)
    response = upload(designer, INTAKE_BPMN, "../intake.bpmn.exe")
    assert response.status_code == 422 and version_count(session_factory) == before
    assert "文件名只能包含字母、数字、下划线、点和连字符" in text(response)


def test_no_file_is_422(designer, session_factory):
    response = designer.post("/designer/upload", data={}, content_type="multipart/form-data")
    assert response.status_code == 422
    assert "请选择要上传的 .bpmn 或 .dmn 文件" in text(response)


def test_new_version_for_new_cases_old_version_for_running_ones(
        client, login_as, session_factory, filed_case):
    old_case, old_task, old_version = filed_case()
    assert old_version == latest_version_id(session_factory)
    old_due = as_utc(tasks_of(session_factory, old_case, "Task_mediate")[0].due_at)

    login_as("designer")
    changed = diagram_with("mediation.bpmn", (MONTH_TIMER,
                                              TWENTY_DAY_TIMER))
    published = upload(client, changed, "mediation.bpmn")
    assert published.status_code == 302
    listing = client.get(published.headers["Location"])
    new_version = latest_version_id(session_factory)
    assert new_version != old_version
    assert f"已发布新版本：intake v{new_version}" in text(listing)
    assert count(session_factory, ProcessVersion, ProcessVersion.source == "upload") == 1
    # The designer can read the new diagram back.
    shown = client.get(f"/designer/versions/{new_version}/files/bpmn/mediation.bpmn")
    assert shown.status_code == 200 and "natural_days(20)" in shown.get_data(as_text=True)
    # Uploading the same file again publishes nothing new.
    again = upload(client, changed, "mediation.bpmn")
    assert again.status_code == 302
    assert "内容与现有版本相同" in text(client.get(again.headers["Location"]))
    assert latest_version_id(session_factory) == new_version

    # A new case takes the new version, with the 20-day deadline.
    login_as("clerk")
    filed = client.post("/matters/new", data=dict(INTAKE, repeat_decision="new"))
    assert filed.status_code == 302
    new_case = case_id_from(filed)
    assert case_row(session_factory, new_case).process_version_id == new_version
    new_due = as_utc(tasks_of(session_factory, new_case, "Task_mediate")[0].due_at)
    # Twenty days from today, at the end of that day in China (the next working day if it is a rest day).
    assert new_due == datetime.fromisoformat(natural_days(20)).astimezone(timezone.utc)
    assert old_due - new_due > timedelta(days=7)

    # The running case stays on its version and goes on working.
    assert case_row(session_factory, old_case).process_version_id == old_version
    login_as("mediator")
    assert client.post(f"/tasks/{old_task}", data=MEDIATION_SUCCESS).status_code == 302
    assert case_row(session_factory, old_case).process_version_id == old_version
    assert open_task_id(session_factory, old_case, "Task_confirm_window") is not None
    page_ = client.get(f"/cases/{old_case}")
    assert f"v{old_version}" in text(page_)

    # The version list counts a case on each.
    login_as("designer")
    rows = page(client.get("/designer/")).xpath("//table[@class='list']/tbody/tr")
    counts = {r.xpath("./td[2]")[0].text_content().strip(): r.xpath("./td[6]")[0].text_content().strip()
              for r in rows}
    assert counts[f"v{old_version}"] == "1" and counts[f"v{new_version}"] == "1"


def test_migration_dry_run_then_move_from_the_designer_pages(client, login_as, session_factory, filed_case):
    case_id, _task, old_version = filed_case()
    login_as("designer")
    changed = diagram_with("mediation.bpmn", (MONTH_TIMER,
                                              TWENTY_DAY_TIMER))
    assert upload(client, changed, "mediation.bpmn").status_code == 302
    new_version = latest_version_id(session_factory)
    dry = client.get(f"/designer/versions/{new_version}/migrate")
    assert dry.status_code == 200 and "可以迁移" in text(dry)
    assert case_row(session_factory, case_id).process_version_id == old_version
    moved = client.post(f"/designer/versions/{new_version}/migrate", data={"case_id": str(case_id)})
    assert moved.status_code == 302
    assert "已迁移 1 件" in text(client.get(moved.headers["Location"]))
    assert case_row(session_factory, case_id).process_version_id == new_version
    login_as("supervisor")
    assert client.get(f"/designer/versions/{new_version}/migrate").status_code == 403


def test_compare_two_versions(client, login_as, session_factory):
    old_version = latest_version_id(session_factory)
    login_as("designer")
    changed = diagram_with("mediation.bpmn", (MONTH_TIMER,
                                              TWENTY_DAY_TIMER),
                           ('name="劳动争议调解"', 'name="劳动争议调解（专业）"'))
    assert upload(client, changed, "mediation.bpmn").status_code == 302
    new_version = latest_version_id(session_factory)
    shown = client.get(f"/designer/compare?a={old_version}&b={new_version}")
    assert shown.status_code == 200
    body = text(shown)
    assert "expression: months(1) → natural_days(20)" in body and "Timer_mediation_deadline" in body
    assert "name: 劳动争议调解 → 劳动争议调解（专业）" in body and "bpmn/mediation.bpmn" in body
    counts = {h.text.strip(): h.xpath('./span[@class="count"]/text()')[0] for h in page(shown).xpath("//h2[span]")}
    assert (counts["新增"], counts["删除"], counts["改动"]) == ("0", "0", "2")


def test_form_editor_previews_and_publishes(client, login_as, session_factory):
    import json as json_lib
    login_as("designer")
    shown = client.get("/designer/forms/visit.json")
    assert shown.status_code == 200 and "satisfaction" in text(shown)
    original = page(shown).get_element_by_id("form-json").text_content()
    preview = client.post("/designer/forms/visit.json/preview", data={"text": original}).get_json()
    assert preview["problems"] == [] and "回访评价" in preview["html"] and 'name="satisfaction"' in preview["html"]
    untitled = json_lib.loads(original)
    del untitled["schema"]["properties"]["satisfaction"]["title"]
    broken = client.post("/designer/forms/visit.json/preview",
                         data={"text": json_lib.dumps(untitled, ensure_ascii=False, indent=2)}).get_json()
    assert broken["problems"] and broken["problems"][0].startswith("forms/visit.json:") and "satisfaction" in broken["problems"][0]
    before = version_count(session_factory)
    changed = original.replace("满意度", "群众满意度")
    published = client.post("/designer/forms/visit.json/publish", data={"text": changed})
    assert published.status_code == 200 and "已发布新版本" in published.get_json()["message"]
    assert version_count(session_factory) == before + 1
    session = session_factory()
    try:
        from engine.persistence.models import ProcessVersion
        newest = session.scalar(sa_select(ProcessVersion).order_by(ProcessVersion.id.desc()).limit(1))
        assert newest.forms["visit.json"]["schema"]["properties"]["satisfaction"]["title"] == "群众满意度"
    finally:
        session.close()
    refused = client.post("/designer/forms/visit.json/publish", data={"text": "{not json"})
    assert refused.status_code == 422 and version_count(session_factory) == before + 1
    assert json_lib.loads(refused.data)["problems"]
    login_as("clerk")
    assert client.get("/designer/forms/visit.json").status_code == 403
