"""Settings, read from the environment with defaults that make `make run` work on a fresh machine.

DATABASE_URL   SQLAlchemy URL; default sqlite:///instance/yizhan.db. postgresql://... uses psycopg 3.
SECRET_KEY     signs sessions and CSRF tokens; default: a random key kept in instance/secret_key,
               made once and read by every worker process of this machine. Several machines serving
               one site must share one key: set SECRET_KEY (the same value) on every one.
PORT / HOST    where `run.py serve` listens (default 127.0.0.1:5000).
WEB_WORKERS    web worker processes of `run.py serve` (gunicorn, synchronous workers, one request at a
               time each; default: the cores this process may run on). Each keeps its own database
               pool (DB_POOL_SIZE), so workers x machines x pool must stay under PostgreSQL's
               max_connections.
WEB_TIMEOUT    seconds a request may run before its worker is killed and replaced (default 120: the
               court dossier of a 300-page case renders in 38 s on a loaded machine, and is rendered
               again, at most three times, if the case moved meanwhile). Also how long the workers
               may finish what they hold on SIGTERM. A proxy in front must wait as long.
YIZHAN_SCHEDULER  "on" (default): `run.py serve` starts and supervises one `run.py worker` process for
               the timer sweep (never one per web worker); "off" when the worker runs as its own service.
DB_POOL_SIZE   database connections each process keeps (default 2; up to 3 more are opened at a
               peak). Connections are checked before use (pool_pre_ping) and renewed after
               DB_POOL_RECYCLE seconds (default 1800), so a restarted PostgreSQL costs no restart here.
SWEEP_SECONDS  how often the timer sweep runs (default 1).
SWEEP_PROCESSES  processes of `run.py worker` that fire due timers (default: the cores on PostgreSQL,
               1 on SQLite). The first also does the sweep's other work (reminders, the outbox,
               the roll-up); the others only fire timers. They share the due timers by row locks
               (SKIP LOCKED): none fires a timer twice or waits on another. Each keeps its own
               database pool (DB_POOL_SIZE). Idle, each costs one query per SWEEP_SECONDS.
IDEMPOTENCY_HOURS  how long an API Idempotency-Key names the case its first request made (default 24).
PUBLIC_BASE_URL  the address outside systems reach this site at (e.g. https://yizhan.example.cn): the
               API's returned URLs start with it, never with the request's Host header; unset, they
               are paths (/api/v1/cases/...).
CALLBACK_ALLOW_HTTP  "on" lets an administrator give an outside system's login (the 12345 hotline) a
               plain http:// callback address; default "off": https:// only, since the callbacks
               carry case details (turn it on for a receiver on the same host or in development).
CALLBACK_TIMEOUT_SECONDS  how long the sweep waits for a callback receiver's answer (default 5).
YIZHAN_HTTPS   "on" when served over HTTPS: the session cookie is sent with Secure, and HSTS is set
               (default off).
YIZHAN_PROXIES how many reverse proxies stand in front (default 0); with 1 or more the client's
               address (log-in throttling) is read from X-Forwarded-For, set by the proxy.
ATTACHMENTS_DIR  where uploaded photos and documents are kept, by their SHA-256, outside the web
               root (default <YIZHAN_INSTANCE>/attachments). With several web machines it must be
               storage every one of them mounts (NFS or the like): a file kept by one is read by another.
UPLOAD_MAX_MB  the largest photo or document a resident or grid worker may attach (default 10).
UPLOAD_MAX_FILES  how many files one submission may carry (default 6).
"""
import os
import secrets
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = Path(os.environ.get("YIZHAN_INSTANCE", ROOT / "instance"))
BPMN_DIR = ROOT / "bpmn"
FORMS_DIR = ROOT / "forms"


def database_url():
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    INSTANCE.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{INSTANCE / 'yizhan.db'}"


def secret_key():
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    INSTANCE.mkdir(parents=True, exist_ok=True)
    path = INSTANCE / "secret_key"
    if not path.exists():
        # Web workers start together: the first makes the file whole (written aside, then linked
        # into place, which fails if another was first), and every one reads the same key.
        aside = path.with_name(f".secret_key.{os.getpid()}")
        aside.write_text(secrets.token_hex(32))
        aside.chmod(0o600)
        try:
            os.link(aside, path)
        except FileExistsError:
            pass
        finally:
            aside.unlink()
    return path.read_text().strip()


def _cores():
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def web_workers():
    if os.environ.get("WEB_WORKERS"):
        return max(1, int(os.environ["WEB_WORKERS"]))
    return _cores()


def sweep_processes(url):
    """Processes of `run.py worker` that fire due timers: SWEEP_PROCESSES, else the cores on
    PostgreSQL (its row locks let them share the timers) and one on SQLite (one writer at a time)."""
    if os.environ.get("SWEEP_PROCESSES"):
        return max(1, int(os.environ["SWEEP_PROCESSES"]))
    return _cores() if url.startswith("postgresql") else 1


def web_timeout():
    return max(1, int(os.environ.get("WEB_TIMEOUT", "120")))


def attachments_dir():
    """Read when asked (not at import), so a test's or a deployment's YIZHAN_INSTANCE counts."""
    if os.environ.get("ATTACHMENTS_DIR"):
        return Path(os.environ["ATTACHMENTS_DIR"])
    return Path(os.environ.get("YIZHAN_INSTANCE", ROOT / "instance")) / "attachments"


def upload_limits():
    return {"ATTACHMENTS_DIR": str(attachments_dir()),
            "UPLOAD_MAX_BYTES": int(float(os.environ.get("UPLOAD_MAX_MB", "10")) * 1024 * 1024),
            "UPLOAD_MAX_FILES": int(os.environ.get("UPLOAD_MAX_FILES", "6"))}


def callback_allow_http():
    return os.environ.get("CALLBACK_ALLOW_HTTP", "off") == "on"


def flask_config():
    https = os.environ.get("YIZHAN_HTTPS", "off") == "on"
    return {
        "SQLALCHEMY_DATABASE_URI": database_url(),
        "SECRET_KEY": secret_key(),
        "BPMN_DIR": str(BPMN_DIR),
        "FORMS_DIR": str(FORMS_DIR),
        "BABEL_DEFAULT_LOCALE": "zh",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": https,
        "PREFERRED_URL_SCHEME": "https" if https else "http",
        "PROXIES": int(os.environ.get("YIZHAN_PROXIES", "0")),
        "MAX_CONTENT_LENGTH": 4 * 1024 * 1024,
        "SWEEP_SECONDS": float(os.environ.get("SWEEP_SECONDS", "1")),
        "PUBLIC_BASE_URL": os.environ.get("PUBLIC_BASE_URL") or None,
        # How long an outside system's Idempotency-Key names the case its first request made.
        "CALLBACK_ALLOW_HTTP": callback_allow_http(),
        "IDEMPOTENCY_KEPT": timedelta(hours=int(os.environ.get("IDEMPOTENCY_HOURS", "24"))),
        **upload_limits(),
    }
