"""Flow coverage: every sequence flow of every diagram must be taken by some engine scenario.
The suite prints the figure; when the whole engine folder ran, a flow never taken fails it."""
from pathlib import Path

from . import coverage

_engine_items = {"collected": 0, "failed": 0, "modules": set()}
_ENGINE_MODULES = {path.name for path in Path(__file__).parent.glob("test_*.py")}


def pytest_collection_modifyitems(session, config, items):
    engine = [item for item in items if "tests/engine/" in item.nodeid]
    _engine_items["collected"] = len(engine)
    _engine_items["modules"] = {item.nodeid.split("::")[0].rsplit("/", 1)[-1] for item in engine}


def pytest_runtest_logreport(report):
    if report.failed and "tests/engine/" in report.nodeid:
        _engine_items["failed"] += 1


def _whole_engine_folder_passed(config):
    """Only a run of every engine test, none failed, can tell that a flow is never taken."""
    deselected = config.getoption("keyword") or config.getoption("markexpr")
    whole = _engine_items["modules"] == _ENGINE_MODULES
    return bool(not deselected and whole and _engine_items["collected"] and not _engine_items["failed"])


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not _engine_items["collected"]:
        return
    taken, total, missing = coverage.summary()
    terminalreporter.write_sep("-", "flow coverage")
    terminalreporter.write_line(f"flow coverage: {taken}/{total} sequence flows taken by the engine scenarios")
    for process, flow in missing:
        terminalreporter.write_line(f"  never taken: {process} {flow}")
    if missing and _whole_engine_folder_passed(config):
        terminalreporter.write_line("the suite fails: every sequence flow must be taken by a scenario", red=True)


def pytest_sessionfinish(session, exitstatus):
    if _whole_engine_folder_passed(session.config) and coverage.summary()[2]:
        session.exitstatus = 1
