"""Act on a case, then back to it: the one way the web runs a case action and says how it went.

A refusal that the person can do something about (someone else was first, the case moved on, a
note is missing, the engine could not take the step, the database stayed busy) comes back as a
message on the case page, or as the form again with what was typed. A refusal that the page never
offered (NotAllowed, NotFound: a forged or outdated request) is the error page, 403 or 404."""
from flask import abort, flash, redirect, request, url_for

from engine.errors import Conflict, FormInvalid, StepFailed
from engine.library import forms as formlib
from engine.persistence.models import CaseTransfer, Task
from engine.persistence.uow import retrying_busy

from .extensions import db
from .i18n import say

# What a person can act on; anything else is a fault of the request or of the code.
REFUSALS = (Conflict, StepFailed, FormInvalid, ValueError)


def refusal_message(error):
    if isinstance(error, FormInvalid):
        return "; ".join(say(why) for why in error.errors.values())
    return say(error)


def act_then_back(case_id, action, done, then=None, anchor="", category="success"):
    """Run `action` (one service call, run again if the database was busy). Done: flash `done`
    (a text, or a function of the result) and go to `then` ((endpoint, values)) or back to the
    case page (flashed as `category`). Refused: flash why and go back to the case page (at `anchor`)."""
    try:
        result = retrying_busy(action)
    except REFUSALS as refused:
        flash(refusal_message(refused), "error")
        return redirect(url_for("work.case", case_id=case_id) + anchor)
    flash(done(result) if callable(done) else done, category)
    if then is not None:
        endpoint, values = then
        return redirect(url_for(endpoint, **values))
    return redirect(url_for("work.case", case_id=case_id) + anchor)


def submit_form(form, action):
    """Run one form's submission. Returns (result, data, errors, status): on invalid data, a
    failed step or a conflict (someone else was first, the database stayed busy), what was typed
    comes back with the errors to show beside it."""
    try:
        return retrying_busy(action), {}, {}, 200
    except FormInvalid as invalid:
        return None, invalid.data, {key: say(why) for key, why in invalid.errors.items()}, 422
    except StepFailed as failed:
        return None, formlib.data_from_post(form, request.form), {"_form": say(failed)}, 422
    except Conflict as conflict:
        return None, formlib.data_from_post(form, request.form), {"_form": say(conflict)}, 409


def case_of_task(task_id):
    """The case a step belongs to, to come back to (404 if there is no such step)."""
    case_id = db.session.scalar(db.select(Task.case_id).where(Task.id == task_id))
    if case_id is None:
        abort(404)
    return case_id


def case_of_transfer(transfer_id):
    case_id = db.session.scalar(db.select(CaseTransfer.case_id).where(CaseTransfer.id == transfer_id))
    if case_id is None:
        abort(404)
    return case_id
