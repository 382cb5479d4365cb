"""Residents' and grid workers' submissions: files judged by content, kept by hash outside the web
root, within size and count limits; one-time phone codes that expire, allow five tries and are
throttled per phone and per address; a submission filed only with a live code."""
import json
import re
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
import time_machine

from engine.access.policy import Actor
from engine.cases import attachments, phone_codes, submissions
from engine.cases.attachments import Limits, Upload
from engine.errors import FormInvalid, NotAllowed, NotFound, Throttled, UploadRefused
from engine.persistence import keys
from engine.persistence.models import Attachment, OrgUnit, OutboxMessage, PhoneCode, Submission
from engine.persistence.states import SubmissionState
from tests import files
from tests.conftest import ROOT

from .helpers import actor

START = datetime(2026, 5, 11, 9, 0, tzinfo=timezone.utc)
PHONE = "13800138000"


@pytest.fixture
def limits(tmp_path):
    return Limits(directory=tmp_path / "attachments", max_bytes=64 * 1024, max_files=3)


def unit(session, code="C01-Q-CG-DG"):
    return session.scalar(sa.select(OrgUnit).where(OrgUnit.code == code))


def last_code(session, phone=PHONE):
    body = session.scalars(sa.select(OutboxMessage.body).where(OutboxMessage.topic == "otp", OutboxMessage.address == phone)
                           .order_by(OutboxMessage.id.desc())).first()
    return re.search(r"\d{6}", body).group(0)


FACTS = {"kind": "dispute", "category": "neighbour", "summary": "楼上装修漏水，把我家天花板泡坏了。",
         "place": "东关村三组12号", "claims": "赔偿修理费两千元。"}
PARTIES = [{"role": "applicant", "name": "刘大妈", "phone": PHONE}, {"role": "respondent", "name": "楼上住户", "phone": ""}]


# ---- what a file is ------------------------------------------------------------------------------

@pytest.mark.parametrize("make, media_type", [(files.jpeg, "image/jpeg"), (files.png, "image/png"),
                                              (files.webp, "image/webp"), (files.pdf, "application/pdf")])
def test_real_files_are_known_by_their_content_whatever_their_name(make, media_type, limits):
    found, name = attachments.check(Upload("随便起的名字.txt", make()), limits)
    assert found == media_type
    assert name == "随便起的名字" + attachments.EXTENSIONS[media_type]


def test_a_pdf_named_png_is_kept_as_the_pdf_it_is(limits):
    assert attachments.check(Upload("合同.png", files.pdf()), limits) == ("application/pdf", "合同.pdf")


@pytest.mark.parametrize("data, kind", [
    (files.HTML, "web_page"), (files.SVG, "web_page"), (files.EXE, "program"), (b"#!/bin/sh\nrm -rf /\n", "program"),
    (files.ZIP, "archive"), (b"GIF89a" + b"\x00" * 40, "other"), (b"just some words", "other"),
    (files.jpeg_head_then_html(), "damaged"), (files.jpeg()[:-200], "damaged"), (files.png()[:40], "damaged"),
    (b"%PDF-1.4\n1 0 obj<<>>endobj\n", "damaged"),
    (files.pdf(b"/AA << /O << /S /JavaScript /JS (app.alert(1)) >> >> "), "active_pdf"),
    (b"", "empty"),
])
def test_forgeries_and_broken_files_are_refused_and_counted_by_kind(data, kind, limits):
    before = attachments.REFUSED[kind]
    with pytest.raises(UploadRefused) as refused:
        attachments.check(Upload("photo.jpg", data), limits)
    assert refused.value.kind == kind
    assert attachments.REFUSED[kind] == before + 1
    assert "photo.jpg" in str(refused.value)


def test_an_image_with_absurd_dimensions_is_refused_before_it_is_decoded(limits):
    small = Limits(limits.directory, max_bytes=limits.max_bytes, max_files=3, max_pixels=100)
    with pytest.raises(UploadRefused) as refused:
        attachments.check(Upload("big.png", files.image_bytes("PNG", size=(20, 20))), small)
    assert refused.value.kind == "too_many_pixels"


def test_size_limit(limits):
    too_big = files.image_bytes("PNG", size=(10, 10)) + b"\x00" * limits.max_bytes
    with pytest.raises(UploadRefused) as refused:
        attachments.check(Upload("a.png", too_big), limits)
    assert refused.value.kind == "too_large"
    assert "64" not in str(refused.value) or "MB" in str(refused.value)


@pytest.mark.parametrize("name, shown", [("../../etc/passwd", "passwd.jpg"), ("C:\\Users\\a\\相片.JPG", "相片.jpg"),
                                         ("\u202egpj.exe", "gpj.jpg"), ("..", "attachment.jpg"),
                                         ("a\x00b\r\n.jpg", "ab.jpg")])
def test_names_lose_folders_and_invisible_characters(name, shown, limits):
    assert attachments.check(Upload(name, files.jpeg()), limits)[1] == shown


# ---- keeping files -------------------------------------------------------------------------------

def test_pending_files_are_kept_by_hash_outside_the_web_root_and_refusals_reported(session, limits):
    kept, refused = attachments.keep_pending(session, [Upload("a.jpg", files.jpeg()), Upload("b.jpg", files.HTML),
                                                       Upload("c.jpg", files.jpeg()), Upload("d.pdf", files.pdf()),
                                                       Upload("e.png", files.png())], limits)
    assert [row.filename for row in kept] == ["a.jpg", "c.jpg", "d.pdf"]
    assert [(name, error.kind) for name, error in refused] == [("b.jpg", "web_page"), ("e.png", "too_many")]
    # The same photo twice is one file on disk.
    assert kept[0].sha256 == kept[1].sha256
    path = attachments.path_of(kept[0], limits)
    assert path.read_bytes() == files.jpeg() and path.parent.parent == limits.directory
    assert not str(path).startswith(str(ROOT / "webui"))
    assert attachments.pending(session, [row.id for row in kept]) == kept
    # A grid worker's pending rows are not a resident's, nor the other way round.
    assert attachments.pending(session, [row.id for row in kept], reporter_id=12345) == []


def test_pending_files_nobody_filed_are_forgotten(session, limits):
    with time_machine.travel(START, tick=False) as traveller:
        kept, _ = attachments.keep_pending(session, [Upload("a.png", files.png())], limits)
        traveller.shift(timedelta(hours=2))
        fresh, _ = attachments.keep_pending(session, [Upload("b.pdf", files.pdf())], limits)
        traveller.shift(timedelta(hours=23))
        assert attachments.forget_pending(session, limits) == 1
    assert not attachments.path_of(kept[0], limits).exists()
    assert attachments.path_of(fresh[0], limits).exists()
    assert session.scalar(sa.select(sa.func.count()).select_from(Attachment)) == 1


# ---- one-time codes ------------------------------------------------------------------------------

def test_a_code_is_sent_through_the_outbox_and_only_its_hash_is_kept(session):
    phone_codes.send_code(session, "+86 138-0013-8000", "10.0.0.1")
    message = session.scalar(sa.select(OutboxMessage).where(OutboxMessage.topic == "otp"))
    assert message.address == PHONE and message.channel == "sms"
    code = last_code(session)
    assert "10" in message.body and "验证码" in message.body
    row = session.scalar(sa.select(PhoneCode))
    assert code not in row.code_hash and row.phone_key == keys.phone_key(PHONE)
    assert PHONE not in json.dumps([row.phone_key, row.client_key, row.code_hash])


@pytest.mark.parametrize("phone", ["", "12345", "0371-12345678", "23800138000", "138001380001", None])
def test_codes_go_only_to_mobile_numbers(session, phone):
    with pytest.raises(FormInvalid) as invalid:
        phone_codes.send_code(session, phone, "10.0.0.1")
    assert "phone" in invalid.value.errors
    assert session.scalar(sa.select(sa.func.count()).select_from(PhoneCode)) == 0


def test_a_code_expires_after_ten_minutes(session):
    with time_machine.travel(START, tick=False) as traveller:
        phone_codes.send_code(session, PHONE, "10.0.0.1")
        code = last_code(session)
        traveller.shift(timedelta(minutes=9, seconds=59))
        assert phone_codes.check_code(session, PHONE, code) is None
        traveller.shift(timedelta(seconds=1))
        assert "expired" in str(phone_codes.check_code(session, PHONE, code))


def test_five_wrong_tries_spend_the_code(session):
    with time_machine.travel(START, tick=False):
        phone_codes.send_code(session, PHONE, "10.0.0.1")
        code = last_code(session)
        wrong = f"{(int(code) + 1) % 10 ** 6:06d}"
        said = []
        for _ in range(5):
            said.append(str(phone_codes.check_code(session, PHONE, wrong)))
            session.commit()
        assert said[0] == "The code is wrong; 4 tries left" and said[-1].startswith("Too many wrong codes")
        # The right code no longer helps.
        assert str(phone_codes.check_code(session, PHONE, code)).startswith("Too many wrong codes")
        assert "6-digit" in str(phone_codes.check_code(session, PHONE, "12ab"))


def test_a_new_code_replaces_the_old_one(session):
    with time_machine.travel(START, tick=False) as traveller:
        phone_codes.send_code(session, PHONE, "10.0.0.1")
        first = last_code(session)
        traveller.shift(timedelta(seconds=61))
        phone_codes.send_code(session, PHONE, "10.0.0.1")
        second = last_code(session)
        if first != second:
            assert phone_codes.check_code(session, PHONE, first) is not None
        assert phone_codes.check_code(session, PHONE, second) is None


def test_sending_is_throttled_per_phone(session):
    with time_machine.travel(START, tick=False) as traveller:
        phone_codes.send_code(session, PHONE, "10.0.0.1")
        with pytest.raises(Throttled) as throttled:
            phone_codes.send_code(session, PHONE, "10.0.0.2")  # another address changes nothing
        assert 55 <= throttled.value.retry_after <= 61
        for _ in range(4):
            traveller.shift(timedelta(seconds=61))
            phone_codes.send_code(session, PHONE, "10.0.0.1")
        traveller.shift(timedelta(seconds=61))
        before = phone_codes.THROTTLED["phone_hour"]
        with pytest.raises(Throttled) as throttled:
            phone_codes.send_code(session, PHONE, "10.0.0.1")
        assert phone_codes.THROTTLED["phone_hour"] == before + 1
        # The first send leaves the hour at START + 1 h: that is when a sixth may go.
        assert throttled.value.retry_after == int((START + timedelta(hours=1) - (START + timedelta(seconds=305))).total_seconds()) + 1
        traveller.move_to(START + timedelta(hours=1, seconds=1))
        phone_codes.send_code(session, PHONE, "10.0.0.1")
        # Ten a day at most, however they are spread.
        for hour in range(2, 6):
            traveller.move_to(START + timedelta(hours=hour, seconds=1))
            phone_codes.send_code(session, PHONE, "10.0.0.1")
        assert session.scalar(sa.select(sa.func.count()).select_from(PhoneCode)) == 10
        traveller.move_to(START + timedelta(hours=7))
        with pytest.raises(Throttled):
            phone_codes.send_code(session, PHONE, "10.0.0.1")
        traveller.move_to(START + timedelta(days=1, seconds=1))
        phone_codes.send_code(session, PHONE, "10.0.0.1")


def test_sending_is_throttled_per_address(session):
    with time_machine.travel(START, tick=False) as traveller:
        for n in range(20):
            phone_codes.send_code(session, f"139{n:08d}", "10.9.9.9")
        with pytest.raises(Throttled) as throttled:
            phone_codes.send_code(session, "13700000000", "10.9.9.9")
        assert "network" in str(throttled.value)
        phone_codes.send_code(session, "13700000000", "10.9.9.8")  # another address is not held up
        traveller.shift(timedelta(hours=1, seconds=1))
        phone_codes.send_code(session, "13700000001", "10.9.9.9")


# ---- filing ------------------------------------------------------------------------------------

def test_a_resident_files_with_a_live_code_and_the_code_is_spent(session, limits):
    with time_machine.travel(START, tick=False):
        phone_codes.send_code(session, PHONE, "10.0.0.1")
        code = last_code(session)
        kept, _ = attachments.keep_pending(session, [Upload("漏水.jpg", files.jpeg())], limits)
        filed = submissions.file_submission(
            session, unit(session), "resident", FACTS, PARTIES, phone=PHONE, phone_code=code, limits=limits,
            attachments=[kept[0].id, Upload("收据.pdf", files.pdf())])
    assert re.fullmatch(r"SQ20260511\d{6}", filed.code)
    assert filed.state == SubmissionState.PENDING and filed.source == "resident" and filed.reporter_id is None
    assert filed.phone == PHONE and filed.phone_key == keys.phone_key(PHONE)
    assert filed.parties == PARTIES and filed.category == "neighbour"
    assert [row.filename for row in attachments.of_submission(session, filed.id)] == ["漏水.jpg", "收据.pdf"]
    assert session.scalar(sa.select(PhoneCode.used_at)) is not None
    assert submissions.of_code(session, filed.code.lower(), "138 0013 8000") == filed
    assert submissions.of_code(session, filed.code, "13900000000") is None
    notice = session.scalar(sa.select(OutboxMessage).where(OutboxMessage.topic == "submission"))
    assert notice.recipient_unit_id == filed.org_unit_id and notice.recipient_role == "clerk" and filed.code in notice.body
    # The code cannot file a second time.
    with pytest.raises(FormInvalid) as again:
        submissions.file_submission(session, unit(session), "resident", FACTS, PARTIES, phone=PHONE, phone_code=code,
                                    limits=limits)
    assert set(again.value.errors) == {"phone_code"}


def test_wrong_fields_keep_everything_typed_and_leave_the_code_alive(session, limits):
    phone_codes.send_code(session, PHONE, "10.0.0.1")
    code = last_code(session)
    facts = dict(FACTS, summary="漏水", place="  ", kind="lawsuit")
    with pytest.raises(FormInvalid) as invalid:
        submissions.file_submission(session, unit(session), "resident", facts, [{"role": "respondent", "name": "x" * 101}],
                                    phone=PHONE, phone_code=code, limits=limits, attachments=[Upload("a.png", files.png())])
    errors = invalid.value.errors
    assert set(errors) == {"summary", "place", "kind", "parties-0-name"}
    assert str(errors["summary"]) == "Write at least 5 characters (now 2)"
    data = invalid.value.data
    assert data["summary"] == "漏水" and data["parties"][0]["name"] == "x" * 101
    # The photo is held for the form, and the code was not spent.
    assert len(data["attachments"]) == 1 and attachments.pending(session, data["attachments"])
    assert session.scalar(sa.select(sa.func.count()).select_from(Submission)) == 0
    filed = submissions.file_submission(session, unit(session), "resident", FACTS, PARTIES, phone=PHONE,
                                        phone_code=code, limits=limits, attachments=data["attachments"])
    assert len(attachments.of_submission(session, filed.id)) == 1


def test_a_wrong_code_counts_a_try_even_when_the_form_is_refused(session, limits):
    phone_codes.send_code(session, PHONE, "10.0.0.1")
    code = last_code(session)
    wrong = f"{(int(code) + 1) % 10 ** 6:06d}"
    with pytest.raises(FormInvalid) as invalid:
        submissions.file_submission(session, unit(session), "resident", FACTS, PARTIES, phone=PHONE, phone_code=wrong,
                                    limits=limits)
    assert str(invalid.value.errors["phone_code"]) == "The code is wrong; 4 tries left"
    assert session.scalar(sa.select(PhoneCode.attempts)) == 1


def test_too_many_files_and_refused_files_are_errors_of_the_form(session, limits):
    phone_codes.send_code(session, PHONE, "10.0.0.1")
    code = last_code(session)
    with pytest.raises(FormInvalid) as invalid:
        submissions.file_submission(session, unit(session), "resident", FACTS, PARTIES, phone=PHONE, phone_code=code,
                                    limits=limits, attachments=[Upload(f"{n}.png", files.png()) for n in range(4)])
    assert str(invalid.value.errors["attachments"]) == "At most 3 files"
    with pytest.raises(FormInvalid) as invalid:
        submissions.file_submission(session, unit(session), "resident", FACTS, PARTIES, phone=PHONE, phone_code=code,
                                    limits=limits, attachments=[Upload("x.jpg", files.EXE)])
    assert "program" in str(invalid.value.errors["attachments"])
    # Someone else's pending ids (or ids that never were) are not taken.
    with pytest.raises(FormInvalid) as invalid:
        submissions.file_submission(session, unit(session), "resident", FACTS, PARTIES, phone=PHONE, phone_code=code,
                                    limits=limits, attachments=[999999])
    assert "choose them again" in str(invalid.value.errors["attachments"])


@pytest.mark.parametrize("facts, parties, phone", [
    (None, None, None), ("text", "text", 12), ({"kind": ["dispute"], "summary": {"a": 1}}, [None, 5], ["13800138000"]),
    ({"kind": "dispute", "summary": "\u0000" * 5}, [{"role": "judge", "name": ""}], "1" * 500),
])
def test_hostile_shapes_are_form_errors_never_crashes(session, limits, facts, parties, phone):
    with pytest.raises(FormInvalid) as invalid:
        submissions.file_submission(session, unit(session), "resident", facts, parties, phone=phone, phone_code="x",
                                    limits=limits)
    assert invalid.value.errors


def test_departments_take_no_submissions_and_unknown_units_are_none(session, limits):
    assert submissions.filing_unit(session, "C01-Q-D-court") is None
    assert submissions.filing_unit(session, "../C01") is None
    assert submissions.filing_unit(session, "C01-Q-LL-WZ").name == "王庄村"
    with pytest.raises(NotFound):
        submissions.file_submission(session, unit(session, "C01-Q-D-court"), "resident", FACTS, PARTIES, phone=PHONE,
                                    limits=limits)
    codes = [u.code for u in submissions.filing_units(session, unit(session, "C01-Q-CG").path)]
    assert codes == ["C01-Q-CG", "C01-Q-CG-DG", "C01-Q-CG-XG"]


def test_a_grid_worker_reports_into_their_village_and_no_further(session, limits):
    village = unit(session)
    worker = Actor(None, "网格员", ["grid_worker"], village.id, village.path, "village")
    filed = submissions.file_submission(session, village, "grid", dict(FACTS, category=""), PARTIES[1:], reporter=worker,
                                        limits=limits, attachments=[Upload("现场.jpg", files.jpeg())])
    assert filed.source == "grid" and filed.phone is None and filed.category is None
    township = unit(session, "C01-Q-CG")
    assert submissions.file_submission(session, township, "grid", FACTS, PARTIES[1:], reporter=worker, limits=limits)
    with pytest.raises(NotAllowed):
        submissions.file_submission(session, unit(session, "C01-Q-LL-LL"), "grid", FACTS, PARTIES[1:],
                                    reporter=worker, limits=limits)
    with pytest.raises(NotAllowed):
        submissions.file_submission(session, village, "grid", FACTS, PARTIES[1:], reporter=actor(session, "clerk_dg"),
                                    limits=limits)


def test_resident_kinds_map_to_the_intake_forms_codes():
    form = json.loads((ROOT / "forms" / "intake.json").read_text(encoding="utf-8"))["schema"]["properties"]
    assert set(submissions.KINDS) == set(form["kind"]["enum"])
    assert set(submissions.CATEGORIES) == set(form["category"]["enum"])
    assert set(submissions.PARTY_ROLES) == set(form["parties"]["items"]["properties"]["role"]["enum"])
    for choice in submissions.RESIDENT_KINDS:
        kind, category = submissions.resident_kind(choice)
        assert kind in submissions.KINDS and category in submissions.CATEGORIES
    assert submissions.resident_kind("lawsuit") is None and submissions.resident_kind(["neighbour"]) is None


def test_housekeeping_forgets_old_codes_and_unfiled_files_every_hour(session, session_factory, limits, monkeypatch):
    from engine.cases import scheduler
    monkeypatch.setattr(attachments.Limits, "default", classmethod(lambda cls: limits))
    with time_machine.travel(START, tick=False) as traveller:
        phone_codes.send_code(session, PHONE, "10.0.0.1")
        attachments.keep_pending(session, [Upload("a.png", files.png())], limits)
        traveller.shift(timedelta(hours=24, minutes=59))
        scheduler.housekeeping(session_factory)
        assert session.scalar(sa.select(sa.func.count()).select_from(PhoneCode)) == 1  # still counts for the day
        assert session.scalar(sa.select(sa.func.count()).select_from(Attachment)) == 0
        traveller.shift(timedelta(minutes=2))
        scheduler.housekeeping(session_factory)
        assert session.scalar(sa.select(sa.func.count()).select_from(PhoneCode)) == 0
    job = scheduler.make_scheduler(session_factory).get_job("housekeeping")
    assert job.trigger.interval == timedelta(hours=1)


def test_full_width_digits_are_read_as_the_number_and_other_scripts_digits_are_not():
    assert phone_codes.mobile("１３８００１３８０００") == PHONE
    assert phone_codes.mobile("١٣٨٠٠١٣٨٠٠٠") is None  # Arabic-Indic digits
    assert phone_codes.mobile(["13800138000"]) is None
