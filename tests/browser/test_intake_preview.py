"""The clerk ticks what the resident tells and sees, before submitting, where the matter will
go and why; the page refreshes the preview as the facts change, and filing lands there."""
import pytest
from playwright.sync_api import expect

from tests.browser.pages import choose, login
from tests.conftest import wipe_cases


@pytest.fixture(autouse=True)
def no_cases_left(live_server, session_factory):
    """The live server is shared with the walkthrough, which reads the dashboard's first rows."""
    yield
    wipe_cases(session_factory)

STORY = "公司突然把我辞退了，一分补偿没有。镇里的劳动争议调解委员会调过一次，公司不同意。"


def _fill_the_matter(page):
    choose(page, "#f-kind", "dispute")
    choose(page, "#f-channel", "visit")
    choose(page, "#f-category", "labour")
    page.fill("#f-place", "城关镇服装厂")
    page.fill("#f-summary", STORY)
    page.fill("#f-claims", "支付经济补偿金")
    page.fill("#f-people_count", "1")
    choose(page, "[name=parties-0-role]", "applicant")
    page.fill("[name=parties-0-name]", "刘芳")
    choose(page, "[name=parties-0-id_type]", "resident_id")
    page.fill("[name=parties-0-id_number]", "110101199205061236")
    page.fill("[name=parties-0-phone]", "13700137001")


def test_the_clerk_sees_where_the_matter_goes_before_filing(new_page, shots):
    clerk = new_page()
    login(clerk, "clerk")
    clerk.goto("/matters/new")
    preview = clerk.locator("#route-preview")
    expect(preview).to_contain_text("请先填写")
    _fill_the_matter(clerk)
    # Nothing about an employer yet: a dispute of the labour category goes to the labour committee.
    expect(preview.locator(".preview-route")).to_contain_text("劳动争议调解组织")
    clerk.check("#f-employer_matter")
    expect(preview.locator(".preview-route")).to_contain_text("劳动争议调解组织")
    expect(preview).to_contain_text("请询问并填写劳动者何时知道权益受侵害")
    choose(clerk, "#f-mediation_tried", "failed")
    clerk.fill("#f-mediation_where", "城关镇劳动争议调解委员会")
    clerk.fill("#f-rights_known_on", "2026-10-08")
    expect(preview.locator(".preview-route")).to_contain_text("劳动人事争议仲裁")
    expect(preview).to_contain_text("县劳动人事争议仲裁委员会")
    expect(preview).to_contain_text("劳动争议调解仲裁法（2007）第五条、第二十七条")
    expect(preview).to_contain_text("仲裁时效至 2027-10-08 届满")
    expect(preview.locator(".risk")).to_contain_text("蓝色")
    preview.scroll_into_view_if_needed()
    shots(clerk, "intake-preview-labour")

    clerk.check("#f-extreme_signs")
    expect(preview.locator(".risk")).to_contain_text("红色")
    expect(preview).to_contain_text("有暴力或极端行为苗头")
    expect(preview).to_contain_text("督办人同步跟进")
    shots(clerk, "intake-preview-red")

    clerk.click("form.task-form button.primary")
    expect(clerk.locator(".flash-success")).to_contain_text("已登记")
    expect(clerk.locator(".summary")).to_contain_text("与用人单位的劳动人事争议，调解未成或协议未履行")
    expect(clerk.locator(".summary .risk").first).to_contain_text("红色")
    shots(clerk, "case-after-preview")
    assert not clerk.js_errors and not clerk.failed_assets


def test_the_preview_in_english(new_page, shots):
    clerk = new_page()
    login(clerk, "clerk")
    clerk.goto("/matters/new")
    clerk.click(".topbar button:has-text('English')")
    clerk.goto("/matters/new")
    _fill_the_matter(clerk)
    clerk.check("#f-gov_act")
    choose(clerk, "#f-organ_level", "county_government")
    preview = clerk.locator("#route-preview")
    expect(preview.locator(".preview-route")).to_contain_text("Administrative reconsideration")
    expect(preview).to_contain_text("市人民政府")
    shots(clerk, "intake-preview-english")
    assert not clerk.js_errors
