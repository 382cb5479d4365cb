"""The database may go away at any statement of a request, not only at the one a test chose: a
PostgreSQL restart under load once gave three 500s on the mediator's inbox among thirty-odd 503s.
For each page and action the thirty people of `make bench-load` use, the request is run again and
again with its first, second, third... statement failing as a lost connection fails, and every
answer must be the 503 that says to try again (or the page itself, once the failure comes after
the request's last statement), never a 500, with nothing half-stored."""
import pytest
import sqlalchemy as sa

from engine.persistence.models import AuditEvent, Case
from tests.conftest import wipe_cases
from tests.engine.helpers import MEDIATION_SUCCESS
from tests.web.support import count, events_of, task_row
from tests.web.test_database_down import _lost_connection


class StatementFault:
    """Counts the statements of the app's connections; with `fail_at` = n, the n-th fails as a
    lost connection would (and the ones after it too, as on a server that is gone)."""

    def __init__(self, engine):
        self.engine, self.seen, self.fail_at = engine, 0, None

    def __call__(self, _conn, _cursor, _statement, _params, _context, _many):
        self.seen += 1
        if self.fail_at is not None and self.seen >= self.fail_at:
            raise _lost_connection(self.engine.dialect.name)

    def run(self, request, fail_at=None):
        self.seen, self.fail_at = 0, fail_at
        try:
            return request()
        finally:
            self.fail_at = None


@pytest.fixture
def fault(app):
    from webui.extensions import db
    with app.app_context():
        engine = db.engine
    watcher = StatementFault(engine)
    sa.event.listen(engine, "before_cursor_execute", watcher)
    yield watcher
    sa.event.remove(engine, "before_cursor_execute", watcher)


def _every_statement_failing(fault, request, ok_status, between=lambda: None):
    """Run `request` whole (its statements counted), then once per statement with that one failing
    (`between` runs after each whole run: undoing what it stored). Returns how many statements
    the request runs."""
    for _warm in range(2):  # counted the second time, with the versions' specs cached as they stay
        whole = fault.run(request)
        assert whole.status_code == ok_status, whole.status_code
        between()
    statements = fault.seen
    assert statements > 0
    for n in range(1, statements + 1):
        answer = fault.run(request, fail_at=n)
        assert answer.status_code == 503, (n, statements, answer.status_code)
        assert answer.headers["Retry-After"] == "15"
    return statements


PAGES = [
    ("mediator", "/tasks"),
    ("mediator", "/tasks/{task}"),
    ("mediator", "/cases/{case}"),
    ("clerk", "/matters/new"),
    ("clerk", "/cases/{case}"),
    ("supervisor", "/supervision/dashboard"),
    ("supervisor", "/supervision/?only=red"),
    ("supervisor", "/supervision/indicators"),
    ("auditor", "/audit/cases?q=张三"),
    ("auditor", "/audit/cases/{case}"),
]


@pytest.mark.parametrize("login, path", PAGES)
def test_a_page_whose_database_goes_away_at_any_statement_answers_503(client, login_as, filed_case, fault,
                                                                      login, path):
    case_id, task_id, _version = filed_case()
    login_as(login)
    url = path.format(case=case_id, task=task_id)
    _every_statement_failing(fault, lambda: client.get(url), 200)


def test_filing_whose_database_goes_away_at_any_statement_stores_nothing(client, login_as, intake_post,
                                                                          session_factory, fault):
    login_as("clerk")
    # Counted whole, the case it stored then wiped (so that no later attempt meets it as a
    # repeat visit); with each statement failing in turn, none stores anything.
    statements = _every_statement_failing(fault, lambda: client.post("/matters/new", data=intake_post), 302,
                                          between=lambda: wipe_cases(session_factory))
    assert statements > 5
    assert count(session_factory, Case) == 0 and count(session_factory, AuditEvent) == 0
    assert fault.run(lambda: client.post("/matters/new", data=intake_post)).status_code == 302


def _statements_on_a_twin(fault, filed_case, client, *steps):
    """How many statements the last of `steps` (each a function of a task id, a request) runs on a
    case of its own, the earlier steps run first; the cases' specs are cached by then."""
    for _warm in range(2):
        _case, twin_task, _version = filed_case()
        for step in steps:
            assert fault.run(lambda: step(twin_task)).status_code == 302
    return fault.seen


def test_claim_and_submit_whose_database_goes_away_at_any_statement_change_nothing(
        client, login_as, filed_case, session_factory, fault):
    case_id, task_id, _version = filed_case()
    login_as("mediator")
    claim = lambda task: client.post(f"/tasks/{task}/claim")  # noqa: E731
    submit = lambda task: client.post(f"/tasks/{task}", data=MEDIATION_SUCCESS)  # noqa: E731
    events = len(events_of(session_factory, case_id))
    for n in range(1, _statements_on_a_twin(fault, filed_case, client, claim) + 1):
        assert fault.run(lambda: claim(task_id), fail_at=n).status_code == 503, n
        assert task_row(session_factory, task_id).assignee_id is None
    assert len(events_of(session_factory, case_id)) == events
    assert fault.run(lambda: claim(task_id)).status_code == 302
    claimed = len(events_of(session_factory, case_id))
    for n in range(1, _statements_on_a_twin(fault, filed_case, client, claim, submit) + 1):
        assert fault.run(lambda: submit(task_id), fail_at=n).status_code == 503, n
        assert task_row(session_factory, task_id).state == "ready"
    assert len(events_of(session_factory, case_id)) == claimed
    assert fault.run(lambda: submit(task_id)).status_code == 302
    assert task_row(session_factory, task_id).state == "completed"
