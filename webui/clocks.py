"""Legal clocks of a step (from the case page): the handler stops and restarts it, a supervisor
extends it."""
from flask import Blueprint, request
from flask_babel import gettext as _

from engine.cases import clocks

from .acting import act_then_back, case_of_task
from .auth import current_actor, requires
from .extensions import db

bp = Blueprint("clocks", __name__)


@bp.route("/tasks/<int:task_id>/clock/stop", methods=["POST"])
@requires("work_tasks")
def stop(task_id):
    return act_then_back(case_of_task(task_id), lambda: clocks.stop_clock(
        db.session, current_actor(), task_id, request.form.get("reason", "")), _("The clock is stopped"),
        category="info")


@bp.route("/tasks/<int:task_id>/clock/restart", methods=["POST"])
@requires("work_tasks")
def restart(task_id):
    return act_then_back(case_of_task(task_id), lambda: clocks.restart_clock(
        db.session, current_actor(), task_id, request.form.get("note", "")),
        _("The clock runs again; the deadline moved by the time it stood still"), category="info")


@bp.route("/tasks/<int:task_id>/deadline/extend", methods=["POST"])
@requires("supervise")
def extend(task_id):
    return act_then_back(case_of_task(task_id), lambda: clocks.extend_deadline(
        db.session, current_actor(), task_id, request.form.get("days", 0, type=int), request.form.get("reason", ""),
        request.form.get("approver", "")), _("The deadline is extended"))
