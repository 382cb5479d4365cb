"""A unit's inbox of matters reported from outside the window (a resident's QR filing, a grid
worker's report), read-only: what waits, who decides it, what a clerk is offered to join it to,
and the intake form filled in with what the reporter said.

Who decides a matter: the clerks of the unit whose code was scanned (or the grid worker's unit);
where that unit has no active clerk (a village without a window), the nearest unit above that has
one, as steps are routed (engine/library/routing.py). Clerks and supervisors of the units above
see the matter read-only, as they see the cases of the units below them."""
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import bindparam, func, or_, select

from engine.access.policy import mask_phone, may, unit_covers
from engine.access.rulebook import SubmissionFacts
from engine.legaltime.clock import Clock
from engine.library.routing import unit_for_role
from engine.persistence.keys import normalize_phone
from engine.persistence.models import Attachment, Case, CaseParty, OrgUnit, Submission, User
from engine.persistence.states import CaseStatus, SubmissionState

# The channel of the intake form a reported matter is registered with.
CHANNELS = {"resident": "online", "grid": "grid"}
# Decided matters stay listed under "recently decided" this long.
RECENT = timedelta(days=30)


def deciding_paths(session, unit_paths):
    """{unit path: path of the unit whose clerks decide its matters} for the given unit paths: the
    unit itself if it has an active clerk, else the nearest above that has one, as steps go."""
    found, holders = {}, {}
    for path in unit_paths:
        unit_id = int(path.strip("/").rsplit("/", 1)[-1])
        deciding = unit_for_role(session, unit_id, path, "clerk", holders)
        found[path] = path[:path.index(f"/{deciding}/") + len(str(deciding)) + 2]
    return found


def facts(session, submission, unit_path):
    """What the rulebook reads of a submission."""
    deciding = deciding_paths(session, [unit_path])[unit_path]
    decided_by = (session.scalar(select(User.display_name).where(User.id == submission.decided_by))
                  if submission.decided_by else None)
    return SubmissionFacts(id=submission.id, state=submission.state, unit_path=unit_path, deciding_path=deciding,
                           decided_by_name=decided_by)


@dataclass
class Row:
    submission: Submission
    unit: OrgUnit
    attachments: int
    decides: bool          # the actor's unit is the one that decides it (and the actor is a clerk)
    deciding_path: str


def _rows(session, actor, query):
    found = session.execute(query).all()
    paths = deciding_paths(session, {unit.path for _s, unit, _n in found})
    clerk = may(actor.roles, "file_matter")
    return [Row(submission, unit, count or 0, clerk and paths[unit.path] == actor.unit_path, paths[unit.path])
            for submission, unit, count in found]


def _listed(actor):
    counts = (select(Attachment.submission_id, func.count().label("n")).group_by(Attachment.submission_id)
              .subquery())
    return (select(Submission, OrgUnit, counts.c.n).join(OrgUnit, OrgUnit.id == Submission.org_unit_id)
            .outerjoin(counts, counts.c.submission_id == Submission.id)
            .where(OrgUnit.path.startswith(actor.unit_path)))


def waiting(session, actor, limit=500):
    """Matters awaiting acceptance in the actor's unit and below, oldest first: those the actor
    decides first, then those of the units below (read-only)."""
    rows = _rows(session, actor, _listed(actor).where(Submission.state == SubmissionState.PENDING)
                 .order_by(Submission.created_at, Submission.id).limit(limit))
    return sorted(rows, key=lambda row: not row.decides)


def recently_decided(session, actor, limit=50):
    since = Clock.now() - RECENT
    return _rows(session, actor, _listed(actor).where(Submission.state != SubmissionState.PENDING,
                                                      Submission.decided_at >= since)
                 .order_by(Submission.decided_at.desc(), Submission.id.desc()).limit(limit))


# Built once: the badge is read on every page of those who see it.
_WAITING = (select(OrgUnit.path, func.count()).join(Submission, Submission.org_unit_id == OrgUnit.id)
            .where(Submission.state == SubmissionState.PENDING, OrgUnit.path.startswith(bindparam("b_unit_path")))
            .group_by(OrgUnit.path))


def waiting_count(session, actor):
    """The navigation's badge: matters the actor decides (a clerk), or that wait in the actor's
    units (a supervisor, who watches them)."""
    pending = session.execute(_WAITING, {"b_unit_path": actor.unit_path}).all()
    if not pending:
        return 0
    if not may(actor.roles, "file_matter"):
        return sum(count for _path, count in pending)
    paths = deciding_paths(session, [path for path, _count in pending])
    return sum(count for path, count in pending if paths[path] == actor.unit_path)


def visible(session, actor, submission_id):
    """(submission, its unit, facts) if the actor may see it; None if there is no such matter or
    it lies outside the actor's units (the web answers 404 either way)."""
    row = session.execute(select(Submission, OrgUnit).join(OrgUnit, OrgUnit.id == Submission.org_unit_id)
                          .where(Submission.id == submission_id)).first()
    if row is None or not may(actor.roles, "view_submissions") or not unit_covers(actor.unit_path, row[1].path):
        return None
    submission, unit = row
    return submission, unit, facts(session, submission, unit.path)


_OF_CASE = select(Submission).where(Submission.case_id == bindparam("b_case")).order_by(Submission.id)  # built once


def of_case(session, case_id):
    """The reported matters that became or joined the case, in order."""
    return session.scalars(_OF_CASE, {"b_case": case_id}).all()


def shown_phone(phone, reveal):
    return (phone or "") if reveal else mask_phone(phone or "")


def parties(submission, reveal_phone=False):
    """The parties as the reporter gave them, phones masked unless the clerk needs them."""
    return [{"name": str(party.get("name") or ""), "role": str(party.get("role") or ""),
             "phone": shown_phone(str(party.get("phone") or ""), reveal_phone)}
            for party in submission.parties or () if isinstance(party, dict)]


def join_candidates(session, actor, submission, limit=10):
    """Open cases in the actor's units with a party the reporter named: the same phone (the
    resident's own or a party's) or the same name."""
    phones = {normalize_phone(submission.phone)} | {normalize_phone(p.get("phone")) for p in submission.parties or ()
                                                     if isinstance(p, dict)}
    names = {str(p.get("name")).strip() for p in submission.parties or () if isinstance(p, dict) and p.get("name")}
    phones.discard(None)
    names.discard("")
    if not phones and not names:
        return []
    same = select(CaseParty.case_id).where(or_(CaseParty.phone.in_(phones), CaseParty.name.in_(names)))
    return session.scalars(select(Case).join(OrgUnit, OrgUnit.id == Case.org_unit_id)
                           .where(OrgUnit.path.startswith(actor.unit_path), Case.status == CaseStatus.OPEN,
                                  Case.id.in_(same))
                           .order_by(Case.created_at.desc()).limit(limit)).all()


def _enum(form, *path):
    prop = form.schema["properties"]
    for name in path[:-1]:
        prop = prop[name]["items"]["properties"] if prop[name].get("type") == "array" else prop[name]
    return set(prop[path[-1]].get("enum", ()))


def intake_prefill(form, submission):
    """The intake form's data as the reporter gave it, for the clerk to complete: the kind (or,
    where the reporter's kind names a category, that category), place, summary, claims, the
    parties (the resident's confirmed phone on the first party without one), and the channel."""
    data = {"channel": CHANNELS.get(submission.source, "online"), "place": submission.place or "",
            "summary": submission.summary or "", "claims": submission.claims or ""}
    kinds, categories = _enum(form, "kind"), _enum(form, "category")
    if submission.kind in kinds:
        data["kind"] = submission.kind
    elif submission.kind in categories:
        data["kind"], data["category"] = "dispute", submission.kind
    if submission.category in categories:
        data["category"] = submission.category
    roles = _enum(form, "parties", "role")
    rows = []
    for index, party in enumerate(p for p in submission.parties or () if isinstance(p, dict)):
        role = party.get("role") if party.get("role") in roles else ("applicant" if index == 0 else "respondent")
        row = {"role": role, "name": str(party.get("name") or "")}
        if party.get("phone"):
            row["phone"] = str(party["phone"])
        rows.append(row)
    own = normalize_phone(submission.phone)
    if own and rows and all(normalize_phone(row.get("phone")) != own for row in rows) and not rows[0].get("phone"):
        rows[0]["phone"] = submission.phone
    if not rows and submission.source == "resident":
        rows.append({"role": "applicant", "phone": submission.phone or ""})
    data["parties"] = rows
    data["people_count"] = max(len(rows), 1)
    return data
