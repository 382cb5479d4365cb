"""The hotline gets a JSON error for every bad request, never HTML: each refusal under /api/ is
JSON with `error` (English) and `error_zh` (Chinese), and is in the OpenAPI document; so is every
route of the API. Plain tests for each class the fuzz (test_api_fuzz.py) found or could find:
an undocumented 401, a 405 without Allow, a body that is not JSON, an unexpected error."""
import json
import re

import pytest
import sqlalchemy as sa
from werkzeug.exceptions import RequestHeaderFieldsTooLarge

from engine.persistence.models import Case
from tests.web.support import count
from webui.extensions import db
from tests.web.test_api import MATTER, _auth, token  # noqa: F401 (the token fixture)


def _json_error(response, status):
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:300])
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["error"] and body["error_zh"] and body["error"] != body["error_zh"], body
    assert re.search(r"[\u4e00-\u9fff]", body["error_zh"]), body
    return body


@pytest.mark.parametrize("method, path", [("post", "/api/v1/matters"), ("get", "/api/v1/cases/MT1"),
                                          ("get", "/api/v1/orders/GD-1")])
@pytest.mark.parametrize("authorization", [None, "Bearer yz_not-a-token", "Basic Y2xlcms6ZGVtbzEyMzQ=", "Bearer "])
def test_no_valid_token_is_a_json_401_that_says_how(client, method, path, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    response = getattr(client, method)(path, headers=headers, json=MATTER if method == "post" else None)
    body = _json_error(response, 401)
    assert "Bearer" in body["error"] and response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_wrong_method_is_a_json_405_naming_the_methods_taken(client, token):
    for method, path, allowed in (("delete", "/api/v1/matters", {"POST", "OPTIONS"}),
                                  ("put", "/api/v1/cases/MT1", {"GET", "HEAD", "OPTIONS"}),
                                  ("post", "/api/v1/orders/GD-1", {"GET", "HEAD", "OPTIONS"})):
        response = getattr(client, method)(path, headers=_auth(token()))
        _json_error(response, 405)
        assert set(response.headers["Allow"].split(", ")) == allowed, method


def test_a_wrong_method_on_a_page_is_a_page_with_allow(client):
    response = client.delete("/login")
    assert response.status_code == 405 and response.mimetype == "text/html" and "POST" in response.headers["Allow"]


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data",
                                          "application/xml"])
def test_a_body_that_is_not_json_is_a_json_415(client, token, session_factory, content_type):
    body = json.dumps(MATTER, ensure_ascii=False).encode("utf-8")
    response = client.post("/api/v1/matters", data=body, content_type=content_type, headers=_auth(token()))
    _json_error(response, 415)
    assert count(session_factory, Case) == 0


def test_a_missing_content_type_is_a_json_415(client, token):
    response = client.post("/api/v1/matters", data=b'{"kind": "dispute"}', headers=_auth(token()))
    _json_error(response, 415)


@pytest.mark.parametrize("body, status", [(b'{"kind": ', 400), (b"[1, 2]", 400), (b'"text"', 400), (b"", 400),
                                          (b'{"kind": NaN}', 400), (b"\xff\xfe", 400), (b"{}", 422)])
def test_a_malformed_or_empty_json_body_is_a_json_4xx(client, token, session_factory, body, status):
    response = client.post("/api/v1/matters", data=body, content_type="application/json", headers=_auth(token()))
    _json_error(response, status)
    assert count(session_factory, Case) == 0


def test_an_invalid_matter_says_what_in_both_languages(client, token):
    body = _json_error(client.post("/api/v1/matters", json={**MATTER, "people_count": 0}, headers=_auth(token())), 422)
    assert body["error"] == "The matter is not valid." and set(body["fields"]) == set(body["fields_zh"]) == {"people_count"}


def test_an_unknown_api_address_is_a_json_404(client):
    for path in ("/api/v1/nothing", "/api/v2/matters", "/api/", "/api/v1/cases/", "/api/v1/cases/MT1/steps"):
        _json_error(client.get(path), 404)


def test_an_unexpected_error_is_a_json_500_with_a_reference_and_no_traceback(app, client, token, monkeypatch, caplog):
    def broken(*_args, **_kwargs):
        raise RuntimeError("SELECT secret FROM deep_inside")
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    monkeypatch.setattr("engine.reading.queries.visible_case_by_code", broken)
    response = client.get("/api/v1/cases/MT1", headers=_auth(token()))
    body = _json_error(response, 500)
    text = response.get_data(as_text=True)
    assert re.fullmatch(r"[0-9a-f]{12}", body["reference"]) and body["reference"] in body["error"]
    assert body["reference"] in body["error_zh"]
    assert "secret" not in text and "Traceback" not in text and "RuntimeError" not in text
    # The log has what the answer left out, under the same reference.
    logged = [record for record in caplog.records if body["reference"] in record.getMessage()]
    assert logged and logged[0].exc_info and "deep_inside" in str(logged[0].exc_info[1])


def test_an_unexpected_error_on_a_page_is_a_page_without_the_traceback(app, login_as, monkeypatch):
    def broken(*_args, **_kwargs):
        # A statement that fails leaves PostgreSQL's transaction aborted: the page must still render.
        db.session.execute(sa.text("SELECT secret FROM deep_inside"))
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    monkeypatch.setattr("engine.reading.queries.visible_case", broken)
    response = login_as("clerk").get("/cases/1")
    text = response.get_data(as_text=True)
    assert response.status_code == 500 and response.mimetype == "text/html" and "清河县" in text
    assert "secret" not in text and "Traceback" not in text and re.search(r"[0-9a-f]{12}", text)


def test_any_other_http_refusal_under_the_api_is_json_too(app, client, token, monkeypatch):
    def refuse(*_args, **_kwargs):
        raise RequestHeaderFieldsTooLarge()
    monkeypatch.setattr("engine.reading.queries.visible_case_by_code", refuse)
    body = _json_error(client.get("/api/v1/cases/MT1", headers=_auth(token())), 431)
    assert "431" in body["error"] and "431" in body["error_zh"]


# ---- the document covers the API -------------------------------------------------------------

def _documented(app):
    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    return spec, {path: {method.upper() for method in operations} for path, operations in spec["paths"].items()}


def test_every_api_route_is_in_the_openapi_document(app):
    """Walks the routes, so an endpoint added later without its description fails here."""
    _spec, documented = _documented(app)
    routes = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/"):
            path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
            routes.setdefault(path, set()).update(rule.methods - {"HEAD", "OPTIONS"})
    assert routes == documented


def test_every_operation_documents_its_refusals_as_the_shared_error(app):
    spec, _documented_paths = _documented(app)
    error = spec["components"]["schemas"]["Error"]
    assert error["required"] == ["error", "error_zh"] and {"fields", "fields_zh", "reference"} <= set(error["properties"])
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            statuses = set(operation["responses"])
            assert {"400", "500"} <= statuses, (method, path)
            if operation.get("security") != []:
                assert {"401", "404"} & statuses and "401" in statuses, (method, path)
            for status, response in operation["responses"].items():
                schema = response["content"]["application/json"]["schema"]
                if status >= "400":
                    assert schema == {"$ref": "#/components/schemas/Error"}, (method, path, status)
    post = spec["paths"]["/api/v1/matters"]["post"]["responses"]
    assert {"403", "413", "415", "422"} <= set(post)


# ---- a case by the hotline's own order number ------------------------------------------------

def test_the_hotline_finds_its_case_by_its_own_order_number(client, token):
    mine = token("clerk")
    filed = client.post("/api/v1/matters", json={**MATTER, "order_number": "GD/2026/12-0042"}, headers=_auth(mine))
    code = filed.get_json()["code"]
    response = client.get("/api/v1/orders/GD/2026/12-0042", headers=_auth(mine))
    assert response.status_code == 200
    body = response.get_json()
    assert body["code"] == code and body["order_number"] == "GD/2026/12-0042" and body["steps"]
    assert body == client.get(f"/api/v1/cases/{code}", headers=_auth(mine)).get_json()
    assert "王五" not in response.get_data(as_text=True)
    # Percent-encoded as an OpenAPI client sends a path parameter.
    assert client.get("/api/v1/orders/GD%2F2026%2F12-0042", headers=_auth(mine)).get_json()["code"] == code


def test_an_order_is_found_only_by_the_login_that_sent_it(client, token):
    client.post("/api/v1/matters", json={**MATTER, "order_number": "GD-9"}, headers=_auth(token("clerk")))
    # Another login of the same unit, an unknown order and a malformed number: the same JSON 404.
    for key, order in ((token("clerk"), "GD-10"), (token("mediator"), "GD-9"), (token("clerk_cg"), "GD-9"),
                       (token("clerk"), "-GD-9"), (token("clerk"), "G" * 65)):
        body = _json_error(client.get(f"/api/v1/orders/{order}", headers=_auth(key)), 404)
        assert "order number" in body["error"]


def test_a_null_for_a_field_not_required_is_the_field_left_out_as_documented(app, client, token):
    """The fuzz sent `risk_reason: null` and the matter was filed while the document said a
    string: the document now says what the API takes, and the API still refuses a null where a
    field is required."""
    spec, _paths = _documented(app)
    matter = spec["components"]["schemas"]["Matter"]
    assert matter["properties"]["risk_reason"]["type"] == ["string", "null"]
    assert None in matter["properties"]["route_override"]["enum"]
    assert matter["properties"]["summary"]["type"] == "string" and "summary" in matter["required"]
    assert client.post("/api/v1/matters", json={**MATTER, "risk_reason": None, "order_number": None,
                                                "occurred_on": None}, headers=_auth(token())).status_code == 201
    body = _json_error(client.post("/api/v1/matters", json={**MATTER, "summary": None}, headers=_auth(token())), 422)
    assert set(body["fields"]) == {"summary"}


def test_an_order_sent_again_with_an_invalid_body_is_refused_not_answered_with_its_case(client, token):
    """The deep fuzz (400 examples an operation) sent an order number already filed with
    `amount: -1`: the answer was 200 and the first case, as if the body had been read."""
    key = token()
    first = client.post("/api/v1/matters", json={**MATTER, "order_number": "GD-5"}, headers=_auth(key))
    again = client.post("/api/v1/matters", json={**MATTER, "order_number": "GD-5"}, headers=_auth(key))
    assert (first.status_code, again.status_code) == (201, 200) and again.get_json() == first.get_json()
    broken = client.post("/api/v1/matters", json={**MATTER, "order_number": "GD-5", "amount": -1}, headers=_auth(key))
    assert set(_json_error(broken, 422)["fields"]) == {"amount"} and "Idempotent-Replayed" not in broken.headers


def test_a_null_in_a_field_a_rule_tests_reads_as_the_api_reads_it(app, client, token):
    """The deep fuzz sent `route_override: null` with a two-letter override reason: the API read
    the null as the default (no override, no reason needed) and filed it, while the document
    judged the null as an override needing a reason. The document now reads it as the API does."""
    from jsonschema import Draft202012Validator
    spec, _paths = _documented(app)
    matter = Draft202012Validator({**spec["components"]["schemas"]["Matter"], "components": spec["components"]})
    lenient = {**MATTER, "route_override": None, "override_reason": "ab"}
    strict = {**MATTER, "route_override": "petition", "override_reason": "ab"}
    assert matter.is_valid(lenient) and not matter.is_valid(strict)
    assert client.post("/api/v1/matters", json=lenient, headers=_auth(token())).status_code == 201
    assert set(_json_error(client.post("/api/v1/matters", json=strict, headers=_auth(token())), 422)["fields"]) == \
        {"override_reason"}
