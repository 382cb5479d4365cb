"""Database connection for processes without Flask (the worker, the benchmark, engine tests), and
the pool every process uses (the web application's too, through engine_options)."""
import os
from contextlib import contextmanager

from sqlalchemy import create_engine, event, text
from sqlalchemy.orm import sessionmaker


def engine_options(url):
    """Every connection is checked before it is handed out (pool_pre_ping) and renewed after
    DB_POOL_RECYCLE seconds, so a process outlives a database restart without being restarted:
    a request that meets the database down fails (503), the next one after it is back succeeds.
    On PostgreSQL the pool is sized per process (DB_POOL_SIZE, default 2, and up to 3 more at a
    peak): a synchronous web worker holds one connection at a time, and the sum over every
    worker of every machine must stay under the server's max_connections."""
    options = {"pool_pre_ping": True, "pool_recycle": int(os.environ.get("DB_POOL_RECYCLE", "1800"))}
    if url.startswith("postgresql"):
        options.update(pool_size=int(os.environ.get("DB_POOL_SIZE", "2")), max_overflow=3)
    return options


def engine_for(url, **kwargs):
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    engine = create_engine(url, **{**engine_options(url), **kwargs})
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


# The key of PostgreSQL's advisory lock that one `run.py migrate` holds while it migrates ("yizh").
MIGRATION_LOCK_KEY = 0x79697A68


@contextmanager
def migration_lock(engine):
    """One migration at a time, however many machines start one (each machine's yizhan-migrate
    service runs before its web servers): on PostgreSQL a session advisory lock, on a connection
    of its own outside any transaction, held while Alembic runs; a second `run.py migrate` waits
    for it, then finds nothing left to do. SQLite is one machine's file: nothing to take."""
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as holder:
        holder.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        try:
            yield
        finally:
            holder.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
