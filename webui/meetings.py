"""The center's joint meetings (联席会议): the list per unit, scheduling, the meeting page (agenda
drawn from the cases that need it, attendance, discussion, minutes, a decision per case) and the
printable minutes. A unit above reads its units' meetings; only the unit's own supervisors change
them. A refusal the person can act on (a stale save, a missing instruction) comes back on the page
with what they typed."""
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from engine.access import rulebook
from engine.cases import meetings
from engine.cases.acting import meeting_facts
from engine.errors import Conflict, FormInvalid, NotAllowed
from engine.legaltime.clock import CHINA, Clock, as_utc
from engine.messages import Msg
from engine.persistence.models import OrgUnit, User
from engine.persistence.uow import retrying_busy
from engine.reading import dashboard, meetings as reading

from .acting import REFUSALS, refusal_message
from .auth import current_actor, requires
from .extensions import db
from .guard import int_param
from .i18n import say

bp = Blueprint("meetings", __name__, url_prefix="/meetings")

# Form fields that hold several values (ticked boxes).
_LISTS = ("attendee_user", "attendee_unit", "attendee_resolver", "case")


def _form():
    return {key: (request.form.getlist(key) if key in _LISTS else request.form.get(key)) for key in request.form}


def _version():
    return int_param(request.form.get("version") or "0")


@bp.route("/")
@requires("hold_meetings")
def index():
    actor = current_actor()
    unit = dashboard.scope_unit(db.session, actor, request.args.get("unit", type=int))
    upcoming, past = reading.meetings_of(db.session, unit)
    return render_template("meetings/index.html", unit=unit, upcoming=upcoming, past=past,
                           below=reading.meetings_below(db.session, unit), own=unit.id == actor.unit_id,
                           chairs=_names(upcoming + past))


def _names(meetings_list):
    ids = {m.chair_id for m in meetings_list if m.chair_id}
    return dict(db.session.execute(db.select(User.id, User.display_name).where(User.id.in_(ids))).all()) if ids else {}


def _defaults(kind="weekly"):
    day = reading.suggested_day(kind)
    return {"kind": kind, "day": day.isoformat(), "time": "09:00", "title": reading.suggested_title(kind, day),
            "place": "", "chair_id": str(current_actor().user_id)}


@bp.route("/new", methods=["GET", "POST"])
@requires("hold_meetings")
def new():
    actor = current_actor()
    unit = db.session.get(OrgUnit, actor.unit_id)
    refused = rulebook.meeting_refusal(actor, "schedule", rulebook.MeetingFacts(id=None, unit_path=unit.path))
    if refused is not None:
        raise refused
    kind = request.args.get("kind") if request.args.get("kind") in reading.KINDS else "weekly"
    data, errors, status = _defaults(kind), {}, 200
    if request.method == "POST":
        data = _form()
        try:
            meeting = retrying_busy(lambda: meetings.schedule(db.session, actor, unit.id, data))
        except FormInvalid as invalid:
            errors, status = {key: say(why) for key, why in invalid.errors.items()}, 422
        else:
            flash(_("The meeting is scheduled. Draw its agenda below."), "success")
            return redirect(url_for("meetings.show", meeting_id=meeting.id))
    return render_template("meetings/new.html", unit=unit, data=data, errors=errors,
                           chairs=reading.chairs(db.session, unit),
                           titles={k: reading.suggested_title(k, reading.suggested_day(k)) for k in reading.KINDS},
                           days={k: reading.suggested_day(k).isoformat() for k in reading.KINDS}), status


def _page(meeting_id, typed=None, errors=None, status=200, saved=None, typed_item=None):
    actor = current_actor()
    meeting = reading.visible_meeting(db.session, actor, meeting_id)
    allowed = rulebook.permitted_on_meeting(actor, meeting_facts(meeting, meeting.org_unit.path))
    items = reading.items_of(db.session, meeting)
    case_ids = [item.case_id for item in items]
    now = Clock.now()
    reasons, _n = reading.needs(db.session, meeting.org_unit, now, case_ids=case_ids) if case_ids else ({}, 0)
    candidates, total = ({}, 0)
    if "edit" in allowed:
        candidates, total = reading.needs(db.session, meeting.org_unit, now)
        for need in candidates.values():
            need.on_agenda = need.case_id in set(case_ids)
    steps = reading.open_steps(db.session, case_ids)
    handlers = reading.handlers(db.session, [task for tasks in steps.values() for task in tasks])
    people = {u.id: u.display_name for u in db.session.scalars(db.select(User).where(User.id.in_(
        {meeting.chair_id, meeting.created_by} | {item.decided_by for item in items} - {None})))}
    return render_template(
        "meetings/show.html", meeting=meeting, allowed=allowed, items=items, reasons=reasons, candidates=candidates,
        candidate_total=total, steps=steps, handlers=handlers, people=people, now=now,
        invited=reading.invitees(db.session, meeting.org_unit), chairs=reading.chairs(db.session, meeting.org_unit),
        typed=typed, errors=errors or {}, saved=saved,
        decisions=meetings.DECISIONS, overdue_days=reading.overdue_days, typed_item=typed_item or (None, {}),
        attended=_attended(typed, meeting)), status


def _attended(typed, meeting):
    """{"user": ids, "unit": ids, "resolver": ids, "others": text} ticked on the page."""
    if typed is not None:
        ids = lambda key: {int(v) for v in typed.get(key, ()) if str(v).isdigit()}  # noqa: E731
        return {"user": ids("attendee_user"), "unit": ids("attendee_unit"), "resolver": ids("attendee_resolver"),
                "others": typed.get("attendee_others") or ""}
    found = {"user": set(), "unit": set(), "resolver": set(), "others": []}
    for entry in meeting.attendees or []:
        for key in ("user", "unit", "resolver"):
            if f"{key}_id" in entry:
                found[key].add(entry[f"{key}_id"])
                break
        else:
            found["others"].append(entry.get("name", ""))
    found["others"] = "\n".join(found["others"])
    return found


@bp.route("/<int:meeting_id>")
@requires("hold_meetings")
def show(meeting_id):
    return _page(meeting_id)


@bp.route("/<int:meeting_id>/print")
@requires("hold_meetings")
def minutes(meeting_id):
    actor = current_actor()
    meeting = reading.visible_meeting(db.session, actor, meeting_id)
    items = reading.items_of(db.session, meeting)
    reasons, _n = reading.needs(db.session, meeting.org_unit, case_ids=[i.case_id for i in items]) if items else ({}, 0)
    chair = db.session.get(User, meeting.chair_id) if meeting.chair_id else None
    return render_template("meetings/print.html", meeting=meeting, items=items, reasons=reasons, chair=chair,
                           decisions=meetings.DECISIONS, overdue_days=reading.overdue_days,
                           printed_at=Clock.now())


def _then(meeting_id, action, done, anchor=""):
    """Run a change to the meeting; a refusal is flashed on the meeting page."""
    try:
        result = retrying_busy(action)
    except REFUSALS as refused:
        flash(refusal_message(refused), "error")
    except NotAllowed as refused:
        if not isinstance(refused.args[0] if refused.args else None, Msg):
            raise
        flash(say(refused), "error")
    else:
        flash(done(result) if callable(done) else done, "success")
    return redirect(url_for("meetings.show", meeting_id=meeting_id) + anchor)


@bp.route("/<int:meeting_id>/details", methods=["POST"])
@requires("hold_meetings")
def details(meeting_id):
    data = _form()
    try:
        retrying_busy(lambda: meetings.update_details(db.session, current_actor(), meeting_id, _version(), data))
    except FormInvalid as invalid:
        return _page(meeting_id, typed=data, errors={k: say(v) for k, v in invalid.errors.items()}, status=422)
    except Conflict as conflict:
        flash(say(conflict), "error")
        return _page(meeting_id, typed=data, status=409)
    flash(_("Saved"), "success")
    return redirect(url_for("meetings.show", meeting_id=meeting_id))


@bp.route("/<int:meeting_id>/agenda", methods=["POST"])
@requires("hold_meetings")
def agenda(meeting_id):
    ids = [int_param(v) for v in request.form.getlist("case")]
    return _then(meeting_id, lambda: meetings.add_to_agenda(db.session, current_actor(), meeting_id, _version(), ids),
                 lambda n: _("%(n)s cases put on the agenda", n=n), "#agenda")


@bp.route("/<int:meeting_id>/agenda/code", methods=["POST"])
@requires("hold_meetings")
def add_code(meeting_id):
    code = request.form.get("code", "")
    return _then(meeting_id, lambda: meetings.add_by_code(db.session, current_actor(), meeting_id, _version(), code),
                 lambda case: _("%(code)s put on the agenda", code=case.code), "#agenda")


@bp.route("/<int:meeting_id>/items/<int:item_id>/move", methods=["POST"])
@requires("hold_meetings")
def move(meeting_id, item_id):
    direction = -1 if request.form.get("direction") == "up" else 1
    return _then(meeting_id, lambda: meetings.move_item(db.session, current_actor(), meeting_id, _version(), item_id,
                                                        direction), _("The agenda's order is saved"), "#agenda")


@bp.route("/<int:meeting_id>/items/<int:item_id>/remove", methods=["POST"])
@requires("hold_meetings")
def remove(meeting_id, item_id):
    return _then(meeting_id, lambda: meetings.remove_item(db.session, current_actor(), meeting_id, _version(), item_id),
                 _("Taken off the agenda"), "#agenda")


@bp.route("/<int:meeting_id>/record", methods=["POST"])
@requires("hold_meetings")
def record(meeting_id):
    data, held = _form(), request.form.get("held") == "1"
    try:
        retrying_busy(lambda: meetings.record(db.session, current_actor(), meeting_id, _version(), data, held=held))
    except FormInvalid as invalid:
        return _page(meeting_id, typed=data, errors={k: say(v) for k, v in invalid.errors.items()}, status=422)
    except Conflict as conflict:
        flash(say(conflict), "error")
        return _page(meeting_id, typed=data, status=409, saved=True)
    flash(_("The meeting is marked held") if held else _("The minutes are saved"), "success")
    return redirect(url_for("meetings.show", meeting_id=meeting_id) + "#minutes")


@bp.route("/<int:meeting_id>/items/<int:item_id>/decide", methods=["POST"])
@requires("hold_meetings")
def decide(meeting_id, item_id):
    form = request.form
    decision = form.get("decision", "")
    target = form.get("assignee") if decision == "assign" else form.get("step")
    try:
        item = retrying_busy(lambda: meetings.decide(db.session, current_actor(), meeting_id, item_id, decision,
                                                     target=target, due=form.get("due"), note=form.get("note", "")))
    except REFUSALS as refused:
        flash(refusal_message(refused), "error")
        return _page(meeting_id, typed_item=(item_id, dict(form)), status=409)
    except NotAllowed as refused:
        if not isinstance(refused.args[0] if refused.args else None, Msg):
            raise
        flash(say(refused), "error")
        return _page(meeting_id, typed_item=(item_id, dict(form)), status=409)
    flash(_("The decision on %(code)s is recorded and carried out", code=item.case.code), "success")
    return redirect(url_for("meetings.show", meeting_id=meeting_id) + f"#item-{item_id}")


@bp.route("/<int:meeting_id>/cancel", methods=["POST"])
@requires("hold_meetings")
def cancel(meeting_id):
    return _then(meeting_id, lambda: meetings.cancel(db.session, current_actor(), meeting_id, _version()),
                 _("The meeting is cancelled"))


def china_day(moment):
    return as_utc(moment).astimezone(CHINA).date().isoformat()


@bp.app_template_filter("china_day")
def _china_day(moment):
    return china_day(moment) if moment else ""


@bp.app_template_filter("china_time")
def _china_time(moment):
    return f"{as_utc(moment).astimezone(CHINA):%H:%M}" if moment else ""
