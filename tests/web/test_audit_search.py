"""An auditor finds cases by code, party name or ID number, unit, category, date range, status and
handler; the filters combine and survive paging."""
from datetime import datetime, timezone

import time_machine

from engine.persistence.models import Case
from tests.engine.helpers import MEDIATION_SUCCESS, complete
from tests.web.support import page


def _codes(client, **params):
    shown = page(client.get("/audit/cases", query_string=params))
    return sorted(a.text_content() for a in shown.xpath('//table[contains(@class, "list")]//a[@class="code"]'))


def test_filters(client, login_as, filed_case, session_factory):
    with time_machine.travel(datetime(2026, 10, 9, 2, 0, tzinfo=timezone.utc), tick=False):
        october, _t, _v = filed_case("clerk_dg", category="traffic")
    november, _task, _v = filed_case("clerk", **{"parties-0-name": "王五", "parties-0-id_number": "110101198001011230"})
    session = session_factory()
    try:
        complete(session, "mediator", november, "Task_mediate", MEDIATION_SUCCESS)
        codes = {case_id: session.get(Case, case_id).code for case_id in (october, november)}
    finally:
        session.close()
    login_as("auditor")
    assert _codes(client) == sorted(codes.values())
    assert _codes(client, q="110101198001011230") == [codes[november]], "an ID number finds its party's case"
    assert _codes(client, q="王五") == [codes[november]]
    dongguan = page(client.get("/audit/cases")).xpath('//select[@name="unit"]/option[contains(., "东关村")]/@value')[0]
    assert _codes(client, unit=dongguan) == [codes[october]]
    assert _codes(client, category="traffic") == [codes[october]]
    assert _codes(client, **{"from": "2026-10-01", "to": "2026-10-31"}) == [codes[october]]
    assert _codes(client, handler="李调解") == [codes[november]]
    assert _codes(client, handler="李调解", category="traffic") == []
