"""A center's joint meetings (联席会议: 日会商 daily consultation, 周研判 weekly analysis, 月分析
monthly assessment): scheduled by the unit's supervisors, an agenda of the cases that need it
(engine/reading/meetings.py says which and why), attendance, discussion and minutes, and per case
a decision that becomes an action on the case: its step given to a named handler with the
meeting's deadline, the handler reminded with the meeting's instruction, the case listed for
supervision or sent to the level above, or going on as it is. Each decision is one transaction
through the case's own entry (engine/cases/acting.py), in the case's history naming the meeting.

Every change to a meeting carries the lock_version the person's page showed: a save over someone
else's newer one is refused with a message, and the page keeps what was typed."""
from datetime import date, time

from sqlalchemy import func, select

from engine.cases import notes, supervision, transfers
from engine.cases.acting import acting_on_case, acting_on_task, lock_meeting, meeting_work, scheduling
from engine.errors import Conflict, FormInvalid, NotFound
from engine.legaltime.clock import CHINA, Clock
from engine.messages import Msg, N_, in_chinese
from engine.persistence.models import Meeting, MeetingItem, OrgUnit, User
from engine.persistence.states import EventKind, MeetingState
from engine.reading import meetings as reading
from engine.reading.queries import visible_case_by_code

TITLE = 200
PLACE = 200
MINUTES = 20000
DISCUSSION = 5000
ATTENDEE = 100
# What a meeting may decide about a case, in the order offered.
DECISIONS = {
    "assign": N_("Give the step to a named handler, with a deadline"),
    "remind": N_("Remind the handler with the meeting's instruction"),
    "flag": N_("List the case for supervision"),
    "escalate": N_("Send the case to the level above"),
    "continue": N_("Go on as it is"),
}


def _text(data, key, limit, errors, required_msg=None):
    value = (data.get(key) or "").strip()
    if required_msg is not None and not value:
        errors[key] = required_msg
    elif len(value) > limit:
        errors[key] = Msg("At most %(n)s characters", n=limit)
    return value


def _details(session, unit, data):
    """The meeting's kind, title, day, time, place and chair from a form, or FormInvalid."""
    errors = {}
    kind = data.get("kind") or ""
    if kind not in reading.KINDS:
        errors["kind"] = Msg("Choose the kind of meeting")
    day = at = None
    try:
        day = date.fromisoformat(data.get("day") or "")
        if not 2000 <= day.year <= 2100:
            raise ValueError
    except ValueError:
        errors["day"] = Msg("Give the date as YYYY-MM-DD")
    try:
        at = time.fromisoformat(data.get("time") or "")
    except ValueError:
        errors["time"] = Msg("Give the time as HH:MM")
    title = _text(data, "title", TITLE, errors)
    if not title and "kind" not in errors and "day" not in errors:
        title = reading.suggested_title(kind, day)
    place = _text(data, "place", PLACE, errors)
    chair_id = None
    if data.get("chair_id"):
        chair_id = int(data["chair_id"]) if str(data["chair_id"]).isdigit() else -1
        if chair_id not in {user.id for user in reading.chairs(session, unit)}:
            errors["chair_id"] = Msg("The chair must be a supervisor of this unit")
    if errors:
        raise FormInvalid(errors, dict(data))
    return dict(kind=kind, title=title, scheduled_at=reading.china_moment(day, at), place=place, chair_id=chair_id)


def schedule(session, actor, unit_id, data):
    """A new meeting of the actor's own unit."""
    unit = session.get(OrgUnit, unit_id)
    if unit is None:
        raise NotFound(unit_id)
    with scheduling(session, actor, unit):
        meeting = Meeting(org_unit_id=unit.id, created_by=actor.user_id, state=MeetingState.SCHEDULED,
                          attendees=[], minutes="", created_at=Clock.now(), updated_at=Clock.now(),
                          **_details(session, unit, data))
        session.add(meeting)
        session.flush()
        return meeting


def _touched(meeting):
    """A change to the meeting or its agenda: its version moves on, so a page opened before it
    cannot save over it."""
    meeting.updated_at = Clock.now()


def update_details(session, actor, meeting_id, version, data):
    with meeting_work(session, actor, meeting_id, "edit", version) as act:
        meeting = act.meeting
        for key, value in _details(session, meeting.org_unit, data).items():
            setattr(meeting, key, value)
        _touched(meeting)
        return meeting


def _next_position(session, meeting):
    return (session.scalar(select(func.max(MeetingItem.position)).where(MeetingItem.meeting_id == meeting.id)) or 0) + 1


def add_to_agenda(session, actor, meeting_id, version, case_ids):
    """Put the chosen cases that need the meeting on its agenda (those already on it stay where
    they are), each with its reasons as read now. Returns how many were added."""
    with meeting_work(session, actor, meeting_id, "edit", version) as act:
        meeting = act.meeting
        wanted = {int(case_id) for case_id in case_ids}
        if not wanted:
            raise Conflict(Msg("Choose at least one case"))
        found, _total = reading.needs(session, meeting.org_unit)
        present = set(session.scalars(select(MeetingItem.case_id).where(MeetingItem.meeting_id == meeting.id)))
        position = _next_position(session, meeting)
        added = 0
        for need in found.values():
            if need.case_id in wanted and need.case_id not in present:
                session.add(MeetingItem(meeting_id=meeting.id, case_id=need.case_id, reason=need.reason_codes,
                                        position=position, discussion=""))
                position, added = position + 1, added + 1
        _touched(meeting)
        return added


def add_by_code(session, actor, meeting_id, version, code):
    """A case the meeting wants to discuss although nothing flagged it: an open case of the
    meeting's unit or below, by its code."""
    with meeting_work(session, actor, meeting_id, "edit", version) as act:
        meeting = act.meeting
        case = visible_case_by_code(session, actor, code)
        if case is None or not case.org_unit.path.startswith(meeting.org_unit.path):
            raise Conflict(Msg("No case %(code)s in this unit or the units below it", code=(code or "").strip()))
        if case.status != "open":
            raise Conflict(Msg("Case %(code)s is closed", code=case.code))
        if session.scalar(select(MeetingItem.id).where(MeetingItem.meeting_id == meeting.id,
                                                       MeetingItem.case_id == case.id)):
            raise Conflict(Msg("Case %(code)s is already on the agenda", code=case.code))
        found, _total = reading.needs(session, meeting.org_unit, case_ids=[case.id])
        reasons = found[case.id].reasons if case.id in found else []
        session.add(MeetingItem(meeting_id=meeting.id, case_id=case.id, reason=",".join(reasons + ["manual"]),
                                position=_next_position(session, meeting), discussion=""))
        _touched(meeting)
        return case


def _item(session, meeting, item_id):
    item = session.scalar(select(MeetingItem).where(MeetingItem.id == item_id, MeetingItem.meeting_id == meeting.id)
                          .with_for_update())
    if item is None:
        raise NotFound(item_id)
    return item


def move_item(session, actor, meeting_id, version, item_id, direction):
    """One place up (-1) or down (+1) on the agenda."""
    with meeting_work(session, actor, meeting_id, "edit", version) as act:
        meeting = act.meeting
        items = session.scalars(select(MeetingItem).where(MeetingItem.meeting_id == meeting.id)
                                .order_by(MeetingItem.position, MeetingItem.id)).all()
        index = next((i for i, item in enumerate(items) if item.id == item_id), None)
        if index is None:
            raise NotFound(item_id)
        other = index + (1 if direction > 0 else -1)
        if 0 <= other < len(items):
            items[index], items[other] = items[other], items[index]
        for position, item in enumerate(items, start=1):
            item.position = position
        _touched(meeting)


def remove_item(session, actor, meeting_id, version, item_id):
    with meeting_work(session, actor, meeting_id, "edit", version) as act:
        item = _item(session, act.meeting, item_id)
        if item.decision is not None:
            raise Conflict(Msg("A case the meeting has decided stays in its minutes"))
        session.delete(item)
        _touched(act.meeting)


def _attendees(session, meeting, data):
    """Who attended, from the ticked logins, departments and registered experts of the unit and
    the names typed for anyone else, as the meeting records them."""
    invited = reading.invitees(session, meeting.org_unit)
    chosen = lambda key: {int(v) for v in data.get(key, ()) if str(v).isdigit()}  # noqa: E731
    users, units, resolvers = chosen("attendee_user"), chosen("attendee_unit"), chosen("attendee_resolver")
    found = ([{"user_id": u.id, "name": u.display_name} for u in invited.people if u.id in users]
             + [{"unit_id": u.id, "name": u.name} for u in invited.departments if u.id in units]
             + [{"resolver_id": r.id, "name": r.name, "kind": r.kind} for r in invited.resolvers if r.id in resolvers])
    others = [line.strip() for line in (data.get("attendee_others") or "").splitlines() if line.strip()]
    if any(len(name) > ATTENDEE for name in others):
        raise FormInvalid({"attendee_others": Msg("At most %(n)s characters a name", n=ATTENDEE)}, {})
    return found + [{"name": name} for name in others[:100]]


def record(session, actor, meeting_id, version, data, held=False):
    """Attendance, each item's discussion and the minutes; with `held`, the meeting is marked held."""
    with meeting_work(session, actor, meeting_id, "mark_held" if held else "edit", version) as act:
        meeting = act.meeting
        errors = {}
        minutes = _text(data, "minutes", MINUTES, errors)
        discussions = {}
        for item in session.scalars(select(MeetingItem).where(MeetingItem.meeting_id == meeting.id)):
            key = f"discussion-{item.id}"
            if key in data:
                discussions[item] = _text(data, key, DISCUSSION, errors)
        try:
            attendees = _attendees(session, meeting, data)
        except FormInvalid as invalid:
            errors.update(invalid.errors)
            attendees = None
        if held and not attendees and "attendee_others" not in errors:
            errors["attendees"] = Msg("Record who attended before marking the meeting held")
        if errors:
            raise FormInvalid(errors, dict(data))
        meeting.minutes, meeting.attendees = minutes, attendees
        for item, text in discussions.items():
            item.discussion = text
        if held:
            meeting.state, meeting.held_at = MeetingState.HELD, Clock.now()
        _touched(meeting)
        return meeting


def cancel(session, actor, meeting_id, version):
    with meeting_work(session, actor, meeting_id, "cancel", version) as act:
        if session.scalar(select(MeetingItem.id).where(MeetingItem.meeting_id == act.meeting.id,
                                                       MeetingItem.decision.is_not(None)).limit(1)):
            raise Conflict(Msg("The meeting has decided about cases; it cannot be cancelled"))
        act.meeting.state = MeetingState.CANCELLED
        _touched(act.meeting)
        return act.meeting


# ---- decisions: each one an action on the case ------------------------------------------------

def _written(act, decision, note, due, user_id):
    """The decision as the minutes and the case's history keep it: the meeting's instruction, and
    to whom and by when (in the deployment's language: it is also sent to the handler's phone)."""
    parts = []
    if decision == "assign":
        handler = act.session.get(User, user_id)
        parts.append(in_chinese(Msg("given to %(who)s", who=handler.display_name if handler else "")))
    if decision == "remind":
        parts.append(in_chinese(Msg("reminded on “%(step)s”", step=act.task.title)))
    if due is not None:
        parts.append(in_chinese(Msg("to be carried out by %(due)s", due=due.isoformat())))
    return note + ("（" + "；".join(parts) + "）" if parts else "")


def _due(value):
    if not value:
        return None
    try:
        due = date.fromisoformat(value)
    except ValueError:
        raise Conflict(Msg("Give the deadline as YYYY-MM-DD")) from None
    today = Clock.now().astimezone(CHINA).date()
    if not today <= due <= today.replace(year=today.year + 1):
        raise Conflict(Msg("The deadline must be between today and a year from now"))
    return due


def _target(value):
    """A "step:handler" choice (task id and user id), or a step id alone."""
    parts = str(value or "").split(":")
    if not parts[0].isdigit() or (len(parts) == 2 and not parts[1].isdigit()) or len(parts) > 2:
        raise Conflict(Msg("Choose the step (and for a step given, its handler)"))
    return int(parts[0]), int(parts[1]) if len(parts) == 2 else None


def decide(session, actor, meeting_id, item_id, decision, target=None, due=None, note=""):
    """Record the meeting's decision on one agenda item and carry it out on the case, in one
    transaction. Returns the item."""
    if decision not in DECISIONS:
        raise Conflict(Msg("Choose what the meeting decided"))
    due = _due(due) if decision == "assign" else None
    note = notes.note(note, notes.REASON, None if decision == "continue" else Msg("Write the meeting's instruction"))
    case_id = session.scalar(select(MeetingItem.case_id).where(MeetingItem.id == item_id,
                                                              MeetingItem.meeting_id == meeting_id))
    if case_id is None:
        raise NotFound(item_id)
    task_id = user_id = None
    if decision in ("assign", "remind"):
        task_id, user_id = _target(target)
        if decision == "assign" and user_id is None:
            raise Conflict(Msg("Choose the step (and for a step given, its handler)"))
        entry = acting_on_task(session, actor, task_id, ("reassign", "claim_on_behalf") if decision == "assign"
                               else "remind")
    else:
        entry = acting_on_case(session, actor, case_id, {"flag": "flag", "escalate": "escalate"}.get(
            decision, "meeting_decision"))
    with entry as act:
        # The case first (its entry locked it), then the meeting: as every case action locks.
        meeting = lock_meeting(session, actor, meeting_id, "decide")
        item = _item(session, meeting, item_id)
        if act.case.id != item.case_id:
            raise NotFound(task_id)
        if item.decision is not None:
            who = session.get(User, item.decided_by).display_name if item.decided_by else ""
            raise Conflict(Msg("The meeting's decision on this case was already recorded by %(who)s", who=who))
        written = _written(act, decision, note, due, user_id)
        result = _carry_out(act, decision, user_id, f"【{meeting.title}】{written}")
        item.decision, item.decision_note, item.result_ref = decision, written, result
        item.decided_by, item.decided_at = actor.user_id, Clock.now()
        act.log.add(actor, EventKind.MEETING_DECIDED, act.task.spec_id if act.task else None,
                    act.task.title if act.task else None, {
                        "meeting_id": meeting.id, "meeting": meeting.title, "decision": decision, "note": note,
                        "due": due.isoformat() if due else None, "result": result})
        return item


def _carry_out(act, decision, user_id, instruction):
    """The decision as the case action it is; what it made, for the minutes to link to."""
    if decision == "assign":
        return f"task:{supervision.give_step(act, user_id, instruction).id}"
    if decision == "remind":
        return f"task:{supervision.remind_handler(act, instruction).id}"
    if decision == "flag":
        supervision.list_case(act, instruction)
        return "flag"
    if decision == "escalate":
        return f"transfer:{transfers.send_up(act, instruction).id}"
    return None


