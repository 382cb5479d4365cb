"""A deadline counted into a year whose holiday notice is not out yet is computed all the same,
marked provisional, and counted again when the notice arrives."""
from datetime import datetime, timezone

import sqlalchemy as sa
import time_machine

from engine.library import catalog
from engine.cases import clocks
from engine.legaltime import workcalendar
from engine.legaltime.clock import as_utc
from engine.persistence.models import AuditEvent, Timer

from ..conftest import ROOT
from .helpers import file_matter, open_task
from tests.kinds import SEEDED

# Monday 21 December 2026, 9:00 in Beijing.
START = datetime(2026, 12, 21, 1, 0, tzinfo=timezone.utc)


def _publish_working_day_deadline(session):
    diagrams, forms = catalog.read_folder(ROOT / "bpmn", ROOT / "forms")
    text = diagrams["bpmn/mediation.bpmn"].decode().replace(
        '<bpmn:timeDate>months(1)</bpmn:timeDate>', "<bpmn:timeDate>working_days(10)</bpmn:timeDate>")
    diagrams["bpmn/mediation.bpmn"] = text.encode()
    drafts, problems = catalog.compile_library(diagrams, forms, SEEDED)
    assert not problems
    catalog.record_versions(session, drafts, source="upload")
    session.commit()


def test_deadline_into_an_unpublished_year_is_provisional_until_the_notice_arrives(session, tmp_path, monkeypatch):
    _publish_working_day_deadline(session)
    monkeypatch.setattr(workcalendar, "NOTICES_DIR", tmp_path)
    with time_machine.travel(START, tick=False):
        case = file_matter(session)
        task = open_task(session, case.id, "Task_mediate")
        # Dec 22-25 and 28-31 are eight; 1 Jan 2027 is a holiday by rule; then 4 and 5 Jan.
        assert as_utc(task.due_at) == datetime(2027, 1, 5, 15, 59, 59, tzinfo=timezone.utc)
        assert task.due_provisional is True
        assert clocks.recompute_provisional(session) == 0, "nothing new is known yet"

        # The 2027 notice arrives: New Year's Day holiday runs 1-4 January.
        (tmp_path / "2027.json").write_text('{"holidays": ["2027-01-01", "2027-01-02", "2027-01-03", "2027-01-04"], '
                                            '"workdays": []}')
        assert clocks.recompute_provisional(session) == 1
        assert clocks.recompute_provisional(session) == 0
    session.expire_all()
    task = open_task(session, case.id, "Task_mediate")
    assert as_utc(task.due_at) == datetime(2027, 1, 6, 15, 59, 59, tzinfo=timezone.utc)
    assert task.due_provisional is False
    timer = session.scalar(sa.select(Timer).where(Timer.case_id == case.id))
    assert timer.provisional is False and as_utc(timer.due_at) == as_utc(task.due_at)
    [event] = session.scalars(sa.select(AuditEvent).where(AuditEvent.case_id == case.id,
                                                          AuditEvent.kind == "deadline_recomputed")).all()
    assert event.detail["to"].startswith("2027-01-06")


def test_deadline_inside_published_years_is_final(session):
    _publish_working_day_deadline(session)
    with time_machine.travel(datetime(2026, 9, 30, 2, 0, tzinfo=timezone.utc), tick=False):
        case = file_matter(session)
    task = open_task(session, case.id, "Task_mediate")
    assert task.due_provisional is False
    assert as_utc(task.due_at) == datetime(2026, 10, 20, 15, 59, 59, tzinfo=timezone.utc)



def _statements_of(session, action):
    seen = []
    listener = lambda *_args: seen.append(1)  # noqa: E731
    engine = session.get_bind()
    sa.event.listen(engine, "before_cursor_execute", listener)
    try:
        result = action()
    finally:
        sa.event.remove(engine, "before_cursor_execute", listener)
    return result, len(seen)


def test_provisional_deadlines_are_counted_again_only_when_the_calendar_changes(session, tmp_path, monkeypatch):
    """Counting again loads each such case's workflow: the sweep does it when the calendar it
    counts with changes, once more a while later (for a transaction that counted with the old
    one), and otherwise reads nothing at all, however many deadlines are provisional."""
    _publish_working_day_deadline(session)
    monkeypatch.setattr(workcalendar, "NOTICES_DIR", tmp_path)
    loads = []
    real_load = clocks.runtime.load_state
    monkeypatch.setattr(clocks.runtime, "load_state", lambda *a, **k: loads.append(1) or real_load(*a, **k))
    with time_machine.travel(START, tick=False):
        for _ in range(3):
            file_matter(session)
        loads.clear()  # filing loads states too (runtime is one module)
        assert clocks.recompute_provisional(session) == 0  # a calendar not counted with before
        assert len(loads) == 3
        assert _statements_of(session, lambda: clocks.recompute_provisional(session)) == (0, 0)
        assert len(loads) == 3
        # The second pass, once its time has come (here at once), then no more.
        monkeypatch.setattr(clocks, "_counted", {"under": clocks._counted["under"], "again_at": 0.0})
        assert clocks.recompute_provisional(session) == 0 and len(loads) == 6
        assert _statements_of(session, lambda: clocks.recompute_provisional(session)) == (0, 0)
        # A notice loaded, or changed: counted again.
        (tmp_path / "2027.json").write_text('{"holidays": ["2027-01-01", "2027-01-02", "2027-01-03", "2027-01-04"], '
                                            '"workdays": []}')
        assert clocks.recompute_provisional(session) == 3
        assert clocks.recompute_provisional(session) == 0
