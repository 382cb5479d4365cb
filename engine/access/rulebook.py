"""The rulebook: what an actor may do with a case, or with one of its steps, now.

One function decides it from the facts of the case and the step: roles, unit coverage, the case's
status, level and route, a move waiting, who holds the step and its clock. The case verbs enforce
it (through engine/cases/acting.py), the case page shows exactly the buttons it allows, and the
route decorators of the web layer are a coarse first gate that agrees with it.

Each rule answers None (allowed) or the refusal to raise: NotFound for what lies outside the
actor's units, NotAllowed for what their role or the kind of case never allows, Conflict for what
the case's present state does not allow (it may change, or someone else was first)."""
from dataclasses import dataclass

from sqlalchemy import bindparam, select

from engine.access.policy import ACTIONS, COURT, GRID_ROLES, allowed, may, unit_covers
from engine.errors import Conflict, NotAllowed, NotFound
from engine.messages import Msg
from engine.persistence.models import Attachment, CaseTransfer, OrgUnit, Task
from engine.persistence.states import CaseStatus, MeetingState, ReferralState, SubmissionState, TaskState, TransferState

# Which matters move between levels (DOMAIN.md, "Triage also fixes the level ... lower levels
# escalate upward, the county is the terminal station; the city takes cross-county matters").
# People's mediation and petitions are handled by the level that holds them and move up or down.
# Arbitration, administrative reconsideration and ruling, law-related petitions and matters for a
# resident department run in the body the law names (an arbitration commission, the justice
# bureau, a court), whatever level filed them: moving the case between centers changes nothing
# for them. "complaint" is the petition-type route of cases filed before triage kept its route.
MOVABLE_ROUTES = frozenset({"mediation", "petition", "complaint"})
# A village or township escalates to the unit above; the county may send a cross-county matter to
# the city. The city, county and township assign down.
ESCALATE_FROM = frozenset({"village", "township", "county"})
ASSIGN_DOWN_FROM = frozenset({"city", "county", "township"})

NOT_MOVABLE = Msg("This kind of matter does not move between levels")


@dataclass(frozen=True)
class CaseFacts:
    id: int
    status: str
    unit_path: str
    unit_level: str | None = None
    route: str | None = None
    flagged: bool = False
    has_unit_above: bool = False
    # An open step is held by a resident department: the case is in that department's hands.
    department_step: bool = False
    # The unit path a move waiting for acknowledgement goes to, if there is one.
    move_to_path: str | None = None
    # A judicial-confirmation dossier was made for the case (it may be made again, corrected).
    has_dossier: bool = False


@dataclass(frozen=True)
class StepFacts:
    id: int
    state: str
    role: str
    unit_path: str
    assignee_id: int | None = None
    assignee_name: str | None = None
    completer_name: str | None = None
    clock_stopped: bool = False
    # The step has a legal deadline (a boundary timer attached to it).
    timed: bool = False
    # Days the deadline may still be extended; None where the caller did not count them (the
    # extension itself then checks the figure).
    extension_left: int | None = None
    # The grid the step's case lies in: a grid step is for that grid's workers alone.
    grid_id: int | None = None
    # The step's form (the return visit's "visit.json" is the one a resident may fill in online).
    form_key: str | None = None
    # The services the step may refer a party to (its diagram's property `referrals`).
    referrals: tuple = ()
    # The step records the parties' joint application for judicial confirmation (diagram property
    # `dossier`): the one a party may confirm online.
    dossier: bool = False


# Built once, the case bound on each call: whether an open step of the case waits at a department,
# where a pending move of it goes, whether it has a dossier.
_CASE_ID = bindparam("b_case")
_CASE_FACTS = select(
    select(Task.id).join(OrgUnit, OrgUnit.id == Task.org_unit_id)
    .where(Task.case_id == _CASE_ID, Task.state == TaskState.READY, OrgUnit.level == "department")
    .limit(1).scalar_subquery(),
    select(OrgUnit.path).join(CaseTransfer, CaseTransfer.to_unit_id == OrgUnit.id)
    .where(CaseTransfer.case_id == _CASE_ID, CaseTransfer.state == TransferState.PENDING).limit(1).scalar_subquery(),
    select(Attachment.id).where(Attachment.case_id == _CASE_ID, Attachment.purpose == "dossier")
    .limit(1).scalar_subquery())


def case_facts(session, case, unit=None):
    """The facts of a case the rules read, from its row and one statement of three small subqueries."""
    unit = unit or case.org_unit
    department, move_to, dossier = session.execute(_CASE_FACTS, {"b_case": case.id}).one()
    return CaseFacts(id=case.id, status=case.status, unit_path=unit.path, unit_level=unit.level, route=case.route,
                     flagged=case.flagged_at is not None, has_unit_above=unit.parent_id is not None,
                     department_step=department is not None, move_to_path=move_to, has_dossier=dossier is not None)


def step_facts(task, unit_path, extension_left=None, referrals=(), dossier=False, assignee_name=None):
    """A step's facts; `assignee_name` when the caller read it with the step (else it is loaded)."""
    if task.assignee_id and assignee_name is None:
        assignee_name = task.assignee.display_name
    return StepFacts(id=task.id, state=task.state, role=task.role, unit_path=unit_path, assignee_id=task.assignee_id,
                     assignee_name=assignee_name if task.assignee_id else None,
                     completer_name=task.completer.display_name if task.completed_by else None,
                     clock_stopped=task.clock_stopped_at is not None, timed=task.due_at is not None,
                     extension_left=extension_left, grid_id=task.case.grid_id,
                     form_key=task.form_key, referrals=tuple(referrals or ()), dossier=dossier)


# ---- the rules ----------------------------------------------------------------------------------

def _done(step):
    who = step.completer_name or Msg("the system")
    return Conflict(Msg("This task was already completed by %(who)s", who=who))


def _not_their_grid(actor, step):
    """A grid step of a case in a grid is for that grid's workers: a worker of another grid of the
    same village neither sees nor takes it. A case with no grid leaves it to the village's."""
    return step.role in GRID_ROLES and step.grid_id is not None and step.grid_id != actor.grid_id


def _worker(actor, step, mine=None):
    """The step's own work (claim, release, submit): a holder of its role in a unit covering it
    (for a grid step, a worker of the case's grid)."""
    if not may(actor.roles, "work_tasks") or step.role not in actor.roles or _not_their_grid(actor, step):
        return NotAllowed(step.id)
    if not unit_covers(actor.unit_path, step.unit_path):
        return NotAllowed(step.id)
    if step.state != TaskState.READY:
        return _done(step)
    if step.assignee_id is not None and step.assignee_id != actor.user_id:
        return Conflict(Msg("Already claimed by %(who)s", who=step.assignee_name))
    if mine is True and step.assignee_id is None:
        return NotAllowed(step.id)
    if mine is False and step.assignee_id == actor.user_id:
        return Conflict(Msg("You have already claimed this task"))
    return None


def _open_step(actor, step, action):
    """A step acted on from the case page: within the actor's units, still open."""
    if not may(actor.roles, action):
        return NotAllowed(action)
    if not unit_covers(actor.unit_path, step.unit_path):
        return NotFound(step.id)
    if step.state != TaskState.READY:
        return Conflict(Msg("This step is finished"))
    return None


def _clock(actor, step, stopped):
    """The step's handler (a holder of its role) or a supervisor stops and restarts its clock."""
    supervisor = may(actor.roles, "supervise")
    refusal = _open_step(actor, step, "supervise" if supervisor else "work_tasks")
    if refusal is None and not supervisor and step.role not in actor.roles:
        refusal = NotAllowed(step.id)
    if refusal is None and not step.timed:
        refusal = Conflict(Msg("This step has no running legal deadline"))
    if refusal is None and step.clock_stopped != stopped:
        refusal = Conflict(Msg("The clock is already stopped") if step.clock_stopped
                           else Msg("The clock is running"))
    return refusal


def _extend(actor, step):
    refusal = _open_step(actor, step, "supervise")
    if refusal is None and not step.timed:
        refusal = Conflict(Msg("This step has no running legal deadline"))
    if refusal is None and step.clock_stopped:
        refusal = Conflict(Msg("Restart the clock first"))
    if refusal is None and step.extension_left is not None and step.extension_left < 1:
        refusal = Conflict(Msg("This deadline cannot be extended further"))
    return refusal


def _assign(actor, step, claimed):
    refusal = _open_step(actor, step, "supervise")
    if refusal is None and (step.assignee_id is not None) != claimed:
        refusal = Conflict(Msg("The step's handler changed; reload and try again"))
    return refusal


def _case(actor, case, action):
    if not may(actor.roles, action):
        return NotAllowed(action)
    if not unit_covers(actor.unit_path, case.unit_path):
        return NotFound(case.id)
    return None


def _open_case(actor, case, action):
    refusal = _case(actor, case, action)
    if refusal is None and case.status != CaseStatus.OPEN:
        refusal = Conflict(Msg("The case is closed"))
    return refusal


def _move(actor, case, levels):
    refusal = _case(actor, case, "move_cases")
    if refusal is None and case.status != CaseStatus.OPEN:
        refusal = Conflict(Msg("A completed case cannot be moved"))
    if refusal is None and (case.route not in MOVABLE_ROUTES or case.unit_level not in levels or case.department_step):
        refusal = NotAllowed(NOT_MOVABLE)
    if refusal is None and case.move_to_path is not None:
        refusal = Conflict(Msg("This case has a move waiting to be acknowledged"))
    return refusal


def _escalate(actor, case):
    refusal = _move(actor, case, ESCALATE_FROM)
    if refusal is None and not case.has_unit_above:
        refusal = Conflict(Msg("There is no level above this one"))
    return refusal


def _acknowledge(actor, case):
    if not may(actor.roles, "move_cases"):
        return NotAllowed("move_cases")
    if case.move_to_path is None:
        return Conflict(Msg("This move was already settled"))
    if not unit_covers(actor.unit_path, case.move_to_path):
        return NotAllowed(case.id)
    return None


def _flag(actor, case, flagged):
    refusal = _case(actor, case, "supervise")
    if refusal is None and flagged and case.status != CaseStatus.OPEN:
        refusal = Conflict(Msg("The case is closed"))
    if refusal is None and case.flagged == flagged:
        refusal = Conflict(Msg("Already listed for supervision") if flagged
                           else Msg("Not listed for supervision"))
    return refusal


def _migrate(actor, case):
    if not allowed(actor, "design"):
        return NotAllowed("design")
    if not unit_covers(actor.unit_path, case.unit_path):
        return NotFound(case.id)
    if case.status != CaseStatus.OPEN:
        return Conflict(Msg("not a running case"))
    return None


def _regenerate_dossier(actor, case):
    refusal = _case(actor, case, "make_dossier")
    if refusal is None and not case.has_dossier:
        refusal = Conflict(Msg("No joint application has been made on this case yet"))
    return refusal


# What may be done with a case as a whole.
CASE_RULES = {
    "escalate": _escalate,
    "assign_down": lambda actor, case: _move(actor, case, ASSIGN_DOWN_FROM),
    "acknowledge": _acknowledge,
    "flag": lambda actor, case: _flag(actor, case, True),
    "unflag": lambda actor, case: _flag(actor, case, False),
    "migrate": _migrate,
    "record_repeat_visit": lambda actor, case: _case(actor, case, "file_matter"),
    "place_in_grid": lambda actor, case: _open_case(actor, case, "place_in_grid"),
    # A callback to the outside system that filed the case, failing, sent again (closed cases too:
    # the closing reply is the one the hotline most needs).
    "retry_callback": lambda actor, case: _case(actor, case, "supervise"),
    # A matter reported from outside is added to an open case of the same parties.
    "join_submission": lambda actor, case: _open_case(actor, case, "file_matter"),
    # The judicial-confirmation dossier made again (a new version) after the data was corrected.
    "regenerate_dossier": _regenerate_dossier,
    # A joint meeting records that the case goes on as it is (its other decisions are the verbs
    # above and below: give a step, remind, list for supervision, escalate).
    "meeting_decision": lambda actor, case: _open_case(actor, case, "hold_meetings"),
}
def _open(actor, case, step):
    """Open the step's page to work on it (claimed by another, it shows who holds it)."""
    if not may(actor.roles, "work_tasks") or step.role not in actor.roles or _not_their_grid(actor, step):
        return NotAllowed(step.id)
    return None if step.state == TaskState.READY else _done(step)


# The step of a closed case a resident completes online (the return visit), and nothing else.
VISIT_FORM = "visit.json"
# The closing step's form: what follows it is told to residents and the hotline as the case closed.
CLOSE_FORM = "close.json"
RESIDENT_FORMS = frozenset({VISIT_FORM})


def _assign_mediator(actor, step):
    """Give a mediator's step to a registered mediator by name: a supervisor (any open step of
    theirs, held or not) or a clerk (a step still waiting in the pool: dispatching it)."""
    supervisor = may(actor.roles, "supervise")
    refusal = _open_step(actor, step, "supervise" if supervisor else "file_matter")
    if refusal is None and step.role != "mediator":
        refusal = NotAllowed(step.id)
    if refusal is None and not supervisor and step.assignee_id is not None:
        refusal = Conflict(Msg("Already claimed by %(who)s", who=step.assignee_name))
    return refusal


def _rate_online(actor, step):
    """A resident (who proved a phone of the case) rates the outcome: the open return visit only."""
    if "resident" not in actor.roles or step.form_key not in RESIDENT_FORMS:
        return NotAllowed(step.id)
    if step.state != TaskState.READY:
        return Conflict(Msg("The outcome has already been rated"))
    return None


def _refer(actor, step):
    """A party is referred from a step that offers referrals (its diagram's property `referrals`)
    by whoever may work that step; the referral does not finish or hold the step."""
    if not may(actor.roles, "refer") or not step.referrals:
        return NotAllowed(step.id)
    return _worker(actor, step)
def _consent_online(actor, step):
    """A party (who proved their own phone of the case by a one-time code) confirms the joint
    application for judicial confirmation while its step is open (人民调解法 第三十三条: within the
    30 days the step's timer counts; once it fired, or the application was recorded, it is closed)."""
    if "resident" not in actor.roles or not step.dossier:
        return NotAllowed(step.id)
    if step.state != TaskState.READY:
        return Conflict(Msg("The application for judicial confirmation is closed"))
    return None


# What may be done with one step of it.
STEP_RULES = {
    "consent_online": lambda actor, case, step: _consent_online(actor, step),
    "open": _open,
    "claim": lambda actor, case, step: _worker(actor, step, mine=False),
    "release": lambda actor, case, step: _worker(actor, step, mine=True),
    "submit": lambda actor, case, step: _worker(actor, step),
    "stop_clock": lambda actor, case, step: _clock(actor, step, stopped=False),
    "restart_clock": lambda actor, case, step: _clock(actor, step, stopped=True),
    "extend": lambda actor, case, step: _extend(actor, step),
    "reassign": lambda actor, case, step: _assign(actor, step, claimed=True),
    "claim_on_behalf": lambda actor, case, step: _assign(actor, step, claimed=False),
    "remind": lambda actor, case, step: _open_step(actor, step, "supervise"),
    "rate_online": lambda actor, case, step: _rate_online(actor, step),
    "refer": lambda actor, case, step: _refer(actor, step),
    "assign_mediator": lambda actor, case, step: _assign_mediator(actor, step),
}
VERBS = frozenset(CASE_RULES) | frozenset(STEP_RULES)


def refusal(actor, verb, case, step=None):
    """None if the actor may do `verb` now, else the exception that says why not."""
    if verb in STEP_RULES:
        if step is None:
            raise ValueError(f"{verb} is done to a step")
        return STEP_RULES[verb](actor, case, step)
    return CASE_RULES[verb](actor, case)


def permitted(actor, case, step=None):
    """Every verb the actor may do now with the case, or with `step` of it."""
    rules = STEP_RULES if step is not None else CASE_RULES
    return frozenset(verb for verb in rules if refusal(actor, verb, case, step) is None)


def require(actor, verb, case, step=None):
    """Raise the refusal, if there is one."""
    refused = refusal(actor, verb, case, step)
    if refused is not None:
        raise refused


def permitted_on_case(session, actor, case, tasks, extension_left=None, referrals=None, facts=None):
    """For the case page: (what the actor may do with the case, {step id: what with that open
    step}). `extension_left` maps a step's element to the days its deadline may still gain,
    `referrals` to the services it may refer a party to; `facts` the case's, if the caller read them."""
    facts = facts or case_facts(session, case)
    ready = [task for task in tasks if task.state == TaskState.READY]
    # A step's unit is usually in the session already (loaded with the steps, or the case's own):
    # read from there, else one query for it.
    paths = {task.id: task.org_unit.path for task in ready}
    extension_left, referrals = extension_left or {}, referrals or {}
    steps = {task.id: permitted(actor, facts, step_facts(task, paths[task.id], extension_left.get(task.spec_id, 0)
                                                          - (task.extended_days or 0), referrals.get(task.spec_id)))
             for task in ready}
    return permitted(actor, facts), steps


def may_see_dossier(session, actor):
    """The judicial-confirmation dossier of a case the actor may see: a clerk, mediator,
    supervisor or auditor, or the court's department (no other department: it is for the court)."""
    if actor.roles & (ACTIONS["view_dossier"] - {"department"}):
        return True
    if not may(actor.roles, "view_dossier"):
        return False
    return session.scalar(select(OrgUnit.department_kind).where(OrgUnit.id == actor.unit_id)) == COURT


def may_file(actor):
    """Filing a matter (or a repeat visit) needs no case: a clerk anywhere files in their own unit."""
    return may(actor.roles, "file_matter")


def require_filing(actor, lane_role=None):
    """...and the first step of the pathway is done by a holder of its lane's role (a clerk)."""
    if not may_file(actor) or (lane_role is not None and lane_role not in actor.roles):
        raise NotAllowed(lane_role or "file_matter")


def may_report(actor):
    """Reporting a matter from the field into a unit's inbox (a submission, not yet a case)."""
    return may(actor.roles, "report_matter")


def require_reporting(actor, unit_path=None):
    """A reporter files into their own unit or a unit above it (a grid worker's village, or its
    township), never into another village's inbox."""
    if not may_report(actor) or (unit_path is not None and not unit_covers(unit_path, actor.unit_path)):
        raise NotAllowed("report_matter")


def may_design(actor):
    """The pathway library's powers: a designer at a center (policy.allowed)."""
    return allowed(actor, "design")


def require_design(actor):
    if not may_design(actor):
        raise NotAllowed("design")


def may_keep_registry(actor):
    """Adding, changing, grading and deactivating the people of the registry of mediators and
    experts: a supervisor or administrator, for their unit and the units below it."""
    return may(actor.roles, "keep_registry")


def require_registry(actor, unit_path=None):
    if not may_keep_registry(actor):
        raise NotAllowed("keep_registry")
    if unit_path is not None and not unit_covers(actor.unit_path, unit_path):
        raise NotFound(unit_path)


def require_unit_below(unit, target):
    """A case is assigned down only to a unit within its own unit's tree (never a resident
    department, which takes steps, not cases)."""
    if (target is None or target.id == unit.id or not unit_covers(unit.path, target.path)
            or target.level == "department"):
        raise NotAllowed(Msg("Only a unit below this one"))


# ---- matters reported from outside (a unit's inbox) ------------------------------------------------

@dataclass(frozen=True)
class SubmissionFacts:
    id: int
    state: str
    # The unit whose code was scanned (or the grid worker's), and the unit whose clerks decide it:
    # that unit if it has an active clerk, else the nearest unit above that has one (as steps are
    # routed, engine/library/routing.py).
    unit_path: str
    deciding_path: str
    decided_by_name: str | None = None


def _decide_submission(actor, submission):
    """Accept, join or decline: a clerk of the deciding unit. A clerk or supervisor above sees the
    matter (read-only); anyone else is not told it exists."""
    if not may(actor.roles, "view_submissions") or not unit_covers(actor.unit_path, submission.unit_path):
        return NotFound(submission.id)
    if not may(actor.roles, "file_matter") or actor.unit_path != submission.deciding_path:
        return NotAllowed(Msg("Only a clerk of the unit that takes this matter decides it"))
    if submission.state != SubmissionState.PENDING:
        who = submission.decided_by_name or Msg("the system")
        return Conflict(Msg("This matter was already decided by %(who)s", who=who))
    return None


SUBMISSION_RULES = {
    "accept": _decide_submission,
    "join": _decide_submission,
    "decline": _decide_submission,
}


def _verbs_allowed(rules, actor, facts):
    return frozenset(verb for verb, rule in rules.items() if rule(actor, facts) is None)


def _required(rules, actor, verb, facts):
    refused = rules[verb](actor, facts)
    if refused is not None:
        raise refused


def submission_refusal(actor, verb, submission):
    return SUBMISSION_RULES[verb](actor, submission)


def permitted_on_submission(actor, submission):
    return _verbs_allowed(SUBMISSION_RULES, actor, submission)


def require_on_submission(actor, verb, submission):
    _required(SUBMISSION_RULES, actor, verb, submission)


# ---- referrals to a service (legal aid, counselling) --------------------------------------------------

@dataclass(frozen=True)
class ReferralFacts:
    id: int
    state: str
    # The receiving department's unit: its logins take the referral on and record what came of it.
    to_unit_path: str | None


def _receiving(actor, referral, states):
    """The receiving department's logins; anyone else is not told the referral exists."""
    if (not may(actor.roles, "handle_referrals") or referral.to_unit_path is None
            or not unit_covers(actor.unit_path, referral.to_unit_path)):
        return NotFound(referral.id)
    if referral.state not in states:
        return Conflict(Msg("This referral was already settled; reload to see how"))
    return None


REFERRAL_RULES = {
    "accept": lambda actor, referral: _receiving(actor, referral, {ReferralState.REFERRED}),
    "decline": lambda actor, referral: _receiving(actor, referral, {ReferralState.REFERRED}),
    "complete": lambda actor, referral: _receiving(actor, referral, {ReferralState.ACCEPTED}),
}


def permitted_on_referral(actor, referral):
    return _verbs_allowed(REFERRAL_RULES, actor, referral)


def require_on_referral(actor, verb, referral):
    _required(REFERRAL_RULES, actor, verb, referral)


# ---- joint meetings (联席会议) -------------------------------------------------------------------

@dataclass(frozen=True)
class MeetingFacts:
    id: int | None
    unit_path: str
    state: str = MeetingState.SCHEDULED


def _meeting_seen(actor, meeting):
    if not may(actor.roles, "hold_meetings"):
        return NotAllowed("hold_meetings")
    if not unit_covers(actor.unit_path, meeting.unit_path):
        return NotFound(meeting.id)
    return None


def _meeting_own(actor, meeting, states):
    """A change to a meeting: by a supervisor of the meeting's own unit (a unit above reads it),
    while the meeting is in one of `states`."""
    refusal = _meeting_seen(actor, meeting)
    if refusal is None and actor.unit_path != meeting.unit_path:
        refusal = NotAllowed(Msg("Only the unit's own supervisors change its meetings"))
    if refusal is None and meeting.state not in states:
        refusal = Conflict(Msg("This meeting was cancelled") if meeting.state == MeetingState.CANCELLED
                           else Msg("This meeting has already been held"))
    return refusal


_OPEN_MEETING = (MeetingState.SCHEDULED, MeetingState.HELD)

MEETING_RULES = {
    "view": _meeting_seen,
    "schedule": lambda actor, meeting: _meeting_own(actor, meeting, (MeetingState.SCHEDULED,)),
    # Details, agenda, attendance, discussion and minutes: before the meeting, during it and
    # after it (minutes are often finished the day after); never once cancelled.
    "edit": lambda actor, meeting: _meeting_own(actor, meeting, _OPEN_MEETING),
    "decide": lambda actor, meeting: _meeting_own(actor, meeting, _OPEN_MEETING),
    "mark_held": lambda actor, meeting: _meeting_own(actor, meeting, (MeetingState.SCHEDULED,)),
    "cancel": lambda actor, meeting: _meeting_own(actor, meeting, (MeetingState.SCHEDULED,)),
}


def meeting_refusal(actor, verb, meeting):
    return MEETING_RULES[verb](actor, meeting)


def permitted_on_meeting(actor, meeting):
    return _verbs_allowed(MEETING_RULES, actor, meeting)


def require_on_meeting(actor, verb, meeting):
    _required(MEETING_RULES, actor, verb, meeting)
