"""Issue 9, part 2: a designer's pattern can never freeze the server. Patterns run on RE2 (time
linear in the input); a pattern RE2 cannot run is refused at check and publish, the field named."""
import json
import os
import shutil
import subprocess
import sys
import threading

import pytest

from engine.library import catalog, forms
from engine.messages import in_chinese
from tests.conftest import ROOT
from tests.web.support import count, text
from tests.kinds import SEEDED

# Each of these takes exponential time in a backtracking engine on a near-miss input.
CATASTROPHIC = [
    r"^(a+)+$", r"^(a|a)+$", r"^(a|aa)+$", r"^(a*)*$", r"^(\w+\s?)*$", r"^([a-zA-Z0-9]+)*@x\.com$",
    r"^(\d+)*$", r"^(.*a){20}$", r"^(x+x+)+y$", r"^((ab)*|a)*c$",
]
NEAR_MISS = {r"^(\d+)*$": "1" * 10_000 + "x", r"^(\w+\s?)*$": "a " * 5_000 + "!", r"^(x+x+)+y$": "x" * 10_000}
# RE2 cannot run these in linear time (or at all): backreferences, lookaround, huge repetitions.
REFUSED = [r"^(a)\1$", r"^(?=.*\d).+$", r"^(?!x).+$", r"(?<=a)b", r"^a{2000}$", r"^(?P<x>a)(?P=x)$"]


def _form(pattern, field="code"):
    return json.dumps({"title": "测试", "schema": {"type": "object", "properties": {
        "parties": {"type": "array", "title": "当事人", "items": {"type": "object", "properties": {
            field: {"type": "string", "title": "编号", "pattern": pattern}}}},
        field: {"type": "string", "title": "编号"}}}}, ensure_ascii=False, indent=2)


def answer_within(call, seconds=60):
    """The call's result, from a thread given `seconds` to answer: a backtracking engine would
    still be busy after minutes; a linear one answers at once. (A bound on hanging, not a timing.)"""
    found = []
    worker = threading.Thread(target=lambda: found.append(call()), daemon=True)
    worker.start()
    worker.join(seconds)
    assert found, "no answer: the pattern is backtracking"
    return found[0]


def linear(pattern):
    """The validator's compiled pattern is RE2's (checked first: a backtracking one would hang the test)."""
    import re2
    assert isinstance(forms.compile_pattern(pattern), re2._Regexp)


@pytest.mark.parametrize("pattern", CATASTROPHIC)
def test_catastrophic_patterns_answer_on_ten_thousand_characters(pattern):
    linear(pattern)
    form = forms.parse_form("t.json", _form(pattern))
    typed = NEAR_MISS.get(pattern, "a" * 10_000 + "!")
    errors = answer_within(lambda: forms.validate(form, {"code": "x", "parties": [{"code": typed}]}))
    why = errors["parties-0-code"]
    assert str(why) == "The format is not right" and in_chinese(why) == "格式不正确"


def test_python_re_is_never_used_for_a_pattern(monkeypatch):
    """Were jsonschema's own `re` still used for pattern, patternProperties or the regex format, these would raise."""
    import jsonschema._format
    import jsonschema._keywords
    import jsonschema._utils

    class NoBacktracking:
        def __getattr__(self, name):
            raise AssertionError(f"re.{name} was called")

    for module in (jsonschema._keywords, jsonschema._utils, jsonschema._format):
        monkeypatch.setattr(module, "re", NoBacktracking())
    schema = {"title": "t", "schema": {"type": "object", "properties": {
        "code": {"type": "string", "title": "c", "pattern": "^[A-Z]{2}\\d+$"},
        "rule": {"type": "string", "title": "r", "format": "regex"},
        "extra": {"type": "object", "title": "e", "patternProperties": {"^x_": {"type": "integer"}},
                  "additionalProperties": False}}}}
    form = forms.parse_form("t.json", json.dumps(schema))
    assert forms.validate(form, {"code": "AB12", "rule": "^a+$", "extra": {"x_a": 1}}) == {}
    errors = forms.validate(form, {"code": "ab", "rule": "(a)\\1", "extra": {"x_a": "no", "y": 1}})
    assert set(errors) == {"code", "rule", "extra-x_a", "extra"}


def test_ecma_unicode_escapes_still_work():
    linear("^[\\u4e00-\\u9fa5]{2,4}$")
    form = forms.parse_form("t.json", _form("^[\\u4e00-\\u9fa5]{2,4}$"))
    assert forms.validate(form, {"parties": [{"code": "张三"}]}) == {}
    assert "parties-0-code" in forms.validate(form, {"parties": [{"code": "zhang"}]})


def test_the_library_patterns_behave_as_before():
    _diagrams, texts = catalog.read_folder(ROOT / "bpmn", ROOT / "forms")
    intake = forms.parse_form("intake.json", texts["intake.json"])
    for _path, node in forms._subschemas(intake.schema):
        if "pattern" in node:
            linear(node["pattern"])
    good = {"parties": [{"phone": "13800138000", "id_number": "11010119900307123X", "id_type": "resident_id"}]}
    errors = forms.validate(intake, good)
    assert "parties-0-phone" not in errors and "parties-0-id_number" not in errors, errors
    bad = forms.validate(intake, {"parties": [{"phone": "12345", "id_number": "1101", "id_type": "resident_id"}]})
    assert bad["parties-0-phone"][1] == "Enter an 11-digit mobile number or a landline with area code"
    assert bad["parties-0-id_number"][1] == "A resident ID number has 18 characters"


@pytest.mark.parametrize("pattern", REFUSED)
def test_a_pattern_re2_cannot_run_is_refused_with_the_field_named(pattern):
    drafts, problems = catalog.compile_library(*_library_with_form("visit.json", _visit_with_pattern(pattern)), SEEDED)
    assert drafts == []
    found = [str(p) for p in problems if "forms/visit.json" in str(p)]
    assert found
    assert 'field "feedback"' in found[0] and "cannot be used" in found[0] and "RE2" in found[0], found


def _visit_with_pattern(pattern):
    definition = json.loads((ROOT / "forms" / "visit.json").read_text(encoding="utf-8"))
    definition["schema"]["properties"]["feedback"]["pattern"] = pattern
    return json.dumps(definition, ensure_ascii=False, indent=2)


def _library_with_form(key, body):
    diagrams, texts = catalog.read_folder(ROOT / "bpmn", ROOT / "forms")
    texts[key] = body
    return diagrams, texts


def test_run_py_check_refuses_a_backreference_naming_the_field(tmp_path, schema):
    shutil.copytree(ROOT / "forms", tmp_path / "forms")
    (tmp_path / "forms" / "visit.json").write_text(_visit_with_pattern(r"^(\w)\1$"), encoding="utf-8")
    result = subprocess.run([sys.executable, "run.py", "check", "--forms", str(tmp_path / "forms")], cwd=ROOT,
                            capture_output=True, text=True, timeout=300, env=dict(os.environ, DATABASE_URL=schema))
    assert result.returncode == 1
    line = next(line for line in result.stdout.splitlines() if "forms/visit.json" in line)
    assert 'field "feedback"' in line and "backreferences" in line
    # The line named is the pattern's own.
    number = int(line.split(":")[1])
    assert r'"pattern": "^(\\w)\\1$"' in (tmp_path / "forms" / "visit.json").read_text(encoding="utf-8").splitlines()[number - 1]


def test_publishing_a_lookahead_is_refused_in_the_form_editor(login_as, session_factory):
    from engine.persistence.models import ProcessVersion
    client = login_as("designer")
    versions = count(session_factory, ProcessVersion)
    refused = client.post("/designer/forms/visit.json/publish", data={"text": _visit_with_pattern(r"^(?=.*\d).+$")})
    assert refused.status_code == 422
    assert any('field "feedback"' in p and "lookaround" in p for p in refused.get_json()["problems"])
    preview = client.post("/designer/forms/visit.json/preview", data={"text": _visit_with_pattern(r"(a)\1")})
    assert preview.status_code == 200 and 'field "feedback"' in preview.get_json()["problems"][0]
    assert count(session_factory, ProcessVersion) == versions


def test_a_published_catastrophic_pattern_cannot_freeze_a_clerk(login_as, session_factory, intake_post):
    """The issue's own case: a designer publishes ^(a+)+$ for a field, a clerk types a near miss."""
    from engine.persistence.models import Case
    linear("^(a+)+$")
    definition = json.loads((ROOT / "forms" / "intake.json").read_text(encoding="utf-8"))
    definition["schema"]["properties"]["place"]["pattern"] = "^(a+)+$"
    designer = login_as("designer")
    published = designer.post("/designer/forms/intake.json/publish",
                              data={"text": json.dumps(definition, ensure_ascii=False)})
    assert published.status_code == 200, published.get_json()
    clerk = login_as("clerk")
    typed = {**intake_post, "place": "a" * 199 + "!"}
    response = answer_within(lambda: clerk.post("/matters/new", data=typed))
    assert response.status_code == 422
    assert "格式不正确" in text(response) and "a" * 199 + "!" in response.get_data(as_text=True)
    assert count(session_factory, Case) == 0
