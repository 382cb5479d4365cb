"""REST API for outside systems (the 12345 hotline, grid workers' apps): file a matter, follow a
case. Bearer-token authentication (`run.py token`), JSON in and out, no cookies, so no CSRF."""
import re
from functools import wraps

from flask import Blueprint, abort, current_app, g, jsonify, request, url_for
from jsonschema import Draft202012Validator
from marshmallow import Schema, fields

from engine.access import accounts
from engine.reading import queries
from engine.cases import idempotency, services
from engine.legaltime.clock import as_utc
from engine.errors import Conflict, NotAllowed
from engine.messages import Msg
from engine.persistence.states import TaskState

from .api_webhooks import CALLBACK, webhooks
from .errors import api_error
from .extensions import csrf, db
from .i18n import say_in
from .work import INTAKE_PROCESS

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)


def _time(value):
    return as_utc(value).isoformat() if value is not None else None


class StepSchema(Schema):
    step = fields.String(attribute="spec_id")
    title = fields.String()
    state = fields.String()
    due_at = fields.Function(lambda task: _time(task.due_at))
    legal_basis = fields.String(allow_none=True)
    completed_at = fields.Function(lambda task: _time(task.completed_at))


class CaseSchema(Schema):
    code = fields.String()
    status = fields.String()
    kind = fields.String(allow_none=True)
    category = fields.String(allow_none=True)
    channel = fields.String(allow_none=True)
    route = fields.String(allow_none=True)
    risk_level = fields.String(allow_none=True)
    current_step = fields.String()
    overdue = fields.Boolean()
    order_number = fields.String(attribute="external_ref", allow_none=True)
    outcome = fields.String(allow_none=True)
    satisfaction = fields.String(allow_none=True)
    unit = fields.Function(lambda case: case.org_unit.name)
    created_at = fields.Function(lambda case: _time(case.created_at))
    closed_at = fields.Function(lambda case: _time(case.closed_at))
    steps = fields.List(fields.Nested(StepSchema))


class FiledSchema(Schema):
    code = fields.String()
    order_number = fields.String(allow_none=True)
    status = fields.String()
    current_step = fields.String()
    url = fields.String()


def public_url(endpoint, **values):
    """A URL for outside systems: the configured PUBLIC_BASE_URL and the path, never the Host
    header a caller sent (a forged Host would otherwise be handed back as a link)."""
    base = (current_app.config.get("PUBLIC_BASE_URL") or "").rstrip("/")
    return base + url_for(endpoint, **values)


def token_required(view):
    @wraps(view)
    def wrapped(*args, **kwargs):
        header = request.headers.get("Authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else ""
        g.api_actor = accounts.actor_for_token(db.session, token)
        if g.api_actor is None:
            return api_error(401, Msg("A valid bearer token is required (Authorization: Bearer <token>)."),
                             headers={"WWW-Authenticate": 'Bearer realm="yizhan"'})
        return view(*args, **kwargs)
    return wrapped


# A hotline work order's number and an idempotency key: printable ASCII, no spaces, bounded.
ORDER_NUMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$")
IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")


@bp.route("/matters", methods=["POST"])
@token_required
def file_matter():
    if not request.is_json:
        abort(415)
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        return api_error(400, Msg("The body must be a JSON object with the intake form's fields."))
    payload = dict(payload)
    order_number = payload.pop("order_number", None)
    if order_number is not None and not (isinstance(order_number, str) and ORDER_NUMBER.match(order_number)):
        return api_error(400, Msg("order_number must be 1-64 letters, digits or . _ : / - (the filing system's own number)."))
    key = request.headers.get("Idempotency-Key")
    if key is not None and not IDEMPOTENCY_KEY.match(key):
        return api_error(400, Msg("The Idempotency-Key header must be 1-200 printable ASCII characters without spaces."))
    try:
        # A system cannot stop to ask a clerk: it files, and the related cases are named in the
        # case's history for the clerk who picks it up. The same order or key twice makes one case.
        case, first = idempotency.file_once(db.session, g.api_actor, INTAKE_PROCESS, payload, order_number, key,
                                            current_app.config["IDEMPOTENCY_KEPT"])
    except services.FormInvalid as invalid:
        return api_error(422, Msg("The matter is not valid."),
                         fields={name: say_in("en", why) for name, why in invalid.errors.items()},
                         fields_zh={name: say_in("zh", why) for name, why in invalid.errors.items()})
    except NotAllowed:
        return api_error(403, Msg("This token's login may not file matters."))
    except (services.StepFailed, Conflict) as failed:
        return api_error(422, failed)
    body = FiledSchema().dump({"code": case.code, "status": case.status, "current_step": case.current_step,
                               "order_number": case.external_ref, "url": public_url("api.case", code=case.code)})
    response = jsonify(body)
    if not first:
        response.headers["Idempotent-Replayed"] = "true"
    return response, 201 if first else 200


@bp.route("/cases/<code>")
@token_required
def case(code):
    found = queries.visible_case_by_code(db.session, g.api_actor, code)
    if found is None:  # the same answer for a case that does not exist and one out of reach
        return api_error(404, Msg("No such case within this token's units."))
    return jsonify(_case_body(found))


@bp.route("/orders/<path:order_number>")
@token_required
def order(order_number):
    """The hotline knows its own work order number, not our case code: the case this login filed
    for it. Another login's order, like an unknown one, is a 404."""
    found = queries.case_of_order(db.session, g.api_actor, order_number) if ORDER_NUMBER.match(order_number) else None
    if found is None:
        return api_error(404, Msg("This token's login filed no matter with that order number."))
    return jsonify(_case_body(found))


def _case_body(found):
    body = CaseSchema(exclude=("steps",)).dump(found)
    body["steps"] = StepSchema(many=True).dump(
        [task for task in queries.case_tasks(db.session, found.id) if task.state != TaskState.CANCELLED])
    return body


@bp.route("/openapi.json")
def openapi():
    _version, _info, form = services.intake_step(db.session, INTAKE_PROCESS)
    return jsonify(_spec(form.schema))


# The OpenAPI document. Every route of this blueprint is in it with every status it answers
# (tests/web/test_api_errors.py walks the routes; test_api_fuzz.py fuzzes each operation against it).
NULLABLE = {"type": ["string", "null"]}
TIME = {"type": ["string", "null"], "format": "date-time"}
ERROR_STATUSES = {
    400: "refused before it was read: text no database stores (NUL, lone surrogates), JSON nested too "
         "deep or with NaN, a number out of range, a malformed order number or Idempotency-Key",
    401: "no valid bearer token (header WWW-Authenticate)",
    403: "the token's login may not do this",
    404: "not found, or not within the token's reach (the same answer for both)",
    413: "the body is over the size limit (MAX_CONTENT_LENGTH)",
    415: "the body is not JSON (Content-Type must be application/json)",
    422: "invalid fields (`fields` in English, `fields_zh` in Chinese, by field name), or an Idempotency-Key "
         "sent before with another request",
    500: "an unexpected error: nothing was saved; `reference` names it in the server's log",
}


# Where a filed matter is followed: by its case code, or by the order number it was filed with.
FILED_LINKS = {"case": {"operationId": "getCase", "parameters": {"code": "$response.body#/code"}},
               "order": {"operationId": "getOrder", "parameters": {"order_number": "$response.body#/order_number"},
                         "description": "when the matter was filed with an order number"}}


def _errors(*statuses):
    return {str(status): {"description": ERROR_STATUSES[status], "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/Error"}}}} for status in statuses}


def _json(description, schema, **extra):
    return {"description": description, "content": {"application/json": {"schema": schema}}, **extra}


def _case_schemas():
    step = {"type": "object", "required": list(StepSchema._declared_fields), "properties": {
        "step": {"type": "string", "description": "the step's id in the diagram"}, "title": {"type": "string"},
        "state": {"type": "string", "enum": [state.value for state in TaskState if state != TaskState.CANCELLED]},
        "due_at": TIME, "legal_basis": NULLABLE, "completed_at": TIME}}
    nullable = ("kind", "category", "channel", "route", "risk_level", "order_number", "outcome", "satisfaction")
    case = {"type": "object", "required": list(CaseSchema._declared_fields), "properties": {
        **{name: {"type": "string"} for name in CaseSchema._declared_fields},
        **{name: NULLABLE for name in nullable},
        "overdue": {"type": "boolean"}, "created_at": {"type": "string", "format": "date-time"}, "closed_at": TIME,
        "steps": {"type": "array", "items": {"$ref": "#/components/schemas/Step"}}}}
    return step, case


def _null_as_left_out(schema):
    """The form's fields, saying what the API takes: a null for a field that is not required is
    read as the field left out (engine.library.forms.data_from_json), as JSON clients often send."""
    required = set(schema.get("required", []))
    properties = {}
    for name, field in schema.get("properties", {}).items():
        if name not in required and isinstance(field.get("type"), str):
            field = {**field, "type": [field["type"], "null"]}
            if "enum" in field:
                field["enum"] = [*field["enum"], None]
        properties[name] = field
    return properties


def _null_in_condition(rule, schema):
    """A form's rule (`if` some fields hold, `then` ...), saying how the API reads a null in a
    field the `if` tests: as the field's default where it has one, otherwise as the field left out
    (so the `if` fails when it requires the field)."""
    condition = rule.get("if")
    if not isinstance(condition, dict) or not isinstance(condition.get("properties"), dict):
        return rule
    tests = {}
    for name, test in condition["properties"].items():
        field = schema.get("properties", {}).get(name, {})
        if "default" in field:
            null_holds = Draft202012Validator(test).is_valid(field["default"])
        else:
            null_holds = name not in condition.get("required", [])
        tests[name] = {"anyOf": [{"type": "null"}, test]} if null_holds else {"allOf": [{"not": {"type": "null"}}, test]}
    return {**rule, "if": {**condition, "properties": tests}}


def _spec(intake_schema):
    # The request body is the intake form's own JSON Schema, so the API and the window take the
    # same fields, validated the same way.
    matter = {key: value for key, value in intake_schema.items() if not key.startswith("x-")}
    if "allOf" in matter:
        matter["allOf"] = [_null_in_condition(rule, matter) for rule in matter["allOf"]]
    matter["properties"] = {**_null_as_left_out(matter), "order_number": {
        "type": ["string", "null"], "pattern": ORDER_NUMBER.pattern,
        "description": "the filing system's own number (a 12345 work order): one case per order of the same login"}}
    step, case = _case_schemas()
    filed = {"type": "object", "required": list(FiledSchema._declared_fields), "properties": {
        "code": {"type": "string"}, "order_number": NULLABLE, "status": {"type": "string"},
        "current_step": {"type": "string"}, "url": {"type": "string", "description": "where to follow the case"}}}
    error = {"type": "object", "required": ["error", "error_zh"], "properties": {
        "error": {"type": "string", "description": "what was wrong, in English"},
        "error_zh": {"type": "string", "description": "the same in Chinese"},
        "fields": {"type": "object", "additionalProperties": {"type": "string"},
                   "description": "422: a message per invalid field (English)"},
        "fields_zh": {"type": "object", "additionalProperties": {"type": "string"}},
        "reference": {"type": "string", "description": "500: the error's reference in the server's log"}}}
    bearer = [{"token": []}]
    the_case = _json("the case (no personal data)", {"$ref": "#/components/schemas/Case"})
    return {
        "openapi": "3.1.0",
        "info": {"title": "yizhan one-stop dispute resolution", "version": "1",
                 "description": "Every answer that is not a success is JSON with `error` (English) and "
                                "`error_zh` (Chinese), never an HTML page."},
        "components": {"securitySchemes": {"token": {"type": "http", "scheme": "bearer",
                                                     "description": "a token made with `run.py token USER NAME`"}},
                       "schemas": {"Matter": matter, "Filed": filed, "Case": case, "Step": step, "Error": error,
                                   "CaseEvent": CALLBACK}},
        "webhooks": webhooks(),
        "paths": {
            "/api/v1/matters": {"post": {
                "operationId": "fileMatter",
                "summary": "File a matter (one-window intake) on behalf of the token's login",
                "security": bearer,
                "parameters": [{"name": "Idempotency-Key", "in": "header", "required": False,
                                "description": "the same key and request again (within IDEMPOTENCY_HOURS) answer "
                                               "with the case the first made",
                                "schema": {"type": "string", "pattern": IDEMPOTENCY_KEY.pattern}}],
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Matter"}}}},
                "responses": {
                    "201": _json("filed; the body holds the case code", {"$ref": "#/components/schemas/Filed"},
                                 links=FILED_LINKS),
                    "200": _json("filed before with this order number or key: the same case",
                                 {"$ref": "#/components/schemas/Filed"}, links=FILED_LINKS,
                                 headers={"Idempotent-Replayed": {"required": True, "schema": {"const": "true"}}}),
                    **_errors(400, 401, 403, 413, 415, 422, 500)}}},
            "/api/v1/cases/{code}": {"get": {
                "operationId": "getCase",
                "summary": "A case's status and steps by its code",
                "security": bearer,
                "parameters": [{"name": "code", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": the_case, **_errors(400, 401, 404, 500)}}},
            "/api/v1/orders/{order_number}": {"get": {
                "operationId": "getOrder",
                "summary": "The case this token's login filed for its own order number (a 12345 work order)",
                "security": bearer,
                "parameters": [{"name": "order_number", "in": "path", "required": True,
                                "schema": {"type": "string", "pattern": ORDER_NUMBER.pattern}}],
                "responses": {"200": the_case, **_errors(400, 401, 404, 500)}}},
            "/api/v1/openapi.json": {"get": {
                "operationId": "openapi",
                "summary": "This document",
                "security": [],
                "responses": {"200": _json("the OpenAPI document", {"type": "object"}), **_errors(400, 500)}}},
        },
    }
