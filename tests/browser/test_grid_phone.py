"""A grid worker on a phone (375 x 667): lands on their grid's page, opens the step the pathway
gave the grid (checking an agreement is kept) and completes it, the other grid's worker never
seeing it; reports a matter from the field with a photo and finds it in their list."""
import re

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from engine.persistence.models import Attachment, Case, Grid, Submission
from tests.browser.pages import assert_clean, choose, login
from tests.files import jpeg, png
from tests.engine.helpers import MEDIATION_SUCCESS, WINDOW_NO, complete, file_matter, open_task

PHONE = {"width": 375, "height": 667}


pytestmark = pytest.mark.usefixtures("no_cases_left")


@pytest.fixture
def agreement_to_check(session_factory):
    """A 东关村 case of its first grid, mediated with an agreement: (case id, the grid's step id)."""
    session = session_factory()
    try:
        case = file_matter(session, "clerk_dg")
        session.get(Case, case.id).grid_id = session.scalar(sa.select(Grid.id).where(Grid.code == "C01-Q-CG-DG-G01"))
        session.commit()
        complete(session, "mediator_cg", case.id, "Task_mediate", MEDIATION_SUCCESS)
        complete(session, "mediator_cg", case.id, "Task_confirm_window", WINDOW_NO)
        return case.id, open_task(session, case.id, "Task_agreement_check").id
    finally:
        session.close()


def phone(new_page):
    page = new_page()
    page.set_viewport_size(PHONE)
    return page


def fits_the_screen(page):
    """Nothing wider than the phone: no sideways scrolling of the page itself."""
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_a_grid_worker_completes_the_grid_s_step_on_a_phone(new_page, agreement_to_check, session_factory, shots):
    case_id, step_id = agreement_to_check
    worker = phone(new_page)
    login(worker, "grid_dg")
    expect(worker).to_have_url(re.compile(r"/grid/$"))
    expect(worker.locator(".phone-head")).to_contain_text("东关村第一网格")
    task = worker.locator("#tasks .phone-item")
    expect(task).to_have_count(1)
    expect(task).to_contain_text("协议履行核查")
    fits_the_screen(worker)
    shots(worker, "grid-phone-home")
    task.locator("a").click()
    expect(worker.locator("h1")).to_contain_text("协议履行核查")
    fits_the_screen(worker)
    shots(worker, "grid-phone-check-form")
    worker.fill("[name=checked_on]", "2026-09-10")
    choose(worker, "[name=performance]", "kept")
    worker.fill("[name=check_note]", "已当面核实，赔偿款已付清。")
    worker.locator("form.task-form button.primary[type=submit]").first.click()
    expect(worker.locator(".flash-success")).to_contain_text("协议履行核查")
    shots(worker, "grid-phone-after-check")
    session = session_factory()
    try:
        assert open_task(session, case_id, "Task_close") is not None
    finally:
        session.close()
    worker.goto("/grid/")
    expect(worker.locator("#tasks .phone-item")).to_have_count(0)
    assert_clean(worker)


def test_the_other_grid_s_worker_does_not_see_it(new_page, agreement_to_check):
    _case_id, step_id = agreement_to_check
    other = phone(new_page)
    login(other, "grid_dg2")
    expect(other.locator("#tasks .phone-item")).to_have_count(0)
    response = other.goto(f"/tasks/{step_id}")
    assert response.status == 403


def test_a_grid_worker_reports_a_matter_with_a_photo(new_page, session_factory, shots):
    worker = phone(new_page)
    login(worker, "grid_dg")
    worker.click("a.phone-cta")
    expect(worker.locator("h1")).to_have_text("上报事项")
    choose(worker, "[name=category]", "neighbour")
    worker.fill("[name=place]", "东关村三组村道")
    worker.fill("[name=summary]", "两户因院墙排水发生争吵，一方堵住了排水口，雨天积水漫进邻家。")
    worker.fill("[name=claims]", "恢复排水，赔偿损失")
    worker.fill("[name=parties-0-name]", "张三")
    worker.fill("[name=parties-0-phone]", "13800138000")
    worker.fill("[name=parties-1-name]", "李四")
    choose(worker, "[name=parties-1-role]", "respondent")
    worker.set_input_files("[name=photos]", files=[{"name": "现场.png", "mimeType": "image/png", "buffer": png()}])
    fits_the_screen(worker)
    shots(worker, "grid-phone-report-form")
    worker.click("button.phone-cta")
    expect(worker.locator(".flash-success")).to_contain_text("已上报")
    report = worker.locator("#reports .phone-item")
    expect(report).to_have_count(1)
    expect(report).to_contain_text("待受理")
    expect(report).to_contain_text("东关村三组村道")
    fits_the_screen(worker)
    shots(worker, "grid-phone-reported")
    session = session_factory()
    try:
        [filed] = session.scalars(sa.select(Submission)).all()
        photos = session.scalars(sa.select(Attachment).where(Attachment.submission_id == filed.id)).all()
        assert (filed.source, filed.grid_id) == ("grid", session.scalar(
            sa.select(Grid.id).where(Grid.code == "C01-Q-CG-DG-G01")))
        assert [p.media_type for p in photos] == ["image/png"]
    finally:
        session.close()
    assert_clean(worker)


def test_a_report_with_a_field_missing_keeps_the_photo(new_page, session_factory, shots):
    worker = phone(new_page)
    login(worker, "grid_dg")
    worker.goto("/grid/report")
    worker.fill("[name=place]", "东关村五组")
    worker.fill("[name=parties-0-name]", "王五")
    worker.set_input_files("[name=photos]", files=[{"name": "现场.jpg", "mimeType": "image/jpeg", "buffer": jpeg()}])
    worker.click("button.phone-cta")
    expect(worker.locator(".flash-error")).to_be_visible()
    expect(worker.locator(".held")).to_contain_text("现场.jpg")
    expect(worker.locator("[name=place]")).to_have_value("东关村五组")
    fits_the_screen(worker)
    shots(worker, "grid-phone-report-missing")
    worker.fill("[name=summary]", "村道边两家为宅基地界桩争执。")
    worker.fill("[name=claims]", "确认界址")
    worker.click("button.phone-cta")
    expect(worker.locator("#reports .phone-item")).to_have_count(1)
    session = session_factory()
    try:
        [filed] = session.scalars(sa.select(Submission)).all()
        assert session.scalar(sa.select(sa.func.count()).select_from(Attachment)
                              .where(Attachment.submission_id == filed.id)) == 1
    finally:
        session.close()
