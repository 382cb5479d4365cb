"""What a judicial-confirmation dossier holds, read from the case (nothing is written here; the
dossier is rendered and kept by engine/cases/dossier.py).

The materials follow what the court asks of an application: 最高人民法院关于人民调解协议司法确认程序的
若干规定 (法释〔2011〕5号, 2011-03-30) 第三条 — the application (申请书), the mediation agreement,
the parties' identity (身份证明) and, for an organisation, its standing (资格证明: the unified social
credit code and its legal representative), evidence of the property rights the agreement concerns
(the attachments), and each party's address for service and telephone number (送达地址、电话号码);
an agent needs a signed power of attorney, which is named where a party has one. The parties apply
jointly within 30 days of the agreement (人民调解法 第三十三条; 民事诉讼法 2023 第二百零五条); how
and when each party joined the application is part of it (at the window, or online with a one-time
code sent to their phone: ConfirmationConsent). The mediation record (人民调解法 第二十七条) is
added so the court sees how the agreement was reached.

The dossier is for the court, so it shows personal data unmasked; only those the rulebook lets see
it (engine/access/rulebook.py may_see_dossier) ever get it."""
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select

from engine.legaltime.clock import CHINA, Clock, as_utc
from engine.access.policy import COURT
from engine.library import catalog
from engine.library.catalog import DOSSIER_KIND
from engine.persistence.models import (
    Attachment, AuditEvent, CaseParty, ConfirmationConsent, OrgUnit, Task,
)
from engine.persistence.states import EventKind, TaskState

# An Attachment of this purpose is a dossier the server made (the others are evidence).
DOSSIER = "dossier"
# The diagram property that marks the step where the parties' joint application is recorded
# (bpmn/court_link.bpmn Task_confirm_window): completing it with an application makes the dossier.
DOSSIER_PROPERTY = DOSSIER_KIND
MEDIATION_FORM = "mediation.json"
INTAKE_SPEC = "Task_intake"


@dataclass
class Party:
    id: int | None                 # case_parties.id (None for a party with no row)
    role: str
    name: str
    id_type: str
    id_number: str
    sex: str
    phone: str
    address: str
    representative: str
    organisation: bool             # a unified social credit code: an organisation, not a person
    mobile: bool = False           # may confirm online (a mobile number SMS reaches)
    confirmed_at: datetime | None = None   # online, by a one-time code (China time); else at the window


@dataclass
class Contents:
    case_code: str
    unit_name: str
    category: str
    filed_on: date
    place: str
    summary: str
    claims: str
    parties: list
    agreement_terms: str
    amount: str
    agreed_on: date | None
    mediator: str
    mediation_unit: str
    sessions: list
    attachments: list
    applied_on: date
    application_note: str
    online: bool                   # every party joined online (no signature at the window)
    version: int
    generated_at: datetime
    court: str                     # the court stationed at the nearest center above the case
    head: str = ""                 # the case's audit head when read: unchanged means still current


def dossier_steps(version_meta):
    """The element ids of the steps that make a dossier (diagram property `dossier`)."""
    return {element for element, info in version_meta.get("tasks", {}).items()
            if info.get("dossier") == DOSSIER_PROPERTY}


def window_task(session, case, meta, open_only=True):
    """The case's latest application step (the one marked in the diagram), or None."""
    steps = dossier_steps(meta)
    if not steps:
        return None
    query = select(Task).where(Task.case_id == case.id, Task.spec_id.in_(steps))
    if open_only:
        query = query.where(Task.state == TaskState.READY)
    return session.scalar(query.order_by(Task.id.desc()).limit(1))


def _label(prop, value):
    labels = (prop or {}).get("x-enum-labels", {})
    found = labels.get(value)
    return found[0] if found else (value or "")


def latest_data(session, case_id, spec_ids):
    """The data and event of the latest submission of one of `spec_ids`, or ({}, None)."""
    if not spec_ids:
        return {}, None
    event = session.scalar(select(AuditEvent).where(
        AuditEvent.case_id == case_id, AuditEvent.kind == EventKind.TASK_COMPLETED,
        AuditEvent.task_spec.in_(sorted(spec_ids))).order_by(AuditEvent.seq.desc()).limit(1))
    return ((event.detail or {}).get("data") or {}, event) if event is not None else ({}, None)


def latest_agreement(session, case):
    """The data of the latest mediation that reached an agreement, and its event."""
    meta = catalog.version_info(session, case.process_version_id).meta
    specs = sorted(element for element, info in meta.get("tasks", {}).items() if info.get("form") == MEDIATION_FORM)
    for event in session.scalars(select(AuditEvent).where(
            AuditEvent.case_id == case.id, AuditEvent.kind == EventKind.TASK_COMPLETED,
            AuditEvent.task_spec.in_(specs)).order_by(AuditEvent.seq.desc())):
        data = (event.detail or {}).get("data") or {}
        if data.get("outcome") == "success":
            return data, event
    return {}, None


def china(moment):
    """A stored moment in China time (the template writes it as the court does)."""
    return as_utc(moment).astimezone(CHINA) if moment else None


def _day(text):
    """An ISO date as a date (None if it is not one)."""
    try:
        return date.fromisoformat(text)
    except (TypeError, ValueError):
        return None


def _parties(session, case, intake_data, intake_form):
    props = intake_form.get("schema", {}).get("properties", {}).get("parties", {}).get("items", {}) \
        .get("properties", {})
    rows = session.scalars(select(CaseParty).where(CaseParty.case_id == case.id).order_by(CaseParty.id)).all()
    given = [p for p in intake_data.get("parties") or () if isinstance(p, dict)]
    found = []
    for index, party in enumerate(given):
        row = rows[index] if index < len(rows) else None
        found.append(Party(
            id=row.id if row is not None else None, role=_label(props.get("role"), party.get("role")),
            name=str(party.get("name") or ""), id_type=_label(props.get("id_type"), party.get("id_type")),
            id_number=str(party.get("id_number") or ""), sex=_label(props.get("sex"), party.get("sex")),
            phone=str(party.get("phone") or ""), address=str(party.get("address") or ""),
            representative=str(party.get("representative") or ""), organisation=party.get("id_type") == "uscc"))
    return found


def _court(session, unit):
    """The name of the court department stationed at the nearest unit at or above the case's (the
    one the court's steps go to, engine/library/routing.py), or ""."""
    if unit is None:
        return ""
    above = [int(part) for part in unit.path.strip("/").split("/") if part]
    rows = dict(session.execute(select(OrgUnit.parent_id, OrgUnit.name).where(
        OrgUnit.department_kind == COURT, OrgUnit.parent_id.in_(above))).all())
    return next((rows[unit_id] for unit_id in reversed(above) if unit_id in rows), "")


def consents(session, task_id):
    """{case_parties.id: confirmed_at} of the parties who confirmed online on this step."""
    return {party_id: as_utc(at) for party_id, at in session.execute(
        select(ConfirmationConsent.party_id, ConfirmationConsent.confirmed_at)
        .where(ConfirmationConsent.task_id == task_id))}


def dossiers_of(session, case_id):
    """The dossiers made for a case, oldest first (every version stays)."""
    return session.scalars(select(Attachment).where(Attachment.case_id == case_id, Attachment.purpose == DOSSIER)
                           .order_by(Attachment.id)).all()


def contents(session, case, window=None, applied=None, pending=None, mobiles=None):
    """Everything the dossier shows. `window` is the application step (open, or just completed);
    `applied` the data its completion records ({"applied_on", "window_note"}), `pending` a
    consent being made in the same action ((party id, moment)); `mobiles` the party ids that may
    confirm online. Reads only."""
    version = catalog.version_info(session, case.process_version_id)
    meta, forms = version.meta, version.forms
    intake_form = forms.get(meta.get("tasks", {}).get(INTAKE_SPEC, {}).get("form") or "intake.json", {})
    intake, _intake_event = latest_data(session, case.id, {INTAKE_SPEC})
    agreement, agreement_event = latest_agreement(session, case)
    unit = session.get(OrgUnit, case.org_unit_id)
    mediation_unit = ""
    if agreement_event is not None:
        mediation_unit = session.scalar(select(OrgUnit.name).join(Task, Task.org_unit_id == OrgUnit.id).where(
            Task.case_id == case.id, Task.spec_id == agreement_event.task_spec).order_by(Task.id.desc()).limit(1)) or ""
    confirmed = consents(session, window.id) if window is not None else {}
    if pending is not None:
        confirmed[pending[0]] = pending[1]
    applied = applied or {}
    parties = _parties(session, case, intake, intake_form)
    at_window = _day(applied.get("applied_on")) or china(Clock.now()).date()
    everyone_online = bool(parties) and all(p.id in confirmed for p in parties)
    for party in parties:
        party.mobile = party.id in (mobiles or set())
        party.confirmed_at = china(confirmed.get(party.id))
    amount = agreement.get("amount")
    evidence = session.scalars(select(Attachment).where(Attachment.case_id == case.id, Attachment.purpose.is_(None))
                               .order_by(Attachment.id)).all()
    earlier = session.scalar(select(func.count()).select_from(Attachment).where(
        Attachment.case_id == case.id, Attachment.purpose == DOSSIER)) or 0
    return Contents(
        case_code=case.code, unit_name=unit.name if unit else "",
        category=_label(intake_form.get("schema", {}).get("properties", {}).get("category"), case.category),
        filed_on=china(case.created_at).date(), place=str(intake.get("place") or ""),
        summary=str(intake.get("summary") or case.summary or ""), claims=str(intake.get("claims") or ""),
        parties=parties, agreement_terms=str(agreement.get("agreement_terms") or ""),
        amount=f"{amount:,.2f}" if isinstance(amount, (int, float)) else "",
        agreed_on=china(agreement_event.at).date() if agreement_event is not None else None,
        mediator=agreement_event.actor_name if agreement_event is not None else "", mediation_unit=mediation_unit,
        sessions=[{"held_on": _day(s.get("held_on")), "place": str(s.get("place") or ""),
                   "participants": str(s.get("participants") or ""), "notes": str(s.get("notes") or "")}
                  for s in agreement.get("sessions") or () if isinstance(s, dict)],
        attachments=[{"filename": a.filename, "media_type": a.media_type, "size": a.size, "sha256": a.sha256,
                      "added": china(a.created_at)} for a in evidence],
        applied_on=at_window, application_note=str(applied.get("window_note") or ""),
        online=everyone_online, version=earlier + 1, generated_at=china(Clock.now()),
        court=_court(session, unit),
        head=case.audit_head or "")


def mobile_parties(session, case_id, is_mobile):
    """The ids of the case's parties whose phone is a mobile number (`is_mobile(phone)`): those
    who can confirm the application online, and whose confirmations complete it."""
    return {row.id for row in session.scalars(select(CaseParty).where(CaseParty.case_id == case_id))
            if row.phone and is_mobile(row.phone)}


@dataclass
class Standing:
    """One party's part in the joint application while its step is open (for the mediator's page
    and the resident's): their name, whether they can confirm online, and when they did."""
    party_id: int
    name: str
    online: bool
    confirmed_at: datetime | None


def application_standing(session, case, task, is_mobile):
    """Each party of the case and where they stand on the application of step `task`."""
    confirmed = consents(session, task.id)
    return [Standing(row.id, row.name, bool(row.phone and is_mobile(row.phone)), confirmed.get(row.id))
            for row in session.scalars(select(CaseParty).where(CaseParty.case_id == case.id).order_by(CaseParty.id))]
