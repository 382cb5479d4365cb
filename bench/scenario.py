"""The case both benchmarks drive: intake → triage (DMN) → mediation, success → no judicial confirmation → close → return
visit, satisfied. The posted forms are the ones the engine tests use."""
import json
from pathlib import Path

from engine.library import catalog
from engine.workflow import runtime
from engine.library.forms import data_from_post, parse_form
from tests.engine.helpers import CLOSE, INTAKE, MEDIATION_SUCCESS, VISIT_OK, WINDOW_NO
from tests.kinds import SEEDED

ROOT = Path(__file__).resolve().parent.parent
BPMN_DIR = ROOT / "bpmn"
FORMS_DIR = ROOT / "forms"
PROCESS_KEY = "intake"

# (BPMN id of the user task, who completes it, what the browser posts). The first step is
# completed by services.start_case itself.
STEPS = [
    ("Task_intake", "clerk", INTAKE),
    ("Task_mediate", "mediator", MEDIATION_SUCCESS),
    ("Task_confirm_window", "mediator", WINDOW_NO),
    ("Task_close", "clerk", CLOSE),
    ("Task_visit", "clerk", VISIT_OK),
]
USER_TASKS = [spec_id for spec_id, _, _ in STEPS]

# What a case that went the expected way carries at the end.
EXPECTED = {"route": "mediation", "outcome": "success", "satisfaction": "satisfied"}


class Library:
    """The intake pathway checked and compiled once, as services.sync_library does."""

    def __init__(self):
        drafts, problems = catalog.check_folder(BPMN_DIR, FORMS_DIR, SEEDED)
        if problems:
            raise SystemExit("the library does not check:\n" + "\n".join(map(str, problems)))
        self.draft = next(d for d in drafts if d.process_key == PROCESS_KEY)
        # The same spec objects the services run (restored from the version's spec JSON).
        self.specs = runtime.spec_from_json(self.draft.spec_json)

    def typed_data(self):
        """{BPMN id: form data} as the services would build it from each post, computed once."""
        return {spec_id: self.typed(spec_id, post) for spec_id, _, post in STEPS}

    def typed(self, spec_id, post):
        form_key = self.draft.meta["tasks"][spec_id]["form"]
        form = parse_form(form_key, json.dumps(self.draft.forms[form_key], ensure_ascii=False))
        return data_from_post(form, post)


class WrongPath(AssertionError):
    """The case did not go the way the benchmark expects: the figures would mean nothing."""
