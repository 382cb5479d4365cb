"""The registry of mediators and experts: the list (clerks, supervisors, administrators, auditors
of the unit and above), adding and changing a person, grading a mediator each year, deactivating
(supervisors and administrators), one person's page with their figures, gradings, history and the
steps in their hands; and giving a mediator's step to a registered mediator from the case page."""
from datetime import date, timedelta

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from engine.access import rulebook
from engine.access.policy import LEVELS, allowed
from engine.cases import registry as keeping
from engine.errors import Conflict, FormInvalid, NotFound
from engine.legaltime.clock import Clock, china_date
from engine.persistence.models import OrgUnit
from engine.persistence.uow import retrying_busy
from engine.reading import registry, resolver_figures

from .acting import act_then_back, case_of_task
from .auth import current_actor, requires
from .extensions import db
from .guard import date_param
from .i18n import say

bp = Blueprint("registry", __name__, url_prefix="/registry")


def _units():
    return db.session.scalars(db.select(OrgUnit).where(OrgUnit.path.startswith(current_actor().unit_path),
                                                       OrgUnit.level != "department")
                              .order_by(OrgUnit.path)).all()


def _all_units():
    """Where a person may be registered: the actor's units, resident departments too (a judge of
    the court stationed at the center)."""
    return db.session.scalars(db.select(OrgUnit).where(OrgUnit.path.startswith(current_actor().unit_path))
                              .order_by(OrgUnit.path)).all()


def _vocab():
    return dict(kinds=registry.KINDS, employment=registry.EMPLOYMENT, grades=registry.GRADES,
                categories=registry.categories(db.session), levels=LEVELS, events=registry.EVENTS,
                may_keep=rulebook.may_keep_registry(current_actor()), phone_for=lambda p: registry.phone_for(
                    current_actor(), p))


@bp.route("/")
@requires("view_registry")
def index():
    args = request.args
    flt = registry.RegistryFilter(kind=args.get("kind", "")[:20], unit_id=args.get("unit", type=int),
                                  specialty=args.get("specialty", "")[:30], grade=args.get("grade", "")[:20],
                                  state=args.get("state") if args.get("state") in ("active", "inactive", "all")
                                  else "active", text=args.get("q", "")[:50])
    try:
        rows = registry.people(db.session, current_actor(), flt)
    except NotFound:
        abort(404)
    load = registry.loads(db.session, [r.user_id for r, _unit in rows])
    return render_template("registry/list.html", rows=rows, flt=flt, units=_units(), load=load, **_vocab())


def _found(resolver_id):
    try:
        return registry.person(db.session, current_actor(), resolver_id)
    except NotFound:
        abort(404)


def _values_of(resolver):
    return {"unit_id": resolver.org_unit_id, "name": resolver.name, "kind": resolver.kind,
            "employment": resolver.employment, "committee": resolver.committee, "team": resolver.team,
            "specialties": list(resolver.specialties or []), "certificate": resolver.certificate,
            "phone": resolver.phone or "", "note": resolver.note, "user_id": resolver.user_id}


@bp.route("/new", methods=["GET", "POST"])
@bp.route("/<int:resolver_id>/edit", methods=["GET", "POST"])
@requires("keep_registry")
def edit(resolver_id=None):
    resolver = _found(resolver_id)[0] if resolver_id else None
    values = _values_of(resolver) if resolver else {
        "unit_id": current_actor().unit_id, "kind": request.args.get("kind") or "mediator", "specialties": [],
        "employment": "full_time"}
    errors, status = {}, 200
    if request.method == "POST":
        values = keeping.typed(request.form)
        try:
            saved = retrying_busy(lambda: keeping.save_person(db.session, current_actor(), resolver_id, values))
        except FormInvalid as invalid:
            errors, status = {key: say(why) for key, why in invalid.errors.items()}, 422
        else:
            flash(_("Saved %(name)s", name=saved.name), "success")
            return redirect(url_for("registry.person", resolver_id=saved.id))
    unit = db.session.get(OrgUnit, values.get("unit_id")) if isinstance(values.get("unit_id"), int) else None
    logins = registry.logins_to_link(db.session, current_actor(), (unit or _found_unit()).path)
    return render_template("registry/edit.html", resolver=resolver, values=values, errors=errors, units=_all_units(),
                           logins=logins, **_vocab()), status


def _found_unit():
    return db.session.get(OrgUnit, current_actor().unit_id)


def _period():
    """The figures' period: from/to as dates in China (to included); this year so far by default."""
    today = china_date(Clock.now())
    try:
        start = date_param(request.args.get("from")) or date(today.year, 1, 1)
        end = date_param(request.args.get("to")) or today
    except ValueError:
        flash(_("Dates are YYYY-MM-DD, between 1900 and 2100"), "error")
        start, end = date(today.year, 1, 1), today
    return (end, start) if start > end else (start, end)


@bp.route("/<int:resolver_id>")
@requires("view_registry")
def person(resolver_id, grade_values=None, grade_errors=None, status=200):
    resolver, unit = _found(resolver_id)
    start, end = _period()
    figures = None
    if resolver.kind == registry.MEDIATOR:
        found = resolver_figures.mediator_figures(db.session, unit, start, end + timedelta(days=1),
                                                  resolver_id=resolver.id)
        figures = found[0] if found else None
    return render_template(
        "registry/person.html", resolver=resolver, unit=unit, figures=figures, start=start, end=end,
        gradings=registry.gradings(db.session, resolver.id), history=registry.history(db.session, resolver.id),
        in_hand=registry.in_hand(db.session, resolver.user_id), login=resolver.user,
        case_page="audit.history" if allowed(current_actor(), "audit") else "work.case",
        grade_values=grade_values or {"year": str(keeping.last_year()), "grade": resolver.grade or "", "basis": ""},
        grade_errors=grade_errors or {}, **_vocab()), status


@bp.route("/<int:resolver_id>/grade", methods=["POST"])
@requires("keep_registry")
def grade(resolver_id):
    form = request.form
    try:
        retrying_busy(lambda: keeping.record_grade(db.session, current_actor(), resolver_id, form.get("year"),
                                                   form.get("grade"), form.get("basis")))
    except FormInvalid as invalid:
        return person(resolver_id, grade_values=invalid.data,
                      grade_errors={key: say(why) for key, why in invalid.errors.items()}, status=422)
    except Conflict as refused:
        flash(say(refused), "error")
    else:
        flash(_("The grade for %(year)s is recorded", year=form.get("year")), "success")
    return redirect(url_for("registry.person", resolver_id=resolver_id) + "#gradings")


@bp.route("/<int:resolver_id>/active", methods=["POST"])
@requires("keep_registry")
def active(resolver_id):
    want = request.form.get("active") == "1"
    try:
        retrying_busy(lambda: keeping.set_active(db.session, current_actor(), resolver_id, want,
                                                 request.form.get("note", "")))
    except Conflict as refused:
        flash(say(refused), "error")
    else:
        flash(_("Active again") if want else _("Deactivated: no longer offered for steps or summons"), "success")
    return redirect(url_for("registry.person", resolver_id=resolver_id))


@bp.route("/tasks/<int:task_id>/assign", methods=["POST"])
@requires("view_cases")
def assign(task_id):
    """指派调解员: a mediator's step to a registered mediator, from the case page."""
    return act_then_back(case_of_task(task_id), lambda: keeping.assign_mediator(
        db.session, current_actor(), task_id, request.form.get("resolver_id", type=int), request.form.get("note")),
        lambda resolver: _("The step was given to %(name)s", name=resolver.name), anchor="#assign-mediator")
