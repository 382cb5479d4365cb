"""Issue 13 §1 and §5 in the browser: the city's administrator adds a kind (教育督导室), the county's
administrator stations it at the county center; a mediator refers a party to legal aid from the
mediation step and the legal aid center takes the party on and records the outcome."""
import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from engine.persistence.models import AccountEvent, DepartmentKind, OrgUnit, Task
from tests.browser.pages import assert_clean, choose, login
from tests.engine.helpers import file_matter

pytestmark = pytest.mark.usefixtures("no_cases_left")
CODE = "school_inspect"


@pytest.fixture
def no_trial_kind(session_factory):
    def forget():
        session = session_factory()
        try:
            session.execute(sa.delete(OrgUnit).where(OrgUnit.department_kind == CODE))
            session.execute(sa.delete(AccountEvent).where(AccountEvent.kind.like("department_%")))
            session.execute(sa.delete(DepartmentKind).where(DepartmentKind.code == CODE))
            session.commit()
        finally:
            session.close()
    forget()
    yield
    forget()


def test_an_administrator_adds_and_stations_a_kind(new_page, shots, no_trial_kind):
    city = new_page()
    login(city, "city_admin")
    city.click(".mainnav a[href='/admin/']")
    city.click("text=部门类别")
    expect(city.locator("h1")).to_have_text("部门类别")
    expect(city.locator("#kinds")).to_contain_text("法律援助中心")
    city.fill("#k-code", CODE)
    city.fill("#k-name", "教育督导室")
    city.fill("#k-name_en", "School inspectorate")
    shots(city, "registry-new-kind")
    city.click("#new-kind button.primary")
    expect(city.locator(".flash-success")).to_contain_text("已新增部门类别教育督导室")
    row = city.locator(f"#kinds tr[data-code={CODE}]")
    expect(row).to_contain_text("尚未入驻")
    shots(city, "registry-kind-added")
    assert_clean(city)

    county = new_page()
    login(county, "admin")
    county.goto("/admin/departments")
    # The county's administrator stations kinds but changes none of them.
    expect(county.locator("#new-kind")).to_have_count(0)
    row = county.locator(f"#kinds tr[data-code={CODE}]")
    choose(county, f"#kinds tr[data-code={CODE}] select[name=center_id]", _county_id(county))
    row.locator("button", has_text="入驻").click()
    expect(county.locator(".flash-success")).to_contain_text("清河县教育督导室已入驻")
    expect(county.locator("h1")).to_contain_text("新建用户")
    expect(county.locator("#f-unit_id option:checked")).to_contain_text("清河县教育督导室")
    shots(county, "registry-station-new-login")
    county.goto("/admin/departments")
    expect(county.locator(f"#kinds tr[data-code={CODE}]")).to_contain_text("清河县教育督导室")
    expect(county.locator("#kind-history")).to_contain_text("入驻中心")
    shots(county, "registry-county-view")
    assert_clean(county)


def _county_id(page):
    return page.locator(f"#kinds tr[data-code={CODE}] select[name=center_id] option", has_text="清河县").first \
        .get_attribute("value")


def test_a_mediator_refers_a_party_and_legal_aid_records_the_outcome(new_page, shots, session_factory):
    session = session_factory()
    try:
        case = file_matter(session)
        task_id = session.scalar(sa.select(Task.id).where(Task.case_id == case.id, Task.spec_id == "Task_mediate"))
        code = case.code
    finally:
        session.close()
    mediator = new_page()
    login(mediator, "mediator")
    mediator.goto(f"/tasks/{task_id}")
    panel = mediator.locator("#referrals")
    expect(panel).to_contain_text("法律援助")
    choose(mediator, "#r-party", "张三")
    mediator.fill("#r-reason", "家庭经济困难，需要法律援助律师代理诉讼。")
    shots(mediator, "referral-panel")
    panel.locator("button", has_text="转介").click()
    expect(mediator.locator(".flash-success")).to_contain_text("已转介至县法律援助中心")
    expect(mediator.locator("#referral-list")).to_contain_text("待接收")
    assert_clean(mediator)

    legal_aid = new_page()
    login(legal_aid, "dept_legal_aid")
    badge = legal_aid.locator(".mainnav a[href='/referrals'] .count")
    expect(badge).to_have_text("1")
    legal_aid.click(".mainnav a[href='/referrals']")
    row = legal_aid.locator("#referrals tr", has_text=code)
    expect(row).to_contain_text("张三")
    shots(legal_aid, "referral-received")
    row.locator("input[name=note]").fill("王律师今日联系当事人")
    row.locator("button", has_text="接收").click()
    expect(legal_aid.locator(".flash-success")).to_contain_text("转介已接收")
    row = legal_aid.locator("#referrals tr", has_text=code)
    row.locator("textarea[name=outcome]").fill("已受理法律援助申请，指派王律师代理诉讼。")
    row.locator("button", has_text="记录办理结果").click()
    expect(legal_aid.locator(".flash-success")).to_contain_text("办理结果已记录")
    expect(badge).to_have_count(0)
    shots(legal_aid, "referral-done")
    assert_clean(legal_aid)

    mediator.goto(f"/cases/{case.id}")
    expect(mediator.locator("#referrals")).to_contain_text("指派王律师代理诉讼")
    shots(mediator, "referral-on-case")
    assert_clean(mediator)
