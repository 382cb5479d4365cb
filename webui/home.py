from flask import Blueprint, redirect, render_template, url_for
from flask_login import login_required
from flask_babel import gettext as _

from engine.access.policy import allowed

from .auth import current_actor


bp = Blueprint("home", __name__)

# Where each role starts its day: (role, the action its start page needs, endpoint). Every role
# has one (tests/security/test_logins.py checks), so no login is ever sent back to the log-in form.
LANDING = [("clerk", "work_tasks", "work.inbox"), ("mediator", "work_tasks", "work.inbox"),
           ("department", "work_tasks", "work.inbox"), ("supervisor", "supervise", "supervision.overview"),
           ("auditor", "audit", "audit.search"), ("designer", "design", "designer.index"),
           ("admin", "administer", "admin.index"), ("grid_worker", "report_matter", "grid.home")]


@bp.route("/favicon.ico")
def favicon():
    """For what asks the site root for its icon without reading the page's <link rel=icon>. A
    permanent redirect is kept by browsers, so it names the icon without its version."""
    return redirect(url_for("static", filename="favicon.svg", v=None), 301)


@bp.route("/")
@login_required
def index():
    actor = current_actor()
    for role, action, endpoint in LANDING:
        if role in actor.roles and allowed(actor, action):
            return redirect(url_for(endpoint))
    return render_template("error.html", code=403, message=_("Your login has nothing to do at its unit; ask your administrator.")), 403
