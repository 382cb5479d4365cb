"""`run.py serve` as production runs it: gunicorn with several worker processes, one timer worker
beside them, a stuck request's worker replaced after the time-out, everything gone after SIGTERM.
The server runs as a real process tree on a free port against its own SQLite file (the timer
worker sweeps that file, never the suite's database)."""
import http.client
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.parse

import pytest

from config import settings
from webui import serving

from .conftest import ROOT


def _children(pid):
    """Direct children of `pid`, from /proc (no psutil)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                found.append(int(entry))
    return sorted(found)


def _cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            return cmdline.read().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _threads(pid):
    with open(f"/proc/{pid}/status") as status:
        return int(re.search(r"^Threads:\s+(\d+)", status.read(), re.M).group(1))


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait(condition, seconds, what):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"waited {seconds} s for {what}")


def _get(port, path, headers=None, timeout=30):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    connection.request("GET", path, headers=headers or {})
    response = connection.getresponse()
    return response.status, response.getheader("Set-Cookie"), response.read().decode()


def test_the_sweep_runs_in_the_cores_on_postgresql_and_in_one_process_on_sqlite(monkeypatch):
    monkeypatch.delenv("SWEEP_PROCESSES", raising=False)
    assert settings.sweep_processes("postgresql://db/yizhan") == len(os.sched_getaffinity(0))
    assert settings.sweep_processes("sqlite:///instance/yizhan.db") == 1
    monkeypatch.setenv("SWEEP_PROCESSES", "4")
    assert settings.sweep_processes("sqlite:///instance/yizhan.db") == 4
    monkeypatch.setenv("SWEEP_PROCESSES", "0")
    assert settings.sweep_processes("postgresql://db/yizhan") == 1


def test_gunicorn_is_given_the_settings(monkeypatch):
    monkeypatch.setenv("WEB_WORKERS", "3")
    monkeypatch.setenv("WEB_TIMEOUT", "45")
    assert (settings.web_workers(), settings.web_timeout()) == (3, 45)
    monkeypatch.delenv("WEB_WORKERS")
    monkeypatch.delenv("WEB_TIMEOUT")
    assert settings.web_workers() == len(os.sched_getaffinity(0))
    # The default lets the court dossier of a 300-page case (38 s) render, and render again.
    assert settings.web_timeout() == 120
    argv = serving.gunicorn_argv("127.0.0.1", 8123, 3, 45)
    options = dict(zip(argv[3:-1:], argv[4:-1:]))
    assert argv[:3] == [sys.executable, "-m", "gunicorn"] and argv[-1] == "webui:create_app()"
    assert options["--bind"] == "127.0.0.1:8123" and options["--workers"] == "3"
    assert options["--worker-class"] == "sync" and options["--timeout"] == "45" and options["--graceful-timeout"] == "45"
    assert "--preload" not in argv and "--no-control-socket" in argv
    assert serving.gunicorn_argv("::1", 8123, 1, 45)[4] == "[::1]:8123"


@pytest.fixture
def served(tmp_path):
    """`run.py serve --workers 2 --timeout 3` on a free port, against a migrated SQLite file."""
    env = dict(os.environ, YIZHAN_INSTANCE=str(tmp_path), SWEEP_SECONDS="0.5")
    for name in ("DATABASE_URL", "WEB_WORKERS", "WEB_TIMEOUT", "YIZHAN_SCHEDULER", "SECRET_KEY"):
        env.pop(name, None)
    migrated = subprocess.run([sys.executable, "run.py", "migrate"], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=120)
    assert migrated.returncode == 0, migrated.stderr
    port = _free_port()
    log = open(tmp_path / "serve.log", "w+")
    server = subprocess.Popen([sys.executable, "run.py", "serve", "--port", str(port), "--workers", "2",
                               "--timeout", "3"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield server, port, tmp_path / "yizhan.db", log
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        log.close()


def _tree(server):
    """(gunicorn's master, its web workers, the timer workers) under `run.py serve`."""
    children = _children(server.pid)
    masters = [pid for pid in children if "gunicorn" in _cmdline(pid)]
    sweepers = [pid for pid in children if "run.py worker" in _cmdline(pid)]
    workers = _children(masters[0]) if masters else []
    return masters, workers, sweepers


def _booted(server, port):
    def ready():
        masters, workers, sweepers = _tree(server)
        if len(masters) == 1 and len(workers) == 2 and sweepers:
            try:
                return _get(port, "/login", timeout=5)[0] == 200
            except OSError:
                return False
        return False
    _wait(ready, 90, "gunicorn's two workers and the timer worker")


def _post_login_slowly(port, cookie, token):
    """A failed log-in: it is counted in the database, so it waits on a write lock held elsewhere."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    body = urllib.parse.urlencode({"csrf_token": token, "username": "nobody", "password": "wrong"})
    connection.request("POST", "/login", body, {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"})
    return connection


def test_serve_runs_workers_and_one_sweep_replaces_a_stuck_worker_and_stops_on_sigterm(served):
    server, port, database, log = served
    _booted(server, port)
    masters, workers, sweepers = _tree(server)
    # The sweep runs in one process, never in the web workers: they run a single thread (no
    # scheduler thread), and no web worker has a timer worker of its own.
    assert len(sweepers) == 1
    # The timer worker's scheduler starts its threads once its imports are done, which may be
    # after gunicorn's workers already answer.
    _wait(lambda: _threads(sweepers[0]) > 1, 60, "the timer worker's scheduler threads")
    assert [_threads(pid) for pid in workers] == [1, 1]
    assert all(not any("run.py worker" in _cmdline(child) for child in _children(pid)) for pid in workers)

    status, cookie, page = _get(port, "/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    cookie = cookie.split(";")[0]
    # Someone else holds the database's write lock: the failed log-in waits for it in one worker,
    # longer than the 3 s time-out.
    holder = sqlite3.connect(database, isolation_level=None, timeout=30)
    holder.execute("BEGIN IMMEDIATE")
    try:
        stuck = _post_login_slowly(port, cookie, token)
        time.sleep(0.3)
        # The other worker still answers while the first is stuck.
        assert _get(port, "/login", timeout=10)[0] == 200
        # The stuck worker is killed after the time-out (3 s), long before the database's busy
        # time-out (10 s) would have let it answer: its request gets no answer, and a new worker
        # takes its place.
        with pytest.raises((http.client.HTTPException, OSError)):
            stuck.getresponse().read()
        replaced = _wait(lambda: (lambda now: now if len(now) == 2 and set(now) != set(workers) else None)(
            _tree(server)[1]), 30, "the stuck worker to be replaced")
        assert len(set(replaced) & set(workers)) == 1
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert _get(port, "/login", timeout=10)[0] == 200

    # The timer worker dies: serve starts another (still exactly one).
    os.kill(sweepers[0], signal.SIGKILL)
    again = _wait(lambda: (lambda now: now if now and now != sweepers else None)(_tree(server)[2]), 30,
                  "a new timer worker")
    assert len(again) == 1

    def sweeping_twice():
        log.seek(0)
        return log.read().count("timer worker: sweeping every") == 2  # the first, and the one started again
    _wait(sweeping_twice, 60, "the new timer worker to sweep")
    everyone = [server.pid] + masters + _tree(server)[1] + again
    server.send_signal(signal.SIGTERM)
    assert server.wait(timeout=30) == 0
    _wait(lambda: not any(_alive(pid) for pid in everyone), 10, "every child to be gone")
    log.seek(0)
    text = log.read()
    assert "WORKER TIMEOUT" in text and "the timer worker (pid %d) exited" % sweepers[0] in text
