"""Migrating running cases to a new version: a dry run names, per case, whether it can move and
why not; the move keeps counting deadlines and is in the case's history; the case goes on on
the new version."""
import pytest
import sqlalchemy as sa

from engine.cases import migration, services
from engine.persistence.models import AuditEvent, Case, Task, Timer

from ..conftest import ROOT
from .helpers import CLOSE, MEDIATION_SUCCESS, VISIT_OK, WINDOW_NO, actor, complete, file_matter


def _publish(session, replacements, filename="mediation.bpmn"):
    text = (ROOT / "bpmn" / filename).read_text(encoding="utf-8")
    for old, new in replacements:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    created, problems = services.publish_upload(session, actor(session, "designer"), filename, text.encode(),
                                                ROOT / "bpmn", ROOT / "forms")
    assert not problems and len(created) == 1
    return created[0].id


def test_dry_run_then_move_keeps_the_deadline_and_the_case_goes_on(session):
    waiting = file_matter(session)
    mediated = file_matter(session)
    complete(session, "mediator", mediated.id, "Task_mediate", MEDIATION_SUCCESS)
    old_version = waiting.process_version_id
    due_before = session.scalar(sa.select(Timer.due_at).where(Timer.case_id == waiting.id))
    new_version = _publish(session, [('<bpmn:userTask id="Task_mediate" name="人民调解">',
                                      '<bpmn:userTask id="Task_mediate" name="人民调解（新）">')])

    target, plans = migration.dry_run(session, actor(session, "designer"), new_version)
    by_case = {p.case_id: p for p in plans}
    assert by_case[waiting.id].movable, by_case[waiting.id].reasons
    assert not by_case[mediated.id].movable
    assert "Task_mediate" in str(by_case[mediated.id].reasons[0]) and "changed" in str(by_case[mediated.id].reasons[0])
    assert session.get(Case, waiting.id).process_version_id == old_version, "a dry run changes nothing"

    moved, refused = migration.migrate(session, actor(session, "designer"), new_version, [waiting.id, mediated.id])
    assert moved == [waiting.id] and list(refused) == [mediated.id]
    case = session.get(Case, waiting.id)
    assert case.process_version_id == new_version
    assert session.scalar(sa.select(Timer.due_at).where(Timer.case_id == waiting.id, Timer.state == "waiting")) == due_before
    event = session.scalar(sa.select(AuditEvent).where(AuditEvent.case_id == waiting.id, AuditEvent.kind == "case_migrated"))
    assert event.detail["from"] == old_version and event.detail["to"] == new_version
    assert event.actor_name == "钱设计"
    # The open step now carries the new version's definition, and the case goes on to the end.
    assert session.scalar(sa.select(Task.title).where(Task.case_id == waiting.id, Task.state == "ready")) == "人民调解（新）"
    for username, spec, post in [("mediator", "Task_mediate", MEDIATION_SUCCESS), ("mediator", "Task_confirm_window", WINDOW_NO),
                                 ("clerk", "Task_close", CLOSE), ("clerk", "Task_visit", VISIT_OK)]:
        case = complete(session, username, waiting.id, spec, post)
    assert case.status == "completed" and case.process_version_id == new_version
    assert session.get(Case, mediated.id).process_version_id == old_version


def test_a_case_in_a_step_the_new_version_removed_cannot_move(session):
    case = file_matter(session, category="traffic")
    new_version = _publish(session, [('name="交通事故人民调解委员会调解"', 'name="交通事故调解"')])
    _target, plans = migration.dry_run(session, actor(session, "designer"), new_version)
    assert [p.movable for p in plans] == [True], "a renamed open step is only reopened"
    newer = _publish(session, [('<bpmn:userTask id="Task_mediate_traffic"', '<bpmn:userTask id="Task_mediate_road"'),
                               ('<bpmn:flowNodeRef>Task_mediate_traffic<', '<bpmn:flowNodeRef>Task_mediate_road<'),
                               ('targetRef="Task_mediate_traffic"', 'targetRef="Task_mediate_road"'),
                               ('sourceRef="Task_mediate_traffic"', 'sourceRef="Task_mediate_road"'),
                               ('attachedToRef="Task_mediate_traffic"', 'attachedToRef="Task_mediate_road"'),
                               ('bpmnElement="Task_mediate_traffic"', 'bpmnElement="Task_mediate_road"')])
    _target, plans = migration.dry_run(session, actor(session, "designer"), newer)
    assert not plans[0].movable and "Task_mediate_traffic" in str(plans[0].reasons[0])
    with pytest.raises(services.NotAllowed):
        migration.dry_run(session, actor(session, "supervisor"), newer)
    assert session.get(Case, case.id).process_version_id == case.process_version_id
