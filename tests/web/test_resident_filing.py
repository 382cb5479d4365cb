"""Residents file a matter through a unit's QR code address: no login, CSRF on, a one-time code to
the phone, photos judged by content and kept while the form comes back, everything typed kept
beside the errors, throttles answered 429, and nothing a hostile client sends ends in a 500."""
import io
import re

import pytest
import sqlalchemy as sa

from engine.cases import attachments, phone_codes
from engine.persistence.models import Attachment, OutboxMessage, PhoneCode, Submission
from tests import files
from tests.web.support import count, reading
from webui import resident

VILLAGE = "C01-Q-CG-DG"
PHONE = "13912345678"
TYPED = {"choice": "neighbour", "summary": "楼上装修漏水，把我家厨房天花板泡坏了。", "place": "东关村三组12号",
         "claims": "请对方修好天花板并赔偿损失。", "name": "刘大妈", "phone": PHONE,
         "other-0-name": "楼上住户王某", "other-0-phone": "13700001111"}


def post(client, data=None, uploads=(), unit=VILLAGE, **extra):
    form = dict(TYPED if data is None else data)
    form.update(extra)
    form = {key: value for key, value in form.items() if value is not None}
    if uploads:
        form["files"] = [(io.BytesIO(content), name) for name, content in uploads]
    return client.post(f"/r/{unit}", data=form, content_type="multipart/form-data")


def body(response):
    return response.get_data(as_text=True)


def code_sent_to(session_factory, phone=PHONE):
    with reading(session_factory) as session:
        text = session.scalars(sa.select(OutboxMessage.body).where(OutboxMessage.topic == "otp",
                                                                   OutboxMessage.address == phone)
                               .order_by(OutboxMessage.id.desc())).first()
    return re.search(r"\d{6}", text).group(0)


def kept_token(page):
    return re.search(r'name="kept" value="([^"]*)"', page).group(1)


def test_the_page_opens_for_centers_townships_and_villages_only(client):
    page = client.get(f"/r/{VILLAGE}")
    assert page.status_code == 200
    text = body(page)
    assert "东关村" in text and "邻里之间的矛盾" in text and "获取验证码" in text and 'name="csrf_token"' in text
    assert client.get("/r/C01-Q").status_code == client.get("/r/C01-Q-CG").status_code == 200
    for unknown in ("C01-Q-D-court", "NOPE", "..%2F..%2Fetc", "C01-Q-CG-DG%00"):
        assert client.get(f"/r/{unknown}").status_code in (404, 400)


def test_a_resident_files_with_a_photo_and_a_code(client, session_factory):
    sent = post(client, uploads=[("漏水.jpg", files.jpeg())], action="send_code")
    assert sent.status_code == 200
    page = body(sent)
    assert "验证码已发送至 139****5678" in page
    # Everything typed and the photo are still there; the code went through the outbox.
    for value in TYPED.values():
        assert value in page
    assert "漏水.jpg" in page and "已保存，无需重新选择" in page
    code = code_sent_to(session_factory)
    filed = post(client, kept=kept_token(page), code=code, action="file")
    assert filed.status_code == 302 and filed.headers["Location"].endswith("/report/received")
    received = body(client.get("/report/received"))
    with reading(session_factory) as session:
        submission = session.scalar(sa.select(Submission))
        assert submission.code in received and "139****5678" in received and "/follow" in received
        assert submission.org_unit.code == VILLAGE and submission.kind == "dispute" and submission.category == "neighbour"
        assert submission.parties == [{"role": "applicant", "name": "刘大妈", "phone": PHONE},
                                      {"role": "respondent", "name": "楼上住户王某", "phone": "13700001111"}]
        rows = session.scalars(sa.select(Attachment).where(Attachment.submission_id == submission.id)).all()
        assert [(row.filename, row.media_type) for row in rows] == [("漏水.jpg", "image/jpeg")]
    # A second post of the same page (the back button) files nothing more: the code is spent.
    again = post(client, kept=kept_token(page), code=code, action="file")
    assert again.status_code == 422 and count(session_factory, Submission) == 1


def test_wrong_fields_come_back_with_everything_typed_and_the_files_kept(client, session_factory):
    typed = dict(TYPED, summary="漏水", place="", choice="")
    response = post(client, typed, uploads=[("合同.png", files.pdf()), ("a.jpg", files.png())], code="123456",
                    action="file")
    assert response.status_code == 422
    page = body(response)
    assert "至少写 5 个字（现在 2 个）" in page and "请从列表中选择" in page and "必填" in page
    assert ">漏水</textarea>" in page and 'value="刘大妈"' in page and 'value="楼上住户王某"' in page
    # The PDF named .png is kept as the PDF it is; both files stay with the form.
    assert "合同.pdf" in page and "a.png" in page
    assert count(session_factory, Attachment) == 2 and count(session_factory, Submission) == 0
    # Removing one and correcting the rest files it with the other.
    with reading(session_factory) as session:
        pdf_id = session.scalar(sa.select(Attachment.id).where(Attachment.media_type == "application/pdf"))
    post(client, action="send_code")
    filed = post(client, kept=kept_token(page), drop=str(pdf_id), code=code_sent_to(session_factory), action="file")
    assert filed.status_code == 302
    with reading(session_factory) as session:
        kept = session.scalars(sa.select(Attachment.filename).where(Attachment.submission_id.is_not(None))).all()
    assert kept == ["a.png"]


def test_a_wrong_code_is_said_beside_the_code_and_counts_a_try(client, session_factory):
    post(client, action="send_code")
    code = code_sent_to(session_factory)
    wrong = f"{(int(code) + 1) % 10 ** 6:06d}"
    response = post(client, code=wrong, action="file")
    assert response.status_code == 422 and "验证码不正确，还可以再试 4 次" in body(response)
    with reading(session_factory) as session:
        assert session.scalar(sa.select(PhoneCode.attempts)) == 1
    assert post(client, code=code, action="file").status_code == 302


@pytest.mark.parametrize("name, content, said", [
    ("photo.jpg", files.HTML, "网页或脚本"), ("photo.jpg", files.EXE, "程序"), ("scan.png", files.ZIP, "压缩包"),
    ("photo.jpg", files.jpeg_head_then_html(), "已损坏"), ("x.svg", files.SVG, "网页或脚本"),
])
def test_uploads_that_are_not_what_they_claim_are_refused_and_nothing_is_filed(client, session_factory, name, content, said):
    post(client, action="send_code")
    response = post(client, uploads=[(name, content)], code=code_sent_to(session_factory), action="file")
    assert response.status_code == 422
    page = body(response)
    assert f"“{name}”不是照片" in page or f"“{name}”已损坏" in page
    assert said in page
    assert count(session_factory, Attachment) == 0 and count(session_factory, Submission) == 0
    # The code was not spent: the resident removes the file and submits.
    assert post(client, code=code_sent_to(session_factory), action="file").status_code == 302


def test_size_and_count_limits(app, client, session_factory, monkeypatch):
    monkeypatch.setitem(app.config, "UPLOAD_MAX_BYTES", 2000)
    monkeypatch.setitem(app.config, "UPLOAD_MAX_FILES", 2)
    big = files.jpeg() + b"\x00" * 3000
    response = post(client, uploads=[("big.jpg", big), ("a.png", files.png()), ("b.png", files.png()),
                                     ("c.png", files.png())], action="file")
    page = body(response)
    assert response.status_code == 422
    assert "“big.jpg”超过" in page and "最多 2 个文件，“c.png”未保存" in page
    assert count(session_factory, Attachment) == 2
    # The whole request is bounded too: past it, a 413 page in Chinese, never a 500.
    huge = post(client, uploads=[("huge.jpg", b"\xff\xd8\xff" + b"\x00" * 1_100_000)], action="file")
    assert huge.status_code == 413 and "MB" in body(huge)


def test_sending_codes_is_throttled_per_phone_and_per_address(client, session_factory):
    assert post(client, action="send_code").status_code == 200
    again = post(client, action="send_code")
    assert again.status_code == 429 and 50 <= int(again.headers["Retry-After"]) <= 61
    assert "秒后可再次获取" in body(again) and TYPED["summary"] in body(again)
    for n in range(19):
        assert post(client, dict(TYPED, phone=f"1390000{n:04d}"), action="send_code").status_code == 200
    crowded = post(client, dict(TYPED, phone="13800000099"), action="send_code")
    assert crowded.status_code == 429 and "此网络获取验证码次数过多" in body(crowded)
    assert count(session_factory, PhoneCode) == 20


def test_the_page_itself_is_throttled_per_address(client):
    for _ in range(resident.PAGE_POSTS.attempts):
        assert post(client, {"choice": "neighbour"}, action="file").status_code == 422
    refused = post(client, action="file")
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "600"
    assert TYPED["summary"] in body(refused)


def test_csrf_is_checked_and_an_expired_page_keeps_what_was_typed(schema, session_factory):
    from webui import create_app
    app = create_app({"SQLALCHEMY_DATABASE_URI": schema, "TESTING": True, "WTF_CSRF_ENABLED": True})
    client = app.test_client()
    refused = post(client, action="send_code")
    assert refused.status_code == 400 and "页面已过期" in body(refused) and TYPED["summary"] in body(refused)
    assert count(session_factory, PhoneCode) == 0
    token = re.search(r'name="csrf_token" value="([^"]+)"', body(client.get(f"/r/{VILLAGE}"))).group(1)
    assert post(client, action="send_code", csrf_token=token).status_code == 200


@pytest.mark.parametrize("data", [
    {},  # nothing at all
    {"choice": ["neighbour", "lawsuit"], "summary": ["a", "b"]},
    {"choice": "x" * 100000, "summary": "字" * 100000, "name": "\u202e" * 300, "phone": "１３９１２３４５６７８"},
    {"choice": "neighbour", "phone": "13912345678' OR 1=1 --", "code": "<script>", "kept": "garbage.token.here"},
    {"other-0-phone": "+86()-" * 50, "other-5-name": "extra", "drop": ["1", "x", "-5", "99999999999"]},
    {"kept": "eyJpZHMiOlsxLDIsM119" + "A" * 3000},
])
def test_hostile_posts_never_fail_the_server(client, data):
    for action in ("file", "send_code", None):
        response = post(client, data, action=action)
        assert response.status_code in (200, 400, 413, 422, 429), response.status_code
        assert "Traceback" not in body(response)


def test_path_tricks_and_odd_names_in_files(client, session_factory):
    response = post(client, uploads=[("../../../../etc/passwd.jpg", files.jpeg()), ("C:\\boot\\win.ini.png", files.png()),
                                     ("", files.png()), ("照片\u202egnp.exe", files.jpeg())], action="file")
    assert response.status_code == 422
    with reading(session_factory) as session:
        names = sorted(session.scalars(sa.select(Attachment.filename)).all())
    # Whatever folders the name carried (a browser sends none; the test client drops backslashes).
    assert len(names) == 3 and "passwd.jpg" in names and "照片gnp.jpg" in names
    assert not any("/" in name or "\\" in name or name.startswith(".") for name in names)
    # A NUL in a file name is refused before any view (the guard), with a message.
    nul = post(client, uploads=[("a\x00.jpg", files.jpeg())], action="file")
    assert nul.status_code == 400


def test_a_pending_file_token_is_bound_to_the_browser_session(client, app, session_factory):
    page = body(post(client, uploads=[("a.jpg", files.jpeg())], action="file"))
    token = kept_token(page)
    other = app.test_client()
    stolen = post(other, kept=token, action="file")
    assert "a.jpg" not in body(stolen)


def test_the_received_page_without_a_filing_goes_to_follow(client):
    assert client.get("/report/received").headers["Location"].endswith("/follow")


# ---- posters -------------------------------------------------------------------------------------

def test_posters_are_for_clerks_and_admins_of_the_unit_and_above(client, login_as, app, monkeypatch):
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", "https://yizhan.example.gov.cn")
    assert client.get("/posters").status_code == 302  # to the log-in
    login_as("clerk_dg")
    listing = body(client.get("/posters"))
    assert "东关村" in listing and "柳林村" not in listing and "城关镇" not in listing
    assert client.get("/posters/C01-Q-LL-LL").status_code == 404
    login_as("clerk")
    listing = body(client.get("/posters"))
    for name in ("清河县", "城关镇", "东关村", "西关社区", "柳林镇", "柳林村", "王庄村"):
        assert name in listing
    assert "县人民法院" not in listing and "https://yizhan.example.gov.cn/r/C01-Q-CG" in listing
    login_as("admin")
    # A forged Host header: the login's cookie handed to that host too, so only the Host differs.
    client.set_cookie("session", client.get_cookie("session").value, domain="evil.example.com")
    poster = client.get("/posters/C01-Q-CG-DG", base_url="http://evil.example.com")
    page = body(poster)
    assert poster.status_code == 200 and "<svg" in page and "https://yizhan.example.gov.cn/r/C01-Q-CG-DG" in page
    assert "evil.example.com" not in page and "扫码反映矛盾纠纷" in page
    everything = body(client.get("/posters/all"))
    assert everything.count('class="poster"') == 7
    login_as("mediator")
    assert client.get("/posters").status_code == 403


def test_without_a_public_address_the_poster_says_so_instead_of_a_useless_code(client, login_as):
    login_as("clerk")
    assert "PUBLIC_BASE_URL" in body(client.get("/posters"))
    page = body(client.get("/posters/C01-Q"))
    assert "<svg" not in page and "PUBLIC_BASE_URL" in page


def test_refusals_are_counted_by_kind(client, session_factory):
    before = dict(attachments.REFUSED)
    post(client, uploads=[("a.jpg", files.HTML), ("b.jpg", files.EXE)], action="file")
    assert attachments.REFUSED["web_page"] == before.get("web_page", 0) + 1
    assert attachments.REFUSED["program"] == before.get("program", 0) + 1
    throttled = phone_codes.THROTTLED["phone_gap"]
    post(client, action="send_code")
    post(client, action="send_code")
    assert phone_codes.THROTTLED["phone_gap"] == throttled + 1


def test_a_text_over_its_limit_comes_back_whole_with_its_count(client):
    long = "漏" * 4050
    page = body(post(client, dict(TYPED, summary=long), action="file"))
    assert f">{long}</textarea>" in page and "最多 4000 个字（现在 4050 个）" in page


def test_files_per_address_are_bounded(client, session_factory, app, monkeypatch):
    monkeypatch.setitem(app.config, "UPLOAD_MAX_FILES", 40)
    for _ in range(5):
        post(client, uploads=[(f"{n}.png", files.png()) for n in range(6)], action="file")
    refused = body(post(client, uploads=[("late.png", files.png()), ("later.png", files.png())], action="file"))
    assert "此网络一小时内上传的文件过多，2 个未保存" in refused
    assert count(session_factory, Attachment) == 30
