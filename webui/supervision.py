"""Supervisors: every open step in their unit and below, overdue first, with its time light."""
from flask import Blueprint, render_template, request

from engine import queries

from .auth import current_actor, requires
from .extensions import db

bp = Blueprint("supervision", __name__, url_prefix="/supervision")


@bp.route("/")
@requires("supervise")
def overview():
    only = request.args.get("only") if request.args.get("only") in ("red", "amber") else None
    page = max(request.args.get("page", 1, type=int), 1)
    rows, total, units, now = queries.open_tasks(db.session, current_actor(), page=page, only=only)
    counts = queries.light_counts(db.session, current_actor())
    return render_template("supervision.html", rows=rows, total=total, units=units, now=now, counts=counts,
                           only=only, page=page, pages=queries.page_count(total),
                           light=queries.light)
