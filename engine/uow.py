"""The unit of work: the only place a transaction is committed."""
from sqlalchemy.orm.exc import StaleDataError


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
            return False
        try:
            self.session.commit()
        except StaleDataError as stale:
            self.session.rollback()
            raise Conflict("该事项刚被他人修改，请刷新后重试 / The case was changed by someone else; reload and try again") from stale
        except Exception:
            self.session.rollback()
            raise
        return False
