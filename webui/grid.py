"""Grid workers (网格员) on the phone: their tasks and reports, and reporting a matter from the field."""
from flask import Blueprint, render_template

from engine.messages import N_
from engine.reading import fieldwork, queries

from .auth import current_actor, requires
from .extensions import db

bp = Blueprint("grid", __name__, url_prefix="/grid")

# How a report goes (engine/persistence/states.py SubmissionState), in the reporter's words.
REPORT_STATES = {"pending": N_("Waiting to be accepted"), "accepted": N_("Accepted as a case"),
                 "joined": N_("Joined to an open case"), "declined": N_("Declined")}


@bp.route("/")
@requires("report_matter")
def home():
    """Open steps (theirs first, then the grid's pool), then what they reported and how it goes."""
    actor = current_actor()
    mine, pool, now = queries.inbox(db.session, actor)
    return render_template("grid/home.html", mine=mine, pool=pool, now=now, light=queries.task_light,
                           grid=fieldwork.grid_of(db.session, actor),
                           reports=fieldwork.my_reports(db.session, actor), report_states=REPORT_STATES,
                           report_url=None)
