"""ID numbers and phones: in full for the people handling the case, masked for everyone else."""
import pytest

from tests.engine.helpers import MEDIATION_SUCCESS

ID_1, ID_1_MASKED = "110101199003071234", "110***********1234"
ID_2, ID_2_MASKED = "11010119851212345X", "110***********345X"
PHONE_1, PHONE_1_MASKED = "13800138000", "138****8000"


def _body(response):
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_auditor_history_masks_personal_data(client, login_as, filed_case):
    case_id, _task, _version = filed_case()
    login_as("auditor")
    body = _body(client.get(f"/audit/cases/{case_id}"))
    assert ID_1_MASKED in body and ID_2_MASKED in body and PHONE_1_MASKED in body
    assert ID_1 not in body and ID_2 not in body and PHONE_1 not in body


@pytest.mark.parametrize("role", ["auditor", "admin"])
def test_case_page_masks_for_roles_not_handling_it(client, login_as, filed_case, role):
    case_id, _task, _version = filed_case()
    login_as(role)
    body = _body(client.get(f"/cases/{case_id}"))
    assert ID_1_MASKED in body and PHONE_1_MASKED in body
    assert ID_1 not in body and PHONE_1 not in body


@pytest.mark.parametrize("role", ["clerk", "mediator", "supervisor"])
def test_handlers_see_it_in_full(client, login_as, filed_case, role):
    case_id, _task, _version = filed_case()
    login_as(role)
    body = _body(client.get(f"/cases/{case_id}"))
    assert ID_1 in body and ID_2 in body and PHONE_1 in body
    assert ID_1_MASKED not in body


def test_mediator_task_page_shows_intake_in_full(client, login_as, filed_case):
    _case, task_id, _version = filed_case()
    login_as("mediator")
    body = _body(client.get(f"/tasks/{task_id}"))
    assert ID_1 in body and PHONE_1 in body


def test_masking_holds_after_later_steps(client, login_as, filed_case):
    case_id, task_id, _version = filed_case()
    login_as("mediator")
    assert client.post(f"/tasks/{task_id}", data=MEDIATION_SUCCESS).status_code == 302
    login_as("auditor")
    body = _body(client.get(f"/audit/cases/{case_id}"))
    assert ID_1_MASKED in body and ID_1 not in body
    # The mediation record is shown unmasked: it has no personal fields.
    assert "500" in body
