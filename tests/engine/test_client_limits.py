"""Limits per client address (engine/cases/client_limits.py): a sliding window counted in the
database, per address and per scope, forgotten by the housekeeping."""
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
import time_machine

from engine.cases import client_limits, scheduler
from engine.cases.client_limits import Limit
from engine.persistence.models import ClientAttempt

START = datetime(2026, 5, 11, 9, 0, tzinfo=timezone.utc)


def test_the_window_slides(session):
    limit = Limit("lookup", attempts=2, seconds=10)
    at = [START + timedelta(seconds=s) for s in (0, 1, 2, 11, 12)]
    assert [client_limits.allow(session, limit, "10.0.0.1", now=t) for t in at] == [True, True, False, True, True]
    # Another address, and another scope for the same address, count on their own.
    assert client_limits.allow(session, limit, "10.0.0.2", now=at[2]) is True
    assert client_limits.allow(session, Limit("filing_post", 2, 10), "10.0.0.1", now=at[4]) is True


def test_a_batch_takes_what_is_left_and_the_address_is_not_kept(session):
    limit = Limit("filing_file", attempts=5, seconds=3600)
    assert client_limits.take(session, limit, "10.0.0.9", 3, now=START) == 3
    assert client_limits.take(session, limit, "10.0.0.9", 3, now=START) == 2
    assert client_limits.take(session, limit, "10.0.0.9", 1, now=START) == 0
    keys = session.scalars(sa.select(ClientAttempt.client_key).distinct()).all()
    assert len(keys) == 1 and "10.0.0.9" not in keys[0]


def test_housekeeping_forgets_attempts_past_the_longest_window(session_factory, session):
    longest = max(limit.seconds for limit in client_limits.LIMITS)
    client_limits.allow(session, client_limits.LOOKUPS, "10.0.0.1", now=START)
    client_limits.allow(session, client_limits.FILES, "10.0.0.1", now=START + timedelta(seconds=longest - 60))
    with time_machine.travel(START + timedelta(seconds=longest + 1), tick=False):
        scheduler.housekeeping(session_factory)
    session.rollback()
    assert session.scalars(sa.select(ClientAttempt.scope)).all() == ["filing_file"]
