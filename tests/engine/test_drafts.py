"""A draft lives as long as its step: a step that closes without being submitted (its legal
period ran out) takes the draft with it, in the same transaction as the timer that closed it."""
from datetime import timedelta

import sqlalchemy as sa
import time_machine

from engine.cases import drafts
from engine.persistence.models import Task, TaskDraft

from .helpers import actor, file_matter
from .test_law import START, _fire, _task


def test_a_step_closed_by_its_deadline_takes_its_draft_with_it(session):
    with time_machine.travel(START, tick=False) as traveller:
        case = file_matter(session, category="medical")
        mediation = _task(session, case.id, "Task_mediate_medical")
        drafts.save(session, actor(session, "mediator"), mediation.id,
                    {"sessions-0-notes": "第一次调解：医院同意复核病历。"})
        assert session.scalar(sa.select(sa.func.count()).select_from(TaskDraft)) == 1
        assert _fire(session, traveller, START + timedelta(days=44)) == 1
        assert session.scalar(sa.select(Task.state).where(Task.id == mediation.id)) == "cancelled"
        assert session.scalar(sa.select(sa.func.count()).select_from(TaskDraft)) == 0
