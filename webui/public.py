"""Residents: follow a case by its code and the phone number given at the window. No login;
shows progress, never names or personal data."""
from flask import Blueprint, render_template, request

from engine import queries

from .extensions import db

bp = Blueprint("public", __name__)


@bp.route("/follow", methods=["GET", "POST"])
def follow():
    case, tried = None, False
    if request.method == "POST":
        tried = True
        code = request.form.get("code", "")[:40]
        phone = request.form.get("phone", "")[:20]
        case = queries.followed_case(db.session, code, phone)
    steps = queries.case_tasks(db.session, case.id) if case else []
    return render_template("follow.html", case=case, steps=steps, tried=tried,
                           code=request.form.get("code", "")[:40]), (404 if tried and case is None else 200)
