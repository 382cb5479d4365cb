"""SpiffWorkflow's log records, made only when a logger would take them.

SpiffWorkflow logs every change of a task's state (INFO) and every state set again (DEBUG), and
a workflow's start and end (INFO). It builds each record's details before it asks whether the
logger takes the record, and those details are not cheap: a dict of eight fields with the state's
name worked out twice per change, and for a workflow (a called diagram started or finished, the
case finished) the ids of every task of its tree, walked for the purpose. No logger of the engine
takes these records (they are below the level the application logs at), so all of that was work
thrown away: about a tenth of the engine's time running a case (bench/).

Here the two methods do what SpiffWorkflow's do, and build the details only when the logger is
enabled for the record's level (`Logger.isEnabledFor`, the test `Logger.info` itself makes first):
with a SpiffWorkflow logger turned up, the records are the same as before. Installed once, when
the runtime is imported."""
import logging
import time

from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState
from SpiffWorkflow.workflow import Workflow

_TASK_LOG = logging.getLogger("spiff.task")
_WORKFLOW_LOG = logging.getLogger("spiff.workflow")

_spiff_set_state = Task._set_state
_spiff_workflow_extras = Workflow.collect_log_extras


def _set_state(self, value):
    """Task._set_state."""
    if value != self.state:
        elapsed = time.time() - self.last_state_change
        self.last_state_change = time.time()
        self._state = value
        if _TASK_LOG.isEnabledFor(logging.INFO):
            _TASK_LOG.info(f'State changed to {TaskState.get_name(value)}',
                           extra=self.collect_log_extras({'elapsed': elapsed}))
    elif _TASK_LOG.isEnabledFor(logging.DEBUG):
        _TASK_LOG.debug(f'State set to {TaskState.get_name(value)}', extra=self.collect_log_extras())


def _workflow_extras(self, dct=None):
    """Workflow.collect_log_extras, whose every caller passes the result to `logger.info`."""
    if _WORKFLOW_LOG.isEnabledFor(logging.INFO):
        return _spiff_workflow_extras(self, dct)
    return dct or {}


def install():
    if not getattr(Task, "_yizhan_quiet_logs", False):
        Task._set_state = _set_state
        Workflow.collect_log_extras = _workflow_extras
        Task._yizhan_quiet_logs = True
