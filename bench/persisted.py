"""The same case through the engine services on a fresh SQLite file: start_case (clerk), then
complete_task for mediation (mediator), close and return visit (clerk). Each of those is one
unit of work that loads the case, runs the engine, saves state, task, timer and audit rows and
commits, exactly as the web layer calls them."""
import itertools
import json
import os
import sqlite3
import time
from collections import Counter
from dataclasses import dataclass

from sqlalchemy import event, select

from engine.cases import services
from engine.persistence.db import session_factory
from engine.demo import load_demo
from engine.persistence.models import AuditEvent, Case, Task, Timer, User
from engine.access.policy import Actor

from .scenario import BPMN_DIR, EXPECTED, FORMS_DIR, PROCESS_KEY, STEPS, WrongPath
from .schema import migrate

DB_NAME = "bench.db"


@dataclass
class Timings:
    start_case: float = 0.0
    complete_task: float = 0.0
    lookups: float = 0.0
    actions: int = 0
    action: str = ""  # what run_case is doing now, for the SQL statement counter


class StatementCounter:
    """SQL statements sent to the database per action (an event listener on the engine), for a
    short extra pass: {action: statements}."""

    def __init__(self, bind, timings):
        self.bind, self.timings, self.counts = bind, timings, Counter()

    def _count(self, conn, cursor, statement, parameters, context, executemany):
        self.counts[self.timings.action] += 1

    def _commit(self, conn):
        self.counts[self.timings.action + " (COMMIT)"] += 1

    def __enter__(self):
        event.listen(self.bind, "before_cursor_execute", self._count)
        event.listen(self.bind, "commit", self._commit)
        return self.counts

    def __exit__(self, *exc):
        event.remove(self.bind, "before_cursor_execute", self._count)
        event.remove(self.bind, "commit", self._commit)


@dataclass
class Storage:
    cases: int
    state: int
    audit: int
    audit_rows: int
    tasks: int
    task_rows: int
    timers: int
    timer_rows: int
    file_growth: int

    @property
    def total(self):
        return self.state + self.audit + self.tasks + self.timers


class Database:
    """A fresh SQLite file with the schema, the pathway library and the demo organisation."""

    def __init__(self, directory):
        os.makedirs(directory, exist_ok=True)
        self.path = os.path.join(directory, DB_NAME)
        if os.path.exists(self.path):
            raise SystemExit(f"{self.path} exists: the benchmark needs a fresh database")
        migrate(f"sqlite:///{self.path}")
        self.session = session_factory(f"sqlite:///{self.path}")()
        created, problems = services.sync_library(self.session, BPMN_DIR, FORMS_DIR)
        if problems or not created:
            raise SystemExit(f"sync_library: created {created}, problems {problems}")
        load_demo(self.session)
        # The web layer builds the actor from the logged-in user; do that once per user here.
        self.actors = {name: self._actor(name) for name in {user for _, user, _ in STEPS}}

    def _actor(self, username):
        user = self.session.scalar(select(User).where(User.username == username))
        actor = Actor.of(user)
        self.session.commit()
        return actor

    def file_size(self):
        """Size of the database file once the WAL is folded back into it."""
        with sqlite3.connect(self.path) as raw:
            raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        wal = self.path + "-wal"
        return os.path.getsize(self.path) + (os.path.getsize(wal) if os.path.exists(wal) else 0)

    def close(self):
        bind = self.session.get_bind()
        self.session.close()
        bind.dispose()


_residents = itertools.count(1)


def _new_parties(post):
    """Every case its own residents, as at a real window: the repeat check then finds nothing,
    as it mostly does, instead of every earlier case of the run."""
    number = next(_residents)
    post = dict(post)
    for index in (0, 1):
        post[f"parties-{index}-id_number"] = f"1101011990{index}{number:07d}"
        post[f"parties-{index}-phone"] = f"13{index}{number:08d}"
    return post


def run_case(db, timings):
    """File a matter and complete every user task after intake. Returns the case id."""
    session, actors = db.session, db.actors
    (_, intake_user, intake_post), rest = STEPS[0], STEPS[1:]
    intake_post = _new_parties(intake_post)
    timings.action = "start_case: intake"
    began = time.perf_counter()
    case = services.start_case(session, actors[intake_user], PROCESS_KEY, intake_post)
    timings.start_case += time.perf_counter() - began
    for spec_id, username, post in rest:
        # What the inbox link carries: the id of the open task row.
        timings.action = "open-task look-up"
        began = time.perf_counter()
        task_id = session.scalar(select(Task.id).where(Task.case_id == case.id, Task.spec_id == spec_id,
                                                       Task.state == "ready"))
        session.commit()
        looked_up = time.perf_counter()
        timings.lookups += looked_up - began
        if task_id is None:
            raise WrongPath(f"case {case.id}: no open {spec_id} (at {case.current_step!r})")
        timings.action = f"complete_task: {spec_id.removeprefix('Task_')}"
        case = services.complete_task(session, actors[username], task_id, post)
        timings.complete_task += time.perf_counter() - looked_up
    timings.actions += len(STEPS)
    return case


def check(case):
    got = {k: getattr(case, k) for k in EXPECTED}
    if case.status != "completed" or got != EXPECTED:
        raise WrongPath(f"case {case.id}: status {case.status!r}, {got}, expected completed {EXPECTED}")


def warm_up(db, cases):
    for _ in range(cases):
        check(run_case(db, Timings()))


def measure(db, cases, timings, ids):
    """Time `cases` cases, adding to `timings` and `ids`. Returns (wall seconds, CPU seconds)."""
    started, cpu = time.perf_counter(), time.process_time()
    for _ in range(cases):
        case = run_case(db, timings)
        check(case)
        ids.append(case.id)
    return time.perf_counter() - started, time.process_time() - cpu


def count_statements(db, cases):
    """SQL statements per case by action, over `cases` more cases: [(action, statements per case)]."""
    timings = Timings()
    with StatementCounter(db.session.get_bind(), timings) as counts:
        for _ in range(cases):
            check(run_case(db, timings))
    return [(action, n / cases) for action, n in counts.items()]


def _row_bytes(rows):
    return sum(len(json.dumps(dict(row._mapping), ensure_ascii=False, default=str).encode("utf-8"))
               for row in rows)


def storage(db, ids, growth):
    """What the timed cases stored: the workflow state plus every audit, task and timer row of
    theirs as JSON (UTF-8 bytes), and the SQLite file growth for comparison."""
    session = db.session
    low, high = min(ids), max(ids)

    def rows(table, column):
        return session.execute(select(table).where(column.between(low, high))).all()

    states = session.scalars(select(Case.state).where(Case.id.between(low, high))).all()
    audit = rows(AuditEvent.__table__, AuditEvent.case_id)
    tasks = rows(Task.__table__, Task.case_id)
    timers = rows(Timer.__table__, Timer.case_id)
    session.commit()
    return Storage(
        cases=len(ids), state=sum(len(s.encode("utf-8")) for s in states),
        audit=_row_bytes(audit), audit_rows=len(audit), tasks=_row_bytes(tasks), task_rows=len(tasks),
        timers=_row_bytes(timers), timer_rows=len(timers), file_growth=growth,
    )
