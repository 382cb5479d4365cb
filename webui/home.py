from flask import Blueprint, redirect, url_for
from flask_login import login_required

from .auth import current_actor

bp = Blueprint("home", __name__)

# Where each role starts its day.
LANDING = [("clerk", "work.inbox"), ("mediator", "work.inbox"), ("supervisor", "supervision.overview"),
           ("auditor", "audit.search"), ("designer", "designer.index"), ("admin", "admin.index")]


@bp.route("/")
@login_required
def index():
    roles = current_actor().roles
    for role, endpoint in LANDING:
        if role in roles:
            return redirect(url_for(endpoint))
    return redirect(url_for("auth.login"))
