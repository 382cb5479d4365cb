"""The named states of what is stored, and the kinds of event in a case's history.

Each is a StrEnum: a member is the very string stored in the database (no data migration, no
schema change), compares equal to it and can be written where the string was. Code names the
member; the database, the hash chain and exported JSON keep the plain strings."""
from enum import StrEnum


class CaseStatus(StrEnum):
    OPEN = "open"
    COMPLETED = "completed"


class TaskState(StrEnum):
    READY = "ready"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class TimerState(StrEnum):
    WAITING = "waiting"
    # The step's clock is stopped: out of the sweep's way until it runs again.
    STOPPED = "stopped"
    FIRED = "fired"
    CANCELLED = "cancelled"
    FAILED = "failed"


class TransferState(StrEnum):
    PENDING = "pending"
    ACKNOWLEDGED = "acknowledged"
    RETURNED = "returned"


class OutboxState(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class SubmissionState(StrEnum):
    """A matter reported by a resident or a grid worker, in its unit's inbox."""
    PENDING = "pending"
    ACCEPTED = "accepted"
    JOINED = "joined"
    DECLINED = "declined"


class EventKind(StrEnum):
    """What an entry in a case's history records (audit_events.kind)."""
    CASE_STARTED = "case_started"
    TASK_COMPLETED = "task_completed"
    TASK_CLAIMED = "task_claimed"
    TASK_RELEASED = "task_released"
    TIMER_FIRED = "timer_fired"
    # A transition inside the engine (a gateway taken, a script run, a step opened).
    ENGINE = "engine"
    STEP_FAILED = "step_failed"
    REPEAT_VISIT = "repeat_visit"
    CASE_ESCALATED = "case_escalated"
    CASE_ASSIGNED_DOWN = "case_assigned_down"
    TRANSFER_ACKNOWLEDGED = "transfer_acknowledged"
    TRANSFER_RETURNED = "transfer_returned"
    CASE_REOPENED = "case_reopened"
    DEADLINE_EXTENDED = "deadline_extended"
    CLOCK_STOPPED = "clock_stopped"
    CLOCK_RESTARTED = "clock_restarted"
    DEADLINE_RECOMPUTED = "deadline_recomputed"
    # A new step went to whoever answers for its role on the case (the previous step's handler).
    TASK_ASSIGNED = "task_assigned"
    TASK_REASSIGNED = "task_reassigned"
    TASK_CLAIMED_ON_BEHALF = "task_claimed_on_behalf"
    CASE_FLAGGED = "case_flagged"
    CASE_UNFLAGGED = "case_unflagged"
    REMINDER_SENT = "reminder_sent"
    RISK_ASSESSED = "risk_assessed"
    RISK_REASSESSED = "risk_reassessed"
    TRIAGED = "triaged"
    CASE_MIGRATED = "case_migrated"
    # A supervisor had a failing callback to the outside system that filed the case sent again.
    CALLBACK_RETRIED = "callback_retried"
    # The case was placed in a grid (or taken out of one) by a clerk or supervisor.
    GRID_SET = "grid_set"
    # A matter a resident or grid worker reported became this case (accepted) or was added to it.
    SUBMISSION_ACCEPTED = "submission_accepted"
    SUBMISSION_JOINED = "submission_joined"
    # A party was referred from a step to a service (legal aid, counselling), and what the receiving
    # department made of it (engine/cases/referrals.py). A referral never holds the pathway.
    REFERRAL_MADE = "referral_made"
    REFERRAL_ACCEPTED = "referral_accepted"
    REFERRAL_DECLINED = "referral_declined"
    REFERRAL_COMPLETED = "referral_completed"
    # The judicial-confirmation dossier was generated (its attachment, SHA-256 and size).
    DOSSIER_GENERATED = "dossier_generated"
    # A party confirmed the joint application for judicial confirmation online, by a one-time code.
    CONSENT_GIVEN = "consent_given"
    # A joint meeting (联席会议) decided something about the case: the decision, the meeting's
    # instruction and what it made (a step given, a listing, a move, a reminder).
    MEETING_DECIDED = "meeting_decided"
    # A mediator's step given by name to a mediator of the registry (engine/cases/registry.py).
    MEDIATOR_ASSIGNED = "mediator_assigned"
    # The whistle summoned experts of the registry (named in the entry; those with a login told).
    EXPERTS_SUMMONED = "experts_summoned"


class ReferralState(StrEnum):
    """A referral (referrals.state): made, taken on or turned down by the receiving department,
    done with its outcome."""
    REFERRED = "referred"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    COMPLETED = "completed"


class MeetingState(StrEnum):
    SCHEDULED = "scheduled"
    HELD = "held"
    CANCELLED = "cancelled"
