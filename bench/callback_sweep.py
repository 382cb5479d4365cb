"""What a hotline receiver costs the sweep: one outbox.deliver() with 50 pending callbacks to a
receiver that answers at once, one that refuses the connection, and one that never answers (the
sweep waits CALLBACK_TIMEOUT_SECONDS for it once, not once per message). A fresh SQLite file.

    .venv/bin/python -m bench.callback_sweep [timeout seconds, default outbox's]"""
import json
import socket
import sys
import tempfile
import time

from sqlalchemy import delete, func, select

from engine.access import accounts
from engine.cases import outbox
from engine.cases.acting import as_system
from engine.demo import load_demo
from engine.persistence.db import session_factory
from engine.persistence.models import OutboxMessage, User
from tests.callback_receiver import Receiver

from .schema import migrate

PENDING = 50
SECRET = "bench-secret-0123456789abcdef"


def _fill(session, user_id, url):
    with as_system(session):
        session.execute(delete(OutboxMessage))
        for number in range(PENDING):
            outbox.enqueue(session, json.dumps({"event": "progress", "n": number}), user_id=user_id, channel="http",
                           address=url, topic=outbox.CALLBACK)
    accounts.set_callback(session, None, user_id, url, SECRET, allow_http=True)


def _sweep(session, timeout):
    began = time.perf_counter()
    sent = outbox.deliver(session, timeout=timeout)
    spent = time.perf_counter() - began
    tried = session.scalar(select(func.sum(OutboxMessage.attempts)))
    return spent, sent, tried


def main(argv):
    timeout = float(argv[0]) if argv else outbox.CALLBACK_TIMEOUT_SECONDS
    with tempfile.TemporaryDirectory() as folder:
        migrate(f"sqlite:///{folder}/bench.db")
        session = session_factory(f"sqlite:///{folder}/bench.db")()
        load_demo(session)
        user_id = session.scalar(select(User.id).where(User.username == "hotline"))
        with Receiver(SECRET) as answering:
            _fill(session, user_id, answering.url)
            first = _sweep(session, timeout)
            sweeps, total = 1, first[0]
            while session.scalar(select(func.count()).where(OutboxMessage.state == "pending")):
                spent, _sent, _tried = _sweep(session, timeout)
                sweeps, total = sweeps + 1, total + spent
            print(f"answering receiver: one sweep {first[0] * 1000:.0f} ms ({first[1]} sent, "
                  f"{outbox.CALLBACKS_PER_SWEEP} per sweep at most); all {PENDING} in {sweeps} sweeps, "
                  f"{total * 1000:.0f} ms; signatures valid: {all(valid for *_rest, valid in answering.received)}")
        closed = socket.socket()
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        closed.close()  # nobody listens there: the connection is refused at once
        _fill(session, user_id, f"http://127.0.0.1:{port}/callback")
        spent, sent, tried = _sweep(session, timeout)
        print(f"refusing receiver (connection refused): one sweep {spent * 1000:.0f} ms, {tried} attempt(s) made")
        with Receiver(SECRET) as hanging:
            hanging.hang = True
            _fill(session, user_id, hanging.url)
            spent, sent, tried = _sweep(session, timeout)
            print(f"receiver that never answers (timeout {timeout:g} s): one sweep {spent * 1000:.0f} ms, "
                  f"{tried} attempt(s) made, {PENDING - tried} left for later without a try")
        session.close()


if __name__ == "__main__":
    main(sys.argv[1:])
