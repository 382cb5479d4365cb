"""Messages to the outside (SMS, mail) go through an outbox table: written in the same transaction
as what caused them, handed to a gateway afterwards. There is no SMS or mail server here, so the
default gateway writes each message to the log; a real one is a function registered under a name
and chosen with OUTBOX_GATEWAY (e.g. an SMS provider's HTTP API)."""
import logging
import os

from sqlalchemy import insert, select

from engine.legaltime.clock import Clock
from engine.persistence.models import OutboxMessage
from engine.cases.acting import as_system
from engine.persistence.states import OutboxState

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 5


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
    resident's phone, a callback URL); `topic` says what it is about ("otp", "notice", ...)."""
    session.connection().execute(insert(OutboxMessage.__table__), dict(
        channel=channel, recipient_user_id=user_id, recipient_unit_id=unit_id, recipient_role=role,
        body=body[:2000], reminder_id=reminder_id, state=OutboxState.PENDING, attempts=0, created_at=Clock.now(),
        address=address[:500] if address else None, topic=topic, case_id=case_id))


def deliver(session, limit=200):
    """Hand up to `limit` pending messages to the gateway in one transaction (rows locked, SKIP
    LOCKED, so two workers never send one twice). A message the gateway refuses keeps its error
    and is tried again next time, up to MAX_ATTEMPTS. Returns how many went."""
    send = GATEWAYS.get(gateway_name())
    if send is None:
        return 0
    sent = 0
    with as_system(session):
        messages = session.scalars(select(OutboxMessage).where(OutboxMessage.state == OutboxState.PENDING)
                                   .order_by(OutboxMessage.id).limit(limit).with_for_update(skip_locked=True)).all()
        for message in messages:
            message.attempts += 1
            try:
                send(message)
            except Exception as exc:  # a gateway failing must not stop the sweep; it is retried
                message.error = str(exc)[:2000]
                if message.attempts >= MAX_ATTEMPTS:
                    message.state = OutboxState.FAILED
                continue
            message.state, message.sent_at, message.error = OutboxState.SENT, Clock.now(), None
            sent += 1
    return sent
