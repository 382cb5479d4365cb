"""The one way to act on a case: each user action and each timer firing is exactly one transaction,
and a conflict with another writer is known by the driver's error type, not by its wording."""
import sqlite3
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
import time_machine
from psycopg import errors as pg_errors
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from engine.cases import clocks, services, supervision, transfers
from engine.errors import Busy, NotAllowed
from engine.persistence.models import Case, CaseParty, DiagramDraft, ProcessVersion, Task, Timer
from engine.persistence.uow import UnitOfWork, is_busy
from tests.conftest import ROOT

from .helpers import MEDIATION_SUCCESS, WINDOW_NO, actor, complete, file_matter, open_task

START = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)


@contextmanager
def _heard(target, name):
    """The arguments of each `name` event `target` fires while the block runs."""
    heard = []
    listener = lambda *args: heard.append(args)  # noqa: E731 - a one-line listener
    event.listen(target, name, listener)
    try:
        yield heard
    finally:
        event.remove(target, name, listener)


def commits(session):
    """The transactions committed on `session` while the block runs (one entry each)."""
    return _heard(session, "after_commit")


def _sql(calls):
    """The statements of before_cursor_execute events, on one line each."""
    return [" ".join(statement.split()) for _conn, _cursor, statement, *_rest in calls]


def test_each_user_action_is_one_transaction(session):
    with commits(session) as filed:
        case = file_matter(session)
    assert len(filed) == 1
    mediator, supervisor = actor(session, "mediator"), actor(session, "supervisor")
    task = open_task(session, case.id, "Task_mediate")
    actions = [
        lambda: services.claim_task(session, mediator, task.id),
        lambda: services.release_task(session, mediator, task.id),
        lambda: clocks.stop_clock(session, mediator, task.id, "等待当事人补充材料"),
        lambda: clocks.restart_clock(session, mediator, task.id, "材料已补齐"),
        lambda: supervision.flag_case(session, supervisor, case.id, "群体性风险"),
        lambda: supervision.remind(session, supervisor, task.id, "请三日内办结"),
        lambda: supervision.unflag_case(session, supervisor, case.id, "风险已化解"),
        lambda: services.complete_task(session, mediator, task.id, MEDIATION_SUCCESS),
    ]
    for action in actions:
        with commits(session) as counted:
            action()
        assert len(counted) == 1


def test_filing_deletes_no_parties_and_writes_them(session):
    """A case being filed has no parties to delete before its own are written."""
    with _heard(session.get_bind(), "before_cursor_execute") as calls:
        case = file_matter(session)
    sent = _sql(calls)
    assert not [s for s in sent if s.startswith("DELETE FROM case_parties")]
    assert [s for s in sent if s.startswith("INSERT INTO case_parties")]
    assert session.scalar(sa.select(sa.func.count()).select_from(CaseParty).where(CaseParty.case_id == case.id)) == 2


def test_an_application_step_answered_no_loads_no_step_for_a_dossier(session):
    """A judicial-confirmation application step answered "no" makes no dossier, and that is told
    without loading the step and its case for one."""
    case = file_matter(session)
    complete(session, "mediator", case.id, "Task_mediate", MEDIATION_SUCCESS)
    task_id = session.scalar(sa.select(Task.id).where(Task.case_id == case.id, Task.spec_id == "Task_confirm_window",
                                                      Task.state == "ready"))
    mediator = actor(session, "mediator")
    session.expunge_all()  # as in a new request: nothing of the case in the session yet
    with _heard(session.get_bind(), "before_cursor_execute") as calls:
        case = services.complete_task(session, mediator, task_id, WINDOW_NO)
    assert not [s for s in _sql(calls) if s.startswith("SELECT tasks.id,") and " FROM tasks WHERE tasks.id = " in s]
    assert case.current_step and case.status == "open"


def test_a_refused_action_commits_nothing(session):
    case = file_matter(session)
    with commits(session) as counted, pytest.raises(NotAllowed):
        supervision.flag_case(session, actor(session, "mediator"), case.id, "not a supervisor")
    assert counted == []


def test_a_move_and_its_acknowledgement_are_one_transaction_each(session):
    case = file_matter(session, "clerk_cg")
    with commits(session) as counted:
        moved = transfers.escalate(session, actor(session, "mediator_cg"), case.id, "跨乡镇")
    assert len(counted) == 1
    with commits(session) as counted:
        transfers.acknowledge(session, actor(session, "clerk"), moved.id)
    assert len(counted) == 1


def _sweep_after_two_months(session, broken=False):
    """File a matter (its state made unreadable if `broken`), then sweep when its deadline has
    passed. Returns (the case id, timers fired, transactions committed by the sweep)."""
    with time_machine.travel(START, tick=False) as traveller:
        case_id = file_matter(session).id
        if broken:
            session.execute(sa.update(Case).where(Case.id == case_id).values(state="{not json"))
        session.commit()
        traveller.move_to(START + timedelta(days=62))
        with commits(session) as counted:
            fired = services.fire_due_timers(session)
    session.expire_all()
    return case_id, fired, len(counted)


def test_a_timer_firing_is_one_transaction(session):
    case_id, fired, committed = _sweep_after_two_months(session)
    assert (fired, committed) == (1, 1)
    assert session.get(Case, case_id).overdue is True


def test_a_failed_timer_is_one_transaction_marking_case_and_timer(session):
    """The batch fails and is rolled back; the timer alone fails again and is rolled back; then the
    case's error and the timer's state are written together, in one commit."""
    case_id, fired, committed = _sweep_after_two_months(session, broken=True)
    assert (fired, committed) == (0, 1)
    assert "timer" in session.get(Case, case_id).error
    assert session.scalars(sa.select(Timer.state).where(Timer.case_id == case_id)).all() == ["failed"]


def _changed_diagram(session):
    newest = session.scalar(sa.select(ProcessVersion).order_by(ProcessVersion.id.desc()))
    return newest.files["bpmn/close_followup.bpmn"].replace('name="办理完毕"', 'name="各环节办理完毕"', 1)


def test_publishing_a_draft_is_one_transaction_and_the_draft_goes(session):
    designer = actor(session, "designer")
    before = session.scalar(sa.select(sa.func.count(ProcessVersion.id)))
    with commits(session) as counted:
        created, problems = services.publish_draft(session, designer, "close_followup.bpmn", ROOT / "bpmn",
                                                   ROOT / "forms", xml=_changed_diagram(session))
    assert problems == [] and created
    assert len(counted) == 1
    assert session.scalar(sa.select(sa.func.count(ProcessVersion.id))) > before
    assert session.scalar(sa.select(DiagramDraft).where(DiagramDraft.filename == "close_followup.bpmn")) is None


def test_a_draft_with_problems_is_kept_and_nothing_is_published(session):
    designer = actor(session, "designer")
    before = session.scalar(sa.select(sa.func.count(ProcessVersion.id)))
    try:
        with commits(session) as counted:
            created, problems = services.publish_draft(session, designer, "close_followup.bpmn", ROOT / "bpmn",
                                                       ROOT / "forms", xml="<definitions>broken")
        assert created == [] and problems and len(counted) == 1
        assert session.scalar(sa.select(sa.func.count(ProcessVersion.id))) == before
        kept = session.scalar(sa.select(DiagramDraft).where(DiagramDraft.filename == "close_followup.bpmn"))
        assert kept is not None and kept.xml == "<definitions>broken"
    finally:
        session.execute(sa.delete(DiagramDraft))
        session.commit()


# ---- a conflict is known by its type ------------------------------------------------------------

def _real_sqlite_busy(tmp_path):
    """The error SQLite itself gives a second writer while the first holds the write lock."""
    path = tmp_path / "busy.db"
    first = sqlite3.connect(path, timeout=0, isolation_level=None)
    first.execute("CREATE TABLE t (x)")
    first.execute("BEGIN IMMEDIATE")
    second = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        second.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as busy:
        return busy
    finally:
        first.rollback()
        first.close()
        second.close()
    raise AssertionError("the second writer was not refused")


def _wrapped(driver_error):
    return OperationalError("INSERT INTO t VALUES (1)", {}, driver_error)


def test_sqlite_busy_is_recognised_by_its_code(tmp_path):
    busy = _real_sqlite_busy(tmp_path)
    assert busy.sqlite_errorcode == sqlite3.SQLITE_BUSY
    assert is_busy(busy) and is_busy(_wrapped(busy))


def test_an_error_that_merely_says_locked_is_not_busy():
    said = sqlite3.OperationalError("table locked_rows has no column x")
    said.sqlite_errorcode = sqlite3.SQLITE_ERROR
    assert not is_busy(_wrapped(said))
    assert not is_busy(_wrapped(RuntimeError("database is locked")))
    assert not is_busy(_wrapped(pg_errors.UndefinedColumn("column locked does not exist")))


@pytest.mark.parametrize("kind", [pg_errors.LockNotAvailable, pg_errors.SerializationFailure,
                                  pg_errors.DeadlockDetected])
def test_postgresql_lock_failures_are_busy(kind):
    assert is_busy(_wrapped(kind("could not obtain lock")))


def test_the_unit_of_work_turns_a_busy_database_into_busy_and_rolls_back(session, tmp_path):
    busy = _real_sqlite_busy(tmp_path)
    with pytest.raises(Busy):
        with UnitOfWork(session):
            raise _wrapped(busy)
    said = sqlite3.OperationalError("no such table: locked")
    said.sqlite_errorcode = sqlite3.SQLITE_ERROR
    with pytest.raises(OperationalError):
        with UnitOfWork(session):
            raise _wrapped(said)
