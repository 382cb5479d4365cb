"""Every kind of event in a case's history has a label for people, and every label names a real
kind; the named states are the strings stored."""
import sqlalchemy as sa

from engine.persistence.models import AuditEvent, Task
from engine.persistence.states import EventKind, TaskState
from tests.engine.helpers import file_matter
from webui.labels import EVENT_KINDS


def test_every_event_kind_has_a_label_and_every_label_a_kind():
    assert set(EVENT_KINDS) == {kind.value for kind in EventKind}
    assert all(EVENT_KINDS.values()), "every label has words"


def test_the_named_states_are_the_stored_strings(session_factory):
    session = session_factory()
    try:
        case = file_matter(session)
        stored = session.execute(sa.text("SELECT state FROM tasks WHERE case_id = :id AND spec_id = 'Task_mediate'"),
                                 {"id": case.id}).scalar_one()
        assert stored == "ready" == TaskState.READY
        assert session.scalar(sa.select(Task.id).where(Task.case_id == case.id, Task.state == TaskState.READY))
        kinds = set(session.scalars(sa.select(AuditEvent.kind).where(AuditEvent.case_id == case.id)))
        assert {"case_started", "task_completed", "engine"} <= kinds and kinds <= set(EventKind)
    finally:
        session.close()
