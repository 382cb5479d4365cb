"""Administrators: the organisation tree, and the logins of their unit and the units below it."""
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from engine.access import accounts, department_kinds
from engine.persistence.models import OrgUnit, User
from engine.access.policy import (
    GRID_LEVELS, LEVELS, ROLES, grantable_roles, may_change_login, may_keep_kinds, unit_covers,
)

from .auth import current_actor, requires
from .extensions import db
from .i18n import say, unit_name
from .labels import KIND_EVENTS

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _units():
    """The actor's unit and those below it: where they may place people."""
    return db.session.scalars(select(OrgUnit).where(OrgUnit.path.startswith(current_actor().unit_path))
                              .order_by(OrgUnit.path)).all()


@bp.route("/")
@requires("administer")
def index():
    users = db.session.scalars(select(User).join(OrgUnit, OrgUnit.id == User.org_unit_id)
                               .where(OrgUnit.path.startswith(current_actor().unit_path))
                               .options(joinedload(User.org_unit)).order_by(OrgUnit.path, User.username)).all()
    return render_template("admin/users.html", units=_units(), users=users, roles=ROLES, levels=LEVELS,
                           history=accounts.account_history(db.session, current_actor()), kind_events=KIND_EVENTS)


@bp.route("/units/<int:unit_id>/population", methods=["POST"])
@requires("administer")
def population(unit_id):
    try:
        unit = accounts.set_population(db.session, current_actor(), unit_id, request.form.get("population", ""))
    except ValueError as refused:
        flash(say(refused), "error")
    else:
        flash(_("Population of %(unit)s saved", unit=unit_name(unit)), "success")
    return redirect(url_for("admin.index") + f"#unit-{unit_id}")


@bp.route("/users/new", methods=["GET", "POST"])
@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@requires("administer")
def user(user_id=None):
    found = _found_user(user_id) if user_id else None
    values = {"username": found.username if found else "", "display_name": found.display_name if found else "",
              "unit_id": found.org_unit_id if found else (request.args.get("unit_id", type=int) or current_actor().unit_id),
              "roles": sorted(found.roles) if found else [], "active": found.active if found else True,
              "grid_id": found.grid_id if found else None}
    errors, status = {}, 200
    if found is None and (chosen := db.session.get(OrgUnit, values["unit_id"])) is not None and chosen.level == "department":
        values["roles"] = ["department"]  # a stationed department's unit holds that role alone
    if request.method == "POST":
        form = request.form
        values = {"username": form.get("username", "").strip() if not found else found.username,
                  "display_name": form.get("display_name", ""), "unit_id": form.get("unit_id", type=int),
                  "roles": form.getlist("roles"), "active": bool(form.get("active")),
                  "grid_id": form.get("grid_id", type=int)}
        try:
            saved = accounts.save_user(db.session, current_actor(), user_id, values["username"],
                                       values["display_name"], values["unit_id"], values["roles"],
                                       form.get("password", ""), values["active"], values["grid_id"])
        except accounts.UserInvalid as invalid:
            errors, status = {key: say(why) for key, why in invalid.errors.items()}, 422
        else:
            flash(_("Saved %(user)s", user=saved.username), "success")
            return redirect(url_for("admin.index"))
    return _user_page(found, values, errors, status)


def _user_page(found, values, errors, status, callback=None, callback_errors=None, secret_made=None):
    roles = {code: names for code, names in ROLES.items()
             if code in grantable_roles(current_actor()) or code in values["roles"]}
    endpoint = accounts.callback_endpoint(db.session, found.id) if found else None
    if callback is None:
        callback = {"url": endpoint.url if endpoint else "", "active": endpoint.active if endpoint else True}
    return render_template("admin/user.html", user=found, values=values, errors=errors, units=_units(),
                           roles=roles, levels=LEVELS, endpoint=endpoint, callback=callback,
                           callback_errors=callback_errors or {}, secret_made=secret_made,
                           grids=accounts.grids_of(db.session, current_actor())), status


def _found_user(user_id):
    found = db.session.get(User, user_id)
    if found is None or not unit_covers(current_actor().unit_path, found.org_unit.path):
        abort(404)
    if not may_change_login(current_actor(), found.roles, found.org_unit.level):
        abort(403)
    return found


@bp.route("/users/<int:user_id>/callback", methods=["POST"])
@requires("administer")
def callback(user_id):
    """Where an outside system's login (the 12345 hotline) is told back. A secret made here is
    shown on this one answer (never flashed into the session cookie, never shown again)."""
    found = _found_user(user_id)
    values = {"username": found.username, "display_name": found.display_name, "unit_id": found.org_unit_id,
              "roles": sorted(found.roles), "active": found.active, "grid_id": found.grid_id}
    form = request.form
    typed = {"url": form.get("callback_url", "").strip(), "active": bool(form.get("callback_active"))}
    try:
        _endpoint, made = accounts.set_callback(
            db.session, current_actor(), user_id, typed["url"], form.get("callback_secret", ""),
            new_secret=bool(form.get("new_secret")), active=typed["active"],
            allow_http=current_app.config["CALLBACK_ALLOW_HTTP"])
    except accounts.UserInvalid as invalid:
        return _user_page(found, values, {}, 422, callback=typed,
                          callback_errors={key: say(why) for key, why in invalid.errors.items()})
    flash(_("Callback address of %(user)s saved", user=found.username), "success")
    if made:
        return _user_page(found, values, {}, 200, secret_made=made)
    return redirect(url_for("admin.user", user_id=user_id) + "#callback")


@bp.route("/grids", methods=["GET", "POST"])
@requires("administer")
def grids():
    """The grids of the administrator's villages and communities, who walks each, and a new one."""
    values, error, status = {"unit_id": None, "name": ""}, None, 200
    if request.method == "POST":
        values = {"unit_id": request.form.get("unit_id", type=int), "name": request.form.get("name", "")}
        try:
            grid = accounts.create_grid(db.session, current_actor(), values["unit_id"], values["name"])
        except ValueError as refused:
            error, status = say(refused), 422
        else:
            flash(_("Grid %(grid)s made", grid=grid.name), "success")
            return redirect(url_for("admin.grids") + f"#grid-{grid.id}")
    villages = [unit for unit in _units() if unit.level in GRID_LEVELS]
    return render_template("admin/grids.html", grids=accounts.grids_of(db.session, current_actor()),
                           villages=villages, values=values, error=error), status


@bp.route("/grids/<int:grid_id>", methods=["POST"])
@requires("administer")
def rename_grid(grid_id):
    try:
        grid = accounts.rename_grid(db.session, current_actor(), grid_id, request.form.get("name", ""))
    except ValueError as refused:
        flash(say(refused), "error")
    else:
        flash(_("Grid %(grid)s saved", grid=grid.name), "success")
    return redirect(url_for("admin.grids") + f"#grid-{grid_id}")


# ---- the department registry ------------------------------------------------------------------

def _departments_page(errors=None, values=None, status=200):
    actor = current_actor()
    centers = [unit for unit in _units() if unit.level in department_kinds.STATION_LEVELS]
    return render_template("admin/departments.html", kinds=list(department_kinds.read(db.session)),
                           stations=department_kinds.stations(db.session, actor), centers=centers,
                           keeps=may_keep_kinds(actor), services=department_kinds.SERVICES,
                           errors=errors or {}, values=values or {"code": "", "name": "", "name_en": "", "service": ""},
                           history=department_kinds.history(db.session, actor), kind_events=KIND_EVENTS), status


@bp.route("/departments", methods=["GET", "POST"])
@requires("administer")
def departments():
    """The kinds of resident department every unit shares, where they are stationed among the
    administrator's units; a new kind (top unit's administrator), stationing one at a center."""
    if request.method == "GET":
        return _departments_page()
    form = request.form
    values = {key: form.get(key, "").strip() for key in ("code", "name", "name_en", "service")}
    try:
        kind = department_kinds.add_kind(db.session, current_actor(), values["code"], values["name"],
                                         values["name_en"], values["service"])
    except department_kinds.KindInvalid as invalid:
        return _departments_page({key: say(why) for key, why in invalid.errors.items()}, values, 422)
    flash(_("Department kind %(kind)s added; station it at a center to make its logins", kind=kind.name), "success")
    return redirect(url_for("admin.departments") + f"#kind-{kind.id}")


@bp.route("/departments/<int:kind_id>", methods=["POST"])
@requires("administer")
def change_department(kind_id):
    form = request.form
    try:
        kind = department_kinds.change_kind(db.session, current_actor(), kind_id, form.get("name", ""),
                                            form.get("name_en", ""), form.get("service", ""))
    except department_kinds.KindInvalid as invalid:
        for why in invalid.errors.values():
            flash(say(why), "error")
    else:
        flash(_("Department kind %(kind)s saved", kind=kind.name), "success")
    return redirect(url_for("admin.departments") + f"#kind-{kind_id}")


@bp.route("/departments/<int:kind_id>/active", methods=["POST"])
@requires("administer")
def department_active(kind_id):
    active = request.form.get("active") == "1"
    try:
        kind = department_kinds.set_active(db.session, current_actor(), kind_id, active)
    except ValueError as refused:
        flash(say(refused), "error")
    else:
        flash(_("%(kind)s can be named and summoned again", kind=kind.name) if active else
              _("%(kind)s is no longer offered; its stationed departments and their logins stay", kind=kind.name),
              "success")
    return redirect(url_for("admin.departments") + f"#kind-{kind_id}")


@bp.route("/departments/<int:kind_id>/station", methods=["POST"])
@requires("administer")
def station_department(kind_id):
    try:
        unit = department_kinds.station(db.session, current_actor(), kind_id, request.form.get("center_id", type=int))
    except ValueError as refused:
        flash(say(refused), "error")
        return redirect(url_for("admin.departments") + f"#kind-{kind_id}")
    flash(_("%(unit)s stationed; now make its logins (role: resident department)", unit=unit_name(unit)), "success")
    return redirect(url_for("admin.user") + f"?unit_id={unit.id}")
