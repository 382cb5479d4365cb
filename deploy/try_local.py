#!/usr/bin/env python3
"""deploy/ tried on this machine, on loopback, as an ordinary process tree (`make deploy-try`).

What runs is what the systemd units run (deploy/systemd), with the nginx site of deploy/nginx:
  - a fresh PostgreSQL database `deploy_try`, migrated, with the demo (`run.py demo`);
  - two web servers, `YIZHAN_SCHEDULER=off run.py serve --port P` (yizhan-web@P), on free ports;
  - one timer worker, `run.py worker` (yizhan-worker);
  - nginx (Debian's) with a generated nginx.conf in a temporary prefix (`nginx -p DIR -c
    DIR/nginx.conf`) including deploy/nginx/yizhan.conf and yizhan-locations.conf, their ports and
    paths substituted, listening on a free loopback port;
then checks what nginx itself answers (static files and their caching, its limits, the pages shown
when no web server answers), runs `python -m bench.load --url <nginx> --db <database>` (make
bench-load) through nginx, and takes everything down again, the database included.

Fault drills, each a load run of its own after the plain one (--drill, repeatable):
  kill-web    one web server (its whole process group) is killed with SIGKILL in the middle of
              the load, and started again 3 s later as systemd's Restart=always would: the load
              goes on through the other; nginx's log says which requests were tried again on the
              other server and which POSTs got the "look before sending again" page (502).
  restart-db  PostgreSQL restarted under load. It runs on a cluster of its own, made for the
              drill (pg_createcluster 15 deploy_drill, on a free port) and dropped at the end, so
              nobody else's database goes down: the web servers must recover without a restart of
              their own. Each web server is asked directly, every 0.2 s, for a page that reads the
              database; the figures are the requests and errors during the outage and the seconds
              until each server answers again.
After each run bench.load checks that every submission it was told was accepted is stored, and
`run.py audit verify` that every case's hash chain is intact.

  python deploy/try_local.py                                  # plain run, 30 people for 60 s
  python deploy/try_local.py --drill kill-web --drill restart-db --json /tmp/deploy_try.json
"""
import argparse
import http.cookiejar
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.load import stop_server  # noqa: E402 - the project root is on the path from here

DEPLOY = ROOT / "deploy"
PYTHON = sys.executable
DATABASE = "deploy_try"
DRILL_CLUSTER = ("15", "deploy_drill")
DRILLS = ("kill-web", "restart-db")
# What systemd's Restart=always with RestartSec=3 (deploy/systemd/yizhan-web@.service) does.
RESTART_SEC = 3
PROBE_EVERY = 0.2


def say(text=""):
    print(text, flush=True)


def free_port(preferred=None):
    for port in ([preferred] if preferred else []) + [0]:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise RuntimeError("no free port")


def wait_for(what, check, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not come up within {seconds} s")


def answers(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status < 500
    except urllib.error.HTTPError as error:
        return error.code < 500
    except OSError:
        return False


# ---- the nginx configuration ---------------------------------------------------------------------

def substitute(text, replacements, source):
    """Each (old, new, times): the production file must say `old` exactly `times` times, so a
    change in deploy/nginx that this try does not follow stops it instead of being tried half."""
    for old, new, times in replacements:
        found = text.count(old)
        if found != times:
            raise SystemExit(f"{source}: expected {times} x {old!r}, found {found}: update deploy/try_local.py")
        text = text.replace(old, new)
    return text


def write_nginx(prefix, port, web_ports):
    """nginx.conf (what Debian's /etc/nginx/nginx.conf gives the site: mime types, sendfile) and
    the site and snippet of deploy/nginx, with this try's ports and paths."""
    for folder in ("sites", "snippets", "logs", "temp"):
        (prefix / folder).mkdir(parents=True, exist_ok=True)
    snippet = substitute((DEPLOY / "nginx/yizhan-locations.conf").read_text(), [
        ("/opt/yizhan/", f"{ROOT}/", 2)], "deploy/nginx/yizhan-locations.conf")
    (prefix / "snippets/yizhan-locations.conf").write_text(snippet)
    site = substitute((DEPLOY / "nginx/yizhan.conf").read_text(), [
        ("server 127.0.0.1:8001 ", f"server 127.0.0.1:{web_ports[0]} ", 1),
        ("server 127.0.0.1:8002 ", f"server 127.0.0.1:{web_ports[1]} ", 1),
        ("    listen 80;\n", f"    listen 127.0.0.1:{port};\n", 1),
        ("    listen [::]:80;\n", "", 1),
        ("server_name yizhan.example.cn;\n\n    access_log", "server_name localhost;\n\n    access_log", 1),
        ("/var/log/nginx/yizhan.access.log", f"{prefix}/logs/access.log", 2),
        ("/var/log/nginx/yizhan.error.log", f"{prefix}/logs/error.log", 2),
        ("/etc/nginx/snippets/yizhan-locations.conf", f"{prefix}/snippets/yizhan-locations.conf", 3),
    ], "deploy/nginx/yizhan.conf")
    (prefix / "sites/yizhan.conf").write_text(site)
    # nginx started by root runs its workers as www-data, as Debian's does; they write the temporary
    # files of large requests and answers.
    user = ""
    if os.geteuid() == 0:
        user = "user www-data;\n"
        for folder in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (prefix / "temp" / folder).mkdir(exist_ok=True)
            shutil.chown(prefix / "temp" / folder, "www-data", "www-data")
    (prefix / "nginx.conf").write_text(f"""{user}worker_processes 2;
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log warn;
daemon off;
events {{ worker_connections 1024; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    types_hash_max_size 2048;
    client_body_temp_path {prefix}/temp/body;
    proxy_temp_path {prefix}/temp/proxy;
    fastcgi_temp_path {prefix}/temp/fastcgi;
    uwsgi_temp_path {prefix}/temp/uwsgi;
    scgi_temp_path {prefix}/temp/scgi;
    include {prefix}/sites/yizhan.conf;
}}
""")
    return prefix / "nginx.conf"


def nginx_binary():
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)
    if not found:
        raise SystemExit("nginx is not installed: `make nginx-system` installs Debian's")
    return found


# ---- PostgreSQL ------------------------------------------------------------------------------------

def psql(server, sql, database="postgres"):
    url = f"{server.rstrip('/')}/{database}"
    done = subprocess.run(["psql", "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", url, "-c", sql],
                          capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"psql {sql!r}: {done.stderr.strip()}")
    return done.stdout.strip()


class DrillCluster:
    """A PostgreSQL cluster of this try's own (pg_createcluster), so that restarting it under load
    breaks nobody else's tests. It listens on localhost only (the default), trusting its logins
    there; dropped at the end."""

    def __init__(self):
        self.version, self.name = DRILL_CLUSTER
        self.port = None

    def exists(self):
        listed = subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True).stdout.split("\n")
        return any(line.split()[:2] == [self.version, self.name] for line in listed if line.strip())

    def create(self):
        if self.exists():  # left by an interrupted try: it is this tool's own
            self.drop()
        self.port = free_port(5439)
        subprocess.run(["pg_createcluster", self.version, self.name, "--port", str(self.port), "--start",
                        "-o", "max_connections=200",
                        "--", "--auth-host=trust", "--auth-local=trust"], check=True, capture_output=True)
        return f"postgresql://postgres@127.0.0.1:{self.port}"

    def cpu_seconds(self):
        """CPU spent by this cluster since it started: the postmaster's own and what it collected
        from the backends that ended (cutime, cstime), plus the running backends' (from /proc)."""
        try:
            with open(f"/var/lib/postgresql/{self.version}/{self.name}/postmaster.pid") as pidfile:
                postmaster = int(pidfile.readline())
        except (OSError, ValueError):
            return None
        total = 0
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(entry) == postmaster or int(fields[1]) == postmaster:
                total += sum(int(v) for v in fields[11:15])
        return total / os.sysconf("SC_CLK_TCK")

    def restart(self):
        subprocess.run(["pg_ctlcluster", self.version, self.name, "restart", "-m", "fast"], check=True,
                       capture_output=True)

    def drop(self):
        subprocess.run(["pg_dropcluster", self.version, self.name, "--stop"], capture_output=True)


# ---- the process tree ------------------------------------------------------------------------------

class Stack:
    """nginx, two web servers and a worker: the commands the units run, each in a process group
    of its own (so a web server's gunicorn workers go with it), with their output in DIR/logs."""

    def __init__(self, prefix, db_url, web_workers):
        self.prefix, self.db_url = prefix, db_url
        self.logs = prefix / "logs"
        self.port = free_port()
        self.web_ports = [free_port(), free_port()]
        while self.web_ports[1] == self.web_ports[0] or self.port in self.web_ports:
            self.web_ports = [free_port(), free_port()]
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = dict(os.environ, DATABASE_URL=db_url, SECRET_KEY=secrets.token_hex(32), YIZHAN_PROXIES="1",
                        YIZHAN_HTTPS="off", WEB_WORKERS=str(web_workers), HOST="127.0.0.1",
                        ATTACHMENTS_DIR=str(prefix / "shared/attachments"), PUBLIC_BASE_URL=self.base)
        self.env.pop("YIZHAN_SCHEDULER", None)
        self.web = {}
        self.worker = self.nginx = None

    def _start(self, name, command, env):
        log = (self.logs / f"{name}.log").open("ab")
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)

    def start_web(self, port):
        # yizhan-web@.service: ExecStart=/usr/bin/env YIZHAN_SCHEDULER=off .../python run.py serve --port %i
        env = dict(self.env, YIZHAN_INSTANCE=str(self.prefix / f"instance-{port}"))
        self.web[port] = self._start(f"web-{port}", ["/usr/bin/env", "YIZHAN_SCHEDULER=off", PYTHON, "run.py",
                                                     "serve", "--port", str(port)], env)

    def start(self):
        nginx = nginx_binary()
        conf = write_nginx(self.prefix, self.port, self.web_ports)
        test = subprocess.run([nginx, "-t", "-p", str(self.prefix), "-c", str(conf)], capture_output=True, text=True)
        if test.returncode:
            raise SystemExit(f"nginx -t refused the configuration:\n{test.stderr}")
        self.nginx = self._start("nginx", [nginx, "-p", str(self.prefix), "-c", str(conf)], self.env)
        wait_for("nginx", lambda: answers_at(self.port), 20)

    def start_app(self):
        for port in self.web_ports:
            self.start_web(port)
        self.worker = self._start("worker", [PYTHON, "run.py", "worker"],
                                  dict(self.env, YIZHAN_INSTANCE=str(self.prefix / "instance-worker")))
        for port in self.web_ports:
            wait_for(f"web server {port}", lambda p=port: answers(f"http://127.0.0.1:{p}/login"), 90)
            if self.web[port].poll() is not None:
                raise SystemExit(f"web server {port} stopped: see {self.logs}/web-{port}.log")
        wait_for("nginx to the web servers", lambda: answers(f"{self.base}/login"), 20)

    def kill_web(self, port):
        """What a crashed machine or an OOM kill does: SIGKILL to the server and its workers."""
        os.killpg(self.web[port].pid, signal.SIGKILL)
        self.web[port].wait()

    def pids(self):
        return [p.pid for p in [*self.web.values(), self.worker] if p and p.poll() is None]

    def stop_app(self):
        for process in [*self.web.values(), self.worker]:
            stop_server(process, timeout=40)
        self.web, self.worker = {}, None

    def stop(self):
        self.stop_app()
        if self.nginx:
            stop_server(self.nginx, signal.SIGQUIT, timeout=40)
            self.nginx = None


def answers_at(port):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


# ---- what nginx answers by itself ----------------------------------------------------------------

def fetch(url, data=None, headers=None, method=None):
    request = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def check(results, what, ok, detail=""):
    results.append({"check": what, "ok": bool(ok), "detail": detail})
    say(f"  {'ok  ' if ok else 'FAIL'} {what}" + (f" ({detail})" if detail else ""))


def check_without_app(base, results):
    """Before any web server runs: what a person and an outside system see when none answers."""
    status, headers, body = fetch(f"{base}/tasks")
    check(results, "no web server: a page in Chinese and English, 502", status == 502 and "服务暂时没有响应".encode()
          in body and b"may or may not have been stored" in body, f"{status}")
    status, headers, body = fetch(f"{base}/api/v1/cases/X", data=b"{}", headers={"Content-Type": "application/json"})
    try:
        answer = json.loads(body)
    except ValueError:
        answer = {}
    check(results, "no web server: the API answers JSON, 502", status == 502 and "error_zh" in answer
          and headers.get("Content-Type", "").startswith("application/json"), f"{status}")


def check_with_app(base, results):
    status, headers, body = fetch(f"{base}/login")
    check(results, "the login page through nginx", status == 200 and "csrf_token".encode() in body, f"{status}")
    version = re.search(rb'/static/app\.css\?v=([0-9a-f]+)', body)
    status, headers, body = fetch(f"{base}/static/app.css?v={version.group(1).decode() if version else 'x'}")
    served = (ROOT / "webui/static/app.css").read_bytes()
    check(results, "static file with its version: from nginx, kept a year",
          status == 200 and body == served and "immutable" in headers.get("Cache-Control", "")
          and version is not None and "Content-Security-Policy" not in headers, headers.get("Cache-Control"))
    status, headers, _ = fetch(f"{base}/static/app.css")
    check(results, "static file without a version: asked again each time",
          status == 200 and headers.get("Cache-Control") == "no-cache" and headers.get("ETag"), headers.get("Cache-Control"))
    status, _, _ = fetch(f"{base}/static/vendor/.built")
    check(results, "dot-files under static are not served", status == 404, f"{status}")
    status, headers, _ = fetch(f"{base}/login")
    check(results, "nginx does not say its version", headers.get("Server") == "nginx", headers.get("Server"))
    big = b"x" * (6 * 1024 * 1024)
    status, _, body = fetch(f"{base}/login", data=big, headers={"Content-Type": "application/x-www-form-urlencoded"})
    check(results, "a 6 MB post to a page: refused by nginx (413)", status == 413, f"{status}")
    status, _, body = fetch(f"{base}/login", data=b"x" * (4 * 1024 * 1024 + 100),
                            headers={"Content-Type": "application/x-www-form-urlencoded"})
    check(results, "a 4.1 MB post to a page: passed on, refused by the app itself (its own 413 page)",
          status == 413 and "<html" in body.decode("utf-8", "replace").lower() and b"nginx" not in body, f"{status}")


# ---- reading nginx's log ---------------------------------------------------------------------------

LOG_LINE = re.compile(r'"(?P<method>[A-Z]+) (?P<path>\S+) [^"]*" (?P<status>\d{3}) .* t=(?P<t>[\d.]+) rt=\S+ '
                      r'upstream=(?P<upstream>.*?) ustatus=(?P<ustatus>.*?) urt=')


def read_log(path, since=0.0, until=float("inf")):
    rows = []
    for line in path.read_text(errors="replace").splitlines():
        found = LOG_LINE.search(line)
        if found and since <= float(found["t"]) <= until:
            rows.append(found.groupdict())
    return rows


def when_load_starts(log, since, over):
    """The moment bench.load's people begin to work: its first request other than logging in
    (before it, it loads its backlog and logs everyone in); None if the load ended first."""
    while not over.is_set():
        started = [float(row["t"]) for row in read_log(log, since) if not row["path"].startswith("/login")]
        if started:
            return min(started)
        over.wait(0.2)
    return None


def log_figures(rows, ports):
    """Requests by the web server that answered, retried on the other, and 502s by method."""
    by_port, retried, bad = Counter(), Counter(), Counter()
    for row in rows:
        tried = [u.strip() for u in row["upstream"].split(",")] if row["upstream"] not in ("-", "") else []
        if tried:
            by_port[tried[-1].rsplit(":", 1)[-1]] += 1
        if len(tried) > 1:
            retried[row["method"]] += 1
        if row["status"] in ("502", "504"):
            bad[f"{row['method']} {row['status']}"] += 1
    return {"requests": len(rows), "answered_by": {str(p): by_port.get(str(p), 0) for p in ports},
            "retried_on_the_other": dict(retried), "no_answer": dict(bad),
            "statuses": dict(Counter(row["status"] for row in rows))}


# ---- the load ----------------------------------------------------------------------------------------

def run_load(stack, args, json_path, label, pids=True, cluster=None):
    command = [PYTHON, "-m", "bench.load", "--url", stack.base, "--db", stack.db_url,
               "--people", str(args.people), "--seconds", str(args.seconds), "--cases", str(args.cases),
               "--json", str(json_path)]
    if label != "plain":
        command += ["--submits", "0", "--rounds", "0"]
    if pids:
        for pid in stack.pids() + [stack.nginx.pid]:
            command += ["--pid", str(pid)]
    say(f"\n[{label}] {' '.join(command[1:])}")
    over, pg = threading.Event(), {}

    def measure():
        """The drill cluster's CPU while the people work (it serves this try alone)."""
        if when_load_starts(stack.logs / "access.log", time.time(), over) is None:
            return
        pg["before"] = cluster.cpu_seconds()
        if not over.wait(args.seconds):
            pg["after"] = cluster.cpu_seconds()

    meter = threading.Thread(target=measure, daemon=True)
    if cluster:
        meter.start()
    done = subprocess.run(command, cwd=ROOT, env=dict(os.environ, DATABASE_URL=stack.db_url))
    over.set()
    if cluster:
        meter.join()
    report = json.loads(json_path.read_text()) if json_path.exists() else {}
    report["exit_code"] = done.returncode
    if pg.get("after") is not None and pg.get("before") is not None:
        spent = pg["after"] - pg["before"]
        requests = report.get("load", {}).get("requests") or 0
        report["postgres_cpu_s"] = spent
        report["postgres_cpu_ms_per_request"] = spent / requests * 1000 if requests else None
        say(f"  PostgreSQL (the drill cluster, serving this try alone): {spent:.1f} s of CPU while the people "
            f"worked, {spent / max(requests, 1) * 1000:.1f} ms per request")
    return report


class Probe(threading.Thread):
    """Logged in on one web server directly (the session cookie is the shared SECRET_KEY's), asking
    every PROBE_EVERY seconds for a page that reads the database."""

    def __init__(self, port, path="/audit/cases"):
        super().__init__(daemon=True)
        self.base, self.path = f"http://127.0.0.1:{port}", path
        self.port = port
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.seen = []  # (time.time(), status)
        self.done = threading.Event()

    def login(self):
        with self.opener.open(f"{self.base}/login", timeout=10) as page:
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.read().decode()).group(1)
        form = urlencode({"csrf_token": token, "username": "auditor", "password": "demo1234"}).encode()
        with self.opener.open(f"{self.base}/login", data=form, timeout=30) as answer:
            assert answer.status == 200 and not answer.url.endswith("/login"), answer.url

    def run(self):
        while not self.done.is_set():
            began = time.time()
            try:
                with self.opener.open(f"{self.base}{self.path}", timeout=10) as answer:
                    answer.read()
                    status = answer.status if not answer.url.endswith("/login") else 401
            except urllib.error.HTTPError as error:
                status = error.code
            except OSError:
                status = 0  # no connection
            self.seen.append((began, status))
            time.sleep(max(0.0, PROBE_EVERY - (time.time() - began)))


def restart_figures(probes, began, ended):
    """From the probes: during the outage (the restart's command running) and until each server's
    first good answer after it."""
    figures = {"restart_s": round(ended - began, 2), "servers": {}}
    for probe in probes:
        after = [(t, s) for t, s in probe.seen if t >= began]
        first_good = next((t for t, s in after if s == 200 and t >= ended), None)
        window = [(t, s) for t, s in after if first_good is None or t < first_good]
        figures["servers"][probe.port] = {
            "requests_until_recovered": len(window),
            "errors_until_recovered": dict(Counter(str(s) for t, s in window if s != 200)),
            "seconds_from_restart_to_first_good_answer": round(first_good - began, 2) if first_good else None,
            "seconds_after_database_back": round(first_good - ended, 2) if first_good else None,
            "good_answers_after": sum(1 for t, s in after if s == 200 and first_good and t >= first_good),
        }
    return figures


# ---- one run -----------------------------------------------------------------------------------------

def in_the_middle(stack, since, args, over):
    """Waits until half the load's time has passed (True), or the load ended first (False)."""
    began = when_load_starts(stack.logs / "access.log", since, over)
    return began is not None and not over.wait(max(0.0, began + args.seconds / 2 - time.time()))


def plain(stack, args, workdir, report, cluster):
    report["plain"] = {"load": run_load(stack, args, workdir / "load-plain.json", "plain", cluster=cluster)}


def kill_web(stack, args, workdir, report):
    victim, survivor = stack.web_ports
    figures = {"killed": victim, "survivor": survivor}
    started = time.time()

    def killer():
        if not in_the_middle(stack, started, args, over):
            return
        figures["killed_at"] = time.time()
        stack.kill_web(victim)
        say(f"  [kill-web] web server {victim} killed (SIGKILL to its process group); "
            f"started again in {RESTART_SEC} s, as Restart=always does")
        time.sleep(RESTART_SEC)
        figures["restarted_at"] = time.time()
        stack.start_web(victim)

    over = threading.Event()
    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    figures["load"] = run_load(stack, args, workdir / "load-kill-web.json", "kill-web", pids=False)
    over.set()
    thread.join()
    if "killed_at" not in figures:
        raise SystemExit("the load never began: see bench.load's output above")
    wait_for(f"web server {victim} again", lambda: answers(f"http://127.0.0.1:{victim}/login"), 90)
    log = stack.logs / "access.log"
    killed_at = figures["killed_at"]
    figures["before_kill"] = log_figures(read_log(log, started, killed_at), stack.web_ports)
    figures["kill_until_back"] = log_figures(read_log(log, killed_at, figures["restarted_at"] + 10), stack.web_ports)
    figures["after"] = log_figures(read_log(log, figures["restarted_at"] + 10), stack.web_ports)
    back = [float(row["t"]) for row in read_log(log, figures["restarted_at"])
            if row["upstream"].split(",")[-1].strip().endswith(f":{victim}") and row["ustatus"].split(",")[-1].strip() != "502"]
    figures["answering_again_s_after_kill"] = round(min(back) - killed_at, 1) if back else None
    report["kill-web"] = figures


def restart_db(stack, args, workdir, report, cluster):
    probes = [Probe(port) for port in stack.web_ports]
    for probe in probes:
        probe.login()
        probe.start()
    figures = {}
    started = time.time()

    def restarter():
        if not in_the_middle(stack, started, args, over):
            return
        figures["began"] = time.time()
        say("  [restart-db] pg_ctlcluster restart of the drill cluster")
        cluster.restart()
        figures["ended"] = time.time()

    over = threading.Event()
    thread = threading.Thread(target=restarter, daemon=True)
    thread.start()
    figures["load"] = run_load(stack, args, workdir / "load-restart-db.json", "restart-db")
    over.set()
    thread.join()
    time.sleep(1)
    for probe in probes:
        probe.done.set()
        probe.join()
    if "ended" not in figures:
        raise SystemExit("the load never began: see bench.load's output above")
    figures.update(restart_figures(probes, figures["began"], figures["ended"]))
    log = stack.logs / "access.log"
    figures["nginx_during_outage"] = log_figures(read_log(log, figures["began"], figures["ended"] + max(
        s["seconds_after_database_back"] or 0 for s in figures["servers"].values()) + 0.5), stack.web_ports)
    figures["web_servers_restarted"] = sorted(p for p, process in stack.web.items() if process.poll() is not None)
    figures["worker_running"] = stack.worker.poll() is None
    report["restart-db"] = figures


# ---- what the database holds afterwards -------------------------------------------------------------

def database_figures(server):
    """Rows and bytes of the largest tables after the runs (GROWING.md's figures per case)."""
    tables = ("cases", "audit_events", "tasks", "timers", "case_parties", "submissions")
    sql = " UNION ALL ".join(f"SELECT '{t}', (SELECT count(*) FROM {t}), pg_total_relation_size('{t}')" for t in tables)
    rows = [line.split("|") for line in psql(server, sql, DATABASE).splitlines()]
    figures = {name: {"rows": int(count), "bytes": int(size)} for name, count, size in rows}
    figures["database_bytes"] = int(psql(server, f"SELECT pg_database_size('{DATABASE}')", DATABASE))
    figures["backends_now"] = int(psql(server, f"SELECT count(*) FROM pg_stat_activity WHERE datname = '{DATABASE}'"))
    return figures


# ---- the report ----------------------------------------------------------------------------------------

def summarise(report):
    say("\n==== deploy-try: summary " + "=" * 50)
    say("machine: {} cores, load {:.2f} {:.2f} {:.2f} at the start, {:.2f} {:.2f} {:.2f} at the end".format(
        os.cpu_count(), *report["uptime_load_start"], *report["uptime_load_end"]))
    ok = all(c["ok"] for c in report["checks"])
    for name in ("plain", "kill-web", "restart-db"):
        run = report.get(name)
        if not run:
            continue
        load = run["load"]
        under = load.get("load", {})
        subs = load.get("submissions", {})
        audit = load.get("audit_verify", {})
        errors = under.get("errors", [])
        say(f"\n{name}: {under.get('requests', 0):,} requests in {under.get('elapsed_s', 0):.0f} s "
            f"({under.get('rps', 0):.1f}/s), p95 {under.get('kinds', {}).get('all', {}).get('p95_ms', 0):.0f} ms; "
            f"errors {sum(e['count'] for e in errors)}; accepted {subs.get('accepted', 0):,}, found stored "
            f"{subs.get('found_stored', 0):,}; audit verify: {audit.get('summary', '?')}")
        for e in errors:
            say(f"    {e['kind']} [{e['status']}] x{e['count']}")
        lost = subs.get("accepted") != subs.get("found_stored") or not audit.get("ok")
        if name == "kill-web":
            during = run["kill_until_back"]
            say(f"  killed web server {run['killed']}: from the kill until {RESTART_SEC} s + 10 s after its "
                f"restart nginx answered {during['requests']:,} requests, by server {during['answered_by']}; "
                f"tried again on the other: {during['retried_on_the_other'] or 'none'}; "
                f"not answered (the 'look before sending again' page): {during['no_answer'] or 'none'}")
            say(f"  it answered again {run['answering_again_s_after_kill']} s after the kill; from 10 s after its "
                f"restart to the end: answered by server {run['after']['answered_by']}")
            # Errors the people saw may only be the 502 page for a POST the killed server held.
            unexpected = [e for e in errors if str(e["status"]) not in ("502",)]
            lost = lost or bool(unexpected)
        if name == "restart-db":
            say(f"  restart took {run['restart_s']} s; web servers restarted: {run['web_servers_restarted'] or 'none'}; "
                f"worker still running: {run['worker_running']}")
            for port, figures in run["servers"].items():
                say(f"  web server {port}: {figures['requests_until_recovered']} probe requests until recovered, errors "
                    f"{figures['errors_until_recovered'] or 'none'}, first good answer "
                    f"{figures['seconds_after_database_back']} s after the database was back "
                    f"({figures['seconds_from_restart_to_first_good_answer']} s after the restart began), "
                    f"{figures['good_answers_after']} good answers after")
            say(f"  nginx during the outage: {run['nginx_during_outage']['statuses']}")
            # Requests meeting the database down may only get the 503 page (or nginx's 502).
            unexpected = [e for e in errors if str(e["status"]) not in ("502", "503")]
            lost = lost or bool(unexpected) or bool(run["web_servers_restarted"]) or not run["worker_running"] or any(
                f["seconds_after_database_back"] is None for f in run["servers"].values())
        run["ok"] = not lost
        ok = ok and not lost
    held = report["database"]
    cases = max(held["cases"]["rows"], 1)
    say(f"\ndatabase afterwards: {held['cases']['rows']:,} cases, {held['audit_events']['rows']:,} audit events "
        f"({held['audit_events']['rows'] / cases:.1f} a case, {held['audit_events']['bytes'] / max(held['audit_events']['rows'], 1):,.0f} "
        f"bytes each with indexes), {held['database_bytes'] / 2**20:,.0f} MiB in all")
    report["ok"] = ok
    say(f"\n{'everything held' if ok else 'SOMETHING FAILED: see above'}")
    return ok


def main(argv=None):
    parser = argparse.ArgumentParser(prog="deploy/try_local.py", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432",
                        help="the PostgreSQL server for the database deploy_try (not used with --drill restart-db, "
                             "which makes its own cluster)")
    parser.add_argument("--drill", action="append", choices=DRILLS, default=[], help="a fault drill after the plain run")
    parser.add_argument("--no-plain", action="store_true", help="only the drills")
    parser.add_argument("--people", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--cases", type=int, default=3000, help="the backlog bench.load puts in first")
    parser.add_argument("--web-workers", type=int, default=2, help="WEB_WORKERS of each web server (default 2)")
    parser.add_argument("--json", metavar="FILE", help="write every figure as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, config)")
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="deploy_try."))
    os.chmod(workdir, 0o755)
    report = {"uptime_load_start": os.getloadavg(), "cores": os.cpu_count(), "checks": [], "drills": args.drill}
    cluster = DrillCluster() if "restart-db" in args.drill else None
    stack = None
    server = args.pg
    try:
        if cluster:
            server = cluster.create()
            say(f"drill cluster {'/'.join(DRILL_CLUSTER)} on port {cluster.port} (dropped at the end)")
        psql(server, f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        psql(server, f'CREATE DATABASE "{DATABASE}"')
        db_url = f"{server}/{DATABASE}"
        say(f"database {db_url}: migrate and demo")
        demo = subprocess.run([PYTHON, "run.py", "demo"], cwd=ROOT, env=dict(os.environ, DATABASE_URL=db_url),
                              capture_output=True, text=True)
        if demo.returncode:
            raise SystemExit(f"run.py demo failed:\n{demo.stdout[-2000:]}{demo.stderr[-2000:]}")

        stack = Stack(workdir, db_url, args.web_workers)
        stack.start()
        say(f"nginx on {stack.base} (config in {workdir}), web servers on {stack.web_ports}")
        check_without_app(stack.base, report["checks"])
        stack.start_app()
        say(f"web servers and worker up: pids {stack.pids()}")
        check_with_app(stack.base, report["checks"])

        if not args.no_plain:
            plain(stack, args, workdir, report, cluster)
        if "kill-web" in args.drill:
            kill_web(stack, args, workdir, report)
        if "restart-db" in args.drill:
            restart_db(stack, args, workdir, report, cluster)
        report["uptime_load_end"] = os.getloadavg()
        report["database"] = database_figures(server)
        ok = summarise(report)
        if args.json:
            Path(args.json).write_text(json.dumps(report, ensure_ascii=False, indent=2, default=str))
            say(f"figures written to {args.json}")
        return 0 if ok else 1
    finally:
        if stack:
            stack.stop()
        try:
            if cluster:
                cluster.drop()
            else:
                psql(server, f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        except (RuntimeError, OSError) as failed:
            say(f"could not drop {DATABASE}: {failed}")
        if args.keep:
            say(f"kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
