"""The sandbox process: runs one diagram script or condition at a time for the engine.

Started by engine/workflow/sandbox.py as `python -I engine/workflow/sandbox_child.py`; it reads requests from
stdin and answers on its stdout, each message a 4-byte length and JSON. Whatever a script does
here (an endless loop, one huge computation in C, gigabytes of memory) it cannot hold the web
process: the engine waits on a pipe and kills this process at the time limit, and the
operating system stops it at its memory and CPU limits.
"""
import json
import os
import resource
import signal
import struct
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import restricted  # noqa: E402  (a plain module beside this file; the engine package is not loaded)

_HEADER = struct.Struct(">I")
NOBODY = 65534


def _limit_resources():
    memory = int(os.environ.get("SANDBOX_MEMORY_MB", "512")) * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    try:  # die with the engine's process rather than linger (Linux)
        import ctypes
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - without prctl this process only outlives its parent until stdin closes
        pass
    if os.geteuid() == 0:
        # Run as nobody: should a script ever get past the restrictions, it holds no one's powers.
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)
        resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))


def _limit_cpu(seconds):
    """The operating system's backstop for the engine's own time limit: CPU time is counted over
    the process's life, so the limit is set afresh before each request."""
    used = resource.getrusage(resource.RUSAGE_SELF)
    soft = int(used.ru_utime + used.ru_stime + seconds) + 2
    resource.setrlimit(resource.RLIMIT_CPU, (soft, resource.RLIM_INFINITY))


class Channel:
    def __init__(self):
        # Answers go to a private copy of stdout; fd 1 then points at stderr, so that nothing a
        # library prints can corrupt the protocol.
        self.output = os.fdopen(os.dup(1), "wb", buffering=0)
        os.dup2(2, 1)
        self.input = sys.stdin.buffer

    def send(self, message, limit=None):
        body = json.dumps(message, ensure_ascii=False).encode("utf-8")
        if limit is not None and len(body) > limit:
            raise restricted.ScriptRejected(
                f"the script's data would take {len(body) // 1024:,} KB, over the limit of "
                f"{limit // 1024:,} KB a case may hold")
        self.output.write(_HEADER.pack(len(body)) + body)

    def receive(self):
        header = self.input.read(_HEADER.size)
        if len(header) < _HEADER.size:
            return None
        (size,) = _HEADER.unpack(header)
        return json.loads(self.input.read(size).decode("utf-8"))


def _host_function(channel, name):
    """A legal-period function: the engine computes it with its own clock and calendar."""
    def call(*args):
        channel.send({"call": name, "args": restricted.encode(list(args))})
        answer = channel.receive()
        if answer is None:
            sys.exit(0)
        if not answer.get("ok"):
            raise restricted.ScriptRejected(answer.get("error") or f"{name} failed")
        return restricted.decode(answer["value"])
    call.__name__ = name
    return call


def handle(channel, request):
    mode = request["mode"]
    code = restricted.compile_source(request["source"], mode)
    context = restricted.decode(request["context"])
    external = restricted.decode(request.get("external") or {})
    hosts = {name: _host_function(channel, name) for name in request.get("host", ())
             if name in restricted.HOST_FUNCTIONS}
    names = restricted.namespace(context, external, hosts)
    if mode == "eval":
        value = eval(code, names)  # noqa: S307 - restricted code, in this sandbox process
        return {"ok": True, "value": restricted.encode(value)}
    exec(code, names)  # noqa: S102 - restricted code, in this sandbox process
    kept = restricted.kept_variables(names, restricted.HIDDEN_NAMES | set(external))
    deleted = [key for key in context if key not in names]
    return {"ok": True, "context": restricted.encode(kept), "deleted": deleted}


def _failure(exc):
    line = getattr(exc, "line", None)
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename in ("<script>", "<condition>"):
            line = tb.tb_lineno
        tb = tb.tb_next
    return {"ok": False, "kind": type(exc).__name__, "error": str(exc)[:2000], "line": line}


def main():
    _limit_resources()
    channel = Channel()
    channel.send({"ready": os.getpid()})
    while True:
        request = channel.receive()
        if request is None:
            return
        _limit_cpu(request.get("cpu", 1.0))
        try:
            channel.send(handle(channel, request), request["max_bytes"])
            continue
        except MemoryError:
            answer = {"ok": False, "kind": "ScriptRejected", "line": None,
                      "error": "the script needed more memory than a script may use"}
        except RecursionError:
            answer = {"ok": False, "kind": "ScriptRejected", "line": None, "error": "the script recursed too deeply"}
        except Exception as exc:  # noqa: BLE001 - every failure is the script's, reported to the engine
            answer = _failure(exc)
        channel.send(answer)


if __name__ == "__main__":
    main()
