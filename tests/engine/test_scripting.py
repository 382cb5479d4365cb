"""Scripts and conditions from diagrams run restricted: no imports, no files, no dunder escapes,
no endless loops."""
import pytest

from engine.workflow.scripting import RestrictedEnvironment, ScriptRejected, check_source


@pytest.fixture
def env():
    return RestrictedEnvironment(time_limit=0.3)


@pytest.mark.parametrize("source", [
    "__import__('os').system('id')",
    "().__class__.__base__.__subclasses__()",
    "getattr((), '__class__')",
])
def test_escapes_are_refused(env, source):
    with pytest.raises((ScriptRejected, NameError, SyntaxError)):
        env.evaluate(source, {})


def test_open_is_not_available(env):
    with pytest.raises(NameError):
        env.execute("data = open('/etc/passwd').read()", {})


def test_import_statement_is_refused(env):
    with pytest.raises(ScriptRejected):
        env.execute("import os\nos.system('id')", {})


def test_endless_loop_is_stopped(env):
    with pytest.raises(ScriptRejected, match="longer than"):
        env.execute("n = 0\nwhile True:\n    n += 1", {})


def test_ordinary_scripts_work(env):
    context = {"parties": [{"name": "张三"}, {"name": "李四"}], "amount": 500}
    env.execute("names = [p['name'] for p in parties]\ntotal = amount * 2\ncount = len(names)", context)
    assert context["names"] == ["张三", "李四"] and context["total"] == 1000 and context["count"] == 2
    assert env.evaluate('route == "mediation" and amount > 100', dict(context, route="mediation")) is True


def test_check_source_reports_syntax_and_restriction_errors():
    with pytest.raises(ScriptRejected, match="SyntaxError"):
        check_source("route ==", "expression")
    with pytest.raises(ScriptRejected):
        check_source("x.__dict__", "expression")
    check_source('route == "mediation"', "expression")
