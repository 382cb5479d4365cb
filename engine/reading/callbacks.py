"""The hotline's callbacks that keep failing, for the supervisors of the cases they concern."""
import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, func, or_, select

from engine.persistence.models import Case, OrgUnit, OutboxMessage
from engine.persistence.states import OutboxState

CALLBACK = "callback"
# Listed from this many failed attempts on: about seven minutes of a receiver refusing (1 + 2 + 4,
# engine/cases/outbox.py's schedule), long before the twelfth attempt gives up.
TROUBLE_ATTEMPTS = 3


@dataclass(frozen=True)
class Troubled:
    id: int
    case_id: int
    case_code: str
    order_number: str | None
    event: str
    milestone: str      # of a "progress" event: routed, escalated, department, result, ...
    state: str
    attempts: int
    error: str | None
    next_attempt_at: datetime | None
    address: str | None


def _troubled(unit_path):
    return (OutboxMessage.topic == CALLBACK, OrgUnit.path.startswith(unit_path),
            or_(OutboxMessage.state == OutboxState.FAILED,
                (OutboxMessage.state == OutboxState.PENDING) & (OutboxMessage.attempts >= TROUBLE_ATTEMPTS)))


def troubled(session, unit_path, limit=200):
    """Callbacks FAILED or failed TROUBLE_ATTEMPTS times or more, of cases in `unit_path` and below:
    given up first, then the most tried."""
    rows = session.execute(
        select(OutboxMessage.id, OutboxMessage.case_id, Case.code, Case.external_ref, OutboxMessage.body,
               OutboxMessage.state, OutboxMessage.attempts, OutboxMessage.error, OutboxMessage.next_attempt_at,
               OutboxMessage.address)
        .join(Case, Case.id == OutboxMessage.case_id).join(OrgUnit, OrgUnit.id == Case.org_unit_id)
        .where(*_troubled(unit_path))
        .order_by((OutboxMessage.state == OutboxState.FAILED).desc(), OutboxMessage.attempts.desc(), OutboxMessage.id)
        .limit(limit)).all()
    return [Troubled(id=r.id, case_id=r.case_id, case_code=r.code, order_number=r.external_ref,
                     event=_field(r.body, "event"), milestone=_field(r.body, "milestone"), state=r.state, attempts=r.attempts, error=r.error, next_attempt_at=r.next_attempt_at,
                     address=r.address) for r in rows]


# Built once: the count is read on every supervision page.
_TROUBLED_COUNT = (select(func.count()).select_from(OutboxMessage)
                   .join(Case, Case.id == OutboxMessage.case_id).join(OrgUnit, OrgUnit.id == Case.org_unit_id)
                   .where(*_troubled(bindparam("b_unit_path"))))


def troubled_count(session, unit_path):
    return session.scalar(_TROUBLED_COUNT, {"b_unit_path": unit_path})


def _field(body, name):
    try:
        return str(json.loads(body).get(name) or "")
    except (ValueError, AttributeError):
        return ""
