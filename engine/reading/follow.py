"""What a resident sees on the phone, without a login: a matter they reported (by its reference
and the phone confirmed when filing) or a case (by its code and the phone of a party, or of
someone whose report became or joined it). Milestones only: when it was accepted, where it goes
in plain words, the current stage and its deadline, how it was closed, the rating. Never a
party's name or number, never a note written inside the center."""
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from engine.access.rulebook import CLOSE_FORM, VISIT_FORM
from engine.library import catalog
from engine.persistence.keys import contact_key, normalize_phone
from engine.persistence.models import AuditEvent, Case, Submission, Task
from engine.persistence.states import EventKind, SubmissionState, TaskState

# The steps that follow a closing: the return visit and the supervisor's review of a bad rating.
AFTER_CLOSING = frozenset({VISIT_FORM, "review.json"})


def proof_of(code, phone):
    """What a resident proved by typing a code and a phone number: the same keyed digest the case
    keeps of its parties' phones (engine/persistence/keys.py), so the web can remember the proof
    for the next request without keeping the number itself."""
    code = (code or "").strip().upper()
    return contact_key(code, phone) if code and normalize_phone(phone) else None


def _proved(code, stored_phone, proof):
    return proof is not None and normalize_phone(stored_phone) is not None and contact_key(code, stored_phone) == proof


def case_for_resident(session, code, proof):
    """The case `code` if `proof` (proof_of(code, phone)) is for a party's phone or that of
    someone whose report became or joined it; else None (the same answer for a wrong code and a
    wrong phone)."""
    code = (code or "").strip().upper()
    if not code or not proof:
        return None
    case = session.scalar(select(Case).options(joinedload(Case.org_unit))
                          .where(Case.code == code))
    if case is None:
        return None
    if proof in case.contact_keys.split():
        return case
    reporters = session.scalars(select(Submission.phone).where(
        Submission.case_id == case.id, Submission.state.in_((SubmissionState.ACCEPTED, SubmissionState.JOINED))))
    return case if any(_proved(case.code, number, proof) for number in reporters) else None


def submission_for_resident(session, code, proof):
    """The reported matter `code` if `proof` is for the phone confirmed when it was filed."""
    code = (code or "").strip().upper()
    if not code or not proof:
        return None
    submission = session.scalar(select(Submission).options(joinedload(Submission.org_unit))
                                .where(Submission.code == code))
    return submission if submission is not None and _proved(submission.code, submission.phone, proof) else None


def found(session, code, proof):
    """(case, submission) that a reference and a proof open: a case by its code, or a reported
    matter by its reference together with the case it became or joined, if any."""
    case = case_for_resident(session, code, proof)
    if case is not None:
        return case, None
    submission = submission_for_resident(session, code, proof)
    return (submission.case if submission is not None else None), submission


@dataclass
class Progress:
    """A case as its resident sees it."""
    case: Case
    steps: list = field(default_factory=list)        # (title, done at or None, due at or None), in order
    deadline: object = None                          # the current stage's earliest deadline
    closed_at: object = None                         # when the case was closed (its close step done)
    closing_method: str | None = None                # how (a code of forms/close.json)
    closing_labels: dict = field(default_factory=dict)
    visit_open: bool = False                         # the return visit waits: the resident may rate
    rated: str | None = None                         # the rating given (online or at the visit)


def progress(session, case):
    tasks = session.scalars(select(Task).where(Task.case_id == case.id, Task.state != TaskState.CANCELLED)
                            .order_by(Task.id)).all()
    found = Progress(case=case, steps=[(t.title, t.completed_at, t.due_at if t.state == TaskState.READY else None)
                                       for t in tasks])
    due = [t.due_at for t in tasks if t.state == TaskState.READY and t.due_at is not None]
    found.deadline = min(due) if due else None
    closes = [t for t in tasks if t.form_key == CLOSE_FORM and t.state == TaskState.COMPLETED]
    # A case reopened after its review is being handled again: its earlier closing no longer counts.
    if closes and any(t.state == TaskState.READY and t.id > closes[-1].id and t.form_key not in AFTER_CLOSING
                      for t in tasks):
        closes = []
    if closes:
        found.closed_at = closes[-1].completed_at
        event = session.scalar(select(AuditEvent).where(
            AuditEvent.case_id == case.id, AuditEvent.kind == EventKind.TASK_COMPLETED,
            AuditEvent.task_spec == closes[-1].spec_id).order_by(AuditEvent.seq.desc()).limit(1))
        found.closing_method = ((event.detail or {}).get("data") or {}).get("closing_method") if event else None
        close_form = catalog.version_info(session, case.process_version_id).forms.get(CLOSE_FORM, {})
        found.closing_labels = close_form.get("schema", {}).get("properties", {}).get("closing_method", {}) \
            .get("x-enum-labels", {})
    visits = [t for t in tasks if t.form_key == VISIT_FORM]
    if visits:
        found.visit_open = visits[-1].state == TaskState.READY
        if visits[-1].state == TaskState.COMPLETED:
            found.rated = case.satisfaction
    return found
