"""Keeping the registry of mediators and experts, and giving a mediator's step to one of them by
name. Every change goes through engine/cases/acting.py (`keeping_registry`, `acting_on_task`) and
leaves an entry: the registry's in the account history (AccountEvent, kinds reading/registry.EVENTS,
naming the person by `resolver_id`: an auditor reads them on the person's page), an assignment in
the case's own history naming the registry person."""
import re

from sqlalchemy import select

from engine.cases import notes, supervision
from engine.cases.acting import acting_on_task, keeping_registry
from engine.errors import Conflict, FormInvalid
from engine.legaltime.clock import Clock, china_date
from engine.messages import Msg
from engine.persistence.keys import normalize_phone
from engine.persistence.models import AccountEvent, OrgUnit, Resolver, ResolverGrading, User
from engine.persistence.states import EventKind
from engine.reading import registry
from engine.access.policy import mask_phone, unit_covers

NAME_MAX, GROUP_MAX, CERTIFICATE_MAX, NOTE_MAX, BASIS_MAX = 100, 100, 60, 2000, 2000
PHONE = re.compile(r"^(1[3-9][0-9]{9}|0[0-9]{9,11}|[0-9]{7,8})$")
FIRST_YEAR = 1990
CHOOSE = Msg("Choose one of the options")


def _too_long(text, limit):
    return Msg("Enter at most %(v)s characters (there are %(n)s); shorten it and submit again", v=limit, n=len(text))


def _text(values, key):
    value = values.get(key)
    return value.strip() if isinstance(value, str) else ""


def typed(post):
    """What a registry form posted, as the values save_person takes (and shows again)."""
    def number(key):
        value = (post.get(key) or "").strip()
        return int(value) if value.isascii() and value.isdigit() and len(value) < 10 else (value or None)
    return {"unit_id": number("unit_id"), "name": post.get("name", ""), "kind": post.get("kind", ""),
            "employment": post.get("employment") or None, "committee": post.get("committee", ""),
            "team": post.get("team", ""), "specialties": post.getlist("specialties") if hasattr(post, "getlist")
            else list(post.get("specialties") or []), "certificate": post.get("certificate", ""),
            "phone": post.get("phone", ""), "note": post.get("note", ""), "user_id": number("user_id")}


def _checked(session, actor, resolver, values):
    """The values cleaned, or FormInvalid with a message per field and what was typed."""
    errors, clean = {}, {}
    name = _text(values, "name")
    if not name or len(name) > NAME_MAX:
        errors["name"] = Msg("Enter a name (at most 100 characters)")
    clean["name"] = name
    kind = values.get("kind")
    if kind not in registry.KINDS:
        errors["kind"] = CHOOSE
    clean["kind"] = kind
    unit_id = values.get("unit_id")
    unit = session.get(OrgUnit, unit_id) if isinstance(unit_id, int) else None
    if unit is None or not unit_covers(actor.unit_path, unit.path):
        errors["unit_id"] = Msg("Choose your unit or one below it")
    clean["org_unit_id"] = unit.id if unit is not None else None
    employment = values.get("employment")
    if kind == registry.MEDIATOR and employment not in registry.EMPLOYMENT:
        errors["employment"] = Msg("A mediator is full-time or part-time: choose one")
    clean["employment"] = employment if kind == registry.MEDIATOR and employment in registry.EMPLOYMENT else None
    for key, limit in (("committee", GROUP_MAX), ("team", GROUP_MAX), ("certificate", CERTIFICATE_MAX),
                       ("note", NOTE_MAX)):
        text = _text(values, key)
        if len(text) > limit:
            errors[key] = _too_long(text, limit)
        clean[key] = text
    known = registry.categories(session)
    specialties = [code for code in dict.fromkeys(values.get("specialties") or []) if code]
    if any(code not in known for code in specialties):
        errors["specialties"] = CHOOSE
    clean["specialties"] = [code for code in known if code in specialties]
    phone = _text(values, "phone")
    digits = normalize_phone(phone) if phone else None
    if phone and (digits is None or not PHONE.match(digits) or any(c not in "0123456789- +" for c in phone)):
        errors["phone"] = Msg("Enter a mobile (11 digits starting with 1) or a landline number")
    clean["phone"] = digits
    clean["user_id"] = _login(session, actor, resolver, values.get("user_id"), unit, kind, errors)
    if errors:
        raise FormInvalid(errors, values)
    return clean, unit


def _login(session, actor, resolver, user_id, unit, kind, errors):
    """The login the person works with: active, of the person's unit or below (within the actor's),
    holding the mediator's role for a mediator, and linked to nobody else."""
    if user_id in (None, ""):
        return None
    user = session.get(User, user_id) if isinstance(user_id, int) else None
    if user is None or not user.active or unit is None or not unit_covers(unit.path, user.org_unit.path) \
            or not unit_covers(actor.unit_path, user.org_unit.path):
        errors["user_id"] = Msg("Link an active login of the person's unit or a unit below it")
        return None
    if kind == registry.MEDIATOR and "mediator" not in user.roles:
        errors["user_id"] = Msg("A mediator's login must hold the mediator role")
        return None
    other = session.scalar(select(Resolver).where(Resolver.user_id == user.id))
    if other is not None and (resolver is None or other.id != resolver.id):
        errors["user_id"] = Msg("This login is already linked to %(name)s", name=other.name)
        return None
    return user.id


def _record(session, actor, kind, resolver, detail):
    session.add(AccountEvent(actor_id=actor.user_id, actor_name=actor.name, kind=kind,
                             user_id=resolver.user_id or actor.user_id,
                             detail={"resolver_id": resolver.id, "name": resolver.name, **detail}))


def _shown(resolver, key, unit_names):
    value = getattr(resolver, key)
    return unit_names.get(value, value) if key == "org_unit_id" else value


def save_person(session, actor, resolver_id, values):
    """Add (resolver_id None) or change a person of the registry. `values` as `typed` gives them.
    Raises FormInvalid with a message per field, nothing saved; the change is in the history."""
    with keeping_registry(session, actor, resolver_id) as act:
        resolver = act.resolver
        clean, unit = _checked(session, actor, resolver, values)
        if resolver is None:
            resolver = Resolver(active=True, **clean)
            session.add(resolver)
            session.flush()
            _record(session, actor, "resolver_added", resolver, {"unit": unit.name, "kind": resolver.kind})
            return resolver
        names = dict(session.execute(select(OrgUnit.id, OrgUnit.name).where(
            OrgUnit.id.in_([resolver.org_unit_id, unit.id]))).all())
        changes = {}
        for key, value in clean.items():
            if getattr(resolver, key) != value:
                label = "unit" if key == "org_unit_id" else key
                changes[label] = [_shown(resolver, key, names), names.get(value, value) if key == "org_unit_id"
                                  else value]
                if key == "phone":  # a personal number: the history says it changed, masked
                    changes[label] = [mask_phone(number) for number in changes[label]]
                setattr(resolver, key, value)
        if resolver.kind != registry.MEDIATOR and resolver.grade is not None:
            changes["grade"] = [resolver.grade, None]
            resolver.grade = None
        if changes:
            resolver.updated_at = Clock.now()
            _record(session, actor, "resolver_changed", resolver, {"changes": changes})
        return resolver


def set_active(session, actor, resolver_id, active, note=""):
    """Deactivate a person (no longer offered for steps or summons; their history stays) or make
    them active again, with an optional note."""
    with keeping_registry(session, actor, resolver_id) as act:
        resolver = act.resolver
        note = notes.note(note, notes.REASON)
        if resolver.active == bool(active):
            raise Conflict(Msg("Already active") if active else Msg("Already inactive"))
        resolver.active, resolver.updated_at = bool(active), Clock.now()
        _record(session, actor, "resolver_reactivated" if active else "resolver_deactivated", resolver,
                {"note": note} if note else {})
        return resolver


def record_grade(session, actor, resolver_id, year, grade, basis):
    """The grade a people's mediator was given in a year's assessment, with its basis (one per
    year: recording a year again corrects it, and the history keeps both). The person's current
    grade is that of the latest year graded."""
    with keeping_registry(session, actor, resolver_id) as act:
        resolver = act.resolver
        if resolver.kind != registry.MEDIATOR:
            raise Conflict(Msg("Only people's mediators are graded"))
        errors, latest = {}, this_year()
        year_text = str(year or "").strip()
        number = int(year_text) if year_text.isascii() and year_text.isdigit() and len(year_text) == 4 else None
        if number is None or not FIRST_YEAR <= number <= latest:
            errors["year"] = Msg("A year from %(first)s to %(last)s", first=FIRST_YEAR, last=latest)
        if grade not in registry.GRADES:
            errors["grade"] = CHOOSE
        basis = (basis or "").strip()
        if len(basis) < 2:
            errors["basis"] = Msg("Write the basis of the grade (the assessment, its date and who decided)")
        elif len(basis) > BASIS_MAX:
            errors["basis"] = _too_long(basis, BASIS_MAX)
        if errors:
            raise FormInvalid(errors, {"year": year_text, "grade": grade, "basis": basis})
        row = session.scalar(select(ResolverGrading).where(ResolverGrading.resolver_id == resolver.id,
                                                           ResolverGrading.year == number))
        before = None
        if row is None:
            row = ResolverGrading(resolver_id=resolver.id, year=number)
            session.add(row)
        else:
            before = {"grade": row.grade, "basis": row.basis}
        row.grade, row.basis, row.recorded_by, row.recorded_at = grade, basis, actor.user_id, Clock.now()
        session.flush()
        latest = session.scalar(select(ResolverGrading.grade).where(ResolverGrading.resolver_id == resolver.id)
                                .order_by(ResolverGrading.year.desc()).limit(1))
        resolver.grade, resolver.updated_at = latest, Clock.now()
        _record(session, actor, "resolver_graded", resolver,
                {"year": number, "grade": grade, "basis": basis, **({"before": before} if before else {})})
        return row


def assign_mediator(session, actor, task_id, resolver_id, note=""):
    """Give a mediator's step to a registered mediator by name (a clerk dispatching it from the
    pool, or a supervisor): one of the active mediators of the case's unit or above whose login can
    take the step. In the case's history with the registry person; their login is told."""
    with acting_on_task(session, actor, task_id, "assign_mediator") as act:
        task, case = act.task, act.case
        note = notes.note(note, notes.REASON)
        found = next((c for c in registry.candidates(session, task, act.unit_path, case.category)
                      if c.resolver.id == resolver_id), None)
        if found is None or found.unable is not None:
            raise Conflict(Msg("That person cannot take this step"))
        target = session.get(User, found.resolver.user_id)
        before = task.assignee
        if before is not None and before.id == target.id:
            raise Conflict(Msg("Already with %(who)s", who=target.display_name))
        task.assignee_id = target.id
        act.log.add(actor, EventKind.MEDIATOR_ASSIGNED, task.spec_id, task.title, {
            "from": before.display_name if before else None, "to": target.display_name,
            "resolver_id": found.resolver.id, "resolver": found.resolver.name, "match": found.match,
            "category": case.category, "note": note})
        supervision.tell_assigned(session, actor, task, case, note, target.id)
        return found.resolver


def this_year():
    """The year in China now: a grade may be recorded for it and the years before."""
    return china_date(Clock.now()).year


def last_year():
    """The year a center grades in its yearly assessment (the grading page's default)."""
    return this_year() - 1

