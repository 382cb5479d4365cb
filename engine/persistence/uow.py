"""The unit of work: the only place a transaction is committed. Case verbs open it through
engine/cases/acting.py; a conflict with another writer is recognised by the driver's error type
and code, never by the wording of its message."""
import sqlite3

import psycopg
from psycopg import errors as pg_errors
from sqlalchemy.exc import DBAPIError, PendingRollbackError, TimeoutError as PoolTimeout
from sqlalchemy.orm.exc import StaleDataError

from engine.errors import Busy, Conflict
from engine.messages import Msg

__all__ = ["BUSY", "Busy", "Conflict", "UnitOfWork", "is_busy", "is_unavailable", "outage_behind", "outage_summary",
           "retrying_busy"]

BUSY = Msg("The system is busy and nothing was saved; submit again in a moment")

# SQLite's primary result codes for "another connection holds the lock" (extended codes such as
# SQLITE_BUSY_SNAPSHOT keep the primary code in their low byte).
_SQLITE_BUSY = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}
# PostgreSQL's: a lock not granted (lock_timeout, NOWAIT), a serializable transaction that lost,
# a deadlock the server broke. Each leaves nothing saved; running the action again is safe.
_PG_BUSY = (pg_errors.LockNotAvailable, pg_errors.SerializationFailure, pg_errors.DeadlockDetected)


def is_busy(error):
    """Did the database refuse because another writer held what we needed? `error` is SQLAlchemy's
    wrapper or the driver's own exception."""
    driver = error.orig if isinstance(error, DBAPIError) else error
    code = getattr(driver, "sqlite_errorcode", None)
    if isinstance(driver, sqlite3.Error) and code is not None:
        return code & 0xFF in _SQLITE_BUSY
    return isinstance(driver, _PG_BUSY)


# PostgreSQL cannot be reached or is going away: no connection (no SQLSTATE), a connection
# exception (class 08), the server shutting down or starting (57P01-57P03), too many connections
# (53300). SQLite's file cannot be opened or read (a storage failure).
_PG_UNAVAILABLE = ("08", "57P", "53300")
_SQLITE_UNAVAILABLE = {sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_IOERR}


def is_unavailable(error):
    """Did the statement fail because the database is down or out of reach (nothing of the
    transaction was kept, and the same request a moment later may well succeed), rather than
    because of what it asked? A pool with no connection free in time counts too."""
    if isinstance(error, PoolTimeout):
        return True
    if not isinstance(error, DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    driver = error.orig
    if isinstance(driver, psycopg.OperationalError):
        return driver.sqlstate is None or driver.sqlstate.startswith(_PG_UNAVAILABLE)
    code = getattr(driver, "sqlite_errorcode", None)
    return isinstance(driver, sqlite3.Error) and code is not None and code & 0xFF in _SQLITE_UNAVAILABLE


# SQLAlchemy's code for "the connection was invalidated (lost) inside a transaction nobody has
# rolled back yet": raised by the next statement on that session, whatever the first one was.
_INVALIDATED_IN_TRANSACTION = "8s2b"


def outage_behind(error):
    """The database outage that `error` is, or was raised from or while handling; None if there is
    none. A lost connection reaches the code as the driver's error, but also as what the next
    statement on the same session says of it (the transaction is invalid), or wrapped by a library
    that caught it."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if is_unavailable(error) or (isinstance(error, PendingRollbackError)
                                     and error.code == _INVALIDATED_IN_TRANSACTION):
            return error
        error = error.__cause__ or error.__context__
    return None


def outage_summary(error):
    """The first line of what the driver said of an outage, for a log line."""
    lines = str(getattr(error, "orig", None) or error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


class UnitOfWork:
    def __init__(self, session):
        self.session = session

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self.session.rollback()
            if is_busy(exc):
                raise Busy(BUSY) from exc
            return False
        try:
            self.session.commit()
        except StaleDataError as stale:
            self.session.rollback()
            raise Conflict(Msg("The case was changed by someone else; reload and try again")) from stale
        except Exception as failed:
            self.session.rollback()
            if is_busy(failed):
                raise Busy(BUSY) from failed
            raise
        return False


def retrying_busy(action, attempts=3):
    """Run `action` (one whole unit of work) again when the database was busy, up to `attempts` times."""
    for attempt in range(attempts):
        try:
            return action()
        except Busy:
            if attempt == attempts - 1:
                raise
