"""Tamper evidence: every case's events form a hash chain (each event carries the hash of the one
before it, and the case row keeps the newest). Verifying recomputes every hash and names, per
case, the first event that was altered, inserted or deleted."""
from dataclasses import dataclass

from sqlalchemy import select

from engine.legaltime.clock import as_utc
from engine.persistence.models import AuditEvent, Case
from engine.persistence.chain import GENESIS, event_hash

_COLUMNS = (AuditEvent.case_id, AuditEvent.seq, AuditEvent.at, AuditEvent.actor_id, AuditEvent.actor_name,
            AuditEvent.kind, AuditEvent.task_spec, AuditEvent.detail, AuditEvent.process_version_id,
            AuditEvent.prev_hash, AuditEvent.hash, AuditEvent.id)


@dataclass(frozen=True)
class Break:
    case_id: int
    code: str
    seq: int | None
    event_id: int | None
    what: str

    def __str__(self):
        where = f"event #{self.seq} (id {self.event_id})" if self.seq is not None else "after the last event"
        return f"{self.code}: {where}: {self.what}"


@dataclass
class Report:
    cases: int = 0
    events: int = 0
    breaks: list = None


class _Chain:
    """One case's chain as its events stream past, in sequence order."""

    def __init__(self, case_id):
        self.case_id, self.prev, self.seq, self.broken = case_id, GENESIS, 0, None

    def take(self, row):
        if self.broken:
            return
        expected_seq = self.seq + 1
        if row.seq != expected_seq:
            what = (f"events {expected_seq}–{row.seq - 1} are missing (deleted)" if row.seq > expected_seq
                    else f"sequence number {row.seq} repeats or goes back (inserted)")
            self.broken = (row.seq, row.id, what)
            return
        if row.prev_hash != self.prev:
            self.broken = (row.seq, row.id, "does not follow the event before it (inserted, or one before it deleted)")
            return
        digest = event_hash(row.prev_hash, row.case_id, row.seq, as_utc(row.at), row.actor_id, row.actor_name,
                            row.kind, row.task_spec, row.detail, row.process_version_id)
        if digest != row.hash:
            self.broken = (row.seq, row.id, "its content does not match its hash (altered)")
            return
        self.prev, self.seq = row.hash, row.seq


def verify(session, batch=5000):
    """Check every case's chain. Events stream in (case, seq) order, a batch at a time."""
    heads = {case_id: (code, head, seq) for case_id, code, head, seq in
             session.execute(select(Case.id, Case.code, Case.audit_head, Case.audit_seq))}
    report = Report(cases=len(heads), breaks=[])
    chains = {}
    rows = session.execute(select(*_COLUMNS).order_by(AuditEvent.case_id, AuditEvent.seq)
                           .execution_options(yield_per=batch))
    for row in rows:
        report.events += 1
        chain = chains.get(row.case_id)
        if chain is None:
            chain = chains[row.case_id] = _Chain(row.case_id)
        chain.take(row)
    for case_id, (code, head, seq) in heads.items():
        chain = chains.get(case_id) or _Chain(case_id)
        if chain.broken:
            report.breaks.append(Break(case_id, code, *chain.broken))
        elif (head or GENESIS) != chain.prev or (seq or 0) != chain.seq:
            report.breaks.append(Break(case_id, code, None, None,
                                       f"the case records {seq or 0} events but the chain ends at {chain.seq} "
                                       "(events deleted from the end)"))
    return report
