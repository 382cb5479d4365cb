"""Supervisors: every open step in their unit and below, overdue first, with its time light; the
dashboard (by unit, stage and handler); the centers' indicators; and actions on steps and cases."""
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from engine.library import catalog
from engine.reading import callbacks, dashboard, queries
from engine.cases import hotline, supervision
from engine.legaltime.clock import Clock
from engine.persistence.models import OrgUnit
from engine.access.policy import LEVELS, may
from engine.messages import N_

from engine.persistence.uow import retrying_busy

from .acting import REFUSALS, act_then_back, case_of_task, refusal_message
from .auth import current_actor, requires
from .csv_export import csv_response
from .extensions import db
from .guard import date_param, int_param
from .i18n import label, unit_name
from .labels import category_name

bp = Blueprint("supervision", __name__, url_prefix="/supervision")


def _step_filter():
    args = request.args
    unit = db.session.get(OrgUnit, args.get("unit", type=int)) if args.get("unit", type=int) else None
    assignee = args.get("assignee") or None
    if assignee not in (None, "none"):
        assignee = str(int_param(assignee))  # a login's id; anything else is a 400, not a query error
    return queries.StepFilter(only=args.get("only") if args.get("only") in ("red", "amber") else None,
                              unit_path=unit.path if unit else None, stage=args.get("stage") or None,
                              assignee=assignee), unit


@bp.context_processor
def _callback_trouble():
    """The count beside the tab of failing callbacks, on every supervision page."""
    if not current_user.is_authenticated or not may(current_actor().roles, "supervise"):
        return {}  # an error page of this blueprint, for someone else
    return {"callback_trouble": callbacks.troubled_count(db.session, current_actor().unit_path)}


@bp.route("/")
@requires("supervise")
def overview():
    flt, unit = _step_filter()
    page = max(request.args.get("page", 1, type=int), 1)
    counts = queries.light_counts(db.session, current_actor())
    rows, total, units, now = queries.open_tasks(db.session, current_actor(), page=page, flt=flt, counts=counts)
    narrowed = {k: v for k, v in request.args.items() if k in ("unit", "stage", "assignee")}
    return render_template("supervision/list.html", rows=rows, total=total, units=units, now=now, counts=counts,
                           only=flt.only, page=page, pages=queries.page_count(total), light=queries.light,
                           narrowed=narrowed, unit=unit)


# ---- the dashboard and the indicators ---------------------------------------------------------

def _scope():
    return dashboard.scope_unit(db.session, current_actor(), request.args.get("unit", type=int))


def _dashboard_tables(unit):
    return dashboard.open_tables(db.session, unit, Clock.now())


@bp.route("/dashboard")
@requires("supervise")
def dashboard_page():
    unit = _scope()
    trail = [u for u in _ancestors(unit) if u.path.startswith(current_actor().unit_path)]
    return render_template("supervision/dashboard.html", unit=unit, trail=trail, flagged=dashboard.flagged_cases(db.session, unit),
                           failed=dashboard.failed_cases(db.session, unit), **_dashboard_tables(unit))


def _ancestors(unit):
    chain = []
    while unit is not None:
        chain.insert(0, unit)
        unit = unit.parent
    return chain


@bp.route("/dashboard.csv")
@requires("supervise")
def dashboard_csv():
    unit = _scope()
    table = request.args.get("table", "units")
    if table in ("flagged", "failed"):
        cases = (dashboard.flagged_cases if table == "flagged" else dashboard.failed_cases)(db.session, unit, limit=10_000)
        return csv_response(f"dashboard-{table}.csv", [_("Case"), _("Listed"), _("Why / error"),
                                                       _("Current step")],
                            [[c.code, c.flagged_at.isoformat() if c.flagged_at else "", c.flag_note if table == "flagged" else c.error,
                              c.current_step] for c in cases])
    rows = _dashboard_tables(unit).get(table)
    if rows is None:
        abort(404)
    head = {"units": _("Unit"), "stages": _("Step"), "handlers": _("Handler")}[table]
    body = [[_row_label(table, row), row.open, row.red, row.amber] for row in rows]
    return csv_response(f"dashboard-{table}.csv", [head, _("In progress"), _("Overdue"),
                                                   _("Due soon")], body)


def _row_label(table, row):
    if table == "units":
        return unit_name(row.unit)
    if table == "handlers":
        return row.label or _("unclaimed")
    return row.label


def _period():
    try:
        start, end = date_param(request.args.get("from")), date_param(request.args.get("to"))
    except ValueError:
        start = end = None
        flash(_("Dates are YYYY-MM-DD, between 1900 and 2100"), "error")
    return dashboard.period(start, end)


def _indicator_data():
    unit = _scope()
    start, end = _period()
    bucket = request.args.get("bucket") if request.args.get("bucket") in ("week", "month") else "week"
    dimension = request.args.get("by") if request.args.get("by") in ("category", "place") else "category"
    labels, series = dashboard.trend(db.session, unit, start, end, bucket, dimension)
    return dict(unit=unit, start=start, end=end, bucket=bucket, dimension=dimension,
                figures=dashboard.indicators(db.session, unit, start, end),
                stages=dashboard.stage_times(db.session, unit, start, end), labels=labels, series=series)


@bp.route("/indicators")
@requires("supervise")
def indicators():
    data = _indicator_data()
    name = _series_namer(data["dimension"])
    chart = {"labels": data["labels"], "series": [
        {"name": name(series), "counts": counts} for series, counts in data["series"].items()]}
    return render_template("supervision/indicators.html", chart=chart, summary=summary_rows(data["figures"]), levels=LEVELS, **data)


def _series_namer(dimension):
    """What names a trend's series: a category by the intake form's labels (the newest version,
    looked up once for all the series), a place as it is."""
    if dimension != "category":
        return lambda name: name
    version = catalog.latest_version(db.session, "intake")
    return lambda name: category_name(version, name)


@bp.route("/indicators.csv")
@requires("supervise")
def indicators_csv():
    data = _indicator_data()
    table = request.args.get("table", "summary")
    figures = data["figures"]
    if table == "summary":
        head = [_("Indicator"), _("Value")]
        body = [[_(label), "" if value is None else value] for label, value in summary_rows(figures)]
    elif table == "stages":
        head = [_("Step"), _("Number completed"), _("Median (days)"),
                _("90th percentile (days)"), _("Legal period")]
        body = [[r.label, r.open, round(r.extra["median"], 2), round(r.extra["p90"], 2), r.extra["legal"] or ""]
                for r in data["stages"]]
    elif table == "trend":
        head = [_("Series")] + data["labels"]
        name = _series_namer(data["dimension"])
        body = [[name(series)] + counts for series, counts in data["series"].items()]
    elif table == "levels":
        head = [_("Level"), _("Closed")]
        body = [[label(LEVELS, level), n] for level, n in figures["closed_levels"].items()]
    else:
        abort(404)
    return csv_response(f"indicators-{table}-{data['start']}-{data['end']}.csv", head, body)


def summary_rows(figures):
    """(label, value) for the summary table and its CSV; rates as fractions."""
    return [
        (N_("Matters filed"), figures["filed"]),
        (N_("Petitions"), figures["petitions"]),
        (N_("Mediation success rate"), figures["resolution_rate"]),
        (N_("Resolved at village level"), figures["village_share"]),
        (N_("Resolved within three levels"), figures["three_levels_share"]),
        (N_("Satisfaction rate"), figures["satisfaction_rate"]),
        (N_("Cases ever overdue"), figures["overdue_cases"]),
        (N_("Steps overdue now"), figures["overdue_steps"]),
        (N_("Matters that went to litigation"), figures["litigated"]),
        (N_("Residents of the area"), figures["population"]),
        (N_("Litigation per 10,000 residents"), per_10k(figures["litigation_per_10k"])),
    ]


def per_10k(value):
    """A figure per 10,000 residents, to two decimals (not a share, so not shown as a percentage)."""
    return None if value is None else f"{value:.2f}"


# ---- actions on a step or a case, from the case page; each needs a note -------------------------

@bp.route("/tasks/<int:task_id>/assign", methods=["POST"])
@requires("supervise")
def assign(task_id):
    return act_then_back(case_of_task(task_id), lambda: supervision.assign_task(
        db.session, current_actor(), task_id, request.form.get("user_id", type=int), request.form.get("note")),
        _("The step was given to the chosen handler"), anchor="#supervise")


@bp.route("/tasks/<int:task_id>/remind", methods=["POST"])
@requires("supervise")
def remind(task_id):
    return act_then_back(case_of_task(task_id), lambda: supervision.remind(
        db.session, current_actor(), task_id, request.form.get("note")), _("The reminder is sent"),
        anchor="#supervise")


@bp.route("/cases/<int:case_id>/flag", methods=["POST"])
@requires("supervise")
def flag(case_id):
    return act_then_back(case_id, lambda: supervision.flag_case(db.session, current_actor(), case_id, request.form.get("note")),
                         _("The case is listed for supervision"), anchor="#supervise")


@bp.route("/cases/<int:case_id>/unflag", methods=["POST"])
@requires("supervise")
def unflag(case_id):
    return act_then_back(case_id, lambda: supervision.unflag_case(db.session, current_actor(), case_id, request.form.get("note")),
                         _("No longer listed for supervision"), anchor="#supervise")


# ---- the hotline's callbacks that keep failing ---------------------------------------------------

@bp.route("/callbacks")
@requires("supervise")
def failing_callbacks():
    return render_template("supervision/callbacks.html",
                           rows=callbacks.troubled(db.session, current_actor().unit_path), now=Clock.now())


@bp.route("/callbacks/<int:message_id>/retry", methods=["POST"])
@requires("supervise")
def retry_callback(message_id):
    try:
        retrying_busy(lambda: hotline.retry(db.session, current_actor(), message_id))
    except REFUSALS as refused:
        flash(refusal_message(refused), "error")
    else:
        flash(_("The callback goes again with the next sweep"), "success")
    return redirect(url_for("supervision.failing_callbacks"))
