"""Messages to the outside (SMS, mail, an outside system's callback) go through an outbox table:
written in the same transaction as what caused them, handed to a gateway afterwards.

Which gateway takes a row depends on its topic: "callback" rows (the 12345 hotline told back,
engine/cases/hotline.py) are POSTed, signed, to the login's configured address; every other row
goes to the SMS/mail gateway named by OUTBOX_GATEWAY (there is no SMS server here, so the default
writes each message to the log; a real one is a function registered under a name).

Delivery never holds a transaction (or SQLite's write lock) while it waits for a network: it
claims due rows in one short transaction (SKIP LOCKED, and a lease in next_attempt_at so another
worker leaves them alone), sends with no transaction open, and records the results in another.
A worker that dies in between loses nothing: the lease runs out and the rows are sent again
(receivers drop duplicates by the Idempotency-Key)."""
import hashlib
import hmac
import http.client
import json
import logging
import os
import time
from datetime import timedelta
from urllib.parse import urlsplit

from sqlalchemy import insert, or_, select, update

from engine.legaltime.clock import Clock
from engine.persistence.models import CallbackEndpoint, OutboxMessage
# A module, not its names: acting tells the hotline at the end of every transaction, which writes here.
from engine.cases import acting
from engine.persistence.states import OutboxState

log = logging.getLogger(__name__)

# SMS and mail: tried again at the next sweep, a few times (a text that arrives hours late is useless).
MAX_ATTEMPTS = 5

CALLBACK = "callback"
# Callbacks: a receiver that is down for a night's maintenance still gets every message the next
# morning, and nobody is hammered meanwhile: the delay doubles from a minute up to four hours, and
# after twelve attempts (about 16 hours, 1+2+4+...+128+240*4 minutes) the row is FAILED and waits
# for a supervisor (listed from the third failed attempt on, engine/reading/callbacks.py, so a
# person sees it long before that).
CALLBACK_MAX_ATTEMPTS = 12
CALLBACK_FIRST_DELAY = timedelta(minutes=1)
CALLBACK_MAX_DELAY = timedelta(hours=4)
# What one sweep spends on callbacks at most: a receiver that does not answer costs its timeout
# once per sweep (the other rows for the same address wait), and never more than this many sends
# or this much time, so the timers of the same sweep are never held up for long.
CALLBACK_TIMEOUT_SECONDS = float(os.environ.get("CALLBACK_TIMEOUT_SECONDS", "5"))
CALLBACKS_PER_SWEEP = 20
CALLBACK_SWEEP_BUDGET_SECONDS = 15.0
# A claimed row is left alone by other workers this long (longer than a sweep can send for).
LEASE = timedelta(minutes=10)
# Only the status line and headers of the answer matter; a receiver's body is never read whole.
_MAX_ANSWER_BYTES = 4096


def _log_gateway(message):
    # In development this line is how a one-time code reaches whoever is testing the filing page.
    log.info("outbox %s [%s] to user=%s unit=%s role=%s address=%s: %s", message.channel, message.topic or "-",
             message.recipient_user_id, message.recipient_unit_id, message.recipient_role, message.address,
             message.body)


GATEWAYS = {"log": _log_gateway}


def register_gateway(name, send):
    """`send(message)` delivers one OutboxMessage or raises; it is retried up to MAX_ATTEMPTS."""
    GATEWAYS[name] = send


def gateway_name():
    return os.environ.get("OUTBOX_GATEWAY", "log")


def enqueue(session, body, user_id=None, unit_id=None, role=None, reminder_id=None, channel="sms",
            address=None, topic=None, case_id=None):
    """A message to a login (user_id), a unit's holders of a role, or an outside `address` (a
    resident's phone, a callback URL); `topic` says what it is about ("otp", "notice", "callback").
    Written in the current transaction. An SMS is cut to what a text can carry; a callback's JSON
    is kept whole (cutting it would break it)."""
    session.connection().execute(insert(OutboxMessage.__table__), dict(
        channel=channel, recipient_user_id=user_id, recipient_unit_id=unit_id, recipient_role=role,
        body=body if topic == CALLBACK else body[:2000], reminder_id=reminder_id, state=OutboxState.PENDING,
        attempts=0, created_at=Clock.now(), address=address[:500] if address else None, topic=topic, case_id=case_id))


def retry_delay(attempts):
    """How long a callback waits after its `attempts`-th failed attempt: 1, 2, 4, ... minutes, at most 4 hours."""
    return min(CALLBACK_FIRST_DELAY * 2 ** max(attempts - 1, 0), CALLBACK_MAX_DELAY)


def signature(secret, timestamp, body):
    """X-Yizhan-Signature: HMAC-SHA256 of "<timestamp>.<body>" with the shared secret, in hex."""
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode("ascii") + body.encode("utf-8"), hashlib.sha256)
    return "sha256=" + mac.hexdigest()


class CallbackRefused(Exception):
    """The receiver answered, but not with 2xx (a redirect is a refusal too: it is never followed)."""


def post_callback(url, secret, body, event, delivery_id, timeout=None):
    """POST one signed callback. Returns the status; raises on a network error or a non-2xx answer."""
    parts = urlsplit(url)
    timestamp = str(int(Clock.now().timestamp()))
    connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    connection = connection_class(parts.hostname, parts.port, timeout=timeout or CALLBACK_TIMEOUT_SECONDS)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    data = body.encode("utf-8")
    try:
        connection.request("POST", path, body=data, headers={
            "Content-Type": "application/json; charset=utf-8", "User-Agent": "yizhan-callback/1",
            "X-Yizhan-Event": event, "X-Yizhan-Timestamp": timestamp, "X-Yizhan-Delivery": delivery_id,
            "Idempotency-Key": delivery_id, "X-Yizhan-Signature": signature(secret, timestamp, body)})
        answer = connection.getresponse()
        answer.read(_MAX_ANSWER_BYTES)
    finally:
        connection.close()
    if not 200 <= answer.status < 300:
        raise CallbackRefused(f"HTTP {answer.status} {answer.reason}"[:200])
    return answer.status


def _due(now):
    return (OutboxMessage.state == OutboxState.PENDING,
            or_(OutboxMessage.next_attempt_at.is_(None), OutboxMessage.next_attempt_at <= now))


def _claim(session, now, limit, callback_limit):
    """Lock the due rows (SKIP LOCKED: another worker's are not waited for) and lease them.
    Returns [(id, topic, channel, body, attempts, endpoint or None, earlier next_attempt_at)]."""
    is_callback = OutboxMessage.topic == CALLBACK
    claimed = []
    with acting.as_system(session):
        for where, most in ((or_(OutboxMessage.topic.is_(None), ~is_callback), limit), (is_callback, callback_limit)):
            rows = session.scalars(select(OutboxMessage).where(*_due(now), where).order_by(OutboxMessage.id)
                                   .limit(most).with_for_update(skip_locked=True)).all()
            endpoints = _endpoints(session, rows) if rows and rows[0].topic == CALLBACK else {}
            for message in rows:
                claimed.append((message, endpoints.get(message.recipient_user_id), message.next_attempt_at))
                message.next_attempt_at = now + LEASE
        # Detached copies of what the sends need: nothing is read from the database while sending.
        return [(m.id, m.topic, m.channel, m.body, m.attempts, m.recipient_user_id, m.recipient_unit_id,
                 m.recipient_role, m.address, endpoint, before) for m, endpoint, before in claimed]


def _endpoints(session, rows):
    """The callback address and secret of each login, read now: a rotated secret signs the retries."""
    found = session.execute(select(CallbackEndpoint.user_id, CallbackEndpoint.url, CallbackEndpoint.secret)
                            .where(CallbackEndpoint.user_id.in_({m.recipient_user_id for m in rows}),
                                   CallbackEndpoint.active.is_(True))).all()
    return {user_id: (url, secret) for user_id, url, secret in found}


class _Row:
    """What a gateway is handed: the message's fields, as OutboxMessage has them."""

    def __init__(self, claimed):
        (self.id, self.topic, self.channel, self.body, self.attempts, self.recipient_user_id, self.recipient_unit_id,
         self.recipient_role, self.address, self.endpoint, self.before) = claimed


def deliver(session, limit=200, callback_limit=CALLBACKS_PER_SWEEP, timeout=None, budget=CALLBACK_SWEEP_BUDGET_SECONDS):
    """Hand the due messages to their gateways: up to `limit` SMS/mail rows and `callback_limit`
    callbacks. A message refused is tried again (SMS at the next sweep, up to MAX_ATTEMPTS;
    a callback after a growing delay, up to CALLBACK_MAX_ATTEMPTS), then FAILED. Returns how
    many went."""
    now = Clock.now()
    rows = [_Row(claimed) for claimed in _claim(session, now, limit, callback_limit)]
    if not rows:
        return 0
    results = {}   # id -> None (sent) or the error
    down = {}      # callback address -> its error, this sweep
    began = time.monotonic()
    send_sms = GATEWAYS.get(gateway_name())
    for row in rows:
        if row.topic != CALLBACK:
            if send_sms is not None:
                results[row.id] = _try(send_sms, row)
        elif row.endpoint is None:
            results[row.id] = "no active callback address for this login"
        elif row.endpoint[0] in down or time.monotonic() - began > budget:
            continue  # not tried this sweep: left for the next one
        else:
            results[row.id] = _try(lambda r: post_callback(r.endpoint[0], r.endpoint[1], r.body, _event(r.body),
                                                           f"yizhan-{r.id}", timeout), row)
            if results[row.id] is not None:
                down[row.endpoint[0]] = results[row.id]
    return _record(session, rows, results, down)


def _try(send, row):
    try:
        send(row)
    except Exception as exc:  # noqa: BLE001 - a gateway failing must not stop the sweep; it is retried
        return (str(exc) or type(exc).__name__)[:2000]
    return None


def _event(body):
    try:
        return str(json.loads(body).get("event", "unknown"))
    except (ValueError, AttributeError):
        return "unknown"


def _record(session, rows, results, down):
    """One transaction: what went, what failed (with the next try or FAILED), what was not tried."""
    now = Clock.now()
    sent = 0
    table = OutboxMessage.__table__
    with acting.as_system(session):
        for row in rows:
            values = _outcome(row, results, down, now)
            sent += values.get("state") == OutboxState.SENT
            session.execute(update(table).where(table.c.id == row.id, table.c.state == OutboxState.PENDING)
                            .values(**values))
        # A receiver that failed now is not tried again this minute for its other waiting messages
        # either, so one dead receiver costs one timeout, not one per message.
        for address in down:
            session.execute(update(table).where(
                table.c.topic == CALLBACK, table.c.address == address, table.c.state == OutboxState.PENDING,
                or_(table.c.next_attempt_at.is_(None), table.c.next_attempt_at < now + CALLBACK_FIRST_DELAY))
                .values(next_attempt_at=now + CALLBACK_FIRST_DELAY))
    return sent


def _outcome(row, results, down, now):
    if row.id not in results:  # not tried: back as it was
        return {"next_attempt_at": row.before}
    error = results[row.id]
    attempts = row.attempts + 1
    if error is None:
        values = {"state": OutboxState.SENT, "sent_at": now, "error": None, "attempts": attempts,
                  "next_attempt_at": None}
    elif row.topic == CALLBACK:
        failed = attempts >= CALLBACK_MAX_ATTEMPTS
        values = {"error": error, "attempts": attempts, "state": OutboxState.FAILED if failed else OutboxState.PENDING,
                  "next_attempt_at": None if failed else now + retry_delay(attempts)}
    else:
        values = {"error": error, "attempts": attempts, "next_attempt_at": None,
                  "state": OutboxState.FAILED if attempts >= MAX_ATTEMPTS else OutboxState.PENDING}
    if row.topic == CALLBACK and row.endpoint is not None:
        values["address"] = row.endpoint[0]  # where it was sent (the administrator may have changed it)
    return values
