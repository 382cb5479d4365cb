"""Timer expressions can count legal periods in working days or natural days over the Chinese
holiday calendar; the engine stores the due time it computed."""
from datetime import datetime, timezone

import time_machine

from engine.library import catalog
from engine.workflow import runtime
from engine.workflow.scripting import natural_days, working_days

from ..conftest import ROOT
from .test_runtime import _typed
from .helpers import INTAKE
from tests.kinds import SEEDED


def test_working_days_across_national_day():
    # 30 Sep 2026, 10:00 in Beijing: five working days end on Tue 13 Oct (1-7 Oct off, 10 Oct worked).
    with time_machine.travel(datetime(2026, 9, 30, 2, 0, tzinfo=timezone.utc), tick=False):
        assert working_days(5) == "2026-10-13T23:59:59+08:00"
        assert natural_days(15) == "2026-10-15T23:59:59+08:00"


def test_the_day_is_the_day_in_china_not_in_utc():
    # 23:30 UTC on 30 Sep is already 1 Oct in Beijing.
    with time_machine.travel(datetime(2026, 9, 30, 23, 30, tzinfo=timezone.utc), tick=False):
        assert natural_days(1) == "2026-10-08T23:59:59+08:00"  # 2 Oct is a holiday: next working day


def test_a_diagram_timer_in_working_days():
    diagrams, forms = catalog.read_folder(ROOT / "bpmn", ROOT / "forms")
    text = diagrams["bpmn/mediation.bpmn"].decode()
    text = text.replace('<bpmn:timeDate>months(1)</bpmn:timeDate>', "<bpmn:timeDate>working_days(5)</bpmn:timeDate>")
    diagrams["bpmn/mediation.bpmn"] = text.encode()
    drafts, problems = catalog.compile_library(diagrams, forms, SEEDED)
    assert not problems
    specs = runtime.spec_from_json(drafts[0].spec_json)
    with time_machine.travel(datetime(2026, 9, 30, 2, 0, tzinfo=timezone.utc), tick=False):
        workflow, snap = runtime.start(specs)
        snap = runtime.complete(workflow, str(snap.ready[0].id), _typed(drafts[0], "Task_intake", INTAKE))
    [(_id, element, due)] = snap.timers
    assert element == "Timer_mediation_deadline"
    assert due == datetime(2026, 10, 13, 15, 59, 59, tzinfo=timezone.utc)
