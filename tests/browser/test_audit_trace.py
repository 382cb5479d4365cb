"""The auditor's trace in a browser: people's actions first, everything on request, the data in
words and China time; the printed page keeps the chosen view and spells the data out."""
import pytest
from playwright.sync_api import expect

from tests.browser.pages import login
from tests.conftest import wipe_cases
from tests.engine.helpers import MEDIATION_SUCCESS, WINDOW_NO, complete, file_matter


@pytest.fixture(autouse=True)
def no_cases_left(live_server, session_factory):
    """The live server is shared with the walkthrough, which reads the dashboard's first rows."""
    yield
    wipe_cases(session_factory)


@pytest.fixture
def mediated_case(live_server, session_factory):
    session = session_factory()
    try:
        case = file_matter(session, category="housing_land")
        complete(session, "mediator", case.id, "Task_mediate", MEDIATION_SUCCESS)
        complete(session, "mediator", case.id, "Task_confirm_window", WINDOW_NO)
        return case.id
    finally:
        session.close()


def test_the_auditor_reads_the_trace_on_screen_and_in_print(new_page, shots, mediated_case):
    auditor = new_page()
    login(auditor, "auditor")
    auditor.goto(f"/audit/cases/{mediated_case}")
    rows = auditor.locator("table.trace > tbody > tr")
    expect(auditor.locator("nav.trace-views a.active")).to_contain_text("只看人员操作")
    expect(rows.and_(auditor.locator(".ev-engine"))).to_have_count(0)
    people = rows.count()
    intake = auditor.locator("tr.ev-task_completed").first
    intake.locator("details.submitted summary").click()
    expect(intake.locator("details.submitted")).to_contain_text("房屋宅基地")
    expect(intake.locator("details.submitted table.mini")).to_contain_text("张三")
    expect(intake.locator("details.raw pre")).to_be_hidden()
    # What is seen (the raw record stays folded) has no codes nor English keys.
    seen = auditor.locator("table.trace").inner_text()
    assert "housing_land" not in seen and '"category"' not in seen and "房屋宅基地" in seen
    shots(auditor, "trace-people")

    auditor.click("nav.trace-views a:has-text('全部记录')")
    expect(auditor.locator("nav.trace-views a.active")).to_contain_text("全部记录")
    everything = rows.count()
    assert everything > people
    expect(auditor.locator("tr.ev-engine td:nth-child(6)", has_text="分流至何处？").first).to_be_visible()
    shots(auditor, "trace-everything")

    auditor.click("a:has-text('打印 / PDF')")
    expect(auditor.locator(".trace-scope")).to_contain_text("全部记录")
    assert auditor.locator("table.trace > tbody > tr").count() == everything
    auditor.emulate_media(media="print")
    expect(auditor.locator(".print-sheet details")).to_have_count(0)
    expect(auditor.locator(".print-sheet")).to_contain_text("房屋宅基地")
    expect(auditor.locator(".print-sheet")).not_to_contain_text("UTC")
    shots(auditor, "trace-print-everything")
    auditor.emulate_media(media="screen")
    auditor.click("nav.trace-views a:has-text('只看人员操作')")
    expect(auditor.locator(".trace-scope")).to_contain_text("只列人员操作")
    assert auditor.locator("table.trace > tbody > tr").count() == people
    auditor.emulate_media(media="print")
    shots(auditor, "trace-print-people")
    assert not auditor.js_errors and not auditor.failed_assets
