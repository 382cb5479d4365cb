"""A case's trace as people read it: each event's detail as labelled rows in the reader's
language (field titles and option labels from the forms of the case's own version, units and
departments by name, times in China), never as JSON. The same rows serve the screen and the
printed trace; the raw detail stays one click away and in the JSON export."""
from datetime import datetime

from flask_babel import gettext as _

from engine.access import department_kinds
from engine.library import catalog
from engine.legaltime.clock import CHINA, as_utc
from engine.library.risk import NAMES as RISK_NAMES
from engine.messages import N_
from engine.reading import queries, trace

from .extensions import db
from .i18n import authored, enum_label, field_title, label
from .labels import CHANNEL, COMMITTEE, EVENT_KINDS, MEETING_DECISION, ROUTE, SERVICES, STATES, SUBMISSION_SOURCE

# What the auditor chooses to see: what people did (the default), or every engine transition too.
VIEWS = ("people", "all")

# Keys of the details the engine records, with how each reads.
KEYS = {
    "code": N_("Case code"), "process": N_("Pathway"), "version": N_("Version"),
    "related": N_("Related cases"), "note": N_("Note"), "reason": N_("Reason"),
    "approver": N_("Approved by"), "days": N_("Days added"), "basis": N_("Basis"),
    "due_at": N_("Due at"), "acknowledge_by": N_("Acknowledge by"), "round": N_("Round"),
    "stopped_seconds": N_("Clock stopped for"), "error": N_("Error"),
    "provisional": N_("Provisional"), "reopened_steps": N_("Steps reopened"),
    "assessed": N_("Assessed"), "level": N_("Level set"), "before": N_("Level before"),
    "how": N_("How the level was set"), "reasons": N_("Reasons"), "facts": N_("Facts weighed"),
    "description": N_("Triage rule"), "route": N_("Routed to"), "committee": N_("Mediation body"),
    "legal_channel": N_("Legal channel"), "department": N_("Department"), "body": N_("Competent body"),
    "override_reason": N_("Override reason"), "repeat_visits": N_("Repeat visits"),
    "earlier_petitions": N_("Earlier petitions"), "why": N_("Why"),
    "risk_assessed": N_("Risk assessed"), "order": N_("Work order number"),
    # A matter reported from outside that became or joined the case.
    "submission": N_("Reference"), "source": N_("Source"), "filed_at": N_("Reported on"),
    "attachments": N_("Attachments"), "kind": N_("Kind"), "category": N_("Category"), "place": N_("Place"),
    "summary": N_("What happened"), "claims": N_("Claims"),
    # A referral to legal aid or counselling and the receiving department's answer.
    "service": N_("Service"), "party": N_("Party"), "referred_to": N_("Referred to"), "outcome": N_("Outcome"),
    # The judicial-confirmation dossier (the file, its hash) and a party's online confirmation.
    "attachment": N_("Attachment"), "filename": N_("File"), "sha256": N_("SHA-256"), "size": N_("Size (bytes)"),
    "confirmed_by": N_("Confirmed by"), "confirmed_at": N_("Confirmed at"),
    # A joint meeting's decision (engine/cases/meetings.py).
    "meeting": N_("Joint meeting"), "decision": N_("The meeting's decision"), "due": N_("To be carried out by"),
    "result": N_("What it made"),
}
# Keys kept for machines (in the raw data and the export), not shown as rows.
HIDDEN = {"rule", "to_id", "task_id", "type", "referral", "render_ms", "party_id", "meeting_id"}
HOW = {"assessed": N_("as assessed"), "raised": N_("raised by the clerk"), "lowered": N_("lowered by the clerk")}
WHY = {"previous_handler": N_("the handler of the case's previous step of this role"),
       "applied": N_("the joint application recorded at the window"),
       "online": N_("every party confirmed the joint application online"),
       "regenerated": N_("made again after the case's data was corrected")}
ELEMENT_TYPES = {"startEvent": N_("start"), "endEvent": N_("end"), "exclusiveGateway": N_("decision"),
                 "parallelGateway": N_("parallel"), "inclusiveGateway": N_("decision"),
                 "callActivity": N_("called pathway"), "scriptTask": N_("automatic step"),
                 "boundaryEvent": N_("deadline"), "intermediateCatchEvent": N_("wait"),
                 "subProcess": N_("sub-process")}
OTHER_ELEMENT = N_("element")
# Values that are a vocabulary's code, by key.
TABLES = {"route": ROUTE, "committee": COMMITTEE, "legal_channel": CHANNEL, "assessed": RISK_NAMES,
          "risk_assessed": RISK_NAMES, "level": RISK_NAMES, "before": RISK_NAMES, "how": HOW, "why": WHY,
          "source": SUBMISSION_SOURCE, "service": SERVICES,
          "decision": MEETING_DECISION}
# Values that are a code of the department registry (read once per request), by key.
REGISTRY_KEYS = {"department"}
CODED = set(TABLES) | REGISTRY_KEYS


def _coded(key, value):
    if key in REGISTRY_KEYS:
        return _text(authored(department_kinds.read(db.session).labels().get(value, value)))
    return _text(label(TABLES[key], value))


def view_of(args):
    return args.get("show") if args.get("show") in VIEWS else "people"


def china_time(value):
    """A stored time (a datetime or an ISO text) as China time, to the minute."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    return as_utc(value).astimezone(CHINA).strftime("%Y-%m-%d %H:%M") if value else ""


# A node is ("text", str), ("pairs", [(label, node)]) or ("table", [header], [[node]]).
def _text(value):
    if value is None or value == "":
        return ("text", "—")
    if isinstance(value, bool):
        return ("text", _("yes") if value else _("no"))
    return ("text", str(value))


def _plain(value):
    """A value with no form to read it by: lists and objects as rows, never as JSON."""
    if isinstance(value, dict):
        return ("pairs", [(label(KEYS, key), _plain(item)) for key, item in value.items()])
    if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
        keys = list(dict.fromkeys(key for item in value for key in item))
        return ("table", [label(KEYS, key) for key in keys],
                [[_plain(item.get(key)) for key in keys] for item in value])
    if isinstance(value, list):
        return ("text", "、".join(str(item) for item in value) or "—")
    return _text(value)


def form_value(prop, value):
    """One recorded value, read by its field in the form."""
    prop = prop or {}
    if prop.get("type") == "array" and isinstance(value, list):
        items = prop.get("items") or {}
        if items.get("type") == "object":
            rows = [row for row in value if isinstance(row, dict)]
            # A column nobody filled in (no agent, no address) is left out, as empty fields are.
            fields = [(name, sub) for name, sub in (items.get("properties") or {}).items()
                      if any(row.get(name) not in (None, "", [], False) for row in rows)]
            return ("table", [field_title(sub) or name for name, sub in fields],
                    [[form_value(sub, row.get(name)) for name, sub in fields] for row in rows])
        return ("text", "、".join(str(enum_label(items, item)) for item in value) or "—")
    if prop.get("type") == "object" and isinstance(value, dict):
        return form_rows(prop, value)
    if "x-enum-labels" in prop and value is not None:
        return _text(enum_label(prop, value))
    if isinstance(value, (dict, list)):
        return _plain(value)
    return _text(value)


def form_rows(schema, data):
    """What a step recorded, field by field in the form's order; a field left at its default (an
    unticked box, "none") tells nothing and is left out; anything the form does not name follows."""
    properties = schema.get("properties", {}) if schema else {}
    rows = [(field_title(prop) or name, form_value(prop, data.get(name))) for name, prop in properties.items()
            if data.get(name) not in (None, "", [], False) and data.get(name) != prop.get("default")]
    rows += [(label(KEYS, name), _coded(name, value) if name in CODED and isinstance(value, str) else _plain(value))
             for name, value in data.items() if name not in properties and value not in (None, "", [])]
    return ("pairs", rows)


def _detail_value(key, value, event, version):
    if key in CODED and isinstance(value, str):
        return _coded(key, value)
    if key == "reasons" and isinstance(value, list):
        return ("text", "; ".join(authored(reason[:2]) for reason in value if isinstance(reason, list)) or "—")
    if key == "facts" and isinstance(value, dict):
        intake = _intake_schema(version)
        return ("pairs", [(field_title(intake.get(name, {})) or label(KEYS, name),
                           form_value(intake.get(name), item)) for name, item in value.items()])
    if key in ("kind", "category") and isinstance(value, str):
        return form_value(_intake_schema(version).get(key), value)
    if key in ("due_at", "acknowledge_by", "filed_at") or (key in ("from", "to") and event.kind in (
            "deadline_extended", "deadline_recomputed")):
        return _text(china_time(value))
    if key == "stopped_seconds" and isinstance(value, int):
        return _text(_("%(days)d d %(hours)d h", days=value // 86400, hours=value % 86400 // 3600))
    if key == "process":
        return _text(version.meta.get("processes", {}).get(value, {}).get("name") or value)
    if key in ("version",) or (key in ("from", "to") and event.kind == "case_migrated"):
        return _text(f"v{value}")
    if key == "reopened_steps" and isinstance(value, list):
        return _text("、".join(_element_name(version, element) for element in value))
    return _plain(value)


def _intake_schema(version):
    form = version.meta.get("tasks", {}).get("Task_intake", {}).get("form")
    return version.forms.get(form, {}).get("schema", {}).get("properties", {}) if form else {}


_FROM_TO = {"case_escalated": (N_("From unit"), N_("Escalated to")),
            "case_assigned_down": (N_("From unit"), N_("Assigned down to")),
            "transfer_returned": (N_("Returned from"), N_("Returned to")), "transfer_acknowledged": (None, N_("Unit")),
            "task_reassigned": (N_("Handler before"), N_("Reassigned to")), "task_claimed_on_behalf": (None, N_("Given to")),
            "task_assigned": (None, N_("Handler")),
            "deadline_extended": (N_("Due before"), N_("Due now")),
            "deadline_recomputed": (N_("Due before"), N_("Due now")),
            "case_migrated": (N_("From version"), N_("To version"))}


def detail_rows(event, version):
    """The labelled rows of an event's detail (not its submitted data)."""
    detail = event.detail or {}
    if event.kind == "engine":
        return ("pairs", [(_("State"), _text(f'{label(STATES, detail.get("from")) or "—"} → '
                                               f'{label(STATES, detail.get("to"))}'))])
    rows = []
    for key, value in detail.items():
        if key in HIDDEN or key == "data" or value in (None, "", [], "none"):
            continue
        if key in ("from", "to"):
            names = _FROM_TO.get(event.kind, (N_("From"), N_("To")))
            name = names[0 if key == "from" else 1]
            title = _(name) if name else ""
        else:
            title = label(KEYS, key)
        rows.append((title, _detail_value(key, value, event, version)))
    return ("pairs", rows)


def _element_name(version, element):
    found = version.meta.get("elements", {}).get(element, {})
    name = found.get("name")
    if name and name != element:
        return name
    return _(ELEMENT_TYPES.get(found.get("type"), OTHER_ELEMENT))


def step_name(event, version):
    """The step an event is about, by its name; an unnamed element by what kind it is, never by id."""
    if not event.task_spec:
        return ""
    if event.task_title and event.task_title != event.task_spec:
        return event.task_title
    return _element_name(version, event.task_spec)


def rows(session, case, events, actor, units, view):
    """Each event shown, as a plain dict for the templates: when (China), who, unit, what, step,
    the detail's rows, the submitted data's rows, the changes since the last submission."""
    version = catalog.version_info(session, case.process_version_id)
    kinds = department_kinds.read(session)
    submitted = {e.id: queries.event_data(version, e, actor, kinds, session) for e in events
                 if e.kind in queries.DATA_EVENTS}
    changed = trace.changes_since_last([(e.id, e.task_spec, submitted[e.id][1]) for e in events if e.id in submitted])
    found = []
    for event in events:
        if view == "people" and event.kind == "engine":
            continue
        definition, data = submitted.get(event.id, (None, None))
        props = (definition or {}).get("schema", {}).get("properties", {})
        found.append({
            "event": event, "seq": event.seq, "at": china_time(event.at), "actor": event.actor_name,
            "unit": units.get(event.org_unit_id, ""), "kind": event.kind, "what": label(EVENT_KINDS, event.kind),
            "step": step_name(event, version), "detail": detail_rows(event, version),
            "data": form_rows((definition or {}).get("schema"), data) if data is not None else None,
            "changed": [(field_title(props.get(name, {})) or name, form_value(props.get(name), before),
                         form_value(props.get(name), after)) for name, before, after in changed.get(event.id, [])]
            if event.id in changed else None,
            "raw": dict(event.detail or {}, data=data) if data is not None else (event.detail or {}),
        })
    return found
