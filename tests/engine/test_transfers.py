"""Moving cases between the four levels: escalate up, assign down, acknowledge or it comes back."""
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
import time_machine

from engine.cases import services, transfers
from engine.errors import NotAllowed, NotFound
from engine.persistence.models import AuditEvent, Case, OrgUnit, Task

from .helpers import actor, file_matter

START = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)


def _unit(session, code):
    return session.scalar(sa.select(OrgUnit).where(OrgUnit.code == code))


def _mediation(session, case_id):
    session.expire_all()
    return session.scalar(sa.select(Task).where(Task.case_id == case_id, Task.spec_id == "Task_mediate"))


def test_township_escalates_to_the_county_which_acknowledges(session):
    case = file_matter(session, "clerk_cg")
    township, county = _unit(session, "C01-Q-CG"), _unit(session, "C01-Q")
    mediation = _mediation(session, case.id)
    assert mediation.org_unit_id == township.id
    services.claim_task(session, actor(session, "mediator_cg"), mediation.id)
    transfer = transfers.escalate(session, actor(session, "mediator_cg"), case.id, "涉及多个乡镇，请县中心统筹。")
    session.expire_all()
    assert session.get(Case, case.id).org_unit_id == county.id
    moved = _mediation(session, case.id)
    assert moved.org_unit_id == county.id and moved.assignee_id is None, "the step goes to the county's mediators"
    assert [t.id for t in transfers.pending_for(session, actor(session, "clerk"))] == [transfer.id]
    with pytest.raises(services.Conflict):
        transfers.escalate(session, actor(session, "clerk"), case.id, "again")
    transfers.acknowledge(session, actor(session, "clerk"), transfer.id)
    kinds = session.scalars(sa.select(AuditEvent.kind).where(AuditEvent.case_id == case.id)).all()
    assert "case_escalated" in kinds and "transfer_acknowledged" in kinds
    assert transfers.pending_for(session, actor(session, "clerk")) == []


def test_a_move_not_acknowledged_in_time_comes_back(session):
    with time_machine.travel(START, tick=False) as traveller:
        case = file_matter(session, "clerk_dg")  # village 东关村; its mediation goes to 城关镇
        village = _unit(session, "C01-Q-CG-DG")
        transfers.escalate(session, actor(session, "clerk_dg"), case.id, "")
        assert session.get(Case, case.id).org_unit_id == _unit(session, "C01-Q-CG").id
        traveller.move_to(START + timedelta(hours=23))
        assert transfers.return_unacknowledged(session) == 0
        traveller.move_to(START + timedelta(hours=25))
        assert transfers.return_unacknowledged(session) == 1
        session.expire_all()
        assert session.get(Case, case.id).org_unit_id == village.id
        assert _mediation(session, case.id).org_unit_id == _unit(session, "C01-Q-CG").id, \
            "the village has no mediator: the step stays with the nearest one above"
        kinds = session.scalars(sa.select(AuditEvent.kind).where(AuditEvent.case_id == case.id)).all()
        assert kinds.count("transfer_returned") == 1


def test_the_county_assigns_down_within_its_own_tree_only(session):
    case = file_matter(session, "clerk")
    township = _unit(session, "C01-Q-LL")
    transfers.assign_down(session, actor(session, "supervisor"), case.id, township.id, "由柳林镇就地化解。")
    session.expire_all()
    assert session.get(Case, case.id).org_unit_id == township.id
    other = file_matter(session, "clerk_cg")
    with pytest.raises(NotAllowed):
        transfers.assign_down(session, actor(session, "clerk_cg"), other.id, township.id, "not below 城关镇")
    with pytest.raises(NotFound):
        transfers.escalate(session, actor(session, "clerk_ll"), other.id, "not my case")
    with pytest.raises(NotAllowed):
        transfers.escalate(session, actor(session, "auditor"), other.id, "auditors change nothing")


def test_a_step_that_stays_in_its_unit_keeps_its_handler(session):
    # 东关村 has no mediator: its mediation step sits with 城关镇 already. Escalating the case
    # from the village to 城关镇 leaves that step where it is, claimed by the same mediator.
    case = file_matter(session, "clerk_dg")
    mediation = _mediation(session, case.id)
    services.claim_task(session, actor(session, "mediator_cg"), mediation.id)
    transfers.escalate(session, actor(session, "clerk_dg"), case.id, "村级无法化解")
    assert _mediation(session, case.id).assignee_id == actor(session, "mediator_cg").user_id
