"""Where a matter will go and why, before it is filed: the intake pathway is started in memory
with what the clerk typed and run to its first wait, exactly as filing would run it, and nothing
is saved. The preview names the pathway, the first steps with the unit or department they go to
and their legal clock, the triage rule that fired with its legal basis, the risk assessment, and
warnings such as a limitation period running out."""
from dataclasses import dataclass, field
from functools import partial
from datetime import date

from engine.access import department_kinds
from engine.library import catalog, decisions, form_options, forms as formlib, risk
from engine.workflow import runtime
from engine.library import routing
from engine.legaltime.clock import Clock, china_date
from engine.errors import NotFound
from engine.messages import N_, Msg
from engine.persistence.models import OrgUnit

# Where triage sends a matter (the case's `route`), in plain words for staff and residents alike.
ROUTES = {"mediation": N_("People's mediation"), "petition": N_("Petition"),
          "specialist": N_("Department handling (specialist, joint consultation)"),
          "consultation": N_("Consultation"), "law_related": N_("Law-related, to the courts"),
          "arbitration": N_("Guided to arbitration"), "reconsideration": N_("Administrative reconsideration"),
          "ruling": N_("Administrative ruling"),
          "redirect": N_("To the body that holds it, or another channel"),
          # Cases filed before the pathway library kept this route.
          "complaint": N_("Complaint or report")}

DECISION = "Task_triage"  # the business-rule step of intake.bpmn that runs bpmn/triage.dmn
# Arbitration of a labour dispute must be applied for within one year of the day the worker knew
# or should have known of the infringement (劳动争议调解仲裁法 第二十七条); warn this long before.
LABOUR_LIMIT_WARN_DAYS = 60
LABOUR_LIMIT_BASIS = Msg("Labour Dispute Mediation and Arbitration Law (2007), Art. 27")
# What interrupts the period or lifts it, added to each notice that names the day it ends.
LABOUR_LIMIT_WAGES = Msg("Unpaid wages while the employment lasts are not bound by the year; once it ends, within a year "
                         "of the end. Claiming the right, seeking a remedy or the employer agreeing to pay interrupts the period.")


@dataclass
class Step:
    title: str
    role: str
    unit: object = None
    due_at: object = None
    legal_basis: str = ""
    clock: str = ""


@dataclass
class Preview:
    outputs: dict = field(default_factory=dict)
    rule: object = None
    steps: list = field(default_factory=list)
    assessment: object = None
    risk_level: str = ""
    risk_how: str = ""
    warnings: list = field(default_factory=list)  # [(Msg, urgent)]
    missing: list = field(default_factory=list)  # (zh, en) titles of fields the decision needs and lacks
    failed: str = ""


def decide(session, version, data):
    """The triage rule that fires on `data`, for the case's history; None for a version without
    the table."""
    if not decisions.has_decision(session, version, DECISION):
        return None
    outcome = decisions.evaluate(session, version, DECISION, data)
    rule = outcome.rule
    return {"rule": rule.id if rule else None, "description": rule.description if rule else None,
            **{key: outcome.outputs.get(key) for key in ("route", "committee", "legal_channel", "department", "body", "basis")},
            "override_reason": data.get("override_reason") if data.get("route_override") not in (None, "none") else None}


def labour_limitation(data, today=None):
    """Notices about the one-year limitation of labour arbitration (Art. 27), as (Msg, urgent):
    urgent when the period has run out or ends within LABOUR_LIMIT_WARN_DAYS."""
    if not data.get("employer_matter"):
        return []
    known = data.get("rights_known_on")
    if not known:
        return [(Msg("Labour arbitration must be applied for within one year of when the worker knew or should have known "
                     "of the infringement (%(basis)s). Ask when that was and fill it in.", basis=LABOUR_LIMIT_BASIS), False)]
    try:
        known = date.fromisoformat(str(known))
    except ValueError:
        return []
    today = today or china_date(Clock.now())
    try:
        ends = known.replace(year=known.year + 1)
    except ValueError:  # from 29 February: no such day next year, so the month's last day (民法典 第二百零二条)
        ends = date(known.year + 1, 2, 28)
    said = {"known": str(known), "ends": str(ends), "basis": LABOUR_LIMIT_BASIS, "wages": LABOUR_LIMIT_WAGES}
    if today > ends:
        return [(Msg("The limitation period may have run out: one year from %(known)s ended on %(ends)s (%(basis)s). "
                     "%(wages)s", **said), True)]
    left = (ends - today).days
    if left <= LABOUR_LIMIT_WARN_DAYS:
        return [(Msg("The limitation period ends on %(ends)s, %(left)s days from now: guide the worker to apply soon "
                     "(%(basis)s). %(wages)s", left=left, **said), True)]
    return [(Msg("The limitation period ends on %(ends)s (%(basis)s).", **said), False)]


def _inputs(session, version):
    return [entry.expression for entry in decisions._step(session, version, DECISION).dmnEngine.decision_table.inputs]


def preview(session, actor, process_key, post=None, data=None):
    """What filing this form would do, computed by running it, saved nowhere."""
    version = catalog.latest_version(session, process_key)
    if version is None:
        raise NotFound(process_key)
    specs = version.specs(session)
    workflow, start_snap = runtime.start(specs)
    first = start_snap.ready[0]
    info = version.meta["tasks"][first.task_spec.bpmn_id]
    form = form_options.form_of(session, version, info["form"])
    data = formlib.data_from_post(form, post or {}) if data is None else formlib.data_from_json(form, data)
    found = Preview(warnings=labour_limitation(data))
    if decisions.has_decision(session, version, DECISION):
        props = form.schema.get("properties", {})
        found.missing = [(props.get(name, {}).get("title", name), props.get(name, {}).get("x-title-en", name))
                         for name in _inputs(session, version) if data.get(name) in (None, "")]
    if found.missing:
        return found
    try:
        found.assessment, found.risk_how = risk.assess_case(session, version, data)
    except risk.LoweredWithoutReason:
        found.risk_how = "lowered_without_reason"
    found.risk_level = data.get("risk_level", "")
    decided = decide(session, version, data)
    if decided is not None:
        outcome = decisions.evaluate(session, version, DECISION, data)
        found.outputs, found.rule = outcome.outputs, outcome.rule
    try:
        snap = runtime.complete(workflow, str(first.id), data)
    except Exception as exc:  # noqa: BLE001 - the form may be half filled; the table's answer still stands
        found.failed = str(exc)[:300]
        return found
    found.steps = _steps(session, actor, version, snap)
    return found


def _steps(session, actor, version, snap):
    meta = version.meta
    due = {}
    for _spiff_id, element, when in snap.timers:
        deadline = meta["deadlines"].get(element, {})
        target = deadline.get("attached_to")
        if target and (target not in due or when < due[target][0]):
            due[target] = (when, deadline.get("legal_basis") or "", deadline.get("name") or "")
    steps = []
    kinds = partial(department_kinds.read, session)  # read only for a summoned department's step
    for task in snap.ready:
        element = task.task_spec.bpmn_id
        info = meta["tasks"].get(element, {})
        unit_id = routing.unit_for_step(session, actor.unit_id, actor.unit_path, info, task.data)
        when, basis, clock = due.get(element, (None, "", ""))
        steps.append(Step(title=routing.step_title(info, task, kinds), role=info.get("role") or "", unit=session.get(OrgUnit, unit_id),
                          due_at=when, legal_basis=basis, clock=clock))
    return steps
