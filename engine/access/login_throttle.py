"""Slowing down password guessing without letting anyone lock a login out.

Failed log-ins are counted per (login name typed, client address) and per client address. After a
few free failures each further one makes that key wait before its next attempt, twice as long
each time up to a cap. The real user at another address is never held up by someone guessing
their password elsewhere; a name that does not exist is counted exactly like one that does, so
the answers say nothing about which logins exist. Kept in the database, so several web
processes share the count and a restart does not reset it."""
import hashlib
import math
from datetime import timedelta

from sqlalchemy import delete

from engine.legaltime.clock import Clock, as_utc
from engine.persistence.models import LoginThrottle


class Rule:
    def __init__(self, scope, free, forget):
        self.scope = scope
        self.free = free            # failures before any delay
        self.forget = forget        # a key quiet this long starts from zero again


# One login from one address: a typo or two costs nothing, then 1 s, 2 s, 4 s ... up to the cap.
PAIR = Rule("pair", free=3, forget=timedelta(hours=24))
# One address trying many logins (spraying a common password): more room, since an office shares
# one address, and forgotten after an hour without failures.
ADDRESS = Rule("address", free=20, forget=timedelta(hours=1))
FIRST_DELAY = timedelta(seconds=1)
MAX_DELAY = timedelta(minutes=15)


def _key(rule, username, address):
    text = f"{rule.scope}\n{username.lower() if rule is PAIR else ''}\n{address or '?'}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _keys(username, address):
    return [(PAIR, _key(PAIR, username, address)), (ADDRESS, _key(ADDRESS, username, address))]


def delay_after(failures, rule):
    """How long a key waits after its `failures`-th failure in a row."""
    if failures <= rule.free:
        return timedelta(0)
    return min(MAX_DELAY, FIRST_DELAY * 2 ** min(failures - rule.free - 1, 20))


def wait_seconds(session, username, address, now=None):
    """Seconds before this name may be tried again from this address (0: now)."""
    now = now or Clock.now()
    wait = 0
    for rule, key in _keys(username, address):
        row = session.get(LoginThrottle, key)
        if row is not None and row.blocked_until is not None and as_utc(row.last_failure_at) > now - rule.forget:
            wait = max(wait, (as_utc(row.blocked_until) - now).total_seconds())
    return max(0, math.ceil(wait))


def failed(session, username, address, now=None):
    """Count a failure; returns the seconds before the next attempt (0: at once)."""
    now = now or Clock.now()
    wait = timedelta(0)
    session.execute(delete(LoginThrottle).where(LoginThrottle.last_failure_at < now - PAIR.forget))
    for rule, key in _keys(username, address):
        row = session.get(LoginThrottle, key)
        if row is None:
            row = LoginThrottle(key=key, failures=0)
            session.add(row)
        elif as_utc(row.last_failure_at) <= now - rule.forget:
            row.failures = 0
        row.failures += 1
        row.last_failure_at = now
        pause = delay_after(row.failures, rule)
        row.blocked_until = now + pause if pause else None
        wait = max(wait, pause)
    return math.ceil(wait.total_seconds())


def succeeded(session, username, address):
    """The right password: this name at this address starts afresh (the address count stays)."""
    session.execute(delete(LoginThrottle).where(LoginThrottle.key == _key(PAIR, username, address)))
