"""The pathway library: finds bpmn/ and forms/, checks them (XSD, SpiffWorkflow's parser and our
own lint) and records a new immutable process version whenever a pathway's content changes."""
import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.dmn.parser.BpmnDmnParser import SCHEMAS as DMN_SCHEMAS
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser
from sqlalchemy import bindparam, select

from engine.library import forms as formlib
from engine.workflow import instance_limits, runtime
from engine.persistence.models import ProcessVersion
from engine.access.department_kinds import SERVICES
from engine.access.policy import role_for_lane
from engine.workflow.runtime import spec_to_json
from engine.workflow.scripting import ScriptRejected, check_decision_cell, check_source, check_timer_expression
from engine.library.xmlsafe import UnsafeXml, parse_xml

NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core",
}
log = logging.getLogger(__name__)
FORM_PROPERTY = "formJsonSchemaFilename"
LEGAL_BASIS_PROPERTY = "legalBasis"
# The value of a user task's property `dossier` that makes it the step recording the parties' joint
# application for judicial confirmation (engine/cases/dossier.py); the only kind of dossier there is.
DOSSIER_KIND = "judicial_confirmation"


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    message: str

    def __str__(self):
        return f"{self.file}:{self.line}: {self.message}"


@dataclass
class Draft:
    """A pathway ready to be recorded as a version."""
    process_key: str
    name: str
    content_hash: str
    files: dict
    forms: dict
    meta: dict
    spec_json: str = field(repr=False)


def read_folder(bpmn_dir, forms_dir):
    """{"bpmn/x.bpmn": bytes, ...} and {"x.json": text}."""
    diagrams = {f"bpmn/{p.name}": p.read_bytes() for p in sorted(Path(bpmn_dir).iterdir())
                if p.suffix in (".bpmn", ".dmn")}
    return diagrams, formlib.load_forms(forms_dir)


def _properties(node):
    return {p.get("name"): p.get("value")
            for p in node.xpath("./bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property",
                                namespaces=NS)}


# What a diagram may contain to run here. Anything else (drawn with bpmn.io or Camunda Modeler,
# say) is named at check time, element by element, instead of failing on a live case.
_RUNNABLE = {
    "startEvent", "endEvent", "userTask", "scriptTask", "businessRuleTask", "callActivity", "subProcess", "task",
    "exclusiveGateway", "parallelGateway", "inclusiveGateway", "boundaryEvent", "intermediateCatchEvent",
    "intermediateThrowEvent", "sequenceFlow", "laneSet", "lane", "flowNodeRef", "childLaneSet", "textAnnotation",
    "association", "dataObject", "dataObjectReference", "dataStoreReference", "documentation", "extensionElements",
    "incoming", "outgoing", "conditionExpression", "script", "multiInstanceLoopCharacteristics", "loopDataInputRef",
    "loopDataOutputRef", "inputDataItem", "outputDataItem", "loopCardinality", "completionCondition",
    "timerEventDefinition", "timeDuration", "timeDate", "timeCycle", "text", "ioSpecification", "dataInput",
    "dataOutput", "inputSet", "outputSet", "dataInputRefs", "dataOutputRefs", "dataInputAssociation",
    "dataOutputAssociation", "sourceRef", "targetRef", "property", "standardLoopCharacteristics",
}
_WHY_NOT = {
    "serviceTask": "service tasks would call outside systems; scripts here run in a sandbox without them",
    "sendTask": "messages to other participants are not delivered here", "receiveTask": "messages are not received here",
    "manualTask": "a step for people must be a user task with a form", "complexGateway": "complex gateways are not run here",
    "eventBasedGateway": "event-based gateways are not run here", "transaction": "transactions are not run here",
    "adHocSubProcess": "ad-hoc subprocesses are not run here",
    "messageEventDefinition": "message events are not delivered here", "signalEventDefinition": "signals are not sent here",
    "errorEventDefinition": "error events are not handled here", "escalationEventDefinition": "escalations are not handled here",
    "compensateEventDefinition": "compensation is not run here", "conditionalEventDefinition": "conditional events are not run here",
    "linkEventDefinition": "link events are not run here", "terminateEventDefinition": "terminate end events are not run here",
    "cancelEventDefinition": "cancel events are not run here",
}


def _unrunnable(filename, root, problems):
    for process in root.xpath(".//bpmn:process", namespaces=NS):
        for node in process.iter():
            if not isinstance(node.tag, str) or etree.QName(node).namespace != NS["bpmn"]:
                continue
            tag = etree.QName(node).localname
            if tag in _RUNNABLE or tag == "process":
                continue
            # An event definition is named by its event; any other unknown element by itself.
            owner = node.getparent() if tag.endswith("EventDefinition") or not node.get("id") else node
            label = f'{etree.QName(owner).localname} {owner.get("id")} ("{owner.get("name") or ""}")'
            problems.append(Problem(filename, node.sourceline,
                                    f"{label} cannot run here: {_WHY_NOT.get(tag, f'{tag} is not supported')}"))


def _lanes(root):
    lanes = {}
    for lane in root.xpath(".//bpmn:lane", namespaces=NS):
        for ref in lane.xpath("./bpmn:flowNodeRef", namespaces=NS):
            lanes[(ref.text or "").strip()] = lane.get("name")
    return lanes


def _line_in(node, exc):
    """The file's line of a problem within the code an element holds (its text starts on the
    element's own line)."""
    return node.sourceline + max((getattr(exc, "line", None) or 1) - 1, 0)


# What the database keeps of an element (models: tasks.spec_id, tasks.title, tasks.legal_basis,
# tasks.form_key): longer is refused at check, never cut or a failed insert on a live case.
MAX_EXTENSION_DAYS = 3650  # no legal period is extended by more than years; more would overflow dates
_LIMITS = {"id": 100, "name": 200, LEGAL_BASIS_PROPERTY: 200, FORM_PROPERTY: 100}


def _too_long(filename, root, problems):
    for node in root.xpath(".//bpmn:process | .//bpmn:process//*[@id]", namespaces=NS):
        what = {"id": node.get("id"), "name": node.get("name"), **{key: value for key, value in _properties(node).items()
                                                                    if key in _LIMITS}}
        for key, value in what.items():
            if value and len(value) > _LIMITS[key]:
                problems.append(Problem(filename, node.sourceline, f"{etree.QName(node).localname} {node.get('id')[:40]}: "
                                        f"{key} is {len(value)} characters long, at most {_LIMITS[key]} are kept"))


def _unbounded_loops(filename, root, problems):
    """A loop with no maximum, or more instances than a step may have, would hold the engine
    (engine/workflow/instance_limits.py stops it at run time; here the designer hears of it first)."""
    limit = instance_limits.MAX_INSTANCES
    for loop in root.xpath(".//bpmn:standardLoopCharacteristics", namespaces=NS):
        maximum = (loop.get("loopMaximum") or "").strip()
        if not maximum.isascii() or not maximum.isdigit() or not 1 <= int(maximum) <= limit:
            problems.append(Problem(filename, loop.sourceline, f"loop of {loop.getparent().get('id')} needs a "
                                    f"loopMaximum of 1 to {limit} (it has {maximum[:20] or 'none'})"))
    for cardinality in root.xpath(".//bpmn:loopCardinality", namespaces=NS):
        text = (cardinality.text or "").strip()
        if text.isascii() and text.isdigit() and int(text) > limit:
            problems.append(Problem(filename, cardinality.sourceline, f"multi-instance "
                                    f"{cardinality.getparent().getparent().get('id')}: {text[:20]} instances, at most {limit}"))


_GATEWAYS = " | ".join(f".//bpmn:{kind}" for kind in (
    "exclusiveGateway", "inclusiveGateway", "eventBasedGateway", "complexGateway", "parallelGateway"))
# ASCII marks read as stray in a Chinese name (the full-width ones are fine).
_ASCII_MARKS = set("?!:;,")


def _gateway_names(filename, root, problems):
    """The diagram and the case's trace show a gateway by its name, so a gateway that decides
    (two ways out or more, not parallel) is named as the question it answers, in Chinese ending in
    a full-width "？"; no gateway's name carries ASCII marks ("route?")."""
    for gateway in root.xpath(_GATEWAYS, namespaces=NS):
        name = (gateway.get("name") or "").strip()
        deciding = (etree.QName(gateway).localname != "parallelGateway"
                    and len(gateway.xpath("./bpmn:outgoing", namespaces=NS)) >= 2)
        stray = sorted(_ASCII_MARKS & set(name))
        if stray:
            problems.append(Problem(filename, gateway.sourceline, f'gateway {gateway.get("id")} ("{name[:40]}"): '
                                    f'ASCII {" ".join(stray)} in its name, write the full-width mark (？ ！ ： ； ，)'))
        elif deciding and (not name.endswith("？") or name.isascii()):
            problems.append(Problem(filename, gateway.sourceline, f'gateway {gateway.get("id")} decides between ways: '
                                    f'name it as a question in Chinese ending in "？" (it is "{name[:40]}")'))


def _lint_bpmn(filename, root, form_texts, kinds, problems):
    """Our own rules, beyond the XSD and the parser. Returns element metadata for the version."""
    _unbounded_loops(filename, root, problems)
    _gateway_names(filename, root, problems)
    meta = {"tasks": {}, "deadlines": {}, "flows": {}, "elements": {}, "restarts": {}, "processes": {}}
    _unrunnable(filename, root, problems)
    _too_long(filename, root, problems)
    _elements_and_flows(filename, root, meta, problems)
    _user_tasks(filename, root, form_texts, kinds, meta, problems)
    _scripts(filename, root, problems)
    _deadlines(filename, root, meta, problems)
    for end in root.xpath(".//bpmn:endEvent", namespaces=NS):
        # An end event marked restart ends a round of the case; the engine starts the next one.
        if (_properties(end).get("restart") or "").lower() == "true":
            meta["restarts"][end.get("id")] = end.get("name") or end.get("id")
    _gateways_without_default(filename, root, problems)
    return meta


def _elements_and_flows(filename, root, meta, problems):
    """Every process, element and flow by id; a flow's condition must be allowed code."""
    for process in root.xpath(".//bpmn:process", namespaces=NS):
        meta["processes"][process.get("id")] = {"name": process.get("name") or process.get("id"), "file": filename}
    for node in root.xpath(".//bpmn:process//*[@id]", namespaces=NS):
        tag = etree.QName(node).localname
        # The file says which diagram to show for a step (each pathway is its own diagram).
        meta["elements"][node.get("id")] = {"type": tag, "name": node.get("name") or node.get("id"), "file": filename}
    for flow in root.xpath(".//bpmn:sequenceFlow", namespaces=NS):
        meta["flows"][flow.get("id")] = [flow.get("sourceRef"), flow.get("targetRef")]
        condition = flow.find("bpmn:conditionExpression", NS)
        if condition is not None and (condition.text or "").strip():
            try:
                check_source(condition.text, "expression")
            except (ScriptRejected, SyntaxError) as exc:
                problems.append(Problem(filename, _line_in(condition, exc),
                                        f"condition of {flow.get('id')} is not allowed: {exc}"))


def _user_tasks(filename, root, form_texts, kinds, meta, problems):
    """A user task names an existing form, sits in a lane naming a role, names a department only
    in the department lane and only an active kind of the registry (`kinds`), and refers parties
    only to known services."""
    lanes = _lanes(root)
    for task in root.xpath(".//bpmn:userTask", namespaces=NS):
        task_id = task.get("id")
        props = _properties(task)
        form_file = props.get(FORM_PROPERTY)
        lane = lanes.get(task_id)
        role = role_for_lane(lane)
        if not form_file:
            problems.append(Problem(filename, task.sourceline,
                                    f'user task {task_id} ("{task.get("name")}") names no form '
                                    f'(property {FORM_PROPERTY})'))
        elif form_file not in form_texts:
            problems.append(Problem(filename, task.sourceline,
                                    f"user task {task_id}: form forms/{form_file} does not exist"))
        if role is None:
            where = f'lane "{lane}" is not a known role' if lanes and lane else "is in no lane naming a role"
            problems.append(Problem(filename, task.sourceline, f"user task {task_id} {where}"))
        department, department_from = (props.get("department") or "").strip(), (props.get("departmentFrom") or "").strip()
        if department and not kinds.is_active(department):
            what = "is deactivated in" if department in kinds else "is not a kind of"
            problems.append(Problem(filename, task.sourceline, f'user task {task_id}: department "{department[:40]}" '
                                    f'{what} the department registry (active kinds: '
                                    f'{", ".join(kind.code for kind in kinds.active())})'))
        referrals = _referrals(filename, task, props, problems)
        if (department or department_from) and role != "department":
            problems.append(Problem(filename, task.sourceline,
                                    f"user task {task_id} names a department but is not in the department lane"))
        # The step where the parties' joint application for judicial confirmation is recorded:
        # completing it with an application makes the court's dossier (engine/cases/dossier.py).
        dossier = (props.get("dossier") or "").strip()
        if dossier and dossier != DOSSIER_KIND:
            problems.append(Problem(filename, task.sourceline, f'user task {task_id}: dossier "{dossier}" is not '
                                    f'"{DOSSIER_KIND}"'))
        meta["tasks"][task_id] = {"name": task.get("name") or task_id, "form": form_file, "role": role,
                                  "department": department or None, "department_from": department_from or None,
                                  "referrals": referrals, "dossier": dossier or None}


REFERRALS_PROPERTY = "referrals"


def _referrals(filename, task, props, problems):
    """The services (engine/access/department_kinds.SERVICES) a step may refer a party to, from its
    property `referrals` ("legal_aid,counselling"); the step's page then offers a referral."""
    found = [part.strip() for part in (props.get(REFERRALS_PROPERTY) or "").split(",") if part.strip()]
    unknown = [part for part in found if part not in SERVICES]
    if unknown:
        problems.append(Problem(filename, task.sourceline, f"user task {task.get('id')}: referrals to "
                                f"{', '.join(part[:40] for part in unknown)} are not services "
                                f"(one or more of {', '.join(SERVICES)})"))
    return [part for part in dict.fromkeys(found) if part in SERVICES]


def _scripts(filename, root, problems):
    """Scripts, pre- and post-scripts must be allowed code."""
    for script in root.xpath(".//spiffworkflow:preScript | .//spiffworkflow:postScript", namespaces=NS):
        try:
            check_source(script.text or "", "script")
        except (ScriptRejected, SyntaxError) as exc:
            problems.append(Problem(filename, _line_in(script, exc), f"{etree.QName(script).localname} is not allowed: {exc}"))
    for script in root.xpath(".//bpmn:scriptTask", namespaces=NS):
        body = script.find("bpmn:script", NS)
        try:
            check_source(body.text if body is not None and body.text else "", "script")
        except (ScriptRejected, SyntaxError) as exc:
            problems.append(Problem(filename, _line_in(body if body is not None else script, exc),
                                    f"script of {script.get('id')} is not allowed: {exc}"))


def _deadlines(filename, root, meta, problems):
    """A timer cites its legal basis, has an allowed expression and a bounded extension."""
    for event in root.xpath(".//bpmn:boundaryEvent | .//bpmn:intermediateCatchEvent", namespaces=NS):
        timer = event.find("bpmn:timerEventDefinition", NS)
        if timer is None:
            continue
        props = _properties(event)
        basis = (props.get(LEGAL_BASIS_PROPERTY) or "").strip()
        if not basis:
            problems.append(Problem(filename, event.sourceline,
                                    f"deadline {event.get('id')} cites no legal basis (property {LEGAL_BASIS_PROPERTY})"))
        expression = ""
        for child in timer:
            if child.text and child.text.strip():
                expression = child.text.strip()
                try:
                    check_source(child.text, "expression")
                    check_timer_expression(etree.QName(child).localname, child.text)
                except (ScriptRejected, SyntaxError) as exc:
                    problems.append(Problem(filename, _line_in(child, exc), f"timer expression is not allowed: {exc}"))
        extension = (props.get("maxExtensionDays") or "0").strip()
        if not (extension.isascii() and extension.isdigit() and int(extension) <= MAX_EXTENSION_DAYS):
            problems.append(Problem(filename, event.sourceline, f"deadline {event.get('id')}: maxExtensionDays must "
                                    f"be a whole number of days, at most {MAX_EXTENSION_DAYS}"))
            extension = "0"
        if int(extension) and not (props.get("extensionBasis") or "").strip():
            problems.append(Problem(filename, event.sourceline,
                                    f"deadline {event.get('id')} may be extended but cites no basis (property extensionBasis)"))
        meta["deadlines"][event.get("id")] = {
            "name": event.get("name") or event.get("id"),
            "attached_to": event.get("attachedToRef"),
            "legal_basis": basis,
            "interrupting": event.get("cancelActivity", "true") != "false",
            "max_extension_days": int(extension),
            "extension_basis": (props.get("extensionBasis") or "").strip(),
            "expression": expression,
            # Counted over the holiday calendar, so provisional while a year's notice is not out.
            "calendar": any(name in expression for name in ("working_days(", "natural_days(", "months(")),
        }


def _gateways_without_default(filename, root, problems):
    """A choice without a default flow needs a condition on every way out, or a case can stick."""
    for gateway in root.xpath(".//bpmn:exclusiveGateway | .//bpmn:inclusiveGateway", namespaces=NS):
        outgoing = gateway.xpath("./bpmn:outgoing", namespaces=NS)
        if len(outgoing) < 2 or gateway.get("default"):
            continue
        for ref in outgoing:
            flow = root.xpath(f'.//bpmn:sequenceFlow[@id="{ref.text.strip()}"]', namespaces=NS)
            if flow and flow[0].find("bpmn:conditionExpression", NS) is None:
                problems.append(Problem(filename, gateway.sourceline,
                                        f"gateway {gateway.get('id')} has no default flow and flow "
                                        f"{ref.text.strip()} has no condition"))


def _line_for_id(roots, filename, element_id):
    root = roots.get(filename)
    if root is not None and element_id:
        found = root.xpath(f'//*[@id="{element_id}"]')
        if found:
            return found[0].sourceline
    return 1


def compile_library(diagrams, form_texts, kinds):
    """Check everything and build one Draft per top-level process. Returns (drafts, problems);
    no draft may be published while there are problems. `kinds` is the department registry
    (engine/access/department_kinds.read) the diagrams' departments are judged by."""
    problems = []
    parsed_forms = _parse_forms(form_texts, problems)
    parser = SpiffBpmnParser(validator=VALIDATOR)
    roots, metas, called = _read_diagrams(parser, diagrams, form_texts, kinds, problems)
    _check_unique_ids(roots, problems)
    if problems:
        return [], problems
    drafts = []
    for process_key in parser.get_process_ids():
        if process_key in called:
            continue
        draft = _draft(parser, process_key, roots, metas, diagrams, parsed_forms, problems)
        if draft is not None:
            drafts.append(draft)
    return drafts, problems


def _parse_forms(form_texts, problems):
    parsed = {}
    for key, text in form_texts.items():
        try:
            parsed[key] = formlib.parse_form(key, text)
        except formlib.FormDefinitionError as exc:
            problems.append(Problem(f"forms/{key}", exc.line, str(exc)))
    return parsed


def _read_diagrams(parser, diagrams, form_texts, kinds, problems):
    """Parse every file safely, hand it to SpiffWorkflow's parser and lint it. Returns the parsed
    roots, each diagram's metadata and the processes other diagrams call."""
    roots, metas, called = {}, {}, set()
    for filename, data in diagrams.items():
        try:
            root = parse_xml(data, filename)
        except UnsafeXml as exc:
            problems.append(Problem(filename, 1, str(exc)))
            continue
        except etree.XMLSyntaxError as exc:
            problems.append(Problem(filename, exc.lineno or 1, f"not well-formed XML: {exc.msg}"))
            continue
        roots[filename] = root
        try:
            if filename.endswith(".dmn"):
                shape = _dmn_shape(root)
                if shape:
                    problems.append(Problem(filename, root.sourceline or 1, shape))
                    continue
                parser.add_dmn_xml(root, filename)
                _lint_dmn(filename, root, problems)
            else:
                parser.add_bpmn_xml(root, filename)
                metas[filename] = _lint_bpmn(filename, root, form_texts, kinds, problems)
                called.update(e.get("calledElement") for e in root.xpath(".//bpmn:callActivity", namespaces=NS))
        except ValidationException as exc:
            problems.append(Problem(exc.file_name or filename, exc.line_number or
                                    _line_for_id(roots, filename, exc.id), _validation_message(exc)))
        except Exception as exc:  # noqa: BLE001 - whatever the parser trips on, check names the file, never crashes
            problems.append(_unreadable(filename, exc))
    return roots, metas, called


def _draft(parser, process_key, roots, metas, diagrams, parsed_forms, problems):
    """The version a top-level process would publish as, or None (with the problem added)."""
    filename = parser.get_process_parser(process_key).filename
    try:
        spec = parser.get_spec(process_key)
        subprocess_specs = parser.get_subprocess_specs(process_key)
    except ValidationException as exc:
        file = exc.file_name or filename
        problems.append(Problem(file, exc.line_number or _line_for_id(roots, file, exc.id), _validation_message(exc)))
        return None
    except Exception as exc:  # noqa: BLE001 - a decision table is only read here, when its caller is built
        problems.append(_unreadable(filename, exc))
        return None
    meta = _merge_meta(metas)
    used_forms = sorted({t["form"] for t in meta["tasks"].values() if t["form"]})
    forms = {key: parsed_forms[key].definition for key in used_forms}
    files = {name: data.decode("utf-8") for name, data in diagrams.items()}
    return Draft(process_key=process_key, name=spec.description or process_key,
                 content_hash=_content_hash(process_key, files, forms), files=files, forms=forms,
                 meta=meta, spec_json=spec_to_json(spec, subprocess_specs))


def _lint_dmn(filename, root, problems):
    """Every cell of a decision table is code the engine evaluates: check it as it will run."""
    ns = {"dmn": etree.QName(root).namespace}
    cells = [("expression", text) for text in root.xpath(".//dmn:inputExpression/dmn:text", namespaces=ns)]
    cells += [("input", text) for text in root.xpath(".//dmn:inputEntry/dmn:text", namespaces=ns)]
    cells += [("output", text) for text in root.xpath(".//dmn:outputEntry/dmn:text", namespaces=ns)]
    for kind, text in cells:
        try:
            check_decision_cell(text.text, kind)
        except (ScriptRejected, SyntaxError) as exc:
            cell = text.getparent()
            problems.append(Problem(filename, text.sourceline, f"cell {cell.get('id') or etree.QName(cell).localname} "
                                                               f"is not allowed: {exc}"))


def _dmn_shape(root):
    """Why SpiffWorkflow's DMN reader cannot take this document, or None. It finds the elements by
    the default namespace or the prefix dmn:, so a table written with another prefix is named here."""
    qname = etree.QName(root)
    if qname.localname != "definitions" or qname.namespace not in DMN_SCHEMAS:
        return (f"not a DMN decision table: the root element is {qname.localname} in "
                f"{qname.namespace or 'no namespace'}, not definitions in a DMN namespace")
    if root.nsmap.get(None) != qname.namespace and root.nsmap.get("dmn") != qname.namespace:
        return (f"the DMN elements use the prefix {root.prefix}:, write them without a prefix "
                f'(xmlns="{qname.namespace}") or with dmn:')
    if not root.xpath("./dmn:decision", namespaces={"dmn": qname.namespace}):
        return "the decision table file holds no decision"
    return None


def _unreadable(filename, exc):
    log.warning("library check: %s could not be read", filename, exc_info=exc)
    return Problem(filename, getattr(exc, "lineno", None) or 1, f"could not be read: {type(exc).__name__}: {exc}")


def _check_unique_ids(roots, problems):
    """Element ids must be unique across the library: a case's steps, deadlines and flows are
    looked up by id over all the diagrams it calls."""
    seen = {}
    for filename, root in roots.items():
        if not filename.endswith(".bpmn"):
            continue
        for node in root.xpath(".//bpmn:process//*[@id] | .//bpmn:process", namespaces=NS):
            element_id = node.get("id")
            if element_id in seen and seen[element_id] != filename:
                problems.append(Problem(filename, node.sourceline,
                                        f"id {element_id} is already used in {seen[element_id]}"))
            seen.setdefault(element_id, filename)


def _validation_message(exc):
    text = str(exc).split("\n")[0]
    return text


def _merge_meta(metas):
    merged = {"tasks": {}, "deadlines": {}, "flows": {}, "elements": {}, "restarts": {}, "processes": {}}
    for meta in metas.values():
        for key in merged:
            merged[key].update(meta[key])
    return merged


def diagram_file(meta, process_key, element_ids=()):
    """Which diagram of a version to show: the one drawing the first of `element_ids` (a case's
    current steps), else the one drawing the top-level process."""
    for element_id in element_ids:
        found = meta.get("elements", {}).get(element_id, {}).get("file")
        if found:
            return found
    return meta.get("processes", {}).get(process_key, {}).get("file")


def _content_hash(process_key, files, forms):
    digest = hashlib.sha256(process_key.encode())
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + files[name].encode() + b"\0")
    digest.update(json.dumps(forms, sort_keys=True, ensure_ascii=False).encode())
    return digest.hexdigest()


def check_folder(bpmn_dir, forms_dir, kinds):
    diagrams, form_texts = read_folder(bpmn_dir, forms_dir)
    return compile_library(diagrams, form_texts, kinds)


def record_versions(session, drafts, actor_id=None, source="files"):
    """Insert a version for each draft whose content is new. Returns the newly created rows."""
    created = []
    for draft in drafts:
        exists = session.scalar(select(ProcessVersion.id).where(ProcessVersion.content_hash == draft.content_hash))
        if exists:
            continue
        version = ProcessVersion(
            process_key=draft.process_key, name=draft.name, content_hash=draft.content_hash,
            files=draft.files, forms=draft.forms, meta=draft.meta, spec_json=draft.spec_json,
            source=source, created_by=actor_id,
        )
        session.add(version)
        created.append(version)
    session.flush()
    return created


_LATEST = (select(ProcessVersion.id).where(ProcessVersion.process_key == bindparam("b_key"))
           .order_by(ProcessVersion.id.desc()).limit(1))


def latest_version(session, process_key):
    """The version new cases of a pathway take: the newest one recorded."""
    version_id = session.scalar(_LATEST, {"b_key": process_key})
    return None if version_id is None else version_info(session, version_id)


@dataclass(frozen=True)
class VersionInfo:
    """What running a case needs of its version. Versions never change once recorded, so this is
    read from the database once per process and kept (the row's JSON is ~35 KB to decode)."""
    id: int
    process_key: str
    name: str
    content_hash: str
    meta: dict
    forms: dict
    _form_defs: dict = field(default_factory=dict, repr=False, compare=False)

    def form(self, key):
        found = self._form_defs.get(key)
        if found is None:
            found = self._form_defs[key] = formlib.FormDef(key, self.forms[key])
        return found

    def specs(self, session):
        """The version's (spec, subprocess specs), restored once per process; the spec JSON is
        read from the database only then."""
        return runtime.SPEC_CACHE.get(self.id, lambda: session.scalar(
            select(ProcessVersion.spec_json).where(ProcessVersion.id == self.id)))


_VERSIONS = {}  # by version id: immutable, so each process may keep its own (runtime.SpecCache)
_VERSION_COLUMNS = (ProcessVersion.id, ProcessVersion.process_key, ProcessVersion.name, ProcessVersion.content_hash,
                    ProcessVersion.meta, ProcessVersion.forms)


def version_info(session, version_id):
    found = _VERSIONS.get(version_id)
    if found is None:
        row = session.execute(select(*_VERSION_COLUMNS).where(ProcessVersion.id == version_id)).one()
        found = _VERSIONS[version_id] = VersionInfo(**row._mapping)
    return found


@dataclass
class Comparison:
    """What changed between two versions, element by element."""
    added: list = field(default_factory=list)      # (id, name, type)
    removed: list = field(default_factory=list)
    changed: list = field(default_factory=list)    # (id, name, [what changed])
    files: list = field(default_factory=list)      # files whose text differs


_STEP_FIELDS = {"tasks": ("form", "role", "department", "department_from", "referrals", "name"),
                "deadlines": ("expression", "legal_basis", "max_extension_days", "extension_basis", "attached_to",
                              "interrupting")}


def compare(old, new):
    """Compare two versions' metadata and files (each a VersionInfo-like with .meta and .files)."""
    result = Comparison()
    old_elements, new_elements = old.meta.get("elements", {}), new.meta.get("elements", {})
    for element_id in sorted(new_elements.keys() - old_elements.keys()):
        info = new_elements[element_id]
        result.added.append((element_id, info.get("name"), info.get("type")))
    for element_id in sorted(old_elements.keys() - new_elements.keys()):
        info = old_elements[element_id]
        result.removed.append((element_id, info.get("name"), info.get("type")))
    for element_id in sorted(old_elements.keys() & new_elements.keys()):
        what = []
        if old_elements[element_id].get("name") != new_elements[element_id].get("name"):
            what.append(f"name: {old_elements[element_id].get('name')} → {new_elements[element_id].get('name')}")
        for table, fields in _STEP_FIELDS.items():
            before, after = old.meta.get(table, {}).get(element_id), new.meta.get(table, {}).get(element_id)
            if before and after:
                what += [f"{name}: {before.get(name)} → {after.get(name)}" for name in fields
                         if name != "name" and before.get(name) != after.get(name)]
        flow_before, flow_after = old.meta.get("flows", {}).get(element_id), new.meta.get("flows", {}).get(element_id)
        if flow_before and flow_after and list(flow_before) != list(flow_after):
            what.append(f"flow: {' → '.join(flow_before)} ⇒ {' → '.join(flow_after)}")
        if what:
            result.changed.append((element_id, new_elements[element_id].get("name"), what))
    result.files = sorted(name for name in old.files.keys() | new.files.keys()
                          if old.files.get(name) != new.files.get(name))
    return result


def newest_version(session):
    """The version recorded last: its files are the whole library as published."""
    return session.scalar(select(ProcessVersion).order_by(ProcessVersion.id.desc()).limit(1))


def export_library(session, bpmn_dir, forms_dir):
    """Write the newest published version's diagrams and forms back to the folders, so the files in
    git and the database agree. Returns the paths written whose content changed."""
    newest = newest_version(session)
    if newest is None:
        return []
    written = []
    targets = [(Path(bpmn_dir) / Path(name).name, text) for name, text in newest.files.items()]
    targets += [(Path(forms_dir) / key, json.dumps(definition, ensure_ascii=False, indent=2) + "\n")
                for key, definition in newest.forms.items()]
    for path, text in targets:
        if path.exists() and _same(path, text):
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(str(path))
    return written


def _same(path, text):
    current = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        try:
            return json.loads(current) == json.loads(text)  # the same form, however it is indented
        except ValueError:
            return False
    return current == text
