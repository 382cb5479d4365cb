"""Residents, without a login: follow a matter by its reference (a case code, or the reference of
a matter reported by QR code) and a phone number, and rate the outcome once the case is closed.
Shows milestones, never names or personal data."""
from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from engine.cases import rating
from engine.errors import Conflict, FormInvalid, NotFound
from engine.persistence.uow import retrying_busy
from engine.reading import follow as following

from .extensions import db
from .i18n import say
from .throttle import Throttle

bp = Blueprint("public", __name__)


# Twenty look-ups per client per ten minutes: plenty for a resident, useless for guessing.
LOOKUPS = Throttle(attempts=20, seconds=600)
# The session remembers what the resident proved (the reference and a digest of reference and
# phone, never the number), so the rating form needs no second look-up.
FOLLOWED = "followed"


def _found(code, proof):
    return following.found(db.session, code, proof)


def _page(code, case, submission, status=200, tried=False, throttled=False, errors=None, typed=None):
    progress = following.progress(db.session, case) if case is not None else None
    return render_template("public/follow.html", case=case, submission=submission, progress=progress,
                           tried=tried, throttled=throttled, code=code, errors=errors or {}, typed=typed or {},
                           ratings=rating.RATINGS, words_limit=rating.WORDS), status


@bp.route("/follow", methods=["GET", "POST"])
def follow():
    if request.method == "GET":
        remembered = session.get(FOLLOWED) or {}
        case, submission = _found(remembered.get("code"), remembered.get("proof")) if remembered else (None, None)
        return _page(remembered.get("code", ""), case, submission)
    code = request.form.get("code", "").strip()[:40]
    if not LOOKUPS.allow(request.remote_addr or "?"):
        return _page(code, None, None, status=429, throttled=True)
    proof = following.proof_of(code, request.form.get("phone", "")[:20])
    case, submission = _found(code, proof)
    if case is None and submission is None:
        session.pop(FOLLOWED, None)
        return _page(code, None, None, status=404, tried=True)
    session[FOLLOWED] = {"code": code.upper(), "proof": proof}
    return _page(code, case, submission)


@bp.route("/follow/rate", methods=["POST"])
def rate():
    """The resident's rating of a closed case: completes its return visit (online)."""
    remembered = session.get(FOLLOWED) or {}
    if not LOOKUPS.allow(request.remote_addr or "?"):
        return _page(remembered.get("code", ""), None, None, status=429, throttled=True)
    case, submission = _found(remembered.get("code"), remembered.get("proof")) if remembered else (None, None)
    if case is None:
        flash(_("Look the case up again with its code and your phone number"), "error")
        return redirect(url_for("public.follow"))
    satisfaction = request.form.get("satisfaction", "")[:40]
    words = request.form.get("feedback", "")
    try:
        retrying_busy(lambda: rating.rate_online(db.session, remembered["code"], remembered["proof"], satisfaction,
                                                 words))
    except FormInvalid as invalid:
        errors = {key: say(why) for key, why in invalid.errors.items()}
        return _page(remembered["code"], case, submission, status=422, errors=errors,
                     typed={"satisfaction": satisfaction, "feedback": words})
    except (Conflict, NotFound) as refused:
        flash(say(refused) if isinstance(refused, Conflict) else _("Look the case up again with its code and your "
                                                                  "phone number"), "error")
        return redirect(url_for("public.follow"))
    flash(_("Thank you: your rating is recorded"), "success")
    return redirect(url_for("public.follow"))
