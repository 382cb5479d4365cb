"""The script sandbox at the engine level: the time limit, the refused escapes, and a step whose
script never ends failing without changing the case."""
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from engine.workflow import runtime, scripting
from engine.cases import services
from engine.persistence.models import AuditEvent, Case, Task
from engine.messages import in_chinese
from engine.workflow.scripting import RestrictedEnvironment, ScriptRejected, check_source

from tests.engine.helpers import MEDIATION_SUCCESS, actor, file_matter, open_task

ROOT = Path(__file__).resolve().parents[2]

ESCAPES = ["__import__('os').system('id')", "open('/etc/passwd').read()",
           "().__class__.__base__.__subclasses__()", "getattr(date, 'today')()",
           "[c for c in ().__class__.__mro__]"]


@pytest.fixture(autouse=True)
def fresh_spec_cache():
    # Versions uploaded here are deleted between tests and SQLite may give their ids to new ones.
    runtime.SPEC_CACHE._specs.clear()
    yield
    runtime.SPEC_CACHE._specs.clear()


@pytest.fixture
def short_time_limit(monkeypatch):
    monkeypatch.setattr(scripting, "SCRIPT_TIME_LIMIT_SECONDS", 0.2)
    monkeypatch.setattr(scripting.SCRIPT_ENGINE.environment, "time_limit", 0.2)


@pytest.mark.parametrize("source", ESCAPES)
@pytest.mark.parametrize("kind", ["script", "expression"])
def test_escapes_are_refused_when_checked(source, kind):
    with pytest.raises(ScriptRejected):
        check_source(source, kind)


@pytest.mark.parametrize("source", ["route == 'mediation'", "satisfaction == 'unsatisfied'",
                                    "amount > 1000 and outcome == 'success'", "len(parties) >= 2"])
def test_ordinary_conditions_pass(source):
    check_source(source, "expression")


def test_data_may_shadow_a_refused_name():
    """A script that assigns a variable called like a refused built-in is only using a variable."""
    check_source("input = 3\ntotal = input + 1", "script")


def test_endless_loop_is_stopped_at_the_limit():
    env = RestrictedEnvironment(time_limit=0.1)
    started = time.monotonic()
    with pytest.raises(ScriptRejected, match="ran longer than 0.1 s"):
        env.execute("n = 0\nwhile True:\n    n += 1", {})
    assert time.monotonic() - started < 1


def test_endless_expression_is_stopped_at_the_limit():
    env = RestrictedEnvironment(time_limit=0.1)
    started = time.monotonic()
    with pytest.raises(ScriptRejected):
        env.evaluate("[n for n in range(10**12) if n < 0]", {})
    assert time.monotonic() - started < 1


def test_missing_builtins_fail_at_run_time():
    env = RestrictedEnvironment(time_limit=1)
    with pytest.raises(NameError):
        env.evaluate("open('/etc/passwd').read()", {})


def test_the_limit_leaves_the_tracer_as_it_was():
    import sys
    before = sys.gettrace()
    with pytest.raises(ScriptRejected):
        RestrictedEnvironment(time_limit=0.05).execute("while True:\n    pass", {})
    assert sys.gettrace() is before


@pytest.mark.parametrize("source", [
    "x = sum(range(10**7))", "x = 10**10**10", "x = 'x' * 10**10", "x = [0] * 10**9", "x = 1 << 10**9",
    "x = 'ab'\nx *= 10**9",
])
def test_huge_single_operations_are_refused_before_they_start(source):
    # One long call into C code cannot be interrupted, so sizes are bounded before it starts: the
    # refusal names the size (a script that had started would be stopped by its time instead).
    env = RestrictedEnvironment(time_limit=10)
    with pytest.raises(ScriptRejected, match="too large"):
        env.execute(source, {})


def test_ordinary_arithmetic_still_works():
    env = RestrictedEnvironment(time_limit=0.5)
    context = {"amount": 500}
    env.execute("total = amount * 3\nsquare = amount ** 2\nline = '-' * 20\nn = sum(range(100))", context)
    assert (context["total"], context["square"], context["line"], context["n"]) == (1500, 250000, "-" * 20, 4950)


def _looping_library():
    text = (ROOT / "bpmn" / "mediation.bpmn").read_text(encoding="utf-8")
    replacements = [
        ('<bpmn:sequenceFlow id="Flow_mediate_mediated" sourceRef="Task_mediate" targetRef="Gateway_mediated" />',
         '<bpmn:sequenceFlow id="Flow_mediate_mediated" sourceRef="Task_mediate" targetRef="Script_loop" />\n'
         '    <bpmn:sequenceFlow id="Flow_loop_mediated" sourceRef="Script_loop" targetRef="Gateway_mediated" />'),
        ('<bpmn:incoming>Flow_mediate_mediated</bpmn:incoming>', '<bpmn:incoming>Flow_loop_mediated</bpmn:incoming>'),
        ('<bpmn:exclusiveGateway id="Gateway_mediated" name="是否劳动争议调解不成？" default="Flow_mediated_court">',
         '<bpmn:scriptTask id="Script_loop" name="无尽循环">\n'
         '      <bpmn:incoming>Flow_mediate_mediated</bpmn:incoming>\n'
         '      <bpmn:outgoing>Flow_loop_mediated</bpmn:outgoing>\n'
         '      <bpmn:script>n = 0\nwhile n &gt;= 0:\n    n += 1</bpmn:script>\n'
         '    </bpmn:scriptTask>\n    <bpmn:exclusiveGateway id="Gateway_mediated" name="是否劳动争议调解不成？" default="Flow_mediated_court">'),
    ]
    for old, new in replacements:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text.encode("utf-8")


def test_endless_script_fails_the_step_and_changes_nothing(session, short_time_limit):
    created, problems = services.publish_upload(session, actor(session, "designer"), "mediation.bpmn",
                                                _looping_library(), ROOT / "bpmn", ROOT / "forms")
    assert not problems and [v.process_key for v in created] == ["intake"]
    case = file_matter(session)
    assert case.process_version_id == created[0].id
    task = open_task(session, case.id, "Task_mediate")
    lock_version, state = case.lock_version, case.state
    events = session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(AuditEvent.case_id == case.id))

    started = time.monotonic()
    with pytest.raises(services.StepFailed) as failed:
        services.complete_task(session, actor(session, "mediator"), task.id, MEDIATION_SUCCESS)
    assert time.monotonic() - started < 5
    message = in_chinese(failed.value)
    assert "「人民调解」执行失败" in message and "无尽循环 (Script_loop)" in message
    assert "ran longer than 0.2 s" in message

    session.expire_all()
    after = session.get(Case, case.id)
    assert (after.lock_version, after.state, after.status, after.error) == (lock_version, state, "open", None)
    assert session.get(Task, task.id).state == "ready"
    assert session.scalars(sa.select(Task.spec_id).where(Task.case_id == case.id, Task.state == "ready")).all() \
        == ["Task_mediate"]
    assert session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)
                          .where(AuditEvent.case_id == case.id)) == events
