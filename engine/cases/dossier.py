"""The judicial-confirmation dossier: one PDF the court receives when the parties apply jointly
(the application, the agreement, the parties' identities, the session records and the list of
attachments; what it holds and why: engine/reading/dossier.py).

Rendered on the server with WeasyPrint (HTML and CSS to PDF through Pango, with Debian's
fonts-noto-cjk for the Chinese): a library, in the web process, with no browser to start or keep
alive, and with paged-media CSS (page numbers, a table of contents with page references, tables
that do not split a row). The browser the tests drive (Chromium) would also print a PDF, but it is
a test tool here, not something the server should run.

Kept like any attachment (engine/cases/attachments.py: by SHA-256 in ATTACHMENTS_DIR, purpose
"dossier"), with an event in the case's history naming its SHA-256 and size, in the same
transaction as the step that made the application. Rendering takes a few hundred milliseconds
(the closing note's figures: RENDER_SECONDS), too long to hold a case's row lock, and on SQLite
the database's one write lock: so the dossier is rendered BEFORE the transaction, from what the
case holds then plus what the action will add (the application's date, the consent being given),
and the transaction only checks that the case has not changed since (its audit head) and stores
it. If the case changed meanwhile, it is rendered again (Stale, at most ATTEMPTS times). A dossier
made again (the data corrected) is a new version; every version stays, each in the history."""
import hashlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import jinja2

from sqlalchemy import bindparam, select

from engine.access import rulebook
from engine.cases import attachments
from engine.cases.acting import acting_on_case
from engine.errors import Conflict, NotFound, StepFailed
from engine.library import catalog, forms as formlib
from engine.messages import Msg
from engine.persistence.models import Case, Task
from engine.persistence.states import EventKind, TaskState
from engine.reading import dossier as reading

log = logging.getLogger(__name__)

ATTEMPTS = 3
# Render times in this process, for the closing note and the benchmark (seconds, newest last);
# one process's own figures, which no other process needs.
RENDER_SECONDS = []

_TEMPLATES = jinja2.Environment(loader=jinja2.FileSystemLoader(str(Path(__file__).parent)),
                                autoescape=True, undefined=jinja2.StrictUndefined)


class Stale(Exception):
    """The case changed between reading it for the dossier and locking it: read and render again."""


@dataclass
class Prepared:
    contents: reading.Contents
    pdf: bytes
    sha256: str
    seconds: float

    @property
    def filename(self):
        words = _TEMPLATES.get_template("dossier_words.html").module
        return str(words.filename(self.contents.case_code, self.contents.version))


def html(contents):
    return _TEMPLATES.get_template("dossier.html").render(d=contents)


def render(contents):
    """The dossier's PDF bytes (A4). WeasyPrint is imported here, not at start: it loads Pango,
    which only this needs (make install puts the system libraries there)."""
    try:
        import weasyprint
    except OSError as missing:  # Pango or its fonts are not installed on this machine
        log.error("WeasyPrint cannot load its system libraries: %s", missing)
        raise StepFailed(Msg("The dossier cannot be made on this server: the PDF libraries (Pango) are missing; "
                             "the administrator installs them with make install")) from missing
    return weasyprint.HTML(string=html(contents)).write_pdf()


def prepare(session, case, window, applied=None, pending=None):
    """Read the case and render its dossier, outside any lock."""
    from engine.cases import phone_codes  # the one place that knows what a mobile number is
    mobiles = reading.mobile_parties(session, case.id, lambda phone: phone_codes.mobile(phone) is not None)
    contents = reading.contents(session, case, window, applied=applied, pending=pending, mobiles=mobiles)
    started = time.perf_counter()
    pdf = render(contents)
    seconds = time.perf_counter() - started
    RENDER_SECONDS.append(seconds)
    del RENDER_SECONDS[:-100]
    log.info("dossier of %s rendered in %.0f ms (%d bytes)", case.code, seconds * 1000, len(pdf))
    return Prepared(contents, pdf, hashlib.sha256(pdf).hexdigest(), seconds)


_STEP = (select(Task.state, Task.spec_id, Task.form_key, Case.process_version_id).join(Case, Case.id == Task.case_id)
         .where(Task.id == bindparam("b_task")))


def for_step(session, actor, task_id, post):
    """The dossier that submitting `post` on this step will store, rendered now (no lock held), or
    None when the step makes none: not the application step of its diagram, no application ("no"),
    a form that will be refused anyway, or an actor who may not submit it (nobody else makes the
    server render)."""
    # Most steps make no dossier, and an application step whose parties did not apply makes none:
    # both are told from four columns and the post, without loading the step and case.
    step = session.connection().execute(_STEP, {"b_task": task_id}).first()
    if step is None or step.state != TaskState.READY:
        return None
    version = catalog.version_info(session, step.process_version_id)
    if not version.meta["tasks"].get(step.spec_id, {}).get("dossier"):
        return None
    form = version.form(step.form_key)
    data = formlib.data_from_post(form, post)
    if data.get("applied") != "yes" or formlib.validate(form, data):
        return None
    task = session.get(Task, task_id)
    case = session.get(Case, task.case_id)
    facts = rulebook.CaseFacts(id=case.id, status=case.status, unit_path=case.org_unit.path)
    if rulebook.refusal(actor, "submit", facts, rulebook.step_facts(task, task.org_unit.path)) is not None:
        return None
    return prepare(session, case, task, applied=data)


def still_current(session, act, prepared):
    """Within the action's transaction, with the case locked: raise Stale if anything was added to
    the case's history since it was read for the dossier (read from the row, not from memory)."""
    if head_of(session, act.case.id) != prepared.contents.head:
        raise Stale(act.case.code)


def head_of(session, case_id):
    """The head of the case's history as stored now."""
    return session.scalar(select(Case.audit_head).where(Case.id == case_id)) or ""


def keep(session, act, prepared, why, limits=None):
    """Store the rendered dossier and record it in the case's history (the caller's transaction)."""
    limits = limits or attachments.Limits.default()
    row = attachments.keep(session, attachments.Upload(prepared.filename, prepared.pdf), limits,
                           case_id=act.case.id, uploaded_by=act.actor.user_id, purpose=reading.DOSSIER)
    act.log.add(act.actor, EventKind.DOSSIER_GENERATED, detail={
        "attachment": row.id, "filename": row.filename, "sha256": prepared.sha256, "size": len(prepared.pdf),
        "version": prepared.contents.version, "why": why, "render_ms": round(prepared.seconds * 1000)})
    return row


def regenerate(session, actor, case_id):
    """Make the dossier again from what the case holds now (its data corrected): a new version,
    in the history beside the earlier ones. Only for a case that has had one."""
    for _attempt in range(ATTEMPTS):
        case = session.get(Case, case_id)
        if case is None:
            raise NotFound(case_id)
        # Asked before rendering too, so that nobody else makes the server render.
        rulebook.require(actor, "regenerate_dossier", rulebook.case_facts(session, case))
        meta = catalog.version_info(session, case.process_version_id).meta
        window = reading.window_task(session, case, meta, open_only=False)
        applied, _event = reading.latest_data(session, case.id, {window.spec_id}) if window is not None else ({}, None)
        prepared = prepare(session, case, window, applied=applied)
        try:
            with acting_on_case(session, actor, case_id, "regenerate_dossier") as act:
                still_current(session, act, prepared)
                return keep(session, act, prepared, "regenerated")
        except Stale:
            continue
    raise Conflict(Msg("The case changed while its dossier was being made; submit again"))
