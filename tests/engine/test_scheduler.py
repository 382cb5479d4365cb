"""The timer sweep as the scheduler runs it: its own session, every due timer, once."""
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
import time_machine

from engine.cases import scheduler
from engine.legaltime.clock import Clock
from engine.persistence.models import AuditEvent, Case, Timer

from ..conftest import ROOT
from .helpers import file_matter

START = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)


def test_sweep_fires_what_came_due_while_down_oldest_first(session, session_factory):
    with time_machine.travel(START, tick=False) as traveller:
        first = file_matter(session)
        traveller.move_to(START + timedelta(hours=1))
        second = file_matter(session)
        session.commit()
        assert scheduler.sweep(session_factory) == 0
        # The server was down for two months: both deadlines passed meanwhile.
        traveller.move_to(START + timedelta(days=62))
        assert scheduler.sweep(session_factory) == 2
        assert scheduler.sweep(session_factory) == 0
    session.expire_all()
    fired = session.execute(sa.select(Timer.case_id, Timer.fired_at).where(Timer.state == "fired")
                            .order_by(Timer.fired_at, Timer.id)).all()
    assert [row.case_id for row in fired] == [first.id, second.id]
    assert all(session.get(Case, case_id).overdue for case_id in (first.id, second.id))


def test_one_broken_case_does_not_block_the_others(session, session_factory):
    with time_machine.travel(START, tick=False) as traveller:
        broken = file_matter(session)
        healthy = file_matter(session)
        session.execute(sa.update(Case).where(Case.id == broken.id).values(state="{not json"))
        session.commit()
        traveller.move_to(START + timedelta(days=40))
        assert scheduler.sweep(session_factory) == 1
    session.expire_all()
    assert session.get(Case, healthy.id).overdue is True
    broken_case = session.get(Case, broken.id)
    assert broken_case.error and "timer" in broken_case.error
    assert session.scalar(sa.select(Timer.state).where(Timer.case_id == broken.id)) == "failed"


def test_scheduler_runs_the_sweep_at_once_then_on_the_interval(session_factory):
    sched = scheduler.make_scheduler(session_factory, interval_seconds=1.0)
    job = sched.get_job("timer-sweep")
    assert job is not None and job.trigger.interval == timedelta(seconds=1)
    assert job.kwargs == {} and job.args == (session_factory,)


def _swept(session_factory, expected):
    """One sweep in its own session, which fires `expected` timers: the statements it ran, as
    (their first two words, whether an executemany)."""
    from engine.cases import services
    statements = []
    engine = session_factory.kw["bind"]

    def record(_conn, _cursor, statement, _params, _context, executemany):
        statements.append((" ".join(statement.split()[:2]), executemany))
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        sweep_session = session_factory()
        assert services.fire_due_timers(sweep_session) == expected
        sweep_session.close()
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    return statements


def test_a_batch_writes_its_case_rows_together_and_marks_their_past_days(session, session_factory):
    """Firing several timers in one batch writes the case rows with one versioned statement, each
    case's version goes up by one, and the days they were filed on are marked for the roll-up
    (their overdue flag changed)."""
    from engine.persistence.models import RollupSpan
    with time_machine.travel(START, tick=False) as traveller:
        cases = [file_matter(session) for _ in range(4)]
        session.commit()
        versions = {case.id: case.lock_version for case in cases}
        traveller.move_to(START + timedelta(days=40))
        statements = _swept(session_factory, 4)
    case_updates = [s for s in statements if s[0] == "UPDATE cases"]
    assert case_updates == [("UPDATE cases", True)]
    session.expire_all()
    for case in cases:
        fresh = session.get(Case, case.id)
        assert fresh.overdue is True and fresh.lock_version == versions[case.id] + 1
    day = START.date()
    assert session.scalar(sa.select(RollupSpan.stale).where(RollupSpan.span == "day", RollupSpan.start == day)) == 1


def test_a_batch_closes_the_timers_it_fired_by_one_statement_and_no_other(session, session_factory):
    """The timers a batch fired are closed together (one UPDATE of (case, timer) pairs), each
    fired at the batch's moment; a case's timer that is not due yet stays waiting."""
    with time_machine.travel(START, tick=False) as traveller:
        due = [file_matter(session) for _ in range(3)]
        traveller.move_to(START + timedelta(days=20))
        later = file_matter(session)
        session.commit()
        traveller.move_to(START + timedelta(days=40))
        statements = _swept(session_factory, 3)
    assert [statement for statement, _many in statements].count("UPDATE timers") == 1
    session.expire_all()
    rows = session.execute(sa.select(Timer.case_id, Timer.state, Timer.fired_at)).all()
    fired = {row.case_id: row.fired_at for row in rows if row.state == "fired"}
    assert set(fired) == {case.id for case in due} and len(set(fired.values())) == 1
    assert [row.state for row in rows if row.case_id == later.id] == ["waiting"]


def test_a_job_meeting_an_outage_logs_one_line_and_the_next_run_tries_again(session_factory, caplog):
    """A database restarting: each run of a job says so in one warning (no traceback) and returns;
    any other error is still raised for the scheduler to log in full."""
    import psycopg

    lost = sa.exc.OperationalError("SELECT 1", {}, psycopg.OperationalError(
        "connection failed: FATAL:  the database system is shutting down\nmore detail"))

    def meets_outage(_factory):
        raise lost

    def has_a_bug(_factory):
        raise KeyError("a bug")

    with caplog.at_level("WARNING", logger="engine.cases.scheduler"):
        assert scheduler.through_outages(meets_outage)(session_factory) is None
    [record] = caplog.records
    assert record.getMessage() == ("meets_outage: the database cannot be reached (connection failed: FATAL:  "
                                   "the database system is shutting down); the next run tries again")
    assert record.exc_info is None
    with pytest.raises(KeyError):
        scheduler.through_outages(has_a_bug)(session_factory)
    jobs = scheduler.make_scheduler(session_factory).get_jobs()
    assert {job.func.__wrapped__ for job in jobs} == {scheduler.sweep, scheduler.roll_up, scheduler.housekeeping}


@pytest.mark.skipif(not os.environ.get("DATABASE_URL", "").startswith("postgresql"),
                    reason="row locks with SKIP LOCKED are PostgreSQL's; SQLite has one writer")
def test_sweepers_take_the_due_timers_another_holds_not(session, session_factory):
    """While one sweeper holds the two oldest due timers in its transaction, another sweeper fires
    the two others at once (no waiting on it) and never those two; once the first lets go, they
    fire, each once."""
    from engine.cases import services
    with time_machine.travel(START, tick=False) as traveller:
        cases = [file_matter(session) for _ in range(4)]
        session.commit()
        traveller.move_to(START + timedelta(days=40))
        holder, other = session_factory(), session_factory()
        try:
            held = services._claim_due(holder, Clock.now(), 2, set())
            assert [timer.case_id for timer in held] == [cases[0].id, cases[1].id]
            assert services.fire_due_timers(other) == 2
            holder.rollback()
            assert services.fire_due_timers(other) == 2
            assert services.fire_due_timers(other) == 0
        finally:
            holder.close()
            other.close()
    fired = session.execute(sa.select(AuditEvent.case_id, sa.func.count()).where(
        AuditEvent.kind == "timer_fired").group_by(AuditEvent.case_id)).all()
    assert dict(fired) == {case.id: 1 for case in cases}


def _children(pid):
    """The ids of the processes whose parent is `pid` (from /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = open(f"/proc/{entry}/stat").read()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads the processes from /proc")
def test_a_worker_of_several_processes_stops_its_helpers_with_it(schema):
    """`run.py worker` with SWEEP_PROCESSES=3 runs two helper sweepers beside itself; on SIGTERM it
    stops them before it exits, leaving no process behind."""
    env = dict(os.environ, DATABASE_URL=schema, SWEEP_PROCESSES="3", SWEEP_SECONDS="0.2")
    worker = subprocess.Popen([sys.executable, "run.py", "worker"], cwd=ROOT, env=env, start_new_session=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        helpers = []
        deadline = time.monotonic() + 60
        while len(helpers) < 2 and time.monotonic() < deadline:  # bounded: the helpers are other processes
            time.sleep(0.2)
            helpers = [pid for pid in _children(worker.pid) if _is_helper(pid)]
        assert len(helpers) >= 2
    finally:
        worker.terminate()
        try:
            out, _err = worker.communicate(timeout=90)
        except subprocess.TimeoutExpired:
            # Whatever failed, nothing of it may go on writing into the next test's database.
            os.killpg(worker.pid, signal.SIGKILL)
            worker.communicate()
            raise
    assert worker.returncode == 0
    assert "in 3 process(es)" in out.decode()
    assert [pid for pid in helpers if _is_helper(pid)] == []


def _is_helper(pid):
    """A process started by multiprocessing's spawn (the helpers; not its resource tracker)."""
    try:
        return b"spawn_main" in open(f"/proc/{pid}/cmdline", "rb").read()
    except OSError:
        return False
