"""Who gets the judicial-confirmation dossier: the court's department and the center's clerks,
mediators, supervisors and auditors who may see the case; served like an attachment (its type,
nosniff, not cached); shown with its SHA-256 on the case page and the court's step; made again
as a new version, both in the history."""
import hashlib

import pytest
import sqlalchemy as sa

from engine.persistence.models import Attachment
from engine.persistence.states import EventKind
from tests.engine.helpers import MEDIATION_SUCCESS, WINDOW_YES

from .support import complete_steps, events_of, open_task_id, reading, text


@pytest.fixture
def applied(filed_case, session_factory):
    case_id, _task, _version = filed_case()
    complete_steps(session_factory, case_id, ("mediator", "Task_mediate", MEDIATION_SUCCESS),
                   ("mediator", "Task_confirm_window", WINDOW_YES))
    with reading(session_factory) as s:
        dossier = s.scalar(sa.select(Attachment).where(Attachment.case_id == case_id, Attachment.purpose == "dossier"))
    return case_id, dossier.id, dossier.sha256


@pytest.mark.parametrize("login", ["clerk", "mediator", "supervisor", "auditor", "dept_court"])
def test_those_who_handle_or_audit_the_case_and_the_court_download_it(applied, login_as, login):
    case_id, attachment_id, sha = applied
    client = login_as(login)
    response = client.get(f"/attachments/{attachment_id}")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert hashlib.sha256(response.data).hexdigest() == sha
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in response.headers["Cache-Control"]


@pytest.mark.parametrize("login", ["admin", "dept_labour", "clerk_cg", "grid_dg", "designer"])
def test_nobody_else_gets_it(applied, login_as, login):
    _case_id, attachment_id, _sha = applied
    assert login_as(login).get(f"/attachments/{attachment_id}").status_code in (403, 404)


def test_the_case_page_and_the_courts_step_show_it_with_its_hash(applied, login_as, session_factory):
    case_id, attachment_id, sha = applied
    page = text(login_as("mediator").get(f"/cases/{case_id}"))
    assert "司法确认申请材料" in page and sha in page
    court = login_as("dept_court")
    accept = open_task_id(session_factory, case_id, "Task_court_accept")
    body = court.get(f"/tasks/{accept}").get_data(as_text=True)
    assert f"/attachments/{attachment_id}" in body and sha in body
    # The administrator sees the case but not the dossier (personal data for the court).
    assert sha not in text(login_as("admin").get(f"/cases/{case_id}"))


def test_the_history_shows_the_hash(applied, login_as):
    case_id, _attachment_id, sha = applied
    page = text(login_as("auditor").get(f"/audit/cases/{case_id}"))
    assert "生成司法确认申请材料" in page and sha in page


def test_made_again_is_a_new_version_and_both_stay(applied, login_as, session_factory):
    case_id, first_id, first_sha = applied
    client = login_as("mediator")
    response = client.post(f"/cases/{case_id}/dossier")
    assert response.status_code == 302
    with reading(session_factory) as s:
        rows = s.scalars(sa.select(Attachment).where(Attachment.case_id == case_id, Attachment.purpose == "dossier")
                         .order_by(Attachment.id)).all()
    assert [row.id for row in rows][0] == first_id and len(rows) == 2
    events = events_of(session_factory, case_id, kind=EventKind.DOSSIER_GENERATED)
    assert [e.detail["version"] for e in events] == [1, 2]
    assert [e.detail["sha256"] for e in events] == [row.sha256 for row in rows]
    assert events[1].detail["why"] == "regenerated"
    # Only the case's handlers make it again: not the auditor, nor the court.
    assert login_as("auditor").post(f"/cases/{case_id}/dossier").status_code == 403


# ---- the residents' joint application on the follow page -------------------------------------------

def _code_sent(session_factory, phone):
    import re
    from engine.persistence.models import OutboxMessage
    with reading(session_factory) as s:
        body = s.scalars(sa.select(OutboxMessage.body).where(OutboxMessage.topic == "otp", OutboxMessage.address == phone)
                         .order_by(OutboxMessage.id.desc())).first()
    return re.search(r"\d{6}", body).group(0)


@pytest.fixture
def at_the_window(filed_case, session_factory):
    case_id, _task, _version = filed_case()
    complete_steps(session_factory, case_id, ("mediator", "Task_mediate", MEDIATION_SUCCESS))
    with reading(session_factory) as s:
        from engine.persistence.models import Case
        return case_id, s.get(Case, case_id).code


def test_a_party_confirms_on_the_follow_page_and_the_mediator_sees_it(app, at_the_window, session_factory, login_as):
    case_id, code = at_the_window
    resident = app.test_client()
    page = resident.post("/follow", data={"code": code, "phone": "13800138000"}).get_data(as_text=True)
    assert "申请法院确认调解协议" in page and "李四三日内疏通排水沟并赔偿500元" in page and "138****8000" in page
    assert "110101199003071234" not in page  # no ID numbers on the residents' page
    sent = resident.post("/follow/application/code")
    assert sent.status_code == 200 and "验证码已发送至 138****8000" in sent.get_data(as_text=True)
    again = resident.post("/follow/application/code")
    assert again.status_code == 429 and again.headers["Retry-After"]
    unticked = resident.post("/follow/application", data={"phone_code": _code_sent(session_factory, "13800138000")})
    assert unticked.status_code == 422
    done = resident.post("/follow/application", data={"phone_code": _code_sent(session_factory, "13800138000"),
                                                      "agree": "yes"})
    assert done.status_code == 302
    page = resident.get("/follow").get_data(as_text=True)
    assert "您已确认申请" in page
    window = open_task_id(session_factory, case_id, "Task_confirm_window")
    mediator_page = text(login_as("mediator").get(f"/tasks/{window}"))
    assert "共同申请：各方当事人确认情况" in mediator_page and "已确认" in mediator_page and "尚未确认" in mediator_page


def test_a_phone_that_is_not_a_partys_sees_no_form(app, at_the_window, session_factory):
    """The reporter of a matter follows its case with their own phone; only parties apply."""
    case_id, code = at_the_window
    with reading(session_factory) as s:
        from engine.persistence.models import Submission
        s.add(Submission(code="SQ-DOSSIER-1", org_unit_id=1, source="resident", kind="dispute", phone="13700137000",
                         state="accepted", case_id=case_id))
        s.commit()
    resident = app.test_client()
    page = resident.post("/follow", data={"code": code, "phone": "13700137000"}).get_data(as_text=True)
    assert "只有本案当事人凭本人手机号码查询时才能确认申请" in page and "send-code" not in page
    refused = resident.post("/follow/application/code", follow_redirects=True)
    assert "只有本案当事人凭本人手机号码查询时才能确认申请" in refused.get_data(as_text=True)
    assert count_codes(session_factory) == 0


def count_codes(session_factory):
    from engine.persistence.models import PhoneCode
    with reading(session_factory) as s:
        return s.scalar(sa.select(sa.func.count()).select_from(PhoneCode))


def test_after_the_thirty_days_the_application_is_closed(app, at_the_window, session_factory):
    import time_machine
    from datetime import timedelta
    from engine.cases import services
    from engine.legaltime.clock import Clock
    case_id, code = at_the_window
    resident = app.test_client()
    later = Clock.now() + timedelta(days=31)
    with time_machine.travel(later, tick=False):
        with reading(session_factory) as s:
            assert services.fire_due_timers(s) >= 1
        page = resident.post("/follow", data={"code": code, "phone": "13900139000"}).get_data(as_text=True)
        assert code in page
        assert "申请法院确认调解协议" not in page
        refused = resident.post("/follow/application", data={"phone_code": "123456", "agree": "yes"},
                                follow_redirects=True)
        assert "司法确认申请已截止" in refused.get_data(as_text=True)
    assert count_codes(session_factory) == 0
