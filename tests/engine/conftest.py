"""Flow coverage: every sequence flow of every diagram must be taken by some engine scenario.
The suite prints the figure; when every engine test ran and passed, a flow never taken fails it."""
from pathlib import Path

from . import coverage

_ENGINE_MODULES = {path.name for path in Path(__file__).parent.glob("test_*.py")}
_run = coverage.EngineRun()


def _is_engine(nodeid):
    return "tests/engine/" in nodeid


def pytest_deselected(items):
    # The slow tests repeat what faster ones already cover (and record no flows): leaving them out
    # (`make test` runs -m "not slow") still runs every scenario; leaving out any other does not.
    _run.deselected_others += sum(1 for item in items
                                  if _is_engine(item.nodeid) and item.get_closest_marker("slow") is None)


def pytest_collection_finish(session):
    engine = [item.nodeid for item in session.items if _is_engine(item.nodeid)]
    _run.collected = len(engine)
    _run.modules = {nodeid.split("::")[0].rsplit("/", 1)[-1] for nodeid in engine}


def pytest_runtest_logreport(report):
    if _is_engine(report.nodeid):
        _run.record(report)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not _run.ran:
        return
    taken, total, missing = coverage.summary()
    terminalreporter.write_sep("-", "flow coverage")
    terminalreporter.write_line(f"flow coverage: {taken}/{total} sequence flows taken by the engine scenarios")
    if not _run.whole(_ENGINE_MODULES):
        # Part of the scenarios ran: the flows they did not take say nothing.
        terminalreporter.write_line("(not every engine test ran and passed: flows never taken are not judged)")
        return
    for process, flow in missing:
        terminalreporter.write_line(f"  never taken: {process} {flow}")
    if missing:
        terminalreporter.write_line("the suite fails: every sequence flow must be taken by a scenario", red=True)


def pytest_sessionfinish(session, exitstatus):
    if _run.whole(_ENGINE_MODULES) and coverage.summary()[2]:
        session.exitstatus = 1
