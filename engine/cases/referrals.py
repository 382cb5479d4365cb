"""Referring a party to a service (legal aid, psychological counselling) from a step that offers it
(its diagram's property `referrals`), and the receiving department's answer: taken on, or turned
down with a reason, then done with what was done. Each is one transaction through the one entry
(acting.py) and goes into the case's history; a referral never holds or finishes the step."""
from engine.cases.acting import acting_on_referral, acting_on_task
from engine.legaltime.clock import Clock
from engine.library import catalog
from engine.messages import Msg
from engine.persistence.models import Referral, Task
from engine.persistence.states import EventKind, ReferralState
from engine.reading.referrals import party_names, receiving_units

REASON_MAX = 500
OUTCOME_MAX = 2000


class ReferralInvalid(Exception):
    """What is wrong with a referral or an answer, per field: {field: Msg}."""

    def __init__(self, errors):
        super().__init__("invalid referral")
        self.errors = errors


def _text(value, field, limit, errors, required=True):
    value = (value or "").replace("\r\n", "\n").strip()
    if required and len(value) < 2:
        errors[field] = Msg("Enter at least %(v)s characters", v=2)
    elif len(value) > limit:
        errors[field] = Msg("Enter at most %(v)s characters (there are %(n)s); shorten it and submit again",
                            v=limit, n=len(value))
    return value


def refer(session, actor, task_id, party_name, service, to_unit_id, reason):
    """Refer a party of the step's case to a service, at a department providing it that serves the
    case's area. Raises ReferralInvalid naming the fields."""
    with acting_on_task(session, actor, task_id, "refer") as act:
        task, case = act.task, act.case
        offered = catalog.version_info(session, case.process_version_id).meta["tasks"].get(
            task.spec_id, {}).get("referrals") or []
        errors = {}
        if service not in offered:
            errors["service"] = Msg("Choose one of the options")
        if party_name not in party_names(session, case.id):
            errors["party_name"] = Msg("Choose one of the case's parties")
        unit = next((unit for unit in receiving_units(session, act.unit_path, service) if unit.id == to_unit_id), None)
        if unit is None and "service" not in errors:
            errors["to_unit_id"] = Msg("Choose a department providing this service")
        reason = _text(reason, "reason", REASON_MAX, errors)
        if errors:
            raise ReferralInvalid(errors)
        referral = Referral(case_id=case.id, task_id=task.id, service=service, party_name=party_name,
                            to_unit_id=unit.id, reason=reason, state=ReferralState.REFERRED, created_by=actor.user_id,
                            created_at=Clock.now())
        session.add(referral)
        session.flush()
        act.log.add(actor, EventKind.REFERRAL_MADE, task.spec_id, task.title,
                    {"referral": referral.id, "service": service, "party": party_name, "referred_to": unit.name,
                     "reason": reason})
        return referral


def _answer(session, actor, referral_id, verb, state, kind, text, field, limit, required):
    with acting_on_referral(session, actor, referral_id, verb) as act:
        referral = act.referral
        errors = {}
        text = _text(text, field, limit, errors, required)
        if errors:
            raise ReferralInvalid(errors)
        referral.state = state
        if text or state != ReferralState.ACCEPTED:
            referral.outcome = text
        referral.outcome_at, referral.outcome_by = Clock.now(), actor.user_id
        step = session.get(Task, referral.task_id) if referral.task_id else None
        act.log.add(actor, kind, step.spec_id if step else None, step.title if step else None,
                    {"referral": referral.id, "service": referral.service, "party": referral.party_name,
                     field: text or None})
        return referral


def accept(session, actor, referral_id, note=""):
    """The receiving department takes the party on (a note is optional)."""
    return _answer(session, actor, referral_id, "accept", ReferralState.ACCEPTED, EventKind.REFERRAL_ACCEPTED,
                   note, "note", REASON_MAX, required=False)


def decline(session, actor, referral_id, reason):
    """...or turns the referral down, saying why (the referring handler reads it on the case)."""
    return _answer(session, actor, referral_id, "decline", ReferralState.DECLINED, EventKind.REFERRAL_DECLINED,
                   reason, "reason", REASON_MAX, required=True)


def complete(session, actor, referral_id, outcome):
    """What the department did for the party (legal aid granted, counselling sessions held...)."""
    return _answer(session, actor, referral_id, "complete", ReferralState.COMPLETED, EventKind.REFERRAL_COMPLETED,
                   outcome, "outcome", OUTCOME_MAX, required=True)
