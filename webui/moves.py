"""Moving a case up or down the four levels, and acknowledging a case that was moved here."""
from flask import Blueprint, flash, redirect, request, url_for

from engine.cases import transfers

from .auth import current_actor, requires
from .extensions import db
from .i18n import t

bp = Blueprint("moves", __name__)


@bp.route("/cases/<int:case_id>/escalate", methods=["POST"])
@requires("move_cases")
def escalate(case_id):
    moved = transfers.escalate(db.session, current_actor(), case_id, request.form.get("note", ""))
    flash(t(f"已上报至{moved.to_unit.name}，待其签收", f"Sent up to {moved.to_unit.name}, awaiting acknowledgement"),
          "success")
    return redirect(url_for("work.inbox"))


@bp.route("/cases/<int:case_id>/assign", methods=["POST"])
@requires("move_cases")
def assign(case_id):
    moved = transfers.assign_down(db.session, current_actor(), case_id, request.form.get("unit_id", type=int),
                                  request.form.get("note", ""))
    flash(t(f"已指派至{moved.to_unit.name}，待其签收", f"Assigned to {moved.to_unit.name}, awaiting acknowledgement"),
          "success")
    return redirect(url_for("work.case", case_id=case_id))


@bp.route("/transfers/<int:transfer_id>/acknowledge", methods=["POST"])
@requires("move_cases")
def acknowledge(transfer_id):
    moved = transfers.acknowledge(db.session, current_actor(), transfer_id)
    flash(t("已签收", "Acknowledged"), "success")
    return redirect(url_for("work.case", case_id=moved.case_id))
