"""REST API for outside systems (the 12345 hotline, grid workers' apps): file a matter, follow a
case. Bearer-token authentication (`run.py token`), JSON in and out, no cookies, so no CSRF."""
import re
from functools import wraps

from flask import Blueprint, current_app, g, jsonify, request, url_for
from marshmallow import Schema, fields

from engine.access import accounts
from engine.reading import queries
from engine.cases import idempotency, services
from engine.legaltime.clock import as_utc
from engine.errors import Conflict, NotAllowed
from engine.persistence.states import TaskState

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


def _error(status, message, **extra):
    return jsonify({"error": message, **extra}), status


def token_required(view):
    @wraps(view)
    def wrapped(*args, **kwargs):
        header = request.headers.get("Authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else ""
        g.api_actor = accounts.actor_for_token(db.session, token)
        if g.api_actor is None:
            return _error(401, "a valid bearer token is required")
        return view(*args, **kwargs)
    return wrapped


# A hotline work order's number and an idempotency key: printable ASCII, no spaces, bounded.
ORDER_NUMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$")
IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")


@bp.route("/matters", methods=["POST"])
@token_required
def file_matter():
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        return _error(400, "the body must be a JSON object with the intake form's fields")
    payload = dict(payload)
    order_number = payload.pop("order_number", None)
    if order_number is not None and not (isinstance(order_number, str) and ORDER_NUMBER.match(order_number)):
        return _error(400, "order_number must be 1-64 letters, digits or . _ : / - (the filing system's own number)")
    key = request.headers.get("Idempotency-Key")
    if key is not None and not IDEMPOTENCY_KEY.match(key):
        return _error(400, "the Idempotency-Key header must be 1-200 printable ASCII characters without spaces")
    try:
        # A system cannot stop to ask a clerk: it files, and the related cases are named in the
        # case's history for the clerk who picks it up. The same order or key twice makes one case.
        case, first = idempotency.file_once(db.session, g.api_actor, INTAKE_PROCESS, payload, order_number, key,
                                            current_app.config["IDEMPOTENCY_KEPT"])
    except services.FormInvalid as invalid:
        return _error(422, "the matter is not valid", fields={name: say_in("en", why) for name, why in invalid.errors.items()},
                      fields_zh={name: say_in("zh", why) for name, why in invalid.errors.items()})
    except NotAllowed:
        return _error(403, "this token's login may not file matters")
    except (services.StepFailed, Conflict) as failed:
        return _error(422, str(failed), error_zh=say_in("zh", failed))
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
        return _error(404, "no such case within this token's units")
    body = CaseSchema(exclude=("steps",)).dump(found)
    body["steps"] = StepSchema(many=True).dump(
        [task for task in queries.case_tasks(db.session, found.id) if task.state != TaskState.CANCELLED])
    return jsonify(body)


@bp.route("/openapi.json")
def openapi():
    _version, _info, form = services.intake_step(db.session, INTAKE_PROCESS)
    return jsonify(_spec(form.schema))


def _spec(intake_schema):
    # The request body is the intake form's own JSON Schema, so the API and the window take the
    # same fields, validated the same way.
    matter = {key: value for key, value in intake_schema.items() if not key.startswith("x-")}
    matter["properties"] = {**matter.get("properties", {}), "order_number": {
        "type": "string", "pattern": ORDER_NUMBER.pattern,
        "description": "the filing system's own number (a 12345 work order): one case per order of the same login"}}
    case_props = {name: {"type": "string"} for name in CaseSchema._declared_fields}
    case_props.update(overdue={"type": "boolean"}, steps={"type": "array", "items": {
        "type": "object", "properties": {name: {"type": "string"} for name in StepSchema._declared_fields}}})
    error = {"type": "object", "properties": {"error": {"type": "string"}, "fields": {"type": "object"}}}
    bearer = [{"token": []}]
    return {
        "openapi": "3.1.0",
        "info": {"title": "yizhan one-stop dispute resolution", "version": "1"},
        "components": {"securitySchemes": {"token": {"type": "http", "scheme": "bearer"}},
                       "schemas": {"Matter": matter, "Case": {"type": "object", "properties": case_props},
                                   "Error": error}},
        "paths": {
            "/api/v1/matters": {"post": {
                "summary": "File a matter (one-window intake) on behalf of the token's login",
                "security": bearer,
                "parameters": [{"name": "Idempotency-Key", "in": "header", "required": False,
                                "description": "the same key and request again (within IDEMPOTENCY_HOURS) answer "
                                               "with the case the first made",
                                "schema": {"type": "string", "pattern": IDEMPOTENCY_KEY.pattern}}],
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Matter"}}}},
                "responses": {"201": {"description": "filed; the body holds the case code"},
                              "200": {"description": "filed before with this order number or key: the same case "
                                                     "(header Idempotent-Replayed: true)"},
                              "400": {"description": "not a JSON object, or a malformed order number or key"},
                              "401": {"description": "no valid token"},
                              "422": {"description": "invalid fields", "content": {"application/json": {
                                  "schema": {"$ref": "#/components/schemas/Error"}}}}}}},
            "/api/v1/cases/{code}": {"get": {
                "summary": "A case's status and steps (no personal data)",
                "security": bearer,
                "parameters": [{"name": "code", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": {"description": "the case", "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Case"}}}},
                              "404": {"description": "no such case within the token's units"}}}},
        },
    }
