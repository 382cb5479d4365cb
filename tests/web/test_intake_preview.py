"""The intake page shows where a matter will go and why before it is filed; the preview is what
filing does, nothing is saved by it, and the risk and override rules hold on submission."""
from datetime import timedelta

import sqlalchemy as sa

from engine.legaltime.clock import Clock, china_date

from engine.persistence.models import AuditEvent, Case
from tests.engine.helpers import INTAKE
from tests.web.support import case_id_from, case_row, count, events_of, page, text


def _preview(client, **changes):
    post = dict(INTAKE)
    post.update(changes)
    response = client.post("/matters/preview", data=post)
    assert response.status_code == 200
    return page(response)


def _field(doc, name):
    dt = [d for d in doc.xpath("//dt") if d.text_content().strip() == name]
    assert dt, f"no {name} in the preview"
    return dt[0].getnext().text_content()


def test_preview_names_pathway_unit_clock_rule_and_basis(client, login_as, session_factory):
    login_as("clerk")
    doc = _preview(client, employer_matter="on", mediation_tried="failed", category="labour",
                   summary="在厂里干了八个月，老板拖欠三个月工资，找人说过也没用。")
    assert "引导仲裁" in _field(doc, "去向") and "劳动人事争议仲裁" in _field(doc, "去向")
    assert "县劳动人事争议仲裁委员会" in _field(doc, "受理机关")
    assert "调解未成" in _field(doc, "适用规则")
    assert "劳动争议调解仲裁法" in _field(doc, "依据")
    first = _field(doc, "首个环节")
    assert "清河县" in first  # the step goes to the county center's window
    assert count(session_factory, Case) == 0  # nothing was filed


def test_preview_names_the_reconsideration_body_from_the_organ(client, login_as):
    login_as("clerk")
    doc = _preview(client, gov_act="on", organ_name="县市场监督管理局", organ_level="county_department",
                   summary="市场监管局罚了我五千元，我觉得罚错了。")
    assert "行政复议" in _field(doc, "去向")
    assert "县人民政府" in _field(doc, "受理机关")
    assert "第二十四条" in _field(doc, "依据")
    doc = _preview(client, gov_act="on", organ_name="县人民政府", organ_level="county_government",
                   summary="县政府的征收决定我不服。")
    assert "市人民政府" in _field(doc, "受理机关")


def test_preview_gives_the_first_steps_clock_and_its_basis(client, login_as):
    login_as("clerk")
    doc = _preview(client, judgment_in_force="on", summary="法院判了他赔我钱，判决生效半年了他一分不给。")
    assert "涉法涉诉" in _field(doc, "去向")
    first = _field(doc, "首个环节")
    due = (china_date(Clock.now()) + timedelta(days=15)).isoformat()  # hand over within 15 days
    assert due in first and "信访工作条例" in first


def test_preview_shows_the_risk_and_its_reasons(client, login_as):
    login_as("clerk")
    doc = _preview(client, people_count="12", extreme_signs="on")
    risk = _field(doc, "风险")
    assert "红色" in risk and "暴力或极端行为" in risk and "集体访" in risk


def test_preview_warns_of_the_labour_limitation_period(client, login_as):
    login_as("clerk")
    known = china_date(Clock.now()) - timedelta(days=400)
    doc = _preview(client, employer_matter="on", rights_known_on=known.isoformat())
    warning = doc.xpath('//*[contains(@class, "preview-warnings")]')[0].text_content()
    assert known.replace(year=known.year + 1).isoformat() in warning and "已于" in warning and "第二十七条" in warning


def test_preview_in_english(client, login_as):
    login_as("clerk")
    client.post("/lang/en")
    doc = _preview(client, held_by="police", summary="他打了我，派出所已经立案了，我想让他赔钱。")
    assert "the body that holds it" in _field(doc, "Goes to")


def test_the_button_previews_without_javascript_and_keeps_what_was_typed(client, login_as, session_factory):
    login_as("clerk")
    post = dict(INTAKE, preview="1", land_matter="ownership", summary="两个村为一片山林归谁争了好几年。")
    response = client.post("/matters/new", data=post)
    assert response.status_code == 200
    doc = page(response)
    assert "行政裁决" in _field(doc, "去向")
    assert doc.get_element_by_id("f-summary").text_content() == "两个村为一片山林归谁争了好几年。"
    assert doc.xpath('//select[@id="f-land_matter"]/option[@selected]/@value') == ["ownership"]
    assert count(session_factory, Case) == 0


def test_filed_matter_goes_where_the_preview_said_and_keeps_why(client, login_as, session_factory):
    login_as("clerk")
    facts = dict(held_by="arbitration", summary="公司和我的合同纠纷，仲裁委已经受理了，想请中心帮忙。")
    doc = _preview(client, **facts)
    assert "已受理的仲裁机构" in _field(doc, "受理机关")
    response = client.post("/matters/new", data=dict(INTAKE, **facts))
    case_id = case_id_from(response)
    assert case_row(session_factory, case_id).route == "redirect"
    [triaged] = events_of(session_factory, case_id, "triaged")
    assert triaged.detail["rule"] == "Rule_held_arbitration"
    assert "第二十二条" in triaged.detail["basis"]


def test_an_override_needs_a_reason_which_goes_into_the_history(client, login_as, session_factory):
    login_as("clerk")
    response = client.post("/matters/new", data=dict(INTAKE, route_override="specialist"))
    assert response.status_code == 422
    assert page(response).get_element_by_id("e-override_reason") is not None
    assert count(session_factory, Case) == 0
    response = client.post("/matters/new", data=dict(INTAKE, route_override="specialist",
                                                     override_reason="排水沟归住建部门管理，需部门现场处置。"))
    case_id = case_id_from(response)
    assert case_row(session_factory, case_id).route == "specialist"
    [triaged] = events_of(session_factory, case_id, "triaged")
    assert triaged.detail["rule"] == "Rule_override_specialist"
    assert triaged.detail["override_reason"] == "排水沟归住建部门管理，需部门现场处置。"


def test_lowering_the_risk_needs_a_reason_and_the_form_keeps_what_was_typed(client, login_as, session_factory):
    login_as("clerk")
    post = dict(INTAKE, people_count="60", risk_level="blue", summary="六十户业主因小区停水聚集在物业门口。")
    response = client.post("/matters/new", data=post)
    assert response.status_code == 422
    doc = page(response)
    assert "调低风险等级须说明理由" in doc.get_element_by_id("e-risk_reason").text_content()
    assert doc.get_element_by_id("f-summary").text_content() == "六十户业主因小区停水聚集在物业门口。"
    assert count(session_factory, Case) == 0
    response = client.post("/matters/new", data=dict(post, risk_reason="已恢复供水，业主代表已散去，现场平稳。"))
    case_id = case_id_from(response)
    assert case_row(session_factory, case_id).risk_level == "blue"
    [assessed] = events_of(session_factory, case_id, "risk_assessed")
    assert (assessed.detail["assessed"], assessed.detail["how"]) == ("red", "lowered")
    assert assessed.detail["reason"] == "已恢复供水，业主代表已散去，现场平稳。"


def test_the_case_page_shows_the_risk_reasons_and_the_rule(client, login_as, session_factory):
    login_as("clerk")
    response = client.post("/matters/new", data=dict(INTAKE, vulnerable="on"))
    case_id = case_id_from(response)
    body = text(client.get(f"/cases/{case_id}"))
    assert "当事人中有老人" in body and "其他矛盾纠纷：人民调解优先" in body


def _token(session_factory):
    from engine.access import accounts
    session = session_factory()
    try:
        return accounts.create_api_token(session, "clerk", "12345热线")
    finally:
        session.close()


API_MATTER = {
    "kind": "dispute", "channel": "hotline_12345", "category": "expropriation", "place": "城关镇北街",
    "summary": "12345转办：镇政府未出文书强拆来电人养殖棚。", "claims": "恢复原状或赔偿", "people_count": 1,
    "parties": [{"role": "applicant", "name": "王五", "id_type": "resident_id", "id_number": "110101198001011234",
                 "phone": "13600136000"}],
}


def test_an_outside_system_files_facts_and_the_case_goes_where_they_send_it(client, session_factory):
    auth = {"Authorization": f"Bearer {_token(session_factory)}"}
    body = dict(API_MATTER, gov_act=True, organ_name="城关镇人民政府", organ_level="township_government")
    response = client.post("/api/v1/matters", json=body, headers=auth)
    assert response.status_code == 201, response.get_json()
    case = client.get(f"/api/v1/cases/{response.get_json()['code']}", headers=auth).get_json()
    assert (case["route"], case["risk_level"]) == ("reconsideration", "blue")


def test_the_api_refuses_a_lowered_risk_without_a_reason_and_an_unknown_organ_level(client, session_factory):
    auth = {"Authorization": f"Bearer {_token(session_factory)}"}
    response = client.post("/api/v1/matters", json=dict(API_MATTER, people_count=80, risk_level="blue"), headers=auth)
    assert response.status_code == 422
    assert set(response.get_json()["fields"]) == {"risk_reason"}
    response = client.post("/api/v1/matters", json=dict(API_MATTER, organ_level="province"), headers=auth)
    assert response.status_code == 422 and set(response.get_json()["fields"]) == {"organ_level"}
    assert count(session_factory, Case) == 0


def test_the_openapi_description_lists_the_facts(client):
    matter = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]["Matter"]
    for name in ("gov_act", "organ_level", "judgment_in_force", "held_by", "mediation_tried", "land_matter",
                 "employer_matter", "rights_known_on", "arbitration_clause", "amount", "extreme_signs",
                 "vulnerable", "petitioned_before", "route_override", "override_reason", "risk_reason"):
        assert name in matter["properties"], name
    assert "law_related" not in matter["properties"] and "legal_channel" not in matter["properties"]
    # null too: the API reads a null there as the field left out (its default).
    assert matter["properties"]["held_by"]["enum"] == ["none", "court", "arbitration", "police", "procuratorate",
                                                       "administrative", None]


def test_an_administrator_keeps_each_units_population(client, login_as, session_factory):
    from engine.persistence.models import OrgUnit
    from tests.web.support import reading
    login_as("admin")
    with reading(session_factory) as s:
        town = s.scalar(sa.select(OrgUnit).where(OrgUnit.code == "C01-Q-CG"))
        city = s.scalar(sa.select(OrgUnit).where(OrgUnit.code == "C01"))
        court = s.scalar(sa.select(OrgUnit).where(OrgUnit.level == "department"))
    assert 'name="population" value="86400"' in client.get("/admin/").get_data(as_text=True)
    client.post(f"/admin/units/{town.id}/population", data={"population": "88,120"})
    with reading(session_factory) as s:
        assert s.get(OrgUnit, town.id).population == 88120
    refused = client.post(f"/admin/units/{town.id}/population", data={"population": "很多"}, follow_redirects=True)
    assert "人口应为1到5000万之间的整数" in refused.get_data(as_text=True)
    assert client.post(f"/admin/units/{city.id}/population", data={"population": "1"}).status_code == 404  # above
    assert client.post(f"/admin/units/{court.id}/population", data={"population": "1"}).status_code == 404
    with reading(session_factory) as s:
        assert s.get(OrgUnit, town.id).population == 88120 and s.get(OrgUnit, city.id).population == 2_130_000
    client.post(f"/admin/units/{town.id}/population", data={"population": "86400"})
    login_as("clerk")
    assert client.post(f"/admin/units/{town.id}/population", data={"population": "5"}).status_code == 403
