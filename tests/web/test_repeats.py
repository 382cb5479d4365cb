"""Repeat detection at the window: the same party again is shown their open or recent cases,
and the clerk either registers a new matter or records a repeat visit on an existing case."""
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
import time_machine

from engine.persistence.models import AuditEvent, Case
from tests.engine.helpers import INTAKE
from tests.web.support import location_path


def _cases(session_factory):
    session = session_factory()
    try:
        return session.execute(sa.select(Case.id, Case.code).order_by(Case.id)).all()
    finally:
        session.close()


def _events(session_factory, case_id, kind):
    session = session_factory()
    try:
        return session.scalars(sa.select(AuditEvent).where(AuditEvent.case_id == case_id, AuditEvent.kind == kind)).all()
    finally:
        session.close()


def test_same_party_again_is_shown_the_earlier_case_and_nothing_is_filed(client, login_as, session_factory):
    login_as("clerk")
    first = client.post("/matters/new", data=INTAKE)
    assert first.status_code == 302
    [(first_id, first_code)] = _cases(session_factory)
    again = {key: value for key, value in INTAKE.items() if not key.startswith("parties-1-")}
    again.update({"parties-0-id_number": "110101199912310000", "summary": "排水沟又被堵了，再次来访。"})
    # Only the phone is the same this time.
    response = client.post("/matters/new", data=again)
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "发现可能重复的事项" in body and first_code in body
    assert f'value="link:{first_id}"' in body and "再次来访" in body, "what was typed is kept"
    assert len(_cases(session_factory)) == 1


def test_a_repeat_visit_goes_into_the_earlier_case(client, login_as, session_factory):
    login_as("clerk")
    client.post("/matters/new", data=INTAKE)
    [(first_id, first_code)] = _cases(session_factory)
    response = client.post("/matters/new", data=dict(INTAKE, summary="再次来访：对方仍未疏通。",
                                                     repeat_decision=f"link:{first_id}"))
    assert response.status_code == 302 and location_path(response) == f"/cases/{first_id}"
    assert len(_cases(session_factory)) == 1
    [visit] = _events(session_factory, first_id, "repeat_visit")
    assert visit.detail["data"]["summary"] == "再次来访：对方仍未疏通。"
    page = client.get(f"/cases/{first_id}").get_data(as_text=True)
    assert "重复来访" in page and "再次来访：对方仍未疏通。" in page


def test_a_new_matter_despite_matches_names_the_related_cases(client, login_as, session_factory):
    login_as("clerk")
    client.post("/matters/new", data=INTAKE)
    response = client.post("/matters/new", data=dict(INTAKE, repeat_decision="new"))
    assert response.status_code == 302
    (first_id, first_code), (second_id, _code) = _cases(session_factory)
    [started] = _events(session_factory, second_id, "case_started")
    assert started.detail["related"] == [first_code]


def test_old_closed_cases_and_other_villages_do_not_count(client, login_as, session_factory):
    start = datetime.now(timezone.utc)
    with time_machine.travel(start, tick=False) as traveller:
        login_as("clerk_ll")
        client.post("/matters/new", data=INTAKE)
        login_as("clerk_dg")
        response = client.post("/matters/new", data=INTAKE)
        assert response.status_code == 302, "柳林村's case is not 东关村's business"
        session = session_factory()
        session.execute(sa.update(Case).values(status="completed"))
        session.commit()
        session.close()
        traveller.move_to(start + timedelta(days=91))
        login_as("clerk")
        assert client.post("/matters/new", data=INTAKE).status_code == 302, "closed and older than 90 days"
