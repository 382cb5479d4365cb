"""Process designers: the pathways and their versions, validation, upload, diagram view."""
import json
import re
from pathlib import Path

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _, ngettext
from sqlalchemy import select

from engine.library import catalog, form_options, forms as formlib
from engine.cases import migration, services
from engine.reading import queries
from engine.persistence.models import DiagramDraft, ProcessVersion
from engine.access import department_kinds
from engine.access.policy import ROLES

from .auth import current_actor, requires
from .csv_export import xml_attachment
from .extensions import db
from .i18n import authored

bp = Blueprint("designer", __name__, url_prefix="/designer")

SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,80}\.(bpmn|dmn)$")


def _render_index(problems=None, uploaded=None, status=200):
    versions = queries.versions(db.session)
    _drafts, folder_problems = catalog.check_folder(current_app.config["BPMN_DIR"], current_app.config["FORMS_DIR"],
                                                    department_kinds.read(db.session))
    counts = queries.version_case_counts(db.session, current_actor().unit_path)
    return render_template("designer/library.html", versions=versions, counts=counts,
                           folder_problems=folder_problems, problems=problems, uploaded=uploaded), status


@bp.route("/")
@requires("design")
def index():
    return _render_index()


@bp.route("/upload", methods=["POST"])
@requires("design")
def upload():
    file = request.files.get("diagram")
    if file is None or not file.filename:
        return _render_index([_("Choose a .bpmn or .dmn file to upload")], status=422)
    name = file.filename.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    if not SAFE_NAME.match(name):
        return _render_index([_("The file name may hold letters, digits, _ . - and must end in .bpmn or .dmn")],
                             uploaded=name, status=422)
    created, problems = services.publish_upload(db.session, current_actor(), name, file.read(),
                                                current_app.config["BPMN_DIR"], current_app.config["FORMS_DIR"])
    if problems:
        return _render_index([str(p) for p in problems], uploaded=name, status=422)
    if created:
        flash(_("Published: %(versions)s", versions=", ".join(f"{v.process_key} v{v.id}" for v in created)), "success")
    else:
        flash(_("Same content as an existing version: nothing new to publish"), "info")
    return redirect(url_for("designer.index"))


def _version(version_id):
    version = db.session.get(ProcessVersion, version_id)
    if version is None:
        abort(404)
    return version


@bp.route("/versions/<int:version_id>")
@requires("design")
def version(version_id):
    found = _version(version_id)
    diagrams = sorted(((p["file"], key, p["name"]) for key, p in found.meta.get("processes", {}).items()),
                      key=lambda d: (d[1] != found.process_key, d[0]))
    shown = request.args.get("file")
    if shown not in found.files:
        shown = catalog.diagram_file(found.meta, found.process_key) or next(
            (name for name in found.files if name.endswith(".bpmn")), None)
    return render_template("designer/version.html", version=found, main_file=shown, diagrams=diagrams, roles=ROLES,
                           departments=department_kinds.read(db.session).labels())


@bp.route("/versions/<int:version_id>/files/<path:name>")
@requires("design")
def version_file(version_id, name):
    found = _version(version_id)
    if name not in found.files:
        abort(404)
    return xml_attachment(found.files[name], name)


@bp.route("/versions/<int:version_id>/migrate", methods=["GET", "POST"])
@requires("design")
def migrate(version_id):
    """Step one, a dry run: every running case of the pathway on another version, whether it can
    move here and why not. Step two (POST): move the cases chosen."""
    actor = current_actor()
    if request.method == "POST":
        chosen = request.form.getlist("case_id", type=int)
        moved, refused = migration.migrate(db.session, actor, version_id, chosen)
        if moved:
            flash(ngettext("%(num)d running case moved to v%(version)s", "%(num)d running cases moved to v%(version)s",
                           len(moved), version=version_id), "success")
        if refused:
            flash(_("%(n)d could not move; see why below", n=len(refused)), "error")
        return redirect(url_for("designer.migrate", version_id=version_id))
    target, plans = migration.dry_run(db.session, actor, version_id)
    return render_template("designer/migrate.html", target=target, plans=plans)


@bp.route("/compare")
@requires("design")
def compare():
    """Two versions side by side: the steps and flows added, removed and changed."""
    old_id, new_id = request.args.get("a", type=int), request.args.get("b", type=int)
    old, new = _version(old_id), _version(new_id)
    return render_template("designer/compare.html", old=old, new=new, diff=catalog.compare(old, new))


# ---- the modeler: edit a diagram, save a draft, check it, publish it ----------------------------

def _bpmn_dir():
    return current_app.config["BPMN_DIR"]


def _forms_dir():
    return current_app.config["FORMS_DIR"]


_DIAGRAM_FILE = re.compile(r"^[A-Za-z0-9_.-]+\.(bpmn|dmn)$")


def _diagram_name(filename):
    if not _DIAGRAM_FILE.match(filename or ""):
        abort(404)
    return filename


def _published_text(filename, newest=None):
    newest = newest or catalog.newest_version(db.session)
    text = newest.files.get(f"bpmn/{filename}") if newest else None
    if text is None:
        abort(404)
    return text


@bp.route("/edit/<filename>")
@requires("design")
def edit(filename):
    filename = _diagram_name(filename)
    newest = catalog.newest_version(db.session)
    _published_text(filename, newest)  # 404 for a file the library does not have
    draft = db.session.scalar(select(DiagramDraft).where(DiagramDraft.filename == filename))
    files = sorted(Path(n).name for n in newest.files)
    # A decision table (triage) opens in dmn-js's table editor, a diagram in the BPMN modeler.
    template = "designer/dmn.html" if filename.endswith(".dmn") else "designer/edit.html"
    # The modeler's department list: the registry's active kinds, by code, in the reader's language.
    departments = [[kind.code, authored(kind.labels)] for kind in department_kinds.read(db.session).active()]
    services = [[code, _(name)] for code, name in department_kinds.SERVICES.items()]
    return render_template(template, filename=filename, draft=draft, forms=sorted(newest.forms),
                           departments=departments, services=services,
                           diagrams=[f for f in files if f.endswith(".bpmn")], tables=[f for f in files if f.endswith(".dmn")])


@bp.route("/edit/<filename>/source")
@requires("design")
def edit_source(filename):
    """The draft if there is one, else the newest published text."""
    filename = _diagram_name(filename)
    draft = db.session.scalar(select(DiagramDraft).where(DiagramDraft.filename == filename))
    text = draft.xml if draft else _published_text(filename)
    return xml_attachment(text, filename)


def _posted_xml():
    xml = request.form.get("xml", "")
    if not xml.strip() or len(xml) > 2_000_000:
        abort(400)
    return xml


@bp.route("/edit/<filename>/draft", methods=["POST"])
@requires("design")
def edit_draft(filename):
    filename = _diagram_name(filename)
    services.save_draft(db.session, current_actor(), filename, _posted_xml())
    return jsonify(message=_("Draft saved (not published)"), problems=[])


@bp.route("/edit/<filename>/check", methods=["POST"])
@requires("design")
def edit_check(filename):
    filename = _diagram_name(filename)
    problems = services.check_draft(db.session, current_actor(), filename, _posted_xml(), _bpmn_dir(), _forms_dir())
    return jsonify(problems=[str(p) for p in problems],
                   message=_("Valid: it can be published"))


@bp.route("/edit/<filename>/publish", methods=["POST"])
@requires("design")
def edit_publish(filename):
    filename = _diagram_name(filename)
    created, problems = services.publish_draft(db.session, current_actor(), filename, _bpmn_dir(), _forms_dir(),
                                               xml=_posted_xml())
    if problems:
        return jsonify(problems=[str(p) for p in problems]), 422
    if not created:
        return jsonify(problems=[], message=_("Same content as a published version: nothing new"))
    version = created[0]
    return jsonify(problems=[], version=version.id,
                   message=_("Published: %(versions)s", versions=f"{version.process_key} v{version.id}"))


# ---- forms: JSON with a live preview ------------------------------------------------------------

_FORM_FILE = re.compile(r"^[A-Za-z0-9_-]+\.json$")


def _form_text(key):
    if not _FORM_FILE.match(key or ""):
        abort(404)
    newest = catalog.newest_version(db.session)
    if newest is not None and key in newest.forms:
        return json.dumps(newest.forms[key], ensure_ascii=False, indent=2)
    path = Path(_forms_dir()) / key
    if not path.exists():
        abort(404)
    return path.read_text(encoding="utf-8")


@bp.route("/forms/<key>")
@requires("design")
def form_edit(key):
    newest = catalog.newest_version(db.session)
    return render_template("designer/form.html", key=key, text=_form_text(key),
                           keys=sorted(newest.forms) if newest else [])


@bp.route("/forms/<key>/preview", methods=["POST"])
@requires("design")
def form_preview(key):
    """The form as a clerk would see it, or where its JSON is wrong (line and message)."""
    _form_text(key)
    try:
        form = formlib.FormDef(key, form_options.fill(formlib.parse_form(key, request.form.get("text", "")).definition,
                                                      department_kinds.read(db.session)))
    except formlib.FormDefinitionError as exc:
        return jsonify(problems=[f"forms/{key}:{exc.line}: {exc}"], html="")
    return jsonify(problems=[], html=render_template("designer/_form_preview.html", form=form))


@bp.route("/forms/<key>/publish", methods=["POST"])
@requires("design")
def form_publish(key):
    _form_text(key)
    created, problems = services.publish_form(db.session, current_actor(), key, request.form.get("text", ""),
                                              _bpmn_dir(), _forms_dir())
    if problems:
        return jsonify(problems=[str(p) for p in problems]), 422
    if not created:
        return jsonify(problems=[], message=_("Same content as a published version: nothing new"))
    return jsonify(problems=[], message=_("Published: %(versions)s", versions=f"v{created[0].id}"))
