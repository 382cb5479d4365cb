"""Residents, without a login: follow a matter by its reference (a case code, or the reference of
a matter reported by QR code) and a phone number, rate the outcome once the case is closed, and,
as a party with their own phone, confirm the joint application for judicial confirmation of the
agreement with a one-time code (engine/cases/joint_application.py). Shows milestones, never
personal data."""
from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from engine.cases import client_limits, joint_application, rating
from engine.errors import Conflict, FormInvalid, NotFound, Throttled
from engine.persistence.uow import retrying_busy
from engine.reading import follow as following

from .extensions import db
from .i18n import say

bp = Blueprint("public", __name__)


# Look-ups per client address, counted in the database (shared by every web process).
LOOKUPS = client_limits.LOOKUPS
# The session remembers what the resident proved (the reference and a digest of reference and
# phone, never the number), so the rating form needs no second look-up.
FOLLOWED = "followed"


def _may_look_up():
    """Counted first, in a transaction of its own, before the request reads anything: what the
    action then reads and writes is one transaction, as if the count were not there."""
    return retrying_busy(lambda: client_limits.allow(db.session, LOOKUPS, request.remote_addr or "?"))


def _found(code, proof):
    return following.found(db.session, code, proof)


def _page(code, case, submission, status=200, tried=False, throttled=False, errors=None, typed=None, sent=None):
    progress = following.progress(db.session, case) if case is not None else None
    remembered = session.get(FOLLOWED) or {}
    application = (joint_application.offer(db.session, case, remembered.get("proof"))
                   if case is not None and remembered.get("code") == case.code else None)
    return render_template("public/follow.html", case=case, submission=submission, progress=progress,
                           tried=tried, throttled=throttled, code=code, errors=errors or {}, typed=typed or {},
                           ratings=rating.RATINGS, words_limit=rating.WORDS, application=application,
                           sent=sent), status


@bp.route("/follow", methods=["GET", "POST"])
def follow():
    if request.method == "GET":
        remembered, case, submission = _remembered_case()
        return _page(remembered.get("code", ""), case, submission)
    code = request.form.get("code", "").strip()[:40]
    if not _may_look_up():
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
    if not _may_look_up():
        return _throttled()
    remembered, case, submission = _remembered_case()
    if case is None:
        return _look_up_again()
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
        return _refused(refused)
    flash(_("Thank you: your rating is recorded"), "success")
    return redirect(url_for("public.follow"))


def _remembered_case():
    """The case the resident looked up (code and proof kept in the session), or None."""
    remembered = session.get(FOLLOWED) or {}
    case, submission = _found(remembered.get("code"), remembered.get("proof")) if remembered else (None, None)
    return remembered, case, submission


def _throttled():
    """Too many look-ups from this address: the page again, saying so, with the code remembered."""
    return _page((session.get(FOLLOWED) or {}).get("code", ""), None, None, status=429, throttled=True)


def _look_up_again():
    flash(_("Look the case up again with its code and your phone number"), "error")
    return redirect(url_for("public.follow"))


def _refused(refused):
    """Back to the page with why: the case's state said no (Conflict), or the case is not one this
    resident proved (NotFound: look it up again)."""
    if isinstance(refused, Conflict):
        flash(say(refused), "error")
        return redirect(url_for("public.follow"))
    return _look_up_again()


@bp.route("/follow/application/code", methods=["POST"])
def application_code():
    """Send the party a one-time code to confirm the joint application with."""
    if not _may_look_up():
        return _throttled()
    remembered, case, submission = _remembered_case()
    if case is None:
        return _look_up_again()
    try:
        _expires, shown = retrying_busy(lambda: joint_application.send_code(
            db.session, remembered["code"], remembered["proof"], request.remote_addr or "?"))
    except Throttled as throttled:
        body, _status = _page(remembered["code"], case, submission, status=429, errors={"phone_code": say(throttled)})
        return body, 429, {"Retry-After": str(throttled.retry_after)}
    except (Conflict, NotFound) as refused:
        return _refused(refused)
    return _page(remembered["code"], case, submission, sent=shown)


@bp.route("/follow/application", methods=["POST"])
def application_confirm():
    """The party confirms the joint application with the code sent to their phone."""
    if not _may_look_up():
        return _throttled()
    remembered, case, submission = _remembered_case()
    if case is None:
        return _look_up_again()
    if request.form.get("agree") != "yes":
        return _page(remembered["code"], case, submission, status=422,
                     errors={"agree": _("Tick the box to say you apply together with the other parties")})
    try:
        completed = retrying_busy(lambda: joint_application.confirm(
            db.session, remembered["code"], remembered["proof"], request.form.get("phone_code", "")[:20]))
    except FormInvalid as invalid:
        errors = {key: say(why) for key, why in invalid.errors.items()}
        return _page(remembered["code"], case, submission, status=422, errors=errors, sent=True)
    except (Conflict, NotFound) as refused:
        return _refused(refused)
    flash(_("Every party has confirmed: the application goes to the court") if completed
          else _("Your confirmation is recorded; the application is made once every party has confirmed"), "success")
    return redirect(url_for("public.follow") + "#application")
