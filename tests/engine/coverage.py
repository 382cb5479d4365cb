"""Which sequence flows of the library the engine scenarios have taken, for the flow-coverage
line the suite prints (and fails on when a flow is never taken)."""
from engine.library import catalog
from engine.workflow import runtime
from engine.persistence.models import Case

from ..conftest import ROOT
from tests.kinds import SEEDED

TAKEN = set()
_library = {}


def library_flows():
    """{process key: {flow id: [source, target]}} for every pathway in bpmn/."""
    if not _library:
        drafts, problems = catalog.check_folder(ROOT / "bpmn", ROOT / "forms", SEEDED)
        assert not problems, problems
        _library.update({d.process_key: d.meta["flows"] for d in drafts})
    return _library


def record(session, case_id):
    case = session.get(Case, case_id)
    version = catalog.version_info(session, case.process_version_id)
    workflow = runtime.load_state(case.state, version.specs(session))
    record_workflow(version.process_key, workflow, version.meta["flows"])


def record_workflow(process_key, workflow, flows):
    """For scenarios driven on the runtime alone (a round that ends is gone from the database)."""
    TAKEN.update((process_key, flow) for flow in runtime.taken_flows(workflow, flows))


def _recording_drop(drop):
    """runtime.drop_finished_calls, recording first the flows a called pathway took in the step
    that finished it: once dropped, the case's stored state no longer holds them."""
    def recording(workflow):
        flows = library_flows().get(workflow.spec.name)
        if flows and runtime.finished_calls(workflow):
            record_workflow(workflow.spec.name, workflow, flows)
        return drop(workflow)
    return recording


runtime.drop_finished_calls = _recording_drop(runtime.drop_finished_calls)


def summary():
    everything = {(key, flow) for key, flows in library_flows().items() for flow in flows}
    missing = sorted(everything - TAKEN)
    return len(everything & TAKEN), len(everything), missing


class EngineRun:
    """What a pytest session did with the engine tests. Only a run in which every engine test ran
    and passed can tell that a flow is never taken: not --collect-only, -k, a stop at the first
    failure, nor one module alone."""

    def __init__(self):
        self.collected, self.ran, self.failed, self.deselected_others = 0, 0, 0, 0
        self.modules = set()

    def record(self, report):
        if report.failed:
            self.failed += 1
        elif report.skipped or report.when == "call":
            self.ran += 1

    def whole(self, all_modules):
        return bool(self.collected and self.modules == all_modules and not self.deselected_others
                    and self.ran == self.collected and not self.failed)
