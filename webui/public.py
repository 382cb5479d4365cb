"""Residents: follow a case by its code and the phone number given at the window. No login;
shows progress, never names or personal data."""
from flask import Blueprint, render_template, request

from engine.reading import queries

from .extensions import db
from .throttle import Throttle

bp = Blueprint("public", __name__)


# Twenty look-ups per client per ten minutes: plenty for a resident, useless for guessing.
LOOKUPS = Throttle(attempts=20, seconds=600)


@bp.route("/follow", methods=["GET", "POST"])
def follow():
    case, tried = None, False
    if request.method == "POST":
        if not LOOKUPS.allow(request.remote_addr or "?"):
            return render_template("public/follow.html", case=None, steps=[], tried=False, throttled=True,
                                   code=request.form.get("code", "")[:40]), 429
        tried = True
        code = request.form.get("code", "")[:40]
        phone = request.form.get("phone", "")[:20]
        case = queries.followed_case(db.session, code, phone)
    steps = queries.case_tasks(db.session, case.id) if case else []
    return render_template("public/follow.html", case=case, steps=steps, tried=tried,
                           code=request.form.get("code", "")[:40]), (404 if tried and case is None else 200)
