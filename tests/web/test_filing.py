"""Filing a matter through /matters/new: errors beside the fields, typed values kept, and a
valid form opening a case the mediator then finds in the inbox."""
import re

from engine.persistence.models import Case
from tests.engine.helpers import INTAKE
from tests.web.support import case_id_from, count, events_of, page, tasks_of, text


def _bad_intake():
    post = dict(INTAKE)
    post.update({
        "risk_level": "blue",                    # kept as typed, like every other field
        "summary": "太短",                       # minLength 5
        "place": "",                             # required
        "people_count": "很多",                   # not a whole number
        "parties-1-phone": "12345",              # pattern
        "parties-1-id_number": "11010119851212",  # a resident ID has 18 characters
    })
    return post


def _error_beside(doc, key):
    """The error paragraph of a field and the input it belongs to, in the same field block."""
    error = doc.get_element_by_id(f"e-{key}")
    block = error.getparent()
    assert "field" in block.get("class").split() and "has-error" in block.get("class").split()
    assert block.xpath(f'.//*[@id="f-{key}"]'), f"the error for {key} is not beside its input"
    return error.text_content().strip()


def test_invalid_form_is_422_with_errors_beside_fields(client, login_as, session_factory):
    login_as("clerk")
    response = client.post("/matters/new", data=_bad_intake())
    assert response.status_code == 422
    doc = page(response)
    assert _error_beside(doc, "summary") == "至少填写 5 个字"
    assert _error_beside(doc, "place") == "此项为必填项"
    assert _error_beside(doc, "people_count") == "请输入整数"
    assert _error_beside(doc, "parties-1-phone") == "请输入11位手机号或带区号的固定电话"
    assert _error_beside(doc, "parties-1-id_number") == "居民身份证号码应为18位"
    assert "表单有 5 处需要修改" in text(response)
    assert doc.get_element_by_id("f-summary").get("aria-invalid") == "true"
    # Fields without errors carry no error.
    assert not doc.xpath('//*[@id="e-claims"]') and not doc.xpath('//*[@id="e-parties-0-phone"]')
    assert count(session_factory, Case) == 0


def test_invalid_form_keeps_what_was_typed(client, login_as):
    login_as("clerk")
    doc = page(client.post("/matters/new", data=_bad_intake()))

    def value(key):
        element = doc.get_element_by_id(f"f-{key}")
        if element.tag == "select":
            chosen = element.xpath("./option[@selected]")
            return chosen[0].get("value") if chosen else None
        if element.tag == "textarea":
            return element.text_content()
        return element.get("value")

    assert value("summary") == "太短"
    assert value("claims") == INTAKE["claims"]
    assert value("people_count") == "很多"
    assert value("kind") == "dispute" and value("channel") == "visit" and value("risk_level") == "blue"
    assert value("category") == "neighbour"
    # Both party rows come back, the second one included.
    rows = doc.xpath('//fieldset[@data-repeat="parties"]/div[@class="repeat-rows"]/div[@class="repeat-row"]')
    assert len(rows) == 2
    assert value("parties-0-name") == "张三" and value("parties-0-id_number") == "110101199003071234"
    assert value("parties-1-name") == "李四" and value("parties-1-role") == "respondent"
    assert value("parties-1-phone") == "12345" and value("parties-1-id_number") == "11010119851212"
    assert value("parties-1-id_type") == "resident_id"


def test_errors_are_in_english_when_asked(client, login_as):
    login_as("clerk")
    client.post("/lang/en", data={"next": "/matters/new"})
    doc = page(client.post("/matters/new", data=_bad_intake()))
    assert _error_beside(doc, "place") == "This field is required"
    assert _error_beside(doc, "summary") == "Enter at least 5 characters"


def test_missing_parties_is_reported_on_the_list(client, login_as):
    login_as("clerk")
    post = {k: v for k, v in INTAKE.items() if not k.startswith("parties-")}
    response = client.post("/matters/new", data=post)
    assert response.status_code == 422
    fieldset = page(response).xpath('//fieldset[@data-repeat="parties"]')[0]
    assert "has-error" in fieldset.get("class")
    assert "至少填写 1 项" in fieldset.text_content()


def test_valid_form_opens_the_case(client, login_as, session_factory):
    login_as("clerk")
    response = client.post("/matters/new", data=INTAKE)
    assert response.status_code == 302
    case_id = case_id_from(response)
    shown = client.get(response.headers["Location"])
    assert shown.status_code == 200
    body = text(shown)
    code = re.search(r"MT\d{14}", body).group(0)
    assert f"已登记，事项编号 {code}" in body
    assert "人民调解" in body and "张三、李四" in body
    with_case = [e.kind for e in events_of(session_factory, case_id)]
    assert with_case[0] == "case_started" and with_case.count("task_completed") == 1
    assert [t.spec_id for t in tasks_of(session_factory, case_id) if t.state == "ready"] == ["Task_mediate"]

    # The county mediator finds it waiting in the pool.
    login_as("mediator")
    inbox = client.get("/tasks")
    assert inbox.status_code == 200
    pool = page(inbox).xpath('//section[h2[contains(., "本单位待认领")]]')[0].text_content()
    assert code in pool and "人民调解" in pool
    mine = page(inbox).xpath('//section[h2[contains(., "由我承办")]]')[0].text_content()
    assert code not in mine


def test_the_form_page_shows_the_intake_form(client, login_as):
    login_as("clerk")
    response = client.get("/matters/new")
    assert response.status_code == 200
    doc = page(response)
    assert doc.xpath("//h1")[0].text_content().strip() == "受理登记"
    for key in ("kind", "channel", "summary", "parties-0-name", "parties-0-id_number", "risk_level"):
        assert doc.get_element_by_id(f"f-{key}") is not None
    assert not doc.xpath('//p[@class="error"]')


def test_the_clerks_inbox_lists_todays_filings_with_their_receipts(client, login_as):
    from tests.engine.helpers import INTAKE
    login_as("clerk")
    client.post("/matters/new", data=INTAKE)
    inbox = client.get("/tasks").get_data(as_text=True)
    assert "我今天登记的事项" in inbox and "/receipt" in inbox and "张三、李四" in inbox
    assert inbox.count("我今天登记的事项") == 1
    title = inbox.split("<title>", 1)[1].split("</title>", 1)[0]
    assert "<" not in title and "我的待办" in title
    login_as("clerk_cg")
    assert "我今天登记的事项" not in client.get("/tasks").get_data(as_text=True)
