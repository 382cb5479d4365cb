"""One matter through the real app in Chromium, in the order a case lives it: the clerk files it
(after a first attempt with gaps), prints the receipt the resident follows the case with, records
the resident's second visit; the mediator claims and mediates it. Each scenario fails on its own:
one that starts later in the story finds the case built by the engine services as the earlier
scenarios would have left it (conftest.Story). Screenshots of every page land in
test-artifacts/screenshots/."""
import re

import pytest
from playwright.sync_api import expect

from .pages import assert_clean, choose, field_of, login

CODE = re.compile(r"^MT\d{8}\d{6}$")
CLERK, MEDIATOR = "王受理（县中心窗口）", "李调解（县人民调解委员会）"


@pytest.mark.usefixtures("story")  # no cases yet: the parties have no earlier one
def test_the_clerk_files_a_matter_after_a_first_attempt_with_gaps(new_page, live_server, shots):
    clerk = new_page()
    login(clerk, "clerk", shots)
    expect(clerk).to_have_url(f"{live_server}/tasks")
    expect(clerk.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(clerk.locator(".topbar .who")).to_contain_text(CLERK)
    shots(clerk, "clerk-inbox")

    # CSRF is on: a post without the token is refused.
    refused = clerk.request.post(f"{live_server}/matters/new", form={"kind": "dispute"})
    assert refused.status == 400

    clerk.click(".mainnav >> text=登记新事项")
    expect(clerk).to_have_url(f"{live_server}/matters/new")
    expect(clerk.locator("h1")).to_have_text("受理登记")
    expect(clerk.locator(".repeat-row")).to_have_count(1)
    shots(clerk, "intake-empty")

    # First attempt: several required fields left empty, one phone number wrong.
    clerk.select_option("#f-kind", "dispute")
    clerk.fill("#f-place", "东关村三组")
    clerk.fill("#f-summary", "两户因排水沟堵塞发生争执，雨水倒灌一方院内。")
    clerk.fill("[name=parties-0-name]", "张三")
    clerk.fill("[name=parties-0-phone]", "12345")
    clerk.click("form.task-form button.primary")
    expect(clerk.locator(".flash-error[role=alert]")).to_contain_text("表单有")
    assert clerk.url == f"{live_server}/matters/new"
    # The risk level is not asked for: it defaults to the assessment from the facts.
    for name in ("channel", "category", "claims", "people_count",
                 "parties-0-role", "parties-0-id_type", "parties-0-id_number"):
        block = field_of(clerk, name)
        expect(block).to_have_class(re.compile(r"\bhas-error\b"))
        expect(block.locator("p.error")).to_have_text("此项为必填项")
        expect(block.locator(f"[name='{name}']")).to_have_attribute("aria-invalid", "true")
    expect(field_of(clerk, "parties-0-phone").locator("p.error")).to_have_text("请输入11位手机号或带区号的固定电话")
    for name in ("kind", "place", "summary", "parties-0-name"):
        expect(field_of(clerk, name).locator("p.error")).to_have_count(0)
    # What was typed is still there.
    expect(clerk.locator("#f-kind")).to_have_value("dispute")
    expect(clerk.locator("#f-place")).to_have_value("东关村三组")
    expect(clerk.locator("#f-summary")).to_have_value("两户因排水沟堵塞发生争执，雨水倒灌一方院内。")
    expect(clerk.locator("[name=parties-0-name]")).to_have_value("张三")
    expect(clerk.locator("[name=parties-0-phone]")).to_have_value("12345")
    # The error sits right under its own control, not somewhere else on the page.
    control = field_of(clerk, "channel").locator("select").bounding_box()
    message = field_of(clerk, "channel").locator("p.error").bounding_box()
    assert 0 <= message["y"] - (control["y"] + control["height"]) < 20
    assert abs(message["x"] - control["x"]) < 2
    shots(clerk, "intake-errors")

    # Second attempt: everything, with two parties.
    choose(clerk, "#f-channel", "visit")
    choose(clerk, "#f-category", "neighbour")
    clerk.fill("#f-occurred_on", "2026-11-20")
    clerk.fill("#f-claims", "疏通排水沟并赔偿损失")
    clerk.fill("#f-people_count", "2")
    choose(clerk, "#f-risk_level", "blue")
    choose(clerk, "[name=parties-0-role]", "applicant")
    choose(clerk, "[name=parties-0-id_type]", "resident_id")
    clerk.fill("[name=parties-0-id_number]", "110101199003071234")
    clerk.fill("[name=parties-0-phone]", "13800138000")
    clerk.select_option("[name=parties-0-sex]", "male")
    clerk.fill("[name=parties-0-address]", "东关村三组12号")
    clerk.click("button[data-add-row]:has-text('+ 添加当事人')")
    expect(clerk.locator(".repeat-row")).to_have_count(2)
    expect(clerk.locator(".repeat-row").nth(1).locator(".repeat-no")).to_have_text("当事人 2")
    expect(clerk.locator("[name=parties-1-role]")).to_be_focused()
    expect(clerk.locator("label[for=f-parties-1-name]")).to_contain_text("姓名 / 单位名称")
    clerk.select_option("[name=parties-1-role]", "respondent")
    clerk.fill("[name=parties-1-name]", "李四")
    clerk.select_option("[name=parties-1-id_type]", "resident_id")
    clerk.fill("[name=parties-1-id_number]", "11010119851212345X")
    clerk.fill("[name=parties-1-phone]", "13900139000")
    clerk.locator("#f-claims").focus()
    # Messages about fields the clerk has since corrected are out of date and go away.
    for name in ("channel", "category", "claims", "people_count",
                 "parties-0-role", "parties-0-id_type", "parties-0-id_number", "parties-0-phone"):
        expect(field_of(clerk, name).locator("p.error")).to_be_hidden()
    shots(clerk, "intake-filled")
    clerk.click("form.task-form button.primary")

    expect(clerk).to_have_url(re.compile(r"/cases/\d+$"))
    code = clerk.locator("h1 .code").inner_text().strip()
    assert CODE.match(code), code
    expect(clerk.locator(".flash-success")).to_have_text(f"已登记，事项编号 {code}")
    summary = clerk.locator("section.summary")
    expect(summary).to_contain_text("张三")
    expect(summary).to_contain_text("李四")
    expect(summary).to_contain_text("邻里")
    expect(summary.locator("dt:has-text('当前环节') + dd")).to_have_text("人民调解")
    routed = summary.locator("dt:has-text('分流去向') + dd")
    expect(routed).to_contain_text("人民调解")
    expect(routed).to_contain_text("其他矛盾纠纷：人民调解优先")  # the rule that fired, with its basis
    expect(routed).to_contain_text("人民调解法（2010）")
    expect(clerk.locator(".status")).to_have_text("办理中")
    steps = clerk.locator("section.card:has(h2:has-text('办理环节')) tbody tr")
    expect(steps).to_have_count(2)
    expect(steps.nth(0)).to_contain_text("受理登记")
    expect(steps.nth(0)).to_contain_text("已完成")
    expect(steps.nth(1)).to_contain_text("人民调解")
    expect(steps.nth(1)).to_contain_text("待认领")
    expect(clerk.locator("details table.mini tbody tr")).to_have_count(2)
    shots(clerk, "case-after-intake")

    assert_clean(clerk)


def test_the_resident_follows_the_case_with_the_receipt(new_page, live_server, shots, story):
    code = story.file().code
    clerk = new_page()
    login(clerk, "clerk")
    clerk.goto(f"/cases/{story.case_id}")
    clerk.click("text=受理回执")
    expect(clerk.locator(".receipt .code")).to_have_text(code)
    expect(clerk.locator(".receipt")).to_contain_text("/follow")
    shots(clerk, "receipt")
    resident = new_page()
    resident.goto("/follow")
    resident.fill("input[name=code]", code)
    resident.fill("input[name=phone]", "13900139000")
    resident.click("form.follow-form button.primary")
    expect(resident.locator("ol.timeline li")).to_have_count(2)
    expect(resident.locator("ol.timeline li.done")).to_contain_text("受理登记")
    expect(resident.locator("ol.timeline li.open")).to_contain_text("人民调解")
    expect(resident.locator("body")).not_to_contain_text("张三")
    shots(resident, "resident-follow")

    assert_clean(clerk, resident)


def test_a_repeat_visit_joins_the_open_case(new_page, live_server, shots, story):
    code = story.file().code
    clerk = new_page()
    login(clerk, "clerk")
    clerk.goto("/matters/new")
    choose(clerk, "#f-kind", "dispute")
    choose(clerk, "#f-channel", "phone")
    choose(clerk, "#f-category", "neighbour")
    clerk.fill("#f-place", "东关村三组")
    clerk.fill("#f-summary", "张三来电：排水沟仍未疏通。")
    clerk.fill("#f-claims", "尽快疏通")
    clerk.fill("#f-people_count", "1")
    # The risk level stays at the assessment, which counts this visit (yellow: back within 90 days).
    choose(clerk, "[name=parties-0-role]", "applicant")
    clerk.fill("[name=parties-0-name]", "张三")
    choose(clerk, "[name=parties-0-id_type]", "resident_id")
    clerk.fill("[name=parties-0-id_number]", "110101199003071234")
    clerk.fill("[name=parties-0-phone]", "13800138000")
    clerk.click("form.task-form button.primary")
    panel = clerk.locator("section.repeats")
    expect(panel).to_contain_text(code)
    expect(clerk.locator("#f-summary")).to_have_value("张三来电：排水沟仍未疏通。")
    shots(clerk, "repeat-check")
    panel.locator(f"label:has-text('{code}')").click()
    clerk.click("form.task-form button.primary")
    expect(clerk.locator(".flash-success")).to_have_text(f"已作为重复来访并入事项 {code}")
    expect(clerk.locator("details summary", has_text="重复来访")).to_have_count(1)

    assert_clean(clerk)


def test_the_mediator_claims_the_case_and_records_the_mediation(new_page, live_server, shots, story):
    code = story.file().repeat_visit().code
    mediator = new_page()
    login(mediator, "mediator")
    expect(mediator).to_have_url(f"{live_server}/tasks")
    pool = mediator.locator("section.card:has(h2:has-text('本单位待认领'))")
    row = pool.locator("tbody tr", has_text=code)
    expect(row).to_have_count(1)
    # (counts are read off the same page: other test runs may share a PostgreSQL database)
    expect(pool.locator(".count")).to_have_text(str(pool.locator("tbody tr").count()))
    expect(row).to_contain_text("人民调解")
    expect(row).to_contain_text("邻里")
    expect(row.locator(".risk")).to_have_text("黄色（较大）")  # re-assessed at the repeat visit
    expect(mediator.locator("section.card:has(h2:has-text('由我承办')) .count")).to_have_text("0")
    shots(mediator, "mediator-pool")
    row.locator("button:has-text('认领')").click()

    expect(mediator).to_have_url(re.compile(r"/tasks/\d+$"))
    expect(mediator.locator(".flash-success")).to_have_text("已认领")
    expect(mediator.locator("h1")).to_have_text("人民调解")
    expect(mediator.locator(".task-meta .chip")).to_have_text(f"承办人：{MEDIATOR}")
    expect(mediator.locator(".claim-bar")).to_have_count(0)
    expect(mediator.locator(".page-head a.code")).to_have_text(code)
    expect(mediator.locator(".basis")).to_contain_text("人民调解工作若干规定")
    mediator.fill("[name=sessions-0-held_on]", "2026-11-25")
    mediator.fill("[name=sessions-0-place]", "县人民调解委员会调解室")
    mediator.fill("[name=sessions-0-participants]", "张三、李四、村调委会主任")
    mediator.fill("[name=sessions-0-notes]", "双方到场，经释法说理，达成一致。")
    mediator.select_option("#f-outcome", "success")
    expect(mediator.locator("#f-outcome option:checked")).to_have_text("调解成功")
    mediator.fill("#f-agreement_terms", "李四三日内疏通排水沟并赔偿张三500元。")
    mediator.fill("#f-amount", "500")
    shots(mediator, "mediation-form")
    mediator.click("form.task-form button.primary")

    expect(mediator).to_have_url(re.compile(r"/cases/\d+$"))
    expect(mediator.locator(".flash-success")).to_have_text("「人民调解」已提交")
    expect(mediator.locator("section.summary dt:has-text('调解结果') + dd")).to_have_text("调解成功")
    done = mediator.locator("section.card:has(h2:has-text('办理环节')) tbody tr").filter(
        has=mediator.locator("td:first-child", has_text=re.compile("^人民调解$")))
    expect(done).to_contain_text("已完成")
    expect(done).to_contain_text(MEDIATOR)
    recorded = mediator.locator("details", has=mediator.locator("summary", has_text="人民调解"))
    expect(recorded.locator("summary")).to_contain_text(MEDIATOR)
    recorded.locator("summary").click()
    expect(recorded.locator("dl.data")).to_contain_text("李四三日内疏通排水沟并赔偿张三500元。")
    shots(mediator, "case-after-mediation")

    assert_clean(mediator)
