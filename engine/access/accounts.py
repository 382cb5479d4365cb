"""Logins: checking passwords (slowed down against guessing), ending sessions, administrators
managing people within their scope, and API tokens for outside systems."""
import hashlib
import re
import secrets
from contextlib import contextmanager
from urllib.parse import urlsplit

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import joinedload, object_session

from engine.access import login_throttle, passwords
from engine.legaltime.clock import Clock
from engine.errors import NotAllowed, NotFound
from engine.messages import Msg
from engine.persistence.models import AccountEvent, ApiToken, CallbackEndpoint, Grid, OrgUnit, User, UserRole
from engine.access.policy import GRID_LEVELS, GRID_ROLES, ROLES, Actor, may, may_change_login, may_grant, unit_covers
from engine.persistence.uow import UnitOfWork

USERNAME = re.compile(r"^[a-z][a-z0-9_]{2,29}$")
MIN_PASSWORD = 8


class UserInvalid(Exception):
    def __init__(self, errors):
        super().__init__("invalid user")
        self.errors = errors


WRONG = Msg("Wrong user name or password")


class LoginRefused(Exception):
    def __init__(self, message, wait=0, blocked=False):
        super().__init__(message)
        self.wait = wait          # seconds before this name may be tried again from this address
        self.blocked = blocked    # refused without looking at the password


def authenticate(session, username, password, address=None):
    """Check a password typed at `address` (the client's). Every refusal reads the same for an
    unknown login, a disabled one and a wrong password, and costs the same hash check; repeated
    failures slow down this name at this address (login_throttle), never the login elsewhere.
    A correct password under an older hash is hashed again with argon2id."""
    username = (username or "").strip()
    with UnitOfWork(session):
        now = Clock.now()
        wait = login_throttle.wait_seconds(session, username, address, now)
        if wait:
            raise LoginRefused(Msg("Too many attempts: try again in %(wait)s seconds", wait=wait),
                               wait, blocked=True)
        user = session.scalar(select(User).where(User.username == username)) if username else None
        usable = user is not None and user.active
        matches, rehash = passwords.verify(user.password_hash if usable else None, password or "")
        if matches:
            login_throttle.succeeded(session, username, address)
            if rehash:
                user.password_hash = passwords.hash_password(password)
            return user
        wait = login_throttle.failed(session, username, address, now)
    if wait:
        raise LoginRefused(Msg("Wrong user name or password: try again in %(wait)s seconds", wait=wait), wait)
    raise LoginRefused(WRONG)


def end_sessions(session, user_id):
    """Every session of this login ends (logging out ends them all, on every device)."""
    with UnitOfWork(session):
        session.execute(update(User).where(User.id == user_id).values(session_epoch=User.session_epoch + 1))


def change_own_password(session, user_id, current, new, repeat, address=None):
    """A person changes their own password; their other sessions end. Errors as save_user's.
    Wrong current passwords count against the login at this address like failed log-ins, so a
    stolen session cannot be used to guess the password."""
    errors = {}
    with UnitOfWork(session):
        user = session.get(User, user_id)
        if user is None:
            raise NotFound(user_id)
        wait = login_throttle.wait_seconds(session, user.username, address)
        if wait:
            errors["current"] = Msg("Too many attempts: try again in %(wait)s seconds", wait=wait)
        elif not passwords.verify(user.password_hash, current or "")[0]:
            errors["current"] = Msg("The current password is wrong")
            login_throttle.failed(session, user.username, address)
        if len(new or "") < MIN_PASSWORD:
            errors["new"] = Msg("At least %(n)s characters", n=MIN_PASSWORD)
        elif new != repeat:
            errors["repeat"] = Msg("The two new passwords differ")
        if not errors:
            user.password_hash = passwords.hash_password(new)
            user.session_epoch = (user.session_epoch or 0) + 1
            session.add(AccountEvent(actor_id=user.id, actor_name=user.display_name, kind="password_changed",
                                     user_id=user.id, detail={}))
    if errors:
        raise UserInvalid(errors)
    return user


def account_history(session, actor, limit=100):
    """The latest changes to logins of the actor's unit and the units below it."""
    return session.execute(
        select(AccountEvent, User.username).join(User, User.id == AccountEvent.user_id)
        .join(OrgUnit, OrgUnit.id == User.org_unit_id).where(OrgUnit.path.startswith(actor.unit_path))
        .order_by(AccountEvent.at.desc(), AccountEvent.id.desc()).limit(limit)).all()


@contextmanager
def administering(session, actor, also=None):
    """One administrator's change that is no login's (the department registry): the policy's
    "administer" (and `also(actor)` where the change reaches beyond their units), then one
    transaction."""
    if not may(actor.roles, "administer") or (also is not None and not also(actor)):
        raise NotAllowed("administer")
    with UnitOfWork(session):
        yield


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


# Built once (building it took longer than running it), the login bound on each request.
_SIGNED_IN = (select(User).options(joinedload(User.org_unit), joinedload(User.role_rows))
              .where(User.id == bindparam("b_user")))


def signed_in(session, user_id):
    """A login with its unit and roles, in one query (read on every request: an administrator may
    change any of them, and the session epoch says whether the login still holds), or None."""
    return session.execute(_SIGNED_IN, {"b_user": user_id}).unique().scalar_one_or_none()


def actor_for_token(session, token):
    """The actor behind a bearer token, or None for an unknown, revoked or disabled one."""
    if not token or not token.startswith("yz_") or len(token) > 100:
        return None
    user = session.scalar(select(User).join(ApiToken, ApiToken.user_id == User.id).where(
        ApiToken.token_hash == _token_hash(token), ApiToken.revoked.is_(False), User.active.is_(True)))
    return Actor.of(user) if user is not None else None


def create_user(session, username, password_hash, display_name, unit_id, roles, grid_id=None):
    user = User(username=username, password_hash=password_hash, display_name=display_name, org_unit_id=unit_id,
                grid_id=grid_id)
    user.role_rows = [UserRole(role=r) for r in roles]
    session.add(user)
    return user


def save_user(session, actor, user_id, username, display_name, unit_id, roles, password, active=True, grid_id=None):
    """An administrator creates (user_id None) or changes a login, within their own unit and
    the units below it, granting only what policy.may_grant allows them (the README's rule).
    A grid worker needs `grid_id`, a grid of the login's own unit; a login without the role keeps
    no grid. Errors come back per field as messages. A change of password, roles, unit, grid or
    state ends every session of the login."""
    if not may(actor.roles, "administer"):
        raise NotAllowed("administer")
    with UnitOfWork(session):
        user = session.get(User, user_id) if user_id else None
        if user_id and (user is None or not unit_covers(actor.unit_path, user.org_unit.path)):
            raise NotFound(user_id)
        if user is not None and not may_change_login(actor, user.roles, user.org_unit.level):
            raise NotAllowed("administer")
        display_name = (display_name or "").strip()
        unit = session.get(OrgUnit, unit_id) if unit_id else None
        roles = sorted(set(roles or ()))
        errors = _login_errors(session, actor, user, username, display_name, unit, roles, password, active)
        grid = _login_grid(session, unit, roles, grid_id, errors)
        if errors:
            raise UserInvalid(errors)
        if user is None:
            user = create_user(session, username, passwords.hash_password(password), display_name, unit.id, roles,
                               grid.id if grid else None)
            session.flush()
            kind, changes = "user_created", {"unit": unit.name, "roles": roles, "name": display_name}
            if grid is not None:
                changes["grid"] = grid.name
        else:
            kind, changes = "user_changed", _change_login(user, display_name, unit, roles, password, active, grid)
        session.add(AccountEvent(actor_id=actor.user_id, actor_name=actor.name, kind=kind, user_id=user.id,
                                 detail=changes))
        session.flush()
        return user


def _login_errors(session, actor, user, username, display_name, unit, roles, password, active):
    """What is wrong with a login as the administrator filled it in: {field: message}."""
    errors = {}
    if user is None:
        if not USERNAME.match(username or ""):
            errors["username"] = Msg("3–30 lower-case letters, digits or _, starting with a letter")
        elif session.scalar(select(User.id).where(User.username == username)):
            errors["username"] = Msg("This user name is taken")
    if not display_name or len(display_name) > 100:
        errors["display_name"] = Msg("Enter a name (at most 100 characters)")
    if unit is None or not unit_covers(actor.unit_path, unit.path):
        errors["unit_id"] = Msg("Choose your unit or one below it")
    if not roles or not set(roles) <= set(ROLES):
        errors["roles"] = Msg("Choose at least one role")
    elif unit is not None and not all(may_grant(actor, r, unit.level) for r in roles):
        errors["roles"] = Msg("You cannot grant these roles at this unit: only an administrator of the top unit "
                              "grants process design, to someone at a city or county unit, a resident "
                              "department's unit holds the department role only, and grid workers belong to a "
                              "village or community")
    if (user is None or password) and len(password or "") < MIN_PASSWORD:
        errors["password"] = Msg("At least %(n)s characters", n=MIN_PASSWORD)
    if user is not None and user.id == actor.user_id and (
            not active or roles != sorted(user.roles) or unit is None or unit.id != user.org_unit_id):
        errors["roles"] = Msg("You cannot change your own roles or unit, or disable yourself")
    return errors


def _login_grid(session, unit, roles, grid_id, errors):
    """The grid a login is given: a grid worker's must be a grid of the login's own unit (a
    village or community); a login that is no grid worker has none. Adds to `errors`."""
    if not set(roles) & GRID_ROLES:
        return None
    grid = session.get(Grid, grid_id) if isinstance(grid_id, int) else None
    if unit is not None and (grid is None or grid.org_unit_id != unit.id):
        errors["grid_id"] = Msg("A grid worker needs a grid of their own village or community")
    return grid


def _change_login(user, display_name, unit, roles, password, active, grid=None):
    """Apply a checked change to a login; returns {field: [before, after]} for its history. A
    change of anything but the name ends the login's sessions."""
    before = {"unit": user.org_unit.name, "roles": sorted(user.roles), "name": user.display_name,
              "active": user.active, "grid": _grid_name(object_session(user).get(Grid, user.grid_id) if user.grid_id else None)}
    moved = user.org_unit_id != unit.id or user.grid_id != (grid.id if grid else None)
    user.display_name, user.org_unit_id, user.active = display_name, unit.id, bool(active)
    user.grid_id = grid.id if grid else None
    if password:
        user.password_hash = passwords.hash_password(password)
    user.role_rows = [row for row in user.role_rows if row.role in roles] + [
        UserRole(role=r) for r in roles if r not in user.roles]
    after = {"unit": unit.name, "roles": roles, "name": display_name, "active": bool(active), "grid": _grid_name(grid)}
    changes = {key: [before[key], after[key]] for key in after if before[key] != after[key]}
    if password:
        changes["password"] = "reset"
    if moved or set(changes) - {"name"}:
        user.session_epoch = (user.session_epoch or 0) + 1
    return changes


def _grid_name(grid):
    return grid.name if grid is not None else None


# ---- grids ---------------------------------------------------------------------------------------

GRID_NAME_MAX = 100


def grids_of(session, actor):
    """The grids of the actor's units, with their workers: [(grid, unit, [users])], by unit."""
    rows = session.execute(select(Grid, OrgUnit).join(OrgUnit, OrgUnit.id == Grid.org_unit_id)
                           .where(OrgUnit.path.startswith(actor.unit_path))
                           .order_by(OrgUnit.path, Grid.name, Grid.id)).all()
    workers = {}
    for user in session.scalars(select(User).where(User.grid_id.in_([grid.id for grid, _unit in rows]))
                                .order_by(User.username)) if rows else ():
        workers.setdefault(user.grid_id, []).append(user)
    return [(grid, unit, workers.get(grid.id, [])) for grid, unit in rows]


def _grid_unit(session, actor, unit_id):
    unit = session.get(OrgUnit, unit_id) if isinstance(unit_id, int) else None
    if unit is None or not unit_covers(actor.unit_path, unit.path) or unit.level not in GRID_LEVELS:
        raise ValueError(Msg("Grids are drawn within a village or community of yours: choose one"))
    return unit


def _grid_name_checked(session, unit_id, name, grid_id=None):
    name = (name or "").strip()
    if not name or len(name) > GRID_NAME_MAX:
        raise ValueError(Msg("Enter the grid's name (at most 100 characters)"))
    same = select(Grid.id).where(Grid.org_unit_id == unit_id, func.lower(Grid.name) == name.lower())
    if grid_id is not None:
        same = same.where(Grid.id != grid_id)
    if session.scalar(same.limit(1)) is not None:
        raise ValueError(Msg("This village already has a grid of that name"))
    return name


def create_grid(session, actor, unit_id, name):
    """An administrator draws a new grid in a village or community of theirs; the change is in the
    account history (as the administrator's own entry: a grid is no login). Raises ValueError with
    a Msg for a bad name or unit level."""
    if not may(actor.roles, "administer"):
        raise NotAllowed("administer")
    with UnitOfWork(session):
        unit = _grid_unit(session, actor, unit_id)
        name = _grid_name_checked(session, unit.id, name)
        taken = set(session.scalars(select(Grid.code).where(Grid.code.startswith(f"{unit.code}-G"))))
        number = len(taken) + 1
        while f"{unit.code}-G{number:02d}" in taken:
            number += 1
        grid = Grid(code=f"{unit.code}-G{number:02d}", name=name, org_unit_id=unit.id)
        session.add(grid)
        session.flush()
        session.add(AccountEvent(actor_id=actor.user_id, actor_name=actor.name, kind="grid_created",
                                 user_id=actor.user_id, detail={"grid": name, "unit": unit.name}))
        return grid


def rename_grid(session, actor, grid_id, name):
    if not may(actor.roles, "administer"):
        raise NotAllowed("administer")
    with UnitOfWork(session):
        grid = session.get(Grid, grid_id)
        if grid is None or not unit_covers(actor.unit_path, grid.org_unit.path):
            raise NotFound(grid_id)
        name = _grid_name_checked(session, grid.org_unit_id, name, grid.id)
        if name != grid.name:
            session.add(AccountEvent(actor_id=actor.user_id, actor_name=actor.name, kind="grid_renamed",
                                     user_id=actor.user_id,
                                     detail={"grid": [grid.name, name], "unit": grid.org_unit.name}))
            grid.name = name
        return grid


MAX_POPULATION = 50_000_000  # more residents than any city has is a typing mistake


def set_population(session, actor, unit_id, value):
    """An administrator records how many residents live in a unit of theirs (for the figures per
    10,000 residents). `value` as typed; empty clears it. Returns the unit, or raises ValueError
    with a Msg."""
    if not may(actor.roles, "administer"):
        raise NotAllowed("administer")
    text = (value or "").strip().replace(",", "").replace("，", "")
    if text and (not text.isascii() or not text.isdigit() or not 0 < int(text) <= MAX_POPULATION):
        raise ValueError(Msg("The population is a whole number from 1 to 50,000,000"))
    with UnitOfWork(session):
        unit = session.get(OrgUnit, unit_id)
        if unit is None or not unit_covers(actor.unit_path, unit.path) or unit.level == "department":
            raise NotFound(unit_id)
        unit.population = int(text) if text else None
        return unit


# ---- where an outside system's login is told back (the 12345 hotline) ----------------------------

MIN_SECRET, MAX_SECRET = 16, 200
_SECRET = re.compile(r"^[\x21-\x7e]+$")


def callback_endpoint(session, user_id):
    return session.scalar(select(CallbackEndpoint).where(CallbackEndpoint.user_id == user_id))


def url_problem(url, allow_http):
    """What is wrong with a callback address, as a Msg; None if it will do. Only http(s), with a
    host and no credentials in it (they would be shown on pages); plain http only where the
    deployment allows it (CALLBACK_ALLOW_HTTP), since the callbacks carry case details."""
    if not url or len(url) > 500 or any(c.isspace() or ord(c) < 32 for c in url):
        return Msg("Enter the address (at most 500 characters, no spaces)")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return Msg("Not a valid address")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return Msg("The address must start with https:// and name a host")
    if parts.username or parts.password:
        return Msg("Put no user name or password in the address: the shared secret signs each message")
    if parts.scheme == "http" and not allow_http:
        return Msg("Only https:// addresses are allowed here (CALLBACK_ALLOW_HTTP is off)")
    return None


def set_callback(session, actor, user_id, url, secret="", new_secret=False, active=True, allow_http=False):
    """An administrator (or `run.py callback`, actor None) sets where a login is told back. An
    empty `secret` keeps the one there is, or makes one (`new_secret` always makes one). Returns
    (endpoint, the secret made or None): a secret made here is shown once and never again. The
    change goes into the login's history, without the secret."""
    if actor is not None and not may(actor.roles, "administer"):
        raise NotAllowed("administer")
    url, secret = (url or "").strip(), (secret or "").strip()
    with UnitOfWork(session):
        user = session.get(User, user_id)
        if user is None or (actor is not None and not unit_covers(actor.unit_path, user.org_unit.path)):
            raise NotFound(user_id)
        if actor is not None and not may_change_login(actor, user.roles, user.org_unit.level):
            raise NotAllowed("administer")
        errors = {}
        problem = url_problem(url, allow_http)
        if problem:
            errors["callback_url"] = problem
        if secret and (not MIN_SECRET <= len(secret) <= MAX_SECRET or not _SECRET.match(secret)):
            errors["callback_secret"] = Msg("%(min)s–%(max)s printable characters without spaces",
                                            min=MIN_SECRET, max=MAX_SECRET)
        if errors:
            raise UserInvalid(errors)
        endpoint = callback_endpoint(session, user.id)
        made = None
        if not secret and (new_secret or endpoint is None):
            secret = made = secrets.token_urlsafe(32)
        before = {"url": endpoint.url, "active": endpoint.active} if endpoint else {"url": None, "active": None}
        created = endpoint is None
        if created:
            endpoint = CallbackEndpoint(user_id=user.id, url=url, secret="", created_at=Clock.now())
            session.add(endpoint)
        changes = {key: [before[key], value] for key, value in (("url", url), ("active", bool(active)))
                   if before[key] != value}
        if secret and secret != endpoint.secret:
            changes["secret"] = "set" if created else "reset"  # never the secret itself
        endpoint.url, endpoint.active, endpoint.updated_at = url, bool(active), Clock.now()
        if secret:
            endpoint.secret = secret
        if changes:
            session.add(AccountEvent(actor_id=actor.user_id if actor else None,
                                     actor_name=actor.name if actor else "run.py callback", kind="callback_set",
                                     user_id=user.id, detail=changes))
        session.flush()
        return endpoint, made
