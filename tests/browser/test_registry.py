"""The registry of mediators and experts as a supervisor uses it: the list and its filters, adding a
mediator (a mistake first, shown beside its field with everything typed kept), the yearly grade,
and the person's page with their figures, gradings and history; then a clerk gives a case's
mediation step to a registered mediator from the case page."""
import re

import sqlalchemy as sa
from playwright.sync_api import expect

from engine.access.policy import Actor
from engine.cases import services
from engine.persistence.models import Task, User

from .conftest import MATTER
from .pages import assert_clean, choose, field_of, login


def test_the_supervisor_keeps_the_registry(new_page, shots, story, registry_rows):
    story.file().mediate()  # 李明华 (the demo mediator's login) mediated one matter this year
    page = new_page()
    login(page, "supervisor")
    page.locator("nav.mainnav a", has_text="调解员和专家").click()
    expect(page).to_have_url(re.compile(r"/registry/$"))
    expect(page.locator("#registry tbody tr", has_text="李明华")).to_contain_text("二级人民调解员")
    expect(page.locator("#registry tbody tr", has_text="高卫东")).to_contain_text("法官")
    shots(page, "registry-list")
    choose(page, "select[name=specialty]", "medical")
    page.click("#registry-filters button.primary")
    expect(page.locator("#registry tbody tr")).to_have_count(1)
    expect(page.locator("#registry tbody tr")).to_contain_text("刘建国")

    page.locator("a", has_text="登记调解员").click()
    page.fill("input[name=name]", "钱桂芬")
    page.fill("input[name=committee]", "柳林镇人民调解委员会")
    page.fill("input[name=phone]", "139001")
    page.check("input[name=specialties][value=marriage_family]")
    page.check("input[name=employment][value=part_time]")
    page.click("#registry-form button.primary")
    expect(field_of(page, "phone").locator(".error")).to_contain_text("手机号")
    expect(page.locator("input[name=committee]")).to_have_value("柳林镇人民调解委员会")
    expect(page.locator("input[name=specialties][value=marriage_family]")).to_be_checked()
    shots(page, "registry-add-error")
    page.fill("input[name=phone]", "13900139123")
    page.click("#registry-form button.primary")
    expect(page.locator("h1")).to_contain_text("钱桂芬")
    expect(page.locator(".flash-success")).to_contain_text("已保存钱桂芬")

    page.fill("#grade-form textarea[name=basis]", "年度考核优秀，县人民调解员协会评定")
    choose(page, "#grade-form select[name=grade]", "level3")
    page.click("#grade-form button.primary")
    expect(page.locator("#gradings tbody tr")).to_have_count(1)
    expect(page.locator("#gradings tbody tr")).to_contain_text("三级人民调解员")
    expect(page.locator("#history")).to_contain_text("等级评定")
    expect(page.locator("#history")).to_contain_text("登记入库")
    shots(page, "registry-person-graded")

    page.goto("/registry/")
    page.locator("#registry a", has_text="李明华").click()
    expect(page.locator("#figures .tile").first).to_contain_text("1")
    expect(page.locator("#figures")).to_contain_text("100.0%")
    expect(page.locator("#gradings tbody tr")).to_have_count(1)
    shots(page, "registry-person-figures")
    assert_clean(page)


def test_the_clerk_assigns_a_registered_mediator(new_page, shots, story, registry_rows):
    story.file()
    page = new_page()
    login(page, "clerk")
    page.goto("/cases")
    page.locator("table.list a.code").first.click()
    section = page.locator("#assign-mediator")
    expect(section).to_contain_text("指派调解员")
    first = section.locator("tbody tr").first
    expect(first).to_contain_text("李明华")
    expect(first).to_contain_text("擅长此类纠纷")
    shots(page, "case-assign-mediator")
    first.locator("input[type=radio]").check()
    section.locator("input[name=note]").fill("擅长邻里纠纷")
    section.locator("button", has_text="指派").click()
    expect(page.locator(".flash-success")).to_contain_text("已指派给李明华")
    expect(page.locator("#assign-mediator")).to_have_count(0)
    assert_clean(page)


def test_the_whistle_offers_the_registrys_experts(new_page, shots, story, session_factory):
    session = session_factory()
    try:
        clerk = Actor.of(session.scalar(sa.select(User).where(User.username == "clerk")))
        case = services.start_case(session, clerk, "intake", dict(MATTER, complex="on"))
        whistle = session.scalar(sa.select(Task.id).where(Task.case_id == case.id, Task.spec_id == "Task_whistle"))
    finally:
        session.close()
    page = new_page()
    login(page, "supervisor")
    page.goto(f"/tasks/{whistle}")
    experts = page.locator("select[name='experts-0-expert'] option")
    expect(experts.filter(has_text="林雅琴（律师·清河明正律师事务所）")).to_have_count(1)
    expect(experts.filter(has_text="高卫东（法官·清河县人民法院）")).to_have_count(1)
    shots(page, "whistle-experts")
    assert_clean(page)
