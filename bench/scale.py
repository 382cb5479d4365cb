"""python -m bench.scale: a realistic county (100,000 cases over two years across the tree, about
300,000 task rows, a quarter of the cases open) loaded into SQLite or PostgreSQL, then the time to
render the supervisor's dashboard, the overdue list (first page), the indicators page and the weekly
and monthly reports, the sweep firing 10,000 due timers (half in one process, half in SWEEP_PROCESSES
processes at once), how late a due timer fires with the scheduler running, and the peak memory of
the process serving the pages (`--pages-only` stops after the pages).

Rows are written in bulk, not through the engine (that would take an hour): closed cases carry
their final fields and completed task rows; open cases carry a real workflow state, copied from a
case the engine itself brought to mediation, so the sweep runs the real engine on them.

  python -m bench.scale                        # SQLite file in a temporary folder, removed at the end
  python -m bench.scale --db postgresql://postgres@127.0.0.1:5432/yz_scale   # created (and dropped
                                               # at the end) if missing, else it must be empty
  python -m bench.scale --db ... --keep        # keep the database; then, after a change to the code,
  python -m bench.scale --db ... --existing    # time its pages again without loading it again

Nothing large stays behind: the SQLite file's folder is removed and a PostgreSQL database the
bench created is dropped at the end, after an error or Ctrl-C too, unless --keep.
"""
import argparse
import json
import os
import random
import resource
import shutil
import signal
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
CATEGORIES = ["neighbour", "marriage_family", "housing_land", "contract", "damages", "labour", "property_mgmt",
              "consumer", "traffic", "medical", "forest_land", "expropriation", "pollution", "business", "other"]
WEIGHTS = [22, 14, 12, 8, 8, 7, 6, 5, 5, 3, 3, 2, 2, 2, 1]
KINDS = ["dispute"] * 80 + ["petition"] * 10 + ["complaint"] * 6 + ["consultation"] * 4


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", help="database URL (default: a new SQLite file in a temporary folder)")
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--due-timers", type=int, default=10_000, help="timers made due for the sweep")
    parser.add_argument("--repeat", type=int, default=15, help="renders of each page (median reported)")
    parser.add_argument("--townships", type=int, default=12)
    parser.add_argument("--villages", type=int, default=15, help="villages per township")
    parser.add_argument("--pages-only", action="store_true", help="load, time the pages, and stop (no sweep)")
    parser.add_argument("--sweep-processes", type=int, default=None,
                        help="sweeper processes for the second half of the due timers (default SWEEP_PROCESSES, "
                             "else the cores on PostgreSQL, 1 on SQLite)")
    parser.add_argument("--keep", action="store_true", help="keep the database (SQLite file, PostgreSQL database)")
    parser.add_argument("--existing", action="store_true",
                        help="time the pages of the database --db that a run with --keep left (migrated to the "
                             "newest schema first; nothing loaded, no sweep, the database kept)")
    return parser.parse_args(argv)


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def line(label, value, note=""):
    print(f"  {label:<46}{value:>14}  {note}".rstrip())


def prepare(url):
    os.environ["DATABASE_URL"] = url
    os.environ["YIZHAN_SCHEDULER"] = "off"
    import run
    if run.cmd_demo(argparse.Namespace()):
        raise SystemExit("could not set up the database")


def build_county(session, townships, villages):
    """Townships and villages under the demo county, each township with a clerk and a mediator."""
    from engine.access.accounts import create_user
    from engine.persistence.models import OrgUnit
    from engine.persistence.uow import UnitOfWork
    from werkzeug.security import generate_password_hash
    county = session.scalar(sa.select(OrgUnit).where(OrgUnit.code == "C01-Q"))
    password = generate_password_hash("bench1234")
    with UnitOfWork(session):
        for t in range(townships):
            town = OrgUnit(code=f"B-T{t:02d}", name=f"第{t + 1}镇", name_en=f"Town {t + 1}", level="township",
                           parent_id=county.id)
            session.add(town)
            session.flush()
            town.path = f"{county.path}{town.id}/"
            create_user(session, f"bclerk{t}", password, f"受理员{t}", town.id, ["clerk"])
            create_user(session, f"bmediator{t}", password, f"调解员{t}", town.id, ["mediator"])
            for v in range(villages):
                village = OrgUnit(code=f"B-T{t:02d}-V{v:02d}", name=f"第{t + 1}镇{v + 1}村", name_en=f"Village {t}-{v}",
                                  level="village", parent_id=town.id)
                session.add(village)
                session.flush()
                village.path = f"{town.path}{village.id}/"
    return county


def template_states(session):
    """A case the engine brings to mediation (its state and rows are what open cases copy), with
    its timer moved into the past so the sweep fires it."""
    from engine.cases import services
    from engine.library import catalog
    from engine.persistence.models import Task, Timer, User
    from engine.access.policy import Actor
    from tests.engine.helpers import INTAKE
    clerk = Actor.of(session.scalar(sa.select(User).where(User.username == "clerk")))
    case = services.start_case(session, clerk, "intake", dict(INTAKE), new_despite_repeats=True)
    # The open mediation step (not the completed intake row), so the copies can be worked on.
    task = session.scalar(sa.select(Task).where(Task.case_id == case.id, Task.spec_id == "Task_mediate"))
    timer = session.scalar(sa.select(Timer).where(Timer.case_id == case.id))
    version = catalog.version_info(session, case.process_version_id)
    specs = version.specs(session)
    return dict(version=case.process_version_id, state=case.state,
                due_state=timers_due_at(case.state, specs, "2020-01-01T00:00:00+00:00"), specs=specs,
                task_spiff=task.spiff_task_id, timer_spiff=timer.spiff_task_id, task_unit=task.org_unit_id)


def timers_due_at(state, specs, due):
    """The state with its waiting timers due at `due` (ISO 8601), by the engine's own load and dump."""
    from engine.workflow import runtime
    workflow = runtime.load_state(state, specs)
    for spiff_task in workflow.get_tasks():
        if "event_value" in spiff_task.internal_data:
            spiff_task.internal_data["event_value"] = due
    return runtime.dump_state(workflow)


def load_cases(session, n, due_timers, template, now):
    """Bulk rows: cases over two years, three completed task rows per closed case, one open task
    and one waiting timer per open case (`due_timers` of them already due)."""
    from engine.persistence.models import Case, OrgUnit
    rnd = random.Random(20261123)
    units = session.execute(sa.select(OrgUnit.id, OrgUnit.level).where(OrgUnit.level.in_(("village", "township", "county")))).all()
    villages = [u for u, level in units if level == "village"]
    towns = [u for u, level in units if level == "township"]
    county = [u for u, level in units if level == "county"]
    start = now - timedelta(days=730)
    open_count = n // 4
    first_id = (session.scalar(sa.select(sa.func.max(Case.id))) or 0) + 1
    batch_cases, batch_tasks, batch_timers, batch_events, batch_parties = [], [], [], [], []
    made_due = 0
    for i in range(n):
        case_id = first_id + i
        is_open = i >= n - open_count  # the newest quarter is open
        created = start + timedelta(seconds=(730 * 86400) * i / n + rnd.randint(0, 3600))
        unit = rnd.choices([villages, towns, county], weights=[70, 20, 10])[0]
        unit = rnd.choice(unit)
        kind = rnd.choice(KINDS)
        category = rnd.choices(CATEGORIES, WEIGHTS)[0]
        outcome = None if is_open else rnd.choices(["success", "failure"], [92, 8])[0]
        satisfaction = None if is_open else rnd.choices(["satisfied", "basically_satisfied", "unsatisfied"], [80, 15, 5])[0]
        closed = None if is_open else created + timedelta(days=rnd.uniform(1, 40))
        batch_cases.append(dict(
            id=case_id, code=f"MT{created:%Y%m%d}{case_id:06d}", process_version_id=template["version"],
            org_unit_id=unit, status="open" if is_open else "completed", kind=kind, category=category,
            channel="visit", risk_level=rnd.choices(["blue", "yellow", "red"], [85, 12, 3])[0],
            route="mediation", summary="（批量生成的基准数据）", party_names=f"当事人{case_id}",
            contact_keys="", current_step="人民调解" if is_open else "", overdue=rnd.random() < 0.04,
            outcome=outcome, satisfaction=satisfaction, state=template["state"] if is_open else "",
            created_at=created, updated_at=closed or created, closed_at=closed, lock_version=1))
        # The case's history: a hash chain, like the engine writes (500 events for one case).
        seq, head = _chain(batch_events, case_id, created, template["version"], BIG_TRACE if i == BIG_CASE_INDEX else 3, rnd)
        batch_cases[-1].update(audit_seq=seq, audit_head=head)
        for j, role in enumerate(("applicant", "respondent")):
            batch_parties.append(dict(case_id=case_id, name=f"当事人{case_id}-{j}", id_number=_id_number(case_id, j),
                                      phone=f"139{case_id:04d}{j:04d}"[:11]))
        if is_open:
            due_now = made_due < due_timers
            due = now - timedelta(minutes=5) if due_now else created + timedelta(days=30)
            made_due += due_now
            batch_tasks.append(dict(case_id=case_id, spiff_task_id=template["task_spiff"], spec_id="Task_mediate",
                                    title="人民调解", form_key="mediation.json", role="mediator",
                                    org_unit_id=template["task_unit"], state="ready", due_at=due,
                                    amber_at=due - timedelta(days=5), legal_basis="人民调解工作若干规定（司法部令第75号，2002年11月1日施行）第三十三条；期间计算：民法典（2021年1月1日施行）第二百零一条至第二百零三条",
                                    due_provisional=False, extended_days=0, created_at=created))
            # A deadline that passed before today has fired already (the step stays open, red).
            passed = not due_now and due < now
            batch_timers.append(dict(case_id=case_id, spiff_task_id=template["timer_spiff"],
                                     spec_id="Timer_mediation_deadline", due_at=due,
                                     state="fired" if passed else "waiting", started_at=created, base_due_at=due,
                                     provisional=False))
            batch_cases[-1]["overdue"] = batch_cases[-1]["overdue"] or passed
            if due_now:
                batch_cases[-1]["state"] = template["due_state"]
            batch_tasks.append(dict(case_id=case_id, spiff_task_id=f"done-{case_id}", spec_id="Task_intake",
                                    title="受理登记", form_key="intake.json", role="clerk", org_unit_id=unit,
                                    state="completed", created_at=created, completed_at=created,
                                    due_provisional=False, extended_days=0))
        else:
            stamps = sorted(created + timedelta(days=rnd.uniform(0, (closed - created).days or 1)) for _ in range(2))
            steps = [("Task_intake", "受理登记", "intake.json", "clerk", created),
                     ("Task_mediate", "人民调解", "mediation.json", "mediator", stamps[0]),
                     ("Task_close", "结案", "close.json", "clerk", stamps[1])]
            if case_id % 3 == 0:  # a third recorded their return visit as a separate step
                steps.append(("Task_visit", "回访评价", "visit.json", "clerk", closed))
            for j, (spec, title, form, role, at) in enumerate(steps):
                batch_tasks.append(dict(case_id=case_id, spiff_task_id=f"done-{case_id}-{j}", spec_id=spec, title=title,
                                        form_key=form, role=role, org_unit_id=unit, state="completed",
                                        created_at=created if j == 0 else at - timedelta(days=rnd.uniform(0, 20)),
                                        completed_at=at if j < 2 else closed, due_provisional=False, extended_days=0))

        if len(batch_cases) >= 5000:
            _flush(session, batch_cases, batch_tasks, batch_timers, batch_events, batch_parties)
    _flush(session, batch_cases, batch_tasks, batch_timers, batch_events, batch_parties)
    session.commit()
    return first_id + BIG_CASE_INDEX, first_id + n // 2


TASK_KEYS = ("case_id", "spiff_task_id", "spec_id", "title", "form_key", "role", "org_unit_id", "state", "due_at",
             "amber_at", "legal_basis", "due_provisional", "extended_days", "created_at", "completed_at")


BIG_CASE_INDEX, BIG_TRACE = 7, 500
KINDS_IN_TRACE = [("engine", "Task_mediate", "人民调解", {"type": "UserTask", "from": "READY", "to": "COMPLETED"}),
                  ("task_claimed", "Task_mediate", "人民调解", {}),
                  ("engine", "Timer_mediation_deadline", "调解期限一个月", {"type": "BoundaryEvent", "from": "WAITING",
                                                                           "to": "CANCELLED"})]


def _id_number(case_id, j):
    """18 characters, one person per case and side."""
    return f"110101{case_id:011d}{j}"


def _chain(rows, case_id, at, version, count, rnd):
    """`count` hash-chained events for a case, as AuditLog writes them. Returns (seq, head)."""
    from engine.persistence.chain import GENESIS, event_hash
    prev = GENESIS
    for seq in range(1, count + 1):
        kind, spec, title, detail = ("case_started", None, None, {"code": f"case {case_id}"}) if seq == 1 \
            else KINDS_IN_TRACE[seq % len(KINDS_IN_TRACE)]
        when = at + timedelta(minutes=seq)
        digest = event_hash(prev, case_id, seq, when, None, "系统", kind, spec, detail, version)
        rows.append(dict(case_id=case_id, seq=seq, at=when, actor_id=None, actor_name="系统", org_unit_id=None,
                         kind=kind, task_spec=spec, task_title=title, detail=detail, process_version_id=version,
                         prev_hash=prev, hash=digest))
        prev = digest
    return count, prev


def _flush(session, cases, tasks, timers, events, parties):
    """The batch's rows: COPY on PostgreSQL, one executemany per table on SQLite."""
    from engine.persistence.models import AuditEvent, Case, CaseParty, Task, Timer
    # Every row of a table names the same columns.
    tasks[:] = [{key: row.get(key) for key in TASK_KEYS} for row in tasks]
    copying = session.get_bind().dialect.name == "postgresql"
    for model, rows in ((Case, cases), (Task, tasks), (Timer, timers), (AuditEvent, events), (CaseParty, parties)):
        if rows and copying:
            _copy(session, model.__table__, rows)
        elif rows:
            session.execute(sa.insert(model.__table__), rows)
        rows.clear()


def _copy(session, table, rows):
    """COPY the rows into the table through psycopg, on the session's connection and transaction."""
    columns = list(rows[0])
    json_columns = {name for name in columns if isinstance(table.c[name].type, sa.JSON)}
    cursor = session.connection().connection.driver_connection.cursor()
    with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([json.dumps(row[name], ensure_ascii=False) if name in json_columns else row[name]
                            for name in columns])


def _time_urls(client, urls, repeat):
    """{label: [seconds of each render]} for (label, url) pairs, each rendered `repeat` times."""
    results = {}
    for label, url in urls:
        times = []
        for _ in range(repeat):
            began = time.perf_counter()
            response = client.get(url)
            times.append(time.perf_counter() - began)
            assert response.status_code == 200, (url, response.status_code)
        results[label] = times
    return results


def _client_as(app, username):
    client = app.test_client()
    response = client.post("/login", data={"username": username, "password": "demo1234"})
    assert response.status_code == 302, response.status_code
    return client


def time_pages(app, repeat):
    two_years_ago = (datetime.now(timezone.utc) - timedelta(days=730)).date().isoformat()
    return _time_urls(_client_as(app, "supervisor"), [
        ("supervisor dashboard", "/supervision/dashboard"),
        ("overdue list, first page", "/supervision/?only=red"),
        ("indicators page (last 90 days)", "/supervision/indicators"),
        ("indicators page (two years, by month)", f"/supervision/indicators?from={two_years_ago}&by=place&bucket=month"),
        ("weekly report (last complete week)", "/reports/"),
        ("monthly report (last complete month)", "/reports/?kind=month"),
        ("weekly report as CSV (the lists in full)", "/reports/report.csv"),
        ("monthly report as CSV (the lists in full)", "/reports/report.csv?kind=month"),
        ("case list, first page", "/cases"),
    ], repeat)


def time_audit(app, big_case, probe_case, repeat):
    client = _client_as(app, "auditor")
    search = f"/audit/cases?q={_id_number(probe_case, 1)}"
    results = _time_urls(client, [(f"trace page of a case with {BIG_TRACE} events", f"/audit/cases/{big_case}"),
                                  ("case search by a party's ID number", search),
                                  ("the auditor's case list, first page", "/audit/cases")], repeat)
    assert f"{probe_case:06d}</a>" in client.get(search).get_data(as_text=True), \
        "the search finds the case by its party's ID number"
    return results


def vacuum(session_factory):
    """VACUUM ANALYZE, as autovacuum leaves a live database: the bulk load's rows are marked
    visible to all (index-only scans need it) and the planner knows the tables' sizes."""
    engine = session_factory.kw["bind"]
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(sa.text("VACUUM ANALYZE"))


def backfill_rollup(session_factory):
    """The daily roll-up of the bulk-loaded history, as the scheduler's roll-up job fills it on a
    first start (the same passes, without its pause between runs)."""
    from engine.cases import rollup
    session = session_factory()
    began, days, months = time.perf_counter(), 0, 0
    try:
        while True:
            d, m = rollup.refresh(session, budget_seconds=60)
            days, months = days + d, months + m
            if not d and not m:
                return days, months, time.perf_counter() - began
    finally:
        session.close()


def time_verify(session_factory):
    from engine.reading import audit
    session = session_factory()
    try:
        began = time.perf_counter()
        report = audit.verify(session)
        return report.events, time.perf_counter() - began, len(report.breaks)
    finally:
        session.close()


def time_sweep(session_factory, due, limit=None):
    """Due timers fired back to back as the sweep does (up to `limit`): (fired, seconds)."""
    from engine.cases import services
    session = session_factory()
    fired, began = 0, time.perf_counter()
    try:
        while limit is None or fired < limit:
            n = services.fire_due_timers(session, limit=min(services.SWEEP_LIMIT, (limit or 10**9) - fired))
            fired += n
            if n == 0:
                break
    finally:
        session.close()
    return fired, time.perf_counter() - began


def _sweeper(url, go, results):
    """One sweeper process of time_sweeps: ready, then waits for the start, then fires until none is due."""
    from engine.persistence.db import session_factory
    factory = session_factory(url)
    factory().close()  # connected before the start
    results.put(("ready", 0))
    go.wait()
    results.put(("fired", time_sweep(factory, 0)[0]))


def run_gated(target, url, processes):
    """`processes` spawned processes of target(url, go, results), each putting one message on
    `results` when ready and one when done, let go together once all are ready: (their last
    messages, seconds from the start to the last)."""
    import multiprocessing
    context = multiprocessing.get_context("spawn")
    go, results = context.Event(), context.Queue()
    workers = [context.Process(target=target, args=(url, go, results)) for _ in range(processes)]
    for worker in workers:
        worker.start()
    for _ in workers:
        results.get(timeout=300)
    began = time.perf_counter()
    go.set()
    done = [results.get() for _ in workers]
    seconds = time.perf_counter() - began
    for worker in workers:
        worker.join()
    return done, seconds


def time_sweeps(url, processes):
    """The due timers fired by `processes` sweeper processes at once (SWEEP_PROCESSES), each as
    services.fire_due_timers runs in run.py worker: (fired, seconds from the start to the last)."""
    done, seconds = run_gated(_sweeper, url, processes)
    return sum(message[1] for message in done), seconds


def drain_reminders(session_factory):
    """The reminders the sweep makes for a county's backlog of amber and overdue steps, and their
    delivery through the outbox, until there is nothing left to do (the steady state)."""
    import logging
    from engine.cases import outbox, supervision
    logging.getLogger("engine.cases.outbox").setLevel(logging.WARNING)
    session = session_factory()
    made = delivered = 0
    began = time.perf_counter()
    try:
        while True:
            n = supervision.sweep_reminders(session)
            made += n
            sent = outbox.deliver(session, limit=1000)
            delivered += sent
            if not n and not sent:
                return made, delivered, time.perf_counter() - began
    finally:
        session.close()


def fire_latency(session_factory, template, samples=5):
    """With the scheduler running (1-second sweep), how late does a timer fire after its due time?
    Each sample re-arms the waiting timer of a different open case to come due 1.5 s later."""
    from engine.cases import scheduler
    from engine.persistence.models import Case, Timer
    session = session_factory()
    cases = session.scalars(sa.select(Timer.case_id).where(Timer.state == "waiting")
                            .order_by(Timer.case_id.desc()).limit(samples)).all()
    sched = scheduler.make_scheduler(session_factory, interval_seconds=1.0)
    sched.start()
    lateness = []
    try:
        for case_id in cases:
            due = datetime.now(timezone.utc) + timedelta(seconds=1.5)
            state = timers_due_at(template["state"], template["specs"], due.isoformat())
            session.execute(sa.update(Case).where(Case.id == case_id).values(state=state))
            session.execute(sa.update(Timer).where(Timer.case_id == case_id, Timer.state == "waiting")
                            .values(due_at=due))
            session.commit()
            for _ in range(100):
                time.sleep(0.05)
                fired_at = session.scalar(sa.select(Timer.fired_at).where(Timer.case_id == case_id, Timer.state == "fired"))
                session.rollback()
                if fired_at is not None:
                    lateness.append((fired_at.replace(tzinfo=timezone.utc) if fired_at.tzinfo is None else fired_at) - due)
                    break
    finally:
        sched.shutdown(wait=True)
        session.close()
    return [d.total_seconds() for d in lateness]


def _server_and_name(url):
    """(URL of the server's postgres database, the database's name) of a PostgreSQL URL."""
    parts = sa.engine.make_url(url.replace("postgresql://", "postgresql+psycopg://", 1))
    return parts.set(database="postgres"), parts.database


def create_pg_database(url):
    """Create the database if it is missing. Returns True if created here; stops with the reason
    if the server cannot be reached."""
    server, name = _server_and_name(url)
    engine = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            if connection.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}):
                return False
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
            return True
    except sa.exc.OperationalError as exc:
        raise SystemExit(f"no PostgreSQL server at {server.render_as_string(hide_password=True)} ({exc.orig}); "
                         "start one, or run `make bench-scale BENCH_DB=sqlite`") from exc
    finally:
        engine.dispose()


def drop_pg_database(url):
    server, name = _server_and_name(url)
    engine = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        engine.dispose()


def _stop_on_sigterm(_signum, _frame):
    raise SystemExit("stopped (SIGTERM)")


def main(argv=None):
    args = parse_args(argv)
    sys.path.insert(0, str(ROOT))
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    folder, created = None, False
    url = args.db
    if not url:
        folder = tempfile.mkdtemp(prefix="yizhan-scale-")
        url = f"sqlite:///{folder}/scale.db"
    if args.existing:
        if not url:
            raise SystemExit("--existing times the pages of the database given with --db")
        try:
            time_existing(args, url)
        finally:
            _dispose_engines()
        return
    try:
        if url.startswith("postgresql"):
            created = create_pg_database(url)
        run(args, url)
    finally:
        _dispose_engines()
        if args.keep:
            print(f"  database kept: {folder or url}")
        elif folder:
            shutil.rmtree(folder, ignore_errors=True)
        elif created:
            drop_pg_database(url)


def _dispose_engines():
    """Close every pooled connection (the web application's and the sessions'), so the database
    can be dropped."""
    import gc
    for thing in gc.get_objects():
        if isinstance(thing, sa.engine.Engine):
            thing.dispose()


def time_existing(args, url):
    """The pages of a database a run with --keep left, as `run` times them after loading: to time
    a change to the code without loading again."""
    print(f"yizhan scale benchmark: the pages of an existing database on {url.split('://')[0]}")
    os.environ["DATABASE_URL"] = url
    os.environ["YIZHAN_SCHEDULER"] = "off"
    import run as commands
    if commands.cmd_migrate(argparse.Namespace()):
        raise SystemExit("could not migrate the database")
    from engine.persistence.db import session_factory
    from webui import create_app
    session = session_factory(url)()
    try:
        # The case with the longest history, and one from the middle of the bulk load.
        big_case = session.scalar(sa.text("select id from cases order by audit_seq desc, id limit 1"))
        first, count = session.execute(sa.text("select min(id), count(*) from cases")).one()
    finally:
        session.close()
    if not count:
        raise SystemExit("the database holds no cases: load it first (--keep)")
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "WTF_CSRF_ENABLED": False})
    print_pages(app, args.repeat)
    print_audit(app, args.repeat, big_case, first + count // 2)


def print_pages(app, repeat):
    print("\npages (Flask test client in this process, supervisor of the county; median of "
          f"{repeat} renders after one warm-up)")
    for label, times in time_pages(app, repeat).items():
        times = times[1:] or times
        line(label, f"{statistics.median(times) * 1000:,.0f} ms", f"max {max(times) * 1000:,.0f} ms (target < 300 ms)")
    line("peak memory of this process after serving", f"{peak_rss_mib():,.0f} MiB", "(target < 300 MB)")


def print_audit(app, repeat, big_case, probe_case):
    print(f"\nauditor (median of {repeat} after one warm-up)")
    for label, times in time_audit(app, big_case, probe_case, repeat).items():
        times = times[1:] or times
        line(label, f"{statistics.median(times) * 1000:,.0f} ms", f"max {max(times) * 1000:,.0f} ms (target < 200 ms)")


def run(args, url):
    print(f"yizhan scale benchmark: {args.cases:,} cases on {url.split('://')[0]}")
    began = time.perf_counter()
    prepare(url)
    from config.settings import sweep_processes
    from engine.persistence.db import session_factory
    from webui import create_app
    factory = session_factory(url)
    session = factory()
    build_county(session, args.townships, args.villages)
    template = template_states(session)
    big_case, probe_case = load_cases(session, args.cases, args.due_timers, template, datetime.now(timezone.utc))
    counts = {name: session.scalar(sa.text(f"select count(*) from {name}"))
              for name in ("cases", "tasks", "timers", "org_units", "audit_events", "case_parties")}
    open_cases = session.scalar(sa.text("select count(*) from cases where status = 'open'"))
    session.close()
    loaded = time.perf_counter() - began
    print(f"  loaded in {loaded:.0f} s: {counts['cases']:,} cases ({open_cases:,} open), {counts['tasks']:,} task rows, "
          f"{counts['timers']:,} timers, {counts['org_units']:,} units, {counts['audit_events']:,} audit events, "
          f"{counts['case_parties']:,} parties")
    if url.startswith("postgresql"):
        vacuum(factory)
    days, months, seconds = backfill_rollup(factory)
    line(f"roll-up of the history: {days:,} days, {months} months", f"{seconds:,.1f} s",
         "(what the scheduler's roll-up job does on a first start)")
    if url.startswith("postgresql"):
        vacuum(factory)

    # CSRF off only so the test client can log in without parsing the form; the pages are the same.
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "WTF_CSRF_ENABLED": False})
    print_pages(app, args.repeat)
    if args.pages_only:
        return

    print_audit(app, args.repeat, big_case, probe_case)
    checked, seconds, broken = time_verify(factory)
    line(f"audit verify: {checked:,} events", f"{seconds:,.1f} s",
         f"{checked / seconds:,.0f} events/s, {broken} broken (target >= 20,000/s)")

    print("\nsweep")
    processes = args.sweep_processes or sweep_processes(url)
    half = args.due_timers // 2
    fired, seconds = time_sweep(factory, args.due_timers, limit=half)
    line(f"fire {fired:,} due timers, one process", f"{seconds:,.1f} s", f"{fired / seconds:,.0f} timers/s")
    fired, seconds = time_sweeps(url, processes)
    line(f"fire {fired:,} due timers, {processes} processes", f"{seconds:,.1f} s",
         f"{fired / seconds:,.0f} timers/s (SWEEP_PROCESSES; target >= 1,000/s)")
    made, delivered, seconds = drain_reminders(factory)
    line(f"remind {made:,} amber/overdue steps, deliver {delivered:,} messages", f"{seconds:,.1f} s",
         f"{(made + delivered) / max(seconds, 1e-9):,.0f} rows/s (the first sweep after loading)")
    lateness = fire_latency(factory, template)
    if lateness:
        line("a due timer fired after its due time", f"{max(lateness):.2f} s", f"worst of {len(lateness)}; median "
             f"{statistics.median(lateness):.2f} s (target < 2 s)")
    line("peak memory of this process, end", f"{peak_rss_mib():,.0f} MiB")
    print(f"  total {time.perf_counter() - began:,.0f} s")


if __name__ == "__main__":
    main()
