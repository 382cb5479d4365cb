"""python -m bench.load: a full room working without pause against the product's own server.

Logged-in people (default 30: 10 clerks, 10 mediators, 5 supervisors, 5 auditors) work for 60 s
over HTTP through the real forms: clerks file matters, mediators claim and submit their steps,
supervisors read the dashboard, the overdue list and the indicators, auditors search cases and
read their trace. It prints requests per second, p50/p95/p99 per kind of request, errors, the
server's CPU per request and memory, then the server CPU per user-task submit measured one
submit after another, and checks that every submission the server accepted is stored and every
case's hash chain is intact (`run.py audit verify`).

  python -m bench.load                          # a fresh PostgreSQL database load_bench, dropped after
  python -m bench.load --think 1                # a pause of 0.5-1.5 s between one person's requests
  python -m bench.load --url http://127.0.0.1:8080 --db postgresql://postgres@127.0.0.1:5432/yizhan
                                                # a server already running (nginx in front of several)

The server is started as production starts it: `run.py serve` in a child process, on a free port,
with this environment (WEB_WORKERS and the rest passed through). The load generator runs on the
same machine, so it keeps its own cost low (threads, keep-alive connections, no HTML parser) and
prints the CPU it used.
"""
import argparse
import http.client
import json
import math
import os
import random
import re
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = "postgresql://postgres@127.0.0.1:5432/load_bench"
PASSWORD = "load-bench-1234"
ROLES = ("clerk", "mediator", "supervisor", "auditor")
DEFAULT_MIX = "clerk=10,mediator=10,supervisor=5,auditor=5"
# Where the load's logins work, in turn (unit codes of the demo, engine/demo.py): most at the
# county center, where the backlog's open steps wait, some at a township and a village.
PLACES = {"clerk": ["C01-Q", "C01-Q", "C01-Q-CG", "C01-Q", "C01-Q-CG-DG", "C01-Q", "C01-Q-CG", "C01-Q",
                    "C01-Q-LL-LL", "C01-Q"],
          "mediator": ["C01-Q", "C01-Q", "C01-Q", "C01-Q-CG", "C01-Q", "C01-Q", "C01-Q", "C01-Q-CG", "C01-Q", "C01-Q"],
          "supervisor": ["C01-Q", "C01-Q", "C01-Q-CG", "C01-Q", "C01-Q"],
          "auditor": ["C01-Q"]}
GOAL_P95_MS = 300
GOAL_SUBMIT_CPU_MS = 10
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")

# What residents tell the clerk at the window: category, place, summary, claims.
STORIES = [
    ("neighbour", "东关村三组", "两户因排水沟堵塞发生争执，雨水倒灌一方院内，双方多次争吵。", "疏通排水沟并赔偿损失"),
    ("neighbour", "城关镇西关社区5号楼", "楼上住户长期深夜装修产生噪音，楼下老人无法休息，协商未果。", "停止夜间施工并赔礼道歉"),
    ("marriage_family", "柳林村", "夫妻因赡养老人费用分担问题产生矛盾，老人生活无人照料。", "兄弟姐妹按月分担赡养费"),
    ("contract", "县城建材市场", "装修公司收取预付款两万元后未按约定开工，多次催促无果。", "退还预付款并支付违约金"),
    ("damages", "王庄村路口", "村民饲养的犬只咬伤路过儿童，医药费由谁承担发生争议。", "赔偿医药费及误工费三千元"),
    ("property_mgmt", "清河县阳光小区", "物业公司以欠缴物业费为由停止供应电梯卡，业主认为服务不到位。", "恢复电梯卡并改进服务"),
    ("consumer", "县城商业街", "购买的电动车一周内多次故障，商家拒绝退换。", "退货退款"),
    ("housing_land", "东关村四组", "宅基地边界争议，一方砌墙占用另一方通道约半米。", "拆除占用部分恢复通道"),
]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国"
# What a mediator records on the steps they work, by a field only that step's form has.
MEDIATION_SUCCESS = {"outcome": "success", "agreement_terms": "被申请人于十日内支付赔偿款并当面致歉，双方不再追究。",
                     "amount": "3000", "sessions-0-notes": "双方到场，经释法说理达成一致。"}
MEDIATION_FAILURE = {"outcome": "failure", "failure_reason": "双方对赔偿金额分歧过大，无法达成一致。",
                     "sessions-0-notes": "双方到场，分歧较大。"}
WINDOW_NO = {"applied": "no", "window_note": "双方表示自愿履行，不申请司法确认。"}
STEP_FIELDS = {"agreement_terms": "mediation", "window_note": "window"}


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--db", help=f"database URL (default {DEFAULT_DB}; created fresh and dropped at the end "
                                     "unless --keep; with --url, the running server's database, never created or dropped)")
    parser.add_argument("--url", help="a server already running (e.g. nginx in front of several): no server is started")
    parser.add_argument("--pid", type=int, action="append", default=[],
                        help="with --url: a server process whose tree's CPU and memory to measure (repeatable)")
    parser.add_argument("--people", type=int, default=30, help="logged-in people working at once (default 30)")
    parser.add_argument("--mix", default=DEFAULT_MIX, help=f"shares of the people by role (default {DEFAULT_MIX})")
    parser.add_argument("--seconds", type=float, default=60, help="how long they work (default 60)")
    parser.add_argument("--think", type=float, default=0,
                        help="seconds between one person's requests, uniform 0.5x-1.5x (default 0: no pause)")
    parser.add_argument("--cases", type=int, default=3000, help="backlog of cases loaded before (default 3000)")
    parser.add_argument("--submits", type=int, default=100,
                        help="user tasks submitted one after another after the load (default 100; 0 skips)")
    parser.add_argument("--rounds", type=int, default=10,
                        help="then rounds of a clerk's, a supervisor's and an auditor's work, one request at a time "
                             "(default 10)")
    parser.add_argument("--keep", action="store_true", help="keep the database at the end")
    parser.add_argument("--json", metavar="FILE", help="write the figures as JSON to FILE")
    parser.add_argument("--seed", type=int, default=14)
    args = parser.parse_args(argv)
    try:
        args.roles = people_by_role(args.people, args.mix)
    except ValueError as bad:
        parser.error(str(bad))
    if args.seconds <= 0 or args.think < 0 or args.cases < 0 or args.submits < 0 or args.rounds < 0:
        parser.error("--seconds must be positive; --think, --cases, --submits and --rounds not negative")
    if args.pid and not args.url:
        parser.error("--pid only with --url (the server this tool starts is measured anyway)")
    args.db = args.db or DEFAULT_DB
    return args


def people_by_role(people, mix):
    """{role: count} from shares such as "clerk=10,mediator=10" scaled to `people` (largest remainders)."""
    shares = {}
    for part in filter(None, (p.strip() for p in mix.split(","))):
        role, _sep, share = part.partition("=")
        if role not in ROLES or not share.isdigit():
            raise ValueError(f"--mix: {part!r} is not ROLE=N with ROLE one of {', '.join(ROLES)}")
        shares[role] = int(share)
    total = sum(shares.values())
    if people < 1 or total < 1:
        raise ValueError("--people and the --mix shares must be at least 1")
    exact = {role: people * share / total for role, share in shares.items()}
    counts = {role: int(value) for role, value in exact.items()}
    for role in sorted(exact, key=lambda r: exact[r] - counts[r], reverse=True)[:people - sum(counts.values())]:
        counts[role] += 1
    return {role: n for role, n in counts.items() if n}


# --- the database ----------------------------------------------------------------------------

def _admin_engine(url):
    """A connection to the server's maintenance database, for CREATE and DROP DATABASE."""
    import sqlalchemy as sa
    parts = urlsplit(url)
    admin = parts._replace(scheme="postgresql+psycopg", path="/postgres").geturl()
    return sa.create_engine(admin, isolation_level="AUTOCOMMIT"), parts.path.lstrip("/")


def create_database(url):
    """A fresh, empty database; one that exists already is not touched (returns False)."""
    if url.startswith("sqlite"):
        path = Path(url.split("///", 1)[1])
        return not path.exists()
    import sqlalchemy as sa
    engine, name = _admin_engine(url)
    with engine.connect() as conn:
        if conn.scalar(sa.text("select 1 from pg_database where datname = :n"), {"n": name}):
            engine.dispose()
            return False
        conn.execute(sa.text(f'create database "{name}"'))
    engine.dispose()
    return True


def drop_database(url):
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1]
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.remove(path + suffix)
        return
    import sqlalchemy as sa
    engine, name = _admin_engine(url)
    with engine.connect() as conn:
        conn.execute(sa.text(f'drop database if exists "{name}" with (force)'))
    engine.dispose()


def run_py(url, *command, check=True):
    """`run.py COMMAND` in a child process against `url` (the benchmark never loads the web app)."""
    env = dict(os.environ, DATABASE_URL=url, YIZHAN_SCHEDULER="off")
    done = subprocess.run([sys.executable, str(ROOT / "run.py"), *command], env=env, cwd=ROOT,
                          capture_output=True, text=True)
    if check and done.returncode:
        raise SystemExit(f"run.py {' '.join(command)} failed on {url}:\n{done.stdout[-1000:]}{done.stderr[-2000:]}")
    return done


def username(role, i):
    return f"load_{role}{i + 1:02d}"


def add_logins(factory, roles):
    """The load's logins, made by the engine's own account function, in the demo's units; those that
    exist already are kept. Returns {username: user id}."""
    import sqlalchemy as sa
    from engine.access.accounts import create_user
    from engine.access.passwords import hash_password
    from engine.persistence.models import OrgUnit, User
    from engine.persistence.uow import UnitOfWork
    wanted = {username(role, i): (role, PLACES[role][i % len(PLACES[role])]) for role, n in roles.items()
              for i in range(n)}
    # The one-at-a-time phase's own logins, one per role.
    wanted.update({username(role, 99): (role, "C01-Q") for role in ROLES})
    session = factory()
    try:
        units = dict(session.execute(sa.select(OrgUnit.code, OrgUnit.id)).all())
        have = set(session.scalars(sa.select(User.username).where(User.username.in_(wanted))))
        password = hash_password(PASSWORD)
        with UnitOfWork(session):
            for name, (role, place) in wanted.items():
                if name not in have:
                    create_user(session, name, password, f"压测{name[5:]}", units[place], [role])
        return dict(session.execute(sa.select(User.username, User.id).where(User.username.in_(wanted))).all())
    finally:
        session.close()


def add_backlog(factory, url, cases):
    """`cases` cases over two years (a quarter open, their mediation steps waiting in the county's
    pool) by the scale benchmark's bulk loader, unless the database holds that many already."""
    import sqlalchemy as sa
    from bench import scale
    session = factory()
    try:
        have = session.scalar(sa.text("select count(*) from cases"))
        if have >= cases:
            return have, False
        template = scale.template_states(session)
        scale.load_cases(session, cases - have, 0, template, datetime.now(timezone.utc))
        if url.startswith("postgresql"):
            # The bulk rows name their ids: move the sequence past them, or the next filing collides.
            session.execute(sa.text("select setval(pg_get_serial_sequence('cases', 'id'), (select max(id) from cases))"))
            session.commit()
            session.execute(sa.text("analyze"))
            session.commit()
    finally:
        session.close()
    # What a running centre's worker has long done for its history, done now rather than in the
    # window (where it took over half a core): the first sweep's reminders for the backlog's
    # overdue steps, and the daily roll-up of its two years for the indicators.
    scale.drain_reminders(factory)
    scale.backfill_rollup(factory)
    return cases, True


def sample_cases(factory, n=200):
    """Case ids and party ID numbers the auditors look up."""
    import sqlalchemy as sa
    session = factory()
    try:
        rows = session.execute(sa.text("select p.case_id, p.id_number from case_parties p "
                                       "order by p.id desc limit :n"), {"n": n}).all()
        return [(case_id, number) for case_id, number in rows]
    finally:
        session.close()


# --- the server ------------------------------------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(url, log_path):
    port = free_port()
    env = dict(os.environ, DATABASE_URL=url, PORT=str(port), HOST="127.0.0.1")
    env.setdefault("SECRET_KEY", secrets.token_hex(32))  # one key for every worker of this run
    log = open(log_path, "w")
    proc = subprocess.Popen([sys.executable, str(ROOT / "run.py"), "serve"], env=env, cwd=ROOT, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"run.py serve stopped (exit {proc.returncode}):\n{Path(log_path).read_text()[-3000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/login")
            if conn.getresponse().status == 200:
                conn.close()
                return proc, port
        except OSError:
            pass
        time.sleep(0.3)
    stop_server(proc)
    raise SystemExit(f"run.py serve did not answer within 90 s:\n{Path(log_path).read_text()[-3000:]}")


def stop_server(proc, sig=signal.SIGTERM, timeout=20):
    """`sig` (SIGTERM) to the server's process group (it was started in a session of its own),
    then SIGKILL if it has not stopped within `timeout` seconds."""
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, sig)
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        pass


class ServerTree:
    """The server's whole process tree read from /proc: CPU (utime+stime, and that of children it
    has reaped) and resident memory. Roots are the processes this tool started or was given."""

    def __init__(self, roots):
        self.roots = list(roots)
        self.pids = []
        self.refresh()

    def refresh(self):
        children = defaultdict(list)
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                stat = _stat(int(entry))
                if stat:
                    children[int(stat[1])].append(int(entry))
        found, todo = [], [p for p in self.roots if _stat(p)]
        while todo:
            pid = todo.pop()
            found.append(pid)
            todo.extend(children.get(pid, ()))
        self.pids = found

    def cpu_seconds(self):
        total = 0
        for pid in self.pids:
            stat = _stat(pid)
            if stat:
                total += sum(int(v) for v in stat[11:15])  # utime stime cutime cstime
        return total / CLK_TCK

    def rss_bytes(self):
        total = 0
        for pid in self.pids:
            stat = _stat(pid)
            if stat:
                total += int(stat[21]) * PAGE_SIZE
        return total


def _stat(pid):
    """/proc/PID/stat's fields after the command name (state first), or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            text = f.read().decode()
    except OSError:
        return None
    return text[text.rfind(")") + 2:].split()


class Sampler(threading.Thread):
    """Every second: the server's memory (peak of the sum over its processes) and, on PostgreSQL,
    the database's backends."""

    def __init__(self, tree, db_url):
        super().__init__(daemon=True)
        self.tree, self.db_url = tree, db_url
        self.peak_rss = self.peak_processes = self.peak_backends = 0
        self.stop = threading.Event()
        self.engine = None
        if db_url.startswith("postgresql"):
            from engine.persistence.db import engine_for
            self.engine = engine_for(db_url, pool_size=1)

    def sample(self):
        if self.tree:
            self.tree.refresh()
            self.peak_rss = max(self.peak_rss, self.tree.rss_bytes())
            self.peak_processes = max(self.peak_processes, len(self.tree.pids))
        if self.engine is not None:
            import sqlalchemy as sa
            with self.engine.connect() as conn:
                n = conn.scalar(sa.text("select count(*) from pg_stat_activity where datname = current_database()"))
            self.peak_backends = max(self.peak_backends, n - 1)  # not this sampler's own

    def run(self):
        while not self.stop.wait(1.0):
            self.sample()

    def finish(self):
        self.stop.set()
        self.join()
        self.sample()
        if self.engine is not None:
            self.engine.dispose()


# --- the people ------------------------------------------------------------------------------

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
SECTION = re.compile(r'<section class="card">(.*?)</section>', re.S)
TASK_LINK = re.compile(r'href="/tasks/(\d+)"')
AUDIT_LINK = re.compile(r'href="/audit/cases/(\d+)"')
REFUSAL = re.compile(r'class="(?:flash flash-error|form-error|error)"[^>]*>([^<]{1,200})<')
CASE_PATH = re.compile(r"^/cases/(\d+)$")
TASK_PATH = re.compile(r"^/tasks/(\d+)$")


class Failed(Exception):
    """A request the person saw fail: a connection error, or a status the page never gives."""


class Person:
    """One logged-in person with their own keep-alive connection and cookie."""

    def __init__(self, base, name, role, think, rnd, meter=None):
        parts = urlsplit(base)
        self.host, self.port = parts.hostname, parts.port or 80
        self.prefix = parts.path.rstrip("/")
        self.name, self.role, self.think, self.rnd = name, role, think, rnd
        self.conn = None
        self.cookies = {}
        self.times = defaultdict(list)     # kind -> [seconds]
        self.errors = []                   # (kind, status, sample)
        self.accepted = []                 # (what, case id, task id, username)
        self.refusals = Counter()          # what the person was told instead (someone was first...)
        self.inbox = None                  # the inbox page last read, and how many times it was used
        self.meter = meter                 # (kind, seconds of server CPU) in the sequential phase
        self.done_steps = set()

    def request(self, kind, method, path, form=None, expect=(200,)):
        """(status, location path, body text) of one request, timed under `kind`; Failed if it failed."""
        body = urlencode(form).encode() if form is not None else None
        headers = {"Host": f"{self.host}:{self.port}", "Accept-Language": "zh-CN,zh;q=0.9"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        cpu_before = self.meter.cpu_seconds() if self.meter else 0
        began = time.perf_counter()
        try:
            try:
                reused = self.conn is not None
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
                self.conn.request(method, self.prefix + path, body=body, headers=headers)
                response = self.conn.getresponse()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # A kept-alive connection the server (nginx: keepalive_timeout) closed while it was
                # idle, e.g. while the others logged in: a browser sends a GET again on a new one.
                if not (reused and method == "GET"):
                    raise
                self._close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
                self.conn.request(method, self.prefix + path, body=body, headers=headers)
                response = self.conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            self.times[kind].append(time.perf_counter() - began)
            self._close()
            self.errors.append((kind, type(exc).__name__, str(exc)[:200]))
            raise Failed(kind) from exc
        self.times[kind].append(time.perf_counter() - began)
        if self.meter:
            self.meter.record(kind, self.meter.cpu_seconds() - cpu_before, time.perf_counter() - began)
        for header in response.msg.get_all("Set-Cookie") or ():
            pair = header.split(";", 1)[0]
            key, _sep, value = pair.partition("=")
            self.cookies[key.strip()] = value.strip()
        if response.will_close:
            self._close()
        location = urlsplit(response.getheader("Location") or "").path
        if self.prefix and location.startswith(self.prefix):
            location = location[len(self.prefix):]
        text = data.decode("utf-8", "replace")
        if response.status not in expect:
            self.errors.append((kind, response.status, _sample(text, location)))
            raise Failed(kind)
        return response.status, location, text

    def _close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def pause(self):
        if self.think:
            time.sleep(self.rnd.uniform(0.5 * self.think, 1.5 * self.think))

    def token(self, text):
        found = CSRF.search(text)
        return found.group(1) if found else ""

    def login(self):
        _status, _loc, page = self.request(f"{self.role}: login form", "GET", "/login")
        _status, location, _text = self.request(f"{self.role}: login", "POST", "/login", expect=(302,), form={
            "csrf_token": self.token(page), "username": self.name, "password": PASSWORD})
        return location

    def work_once(self, context):
        getattr(self, f"{self.role}_once")(context)

    # clerks file matters: the new-case form, then posted with the resident's story
    def clerk_once(self, context):
        _s, _l, page = self.request("clerk: new-case form", "GET", "/matters/new")
        self.pause()
        form = self.intake_form(self.token(page))
        status, location, text = self.request("clerk: file", "POST", "/matters/new", form=form, expect=(200, 302))
        if status == 200 and "repeat_decision" in text:  # the parties were seen before: a new matter all the same
            form.update(csrf_token=self.token(text), repeat_decision="new")
            status, location, text = self.request("clerk: file", "POST", "/matters/new", form=form, expect=(302,))
        found = CASE_PATH.match(location)
        if status != 302 or not found:
            self.errors.append(("clerk: file", status, _sample(text, location)))
            raise Failed("clerk: file")
        self.accepted.append(("file", int(found.group(1)), None, self.name))
        self.pause()
        self.request("clerk: case page", "GET", location)

    def intake_form(self, token):
        rnd = self.rnd
        category, place, summary, claims = rnd.choice(STORIES)
        form = {"csrf_token": token, "kind": "dispute", "channel": rnd.choice(["visit", "visit", "phone"]),
                "category": category, "place": place, "summary": summary, "claims": claims, "people_count": "2",
                "organ_level": "unknown"}
        for j, role in enumerate(("applicant", "respondent")):
            form.update({f"parties-{j}-role": role, f"parties-{j}-id_type": "resident_id",
                         f"parties-{j}-name": rnd.choice(SURNAMES) + "".join(rnd.choices(GIVEN, k=rnd.randint(1, 2))),
                         f"parties-{j}-id_number": f"3715{rnd.randrange(10 ** 13):013d}{rnd.choice('0123456789X')}",
                         f"parties-{j}-phone": f"15{rnd.randrange(10 ** 9):09d}"})
        return form

    # mediators: their inbox, then a step of theirs, or one claimed from the pool, submitted
    def mediator_once(self, context):
        # Working down the list: the inbox is read again after `reuse` steps (default: every time).
        if self.inbox is None or self.inbox[1] >= context.get("reuse", 1):
            _s, _l, page = self.request("mediator: inbox", "GET", "/tasks")
            self.inbox = [page, 0]
            self.pause()
        inbox = self.inbox[0]
        self.inbox[1] += 1
        sections = SECTION.findall(inbox)
        mine = [int(t) for t in TASK_LINK.findall(sections[0])] if sections else []
        pool = [int(t) for t in TASK_LINK.findall(sections[1])] if len(sections) > 1 else []
        mine = [t for t in mine if t not in self.done_steps]
        pool = [t for t in pool if t not in self.done_steps]
        if mine:
            task_id = mine[0]
            _s, _l, page = self.request("mediator: task form", "GET", f"/tasks/{task_id}")
        else:
            share, slot = context.get("share", (1, 0))
            # Split by a hash of the id (the backlog's step ids are all odd: `id % share` left slots empty).
            pool = [t for t in dict.fromkeys(pool) if zlib.crc32(str(t).encode()) % share == slot] or pool
            if not pool:
                return
            task_id = pool[0]
            status, location, _t = self.request("mediator: claim", "POST", f"/tasks/{task_id}/claim",
                                                form={"csrf_token": self.token(inbox)}, expect=(302,))
            if location != f"/tasks/{task_id}":  # refused (someone else was first...): the case page says why
                self.done_steps.add(task_id)
                _s, _l, page = self.request("mediator: case page", "GET", location)
                self.refused("claim", page)
                return
            self.pause()
            _s, _l, page = self.request("mediator: task form", "GET", location)
        which = next((step for field, step in STEP_FIELDS.items() if f'name="{field}"' in page), None)
        if which is None:  # a step this load does not fill in: left for a person
            self.done_steps.add(task_id)
            return
        self.pause()
        self.submit(task_id, which, self.token(page))

    def refused(self, what, page):
        found = REFUSAL.search(page)
        self.refusals[f"{what}: {found.group(1).strip() if found else '?'}"] += 1

    def submit(self, task_id, which, token):
        if which == "mediation":
            form = dict(MEDIATION_SUCCESS if self.rnd.random() < 0.85 else MEDIATION_FAILURE)
            form["sessions-0-held_on"] = (datetime.now(timezone.utc) - timedelta(days=self.rnd.randint(1, 9))).date().isoformat()
        else:
            form = dict(WINDOW_NO)
        form["csrf_token"] = token
        status, location, text = self.request("mediator: submit", "POST", f"/tasks/{task_id}", form=form,
                                              expect=(302, 409))
        found = CASE_PATH.match(location)
        if status == 409:  # the step moved on meanwhile (e.g. its deadline fired): the person reads why
            self.done_steps.add(task_id)
            self.refused("submit", text)
            return
        if not found:
            self.errors.append(("mediator: submit", status, _sample(text, location)))
            raise Failed("mediator: submit")
        self.done_steps.add(task_id)
        self.accepted.append(("submit", int(found.group(1)), task_id, self.name))
        self.pause()
        self.request("mediator: case page", "GET", location)

    # supervisors: the dashboard, the overdue steps, the indicators
    def supervisor_once(self, _context):
        self.request("supervisor: dashboard", "GET", "/supervision/dashboard")
        self.pause()
        self.request("supervisor: overdue list", "GET", "/supervision/?only=red")
        self.pause()
        self.request("supervisor: indicators", "GET", "/supervision/indicators")
        self.pause()

    # auditors: a case found by a party's ID number, then its trace
    def auditor_once(self, context):
        case_id, id_number = self.rnd.choice(context["lookups"])
        _s, _l, found = self.request("auditor: case search", "GET", "/audit/cases?" + urlencode({"q": id_number}))
        ids = AUDIT_LINK.findall(found)
        self.pause()
        self.request("auditor: trace", "GET", f"/audit/cases/{ids[0] if ids else case_id}")
        self.pause()


def _sample(text, location):
    if location:
        return f"-> {location}"
    found = re.search(r"<title>(.*?)</title>", text, re.S)
    errors = re.findall(r'class="(?:error|field-error|flash flash-error)"[^>]*>([^<]{1,120})', text)
    return " | ".join(filter(None, [found.group(1).strip() if found else text[:120], *errors[:3]]))[:300]


def run_people(people, seconds, contexts):
    """Every person works in their own thread until the time is up (what they started, they finish)."""
    end = time.monotonic() + seconds

    def work(person):
        while time.monotonic() < end:
            try:
                person.work_once(contexts[person.name])
            except Failed:
                time.sleep(0.2)  # what a person does after an error: look, then carry on

    threads = [threading.Thread(target=work, args=(p,), daemon=True) for p in people]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


class Meter:
    """Server CPU per request, one request at a time (the sequential phase), less what the server
    spends idle meanwhile (its timer sweep), measured before: `idle` CPU seconds per second."""

    def __init__(self, tree, idle_seconds=3.0):
        self.tree = tree
        self.cpu = defaultdict(list)
        before, began = tree.cpu_seconds(), time.perf_counter()
        time.sleep(idle_seconds)
        self.idle = max(0.0, (tree.cpu_seconds() - before) / (time.perf_counter() - began))

    def cpu_seconds(self):
        return self.tree.cpu_seconds()

    def record(self, kind, seconds, wall):
        self.cpu[kind].append(max(0.0, seconds - self.idle * wall))


# --- figures ---------------------------------------------------------------------------------

def percentile(sorted_values, p):
    if not sorted_values:
        return 0.0
    # Nearest rank: the smallest value with at least p % of the values at or below it.
    return sorted_values[min(len(sorted_values) - 1, max(0, math.ceil(p / 100 * len(sorted_values)) - 1))]


def latency_table(people):
    merged = defaultdict(list)
    for person in people:
        for kind, times in person.times.items():
            if "login" not in kind:
                merged[kind].extend(times)
    rows = {}
    for kind in sorted(merged):
        values = sorted(merged[kind])
        rows[kind] = {"count": len(values), "p50_ms": percentile(values, 50) * 1000,
                      "p95_ms": percentile(values, 95) * 1000, "p99_ms": percentile(values, 99) * 1000}
    everything = sorted(v for values in merged.values() for v in values)
    rows["all"] = {"count": len(everything), "p50_ms": percentile(everything, 50) * 1000,
                   "p95_ms": percentile(everything, 95) * 1000, "p99_ms": percentile(everything, 99) * 1000}
    return rows


def error_table(people):
    counts, samples = Counter(), {}
    for person in people:
        for kind, status, sample in person.errors:
            counts[(kind, str(status))] += 1
            samples.setdefault((kind, str(status)), sample)
    return [{"kind": kind, "status": status, "count": n, "sample": samples[(kind, status)]}
            for (kind, status), n in sorted(counts.items())]


def verify_stored(factory, accepted):
    """How many of the accepted submissions the database holds: a filed case with its intake step
    completed; a submitted step completed by whoever submitted it."""
    import sqlalchemy as sa
    from engine.persistence.models import Case, Task, User
    session = factory()
    try:
        users = dict(session.execute(sa.select(User.username, User.id)).all())
        missing = []
        for what, case_id, task_id, name in accepted:
            if what == "file":
                ok = session.scalar(sa.select(sa.func.count()).select_from(Task).join(Case, Case.id == Task.case_id).where(
                    Task.case_id == case_id, Task.spec_id == "Task_intake", Task.state == "completed")) == 1
            else:
                ok = session.scalar(sa.select(sa.func.count()).select_from(Task).where(
                    Task.id == task_id, Task.case_id == case_id, Task.state == "completed",
                    Task.completed_by == users.get(name))) == 1
            if not ok:
                missing.append((what, case_id, task_id, name))
        return len(accepted) - len(missing), missing
    finally:
        session.close()


def line(label, value, note=""):
    print(f"  {label:<34}{value:>16}  {note}".rstrip())


def mib(n):
    return n / 1024 / 1024


def make_people(base, args, lookups, rnd):
    """The people, and what each one's work needs: the auditors' look-ups, each mediator's share of the pool."""
    people, contexts = [], {}
    for role, n in args.roles.items():
        for i in range(n):
            name = username(role, i)
            people.append(Person(base, name, role, args.think, random.Random(rnd.random())))
            contexts[name] = {"lookups": lookups}
    # Mediators of one unit share its pool: each takes the steps whose id falls to them, as a team splits work.
    by_unit = defaultdict(list)
    for i in range(args.roles.get("mediator", 0)):
        by_unit[PLACES["mediator"][i % len(PLACES["mediator"])]].append(username("mediator", i))
    for names in by_unit.values():
        for slot, name in enumerate(names):
            contexts[name]["share"] = (len(names), slot)
    return people, contexts


def main(argv=None):
    args = parse_args(argv)
    sys.path.insert(0, str(ROOT))
    rnd = random.Random(args.seed)
    report = {"people": args.roles, "seconds": args.seconds, "think": args.think, "db": args.db.split("://")[0],
              "url": args.url, "uptime_load": os.getloadavg()}
    roles_text = ", ".join(f"{n} {role}s" for role, n in args.roles.items())
    print(f"yizhan under load: {sum(args.roles.values())} people ({roles_text}) for {args.seconds:g} s, "
          + (f"think {0.5 * args.think:g}-{1.5 * args.think:g} s" if args.think else "no think time")
          + "; machine load (1, 5, 15 min) {:.2f} {:.2f} {:.2f}, {} cores".format(*os.getloadavg(), os.cpu_count()))
    created = False
    if not args.url:
        created = create_database(args.db)
        if not created:
            raise SystemExit(f"{args.db} exists already: drop it, or name another with --db "
                             "(this tool drops the database it made)")
    server = None
    tmp = tempfile.mkdtemp(prefix="yizhan-load-")
    try:
        began = time.perf_counter()
        run_py(args.db, "demo")
        from engine.persistence.db import session_factory
        factory = session_factory(args.db)
        users = add_logins(factory, args.roles)
        total, loaded = add_backlog(factory, args.db, args.cases)
        lookups = sample_cases(factory)
        print(f"  set up in {time.perf_counter() - began:.0f} s: {args.db.split('://')[0]}, backlog {total:,} cases"
              + ("" if loaded else " (there already)") + f", {len(users)} load logins")

        if args.url:
            base, tree = args.url, (ServerTree(args.pid) if args.pid else None)
            print(f"  server: {base} (started elsewhere" + (f"; measuring processes {args.pid})" if args.pid else
                                                         "; its CPU and memory are not measured: see --pid)"))
        else:
            server, port = start_server(args.db, os.path.join(tmp, "server.log"))
            base, tree = f"http://127.0.0.1:{port}", None
            tree = ServerTree([server.pid])
            workers = os.environ.get("WEB_WORKERS")
            print(f"  server: run.py serve on {base}" + (f", WEB_WORKERS={workers}" if workers else ""))
        report["base"] = base

        people, contexts = make_people(base, args, lookups, rnd)
        login_errors = 0
        for person in people:
            try:
                if person.login() != "/":
                    login_errors += 1
            except Failed:
                login_errors += 1
        if login_errors:
            raise SystemExit(f"{login_errors} login(s) failed: {error_table(people)}")

        sampler = Sampler(tree, args.db)
        sampler.sample()
        cpu_server_0 = tree.cpu_seconds() if tree else None
        cpu_self_0 = resource.getrusage(resource.RUSAGE_SELF)
        sampler.start()
        t0 = time.perf_counter()
        run_people(people, args.seconds, contexts)
        elapsed = time.perf_counter() - t0
        cpu_self_1 = resource.getrusage(resource.RUSAGE_SELF)
        if tree:
            tree.refresh()
        cpu_server = tree.cpu_seconds() - cpu_server_0 if tree else None
        sampler.finish()

        rows = latency_table(people)
        requests = rows["all"]["count"]
        errors = error_table(people)
        gen_cpu = (cpu_self_1.ru_utime + cpu_self_1.ru_stime) - (cpu_self_0.ru_utime + cpu_self_0.ru_stime)
        print(f"\nunder load ({elapsed:.1f} s)")
        line("requests", f"{requests:,}", f"{requests / elapsed:,.1f} per second")
        print(f"  {'kind':<34}{'count':>7}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}")
        for kind, row in rows.items():
            note = f"  goal: p95 < {GOAL_P95_MS} ms" if kind == "all" else ""
            print(f"  {kind:<34}{row['count']:>7,}{row['p50_ms']:>9.0f}{row['p95_ms']:>9.0f}{row['p99_ms']:>9.0f}{note}")
        line("errors", f"{sum(e['count'] for e in errors):,}", "goal: none")
        for e in errors:
            print(f"    {e['kind']} [{e['status']}] x{e['count']}: {e['sample']}")
        refusals = sum((p.refusals for p in people), Counter())
        if refusals:
            line("refused, told why (not errors)", f"{sum(refusals.values()):,}")
            for why, n in refusals.most_common():
                print(f"    {why} x{n}")
        if cpu_server is not None:
            line("server CPU per request", f"{cpu_server / max(requests, 1) * 1000:.1f} ms",
                 f"{cpu_server:.1f} s of CPU in {elapsed:.0f} s: {cpu_server / elapsed:.2f} cores")
            line("server memory, peak", f"{mib(sampler.peak_rss):,.0f} MiB",
                 f"RSS summed over {sampler.peak_processes} process(es), sampled every second")
        if sampler.peak_backends:
            line("PostgreSQL backends, peak", f"{sampler.peak_backends}")
        line("load generator CPU", f"{gen_cpu:.1f} s", f"{gen_cpu / elapsed:.2f} cores of this machine's "
             f"{os.cpu_count()}")
        report["load"] = {"elapsed_s": elapsed, "requests": requests, "rps": requests / elapsed, "kinds": rows,
                          "errors": errors, "refusals": dict(refusals),
                          "server_cpu_s": cpu_server,
                          "server_cpu_ms_per_request": cpu_server / max(requests, 1) * 1000 if cpu_server is not None else None,
                          "server_rss_peak_mib": mib(sampler.peak_rss) if tree else None,
                          "server_processes_peak": sampler.peak_processes if tree else None,
                          "pg_backends_peak": sampler.peak_backends or None,
                          "generator_cpu_s": gen_cpu, "goal_p95_ms": GOAL_P95_MS,
                          "goal_met": rows["all"]["p95_ms"] < GOAL_P95_MS and not errors}

        accepted = [a for p in people for a in p.accepted]
        if args.submits or args.rounds:
            accepted += sequential(base, args, tree, report, rnd, lookups,
                                   {kind: row["count"] for kind, row in rows.items()})
        if tree:
            tree.refresh()
            report["server_rss_end_mib"] = mib(tree.rss_bytes())
            line("server memory at the end", f"{report['server_rss_end_mib']:,.0f} MiB")

        stored, missing = verify_stored(factory, accepted)
        print()
        line("submissions accepted", f"{len(accepted):,}", f"found stored: {stored:,}")
        for what in missing[:10]:
            print(f"    not found: {what}")
        audit = run_py(args.db, "audit", "verify", check=False)
        summary = (audit.stdout.strip().splitlines() or [audit.stderr.strip()[-300:]])[-1]
        line("audit verify", "ok" if audit.returncode == 0 else "BROKEN", summary)
        report["submissions"] = {"accepted": len(accepted), "found_stored": stored,
                                 "missing": [list(m) for m in missing],
                                 "by_kind": dict(Counter(a[0] for a in accepted))}
        report["audit_verify"] = {"ok": audit.returncode == 0, "summary": summary}
        report["uptime_load_end"] = os.getloadavg()
        if args.json:
            Path(args.json).write_text(json.dumps(report, ensure_ascii=False, indent=2))
        return 0 if (stored == len(accepted) and audit.returncode == 0) else 1
    finally:
        if server is not None:
            stop_server(server)
        shutil.rmtree(tmp, ignore_errors=True)  # the server's log (its tail is printed if it fails)
        if created and not args.keep:
            drop_database(args.db)
        elif created:
            print(f"  database kept: {args.db}")


def sequential(base, args, tree, report, rnd, lookups, load_counts):
    """One request at a time, the server's CPU read before and after each: one mediator submits
    `args.submits` steps (the inbox read every tenth step; claim, open, submit, case page), then a
    clerk, a supervisor and an auditor each go `args.rounds` times through their work. With the
    counts under load, the share of the server's CPU each kind of request took."""
    meter = Meter(tree) if tree else None
    person = Person(base, username("mediator", 99), "mediator", 0, random.Random(rnd.random()), meter)
    person.login()
    began = time.perf_counter()
    idle = 0  # rounds in a row without a submit: the pool is empty, or what is left is not for this load
    while len(person.accepted) < args.submits and idle < 3:
        before = len(person.accepted)
        try:
            person.mediator_once({"reuse": 10})
        except Failed:
            pass
        idle = idle + 1 if len(person.accepted) == before else 0
    elapsed = time.perf_counter() - began
    others = [Person(base, username(role, 99), role, 0, random.Random(rnd.random()), meter)
              for role in ("clerk", "supervisor", "auditor")]
    for other in others:
        other.login()
        for _round in range(args.rounds):
            try:
                other.work_once({"lookups": lookups})
            except Failed:
                pass
    everyone = [person] + others
    n = sum(1 for what in person.accepted if what[0] == "submit")
    print(f"\none request at a time: {n} user-task submits by one mediator ({elapsed:.1f} s), "
          f"then {args.rounds} rounds of a clerk, a supervisor and an auditor")
    figures = {"submits": n, "elapsed_s": elapsed, "errors": error_table(everyone),
               "server_idle_cpu_ms_per_s": meter.idle * 1000 if meter else None}
    if meter:
        line("server CPU when idle (timer sweep)", f"{meter.idle * 1000:.1f} ms/s", "taken off each request's CPU")
    if meter and meter.cpu:
        per_kind = {kind: sum(values) / len(values) * 1000 for kind, values in sorted(meter.cpu.items())
                    if "login" not in kind}
        submit = per_kind.get("mediator: submit")
        if submit is not None:
            line("server CPU per user-task submit", f"{submit:.1f} ms", f"goal: at most {GOAL_SUBMIT_CPU_MS} ms")
        weight = {kind: ms * load_counts.get(kind, 0) for kind, ms in per_kind.items()}
        total = sum(weight.values()) or 1
        print(f"  {'server CPU per request, by kind':<34}{'ms':>7}{'n':>6}  share of the server's CPU under load")
        for kind, ms in sorted(per_kind.items(), key=lambda item: -weight[item[0]]):
            print(f"  {kind:<34}{ms:>7.1f}{len(meter.cpu[kind]):>6}  {weight[kind] / total:>5.0%}")
        figures.update(server_cpu_ms_per_submit=submit, server_cpu_ms_by_kind=per_kind,
                       server_cpu_share_under_load={kind: w / total for kind, w in weight.items()},
                       goal_submit_cpu_ms=GOAL_SUBMIT_CPU_MS)
    for e in figures["errors"]:
        print(f"    error {e['kind']} [{e['status']}] x{e['count']}: {e['sample']}")
    report["sequential"] = figures
    return [what for p in everyone for what in p.accepted]


if __name__ == "__main__":
    sys.exit(main())
