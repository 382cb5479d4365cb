"""The 12345 hotline told back. An outside system's login with an active callback endpoint
(callback_endpoints: its address and shared secret) hears, in its own terms, what became of each
matter it filed: the acceptance, each milestone that matters to the caller (routed, moved between
levels, handed to a resident department, a result reached, reopened), the closing reply and the
rating of the return visit.

It is told from the case's history, in one place: every event of a case passes through its audit
log (engine/cases/store.py keeps the rows of the transaction), and at the end of every transaction
engine/cases/acting.py hands them here, before the commit. So a message is written to the outbox
in the same transaction as what caused it, and an action that fails writes none. What is sent is
the case's code, the order number, the handling unit, the step and its result in words a hotline
operator can read out to the caller: never a party's name, number or address, never an internal
note."""
import json
import uuid

from sqlalchemy import bindparam, select

from engine.access.rulebook import CLOSE_FORM, VISIT_FORM
from engine.cases import acting, outbox
from engine.errors import Conflict, NotFound
from engine.legaltime.clock import Clock, as_utc
from engine.library import catalog
from engine.messages import N_, Msg, in_chinese
from engine.persistence.models import CallbackEndpoint, OrgUnit, OutboxMessage, Task
from engine.persistence.states import EventKind, OutboxState

# Where store.AuditLog keeps the events written in the current transaction: [(case, [row, ...])].
WRITTEN = "audit_rows"

# Forms whose result the hotline hears (the field that holds it), as the step's milestone.
RESULT_FIELDS = {
    "mediation.json": "outcome", "court_confirm.json": "court_result", "prefiling.json": "prefiling_outcome",
    "decision.json": "result", "ruling_result.json": "result", "specialist.json": "specialist_result",
    "joint.json": "joint_decision", "acceptance.json": "acceptance", "recon_accept.json": "acceptance",
}
# A case moved between levels: the milestone and what the caller is told.
MOVES = {
    EventKind.CASE_ESCALATED: ("escalated", N_("It was escalated to %(unit)s.")),
    EventKind.CASE_ASSIGNED_DOWN: ("assigned_down", N_("It was assigned to %(unit)s.")),
    EventKind.TRANSFER_RETURNED: ("returned", N_("It went back to %(unit)s.")),
}
_WATCHED = {EventKind.CASE_STARTED, EventKind.TRIAGED, EventKind.TASK_COMPLETED, EventKind.CASE_REOPENED,
            EventKind.ENGINE, *MOVES}


# The cases whose filer, as read under the case's lock in this transaction, has no active endpoint.
UNTOLD = "untold_cases"


def begin(session):
    """A transaction begins: nothing written in it yet."""
    discard(session)


def discard(session):
    session.info.pop(WRITTEN, None)
    session.info.pop(UNTOLD, None)


def untold(session, case_id):
    """The case's filer has no active callback endpoint (acting.py read it with the locked case):
    nothing to look up for its events at the end of the transaction."""
    session.info.setdefault(UNTOLD, set()).add(case_id)


def kept(session, case, rows):
    """store.AuditLog: these events were written for `case` in the current transaction."""
    if case.created_by is not None:  # only a case someone filed can have been filed by an outside system
        session.info.setdefault(WRITTEN, []).append((case, rows))


_ENDPOINTS = (select(CallbackEndpoint.user_id, CallbackEndpoint.url)
              .where(CallbackEndpoint.user_id.in_(bindparam("b_users", expanding=True)), CallbackEndpoint.active.is_(True)))


def tell(session):
    """Before the transaction commits: write a callback for each milestone of a case filed by a
    login with an active endpoint."""
    written, untold_cases = session.info.pop(WRITTEN, None), session.info.pop(UNTOLD, ())
    if not written:
        return 0
    watched = [(case, row) for case, rows in written if case.id not in untold_cases
               for row in rows if row["kind"] in _WATCHED]
    if not watched:
        return 0
    creators = {case.created_by for case, _row in watched}
    # On the connection: no endpoint is made within a case's action, so nothing pending to flush first.
    endpoints = dict(session.connection().execute(_ENDPOINTS, {"b_users": sorted(creators)}).all())
    told = 0
    for case, row in watched:
        url = endpoints.get(case.created_by)
        if url is None:
            continue
        for event in _events(session, case, row):
            outbox.enqueue(session, json.dumps(event, ensure_ascii=False), user_id=case.created_by,
                           channel="http", address=url, topic=outbox.CALLBACK, case_id=case.id)
            told += 1
    return told


def _unit_name(session, case):
    # By the id on the row, not case.org_unit: a move between levels in this same transaction has
    # changed the id and not the loaded relationship. session.get answers from the identity map.
    return session.get(OrgUnit, case.org_unit_id).name


def _payload(session, case, row, event, status, message, **extra):
    body = {"event": event, "event_id": uuid.uuid4().hex, "order_number": case.external_ref,
            "case_code": case.code, "status": status, "occurred_at": as_utc(row["at"]).isoformat(),
            "sequence": row["seq"], "message": in_chinese(message),
            "handling_unit": _unit_name(session, case)}
    body.update(extra)
    return body


def _progress(session, case, row, milestone, message, **extra):
    return _payload(session, case, row, "progress", "in_progress", message, milestone=milestone, **extra)


def _events(session, case, row):
    kind, detail = row["kind"], row["detail"] or {}
    if kind == EventKind.CASE_STARTED:
        return [_payload(session, case, row, "accepted", "accepted",
                         Msg("Your matter was accepted as %(code)s and is handled by %(unit)s.", code=case.code,
                             unit=_unit_name(session, case)),
                         accepted_at=as_utc(row["at"]).isoformat())]
    if kind == EventKind.TRIAGED:
        how = detail.get("description") or detail.get("route") or ""
        if detail.get("body"):
            how = Msg("%(how)s; handled by %(body)s", how=how, body=detail["body"])
        return [_progress(session, case, row, "routed", Msg("It was routed: %(how)s.", how=how),
                          route=detail.get("route"), competent_body=detail.get("body"))]
    if kind in MOVES:
        milestone, text = MOVES[kind]
        return [_progress(session, case, row, milestone, Msg(text, unit=detail.get("to")), unit=detail.get("to"))]
    if kind == EventKind.CASE_REOPENED:
        return [_progress(session, case, row, "reopened",
                          Msg("It is being handled again (round %(round)s).", round=detail.get("round")))]
    if kind == EventKind.ENGINE:
        return _handed_to_department(session, case, row, detail)
    return _completed(session, case, row, detail.get("data") or {})


def _handed_to_department(session, case, row, detail):
    if detail.get("type") != "UserTask" or detail.get("to") != "READY":
        return []
    unit = session.scalar(select(OrgUnit.name).join(Task, Task.org_unit_id == OrgUnit.id).where(
        Task.case_id == case.id, Task.spiff_task_id == detail.get("task_id"), OrgUnit.level == "department"))
    if unit is None:
        return []
    return [_progress(session, case, row, "department",
                      Msg("It was handed to %(unit)s (%(step)s).", unit=unit, step=row["task_title"]),
                      unit=unit, step=row["task_title"])]


def _completed(session, case, row, data):
    """A step done: the closing reply, the rating, or a result the caller waits for."""
    version = catalog.version_info(session, case.process_version_id)
    form_key = version.meta["tasks"].get(row["task_spec"] or "", {}).get("form")
    if form_key is None:
        return []
    form = version.form(form_key)

    def label(field):
        return _enum_label(form, field, data.get(field))

    if form_key == CLOSE_FORM:
        return [_payload(session, case, row, "closed", "closed",
                         Msg("It was closed (%(how)s). Reply: %(reply)s", how=label("closing_method"),
                             reply=data.get("closing_summary", "")),
                         outcome=data.get("closing_method"), outcome_label=label("closing_method"),
                         reply=data.get("closing_summary", ""), closed_at=as_utc(row["at"]).isoformat())]
    if form_key == VISIT_FORM:
        return [_payload(session, case, row, "rated", "closed",
                         Msg("The return visit recorded: %(rating)s.", rating=label("satisfaction")),
                         rating=data.get("satisfaction"), rating_label=label("satisfaction"))]
    field = RESULT_FIELDS.get(form_key)
    if field is None or data.get(field) is None:
        return []
    return [_progress(session, case, row, "result",
                      Msg("%(step)s: %(result)s.", step=row["task_title"], result=label(field)),
                      step=row["task_title"], result={"field": field, "value": data.get(field), "label": label(field)})]


def _enum_label(form, field, value):
    """The Chinese label the form gives a choice (what the clerk saw), else the value itself."""
    labels = form.schema.get("properties", {}).get(field, {}).get("x-enum-labels", {})
    names = labels.get(value)
    return names[0] if isinstance(names, list) and names else ("" if value is None else str(value))


def retry(session, actor, message_id):
    """A supervisor has a failing callback sent again at the next sweep (its count of attempts
    stays: one more failure past the last attempt fails it again). In the case's history."""
    case_id = session.scalar(select(OutboxMessage.case_id).where(OutboxMessage.id == message_id,
                                                                  OutboxMessage.topic == outbox.CALLBACK))
    if case_id is None:
        raise NotFound(message_id)
    with acting.acting_on_case(session, actor, case_id, "retry_callback") as act:
        message = session.scalar(select(OutboxMessage).where(OutboxMessage.id == message_id).with_for_update())
        if message.state == OutboxState.SENT:
            raise Conflict(Msg("This callback was sent meanwhile"))
        event = json.loads(message.body).get("event")
        act.log.add(actor, EventKind.CALLBACK_RETRIED, detail={
            "event": event, "attempts": message.attempts, "error": message.error, "state": message.state})
        message.state, message.next_attempt_at = OutboxState.PENDING, Clock.now()
        return message
