"""A mediator at a task form, in a real browser: the length counter as one types and pastes, a
draft saved and found again, releasing that asks first; and tables whose badges stay on one line
on a desktop and on a phone."""
import pytest
from playwright.sync_api import expect

from tests.browser.pages import choose, field_of, login
from tests.engine.helpers import file_matter, open_task


pytestmark = pytest.mark.usefixtures("no_cases_left")


@pytest.fixture
def mediation_task(session_factory):
    """A filed dispute's mediation step, in the county pool: its task id."""
    session = session_factory()
    try:
        case = file_matter(session, "clerk")
        return open_task(session, case.id, "Task_mediate").id
    finally:
        session.close()


LINES = """el => {
    const range = document.createRange();
    range.selectNodeContents(el);
    return new Set([...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.top))).size;
}"""


def lines_of(page, selector):
    """How many lines the text of each element matching `selector` takes (its line boxes, read
    from the layout: a label broken letter by letter takes several)."""
    return page.eval_on_selector_all(selector, f"els => els.map({LINES})")


def test_the_counter_shows_the_limit_and_nothing_is_cut(new_page, mediation_task, shots):
    mediator = new_page()
    login(mediator, "mediator")
    mediator.goto(f"/tasks/{mediation_task}")
    notes = mediator.locator("[name=sessions-0-notes]")
    counter = field_of(mediator, "sessions-0-notes").locator(".counter")
    expect(counter).to_have_text("已输入 0 / 4000 字")
    notes.focus()
    mediator.keyboard.insert_text("双方到场，")
    expect(counter).to_have_text("已输入 5 / 4000 字")
    # Pasting 10,000 characters: all of them stay in the field, and the counter says how many too many.
    mediator.keyboard.insert_text("议" * 9_995)
    expect(counter).to_have_text("已输入 10000 / 4000 字，超出 6000 字")
    expect(counter).to_have_class("counter over")
    assert len(notes.input_value()) == 10_000
    # A one-line field shows its counter only near its limit.
    place = mediator.locator("[name=sessions-0-place]")
    place_counter = field_of(mediator, "sessions-0-place").locator(".counter")
    place.focus()
    mediator.keyboard.insert_text("东关村调解室")
    expect(place_counter).to_be_hidden()
    mediator.keyboard.insert_text("室" * 160)
    expect(place_counter).to_be_visible()
    expect(place_counter).to_have_text("已输入 166 / 200 字")

    mediator.fill("[name=sessions-0-held_on]", "2026-09-01")
    choose(mediator, "#f-outcome", "success")
    mediator.fill("#f-agreement_terms", "李四三日内疏通排水沟。")
    mediator.click("button.primary")
    # Refused by the server, beside the field, with every character kept.
    error = field_of(mediator, "sessions-0-notes").locator(".error")
    expect(error).to_have_text("不能超过 4000 个字（现有 10000 个字），请删减后再提交")
    assert len(mediator.locator("[name=sessions-0-notes]").input_value()) == 10_000
    expect(field_of(mediator, "sessions-0-notes").locator(".counter")).to_have_text("已输入 10000 / 4000 字，超出 6000 字")
    field_of(mediator, "sessions-0-notes").scroll_into_view_if_needed()
    shots(mediator, "task-form-over-the-limit")
    assert mediator.js_errors == [] and mediator.failed_assets == []


def test_a_draft_round_trip_and_a_release_that_asks(new_page, mediation_task, shots):
    mediator = new_page()
    login(mediator, "mediator")
    mediator.goto(f"/tasks/{mediation_task}")
    mediator.fill("[name=sessions-0-place]", "东关村调解室")
    mediator.fill("[name=sessions-0-notes]", "第一次调解：双方陈述意见，约定下周再谈。")
    # Nothing chosen as the outcome yet (required): the draft is saved all the same.
    mediator.click("button[name=save_draft]")
    expect(mediator.locator(".flash-success")).to_have_text("草稿已保存（尚未提交）")
    expect(mediator.locator(".draft-note")).to_contain_text("草稿保存于")
    expect(mediator.locator(".error")).to_have_count(0)
    shots(mediator, "task-form-draft-saved")

    # Another day: the mediator opens the task from the inbox and finds the record as left.
    mediator.goto("/tasks")
    mediator.locator("a.button", has_text="办理").first.click()
    expect(mediator.locator("[name=sessions-0-place]")).to_have_value("东关村调解室")
    expect(mediator.locator("[name=sessions-0-notes]")).to_have_value("第一次调解：双方陈述意见，约定下周再谈。")

    # Releasing sits apart from submitting and asks first; going back changes nothing.
    release = mediator.locator(".actions a.release")
    submit = mediator.locator(".actions button.primary")
    assert release.bounding_box()["x"] - (submit.bounding_box()["x"] + submit.bounding_box()["width"]) > 200
    release.click()
    expect(mediator.locator("h1")).to_have_text("退回待领？")
    expect(mediator.locator(".confirm")).to_contain_text("已保存的草稿")
    shots(mediator, "release-asks-first")
    mediator.click("text=返回继续办理")
    expect(mediator.locator(".task-meta")).to_contain_text("承办人：")
    mediator.locator(".actions a.release").click()
    mediator.click("button.danger")
    expect(mediator.locator(".flash-info")).to_have_text("已退回待领")
    assert mediator.js_errors == [] and mediator.failed_assets == []


@pytest.mark.parametrize("width", [1280, 375])
def test_badges_and_short_labels_stay_on_one_line(browser, live_server, session_factory, mediation_task, width,
                                                  shots):
    context = browser.new_context(base_url=live_server, locale="zh-CN", timezone_id="Asia/Shanghai",
                                  viewport={"width": width, "height": 800})
    try:
        page = context.new_page()
        login(page, "supervisor")
        page.goto("/supervision/")
        # "待认领" beside a long legal basis, and the risk badge at the row's end.
        expect(page.locator("table.list tbody tr")).to_have_count(1)
        assert lines_of(page, "table.list .risk") == [1]
        # The pool's name beside it may go to the next line, but neither piece is broken.
        assert lines_of(page, "table.list tbody td:nth-child(5) .pool") == [1]
        assert lines_of(page, "table.list tbody td:nth-child(5) .pool-unit") == [1]
        assert lines_of(page, "table.list tbody td:nth-child(3)") == [1]
        shots(page, f"supervision-{width}")
        page.goto("/cases")
        assert lines_of(page, "table.list .status") == [1]
        assert lines_of(page, "table.list tbody td:nth-child(2)") == [1]  # the time it was filed
        page.locator("table.list a.code").first.click()
        handler = page.locator("table.list tbody tr", has_text="人民调解").locator("td").nth(2)
        expect(handler.locator(".pool")).to_have_text("待认领")
        assert handler.locator(".pool").evaluate(LINES) == 1
        shots(page, f"case-{width}")
        page.context.clear_cookies()
        login(page, "mediator")
        assert lines_of(page, "table.list .risk") == [1]
        shots(page, f"inbox-{width}")
        # Nothing wider than the screen but the tables, which scroll inside their cards.
        assert page.evaluate("document.documentElement.scrollWidth") <= width
    finally:
        context.close()
