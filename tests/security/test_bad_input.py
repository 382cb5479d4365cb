"""Issue 9, part 5: bad input is a clear 4xx, never a 500, and nothing is stored, on SQLite and on
PostgreSQL alike. Each class is a corpus: NUL characters and lone surrogates in every form field,
query parameter and JSON body; deep JSON; integers beyond the database's range in every integer
route and parameter; diagrams the parser cannot take; an API body over the limit."""
import io
import json
from pathlib import Path

import pytest

from engine.access import accounts
from engine.persistence.models import AuditEvent, Case, DiagramDraft, ProcessVersion
from tests.conftest import ROOT
from tests.web.support import count, text

HUGE = "99999999999999999999"
PAST_INT32 = str(2 ** 31)
ROLES = ("clerk", "mediator", "supervisor", "auditor", "designer", "admin")


def api_token(factory, username="clerk"):
    session = factory()
    try:
        return accounts.create_api_token(session, username, "hostile corpus")
    finally:
        session.close()


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def stored(factory):
    """What a refused request must leave as it was."""
    return (count(factory, Case), count(factory, AuditEvent), count(factory, ProcessVersion),
            count(factory, DiagramDraft))


def no_error_page(response):
    assert response.status_code < 500, (response.status_code, response.get_data(as_text=True)[:300])
    return response


MATTER = {"kind": "dispute", "channel": "hotline_12345", "category": "property_mgmt", "place": "西关社区5号楼",
          "summary": "12345转办：物业停水三天未处理。", "claims": "尽快恢复供水", "people_count": 3,
          "risk_level": "blue", "parties": [{"role": "applicant", "name": "王五", "id_type": "resident_id",
                                             "id_number": "110101198001011234", "phone": "13600136000"}]}


# ---- NUL characters ------------------------------------------------------------------------------

def test_nul_in_every_field_of_the_intake_form(login_as, session_factory, intake_post):
    client = login_as("clerk")
    before = stored(session_factory)
    for name in intake_post:
        response = client.post("/matters/new", data={**intake_post, name: intake_post[name] + "\x00"})
        assert response.status_code == 400, name
        assert "NUL" in text(response), name
    # A NUL in a field's name is refused the same way.
    assert client.post("/matters/new", data={**intake_post, "summary\x00": "x"}).status_code == 400
    assert stored(session_factory) == before


def test_nul_in_a_task_form_and_the_english_message(login_as, filed_case, session_factory):
    from tests.engine.helpers import MEDIATION_SUCCESS
    _case_id, task_id, _version = filed_case()
    client = login_as("mediator")
    before = stored(session_factory)
    for name in MEDIATION_SUCCESS:
        response = client.post(f"/tasks/{task_id}", data={**MEDIATION_SUCCESS, name: "调解\x00"})
        assert response.status_code == 400 and "不允许的空字符（NUL）" in text(response), name
    english = client.post(f"/tasks/{task_id}", data={**MEDIATION_SUCCESS, "agreement_terms": "x\x00"},
                          headers={"Accept-Language": "en"})
    assert "A form field contains a NUL character" in text(english)
    assert stored(session_factory) == before


@pytest.mark.parametrize("role, path", [
    ("clerk", "/cases?q=%00"), ("clerk", "/cases?q=张%00三"), ("clerk", "/cases?status=%00"),
    ("clerk", "/cases?category=x%00"), ("clerk", "/cases?handler=%00"), ("auditor", "/audit/cases?q=%00"),
    ("supervisor", "/supervision/?stage=%00"), ("supervisor", "/supervision/?assignee=%00"),
    ("supervisor", "/supervision/dashboard.csv?table=%00"), ("supervisor", "/supervision/indicators?by=%00"),
    ("designer", "/designer/versions/1?file=%00"), ("designer", "/designer/edit/%00.bpmn"),
    ("designer", "/designer/forms/%00.json"), ("clerk", "/tasks?x%00=1"),
])
def test_nul_in_query_parameters_and_paths(login_as, role, path):
    response = login_as(role).get(path)
    assert response.status_code == 400, response.status_code
    assert "NUL" in text(response)


def test_nul_in_the_residents_follow_page_and_the_login_form(client, session_factory, filed_case):
    filed_case()
    assert client.post("/follow", data={"code": "MT2026\x00", "phone": "13800138000"}).status_code == 400
    assert client.post("/login", data={"username": "clerk\x00", "password": "x"}).status_code == 400


@pytest.mark.parametrize("field", ["summary", "name", "phone", "code", "kept", "other-0-name", "summary\x00"])
def test_nul_in_the_residents_filing_page_stores_nothing(client, session_factory, field):
    """The QR filing page (no login): NUL in any field or in a file's name is a 400 before the view,
    and no code, file or submission is written."""
    from engine.persistence.models import Attachment, PhoneCode, Submission
    from tests import files
    form = {"choice": "neighbour", "summary": "楼上漏水泡坏天花板", "place": "东关村", "claims": "赔偿",
            "name": "刘大妈", "phone": "13912345678", "action": "send_code"}
    form[field] = "x\x00y"
    response = client.post("/r/C01-Q-CG-DG", data=form, content_type="multipart/form-data")
    assert response.status_code == 400 and "NUL" in text(response)
    named = client.post("/r/C01-Q-CG-DG", content_type="multipart/form-data",
                        data={**form, field: "ok", "files": [(io.BytesIO(files.jpeg()), "a\x00.jpg")]})
    assert named.status_code == 400
    assert [count(session_factory, model) for model in (PhoneCode, Attachment, Submission)] == [0, 0, 0]


@pytest.mark.parametrize("body", [
    {**MATTER, "summary": "物业\u0000停水"},
    {**MATTER, "parties": [{**MATTER["parties"][0], "name": "王\u0000五"}]},
    {**MATTER, "summary\u0000": "x"},
    {**MATTER, "not_a_field": "\u0000"},
])
def test_nul_in_a_json_body(client, session_factory, body):
    before = stored(session_factory)
    response = client.post("/api/v1/matters", json=body, headers=bearer(api_token(session_factory)))
    assert response.status_code == 400
    assert "NUL" in response.get_json()["error"] and "空字符" in response.get_json()["error_zh"]
    assert stored(session_factory) == before


def test_nul_in_the_api_path(client, session_factory):
    response = client.get("/api/v1/cases/MT%00", headers=bearer(api_token(session_factory)))
    assert response.status_code == 400 and "NUL" in response.get_json()["error"]


def test_nul_in_designer_posts(login_as, session_factory):
    client = login_as("designer")
    before = stored(session_factory)
    intake = (ROOT / "bpmn" / "intake.bpmn").read_text(encoding="utf-8")
    assert client.post("/designer/edit/intake.bpmn/draft", data={"xml": intake[:200] + "\x00" + intake[200:]}).status_code == 400
    form = (ROOT / "forms" / "visit.json").read_text(encoding="utf-8")
    for route in ("preview", "publish"):
        # Typed as a character, and written as the JSON escape \u0000 that parses into one.
        assert client.post(f"/designer/forms/visit.json/{route}", data={"text": form + "\x00"}).status_code == 400
        escaped = no_error_page(client.post(f"/designer/forms/visit.json/{route}",
                                            data={"text": form.replace("回访", "回\\u0000访", 1)}))
        assert "NUL" in escaped.get_json()["problems"][0]
    assert stored(session_factory) == before


# ---- lone surrogates -------------------------------------------------------------------------------

@pytest.mark.parametrize("raw", [
    '"summary": "\\ud800"', '"summary": "a\\udfff b"', '"\\ud83d": 1', '"place": "\\ud83d\\ud83d"',
])
def test_lone_surrogates_in_a_json_body(client, session_factory, raw):
    body = json.dumps(MATTER, ensure_ascii=False)[:-1] + ", " + raw + "}"
    before = stored(session_factory)
    response = client.post("/api/v1/matters", data=body.encode("utf-8"), content_type="application/json",
                           headers=bearer(api_token(session_factory)))
    assert response.status_code == 400
    assert "surrogate" in response.get_json()["error"]
    assert stored(session_factory) == before
    # A pair of surrogate escapes is one ordinary character, and taken.
    paired = json.dumps({**MATTER, "summary": "物业停水 😀"}, ensure_ascii=True)  # written as \ud83d\ude00
    assert client.post("/api/v1/matters", data=paired, content_type="application/json",
                       headers=bearer(api_token(session_factory))).status_code == 201


def test_lone_surrogates_in_the_form_editor(login_as, session_factory):
    client = login_as("designer")
    form = (ROOT / "forms" / "visit.json").read_text(encoding="utf-8")
    versions = count(session_factory, ProcessVersion)
    for route in ("preview", "publish"):
        answer = no_error_page(client.post(f"/designer/forms/visit.json/{route}",
                                           data={"text": form.replace("回访", "回\\udc00访", 1)}))
        assert "surrogate" in answer.get_json()["problems"][0]
    assert count(session_factory, ProcessVersion) == versions


def test_engine_refuses_unstorable_text_in_form_data():
    """Callers without the web layer (the engine's own verbs) get the same refusal, per field."""
    from engine.library import catalog, forms
    _diagrams, texts = catalog.read_folder(ROOT / "bpmn", ROOT / "forms")
    intake = forms.parse_form("intake.json", texts["intake.json"])
    errors = forms.validate(intake, {"summary": "a\x00", "place": "\ud800", "parties": [{"name": "x\x00"}],
                                     "people_count": 10 ** 30})
    assert str(errors["summary"]).startswith("contains a NUL") and "surrogate" in str(errors["place"])
    assert "parties-0-name" in errors and str(errors["people_count"]) == "The number is not valid or too large"


# ---- deep JSON ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("depth", [41, 1_000, 100_000])
def test_deep_json_to_the_api(client, session_factory, depth):
    nested = "[" * depth + "]" * depth
    for body in (nested, json.dumps(MATTER)[:-1] + ', "summary": ' + nested + "}"):
        before = stored(session_factory)
        response = client.post("/api/v1/matters", data=body, content_type="application/json",
                               headers=bearer(api_token(session_factory)))
        assert response.status_code == 400
        assert "nested more than 40 levels" in response.get_json()["error"]
        assert stored(session_factory) == before
    # Within the limit, extra nesting in a field the form does not have is simply dropped.
    allowed = {**MATTER, "not_in_the_form": json.loads("[" * 38 + "]" * 38)}
    assert client.post("/api/v1/matters", json=allowed, headers=bearer(api_token(session_factory))).status_code == 201


@pytest.mark.parametrize("depth", [41, 100_000])
def test_deep_json_in_the_form_editor_and_its_preview(login_as, session_factory, depth):
    client = login_as("designer")
    nested = "[" * depth + "]" * depth
    form = json.loads((ROOT / "forms" / "visit.json").read_text(encoding="utf-8"))
    text_ = json.dumps(form, ensure_ascii=False)[:-1] + ', "x-deep": ' + nested + "}"
    versions = count(session_factory, ProcessVersion)
    preview = no_error_page(client.post("/designer/forms/visit.json/preview", data={"text": text_}))
    assert "nested more than 40 levels" in preview.get_json()["problems"][0]
    publish = client.post("/designer/forms/visit.json/publish", data={"text": nested})
    assert publish.status_code == 422 and "nested more than 40 levels" in publish.get_json()["problems"][0]
    assert count(session_factory, ProcessVersion) == versions


@pytest.mark.parametrize("raw", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_numbers_json_has_not_are_refused(client, session_factory, raw):
    body = json.dumps(MATTER)[:-1] + ', "people_count": ' + raw + "}"
    before = stored(session_factory)
    response = client.post("/api/v1/matters", data=body, content_type="application/json",
                           headers=bearer(api_token(session_factory)))
    assert response.status_code == 400 and response.get_json()["error"]
    assert stored(session_factory) == before


def test_malformed_json_is_a_clear_400(client, session_factory):
    response = client.post("/api/v1/matters", data=b'{"kind": ', content_type="application/json",
                           headers=bearer(api_token(session_factory)))
    assert response.status_code == 400 and "not valid JSON" in response.get_json()["error"]


# ---- integers beyond the database's range ------------------------------------------------------------

def _int_routes(app):
    for rule in app.url_map.iter_rules():
        if any(type(c).__name__ == "BoundedInt" or c.regex == r"\d+" for c in rule._converters.values()):
            yield rule


@pytest.mark.parametrize("number", [HUGE, PAST_INT32, "9" * 400])
def test_every_integer_route_takes_no_number_beyond_the_database(app, login_as, session_factory, number):
    rules = list(_int_routes(app))
    assert len(rules) >= 20
    before = stored(session_factory)
    for rule in rules:
        values = {name: (number if name in rule._converters and rule._converters[name].regex == r"\d+"
                         else "bpmn/intake.bpmn") for name in rule.arguments}
        path = rule.rule
        for name, value in values.items():
            path = path.replace(f"<int:{name}>", value).replace(f"<path:{name}>", value).replace(f"<{name}>", value)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            for role in ROLES:
                response = getattr(login_as(role), method.lower())(path)
                assert response.status_code == 404, (method, path, role, response.status_code)
    assert stored(session_factory) == before


@pytest.mark.parametrize("role, path", [
    ("clerk", "/cases?page={n}"), ("clerk", "/cases?unit={n}"), ("auditor", "/audit/cases?page={n}"),
    ("auditor", "/audit/cases?unit={n}"), ("supervisor", "/supervision/?page={n}"),
    ("supervisor", "/supervision/?unit={n}"), ("supervisor", "/supervision/?assignee={n}"),
    ("supervisor", "/supervision/dashboard?unit={n}"), ("supervisor", "/supervision/dashboard.csv?unit={n}"),
    ("supervisor", "/supervision/indicators?unit={n}"), ("supervisor", "/supervision/indicators.csv?unit={n}"),
    ("designer", "/designer/compare?a={n}&b={n}"), ("designer", "/designer/compare?a=1&b={n}"),
])
@pytest.mark.parametrize("number", [HUGE, "-" + HUGE, "9" * 400])
def test_integer_query_parameters_beyond_the_database(login_as, role, path, number):
    response = login_as(role).get(path.format(n=number))
    assert response.status_code in (400, 404), response.status_code
    if response.status_code == 400:
        assert "超出范围" in text(response) and number.lstrip("-")[:20] in text(response)


def test_a_non_number_in_an_assignee_filter_is_a_400(login_as):
    assert login_as("supervisor").get("/supervision/?assignee=²").status_code == 400


def test_integer_form_fields_beyond_the_database(login_as, filed_case, session_factory, intake_post):
    case_id, task_id, version_id = filed_case()
    before = stored(session_factory)
    posts = [
        ("supervisor", f"/supervision/tasks/{task_id}/assign", {"user_id": HUGE, "note": "转交"}),
        ("clerk", f"/cases/{case_id}/assign", {"unit_id": HUGE, "note": "指派"}),
        ("supervisor", f"/tasks/{task_id}/deadline/extend", {"days": HUGE, "reason": "x", "approver": "y"}),
        ("designer", f"/designer/versions/{version_id}/migrate", {"case_id": HUGE}),
        ("clerk", "/matters/new", {**intake_post, "repeat_decision": f"link:{HUGE}"}),
        ("clerk", "/matters/new", {**intake_post, "repeat_decision": "link:²"}),
        ("admin", "/admin/users/new", {"username": "hostile_int", "display_name": "x", "unit_id": HUGE,
                                       "password": "long enough password 1", "roles": "clerk"}),
    ]
    for role, path, data in posts:
        response = login_as(role).post(path, data=data)
        assert response.status_code == 400, (path, response.status_code)
    assert stored(session_factory) == before


@pytest.mark.parametrize("query", ["from=0001-01-01", "to=9999-12-31", "from=0001-01-01&to=9999-12-31"])
def test_dates_at_the_edge_of_the_calendar_in_searches_and_periods(login_as, query):
    for role, path in (("clerk", "/cases"), ("auditor", "/audit/cases"), ("supervisor", "/supervision/indicators"),
                       ("supervisor", "/supervision/indicators.csv")):
        assert no_error_page(login_as(role).get(f"{path}?{query}")).status_code == 200, (path, query)


# ---- diagrams the parser cannot take -----------------------------------------------------------------

def _upload(client, name, data):
    import io
    return client.post("/designer/upload", data={"diagram": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


MEDIATION = (ROOT / "bpmn" / "mediation.bpmn").read_text(encoding="utf-8")
COURT_LINK = (ROOT / "bpmn" / "court_link.bpmn").read_text(encoding="utf-8")


def _utf16(path):
    body = Path(path).read_text(encoding="utf-8").replace('encoding="UTF-8"', 'encoding="UTF-16"')
    return body.encode("utf-16")


@pytest.mark.parametrize("name, data, message", [
    ("intake.bpmn", _utf16(ROOT / "bpmn" / "intake.bpmn"), "UTF-16"),
    ("triage.dmn", _utf16(ROOT / "bpmn" / "triage.dmn"), "UTF-16"),
    ("triage.dmn", (ROOT / "bpmn" / "triage.dmn").read_text(encoding="utf-8").encode("utf-16-be"), "UTF-16"),
    ("triage.dmn", (ROOT / "bpmn" / "triage.dmn").read_text(encoding="utf-8").encode("gb18030"), "not UTF-8"),
    ("triage.dmn", (ROOT / "bpmn" / "triage.dmn").read_bytes().replace(b"<definitions xmlns=", b"<foo:definitions xmlns:foo=")
     .replace(b"</definitions>", b"</foo:definitions>"), "prefix foo:"),
    ("triage.dmn", (ROOT / "bpmn" / "triage.dmn").read_bytes().replace(
        b"https://www.omg.org/spec/DMN/20191111/MODEL/", b"http://example.com/not-dmn"), "not a DMN decision table"),
    ("triage.dmn", b'<?xml version="1.0"?><definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" '
                   b'id="d" name="d" namespace="x"/>', "holds no decision"),
    # Longer than the database keeps (tasks.title, tasks.spec_id, tasks.legal_basis on PostgreSQL).
    ("mediation.bpmn", MEDIATION.replace('name="人民调解"', f'name="{"调" * 201}"').encode(), "name is 201 characters"),
    ("mediation.bpmn", MEDIATION.replace("Task_mediate", "Task_" + "m" * 96).encode(), "id is 101 characters"),
    ("mediation.bpmn", MEDIATION.replace("人民调解工作若干规定（司法部令第75号，2002年11月1日施行）第三十三条；期间计算：民法典（2021年1月1日施行）第二百零一条至第二百零三条", "条" * 201).encode(), "legalBasis is 201 characters"),
    # An extension no date can hold, or digits int() cannot read.
    *[("court_link.bpmn", COURT_LINK.replace('name="maxExtensionDays" value="10"', f'name="maxExtensionDays" value="{days}"')
       .encode(), "maxExtensionDays must be a whole number of days") for days in ("99999999999", "²", "3651")],
])
def test_diagrams_the_parser_cannot_take_are_named(login_as, session_factory, name, data, message):
    client = login_as("designer")
    before = stored(session_factory)
    response = _upload(client, name, data)
    assert response.status_code == 422
    problems = text(response)
    assert message in problems and name in problems, problems[:2000]
    assert stored(session_factory) == before


# ---- a body over the limit -------------------------------------------------------------------------

def test_an_api_body_over_the_limit_is_a_json_413(app, client, session_factory):
    limit = app.config["MAX_CONTENT_LENGTH"]
    body = json.dumps({**MATTER, "summary": "长" * (limit // 3 + 10)}, ensure_ascii=False).encode("utf-8")
    response = client.post("/api/v1/matters", data=body, content_type="application/json",
                           headers=bearer(api_token(session_factory)))
    assert response.status_code == 413
    assert response.content_type.startswith("application/json")
    assert "4 MB" in response.get_json()["error"] and "4 MB" in response.get_json()["error_zh"]
    assert count(session_factory, Case) == 0


def test_a_page_body_over_the_limit_is_a_page_413(app, login_as, intake_post):
    limit = app.config["MAX_CONTENT_LENGTH"]
    response = login_as("clerk").post("/matters/new", data={**intake_post, "summary": "x" * (limit + 1)})
    assert response.status_code == 413 and "4 MB" in text(response)


def test_other_api_errors_are_json_too(client, session_factory):
    missing = client.get("/api/v1/nothing-here")
    assert missing.status_code == 404 and missing.get_json()["error"] == "Not found."
    wrong_method = client.delete("/api/v1/matters", headers=bearer(api_token(session_factory)))
    assert wrong_method.status_code == 405 and wrong_method.get_json()["error"]

