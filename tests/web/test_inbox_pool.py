"""The inbox with a full pool: a page of the most urgent unclaimed steps, with the pool's size and
the overdue count taken over all of it (a county's pool can hold hundreds of steps)."""
import uuid
from datetime import timedelta

import sqlalchemy as sa

from engine.legaltime.clock import Clock
from engine.persistence.models import Task

from .support import page, reading, text

OVERDUE, LATER = 12, 52  # with the filed case's own step: 65 in the pool, two pages of 50


def _fill_pool(factory, task_id):
    """Copies of the filed case's waiting mediation step: some overdue, the rest due in a month."""
    with reading(factory) as s:
        step = s.get(Task, task_id)
        now = Clock.now()
        columns = {c.key: getattr(step, c.key) for c in sa.inspect(Task).column_attrs if c.key != "id"}
        rows = [dict(columns, spiff_task_id=str(uuid.uuid4()), amber_at=None,
                     due_at=now - timedelta(days=1 + n) if n < OVERDUE else now + timedelta(days=30 + n))
                for n in range(OVERDUE + LATER)]
        s.execute(sa.insert(Task), rows)
        s.commit()


def _pool_rows(response):
    return page(response).xpath('//section[h2[@id="pool"]]//tbody/tr')


def test_a_full_pool_shows_its_most_urgent_page_and_counts_all_of_it(client, login_as, filed_case, session_factory):
    _case_id, task_id, _version = filed_case()
    _fill_pool(session_factory, task_id)
    login_as("mediator")

    first = client.get("/tasks")
    assert first.status_code == 200
    rows = _pool_rows(first)
    assert len(rows) == 50
    # Overdue first: the twelve red rows lead the page.
    assert [row.get("class") for row in rows[:OVERDUE]] == ["row-red"] * OVERDUE
    assert rows[OVERDUE].get("class") != "row-red"
    heading = page(first).xpath('//section/h2[@id="pool"]/span[@class="count"]')[0].text_content()
    assert heading == str(OVERDUE + LATER + 1)
    body = text(first)
    assert str(OVERDUE) in page(first).xpath('//div[contains(@class, "flash-error")]')[0].text_content()
    assert "1 / 2" in body

    second = client.get("/tasks?pool_page=2")
    assert len(_pool_rows(second)) == OVERDUE + LATER + 1 - 50
    assert "2 / 2" in text(second)
    # Every step of the pool is on one of the two pages, once.
    links = {a for r in _pool_rows(first) + _pool_rows(second) for a in r.xpath('.//a[contains(@href, "/tasks/")]/@href')}
    assert len(links) == OVERDUE + LATER + 1

    # A page past the end shows the last one; nonsense shows the first; never a 500.
    for asked in ("3", "4000000", "-4", "x"):
        response = client.get(f"/tasks?pool_page={asked}")
        assert response.status_code == 200
        assert len(_pool_rows(response)) in (50, OVERDUE + LATER + 1 - 50)
    # A number no database integer holds is refused as every page refuses it: a clear 400.
    refused = client.get("/tasks?pool_page=99999999999999999999999")
    assert refused.status_code == 400 and "超出范围" in text(refused)
