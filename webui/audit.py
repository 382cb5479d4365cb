"""Auditors: read-only case search and the full trace of a case: its history, and its own
version of the diagrams with the path it took and where it stands."""
import json

from flask import Blueprint, Response, abort, render_template, request
from flask_babel import gettext as _

from sqlalchemy import select

from engine.access import department_kinds
from engine.library import catalog
from engine.reading import queries, trace
from engine.persistence.models import OrgUnit
from engine.legaltime.clock import Clock, as_utc

from . import trace_view
from .auth import current_actor, requires
from .csv_export import xml_attachment
from .extensions import db
from .i18n import unit_name
from .work import render_case_search, visible_case_or_abort

bp = Blueprint("audit", __name__, url_prefix="/audit")


@bp.route("/cases")
@requires("audit")
def search():
    return render_case_search("audit.search", "audit.history")


@bp.route("/cases/<int:case_id>")
@requires("audit")
def history(case_id):
    actor = current_actor()
    case = visible_case_or_abort(case_id)
    events = queries.case_events(db.session, case_id)
    version = catalog.version_info(db.session, case.process_version_id)
    path = trace.path_of(version.meta, version.process_key, events)
    shown = request.args.get("file") if request.args.get("file") in path.files else path.shown
    names = {p["file"]: p["name"] for p in version.meta.get("processes", {}).values()}
    view = trace_view.view_of(request.args)
    return render_template("audit/case.html", case=case, path=path, shown=shown, view=view,
                           rows=trace_view.rows(db.session, case, events, actor, _units(events), view),
                           counts=_counts(events), diagram_names=names,
                           step_times=json.dumps(_step_times(path), ensure_ascii=False))


def _units(events):
    """{unit id: name in the reader's language} of the units people acted from."""
    found = db.session.scalars(select(OrgUnit).where(OrgUnit.id.in_({e.org_unit_id for e in events if e.org_unit_id})))
    return {unit.id: unit_name(unit) for unit in found}


def _counts(events):
    """How many events each view shows, for its tab."""
    return {"people": sum(1 for e in events if e.kind != "engine"), "all": len(events)}


def _step_times(path):
    """{element: "started … · done … · by …"} for the diagram's click-for-times box."""
    def at(value):
        return trace_view.china_time(value) or "—"
    found = {}
    for element, times in path.times.items():
        text = _("started %(start)s · done %(done)s", start=at(times.get("start")), done=at(times.get("done")))
        if times.get("by"):
            text += f" · {times['by']}"
        found[element] = text
    return found


def _trace_events(case_id, actor, case):
    """The case's events as plain data, submitted data masked as on the page."""
    found, kinds = [], department_kinds.read(db.session)
    version = catalog.version_info(db.session, case.process_version_id)
    for event in queries.case_events(db.session, case_id):
        detail = dict(event.detail or {})
        if event.kind in queries.DATA_EVENTS:
            detail["data"] = queries.event_data(version, event, actor, kinds, db.session)[1]
        found.append({"seq": event.seq, "at": as_utc(event.at).isoformat(), "actor": event.actor_name,
                      "actor_id": event.actor_id, "unit_id": event.org_unit_id, "kind": event.kind,
                      "element": event.task_spec, "step": event.task_title, "detail": detail,
                      "version": event.process_version_id, "prev_hash": event.prev_hash, "hash": event.hash})
    return found


@bp.route("/cases/<int:case_id>/trace.json")
@requires("audit")
def trace_json(case_id):
    """One case's whole trace to take away: the events with their hashes (ID numbers and phones
    masked), so the chain can be checked outside the system too."""
    case = visible_case_or_abort(case_id)
    body = {"case": {"code": case.code, "unit": case.org_unit.name, "status": case.status,
                     "process": case.process_version.process_key, "version": case.process_version_id,
                     "content_hash": case.process_version.content_hash, "filed": as_utc(case.created_at).isoformat(),
                     "chain_head": case.audit_head},
            "events": _trace_events(case_id, current_actor(), case)}
    return Response(json.dumps(body, ensure_ascii=False, indent=1, default=str), mimetype="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{case.code}-trace.json"'})


@bp.route("/cases/<int:case_id>/print")
@requires("audit")
def trace_print(case_id):
    """The trace as a page to print or save as PDF from the browser, in the view chosen on screen."""
    case = visible_case_or_abort(case_id)
    events = queries.case_events(db.session, case_id)
    view = trace_view.view_of(request.args)
    return render_template("audit/print.html", case=case, view=view, counts=_counts(events),
                           rows=trace_view.rows(db.session, case, events, current_actor(), _units(events), view),
                           now=Clock.now())


@bp.route("/cases/<int:case_id>/files/<path:name>")
@requires("audit")
def case_file(case_id, name):
    """A diagram of the case's own version (never a newer one)."""
    case = visible_case_or_abort(case_id)
    if name not in case.process_version.files:
        abort(404)
    return xml_attachment(case.process_version.files[name], name)
