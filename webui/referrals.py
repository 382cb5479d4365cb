"""A receiving department's referrals (legal aid, counselling): the parties other steps referred
to it, to take on or turn down (with a reason) and then to record what was done."""
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from engine.access import rulebook
from engine.access.department_kinds import SERVICES
from engine.cases import referrals
from engine.persistence.uow import retrying_busy
from engine.reading import referrals as reads

from .acting import REFUSALS
from .auth import current_actor, requires
from .extensions import db
from .i18n import say
from .labels import REFERRAL_STATE

bp = Blueprint("referrals", __name__, url_prefix="/referrals")


@bp.route("")
@requires("handle_referrals")
def index():
    actor = current_actor()
    rows = reads.for_receiver(db.session, actor)
    allowed = {row.referral.id: rulebook.permitted_on_referral(actor, rulebook.ReferralFacts(
        id=row.referral.id, state=row.referral.state, to_unit_path=actor.unit_path)) for row in rows}
    return render_template("referrals/index.html", rows=rows, allowed=allowed, services=SERVICES,
                           states=REFERRAL_STATE, waiting=sum(1 for row in rows if row.referral.state in reads.OPEN))


def _answer(referral_id, action, done):
    try:
        retrying_busy(action)
    except referrals.ReferralInvalid as invalid:
        for why in invalid.errors.values():
            flash(say(why), "error")
    except REFUSALS as refused:
        flash(say(refused), "error")
    else:
        flash(done, "success")
    return redirect(url_for("referrals.index") + f"#referral-{referral_id}")


@bp.route("/<int:referral_id>/accept", methods=["POST"])
@requires("handle_referrals")
def accept(referral_id):
    return _answer(referral_id, lambda: referrals.accept(db.session, current_actor(), referral_id,
                                                         request.form.get("note", "")), _("Referral taken on"))


@bp.route("/<int:referral_id>/decline", methods=["POST"])
@requires("handle_referrals")
def decline(referral_id):
    return _answer(referral_id, lambda: referrals.decline(db.session, current_actor(), referral_id,
                                                          request.form.get("reason", "")), _("Referral turned down"))


@bp.route("/<int:referral_id>/complete", methods=["POST"])
@requires("handle_referrals")
def complete(referral_id):
    return _answer(referral_id, lambda: referrals.complete(db.session, current_actor(), referral_id,
                                                           request.form.get("outcome", "")), _("Outcome recorded"))


def waiting_count():
    """Referrals waiting for the logged-in department (the navigation's badge)."""
    return reads.open_count(db.session, current_actor())
