"""The OpenAPI 3.1 `webhooks` of the API: what an outside system's login (the 12345 hotline) is told
back at its callback address (engine/cases/hotline.py builds the bodies, engine/cases/outbox.py
signs and sends them). Kept apart from api.py's paths so each can change without the other."""
from engine.cases import outbox

_TIME = {"type": "string", "format": "date-time", "description": "ISO 8601 in UTC, with its offset (+00:00)"}

CALLBACK = {
    "type": "object",
    "required": ["event", "event_id", "case_code", "status", "occurred_at", "sequence", "message", "handling_unit"],
    "properties": {
        "event": {"type": "string", "enum": ["accepted", "progress", "closed", "rated"]},
        "event_id": {"type": "string", "description": "unique per event; the same in every retry of it"},
        "order_number": {"type": ["string", "null"], "description": "the work order's own number, as filed"},
        "case_code": {"type": "string", "description": "the case's code at the center (MT...)"},
        "status": {"type": "string", "enum": ["accepted", "in_progress", "closed"]},
        "occurred_at": _TIME,
        "sequence": {"type": "integer", "description": "the event's place in the case's history: order by it"},
        "message": {"type": "string", "description": "in Chinese, for the operator to read out to the caller"},
        "handling_unit": {"type": "string", "description": "the unit that holds the case now"},
        "accepted_at": {**_TIME, "description": "accepted: when"},
        "milestone": {"type": "string", "enum": ["routed", "escalated", "assigned_down", "returned", "department",
                                                  "result", "reopened"], "description": "progress: what happened"},
        "route": {"type": ["string", "null"]}, "competent_body": {"type": ["string", "null"]},
        "unit": {"type": "string", "description": "escalated, assigned_down, returned, department: the unit"},
        "step": {"type": "string"},
        "result": {"type": "object", "properties": {"field": {"type": "string"}, "value": {"type": "string"},
                                                    "label": {"type": "string"}}},
        "outcome": {"type": "string", "description": "closed: how it was resolved (close form's closing_method)"},
        "outcome_label": {"type": "string"},
        "reply": {"type": "string", "description": "closed: the closing reply written for the caller"},
        "closed_at": _TIME,
        "rating": {"type": "string", "enum": ["satisfied", "basically_satisfied", "unsatisfied"]},
        "rating_label": {"type": "string"},
    },
}

_HEADERS = {
    "X-Yizhan-Event": "the body's event",
    "X-Yizhan-Timestamp": "seconds since 1970 (UTC) when this attempt was signed",
    "X-Yizhan-Signature": "sha256=<hex HMAC-SHA256 of \"<timestamp>.<body>\" with the shared secret>; "
                          "check it, and refuse old timestamps",
    "X-Yizhan-Delivery": "the delivery's id, the same in every retry",
    "Idempotency-Key": "the same as X-Yizhan-Delivery: drop a delivery already taken",
}


def webhooks():
    delays = f"{outbox.CALLBACK_FIRST_DELAY.seconds // 60} minute(s), doubling up to " \
             f"{outbox.CALLBACK_MAX_DELAY.seconds // 3600} hours, {outbox.CALLBACK_MAX_ATTEMPTS} attempts"
    return {"caseEvent": {"post": {
        "summary": "A matter the login filed was accepted, moved on, was closed (with the reply) or rated",
        "description": "POSTed to the login's callback address (set by the administrator or `run.py callback`). "
                       f"Answer 2xx to take it; anything else, or no answer within "
                       f"{outbox.CALLBACK_TIMEOUT_SECONDS:g} s, is retried after {delays}, then given up and "
                       "listed for the center's supervisors. Never carries a party's personal data.",
        "parameters": [{"name": name, "in": "header", "required": True, "description": text,
                        "schema": {"type": "string"}} for name, text in _HEADERS.items()],
        "requestBody": {"required": True, "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/CaseEvent"}}}},
        "responses": {"2XX": {"description": "taken (also for a delivery already taken before)"}},
    }}}
