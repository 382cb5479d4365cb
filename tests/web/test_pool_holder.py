"""A step waiting in a pool says whose pool it is (the unit and the role), in the inbox, on the
case page and in the supervision list."""
from tests.engine.helpers import MEDIATION_FAILURE
from tests.web.support import complete_steps, page


def _pool_units(response):
    return [" ".join(node.text_content().split()) for node in page(response).xpath('//*[contains(@class, "pool-unit")]')]


def test_a_pool_step_names_its_unit_and_role(client, login_as, filed_case):
    case_id, _task_id, _version = filed_case("clerk_cg")
    login_as("mediator_cg")
    assert _pool_units(client.get("/tasks")) == ["城关镇 · 调解员"]
    login_as("supervisor")
    assert _pool_units(client.get("/supervision/")) == ["城关镇 · 调解员"]
    # The case page's steps table, the supervisor's box for the open step and the box giving it to a
    # registered mediator.
    assert _pool_units(client.get(f"/cases/{case_id}")) == ["城关镇 · 调解员"] * 3


def test_a_departments_pool_step_names_the_department(client, login_as, filed_case, session_factory):
    case_id, _task_id, _version = filed_case("clerk")
    complete_steps(session_factory, case_id, ("mediator", "Task_mediate", MEDIATION_FAILURE))
    login_as("clerk")
    assert _pool_units(client.get(f"/cases/{case_id}")) == ["县人民法院 · 入驻部门"]
