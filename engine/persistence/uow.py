"""The unit of work: the only place a transaction is committed."""
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm.exc import StaleDataError

from engine.messages import Msg

BUSY = Msg("The system is busy and nothing was saved; submit again in a moment")


class Conflict(Exception):
    """Someone else changed the case first (HTTP 409 in the web layer)."""


class Busy(Conflict):
    """SQLite's single writer stayed locked past the busy timeout (engine/persistence/db.py). Nothing was
    saved, so the whole action may simply be run again."""


def _locked(error):
    return isinstance(error, OperationalError) and "locked" in str(error)


class UnitOfWork:
    def __init__(self, session):
        self.session = session

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self.session.rollback()
            if _locked(exc):
                raise Busy(BUSY) from exc
            return False
        try:
            self.session.commit()
        except StaleDataError as stale:
            self.session.rollback()
            raise Conflict(Msg("The case was changed by someone else; reload and try again")) from stale
        except OperationalError as busy:
            self.session.rollback()
            if _locked(busy):
                raise Busy(BUSY) from busy
            raise
        except Exception:
            self.session.rollback()
            raise
        return False


def retrying_busy(action, attempts=3):
    """Run `action` (one whole unit of work) again when SQLite was busy, up to `attempts` times."""
    for attempt in range(attempts):
        try:
            return action()
        except Busy:
            if attempt == attempts - 1:
                raise
