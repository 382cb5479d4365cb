"""The county center's director runs the weekly analysis (周研判): schedules it, draws the agenda
from the cases that need it, records who came, the discussion and the minutes, decides per case
(a step given to a named mediator with a deadline, a case listed for supervision), and prints the
minutes."""
import re
from datetime import datetime, timedelta

import sqlalchemy as sa
from playwright.sync_api import expect

from engine.access.policy import Actor
from engine.cases import services, supervision
from engine.legaltime.clock import CHINA
from engine.persistence.models import Case, Task, User

from .conftest import MATTER
from .pages import assert_clean, choose, login


def _cases(factory):
    """A red-risk matter and one the supervisor listed, both waiting for mediation."""
    session = factory()
    try:
        clerk = Actor.of(session.scalar(sa.select(User).where(User.username == "clerk")))
        boss = Actor.of(session.scalar(sa.select(User).where(User.username == "supervisor")))
        red = services.start_case(session, clerk, "intake", dict(MATTER, risk_level="red", people_count="60"))
        other = dict(MATTER, **{"parties-0-name": "王五", "parties-0-id_number": "110101198001011234",
                                "parties-0-phone": "13700137000", "parties-1-name": "赵六",
                                "parties-1-id_number": "110101198202021234", "parties-1-phone": "13600136000",
                                "summary": "两家因宅基地边界多次争吵。"})
        listed = services.start_case(session, clerk, "intake", other, new_despite_repeats=True)
        supervision.flag_case(session, boss, listed.id, "当事人多次到县中心反映")
        return red.code, listed.code
    finally:
        session.close()


def test_the_director_runs_the_weekly_analysis(new_page, live_server, shots, story, session_factory):
    red_code, listed_code = _cases(session_factory)
    director = new_page()
    login(director, "supervisor")
    director.locator("nav.mainnav a", has_text="联席会议").click()
    expect(director.locator("h1")).to_contain_text("联席会议")
    director.click("text=安排周研判会")
    expect(director.locator("input[name=title]")).to_have_value(re.compile(r"\d{4}年第\d+周矛盾纠纷研判会"))
    director.fill("input[name=place]", "县社会治理综合服务中心三楼会商室")
    shots(director, "meeting-schedule")
    director.click("form button.primary")

    expect(director.locator(".flash-success")).to_contain_text("会议已安排")
    draw = director.locator("details#draw")
    expect(draw.locator("input[name=case]")).to_have_count(2)
    expect(draw).to_contain_text("红色风险")
    expect(draw).to_contain_text("挂牌督办")
    expect(draw.locator("input[name=case]:checked")).to_have_count(2)
    shots(director, "meeting-draw-agenda")
    draw.locator("button.primary").click()
    expect(director.locator(".flash-success")).to_contain_text("已将 2 件案件列入议程")
    agenda = director.locator("table.agenda tbody tr")
    expect(agenda).to_have_count(2)
    # The listed case needs the meeting for more: it comes first? Both have one reason: by code.
    codes = [agenda.nth(i).locator("a.code").inner_text() for i in range(2)]
    assert set(codes) == {red_code, listed_code}
    # The director moves the red case to the top.
    red_row = director.locator("table.agenda tbody tr", has_text=red_code)
    if codes[0] != red_code:
        red_row.locator("button[title='上移']").click()
        expect(director.locator("table.agenda tbody tr").first).to_contain_text(red_code)

    minutes = director.locator("section#minutes")
    minutes.locator("label.check", has_text="张督办").locator("input").check()
    minutes.locator("label.check", has_text="县人民法院").locator("input").check()
    minutes.locator("textarea[name=attendee_others]").fill("县司法局 李律师")
    minutes.locator("textarea[name^=discussion-]").first.fill("涉及人数众多，须先稳控，再组织调解。")
    minutes.locator("textarea[name=minutes]").fill("会议研究了本周红色风险和挂牌督办案件，明确了责任人和落实期限。")
    minutes.locator("button[name=held][value='1']").click()
    expect(director.locator(".flash-success")).to_contain_text("会议已标记为已召开")
    expect(director.locator("h1 .chip")).to_have_text("已召开")

    # The red case: its mediation step goes to the county's mediator, with the meeting's deadline.
    first = director.locator("#decisions .decision").first
    expect(first).to_contain_text(red_code)
    choose(director, f"#{first.locator('select[name=decision]').get_attribute('id')}", "assign")
    assignee = first.locator("select[name=assignee]")
    option = assignee.locator("option", has_text="李调解").first.get_attribute("value")
    assignee.select_option(option)
    due = (datetime.now(CHINA) + timedelta(days=5)).date().isoformat()
    first.locator("input[name=due]").fill(due)
    first.locator("textarea[name=note]").fill("先稳控，三日内再次组织调解")
    shots(director, "meeting-decide")
    first.locator("button.primary").click()
    expect(director.locator(".flash-success")).to_contain_text(f"对 {red_code} 的会议决定已登记并落实")
    expect(director.locator("#decisions .decision").first.locator(".chip.decided")).to_contain_text("交办")

    # The listed case: the meeting decides it goes on as it is.
    second = director.locator("#decisions .decision").nth(1)
    choose(director, f"#{second.locator('select[name=decision]').get_attribute('id')}", "continue")
    second.locator("textarea[name=note]").fill("已有化解方案，按计划推进")
    second.locator("button.primary").click()
    expect(director.locator("#decisions .decision").nth(1).locator(".chip.decided")).to_contain_text("按现有进度继续办理")
    shots(director, "meeting-held")

    session = session_factory()
    try:
        task = session.scalar(sa.select(Task).join(Case, Case.id == Task.case_id)
                              .where(Case.code == red_code, Task.spec_id == "Task_mediate"))
        assert task.assignee.username == "mediator"
    finally:
        session.close()

    director.click("text=打印会议纪要")
    expect(director.locator("article.minutes-doc h1")).to_contain_text("周矛盾纠纷研判会")
    doc = director.locator("article.minutes-doc")
    for words in ("县社会治理综合服务中心三楼会商室", "张督办（县中心）", "县人民法院", "县司法局 李律师", "红色风险",
                  "涉及人数众多", "先稳控，三日内再次组织调解", "明确了责任人和落实期限"):
        expect(doc).to_contain_text(words)
    director.emulate_media(media="print")
    expect(director.locator(".topbar")).to_be_hidden()
    shots(director, "meeting-minutes-print")
    director.emulate_media(media="screen")
    assert_clean(director)
