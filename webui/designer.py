"""Process designers: the pathways and their versions, validation, upload, diagram view."""
import re

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for

from engine import catalog, migration, queries, services
from engine.models import ProcessVersion
from engine.policy import DEPARTMENTS, ROLES

from .auth import current_actor, requires
from .extensions import db
from .i18n import t

bp = Blueprint("designer", __name__, url_prefix="/designer")

SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,80}\.(bpmn|dmn)$")


def _render_index(problems=None, uploaded=None, status=200):
    versions = queries.versions(db.session)
    _drafts, folder_problems = catalog.check_folder(current_app.config["BPMN_DIR"], current_app.config["FORMS_DIR"])
    return render_template("designer.html", versions=versions, counts=queries.version_case_counts(db.session),
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
        return _render_index([t("请选择要上传的 .bpmn 或 .dmn 文件", "Choose a .bpmn or .dmn file to upload")], status=422)
    name = file.filename.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    if not SAFE_NAME.match(name):
        return _render_index([t("文件名只能包含字母、数字、下划线、点和连字符，并以 .bpmn 或 .dmn 结尾",
                                "The file name may hold letters, digits, _ . - and must end in .bpmn or .dmn")],
                             uploaded=name, status=422)
    created, problems = services.publish_upload(db.session, current_actor(), name, file.read(),
                                                current_app.config["BPMN_DIR"], current_app.config["FORMS_DIR"])
    if problems:
        return _render_index([str(p) for p in problems], uploaded=name, status=422)
    if created:
        flash(t(f"已发布新版本：{', '.join(f'{v.process_key} v{v.id}' for v in created)}",
                f"Published: {', '.join(f'{v.process_key} v{v.id}' for v in created)}"), "success")
    else:
        flash(t("内容与现有版本相同，未产生新版本", "Same content as an existing version: nothing new to publish"), "info")
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
    return render_template("designer_version.html", version=found, main_file=shown, diagrams=diagrams, roles=ROLES,
                           departments=DEPARTMENTS)


@bp.route("/versions/<int:version_id>/files/<path:name>")
@requires("design")
def version_file(version_id, name):
    found = _version(version_id)
    if name not in found.files:
        abort(404)
    # An attachment, never rendered as a page: an uploaded file could carry XHTML markup.
    return Response(found.files[name], mimetype="application/xml",
                    headers={"Content-Disposition": f'attachment; filename="{name.rsplit("/", 1)[-1]}"'})


@bp.route("/versions/<int:version_id>/migrate", methods=["GET", "POST"])
@requires("design")
def migrate(version_id):
    """Step one, a dry run: every running case of the pathway on another version, whether it can
    move here and why not. Step two (POST): move the cases chosen."""
    actor = current_actor()
    if request.method == "POST":
        chosen = [int(v) for v in request.form.getlist("case_id") if v.isdigit()]
        moved, refused = migration.migrate(db.session, actor, version_id, chosen)
        if moved:
            flash(t(f"已迁移 {len(moved)} 件在办案件到 v{version_id}", f"{len(moved)} running case(s) moved to v{version_id}"),
                  "success")
        if refused:
            flash(t(f"{len(refused)} 件未能迁移，原因见下表", f"{len(refused)} could not move; see why below"), "error")
        return redirect(url_for("designer.migrate", version_id=version_id))
    target, plans = migration.dry_run(db.session, actor, version_id)
    return render_template("designer_migrate.html", target=target, plans=plans)


@bp.route("/compare")
@requires("design")
def compare():
    """Two versions side by side: the steps and flows added, removed and changed."""
    old_id, new_id = request.args.get("a", type=int), request.args.get("b", type=int)
    old, new = _version(old_id), _version(new_id)
    return render_template("designer_compare.html", old=old, new=new, diff=catalog.compare(old, new))
