"""Moving a case up or down the four levels, and acknowledging a case that was moved here."""
from flask import Blueprint, request
from flask_babel import gettext as _

from engine.cases import transfers

from .acting import act_then_back, case_of_transfer
from .auth import current_actor, requires
from .extensions import db
from .i18n import unit_name

bp = Blueprint("moves", __name__)


@bp.route("/cases/<int:case_id>/escalate", methods=["POST"])
@requires("move_cases")
def escalate(case_id):
    # Once up, the case may be out of the sender's sight: the inbox is where they go on.
    return act_then_back(case_id, lambda: transfers.escalate(db.session, current_actor(), case_id,
                                                             request.form.get("note", "")),
                         lambda moved: _("Sent up to %(unit)s, awaiting acknowledgement",
                                         unit=unit_name(moved.to_unit)),
                         then=("work.inbox", {}))


@bp.route("/cases/<int:case_id>/assign", methods=["POST"])
@requires("move_cases")
def assign(case_id):
    return act_then_back(case_id, lambda: transfers.assign_down(db.session, current_actor(), case_id,
                                                                request.form.get("unit_id", type=int),
                                                                request.form.get("note", "")),
                         lambda moved: _("Assigned to %(unit)s, awaiting acknowledgement",
                                         unit=unit_name(moved.to_unit)))


@bp.route("/transfers/<int:transfer_id>/acknowledge", methods=["POST"])
@requires("move_cases")
def acknowledge(transfer_id):
    return act_then_back(case_of_transfer(transfer_id),
                         lambda: transfers.acknowledge(db.session, current_actor(), transfer_id),
                         _("The move is acknowledged"))
