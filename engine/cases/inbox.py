"""A clerk decides a matter in the unit's inbox (a resident's QR filing, a grid worker's report):
accept it (it is registered through the intake pathway with the facts the reporter gave, completed
by the clerk), join it to an open case of the same parties, or decline it with a reason the
resident is told. Each decision is one transaction through engine/cases/acting.py, asked of the
rulebook, and a matter is decided once: a second clerk meets a Conflict naming the first."""
from sqlalchemy import update
from sqlalchemy.orm.attributes import set_committed_value

from engine.access import rulebook
from engine.cases import attachments, notes, resident_notices, services
from engine.cases.acting import acting_on_case, deciding, lock_submission
from engine.cases.store import AuditLog
from engine.legaltime.clock import Clock, as_utc
from engine.errors import Conflict, NotFound
from engine.messages import Msg
from engine.persistence.models import Attachment, Submission
from engine.persistence.states import EventKind, SubmissionState
from engine.reading import unit_inbox

INTAKE_PROCESS = "intake"
# What the resident reads in an SMS: a reason, not a report.
DECLINE_REASON = 300


def _decide(session, actor, submission, state, case=None):
    """Mark the matter decided, guarded on its state (a decision that raced another finds it
    decided and changes nothing), and hand its attachments to the case."""
    values = dict(state=state, decided_by=actor.user_id, decided_at=Clock.now(), case_id=case.id if case else None)
    done = session.connection().execute(
        update(Submission.__table__).where(Submission.__table__.c.id == submission.id,
                                           Submission.__table__.c.state == SubmissionState.PENDING)
        .values(**values)).rowcount
    if not done:
        raise Conflict(Msg("This matter was already decided; reload the inbox"))
    for name, value in values.items():
        set_committed_value(submission, name, value)  # as written: nothing left for the flush to do
    if case is not None:
        session.connection().execute(update(Attachment.__table__).where(
            Attachment.__table__.c.submission_id == submission.id).values(case_id=case.id))


def accept(session, actor, submission_id, post, new_despite_repeats=False):
    """Register the matter as a case: the intake form as the clerk completed it (`post`), with the
    channel the matter came by. Everything start_case checks still applies (the form, possible
    repeats); in the same transaction the matter is marked accepted, its attachments and grid go
    to the case, the case's history names the matter, and the resident is told the case code."""
    submission = session.get(Submission, submission_id)
    if submission is None:
        raise NotFound(submission_id)
    # Asked first without a lock so a refusal costs no engine run; asked again, locked, in `link`.
    rulebook.require_on_submission(actor, "accept", unit_inbox.facts(session, submission, submission.org_unit.path))
    post = post.copy()
    post["channel"] = unit_inbox.CHANNELS.get(submission.source, "online")

    def link(case):
        locked = lock_submission(session, actor, submission_id, "accept")
        _decide(session, actor, locked, SubmissionState.ACCEPTED, case)
        if locked.grid_id is not None:
            case.grid_id = locked.grid_id
        AuditLog(session, case).add(actor, EventKind.SUBMISSION_ACCEPTED, detail=_history(session, locked))
        resident_notices.accepted(session, locked, case)

    return services.start_case(session, actor, INTAKE_PROCESS, post, new_despite_repeats=new_despite_repeats,
                               remember=link)


def _history(session, submission):
    return {"submission": submission.code, "source": submission.source,
            "filed_at": as_utc(submission.created_at).isoformat(),
            "attachments": len(attachments.of_submission(session, submission.id))}


def join(session, actor, submission_id, case_id):
    """Add the matter to an open case of the same parties: recorded in that case's history with
    what the reporter said (like a repeat visit), its attachments go to the case."""
    with acting_on_case(session, actor, case_id, "join_submission") as act:
        submission = lock_submission(session, actor, submission_id, "join")
        case = act.case
        _decide(session, actor, submission, SubmissionState.JOINED, case)
        if case.grid_id is None and submission.grid_id is not None:
            case.grid_id = submission.grid_id
        detail = _history(session, submission)
        detail.update(kind=submission.kind, category=submission.category, place=submission.place,
                      summary=submission.summary, claims=submission.claims)
        act.log.add(actor, EventKind.SUBMISSION_JOINED, detail=detail)
        case.updated_at = Clock.now()
        resident_notices.joined(session, submission, case)
        return case


def decline(session, actor, submission_id, reason):
    """Decline the matter; the reason (required, at most DECLINE_REASON characters) is kept and
    sent to the resident."""
    reason = notes.note(reason, DECLINE_REASON, missing=Msg("Say why the matter is declined: the resident is told"))
    with deciding(session, actor, submission_id, "decline") as act:
        submission = act.submission
        _decide(session, actor, submission, SubmissionState.DECLINED)
        session.connection().execute(update(Submission.__table__).where(Submission.__table__.c.id == submission.id)
                                     .values(decline_reason=reason))
        set_committed_value(submission, "decline_reason", reason)
        resident_notices.declined(session, submission)
        return submission
