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


@event.listens_for(Case, "after_update")
def _case_changed(_mapper, connection, case):
    attributes = inspect(case).attrs
    if any(attributes[name].history.has_changes() for name in ROLLED_FIELDS):
        mark_stale(connection, [filing_day(case)])


@event.listens_for(Case, "after_insert")
def _case_added(_mapper, connection, case):
    # A case entered with a filing day in the past (an import of older matters).
    if case.created_at is not None:
        mark_stale(connection, [filing_day(case)])


@event.listens_for(OrgUnit, "after_update")
def _tree_changed(_mapper, connection, unit):
    # A new unit gets its path once it has an id: no case is counted under it yet.
    attributes = inspect(unit).attrs
    history = attributes.path.history
    moved = history.has_changes() and not (history.deleted and all(old in (None, "/") for old in history.deleted))
    if moved or attributes.level.history.has_changes():
        connection.execute(update(RollupSpan.__table__).values(stale=RollupSpan.__table__.c.stale + 1))
