"""The flow-coverage guard (conftest.py) fails a run only when every engine test ran and passed:
never a --collect-only, a -k selection, a run stopped early or one that left out a module."""
from _pytest.reports import TestReport

from .coverage import EngineRun

MODULES = {"test_a.py", "test_b.py"}


def _report(nodeid, when, outcome):
    longrepr = ("x.py", 1, "Skipped: no") if outcome == "skipped" else None
    return TestReport(nodeid, ("x.py", 1, nodeid), {}, outcome, longrepr, when)


def _run(outcomes, modules=MODULES, deselected_others=0):
    run = EngineRun()
    run.collected, run.modules, run.deselected_others = len(outcomes), modules, deselected_others
    for number, (when, outcome) in enumerate(outcomes):
        run.record(_report(f"tests/engine/test_a.py::t{number}", when, outcome))
    return run


def test_a_whole_passing_run_is_judged():
    assert _run([("call", "passed"), ("setup", "skipped")]).whole(MODULES)


def test_collect_only_is_not_judged():
    assert not _run([]).whole(MODULES)
    collected_only = EngineRun()
    collected_only.collected, collected_only.modules = 5, MODULES
    assert not collected_only.whole(MODULES)


def test_part_of_the_engine_tests_is_not_judged():
    assert not _run([("call", "passed")], modules={"test_a.py"}).whole(MODULES)
    assert not _run([("call", "passed")], deselected_others=1).whole(MODULES)
    stopped = _run([("call", "passed")])
    stopped.collected += 1  # stopped (-x) before the last one ran
    assert not stopped.whole(MODULES)


def test_a_run_with_a_failure_is_not_judged():
    assert not _run([("call", "passed"), ("call", "failed")]).whole(MODULES)
