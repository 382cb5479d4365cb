"""Those who oversee the case of the walkthrough (test_walkthrough.py), each in a scenario of its
own on the case the engine services build as the clerk and the mediator left it: the auditor
finds its history, the supervisor watches it (and reads it in English); the designer looks at the
versions and the administrator at the organisation. Screenshots land in test-artifacts/screenshots/."""
import re

from playwright.sync_api import expect

from .pages import assert_clean, login
from .test_walkthrough import CLERK, MEDIATOR


def test_the_auditor_finds_the_case_and_reads_its_history(new_page, live_server, shots, story):
    code = story.file().repeat_visit().mediate().code
    auditor = new_page()
    login(auditor, "auditor")
    expect(auditor).to_have_url(f"{live_server}/audit/cases")
    auditor.fill("input[name=q]", code)
    auditor.click("form.filters button.primary")
    expect(auditor).to_have_url(re.compile(r"/audit/cases\?q=MT"))
    hits = auditor.locator("table.list tbody tr")
    expect(hits).to_have_count(1)
    expect(hits.first.locator("a.code")).to_have_text(code)
    expect(auditor.locator(".pager")).to_contain_text("共 1 件")
    shots(auditor, "audit-search")
    hits.first.locator("a.code").click()

    expect(auditor).to_have_url(re.compile(r"/audit/cases/\d+$"))
    expect(auditor.locator("h1 .code")).to_have_text(code)
    submitted = auditor.locator("table.history tbody tr.ev-task_completed")
    expect(submitted).to_have_count(2)
    expect(submitted.nth(0)).to_contain_text("受理登记")
    expect(submitted.nth(0)).to_contain_text(CLERK)
    expect(submitted.nth(1)).to_contain_text("人民调解")
    expect(submitted.nth(1)).to_contain_text(MEDIATOR)
    claimed = auditor.locator("table.history tbody tr.ev-task_claimed")
    expect(claimed).to_have_count(1)
    expect(claimed).to_contain_text(MEDIATOR)
    expect(auditor.locator("table.history tbody tr.ev-case_started")).to_contain_text(CLERK)
    # The auditor does not see ID numbers or phones in the recorded data.
    data_rows = auditor.locator("table.history tbody tr.ev-task_completed details.submitted")
    expect(data_rows).to_have_count(2)
    data_rows.nth(0).locator("summary").click()
    recorded = data_rows.nth(0).locator("dl.data").first
    expect(recorded).to_be_visible()
    expect(recorded.locator("table.mini tbody tr")).to_have_count(2)
    expect(recorded).to_contain_text("邻里")
    expect(recorded).to_contain_text("张三")
    expect(recorded).to_contain_text("138****8000")
    for secret in ("110101199003071234", "13800138000", "11010119851212345X", "13900139000"):
        expect(auditor.locator("main")).not_to_contain_text(secret)
    shots(auditor, "audit-history")
    # The trace: the case's own diagram with the path taken and where it stands (the 30-day
    # window for judicial confirmation, in the court-link diagram).
    expect(auditor.locator('#diagram[data-ready="1"]')).to_be_attached()
    expect(auditor.locator("#diagram .djs-element.current[data-element-id=Task_confirm_window]")).to_have_count(1)
    expect(auditor.locator("#diagram .djs-element.taken[data-element-id=Gateway_outcome]")).to_have_count(1)
    expect(auditor.locator("#diagram .djs-connection.taken[data-element-id=Flow_outcome_success]")).to_have_count(1)
    auditor.locator("nav.tabs a", has_text="人民调解").click()
    expect(auditor.locator("#diagram .djs-element.taken[data-element-id=Task_mediate]")).to_have_count(1)
    auditor.locator("#diagram .djs-element[data-element-id=Task_mediate]").click()
    expect(auditor.locator("#diagram-info")).to_contain_text(MEDIATOR)
    assert not auditor.js_errors, auditor.js_errors
    auditor.locator("#diagram-info").scroll_into_view_if_needed()
    shots(auditor, "audit-trace")

    assert_clean(auditor)


def test_the_supervisor_watches_the_open_step_in_chinese_and_english(new_page, live_server, shots, story):
    code = story.file().repeat_visit().mediate().code
    supervisor = new_page()
    login(supervisor, "supervisor")
    expect(supervisor).to_have_url(f"{live_server}/supervision/")
    expect(supervisor.locator("h1")).to_have_text("在办环节督办")
    ours = supervisor.locator("section.card table.list tbody tr", has_text=code)
    expect(ours).to_have_count(1)
    # After the agreement, the 30-day window for judicial confirmation is open, with its basis.
    expect(ours).to_contain_text("司法确认申请")
    expect(ours).to_contain_text("人民调解法（2011年1月1日施行）第三十三条")
    # The mediator who mediated keeps the case's next mediator step.
    expect(ours).to_contain_text(MEDIATOR)
    expect(ours.locator(".risk")).to_have_text("蓝色（一般）")
    total = supervisor.locator(".tile").nth(2).locator("b").inner_text()
    expect(supervisor.locator(".pager")).to_contain_text(f"共 {total} 项")
    shots(supervisor, "supervision")
    supervisor.click("nav.tabs a:has-text('督办看板')")
    expect(supervisor.locator("h1")).to_have_text("督办看板")
    expect(supervisor.locator("section.card", has_text="按环节").locator("tbody tr").first).to_contain_text("司法确认申请")
    shots(supervisor, "dashboard")
    supervisor.click("nav.tabs a:has-text('工作指标')")
    expect(supervisor.locator("#trend-chart[data-ready='1']")).to_be_attached()
    expect(supervisor.locator(".tile", has_text="受理事项").locator("b")).to_have_text(re.compile(r"^[1-9]"))
    assert not supervisor.js_errors, supervisor.js_errors
    shots(supervisor, "indicators")
    supervisor.click("nav.tabs a:has-text('在办环节')")

    supervisor.click(".userbox button:has-text('English')")
    expect(supervisor).to_have_url(f"{live_server}/supervision/")
    expect(supervisor.locator("html")).to_have_attribute("lang", "en")
    expect(supervisor.locator("h1")).to_have_text("Open steps to watch")
    expect(supervisor.locator(".mainnav a")).to_have_text(["Awaiting acceptance", "My tasks", "Cases", "Supervision", "Reports",
                                                           "Meetings", "Mediators and experts"])
    expect(supervisor.locator(".userbox button").first).to_have_text("中文")
    expect(supervisor.locator(".tile").nth(2)).to_contain_text("All open")
    shots(supervisor, "supervision-en")
    supervisor.locator("a.code", has_text=code).click()
    expect(supervisor.locator("section.summary dt:has-text('Outcome') + dd")).to_have_text("Agreement reached")
    expect(supervisor.locator("section.summary dt:has-text('Category') + dd")).to_have_text("Neighbours")
    expect(supervisor.locator(".page-head .risk")).to_have_text("Risk: Blue (low)")
    shots(supervisor, "case-en")
    supervisor.click(".userbox button:has-text('中文')")
    expect(supervisor.locator("html")).to_have_attribute("lang", "zh-CN")

    assert_clean(supervisor)


def test_the_designer_sees_the_versions_and_their_diagrams(new_page, live_server, shots, story):
    story.file()  # the version in use counts its cases
    designer = new_page()
    login(designer, "designer")
    expect(designer).to_have_url(f"{live_server}/designer/")
    versions = designer.locator("section.card:has(h2:has-text('已发布版本')) tbody tr", has_text="仓库文件")
    expect(versions).to_have_count(1)
    expect(versions.first).to_contain_text("intake")
    expect(versions.first.locator("td").nth(5)).to_have_text(re.compile(r"^[1-9]\d*$"))
    expect(designer.locator("p.ok")).to_contain_text("全部流程图与表单校验通过")
    shots(designer, "designer")
    versions.first.locator("a:has-text('查看')").click()
    expect(designer).to_have_url(re.compile(r"/designer/versions/\d+$"))
    expect(designer.locator('#diagram[data-ready="1"]')).to_be_attached()
    expect(designer.locator("#diagram svg").first).to_be_visible()
    # The one-window intake calls each pathway; each pathway is its own diagram, one tab away.
    expect(designer.locator("#diagram .djs-element[data-element-id=Call_mediation]")).to_have_count(1)
    expect(designer.locator("nav.tabs a")).to_have_count(10)
    expect(designer.locator("nav.tabs a.active")).to_have_text("一窗受理")
    box = designer.locator("#diagram").bounding_box()
    assert box["height"] > 400 and box["width"] > 800
    shots(designer, "designer-version")
    designer.click("nav.tabs a:has-text('分科诊断')")
    expect(designer.locator('#diagram[data-ready="1"]')).to_be_attached()
    expect(designer.locator("#diagram .djs-element[data-element-id=Task_report]")).to_have_count(1)
    # The tables list the steps and deadlines of the diagram shown, each with its department or basis.
    expect(designer.locator("table.list").first.locator("tr", has_text="Task_specialist")).to_contain_text("按数据")
    expect(designer.locator("table.list").first.locator("tr", has_text="Task_mediate")).to_have_count(0)
    expect(designer.locator("table.list tbody tr", has_text="报到时限")).to_contain_text("中心吹哨、部门报到")
    assert not designer.js_errors, designer.js_errors
    shots(designer, "designer-specialist-diagram")

    assert_clean(designer)


def test_the_administrator_sees_the_organisation_and_its_people(new_page, live_server, shots):
    admin = new_page()
    login(admin, "admin")
    expect(admin).to_have_url(f"{live_server}/admin/")
    # The county, its townships and villages, and the sixteen departments stationed at its center
    # (the registry's first thirteen kinds, and legal aid, counselling and education the demo adds).
    expect(admin.locator("ul.tree li")).to_have_count(7 + 16)
    for username in ("clerk", "mediator", "supervisor", "auditor", "designer", "admin", "clerk_cg", "mediator_cg",
                     "clerk_dg", "clerk_ll"):  # other tests may have added people; the demo ones are all here
        expect(admin.locator("#users tbody tr", has=admin.locator(f"code:text-is('{username}')"))).to_have_count(1)
    expect(admin.locator("table.list tbody tr", has_text="mediator_cg")).to_contain_text("吴调解（城关镇）")
    shots(admin, "admin")
    assert_clean(admin)
