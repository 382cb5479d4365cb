"""The timer sweep as the scheduler runs it: its own session, every due timer, once."""
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
import time_machine

from engine.cases import scheduler
from engine.persistence.models import Case, Timer

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
