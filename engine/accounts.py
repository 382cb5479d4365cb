"""Logins: checking passwords (with a lock against guessing), administrators managing people,
and API tokens for outside systems."""
import hashlib
import re
import secrets
from datetime import timedelta

from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from .clock import Clock, as_utc
from .errors import NotAllowed, NotFound
from .models import AccountEvent, ApiToken, OrgUnit, User, UserRole
from .policy import ROLES, Actor, may, unit_covers
from .uow import UnitOfWork

USERNAME = re.compile(r"^[a-z][a-z0-9_]{2,29}$")
MIN_PASSWORD = 8


class UserInvalid(Exception):
    def __init__(self, errors):
        super().__init__("invalid user")
        self.errors = errors


MAX_FAILED_LOGINS = 5
LOCK_MINUTES = 15


class LoginRefused(Exception):
    def __init__(self, message, locked=False):
        super().__init__(message)
        self.locked = locked


def authenticate(session, username, password):
    """Check a password. Five failures in a row lock the login for fifteen minutes; the same
    answer is given for an unknown user and a wrong password."""
    with UnitOfWork(session):
        user = session.scalar(select(User).where(User.username == (username or "").strip()))
        now = Clock.now()
        if user is not None and user.locked_until is not None and as_utc(user.locked_until) > now:
            minutes = max(1, int((as_utc(user.locked_until) - now).total_seconds() // 60) + 1)
            raise LoginRefused(f"登录失败次数过多，账户已暂时锁定，请 {minutes} 分钟后再试 / "
                               f"Too many failed attempts: try again in {minutes} minutes", locked=True)
        if user is None or not user.active or not check_password_hash(user.password_hash, password or ""):
            if user is not None:
                user.failed_logins = (user.failed_logins or 0) + 1
                if user.failed_logins >= MAX_FAILED_LOGINS:
                    user.failed_logins, user.locked_until = 0, now + timedelta(minutes=LOCK_MINUTES)
            failure = LoginRefused("用户名或密码不正确 / Wrong user name or password")
        else:
            user.failed_logins, user.locked_until = 0, None
            return user
    raise failure


def account_history(session, actor, limit=100):
    """The latest changes to logins of the actor's unit and the units below it."""
    return session.execute(
        select(AccountEvent, User.username).join(User, User.id == AccountEvent.user_id)
        .join(OrgUnit, OrgUnit.id == User.org_unit_id).where(OrgUnit.path.startswith(actor.unit_path))
        .order_by(AccountEvent.at.desc(), AccountEvent.id.desc()).limit(limit)).all()


def create_api_token(session, username, name):
    """Make a token for an outside system acting as `username`. Returns the token, shown once."""
    with UnitOfWork(session):
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            raise NotFound(username)
        token = "yz_" + secrets.token_urlsafe(32)
        session.add(ApiToken(user_id=user.id, name=name[:100], token_hash=_token_hash(token)))
        session.add(AccountEvent(actor_id=None, actor_name="run.py token", kind="token_created", user_id=user.id,
                                 detail={"name": name[:100]}))
        return token


def _token_hash(token):
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def actor_for_token(session, token):
    """The actor behind a bearer token, or None for an unknown, revoked or disabled one."""
    if not token or not token.startswith("yz_") or len(token) > 100:
        return None
    user = session.scalar(select(User).join(ApiToken, ApiToken.user_id == User.id).where(
        ApiToken.token_hash == _token_hash(token), ApiToken.revoked.is_(False), User.active.is_(True)))
    return Actor.of(user) if user is not None else None


def create_user(session, username, password_hash, display_name, unit_id, roles):
    user = User(username=username, password_hash=password_hash, display_name=display_name, org_unit_id=unit_id)
    user.role_rows = [UserRole(role=r) for r in roles]
    session.add(user)
    return user


def save_user(session, actor, user_id, username, display_name, unit_id, roles, password, active=True):
    """An administrator creates (user_id None) or changes a login, within their own unit and
    the units below it. Errors come back per field as (zh, en) pairs."""
    if not may(actor.roles, "administer"):
        raise NotAllowed("administer")
    with UnitOfWork(session):
        errors = {}
        user = session.get(User, user_id) if user_id else None
        if user_id and (user is None or not unit_covers(actor.unit_path, user.org_unit.path)):
            raise NotFound(user_id)
        if user is None:
            if not USERNAME.match(username or ""):
                errors["username"] = ("用户名须为 3–30 位小写字母、数字或下划线，以字母开头",
                                      "3–30 lower-case letters, digits or _, starting with a letter")
            elif session.scalar(select(User.id).where(User.username == username)):
                errors["username"] = ("该用户名已被使用", "This user name is taken")
        display_name = (display_name or "").strip()
        if not display_name or len(display_name) > 100:
            errors["display_name"] = ("请填写姓名（不超过100字）", "Enter a name (at most 100 characters)")
        unit = session.get(OrgUnit, unit_id) if unit_id else None
        if unit is None or not unit_covers(actor.unit_path, unit.path):
            errors["unit_id"] = ("请选择本单位或下级单位", "Choose your unit or one below it")
        roles = sorted(set(roles or ()))
        if not roles or not set(roles) <= set(ROLES):
            errors["roles"] = ("请至少选择一个角色", "Choose at least one role")
        if (user is None or password) and len(password or "") < MIN_PASSWORD:
            errors["password"] = (f"密码至少 {MIN_PASSWORD} 位", f"At least {MIN_PASSWORD} characters")
        if user is not None and user.id == actor.user_id and (not active or "admin" not in roles):
            errors["roles"] = ("不能停用自己或取消自己的管理员角色", "You cannot disable yourself or drop your own admin role")
        if errors:
            raise UserInvalid(errors)
        if user is None:
            user = create_user(session, username, generate_password_hash(password), display_name, unit.id, roles)
            session.flush()
            kind, changes = "user_created", {"unit": unit.name, "roles": roles, "name": display_name}
        else:
            before = {"unit": user.org_unit.name, "roles": sorted(user.roles), "name": user.display_name,
                      "active": user.active}
            user.display_name, user.org_unit_id, user.active = display_name, unit.id, bool(active)
            if password:
                user.password_hash = generate_password_hash(password)
            user.role_rows = [row for row in user.role_rows if row.role in roles] + [
                UserRole(role=r) for r in roles if r not in user.roles]
            after = {"unit": unit.name, "roles": roles, "name": display_name, "active": bool(active)}
            kind = "user_changed"
            changes = {key: [before[key], after[key]] for key in after if before[key] != after[key]}
            if password:
                changes["password"] = "reset"
        session.add(AccountEvent(actor_id=actor.user_id, actor_name=actor.name, kind=kind, user_id=user.id,
                                 detail=changes))
        session.flush()
        return user
