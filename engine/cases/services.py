"""The verbs people and the scheduler perform. Each one is one unit of work."""
import json
import logging

from SpiffWorkflow.exceptions import WorkflowException
from sqlalchemy import bindparam, select, update

from engine.library import catalog, form_options, forms as formlib, risk, routing, triage
from engine.legaltime import lights
from engine.reading import expert_options, queries
from engine.workflow import runtime
from engine.cases import dossier, expert_summons, store
from engine.legaltime.clock import Clock
from engine.persistence.models import Case, DiagramDraft, OrgUnit, ProcessVersion, Task, Timer
from engine.access import department_kinds, rulebook
from engine.access.policy import SYSTEM
from engine.workflow.scripting import ScriptRejected
from engine.cases.acting import acting_on_case, acting_on_task, as_system, designing, filing, lock_case
from engine.errors import Busy, Conflict, FormInvalid, NotAllowed, NotFound, StepFailed
from engine.messages import Msg, in_chinese
from engine.persistence.states import CaseStatus, EventKind, TaskState, TimerState

__all__ = ["Conflict", "FormInvalid", "NotAllowed", "NotFound", "StepFailed"]  # the refusals callers catch

log = logging.getLogger(__name__)


def _engine_call(task_title, call):
    try:
        return call()
    except (runtime.TaskNotReady, StepFailed):
        raise
    except Exception as exc:  # noqa: BLE001 - whatever the engine trips on, the step fails and nothing is saved
        if not isinstance(exc, (WorkflowException, ScriptRejected)):
            log.exception("step %s: the engine failed", task_title)
        # Name the element that failed (a script task, a gateway), not only the step submitted.
        spec = getattr(exc, "task_spec", None)
        element = getattr(spec, "bpmn_id", None)
        where = f" @ {getattr(spec, 'bpmn_name', None) or element} ({element})" if element else ""
        reason, said = _first_cause(exc), _said(exc)
        detail = f"{said} {reason}" if reason and reason not in said else said
        raise StepFailed(Msg("Step “%(step)s” failed%(where)s: %(detail)s", step=task_title, where=where, detail=detail)) from exc


def _said(exc):
    """An exception's text; SpiffWorkflow's own str() fails when one of its notes is empty."""
    try:
        return str(exc)
    except Exception:  # noqa: BLE001 - any failure here would turn a clear refusal into a 500
        return str(exc.args[0]) if exc.args else type(exc).__name__


def _first_cause(exc):
    """Why an expression failed: SpiffWorkflow wraps the script's own error (a time limit, a
    missing variable) in messages that only quote the expression."""
    cause = exc.__cause__ or exc.__context__
    while cause is not None:
        if not isinstance(cause, WorkflowException):
            return _said(cause) if isinstance(cause, ScriptRejected) else f"{type(cause).__name__}: {_said(cause)}"
        cause = cause.__cause__ or cause.__context__
    return ""


def _next_round_if_restarted(session, version, workflow, snap, title):
    """A round that ended at a restart end event (a reopened case) goes on as the next round of
    the same case. Returns (workflow, snapshot, whether a new round began)."""
    restarts = version.meta.get("restarts", {})
    if snap.completed and any(c.after == "COMPLETED" and c.element in restarts for c in snap.changes):
        workflow, snap = _engine_call(title, lambda: runtime.next_round(version.specs(session), snap))
        return workflow, snap, True
    return workflow, snap, False


# ---- starting a case -------------------------------------------------------------------------

def _newest(session, process_key):
    version = catalog.latest_version(session, process_key)
    if version is None:
        raise NotFound(process_key)
    return version


def _step_form(session, version, element):
    """The metadata and the form of one of a version's user tasks."""
    info = version.meta["tasks"][element]
    return info, form_options.form_of(session, version, info["form"])


def _intake(session, process_key):
    version = _newest(session, process_key)
    workflow, snap = runtime.start(version.specs(session))
    info, form = _step_form(session, version, snap.ready[0].task_spec.bpmn_id)
    return version, info, form, workflow, snap


# The element of each version's first step, by version id and content (immutable, so each process
# may keep its own, as runtime.SpecCache): the intake page and the API's check read it without
# starting a workflow.
_FIRST_STEP = {}


def intake_step(session, process_key):
    """The version new cases take and the form of its first step."""
    version = _newest(session, process_key)
    key = (version.id, version.content_hash)
    first = _FIRST_STEP.get(key)
    if first is None:
        _workflow, snap = runtime.start(version.specs(session))
        first = _FIRST_STEP[key] = snap.ready[0].task_spec.bpmn_id
    return (version, *_step_form(session, version, first))


class PossibleRepeats(Exception):
    """The parties already have open or recent cases: the clerk decides whether this is a new
    matter or a repeat visit about one of them. Nothing was saved."""

    def __init__(self, cases, data):
        super().__init__("possible repeats")
        self.cases = cases
        self.data = data


def _intake_data(session, actor, process_key, post, data):
    version, info, form, workflow, start_snap = _intake(session, process_key)
    rulebook.require_filing(actor, info["role"])
    data = formlib.data_from_post(form, post) if data is None else formlib.data_from_json(form, data)
    _valid_or_refused(form, data)
    return version, info, workflow, start_snap, data


def check_matter(session, process_key, data):
    """Judge an outside system's JSON as start_case would judge it (the intake form), saving
    nothing: raises FormInvalid. A work order sent again is answered with its case only when what
    was sent is still a matter the API takes (engine/cases/idempotency.py)."""
    _version, _info, form = intake_step(session, process_key)
    _valid_or_refused(form, formlib.data_from_json(form, data))


def _valid_or_refused(form, data):
    errors = formlib.validate(form, data)
    if errors:
        raise FormInvalid(errors, data)


def start_case(session, actor, process_key, post=None, data=None, new_despite_repeats=False, external_ref=None,
               remember=None, by_system=False):
    """File a new matter: start the pathway and complete its intake step with the posted form
    (`post`, flat names from a browser) or typed `data` (JSON from an outside system), in one
    transaction. Nothing is saved if the data is invalid, or if the parties have open or recent
    cases and the clerk has not yet said this is a new matter (PossibleRepeats). The risk colour
    is assessed from the facts (bpmn/risk.dmn); lowering it below the assessment needs a reason.
    `external_ref` is the filing system's own number for the matter; `remember(case)` runs in the
    same transaction (an outside system's idempotency key, engine/cases/idempotency.py). Filed
    `by_system` (an outside system's login, through the API), nobody sits behind the login: the
    intake step is not held by it, so the case's next clerk steps go to the unit's pool."""
    with filing(session, actor) as act:
        # The freshly started workflow that told us the first step is the one the case runs.
        version, info, workflow, start_snap, data = _intake_data(session, actor, process_key, post, data)
        repeats = queries.possible_repeats(session, actor, data.get("parties"))
        if repeats and not new_despite_repeats:
            raise PossibleRepeats(repeats, data)
        assessment, how = _assess_risk(session, version, data)
        now = Clock.now()
        case = Case(code=f"NEW-{now.timestamp()}", process_version_id=version.id, org_unit_id=actor.unit_id,
                    state="", created_by=actor.user_id, created_at=now, updated_at=now, external_ref=external_ref)
        session.add(case)
        session.flush()
        case.code = store.new_case_code(case.id, now)
        act.begin(case)
        audit = act.log
        started = {"process": version.process_key, "version": version.id, "code": case.code,
                   "related": [c.code for c in repeats]}
        if external_ref:
            started["order"] = external_ref  # the filing system's number, in the case's history too
        with audit.held():
            audit.add(actor, EventKind.CASE_STARTED, detail=started)
            store.record_engine_changes(audit, actor, start_snap)
            first = start_snap.ready[0]
            snap = _engine_call(info["name"], lambda: runtime.complete(workflow, str(first.id), data, case_facts(case)))
            # Written now, before the rows of the steps that follow it, so ids keep the order of events.
            session.connection().execute(store.INSERT_TASK, dict(
                case_id=case.id, spiff_task_id=str(first.id), spec_id=first.task_spec.bpmn_id, title=info["name"],
                form_key=info["form"], role=info["role"], org_unit_id=case.org_unit_id,
                assignee_id=None if by_system else actor.user_id,
                state=TaskState.COMPLETED, created_at=now, completed_at=now, completed_by=actor.user_id))
            audit.add(actor, EventKind.TASK_COMPLETED, first.task_spec.bpmn_id, info["name"], {"data": data})
            _record_intake_decisions(audit, actor, version, data, assessment, how)
            store.save(session, case, actor.unit_path, workflow, snap, version, actor, audit, submitted=data)
        if remember is not None:
            remember(case)
        return case


def _assess_risk(session, version, data, case_id=None):
    try:
        return risk.assess_case(session, version, data, case_id)
    except risk.LoweredWithoutReason as lowered:
        raise FormInvalid({"risk_reason": Msg("The assessment is %(level)s; say why you lower it",
                                              level=Msg(risk.NAMES[str(lowered)]))}, data) from None


def _record_intake_decisions(audit, actor, version, data, assessment, how):
    """The history keeps why the matter went where it went and why it has its colour."""
    if assessment is not None:
        audit.add(actor, EventKind.RISK_ASSESSED, detail={
            "assessed": assessment.level, "level": data["risk_level"], "how": how,
            "reasons": [list(r) for r in assessment.reasons], "facts": assessment.facts,
            "reason": data.get("risk_reason") if how == "lowered" else None})
    decided = triage.decide(audit.session, version, data)
    if decided is not None:
        audit.add(actor, EventKind.TRIAGED, detail=decided)


def record_repeat_visit(session, actor, process_key, case_id, post):
    """The clerk's decision that a matter is a repeat visit about an existing case: nothing new
    is opened; the visit, with what was registered, goes into that case's history, and the case's
    risk is assessed again with the visit counted. The colour only goes up by itself; a case that
    turns red is listed for supervision and its open steps warn earlier."""
    with acting_on_case(session, actor, case_id, "record_repeat_visit") as act:
        version, info, _workflow, start_snap, data = _intake_data(session, actor, process_key, post, None)
        case, audit = act.case, act.log
        audit.add(actor, EventKind.REPEAT_VISIT, start_snap.ready[0].task_spec.bpmn_id, info["name"], {"data": data})
        session.flush()
        assessment, how = _assess_risk(session, version, data, case_id=case.id)
        if assessment is not None:
            _reassess(session, actor, audit, case, data, assessment, how)
        case.updated_at = Clock.now()
        return case


def _reassess(session, actor, audit, case, data, assessment, how):
    before, level = case.risk_level, data["risk_level"]
    if risk.rank(level) < risk.rank(before) and how != "lowered":
        level = before  # a visit alone never lowers the colour
    audit.add(actor, EventKind.RISK_REASSESSED, detail={
        "before": before, "assessed": assessment.level, "level": level, "how": how,
        "reasons": [list(r) for r in assessment.reasons], "facts": assessment.facts,
        "reason": data.get("risk_reason") if how == "lowered" else None})
    if level == before:
        return
    case.risk_level = level
    if level == "red" and case.status == CaseStatus.OPEN:
        # The red follow-up step of the diagram is drawn at intake; a case that turns red later is
        # listed for supervision instead, and its open steps take the red case's earlier warning.
        if case.flagged_at is None:
            note = in_chinese(Msg("a repeat visit raised the risk to red"))  # a note as a supervisor writes one
            case.flagged_at, case.flagged_by, case.flag_note = Clock.now(), actor.user_id, note
            audit.add(actor, EventKind.CASE_FLAGGED, detail={"note": note})
    for task in session.scalars(select(Task).where(Task.case_id == case.id, Task.state == TaskState.READY,
                                                   Task.due_at.is_not(None))):
        task.amber_at = lights.amber_at(task.spec_id, task.created_at, task.due_at, risk=level)


def case_facts(case):
    """What the workflow is told of the case's row with each step submitted (runtime.complete)."""
    return {runtime.HAS_GRID: case.grid_id is not None}


# ---- working on tasks ------------------------------------------------------------------------

def _refreshed(session, task):
    """The refusal when someone completed the step while we waited for the case's lock."""
    session.refresh(task)
    who = task.completer.display_name if task.completer else Msg("the system")
    return Conflict(Msg("This task was already completed by %(who)s", who=who))


def claim_task(session, actor, task_id):
    with acting_on_task(session, actor, task_id, "claim") as act:
        task = act.task
        task.assignee_id = actor.user_id
        # The audit entry moves the case's chain head, so of two people claiming at once the
        # case's version column lets exactly one win.
        act.log.add(actor, EventKind.TASK_CLAIMED, task.spec_id, task.title)
        return task


def release_task(session, actor, task_id):
    with acting_on_task(session, actor, task_id, "release") as act:
        task = act.task
        task.assignee_id = None
        act.log.add(actor, EventKind.TASK_RELEASED, task.spec_id, task.title)
        return task


def complete_task(session, actor, task_id, post):
    """Submit a task's form. Invalid data raises FormInvalid with what was typed; a task that
    someone else completed first raises Conflict naming them. The step that records the parties'
    joint application for judicial confirmation also stores the court's dossier, rendered before
    the transaction (engine/cases/dossier.py says why) and kept within it."""
    for _attempt in range(dossier.ATTEMPTS):
        prepared = dossier.for_step(session, actor, task_id, post)
        try:
            with acting_on_task(session, actor, task_id, "submit") as act:
                if prepared is not None:
                    dossier.still_current(session, act, prepared)
                case = submit_step(session, act, post)
                if prepared is not None:
                    dossier.keep(session, act, prepared, "applied")
                return case
        except dossier.Stale:
            continue
    raise Conflict(Msg("The case changed while its dossier was being made; submit again"))


_COMPLETE_TASK = update(Task.__table__).where(Task.__table__.c.id == bindparam("b_id"),
                                               Task.__table__.c.state == TaskState.READY)


def submit_step(session, act, post):
    """Complete the step an entry of engine/cases/acting.py has locked and allowed (`act`) with
    its form posted as `post`: the workflow moves on and every row of the case follows."""
    actor, task, case, unit_path = act.actor, act.task, act.case, act.unit_path
    version = catalog.version_info(session, case.process_version_id)
    form = expert_options.step_form(session, case.process_version_id, task.form_key, unit_path)
    data = formlib.data_from_post(form, post)
    errors = formlib.validate(form, data)
    if errors:
        raise FormInvalid(errors, data)
    workflow = runtime.load_state(case.state, version.specs(session))
    try:
        snap = _engine_call(task.title, lambda: runtime.complete(workflow, task.spiff_task_id, data,
                                                                 case_facts(case)))
    except runtime.TaskNotReady as exc:
        # Someone completed it while we waited for the case lock.
        raise _refreshed(session, task) from exc
    workflow, snap, reopened = _next_round_if_restarted(session, version, workflow, snap, task.title)
    # Guarded on state so a concurrent submission of the same task cannot also succeed.
    done = session.connection().execute(_COMPLETE_TASK, dict(
        b_id=task.id, state=TaskState.COMPLETED, completed_at=Clock.now(), completed_by=actor.user_id,
        assignee_id=task.assignee_id or actor.user_id)).rowcount
    if not done:
        raise _refreshed(session, task)
    audit = act.log
    with audit.held():
        audit.add(actor, EventKind.TASK_COMPLETED, task.spec_id, task.title, {"data": data})
        expert_summons.summon(session, act, form, data)
        if reopened:
            audit.add(actor, EventKind.CASE_REOPENED, detail={"round": snap.data[runtime.ROUND]})
        store.save(session, case, unit_path, workflow, snap, version, actor, audit,
                   completed_task_id=task.spiff_task_id, submitted=data, completed_has_draft=act.task_has_draft)
    return case


# ---- timers ----------------------------------------------------------------------------------

def _claim_due(session, now, limit, passed_over):
    """Lock the oldest `limit` due timers that no other sweeper holds (SKIP LOCKED): sweepers in
    several processes each take the next timers free, never the same ones, and never wait on each
    other. `passed_over`: timers this sweep already took and left waiting (not due by the engine's
    clock, or a busy database), not taken again in the same sweep."""
    query = select(Timer).where(Timer.state == TimerState.WAITING, Timer.due_at <= now)
    if passed_over:
        query = query.where(Timer.id.not_in(sorted(passed_over)))
    return session.scalars(query.order_by(Timer.due_at, Timer.id).limit(limit).with_for_update(skip_locked=True)).all()


def fire_timer(session, timer_id, routes=None):
    """Fire one due timer in its own transaction. Returns True if it fired here. A row locked by
    another worker is skipped (SKIP LOCKED), so two workers never fire the same timer."""
    with as_system(session):
        timer = session.scalar(select(Timer).where(Timer.id == timer_id, Timer.state == TimerState.WAITING)
                               .with_for_update(skip_locked=True))
        if timer is None:
            return False
        case, unit = lock_case(session, timer.case_id)
        return _fire(session, timer, case, unit.path, routes)


def _fire(session, timer, case, unit_path, routes=None, writes=None):
    version = catalog.version_info(session, case.process_version_id)
    workflow = runtime.load_state(case.state, version.specs(session))
    snap = runtime.fire_timers(workflow)
    if any(spiff_id == timer.spiff_task_id for spiff_id, _element, _due in snap.timers):
        # The engine did not consider it due (clock skew): leave it for the next sweep.
        return False
    workflow, snap, reopened = _next_round_if_restarted(session, version, workflow, snap, timer.spec_id)
    audit = store.AuditLog(session, case, writes)
    audit.add(SYSTEM, EventKind.TIMER_FIRED, timer.spec_id,
              version.meta["deadlines"].get(timer.spec_id, {}).get("name"), {"due_at": timer.due_at.isoformat()})
    if reopened:
        audit.add(SYSTEM, EventKind.CASE_REOPENED, detail={"round": snap.data[runtime.ROUND]})
    store.save(session, case, unit_path, workflow, snap, version, SYSTEM, audit, routes=routes, writes=writes)
    return True


def _fire_batch(session, timers, routes):
    """Fire several due timers, already locked, in the current transaction: their cases are locked
    by one query, and their new rows are inserted together at the end. Returns the ids fired."""
    cases = {case.id: (case, path) for case, path in session.execute(
        select(Case, OrgUnit.path).join(OrgUnit, OrgUnit.id == Case.org_unit_id)
        .where(Case.id.in_({t.case_id for t in timers})).order_by(Case.id).with_for_update(of=Case)).all()}
    writes, touched, fired = store.Writes(), set(), set()
    writes.handlers = store.last_handlers(session, list(cases))
    for timer in timers:
        if timer.case_id in touched:
            # A second timer of the same case: its rows must see the first one's.
            writes.flush(session)
            session.flush()
            writes.handlers.pop(timer.case_id, None)
        touched.add(timer.case_id)
        case, unit_path = cases[timer.case_id]
        if _fire(session, timer, case, unit_path, routes, writes):
            fired.add(timer.id)
    writes.flush(session)
    return fired


def mark_case_failed(session, case_id, message, timer_id=None):
    """Mark a case with the error that stopped it (and the timer that failed, if one did), in one
    transaction: the case and its timer never disagree about whether it failed."""
    with as_system(session):
        case = lock_case(session, case_id)[0]
        case.error = message[:2000]
        store.AuditLog(session, case).add(SYSTEM, EventKind.STEP_FAILED, detail={"error": message[:2000]})
        if timer_id is not None:
            session.execute(update(Timer).where(Timer.id == timer_id).values(state=TimerState.FAILED))


def _fire_alone(session, timer_id, routes):
    """One timer in its own transaction; a case that fails is marked with the error (one more
    transaction). A database busy with another writer is no failure of the case: the timer stays
    due for the next sweep."""
    try:
        return fire_timer(session, timer_id, routes)
    except Busy:
        log.info("timer %s: the database was busy; it fires at the next sweep", timer_id)
        return False
    except Exception as exc:  # one broken case must never block the sweep
        log.exception("timer %s failed", timer_id)
        case_id = session.scalar(select(Timer.case_id).where(Timer.id == timer_id))
        mark_case_failed(session, case_id, f"timer {timer_id}: {exc}", timer_id=timer_id)
        return False


SWEEP_BATCH = 50
SWEEP_LIMIT = 500


def fire_due_timers(session, now=None, limit=SWEEP_LIMIT, batch=SWEEP_BATCH):
    """The sweep: fire up to `limit` due timers, oldest first. Timers are taken and fired `batch`
    to a transaction (one commit, one fsync, for many), each batch the oldest due timers no other
    sweeper holds, so several sweepers (SWEEP_PROCESSES, more workers) share the due timers and
    none fires one twice. If anything in a batch fails, the batch is rolled back and its timers
    are fired one by one, so a broken case is marked with its error and never blocks the others.
    Each timer's work is the same either way."""
    now = now or Clock.now()
    fired, taken, passed_over = 0, 0, set()
    routes = routing.SweepRoutes()
    while taken < limit:
        claimed, wanted = [], min(batch, limit - taken)
        try:
            with as_system(session):
                timers = _claim_due(session, now, wanted, passed_over)
                claimed = [timer.id for timer in timers]
                done = _fire_batch(session, timers, routes) if timers else set()
        except Exception:  # noqa: BLE001 - retried one by one below, where each failure is recorded
            if not claimed:
                raise
            log.info("a sweep batch failed; firing its %d timers one by one", len(claimed))
            routes.clear()
            done = {timer_id for timer_id in claimed if _fire_alone(session, timer_id, routes)}
        taken += len(claimed)
        fired += len(done)
        passed_over.update(set(claimed) - done)
        if len(claimed) < wanted:
            break  # no more free due timers
    return fired


# ---- library ---------------------------------------------------------------------------------

def sync_library(session, bpmn_dir, forms_dir, actor_id=None):
    """Record a version for each pathway in the folders whose content is new. Returns
    (created versions, problems); nothing is recorded when there are problems."""
    with as_system(session):
        drafts, problems = catalog.check_folder(bpmn_dir, forms_dir, department_kinds.read(session))
        if problems:
            return [], problems
        return catalog.record_versions(session, drafts, actor_id), []


def _library_with(session, filename, data, bpmn_dir, forms_dir):
    """The whole library as published (files, then every version's files on top) with one file
    replaced by `data`, checked: (drafts, problems)."""
    diagrams, form_texts = catalog.read_folder(bpmn_dir, forms_dir)
    for files in session.scalars(select(ProcessVersion.files).order_by(ProcessVersion.id)):
        diagrams.update({name: text.encode("utf-8") for name, text in files.items()})
    diagrams[f"bpmn/{filename}"] = data
    return catalog.compile_library(diagrams, form_texts, department_kinds.read(session))


def _publish_file(session, actor, filename, data, bpmn_dir, forms_dir):
    drafts, problems = _library_with(session, filename, data, bpmn_dir, forms_dir)
    if problems:
        return [], problems
    return catalog.record_versions(session, drafts, actor.user_id, source="upload"), []


def publish_upload(session, actor, filename, data, bpmn_dir, forms_dir):
    """A designer uploads one .bpmn or .dmn file. It becomes part of a new version only if the
    whole library still validates with it; otherwise nothing changes and the problems come back."""
    with designing(session, actor):
        return _publish_file(session, actor, filename, data, bpmn_dir, forms_dir)


def publish_form(session, actor, key, text, bpmn_dir, forms_dir):
    """A designer's edit of one form: a new version if the whole library still checks with it."""
    with designing(session, actor):
        diagrams, form_texts = catalog.read_folder(bpmn_dir, forms_dir)
        newest = catalog.newest_version(session)
        if newest is not None:
            diagrams.update({name: body.encode("utf-8") for name, body in newest.files.items()})
            form_texts.update({name: json.dumps(definition, ensure_ascii=False) for name, definition in newest.forms.items()})
        form_texts[key] = text
        drafts, problems = catalog.compile_library(diagrams, form_texts, department_kinds.read(session))
        if problems:
            return [], problems
        return catalog.record_versions(session, drafts, actor.user_id, source="upload"), []


# ---- drafts from the modeler ---------------------------------------------------------------------

def save_draft(session, actor, filename, xml):
    """Keep a designer's unpublished edit of one diagram (replacing an earlier draft of it)."""
    with designing(session, actor):
        return _keep_draft(session, actor, filename, xml)


def _keep_draft(session, actor, filename, xml):
    draft = session.scalar(select(DiagramDraft).where(DiagramDraft.filename == filename))
    if draft is None:
        draft = DiagramDraft(filename=filename, xml=xml)
        session.add(draft)
    draft.xml, draft.updated_by, draft.updated_at = xml, actor.user_id, Clock.now()
    return draft


def check_draft(session, actor, filename, xml, bpmn_dir, forms_dir):
    """The problems publishing this draft would meet (XSD, parser, our lint), without publishing."""
    with designing(session, actor, dry_run=True):
        return _library_with(session, filename, xml.encode("utf-8"), bpmn_dir, forms_dir)[1]


def publish_draft(session, actor, filename, bpmn_dir, forms_dir, xml=None):
    """Publish the draft (`xml`, saved first, or the one saved before) as a new version if the
    library validates with it, and the draft goes; all in one transaction. With problems, nothing
    is published and the draft stays saved."""
    with designing(session, actor):
        draft = (_keep_draft(session, actor, filename, xml) if xml is not None else
                 session.scalar(select(DiagramDraft).where(DiagramDraft.filename == filename)))
        if draft is None:
            raise NotFound(filename)
        created, problems = _publish_file(session, actor, filename, draft.xml.encode("utf-8"), bpmn_dir, forms_dir)
        if not problems:
            session.delete(draft)
        return created, problems
