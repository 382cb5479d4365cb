"""`run.py audit verify`: every case's hash chain is recomputed; a row edited, inserted or
deleted in the database directly is named, case by case, and the other chains stay intact."""
import sqlalchemy as sa

from engine.reading import audit
from engine.persistence.models import AuditEvent, Case

from .helpers import MEDIATION_SUCCESS, complete, file_matter


def _two_cases(session):
    first, second = file_matter(session), file_matter(session)
    complete(session, "mediator", first.id, "Task_mediate", MEDIATION_SUCCESS)
    session.commit()
    return first, second


def _event(session, case_id, seq):
    return session.scalar(sa.select(AuditEvent).where(AuditEvent.case_id == case_id, AuditEvent.seq == seq))


def test_intact_chains_verify(session):
    first, second = _two_cases(session)
    report = audit.verify(session, batch=7)
    assert report.breaks == [] and report.cases == 2
    assert report.events == session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))


def test_an_edited_row_is_named(session):
    first, second = _two_cases(session)
    session.execute(sa.update(AuditEvent).where(AuditEvent.case_id == first.id, AuditEvent.seq == 4)
                    .values(actor_name="某人"))
    session.commit()
    breaks = audit.verify(session).breaks
    assert [(b.case_id, b.seq) for b in breaks] == [(first.id, 4)]
    assert "altered" in str(breaks[0]) and first.code in str(breaks[0])


def test_a_deleted_row_and_an_inserted_row_are_named(session):
    first, second = _two_cases(session)
    session.execute(sa.delete(AuditEvent).where(AuditEvent.case_id == first.id, AuditEvent.seq == 3))
    forged = _event(session, second.id, 2)
    # An inserted event needs a free sequence number: shift the rest up, as a forger would.
    last = session.scalar(sa.select(sa.func.max(AuditEvent.seq)).where(AuditEvent.case_id == second.id))
    for seq in range(last, 2, -1):
        session.execute(sa.update(AuditEvent).where(AuditEvent.case_id == second.id, AuditEvent.seq == seq)
                        .values(seq=seq + 1))
    session.execute(sa.insert(AuditEvent.__table__), dict(
        case_id=second.id, seq=3, at=forged.at, actor_id=None, actor_name="伪造", kind="engine", task_spec=None,
        task_title=None, detail={}, process_version_id=forged.process_version_id, prev_hash=forged.hash,
        hash="0" * 64))
    session.commit()
    breaks = {b.case_id: b for b in audit.verify(session).breaks}
    assert breaks[first.id].seq == 4 and "deleted" in breaks[first.id].what
    assert breaks[second.id].seq == 3 and "altered" in breaks[second.id].what


def test_events_cut_from_the_end_are_noticed(session):
    first, _second = _two_cases(session)
    last = session.scalar(sa.select(sa.func.max(AuditEvent.seq)).where(AuditEvent.case_id == first.id))
    session.execute(sa.delete(AuditEvent).where(AuditEvent.case_id == first.id, AuditEvent.seq == last))
    session.commit()
    breaks = audit.verify(session).breaks
    assert len(breaks) == 1 and breaks[0].seq is None and "deleted from the end" in breaks[0].what
    assert session.get(Case, first.id).audit_seq == last
