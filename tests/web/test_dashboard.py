"""The supervisor's dashboard (by unit, stage and handler, drillable, each number a link) and the
indicators page (rates, time per stage, the trend chart's data), each table also as CSV."""
import csv
import io
import json
from datetime import timedelta

import sqlalchemy as sa

from engine.legaltime.clock import Clock
from engine.persistence.models import OrgUnit, Task
from tests.engine.helpers import (CLOSE, MEDIATION_FAILURE, MEDIATION_SUCCESS, VISIT_BAD, VISIT_OK, WINDOW_NO,
                                  prefiling)
from tests.web.support import complete_steps, page, text


def _csv(response):
    assert response.status_code == 200 and response.mimetype == "text/csv"
    body = response.get_data(as_text=True)
    assert body.startswith("\ufeff"), "Excel needs the byte-order mark to read UTF-8"
    return list(csv.reader(io.StringIO(body.lstrip("\ufeff"))))


def test_dashboard_counts_drill_down_and_link_to_the_steps(client, login_as, filed_case, session_factory):
    village_case, _t, _v = filed_case("clerk_dg")
    county_case, _t2, _v2 = filed_case("clerk")
    login_as("supervisor")
    board = client.get("/supervision/dashboard")
    assert board.status_code == 200
    rows = page(board).xpath('//section[.//h2[contains(., "按单位")]]//tbody/tr')
    by_name = {r.xpath("./td[1]")[0].text_content().strip(): [c.text_content().strip() for c in r.xpath("./td")[1:]]
               for r in rows}
    # Steps go to the nearest unit with a mediator: the county's own, and the township's for the
    # village's case (城关镇 has a mediator, 东关村 none).
    assert by_name["本级"] == ["1", "0", "0"]
    assert by_name["城关镇"] == ["1", "0", "0"]
    assert by_name["柳林镇"] == ["0", "0", "0"]
    stage_link = page(board).xpath('//section[.//h2[contains(., "按环节")]]//tbody/tr[1]/td[2]/a/@href')[0]
    assert "stage=Task_mediate" in stage_link
    listed = client.get(stage_link)
    assert text(listed).count("人民调解") >= 2 and "已按看板所选条件筛选" in text(listed)

    # Drill into the township: its own steps only; a township supervisor could not go above it.
    township = page(board).xpath('//section[.//h2[contains(., "按单位")]]//a[text()="城关镇"]/@href')[0]
    assert client.get(township).status_code == 200
    rows = _csv(client.get("/supervision/dashboard.csv?table=stages"))
    assert rows[0] == ["环节", "在办", "超期", "即将到期"] and rows[1][:2] == ["人民调解", "2"]

    # Both steps overdue (their deadlines moved into the past): the red numbers link to them.
    session = session_factory()
    session.execute(sa.update(Task).values(due_at=Clock.now() - timedelta(days=1)))
    session.commit()
    session.close()
    board = client.get("/supervision/dashboard")
    red = page(board).xpath('//section[.//h2[contains(., "按承办人")]]//a[contains(@class, "n-red")]')
    assert red and red[0].text_content() == "2"
    assert "only=red" in red[0].get("href") and "assignee=none" in red[0].get("href")
    assert text(client.get(red[0].get("href"))).count("待认领") >= 2


def test_indicators_rates_stage_times_and_trend(client, login_as, filed_case, session_factory):
    ok, _t, _v = filed_case("clerk_dg")
    complete_steps(session_factory, ok, *[("mediator", "Task_mediate", MEDIATION_SUCCESS),
                               ("mediator", "Task_confirm_window", WINDOW_NO),
                               # The village clerk who filed it keeps its clerk's steps.
                               ("clerk_dg", "Task_close", CLOSE), ("clerk_dg", "Task_visit", VISIT_OK)])
    failed, _t, _v = filed_case("clerk")
    complete_steps(session_factory, failed, *[("mediator", "Task_mediate", MEDIATION_FAILURE),
                                   ("dept_court", "Task_prefiling", prefiling("no_suit")),
                                   ("clerk", "Task_close", CLOSE), ("clerk", "Task_visit", VISIT_BAD)])
    filed_case("clerk", kind="petition")
    login_as("supervisor")
    shown = client.get("/supervision/indicators")
    assert shown.status_code == 200
    summary = dict(_csv(client.get("/supervision/indicators.csv?table=summary"))[1:])
    assert summary["受理事项"] == "3" and summary["信访事项"] == "1"
    assert summary["调解成功率"] == "0.5"
    assert summary["村级化解占比"] == "1", "the one closed case was the village's"
    assert summary["三级内化解占比"] == "1"
    assert summary["满意率"] == "0.5", "one satisfied, one not"
    assert "50.0%" in text(shown)
    stages = {row[0]: row for row in _csv(client.get("/supervision/indicators.csv?table=stages"))[1:]}
    assert stages["人民调解"][1] == "2" and stages["人民调解"][4] == "调解期限一个月"
    chart = json.loads(page(shown).get_element_by_id("trend-data").text_content())
    assert sum(sum(s["counts"]) for s in chart["series"]) == 3
    assert {s["name"] for s in chart["series"]} == {"邻里"}
    by_place = client.get("/supervision/indicators?by=place&bucket=month")
    places = json.loads(page(by_place).get_element_by_id("trend-data").text_content())
    assert {s["name"] for s in places["series"]} == {"城关镇", "清河县"}
    trend = _csv(client.get("/supervision/indicators.csv?table=trend&by=place&bucket=month"))
    assert trend[0][0] == "系列" and len(trend) == 3


def test_only_supervisors_of_the_unit(client, login_as, session_factory):
    login_as("clerk")
    assert client.get("/supervision/dashboard").status_code == 403
    assert client.get("/supervision/indicators.csv").status_code == 403
    login_as("supervisor")
    session = session_factory()
    city = session.scalar(sa.select(OrgUnit.id).where(OrgUnit.code == "C01"))
    session.close()
    assert client.get(f"/supervision/dashboard?unit={city}").status_code == 404


def test_a_case_the_sweep_could_not_move_is_shown_to_the_supervisor(client, login_as, filed_case, session_factory):
    from engine.cases import services
    case_id, _task, _version = filed_case()
    session = session_factory()
    try:
        services.mark_case_failed(session, case_id, "timer 7: script of Script_x failed")
        code = session.get(services.Case, case_id).code
    finally:
        session.close()
    login_as("supervisor")
    board = client.get("/supervision/dashboard")
    assert "流程出错的案件" in text(board) and code in text(board) and "Script_x" in text(board)
    rows = _csv(client.get("/supervision/dashboard.csv?table=failed"))
    assert rows[1][0] == code and "Script_x" in rows[1][2]
