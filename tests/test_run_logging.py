"""run.py logs at INFO, but not SpiffWorkflow's line for every change of a task's state (about
150 a case, several ms of CPU each case; the case's history holds the same changes)."""
import logging


def test_run_py_keeps_spiffworkflows_task_lines_out_of_the_log(schema, monkeypatch, capsys):
    import run
    monkeypatch.setenv("DATABASE_URL", schema)
    spiff = logging.getLogger("spiff")
    level = spiff.level
    try:
        assert run.main(["callback", "nobody_here", "--url", "https://hotline.example.cn/cb"]) == 1  # any command
        assert spiff.level == logging.WARNING
        assert not logging.getLogger("spiff.task").isEnabledFor(logging.INFO)
        assert logging.getLogger("spiff.task").isEnabledFor(logging.WARNING)
    finally:
        spiff.setLevel(level)
