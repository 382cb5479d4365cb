"""The periodic report on the web: who may read it (supervisors and auditors), for which units
(their own and below), its download, and refusals of what names no period, each a clear 4xx."""
import csv
import io
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
import time_machine
from werkzeug.security import generate_password_hash

from engine.access import accounts
from engine.demo import DEMO_PASSWORD
from engine.persistence.models import OrgUnit, Task, User
from tests.engine.helpers import MEDIATION_SUCCESS
from tests.engine.test_resolver_figures import people  # noqa: F401  (registered mediators, removed after)
from tests.web.support import complete_steps, page, text

CHINA = timezone(timedelta(hours=8))
TOWNSHIP_SUPERVISOR = "supervisor_cg_report"


@pytest.fixture(scope="module")
def township_supervisor(session_factory):
    """A supervisor of 城关镇 (the demo has one only at the county)."""
    session = session_factory()
    try:
        if session.scalar(sa.select(User.id).where(User.username == TOWNSHIP_SUPERVISOR)) is None:
            town = session.scalar(sa.select(OrgUnit).where(OrgUnit.name == "城关镇"))
            accounts.create_user(session, TOWNSHIP_SUPERVISOR,
                                 generate_password_hash(DEMO_PASSWORD, method="pbkdf2:sha256:1000"),
                                 "城关镇督办", town.id, ["supervisor"])
            session.commit()
    finally:
        session.close()
    return TOWNSHIP_SUPERVISOR


def _logged_in(app, username):
    """A client logged in at the travelled-to time (a cookie from today's log-in has expired
    there, or is not yet valid)."""
    fresh = app.test_client()
    assert fresh.post("/login", data={"username": username, "password": DEMO_PASSWORD}).status_code == 302
    return fresh


def _rows(response):
    assert response.status_code == 200 and response.mimetype == "text/csv"
    body = response.get_data(as_text=True)
    assert body.startswith("\ufeff"), "Excel reads UTF-8 Chinese only with the byte-order mark"
    return list(csv.reader(io.StringIO(body.lstrip("\ufeff"))))


@pytest.mark.parametrize("role", ["clerk", "mediator", "admin", "designer", "dept_court", "grid_dg"])
def test_only_supervisors_and_auditors_read_reports(client, login_as, role):
    login_as(role)
    assert client.get("/reports/").status_code == 403
    assert client.get("/reports/report.csv").status_code == 403
    assert "/reports/" not in text(client.get("/"))


def test_a_supervisor_and_an_auditor_read_last_weeks_report(client, login_as, make_client):
    assert client.get("/reports/").status_code == 302, "log in first"
    for role in ("supervisor", "auditor"):
        reader = make_client(role)
        shown = reader.get("/reports/")
        assert shown.status_code == 200
        assert page(shown).xpath('//nav[@class="mainnav"]//a[@href="/reports/"]')
        assert "周报" in text(shown) and "清单为期末" in text(shown)


def test_the_report_counts_what_was_filed_and_lists_what_was_overdue(client, login_as, filed_case, session_factory):
    with time_machine.travel(datetime(2026, 11, 17, 10, tzinfo=CHINA), tick=False):
        late, _t, _v = filed_case("clerk")
        filed_case("clerk_dg", category="traffic")
    with time_machine.travel(datetime(2026, 11, 10, 10, tzinfo=CHINA), tick=False):
        filed_case("clerk")
    session = session_factory()
    session.execute(sa.update(Task).where(Task.case_id == late, Task.state == "ready", Task.due_at.is_not(None))
                    .values(due_at=datetime(2026, 11, 20, 12, tzinfo=CHINA).astimezone(timezone.utc)))
    session.commit()
    session.close()
    with time_machine.travel(datetime(2026, 11, 25, 9, tzinfo=CHINA), tick=False):
        supervisor = _logged_in(client.application, "supervisor")
        shown = supervisor.get("/reports/?kind=week&period=2026-W47")
        rows = _rows(supervisor.get("/reports/report.csv?kind=week&period=2026-W47"))
        auditor_view = _logged_in(client.application, "auditor").get("/reports/?kind=week&period=2026-W47")
    assert shown.status_code == 200
    filed = [td.text_content().strip() for td in page(shown).xpath('//tr[@id="fig-filed"]/td')]
    assert filed == ["受理事项", "2", "1", "+1"]
    overdue = page(shown).xpath('//section[@id="overdue"]//tbody/tr')
    assert len(overdue) == 1 and "人民调解" in overdue[0].text_content()
    assert overdue[0].xpath(".//a/@href") == [f"/cases/{late}"]
    assert page(auditor_view).xpath('//section[@id="overdue"]//tbody/tr//a/@href') == [f"/audit/cases/{late}"]

    assert rows[0] == ["清河县", "周报", "2026-W47", "2026-11-16", "2026-11-22"]
    assert rows[1] == ["清单截至", "2026-11-22 24:00"]
    figures = {row[0]: row[1:] for row in rows[3:13]}
    assert figures["受理事项"] == ["2", "1", "1"]
    assert figures["期末超期环节"] == ["1", "0", "1"]
    listed = rows.index(["期末超期环节", "1"])
    assert rows[listed + 1][:3] == ["事项编号", "类别", "环节"]
    assert rows[listed + 2][1:3] == ["邻里", "人民调解"] and rows[listed + 2][6] == "2.5", "from Friday noon to Monday"
    by_category = rows.index(["类别", "本期", "上期"])
    assert rows[by_category + 1:by_category + 3] == [["邻里", "1", "1"], ["道路交通事故", "1", "0"]]


def test_a_township_supervisor_reports_on_the_township_and_below_only(client, login_as, township_supervisor,
                                                                       session_factory):
    session = session_factory()
    county, town, village = (session.scalar(sa.select(OrgUnit.id).where(OrgUnit.name == name))
                             for name in ("清河县", "城关镇", "东关村"))
    session.close()
    login_as(township_supervisor)
    own = client.get("/reports/")
    assert own.status_code == 200 and "城关镇 · 周报" in text(own)
    choices = page(own).xpath('//select[@name="unit"]/option/text()')
    assert [c.strip() for c in choices][:2] == ["城关镇", "东关村"] and "清河县" not in "".join(choices)
    assert client.get(f"/reports/?unit={village}&kind=month").status_code == 200
    assert client.get(f"/reports/?unit={county}").status_code == 404
    assert client.get(f"/reports/report.csv?unit={county}").status_code == 404
    assert client.get(f"/reports/report.csv?unit={town}").status_code == 200


@pytest.mark.parametrize("query, status, says", [
    ("kind=year", 400, "报表只有日报、周报、月报"),
    ("kind=week&period=2026-48", 400, "请按 2026-W48 的格式填写"),
    ("kind=week&period=2025-W53", 400, "请按 2026-W48 的格式填写"),
    ("kind=month&period=2026-13", 400, "请按 2026-11 的格式填写"),
    ("kind=day&period=2026-02-30", 400, "请按 2026-11-23 的格式填写"),
    ("kind=month&period=2101-01", 400, "2000年至2100年"),
    ("kind=month&period=2999-01", 400, "2000年至2100年"),
    ("kind=day&period=2026-12-25", 400, "尚未开始"),
    ("unit=abc", 400, "不是有效的编号"),
    ("unit=99999999999", 400, ""),
    ("unit=999999", 404, ""),
])
def test_what_names_no_report_is_a_clear_refusal(app, query, status, says):
    with time_machine.travel(datetime(2026, 11, 30, 10, tzinfo=CHINA), tick=False):
        client = _logged_in(app, "supervisor")
        for url in (f"/reports/?{query}", f"/reports/report.csv?{query}"):
            refused = client.get(url)
            assert refused.status_code == status, url
            assert says in text(refused)


def test_the_running_week_says_its_lists_are_as_of_now(app):
    with time_machine.travel(datetime(2026, 11, 25, 9, tzinfo=CHINA), tick=False):
        client = _logged_in(app, "supervisor")
        running = client.get("/reports/?kind=week&period=2026-W48")
        rows = _rows(client.get("/reports/report.csv?kind=week&period=2026-W48"))
    assert "本期尚未结束" in text(running)
    assert not page(running).xpath('//a[contains(., "下一期")]'), "no period after the running one"
    assert rows[1] == ["清单截至", "2026-11-25 09:00"]


def test_the_mediators_figures_are_on_the_page_and_in_the_download(app, filed_case, session_factory, people):
    with time_machine.travel(datetime(2026, 11, 17, 10, tzinfo=CHINA), tick=False) as traveller:
        case_id, _t, _v = filed_case("clerk")
        traveller.move_to(datetime(2026, 11, 19, 10, tzinfo=CHINA))
        complete_steps(session_factory, case_id, ("mediator", "Task_mediate", MEDIATION_SUCCESS))
        traveller.move_to(datetime(2026, 11, 25, 10, tzinfo=CHINA))
        client = _logged_in(app, "supervisor")
        shown = client.get("/reports/?kind=week&period=2026-W47")
        rows = _rows(client.get("/reports/report.csv?kind=week&period=2026-W47"))
    cells = [td.text_content().strip() for td in page(shown).xpath('//section[@id="mediators"]//tbody/tr[1]/td')]
    assert cells[:5] == ["测试甲", "清河县", "1", "1", "100.0%"]
    assert "名在册调解员本期未办理事项" in text(shown)
    listed = rows.index(["调解员", "1"])
    assert rows[listed + 1][:4] == ["调解员", "单位", "等级", "办理事项"]
    assert rows[listed + 2][:6] == ["测试甲", "清河县", "", "1", "1", "100.0%"]


def test_the_printed_page_header_cannot_be_broken_out_of():
    from webui.reports import css_string
    written = str(css_string('村"}</style><script>x</script> · A'))
    assert written.startswith('"') and written.endswith('"')
    inside = written[1:-1]
    assert not set('"}<>/;\n') & set(inside.replace("\\", "")), inside
    assert inside.startswith("村\\000022 \\00007d ") and inside.endswith("\\0000b7  A")
