"""The library check: XSD, the engine's parser and our lint, reported as file:line: message."""
import os
import re
import shutil
import subprocess
import sys

from engine.library import catalog
from engine.library.xmlsafe import UnsafeXml, parse_xml

from ..conftest import ROOT
from tests.kinds import SEEDED

INTAKE = (ROOT / "bpmn" / "intake.bpmn").read_bytes()
MEDIATION = (ROOT / "bpmn" / "mediation.bpmn").read_bytes()


def _check(replacements, form_texts=None, file="intake.bpmn", kinds=SEEDED):
    diagrams, forms = catalog.read_folder(ROOT / "bpmn", ROOT / "forms")
    text = diagrams[f"bpmn/{file}"].decode()
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new)
    diagrams[f"bpmn/{file}"] = text.encode()
    return catalog.compile_library(diagrams, form_texts or forms, kinds)


def test_repository_library_is_valid():
    drafts, problems = catalog.check_folder(ROOT / "bpmn", ROOT / "forms", SEEDED)
    assert problems == []
    # Every pathway is called from the one-window intake, so it is the only top-level process.
    assert [d.process_key for d in drafts] == ["intake"]
    intake = drafts[0]
    assert intake.meta["deadlines"]["Timer_mediation_deadline"]["legal_basis"] == "人民调解工作若干规定（司法部令第75号，2002年11月1日施行）第三十三条；期间计算：民法典（2021年1月1日施行）第二百零一条至第二百零三条"
    assert intake.meta["tasks"]["Task_mediate"] == {"name": "人民调解", "form": "mediation.json", "role": "mediator",
                                                    "department": None, "department_from": None,
                                                    "referrals": ["legal_aid", "counselling"], "dossier": None}
    assert intake.meta["tasks"]["Task_court_confirm"]["department"] == "court"
    assert intake.meta["tasks"]["Task_report"]["department_from"] == "summon.department"
    assert intake.meta["deadlines"]["Timer_medical_deadline"]["expression"] == "working_days(30)"
    assert intake.meta["deadlines"]["Timer_court_confirm"]["max_extension_days"] == 10
    # Every deadline of the library cites its legal basis.
    assert all(d["legal_basis"] for d in intake.meta["deadlines"].values())
    assert len(intake.meta["deadlines"]) >= 20


def test_deadline_without_legal_basis_is_a_problem_with_its_line():
    _drafts, problems = _check([('<spiffworkflow:property name="legalBasis" value="人民调解工作若干规定（司法部令第75号，2002年11月1日施行）第三十三条；期间计算：民法典（2021年1月1日施行）第二百零一条至第二百零三条" />', "")],
                               file="mediation.bpmn")
    assert len(problems) == 1
    line = next(n for n, l in enumerate(MEDIATION.decode().splitlines(), 1) if 'id="Timer_mediation_deadline"' in l)
    assert str(problems[0]) == (f"bpmn/mediation.bpmn:{line}: deadline Timer_mediation_deadline cites no legal basis "
                                "(property legalBasis)")


def test_missing_form_and_unknown_lane():
    _drafts, problems = _check([('value="visit.json"', 'value="nosuch.json"'), ('name="督办"', 'name="保洁"')],
                               file="close_followup.bpmn")
    messages = [p.message for p in problems]
    assert "user task Task_visit: form forms/nosuch.json does not exist" in messages
    assert any("Task_review" in m and "保洁" in m for m in messages)


def test_gateway_without_default_or_conditions():
    _drafts, problems = _check([(' default="Flow_route_consultation"', "")])
    assert any("Gateway_route has no default flow" in p.message for p in problems)


def test_a_deciding_gateway_is_named_as_a_question_without_ascii_marks():
    _drafts, problems = _check([('name="分流至何处？"', 'name="route?"'), ('id="Gateway_round" name="重新办理？"', 'id="Gateway_round" name="重新办理"')])
    messages = sorted(p.message for p in problems)
    assert messages == [
        'gateway Gateway_round decides between ways: name it as a question in Chinese ending in "？" (it is "重新办理")',
        'gateway Gateway_route ("route?"): ASCII ? in its name, write the full-width mark (？ ！ ： ； ，)']
    # A merging gateway need not ask anything, but keeps its marks full-width too.
    _drafts, problems = _check([('name="汇合"', 'name="汇合:"')])
    assert [p.message for p in problems] == [
        'gateway Gateway_merge ("汇合:"): ASCII : in its name, write the full-width mark (？ ！ ： ； ，)']


def test_every_deciding_gateway_of_the_library_asks_a_question():
    """Over bpmn/ itself: what the trace shows as the case's decisions reads as questions."""
    for path in sorted((ROOT / "bpmn").glob("*.bpmn")):
        root = parse_xml(path.read_bytes())
        for gateway in root.xpath(catalog._GATEWAYS, namespaces=catalog.NS):
            name = gateway.get("name") or ""
            assert name and name.isascii() is False, (path.name, gateway.get("id"))
            if len(gateway.xpath("./bpmn:outgoing", namespaces=catalog.NS)) > 1 and "parallel" not in gateway.tag:
                assert name.endswith("？") and "?" not in name, (path.name, gateway.get("id"), name)


def test_unsafe_condition_is_named():
    _drafts, problems = _check([('route == "mediation"', "__import__('os').system('id')")])
    assert any("condition of Flow_route_mediation is not allowed" in p.message for p in problems)


def test_unknown_department_and_unsafe_post_script():
    _drafts, problems = _check([('name="department" value="court"', 'name="department" value="temple"'),
                                ('</spiffworkflow:properties>\n      </bpmn:extensionElements>\n      <bpmn:incoming>Flow_court_accepted',
                                 '</spiffworkflow:properties>\n<spiffworkflow:postScript>x = open("/etc/passwd")</spiffworkflow:postScript>'
                                 '\n      </bpmn:extensionElements>\n      <bpmn:incoming>Flow_court_accepted')],
                               file="court_link.bpmn")
    messages = [p.message for p in problems]
    assert any('department "temple" is not a kind of the department registry (active kinds: labour, ' in m
               for m in messages)
    assert any(m.startswith("postScript is not allowed") and "open" in m for m in messages)


def test_the_check_reads_the_registry_it_is_given():
    """A kind an administrator added may be named; a deactivated one may not (the check is pure:
    the registry is passed in)."""
    from engine.access.department_kinds import Kind, Kinds
    swap = [('name="department" value="court"', 'name="department" value="education"')]
    with_education = Kinds([*SEEDED, Kind("education", "教育局", "Education bureau", None, True, 99)])
    assert _check(swap, file="court_link.bpmn", kinds=with_education)[1] == []
    retired = Kinds([*SEEDED, Kind("education", "教育局", "Education bureau", None, False, 99)])
    problems = _check(swap, file="court_link.bpmn", kinds=retired)[1]
    # The court's three steps (acceptance, confirmation, pre-filing mediation) now name the deactivated kind.
    assert [p.message.split(":")[0] for p in problems] == ["user task Task_court_accept", "user task Task_court_confirm",
                                                          "user task Task_prefiling"]
    assert all(p.file == "bpmn/court_link.bpmn" and 'department "education" is deactivated in the department registry'
               in p.message for p in problems)
    assert [p.message for p in _check(swap, file="court_link.bpmn")[1]][0].startswith(
        'user task Task_court_accept: department "education" is not a kind of')


def test_referrals_name_known_services():
    drafts, problems = _check([('name="referrals" value="legal_aid,counselling"', 'name="referrals" value="legal_aid,astrology"')],
                              file="court_link.bpmn")
    assert [p.message for p in problems] == [
        "user task Task_litigation: referrals to astrology are not services (one or more of legal_aid, counselling)"]
    drafts, problems = _check([])
    assert drafts[0].meta["tasks"]["Task_litigation"]["referrals"] == ["legal_aid", "counselling"]
    assert drafts[0].meta["tasks"]["Task_close"]["referrals"] == []


def test_an_id_used_in_two_diagrams_is_a_problem():
    _drafts, problems = _check([('id="Task_ruling_result"', 'id="Task_close"'),
                                ('targetRef="Task_ruling_result"', 'targetRef="Task_close"'),
                                ('sourceRef="Task_ruling_result"', 'sourceRef="Task_close"'),
                                ('bpmnElement="Task_ruling_result"', 'bpmnElement="Task_close"'),
                                ('<bpmn:flowNodeRef>Task_ruling_result<', '<bpmn:flowNodeRef>Task_close<')],
                               file="ruling.bpmn")
    assert [p.message for p in problems if p.file == "bpmn/ruling.bpmn"] == [
        "id Task_close is already used in bpmn/close_followup.bpmn"]


def test_malformed_xml_gives_a_line():
    _drafts, problems = _check([("</bpmn:process>", "</bpmn:proces>")])
    assert len(problems) == 1 and problems[0].line > 1 and "not well-formed" in problems[0].message


def test_dangling_flow_from_the_parser_is_located():
    _drafts, problems = _check([('targetRef="Task_triage"', 'targetRef="Task_nowhere"')])
    assert problems and all(p.file == "bpmn/intake.bpmn" for p in problems)


def test_xml_bomb_and_external_entities_are_refused():
    bomb = b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">' \
           b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]><definitions>&lol3;</definitions>'
    xxe = b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><definitions>&x;</definitions>'
    for data in (bomb, xxe):
        try:
            parse_xml(data)
        except UnsafeXml as exc:
            assert "DOCTYPE" in str(exc)
        else:
            raise AssertionError("accepted")


def test_run_py_check_exit_codes(tmp_path, schema):
    # The check reads the department registry from the (migrated) database.
    env = dict(os.environ, DATABASE_URL=schema)
    ok = subprocess.run([sys.executable, "run.py", "check"], cwd=ROOT, capture_output=True, text=True, env=env)
    assert ok.returncode == 0 and "intake" in ok.stdout
    broken = tmp_path / "bpmn"
    shutil.copytree(ROOT / "bpmn", broken)
    text = (broken / "close_followup.bpmn").read_text(encoding="utf-8")
    (broken / "close_followup.bpmn").write_text(text.replace('value="visit.json"', 'value="gone.json"'), encoding="utf-8")
    bad = subprocess.run([sys.executable, "run.py", "check", "--bpmn", str(broken)], cwd=ROOT,
                         capture_output=True, text=True, env=env)
    line = next(n for n, l in enumerate(text.splitlines(), 1) if 'id="Task_visit"' in l)
    assert bad.returncode == 1
    assert bad.stdout.splitlines() == [f"bpmn/close_followup.bpmn:{line}: user task Task_visit: form forms/gone.json does not exist"]


def test_form_definition_errors_have_lines():
    diagrams, forms = catalog.read_folder(ROOT / "bpmn", ROOT / "forms")
    forms = dict(forms)
    forms["visit.json"] = forms["visit.json"].replace('"title": "满意度", ', "")
    _drafts, problems = catalog.compile_library(diagrams, forms, SEEDED)
    assert len(problems) == 1
    assert re.match(r'forms/visit\.json:\d+: field "satisfaction" has no "title"', str(problems[0]))


def test_what_cannot_run_here_is_named_element_by_element():
    _drafts, problems = _check([
        ('<bpmn:userTask id="Task_supervise" name="超期督办">', '<bpmn:serviceTask id="Task_call" name="调用外部系统" />\n'
         '    <bpmn:userTask id="Task_supervise" name="超期督办">'),
        ('<bpmn:timerEventDefinition id="TimerDef_Timer_labour_deadline">',
         '<bpmn:messageEventDefinition id="Msg_x" />\n      <bpmn:timerEventDefinition id="TimerDef_Timer_labour_deadline">'),
    ], file="mediation.bpmn")
    messages = [p.message for p in problems]
    assert any(m.startswith('serviceTask Task_call ("调用外部系统") cannot run here: service tasks') for m in messages), messages
    assert any(m.startswith('boundaryEvent Timer_labour_deadline ("调解期限十五日") cannot run here: message events')
               for m in messages), messages
