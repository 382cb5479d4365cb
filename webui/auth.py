"""Log in and out, one's own password, language switch, the role guard every view uses, and
the one check every redirect taken from the request goes through."""
import re
import unicodedata
from functools import wraps
from urllib.parse import unquote, urlsplit

from flask import Blueprint, abort, flash, g, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user
from flask_babel import gettext as _
from engine.access import accounts
from engine.persistence.models import User
from engine.access.policy import Actor, allowed

from .extensions import db, login_manager
from .i18n import LANGS, say

bp = Blueprint("auth", __name__)


@login_manager.user_loader
def load_user(login_id):
    """The session holds "id:epoch"; a session from before the login's epoch last moved (log-out,
    new password, changed roles, unit or state) is no longer anyone's."""
    user_id, _sep, epoch = login_id.partition(":")
    if not user_id.isdigit() or not epoch.isdigit():
        return None
    user = accounts.signed_in(db.session, int(user_id))
    if user is None or not user.active or int(epoch) != (user.session_epoch or 0):
        return None
    return user


def current_actor():
    if "actor" not in g:
        g.actor = Actor.of(current_user)
    return g.actor


def requires(action):
    """Log-in required, and one of the roles allowed to do `action`; 403 otherwise."""
    def decorate(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if not allowed(current_actor(), action):
                abort(403)
            return view(*args, **kwargs)
        return wrapped
    return decorate


# Anything a browser could read as leaving the site: control characters and spaces (dropped or
# refused on the way into a header, "/\t/host" becomes "//host"), and backslashes ("/\\host").
_UNSAFE = re.compile(r"[\x00-\x20\x7f-\x9f\\]")


def safe_next(target):
    """Where to go back to after an action, from user input (?next=, a form's next): a path on
    this site, judged on the text as sent and on its percent-decoded and NFKC-normalised path,
    or else the start page. Every redirect built from the request goes through here."""
    home = url_for("home.index")
    if not target or len(target) > 2000 or _UNSAFE.search(target):
        return home
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return home
    path, forms = parts.path, [target]
    for _round in range(4):  # as sent, then decoded up to three times
        forms += [path, unicodedata.normalize("NFKC", path)]
        path = unquote(path)
    return target if all(f.startswith("/") and not f.startswith("//") and not _UNSAFE.search(f) for f in forms) else home


@bp.route("/login", methods=["GET", "POST"])
def login():
    error, status, headers = None, 200, {}
    if request.method == "POST":
        try:
            user = accounts.authenticate(db.session, request.form.get("username", "")[:60],
                                         request.form.get("password", "")[:200], request.remote_addr)
        except accounts.LoginRefused as refused:
            error, status = say(refused), 429 if refused.blocked else 401
            if refused.wait:
                headers["Retry-After"] = str(refused.wait)
        else:
            login_user(user)
            session.permanent = True
            return redirect(safe_next(request.args.get("next")))
    return render_template("auth/login.html", error=error), status, headers


@bp.route("/logout", methods=["POST"])
def logout():
    """Ends every session of this login, on every device, and any saved copy of its cookie."""
    if current_user.is_authenticated:
        accounts.end_sessions(db.session, current_user.id)
    logout_user()
    flash(_("You are logged out"), "info")
    return redirect(url_for("auth.login"))


@bp.route("/password", methods=["GET", "POST"])
@login_required
def password():
    """Change one's own password; every other session of the login ends, this one goes on."""
    errors, status = {}, 200
    if request.method == "POST":
        form = request.form
        try:
            user = accounts.change_own_password(db.session, current_user.id, form.get("current", "")[:200],
                                                form.get("new", "")[:200], form.get("repeat", "")[:200],
                                                request.remote_addr)
        except accounts.UserInvalid as invalid:
            errors, status = {key: say(why) for key, why in invalid.errors.items()}, 422
        else:
            login_user(user)
            session.permanent = True
            flash(_("Password changed; you are logged out everywhere else"), "success")
            return redirect(url_for("home.index"))
    return render_template("auth/password.html", errors=errors), status


@bp.route("/lang/<code>", methods=["POST"])
def set_lang(code):
    if code in LANGS:
        session["lang"] = code
    return redirect(safe_next(request.form.get("next")))
