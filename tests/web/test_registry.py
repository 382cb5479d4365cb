"""The registry of mediators and experts on the web: who reads it and who keeps it, adding and
changing a person with errors beside the fields and nothing typed lost, linking a login, the yearly
grading, deactivating, every change in the registry's history; and giving a mediation step to a
registered mediator from the case page."""
import sqlalchemy as sa

from engine.persistence.models import AccountEvent, Reminder, Resolver
from tests.web.support import events_of, page, reading, task_row, text, user_id


def _person(factory, name):
    with reading(factory) as s:
        return s.scalar(sa.select(Resolver).where(Resolver.name == name))


def _unit_id(factory, code):
    from engine.persistence.models import OrgUnit
    with reading(factory) as s:
        return s.scalar(sa.select(OrgUnit.id).where(OrgUnit.code == code))


def test_who_reads_and_who_keeps_the_registry(client, login_as):
    login_as("clerk")
    listed = client.get("/registry/")
    assert listed.status_code == 200
    assert "李明华" in text(listed) and "137****7001" not in text(listed) and "13700137001" in text(listed)
    assert not page(listed).xpath('//a[contains(@href, "/registry/new")]')
    assert client.get("/registry/new").status_code == 403
    assert client.post("/registry/new", data={"name": "某人", "kind": "lawyer"}).status_code == 403
    login_as("auditor")
    listed = client.get("/registry/")
    assert listed.status_code == 200 and "137****7001" in text(listed) and "13700137001" not in text(listed)
    for role in ("mediator", "designer", "dept_court", "grid_dg"):
        login_as(role)
        assert client.get("/registry/").status_code == 403, role
    for role in ("supervisor", "admin"):
        login_as(role)
        assert client.get("/registry/new").status_code == 200, role
    # A township's clerk sees its own unit's people, never the county's.
    login_as("clerk_cg")
    listed = text(client.get("/registry/"))
    assert "吴桂兰" in listed and "李明华" not in listed


def test_filters(client, login_as):
    login_as("supervisor")
    medical = text(client.get("/registry/?specialty=medical"))
    assert "刘建国" in medical and "李明华" not in medical
    experts = text(client.get("/registry/?kind=experts"))
    assert all(name in experts for name in ("林雅琴", "高卫东", "许静", "马振国"))
    assert "李明华" not in experts
    graded = text(client.get("/registry/?grade=level1"))
    assert "刘建国" in graded and "吴桂兰" not in graded
    assert "吴桂兰" in text(client.get("/registry/?q=城关镇"))


def test_add_with_errors_then_change_all_in_the_history(client, login_as, session_factory, registry_rows):
    login_as("supervisor")
    township = _unit_id(session_factory, "C01-Q-CG")
    bad = {"name": "", "kind": "mediator", "unit_id": str(township), "committee": "城关镇人民调解委员会",
           "phone": "12345", "specialties": ["neighbour", "astrology"], "note": "擅长邻里纠纷"}
    refused = client.post("/registry/new", data=bad)
    assert refused.status_code == 422
    form = page(refused)
    errors = " ".join(form.xpath('//p[@class="error"]/text()'))
    assert "请填写姓名" in errors or "姓名" in errors
    assert "专职或兼职" in errors and "手机号" in errors and "请从列表中选择" in errors
    # What was typed is all still there.
    assert form.xpath('//input[@name="committee"]/@value') == ["城关镇人民调解委员会"]
    assert form.xpath('//input[@name="phone"]/@value') == ["12345"]
    assert form.xpath('//input[@name="specialties"][@value="neighbour"]/@checked')
    assert form.xpath('//textarea[@name="note"]/text()') == ["擅长邻里纠纷"]
    assert _person(session_factory, "") is None

    good = dict(bad, name="钱调解", phone="139-0013-9000", employment="part_time", specialties=["neighbour"])
    saved = client.post("/registry/new", data=good)
    assert saved.status_code == 302
    person = _person(session_factory, "钱调解")
    assert (person.org_unit_id, person.phone, person.specialties, person.employment) == (
        township, "13900139000", ["neighbour"], "part_time")
    assert saved.headers["Location"].endswith(f"/registry/{person.id}")

    changed = client.post(f"/registry/{person.id}/edit", data=dict(good, phone="13900139001", team="西片"))
    assert changed.status_code == 302
    shown = client.get(f"/registry/{person.id}")
    history = page(shown).xpath('//section[@id="history"]')[0].text_content()
    assert "张督办（县中心）" in history and "139****9000" in history and "139****9001" in history
    assert "13900139001" not in history and "西片" in history
    with reading(session_factory) as s:
        kinds = [e.kind for e in s.scalars(sa.select(AccountEvent).where(
            AccountEvent.detail["resolver_id"].as_integer() == person.id).order_by(AccountEvent.id))]
    assert kinds == ["resolver_added", "resolver_changed"]
    # The auditor traces it too, with the phone masked.
    login_as("auditor")
    shown = client.get(f"/registry/{person.id}")
    assert shown.status_code == 200 and "139****9001" in text(shown) and "13900139001" not in text(shown)
    assert not page(shown).xpath('//form[@id="grade-form"]') and not page(shown).xpath('//form[@id="active-form"]')


def test_linking_a_login(client, login_as, session_factory, registry_rows):
    login_as("supervisor")
    township = _unit_id(session_factory, "C01-Q-CG")
    county = _unit_id(session_factory, "C01-Q")
    base = {"name": "试链接", "kind": "mediator", "employment": "full_time", "unit_id": str(township)}
    cases = [
        (user_id(session_factory, "clerk_cg"), "调解员角色"),          # no mediator role
        (user_id(session_factory, "mediator"), "本单位或下级单位"),    # the county's login, above the township
    ]
    for login, why in cases:
        refused = client.post("/registry/new", data=dict(base, user_id=str(login)))
        assert refused.status_code == 422 and why in text(refused), why
    taken = client.post("/registry/new", data=dict(base, unit_id=str(county), user_id=str(user_id(session_factory, "mediator"))))
    assert taken.status_code == 422 and "已关联李明华" in text(taken)
    # An expert may work with a resident department's login of the center.
    judge = client.post("/registry/new", data={"name": "试法官", "kind": "judge", "unit_id": str(county),
                                               "user_id": str(user_id(session_factory, "dept_court"))})
    assert judge.status_code == 422 and "已关联高卫东" in text(judge)


def test_yearly_grading(client, login_as, session_factory, registry_rows):
    login_as("supervisor")
    person = _person(session_factory, "吴桂兰")
    refused = client.post(f"/registry/{person.id}/grade", data={"year": "1890", "grade": "level9", "basis": "x"})
    assert refused.status_code == 422
    errors = " ".join(page(refused).xpath('//form[@id="grade-form"]//p[@class="error"]/text()'))
    assert "1990" in errors and "请从列表中选择" in errors and "评定依据" in errors
    assert page(refused).xpath('//form[@id="grade-form"]//input[@name="year"]/@value') == ["1890"]
    year = str(int(page(client.get(f"/registry/{person.id}")).xpath('//input[@name="year"]/@value')[0]) + 1)
    done = client.post(f"/registry/{person.id}/grade", data={"year": year, "grade": "level2",
                                                              "basis": "年度考核优秀，县协会评定"})
    assert done.status_code == 302
    assert _person(session_factory, "吴桂兰").grade == "level2"
    again = client.post(f"/registry/{person.id}/grade", data={"year": year, "grade": "level3", "basis": "更正"})
    assert again.status_code == 302
    shown = page(client.get(f"/registry/{person.id}"))
    years = shown.xpath('//section[@id="gradings"]//tbody/tr/td[1]/text()')
    assert years[0] == year and len(years) == len(set(years)) == 2
    history = shown.xpath('//section[@id="history"]')[0].text_content()
    assert "三级人民调解员" in history and "原为二级人民调解员" in history
    assert _person(session_factory, "吴桂兰").grade == "level3"
    lawyer = _person(session_factory, "林雅琴")
    refused = client.post(f"/registry/{lawyer.id}/grade", data={"year": year, "grade": "level1", "basis": "评定"},
                          follow_redirects=True)
    assert "只有人民调解员评定等级" in text(refused)
    login_as("clerk")
    assert client.post(f"/registry/{person.id}/grade", data={"year": year, "grade": "level1", "basis": "x"}).status_code == 403


def test_assigning_a_mediator_from_the_case_page(client, login_as, filed_case, session_factory, registry_rows):
    case_id, task_id, _version = filed_case()  # a neighbours' dispute mediated at the county
    login_as("clerk")
    section = page(client.get(f"/cases/{case_id}")).xpath('//section[@id="assign-mediator"]')
    assert section
    rows = section[0].xpath('.//tbody/tr')
    names = [row.xpath('string(.//label)').strip() for row in rows]
    # Takeable first, the specialty match before; the county's mediator without a login last, disabled.
    assert names[0] == "李明华" and names.index("刘建国") > 0 and names[-1] == "何志强"
    assert rows[0].xpath('.//span[contains(@class, "badge-match")]') and not rows[1].xpath('.//span[contains(@class, "badge-match")]')
    assert rows[-1].xpath('.//input[@disabled]') and "吴桂兰" not in names
    li = _person(session_factory, "李明华")
    done = client.post(f"/registry/tasks/{task_id}/assign", data={"resolver_id": li.id, "note": "擅长邻里纠纷"})
    assert done.status_code == 302 and done.headers["Location"].endswith(f"/cases/{case_id}#assign-mediator")
    assert task_row(session_factory, task_id).assignee_id == user_id(session_factory, "mediator")
    [event] = events_of(session_factory, case_id, kind="mediator_assigned")
    assert event.detail["resolver"] == "李明华" and event.detail["match"] is True and event.actor_name == "王受理（县中心窗口）"
    with reading(session_factory) as s:
        assert s.scalar(sa.select(Reminder.user_id).where(Reminder.task_id == task_id)) == li.user_id
    # Now held: the clerk no longer dispatches it; the supervisor may give it to someone else.
    assert not page(client.get(f"/cases/{case_id}")).xpath('//section[@id="assign-mediator"]')
    liu = _person(session_factory, "刘建国")
    assert client.post(f"/registry/tasks/{task_id}/assign", data={"resolver_id": liu.id}).status_code == 302
    assert task_row(session_factory, task_id).assignee_id == user_id(session_factory, "mediator")
    login_as("supervisor")
    client.post(f"/registry/tasks/{task_id}/assign", data={"resolver_id": liu.id})
    assert task_row(session_factory, task_id).assignee_id == user_id(session_factory, "mediator_med")
    # Someone with no login, or deactivated, cannot be given it.
    he = _person(session_factory, "何志强")
    refused = client.post(f"/registry/tasks/{task_id}/assign", data={"resolver_id": he.id}, follow_redirects=True)
    assert "该人员不能承办此环节" in text(refused)
    client.post(f"/registry/{li.id}/active", data={"active": "0", "note": "离职"})
    assert "李明华" not in text(client.get(f"/cases/{case_id}"))
    refused = client.post(f"/registry/tasks/{task_id}/assign", data={"resolver_id": li.id}, follow_redirects=True)
    assert "该人员不能承办此环节" in text(refused)
    assert "李明华" not in text(client.get("/registry/")) and "李明华" in text(client.get("/registry/?state=inactive"))
    # A mediator does not assign.
    login_as("mediator_med")
    assert client.post(f"/registry/tasks/{task_id}/assign", data={"resolver_id": liu.id}).status_code == 403


def test_a_township_case_offers_the_township_mediator(client, login_as, filed_case, session_factory):
    case_id, task_id, _version = filed_case("clerk_cg")
    login_as("clerk_cg")
    rows = page(client.get(f"/cases/{case_id}")).xpath('//section[@id="assign-mediator"]//tbody/tr')
    takeable = [row.xpath('string(.//label)').strip() for row in rows if not row.xpath('.//input[@disabled]')]
    assert takeable == ["吴桂兰"]
    assert "李明华" in [row.xpath('string(.//label)').strip() for row in rows]  # the county's, shown but not choosable
