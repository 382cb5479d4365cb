"""What pages leave unread: the case page does not read the lists a case has none of, the intake
page starts no workflow to find its form once it knows the version's first step, and the
indicators read the roll-up's fresh days once per transaction (never beyond it)."""
from contextlib import contextmanager

import sqlalchemy as sa

from engine.cases import services
from engine.reading import rollup
from engine.workflow import runtime
from tests.web.support import text
from webui.extensions import db


@contextmanager
def statements(app):
    """The SQL the app sends meanwhile, as a list."""
    seen = []

    def note(_conn, _cursor, statement, *_args):
        seen.append(" ".join(statement.split()))
    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", note)


def _reading(seen, table):
    """The statements that read rows of `table` (not those asking whether there are any)."""
    return [s for s in seen if s.startswith(f"SELECT {table}.")]


def test_the_case_page_reads_no_list_the_case_has_none_of(app, login_as, filed_case, session_factory):
    from engine.persistence.models import Case
    case_id, _task_id, _version = filed_case()
    session = session_factory()
    try:
        code = session.scalar(sa.select(Case.code).where(Case.id == case_id))
    finally:
        session.close()
    client = login_as("mediator")
    with statements(app) as seen:
        page = client.get(f"/cases/{case_id}")
    assert page.status_code == 200
    for table in ("submissions", "meeting_items", "referrals", "attachments"):
        assert _reading(seen, table) == [], table
    assert len([s for s in seen if "EXISTS" in s and "meeting_items" in s]) == 1
    # The case's history is read once for its steps, decisions and rounds.
    assert len([s for s in seen if "FROM audit_events" in s]) == 1
    shown = text(page)
    assert code in shown and "风险等级" in shown  # the case, and what its intake recorded


def test_the_case_page_reads_the_files_a_case_has(app, login_as, filed_case, session_factory):
    from engine.persistence.models import Attachment
    case_id, _task_id, _version = filed_case()
    session = session_factory()
    try:
        session.add(Attachment(case_id=case_id, filename="photo.png", media_type="image/png", size=2048,
                               sha256="ab" * 32))
        session.commit()
    finally:
        session.close()
    client = login_as("mediator")
    with statements(app) as seen:
        page = client.get(f"/cases/{case_id}")
    assert "photo.png" in text(page)
    assert len(_reading(seen, "attachments")) == 1
    assert _reading(seen, "referrals") == []


def test_the_intake_page_starts_a_workflow_only_the_first_time(app, login_as, monkeypatch):
    services._FIRST_STEP.clear()
    started = []
    start = runtime.start
    monkeypatch.setattr(runtime, "start", lambda *args, **kwargs: started.append(1) or start(*args, **kwargs))
    client = login_as("clerk")
    pages = [client.get("/matters/new") for _ in range(3)]
    assert [p.status_code for p in pages] == [200, 200, 200]
    assert len(started) == 1
    assert text(pages[0]) == text(pages[2])
    assert 'name="parties-0-name"' in pages[2].get_data(as_text=True)


def test_the_roll_ups_fresh_days_are_read_once_per_transaction(session_factory):
    from datetime import date
    session = session_factory()
    try:
        seen = []
        engine = session.get_bind()
        note = lambda _c, _k, statement, *_a: seen.append(statement)  # noqa: E731
        sa.event.listen(engine, "before_cursor_execute", note)
        try:
            first = rollup.plan(session, date(2026, 9, 3), date(2026, 12, 1), months=False)
            again = rollup.plan(session, date(2026, 9, 3), date(2026, 12, 1))
            assert len([s for s in seen if "rollup_spans" in s]) == 1
            session.commit()  # a new transaction reads them again
            assert rollup.plan(session, date(2026, 9, 3), date(2026, 12, 1)) == again
            assert rollup.plan(session, date(2026, 9, 3), date(2026, 12, 1), months=False) == first
            rollup.plan(session, date(2025, 9, 3), date(2026, 12, 1))  # other days: read too
            assert len([s for s in seen if "rollup_spans" in s]) == 3
        finally:
            sa.event.remove(engine, "before_cursor_execute", note)
    finally:
        session.close()
