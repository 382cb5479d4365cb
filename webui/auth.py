"""Log in and out, language switch, and the role guard every view uses."""
from functools import wraps

from flask import Blueprint, abort, flash, g, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user
from engine import accounts
from engine.models import User
from engine.policy import Actor, may

from .extensions import db, login_manager
from .i18n import LANGS, pick, t

bp = Blueprint("auth", __name__)


@login_manager.user_loader
def load_user(user_id):
    user = db.session.get(User, int(user_id))
    return user if user is not None and user.active else None


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
            if not may(current_actor().roles, action):
                abort(403)
            return view(*args, **kwargs)
        return wrapped
    return decorate


def _safe_next(target):
    """Only a path on this site: "//host" and "/\\host" would send the browser elsewhere."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("home.index")


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    if request.method == "POST":
        try:
            user = accounts.authenticate(db.session, request.form.get("username", "")[:60],
                                         request.form.get("password", "")[:200])
        except accounts.LoginRefused as refused:
            error = pick(str(refused).split(" / ", 1))
        else:
            login_user(user)
            session.permanent = True
            return redirect(_safe_next(request.args.get("next")))
    return render_template("login.html", error=error), (401 if error else 200)


@bp.route("/logout", methods=["POST"])
def logout():
    logout_user()
    flash(t("已退出登录", "You are logged out"), "info")
    return redirect(url_for("auth.login"))


@bp.route("/lang/<code>", methods=["POST"])
def set_lang(code):
    if code in LANGS:
        session["lang"] = code
    return redirect(_safe_next(request.form.get("next")))
