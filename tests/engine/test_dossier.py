"""The judicial-confirmation dossier: made when the joint application is recorded, holding what
法释〔2011〕5号 第三条 asks (application, agreement, identities, contact details, records, the
attachments), kept by its SHA-256 and named with that hash in the case's history."""
import hashlib
import io
import re
from datetime import timedelta

import pypdf
import pytest
import sqlalchemy as sa
import time_machine

from engine.cases import attachments, joint_application, services
from engine.errors import Conflict, FormInvalid, NotAllowed, NotFound
from engine.legaltime.clock import Clock
from engine.persistence.models import Attachment, AuditEvent, ConfirmationConsent, OutboxMessage, PhoneCode
from engine.persistence.states import EventKind
from engine.reading import dossier as reading, follow

from . import coverage
from .helpers import MEDIATION_SUCCESS, WINDOW_NO, WINDOW_YES, complete, file_matter, open_task


def text_of(pdf):
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)


def at_the_window(session, **changes):
    case = file_matter(session, **changes)
    complete(session, "mediator", case.id, "Task_mediate", MEDIATION_SUCCESS)
    return case


def dossier_events(session, case_id):
    return session.scalars(sa.select(AuditEvent).where(AuditEvent.case_id == case_id,
                                                       AuditEvent.kind == EventKind.DOSSIER_GENERATED)
                           .order_by(AuditEvent.seq)).all()


def test_the_mediator_recording_the_application_makes_the_dossier(session):
    case = at_the_window(session)
    # Evidence the resident sent with the matter: listed with its type, size and hash.
    session.add(Attachment(case_id=case.id, filename="房屋产权证.jpg", media_type="image/jpeg", size=123456,
                           sha256="ab" * 32))
    session.commit()
    complete(session, "mediator", case.id, "Task_confirm_window", WINDOW_YES)
    rows = reading.dossiers_of(session, case.id)
    assert len(rows) == 1 and rows[0].purpose == "dossier" and rows[0].media_type == "application/pdf"
    pdf = attachments.read(rows[0], attachments.Limits.default())
    assert hashlib.sha256(pdf).hexdigest() == rows[0].sha256
    [event] = dossier_events(session, case.id)
    assert event.detail["sha256"] == rows[0].sha256 and event.detail["size"] == len(pdf) == rows[0].size
    assert event.detail["attachment"] == rows[0].id and event.detail["version"] == 1
    # The same transaction as the step: its completion is the event just before.
    before = session.scalar(sa.select(AuditEvent).where(AuditEvent.case_id == case.id, AuditEvent.seq < event.seq,
                                                        AuditEvent.kind == EventKind.TASK_COMPLETED)
                            .order_by(AuditEvent.seq.desc()).limit(1))
    assert before.task_spec == "Task_confirm_window"
    text = text_of(pdf).replace("\n", "")
    for expected in ("司法确认申请书", "人民调解协议", "当事人身份信息", "调解记录", "附件清单", case.code,
                     "张三", "李四", "110101199003071234", "11010119851212345X", "13800138000", "13900139000",
                     "李四三日内疏通排水沟并赔偿500元", "双方到场，达成一致", "在调解窗口当面提出申请", "第三十三条",
                     "房屋产权证.jpg", "image/jpeg", "123,456", "ab" * 32):
        assert expected in text, expected
    assert open_task(session, case.id, "Task_court_accept") is not None


def test_no_application_no_dossier(session):
    case = at_the_window(session)
    complete(session, "mediator", case.id, "Task_confirm_window", WINDOW_NO)
    assert reading.dossiers_of(session, case.id) == [] and dossier_events(session, case.id) == []



# ---- the parties' joint application from their phones ----------------------------------------------

ZHANG, LI = "13800138000", "13900139000"


def code_sent(session, phone):
    body = session.scalars(sa.select(OutboxMessage.body).where(OutboxMessage.topic == "otp", OutboxMessage.address == phone)
                           .order_by(OutboxMessage.id.desc())).first()
    return re.search(r"\d{6}", body).group(0)


def confirm_by_phone(session, case, phone, address="10.0.0.1"):
    proof = follow.proof_of(case.code, phone)
    joint_application.send_code(session, case.code, proof, address)
    return joint_application.confirm(session, case.code, proof, code_sent(session, phone))


def test_each_party_confirms_with_a_code_and_the_last_completes_the_application(session):
    case = at_the_window(session)
    window = open_task(session, case.id, "Task_confirm_window")
    offer = joint_application.offer(session, case, follow.proof_of(case.code, ZHANG))
    assert offer.party.name == "张三" and offer.agreement_terms == MEDIATION_SUCCESS["agreement_terms"]
    assert offer.phone_shown == "138****8000" and not offer.confirmed
    assert confirm_by_phone(session, case, ZHANG) is False
    session.expire_all()
    assert open_task(session, case.id, "Task_confirm_window") is not None
    assert reading.dossiers_of(session, case.id) == []
    consents = session.scalars(sa.select(ConfirmationConsent).where(ConfirmationConsent.case_id == case.id)).all()
    assert [c.task_id for c in consents] == [window.id]
    # The mediator's page shows who has confirmed meanwhile.
    standing = reading.application_standing(session, case, window, joint_application.is_mobile)
    assert [(s.name, s.confirmed_at is not None) for s in standing] == [("张三", True), ("李四", False)]
    with pytest.raises(Conflict):
        confirm_by_phone(session, case, ZHANG, address="10.0.0.2")  # once only
    assert confirm_by_phone(session, case, LI) is True
    coverage.record(session, case.id)
    session.expire_all()
    done = session.get(type(window), window.id)
    assert done.state == "completed" and done.completed_by is None
    assert open_task(session, case.id, "Task_court_accept") is not None
    [row] = reading.dossiers_of(session, case.id)
    [event] = dossier_events(session, case.id)
    pdf = attachments.read(row, attachments.Limits.default())
    assert event.detail["sha256"] == hashlib.sha256(pdf).hexdigest() == row.sha256 and event.detail["why"] == "online"
    given = session.scalars(sa.select(AuditEvent).where(AuditEvent.case_id == case.id,
                                                        AuditEvent.kind == EventKind.CONSENT_GIVEN)).all()
    assert [e.detail["party"] for e in given] == ["张三", "李四"]
    text = text_of(pdf)
    table = text.replace("\n", "")
    assert table.count("凭发送至本人手机的验证码在线确认") >= 2 and "在调解窗口当面提出申请" not in table


def test_a_wrong_code_counts_a_try_and_records_nothing(session):
    case = at_the_window(session)
    proof = follow.proof_of(case.code, ZHANG)
    joint_application.send_code(session, case.code, proof, "10.0.0.1")
    right = code_sent(session, ZHANG)
    wrong = "000000" if right != "000000" else "111111"
    with pytest.raises(FormInvalid) as refused:
        joint_application.confirm(session, case.code, proof, wrong)
    assert "phone_code" in refused.value.errors
    session.expire_all()
    assert session.scalar(sa.select(PhoneCode.attempts).order_by(PhoneCode.id.desc()).limit(1)) == 1
    assert session.scalar(sa.select(sa.func.count()).select_from(ConfirmationConsent)) == 0


def test_a_phone_that_is_not_a_partys_is_refused(session):
    case = at_the_window(session)
    proof = follow.proof_of(case.code, "13700137000")
    assert joint_application.offer(session, case, proof) is None or \
        joint_application.offer(session, case, proof).party is None
    with pytest.raises(NotFound):  # not even a case this phone may follow
        joint_application.send_code(session, case.code, proof, "10.0.0.1")
    with pytest.raises(NotFound):
        joint_application.confirm(session, case.code, proof, "123456")


def test_once_the_step_is_closed_no_more_consents(session):
    case = at_the_window(session)
    proof = follow.proof_of(case.code, ZHANG)
    joint_application.send_code(session, case.code, proof, "10.0.0.1")
    sent = code_sent(session, ZHANG)
    complete(session, "mediator", case.id, "Task_confirm_window", WINDOW_NO)
    assert joint_application.offer(session, case, proof) is None
    with pytest.raises(Conflict):
        joint_application.confirm(session, case.code, proof, sent)
    assert session.scalar(sa.select(sa.func.count()).select_from(ConfirmationConsent)) == 0


def test_the_thirty_days_passing_closes_it(session):
    case = at_the_window(session)
    with time_machine.travel(Clock.now() + timedelta(days=40), tick=False):
        services.fire_due_timers(session)
        session.expire_all()
        assert open_task(session, case.id, "Task_confirm_window") is None
        proof = follow.proof_of(case.code, LI)
        assert joint_application.offer(session, case, proof) is None
        with pytest.raises(Conflict):
            joint_application.send_code(session, case.code, proof, "10.0.0.1")


def test_the_rulebook_refuses_a_resident_on_a_closed_step():
    from engine.access import rulebook
    from engine.access.policy import RESIDENT
    closed = rulebook.StepFacts(id=1, state="completed", role="mediator", unit_path="/1/", dossier=True)
    assert isinstance(rulebook.refusal(RESIDENT, "consent_online", None, closed), Conflict)
    other = rulebook.StepFacts(id=2, state="ready", role="mediator", unit_path="/1/", form_key="window.json")
    assert isinstance(rulebook.refusal(RESIDENT, "consent_online", None, other), NotAllowed)
