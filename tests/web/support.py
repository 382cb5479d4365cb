"""Helpers shared by the web tests: reading the database behind the app, parsing pages,
uploading diagrams and building modified copies of the intake pathway."""
import io
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

import lxml.html
import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from engine.persistence.models import AuditEvent, Case, ProcessVersion, Task, User
from tests.engine.helpers import file_matter

ROOT = Path(__file__).resolve().parents[2]
INTAKE_BPMN = (ROOT / "bpmn" / "intake.bpmn").read_text(encoding="utf-8")
MEDIATION_BPMN = (ROOT / "bpmn" / "mediation.bpmn").read_text(encoding="utf-8")

# Every demo role has a county login of the same name.
ROLES = ("clerk", "mediator", "supervisor", "auditor", "designer", "admin")


@contextmanager
def reading(factory):
    """A fresh session for looking at what the app wrote; nothing cached from earlier reads."""
    session = factory()
    try:
        yield session
    finally:
        session.close()


def count(factory, model, *where):
    with reading(factory) as s:
        return s.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def version_count(factory):
    return count(factory, ProcessVersion)


def user_id(factory, username):
    with reading(factory) as s:
        return s.scalar(sa.select(User.id).where(User.username == username))


def case_row(factory, case_id):
    with reading(factory) as s:
        return s.get(Case, case_id, options=[joinedload(Case.org_unit)])


def task_row(factory, task_id):
    with reading(factory) as s:
        return s.get(Task, task_id)


def tasks_of(factory, case_id, spec_id=None):
    with reading(factory) as s:
        query = sa.select(Task).where(Task.case_id == case_id)
        if spec_id:
            query = query.where(Task.spec_id == spec_id)
        return s.scalars(query.order_by(Task.id)).all()


def open_task_id(factory, case_id, spec_id):
    with reading(factory) as s:
        return s.scalar(sa.select(Task.id).where(Task.case_id == case_id, Task.spec_id == spec_id,
                                                 Task.state == "ready"))


def events_of(factory, case_id, kind=None, task_spec=None):
    with reading(factory) as s:
        query = sa.select(AuditEvent).where(AuditEvent.case_id == case_id)
        if kind:
            query = query.where(AuditEvent.kind == kind)
        if task_spec:
            query = query.where(AuditEvent.task_spec == task_spec)
        return s.scalars(query.order_by(AuditEvent.seq)).all()


def latest_version_id(factory, process_key="intake"):
    with reading(factory) as s:
        return s.scalar(sa.select(sa.func.max(ProcessVersion.id)).where(ProcessVersion.process_key == process_key))


# ---- pages ----------------------------------------------------------------------------------

def page(response):
    return lxml.html.fromstring(response.get_data(as_text=True))


def text(response):
    """The visible text of a page, entities decoded."""
    return page(response).text_content()


def location_path(response):
    return urlparse(response.headers["Location"]).path


def case_id_from(response):
    """/cases/<id> from the redirect after filing or submitting."""
    path = location_path(response)
    assert path.startswith("/cases/"), path
    return int(path.rsplit("/", 1)[1])


def problems(response):
    """The problems listed under a refused upload."""
    return [li.text_content() for li in page(response).xpath('//div[@role="alert"]//ul[@class="problems"]/li')]


# ---- diagrams -------------------------------------------------------------------------------

def upload(client, data, filename="intake.bpmn"):
    if isinstance(data, str):
        data = data.encode("utf-8")
    return client.post("/designer/upload", data={"diagram": (io.BytesIO(data), filename)},
                       content_type="multipart/form-data")


def diagram_with(filename, *replacements):
    """bpmn/<filename> with (old, new) text replacements, each of which must apply exactly once."""
    text_ = (ROOT / "bpmn" / filename).read_text(encoding="utf-8")
    for old, new in replacements:
        assert text_.count(old) == 1, f"{old!r} occurs {text_.count(old)} times"
        text_ = text_.replace(old, new)
    return text_


def intake_with(*replacements):
    return diagram_with("intake.bpmn", *replacements)


POST_SCRIPT = 'report = {"department": summon["department"], "attended_on": attended_on, "opinion": opinion}'
ROUTE_CONDITION = 'route == "mediation"'


def mediation_with_script(script, task_id="Script_after_mediation"):
    """mediation.bpmn with a script task between 人民调解 and the gateway after it, so it runs
    when the mediator submits."""
    return diagram_with(
        "mediation.bpmn",
        ('<bpmn:sequenceFlow id="Flow_mediate_mediated" sourceRef="Task_mediate" targetRef="Gateway_mediated" />',
         f'<bpmn:sequenceFlow id="Flow_mediate_mediated" sourceRef="Task_mediate" targetRef="{task_id}" />\n'
         f'    <bpmn:sequenceFlow id="Flow_script_mediated" sourceRef="{task_id}" targetRef="Gateway_mediated" />'),
        ('<bpmn:incoming>Flow_mediate_mediated</bpmn:incoming>', '<bpmn:incoming>Flow_script_mediated</bpmn:incoming>'),
        ('<bpmn:exclusiveGateway id="Gateway_mediated" name="是否劳动争议调解不成？" default="Flow_mediated_court">',
         f'<bpmn:scriptTask id="{task_id}" name="调解后处理">\n'
         f'      <bpmn:incoming>Flow_mediate_mediated</bpmn:incoming>\n'
         f'      <bpmn:outgoing>Flow_script_mediated</bpmn:outgoing>\n'
         f'      <bpmn:script>{script}</bpmn:script>\n'
         f'    </bpmn:scriptTask>\n'
         f'    <bpmn:exclusiveGateway id="Gateway_mediated" name="是否劳动争议调解不成？" default="Flow_mediated_court">'),
        ('<bpmn:flowNodeRef>Timer_mediation_deadline</bpmn:flowNodeRef>',
         f'<bpmn:flowNodeRef>Timer_mediation_deadline</bpmn:flowNodeRef>\n'
         f'        <bpmn:flowNodeRef>{task_id}</bpmn:flowNodeRef>'),
    )


def complete_steps(factory, case_id, *steps):
    """Drive a case on through the engine: each step is (username, task id in the diagram, post)."""
    from tests.engine.helpers import complete
    session = factory()
    try:
        for username, spec_id, post in steps:
            complete(session, username, case_id, spec_id, post)
    finally:
        session.close()


def whistle_step(session_factory):
    """A complex matter's case, at the supervisor's whistle: (case id, the whistle step's id)."""
    session = session_factory()
    try:
        case = file_matter(session, complex="on")
        return case.id, session.scalar(sa.select(Task.id).where(Task.case_id == case.id, Task.spec_id == "Task_whistle"))
    finally:
        session.close()
