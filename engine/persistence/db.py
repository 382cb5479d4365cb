"""Database connection for processes without Flask (the worker, the benchmark, engine tests)."""
from sqlalchemy import create_engine, event
from sqlalchemy.orm import sessionmaker


def engine_for(url, **kwargs):
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    engine = create_engine(url, **kwargs)
    if url.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


# How long a writer waits for SQLite's single write lock before giving up (then the action is run
# again, see uow.retrying_busy, and at last the form comes back as typed).
SQLITE_BUSY_MS = 10_000


def _sqlite_pragmas(dbapi_connection, _record):
    cursor = dbapi_connection.cursor()
    # First, so that even switching to WAL waits for a lock instead of failing at once.
    cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_MS)}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def session_factory(url, **kwargs):
    return sessionmaker(bind=engine_for(url, **kwargs), expire_on_commit=False)
