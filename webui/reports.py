"""The unit's periodic report (日报、周报、月报) for supervisors and auditors: one page laid out to
print on A4 (the browser prints it to PDF), and the whole report as one CSV for Excel."""
from flask import Blueprint, render_template, request
from flask_babel import gettext as _
from markupsafe import Markup

from engine.access.policy import LEVELS, may
from engine.library import catalog
from engine.legaltime.clock import CHINA, Clock
from engine.reading import dashboard, period_report, queries

from .auth import current_actor, requires
from .csv_export import csv_response
from .extensions import db
from .guard import BadInput, int_param
from .i18n import label, say, unit_name
from .labels import category_name
from .supervision import per_10k

bp = Blueprint("reports", __name__, url_prefix="/reports")


def _report(limit):
    """The report the query string asks for: unit (one's own or below), kind, period (default:
    the last complete one). A kind or period that names nothing is a 400 saying what to write."""
    actor = current_actor()
    unit_id = int_param(request.args["unit"]) if request.args.get("unit") else None
    unit = dashboard.scope_unit(db.session, actor, unit_id)
    try:
        period = period_report.parse(request.args.get("kind") or "week", request.args.get("period"))
    except period_report.BadPeriod as bad:
        raise BadInput(bad.message) from None
    return period_report.build(db.session, unit, period, limit=limit)


def _categories():
    """code -> the category's name in the reader's language, each looked up once (a download
    names thousands of rows' categories)."""
    version = catalog.latest_version(db.session, "intake")
    names = {}

    def name_of(code):
        if code not in names:
            names[code] = category_name(version, code)
        return names[code]
    return name_of


@bp.route("/")
@requires("view_reports")
def report():
    found = _report(period_report.LIST_LIMIT)
    name_of = _categories()
    chart = {"labels": found.trend_labels,
             "series": [{"name": name_of(name), "counts": counts} for name, counts in found.trend.items()]}
    unit = found.unit
    following = found.period.following()
    return render_template("reports/report.html", r=found, chart=chart, category=name_of, levels=LEVELS,
                           units=_choosable_units(), kinds=period_report.KINDS, fmt=_formatted, change=_change,
                           full_list=period_report.FULL_LIST,
                           next_period=following if following.start <= period_report.today_in_china() else None,
                           # an auditor reads a case as its trace, everyone else on its page
                           case_endpoint="audit.history" if may(current_actor().roles, "audit") else "work.case",
                           page_header=css_string(f"{unit_name(unit)} · {_(period_report.KINDS[found.period.kind])} · "
                                                  f"{_period_text(found.period)}"),
                           made_at=Clock.now())


def _choosable_units():
    own = dashboard.scope_unit(db.session, current_actor())
    return [own] + list(queries.units_below(db.session, own))


def _period_text(period):
    if period.kind == "day":
        return period.start.isoformat()
    return f"{period.start.isoformat()} – {period.end.isoformat()}"


def _formatted(figure, value):
    """A figure as the report prints it: a share as a percentage, per 10,000 to two decimals."""
    if value is None:
        return "—"
    if figure.kind == "share":
        return _share(value)
    if figure.kind == "per_10k":
        return per_10k(value)
    return str(value)


def _china(moment):
    """A moment in China time for a spreadsheet cell (the lists run to thousands of rows: plain
    formatting, not the page's localised one)."""
    return "" if moment is None else moment.astimezone(CHINA).isoformat(" ", "minutes")[:16]


def _share(value):
    return "" if value is None else f"{value * 100:.1f}%"


def _change(figure):
    change = figure.change
    if change is None:
        return ""
    if figure.kind == "share":
        return _("%(n)s pt", n=f"{change * 100:+.1f}")
    if figure.kind == "per_10k":
        return f"{change:+.2f}"
    return f"{change:+d}"


def _change_number(figure):
    """The change as a plain number for a spreadsheet (a leading "+" would read as a formula):
    shares in percentage points."""
    change = figure.change
    if change is None:
        return ""
    if figure.kind == "share":
        return round(change * 100, 1)
    return round(change, 2) if figure.kind == "per_10k" else change


def css_string(text):
    """`text` as a CSS string literal for the printed page's running header: every character that
    is not a letter, a digit or a space is written as a CSS escape, so nothing in a unit's name
    can end the string or the style element."""
    # The space after each escape ends it (CSS takes one whitespace after a hex escape as its end).
    escaped = "".join(ch if ch.isalnum() or ch == " " else f"\\{ord(ch):06x} " for ch in text)
    return Markup(f'"{escaped}"')


@bp.route("/report.csv")
@requires("view_reports")
def report_csv():
    """The whole report as one CSV (UTF-8 with a byte-order mark for Excel): a head naming the
    unit and the period, then each table after a blank line; the lists up to FULL_LIST rows."""
    found = _report(period_report.FULL_LIST)
    name_of, unclaimed, yes = _categories(), _("unclaimed"), _("yes")
    unit_names = {}

    def unit_of(unit):
        if unit.id not in unit_names:
            unit_names[unit.id] = unit_name(unit)
        return unit_names[unit.id]
    period = found.period
    rows = [[unit_name(found.unit), _(period_report.KINDS[period.kind]), period.code, period.start.isoformat(),
             period.end.isoformat()],
            [_("Lists as at"), f"{period.end.isoformat()} 24:00" if found.complete else _china(found.as_of)], [],
            [_("Indicator"), _("This period"), _("Previous period"), _("Change (shares in percentage points)")]]
    rows += [[say(f.label), _formatted(f, f.value), _formatted(f, f.before), _change_number(f)] for f in found.rows]
    rows += [[], [_("Matters filed by day or week")] + found.trend_labels]
    rows += [[name_of(name)] + counts for name, counts in found.trend.items()]
    rows += [[], [_("Category"), _("This period"), _("Previous period")]]
    rows += [[name_of(code), n, before] for code, n, before in found.categories]
    rows += [[], [_("Level"), _("Closed"), _("Share")]]
    rows += [[label(LEVELS, level), n, _share(share)] for level, n, share in found.levels]
    rows += [[], [_("Steps overdue at the period's end"), found.overdue_total],
             [_("Case"), _("Category"), _("Step"), _("Unit"), _("Handler"), _("Due"), _("Days overdue"),
              _("Done since")]]
    rows += [[s.code, name_of(s.category), s.step, unit_of(s.unit), s.handler or unclaimed, _china(s.due_at),
              f"{s.days_over:.1f}", _china(s.done_at)] for s in found.overdue]
    rows += [[], [_("Red-risk cases open at the period's end"), found.red_total],
             [_("Case"), _("Category"), _("Unit"), _("Filed"), _("Current step"), _("Closed since"),
              _("Listed for supervision")]]
    rows += [[c.code, name_of(c.category), unit_of(c.unit), _china(c.filed_at), c.current_step, _china(c.closed_at),
              yes if c.flagged else ""] for c in found.red]
    rows += [[], [_("Mediators"), len(found.mediators)],
             [_("Mediator"), _("Unit"), _("Grade"), _("Matters handled"), _("Agreements"), _("Success rate"),
              _("Within the legal period"), _("With a legal period"), _("Median days"), _("Median legal period (days)"),
              _("Satisfaction"), _("Rated")]]
    rows += [[m.name, m.unit_name, m.grade or "", m.handled, m.succeeded, _share(m.success_rate), m.within_period, m.timed,
              m.median_days, m.median_period_days, _share(m.satisfaction_rate), m.rated] for m in found.mediators]
    head, body = rows[0], rows[1:]
    return csv_response(f"report-{found.unit.code}-{period.code}.csv", head, body)
