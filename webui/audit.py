"""Auditors: read-only case search and the full history of a case."""
from flask import Blueprint, abort, render_template, request

from engine import queries

from .auth import current_actor, requires
from .extensions import db
from .work import case_filter, visible_case_or_abort

bp = Blueprint("audit", __name__, url_prefix="/audit")


@bp.route("/cases")
@requires("audit")
def search():
    flt = case_filter(request.args)
    rows, total = queries.search_cases(db.session, current_actor(), flt)
    return render_template("case_search.html", rows=rows, total=total, flt=flt, endpoint="audit.search",
                           link="audit.history", pages=max((total + queries.PAGE_SIZE - 1) // queries.PAGE_SIZE, 1))


@bp.route("/cases/<int:case_id>")
@requires("audit")
def history(case_id):
    actor = current_actor()
    case = visible_case_or_abort(case_id)
    events = queries.case_events(db.session, case_id)
    masked = {}
    for event in events:
        if event.kind == "task_completed":
            form_key = case.process_version.meta["tasks"].get(event.task_spec, {}).get("form")
            masked[event.id] = queries.mask_data(case.process_version.forms.get(form_key), event.detail.get("data", {}), actor)
    return render_template("audit_case.html", case=case, events=events, masked=masked,
                           tasks=queries.case_tasks(db.session, case_id))
