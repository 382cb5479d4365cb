"""The registry of the people who resolve disputes, read: people's mediators (full- or part-time,
of a committee, graded each year) and the experts a center summons (lawyers, judges, prosecutors,
police officers, psychologists, doctors...). Lists with filters, one person's page (gradings, the
registry's history of them, the steps in their hands), and the mediators a mediation step can be
given to, those whose specialties include the case's category first, each with their load."""
from dataclasses import dataclass

from sqlalchemy import func, or_, select

from engine.access.policy import mask_phone, unit_covers
from engine.errors import NotFound
from engine.library import catalog
from engine.messages import N_
from engine.persistence.models import AccountEvent, Case, OrgUnit, Resolver, ResolverGrading, Task, User, UserRole
from engine.persistence.states import TaskState

KINDS = {
    "mediator": N_("People's mediator"),
    "lawyer": N_("Lawyer"),
    "judge": N_("Judge"),
    "prosecutor": N_("Prosecutor"),
    "police": N_("Police officer"),
    "psychologist": N_("Psychologist"),
    "doctor": N_("Doctor"),
    "expert": N_("Other expert"),
}
MEDIATOR = "mediator"
EXPERT_KINDS = tuple(kind for kind in KINDS if kind != MEDIATOR)
EMPLOYMENT = {"full_time": N_("Full-time"), "part_time": N_("Part-time")}
# The four grades of people's mediators, highest first: 中华全国人民调解员协会《关于开展人民调解员等级
# 评定工作的意见》(2018): "人民调解员等级评定分为四个等级，分别是一级人民调解员、二级人民调解员、三级
# 人民调解员、四级人民调解员，其中一级人民调解员为最高等级" (the city grades the first two, the county
# association the third and fourth). 首席人民调解员 is a title some places give, not a grade.
GRADES = {
    "level1": N_("Grade 1 people's mediator"),
    "level2": N_("Grade 2 people's mediator"),
    "level3": N_("Grade 3 people's mediator"),
    "level4": N_("Grade 4 people's mediator"),
}
# The kinds of entry the registry writes into the account history (AccountEvent), each naming the
# person by `resolver_id` in its detail.
EVENTS = {
    "resolver_added": N_("Added to the registry"),
    "resolver_changed": N_("Registry entry changed"),
    "resolver_graded": N_("Graded"),
    "resolver_deactivated": N_("Deactivated"),
    "resolver_reactivated": N_("Active again"),
}
INTAKE_PROCESS, INTAKE_FORM = "intake", "intake.json"
# Who reads the phones of the registry in the clear: those who call the people to a case.
PHONE_ROLES = frozenset({"clerk", "supervisor", "admin"})


def categories(session):
    """{code: [zh, en]} of the intake form's dispute categories (the specialties one may have)."""
    version = catalog.latest_version(session, INTAKE_PROCESS)
    if version is None:
        return {}
    prop = version.form(INTAKE_FORM).schema.get("properties", {}).get("category", {})
    labels = prop.get("x-enum-labels", {})
    return {code: labels.get(code, [code, code]) for code in prop.get("enum", [])}


def phone_for(actor, phone):
    return phone if actor.roles & PHONE_ROLES else mask_phone(phone)


@dataclass(frozen=True)
class RegistryFilter:
    kind: str = ""
    unit_id: int | None = None
    specialty: str = ""
    grade: str = ""
    # "active" (the default), "inactive" or "all"
    state: str = "active"
    text: str = ""


def _scope(session, actor, unit_id):
    """The actor's unit, or one below it."""
    unit = session.get(OrgUnit, unit_id or actor.unit_id)
    if unit is None or not unit_covers(actor.unit_path, unit.path):
        raise NotFound(unit_id)
    return unit


def people(session, actor, flt=RegistryFilter(), limit=500):
    """[(Resolver, OrgUnit)] registered at the actor's unit (or the one chosen below it) and below,
    by unit and name, narrowed by the filter. Specialties are a JSON list: matched in Python, on the
    few hundred people a county registers."""
    unit = _scope(session, actor, flt.unit_id)
    query = (select(Resolver, OrgUnit).join(OrgUnit, OrgUnit.id == Resolver.org_unit_id)
             .where(OrgUnit.path.startswith(unit.path)))
    if flt.kind == "experts":
        query = query.where(Resolver.kind.in_(EXPERT_KINDS))
    elif flt.kind in KINDS:
        query = query.where(Resolver.kind == flt.kind)
    if flt.grade in GRADES:
        query = query.where(Resolver.grade == flt.grade)
    if flt.state != "all":
        query = query.where(Resolver.active.is_(flt.state != "inactive"))
    text = flt.text.strip()
    if text:
        like = f"%{text[:50]}%"
        query = query.where(or_(Resolver.name.like(like), Resolver.committee.like(like), Resolver.team.like(like)))
    rows = session.execute(query.order_by(OrgUnit.path, Resolver.kind, Resolver.name, Resolver.id).limit(limit)).all()
    if flt.specialty:
        rows = [row for row in rows if flt.specialty in (row[0].specialties or [])]
    return rows


def person(session, actor, resolver_id):
    """(Resolver, its unit) if registered within the actor's units; NotFound otherwise."""
    row = session.execute(select(Resolver, OrgUnit).join(OrgUnit, OrgUnit.id == Resolver.org_unit_id)
                          .where(Resolver.id == resolver_id)).first()
    if row is None or not unit_covers(actor.unit_path, row[1].path):
        raise NotFound(resolver_id)
    return row


def gradings(session, resolver_id):
    return session.scalars(select(ResolverGrading).where(ResolverGrading.resolver_id == resolver_id)
                           .order_by(ResolverGrading.year.desc())).all()


def history(session, resolver_id, limit=200):
    """The registry's entries about this person, newest first (who, when, what changed)."""
    return session.scalars(select(AccountEvent).where(AccountEvent.kind.in_(EVENTS),
                                                      AccountEvent.detail["resolver_id"].as_integer() == resolver_id)
                           .order_by(AccountEvent.at.desc(), AccountEvent.id.desc()).limit(limit)).all()


def in_hand(session, user_id, limit=100):
    """The open steps a person's login holds, with their cases, oldest deadline first."""
    if user_id is None:
        return []
    return session.execute(select(Task, Case).join(Case, Case.id == Task.case_id)
                           .where(Task.assignee_id == user_id, Task.state == TaskState.READY)
                           .order_by(Task.due_at.is_(None), Task.due_at, Task.id).limit(limit)).all()


def loads(session, user_ids):
    """{login id: open steps they hold} in one grouped query."""
    ids = sorted({user_id for user_id in user_ids if user_id is not None})
    if not ids:
        return {}
    return dict(session.execute(select(Task.assignee_id, func.count(Task.id))
                                .where(Task.assignee_id.in_(ids), Task.state == TaskState.READY)
                                .group_by(Task.assignee_id)).all())


def logins_to_link(session, actor, unit_path):
    """Active logins a person registered at `unit_path` may be linked to: of that unit or below,
    within the actor's units, no resident department's login for a mediator (checked on saving)."""
    return session.execute(select(User, OrgUnit).join(OrgUnit, OrgUnit.id == User.org_unit_id)
                           .where(OrgUnit.path.startswith(unit_path), OrgUnit.path.startswith(actor.unit_path),
                                  User.active.is_(True))
                           .order_by(OrgUnit.path, User.username)).all()


def chain_ids(path):
    """The ids of a unit and the units above it, from its path ("/1/2/5/" -> [1, 2, 5])."""
    return [int(part) for part in path.strip("/").split("/") if part]


@dataclass
class Candidate:
    resolver: Resolver
    unit: OrgUnit
    match: bool
    load: int
    # None if their login can take the step now, else why not (a Msg-free code for the page).
    unable: str | None


def candidates(session, task, case_unit_path, category):
    """The registered active mediators of the case's unit and the units above it, for giving
    `task` (a mediation step) to one by name: those who can take the step (a login holding the
    step's role in the unit whose pool holds it) first, then those whose specialties include the
    case's category, then the least loaded. Four queries whatever their number."""
    rows = session.execute(select(Resolver, OrgUnit).join(OrgUnit, OrgUnit.id == Resolver.org_unit_id)
                           .where(Resolver.kind == MEDIATOR, Resolver.active.is_(True),
                                  Resolver.org_unit_id.in_(chain_ids(case_unit_path)))).all()
    user_ids = [r.user_id for r, _unit in rows if r.user_id is not None]
    able = set(session.scalars(select(User.id).join(UserRole, UserRole.user_id == User.id)
                               .where(User.id.in_(user_ids), User.active.is_(True), UserRole.role == task.role,
                                      User.org_unit_id == task.org_unit_id))) if user_ids else set()
    load = loads(session, user_ids)
    found = []
    for resolver, unit in rows:
        if resolver.user_id is None:
            unable = "no_login"
        elif resolver.user_id not in able:
            unable = "other_unit"
        else:
            unable = None
        found.append(Candidate(resolver, unit, bool(category) and category in (resolver.specialties or []),
                               load.get(resolver.user_id, 0), unable))
    found.sort(key=lambda c: (c.unable is not None, not c.match, c.load, c.resolver.name, c.resolver.id))
    return found
