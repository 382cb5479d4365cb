"""Tables. A plain SQLAlchemy declarative base: Flask-SQLAlchemy binds it in the web layer."""
from datetime import date, datetime

from sqlalchemy import (
    JSON, Boolean, Date, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from engine.legaltime.clock import Clock
from engine.persistence.states import (
    CaseStatus, OutboxState, SubmissionState, TaskState, TimerState, TransferState,
)


class Base(DeclarativeBase):
    pass


def _now():
    return Clock.now()


class OrgUnit(Base):
    """A node of the city → county → township → village tree. `path` is the chain of ids
    ("/1/2/5/") so "this unit and everything below it" is one indexed prefix query."""
    __tablename__ = "org_units"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100), default="")
    level: Mapped[str] = mapped_column(String(20))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"))
    path: Mapped[str] = mapped_column(String(400), index=True, default="/")
    # For a resident department (level "department"): which kind it is (a code of the department_kinds registry), so
    # a diagram can name "the court" and the step goes to the court stationed above the case.
    department_kind: Mapped[str | None] = mapped_column(String(40), index=True)
    # Residents living in the unit's area (a village's, a township's, the county's own total), for
    # the figures counted per 10,000 residents (万人成讼率). Kept by the administrator.
    population: Mapped[int | None] = mapped_column(Integer)

    parent: Mapped["OrgUnit | None"] = relationship(remote_side=[id])


class Grid(Base):
    """A grid (网格) of a village or community: the patch of households one or more grid workers
    walk. Matters they report carry it, and the steps a pathway gives the grid go to its workers."""
    __tablename__ = "grids"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)

    org_unit: Mapped[OrgUnit] = relationship()


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(60), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(100))
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    # Part of every session's login id: raised when the login logs out, its password, roles, unit
    # or state change, so every session (and saved cookie) of it ends.
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # A grid worker's grid (网格), within the village or community the login belongs to.
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grids.id"), index=True)

    org_unit: Mapped[OrgUnit] = relationship()
    role_rows: Mapped[list["UserRole"]] = relationship(cascade="all, delete-orphan", lazy="selectin")

    @property
    def roles(self):
        return frozenset(r.role for r in self.role_rows)

    # The session protocol the web layer's login manager expects, without importing it here.
    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self):
        return self.active

    def get_id(self):
        return f"{self.id}:{self.session_epoch or 0}"


class ApiToken(Base):
    """A bearer token an outside system (the 12345 hotline, a grid app) uses to act as one login.
    Only a hash is kept; the token itself is shown once, when it is made."""
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)

    user: Mapped["User"] = relationship()


class ApiRequest(Base):
    """A write an outside system made with an idempotency key: the same key from the same login
    within the kept time answers with the case the first request made, never a second case."""
    __tablename__ = "api_requests"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class AccountEvent(Base):
    """Who changed which login, when and how (roles, unit, password, enabled), and API tokens made:
    the history of access itself, append-only like the cases' own."""
    __tablename__ = "account_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(40))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    detail: Mapped[dict] = mapped_column(JSON, default=dict)


class LoginThrottle(Base):
    """Failed log-ins counted per (login name typed, client address) and per client address, with
    the moment the next attempt is allowed (engine/access/login_throttle.py). `key` is a hash, so that
    neither the names typed (sometimes a password) nor the addresses are kept in clear."""
    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    blocked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ClientAttempt(Base):
    """One attempt a client address made at something limited without a login (a case look-up, a
    post of the filing page, a file it kept), counted by engine/cases/client_limits.py: kept here,
    not in a web process, so every process of every machine counts the same attempts. The address
    is kept only as a digest."""
    __tablename__ = "client_attempts"
    __table_args__ = (Index("ix_client_attempts_scope_client_at", "scope", "client_key", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(20))
    client_key: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class UserRole(Base):
    __tablename__ = "user_roles"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(30), primary_key=True)


class ProcessVersion(Base):
    """An immutable published version of a pathway, keyed by the hash of everything it runs:
    the BPMN and DMN files and the forms its user tasks name. The serialized spec is kept here
    once, never copied into the cases."""
    __tablename__ = "process_versions"
    # Ids are cache keys for the life of a process: never hand out an id again (SQLite would).
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    process_key: Mapped[str] = mapped_column(String(100), index=True)
    name: Mapped[str] = mapped_column(String(200))
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Hundreds of KB together: loaded only when read (catalog.version_info keeps meta and forms per
    # process, runtime.SPEC_CACHE the specs), never with the row a case page names the version by.
    files: Mapped[dict] = mapped_column(JSON, deferred=True)
    forms: Mapped[dict] = mapped_column(JSON, deferred=True)
    meta: Mapped[dict] = mapped_column(JSON, deferred=True)
    spec_json: Mapped[str] = mapped_column(Text, deferred=True)
    source: Mapped[str] = mapped_column(String(40), default="files")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (Index("ix_cases_unit_status", "org_unit_id", "status"),
                      # The few cases whose engine step failed, for the supervisor's dashboard.
                      Index("ix_cases_failed", "updated_at", postgresql_where=text("error IS NOT NULL"),
                            sqlite_where=text("error IS NOT NULL")),
                      # The red cases open at a moment, for the periodic report (a few in a hundred):
                      # on PostgreSQL with what tells which were open then, so counting them reads
                      # the index alone.
                      Index("ix_cases_red", "created_at", postgresql_include=["closed_at", "org_unit_id", "id"],
                            postgresql_where=text("risk_level = 'red'"), sqlite_where=text("risk_level = 'red'")))

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    process_version_id: Mapped[int] = mapped_column(ForeignKey("process_versions.id"), index=True)
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"))
    status: Mapped[str] = mapped_column(String(20), default=CaseStatus.OPEN, index=True)
    kind: Mapped[str | None] = mapped_column(String(30))
    category: Mapped[str | None] = mapped_column(String(30))
    channel: Mapped[str | None] = mapped_column(String(30))
    risk_level: Mapped[str | None] = mapped_column(String(10))
    route: Mapped[str | None] = mapped_column(String(30))
    summary: Mapped[str] = mapped_column(Text, default="")
    party_names: Mapped[str] = mapped_column(Text, default="")
    # Salted digests of the parties' phone numbers: a resident proves they are a party by phone
    # when following the case, without the number being stored again in the clear.
    contact_keys: Mapped[str] = mapped_column(Text, default="")
    current_step: Mapped[str] = mapped_column(String(200), default="")
    overdue: Mapped[bool] = mapped_column(Boolean, default=False)
    # Listed for supervision (挂牌督办) by a supervisor, with why; cleared when lifted.
    flagged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    flagged_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    flag_note: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str | None] = mapped_column(String(30))
    satisfaction: Mapped[str | None] = mapped_column(String(30))
    error: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now, index=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The number the filing system gave the matter (a 12345 hotline work order): one case per
    # order of the same login, and searchable.
    external_ref: Mapped[str | None] = mapped_column(String(64), index=True)
    # The grid the matter lies in (reported by its grid worker, or set at acceptance), so the
    # steps a pathway gives the grid (a visit, checking an agreement is kept) reach its workers.
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grids.id"), index=True)
    lock_version: Mapped[int] = mapped_column(Integer, default=1)
    # The head of the case's audit hash chain, so appending never reads the events back and a
    # deleted last event is still detectable.
    audit_seq: Mapped[int] = mapped_column(Integer, default=0)
    audit_head: Mapped[str] = mapped_column(String(64), default="0" * 64)

    process_version: Mapped[ProcessVersion] = relationship()
    org_unit: Mapped[OrgUnit] = relationship()

    __mapper_args__ = {"version_id_col": lock_version}


class CaseParty(Base):
    """The parties of a case as rows, so a case can be found by a party's ID number or phone
    (repeat visits, auditors' searches) without unpacking any workflow state."""
    __tablename__ = "case_parties"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    id_number: Mapped[str | None] = mapped_column(String(40), index=True)
    phone: Mapped[str | None] = mapped_column(String(20), index=True)


class Task(Base):
    """A human task as the inbox, the overdue view and the history see it. Rows stay after
    completion (state "completed" or "cancelled") so who did what remains queryable."""
    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_open_role_unit", "state", "role", "org_unit_id"),
        Index("ix_tasks_state_due", "state", "due_at"),
        Index("ix_tasks_state_amber", "state", "amber_at"),
        Index("ix_tasks_assignee_state", "assignee_id", "state"),
        # Steps completed in a period (the time per stage, the daily roll-up) and court filings
        # in a period (the litigation figure), read without scanning every completed step.
        Index("ix_tasks_completed_at", "completed_at"),
        Index("ix_tasks_form_completed", "form_key", "completed_at"),
        # The steps each mediator finished in a period (resolver_figures, the periodic report).
        Index("ix_tasks_completed_by", "completed_by", "completed_at"),
        # The open steps with what the dashboard counts them by, so its pass over them reads the
        # index alone (on PostgreSQL with the title too): a county's open steps are many. With when
        # each was made, a report's count of the steps overdue at a past moment reads it alone too.
        Index("ix_tasks_open_lights", "org_unit_id", "spec_id", "assignee_id", "due_at", "amber_at", "clock_stopped_at",
              "created_at", postgresql_include=["title"], postgresql_where=text("state = 'ready'"),
              sqlite_where=text("state = 'ready'")),
        UniqueConstraint("case_id", "spiff_task_id", name="uq_tasks_case_spiff"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    spiff_task_id: Mapped[str] = mapped_column(String(36))
    spec_id: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(200))
    form_key: Mapped[str | None] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(30))
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    state: Mapped[str] = mapped_column(String(20), default=TaskState.READY)
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    legal_basis: Mapped[str | None] = mapped_column(String(200))
    # The deadline crosses a year whose holiday notice is not out yet: recomputed when it is.
    due_provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    # When the step's light turns amber (config/warnings.json), kept with due_at so "due soon"
    # is an indexed comparison, not a calendar computation per row.
    amber_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The last automatic reminder made for this step ("due_soon", then "overdue"), so the sweep
    # finds the steps still to remind from the tasks table alone.
    reminded: Mapped[str | None] = mapped_column(String(20))
    # Set while the legal clock of this step is stopped (waiting for the party, an expert opinion).
    clock_stopped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    extended_days: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    completed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    case: Mapped[Case] = relationship()
    # The unit whose pool holds the step while nobody has it.
    org_unit: Mapped[OrgUnit] = relationship()
    assignee: Mapped["User | None"] = relationship(foreign_keys=[assignee_id])
    completer: Mapped["User | None"] = relationship(foreign_keys=[completed_by])


class TaskDraft(Base):
    """What someone typed into a task's form and saved to finish later (a mediation record is
    written over weeks of sessions). Never validated, never handed to the workflow, never in the
    audit chain: one per task, deleted in the transaction that submits or closes the task."""
    __tablename__ = "task_drafts"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    data: Mapped[dict] = mapped_column(JSON)
    saved_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)

    user: Mapped["User"] = relationship()


class CaseTransfer(Base):
    """A case moved between levels: escalated to the unit above or assigned to one below. The
    receiving unit acknowledges it by `due_at`, or it goes back (the sweep returns it)."""
    __tablename__ = "case_transfers"
    __table_args__ = (Index("ix_transfers_state_due", "state", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    from_unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"))
    to_unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    direction: Mapped[str] = mapped_column(String(10))
    note: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    state: Mapped[str] = mapped_column(String(20), default=TransferState.PENDING)
    settled_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    settled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    case: Mapped["Case"] = relationship()
    from_unit: Mapped[OrgUnit] = relationship(foreign_keys=[from_unit_id])
    to_unit: Mapped[OrgUnit] = relationship(foreign_keys=[to_unit_id])


class Timer(Base):
    """A waiting BPMN timer. The sweep finds due ones by the indexed due time alone."""
    __tablename__ = "timers"
    __table_args__ = (Index("ix_timers_state_due", "state", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    spiff_task_id: Mapped[str] = mapped_column(String(36))
    spec_id: Mapped[str] = mapped_column(String(100))
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    state: Mapped[str] = mapped_column(String(20), default=TimerState.WAITING)
    fired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The due time as the diagram's expression computed it; due_at differs by extensions and
    # stopped time, which a recomputation keeps.
    base_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    provisional: Mapped[bool] = mapped_column(Boolean, default=False, index=True)


class AuditEvent(Base):
    """Append-only history of a case. Each event carries the hash of the one before it."""
    __tablename__ = "audit_events"
    __table_args__ = (UniqueConstraint("case_id", "seq", name="uq_audit_case_seq"),
                      # The risk assessments, a few in a case's history, for the report's red cases
                      # as they stood at a past moment (period_report.red_cases).
                      Index("ix_audit_events_risk", "case_id", "at",
                            postgresql_where=text("kind IN ('risk_assessed', 'risk_reassessed')"),
                            sqlite_where=text("kind IN ('risk_assessed', 'risk_reassessed')")))

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_name: Mapped[str] = mapped_column(String(100))
    org_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"))
    kind: Mapped[str] = mapped_column(String(40))
    task_spec: Mapped[str | None] = mapped_column(String(100))
    task_title: Mapped[str | None] = mapped_column(String(200))
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
    process_version_id: Mapped[int] = mapped_column(ForeignKey("process_versions.id"))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class Reminder(Base):
    """A nudge to the handler of a step: made by the sweep when a step turns amber or red, or
    sent by a supervisor with a note. Shown at the top of the handler's task list until read.
    `dedupe` keeps the sweep from making the same reminder twice (NULL for a supervisor's)."""
    __tablename__ = "reminders"
    __table_args__ = (Index("ix_reminders_user_read", "user_id", "read_at"),
                      Index("ix_reminders_task_kind", "task_id", "kind"),
                      Index("ix_reminders_unit_role_read", "org_unit_id", "role", "read_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    kind: Mapped[str] = mapped_column(String(20))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"))
    role: Mapped[str] = mapped_column(String(30))
    note: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    dedupe: Mapped[str | None] = mapped_column(String(120), unique=True)

    task: Mapped[Task] = relationship()
    case: Mapped[Case] = relationship()


class OutboxMessage(Base):
    """A message for a gateway outside (SMS, mail) that the system does not have yet. Written in
    the same transaction as what caused it; a deliverer hands pending ones to the configured
    gateway (engine/cases/outbox.py) and records the result."""
    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_state_id", "state", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    recipient_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recipient_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"))
    recipient_role: Mapped[str | None] = mapped_column(String(30))
    body: Mapped[str] = mapped_column(Text)
    reminder_id: Mapped[int | None] = mapped_column(ForeignKey("reminders.id"))
    # Where it goes when not to a login: a resident's phone number (one-time codes, notices) or an
    # outside system's callback URL (the 12345 hotline told back).
    address: Mapped[str | None] = mapped_column(String(500))
    # What it is about (e.g. "otp", "notice", "callback"), and the case it concerns, if any.
    topic: Mapped[str | None] = mapped_column(String(40))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    state: Mapped[str] = mapped_column(String(20), default=OutboxState.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Not before this moment (growing delays between retries); NULL: at once.
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    error: Mapped[str | None] = mapped_column(Text)


class DiagramDraft(Base):
    """A designer's unpublished edit of one diagram file of the library, saved from the modeler.
    Publishing checks the whole library with it and records a new version."""
    __tablename__ = "diagram_drafts"

    id: Mapped[int] = mapped_column(primary_key=True)
    filename: Mapped[str] = mapped_column(String(200), unique=True)
    xml: Mapped[str] = mapped_column(Text)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class CallbackEndpoint(Base):
    """Where an outside system's login (the 12345 hotline) is told what became of the matters it
    filed, and the shared secret those messages are signed with (HMAC-SHA256). The secret is
    kept as given: signing needs it, so it cannot be a hash."""
    __tablename__ = "callback_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    url: Mapped[str] = mapped_column(String(500))
    secret: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)

    user: Mapped[User] = relationship()


class Submission(Base):
    """A matter reported from outside the window: by a resident through a unit's QR code, or by a
    grid worker from the field. It waits in that unit's inbox until a clerk accepts it (it becomes
    a case through the intake pathway), joins it to an open case of the same parties, or declines
    it with a reason the resident is told."""
    __tablename__ = "submissions"
    __table_args__ = (Index("ix_submissions_unit_state", "org_unit_id", "state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # The reference the resident keeps to follow it (with the phone number confirmed).
    code: Mapped[str] = mapped_column(String(40), unique=True)
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"))
    source: Mapped[str] = mapped_column(String(20))  # "resident" or "grid"
    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grids.id"))
    kind: Mapped[str] = mapped_column(String(30))
    category: Mapped[str | None] = mapped_column(String(30))
    summary: Mapped[str] = mapped_column(Text, default="")
    place: Mapped[str] = mapped_column(String(200), default="")
    claims: Mapped[str] = mapped_column(Text, default="")
    # [{"name", "phone", "role"}]: as the reporter gave them, for the clerk to complete.
    parties: Mapped[list] = mapped_column(JSON, default=list)
    # The resident's own number, confirmed by a one-time code (to tell them what became of it),
    # and its salted digest (engine/persistence/keys.py) to find what they filed.
    phone: Mapped[str | None] = mapped_column(String(20))
    phone_key: Mapped[str | None] = mapped_column(String(64), index=True)
    state: Mapped[str] = mapped_column(String(20), default=SubmissionState.PENDING)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decline_reason: Mapped[str | None] = mapped_column(Text)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now, index=True)

    org_unit: Mapped[OrgUnit] = relationship()
    case: Mapped["Case | None"] = relationship()


class Attachment(Base):
    """A photo or document given with a submission (and, once accepted, with its case). The bytes
    are kept outside the web root (ATTACHMENTS_DIR) under their SHA-256; `media_type` is what the
    content was found to be, never what the name or the browser claimed."""
    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("submissions.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    media_type: Mapped[str] = mapped_column(String(60))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    # What the file is for a case beyond evidence: "dossier" for a judicial-confirmation dossier
    # the server generated (its hash is in the case's history).
    purpose: Mapped[str | None] = mapped_column(String(20))


class PhoneCode(Base):
    """A one-time code sent to a phone number to confirm the resident holds it. Only a hash of the
    code is kept; it expires, allows a few tries, and the rows sent per phone and per client
    address in a window are what throttles sending (so the limit holds across web processes)."""
    __tablename__ = "phone_codes"
    __table_args__ = (Index("ix_phone_codes_phone_created", "phone_key", "created_at"),
                      Index("ix_phone_codes_client_created", "client_key", "created_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    phone_key: Mapped[str] = mapped_column(String(64))
    client_key: Mapped[str] = mapped_column(String(64))
    purpose: Mapped[str] = mapped_column(String(20))
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class DepartmentKind(Base):
    """A kind of resident department or social organisation a center can station and summon
    (人社局, 法院, 妇联, 法律援助中心...). Diagrams name a kind by its code (property `department`),
    the whistle's form offers the active kinds, and a department unit (org_units.department_kind)
    is one kind stationed at one center. Kept by administrators; the 13 kinds the first version
    knew are the initial rows (migration). A kind with `service` set is also a service a step can
    refer a party to (legal aid, psychological counselling: see Referral)."""
    __tablename__ = "department_kinds"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100), default="")
    # "legal_aid" or "counselling" when the kind provides a service parties are referred to.
    service: Mapped[str | None] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", name="fk_department_kinds_created_by"))


class Resolver(Base):
    """A person who resolves disputes, in the registry of a unit: a people's mediator (full- or
    part-time, of a committee, graded), or an expert the center can summon (lawyer, judge,
    prosecutor, police officer, psychologist, doctor...). `user_id` links the login they work
    with, so a mediation step can be given to them by name."""
    __tablename__ = "resolvers"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id", name="fk_resolvers_org_unit"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", name="fk_resolvers_user"), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    # mediator, lawyer, judge, prosecutor, police, psychologist, doctor, expert
    kind: Mapped[str] = mapped_column(String(20), index=True)
    # For a mediator: "full_time" (专职) or "part_time" (兼职).
    employment: Mapped[str | None] = mapped_column(String(20))
    # The mediation committee (调委会) or professional body they belong to, and their team.
    committee: Mapped[str] = mapped_column(String(100), default="")
    team: Mapped[str] = mapped_column(String(100), default="")
    # The current grade (from the latest ResolverGrading), for a mediator.
    grade: Mapped[str | None] = mapped_column(String(20))
    # Dispute categories they are good at (the intake form's category codes).
    specialties: Mapped[list] = mapped_column(JSON, default=list)
    certificate: Mapped[str] = mapped_column(String(60), default="")
    phone: Mapped[str | None] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)

    org_unit: Mapped[OrgUnit] = relationship()
    user: Mapped["User | None"] = relationship()


class ResolverGrading(Base):
    """The grade a center gave a mediator in its yearly assessment (人民调解员等级评定)."""
    __tablename__ = "resolver_gradings"
    __table_args__ = (UniqueConstraint("resolver_id", "year", name="uq_resolver_gradings_year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    resolver_id: Mapped[int] = mapped_column(ForeignKey("resolvers.id", name="fk_resolver_gradings_resolver"))
    year: Mapped[int] = mapped_column(Integer)
    grade: Mapped[str] = mapped_column(String(20))
    basis: Mapped[str] = mapped_column(Text, default="")
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", name="fk_resolver_gradings_recorded_by"))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class Meeting(Base):
    """A joint meeting of a center (联席会议): the daily consultation, the weekly analysis, the
    monthly assessment. Its agenda is cases (MeetingItem); once held it has minutes, and each
    item's decision becomes a step or an action on its case."""
    __tablename__ = "meetings"
    __table_args__ = (Index("ix_meetings_unit_scheduled", "org_unit_id", "scheduled_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id", name="fk_meetings_org_unit"))
    # daily, weekly, monthly
    kind: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(200))
    scheduled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    place: Mapped[str] = mapped_column(String(200), default="")
    chair_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", name="fk_meetings_chair"))
    # scheduled, held, cancelled
    state: Mapped[str] = mapped_column(String(20), default="scheduled")
    # Who attended: [{"user_id"|"resolver_id"|"unit_id": id, "name": ...}] as recorded.
    attendees: Mapped[list] = mapped_column(JSON, default=list)
    minutes: Mapped[str] = mapped_column(Text, default="")
    held_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", name="fk_meetings_created_by"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    lock_version: Mapped[int] = mapped_column(Integer, default=1)

    org_unit: Mapped[OrgUnit] = relationship()
    items: Mapped[list["MeetingItem"]] = relationship(order_by="MeetingItem.position",
                                                      cascade="all, delete-orphan", back_populates="meeting")

    __mapper_args__ = {"version_id_col": lock_version}


class MeetingItem(Base):
    """A case on a meeting's agenda, why it is there (overdue, red risk, under supervision,
    unresolved after the whistle, added by hand), what was said and what was decided."""
    __tablename__ = "meeting_items"
    __table_args__ = (UniqueConstraint("meeting_id", "case_id", name="uq_meeting_items_case"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", name="fk_meeting_items_meeting"))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", name="fk_meeting_items_case"), index=True)
    reason: Mapped[str] = mapped_column(String(30))
    position: Mapped[int] = mapped_column(Integer, default=0)
    discussion: Mapped[str] = mapped_column(Text, default="")
    # What the meeting decided for the case (None until decided), a note, and what it became
    # (e.g. "task:123", "flag", "whistle"), so the minutes link to the step it made.
    decision: Mapped[str | None] = mapped_column(String(30))
    decision_note: Mapped[str] = mapped_column(Text, default="")
    result_ref: Mapped[str | None] = mapped_column(String(60))
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", name="fk_meeting_items_decided_by"))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    meeting: Mapped[Meeting] = relationship(back_populates="items")
    case: Mapped[Case] = relationship()


class Referral(Base):
    """A party referred by a step to a service (legal aid, psychological counselling), to a unit
    of a service kind or a registered expert, with what came of it."""
    __tablename__ = "referrals"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", name="fk_referrals_case"), index=True)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id", name="fk_referrals_task"))
    # "legal_aid" or "counselling"
    service: Mapped[str] = mapped_column(String(20))
    party_name: Mapped[str] = mapped_column(String(100), default="")
    to_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id", name="fk_referrals_to_unit"), index=True)
    to_resolver_id: Mapped[int | None] = mapped_column(ForeignKey("resolvers.id", name="fk_referrals_to_resolver"))
    reason: Mapped[str] = mapped_column(Text, default="")
    # referred, accepted, completed, declined
    state: Mapped[str] = mapped_column(String(20), default="referred", index=True)
    outcome: Mapped[str] = mapped_column(Text, default="")
    outcome_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    outcome_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", name="fk_referrals_outcome_by"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", name="fk_referrals_created_by"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class ConfirmationConsent(Base):
    """One party's confirmation, by a one-time code on the residents' pages, that they apply
    jointly for judicial confirmation of the case's agreement (人民调解法 第三十三条). When every
    party of the step has confirmed, the joint application is made."""
    __tablename__ = "confirmation_consents"
    __table_args__ = (UniqueConstraint("task_id", "party_id", name="uq_confirmation_consents_party"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", name="fk_confirmation_consents_case"), index=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", name="fk_confirmation_consents_task"))
    party_id: Mapped[int] = mapped_column(ForeignKey("case_parties.id", name="fk_confirmation_consents_party"))
    confirmed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class RollupSpan(Base):
    """A China day (or a whole month) whose figures are kept in rollup_counts. `stale` above
    zero: a write changed a case of that day since (engine/persistence/rollup_marks.py, in the
    writing transaction), so readers count that day live until the sweep rolls it up again."""
    __tablename__ = "rollup_spans"

    span: Mapped[str] = mapped_column(String(5), primary_key=True)  # "day" or "month"
    start: Mapped[date] = mapped_column(Date, primary_key=True)  # the day, or the month's first day
    stale: Mapped[int] = mapped_column(Integer, default=0)


class RollupCount(Base):
    """The daily roll-up the indicators read for whole past days (engine/cases/rollup.py keeps
    it): for a span and a unit with everything below it, how many cases filed in the span had a
    value of one measure (kind, outcome, rating, closed at level, overdue, category, unit below),
    and how many steps completed in the span took a number of tenths of a day (measure stage)."""
    __tablename__ = "rollup_counts"
    __table_args__ = (Index("ix_rollup_counts_unit_measure", "unit_id", "measure", "span", "start"),
                      Index("ix_rollup_counts_span_start", "span", "start"))

    id: Mapped[int] = mapped_column(primary_key=True)
    span: Mapped[str] = mapped_column(String(5))
    start: Mapped[date] = mapped_column(Date)
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id", name="fk_rollup_counts_unit"))
    measure: Mapped[str] = mapped_column(String(10))
    key: Mapped[str | None] = mapped_column(String(100))
    tenths: Mapped[int | None] = mapped_column(Integer)
    title: Mapped[str | None] = mapped_column(String(200))
    n: Mapped[int] = mapped_column(Integer)


# The marks a write leaves on the roll-up of a past day (registered on the models above).
from engine.persistence import rollup_marks  # noqa: E402,F401
