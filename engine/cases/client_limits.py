"""How often one client address may try something without a login: the follow page's look-ups (so
case codes and phone numbers cannot be guessed by brute force), the filing page's posts and the
files it keeps (so one client cannot make the server do unbounded upload work or fill the disk).

Counted in the database, like failed log-ins (engine/access/login_throttle.py) and one-time codes
(phone_codes): a web process keeps nothing between requests, so with several processes on several
machines the limit is one limit, not one per process. Each attempt allowed is a row (the address
kept as a digest); a limit is a number of rows in a sliding window. The sweep's housekeeping
forgets rows older than the longest window."""
from datetime import timedelta
from typing import NamedTuple

from sqlalchemy import delete, func, select

from engine.cases import acting
from engine.legaltime.clock import Clock
from engine.persistence import keys
from engine.persistence.models import ClientAttempt


class Limit(NamedTuple):
    scope: str
    attempts: int
    seconds: int


# Twenty look-ups per client per ten minutes: plenty for a resident, useless for guessing.
LOOKUPS = Limit("lookup", 20, 600)
# Posts of the filing page per client per ten minutes: a resident correcting a form a few times
# and asking for a code or two stays far below it.
PAGE_POSTS = Limit("filing_post", 30, 600)
# Files kept per client per hour: five full forms' worth. Files not filed are forgotten after a
# day; this bounds how fast one client can fill the disk before that.
FILES = Limit("filing_file", 30, 3600)
LIMITS = (LOOKUPS, PAGE_POSTS, FILES)


def take(session, limit, address, wanted=1, now=None):
    """How many of `wanted` attempts `limit` lets this address make now; those are counted, in one
    transaction of their own (a Busy database is the caller's to retry: retrying_busy)."""
    now = now or Clock.now()
    key = keys.client_key(address)
    since = now - timedelta(seconds=limit.seconds)
    in_window = (ClientAttempt.scope == limit.scope, ClientAttempt.client_key == key, ClientAttempt.at > since)
    with acting.as_system(session):
        # On PostgreSQL the address's attempts are row-locked first and counted after, so two
        # processes counting one address at once take turns instead of both taking the last place.
        session.execute(select(ClientAttempt.id).where(*in_window).with_for_update()).all()
        used = session.scalar(select(func.count()).select_from(ClientAttempt).where(*in_window))
        granted = max(0, min(wanted, limit.attempts - used))
        session.add_all([ClientAttempt(scope=limit.scope, client_key=key, at=now) for _ in range(granted)])
    return granted


def allow(session, limit, address, now=None):
    """True (and counted) if this address may try once more now."""
    return take(session, limit, address, 1, now) == 1


def forget_old(session, now=None):
    """Attempts older than the longest window count for nothing any more. Returns how many went."""
    now = now or Clock.now()
    longest = timedelta(seconds=max(limit.seconds for limit in LIMITS))
    with acting.as_system(session):
        return session.execute(delete(ClientAttempt).where(ClientAttempt.at <= now - longest)).rowcount
