"""How `run.py serve` serves in production: gunicorn with several worker processes, and the timer
sweep in one `run.py worker` process beside them.

gunicorn's master forks WEB_WORKERS processes (default: the cores this process may run on), each of
which loads the application itself after the fork (no --preload): no database connection, no
sandbox process and no scheduler thread is ever shared across a fork. The workers are synchronous
(one request at a time each): gunicorn's time-out then bounds a single request, and a worker stuck
past WEB_TIMEOUT seconds is killed and replaced; a threaded worker keeps telling the master it is
alive while one of its requests hangs, so a stuck request would never be cut.

The sweep must run once, not once per web worker: `serve` starts one `run.py worker` child and
supervises it (started again when it dies, stopped when serve stops), unless YIZHAN_SCHEDULER=off
(a deployment runs the worker as its own service; serve then becomes gunicorn itself, so a
service manager's signals reach gunicorn's master directly). SIGTERM stops everything gracefully:
the workers finish the requests they hold (up to the time-out), then exit."""
import ctypes
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
APP = "webui:create_app()"
# A worker that dies this soon after starting is started again after a growing pause (1 s, 2 s, 4 s,
# ... up to a minute), so a worker that cannot start (a database down) does not spin.
STEADY_SECONDS = 10
MAX_PAUSE = 60.0


def gunicorn_argv(host, port, workers, timeout):
    """The command that serves the application, as `run.py serve` runs it."""
    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return [sys.executable, "-m", "gunicorn",
            "--bind", bind,
            "--workers", str(workers),
            "--worker-class", "sync",
            # A request running longer than this is stuck: its worker is killed and replaced.
            "--timeout", str(timeout),
            # On SIGTERM a worker may finish what it holds for as long as a request may run.
            "--graceful-timeout", str(timeout),
            "--name", "yizhan",
            # gunicorn's control socket defaults to one path per user ($XDG_RUNTIME_DIR/gunicorn.ctl):
            # two servers on one machine would take each other's. Nothing here uses it.
            "--no-control-socket",
            "--chdir", str(ROOT),
            APP]


def worker_argv():
    return [sys.executable, str(ROOT / "run.py"), "worker"]


def _die_with_parent():
    """In the child, before it runs: be sent SIGTERM if serve itself dies (even by SIGKILL), so no
    gunicorn and no sweep outlive it (Linux's PR_SET_PDEATHSIG)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1: PR_SET_PDEATHSIG
    except (AttributeError, OSError):
        pass


def _start(argv):
    return subprocess.Popen(argv, cwd=ROOT, preexec_fn=_die_with_parent)


class Supervisor:
    """gunicorn and one sweep worker, as children of this process."""

    def __init__(self, gunicorn, worker, grace):
        self.gunicorn_cmd, self.worker_cmd, self.grace = gunicorn, worker, grace
        self.stopping = False
        self.gunicorn = self.worker = None
        self.worker_started = 0.0
        self.pause = 1.0
        self.restart_at = None

    def _signal(self, signum, _frame):
        if signum == signal.SIGHUP:  # gunicorn reloads its workers
            if self.gunicorn and self.gunicorn.poll() is None:
                self.gunicorn.send_signal(signal.SIGHUP)
            return
        self.stopping = True

    def run(self):
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, self._signal)
        self.gunicorn = _start(self.gunicorn_cmd)
        self._start_worker()
        try:
            while not self.stopping:
                if self.gunicorn.poll() is not None:
                    log.error("gunicorn exited with %s; stopping the timer worker", self.gunicorn.returncode)
                    return self.gunicorn.returncode or 1
                self._watch_worker()
                time.sleep(0.2)
            return 0
        finally:
            self._stop()

    def _start_worker(self):
        self.worker = _start(self.worker_cmd)
        self.worker_started = time.monotonic()
        self.restart_at = None

    def _watch_worker(self):
        if self.restart_at is not None:
            if time.monotonic() >= self.restart_at:
                self._start_worker()
            return
        if self.worker.poll() is None:
            return
        lived = time.monotonic() - self.worker_started
        self.pause = 1.0 if lived >= STEADY_SECONDS else min(MAX_PAUSE, self.pause * 2)
        log.error("the timer worker (pid %s) exited with %s after %.0f s; starting it again in %.0f s",
                  self.worker.pid, self.worker.returncode, lived, self.pause)
        self.restart_at = time.monotonic() + self.pause

    def _stop(self):
        children = [child for child in (self.gunicorn, self.worker) if child is not None]
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.grace + 5
        for child in children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.error("pid %s did not stop within %s s: killed", child.pid, self.grace + 5)
                child.kill()
                child.wait()


def serve(host, port, workers, timeout, scheduler):
    """Serve until stopped; returns the exit status. Without the scheduler this process becomes
    gunicorn (exec) and never returns."""
    command = gunicorn_argv(host, port, workers, timeout)
    print(f"serving on http://{host}:{port} with {workers} worker process(es), request time-out {timeout} s"
          + (", and one timer worker" if scheduler else " (the timer sweep is left to `run.py worker`)"), flush=True)
    if not scheduler:
        os.execv(command[0], command)
    return Supervisor(command, worker_argv(), grace=timeout).run()
