"""Referrals to a service (legal aid, psychological counselling), read: where a step can refer a
party, what a receiving department has waiting, and a case's referrals. Reads only."""
from dataclasses import dataclass

from sqlalchemy import bindparam, case as when_, func, select
from sqlalchemy.orm import aliased

from engine.access import department_kinds
from engine.access.policy import sees_personal_data, mask_phone
from engine.persistence.models import Case, CaseParty, OrgUnit, Referral, Task, User
from engine.persistence.states import ReferralState

OPEN = (ReferralState.REFERRED, ReferralState.ACCEPTED)
LIST_LIMIT = 200


def receiving_units(session, unit_path, service):
    """The department units providing `service` (their kind's service in the registry) stationed
    at a center at or above the case's unit, nearest first: the unit a party is usually sent to
    is the one serving the case's area."""
    return receiving_units_of(session, unit_path, [service])[service]


# Built once, the kinds and the chain of units bound on each call.
_RECEIVING = select(OrgUnit).where(OrgUnit.level == "department",
                                   OrgUnit.department_kind.in_(bindparam("b_kinds", expanding=True)),
                                   OrgUnit.parent_id.in_(bindparam("b_chain", expanding=True)))
_PARTY_NAMES = select(CaseParty.name).where(CaseParty.case_id == bindparam("b_case")).order_by(CaseParty.id)


def receiving_units_of(session, unit_path, services):
    """{service: receiving_units(...)} for several services, in one query."""
    registry = department_kinds.read(session)
    kinds = {service: registry.providing(service) for service in services}
    found = {service: [] for service in services}
    wanted = sorted({kind for of_service in kinds.values() for kind in of_service})
    if not wanted:
        return found
    chain = [int(part) for part in unit_path.strip("/").split("/") if part]
    units = sorted(session.scalars(_RECEIVING, {"b_kinds": wanted, "b_chain": chain}).all(),
                   key=lambda unit: (-chain.index(unit.parent_id), unit.name))
    for service, of_service in kinds.items():
        found[service] = [unit for unit in units if unit.department_kind in of_service]
    return found


def party_names(session, case_id):
    """The case's parties by name, in the order they were recorded (a name once)."""
    names = session.scalars(_PARTY_NAMES, {"b_case": case_id}).all()
    return [name for name in dict.fromkeys(names) if name]


@dataclass
class Row:
    referral: Referral
    case_code: str
    case_id: int
    from_unit: str
    step: str
    referred_by: str
    to_unit: str
    phone: str | None = None


_Referrer = aliased(User)
_Case_unit = aliased(OrgUnit)
_To_unit = aliased(OrgUnit)


def _named(query):
    """The referrals of `query` with their case's code and unit, their step, who referred and to whom."""
    return (query.add_columns(Case.code, Case.id, _Case_unit.name, Task.title, _Referrer.display_name, _To_unit.name)
            .join(Case, Case.id == Referral.case_id).join(_Case_unit, _Case_unit.id == Case.org_unit_id)
            .outerjoin(Task, Task.id == Referral.task_id)
            .outerjoin(_Referrer, _Referrer.id == Referral.created_by)
            .outerjoin(_To_unit, _To_unit.id == Referral.to_unit_id))


def _rows(session, query, params=None):
    return session.execute(_named(query) if params is None else query, params).all()


_OF_CASE = _named(select(Referral).where(Referral.case_id == bindparam("b_case")).order_by(Referral.id))  # built once


def for_receiver(session, actor):
    """The referrals to the actor's department (and units below it), open ones first, newest first;
    the party's phone as the actor may see it (the department calls the party)."""
    query = (select(Referral).join(OrgUnit, OrgUnit.id == Referral.to_unit_id)
             .where(OrgUnit.path.startswith(actor.unit_path))
             .order_by(when_((Referral.state.in_(OPEN), 0), else_=1), Referral.created_at.desc(), Referral.id.desc())
             .limit(LIST_LIMIT))
    found = [Row(referral, code, case_id, from_unit or "", step or "", by or "", to or "")
             for referral, code, case_id, from_unit, step, by, to in _rows(session, query)]
    phones = _phones(session, found)
    for row in found:
        phone = phones.get((row.case_id, row.referral.party_name))
        row.phone = phone if sees_personal_data(actor) else mask_phone(phone)
    return found


def _phones(session, rows):
    """{(case id, party name): phone}, in one query for the whole list."""
    if not rows:
        return {}
    parties = session.execute(select(CaseParty.case_id, CaseParty.name, CaseParty.phone)
                              .where(CaseParty.case_id.in_({row.case_id for row in rows}))).all()
    return {(case_id, name): phone for case_id, name, phone in parties if phone}


def open_count(session, actor):
    """Referrals waiting for the actor's department to take on or finish (the navigation's badge)."""
    return session.scalar(select(func.count()).select_from(Referral).join(OrgUnit, OrgUnit.id == Referral.to_unit_id)
                          .where(OrgUnit.path.startswith(actor.unit_path), Referral.state.in_(OPEN)))


def of_case(session, case_id):
    """A case's referrals, oldest first, for its page."""
    return [Row(referral, code, cid, from_unit or "", step or "", by or "", to or "")
            for referral, code, cid, from_unit, step, by, to in _rows(session, _OF_CASE, {"b_case": case_id})]
