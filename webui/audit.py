"""Auditors: read-only case search and the full trace of a case: its history, and its own
version of the diagrams with the path it took and where it stands."""
import json

from flask import Blueprint, Response, abort, render_template, request

from engine import queries, trace
from engine.clock import CHINA, as_utc

from .auth import current_actor, requires
from .extensions import db
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
    masked = {}
    for event in events:
        if event.kind in queries.DATA_EVENTS:
            form_key = case.process_version.meta["tasks"].get(event.task_spec, {}).get("form")
            masked[event.id] = queries.mask_data(case.process_version.forms.get(form_key), event.detail.get("data", {}), actor)
    version = case.process_version
    path = trace.path_of(version.meta, version.process_key, events)
    shown = request.args.get("file") if request.args.get("file") in path.files else path.shown
    names = {p["file"]: p["name"] for p in version.meta.get("processes", {}).values()}
    return render_template("audit_case.html", case=case, events=events, masked=masked, path=path, shown=shown,
                           diagram_names=names, step_times=json.dumps(_step_times(path), ensure_ascii=False),
                           tasks=queries.case_tasks(db.session, case_id))


def _step_times(path):
    """{element: "started … · done … · by …"} for the diagram's click-for-times box."""
    def at(value):
        return as_utc(value).astimezone(CHINA).strftime("%Y-%m-%d %H:%M") if value else "—"
    found = {}
    for element, times in path.times.items():
        text = f"开始 / started {at(times.get('start'))} · 完成 / done {at(times.get('done'))}"
        if times.get("by"):
            text += f" · {times['by']}"
        found[element] = text
    return found


@bp.route("/cases/<int:case_id>/files/<path:name>")
@requires("audit")
def case_file(case_id, name):
    """A diagram of the case's own version (never a newer one)."""
    case = visible_case_or_abort(case_id)
    if name not in case.process_version.files:
        abort(404)
    # An attachment, never rendered as a page: an uploaded file could carry XHTML markup.
    return Response(case.process_version.files[name], mimetype="application/xml",
                    headers={"Content-Disposition": f'attachment; filename="{name.rsplit("/", 1)[-1]}"'})
