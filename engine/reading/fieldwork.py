"""What a grid worker's phone shows: their grid, what they reported and how each goes."""
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from engine.persistence.models import Grid, Submission

REPORTS_SHOWN = 50


def grid_of(session, actor):
    """The grid the actor walks (None for a login without one)."""
    return session.get(Grid, actor.grid_id) if actor.grid_id is not None else None


def my_reports(session, actor, limit=REPORTS_SHOWN):
    """The matters this login reported, newest first, each with the case it became, if any."""
    return session.scalars(
        select(Submission).options(joinedload(Submission.case), joinedload(Submission.org_unit))
        .where(Submission.reporter_id == actor.user_id)
        .order_by(Submission.created_at.desc(), Submission.id.desc()).limit(limit)).all()
