"""Issue 9, part 6: the API's URLs never come from the Host header; eight clerks filing at once on
SQLite all get their matter filed or their form back as typed; dates that cannot be are refused."""
import sqlite3
import threading
from datetime import datetime, timezone

import pytest
import time_machine

from engine.persistence.models import Case
from tests.engine.helpers import MEDIATION_SUCCESS
from tests.web.conftest import AuthActions
from tests.web.support import count, text

from .test_bad_input import api_token, bearer


# ---- the API's URLs ------------------------------------------------------------------------------

MATTER = {"kind": "dispute", "channel": "hotline_12345", "category": "property_mgmt", "place": "西关社区5号楼",
          "summary": "12345转办：物业停水三天未处理。", "claims": "尽快恢复供水", "people_count": 3, "risk_level": "blue",
          "parties": [{"role": "applicant", "name": "王五", "id_type": "resident_id",
                       "id_number": "110101198001011234", "phone": "13600136000"}]}


@pytest.mark.parametrize("host", ["evil.example", "attacker.test:8443", "127.0.0.1:5000"])
def test_api_urls_come_from_the_configured_base_not_the_host_header(app, client, session_factory, host):
    app.config["PUBLIC_BASE_URL"] = "https://yizhan.county.example/"
    try:
        response = client.post("/api/v1/matters", json=MATTER, headers={**bearer(api_token(session_factory)),
                                                                         "Host": host})
    finally:
        app.config["PUBLIC_BASE_URL"] = None
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["url"] == f"https://yizhan.county.example/api/v1/cases/{body['code']}"


def test_without_a_base_the_api_gives_a_path_and_never_the_host(client, session_factory):
    response = client.post("/api/v1/matters", json=MATTER,
                           headers={**bearer(api_token(session_factory)), "Host": "evil.example"})
    assert response.status_code == 201
    assert response.get_json()["url"] == f"/api/v1/cases/{response.get_json()['code']}"
    assert "evil.example" not in response.get_data(as_text=True)


def test_the_base_url_setting_is_read_from_the_environment(monkeypatch):
    from config.settings import flask_config
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://yizhan.example.cn")
    assert flask_config()["PUBLIC_BASE_URL"] == "https://yizhan.example.cn"
    monkeypatch.delenv("PUBLIC_BASE_URL")
    assert flask_config()["PUBLIC_BASE_URL"] is None


# ---- eight clerks at once ------------------------------------------------------------------------

CLERKS = 8


def _matter(n):
    return {
        "kind": "dispute", "channel": "visit", "category": "neighbour", "place": f"东关村{n}组",
        "summary": f"第{n}件：邻里排水纠纷", "claims": "疏通排水沟", "people_count": "2", "risk_level": "blue",
        "parties-0-role": "applicant", "parties-0-name": f"申请人{n}", "parties-0-id_type": "resident_id",
        "parties-0-id_number": f"1101011990030{n:04d}1", "parties-0-phone": f"1380013{n:04d}",
    }


def _dispose(app):
    from webui.extensions import db
    with app.app_context():
        db.engine.dispose()  # new connections, taking the busy timeout set now


def _file_at_once(clients, first=0, while_waiting=lambda _first_back: None):
    """Every client files its own matter (numbered from `first`) at the same moment; returns the
    responses."""
    barrier = threading.Barrier(len(clients) + 1)
    first_back = threading.Event()
    results = [None] * len(clients)

    def file(n):
        barrier.wait()
        results[n] = clients[n].post("/matters/new", data=_matter(first + n))
        first_back.set()

    threads = [threading.Thread(target=file, args=(n,)) for n in range(len(clients))]
    for thread in threads:
        thread.start()
    barrier.wait()
    while_waiting(first_back)
    for thread in threads:
        thread.join(60)
    return results


def test_eight_clerks_filing_at_once_all_succeed_or_get_their_form_back(app, make_client, session_factory,
                                                                         monkeypatch):
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("SQLite's single writer is what this is about")
    from engine.persistence import db as enginedb
    clients = [make_client("clerk") for _ in range(CLERKS)]

    # Eight at once: each waits its turn for the write lock, and every matter is filed.
    _dispose(app)
    filed = _file_at_once(clients)
    assert [r.status_code for r in filed] == [302] * CLERKS
    assert count(session_factory, Case) == CLERKS

    # Another writer holds the lock past the busy timeout (0.3 s here) until the first answer is
    # back: nothing is filed, and each clerk gets the form back with what they typed.
    monkeypatch.setattr(enginedb, "SQLITE_BUSY_MS", 300)
    _dispose(app)
    holder = sqlite3.connect(app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///"), timeout=30)
    holder.execute("BEGIN IMMEDIATE")

    def release_when_answered(first_back):
        assert first_back.wait(60)
        holder.rollback()

    try:
        refused = _file_at_once(clients, CLERKS, release_when_answered)
    finally:
        holder.close()
        monkeypatch.undo()
        _dispose(app)
    statuses = [r.status_code for r in refused]
    assert 409 in statuses
    for n, response in enumerate(refused, CLERKS):
        if response.status_code != 302:
            assert response.status_code == 409, statuses
            page = response.get_data(as_text=True)
            assert f"第{n}件：邻里排水纠纷" in page and f'value="东关村{n}组"' in page, statuses
            assert "系统正忙" in text(response)
            assert "正在被他人办理" not in page  # a brand-new matter: nobody else is working on it
    assert count(session_factory, Case) == CLERKS + statuses.count(302)


def test_a_conflict_on_a_task_form_gives_the_form_back_as_typed(make_client, second_mediator, filed_case):
    _case_id, task_id, _version = filed_case()
    first, second = make_client("mediator"), make_client(second_mediator)
    assert first.post(f"/tasks/{task_id}", data=MEDIATION_SUCCESS).status_code == 302
    typed = {**MEDIATION_SUCCESS, "agreement_terms": "第二位调解员写下的协议条款，不应丢失"}
    late = second.post(f"/tasks/{task_id}", data=typed)
    assert late.status_code == 409
    assert "第二位调解员写下的协议条款，不应丢失" in late.get_data(as_text=True)
    assert "已由" in text(late)


# ---- dates that cannot be ------------------------------------------------------------------------

NOW = datetime(2026, 6, 15, 4, 0, tzinfo=timezone.utc)  # noon in China


def test_a_mediation_session_date_that_cannot_be_is_refused(client, filed_case):
    refused = ["2099-01-01",   # a session in 2099
               "2026-06-16",   # tomorrow in China
               "2027-03-01",   # next year
               "1899-12-31", "0001-01-01"]
    with time_machine.travel(NOW, tick=False):
        _case_id, task_id, _version = filed_case()
        # Logged in at the travelled time: a session cookie from the real "now" would be from the future.
        assert AuthActions(client).login("mediator").status_code == 302
        for held_on in refused:
            response = client.post(f"/tasks/{task_id}", data={**MEDIATION_SUCCESS, "sessions-0-held_on": held_on})
            assert response.status_code == 422, held_on
            assert "日期不能" in text(response)
            assert f'value="{held_on}"' in response.get_data(as_text=True)  # what was typed stays
        english = client.post(f"/tasks/{task_id}", data={**MEDIATION_SUCCESS, "sessions-0-held_on": "2099-01-01"},
                              headers={"Accept-Language": "en"})
        assert "The date cannot be after 2026-06-15" in text(english)
        done = client.post(f"/tasks/{task_id}", data={**MEDIATION_SUCCESS, "sessions-0-held_on": "2026-06-15"})
        assert done.status_code == 302 and "/cases/" in done.headers["Location"]


@pytest.mark.parametrize("lang, message", [("zh", "日期不能晚于 2026-06-15"), ("en", "The date cannot be after 2026-06-15")])
def test_a_ruling_dated_next_year_is_refused_in_both_languages(lang, message):
    from engine.library import catalog, forms
    from engine.messages import in_chinese
    from tests.conftest import ROOT
    _diagrams, texts = catalog.read_folder(ROOT / "bpmn", ROOT / "forms")
    court = forms.parse_form("court_confirm.json", texts["court_confirm.json"])
    with time_machine.travel(NOW, tick=False):
        errors = forms.validate(court, {"court_result": "confirmed", "ruled_on": "2027-01-10", "ruling_number": "1"})
        assert (in_chinese(errors["ruled_on"]) if lang == "zh" else str(errors["ruled_on"])) == message
        # The edges themselves are dates that can be: today in China and the first day of 1900.
        for day in ("2026-06-15", "1900-01-01"):
            assert "ruled_on" not in forms.validate(court, {"court_result": "confirmed", "ruled_on": day})


def test_every_date_field_in_the_library_is_bounded():
    """Every date field of every form refuses a date a hundred years on and one before 1900."""
    from engine.library import catalog, forms
    from tests.conftest import ROOT
    _diagrams, texts = catalog.read_folder(ROOT / "bpmn", ROOT / "forms")
    seen = 0
    for key, body in texts.items():
        form = forms.parse_form(key, body)
        for name, prop in forms.all_fields(form.schema):
            if prop.get("format") != "date":
                continue
            seen += 1
            for bad in ("2126-01-01", "1850-01-01"):
                instance = prop_instance(name, bad)
                errors = forms.validate(form, instance)
                assert any(k.replace("-0-", ".") == name for k in errors), (key, name, bad, errors)
    assert seen >= 12


def prop_instance(name, value):
    if "." in name:
        field, sub = name.split(".")
        return {field: [{sub: value}]}
    return {name: value}


def test_a_designer_bound_that_names_no_date_is_refused_at_check():
    import json
    from engine.library import forms
    text_ = json.dumps({"title": "t", "schema": {"type": "object", "properties": {
        "next_on": {"type": "string", "format": "date", "title": "下次日期", "x-not-after": "next tuesday"}}}})
    with pytest.raises(forms.FormDefinitionError, match='field "next_on": x-not-after'):
        forms.parse_form("t.json", text_)
    allowed = json.dumps({"title": "t", "schema": {"type": "object", "properties": {
        "next_on": {"type": "string", "format": "date", "title": "下次日期", "x-not-after": "today+90"}}}})
    form = forms.parse_form("t.json", allowed)
    with time_machine.travel(NOW, tick=False):
        assert forms.validate(form, {"next_on": "2026-09-13"}) == {}
        assert "next_on" in forms.validate(form, {"next_on": "2026-09-14"})
