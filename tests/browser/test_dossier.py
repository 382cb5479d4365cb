"""The parties' joint application for judicial confirmation from two phones (375x667), each with a
one-time code (read here from the outbox, where the log gateway shows it), and the dossier it makes,
downloaded by the court's login and LOOKED AT: its pages drawn to PNG (pypdfium2) beside the other
screenshots in test-artifacts/screenshots/, with their text read back (pypdf) and every page's ink
kept inside the A4 margins."""
import io

import pypdf
import pypdfium2
import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from engine.persistence.models import Attachment, Task

from .conftest import SHOTS_DIR, TIMEOUT_MS, _taken, watched
from .pages import assert_clean, login
from .test_resident_filing import code_from_outbox

PHONE = {"width": 375, "height": 667}
PARTIES = (("张三", "13800138000"), ("李四", "13900139000"))

pytestmark = pytest.mark.usefixtures("no_cases_left")


@pytest.fixture
def phones(browser, live_server):
    contexts = []

    def make():
        context = browser.new_context(base_url=live_server, locale="zh-CN", timezone_id="Asia/Shanghai",
                                      viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return watched(context.new_page())

    yield make
    for context in contexts:
        context.close()


def fits_the_phone(page):
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} is {width}px wide on a {PHONE['width']}px phone"


def confirm_on_the_phone(page, code, phone, session_factory, shots, name):
    page.goto("/follow")
    page.fill("input[name=code]", code)
    page.fill("input[name=phone]", phone)
    page.click("form.follow-form button.primary")
    section = page.locator("#application")
    expect(section).to_contain_text("申请法院确认调解协议")
    expect(section).to_contain_text("李四三日内疏通排水沟并赔偿张三500元")
    expect(section.locator("li", has_text="（您）")).to_contain_text("尚未确认")
    fits_the_phone(page)
    shots(page, f"application-{name}-offered")
    page.click("#send-code")
    expect(page.locator("#application")).to_contain_text("验证码已发送至")
    page.fill("input[name=phone_code]", code_from_outbox(session_factory, phone))
    page.check("input[name=agree]")
    shots(page, f"application-{name}-code-typed")
    page.click(".confirm-form button.primary")


def test_two_parties_apply_from_their_phones_and_the_court_gets_the_dossier(phones, new_page, story, shots,
                                                                           session_factory):
    story.file().mediate()
    first, second = phones(), phones()
    confirm_on_the_phone(first, story.code, PARTIES[0][1], session_factory, shots, "zhang")
    expect(first.locator(".flash-success")).to_contain_text("您的确认已记录")
    expect(first.locator("#application")).to_contain_text("您已确认申请")
    fits_the_phone(first)
    shots(first, "application-zhang-confirmed")

    confirm_on_the_phone(second, story.code, PARTIES[1][1], session_factory, shots, "li")
    expect(second.locator(".flash-success")).to_contain_text("各方当事人均已确认")
    expect(second.locator("#application")).to_have_count(0)  # the step is done: nothing left to confirm
    fits_the_phone(second)
    shots(second, "application-li-completed")
    assert_clean(first, second)

    # The court's department finds the step in its inbox, with the dossier and its hash on it.
    court = new_page()
    login(court, "dept_court")
    session = session_factory()
    try:
        accept = session.scalar(sa.select(Task.id).where(Task.case_id == story.case_id,
                                                         Task.spec_id == "Task_court_accept"))
        dossier = session.scalar(sa.select(Attachment).where(Attachment.case_id == story.case_id,
                                                             Attachment.purpose == "dossier"))
    finally:
        session.close()
    court.goto(f"/tasks/{accept}")
    box = court.locator("#dossier")
    expect(box).to_contain_text(dossier.sha256)
    shots(court, "dossier-on-the-courts-step")
    link = box.locator("a.dossier-link")
    response = court.request.get(link.get_attribute("href"))
    assert response.status == 200 and response.headers["content-type"] == "application/pdf"
    pdf = response.body()
    look_at(pdf, story.code)


def look_at(pdf, code):
    """Draw every page to PNG and check what a reader would: Chinese drawn (ink on the page, the
    text read back), nothing outside the margins, the parts in order."""
    text = "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)
    flat = text.replace("\n", "")
    for part in ("司法确认申请书", "人民调解协议", "当事人身份信息及送达地址", "调解记录", "附件清单"):
        assert part in flat
    assert code in flat and "东关村三组12号" in flat and "凭发送至本人手机的验证码在线确认" in flat
    document = pypdfium2.PdfDocument(pdf)
    assert len(document) >= 5
    for number in range(len(document)):
        page = document[number]
        width, height = page.get_size()
        assert round(width) == 595 and round(height) == 842, "A4"
        image = page.render(scale=1.5).to_pil().convert("L")
        path = SHOTS_DIR / f"{len(_taken) + 1:02d}-dossier-page-{number + 1}.png"
        image.save(path)
        _taken.append(path)
        ink = image.point(lambda value: 255 if value < 200 else 0).getbbox()
        assert ink is not None, f"page {number + 1} is blank"
        left, top, right, bottom = ink
        # Nothing within 6 mm of the paper's edge (the page number sits in the 22 mm bottom margin).
        margin = 6 / 25.4 * 72 * 1.5
        assert left >= margin and right <= image.width - margin, f"page {number + 1}: ink outside the margins {ink}"
        assert top >= margin and bottom <= image.height - margin, f"page {number + 1}: ink outside the margins {ink}"
