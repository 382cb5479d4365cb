"""python -m bench.webcpu: the web application's CPU per kind of request, in-process.

The requests `make bench-load` sends (bench/load.py), one at a time through the Flask application
with its test client, against a database with a backlog (built as bench.load builds its own, and
kept): CPU time (time.process_time) and SQL statements per request, median and mean per kind,
and, with --profile KIND, where that kind's CPU goes (cProfile on CPU time, cumulative and own). No HTTP server, no
network, no other process: the figures are the web layer's and the database driver's own, and
compare before and after a change on a shared machine better than wall time.

  python -m bench.webcpu --db postgresql://postgres@127.0.0.1:5432/webcpu_bench
  python -m bench.webcpu --db ... --repeat 40 --profile "supervisor: indicators"
"""
import argparse
import cProfile
import io
import pstats
import random
import re
import statistics
import sys
import time
from collections import defaultdict
from urllib.parse import urlencode

from sqlalchemy import event

from . import load

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
KINDS = ("fixed: password page", "mediator: inbox", "mediator: claim", "mediator: task form", "mediator: submit",
         "mediator: case page", "supervisor: dashboard", "supervisor: overdue list", "supervisor: indicators",
         "auditor: case search", "auditor: trace", "clerk: new-case form", "clerk: file")


class Client:
    """One logged-in person of the load (bench.load's logins) on the Flask test client."""

    def __init__(self, app, name):
        self.client = app.test_client()
        self.token = TOKEN.search(self.client.get("/login").get_data(as_text=True)).group(1)
        response = self.client.post("/login", data={"username": name, "password": load.PASSWORD,
                                                     "csrf_token": self.token})
        assert response.status_code == 302, (name, response.status_code)

    def request(self, method, url, data=None):
        headers = {"Accept-Language": "zh-CN,zh;q=0.9"}
        if method == "GET":
            return self.client.get(url, headers=headers)
        return self.client.post(url, data=dict(data or {}, csrf_token=self.token), headers=headers)


class Meter:
    """CPU seconds and statements per kind; cProfile around the kinds named."""

    def __init__(self, engine, profiled):
        self.cpu, self.statements = defaultdict(list), defaultdict(list)
        self.count = 0
        self.profiled = set(profiled)
        self.profiles = {}
        event.listen(engine, "before_cursor_execute", self._count)

    def _count(self, *_args):
        self.count += 1

    def __call__(self, kind, client, method, url, data=None, expect=(200,)):
        profile = self.profiles.setdefault(kind, cProfile.Profile(time.process_time)) if kind in self.profiled else None
        self.count = 0
        began = time.process_time()
        if profile:
            profile.enable()
        response = client.request(method, url, data)
        if profile:
            profile.disable()
        self.cpu[kind].append(time.process_time() - began)
        self.statements[kind].append(self.count)
        if response.status_code not in expect:
            raise SystemExit(f"{kind}: {method} {url} answered {response.status_code}\n"
                             f"{response.get_data(as_text=True)[:800]}")
        return response


def one_round(meter, people, lookups, rnd, done):
    med, sup, aud, clerk = people["mediator"], people["supervisor"], people["auditor"], people["clerk"]
    meter("fixed: password page", sup, "GET", "/password")
    inbox = meter("mediator: inbox", med, "GET", "/tasks").get_data(as_text=True)
    sections = load.SECTION.findall(inbox)
    pool = [int(t) for t in load.TASK_LINK.findall(sections[1])] if len(sections) > 1 else []
    pool = [t for t in pool if t not in done]
    if pool:
        task_id = pool[0]
        done.add(task_id)
        claimed = meter("mediator: claim", med, "POST", f"/tasks/{task_id}/claim", expect=(302,))
        if claimed.headers["Location"].endswith(f"/tasks/{task_id}"):
            page = meter("mediator: task form", med, "GET", f"/tasks/{task_id}").get_data(as_text=True)
            which = next((step for field, step in load.STEP_FIELDS.items() if f'name="{field}"' in page), None)
            if which == "mediation":
                form = dict(load.MEDIATION_SUCCESS, **{"sessions-0-held_on": "2026-11-20"})
            elif which == "window":
                form = dict(load.WINDOW_NO)
            if which:
                answer = meter("mediator: submit", med, "POST", f"/tasks/{task_id}", form, expect=(302,))
                meter("mediator: case page", med, "GET", answer.headers["Location"])
    meter("supervisor: dashboard", sup, "GET", "/supervision/dashboard")
    meter("supervisor: overdue list", sup, "GET", "/supervision/?only=red")
    meter("supervisor: indicators", sup, "GET", "/supervision/indicators")
    case_id, id_number = rnd.choice(lookups)
    found = meter("auditor: case search", aud, "GET", "/audit/cases?" + urlencode({"q": id_number}))
    ids = load.AUDIT_LINK.findall(found.get_data(as_text=True))
    meter("auditor: trace", aud, "GET", f"/audit/cases/{ids[0] if ids else case_id}")
    page = meter("clerk: new-case form", clerk, "GET", "/matters/new").get_data(as_text=True)
    person = load.Person("http://x", "clerk", "clerk", 0, rnd)
    form = person.intake_form(clerk.token)
    answer = meter("clerk: file", clerk, "POST", "/matters/new", form, expect=(200, 302))
    if answer.status_code == 200 and "repeat_decision" in answer.get_data(as_text=True):
        meter("clerk: file", clerk, "POST", "/matters/new", dict(form, repeat_decision="new"), expect=(302,))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.webcpu", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--db", required=True, help="PostgreSQL (or SQLite) URL; created and filled if empty, kept")
    parser.add_argument("--cases", type=int, default=3000, help="backlog (default 3000, as bench.load)")
    parser.add_argument("--repeat", type=int, default=30, help="rounds measured (default 30)")
    parser.add_argument("--warmup", type=int, default=3, help="rounds not measured first (default 3)")
    parser.add_argument("--profile", action="append", default=[], metavar="KIND",
                        help="print cProfile's top functions for this kind (repeatable; 'all' for every kind)")
    parser.add_argument("--top", type=int, default=35)
    parser.add_argument("--seed", type=int, default=14)
    args = parser.parse_args(argv)

    if load.create_database(args.db):
        load.run_py(args.db, "demo")
    from engine.persistence.db import session_factory
    factory = session_factory(args.db)
    load.add_logins(factory, {"clerk": 1, "mediator": 1, "supervisor": 1, "auditor": 1})
    load.add_backlog(factory, args.db, args.cases)
    lookups = load.sample_cases(factory)

    from webui import create_app
    from webui.extensions import db
    app = create_app({"SQLALCHEMY_DATABASE_URI": args.db})
    with app.app_context():
        engine = db.engine
    people = {role: Client(app, load.username(role, 0)) for role in ("clerk", "mediator", "supervisor", "auditor")}
    rnd, done = random.Random(args.seed), set()
    warm = Meter(engine, [])
    for _ in range(args.warmup):
        one_round(warm, people, lookups, rnd, done)
    event.remove(engine, "before_cursor_execute", warm._count)
    meter = Meter(engine, KINDS if "all" in args.profile else args.profile)
    for _ in range(args.repeat):
        one_round(meter, people, lookups, rnd, done)
    print(f"{'kind':<28}{'n':>4}{'CPU ms median':>15}{'mean':>8}{'SQL median':>12}")
    for kind in KINDS:
        cpus = meter.cpu.get(kind)
        if cpus:
            print(f"{kind:<28}{len(cpus):>4}{statistics.median(cpus) * 1000:>15.1f}{statistics.fmean(cpus) * 1000:>8.1f}"
                  f"{statistics.median(meter.statements[kind]):>12.0f}")
    for kind, profile in meter.profiles.items():
        out = io.StringIO()
        print(f"\n=== {kind} ===", file=out)
        pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(args.top)
        pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(args.top)
        print(out.getvalue())
    engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
