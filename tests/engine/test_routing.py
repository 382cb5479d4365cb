"""Matters as residents tell them, filed with the facts a clerk gets from the story and nothing
else (no legal category ticked), each landing where the law sends it. The table is
bpmn/triage.dmn; every row that routes by facts is reached here, and so is every exclusion
(a judgment in force, a matter already before a court, the procuratorate, an arbitration body,
the police or another organ)."""
import pytest
import sqlalchemy as sa

from engine.workflow import runtime
from engine.cases import services
from engine.library import triage
from engine.persistence.models import AuditEvent, Case, OrgUnit, Task
from engine.cases.services import FormInvalid

from .helpers import actor, file_matter, open_specs


def story(summary, category="other", kind="dispute", **facts):
    return dict(summary=summary, category=category, kind=kind, **facts)


# name: (what the resident tells and the clerk ticks, where it lands:
#        route, committee or channel, legal organ / body, the rule that fires)
STORIES = {
    "blocked_drain_between_neighbours": (
        story("邻居家的排水沟堵了，一下雨水就倒灌进我家院子，说了几次他都不管。", "neighbour"),
        dict(route="mediation", committee="general", rule="Rule_dispute")),
    "child_support_not_paid": (
        story("离婚后孩子跟我，前夫说好每月给一千五抚养费，已经半年没给了。", "marriage_family"),
        dict(route="mediation", committee="family", rule="Rule_family")),
    "scooter_hit_by_car": (
        story("我骑电动车被小轿车撞了，交警出了认定书，对方全责，可保险公司赔的医药费太少。", "traffic"),
        dict(route="mediation", committee="traffic", rule="Rule_traffic")),
    "operation_left_a_disability": (
        story("我父亲在县医院做完手术腿就没知觉了，医院说不是他们的责任。", "medical", vulnerable="on"),
        dict(route="mediation", committee="medical", rule="Rule_medical")),
    "water_cut_by_the_property_company": (
        story("小区物业说我们欠物业费，把我家的水停了三天。", "property_mgmt"),
        dict(route="mediation", committee="property", rule="Rule_property")),
    "three_months_wages_unpaid": (
        story("我在镇上的服装厂干了八个月，老板拖欠三个月工资，一直说过几天给。", "labour",
              employer_matter="on", rights_known_on="2026-09-10"),
        dict(route="mediation", committee="labour", rule="Rule_labour_mediation")),
    "dismissed_mediation_failed": (
        story("公司突然把我辞退了，一分补偿没有。镇里的劳动争议调解委员会调过一次，公司不同意。", "labour",
              employer_matter="on", mediation_tried="failed", mediation_where="城关镇劳动争议调解委员会",
              rights_known_on="2026-10-08"),
        dict(route="arbitration", channel="labour_arbitration", body="县劳动人事争议仲裁委员会", rule="Rule_labour_failed")),
    "teacher_agreement_not_kept": (
        story("我是学校的聘用教师，学校答应补发的课时费，签了调解协议又不给了。", "labour",
              employer_matter="on", mediation_tried="breached", mediation_where="县教育局调解"),
        dict(route="arbitration", channel="labour_arbitration", rule="Rule_labour_failed")),
    "contracted_land_given_away": (
        story("村里把我家承包的三亩地划给了别人种，找村委会调解了，他们不改。", "forest_land",
              land_matter="contract", mediation_tried="failed", mediation_where="柳林村村委会"),
        dict(route="arbitration", channel="land_arbitration", body="县农村土地承包仲裁委员会",
             rule="Rule_land_contract_failed")),
    "land_rent_not_paid": (
        story("我把承包地流转给合作社种了，说好一年一付租金，今年到现在没给。", "forest_land", land_matter="contract"),
        dict(route="mediation", committee="general", rule="Rule_land_contract_mediation")),
    "whose_hill_forest": (
        story("我们组和邻组为后山那片林子到底归谁争了好几年，都说是自己的。", "forest_land",
              land_matter="ownership", people_count="30"),
        dict(route="ruling", body="乡镇人民政府或县人民政府", rule="Rule_land_ownership")),
    "shed_torn_down_by_the_township": (
        story("镇政府说我家养殖棚是违建，没下文书就带人拆了。", "expropriation",
              gov_act="on", organ_name="城关镇人民政府", organ_level="township_government"),
        dict(route="reconsideration", body="县人民政府（县司法局承办）", rule="Rule_recon_county")),
    "fined_by_the_market_bureau": (
        story("市场监管局说我卖的米标签不合格，罚了五千块，我觉得罚错了。", "business",
              gov_act="on", organ_name="清河县市场监督管理局", organ_level="county_department"),
        dict(route="reconsideration", body="县人民政府（县司法局承办）", rule="Rule_recon_county")),
    "compensation_decision_of_the_county": (
        story("县政府的征收补偿决定给我家的房子按旧价算，差了一大截。", "expropriation",
              gov_act="on", organ_name="清河县人民政府", organ_level="county_government"),
        dict(route="reconsideration", body="市人民政府（市司法局承办）", rule="Rule_recon_county_government")),
    "tax_bureau_penalty": (
        story("税务所说我们小卖部少报了税，补税还要罚款。", "business",
              gov_act="on", organ_name="清河县税务局城关税务所", organ_level="vertical"),
        dict(route="reconsideration", body="作出行为机关的上一级主管部门", rule="Rule_recon_vertical")),
    "judgment_not_paid": (
        story("法院判他赔我两万块，判决生效半年了，他一分都不给。", "damages", judgment_in_force="on"),
        dict(route="law_related", organ="court", rule="Rule_judgment")),
    "suit_already_filed": (
        story("我已经在法院起诉了，立案了两个月，想让中心帮着催一催。", "contract", held_by="court"),
        dict(route="law_related", organ="court", rule="Rule_held_court")),
    "complaint_with_the_procuratorate": (
        story("我对派出所不立案的事已经向检察院申请监督了，检察院收了材料。", "damages", held_by="procuratorate"),
        dict(route="law_related", organ="procuratorate", rule="Rule_held_procuratorate")),
    "beaten_and_reported_to_the_police": (
        story("他把我打伤了，派出所已经立案了，我想让他赔医药费。", "damages", held_by="police"),
        dict(route="redirect", department="police", rule="Rule_held_police")),
    "already_before_the_arbitration_commission": (
        story("公司欠我货款，我已经向仲裁委申请了仲裁，仲裁委受理了。", "contract", held_by="arbitration"),
        dict(route="redirect", department="arbitration", rule="Rule_held_arbitration")),
    "complaint_accepted_by_a_bureau": (
        story("我已经向市场监管局投诉了这家装修公司，他们受理了还在查。", "consumer", held_by="administrative"),
        dict(route="redirect", rule="Rule_held_administrative")),
    "renovation_contract_with_arbitration_clause": (
        story("装修公司拖了三个月没完工，合同上写着有争议找市仲裁委员会。", "contract", arbitration_clause="on"),
        dict(route="arbitration", channel="commercial_arbitration", rule="Rule_arbitration_clause")),
    "village_cadre_unfair": (
        story("反映村干部分低保不公平，把名额给了自己亲戚。", "other", kind="petition", petition_type="complaint_demand"),
        dict(route="petition", rule="Rule_petition")),
    "dirty_restaurant_reported": (
        story("举报街口饭店后厨卫生很差，吃了拉肚子。", "consumer", kind="complaint"),
        dict(route="specialist", rule="Rule_complaint")),
    "wages_reported_as_a_complaint": (
        story("举报工地老板拖欠我们十几个人的工资。", "labour", kind="complaint", employer_matter="on", people_count="14"),
        dict(route="specialist", rule="Rule_complaint")),
    "how_to_divorce": (
        story("想问问协议离婚要带什么材料、去哪里办。", "marriage_family", kind="consultation"),
        dict(route="consultation", rule="Rule_consultation")),
    "old_block_lift": (
        story("老小区加装电梯，一楼不同意，还牵涉规划、供电和管线改造，谁都说不归自己管。", "property_mgmt",
              complex="on", people_count="24"),
        dict(route="specialist", rule="Rule_complex")),
    "township_demolition_already_sued": (
        # An organ's act, but a court has accepted the suit: reconsideration is closed (行政复议法 (2023)
        # 第二十九条) and people's mediation does not take it; the court holds it.
        story("镇政府拆了我的棚，我已经到法院告了，法院受理了。", "expropriation",
              gov_act="on", organ_level="township_government", held_by="court"),
        dict(route="law_related", organ="court", rule="Rule_held_court")),
    "wages_after_a_judgment": (
        story("工资的事法院已经判了，判决生效，老板还是不给。", "labour", employer_matter="on",
              mediation_tried="failed", judgment_in_force="on"),
        dict(route="law_related", organ="court", rule="Rule_judgment")),
}


def _triaged(session, case_id):
    return session.scalar(sa.select(AuditEvent).where(AuditEvent.case_id == case_id, AuditEvent.kind == "triaged"))


def _data(session, case):
    version = services.catalog.version_info(session, case.process_version_id)
    workflow = runtime.load_state(case.state, version.specs(session))
    return runtime._latest_data(workflow, workflow.get_tasks())


@pytest.mark.parametrize("name", STORIES)
def test_a_matter_told_by_a_resident_lands_where_the_law_sends_it(session, name):
    facts, expected = STORIES[name]
    case = file_matter(session, **facts)
    data = _data(session, case)
    decided = _triaged(session, case.id).detail
    assert (case.route, decided["rule"]) == (expected["route"], expected["rule"])
    assert decided["route"] == case.route  # the history says what the engine did
    if "committee" in expected:
        assert data["committee"] == expected["committee"]
    if "channel" in expected:
        assert data["legal_channel"] == expected["channel"]
    if "organ" in expected:
        assert data["legal_organ"] == expected["organ"]
    if "body" in expected:
        assert decided["body"] == expected["body"]
    if "department" in expected:
        assert decided["department"] == expected["department"]
    assert decided["basis"] or case.route == "consultation", "every route but an answered question cites its basis"
    assert open_specs(session, case.id), "the matter waits at its pathway's first step"


def test_every_fact_row_of_the_table_is_reached_by_a_story():
    import re
    from pathlib import Path
    table = (Path(__file__).resolve().parents[2] / "bpmn" / "triage.dmn").read_text(encoding="utf-8")
    rows = set(re.findall(r'<rule id="(Rule_\w+)"', table))
    fact_rows = {row for row in rows if not row.startswith("Rule_override_")}
    told = {expected["rule"] for _facts, expected in STORIES.values()}
    # Category rows a resident's facts reach only through the category: labour without an employer.
    assert fact_rows - told == {"Rule_labour", "Rule_recon_city", "Rule_recon_city_government", "Rule_recon_other"}


@pytest.mark.parametrize("organ_level, body, rule", [
    ("city_department", "市人民政府（市司法局承办）", "Rule_recon_city"),
    ("city_government", "省人民政府", "Rule_recon_city_government"),
    ("unknown", "县司法局（行政复议机构）审查确定复议机关", "Rule_recon_other"),
])
def test_the_reconsideration_body_follows_from_the_organ(session, organ_level, body, rule):
    case = file_matter(session, summary="市里的部门作出的决定我不服，想讨个说法。", gov_act="on", organ_level=organ_level)
    decided = _triaged(session, case.id).detail
    assert (case.route, decided["body"], decided["rule"]) == ("reconsideration", body, rule)


def test_a_labour_category_without_an_employer_goes_to_the_labour_committee(session):
    case = file_matter(session, summary="帮工的钱对方不给，我们之间没有雇佣单位。", category="labour")
    assert (_triaged(session, case.id).detail["rule"], _data(session, case)["committee"]) == ("Rule_labour", "labour")


def test_the_legal_categories_at_their_defaults_send_nothing_astray(session):
    """The five kinds of matter the old form sent to mediation when its boxes were left alone."""
    stories = ["dismissed_mediation_failed", "shed_torn_down_by_the_township", "whose_hill_forest",
               "judgment_not_paid", "renovation_contract_with_arbitration_clause"]
    routes = [file_matter(session, **STORIES[name][0]).route for name in stories]
    assert routes == ["arbitration", "reconsideration", "ruling", "law_related", "arbitration"]


@pytest.mark.parametrize("override, route", [("reconsideration", "reconsideration"), ("petition", "petition"),
                                             ("mediation", "mediation"), ("law_related", "law_related")])
def test_a_clerk_may_override_the_route_with_a_reason(session, override, route):
    case = file_matter(session, summary="邻里纠纷，但当事人坚持要求按其他渠道办理。", route_override=override,
                       override_reason="当事人已书面说明，经中心负责人同意改定。")
    decided = _triaged(session, case.id).detail
    assert (case.route, decided["rule"]) == (route, f"Rule_override_{override}")
    assert decided["override_reason"] == "当事人已书面说明，经中心负责人同意改定。"


def test_an_override_without_a_reason_is_refused_and_nothing_is_filed(session):
    with pytest.raises(FormInvalid) as refused:
        file_matter(session, route_override="ruling")
    assert "override_reason" in refused.value.errors
    assert refused.value.data["route_override"] == "ruling"
    session.rollback()
    assert session.scalar(sa.select(sa.func.count()).select_from(Case)) == 0


def test_the_preview_is_the_decision_filing_takes(session):
    """For every story the preview names the route, rule and first steps that filing then takes."""
    clerk = actor(session, "clerk")
    for name, (facts, _expected) in STORIES.items():
        from .helpers import INTAKE, facts as to_post
        post = dict(INTAKE, **to_post(facts))
        shown = triage.preview(session, clerk, "intake", post)
        case = file_matter(session, **facts)
        assert (shown.outputs["route"], shown.rule.id) == (case.route, _triaged(session, case.id).detail["rule"]), name
        titles = sorted(session.scalars(sa.select(Task.title).where(Task.case_id == case.id, Task.state == "ready")))
        assert sorted(step.title for step in shown.steps) == titles, name
        units = sorted(session.scalars(sa.select(OrgUnit.name).join(Task, Task.org_unit_id == OrgUnit.id)
                                       .where(Task.case_id == case.id, Task.state == "ready")))
        assert sorted(step.unit.name for step in shown.steps) == units, name
