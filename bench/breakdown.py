"""--breakdown: where the time of a persisted case goes, by wall clock, in an extra pass run after
the figures (the timers cost a little, so they never touch the headline numbers)."""
import functools
import time
from collections import Counter
from contextlib import contextmanager

from sqlalchemy import event

from engine.library import forms
from engine.workflow import runtime

# Module attributes the services call through (runtime.load_state, formlib.validate, ...), so
# wrapping them here times every call. None of them runs SQL, and no SQL runs any of them.
_TIMED = [
    (runtime, "start", "engine: start, run to the first user task"),
    (runtime, "complete", "engine: complete task, run, diff states"),
    (runtime, "load_state", "engine: load case state (deserialize)"),
    (runtime, "dump_state", "engine: save case state (serialize)"),
    (forms, "data_from_post", "forms: post to data, JSON Schema checks"),
    (forms, "validate", "forms: post to data, JSON Schema checks"),
]
SQL = "SQLite: statements (driver time)"
COMMIT = "SQLite: COMMIT incl. fsync (driver time)"
REST = "ORM, services, audit hashing (the rest)"


@contextmanager
def instrumented(db):
    spent = Counter()
    originals = []

    def timed(label, function):
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            began = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                spent[label] += time.perf_counter() - began
        return wrapper

    for module, name, label in _TIMED:
        original = getattr(module, name)
        originals.append((module, name, original))
        setattr(module, name, timed(label, original))

    bind = db.session.get_bind()
    dialect = bind.dialect
    original_commit = dialect.do_commit
    dialect.do_commit = timed(COMMIT, original_commit)

    def before(conn, cursor, statement, parameters, context, executemany):
        conn.info["bench_began"] = time.perf_counter()

    def after(conn, cursor, statement, parameters, context, executemany):
        spent[SQL] += time.perf_counter() - conn.info.pop("bench_began")

    event.listen(bind, "before_cursor_execute", before)
    event.listen(bind, "after_cursor_execute", after)
    try:
        yield spent
    finally:
        event.remove(bind, "before_cursor_execute", before)
        event.remove(bind, "after_cursor_execute", after)
        dialect.do_commit = original_commit
        for module, name, original in originals:
            setattr(module, name, original)


def run(db, measure, cases):
    """Time `cases` more persisted cases with the timers on. Returns [(label, ms per case)]."""
    with instrumented(db) as spent:
        seconds = measure(cases)
    measured = sum(spent.values())
    rows = [(label, spent[label] / cases * 1000) for label in dict.fromkeys(
        [label for _, _, label in _TIMED] + [SQL, COMMIT])]
    rows.append((REST, (seconds - measured) / cases * 1000))
    rows.append(("total", seconds / cases * 1000))
    return rows
