"""A case filed at one village is out of sight of another village, and in sight of the county."""
import pytest

from tests.engine.helpers import INTAKE
from tests.web.support import case_id_from, case_row, open_task_id, page, text


@pytest.fixture
def village_case(client, login_as, session_factory):
    """A dispute filed by the 东关村 clerk through the web form."""
    login_as("clerk_dg")
    response = client.post("/matters/new", data=INTAKE)
    assert response.status_code == 302
    case_id = case_id_from(response)
    case = case_row(session_factory, case_id)
    assert case.org_unit.name == "东关村"
    return case_id, case.code, open_task_id(session_factory, case_id, "Task_mediate")


def test_other_village_cannot_see_it(client, login_as, village_case):
    case_id, code, task_id = village_case
    login_as("clerk_ll")
    refused = client.get(f"/cases/{case_id}")
    assert refused.status_code == 403
    assert code not in refused.get_data(as_text=True)
    assert client.get(f"/tasks/{task_id}").status_code == 403
    assert client.post(f"/tasks/{task_id}/claim").status_code == 403
    for listing in ("/tasks",):
        response = client.get(listing)
        assert response.status_code == 200
        assert code not in response.get_data(as_text=True)
    # The lists a village clerk may not open at all stay closed.
    for listing in ("/supervision/", "/audit/cases", f"/audit/cases/{case_id}"):
        assert client.get(listing).status_code == 403


def test_filing_clerk_and_the_township_above_see_it(client, login_as, village_case):
    case_id, code, _task = village_case
    for who in ("clerk_dg", "clerk_cg", "clerk"):
        login_as(who)
        response = client.get(f"/cases/{case_id}")
        assert response.status_code == 200, who
        assert code in text(response)


def test_county_auditor_sees_it(client, login_as, village_case):
    case_id, code, _task = village_case
    login_as("auditor")
    listing = client.get("/audit/cases")
    assert listing.status_code == 200
    rows = page(listing).xpath("//table[@class='list']/tbody/tr")
    assert [r.xpath("./td[1]")[0].text_content().strip() for r in rows] == [code]
    assert "东关村" in rows[0].text_content()
    found = client.get("/audit/cases", query_string={"q": code})
    assert code in text(found)
    history = client.get(f"/audit/cases/{case_id}")
    assert history.status_code == 200 and code in text(history)
    assert client.get(f"/cases/{case_id}").status_code == 200


def test_county_supervisor_sees_it(client, login_as, village_case):
    case_id, code, _task = village_case
    login_as("supervisor")
    overview = client.get("/supervision/")
    assert overview.status_code == 200
    rows = page(overview).xpath("//table[@class='list']/tbody/tr")
    assert len(rows) == 1
    assert code in rows[0].text_content() and "人民调解" in rows[0].text_content()
    # 东关村 has no mediator, so the step went to the nearest unit above that has one.
    assert "城关镇" in rows[0].text_content()
    assert client.get(f"/cases/{case_id}").status_code == 200


def test_village_dispute_reaches_the_township_mediator(client, login_as, village_case):
    case_id, code, _task = village_case
    login_as("mediator_cg")
    inbox = client.get("/tasks")
    assert code in text(inbox)
    login_as("mediator")
    assert code not in text(client.get("/tasks")), "the county mediator is not the nearest one"


def test_other_village_search_finds_nothing(session_factory, village_case):
    """The search behind the audit list is limited to the searcher's unit, whoever asks."""
    from engine.reading import queries
    from tests.engine.helpers import actor
    _case_id, code, _task = village_case
    session = session_factory()
    try:
        rows, total = queries.search_cases(session, actor(session, "clerk_ll"), queries.CaseFilter(text=code))
        assert (rows, total) == ([], 0)
        rows, total = queries.search_cases(session, actor(session, "auditor"), queries.CaseFilter(text=code))
        assert [r.code for r in rows] == [code]
        rows, total, _units, _now = queries.open_tasks(session, actor(session, "clerk_ll"))
        assert total == 0
    finally:
        session.close()
