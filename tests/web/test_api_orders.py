"""A hotline work order sent twice makes one case: its order number, and an Idempotency-Key on
the write, name the case the first request made; the order number is searchable."""
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
import time_machine

from engine.persistence.models import ApiRequest, Case
from tests.web.support import reading
from tests.web.test_api import MATTER as FIRST_VISIT, _auth, token  # noqa: F401 (the token fixture)

# The same parties filed again are assessed red (a repeat within 90 days), so every filing here
# says red: what is judged is how many cases the orders and keys make.
MATTER = {**FIRST_VISIT, "risk_level": "red"}

NOON = datetime(2026, 12, 1, 4, 0, tzinfo=timezone.utc)


def _cases(session_factory):
    with reading(session_factory) as session:
        return session.scalars(sa.select(Case.code).order_by(Case.id)).all()


def test_the_same_order_twice_makes_one_case(client, token, session_factory):
    headers = _auth(token())
    first = client.post("/api/v1/matters", json={**MATTER, "order_number": "GD20261201-0001"}, headers=headers)
    again = client.post("/api/v1/matters", json={**MATTER, "order_number": "GD20261201-0001"}, headers=headers)
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert first.get_json()["code"] == again.get_json()["code"] == _cases(session_factory)[0]
    assert len(_cases(session_factory)) == 1
    assert again.get_json()["order_number"] == "GD20261201-0001"
    other = client.post("/api/v1/matters", json={**MATTER, "order_number": "GD20261201-0002"}, headers=headers)
    assert other.status_code == 201 and len(_cases(session_factory)) == 2
    followed = client.get(f"/api/v1/cases/{first.get_json()['code']}", headers=headers).get_json()
    assert followed["order_number"] == "GD20261201-0001"


def test_an_idempotency_key_answers_with_the_first_case_while_it_is_kept(client, token, session_factory):
    headers = {**_auth(token()), "Idempotency-Key": "hotline-7f3a9c"}
    with time_machine.travel(NOON, tick=False):
        first = client.post("/api/v1/matters", json=MATTER, headers=headers)
        # The same fields in another order are the same request.
        again = client.post("/api/v1/matters", json=dict(reversed(list(MATTER.items()))), headers=headers)
        assert (first.status_code, again.status_code) == (201, 200)
        assert first.get_json()["code"] == again.get_json()["code"]
        changed = client.post("/api/v1/matters", json={**MATTER, "claims": "另一诉求"}, headers=headers)
        assert changed.status_code == 422 and "different request" in changed.get_json()["error"]
        assert "不同" in changed.get_json()["error_zh"]
        assert len(_cases(session_factory)) == 1
    with time_machine.travel(NOON + timedelta(hours=25), tick=False):
        later = client.post("/api/v1/matters", json=MATTER, headers=headers)
        assert later.status_code == 201 and later.get_json()["code"] != first.get_json()["code"]
    with reading(session_factory) as session:
        rows = session.scalars(sa.select(ApiRequest).where(ApiRequest.key == "hotline-7f3a9c")).all()
        assert len(rows) == 1, "the expired use of the key gave way to the new one"


def test_keys_and_orders_belong_to_their_login(client, token, session_factory):
    mine = {**_auth(token("clerk")), "Idempotency-Key": "k-1"}
    theirs = {**_auth(token("clerk_cg")), "Idempotency-Key": "k-1"}
    body = {**MATTER, "order_number": "GD-1"}
    codes = {client.post("/api/v1/matters", json=body, headers=h).get_json()["code"] for h in (mine, theirs)}
    assert len(codes) == 2 and len(_cases(session_factory)) == 2


def test_malformed_orders_and_keys_are_refused_as_json(client, token, session_factory):
    headers = _auth(token())
    for order in ("", " GD 1", "x" * 65, 12345, ["GD-1"], "工单1"):
        response = client.post("/api/v1/matters", json={**MATTER, "order_number": order}, headers=headers)
        assert response.status_code == 400 and "order_number" in response.get_json()["error"], order
    for key in ("has space", "k" * 201, "键"):
        response = client.post("/api/v1/matters", json=MATTER, headers={**headers, "Idempotency-Key": key.encode("utf-8").decode("latin-1")})
        assert response.status_code == 400 and "Idempotency-Key" in response.get_json()["error"], key
    assert _cases(session_factory) == []


def test_a_clerk_finds_the_case_by_its_order_number(client, token, login_as):
    code = client.post("/api/v1/matters", json={**MATTER, "order_number": "GD20261201-0042"},
                       headers=_auth(token())).get_json()["code"]
    login_as("clerk")
    page = client.get("/cases", query_string={"q": "GD20261201-0042"}).get_data(as_text=True)
    assert code in page
    assert code not in client.get("/cases", query_string={"q": "GD20261201-0043"}).get_data(as_text=True)


def test_the_openapi_document_names_the_order_and_the_key(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    post = spec["paths"]["/api/v1/matters"]["post"]
    assert "order_number" in spec["components"]["schemas"]["Matter"]["properties"]
    assert [p["name"] for p in post["parameters"]] == ["Idempotency-Key"]
    assert {"200", "201", "400"} <= set(post["responses"])


def test_the_order_number_is_in_the_cases_history(client, token, login_as, session_factory):
    code = client.post("/api/v1/matters", json={**MATTER, "order_number": "GD-77"}, headers=_auth(token())).get_json()["code"]
    with reading(session_factory) as session:
        case_id = session.scalar(sa.select(Case.id).where(Case.code == code))
    login_as("auditor")
    page = client.get(f"/audit/cases/{case_id}").get_data(as_text=True)
    assert "工单编号" in page and "GD-77" in page
