"""Moving a case up or down the four levels, and acknowledging a case that was moved here."""
from flask import Blueprint, flash, redirect, request, url_for
from flask_babel import gettext as _

from engine.cases import transfers

from .auth import current_actor, requires
from .extensions import db
from .i18n import unit_name

bp = Blueprint("moves", __name__)


@bp.route("/cases/<int:case_id>/escalate", methods=["POST"])
@requires("move_cases")
def escalate(case_id):
    moved = transfers.escalate(db.session, current_actor(), case_id, request.form.get("note", ""))
    flash(_("Sent up to %(unit)s, awaiting acknowledgement", unit=unit_name(moved.to_unit)), "success")
    return redirect(url_for("work.inbox"))


@bp.route("/cases/<int:case_id>/assign", methods=["POST"])
@requires("move_cases")
def assign(case_id):
    moved = transfers.assign_down(db.session, current_actor(), case_id, request.form.get("unit_id", type=int),
                                  request.form.get("note", ""))
    flash(_("Assigned to %(unit)s, awaiting acknowledgement", unit=unit_name(moved.to_unit)), "success")
    return redirect(url_for("work.case", case_id=case_id))


@bp.route("/transfers/<int:transfer_id>/acknowledge", methods=["POST"])
@requires("move_cases")
def acknowledge(transfer_id):
    moved = transfers.acknowledge(db.session, current_actor(), transfer_id)
    flash(_("The move is acknowledged"), "success")
    return redirect(url_for("work.case", case_id=moved.case_id))
