"""The unit of work: the only place a transaction is committed."""
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm.exc import StaleDataError

BUSY = "该事项正在被他人办理，请稍后重试 / Someone else is working on this case; try again in a moment"


class Conflict(Exception):
    """Someone else changed the case first (HTTP 409 in the web layer)."""


class UnitOfWork:
    def __init__(self, session):
        self.session = session

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self.session.rollback()
            if isinstance(exc, OperationalError) and "locked" in str(exc):
                # SQLite refuses a writer whose snapshot is stale: another action got there first.
                raise Conflict(BUSY) from exc
            return False
        try:
            self.session.commit()
        except StaleDataError as stale:
            self.session.rollback()
            raise Conflict("该事项刚被他人修改，请刷新后重试 / The case was changed by someone else; reload and try again") from stale
        except OperationalError as busy:
            self.session.rollback()
            if "locked" in str(busy):
                raise Conflict(BUSY) from busy
            raise
        except Exception:
            self.session.rollback()
            raise
        return False
