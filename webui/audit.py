"""Auditors: read-only case search and the full history of a case."""
from flask import Blueprint, render_template

from engine import queries

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
    return render_template("audit_case.html", case=case, events=events, masked=masked,
                           tasks=queries.case_tasks(db.session, case_id))
