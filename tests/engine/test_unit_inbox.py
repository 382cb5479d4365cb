"""A unit's inbox of matters reported from outside: who decides them, accepting through the intake
pathway, joining an open case, declining with a reason, a matter decided only once, and the
resident told by SMS in the transaction of each decision and of the case's later milestones."""
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa
import time_machine
from werkzeug.datastructures import MultiDict

from engine.cases import inbox, services
from engine.errors import Conflict, NotAllowed, NotFound
from engine.persistence.models import (
    Attachment, AuditEvent, Case, Grid, OrgUnit, OutboxMessage, Submission, User,
)
from engine.persistence.states import EventKind, SubmissionState
from engine.reading import unit_inbox

from . import coverage
from .helpers import CLOSE, MEDIATION_SUCCESS, WINDOW_NO, actor, complete, file_matter, open_task

RESIDENT_PHONE = "13700137000"
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)


def unit(session, code):
    return session.scalar(sa.select(OrgUnit).where(OrgUnit.code == code))


def submit(session, unit_code="C01-Q", source="resident", phone=RESIDENT_PHONE, parties=None, grid=None,
           attachments=0, **facts):
    """A matter as the filing page or a grid worker's report leaves it, written directly."""
    at = unit(session, unit_code)
    row = Submission(code=f"SQ-T-{session.scalar(sa.select(sa.func.count()).select_from(Submission)) + 1}",
                     org_unit_id=at.id, source=source, kind=facts.get("kind", "dispute"),
                     category=facts.get("category", "neighbour"), place=facts.get("place", "东关村三组"),
                     summary=facts.get("summary", "邻居排水沟堵塞，雨水倒灌进我家院子。"),
                     claims=facts.get("claims", "疏通排水沟，赔偿损失"),
                     parties=parties if parties is not None else [
                         {"name": "张三", "phone": RESIDENT_PHONE, "role": "applicant"},
                         {"name": "李四", "phone": "13900139000", "role": "respondent"}],
                     phone=phone, grid_id=grid, state=SubmissionState.PENDING)
    session.add(row)
    session.flush()
    for index in range(attachments):
        session.add(Attachment(submission_id=row.id, filename=f"photo{index}.jpg", media_type="image/jpeg", size=1000,
                               sha256=f"{index:064x}"))
    session.commit()
    return row


def completed_post(session, submission):
    """What the clerk sends: the prefilled intake form, completed with ID numbers and ID types."""
    _version, _info, form = services.intake_step(session, "intake")
    data = unit_inbox.intake_prefill(form, submission)
    post = MultiDict({key: str(value) for key, value in data.items() if not isinstance(value, list)})
    for index, party in enumerate(data["parties"]):
        for key, value in party.items():
            post[f"parties-{index}-{key}"] = value
        post[f"parties-{index}-id_type"] = "resident_id"
        post[f"parties-{index}-id_number"] = ["110101199003071234", "11010119851212345X"][index]
    return post


def notices(session, case_id=None):
    query = sa.select(OutboxMessage).where(OutboxMessage.topic == "notice").order_by(OutboxMessage.id)
    if case_id is not None:
        query = query.where(OutboxMessage.case_id == case_id)
    return session.scalars(query).all()


# ---- who decides ---------------------------------------------------------------------------------

def test_the_scanned_units_clerks_decide_and_the_units_above_see_it_read_only(session):
    village = submit(session, "C01-Q-CG-DG")
    assert unit_inbox.waiting_count(session, actor(session, "clerk_dg")) == 1
    assert unit_inbox.waiting_count(session, actor(session, "clerk")) == 0  # the county sees it, does not decide it
    assert unit_inbox.waiting_count(session, actor(session, "supervisor")) == 1
    assert unit_inbox.waiting_count(session, actor(session, "clerk_ll")) == 0
    county_rows = unit_inbox.waiting(session, actor(session, "clerk"))
    assert [(row.submission.id, row.decides) for row in county_rows] == [(village.id, False)]
    with pytest.raises(NotAllowed):
        inbox.decline(session, actor(session, "clerk"), village.id, "不属于本中心受理范围")
    with pytest.raises(NotFound):
        inbox.decline(session, actor(session, "clerk_ll"), village.id, "不是本村的事项")
    assert session.get(Submission, village.id).state == SubmissionState.PENDING


def test_a_unit_without_a_clerk_passes_its_matters_up(session):
    """西关社区 has no clerk: the township's clerk decides its matters, as steps are routed."""
    community = submit(session, "C01-Q-CG-XG")
    assert unit_inbox.waiting_count(session, actor(session, "clerk_cg")) == 1
    assert unit_inbox.waiting_count(session, actor(session, "clerk")) == 0
    inbox.decline(session, actor(session, "clerk_cg"), community.id, "已由社区调委会当场化解")
    assert session.get(Submission, community.id).state == SubmissionState.DECLINED


# ---- accept ----------------------------------------------------------------------------------------

def test_prefill_maps_what_the_resident_said_onto_the_intake_form(session):
    _version, _info, form = services.intake_step(session, "intake")
    resident = submit(session, parties=[{"name": "张三", "phone": "", "role": "applicant"},
                                        {"name": "李四", "phone": "13900139000", "role": "respondent"}])
    data = unit_inbox.intake_prefill(form, resident)
    assert data["channel"] == "online" and data["kind"] == "dispute" and data["category"] == "neighbour"
    assert data["summary"] == resident.summary and data["claims"] == resident.claims and data["place"] == resident.place
    # The resident's confirmed phone goes to the first party who gave none.
    assert data["parties"] == [{"role": "applicant", "name": "张三", "phone": RESIDENT_PHONE},
                               {"role": "respondent", "name": "李四", "phone": "13900139000"}]
    grid = submit(session, source="grid", phone=None, kind="neighbour", category=None)
    found = unit_inbox.intake_prefill(form, grid)
    assert found["channel"] == "grid" and found["kind"] == "dispute" and found["category"] == "neighbour"


def test_accept_registers_the_case_and_tells_the_resident_in_the_same_transaction(session):
    county = unit(session, "C01-Q")
    grid = Grid(code="G-T-1", name="一网格", org_unit_id=county.id)
    session.add(grid)
    session.commit()
    resident = submit(session, attachments=2, grid=grid.id)
    clerk = actor(session, "clerk")
    with time_machine.travel(NOW, tick=False):
        case = inbox.accept(session, clerk, resident.id, completed_post(session, resident))
    coverage.record(session, case.id)
    session.expire_all()
    row = session.get(Submission, resident.id)
    assert (row.state, row.case_id, row.decided_by) == (SubmissionState.ACCEPTED, case.id,
                                                        session.scalar(sa.select(User.id).where(User.username == "clerk")))
    case = session.get(Case, case.id)
    assert case.channel == "online" and case.grid_id == grid.id and case.route == "mediation"
    assert open_task(session, case.id, "Task_mediate") is not None
    assert sorted(a.case_id for a in session.scalars(sa.select(Attachment))) == [case.id, case.id]
    origin = session.scalar(sa.select(AuditEvent).where(AuditEvent.case_id == case.id,
                                                        AuditEvent.kind == EventKind.SUBMISSION_ACCEPTED))
    assert origin.detail["submission"] == resident.code and origin.detail["attachments"] == 2
    [told] = notices(session, case.id)
    assert told.address == RESIDENT_PHONE and case.code in told.body and "人民调解" in told.body
    assert "李四" not in told.body and "13900139000" not in told.body


def test_the_channel_is_the_one_the_matter_came_by_whatever_was_posted(session):
    resident = submit(session)
    post = completed_post(session, resident)
    post["channel"] = "visit"
    case = inbox.accept(session, actor(session, "clerk"), resident.id, post)
    assert session.get(Case, case.id).channel == "online"


def test_an_invalid_form_or_possible_repeats_save_nothing(session):
    resident = submit(session)
    post = completed_post(session, resident)
    del post["parties-0-id_number"]
    with pytest.raises(services.FormInvalid):
        inbox.accept(session, actor(session, "clerk"), resident.id, post)
    file_matter(session)  # the same parties already have an open case
    with pytest.raises(services.PossibleRepeats):
        inbox.accept(session, actor(session, "clerk"), resident.id, completed_post(session, resident))
    session.expire_all()
    assert session.get(Submission, resident.id).state == SubmissionState.PENDING
    assert session.scalar(sa.select(sa.func.count()).select_from(Case)) == 1
    assert notices(session) == []
    case = inbox.accept(session, actor(session, "clerk"), resident.id, completed_post(session, resident),
                        new_despite_repeats=True)
    assert session.get(Submission, resident.id).case_id == case.id


def test_a_matter_is_decided_once(session):
    resident = submit(session)
    first = inbox.accept(session, actor(session, "clerk"), resident.id, completed_post(session, resident))
    second = actor(session, "clerk")
    with pytest.raises(Conflict, match="already decided by 王受理"):
        inbox.accept(session, second, resident.id, completed_post(session, resident))
    with pytest.raises(Conflict):
        inbox.decline(session, second, resident.id, "重复")
    with pytest.raises(Conflict):
        inbox.join(session, second, resident.id, first.id)
    assert session.scalar(sa.select(sa.func.count()).select_from(Case)) == 1
    assert len(notices(session)) == 1


def test_a_decision_that_lost_the_race_rolls_back_its_case(session):
    """The rulebook passed before the engine ran; the matter was decided meanwhile: the guarded
    write finds it and nothing of the second acceptance stays."""
    resident = submit(session)
    clerk = actor(session, "clerk")
    post = completed_post(session, resident)
    original = inbox.lock_submission

    def decided_meanwhile(session_, actor_, submission_id, verb):
        session_.execute(sa.update(Submission).where(Submission.id == submission_id)
                         .values(state=SubmissionState.DECLINED))
        return original(session_, actor_, submission_id, verb)

    inbox.lock_submission = decided_meanwhile
    try:
        with pytest.raises(Conflict):
            inbox.accept(session, clerk, resident.id, post)
    finally:
        inbox.lock_submission = original
    assert session.scalar(sa.select(sa.func.count()).select_from(Case)) == 0
    assert notices(session) == []


# ---- join and decline ----------------------------------------------------------------------------

def test_join_adds_the_matter_to_an_open_case_of_the_same_parties(session):
    existing = file_matter(session)
    resident = submit(session, attachments=1)
    clerk = actor(session, "clerk")
    assert [c.id for c in unit_inbox.join_candidates(session, clerk, resident)] == [existing.id]
    inbox.join(session, clerk, resident.id, existing.id)
    session.expire_all()
    assert session.get(Submission, resident.id).state == SubmissionState.JOINED
    assert session.scalar(sa.select(Attachment.case_id)) == existing.id
    joined = session.scalar(sa.select(AuditEvent).where(AuditEvent.case_id == existing.id,
                                                        AuditEvent.kind == EventKind.SUBMISSION_JOINED))
    assert joined.detail["submission"] == resident.code and joined.detail["summary"] == resident.summary
    [told] = notices(session, existing.id)
    assert existing.code in told.body and told.address == RESIDENT_PHONE


def test_join_only_to_an_open_case_in_the_clerks_units(session):
    elsewhere = file_matter(session, "clerk_ll")
    closed = file_matter(session, "clerk_dg")
    session.execute(sa.update(Case).where(Case.id == closed.id).values(status="completed"))
    session.commit()
    resident = submit(session, "C01-Q-CG-DG")
    with pytest.raises(NotFound):
        inbox.join(session, actor(session, "clerk_dg"), resident.id, elsewhere.id)
    with pytest.raises(Conflict, match="closed"):
        inbox.join(session, actor(session, "clerk_dg"), resident.id, closed.id)
    assert session.get(Submission, resident.id).state == SubmissionState.PENDING


def test_decline_needs_a_reason_and_tells_the_resident(session):
    resident = submit(session)
    clerk = actor(session, "clerk")
    with pytest.raises(Conflict, match="Say why"):
        inbox.decline(session, clerk, resident.id, "   ")
    with pytest.raises(Conflict, match="at most 300"):
        inbox.decline(session, clerk, resident.id, "长" * 301)
    inbox.decline(session, clerk, resident.id, "该事项已由法院立案受理，请向法院咨询。")
    session.expire_all()
    row = session.get(Submission, resident.id)
    assert row.state == SubmissionState.DECLINED and row.decline_reason == "该事项已由法院立案受理，请向法院咨询。"
    [told] = notices(session)
    assert told.address == RESIDENT_PHONE and "该事项已由法院立案受理" in told.body and told.case_id is None


def test_a_grid_report_without_a_phone_sends_nothing(session):
    report = submit(session, source="grid", phone=None)
    inbox.decline(session, actor(session, "clerk"), report.id, "已现场化解")
    assert notices(session) == []


# ---- the case's milestones ---------------------------------------------------------------------

def test_the_resident_is_told_when_the_case_closes_and_when_its_route_changes(session):
    resident = submit(session)
    case = inbox.accept(session, actor(session, "clerk"), resident.id, completed_post(session, resident))
    complete(session, "mediator", case.id, "Task_mediate", MEDIATION_SUCCESS)
    assert len(notices(session, case.id)) == 1  # nothing new at a step in between
    complete(session, "mediator", case.id, "Task_confirm_window", WINDOW_NO)
    complete(session, "clerk", case.id, "Task_close", CLOSE)
    told = notices(session, case.id)
    assert len(told) == 2 and "已办结" in told[-1].body and "评价" in told[-1].body
    # A route decided anew (here forced on the row: the pathways decide it once) is told too.
    session.execute(sa.update(Case).where(Case.id == case.id).values(route="petition"))
    session.commit()
    complete(session, "clerk", case.id, "Task_visit", {"visit_method": "phone", "satisfaction": "satisfied"})
    told = notices(session, case.id)
    assert len(told) == 3 and "人民调解" in told[-1].body and case.code in told[-1].body


def test_cases_nobody_reported_tell_nobody(session):
    case = file_matter(session)
    complete(session, "mediator", case.id, "Task_mediate", MEDIATION_SUCCESS)
    assert notices(session) == []
