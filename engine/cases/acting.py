"""The one way to act on a case. Every case verb runs inside one of these:

    with acting_on_case(session, actor, case_id, "flag") as act:     # act.case, act.unit, act.log
    with acting_on_task(session, actor, task_id, "submit") as act:   # act.task, act.case, ...

Each loads and locks what is acted on (on PostgreSQL a row lock on the case: two actions on one
case queue; SQLite serialises writers itself and the case's version column catches the rest),
asks the rulebook (engine/access/rulebook.py) whether the actor may do the verb now, opens the
one transaction of the action (the unit of work, committed when the block ends, rolled back if it
raises) and hands over the case's audit log. Each user action and each timer firing is exactly
one transaction.

`filing` (a new matter, with no case yet), `reporting` (a resident's or grid worker's
submission, waiting for a clerk), `designing` (the pathway library) and `as_system`
(the scheduler's sweeps, which lock their own rows with SKIP LOCKED and answer to no actor) open
the transaction the same way for what has no case to load first. `deciding` is a clerk's decision
on a matter in the unit's inbox (`lock_submission` when the decision runs inside a case's own
entry), and `as_resident` a resident acting on their case without a login (rating it online).
`meeting_work` is a change to a joint meeting (its details, agenda, attendance, minutes);
`lock_meeting` brings a meeting into a case's own entry, where a meeting's decision acts on it.
`keeping_registry` is a change to the registry of mediators and experts."""
from contextlib import contextmanager

from sqlalchemy import bindparam, exists, select
from sqlalchemy.orm import aliased

from engine.access import rulebook
from engine.access.policy import RESIDENT
from engine.cases import hotline, store
from engine.errors import Conflict, NotFound
from engine.library import catalog
from engine.legaltime.clock import CHINA, as_utc
from engine.messages import Msg
from engine.persistence.models import (CallbackEndpoint, Case, Meeting, OrgUnit, Referral, Resolver, Submission, Task,
                                       TaskDraft, User)
from engine.persistence.states import CaseStatus
from engine.reading import unit_inbox
from engine.persistence.uow import UnitOfWork

TaskUnit = aliased(OrgUnit)
Assignee = aliased(User)


class Act:
    """What an action works on: the case (locked), its unit, the step if it is a step's verb,
    the facts the rulebook read, and the case's audit log."""

    def __init__(self, session, actor, case=None, unit=None, task=None, task_unit_path=None, facts=None):
        self.session, self.actor = session, actor
        self.case, self.unit, self.task, self.task_unit_path, self.facts = case, unit, task, task_unit_path, facts
        self._log = None

    @property
    def unit_path(self):
        return self.unit.path

    @property
    def log(self):
        """The case's audit log (appends to the hash chain whose head is on the case row)."""
        if self._log is None:
            self._log = store.AuditLog(self.session, self.case)
        return self._log

    submission = None
    # Whether the step acted on has a draft (acting_on_task reads it; elsewhere unknown: True).
    task_has_draft = True
    referral = None
    meeting = None
    resolver = None

    def begin(self, case):
        """A case made within this action (filing) becomes the one acted on."""
        self.case, self._log = case, None
        return case


def _verbs(verb):
    return (verb,) if isinstance(verb, str) else tuple(verb)


def _check(actor, verbs, case_facts, step_facts=None):
    """Allowed if any of `verbs` is (a supervisor's "give this step to someone" is a reassignment
    or a claim on someone's behalf, whichever the step's state makes it); else the first refusal."""
    refusals = [rulebook.refusal(actor, verb, case_facts, step_facts) for verb in verbs]
    if any(refused is None for refused in refusals):
        return
    raise refusals[0]


def lock_case(session, case_id):
    """A case and its unit, the case row-locked on PostgreSQL; None if there is no such case."""
    return session.execute(_CASE_AND_UNIT, {"b_case": case_id}).first()


@contextmanager
def _transaction(session):
    """The one transaction of an action: committed when the block ends, rolled back if it raises.
    Before it commits, the outside systems that filed the cases it touched are told of their
    milestones in the same transaction (engine/cases/hotline.py): nothing is told of what fails."""
    hotline.begin(session)
    with UnitOfWork(session):
        try:
            yield
        except BaseException:
            hotline.discard(session)
            raise
        hotline.tell(session)


@contextmanager
def acting_on_case(session, actor, case_id, verb):
    with _transaction(session):
        row = lock_case(session, case_id)
        if row is None:
            raise NotFound(case_id)
        case, unit = row
        facts = rulebook.case_facts(session, case, unit)
        _check(actor, _verbs(verb), facts)
        yield Act(session, actor, case=case, unit=unit, facts=facts)


# Built once (statements built anew for each call cost more than running them, bench/).
# With the step, whether it has a draft (its submission then deletes it) and whether whoever filed
# the case hears of its milestones (hotline.py): the case's lock keeps both true until the commit.
_TASK_AND_CASE = (select(Task, Case, OrgUnit, TaskUnit.path, Assignee.display_name,
                         exists().where(TaskDraft.task_id == Task.id),
                         exists().where(CallbackEndpoint.user_id == Case.created_by, CallbackEndpoint.active.is_(True)))
                  .join(Case, Case.id == Task.case_id).join(OrgUnit, OrgUnit.id == Case.org_unit_id)
                  .join(TaskUnit, TaskUnit.id == Task.org_unit_id).outerjoin(Assignee, Assignee.id == Task.assignee_id)
                  .where(Task.id == bindparam("b_task")).with_for_update(of=Case))
_CASE_AND_UNIT = (select(Case, OrgUnit).join(OrgUnit, OrgUnit.id == Case.org_unit_id)
                  .where(Case.id == bindparam("b_case")).with_for_update(of=Case))


@contextmanager
def acting_on_task(session, actor, task_id, verb):
    """A step's verb: the step, its case (row-locked) and both units in one query."""
    with _transaction(session):
        row = session.execute(_TASK_AND_CASE, {"b_task": task_id}).first()
        if row is None:
            raise NotFound(task_id)
        task, case, unit, task_unit_path, assignee_name, has_draft, called_back = row
        if not called_back:
            hotline.untold(session, case.id)
        # The step's rules read the step; the case's own facts (moves, departments) are not asked.
        facts = rulebook.CaseFacts(id=case.id, status=case.status, unit_path=unit.path, unit_level=unit.level,
                                   route=case.route, flagged=case.flagged_at is not None)
        _check(actor, _verbs(verb), facts, rulebook.step_facts(task, task_unit_path, referrals=_referrals(session, case, task),
                                                              assignee_name=assignee_name))
        act = Act(session, actor, case=case, unit=unit, task=task, task_unit_path=task_unit_path, facts=facts)
        act.task_has_draft = has_draft
        yield act


def _referrals(session, case, task):
    """The services the step's diagram lets it refer a party to (its version's metadata, kept in memory)."""
    return catalog.version_info(session, case.process_version_id).meta["tasks"].get(task.spec_id, {}).get("referrals")


@contextmanager
def acting_on_referral(session, actor, referral_id, verb):
    """The receiving department's verb on a referral (accept, decline, complete): the referral and
    its case (row-locked), as the rulebook allows; act.referral is the referral."""
    with _transaction(session):
        case_id = session.scalar(select(Referral.case_id).where(Referral.id == referral_id))
        locked = lock_case(session, case_id) if case_id is not None else None
        if locked is None:
            raise NotFound(referral_id)
        # Read again under the case's lock: two people of the department answering at once get one success.
        referral, to_path = session.execute(
            select(Referral, OrgUnit.path).outerjoin(OrgUnit, OrgUnit.id == Referral.to_unit_id)
            .where(Referral.id == referral_id).execution_options(populate_existing=True)).one()
        rulebook.require_on_referral(actor, verb, rulebook.ReferralFacts(id=referral.id, state=referral.state,
                                                                         to_unit_path=to_path))
        case, unit = locked
        act = Act(session, actor, case=case, unit=unit)
        act.referral = referral
        yield act


@contextmanager
def filing(session, actor):
    """A new matter (or a repeat visit found at intake): a clerk files in their own unit."""
    rulebook.require_filing(actor)
    with _transaction(session):
        yield Act(session, actor)


@contextmanager
def reporting(session, reporter=None, unit=None):
    """A matter reported from outside the window (a submission, its one-time phone code, its
    photos kept while the form is being filled): by a resident, who has no login (`reporter` None:
    the one-time code sent to their phone stands in for a login), or by a logged-in reporter (a
    grid worker) whom the rulebook allows to report into `unit`."""
    if reporter is not None:
        rulebook.require_reporting(reporter, unit.path if unit is not None else None)
    with UnitOfWork(session):
        yield Act(session, reporter)


@contextmanager
def designing(session, actor, dry_run=False):
    """A change to the pathway library, by a designer who holds its powers; with `dry_run`, a
    check that changes nothing (whatever it wrote is rolled back)."""
    rulebook.require_design(actor)
    if dry_run:
        try:
            yield Act(session, actor)
        finally:
            session.rollback()
        return
    with _transaction(session):
        yield Act(session, actor)


@contextmanager
def personal(session, actor):
    """A change to a person's own things that touches no case (marking a reminder read); the
    caller checks the thing is theirs."""
    with _transaction(session):
        yield Act(session, actor)


@contextmanager
def keeping_registry(session, actor, resolver_id=None):
    """A change to the registry of mediators and experts (a person added, changed, graded,
    deactivated): by whom the rulebook lets keep it, within their units; the person acted on is
    row-locked (act.resolver). The change's entry in the account history goes in the same commit."""
    rulebook.require_registry(actor)
    with _transaction(session):
        act = Act(session, actor)
        if resolver_id is not None:
            row = session.execute(select(Resolver, OrgUnit.path).join(OrgUnit, OrgUnit.id == Resolver.org_unit_id)
                                  .where(Resolver.id == resolver_id).with_for_update(of=Resolver)).first()
            if row is None:
                raise NotFound(resolver_id)
            rulebook.require_registry(actor, row[1])
            act.resolver = row[0]
        yield act


@contextmanager
def as_system(session):
    """One transaction of the scheduler (a timer, a batch of timers, a sweep's step) or of the
    library's load from the folders: no actor and no rulebook, the rows are locked by the caller."""
    with _transaction(session):
        yield Act(session, None)


def lock_submission(session, actor, submission_id, verb):
    """A matter of a unit's inbox, row-locked on PostgreSQL, once the rulebook lets the actor
    `verb` it (accept, join, decline): a second clerk deciding it meets a Conflict naming the first."""
    row = session.execute(select(Submission, OrgUnit.path).join(OrgUnit, OrgUnit.id == Submission.org_unit_id)
                          .where(Submission.id == submission_id).with_for_update(of=Submission)).first()
    if row is None:
        raise NotFound(submission_id)
    submission, unit_path = row
    rulebook.require_on_submission(actor, verb, unit_inbox.facts(session, submission, unit_path))
    return submission


@contextmanager
def deciding(session, actor, submission_id, verb):
    """A clerk's decision on a matter in the unit's inbox that touches no case (declining it)."""
    with _transaction(session):
        act = Act(session, actor)
        act.submission = lock_submission(session, actor, submission_id, verb)
        yield act


@contextmanager
def as_resident(session, case_id, form_key, verb, task_id=None):
    """A resident, who proved a phone number of the case, acts on its open step of `form_key` (the
    return visit: rating the outcome online), or on its step `task_id` (the joint application for
    judicial confirmation), as the rulebook allows a resident to."""
    with _transaction(session):
        row = lock_case(session, case_id)
        if row is None:
            raise NotFound(case_id)
        case, unit = row
        which = Task.id == task_id if task_id is not None else Task.form_key == form_key
        row = session.execute(select(Task, OrgUnit.path).join(OrgUnit, OrgUnit.id == Task.org_unit_id)
                              .where(Task.case_id == case.id, which)
                              .order_by(Task.id.desc()).limit(1)).first()
        if row is None and task_id is not None:
            raise NotFound(task_id)
        if row is None:
            raise Conflict(Msg("The case is still being handled; you can rate it once it is closed")
                           if case.status == CaseStatus.OPEN else Msg("There is nothing to rate on this case"))
        task, task_unit_path = row
        facts = rulebook.CaseFacts(id=case.id, status=case.status, unit_path=unit.path, unit_level=unit.level,
                                   route=case.route, flagged=case.flagged_at is not None)
        dossier = bool(catalog.version_info(session, case.process_version_id).meta["tasks"]
                       .get(task.spec_id, {}).get("dossier"))
        _check(RESIDENT, _verbs(verb), facts, rulebook.step_facts(task, task_unit_path, dossier=dossier))
        yield Act(session, RESIDENT, case=case, unit=unit, task=task, task_unit_path=task_unit_path, facts=facts)


def meeting_facts(meeting, unit_path):
    return rulebook.MeetingFacts(id=meeting.id, unit_path=unit_path, state=meeting.state)


def lock_meeting(session, actor, meeting_id, verb, version=None):
    """A joint meeting, row-locked on PostgreSQL, once the rulebook lets the actor `verb` it.
    `version` is the meeting's lock_version as the person's page showed it: if someone saved the
    meeting since, their save is a Conflict saying so (the page keeps what they typed)."""
    row = session.execute(select(Meeting, OrgUnit.path).join(OrgUnit, OrgUnit.id == Meeting.org_unit_id)
                          .where(Meeting.id == meeting_id).with_for_update(of=Meeting)).first()
    if row is None:
        raise NotFound(meeting_id)
    meeting, unit_path = row
    rulebook.require_on_meeting(actor, verb, meeting_facts(meeting, unit_path))
    if version is not None and version != meeting.lock_version:
        raise Conflict(Msg("Someone else saved this meeting at %(at)s, after you opened it. What you typed is "
                           "kept below, beside what they saved: check it and save again",
                           at=f"{as_utc(meeting.updated_at).astimezone(CHINA):%H:%M}"))
    return meeting


@contextmanager
def meeting_work(session, actor, meeting_id, verb, version=None):
    """A change to a joint meeting that touches no case: one transaction."""
    with _transaction(session):
        act = Act(session, actor)
        act.meeting = lock_meeting(session, actor, meeting_id, verb, version)
        yield act


@contextmanager
def scheduling(session, actor, unit):
    """A new joint meeting of `unit`, by one of its own supervisors."""
    rulebook.require_on_meeting(actor, "schedule", rulebook.MeetingFacts(id=None, unit_path=unit.path))
    with _transaction(session):
        yield Act(session, actor, unit=unit)
