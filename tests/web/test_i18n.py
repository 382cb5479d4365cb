"""One way to write a text people read: English msgids in the code, Chinese in the catalogue
webui/translations/zh/LC_MESSAGES/messages.po. Every text the code marks has its Chinese; the
compiled catalogue is the .po's; a reader sees one language, never "中文 / English"."""
import ast
import re

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from engine.messages import Msg, in_chinese
from tests.conftest import ROOT
from tests.engine.helpers import MEDIATION_SUCCESS, complete
from tests.web.support import text

PO = ROOT / "webui/translations/zh/LC_MESSAGES/messages.po"
# Babel's default keywords (_, gettext, ngettext, pgettext, N_...) and this project's own.
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "pgettext": ((1, "c"), 2), "N_": None, "Msg": None,
            "_l": None, "lazy_gettext": None}
CJK = re.compile(r"[\u4e00-\u9fff]")


def _catalogue():
    with PO.open("rb") as f:
        return read_po(f, locale="zh")


@pytest.fixture(scope="module")
def extracted():
    with (ROOT / "babel.cfg").open() as f:
        method_map, options_map = parse_mapping_cfg(f)
    found = {}
    for filename, _line, message, _comments, context in extract_from_dir(str(ROOT), method_map, options_map,
                                                                         keywords=KEYWORDS):
        found[(message[0] if isinstance(message, tuple) else message, context)] = filename
    return found


def test_every_marked_text_has_its_chinese(extracted):
    catalogue = _catalogue()
    missing = sorted(f"{where}: {msgid!r}" for (msgid, context), where in extracted.items()
                     if not (catalogue.get(msgid, context) and all(_strings(catalogue.get(msgid, context)))))
    assert not missing, "run /work/i18n_convert.py add EN ZH for:\n" + "\n".join(missing)
    assert len(extracted) > 500


def test_the_catalogue_holds_no_fuzzy_unused_or_malformed_entries(extracted):
    catalogue = _catalogue()
    entries = [m for m in catalogue if m.id]
    assert not [m.id for m in entries if m.fuzzy]
    used = set(extracted)
    assert not [m.id for m in entries if ((m.id if isinstance(m.id, str) else m.id[0]), m.context) not in used]
    # Placeholders agree (%(name)s in both), and no translation has a bare % that Jinja's
    # formatting would trip on.
    problems = [(m.id, errors) for m in entries for errors in [m.check(catalogue)] if errors]
    assert not problems
    bare = [m.id for m in entries for s in _strings(m) if re.search(r"%(?!\(\w+\)[sd]|%)", s)]
    assert not bare


def _key(msgid):
    return tuple(msgid) if isinstance(msgid, (list, tuple)) else msgid


def _strings(message):
    return list(message.string) if isinstance(message.string, (list, tuple)) else [message.string]


def test_the_compiled_catalogue_is_the_po():
    """`make translations` (and the tests' conftest) compile the .po; what gettext reads is what the .po says."""
    with PO.with_suffix(".mo").open("rb") as f:
        compiled = {(_key(m.id), m.context): tuple(_strings(m)) for m in read_mo(f) if m.id}
    written = {(_key(m.id), m.context): tuple(_strings(m)) for m in _catalogue() if m.id}
    assert compiled == written
    assert in_chinese(Msg("Already claimed by %(who)s", who="李四")) == "该任务已由 李四 认领"


def _python_texts(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef)) and node.body
                  and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    return [node.value for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings]


# Data, not texts for the catalogue: the demo's units and people, the Chinese lane names diagrams
# use, and the name the system signs its actions with in the history.
DATA_MODULES = {"engine/demo.py", "engine/access/policy.py"}


def test_python_code_writes_texts_once_in_english():
    offenders = []
    for path in sorted([*(ROOT / "engine").rglob("*.py"), *(ROOT / "webui").glob("*.py")]):
        name = str(path.relative_to(ROOT))
        for value in _python_texts(path):
            if CJK.search(value) and name not in DATA_MODULES:
                offenders.append(f"{name}: {value[:60]!r}")
    assert not offenders, "give these an English msgid (see /work/i18n_convert.md):\n" + "\n".join(offenders)


def test_templates_use_gettext_not_pairs():
    pair = re.compile(r"(?<![\w.])(t|pick)\(")
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "webui/templates").rglob("*.html")
                 if pair.search(p.read_text(encoding="utf-8"))]
    assert not offenders


def _english(client):
    assert client.post("/lang/en").status_code in (302, 303)


def test_a_conflict_reads_in_english_alone(client, login_as, filed_case, session_factory):
    case_id, task_id, _version = filed_case()
    login_as("mediator")
    _english(client)
    session = session_factory()
    try:
        complete(session, "mediator", case_id, "Task_mediate", MEDIATION_SUCCESS)
    finally:
        session.close()
    late = client.post(f"/tasks/{task_id}", data=MEDIATION_SUCCESS)
    assert late.status_code == 409
    shown = text(late)
    assert "This task was already completed by 李调解" in shown
    assert "该任务已由" not in shown and " / " not in shown.split("already completed")[0][-40:]


def test_a_conflict_reads_in_chinese_by_default(client, login_as, filed_case, session_factory):
    case_id, task_id, _version = filed_case()
    login_as("mediator")
    session = session_factory()
    try:
        complete(session, "mediator", case_id, "Task_mediate", MEDIATION_SUCCESS)
    finally:
        session.close()
    shown = text(client.post(f"/tasks/{task_id}", data=MEDIATION_SUCCESS))
    assert "该任务已由 李调解（县人民调解委员会） 办理" in shown and "already completed" not in shown


@pytest.mark.parametrize("english", [True, False])
def test_form_errors_read_in_one_language(client, login_as, english):
    login_as("clerk")
    if english:
        _english(client)
    refused = client.post("/matters/new", data={"summary": ""})
    assert refused.status_code == 422
    shown = text(refused)
    if english:
        assert "This field is required" in shown and "此项为必填项" not in shown
        assert "fields need attention" in shown and not CJK.search(shown.split("fields need attention")[0][-80:])
    else:
        assert "此项为必填项" in shown and "This field is required" not in shown


def test_the_api_answers_in_both_languages_apart(client):
    refused = client.get("/api/v1/no-such-thing")
    assert refused.status_code == 404
    assert refused.json == {"error": "Not found.", "error_zh": "找不到该页面或记录。"}
