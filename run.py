#!/usr/bin/env python3
"""yizhan: one-stop dispute resolution. Sub-commands:

  serve    (default) the web application on $HOST:$PORT (127.0.0.1:5000): gunicorn with
           WEB_WORKERS worker processes (default: the cores), a request time-out of WEB_TIMEOUT
           seconds (120) after which a stuck worker is replaced, and one `worker` child for the
           timer sweep, started again if it dies (none with YIZHAN_SCHEDULER=off); SIGTERM stops
           it all gracefully
  worker   the timer sweep alone, in SWEEP_PROCESSES processes that share the due timers (one
           worker per site is enough; more are safe)
  check    validate every diagram and form (departments by the database's registry); prints
           file:line: message, exits 1 on problems
  migrate  apply database migrations (Alembic)
  load     record bpmn/ and forms/ as new process versions where their content changed
  demo     the demo organisation and one login per role (migrates and loads first)
  token    make an API token for an outside system acting as a login (shown once)
  callback set where a login (the 12345 hotline) is told back and the secret that signs it
  audit verify  check every case's hash chain; names the first altered, inserted or deleted event
  export   write the newest published version back to bpmn/ and forms/ (files and database agree)
"""
import argparse
import logging
import os
import sys


def _app():
    from webui import create_app
    return create_app()


def cmd_check(args):
    """The diagrams' departments are judged by the registry in the database (department kinds an
    administrator keeps), so the database must be migrated first."""
    from config.settings import BPMN_DIR, FORMS_DIR
    from engine.access import department_kinds
    from engine.library.catalog import check_folder
    if _refuse_unmigrated():
        return 1
    session = _session_factory()()
    try:
        kinds = department_kinds.read(session)
    finally:
        session.close()
    drafts, problems = check_folder(args.bpmn or BPMN_DIR, args.forms or FORMS_DIR, kinds)
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} problem(s)", file=sys.stderr)
        return 1
    for draft in drafts:
        _print_pathways(f"ok: {draft.process_key}", draft.meta)
    return 0


def _print_pathways(head, meta):
    """One library version holds every pathway its main diagram calls: say each, not only the first."""
    processes = meta.get("processes", {})
    print(f"{head}, {len(processes)} pathway(s):")
    for key, info in sorted(processes.items(), key=lambda item: item[1]["file"]):
        print(f"  - {info['name']} ({key}, {info['file']})")


def cmd_migrate(_args):
    from flask_migrate import upgrade
    from engine.persistence.db import migration_lock
    from webui.extensions import db
    app = _app()
    with app.app_context(), migration_lock(db.engine):
        upgrade(directory=os.path.join(os.path.dirname(os.path.abspath(__file__)), "migrations"))
    return 0


def cmd_load(_args):
    from config.settings import BPMN_DIR, FORMS_DIR
    from engine.cases.services import sync_library
    from webui.extensions import db
    app = _app()
    with app.app_context():
        created, problems = sync_library(db.session, BPMN_DIR, FORMS_DIR)
    for problem in problems:
        print(problem)
    if problems:
        return 1
    for version in created:
        _print_pathways(f"new version: {version.process_key} v{version.id} ({version.content_hash[:12]})", version.meta)
    if not created:
        print("library unchanged: no new versions")
    return 0


def cmd_demo(args):
    from engine.demo import DEMO_PASSWORD, load_demo
    from webui.extensions import db
    if cmd_migrate(args) or cmd_load(args):
        return 1
    app = _app()
    with app.app_context():
        users = load_demo(db.session)
    print(f"demo logins (password {DEMO_PASSWORD}):")
    for username, display, roles, unit in users:
        print(f"  {username:<12} {display}  [{', '.join(roles)}] @ {unit}")
    return 0


def cmd_token(args):
    from engine.access.accounts import create_api_token
    from engine.errors import NotFound
    from webui.extensions import db
    app = _app()
    with app.app_context():
        try:
            token = create_api_token(db.session, args.username, args.name)
        except NotFound:
            print(f"no such user: {args.username}", file=sys.stderr)
            return 1
    print(f"API token for {args.username} ({args.name}); keep it secret, it is not shown again:\n{token}")
    return 0


def cmd_callback(args):
    """`run.py callback hotline --url https://...`: the address and shared secret of a login's callbacks."""
    from sqlalchemy import select

    from config.settings import callback_allow_http
    from engine.access.accounts import UserInvalid, set_callback
    from engine.errors import NotFound
    from engine.messages import in_chinese
    from engine.persistence.models import User
    from webui.extensions import db
    if _refuse_unmigrated():
        return 1
    app = _app()
    with app.app_context():
        user_id = db.session.scalar(select(User.id).where(User.username == args.username))
        try:
            if user_id is None:
                raise NotFound(args.username)
            endpoint, made = set_callback(db.session, None, user_id, args.url, args.secret or "", args.new_secret,
                                          active=not args.disable, allow_http=callback_allow_http())
        except NotFound:
            print(f"no such user: {args.username}", file=sys.stderr)
            return 1
        except UserInvalid as invalid:
            for field, why in invalid.errors.items():
                print(f"{field}: {why} / {in_chinese(why)}", file=sys.stderr)
            return 1
        state = "active" if endpoint.active else "disabled"
    print(f"{args.username} is told back at {args.url} ({state})")
    if made:
        print(f"shared secret (HMAC-SHA256); give it to the receiver, it is not shown again:\n{made}")
    return 0


def _schema_problem():
    """None if the database is at the newest migration, else what to tell the operator."""
    from alembic.config import Config
    from alembic.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from config.settings import database_url
    from engine.persistence.db import engine_for
    config = Config()
    config.set_main_option("script_location", os.path.join(os.path.dirname(os.path.abspath(__file__)), "migrations"))
    head = ScriptDirectory.from_config(config).get_current_head()
    engine = engine_for(database_url())
    quiet = logging.getLogger("alembic.runtime.migration")
    level = quiet.level
    quiet.setLevel(logging.WARNING)
    try:
        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
    finally:
        quiet.setLevel(level)
        engine.dispose()
    if current != head:
        return f"the database is at migration {current or 'none'}, not {head}: run `python run.py migrate` first"
    return None


def _refuse_unmigrated():
    """True (after saying why) when the database is not at the newest migration."""
    problem = _schema_problem()
    if problem:
        print(problem, file=sys.stderr)
    return bool(problem)


def _session_factory():
    from config.settings import database_url
    from engine.persistence.db import session_factory
    return session_factory(database_url())


def cmd_audit(args):
    """`run.py audit verify`: every case's hash chain; names the first broken event per case."""
    import time
    from engine.reading.audit import verify
    if _refuse_unmigrated():
        return 1
    session = _session_factory()()
    began = time.perf_counter()
    try:
        report = verify(session)
    finally:
        session.close()
    seconds = time.perf_counter() - began
    for found in report.breaks:
        print(found)
    rate = f"{report.events / seconds:,.0f} events/s" if seconds > 0 else ""
    print(f"{report.cases:,} case(s), {report.events:,} event(s) checked in {seconds:.2f} s ({rate}): "
          + (f"{len(report.breaks)} broken chain(s)" if report.breaks else "every chain is intact"))
    return 1 if report.breaks else 0


def cmd_export(args):
    """Write the newest published version back to bpmn/ and forms/ (or the folders given)."""
    from config.settings import BPMN_DIR, FORMS_DIR
    from engine.library.catalog import export_library
    from webui.extensions import db
    if _refuse_unmigrated():
        return 1
    app = _app()
    with app.app_context():
        written = export_library(db.session, args.bpmn or BPMN_DIR, args.forms or FORMS_DIR)
    for path in written:
        print(f"wrote {path}")
    print(f"{len(written)} file(s) changed" if written else "the files already match the newest published version")
    return 0


def cmd_worker(args):
    """The timer sweep alone. SIGTERM (a service stopping, `serve` stopping) lets a sweep under way
    finish its transaction before the process exits."""
    import signal
    import time
    from config.settings import database_url, sweep_processes
    from engine.cases.scheduler import make_scheduler, start_timer_helpers, stop_timer_helpers
    if _refuse_unmigrated():
        return 1
    processes = args.processes or sweep_processes(database_url())
    scheduler = make_scheduler(_session_factory(), args.interval)
    # The signal only marks the stop; the main thread looks at the mark. An exception raised from
    # the handler instead lands wherever the main thread happens to be, and inside a finalizer or
    # a garbage collector's callback Python prints it and carries on: the worker never stopped.
    stopping = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda received, _frame: stopping.append(received))
    helpers = []
    print(f"timer worker: sweeping every {args.interval:g} s in {processes} process(es) (Ctrl-C stops)", flush=True)
    try:
        start_timer_helpers(database_url(), args.interval, processes - 1, scheduler, helpers)
        scheduler.start()
        while not stopping:
            time.sleep(0.2)
    finally:
        if scheduler.running:
            scheduler.shutdown(wait=True)
        stop_timer_helpers(helpers)
    return 0


def cmd_serve(args):
    """gunicorn with `--workers` processes, and one supervised `run.py worker` for the timer sweep
    unless YIZHAN_SCHEDULER=off or --no-scheduler (webui/serving.py)."""
    from config.settings import secret_key
    from webui import serving
    if _refuse_unmigrated():
        return 1
    secret_key()  # made once here, before the workers start, so that every one reads the same key
    scheduler = args.scheduler and os.environ.get("YIZHAN_SCHEDULER", "on") != "off"
    return serving.serve(args.host, args.port, args.workers, args.timeout, scheduler)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="run.py", description="yizhan: one-stop dispute resolution",
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    from config.settings import web_timeout, web_workers
    serve = sub.add_parser("serve", help="serve the web application (default): gunicorn with several worker "
                                         "processes, and one timer worker beside them")
    serve.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(os.environ.get("PORT", "5000")))
    serve.add_argument("--workers", type=int, default=web_workers(),
                       help="web worker processes (default WEB_WORKERS, else the cores: %(default)s)")
    serve.add_argument("--timeout", type=int, default=web_timeout(),
                       help="seconds before a stuck request's worker is replaced (default WEB_TIMEOUT, else "
                            "%(default)s)")
    serve.add_argument("--no-scheduler", dest="scheduler", action="store_false",
                       help="start no timer worker: the sweep runs as its own `run.py worker` (as YIZHAN_SCHEDULER=off)")
    worker = sub.add_parser("worker", help="run the timer sweep alone (`serve` starts one unless YIZHAN_SCHEDULER=off)")
    worker.add_argument("--interval", type=float, default=float(os.environ.get("SWEEP_SECONDS", "1")))
    worker.add_argument("--processes", type=int, default=None,
                        help="processes firing due timers (default SWEEP_PROCESSES, else the cores on PostgreSQL, "
                             "1 on SQLite)")
    check = sub.add_parser("check", help="validate every diagram and form (file:line: message; exit 1 on problems)")
    check.add_argument("--bpmn", help="folder of diagrams (default bpmn/)")
    check.add_argument("--forms", help="folder of forms (default forms/)")
    sub.add_parser("migrate", help="apply database migrations")
    sub.add_parser("load", help="record bpmn/ and forms/ as new process versions where changed")
    sub.add_parser("demo", help="migrate, load the library, create the demo organisation and logins")
    export = sub.add_parser("export", help="write the newest published version back to bpmn/ and forms/")
    export.add_argument("--bpmn", help="folder for diagrams (default bpmn/)")
    export.add_argument("--forms", help="folder for forms (default forms/)")
    audit = sub.add_parser("audit", help="audit verify: check every case's hash chain (exit 1 if one is broken)")
    audit.add_argument("action", choices=["verify"])
    token = sub.add_parser("token", help="make an API token for an outside system (12345 hotline, grid app)")
    token.add_argument("username", help="the login the system acts as (its roles and unit apply)")
    token.add_argument("name", help="what the token is for, e.g. 12345热线")
    callback = sub.add_parser("callback", help="set where a login (the 12345 hotline) is told back, and its secret")
    callback.add_argument("username", help="the outside system's login, e.g. hotline")
    callback.add_argument("--url", required=True, help="https:// address the signed callbacks are POSTed to")
    secret = callback.add_mutually_exclusive_group()
    secret.add_argument("--secret", help="the shared secret (16-200 characters); default: keep it, or make one")
    secret.add_argument("--new-secret", action="store_true", help="make a new secret (printed once)")
    callback.add_argument("--disable", action="store_true", help="stop telling this login back")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # One line a second from the sweep says nothing; the sweep logs what it fired itself.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    # SpiffWorkflow logs each task's change of state at INFO (about 150 lines a case, 3-4 ms of CPU
    # a case); the case's history holds the same changes (its engine events). Its warnings still show.
    logging.getLogger("spiff").setLevel(logging.WARNING)
    if args.command is None:
        args = parser.parse_args(["serve"] + (argv or []))
    handlers = {"serve": cmd_serve, "worker": cmd_worker, "check": cmd_check, "migrate": cmd_migrate,
                "load": cmd_load, "demo": cmd_demo, "token": cmd_token, "callback": cmd_callback, "audit": cmd_audit,
                "export": cmd_export}
    return handlers[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
