"""Administrators: the organisation tree, and the logins of their unit and the units below it."""
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from engine.access import accounts
from engine.persistence.models import OrgUnit, User
from engine.access.policy import LEVELS, ROLES, grantable_roles, may_change_login, unit_covers

from .auth import current_actor, requires
from .extensions import db
from .i18n import say, unit_name

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
                           history=accounts.account_history(db.session, current_actor()))


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
    found = db.session.get(User, user_id) if user_id else None
    if user_id and (found is None or not unit_covers(current_actor().unit_path, found.org_unit.path)):
        abort(404)
    if found is not None and not may_change_login(current_actor(), found.roles, found.org_unit.level):
        abort(403)
    values = {"username": found.username if found else "", "display_name": found.display_name if found else "",
              "unit_id": found.org_unit_id if found else current_actor().unit_id,
              "roles": sorted(found.roles) if found else [], "active": found.active if found else True}
    errors, status = {}, 200
    if request.method == "POST":
        form = request.form
        values = {"username": form.get("username", "").strip() if not found else found.username,
                  "display_name": form.get("display_name", ""), "unit_id": form.get("unit_id", type=int),
                  "roles": form.getlist("roles"), "active": bool(form.get("active"))}
        try:
            saved = accounts.save_user(db.session, current_actor(), user_id, values["username"],
                                       values["display_name"], values["unit_id"], values["roles"],
                                       form.get("password", ""), values["active"])
        except accounts.UserInvalid as invalid:
            errors, status = {key: say(why) for key, why in invalid.errors.items()}, 422
        else:
            flash(_("Saved %(user)s", user=saved.username), "success")
            return redirect(url_for("admin.index"))
    roles = {code: names for code, names in ROLES.items()
             if code in grantable_roles(current_actor()) or code in values["roles"]}
    return render_template("admin/user.html", user=found, values=values, errors=errors, units=_units(),
                           roles=roles, levels=LEVELS), status
