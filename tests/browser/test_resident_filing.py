"""A resident files a matter from a phone (375x667): scans the village's code, fills the page, adds
a photo, asks for the code (read here from the outbox, where the log gateway shows it), gets one
field wrong and finds everything kept, corrects it and files. Staff print the village's poster
(one A4 page). Screenshots of each step are in test-artifacts/screenshots/."""
import re
import threading

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from engine.persistence.models import Attachment, OutboxMessage, Submission
from tests import files
from tests.conftest import wipe_cases

from .conftest import TIMEOUT_MS, watched
from .pages import assert_clean, login

PHONE = {"width": 375, "height": 667}
VILLAGE = "C01-Q-CG-DG"
MOBILE = "13812345678"


@pytest.fixture(scope="module")
def public_server(schema, session_factory):
    """The app with its public address set (the posters' codes need one), CSRF on."""
    from waitress.server import create_server

    from webui import create_app
    from webui.extensions import db
    app = create_app({"SQLALCHEMY_DATABASE_URI": schema, "TESTING": True})
    server = create_server(app, host="127.0.0.1", port=0, threads=4, ident="yizhan-test")
    base = f"http://127.0.0.1:{server.effective_port}"
    app.config["PUBLIC_BASE_URL"] = base
    thread = threading.Thread(target=server.run, name="waitress-public", daemon=True)
    thread.start()
    yield base
    server.close()
    thread.join(timeout=5)
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def phone(browser, public_server, session_factory):
    wipe_cases(session_factory)
    context = browser.new_context(base_url=public_server, locale="zh-CN", timezone_id="Asia/Shanghai",
                                  viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
    context.set_default_timeout(TIMEOUT_MS)
    yield watched(context.new_page())
    context.close()


def fits_the_phone(page):
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} is {width}px wide on a {PHONE['width']}px phone"


def code_from_outbox(session_factory, phone=MOBILE):
    session = session_factory()
    try:
        body = session.scalars(sa.select(OutboxMessage.body).where(OutboxMessage.topic == "otp",
                                                                   OutboxMessage.address == phone)
                               .order_by(OutboxMessage.id.desc())).first()
    finally:
        session.close()
    return re.search(r"\d{6}", body).group(0)


def test_a_resident_files_from_a_phone_with_a_photo(phone, shots, session_factory, tmp_path):
    photo = tmp_path / "漏水的天花板.jpg"
    photo.write_bytes(files.image_bytes("JPEG", size=(640, 480), colour=(150, 140, 120)))
    page = phone
    page.goto(f"/r/{VILLAGE}")
    expect(page.locator("h1")).to_have_text("反映矛盾纠纷")
    expect(page.locator(".resident-unit")).to_have_text("东关村")
    fits_the_phone(page)
    shots(page, "resident-phone-empty-form")

    page.get_by_label("邻里之间的矛盾").check()
    page.fill("textarea[name=summary]", "漏水")  # too short: the page must come back with it kept
    page.fill("input[name=place]", "东关村三组12号")
    page.fill("textarea[name=claims]", "请楼上修好水管，赔偿天花板的修理费。")
    page.fill("input[name=name]", "刘大妈")
    page.fill("input[name=other-0-name]", "楼上住户王某")
    page.set_input_files("input[name=files]", str(photo))
    page.fill("input[name=phone]", MOBILE)
    page.get_by_role("button", name="获取验证码").click()
    expect(page.locator(".flash-success")).to_contain_text("验证码已发送至 138****5678")
    expect(page.locator("ul.held")).to_contain_text("漏水的天花板.jpg")
    expect(page.locator("textarea[name=summary]")).to_have_value("漏水")
    fits_the_phone(page)
    shots(page, "resident-phone-code-sent-photo-kept")

    page.fill("input[name=code]", code_from_outbox(session_factory))
    page.get_by_role("button", name="提交", exact=True).last.click()
    summary_field = page.locator(".field").filter(has=page.locator("textarea[name=summary]"))
    expect(summary_field.locator(".error")).to_have_text("至少写 5 个字（现在 2 个）")
    expect(page.locator("input[name=name]")).to_have_value("刘大妈")
    expect(page.locator("input[name=other-0-name]")).to_have_value("楼上住户王某")
    expect(page.locator("ul.held")).to_contain_text("漏水的天花板.jpg")
    expect(page.get_by_label("邻里之间的矛盾")).to_be_checked()
    fits_the_phone(page)
    summary_field.scroll_into_view_if_needed()
    shots(page, "resident-phone-error-kept")

    page.fill("textarea[name=summary]", "从五月起楼上卫生间漏水，把我家厨房天花板泡坏了，找过对方几次没有解决。")
    page.get_by_role("button", name="提交", exact=True).last.click()
    expect(page.locator("h1")).to_have_text("您反映的事项已收到")
    reference = page.locator(".reference").inner_text()
    assert re.fullmatch(r"SQ\d{14}", reference)
    expect(page.locator("main")).to_contain_text("138****5678")
    fits_the_phone(page)
    shots(page, "resident-phone-received")
    assert_clean(page)

    session = session_factory()
    try:
        submission = session.scalar(sa.select(Submission).where(Submission.code == reference))
        assert submission.org_unit.code == VILLAGE and submission.summary.startswith("从五月起")
        stored = session.scalars(sa.select(Attachment).where(Attachment.submission_id == submission.id)).all()
        assert [(row.filename, row.media_type) for row in stored] == [("漏水的天花板.jpg", "image/jpeg")]
    finally:
        session.close()
    page.get_by_role("link", name="查询办理进度").click()
    expect(page.locator("form.follow-form")).to_be_visible()


def test_a_forged_photo_is_refused_on_the_phone(phone, shots, tmp_path):
    forged = tmp_path / "照片.jpg"
    forged.write_bytes(files.HTML)
    page = phone
    page.goto(f"/r/{VILLAGE}")
    page.set_input_files("input[name=files]", str(forged))
    page.get_by_role("button", name="提交", exact=True).last.click()
    expect(page.locator("#err-files")).to_contain_text("“照片.jpg”不是照片")
    fits_the_phone(page)
    page.locator("input[name=files]").scroll_into_view_if_needed()
    shots(page, "resident-phone-forged-photo-refused")


def test_a_clerk_prints_the_villages_poster_on_one_a4_page(browser, public_server, shots):
    context = browser.new_context(base_url=public_server, locale="zh-CN", timezone_id="Asia/Shanghai",
                                  viewport={"width": 1366, "height": 860})
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = watched(context.new_page())
        login(page, "clerk_cg")
        page.get_by_role("link", name="二维码海报").click()
        expect(page.locator("table.list")).to_contain_text("东关村")
        shots(page, "posters-list-township-clerk")
        page.locator("tr", has_text="东关村").get_by_role("link", name="海报").click()
        expect(page.locator(".poster-title")).to_have_text("东关村")
        expect(page.locator(".poster-address")).to_have_text(f"{public_server}/r/{VILLAGE}")
        expect(page.locator(".poster-qr svg")).to_be_visible()
        shots(page, "poster-screen")
        page.emulate_media(media="print")
        shots(page, "poster-print")
        pdf = page.pdf(format="A4", print_background=True)
        assert len(re.findall(rb"/Type\s*/Page(?!s)", pdf)) == 1
        assert_clean(page)
    finally:
        context.close()
