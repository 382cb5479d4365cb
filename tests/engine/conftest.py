"""Flow coverage: every sequence flow of every diagram must be taken by some engine scenario.
The suite prints the figure; when the whole engine folder ran, a flow never taken fails it."""
from . import coverage

_engine_items = {"collected": 0, "passed": 0}


def pytest_collection_modifyitems(session, config, items):
    _engine_items["collected"] = sum(1 for item in items if "tests/engine/" in item.nodeid)


def pytest_runtest_logreport(report):
    if report.when == "call" and report.passed and "tests/engine/" in report.nodeid:
        _engine_items["passed"] += 1


def _whole_engine_folder_passed(config):
    deselected = config.getoption("keyword") or config.getoption("markexpr")
    return not deselected and _engine_items["collected"] and _engine_items["passed"] == _engine_items["collected"]


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
