"""Legal clocks of a step (from the case page): the handler stops and restarts it, a supervisor
extends it."""
from flask import Blueprint, flash, redirect, request, url_for
from flask_babel import gettext as _

from engine.cases import clocks

from .auth import current_actor, requires
from .extensions import db


bp = Blueprint("clocks", __name__)


@bp.route("/tasks/<int:task_id>/clock/stop", methods=["POST"])
@requires("work_tasks")
def stop(task_id):
    task = clocks.stop_clock(db.session, current_actor(), task_id, request.form.get("reason", ""))
    flash(_("The clock is stopped"), "info")
    return redirect(url_for("work.case", case_id=task.case_id))


@bp.route("/tasks/<int:task_id>/clock/restart", methods=["POST"])
@requires("work_tasks")
def restart(task_id):
    task = clocks.restart_clock(db.session, current_actor(), task_id, request.form.get("note", ""))
    flash(_("The clock runs again; the deadline moved by the time it stood still"), "info")
    return redirect(url_for("work.case", case_id=task.case_id))


@bp.route("/tasks/<int:task_id>/deadline/extend", methods=["POST"])
@requires("supervise")
def extend(task_id):
    task = clocks.extend_deadline(db.session, current_actor(), task_id, request.form.get("days", 0, type=int),
                                  request.form.get("reason", ""), request.form.get("approver", ""))
    flash(_("The deadline is extended"), "success")
    return redirect(url_for("work.case", case_id=task.case_id))
