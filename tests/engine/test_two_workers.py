"""Two timer workers, one of them of two processes, against one PostgreSQL database: every due
timer fires exactly once.
The timers are made due by setting their due time in the past (no waiting on the clock); the
workers are real `run.py worker` processes."""
import os
import subprocess
import sys
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from engine.library import catalog
from engine.workflow import runtime
from engine.legaltime.clock import Clock
from engine.persistence.models import AuditEvent, Case, Timer

from ..conftest import ROOT
from .helpers import file_matter

CASES = 30


def _make_due(session, case_id):
    """Move a case's waiting deadline into the past, in its workflow state and in its row."""
    case = session.get(Case, case_id)
    version = catalog.version_info(session, case.process_version_id)
    workflow = runtime.load_state(case.state, version.specs(session))
    timer = session.scalar(sa.select(Timer).where(Timer.case_id == case_id, Timer.state == "waiting"))
    past = Clock.now() - timedelta(minutes=5)
    runtime.find_task(workflow, timer.spiff_task_id).internal_data["event_value"] = past.isoformat()
    case.state = runtime.dump_state(workflow)
    timer.due_at = past
    session.commit()


@pytest.mark.skipif(not os.environ.get("DATABASE_URL", "").startswith("postgresql"),
                    reason="row locks with SKIP LOCKED are PostgreSQL's; SQLite has one writer")
def test_two_workers_fire_each_timer_once(session, schema):
    ids = [file_matter(session).id for _ in range(CASES)]
    for case_id in ids:
        _make_due(session, case_id)
    env = dict(os.environ, DATABASE_URL=schema, SWEEP_SECONDS="0.2")
    # Three sweepers: one worker of one process, one of two (SWEEP_PROCESSES).
    workers = [subprocess.Popen([sys.executable, "run.py", "worker"], cwd=ROOT, env=dict(env, SWEEP_PROCESSES=n),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for n in ("1", "2")]
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # bounded: the workers are other processes
            session.expire_all()
            waiting = session.scalar(sa.select(sa.func.count()).select_from(Timer).where(
                Timer.case_id.in_(ids), Timer.state == "waiting"))
            if waiting == 0:
                break
            time.sleep(0.2)
    finally:
        for worker in workers:
            worker.terminate()
        errors = [worker.communicate(timeout=20)[1].decode() for worker in workers]
    fired = session.execute(sa.select(AuditEvent.case_id, sa.func.count()).where(
        AuditEvent.case_id.in_(ids), AuditEvent.kind == "timer_fired").group_by(AuditEvent.case_id)).all()
    assert dict(fired) == {case_id: 1 for case_id in ids}, errors
    assert all(session.get(Case, case_id).overdue for case_id in ids)
