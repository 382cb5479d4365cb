"""SpiffWorkflow alone (no database): the state saved without its spec reloads onto the cached
spec, and a case can be driven through with a save/reload between every step."""
import json

import pytest
from SpiffWorkflow.util.task import TaskState

from engine.library import catalog
from engine.workflow import runtime
from engine.library.forms import data_from_post, parse_form

from .helpers import CLOSE, INTAKE, MEDIATION_SUCCESS, VISIT_OK, WINDOW_NO
from ..conftest import ROOT
from tests.kinds import SEEDED


@pytest.fixture(scope="module")
def specs():
    drafts, problems = catalog.check_folder(ROOT / "bpmn", ROOT / "forms", SEEDED)
    assert not problems
    draft = next(d for d in drafts if d.process_key == "intake")
    return runtime.spec_from_json(draft.spec_json), draft


def _typed(draft, spec_id, post):
    form_key = draft.meta["tasks"][spec_id]["form"]
    return data_from_post(parse_form(form_key, json.dumps(draft.forms[form_key])), post)


@pytest.mark.parametrize("save_between", [False, True], ids=["in-memory", "save-reload"])
def test_drive_to_the_end(specs, save_between):
    (spec_pair, draft) = specs
    workflow, snap = runtime.start(spec_pair)
    for spec_id, post in [("Task_intake", INTAKE), ("Task_mediate", MEDIATION_SUCCESS),
                          ("Task_confirm_window", WINDOW_NO), ("Task_close", CLOSE), ("Task_visit", VISIT_OK)]:
        if save_between:
            state = runtime.dump_state(workflow)
            # The specs are left out: a called pathway's instance names its spec, never embeds it.
            parsed = json.loads(state)
            assert "spec" not in parsed and all(isinstance(sub["spec"], str) for sub in parsed["subprocesses"].values())
            assert len(state) < 40000
            workflow = runtime.load_state(state, spec_pair)
        ready = [t for t in workflow.get_tasks(state=TaskState.READY, manual=True)]
        assert [t.task_spec.bpmn_id for t in ready] == [spec_id]
        snap = runtime.complete(workflow, str(ready[0].id), _typed(draft, spec_id, post))
    assert snap.completed and workflow.completed
    assert snap.data["satisfaction"] == "satisfied"


def test_state_leaves_the_spec_out(specs):
    (spec_pair, _draft) = specs
    workflow, _snap = runtime.start(spec_pair)
    state = json.loads(runtime.dump_state(workflow))
    assert "spec" not in state and "subprocess_specs" not in state


def test_changes_record_what_an_auditor_needs(specs):
    (spec_pair, draft) = specs
    workflow, snap = runtime.start(spec_pair)
    assert [(c.element, c.after) for c in snap.changes] == [
        ("Start_intake", "COMPLETED"), ("Gateway_round", "COMPLETED"), ("Task_intake", "READY")]
    ready = snap.ready[0]
    snap = runtime.complete(workflow, str(ready.id), _typed(draft, "Task_intake", INTAKE))
    seen = {(c.element, c.after) for c in snap.changes}
    assert {("Task_intake", "COMPLETED"), ("Task_triage", "COMPLETED"), ("Gateway_route", "COMPLETED"),
            ("Task_mediate", "READY"), ("Timer_mediation_deadline", "WAITING")} <= seen
    assert not any(c.after in ("FUTURE", "LIKELY", "MAYBE") for c in snap.changes)
