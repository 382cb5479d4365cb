"""Referrals (issue 13 §5): the mediator refers a party from the mediation step to the county's
legal aid center; its login takes the party on and records what was done; every step is in the
case's history and on its page and trace; the step stays open. Who may do what is the rulebook's."""
import sqlalchemy as sa

from engine.persistence.models import AuditEvent, OrgUnit, Referral, Task
from tests.engine.helpers import file_matter
from tests.web.support import page, reading, text, whistle_step


def _mediation_step(session_factory):
    session = session_factory()
    try:
        case = file_matter(session)
        task = session.scalar(sa.select(Task).where(Task.case_id == case.id, Task.spec_id == "Task_mediate"))
        return case.id, task.id
    finally:
        session.close()


def _unit(session_factory, code):
    with reading(session_factory) as session:
        return session.scalar(sa.select(OrgUnit.id).where(OrgUnit.code == code))


def _referral(session_factory, case_id):
    with reading(session_factory) as session:
        return session.scalar(sa.select(Referral).where(Referral.case_id == case_id))


def _events(session_factory, case_id):
    with reading(session_factory) as session:
        return session.scalars(sa.select(AuditEvent.kind).where(AuditEvent.case_id == case_id,
                                                                 AuditEvent.kind.like("referral_%"))
                               .order_by(AuditEvent.seq)).all()


def _refer(client, task_id, unit_id, party="张三", reason="经济困难，需要法律援助代理诉讼。", service="legal_aid"):
    return client.post(f"/tasks/{task_id}/refer", data={"party_name": party, "service_unit": f"{service}:{unit_id}",
                                                        "reason": reason})


def test_a_party_is_referred_taken_on_and_the_outcome_recorded(client, login_as, session_factory):
    case_id, task_id = _mediation_step(session_factory)
    legal_aid = _unit(session_factory, "C01-Q-D-legal_aid")
    login_as("mediator")
    form = page(client.get(f"/tasks/{task_id}"))
    # The mediation step offers the panel: the case's parties, the county's legal aid center and counselling station.
    assert form.xpath('//select[@name="party_name"]/option/text()') == ["张三", "李四"]
    choices = form.xpath('//select[@name="service_unit"]//option/@value')
    assert f"legal_aid:{legal_aid}" in choices and f"counselling:{_unit(session_factory, 'C01-Q-D-counselling')}" in choices
    refused = _refer(client, task_id, legal_aid, reason="")
    assert refused.status_code == 422 and "至少" in text(refused) and _referral(session_factory, case_id) is None
    assert _refer(client, task_id, legal_aid).status_code == 302
    referral = _referral(session_factory, case_id)
    assert (referral.state, referral.party_name, referral.service, referral.to_unit_id, referral.task_id) == (
        "referred", "张三", "legal_aid", legal_aid, task_id)
    # The referral does not hold or finish the step.
    with reading(session_factory) as session:
        assert session.get(Task, task_id).state == "ready"

    login_as("dept_legal_aid")
    listing = client.get("/referrals")
    assert listing.status_code == 200 and "张三" in text(listing) and "经济困难" in text(listing)
    assert page(listing).xpath('//nav//span[contains(@class, "nav-count")]/text()') == ["1"]
    # The department calls the party: it sees the phone (a handling role).
    assert "13800138000" in text(listing)
    assert client.post(f"/referrals/{referral.id}/complete", data={"outcome": "太早"}, follow_redirects=True) \
        .status_code == 200
    assert _referral(session_factory, case_id).state == "referred"  # not taken on yet: nothing recorded
    assert client.post(f"/referrals/{referral.id}/accept", data={"note": "王律师负责联系"}).status_code == 302
    assert client.post(f"/referrals/{referral.id}/complete",
                       data={"outcome": "已指派王律师代理诉讼，法律援助申请获批。"}).status_code == 302
    done = _referral(session_factory, case_id)
    assert (done.state, done.outcome) == ("completed", "已指派王律师代理诉讼，法律援助申请获批。")
    assert _events(session_factory, case_id) == ["referral_made", "referral_accepted", "referral_completed"]

    login_as("mediator")
    case_page = text(client.get(f"/cases/{case_id}"))
    assert "转介" in case_page and "县法律援助中心" in case_page and "法律援助申请获批" in case_page
    login_as("auditor")
    trace = text(client.get(f"/audit/cases/{case_id}"))
    assert "转介至" in trace and "县法律援助中心" in trace and "转介办理结果" in trace and "法律援助申请获批" in trace


def test_who_may_refer_and_answer(client, login_as, session_factory):
    case_id, task_id = _mediation_step(session_factory)
    legal_aid = _unit(session_factory, "C01-Q-D-legal_aid")
    # Not the step's worker: no panel, and the post is refused.
    login_as("clerk")
    assert _refer(client, task_id, legal_aid).status_code == 403
    login_as("mediator")
    # Only a department providing the chosen service, and only a party of the case.
    court = _unit(session_factory, "C01-Q-D-court")
    assert _refer(client, task_id, court).status_code == 422
    assert _refer(client, task_id, legal_aid, party="王五").status_code == 422
    assert _refer(client, task_id, legal_aid, service="astrology").status_code == 422
    assert _referral(session_factory, case_id) is None
    assert _refer(client, task_id, legal_aid).status_code == 302
    referral = _referral(session_factory, case_id)
    # Another department neither sees nor answers it; a clerk holds no referral role.
    login_as("dept_counselling")
    assert "张三" not in text(client.get("/referrals"))
    assert client.post(f"/referrals/{referral.id}/accept").status_code == 404
    login_as("clerk")
    assert client.get("/referrals").status_code == 403
    assert client.post(f"/referrals/{referral.id}/accept").status_code == 403
    # The receiving department turns it down, with a reason; then it is settled.
    login_as("dept_legal_aid")
    assert client.post(f"/referrals/{referral.id}/decline", data={"reason": ""}).status_code == 302
    assert _referral(session_factory, case_id).state == "referred"
    assert client.post(f"/referrals/{referral.id}/decline", data={"reason": "不属于法律援助范围，已告知其他途径。"}) \
        .status_code == 302
    assert _referral(session_factory, case_id).state == "declined"
    again = client.post(f"/referrals/{referral.id}/accept", follow_redirects=True)
    assert "该转介已处理" in text(again) and _referral(session_factory, case_id).state == "declined"
    assert _events(session_factory, case_id) == ["referral_made", "referral_declined"]


def test_a_step_without_referrals_offers_none(client, login_as, session_factory):
    _case_id, whistle = whistle_step(session_factory)
    login_as("supervisor")
    assert not page(client.get(f"/tasks/{whistle}")).xpath('//form[contains(@action, "/refer")]')
    assert _refer(client, whistle, _unit(session_factory, "C01-Q-D-legal_aid")).status_code == 403
