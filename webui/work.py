"""Clerks and mediators: file a matter, the inbox, claim, fill in a task form, the case page."""
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from engine.access import rulebook
from engine.library import catalog, forms as formlib, triage
from engine.reading import dossier as dossiers, expert_options, meetings as meeting_reading, queries, registry, unit_inbox
from engine.cases import (
    attachments, dossier as dossier_making, drafts, grids, phone_codes, referrals, services, supervision, transfers,
)
from engine.persistence.uow import retrying_busy
from engine.reading import referrals as referral_reads
from engine.access.policy import allowed as may_do
from engine.persistence.models import Grid, OrgUnit, Task

from .acting import REFUSALS, act_then_back, case_of_task, submit_form as _submit
from .auth import current_actor, requires
from .extensions import db
from .guard import date_param, int_param
from .i18n import say, unit_name
from .labels import vocab

bp = Blueprint("work", __name__)

INTAKE_PROCESS = "intake"


@bp.route("/tasks")
@requires("work_tasks")
def inbox():
    # Clamped before the query: a page past the end shows the last one, a page of 10**30 no error.
    page = min(max(request.args.get("pool_page", 1, type=int), 1), 10**6)
    found = queries.inbox(db.session, current_actor(), pool_page=page)
    return render_template("work/inbox.html", box=found, light=queries.light,
                           reminders=supervision.reminders_for(db.session, current_actor()),
                           moves=transfers.pending_for(db.session, current_actor()),
                           today=queries.filed_today(db.session, current_actor()))


@bp.route("/reminders/<int:reminder_id>/read", methods=["POST"])
@requires("work_tasks")
def reminder_read(reminder_id):
    supervision.mark_read(db.session, current_actor(), reminder_id)
    return redirect(url_for("work.inbox"))


@bp.route("/matters/new", methods=["GET", "POST"])
@requires("file_matter")
def new_matter():
    _version, _info, form = services.intake_step(db.session, INTAKE_PROCESS)
    data, errors, status, repeats, preview = {}, {}, 200, [], None
    if request.method == "POST" and request.form.get("preview"):
        # "Where will it go?" without JavaScript: the same page, what was typed, and the answer.
        preview = triage.preview(db.session, current_actor(), INTAKE_PROCESS, request.form)
        data = formlib.data_from_post(form, request.form)
    elif request.method == "GET":
        data = formlib.data_from_post(form, {})  # the form's defaults shown as chosen
    else:
        # After a repeat check the clerk has said "new" or "link:<case id>" (a repeat visit).
        decision = request.form.get("repeat_decision", "")
        linked = int_param(decision.removeprefix("link:")) if decision.startswith("link:") else None
        try:
            if linked is not None:
                case, data, errors, status = _submit(form, lambda: services.record_repeat_visit(
                    db.session, current_actor(), INTAKE_PROCESS, linked, request.form))
                message = _("Recorded as a repeat visit in %(code)s", code=case.code) if case else ""
            else:
                case, data, errors, status = _submit(form, lambda: services.start_case(
                    db.session, current_actor(), INTAKE_PROCESS, request.form, new_despite_repeats=decision == "new"))
                message = _("Registered as %(code)s", code=case.code) if case else ""
        except services.PossibleRepeats as found:
            data, repeats, status = found.data, found.cases, 200
        else:
            if case is not None:
                flash(message, "success")
                return redirect(url_for("work.case", case_id=case.id))
    return render_template("work/form.html", form=form, data=data, errors=errors, title=form.title(),
                           action=url_for("work.new_matter"), case=None, task=None, repeats=repeats,
                           preview=preview, intake=True), status


@bp.route("/matters/preview", methods=["POST"])
@requires("file_matter")
def matter_preview():
    """The preview panel alone, for the intake page to refresh as the clerk types."""
    found = triage.preview(db.session, current_actor(), INTAKE_PROCESS, request.form)
    return render_template("work/_route_preview.html", preview=found)


@bp.route("/tasks/<int:task_id>", methods=["GET", "POST"])
@requires("work_tasks")
def task(task_id):
    row, case, visible = queries.visible_task(db.session, current_actor(), task_id)
    if row is None:
        abort(404)
    if not visible or row.role not in current_actor().roles:
        abort(403)
    form = expert_options.step_form(db.session, case.process_version_id, row.form_key, case.org_unit.path)
    data, errors, status = {}, {}, 200
    if request.method == "POST" and request.form.get("save_draft"):
        # Kept as typed, unvalidated, to finish later; too large a text is refused as on submit.
        saved, data, errors, status = _submit(form, lambda: drafts.save(
            db.session, current_actor(), task_id, request.form))
        if saved is not None:
            flash(_("Draft saved (not submitted yet)"), "success")
            return redirect(url_for("work.task", task_id=task_id))
    elif request.method == "POST":
        done, data, errors, status = _submit(form, lambda: services.complete_task(
            db.session, current_actor(), task_id, request.form))
        if done is not None:
            flash(_("“%(step)s” submitted", step=row.title), "success")
            return redirect(url_for("work.case", case_id=case.id))
    draft = drafts.of_task(db.session, current_actor(), row)
    if request.method == "GET" and draft is not None:
        data = draft.data
    return _task_page(row, case, form, data, errors, status, draft)


def _task_page(row, case, form, data, errors, status, draft, referral_typed=None, referral_errors=None):
    steps = queries.submitted_steps(db.session, case, current_actor())
    offered = catalog.version_info(db.session, case.process_version_id).meta["tasks"].get(
        row.spec_id, {}).get("referrals") or []
    _case_verbs, step_verbs = rulebook.permitted_on_case(db.session, current_actor(), case, [row],
                                                         referrals={row.spec_id: offered})
    allowed = step_verbs.get(row.id, frozenset())
    panel = _referral_panel(case, offered, referral_typed, referral_errors) if "refer" in allowed else None
    has = queries.case_has(db.session, case.id)  # most cases have no referral and no file: neither list is read
    return render_template("work/form.html", form=form, data=data, errors=errors, title=row.title,
                           action=url_for("work.task", task_id=row.id), case=case, task=row, steps=steps,
                           light=queries.light, draft=draft, allowed=allowed, referral=panel,
                           referrals=referral_reads.of_case(db.session, case.id) if "referrals" in has else [],
                           dossiers=case_dossiers(case) if "files" in has else [],
                           standing=application_standing(case, row)), status


def _referral_panel(case, offered, typed=None, errors=None):
    """What the 转介 panel of a step offers: the case's parties, the step's services, and per service
    the departments providing it that serve the case's area (nearest first)."""
    return {"parties": referral_reads.party_names(db.session, case.id), "services": offered,
            "units": referral_reads.receiving_units_of(db.session, case.org_unit.path, offered),
            "typed": typed or {}, "errors": errors or {}}


@bp.route("/tasks/<int:task_id>/refer", methods=["POST"])
@requires("refer")
def refer(task_id):
    """Refer a party of the step's case to legal aid or counselling; the step stays open."""
    row = db.session.get(Task, task_id)
    if row is None:
        abort(404)
    # One choice names the service and the department providing it ("legal_aid:42").
    service, _sep, unit_id = request.form.get("service_unit", "").partition(":")
    typed = {"party_name": request.form.get("party_name", ""), "service": service,
             "to_unit_id": int_param(unit_id) if unit_id.isdigit() else None, "reason": request.form.get("reason", "")}
    try:
        referral = retrying_busy(lambda: referrals.refer(db.session, current_actor(), task_id, typed["party_name"],
                                                         typed["service"], typed["to_unit_id"], typed["reason"]))
    except referrals.ReferralInvalid as invalid:
        case = visible_case_or_abort(row.case_id)
        form = expert_options.step_form(db.session, case.process_version_id, row.form_key, case.org_unit.path)
        return _task_page(row, case, form, {}, {}, 422, drafts.of_task(db.session, current_actor(), row), typed,
                          {key: say(why) for key, why in invalid.errors.items()})
    except REFUSALS as refused:
        flash(say(refused), "error")
        return redirect(url_for("work.task", task_id=task_id))
    flash(_("Referred to %(unit)s; the step stays open", unit=unit_name(referral_unit(referral))), "success")
    return redirect(url_for("work.task", task_id=task_id) + "#referrals")


def referral_unit(referral):
    return db.session.get(OrgUnit, referral.to_unit_id)


def case_dossiers(case, files=None):
    """The case's judicial-confirmation dossiers, for those who may have them (else none); taken
    from `files`, the case's files when the page has read them already (the same order)."""
    if not rulebook.may_see_dossier(db.session, current_actor()):
        return []
    if files is not None:
        return [a for a in files if a.purpose == dossiers.DOSSIER]
    return dossiers.dossiers_of(db.session, case.id)


def application_standing(case, task):
    """On the open step of the parties' joint application: where each party stands (who has
    confirmed it online, and when), so the mediator sees it before recording the application."""
    meta = catalog.version_info(db.session, case.process_version_id).meta
    if task.state != "ready" or not meta["tasks"].get(task.spec_id, {}).get("dossier"):
        return None
    return dossiers.application_standing(db.session, case, task, lambda phone: phone_codes.mobile(phone) is not None)


@bp.route("/tasks/<int:task_id>/claim", methods=["POST"])
@requires("work_tasks")
def claim(task_id):
    return act_then_back(case_of_task(task_id), lambda: services.claim_task(db.session, current_actor(), task_id),
                         _("You claimed the step"), then=("work.task", {"task_id": task_id}))


@bp.route("/tasks/<int:task_id>/release", methods=["GET", "POST"])
@requires("work_tasks")
def release(task_id):
    """GET asks "really release?" (a page of its own, so the question needs no script); the
    confirmation posts back here."""
    if request.method == "GET":
        row = db.session.get(Task, task_id)
        if row is None:
            abort(404)
        case = visible_case_or_abort(row.case_id)
        _case_verbs, step_verbs = rulebook.permitted_on_case(db.session, current_actor(), case, [row])
        if "release" not in step_verbs.get(row.id, ()):
            return redirect(url_for("work.task", task_id=task_id))  # nothing of theirs to release
        return render_template("work/release.html", task=row, case=case,
                               draft=drafts.of_task(db.session, current_actor(), row))
    return act_then_back(case_of_task(task_id), lambda: services.release_task(db.session, current_actor(), task_id),
                         _("Released to the pool"), then=("work.inbox", {}),
                         category="info")


def _date(value):
    try:
        return date_param(value)
    except ValueError:
        return None


def case_filter(args):
    return queries.CaseFilter(text=args.get("q", "")[:100], status=args.get("status", ""),
                              category=args.get("category", ""), page=max(args.get("page", 1, type=int), 1),
                              unit_id=args.get("unit", type=int), filed_from=_date(args.get("from")),
                              filed_to=_date(args.get("to")), handler=args.get("handler", "")[:50])


def render_case_search(endpoint, link):
    """The case search page; `link` is where a found case's code leads."""
    flt = case_filter(request.args)
    rows, total = queries.search_cases(db.session, current_actor(), flt)
    units = [current_actor_unit()] + list(queries.units_below(db.session, current_actor_unit()))
    return render_template("work/search.html", rows=rows, total=total, flt=flt, endpoint=endpoint, link=link,
                           pages=queries.page_count(total), units=units,
                           categories=_intake_labels().get("category", {}))


def current_actor_unit():
    return db.session.get(OrgUnit, current_actor().unit_id)


def _intake_labels():
    version = catalog.latest_version(db.session, INTAKE_PROCESS)
    return vocab(version) if version else {}


@bp.route("/cases")
@requires("view_cases")
def cases():
    return render_case_search("work.cases", "work.case")


def visible_case_or_abort(case_id):
    found, visible = queries.visible_case(db.session, current_actor(), case_id)
    if found is None:
        abort(404)
    if not visible:
        abort(403)
    return found


@bp.route("/cases/<int:case_id>/receipt")
@requires("view_cases")
def receipt(case_id):
    found = visible_case_or_abort(case_id)
    intake = next(iter(queries.submitted_steps(db.session, found, current_actor())), None)
    return render_template("work/receipt.html", case=found, intake=intake)


@bp.route("/cases/<int:case_id>")
@requires("view_cases")
def case(case_id):
    actor = current_actor()
    found = visible_case_or_abort(case_id)
    tasks = queries.case_tasks(db.session, case_id)
    events = queries.case_events(db.session, case_id, kinds=queries.CASE_PAGE_EVENTS)
    steps = queries.submitted_steps(db.session, found, actor, events)
    deadlines = catalog.version_info(db.session, found.process_version_id).meta["deadlines"].values()
    extendable = {d["attached_to"]: d.get("max_extension_days", 0) for d in deadlines if d.get("attached_to")}
    facts = rulebook.case_facts(db.session, found)
    allowed, step_allowed = rulebook.permitted_on_case(db.session, actor, found, tasks, extendable, facts=facts)
    handlers = {task.id: supervision.handlers_for(db.session, actor, task) for task in tasks
                if step_allowed.get(task.id, frozenset()) & {"reassign", "claim_on_behalf"}}
    mediators = {task.id: registry.candidates(db.session, task, found.org_unit.path, found.category) for task in tasks
                 if "assign_mediator" in step_allowed.get(task.id, frozenset())}
    has = queries.case_has(db.session, case_id)
    # The case's own files and its dossiers, in one query.
    files = attachments.of_case(db.session, case_id) if "files" in has else []
    return render_template("work/case.html", case=found, tasks=tasks, steps=steps, light=queries.light, handlers=handlers,
                           mediators=mediators, kinds=registry.KINDS, grades=registry.GRADES,
                           allowed=allowed, step_allowed=step_allowed,
                           extendable=extendable,
                           move=transfers.pending_of_case(db.session, case_id) if facts.move_to_path else None,
                           round=queries.case_round(db.session, case_id, events),
                           decisions=queries.intake_decisions(db.session, case_id, events),
                           reported=unit_inbox.of_case(db.session, case_id) if "reported" in has else [],
                           meetings=meeting_reading.of_case(db.session, case_id) if "meetings" in has else [],
                           meeting_links=may_do(actor, "hold_meetings"),
                           referrals=referral_reads.of_case(db.session, case_id) if "referrals" in has else [],
                           attachments=[a for a in files if a.purpose is None],
                           dossiers=case_dossiers(found, files),
                           below=queries.units_below(db.session, found.org_unit) if "assign_down" in allowed else [],
                           grid=db.session.get(Grid, found.grid_id) if found.grid_id else None,
                           grids=grids.grids_for(db.session, found.org_unit.path) if "place_in_grid" in allowed else [])


@bp.route("/cases/<int:case_id>/dossier", methods=["POST"])
@requires("make_dossier")
def regenerate_dossier(case_id):
    """Make the judicial-confirmation dossier again from the case's data as corrected: a new
    version, the earlier ones kept."""
    return act_then_back(case_id, lambda: dossier_making.regenerate(db.session, current_actor(), case_id),
                         _("The dossier was made again as a new version"), anchor="#dossier")
