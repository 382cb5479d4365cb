"""Marks on the daily roll-up, left in the writing transaction: a change to a case filed on a past
China day (closed, rated, overdue, moved to another unit...) makes that day's and that month's
roll-up stale, so the indicators count them live until the sweep rolls them up again
(engine/cases/rollup.py). A change to the unit tree (a unit moved, its level changed) makes every
span stale, since each row counts a unit with everything below it.

The mark is an upsert that adds one to `stale`: it takes the span's row lock, so a roll-up of the
same span that runs meanwhile either waits for this transaction (and then reads its change) or
has finished before it (and the span stays stale for the next pass)."""
from datetime import date

from sqlalchemy import event, inspect, update
from sqlalchemy.orm import Session
from sqlalchemy.dialects import postgresql, sqlite

from engine.legaltime.clock import Clock, as_utc, china_date
from engine.persistence.models import Case, OrgUnit, RollupSpan

# The case fields the roll-up counts by (the day is the filing day, which never changes).
ROLLED_FIELDS = ("org_unit_id", "kind", "category", "outcome", "satisfaction", "status", "overdue")


def month_of(day):
    return date(day.year, day.month, 1)


def mark_stale(connection, days):
    """Mark the roll-up of these China days and their months stale. Days of today or later are
    not rolled up (readers count them live), so they need no mark."""
    today = china_date(Clock.now())
    spans = sorted({("day", d) for d in days if d < today} | {("month", month_of(d)) for d in days if d < today})
    if spans:
        upsert_spans(connection, spans, 1, RollupSpan.__table__.c.stale + 1)


def upsert_spans(connection, spans, new, existing):
    """Give the (span, start) rows `stale` = `new` if they are not there yet, else `existing`."""
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(RollupSpan.__table__)
    connection.execute(statement.on_conflict_do_update(index_elements=["span", "start"], set_={"stale": existing}),
                       [{"span": span, "start": start, "stale": new} for span, start in spans])


def filing_day(case):
    return china_date(as_utc(case.created_at))


@event.listens_for(Session, "before_flush")
def _mark_what_changes(session, _context, _instances):
    """One mark per flush for the past days of the cases it writes (a sweep's batch of fired
    timers is one statement); every span when a unit moves in the tree."""
    days = set()
    for thing in session.new:
        if isinstance(thing, Case) and thing.created_at is not None:
            days.add(filing_day(thing))
    for thing in session.dirty:
        if isinstance(thing, Case) and changed(thing, ROLLED_FIELDS):
            days.add(filing_day(thing))
        elif isinstance(thing, OrgUnit) and _moved(thing):
            session.connection().execute(update(RollupSpan.__table__).values(stale=RollupSpan.__table__.c.stale + 1))
    if days:
        mark_stale(session.connection(), days)


def changed(thing, fields):
    """Did any of these attributes change since the object was loaded or last flushed?"""
    attributes = inspect(thing).attrs
    return any(attributes[name].history.has_changes() for name in fields)


def _moved(unit):
    """A unit's place in the tree or its level changed. A new unit gets its path once it has an
    id: no case is counted under it yet."""
    history = inspect(unit).attrs.path.history
    moved = history.has_changes() and not (history.deleted and all(old in (None, "/") for old in history.deleted))
    return moved or changed(unit, ("level",))
