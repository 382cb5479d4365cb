"""Sandbox processes for diagram scripts: the engine's side.

A script from a diagram runs in a separate process (engine/workflow/sandbox_child.py) with its own memory
and CPU limits; the engine's thread waits on a pipe, which holds no lock any other request needs,
and kills the process when the script's time is up. So no script, however written, can freeze
the web process, and one that is stopped leaves nothing behind: the case is saved only from the
engine's side, after an answer.

Each engine process keeps a few sandbox processes warm (`SANDBOX_PROCESSES`, default 4) and
starts a new one after a kill. A process forked from its parent (gunicorn's workers) starts its
own.
"""
import atexit
import json
import os
import select
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

from engine.workflow.restricted import ScriptRejected, decode, encode

CHILD = Path(__file__).resolve().parent / "sandbox_child.py"
_HEADER = struct.Struct(">I")
_STARTUP_SECONDS = 20.0
# A script may use `limit` seconds of CPU; a script kept waiting by a busy machine may take up
# to this many times as long on the wall clock before it is stopped all the same.
_WALL_FACTOR = 3.0
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _settings():
    return {
        "processes": max(1, int(os.environ.get("SANDBOX_PROCESSES", "4"))),
        "memory_mb": max(64, int(os.environ.get("SANDBOX_MEMORY_MB", "512"))),
    }


class SandboxBroken(Exception):
    """The sandbox process died or broke the protocol; it is killed and replaced."""


class _Process:
    def __init__(self, memory_mb):
        env = {"SANDBOX_MEMORY_MB": str(memory_mb), "PYTHONDONTWRITEBYTECODE": "1", "LANG": "C.UTF-8"}
        self.proc = subprocess.Popen([sys.executable, "-I", str(CHILD)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, env=env, close_fds=True)
        self._buffer = b""
        started = time.monotonic()
        try:
            ready = self.receive(lambda: started + _STARTUP_SECONDS - time.monotonic())
        except (TimeoutError, SandboxBroken):
            ready = {}
        if "ready" not in ready:
            self.kill()
            raise SandboxBroken("the sandbox process did not start")

    def cpu_seconds(self):
        """CPU time the process has used (Linux /proc), or None where that cannot be read."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS
        except (OSError, IndexError, ValueError):
            return None

    def send(self, message):
        body = json.dumps(message, ensure_ascii=False).encode("utf-8")
        try:
            self.proc.stdin.write(_HEADER.pack(len(body)) + body)
            self.proc.stdin.flush()
        except OSError as exc:
            raise SandboxBroken("the sandbox process has gone") from exc

    def _read(self, size, time_left):
        fd = self.proc.stdout.fileno()
        while len(self._buffer) < size:
            remaining = time_left()
            if remaining <= 0:
                raise TimeoutError
            ready, _, _ = select.select([fd], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(fd, max(65536, size - len(self._buffer)))
            if not chunk:
                raise SandboxBroken("the sandbox process stopped: the script used more memory or CPU "
                                    "time than a script may")
            self._buffer += chunk
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def receive(self, time_left, max_bytes=None):
        (size,) = _HEADER.unpack(self._read(_HEADER.size, time_left))
        if max_bytes is not None and size > max_bytes * 2 + 65536:
            raise SandboxBroken("the sandbox process sent more than it may")
        return json.loads(self._read(size, time_left).decode("utf-8"))

    def kill(self):
        try:
            self.proc.kill()
            self.proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            pass
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass


class Pool:
    def __init__(self):
        self._lock = threading.Condition()
        self._idle = []
        self._count = 0
        self._pid = os.getpid()
        atexit.register(self.close)

    def _checkout(self, settings):
        with self._lock:
            if self._pid != os.getpid():
                # Forked: those processes are the parent's to use. Start our own.
                self._idle, self._count, self._pid = [], 0, os.getpid()
            while not self._idle and self._count >= settings["processes"]:
                self._lock.wait()
            if self._idle:
                return self._idle.pop()
            self._count += 1
        try:
            return _Process(settings["memory_mb"])
        except BaseException:
            with self._lock:
                self._count -= 1
                self._lock.notify()
            raise

    def _checkin(self, process, healthy):
        with self._lock:
            if healthy and self._pid == os.getpid():
                self._idle.append(process)
            else:
                process.kill()
                self._count -= 1
            self._lock.notify()

    def close(self):
        with self._lock:
            idle, self._idle = self._idle, []
            self._count -= len(idle)
        for process in idle:
            process.kill()

    def run(self, mode, source, context, external, host, limit, max_bytes):
        """Run `source` in a sandbox process and return its answer. `host` maps the names of
        engine functions the script may call (legal periods) to the functions; they run here."""
        request = {"mode": mode, "source": source, "context": encode(context), "external": encode(external or {}),
                   "host": sorted(host), "cpu": limit, "max_bytes": max_bytes}
        process = self._checkout(_settings())
        healthy = False
        try:
            answer = _exchange(process, request, host, limit, max_bytes)
            healthy = True
            return answer
        finally:
            self._checkin(process, healthy)


def _exchange(process, request, host, limit, max_bytes):
    started_wall = time.monotonic()
    started_cpu = process.cpu_seconds()

    def time_left():
        """The script's CPU time is what counts: past `limit` seconds of wall clock, a script
        that was kept waiting by a busy machine gets its CPU time's worth, up to a cap."""
        now = time.monotonic()
        if now < started_wall + limit:
            return started_wall + limit - now
        cpu = process.cpu_seconds()
        if cpu is None or started_cpu is None:
            return 0
        return max(0, min(limit - (cpu - started_cpu), started_wall + limit * _WALL_FACTOR - now))

    try:
        process.send(request)
        while True:
            message = process.receive(time_left, max_bytes)
            if "call" not in message:
                return message
            process.send(_call_host(host, message))
    except TimeoutError:
        raise ScriptRejected(f"script ran longer than {limit:g} s and was stopped") from None
    except SandboxBroken as broken:
        raise ScriptRejected(str(broken)) from None


def _call_host(host, message):
    function = host.get(message.get("call"))
    if function is None:
        return {"ok": False, "error": f"{message.get('call')} is not available"}
    try:
        return {"ok": True, "value": encode(function(*decode(message.get("args") or [])))}
    except Exception as exc:  # noqa: BLE001 - the script sees the engine's refusal as its own error
        return {"ok": False, "error": str(exc)}


POOL = Pool()
