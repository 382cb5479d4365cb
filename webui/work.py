"""Clerks and mediators: file a matter, the inbox, claim, fill in a task form, the case page."""
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from engine import queries, services
from engine.forms import FormDef
from engine.models import Task

from .auth import current_actor, requires
from .extensions import db
from .i18n import pick, t

bp = Blueprint("work", __name__)

INTAKE_PROCESS = "intake"


@bp.route("/tasks")
@requires("work_tasks")
def inbox():
    mine, pool, now = queries.inbox(db.session, current_actor())
    overdue = sum(1 for task in mine + pool if queries.light(task.due_at, now) == "red")
    return render_template("inbox.html", mine=mine, pool=pool, light=queries.light, overdue=overdue)


def _error_texts(errors):
    return {key: pick(pair) for key, pair in errors.items()}


@bp.route("/matters/new", methods=["GET", "POST"])
@requires("file_matter")
def new_matter():
    version, info, form = services.intake_step(db.session, INTAKE_PROCESS)
    data, errors, status = {}, {}, 200
    if request.method == "POST":
        try:
            case = services.start_case(db.session, current_actor(), INTAKE_PROCESS, request.form)
        except services.FormInvalid as invalid:
            data, errors, status = invalid.data, _error_texts(invalid.errors), 422
        except services.StepFailed as failed:
            data, errors, status = services.formlib.data_from_post(form, request.form), {"_form": str(failed)}, 422
        else:
            flash(t(f"已登记，事项编号 {case.code}", f"Registered as {case.code}"), "success")
            return redirect(url_for("work.case", case_id=case.id))
    return render_template("form_page.html", form=form, data=data, errors=errors, title=form.title(),
                           action=url_for("work.new_matter"), case=None, task=None), status


@bp.route("/tasks/<int:task_id>", methods=["GET", "POST"])
@requires("work_tasks")
def task(task_id):
    row = db.session.get(Task, task_id)
    if row is None:
        abort(404)
    case, visible = queries.visible_case(db.session, current_actor(), row.case_id)
    if not visible or row.role not in current_actor().roles:
        abort(403)
    form = FormDef(row.form_key, case.process_version.forms[row.form_key])
    data, errors, status = {}, {}, 200
    if request.method == "POST":
        try:
            services.complete_task(db.session, current_actor(), task_id, request.form)
        except services.FormInvalid as invalid:
            data, errors, status = invalid.data, _error_texts(invalid.errors), 422
        except services.StepFailed as failed:
            data, errors, status = services.formlib.data_from_post(form, request.form), {"_form": str(failed)}, 422
        else:
            flash(t(f"「{row.title}」已提交", f"“{row.title}” submitted"), "success")
            return redirect(url_for("work.case", case_id=case.id))
    steps = queries.submitted_steps(db.session, case, current_actor())
    return render_template("form_page.html", form=form, data=data, errors=errors, title=row.title,
                           action=url_for("work.task", task_id=task_id), case=case, task=row, steps=steps,
                           light=queries.light), status


@bp.route("/tasks/<int:task_id>/claim", methods=["POST"])
@requires("work_tasks")
def claim(task_id):
    services.claim_task(db.session, current_actor(), task_id)
    flash(t("已认领", "Claimed"), "success")
    return redirect(url_for("work.task", task_id=task_id))


@bp.route("/tasks/<int:task_id>/release", methods=["POST"])
@requires("work_tasks")
def release(task_id):
    services.release_task(db.session, current_actor(), task_id)
    flash(t("已退回待领", "Released to the pool"), "info")
    return redirect(url_for("work.inbox"))


def case_filter(args):
    return queries.CaseFilter(text=args.get("q", "")[:100], status=args.get("status", ""),
                              category=args.get("category", ""), page=max(args.get("page", 1, type=int), 1))


@bp.route("/cases")
@requires("view_cases")
def cases():
    flt = case_filter(request.args)
    rows, total = queries.search_cases(db.session, current_actor(), flt)
    return render_template("case_search.html", rows=rows, total=total, flt=flt, endpoint="work.cases",
                           link="work.case", pages=max((total + queries.PAGE_SIZE - 1) // queries.PAGE_SIZE, 1))


def visible_case_or_abort(case_id):
    found, visible = queries.visible_case(db.session, current_actor(), case_id)
    if found is None:
        abort(404)
    if not visible:
        abort(403)
    return found


@bp.route("/cases/<int:case_id>/receipt")
@requires("view_cases")
def receipt(case_id):
    found = visible_case_or_abort(case_id)
    intake = next(iter(queries.submitted_steps(db.session, found, current_actor())), None)
    return render_template("receipt.html", case=found, intake=intake)


@bp.route("/cases/<int:case_id>")
@requires("view_cases")
def case(case_id):
    actor = current_actor()
    found = visible_case_or_abort(case_id)
    tasks = queries.case_tasks(db.session, case_id)
    steps = queries.submitted_steps(db.session, found, actor)
    return render_template("case.html", case=found, tasks=tasks, steps=steps, light=queries.light)
