"""engine/workflow/spiff_logging.py: SpiffWorkflow's log records are made only when a logger
takes them; with its loggers turned up, they are the records SpiffWorkflow itself makes."""
import logging

from SpiffWorkflow.task import Task
from SpiffWorkflow.workflow import Workflow

from engine.workflow import spiff_logging

from .test_runtime import specs  # noqa: F401 - specs is a fixture
from .test_state_size import MEDIATION, _steps

# What a record says, its details by name (ids and times differ from run to run: their kinds kept).
_SHAPE = ("name", "levelno", "msg", "workflow_spec", "task_spec", "task_type", "state", "success", "completed")


def _records(caplog, spec_pair, draft):
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="spiff"):
        *_, (workflow, _snap) = _steps(spec_pair, draft, MEDIATION)
    assert workflow.completed
    return [tuple(getattr(r, name, None) for name in _SHAPE)
            + (sorted(vars(r)),  type(getattr(r, "tasks", None)).__name__, len(getattr(r, "tasks", ())))
            for r in caplog.records if r.name.startswith("spiff")]


def test_with_its_loggers_on_the_records_are_spiffworkflows(specs, caplog, monkeypatch):
    spec_pair, draft = specs
    ours = _records(caplog, spec_pair, draft)
    monkeypatch.setattr(Task, "_set_state", spiff_logging._spiff_set_state)
    monkeypatch.setattr(Workflow, "collect_log_extras", spiff_logging._spiff_workflow_extras)
    theirs = _records(caplog, spec_pair, draft)
    assert len(ours) > 100 and ours == theirs
    assert any(r[2].startswith("State changed to") for r in ours) and any(r[2] == "Workflow completed" for r in ours)


def test_with_its_loggers_off_no_record_is_made(specs, monkeypatch):
    spec_pair, draft = specs
    made = []
    making = lambda self, dct=None: made.append(1) or {}  # noqa: E731 - a one-line stand-in
    monkeypatch.setattr(Task, "collect_log_extras", making)
    monkeypatch.setattr(spiff_logging, "_spiff_workflow_extras", making)  # behind the workflow's check
    logging.getLogger("spiff").setLevel(logging.WARNING)
    try:
        *_, (workflow, _snap) = _steps(spec_pair, draft, MEDIATION)
    finally:
        logging.getLogger("spiff").setLevel(logging.NOTSET)
    assert workflow.completed and made == []
