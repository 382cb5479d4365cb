"""Grid workers (网格员) on the phone: their tasks and reports, and reporting a matter from the field."""
from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from engine.cases import attachments as files, grids, submissions
from engine.errors import FormInvalid
from engine.library import catalog
from engine.messages import N_
from engine.persistence.models import OrgUnit
from engine.persistence.uow import retrying_busy
from engine.reading import fieldwork, queries

from .acting import act_then_back
from .auth import current_actor, requires
from .extensions import db
from .i18n import say
from .labels import vocab

bp = Blueprint("grid", __name__, url_prefix="/grid")

# How a report goes (engine/persistence/states.py SubmissionState), in the reporter's words.
REPORT_STATES = {"pending": N_("Waiting to be accepted"), "accepted": N_("Accepted as a case"),
                 "joined": N_("Joined to an open case"), "declined": N_("Declined")}


@bp.route("/")
@requires("report_matter")
def home():
    """Open steps (theirs first, then the grid's pool), then what they reported and how it goes."""
    actor = current_actor()
    found = queries.inbox(db.session, actor)
    return render_template("grid/home.html", mine=found.mine, pool=found.pool, pool_total=found.pool_total, now=found.now, light=queries.task_light,
                           grid=fieldwork.grid_of(db.session, actor),
                           reports=fieldwork.my_reports(db.session, actor), report_states=REPORT_STATES,
                           report_url=url_for("grid.report"))


@bp.route("/cases/<int:case_id>/grid", methods=["POST"])
@requires("place_in_grid")
def place(case_id):
    """A clerk or supervisor says which grid the case lies in (the case page's form)."""
    chosen = request.form.get("grid_id", "")
    grid_id = int(chosen) if chosen.isascii() and chosen.isdigit() and len(chosen) < 10 else None
    return act_then_back(case_id, lambda: grids.place_in_grid(db.session, current_actor(), case_id, grid_id),
                         _("The case's grid is saved"), anchor="#grid")


# ---- reporting a matter from the field -----------------------------------------------------------

PARTY_ROWS = 3  # rows shown; empty ones are dropped by the engine


def _report_facts(form):
    return {key: form.get(key, "") for key in ("kind", "category", "summary", "place", "claims")}


def _report_parties(form):
    return [{"name": form.get(f"parties-{i}-name", ""), "phone": form.get(f"parties-{i}-phone", ""),
             "role": form.get(f"parties-{i}-role", "")} for i in range(PARTY_ROWS)]


def _held_ids(form):
    """Photos kept from an earlier try of this form (ids the page carried back)."""
    return [int(value) for value in form.getlist("attachment")[:20] if value.isascii() and value.isdigit()
            and len(value) < 10]


@bp.route("/report", methods=["GET", "POST"])
@requires("report_matter")
def report():
    """Report a matter from the field: it waits in the village's inbox for a clerk to accept it
    (engine/cases/submissions.py). A refused field or photo brings the page back with everything
    typed and the photos already kept."""
    actor = current_actor()
    unit = db.session.get(OrgUnit, actor.unit_id)
    limits = files.Limits.from_config(current_app.config)
    data, errors, held, status = {"kind": "dispute"}, {}, [], 200
    if request.method == "POST":
        uploads = [files.Upload(f.filename or "", f.read()) for f in request.files.getlist("photos") if f and f.filename]
        try:
            filed = retrying_busy(lambda: submissions.file_submission(
                db.session, unit, submissions.GRID, _report_facts(request.form), _report_parties(request.form),
                attachments=_held_ids(request.form) + uploads, reporter=actor, grid=actor.grid_id, limits=limits))
        except FormInvalid as invalid:
            data, status = dict(invalid.data, kind=request.form.get("kind"), category=request.form.get("category")), 422
            errors = {key: say(why) for key, why in invalid.errors.items()}
            held = files.pending(db.session, data.get("attachments") or [], actor.user_id)
        else:
            flash(_("Reported as %(code)s: it waits for the village to accept it", code=filed.code), "success")
            return redirect(url_for("grid.home") + "#reports")
    labels = _intake_labels()
    # The parties as typed, row by row (the engine drops empty rows; errors name the typed row).
    parties = _report_parties(request.form if request.method == "POST" else {})
    return render_template("grid/report.html", data=data, errors=errors, held=held, unit=unit, parties=parties,
                           grid=fieldwork.grid_of(db.session, actor), kinds=submissions.KINDS,
                           categories=submissions.CATEGORIES, roles=submissions.PARTY_ROLES, labels=labels,
                           rows=PARTY_ROWS, limits=limits), status


def _intake_labels():
    """The intake form's option labels (kind, category, party role), as the clerk will read them."""
    version = catalog.latest_version(db.session, "intake")
    if version is None:
        return {}
    found = dict(vocab(version))
    # The parties' role sits inside the repeatable group, where vocab() does not look.
    schema = version.forms.get("intake.json", {}).get("schema", {})
    role = schema.get("properties", {}).get("parties", {}).get("items", {}).get("properties", {}).get("role", {})
    found["role"] = role.get("x-enum-labels", {})
    return found
