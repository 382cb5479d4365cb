"""Residents file a matter from their phone through a unit's QR code (no login), and staff print
each unit's poster with that code.

The filing page is one form that comes back with everything typed, the files already sent kept
(pending attachments named in a signed token bound to the browser's session) and the errors
beside the fields, whatever was wrong. "Send code" and "Submit" are two buttons of the same form,
so asking for the one-time code loses nothing either.

Throttles: sending codes is limited per phone and per address by counting phone_codes rows
(engine/cases/phone_codes.py: the database, so every web process shares it); guessing a code is
limited by its five tries. The page's own posts and the files it keeps are limited per address
(PAGE_POSTS, FILES_PER_ADDRESS: engine/cases/client_limits.py, in the database too), which
bounds the upload work one client can cause."""
import secrets

from flask import (
    Blueprint, abort, current_app, redirect, render_template, request, session, url_for,
)
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from itsdangerous import BadData, URLSafeTimedSerializer
from markupsafe import Markup

import segno
from engine.access.policy import LEVELS, mask_phone, unit_covers
from engine.cases import attachments, client_limits, phone_codes, submissions
from engine.errors import FormInvalid, Throttled
from engine.persistence.models import OrgUnit
from engine.persistence.uow import retrying_busy

from .auth import current_actor, requires
from .extensions import csrf, db
from .guard import takes_uploads
from .i18n import say

bp = Blueprint("resident", __name__)

PAGE_POSTS = client_limits.PAGE_POSTS
FILES_PER_ADDRESS = client_limits.FILES
OTHERS = 3  # rows for the other side on the form
KEPT_HOURS = 24  # pending files are forgotten after a day (attachments.forget_pending)


def limits():
    return attachments.Limits.from_config(current_app.config)


def client_address():
    # With YIZHAN_PROXIES set, ProxyFix has already put the client's own address here.
    return request.remote_addr or "?"


def public_url(endpoint, **values):
    """The address printed on a poster: PUBLIC_BASE_URL and the path, never the Host header a
    browser sent (None when PUBLIC_BASE_URL is not set)."""
    base = (current_app.config.get("PUBLIC_BASE_URL") or "").rstrip("/")
    return base + url_for(endpoint, **values) if base else None


# ---- the filing page ---------------------------------------------------------------------------

def _room_for_uploads():
    """The filing form carries photos: its requests may be as large as its files allow (the
    rest of the site keeps MAX_CONTENT_LENGTH)."""
    kept = limits()
    return kept.max_files * kept.max_bytes + 1024 * 1024


def _typed(form):
    """What the resident typed, as text. A text over its limit comes back whole with the error
    (never cut); only what is far beyond any limit is bounded, so nothing huge is echoed back."""
    def text(name, limit=20000):
        value = form.get(name, "")
        return value[:limit] if isinstance(value, str) else ""
    return {
        "choice": text("choice", 40), "summary": text("summary"), "place": text("place", 2000),
        "claims": text("claims"), "name": text("name", 2000), "phone": text("phone", 40), "code": text("code", 20),
        "others": [{"name": text(f"other-{i}-name", 2000), "phone": text(f"other-{i}-phone", 40)} for i in range(OTHERS)],
    }


def _serializer():
    return URLSafeTimedSerializer(current_app.secret_key, salt="resident-attachments")


def _nonce():
    """Binds the files a form holds to this browser's session: a token copied elsewhere is void."""
    if "resident_nonce" not in session:
        session["resident_nonce"] = secrets.token_urlsafe(12)
    return session["resident_nonce"]


def _sign(ids):
    return _serializer().dumps({"ids": [int(i) for i in ids], "n": _nonce()}) if ids else ""


def _unsigned(token):
    if not token or not isinstance(token, str) or len(token) > 2000:
        return []
    try:
        payload = _serializer().loads(token, max_age=KEPT_HOURS * 3600)
    except BadData:
        return []
    if not isinstance(payload, dict) or payload.get("n") != session.get("resident_nonce"):
        return []
    return [i for i in payload.get("ids", []) if isinstance(i, int) and not isinstance(i, bool)][:50]


def _held_files(form):
    """The files kept from earlier posts of this form, less those the resident removed."""
    dropped = {value for value in form.getlist("drop") if value.isdigit()}
    ids = [i for i in _unsigned(form.get("kept")) if str(i) not in dropped]
    return attachments.pending(db.session, ids)


def _uploads(files, kept):
    """The files chosen this time (a file input left empty sends one nameless part)."""
    # One byte past the limit is enough to know a file is too large.
    return [attachments.Upload(part.filename or "", part.stream.read(kept.max_bytes + 1))
            for part in files.getlist("files") if part.filename][:kept.max_files + 5]


def _page(unit, typed, held=(), errors=None, status=200, notice=None, code_sent=None, retry_after=None):
    response = current_app.make_response((render_template(
        "resident/file.html", unit=unit, typed=typed, held=list(held), token=_sign([row.id for row in held]),
        errors=errors or {}, notice=notice, code_sent=code_sent, kinds=submissions.RESIDENT_KINDS,
        limits=limits(), others=OTHERS), status))
    if retry_after:
        response.headers["Retry-After"] = str(retry_after)
    return response


def _field(key):
    """The form's field an engine error key belongs to."""
    if key in ("kind", "category"):
        return "choice"
    if key.startswith("parties-"):
        _, index, name = (key.split("-") + ["", ""])[:3]
        if index == "0":
            return "name" if name == "name" else "phone"
        if index.isdigit():
            return f"other-{int(index) - 1}-{name or 'name'}"
        return "name"
    if key == "phone_code":
        return "code"
    if key == "attachments":
        return "files"
    return key


def _errors(engine_errors):
    found = {}
    for key, why in engine_errors.items():
        found.setdefault(_field(key), say(why))
    return found


def _submission_input(typed):
    kind = submissions.resident_kind(typed["choice"])
    facts = {"kind": kind[0] if kind else None, "category": kind[1] if kind else None,
             "summary": typed["summary"], "place": typed["place"], "claims": typed["claims"]}
    parties = [{"role": "applicant", "name": typed["name"], "phone": typed["phone"]}]
    parties += [{"role": "respondent", "name": other["name"], "phone": other["phone"]} for other in typed["others"]]
    return facts, parties


@bp.route("/r/<unit_code>", methods=["GET", "POST"])
@takes_uploads(_room_for_uploads)
@csrf.exempt  # checked below, so an expired page comes back with what was typed instead of a bare 400
def file(unit_code):
    unit = submissions.filing_unit(db.session, unit_code)
    if unit is None:
        abort(404)
    if request.method == "GET":
        return _page(unit, _typed({}))
    # A body over the limit was refused (413) by the guard that reads every form first.
    form, files = request.form, request.files
    typed = _typed(form)
    if not retrying_busy(lambda: client_limits.allow(db.session, PAGE_POSTS, client_address())):
        return _page(unit, typed, errors={"_form": _("Too many tries from this network; wait ten minutes and "
                                                     "submit again. What you typed is still here.")},
                     status=429, retry_after=600)
    try:
        if current_app.config.get("WTF_CSRF_ENABLED", True):
            csrf.protect()
    except CSRFError:
        return _page(unit, typed, errors={"_form": _("The page had expired. Check what you typed and choose the "
                                                     "photos again, then submit.")}, status=400)
    return _post(unit, typed, form, files)


def _post(unit, typed, form, files):
    kept = limits()
    held = _held_files(form)
    uploads = _uploads(files, kept)
    errors = {}
    allowed = uploads[:retrying_busy(lambda: client_limits.take(db.session, FILES_PER_ADDRESS, client_address(),
                                                                 len(uploads)))] if uploads else []
    if len(allowed) < len(uploads):
        errors["files"] = _("Too many files from this network in the last hour; %(n)s were not kept. Try again "
                            "later, or submit without them.", n=len(uploads) - len(allowed))
    uploads = allowed
    if uploads:
        new, refused = retrying_busy(lambda: attachments.keep_pending(db.session, uploads, kept, already=len(held)))
        held = held + new
        if refused:
            errors["files"] = " ".join([errors.get("files", "")] + [say(why) for _name, why in refused]).strip()
    if form.get("action") == "send_code":
        return _send_code(unit, typed, held, errors)
    facts, parties = _submission_input(typed)
    if errors:  # a refused file: the resident meant to send it, so nothing is filed yet
        _data, problems = submissions.validate(submissions.RESIDENT, facts, parties, typed["phone"])
        return _page(unit, typed, held, {**_errors(problems), **errors}, status=422)
    try:
        filed = retrying_busy(lambda: submissions.file_submission(
            db.session, unit, submissions.RESIDENT, facts, parties, phone=typed["phone"], phone_code=typed["code"],
            attachments=[row.id for row in held], limits=kept))
    except FormInvalid as invalid:
        held = attachments.pending(db.session, invalid.data.get("attachments", []))
        return _page(unit, typed, held, _errors(invalid.errors), status=422)
    session["filed"] = {"code": filed.code, "unit": unit.code, "phone": mask_phone(filed.phone),
                        "files": len(held)}
    return redirect(url_for("resident.filed"))


def _send_code(unit, typed, held, errors):
    try:
        expires = retrying_busy(lambda: phone_codes.send_code(db.session, typed["phone"], client_address()))
    except Throttled as throttled:
        return _page(unit, typed, held, {**errors, "phone": say(throttled)}, status=429,
                     retry_after=throttled.retry_after)
    except FormInvalid as invalid:
        return _page(unit, typed, held, {**errors, **_errors(invalid.errors)}, status=422)
    return _page(unit, typed, held, errors, code_sent={"phone": mask_phone(phone_codes.mobile(typed["phone"])),
                                                       "minutes": int(phone_codes.CODE_TTL.total_seconds() // 60),
                                                       "expires": expires})


@bp.route("/report/received")
def filed():
    """After filing: the reference to keep and how to follow it (kept in the browser's session,
    so a reload shows it again and nobody else's can be looked at)."""
    done = session.get("filed")
    if not isinstance(done, dict) or "code" not in done:
        return redirect(url_for("public.follow"))
    unit = db.session.scalar(db.select(OrgUnit).where(OrgUnit.code == done.get("unit")))
    return render_template("resident/filed.html", done=done, unit=unit)


# ---- posters -----------------------------------------------------------------------------------

def _poster_unit(unit_code):
    unit = submissions.filing_unit(db.session, unit_code)
    if unit is None or not unit_covers(current_actor().unit_path, unit.path):
        abort(404)
    return unit


def _poster(unit):
    address = public_url("resident.file", unit_code=unit.code)
    svg = None
    if address:
        # segno's SVG holds only its own path data; the address is ours (a unit code of
        # [A-Za-z0-9_-] behind the configured base URL).
        svg = Markup(segno.make(address, error="m").svg_inline(omitsize=True, border=2, dark="#000"))
    chain = []
    node = unit
    while node is not None:
        chain.append(node)
        node = node.parent
    return {"unit": unit, "address": address, "svg": svg, "chain": list(reversed(chain))}


@bp.route("/posters")
@requires("print_posters")
def posters():
    units = submissions.filing_units(db.session, current_actor().unit_path)
    return render_template("resident/posters.html", units=units, levels=LEVELS,
                           base_set=bool(current_app.config.get("PUBLIC_BASE_URL")),
                           addresses={unit.id: public_url("resident.file", unit_code=unit.code) for unit in units})


@bp.route("/posters/all")
@requires("print_posters")
def posters_all():
    units = submissions.filing_units(db.session, current_actor().unit_path)
    return render_template("resident/poster.html", posters=[_poster(unit) for unit in units])


@bp.route("/posters/<unit_code>")
@requires("print_posters")
def poster(unit_code):
    return render_template("resident/poster.html", posters=[_poster(_poster_unit(unit_code))])
