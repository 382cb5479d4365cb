"""The parties' joint application for judicial confirmation, made from the residents' phone pages.

While the case's application step is open (bpmn/court_link.bpmn Task_confirm_window: 30 days from
the agreement, 人民调解法 第三十三条; 民事诉讼法 2023 第二百零五条), each party who follows the case
with their own phone number (one of the case's parties, case_parties.phone) sees the agreement and
the application, and confirms it with a one-time code sent to that phone (engine/cases/phone_codes.py,
with its throttles). A confirmation is a ConfirmationConsent row and an event in the case's history,
made through the resident's entry (acting.as_resident). When every party with a mobile number has
confirmed, the application is complete: the step is completed as the mediator would ("applied",
today), the court's steps open, and the dossier is made (engine/cases/dossier.py) in the same
transaction. A party with no mobile number applies at the window, where the mediator records it.

Someone following the case with another number (the reporter's, not a party's) sees no form and is
refused; so is everyone once the step is closed (recorded, or its 30 days over)."""
from dataclasses import dataclass

from sqlalchemy import select

from engine.access.policy import RESIDENT, mask_phone
from engine.cases import dossier, phone_codes, services
from engine.cases.acting import as_resident
from engine.errors import Conflict, FormInvalid, NotFound
from engine.legaltime.clock import Clock, china_date
from engine.library import catalog
from engine.messages import Msg, in_chinese
from engine.persistence.keys import contact_key
from engine.persistence.models import CaseParty, ConfirmationConsent
from engine.persistence.states import EventKind
from engine.reading import dossier as reading, follow

# The one-time codes of this page (phone_codes.purpose), apart from those of a filing.
PURPOSE = "consent"
ONLINE_NOTE = Msg("Every party confirmed the joint application online, each with a one-time code sent to their "
                  "own phone.")
NOT_A_PARTY = Msg("Only a party of the case, following it with their own phone number, can confirm the application")


def is_mobile(phone):
    return phone_codes.mobile(phone) is not None


@dataclass
class Offer:
    """What the follow page shows a party while the application step is open."""
    task: object
    party: CaseParty | None        # the party whose phone was proved (None: not a party's number)
    agreement_terms: str
    standing: list                 # reading.Standing of every party
    phone_shown: str               # the party's phone, masked, where the code goes

    @property
    def confirmed(self):
        return any(s.party_id == self.party.id and s.confirmed_at for s in self.standing) if self.party else False


def party_of(session, case, proof):
    """The party of the case whose phone `proof` (follow.proof_of) was made with, or None."""
    if not proof:
        return None
    for row in session.scalars(select(CaseParty).where(CaseParty.case_id == case.id, CaseParty.phone.is_not(None))
                               .order_by(CaseParty.id)):
        if contact_key(case.code, row.phone) == proof:
            return row
    return None


def _open_step(session, case):
    meta = catalog.version_info(session, case.process_version_id).meta
    return reading.window_task(session, case, meta)


def offer(session, case, proof):
    """The application on offer to this resident, or None when the case has no open application step."""
    task = _open_step(session, case)
    if task is None:
        return None
    agreement, _event = reading.latest_agreement(session, case)
    party = party_of(session, case, proof)
    return Offer(task=task, party=party, agreement_terms=str(agreement.get("agreement_terms") or ""),
                 standing=reading.application_standing(session, case, task, is_mobile),
                 phone_shown=mask_phone(party.phone) if party is not None else "")


def _found(session, code, proof):
    case = follow.case_for_resident(session, code, proof)
    if case is None:
        raise NotFound(code)
    task = _open_step(session, case)
    if task is None:
        raise Conflict(Msg("The application for judicial confirmation is closed"))
    party = party_of(session, case, proof)
    if party is None or not is_mobile(party.phone):
        raise Conflict(NOT_A_PARTY)
    if party.id in reading.consents(session, task.id):
        raise Conflict(Msg("You have already confirmed the application"))
    return case, task, party


def send_code(session, code, proof, client_address):
    """Send the party a one-time code to confirm with. Returns (expiry, masked phone); raises
    Throttled past the limits, Conflict for a number that is not a party's or a closed step."""
    _case, _task, party = _found(session, code, proof)
    return phone_codes.send_code(session, party.phone, client_address, purpose=PURPOSE), mask_phone(party.phone)


def confirm(session, code, proof, one_time_code):
    """The party confirms the joint application with the code sent to their phone. Returns True
    when that completed the application (the step done, the dossier made). A wrong code counts a
    try and raises FormInvalid after the transaction that counted it."""
    for _attempt in range(dossier.ATTEMPTS):
        case, task, party = _found(session, code, proof)
        confirmed = reading.consents(session, task.id)
        now = Clock.now()
        mobiles = reading.mobile_parties(session, case.id, is_mobile)
        completes = mobiles <= set(confirmed) | {party.id}
        applied = {"applied": "yes", "applied_on": china_date(now).isoformat(), "window_note": in_chinese(ONLINE_NOTE)}
        # Rendered before the case is locked (engine/cases/dossier.py says why); the transaction
        # checks that nothing changed meanwhile, else this is done again.
        prepared = dossier.prepare(session, case, task, applied=applied, pending=(party.id, now)) if completes else None
        head = case.audit_head or ""
        try:
            with as_resident(session, case.id, None, "consent_online", task_id=task.id) as act:
                wrong = phone_codes.check_code(session, party.phone, one_time_code, purpose=PURPOSE, use=True)
                if wrong is None:
                    if prepared is not None:
                        dossier.still_current(session, act, prepared)
                    elif dossier.head_of(session, case.id) != head:
                        raise dossier.Stale(case.code)
                    _record(session, act, party, now)
                    if prepared is not None:
                        services.submit_step(session, act, applied)
                        dossier.keep(session, act, prepared, "online")
        except dossier.Stale:
            continue
        if wrong is not None:
            raise FormInvalid({"phone_code": wrong}, {})
        return completes
    raise Conflict(Msg("The case changed while its dossier was being made; submit again"))


def _record(session, act, party, now):
    session.add(ConfirmationConsent(case_id=act.case.id, task_id=act.task.id, party_id=party.id, confirmed_at=now))
    act.log.add(RESIDENT, EventKind.CONSENT_GIVEN, act.task.spec_id, act.task.title, {
        "party": party.name, "party_id": party.id, "confirmed_at": now.isoformat(),
        "confirmed_by": in_chinese(Msg("a one-time code sent to the party's own phone"))})
