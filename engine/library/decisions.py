"""Decision tables (DMN) evaluated outside a running case: the triage preview and the risk
assessment. A table a diagram calls is taken from that business-rule step of the process
version's own spec and run by the step's DMN engine, so a preview is the decision the case's
step will take, never a copy of its logic. A table no step calls (the risk table, which the
engine applies before a case starts) is read from the version's own published files."""
from dataclasses import dataclass
from types import SimpleNamespace

from SpiffWorkflow.dmn.parser.BpmnDmnParser import BpmnDmnParser
from sqlalchemy import select

from engine.persistence.models import ProcessVersion
from engine.workflow.scripting import SCRIPT_ENGINE
from engine.library.xmlsafe import parse_xml

_TABLES = {}  # by (version id, table): immutable, so each process may keep its own (runtime.SpecCache)


class NoSuchDecision(LookupError):
    pass


@dataclass
class Outcome:
    """What a table decided: its outputs (lists for a COLLECT table) and the rows that matched."""
    outputs: dict
    rules: list

    @property
    def rule(self):
        return self.rules[0] if self.rules else None


def _step(session, version, element_id):
    spec, subprocess_specs = version.specs(session)
    for process in (spec, *subprocess_specs.values()):
        found = process.task_specs.get(element_id)
        if found is not None and hasattr(found, "dmnEngine"):
            return found
    raise NoSuchDecision(element_id)


def has_decision(session, version, element_id):
    try:
        _step(session, version, element_id)
    except NoSuchDecision:
        return False
    return True


def evaluate(session, version, element_id, data):
    """Run the table of the business-rule step `element_id` on `data`, as that step would."""
    step = _step(session, version, element_id)
    return _run(step.dmnEngine, data, step, step._wf_spec)


def _table(session, version, decision_id):
    key = (version.id, decision_id)
    if key not in _TABLES:
        files = session.scalar(select(ProcessVersion.files).where(ProcessVersion.id == version.id)) or {}
        parser = BpmnDmnParser()
        for name, text in sorted(files.items()):
            if name.endswith(".dmn"):
                parser.add_dmn_xml(parse_xml(text, name), name)
        if decision_id not in parser.dmn_parsers:
            _TABLES[key] = None
        else:
            _TABLES[key] = parser.get_engine(decision_id, None)
    return _TABLES[key]


def has_table(session, version, decision_id):
    return _table(session, version, decision_id) is not None


def evaluate_table(session, version, decision_id, data):
    """Run the version's published table `decision_id` (a file of the version) on `data`."""
    engine = _table(session, version, decision_id)
    if engine is None:
        raise NoSuchDecision(decision_id)
    spec = SimpleNamespace(bpmn_name=decision_id, bpmn_id=decision_id)
    return _run(engine, data, spec, SimpleNamespace(file=decision_id))


def _run(engine, data, spec, wf_spec):
    # The DMN engine asks a task only for its data, its spec and its workflow's script engine.
    task = SimpleNamespace(data=dict(data), task_spec=spec,
                           workflow=SimpleNamespace(script_engine=SCRIPT_ENGINE, spec=wf_spec))
    rules = engine.decide(task)
    return Outcome(engine.result(task), [SimpleNamespace(id=r.id, description=r.description, row=r.row_number)
                                         for r in rules])
