"""Administrators: the organisation tree and who holds which role where."""
from flask import Blueprint, render_template
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from engine.models import OrgUnit, User
from engine.policy import LEVELS, ROLES

from .auth import requires
from .extensions import db

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.route("/")
@requires("administer")
def index():
    units = db.session.scalars(select(OrgUnit).order_by(OrgUnit.path)).all()
    users = db.session.scalars(select(User).options(joinedload(User.org_unit)).order_by(User.org_unit_id, User.username)).all()
    return render_template("admin.html", units=units, users=users, roles=ROLES, levels=LEVELS)
