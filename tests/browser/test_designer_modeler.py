"""A designer changes a deadline in the browser modeler and publishes it: a new case takes the new
deadline while a case already running keeps the old one."""
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from playwright.sync_api import expect

from engine.legaltime.clock import as_utc
from engine.persistence.models import ProcessVersion, Task
from engine.workflow.scripting import natural_days
from tests.conftest import wipe_cases
from tests.engine.helpers import file_matter

from .pages import login


def _mediation_due(session_factory, case_id):
    session = session_factory()
    try:
        return as_utc(session.scalar(sa.select(Task.due_at).where(Task.case_id == case_id, Task.spec_id == "Task_mediate")))
    finally:
        session.close()


def test_designer_changes_a_deadline_in_the_modeler(new_page, live_server, shots, session_factory):
    session = session_factory()
    try:
        old_case = file_matter(session).id
    finally:
        session.close()
    try:
        designer = new_page()
        login(designer, "designer")
        designer.goto("/designer/edit/mediation.bpmn")
        expect(designer.locator('#modeler[data-ready="1"]')).to_be_attached()
        designer.locator("#modeler .djs-element[data-element-id=Timer_mediation_deadline]").click()
        panel = designer.locator("#properties")
        expect(panel.locator("h3")).to_contain_text("Timer_mediation_deadline")
        expect(panel.locator("input[name=expression]")).to_have_value("months(1)")
        expect(panel.locator("input[name=legalBasis]")).to_have_value("人民调解工作若干规定（司法部令第75号，2002年11月1日施行）第三十三条；期间计算：民法典（2021年1月1日施行）第二百零一条至第二百零三条")
        panel.locator("input[name=expression]").fill("natural_days(20)")
        panel.locator("input[name=expression]").press("Tab")
        # A user task shows its form and its lane (role).
        designer.locator("#modeler .djs-element[data-element-id=Task_mediate]").click()
        expect(panel.locator("select[name=form]")).to_have_value("mediation.json")
        expect(panel.locator("select[name=lane] option:checked")).to_have_text("调解员")
        # Its department list is the registry's active kinds; its referrals are ticked as the diagram says.
        expect(panel.locator("select[name=department] option[value=legal_aid]")).to_have_text("法律援助中心 (legal_aid)")
        expect(panel.locator("input[name=referrals][value=legal_aid]")).to_be_checked()
        expect(panel.locator("input[name=referrals][value=counselling]")).to_be_checked()
        designer.click("#check-draft")
        expect(designer.locator("#modeler-status")).to_contain_text("校验通过")
        shots(designer, "modeler")
        designer.click("#publish-draft")
        expect(designer.locator("#modeler-status")).to_contain_text("已发布新版本")
        assert not designer.js_errors, designer.js_errors

        session = session_factory()
        try:
            newest = session.scalar(sa.select(ProcessVersion).order_by(ProcessVersion.id.desc()).limit(1))
            assert newest.source == "upload" and "natural_days(20)" in newest.files["bpmn/mediation.bpmn"]
            # Everything else in the file is as it was: the modeler kept our extensions.
            assert 'name="referrals" value="legal_aid,counselling"' in newest.files["bpmn/mediation.bpmn"]
            assert 'name="legalBasis" value="人民调解工作若干规定（司法部令第75号，2002年11月1日施行）第三十三条；期间计算：民法典（2021年1月1日施行）第二百零一条至第二百零三条"' in newest.files["bpmn/mediation.bpmn"]
            new_case = file_matter(session).id
        finally:
            session.close()
        new_due, old_due = _mediation_due(session_factory, new_case), _mediation_due(session_factory, old_case)
        # natural_days(20): the end of the twentieth day after today in China, moved off a rest day.
        assert new_due == datetime.fromisoformat(natural_days(20)).astimezone(timezone.utc)
        assert old_due - new_due > timedelta(days=7), "the running case keeps its one-month deadline"
    finally:
        wipe_cases(session_factory)


def test_form_editor_previews_as_you_type(new_page, shots):
    designer = new_page()
    login(designer, "designer")
    designer.goto("/designer/forms/visit.json")
    expect(designer.locator('.form-editor[data-ready="1"]')).to_be_attached()
    expect(designer.locator("#form-preview")).to_contain_text("满意度")
    text = designer.locator("#form-json")
    text.fill(text.input_value().replace('"满意度"', '"群众满意度"'))
    expect(designer.locator("#form-preview")).to_contain_text("群众满意度")
    text.fill("{ broken")
    expect(designer.locator("#form-status")).to_contain_text("forms/visit.json:")
    assert not designer.js_errors, designer.js_errors
    shots(designer, "form-editor")


def test_triage_table_opens_in_the_decision_table_editor(new_page, shots):
    designer = new_page()
    login(designer, "designer")
    designer.goto("/designer/edit/triage.dmn")
    expect(designer.locator('#modeler[data-ready="1"]')).to_be_attached()
    table = designer.locator("#modeler .tjs-table")
    expect(table).to_contain_text("涉法涉诉")
    expect(table).to_contain_text('"labour_arbitration"')
    designer.click("#check-draft")
    expect(designer.locator("#modeler-status")).to_contain_text("校验通过")
    assert not designer.js_errors, designer.js_errors
    shots(designer, "triage-table")


def test_a_step_moves_to_another_lane_role(new_page, session_factory):
    from engine.persistence.models import DiagramDraft
    designer = new_page()
    login(designer, "designer")
    designer.goto("/designer/edit/close_followup.bpmn")
    expect(designer.locator('#modeler[data-ready="1"]')).to_be_attached()
    designer.locator("#modeler .djs-element[data-element-id=Task_review]").click()
    lane = designer.locator("#properties select[name=lane]")
    expect(lane.locator("option:checked")).to_have_text("督办")
    lane.select_option(label="受理员")
    designer.click("#save-draft")
    expect(designer.locator("#modeler-status")).to_contain_text("草稿已保存")
    session = session_factory()
    try:
        draft = session.scalar(sa.select(DiagramDraft).where(DiagramDraft.filename == "close_followup.bpmn"))
        clerk_lane = draft.xml.split('name="受理员"')[1].split("</bpmn:lane>")[0]
        assert "<bpmn:flowNodeRef>Task_review</bpmn:flowNodeRef>" in clerk_lane
        session.delete(draft)
        session.commit()
    finally:
        session.close()
