"""The REST API outside systems use: bearer tokens, filing a matter as JSON, following a case."""
import pytest

from engine.access import accounts
from tests.engine.helpers import INTAKE

MATTER = {
    "kind": "dispute", "channel": "hotline_12345", "category": "property_mgmt", "place": "西关社区5号楼",
    "summary": "12345转办：物业停水三天未处理。", "claims": "尽快恢复供水", "people_count": 40, "risk_level": "yellow",
    "parties": [{"role": "applicant", "name": "王五", "id_type": "resident_id", "id_number": "110101198001011234",
                 "phone": "13600136000", "unknown_field": "dropped"}],
    "not_in_the_form": "dropped too",
}


@pytest.fixture
def token(session_factory):
    def make(username="clerk"):
        session = session_factory()
        try:
            return accounts.create_api_token(session, username, "12345热线")
        finally:
            session.close()
    return make


def _auth(token):
    return {"Authorization": f"Bearer {token}"}


def test_file_a_matter_and_follow_it(client, token):
    key = token()
    response = client.post("/api/v1/matters", json=MATTER, headers=_auth(key))
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["code"].startswith("MT") and body["status"] == "open" and body["current_step"] == "人民调解"
    followed = client.get(f"/api/v1/cases/{body['code']}", headers=_auth(key))
    case = followed.get_json()
    assert followed.status_code == 200
    assert (case["channel"], case["route"], case["risk_level"]) == ("hotline_12345", "mediation", "yellow")
    assert [s["step"] for s in case["steps"]] == ["Task_intake", "Task_mediate"]
    assert case["steps"][1]["legal_basis"] == "人民调解工作若干规定（司法部令第75号，2002年11月1日施行）第三十三条；期间计算：民法典（2021年1月1日施行）第二百零一条至第二百零三条" and case["steps"][1]["due_at"]
    assert "王五" not in followed.get_data(as_text=True) and "1360013" not in followed.get_data(as_text=True)


def test_unknown_fields_never_reach_the_case(client, token, session_factory):
    from engine.persistence.models import AuditEvent
    import sqlalchemy as sa
    code = client.post("/api/v1/matters", json=MATTER, headers=_auth(token())).get_json()["code"]
    session = session_factory()
    try:
        event = session.scalar(sa.select(AuditEvent).where(AuditEvent.kind == "task_completed"))
        assert "not_in_the_form" not in event.detail["data"]
        assert "unknown_field" not in event.detail["data"]["parties"][0]
    finally:
        session.close()
    assert code


def test_invalid_matter_gets_field_errors_and_files_nothing(client, token, session_factory):
    bad = dict(MATTER, people_count="many", parties=[{"name": "王五", "phone": "123"}])
    response = client.post("/api/v1/matters", json=bad, headers=_auth(token()))
    body = response.get_json()
    assert response.status_code == 422
    assert body["fields"]["people_count"] == "Enter a whole number"
    assert body["fields_zh"]["parties-0-phone"] == "请输入11位手机号或带区号的固定电话"
    assert "parties-0-role" in body["fields"]
    assert client.post("/api/v1/matters", data="not json", headers=_auth(token()),
                       content_type="application/json").status_code == 400


def test_tokens_are_required_and_bound_to_their_login(client, token):
    assert client.post("/api/v1/matters", json=MATTER).status_code == 401
    assert client.post("/api/v1/matters", json=MATTER, headers=_auth("yz_not-a-token")).status_code == 401
    mediator_key = token("mediator")
    assert client.post("/api/v1/matters", json=MATTER, headers=_auth(mediator_key)).status_code == 403
    code = client.post("/api/v1/matters", json=MATTER, headers=_auth(token("clerk_dg"))).get_json()["code"]
    assert client.get(f"/api/v1/cases/{code}", headers=_auth(token("clerk_ll"))).status_code == 404
    assert client.get(f"/api/v1/cases/{code}", headers=_auth(token("clerk"))).status_code == 200


def test_openapi_describes_the_intake_form(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    matter = spec["components"]["schemas"]["Matter"]
    assert spec["openapi"].startswith("3.") and "/api/v1/matters" in spec["paths"]
    assert "parties" in matter["properties"] and "kind" in matter["required"]
    assert INTAKE["kind"] in matter["properties"]["kind"]["enum"]
