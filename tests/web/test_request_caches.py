"""What the web layer keeps to answer a request faster is kept for that request only: the
catalogue and locale looked up once per request (webui/i18n.py) follow each reader's language,
force_locale() inside a request, and give the dates flask_babel gives."""
from datetime import datetime, timezone

import flask_babel
import pytest
from flask import render_template_string

from engine.legaltime.clock import as_utc
from tests.web.support import text
from webui import i18n


def test_each_request_in_its_readers_language(app, make_client):
    english, chinese = make_client("mediator"), make_client("mediator")
    english.post("/lang/en")
    for _round in range(3):  # alternating, on one process: nothing of one request is served to the next
        seen_en, seen_zh = text(english.get("/tasks")), text(chinese.get("/tasks"))
        assert "My tasks" in seen_en and "我的待办" not in seen_en
        assert "我的待办" in seen_zh and "My tasks" not in seen_zh


def test_force_locale_inside_a_request_is_followed_then_undone(app):
    with app.test_request_context("/", headers={"Accept-Language": "zh-CN"}):
        assert i18n.gettext("My tasks") == "我的待办" and i18n.lang() == "zh"
        assert render_template_string("{{ _('Log out') }}") == "退出"
        with flask_babel.force_locale("en"):
            assert i18n.gettext("My tasks") == "My tasks" and i18n.lang() == "en"
            assert render_template_string("{{ _('Log out') }}") == "Log out"
            assert i18n.say_in("zh", "My tasks") == "我的待办"
            assert i18n.lang() == "en"
        assert i18n.gettext("My tasks") == "我的待办" and i18n.lang() == "zh"
        assert render_template_string("{{ _('Log out') }}") == "退出"


def test_refresh_drops_what_was_kept_for_the_old_locale(app):
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        assert i18n.gettext("My tasks") == "My tasks"
        flask_babel.get_babel().locale_selector = lambda: "zh"
        try:
            flask_babel.refresh()
            assert i18n.gettext("My tasks") == "我的待办" and i18n.lang() == "zh"
        finally:
            flask_babel.get_babel().locale_selector = i18n.select_locale


@pytest.mark.parametrize("language", ["zh", "en"])
@pytest.mark.parametrize("fmt", ["yyyy-MM-dd HH:mm", "HH:mm", "yyyy-MM-dd", "MMM d, EEE"])
def test_dates_as_flask_babel_writes_them(app, language, fmt):
    moments = [datetime(2026, 1, 31, 16, 30, tzinfo=timezone.utc), datetime(2026, 6, 30, 23, 59),  # naive: UTC
               datetime(2025, 12, 31, 20, 5, tzinfo=timezone.utc), datetime(999, 3, 4, 5, 6, tzinfo=timezone.utc)]
    with app.test_request_context("/", headers={"Accept-Language": language}):
        for moment in moments:
            assert i18n.when(moment, fmt) == flask_babel.format_datetime(as_utc(moment), fmt)
        # Shanghai time: the evening of New Year's Eve in UTC is already the next year there.
        assert i18n.when(moments[2]) == "2026-01-01 04:05"
        assert i18n.when(None) == ""


def test_links_built_once_per_list_are_url_for_s(app):
    from flask import url_for
    from webui import url_by_id
    with app.test_request_context("/"):
        for endpoint, key, values in [("work.task", "task_id", {}), ("work.claim", "task_id", {}),
                                      ("work.case", "case_id", {}), ("work.reminder_read", "reminder_id", {})]:
            link = url_by_id(endpoint, key, **values)
            for value in (1, 42, 2 ** 31 - 1, "7"):
                assert link(value) == url_for(endpoint, **values, **{key: value})
        assert url_by_id("work.inbox", "pool_page")(3) == url_for("work.inbox", pool_page=3)
        with pytest.raises(ValueError):
            url_by_id("work.task", "task_id")("1/../../admin")  # only an integer goes in


def test_lists_leave_the_cases_workflow_state_unread_yet_readable(session_factory, filed_case):
    import sqlalchemy as sa
    from engine.cases.supervision import reminders_for
    from engine.persistence.models import Case
    from engine.reading import queries
    from tests.engine.helpers import actor
    case_id, task_id, _version = filed_case()
    session = session_factory()
    try:
        stored = session.scalar(sa.select(sa.func.length(Case.state)).where(Case.id == case_id))
        mediator, supervisor = actor(session, "mediator"), actor(session, "supervisor")
        box = queries.inbox(session, mediator)
        rows, _total, _units, _now = queries.open_tasks(session, supervisor)
        found, _count = queries.search_cases(session, supervisor, queries.CaseFilter())
        listed = [t.case for t in box.pool if t.id == task_id] + [t.case for t in rows if t.id == task_id] + \
            [c for c in found if c.id == case_id] + [r.case for r in reminders_for(session, mediator)]
        assert len(listed) >= 3
        for case in listed:
            assert case.id == case_id and "state" in sa.inspect(case).unloaded
        assert stored and len(listed[0].state) == stored  # read when asked for after all
    finally:
        session.close()


def test_the_dashboards_flagged_case_links_to_its_page(client, login_as, filed_case, session_factory):
    from tests.web.support import case_row, page
    case_id, _task_id, _version = filed_case()
    login_as("supervisor")
    assert client.post(f"/supervision/cases/{case_id}/flag", data={"note": "重点矛盾"}).status_code == 302
    links = page(client.get("/supervision/dashboard")).xpath('//a[@class="code"]')
    assert [(a.get("href"), a.text) for a in links] == [(f"/cases/{case_id}", case_row(session_factory, case_id).code)]
