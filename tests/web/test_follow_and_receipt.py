"""Residents follow a case with its code and a party's phone; clerks print a receipt and find
cases by code or name."""
from engine.persistence.models import Case
from tests.engine.helpers import INTAKE, MEDIATION_SUCCESS, complete


def _code(session_factory, case_id):
    session = session_factory()
    try:
        return session.get(Case, case_id).code
    finally:
        session.close()


def test_resident_follows_with_code_and_phone(client, filed_case, session_factory):
    case_id, _task, _version = filed_case()
    code = _code(session_factory, case_id)
    response = client.post("/follow", data={"code": code.lower(), "phone": INTAKE["parties-1-phone"]})
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert code in body and "人民调解" in body and "受理登记" in body and "办理中" in body
    # No names, ID numbers or phones on a page anyone with the code and a phone can open.
    for secret in ("张三", "李四", INTAKE["parties-0-id_number"], INTAKE["parties-0-phone"], INTAKE["summary"]):
        assert secret not in body


def test_wrong_phone_or_code_finds_nothing_and_says_the_same(client, filed_case, session_factory):
    case_id, _task, _version = filed_case()
    code = _code(session_factory, case_id)
    wrong_phone = client.post("/follow", data={"code": code, "phone": "13700000000"})
    wrong_code = client.post("/follow", data={"code": "MT20990101000001", "phone": INTAKE["parties-0-phone"]})
    assert wrong_phone.status_code == wrong_code.status_code == 404
    message = "没有找到与该编号和电话相符的事项"
    assert message in wrong_phone.get_data(as_text=True) and message in wrong_code.get_data(as_text=True)
    assert code not in wrong_phone.get_data(as_text=True).split("value=")[0]


def test_follow_shows_progress_after_mediation(client, filed_case, session_factory):
    case_id, _task, _version = filed_case()
    session = session_factory()
    try:
        complete(session, "mediator", case_id, "Task_mediate", MEDIATION_SUCCESS)
    finally:
        session.close()
    code = _code(session_factory, case_id)
    body = client.post("/follow", data={"code": code, "phone": INTAKE["parties-0-phone"]}).get_data(as_text=True)
    assert "司法确认申请" in body and body.count("完成于") == 2


def test_receipt_names_code_follow_address_and_legal_period(client, login_as, filed_case, session_factory):
    case_id, _task, _version = filed_case()
    login_as("clerk")
    body = client.get(f"/cases/{case_id}/receipt").get_data(as_text=True)
    assert _code(session_factory, case_id) in body
    assert "矛盾纠纷受理回执" in body and "/follow" in body and "第三十三条" in body
    assert "王受理（县中心窗口）" in body
    assert INTAKE["parties-0-id_number"] not in body


def test_staff_find_cases_by_party_name_within_their_units(client, login_as, filed_case, session_factory):
    case_id, _task, _version = filed_case()
    code = _code(session_factory, case_id)
    login_as("mediator")
    found = client.get("/cases", query_string={"q": "李四"}).get_data(as_text=True)
    assert code in found and f"/cases/{case_id}" in found
    assert code not in client.get("/cases", query_string={"q": "王五"}).get_data(as_text=True)
    login_as("clerk_ll")
    assert code not in client.get("/cases", query_string={"q": "李四"}).get_data(as_text=True)


def test_find_a_case_by_a_partys_id_number_or_phone(client, login_as, filed_case, session_factory):
    case_id, _task, _version = filed_case()
    other_id, _t, _v = filed_case(**{"parties-1-id_number": "110101197001011111", "parties-1-phone": "13500135000"})
    code, other = _code(session_factory, case_id), _code(session_factory, other_id)
    login_as("auditor")
    by_id = client.get("/audit/cases", query_string={"q": INTAKE["parties-1-id_number"].lower()}).get_data(as_text=True)
    assert code in by_id and other not in by_id, "ID numbers match exactly, x or X alike"
    by_phone = client.get("/audit/cases", query_string={"q": "135 0013 5000"}).get_data(as_text=True)
    assert other in by_phone and code not in by_phone
    both = client.get("/audit/cases", query_string={"q": INTAKE["parties-0-phone"]}).get_data(as_text=True)
    assert code in both and other in both


def test_guessing_is_throttled(client, monkeypatch):
    from engine.cases.client_limits import Limit
    from webui import public
    monkeypatch.setattr(public, "LOOKUPS", Limit("lookup", attempts=3, seconds=600))
    codes = [client.post("/follow", data={"code": "MT20261123000001", "phone": f"1380013800{i}"}).status_code
             for i in range(5)]
    assert codes == [404, 404, 404, 429, 429]
    assert "查询过于频繁" in client.post("/follow", data={"code": "x", "phone": "1"}).get_data(as_text=True)
