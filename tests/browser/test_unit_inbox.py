"""A resident's matter from the unit's inbox to the rating: the clerk (desktop) finds it by the
badge, accepts it through the intake form filled in with what the resident said, and the
resident follows the case and rates the outcome on a phone (375x667)."""
import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from engine.access.policy import Actor
from engine.cases import services
from engine.persistence.models import OrgUnit, Submission, Task, User
from engine.persistence.states import SubmissionState
from tests.browser.pages import assert_clean, choose, login

PHONE = {"width": 375, "height": 667}
RESIDENT_PHONE = "13700137055"


pytestmark = pytest.mark.usefixtures("no_cases_left")


def _report(session_factory):
    """A resident's matter as the QR filing page leaves it in the county center's inbox."""
    session = session_factory()
    try:
        county = session.scalar(sa.select(OrgUnit).where(OrgUnit.code == "C01-Q"))
        row = Submission(code="SQ20261130000901", org_unit_id=county.id, source="resident", kind="dispute",
                         category="neighbour", place="城关镇幸福小区5号楼",
                         summary="楼上住户装修把我家卫生间天花板泡坏了，物业协调了两次没有结果。",
                         claims="赔偿维修费用3000元", phone=RESIDENT_PHONE, state=SubmissionState.PENDING,
                         parties=[{"name": "赵敏", "phone": RESIDENT_PHONE, "role": "applicant"},
                                  {"name": "钱进", "phone": "13900139077", "role": "respondent"}])
        session.add(row)
        session.commit()
        return row.id, row.code
    finally:
        session.close()


def _close_case(session_factory, case_id):
    """The mediation, the window for judicial confirmation and the closing, as their handlers do."""
    session = session_factory()
    try:
        def act(username, spec, post):
            who = Actor.of(session.scalar(sa.select(User).where(User.username == username)))
            task_id = session.scalar(sa.select(Task.id).where(Task.case_id == case_id, Task.spec_id == spec,
                                                              Task.state == "ready"))
            assert task_id is not None, f"no open {spec}"
            services.complete_task(session, who, task_id, post)

        act("mediator", "Task_mediate", {
            "sessions-0-held_on": "2026-11-25", "sessions-0-notes": "双方到场，钱进同意赔偿。", "outcome": "success",
            "agreement_terms": "钱进一周内赔偿赵敏维修费2500元。", "amount": "2500"})
        act("mediator", "Task_confirm_window", {"applied": "no", "window_note": "双方自愿履行，不申请司法确认。"})
        act("clerk", "Task_close", {"closing_method": "mediated", "closing_summary": "调解成功，赔偿已付清。"})
    finally:
        session.close()


def test_the_clerk_accepts_and_the_resident_follows_and_rates_on_a_phone(new_page, browser, live_server,
                                                                         session_factory, shots):
    submission_id, code = _report(session_factory)

    clerk = new_page()
    login(clerk, "clerk")
    badge = clerk.locator(".mainnav a[href='/submissions'] .count")
    expect(badge).to_have_text("1")
    clerk.click(".mainnav a[href='/submissions']")
    row = clerk.locator("table.submissions tr", has_text=code)
    expect(row).to_contain_text("群众扫码")
    expect(row).to_contain_text("城关镇幸福小区5号楼")
    shots(clerk, "unit-inbox-list")
    row.locator("a.code").click()
    expect(clerk.locator("h1")).to_contain_text(code)
    expect(clerk.locator(".summary")).to_contain_text("泡坏了")
    shots(clerk, "unit-inbox-matter")
    clerk.click("text=受理并补全登记表")
    expect(clerk.locator(".origin")).to_contain_text(code)
    expect(clerk.locator("#f-summary")).to_have_value("楼上住户装修把我家卫生间天花板泡坏了，物业协调了两次没有结果。")
    expect(clerk.locator("#f-channel")).to_have_value("online")
    expect(clerk.locator("[name=parties-1-name]")).to_have_value("钱进")
    # What the resident could not give: ID types and numbers.
    choose(clerk, "[name=parties-0-id_type]", "resident_id")
    clerk.fill("[name=parties-0-id_number]", "110101199104051238")
    choose(clerk, "[name=parties-1-id_type]", "resident_id")
    clerk.fill("[name=parties-1-id_number]", "110101198807081233")
    shots(clerk, "unit-inbox-accept-form")
    clerk.click("form.task-form button.primary")
    expect(clerk.locator(".flash-success")).to_contain_text("已受理并登记为")
    case_code = clerk.locator("h1 .code").inner_text()
    expect(clerk.locator(".reported")).to_contain_text(code)
    expect(badge).to_have_count(0)
    shots(clerk, "unit-inbox-accepted-case")
    assert_clean(clerk)

    session = session_factory()
    try:
        found = session.get(Submission, submission_id)
        assert found.state == SubmissionState.ACCEPTED and found.case.code == case_code
        case_id = found.case_id
    finally:
        session.close()
    _close_case(session_factory, case_id)

    context = browser.new_context(base_url=live_server, locale="zh-CN", timezone_id="Asia/Shanghai",
                                  viewport=PHONE, is_mobile=True, has_touch=True)
    try:
        resident = context.new_page()
        resident.goto("/follow")
        resident.fill("input[name=code]", code)
        resident.fill("input[name=phone]", RESIDENT_PHONE)
        resident.click("form.follow-form button.primary")
        result = resident.locator(".follow-result")
        expect(result).to_contain_text(case_code)
        expect(result.locator(".milestones")).to_contain_text("调解结案")
        expect(result.locator(".rating-form")).to_be_visible()
        body = resident.locator("body").inner_text()
        for secret in ("赵敏", "钱进", "13900139077", "110101199104051238", "泡坏了", "赔偿已付清"):
            assert secret not in body, secret
        width = resident.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"the follow page is {width}px wide on a {PHONE['width']}px phone"
        shots(resident, "resident-follow-closed-phone")
        resident.click("label.rating-satisfied")
        resident.fill("#feedback", "调解员很耐心，谢谢")
        shots(resident, "resident-rating-chosen-phone")
        resident.click(".rating-form button.primary")
        expect(resident.locator(".flash-success")).to_contain_text("感谢您的评价")
        expect(resident.locator(".rated")).to_contain_text("已评价：满意")
        expect(resident.locator(".rating-form")).to_have_count(0)
        shots(resident, "resident-rated-phone")
    finally:
        context.close()

    session = session_factory()
    try:
        visit = session.scalar(sa.select(Task).where(Task.case_id == case_id, Task.spec_id == "Task_visit"))
        assert visit.state == "completed"
    finally:
        session.close()
