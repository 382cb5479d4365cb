"""The unit's inbox on the web: who sees and decides a reported matter, the prefilled intake form,
a second decision answered as a message (never a 500), CSRF on every decision, and what a
resident sees when following a matter or a case and rating it."""
import re

import pytest
import sqlalchemy as sa

from engine.persistence.models import Case, OutboxMessage, Submission, Task
from engine.persistence.states import SubmissionState
from tests.engine.helpers import CLOSE, INTAKE, MEDIATION_SUCCESS, WINDOW_NO, complete
from tests.engine.test_unit_inbox import RESIDENT_PHONE, completed_post, submit
from tests.web.support import count, location_path, page, reading, text


@pytest.fixture
def matter(session_factory):
    """A resident's matter in a unit's inbox (the county center's by default)."""
    def make(unit_code="C01-Q", **facts):
        session = session_factory()
        try:
            row = submit(session, unit_code, **facts)
            return row.id, row.code
        finally:
            session.close()
    return make


def state_of(session_factory, submission_id):
    with reading(session_factory) as s:
        return s.get(Submission, submission_id).state


def accept_post(session_factory, submission_id):
    with reading(session_factory) as s:
        return completed_post(s, s.get(Submission, submission_id))


# ---- seeing it ---------------------------------------------------------------------------------

def test_the_clerk_lists_the_matter_with_a_count_in_the_navigation(client, login_as, matter):
    submission_id, code = matter(attachments=2)
    login_as("clerk")
    listing = client.get("/submissions")
    assert listing.status_code == 200
    body = text(listing)
    assert code in body and "群众扫码" in body and "东关村三组" in body and "矛盾纠纷 · 邻里" in body
    row = page(listing).xpath("//table[contains(@class,'submissions')]//tr[td]")[0]
    assert row.xpath("string(td[6])").strip() == "2"
    badge = page(client.get("/tasks")).xpath("//nav//a[contains(@href,'/submissions')]//span[contains(@class,'count')]")
    assert [b.text_content() for b in badge] == ["1"]
    detail = client.get(f"/submissions/{submission_id}")
    assert detail.status_code == 200 and RESIDENT_PHONE in text(detail)  # the deciding clerk calls them
    assert "受理并补全登记表" in text(detail) and "不予受理" in text(detail)


def test_other_units_and_roles_do_not_reach_it(client, login_as, matter):
    submission_id, code = matter("C01-Q-CG-DG")
    login_as("clerk_ll")
    assert code not in text(client.get("/submissions"))
    assert client.get(f"/submissions/{submission_id}").status_code == 404
    assert client.post(f"/submissions/{submission_id}/decline", data={"reason": "x"}).status_code == 404
    assert client.get(f"/submissions/{submission_id}/accept").status_code == 404
    login_as("mediator")
    assert client.get("/submissions").status_code == 403
    assert client.get(f"/submissions/{submission_id}").status_code == 403
    login_as("auditor")
    assert client.get("/submissions").status_code == 403


def test_a_unit_above_sees_it_read_only_with_phones_masked(client, login_as, matter, session_factory):
    submission_id, code = matter("C01-Q-CG-DG")
    login_as("clerk")
    assert code in text(client.get("/submissions"))
    detail = client.get(f"/submissions/{submission_id}")
    body = text(detail)
    assert detail.status_code == 200 and "只能查看" in body and "受理并补全登记表" not in body
    assert RESIDENT_PHONE not in body and "137****7000" in body and "139****9000" in body
    assert client.get(f"/submissions/{submission_id}/accept").status_code == 403
    refused = client.post(f"/submissions/{submission_id}/decline", data={"reason": "不归我们"})
    assert refused.status_code == 403
    login_as("supervisor")
    assert "只能查看" in text(client.get(f"/submissions/{submission_id}"))
    assert state_of(session_factory, submission_id) == SubmissionState.PENDING


# ---- deciding it -------------------------------------------------------------------------------

def test_accept_opens_the_intake_form_filled_in_and_files_the_case(client, login_as, matter, session_factory):
    submission_id, code = matter()
    login_as("clerk")
    form = page(client.get(f"/submissions/{submission_id}/accept"))
    assert form.xpath("string(//textarea[@name='summary'])") == "邻居排水沟堵塞，雨水倒灌进我家院子。"
    assert form.xpath("//select[@name='channel']/option[@selected]/@value") == ["online"]
    assert form.xpath("//input[@name='parties-1-name']/@value") == ["李四"]
    assert form.xpath("//input[@name='parties-0-phone']/@value") == [RESIDENT_PHONE]
    assert code in form.text_content()
    # Incomplete (no ID numbers): the form comes back with what was typed, nothing decided.
    incomplete = client.post(f"/submissions/{submission_id}/accept", data={"kind": "dispute", "summary": "改过的简述"})
    assert incomplete.status_code == 422 and "改过的简述" in text(incomplete)
    assert state_of(session_factory, submission_id) == SubmissionState.PENDING
    done = client.post(f"/submissions/{submission_id}/accept", data=accept_post(session_factory, submission_id))
    assert done.status_code == 302 and location_path(done).startswith("/cases/")
    case_id = int(location_path(done).rsplit("/", 1)[1])
    with reading(session_factory) as s:
        assert s.get(Submission, submission_id).case_id == case_id
        assert s.get(Case, case_id).channel == "online"
    case_page = text(client.get(f"/cases/{case_id}"))
    assert code in case_page and "群众扫码" in case_page
    badge = page(client.get("/tasks")).xpath("//nav//a[contains(@href,'/submissions')]//span[contains(@class,'count')]")
    assert badge == []


def test_a_second_decision_is_a_message_not_an_error(client, login_as, make_client, matter, session_factory):
    submission_id, _code = matter()
    login_as("clerk")
    other = make_client("clerk")
    first = client.post(f"/submissions/{submission_id}/decline", data={"reason": "不属于受理范围，已告知去向。"})
    assert first.status_code == 302 and location_path(first) == "/submissions"
    again = other.post(f"/submissions/{submission_id}/decline", data={"reason": "重复处理"}, follow_redirects=True)
    assert again.status_code == 200 and "已由王受理（县中心窗口）处理" in text(again)
    accept = other.post(f"/submissions/{submission_id}/accept", data=accept_post(session_factory, submission_id),
                        follow_redirects=True)
    assert accept.status_code == 200 and "已由王受理（县中心窗口）处理" in text(accept)
    assert count(session_factory, Case) == 0
    assert count(session_factory, OutboxMessage, OutboxMessage.topic == "notice") == 1


def test_decline_without_a_reason_keeps_it_waiting(client, login_as, matter, session_factory):
    submission_id, _code = matter()
    login_as("clerk")
    refused = client.post(f"/submissions/{submission_id}/decline", data={"reason": " "}, follow_redirects=True)
    assert "请填写不予受理的理由" in text(refused)
    assert state_of(session_factory, submission_id) == SubmissionState.PENDING


def test_join_through_the_repeat_check_of_the_accept_form(client, login_as, matter, filed_case, session_factory):
    case_id, _task, _version = filed_case()
    submission_id, _code = matter()
    login_as("clerk")
    offered = client.post(f"/submissions/{submission_id}/accept", data=accept_post(session_factory, submission_id))
    assert offered.status_code == 200 and "发现可能重复的事项" in text(offered)
    post = accept_post(session_factory, submission_id)
    post["repeat_decision"] = f"link:{case_id}"
    joined = client.post(f"/submissions/{submission_id}/accept", data=post)
    assert joined.status_code == 302 and location_path(joined) == f"/cases/{case_id}"
    assert state_of(session_factory, submission_id) == SubmissionState.JOINED


def test_join_from_the_matters_page(client, login_as, matter, filed_case, session_factory):
    case_id, _task, _version = filed_case()
    submission_id, _code = matter(attachments=1)
    login_as("clerk")
    detail = page(client.get(f"/submissions/{submission_id}"))
    assert detail.xpath("//input[@name='case_id']/@value") == [str(case_id)]
    joined = client.post(f"/submissions/{submission_id}/join", data={"case_id": case_id})
    assert location_path(joined) == f"/cases/{case_id}"
    case_page = text(client.get(f"/cases/{case_id}"))
    assert _code in case_page and "已并案" in case_page
    assert client.post(f"/submissions/{submission_id}/join", data={"case_id": "x"}).status_code == 400


# ---- CSRF --------------------------------------------------------------------------------------

def test_every_decision_needs_the_forms_token(schema, matter, session_factory):
    from webui import create_app
    app = create_app({"SQLALCHEMY_DATABASE_URI": schema, "TESTING": True, "WTF_CSRF_ENABLED": True})
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    assert client.post("/login", data={"username": "clerk", "password": "demo1234", "csrf_token": token}).status_code == 302
    submission_id, _code = matter()
    for action, data in (("decline", {"reason": "没有令牌"}), ("join", {"case_id": "1"}),
                         ("accept", dict(accept_post(session_factory, submission_id)))):
        assert client.post(f"/submissions/{submission_id}/{action}", data=data).status_code == 400
    assert client.post("/follow/rate", data={"satisfaction": "satisfied"}).status_code == 400
    assert state_of(session_factory, submission_id) == SubmissionState.PENDING


# ---- the resident following --------------------------------------------------------------------

def _follow(client, code, phone=RESIDENT_PHONE):
    return client.post("/follow", data={"code": code, "phone": phone})


def test_a_waiting_and_a_declined_matter_as_the_resident_sees_them(client, login_as, matter):
    submission_id, code = matter()
    waiting = _follow(client, code.lower())
    assert waiting.status_code == 200 and "待受理" in text(waiting) and "中心审查后将短信告知您" in text(waiting)
    assert _follow(client, code, "13600136000").status_code == 404
    login_as("clerk")
    client.post(f"/submissions/{submission_id}/decline", data={"reason": "该纠纷已由法院立案，请向法院了解进度。"})
    client.get("/logout")
    declined = text(_follow(client, code))
    assert "未予受理" in declined and "该纠纷已由法院立案" in declined


def _closed_case_from_a_report(client, login_as, matter, session_factory):
    submission_id, code = matter()
    login_as("clerk")
    done = client.post(f"/submissions/{submission_id}/accept", data=accept_post(session_factory, submission_id))
    case_id = int(location_path(done).rsplit("/", 1)[1])
    session = session_factory()
    try:
        complete(session, "mediator", case_id, "Task_mediate", MEDIATION_SUCCESS)
        complete(session, "mediator", case_id, "Task_confirm_window", WINDOW_NO)
        complete(session, "clerk", case_id, "Task_close", CLOSE)
        case_code = session.get(Case, case_id).code
    finally:
        session.close()
    return case_id, case_code, code


def test_the_resident_follows_and_rates_and_sees_no_other_party(app, login_as, matter, session_factory):
    staff = app.test_client()
    case_id, case_code, code = _closed_case_from_a_report(staff, lambda who: login_as(who, staff), matter,
                                                          session_factory)
    resident = app.test_client()
    # The rating below runs on the report's own reference, the last one looked up.
    for reference in (case_code, code):
        shown = _follow(resident, reference)
        body = text(shown)
        assert shown.status_code == 200 and case_code in body and "人民调解" in body and "调解结案" in body
        assert "已办结" in body
        assert "评价办理结果" in body
        for secret in ("张三", "李四", "13900139000", "110101199003071234", "邻居排水沟堵塞", "调解成功，协议已履行"):
            assert secret not in body
    refused = resident.post("/follow/rate", data={"satisfaction": "thrilled"})
    assert refused.status_code == 422 and "请选择满意程度" in text(refused)
    rated = resident.post("/follow/rate", data={"satisfaction": "unsatisfied", "feedback": "赔偿款还没到位"})
    assert rated.status_code == 302 and location_path(rated) == "/follow"
    after = text(resident.get("/follow"))
    assert "感谢您的评价" in after and "已评价：不满意" in after and "评价办理结果" not in after
    with reading(session_factory) as s:
        review = s.scalar(sa.select(Task).where(Task.case_id == case_id, Task.spec_id == "Task_review"))
        assert review is not None and review.state == "ready"
    again = resident.post("/follow/rate", data={"satisfaction": "satisfied"}, follow_redirects=True)
    assert "该事项已评价" in text(again)


def test_rating_needs_a_look_up_first(client):
    response = client.post("/follow/rate", data={"satisfaction": "satisfied"})
    assert response.status_code == 302 and location_path(response) == "/follow"


def test_a_party_at_the_window_still_follows_with_their_phone(client, filed_case, session_factory):
    case_id, _task, _version = filed_case()
    with reading(session_factory) as s:
        code = s.get(Case, case_id).code
    assert _follow(client, code, INTAKE["parties-0-phone"]).status_code == 200
    assert _follow(client, code, RESIDENT_PHONE).status_code == 404


# ---- attachments -------------------------------------------------------------------------------

@pytest.fixture
def with_files(app, session_factory):
    """Real files kept for a matter the way the filing page keeps them: a photo and a PDF."""
    from engine.cases import attachments
    from tests.files import jpeg, pdf

    def keep(submission_id):
        limits = attachments.Limits.from_config(app.config)
        session = session_factory()
        try:
            rows = [attachments.keep(session, attachments.Upload("现场照片.jpg", jpeg()), limits, submission_id=submission_id),
                    attachments.keep(session, attachments.Upload("协议.pdf", pdf()), limits, submission_id=submission_id)]
            session.commit()
            return [row.id for row in rows]
        finally:
            session.close()
    return keep


def test_attachments_are_served_only_to_who_may_see_the_matter_or_its_case(client, login_as, matter, with_files,
                                                                           session_factory):
    from tests.files import jpeg
    submission_id, _code = matter("C01-Q-CG-DG")
    photo, document = with_files(submission_id)
    assert location_path(client.get(f"/attachments/{photo}")).startswith("/login")
    login_as("clerk_dg")
    shown = client.get(f"/attachments/{photo}")
    assert shown.status_code == 200 and shown.data == jpeg()
    assert shown.headers["Content-Type"] == "image/jpeg" and shown.headers["X-Content-Type-Options"] == "nosniff"
    assert shown.headers["Content-Disposition"].startswith("inline") and "no-store" in shown.headers["Cache-Control"]
    pdf_shown = client.get(f"/attachments/{document}")
    assert pdf_shown.headers["Content-Type"] == "application/pdf" and "sandbox" in pdf_shown.headers["Content-Security-Policy"]
    assert f"/attachments/{photo}" in client.get(f"/submissions/{submission_id}").get_data(as_text=True)
    for other in ("clerk_ll", "mediator_cg"):
        login_as(other)
        assert client.get(f"/attachments/{photo}").status_code == 404
    login_as("clerk")  # the county sees the village's matters, read-only, and their files
    assert client.get(f"/attachments/{photo}").status_code == 200
    assert client.get("/attachments/999999").status_code == 404
    # Accepted by the village: the case's people see them on the case, the other village still not.
    login_as("clerk_dg")
    done = client.post(f"/submissions/{submission_id}/accept", data=accept_post(session_factory, submission_id))
    case_id = int(location_path(done).rsplit("/", 1)[1])
    assert f"/attachments/{document}" in client.get(f"/cases/{case_id}").get_data(as_text=True)
    login_as("mediator_cg")
    assert client.get(f"/attachments/{photo}").status_code == 200
    login_as("clerk_ll")
    assert client.get(f"/attachments/{photo}").status_code == 404


def test_the_trace_names_the_reported_matter(client, login_as, matter, filed_case, session_factory):
    case_id, _task, _version = filed_case()
    submission_id, code = matter()
    login_as("clerk")
    client.post(f"/submissions/{submission_id}/join", data={"case_id": case_id})
    login_as("auditor")
    trace = text(client.get(f"/audit/cases/{case_id}"))
    assert "群众反映事项并入本案" in trace and code in trace and "群众扫码" in trace and "邻里" in trace
