"""One matter through the real app in Chromium: the clerk files it (after a first attempt with
gaps), the mediator claims and mediates it, the auditor finds its history; then a look at the
supervisor, designer and admin pages and at the English interface. Screenshots of every page
land in test-artifacts/screenshots/."""
import re

from playwright.sync_api import expect

PASSWORD = "demo1234"
CODE = re.compile(r"^MT\d{8}\d{6}$")
CLERK, MEDIATOR = "王受理（县中心窗口）", "李调解（县人民调解委员会）"


def login(page, username, shot=None):
    page.goto("/login")
    expect(page.locator("h1")).to_have_text("登录")
    if shot:
        shot(page, "login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button.primary")
    expect(page.locator(".topbar .who")).to_be_visible()
    assert "/login" not in page.url


def choose(page, selector, value):
    """Pick an option with the keyboard, as a person would (Playwright's select_option sets the
    value from script, which the browser does not count as the user's own change)."""
    control = page.locator(selector)
    control.focus()
    for _ in range(40):
        if control.input_value() == value:
            return
        page.keyboard.press("ArrowDown")
    raise AssertionError(f"{selector}: no option {value!r}")


def field_of(page, name):
    """The .field block holding the input named `name`: its label, control and error text."""
    return page.locator(".field").filter(has=page.locator(f"[name='{name}']"))


def test_walkthrough(new_page, live_server, shots):
    # ---- the clerk files a matter -------------------------------------------------------------
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

    # ---- the clerk prints a receipt; the resident follows the case without logging in --------
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

    # ---- the same resident comes back: the clerk sees the open case and records a repeat visit
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

    # ---- the mediator claims it and records the mediation -------------------------------------
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
    expect(mediator.locator("section.card:has(h2:has-text('我认领的')) .count")).to_have_text("0")
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
    done = mediator.locator("section.card:has(h2:has-text('办理环节')) tbody tr", has_text="人民调解")
    expect(done).to_contain_text("已完成")
    expect(done).to_contain_text(MEDIATOR)
    recorded = mediator.locator("details", has=mediator.locator("summary", has_text="人民调解"))
    expect(recorded.locator("summary")).to_contain_text(MEDIATOR)
    recorded.locator("summary").click()
    expect(recorded.locator("dl.data")).to_contain_text("李四三日内疏通排水沟并赔偿张三500元。")
    shots(mediator, "case-after-mediation")

    # ---- the auditor finds the case and reads its history -------------------------------------
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
    data_rows = auditor.locator("table.history tbody tr.ev-task_completed + tr.ev-data")
    expect(data_rows).to_have_count(2)
    data_rows.nth(0).locator("summary").click()
    recorded = data_rows.nth(0).locator("details dl.data")
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

    # ---- supervisor, and the English interface ------------------------------------------------
    supervisor = new_page()
    login(supervisor, "supervisor")
    expect(supervisor).to_have_url(f"{live_server}/supervision/")
    expect(supervisor.locator("h1")).to_have_text("在办环节督办")
    ours = supervisor.locator("section.card table.list tbody tr", has_text=code)
    expect(ours).to_have_count(1)
    # After the agreement, the 30-day window for judicial confirmation is open, with its basis.
    expect(ours).to_contain_text("司法确认申请")
    expect(ours).to_contain_text("人民调解法（2011年1月1日施行）第三十三条")
    expect(ours).to_contain_text("待认领")
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
    expect(supervisor.locator(".mainnav a")).to_have_text(["My tasks", "Cases", "Supervision"])
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

    # ---- the designer: versions and the diagram -----------------------------------------------
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

    # ---- the administrator --------------------------------------------------------------------
    admin = new_page()
    login(admin, "admin")
    expect(admin).to_have_url(f"{live_server}/admin/")
    # The county, its townships and villages, and the thirteen departments stationed at its center.
    expect(admin.locator("ul.tree li")).to_have_count(7 + 13)
    for username in ("clerk", "mediator", "supervisor", "auditor", "designer", "admin", "clerk_cg", "mediator_cg",
                     "clerk_dg", "clerk_ll"):  # other tests may have added people; the demo ones are all here
        expect(admin.locator("table.list tbody tr", has=admin.locator(f"code:text-is('{username}')"))).to_have_count(1)
    expect(admin.locator("table.list tbody tr", has_text="mediator_cg")).to_contain_text("吴调解（城关镇）")
    shots(admin, "admin")

    for page in (clerk, mediator, auditor, supervisor, designer, admin):
        assert not page.js_errors, page.js_errors
        assert not page.failed_assets, page.failed_assets
