"""The supervisor's weekly report in the browser: last week's figures beside the week before's,
the trend chart drawn, the overdue and red-risk lists; printed to PDF on A4 in a few pages."""
import io
import re
import unicodedata
from datetime import datetime, timedelta, timezone

import pypdf
import pypdfium2
import pytest
import sqlalchemy as sa
import time_machine
from playwright.sync_api import expect

from engine.access.policy import Actor
from engine.cases import services
from engine.persistence.models import Task, User
from engine.reading import period_report

from .conftest import MATTER, SHOTS_DIR, _taken
from .pages import assert_clean, login

pytestmark = pytest.mark.usefixtures("no_cases_left")

CATEGORIES = ["neighbour", "traffic", "marriage_family", "neighbour", "labour", "neighbour", "property_mgmt"]


def _matter(n, category, week):
    """The walkthrough's matter between other people each time (the same parties again and again
    would be repeat visits, which the risk table counts), having happened before the weeks filed in."""
    return dict(MATTER, category=category, occurred_on=(week.previous().start - timedelta(days=10)).isoformat(), **{
        "parties-0-name": f"甲{n}", "parties-0-id_number": f"1101011990030{n:04d}1", "parties-0-phone": f"1380000{n:04d}",
        "parties-1-name": f"乙{n}", "parties-1-id_number": f"1101011985121{n:04d}2", "parties-1-phone": f"1390000{n:04d}"})


def _file_last_week(session_factory):
    """Seven matters on last week's days (one of them red), two the week before, and two steps
    whose deadlines passed during last week."""
    week = period_report.last_complete("week")
    session = session_factory()
    try:
        clerk = Actor.of(session.scalar(sa.select(User).where(User.username == "clerk")))
        filed = []
        for day, category in enumerate(CATEGORIES):
            moment = datetime.combine(week.start + timedelta(days=day), datetime.min.time(),
                                      timezone(timedelta(hours=8))) + timedelta(hours=10)
            with time_machine.travel(moment, tick=False):
                post = _matter(day, category, week)
                if day == 2:  # 80 people: red, as the risk table assesses it
                    post.update(people_count="80", risk_level="red")
                filed.append(services.start_case(session, clerk, "intake", post, new_despite_repeats=True).id)
        for day in (1, 3):
            moment = datetime.combine(week.previous().start + timedelta(days=day), datetime.min.time(),
                                      timezone(timedelta(hours=8))) + timedelta(hours=9)
            with time_machine.travel(moment, tick=False):
                services.start_case(session, clerk, "intake", _matter(10 + day, "neighbour", week), new_despite_repeats=True)
        due = datetime.combine(week.end, datetime.min.time(), timezone(timedelta(hours=8))).astimezone(timezone.utc)
        session.execute(sa.update(Task).where(Task.case_id.in_(filed[:2]), Task.state == "ready", Task.due_at.is_not(None))
                        .values(due_at=due, amber_at=due - timedelta(days=2)))
        session.commit()
        return week
    finally:
        session.close()


def test_the_supervisor_reads_last_weeks_report_and_prints_it(new_page, live_server, shots, session_factory):
    week = _file_last_week(session_factory)
    supervisor = new_page()
    login(supervisor, "supervisor")
    supervisor.click(".mainnav a:has-text('报表')")
    expect(supervisor).to_have_url(f"{live_server}/reports/")
    expect(supervisor.locator(".report-top h1")).to_have_text("清河县 · 周报")
    expect(supervisor.locator(".report-period-line")).to_contain_text(f"{week.start} – {week.end}")
    expect(supervisor.locator(".report-period-line")).to_contain_text(week.code)
    expect(supervisor.locator("#fig-filed td")).to_have_text(["受理事项", "7", "2", "+5"])
    expect(supervisor.locator("#fig-overdue_steps td").nth(1)).to_have_text("2")
    expect(supervisor.locator("#trend-chart[data-ready='1']")).to_be_attached()
    expect(supervisor.locator("section", has_text="受理事项按类别").locator("tbody tr").first).to_contain_text("邻里")
    overdue = supervisor.locator("#overdue tbody tr")
    expect(overdue).to_have_count(2)
    expect(overdue.first).to_contain_text("人民调解")
    expect(supervisor.locator("#red-risk tbody tr")).to_have_count(1)
    expect(supervisor.locator("#red-risk h2 .count")).to_have_text("1")
    for secret in ("甲1", "乙1", "13800000001"):
        expect(supervisor.locator("main")).not_to_contain_text(secret)
    shots(supervisor, "report-week")

    # The week before, one click away; the download is the same report as CSV.
    supervisor.click(".report-steps a:has-text('上一期')")
    expect(supervisor.locator("#fig-filed td").nth(1)).to_have_text("2")
    expect(supervisor.locator("#period")).to_have_value(week.previous().code)
    supervisor.go_back()
    with supervisor.expect_download() as download:
        supervisor.click(".report-tools a:has-text('导出 CSV 表格')")
    assert download.value.suggested_filename == f"report-C01-Q-{week.code}.csv"

    # Printed (what "save as PDF" gives): A4, the chart included, a few pages.
    supervisor.emulate_media(media="print")
    shots(supervisor, "report-week-print")
    pdf = supervisor.pdf(prefer_css_page_size=True, print_background=True)
    (SHOTS_DIR / "report-week.pdf").write_bytes(pdf)
    pages = [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages]
    assert 1 <= len(pages) <= 4, len(pages)
    for number, text in enumerate(pages, 1):
        # Each sheet is headed with the unit, the kind and the period, and numbered.
        assert f"{week.start}" in text and "周报" in text and f"{number} / {len(pages)}" in text, text[:200]
    # The PDF names some characters by their radicals (⾊ for 色): compared in NFKC, words without those.
    flat = unicodedata.normalize("NFKC", "".join(pages).replace("\n", ""))
    assert "期末超期环节" in flat and "挂牌督办" in flat and "期后办理" in flat, flat[:300]
    assert re.search(rb"/Subtype\s*/Image", pdf), "the chart prints (the canvas as an image)"
    document = pypdfium2.PdfDocument(pdf)
    for number in range(len(document)):
        width, height = document[number].get_size()
        assert (round(width), round(height)) == (595, 842), "A4 portrait"
        image = document[number].render(scale=1.5).to_pil().convert("L")
        path = SHOTS_DIR / f"{len(_taken) + 1:02d}-report-week-page-{number + 1}.png"
        image.save(path)
        _taken.append(path)
    supervisor.emulate_media(media="screen")

    # A month and a day are one click away too; a period that names nothing is a clear refusal.
    supervisor.click(".report-kinds a:has-text('月报')")
    expect(supervisor.locator(".report-top h1")).to_have_text("清河县 · 月报")
    expect(supervisor.locator("#trend-chart[data-ready='1'], .report-trend .empty")).to_have_count(1)
    supervisor.goto("/reports/?kind=week&period=2026-53")
    expect(supervisor.locator("main")).to_contain_text("请按 2026-W48 的格式填写")
    assert_clean(supervisor)
