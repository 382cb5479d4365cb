"""The one who handled a case's last step of a role keeps its next step of that role, instead of
the step going back to the pool to be claimed again: the first handler stays responsible until a
supervisor reassigns, or a step is released and someone else does it. Resident departments' steps
stay in the department's pool, and a handler who can no longer work the step is skipped."""
import pytest
import sqlalchemy as sa
from werkzeug.security import generate_password_hash

from engine.access import accounts
from engine.cases import services, supervision
from engine.demo import DEMO_PASSWORD
from engine.persistence.models import AuditEvent, OrgUnit, User, UserRole
from tests.conftest import wipe_cases

from .helpers import (
    ACCEPTED, MEDIATION_SUCCESS, WINDOW_NO, WINDOW_YES, actor, complete, file_matter, open_task,
)

# The same second county mediator the web tests use, so both create it the same way.
SECOND = ("mediator2", "陈调解（县人民调解委员会）")


@pytest.fixture
def second_mediator(session, session_factory):
    """A second county mediator for this test only: other engine tests count the county's mediators."""
    username, display = SECOND
    made = session.scalar(sa.select(User.id).where(User.username == username)) is None
    if made:
        county = session.scalar(sa.select(OrgUnit).where(OrgUnit.code == "C01-Q"))
        accounts.create_user(session, username, generate_password_hash(DEMO_PASSWORD, method="pbkdf2:sha256:1000"),
                             display, county.id, ["mediator"])
        session.commit()
    yield username
    if made:
        session.rollback()
        wipe_cases(session_factory)  # the cases it worked on name it
        user_id = _user_id(session, username)
        session.execute(sa.delete(UserRole).where(UserRole.user_id == user_id))
        session.execute(sa.delete(User).where(User.id == user_id))
        session.commit()


def _user_id(session, username):
    return session.scalar(sa.select(User.id).where(User.username == username))


def _kept(session, case_id):
    return [(e.task_spec, e.detail["to"]) for e in session.scalars(
        sa.select(AuditEvent).where(AuditEvent.case_id == case_id, AuditEvent.kind == "task_assigned")
        .order_by(AuditEvent.seq))]


def test_the_mediator_who_mediated_keeps_the_next_mediator_step(session):
    case = file_matter(session)
    # The first mediator step waits in the pool: nobody of that role handled the case yet.
    assert open_task(session, case.id, "Task_mediate").assignee_id is None
    complete(session, "mediator", case.id, "Task_mediate", MEDIATION_SUCCESS)
    step = open_task(session, case.id, "Task_confirm_window")
    assert step.assignee_id == _user_id(session, "mediator")
    assert _kept(session, case.id) == [("Task_confirm_window", "李调解（县人民调解委员会）")]
    # The clerk who filed it keeps the clerk's closing step in the same way.
    complete(session, "mediator", case.id, "Task_confirm_window", WINDOW_NO)
    assert open_task(session, case.id, "Task_close").assignee_id == _user_id(session, "clerk")


def test_after_a_reassign_the_new_holder_keeps_the_next_step(session, second_mediator):
    case = file_matter(session)
    services.claim_task(session, actor(session, "mediator"), open_task(session, case.id, "Task_mediate").id)
    supervision.assign_task(session, actor(session, "supervisor"), open_task(session, case.id, "Task_mediate").id,
                            _user_id(session, second_mediator), "李调解休假，改由陈调解承办")
    complete(session, second_mediator, case.id, "Task_mediate", MEDIATION_SUCCESS)
    assert open_task(session, case.id, "Task_confirm_window").assignee_id == _user_id(session, second_mediator)


def test_a_released_step_does_not_make_the_releaser_responsible(session, second_mediator):
    case = file_matter(session)
    task_id = open_task(session, case.id, "Task_mediate").id
    services.claim_task(session, actor(session, "mediator"), task_id)
    services.release_task(session, actor(session, "mediator"), task_id)
    # Whoever then does the step answers for the case's next one.
    complete(session, second_mediator, case.id, "Task_mediate", MEDIATION_SUCCESS)
    assert open_task(session, case.id, "Task_confirm_window").assignee_id == _user_id(session, second_mediator)


def test_a_deactivated_handler_is_skipped_and_the_step_waits_in_the_pool(session):
    case = file_matter(session)
    clerk = session.scalar(sa.select(User).where(User.username == "clerk"))
    clerk.active = False
    session.commit()
    try:
        complete(session, "mediator", case.id, "Task_mediate", MEDIATION_SUCCESS)
        complete(session, "mediator", case.id, "Task_confirm_window", WINDOW_NO)
        assert open_task(session, case.id, "Task_close").assignee_id is None
        assert _kept(session, case.id) == [("Task_confirm_window", "李调解（县人民调解委员会）")]
    finally:
        clerk.active = True
        session.commit()


def test_a_handler_who_no_longer_holds_the_role_is_skipped(session):
    case = file_matter(session)
    clerk_id = _user_id(session, "clerk")
    session.execute(sa.delete(UserRole).where(UserRole.user_id == clerk_id))
    session.add(UserRole(user_id=clerk_id, role="supervisor"))
    session.commit()
    try:
        complete(session, "mediator", case.id, "Task_mediate", MEDIATION_SUCCESS)
        complete(session, "mediator", case.id, "Task_confirm_window", WINDOW_NO)
        assert open_task(session, case.id, "Task_close").assignee_id is None
    finally:
        session.execute(sa.delete(UserRole).where(UserRole.user_id == clerk_id))
        session.add(UserRole(user_id=clerk_id, role="clerk"))
        session.commit()


def test_a_resident_departments_next_step_stays_in_its_pool(session):
    case = file_matter(session)
    complete(session, "mediator", case.id, "Task_mediate", MEDIATION_SUCCESS)
    complete(session, "mediator", case.id, "Task_confirm_window", WINDOW_YES)
    complete(session, "dept_court", case.id, "Task_court_accept", ACCEPTED)
    assert open_task(session, case.id, "Task_court_confirm").assignee_id is None
    assert [spec for spec, _to in _kept(session, case.id)] == ["Task_confirm_window"]
