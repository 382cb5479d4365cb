"""Supervisors: every open step in their unit and below, overdue first, with its time light."""
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from engine import queries, supervision
from engine.models import Task
from engine.uow import Conflict

from .auth import current_actor, requires
from .extensions import db
from .i18n import t

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


# ---- actions on a step or a case, from the case page; each needs a note -------------------------

def _back_to_case(case_id, done, message):
    """Run a supervisor's action; a refusal (no note, a finished step) comes back as a message on
    the case page instead of an error page, so nothing the supervisor was looking at is lost."""
    try:
        done()
    except Conflict as refused:
        flash(str(refused), "error")
    else:
        flash(message, "success")
    return redirect(url_for("work.case", case_id=case_id) + "#supervise")


def _case_of_task(task_id):
    task = db.session.get(Task, task_id)
    if task is None:
        abort(404)
    return task.case_id


@bp.route("/tasks/<int:task_id>/assign", methods=["POST"])
@requires("supervise")
def assign(task_id):
    case_id = _case_of_task(task_id)
    return _back_to_case(case_id, lambda: supervision.assign_task(
        db.session, current_actor(), task_id, request.form.get("user_id", type=int), request.form.get("note")),
        t("已交由所选人员承办", "The step was given to the chosen handler"))


@bp.route("/tasks/<int:task_id>/remind", methods=["POST"])
@requires("supervise")
def remind(task_id):
    case_id = _case_of_task(task_id)
    return _back_to_case(case_id, lambda: supervision.remind(db.session, current_actor(), task_id, request.form.get("note")),
                         t("已发送督办提醒", "Reminder sent"))


@bp.route("/cases/<int:case_id>/flag", methods=["POST"])
@requires("supervise")
def flag(case_id):
    return _back_to_case(case_id, lambda: supervision.flag_case(db.session, current_actor(), case_id, request.form.get("note")),
                         t("已挂牌督办", "Listed for supervision"))


@bp.route("/cases/<int:case_id>/unflag", methods=["POST"])
@requires("supervise")
def unflag(case_id):
    return _back_to_case(case_id, lambda: supervision.unflag_case(db.session, current_actor(), case_id, request.form.get("note")),
                         t("已撤销挂牌督办", "No longer listed for supervision"))
