"""The registry of resident department kinds (法院, 信访局, 法律援助中心...): which kinds there are,
their names in both languages, whether a kind provides a service parties are referred to, and which
are still offered. Diagrams name a kind by its code (property `department`), the whistle's form
offers the active kinds, and a department unit (org_units.department_kind) is one kind stationed
at one center.

Reading: `read(session)` gives a snapshot (Kinds) kept for the rest of the session's transaction,
so a page that names a department on every row reads the table once. Changing: administrators
(through accounts.administering, one transaction each, every change in the account history):

- the kinds are shared by every unit (as the pathway library is), so adding, renaming and
  deactivating one is for an administrator of the top unit only, as granting the designer's role
  is (policy.may_keep_kinds);
- stationing a kind at a center (making the department unit whose logins are then made as any
  other) is for an administrator of that center or one above it;
- a kind a published diagram names, or whose departments hold open steps, is not deactivated:
  the next publication would be refused and its steps would belong to a kind nobody may name; the
  refusal says which diagrams and how many steps."""
import re
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import scoped_session

from engine.access.accounts import administering
from engine.access.policy import may_keep_kinds, unit_covers
from engine.errors import NotFound
from engine.messages import Msg, N_
from engine.persistence.models import AccountEvent, DepartmentKind, OrgUnit, ProcessVersion, Task, User
from engine.persistence.states import TaskState

# The services a step can refer a party to (Referral.service), and what a kind providing one is.
SERVICES = {"legal_aid": N_("Legal aid"), "counselling": N_("Psychological counselling")}
CODE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
NAME_MAX = 100
# Centers where a kind can be stationed: a department unit hangs under a center, never a village.
STATION_LEVELS = ("city", "county", "township")


@dataclass(frozen=True)
class Kind:
    code: str
    name: str
    name_en: str
    service: str | None
    active: bool
    position: int = 0
    id: int | None = None

    @property
    def labels(self):
        """[zh, en], as a form's option labels are written."""
        return [self.name, self.name_en or self.name]


class Kinds:
    """A snapshot of the registry, in the administrators' order."""

    def __init__(self, kinds=()):
        self._by_code = {kind.code: kind for kind in sorted(kinds, key=lambda k: (k.position, k.code))}
        self.fingerprint = tuple((k.code, k.name, k.name_en, k.service, k.active) for k in self._by_code.values())

    def __iter__(self):
        return iter(self._by_code.values())

    def __len__(self):
        return len(self._by_code)

    def __contains__(self, code):
        return code in self._by_code

    def get(self, code):
        return self._by_code.get(code)

    def active(self):
        return [kind for kind in self if kind.active]

    def is_active(self, code):
        kind = self._by_code.get(code)
        return kind is not None and kind.active

    def name(self, code):
        """The Chinese name (what the engine writes into step titles), or the code itself."""
        kind = self._by_code.get(code)
        return kind.name if kind else code

    def labels(self):
        """{code: [zh, en]} of every kind, inactive ones too (old cases still name them)."""
        return {kind.code: kind.labels for kind in self}

    def providing(self, service):
        return [kind.code for kind in self if kind.service == service]


_CACHE = "department_kinds"
_ALL = select(DepartmentKind.code, DepartmentKind.name, DepartmentKind.name_en, DepartmentKind.service,
              DepartmentKind.active, DepartmentKind.position, DepartmentKind.id)


def read(session):
    """The registry as this transaction sees it (read once per transaction)."""
    if isinstance(session, scoped_session):
        session = session()  # the web layer's request-scoped session
    transaction = session.get_transaction()
    cached = session.info.get(_CACHE)
    if cached is not None and transaction is not None and cached[0] is transaction:
        return cached[1]
    rows = session.connection().execute(_ALL).all()
    kinds = Kinds(Kind(*row) for row in rows)
    session.info[_CACHE] = (session.get_transaction(), kinds)
    return kinds


def forget(session):
    if isinstance(session, scoped_session):
        session = session()
    session.info.pop(_CACHE, None)


class KindInvalid(Exception):
    def __init__(self, errors):
        super().__init__("invalid department kind")
        self.errors = errors


def _checked(session, code, name, name_en, service, kind_id=None):
    errors = {}
    if kind_id is None:
        if not CODE.match(code or ""):
            errors["code"] = Msg("2–40 lower-case letters, digits or _, starting with a letter (e.g. education)")
        elif session.scalar(select(DepartmentKind.id).where(DepartmentKind.code == code)) is not None:
            errors["code"] = Msg("This code is taken")
    if not name or len(name) > NAME_MAX:
        errors["name"] = Msg("Enter a name (at most 100 characters)")
    if len(name_en) > NAME_MAX:
        errors["name_en"] = Msg("At most 100 characters")
    if service and service not in SERVICES:
        errors["service"] = Msg("Choose one of the options")
    if name and not errors.get("name"):
        same = select(DepartmentKind.id).where(func.lower(DepartmentKind.name) == name.lower())
        if kind_id is not None:
            same = same.where(DepartmentKind.id != kind_id)
        if session.scalar(same.limit(1)) is not None:
            errors["name"] = Msg("A kind of that name exists already")
    return errors


def _history(session, actor, kind, detail):
    session.add(AccountEvent(actor_id=actor.user_id, actor_name=actor.name, kind=kind, user_id=actor.user_id,
                             detail=detail))


def add_kind(session, actor, code, name, name_en="", service=None):
    """A new kind every unit can station and every diagram can name. Raises KindInvalid."""
    code, name, name_en, service = (code or "").strip(), (name or "").strip(), (name_en or "").strip(), service or None
    with administering(session, actor, may_keep_kinds):
        errors = _checked(session, code, name, name_en, service)
        if errors:
            raise KindInvalid(errors)
        position = (session.scalar(select(func.max(DepartmentKind.position))) or 0) + 1
        kind = DepartmentKind(code=code, name=name, name_en=name_en, service=service, active=True,
                              position=position, created_by=actor.user_id)
        session.add(kind)
        _history(session, actor, "department_kind_added",
                 {"kind": code, "name": name, "name_en": name_en, "service": service})
        session.flush()
        forget(session)
        return kind


def change_kind(session, actor, kind_id, name, name_en="", service=None):
    """Rename a kind (and say which service it provides). Step titles made before keep the old name."""
    name, name_en, service = (name or "").strip(), (name_en or "").strip(), service or None
    with administering(session, actor, may_keep_kinds):
        kind = _kind(session, kind_id)
        errors = _checked(session, kind.code, name, name_en, service, kind.id)
        if errors:
            raise KindInvalid(errors)
        changes = {key: [before, after] for key, before, after in (
            ("name", kind.name, name), ("name_en", kind.name_en, name_en), ("service", kind.service, service))
            if before != after}
        if changes:
            kind.name, kind.name_en, kind.service = name, name_en, service
            _history(session, actor, "department_kind_changed", dict(changes, kind=kind.code))
        forget(session)
        return kind


def _kind(session, kind_id):
    kind = session.get(DepartmentKind, kind_id) if isinstance(kind_id, int) else None
    if kind is None:
        raise NotFound(kind_id)
    return kind


def in_use(session, code):
    """Why a kind cannot be deactivated now: (the published diagrams naming it, open steps held by
    its departments)."""
    newest = session.scalar(select(ProcessVersion.meta).order_by(ProcessVersion.id.desc()).limit(1)) or {}
    elements = newest.get("elements", {})
    diagrams = sorted({elements.get(element, {}).get("file", element) for element, info in newest.get("tasks", {}).items()
                       if info.get("department") == code})
    steps = session.scalar(select(func.count()).select_from(Task).join(OrgUnit, OrgUnit.id == Task.org_unit_id)
                           .where(OrgUnit.department_kind == code, Task.state == TaskState.READY))
    return diagrams, steps


def set_active(session, actor, kind_id, active):
    """Deactivate a kind (no longer offered to name or summon) or bring it back. A kind in use is
    refused (ValueError with a Msg naming where it is used)."""
    with administering(session, actor, may_keep_kinds):
        kind = _kind(session, kind_id)
        if kind.active == bool(active):
            return kind
        if not active:
            diagrams, steps = in_use(session, kind.code)
            if diagrams:
                raise ValueError(Msg("%(kind)s is named by the published diagrams %(files)s: change them first, "
                                     "then deactivate it", kind=kind.name, files="、".join(diagrams)))
            if steps:
                raise ValueError(Msg("Departments of %(kind)s hold %(n)s open steps: let them finish first",
                                     kind=kind.name, n=steps))
        kind.active = bool(active)
        _history(session, actor, "department_kind_activated" if active else "department_kind_deactivated",
                 {"kind": kind.code, "name": kind.name})
        forget(session)
        return kind


def station(session, actor, kind_id, center_id):
    """Station a kind at a center of the administrator's (a city, county or township unit): the
    department unit under it, of that kind, whose logins are then made as any other login.
    Raises ValueError with a Msg when the kind is inactive, the unit no center of theirs, or the
    kind already stationed there."""
    with administering(session, actor):
        kind = _kind(session, kind_id)
        center = session.get(OrgUnit, center_id) if isinstance(center_id, int) else None
        if center is None or not unit_covers(actor.unit_path, center.path) or center.level not in STATION_LEVELS:
            raise ValueError(Msg("Choose a center of yours (a city, county or township unit)"))
        if not kind.active:
            raise ValueError(Msg("%(kind)s is not active", kind=kind.name))
        there = session.scalar(select(OrgUnit.id).where(OrgUnit.parent_id == center.id, OrgUnit.level == "department",
                                                        OrgUnit.department_kind == kind.code))
        if there is not None:
            raise ValueError(Msg("%(kind)s is already stationed at %(center)s", kind=kind.name, center=center.name))
        unit = OrgUnit(code=f"{center.code}-D-{kind.code}"[:40], name=f"{center.name}{kind.name}"[:100],
                       name_en=f"{center.name_en} {kind.name_en or kind.name}".strip()[:100], level="department",
                       parent_id=center.id, department_kind=kind.code)
        if session.scalar(select(OrgUnit.id).where(OrgUnit.code == unit.code)) is not None:
            raise ValueError(Msg("A unit with the code %(code)s exists already", code=unit.code))
        session.add(unit)
        session.flush()
        unit.path = f"{center.path}{unit.id}/"
        _history(session, actor, "department_stationed", {"kind": kind.code, "unit": unit.name, "center": center.name})
        return unit


def stations(session, actor):
    """{kind code: [department units of that kind within the actor's units]}, for the registry page."""
    found = {}
    for unit in session.scalars(select(OrgUnit).where(OrgUnit.level == "department",
                                                      OrgUnit.path.startswith(actor.unit_path)).order_by(OrgUnit.path)):
        found.setdefault(unit.department_kind, []).append(unit)
    return found


REGISTRY_EVENTS = ("department_kind_added", "department_kind_changed", "department_kind_activated",
                   "department_kind_deactivated")
STATION_EVENTS = ("department_stationed",)


def history(session, actor, limit=50):
    """Changes to the registry (shared, so everyone's) and the stationings made by administrators
    of the actor's units, newest first."""
    by_ours = select(User.id).join(OrgUnit, OrgUnit.id == User.org_unit_id).where(OrgUnit.path.startswith(actor.unit_path))
    return session.scalars(select(AccountEvent).where(
        AccountEvent.kind.in_(REGISTRY_EVENTS) | (AccountEvent.kind.in_(STATION_EVENTS) & AccountEvent.actor_id.in_(by_ours)))
        .order_by(AccountEvent.at.desc(), AccountEvent.id.desc()).limit(limit)).all()
