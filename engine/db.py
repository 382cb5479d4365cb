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


def _sqlite_pragmas(dbapi_connection, _record):
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def session_factory(url, **kwargs):
    return sessionmaker(bind=engine_for(url, **kwargs), expire_on_commit=False)
