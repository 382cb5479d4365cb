"""The risk colour of a matter, assessed from facts by the decision table bpmn/risk.dmn (COLLECT:
every matching row is a reason; the highest level wins). The clerk may raise the colour; lowering
it needs a reason. Repeat visits and earlier petitions are counted here from the database."""
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import bindparam, func, or_, select

from engine.library import decisions
from engine.legaltime.clock import Clock
from engine.messages import N_
from engine.persistence.models import AuditEvent, Case, CaseParty
from engine.persistence.keys import normalize_id, normalize_phone
from engine.persistence.states import EventKind

DECISION = "risk"  # bpmn/risk.dmn, applied by the engine before a case starts
LEVELS = ("blue", "yellow", "red")
NAMES = {"blue": N_("blue (low)"), "yellow": N_("yellow (elevated)"), "red": N_("red (high)")}
WINDOW = timedelta(days=90)
ASSESSED = "assessed"  # the form's default: take the table's colour


@dataclass
class Assessment:
    level: str
    reasons: list = field(default_factory=list)  # [(zh, en, level)]
    facts: dict = field(default_factory=dict)

    def as_data(self):
        return {"level": self.level, "reasons": [list(r) for r in self.reasons], "facts": self.facts}


def rank(level):
    return LEVELS.index(level) if level in LEVELS else -1


def _party_keys(parties):
    ids = {normalize_id(p.get("id_number")) for p in parties or () if isinstance(p, dict)} - {None}
    phones = {normalize_phone(p.get("phone")) for p in parties or () if isinstance(p, dict)} - {None}
    return sorted(ids), sorted(phones)


def _history_query(other_than_case):
    """The three counts of `history` in one statement, built once (with or without a case to leave out)."""
    same = select(CaseParty.case_id).where(or_(CaseParty.id_number.in_(bindparam("b_ids", expanding=True)),
                                               CaseParty.phone.in_(bindparam("b_phones", expanding=True))))
    others = Case.id.in_(same)
    if other_than_case:
        others = others & (Case.id != bindparam("b_case"))
    since = bindparam("b_since")
    return select(
        select(func.count(Case.id)).where(others, Case.created_at >= since).scalar_subquery(),
        select(func.count(AuditEvent.id)).where(AuditEvent.case_id.in_(same), AuditEvent.kind == EventKind.REPEAT_VISIT,
                                                AuditEvent.at >= since).scalar_subquery(),
        select(func.count(Case.id)).where(others, Case.kind == "petition").scalar_subquery())


_HISTORY = {False: _history_query(False), True: _history_query(True)}


def history(session, parties, case_id=None, now=None):
    """(visits in the last 90 days, earlier petitions) of these parties: other cases filed in the
    window and repeat visits recorded in it; petitions ever filed. `case_id` is the case being
    re-assessed (its own filing does not count as a visit; its repeat visits do)."""
    ids, phones = _party_keys(parties)
    if not ids and not phones:
        return 0, 0
    # The three counts in one round trip.
    filed, revisits, petitions = session.execute(_HISTORY[case_id is not None], {
        "b_ids": ids, "b_phones": phones, "b_case": case_id, "b_since": (now or Clock.now()) - WINDOW}).one()
    return (filed or 0) + (revisits or 0), petitions or 0


def facts_of(data, visits, petitions):
    """The table's inputs from the intake data and the counted history."""
    def number(name):
        value = data.get(name)
        return value if isinstance(value, (int, float)) and not isinstance(value, bool) else 0
    return {"people_count": number("people_count"), "amount": number("amount"),
            "extreme_signs": bool(data.get("extreme_signs")), "vulnerable": bool(data.get("vulnerable")),
            "repeat_visits": int(visits), "earlier_petitions": int(petitions) + (1 if data.get("petitioned_before") else 0)}


def assess(session, version, facts):
    outcome = decisions.evaluate_table(session, version, DECISION, {"risk_facts": facts})
    levels = outcome.outputs.get("risk_rule_level", [])
    reasons = sorted(zip(outcome.outputs.get("risk_rule_reason", []), outcome.outputs.get("risk_rule_reason_en", []), levels),
                     key=lambda r: -rank(r[2]))
    level = max(levels, key=rank) if levels else "blue"
    return Assessment(level if level in LEVELS else "blue", [tuple(r) for r in reasons], facts)


class LoweredWithoutReason(ValueError):
    pass


def assess_case(session, version, data, case_id=None):
    """Assess a matter being filed (or revisited) and settle its colour into `data` ("risk_level",
    "risk_assessed"). Returns (assessment, how), or (None, None) for a version without the table.
    Raises LoweredWithoutReason when the clerk chose a lower colour and gave no reason."""
    if not decisions.has_table(session, version, DECISION):
        return None, None
    visits, petitions = history(session, data.get("parties"), case_id)
    assessment = assess(session, version, facts_of(data, visits, petitions))
    level, how = settle(assessment, data.get("risk_level"), data.get("risk_reason"))
    data["risk_level"], data["risk_assessed"] = level, assessment.level
    return assessment, how


def settle(assessment, chosen, reason):
    """The colour the case takes: the assessment unless the clerk chose another. Raising needs
    nothing; lowering needs a reason. Returns (level, how): how is 'assessed', 'raised' or 'lowered'."""
    if chosen in (None, "", ASSESSED) or chosen == assessment.level:
        return assessment.level, "assessed"
    if rank(chosen) > rank(assessment.level):
        return chosen, "raised"
    if not (reason or "").strip():
        raise LoweredWithoutReason(assessment.level)
    return chosen, "lowered"
