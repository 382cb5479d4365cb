"""A grid worker reports a matter from the field: it waits in their village's inbox as a
submission of their grid, with its photos judged by content; a refused field or file brings the
page back with what was typed and the photos already kept; they follow how it goes."""
import io

import pytest
import sqlalchemy as sa

from engine.persistence.models import Attachment, Case, Grid, OrgUnit, Submission
from tests import files
from tests.engine.helpers import file_matter
from tests.web.support import page, reading, text

REPORT = {"kind": "dispute", "category": "neighbour", "place": "东关村三组村道",
          "summary": "两户因院墙排水发生争吵，一方堵住了排水口。", "claims": "恢复排水，赔偿损失",
          "parties-0-name": "张三", "parties-0-phone": "13800138000", "parties-0-role": "applicant",
          "parties-1-name": "李四", "parties-1-role": "respondent"}


@pytest.fixture(autouse=True)
def no_submissions(session_factory):
    yield
    with reading(session_factory) as s:
        s.execute(sa.delete(Attachment))
        s.execute(sa.delete(Submission))
        s.commit()


def _post(client, data, photos=()):
    body = dict(data)
    body["photos"] = [(io.BytesIO(content), name) for name, content in photos]
    return client.post("/grid/report", data=body, content_type="multipart/form-data")


def _submissions(factory):
    with reading(factory) as s:
        return s.scalars(sa.select(Submission).order_by(Submission.id)).all()


def test_a_report_with_a_photo_waits_in_the_village_s_inbox(login_as, session_factory):
    client = login_as("grid_dg")
    assert client.get("/grid/report").status_code == 200
    sent = _post(client, REPORT, [("现场.png", files.png())])
    assert sent.status_code == 302 and sent.headers["Location"].endswith("/grid/#reports")
    [filed] = _submissions(session_factory)
    with reading(session_factory) as s:
        village = s.scalar(sa.select(OrgUnit.id).where(OrgUnit.code == "C01-Q-CG-DG"))
        grid = s.scalar(sa.select(Grid.id).where(Grid.code == "C01-Q-CG-DG-G01"))
        photos = s.scalars(sa.select(Attachment).where(Attachment.submission_id == filed.id)).all()
        reporter = s.scalar(sa.text("select id from users where username = 'grid_dg'"))
    assert (filed.source, filed.org_unit_id, filed.grid_id, filed.reporter_id) == ("grid", village, grid, reporter)
    assert (filed.state, filed.place, [p["name"] for p in filed.parties]) == ("pending", "东关村三组村道", ["张三", "李四"])
    assert [(p.media_type, p.filename) for p in photos] == [("image/png", "现场.png")]
    # Their page lists it, waiting to be accepted.
    reports = page(client.get("/grid/")).xpath('string(//section[@id="reports"])')
    assert filed.code in reports and "待受理" in reports


def test_a_refused_field_keeps_what_was_typed_and_the_photo(login_as, session_factory):
    client = login_as("grid_dg")
    missing = _post(client, dict(REPORT, summary=""), [("现场.jpg", files.jpeg())])
    assert missing.status_code == 422
    form = page(missing)
    assert form.xpath('//input[@name="place"]/@value') == ["东关村三组村道"]
    assert form.xpath('//input[@name="parties-1-name"]/@value') == ["李四"]
    assert form.xpath('//*[@id="r-summary"]/@aria-invalid') == ["true"]
    held = form.xpath('//input[@name="attachment"]/@value')
    assert len(held) == 1 and "现场.jpg" in text(missing)
    assert _submissions(session_factory) == []
    # Sent again with the summary, the photo chosen before goes with it.
    sent = client.post("/grid/report", data=dict(REPORT, attachment=held), content_type="multipart/form-data")
    assert sent.status_code == 302
    [filed] = _submissions(session_factory)
    with reading(session_factory) as s:
        assert s.scalars(sa.select(Attachment.id).where(Attachment.submission_id == filed.id)).all() == [int(held[0])]


@pytest.mark.parametrize("name, content, said", [
    ("照片.jpg", files.HTML, "网页"),
    ("照片.png", files.EXE, "程序"),
])
def test_a_file_that_is_not_what_it_claims_is_refused(login_as, session_factory, name, content, said):
    response = _post(login_as("grid_dg"), REPORT, [(name, content)])
    assert response.status_code == 422 and said in text(response)
    assert _submissions(session_factory) == []


def test_another_reporter_s_photo_cannot_be_borrowed(login_as, session_factory):
    other = login_as("grid_xg")
    _post(other, dict(REPORT, summary=""), [("西关.png", files.png())])
    with reading(session_factory) as s:
        theirs = s.scalar(sa.select(Attachment.id).order_by(Attachment.id.desc()).limit(1))
    response = client = login_as("grid_dg")
    response = client.post("/grid/report", data=dict(REPORT, attachment=[str(theirs)]), content_type="multipart/form-data")
    assert response.status_code == 422
    assert _submissions(session_factory) == []


def test_they_follow_the_case_their_report_became(login_as, session_factory):
    client = login_as("grid_dg")
    assert _post(client, REPORT).status_code == 302
    [filed] = _submissions(session_factory)
    # A clerk accepts it (the inbox's work): the case, of no grid, is still theirs to see.
    with reading(session_factory) as s:
        case = file_matter(s, "clerk_dg")
        row = s.get(Submission, filed.id)
        row.state, row.case_id = "accepted", case.id
        s.commit()
        case_id, code = case.id, case.code
    home = page(client.get("/grid/")).xpath('string(//section[@id="reports"])')
    assert code in home and "已受理立案" in home
    assert client.get(f"/cases/{case_id}").status_code == 200
    assert login_as("grid_dg2").get(f"/cases/{case_id}").status_code == 403


def test_only_grid_workers_report(login_as):
    assert login_as("clerk_dg").get("/grid/report").status_code == 403
    assert login_as("clerk_dg").post("/grid/report", data=REPORT).status_code == 403
