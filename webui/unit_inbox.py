"""The unit's inbox of matters reported from outside the window (a resident's QR filing, a grid
worker's report): the list, a matter's page, and the clerk's three decisions (accept through the
intake form filled in with what the reporter said, join to an open case, decline with a reason)."""
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import format_timedelta, gettext as _

from engine.access import rulebook
from engine.cases import attachments, inbox, services
from engine.legaltime.clock import Clock, as_utc
from engine.library import catalog
from engine.persistence.models import Attachment
from engine.persistence.uow import retrying_busy
from engine.reading import queries, unit_inbox
from engine.reading.dossier import DOSSIER

from .acting import REFUSALS, refusal_message, submit_form
from .auth import current_actor, requires
from .extensions import db
from .guard import int_param
from .i18n import authored
from .labels import vocab

bp = Blueprint("unit_inbox", __name__)


def _visible_or_abort(submission_id):
    found = unit_inbox.visible(db.session, current_actor(), submission_id)
    if found is None:
        abort(404)
    return found


@bp.route("/submissions")
@requires("view_submissions")
def index():
    actor = current_actor()
    return render_template("unit_inbox/index.html", rows=unit_inbox.waiting(db.session, actor),
                           decided=unit_inbox.recently_decided(db.session, actor))


@bp.route("/submissions/<int:submission_id>")
@requires("view_submissions")
def show(submission_id):
    actor = current_actor()
    submission, unit, facts = _visible_or_abort(submission_id)
    allowed = rulebook.permitted_on_submission(actor, facts)
    candidates = (unit_inbox.join_candidates(db.session, actor, submission) if "join" in allowed else [])
    # The clerk who decides the matter calls the people in it; everyone else sees phones masked.
    return render_template("unit_inbox/show.html", submission=submission, unit=unit, facts=facts, allowed=allowed,
                           parties=unit_inbox.parties(submission, reveal_phone=bool(allowed)),
                           phone=unit_inbox.shown_phone(submission.phone, reveal=bool(allowed)),
                           attachments=attachments.of_submission(db.session, submission.id), candidates=candidates,
                           decline_limit=inbox.DECLINE_REASON)


def _back(submission_id):
    return redirect(url_for("unit_inbox.show", submission_id=submission_id))


@bp.route("/submissions/<int:submission_id>/accept", methods=["GET", "POST"])
@requires("file_matter")
def accept(submission_id):
    """The intake form, filled in with what the reporter said, for the clerk to complete and
    submit like any intake (the repeat check included: a repeat of an open case joins it)."""
    actor = current_actor()
    submission, unit, facts = _visible_or_abort(submission_id)
    refused = rulebook.submission_refusal(actor, "accept", facts)
    if refused is not None:
        if isinstance(refused, REFUSALS):
            flash(refusal_message(refused), "error")
            return _back(submission_id)
        raise refused
    _version, _info, form = services.intake_step(db.session, inbox.INTAKE_PROCESS)
    data, errors, status, repeats = unit_inbox.intake_prefill(form, submission), {}, 200, []
    if request.method == "POST":
        decision = request.form.get("repeat_decision", "")
        linked = int_param(decision.removeprefix("link:")) if decision.startswith("link:") else None
        if linked is not None:
            return _join(submission_id, linked)
        try:
            case, data, errors, status = submit_form(form, lambda: inbox.accept(
                db.session, actor, submission_id, request.form, new_despite_repeats=decision == "new"))
        except services.PossibleRepeats as found:
            data, repeats, status = found.data, found.cases, 200
        else:
            if case is not None:
                flash(_("Accepted and registered as %(code)s; the resident is told by SMS", code=case.code), "success")
                return redirect(url_for("work.case", case_id=case.id))
            if status == 409:  # decided by someone else meanwhile: the inbox says by whom
                flash(errors.get("_form", ""), "error")
                return _back(submission_id)
    return render_template("work/form.html", form=form, data=data, errors=errors, title=form.title(),
                           action=url_for("unit_inbox.accept", submission_id=submission_id), case=None, task=None,
                           repeats=repeats, preview=None, intake=True, origin=submission), status


def _decision(submission_id, action):
    """Run one decision (again if the database was busy); a refusal the clerk can act on (someone
    decided first, a reason missing) comes back as a message on the matter's page."""
    try:
        return retrying_busy(action)
    except REFUSALS as refused:
        flash(refusal_message(refused), "error")
        return None


def _join(submission_id, case_id):
    case = _decision(submission_id, lambda: inbox.join(db.session, current_actor(), submission_id, case_id))
    if case is None:
        return _back(submission_id)
    flash(_("Joined to %(code)s; the resident is told by SMS", code=case.code), "success")
    return redirect(url_for("work.case", case_id=case.id))


@bp.route("/submissions/<int:submission_id>/join", methods=["POST"])
@requires("file_matter")
def join(submission_id):
    case_id = int_param(request.form.get("case_id", ""))
    if case_id is None:
        flash(_("Choose the case to join it to"), "error")
        return _back(submission_id)
    return _join(submission_id, case_id)


@bp.route("/submissions/<int:submission_id>/decline", methods=["POST"])
@requires("file_matter")
def decline(submission_id):
    if _decision(submission_id, lambda: inbox.decline(db.session, current_actor(), submission_id,
                                                     request.form.get("reason", ""))) is None:
        return _back(submission_id)
    flash(_("Declined; the resident is told the reason by SMS"), "success")
    return redirect(url_for("unit_inbox.index"))


@bp.route("/attachments/<int:attachment_id>")
@requires("view_cases")
def attachment(attachment_id):
    """A photo or document, to whoever may see its matter or its case; never a static address.
    Sent as the type its content was found to be, never sniffed, with its cleaned name."""
    found = db.session.get(Attachment, attachment_id)
    if found is None or not _may_see(found):
        abort(404)
    path = _stored_file(found)
    if path is None or not path.is_file():
        abort(404)
    inline = found.media_type in INLINE_TYPES
    response = send_file(path, mimetype=found.media_type, as_attachment=not inline, download_name=found.filename,
                         max_age=0, conditional=True)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    # A PDF opened in the browser runs no script of its own from this site.
    response.headers["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"
    return response


# Shown in the browser (photos, PDFs); anything else is downloaded.
INLINE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "application/pdf"})


def _may_see(found):
    actor = current_actor()
    if found.purpose == DOSSIER and not rulebook.may_see_dossier(db.session, actor):
        return False
    if found.case_id is not None:
        _case, visible = queries.visible_case(db.session, actor, found.case_id)
        if visible:
            return True
    return found.submission_id is not None and unit_inbox.visible(db.session, actor, found.submission_id) is not None


def _stored_file(found):
    """Where the bytes are kept (engine/cases/attachments.py keeps them by SHA-256), or None."""
    try:
        return attachments.path_of(found, attachments.Limits.from_config(current_app.config))
    except ValueError:  # a row whose hash is not one: nothing to send
        return None


def waiting_count():
    """The navigation's badge (a template global)."""
    return unit_inbox.waiting_count(db.session, current_actor())


@bp.app_template_global()
def waited(moment):
    """How long a matter has waited, in words ("3 days")."""
    return format_timedelta(Clock.now() - as_utc(moment), threshold=1.5)


@bp.app_template_global()
def submission_kind(submission):
    """The reporter's kind of matter (and category) by the intake form's own labels."""
    version = catalog.latest_version(db.session, inbox.INTAKE_PROCESS)
    words = vocab(version) if version else {}

    def named(value):
        for field in ("kind", "category"):
            if value in words.get(field, {}):
                return authored(words[field][value])
        return value

    return " · ".join(dict.fromkeys(named(value) for value in (submission.kind, submission.category) if value))
