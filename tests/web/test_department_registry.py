"""Department kinds an administrator adds (issue 13 §1): the top unit's administrator adds a kind,
a county administrator stations it at the county center and makes its login, a diagram naming it
publishes (one naming an unknown kind does not), the whistle summons it and its login gets the
report step; a kind in use is not deactivated. Every change is in the account history."""
import pytest
import sqlalchemy as sa

from engine.persistence.models import AccountEvent, DepartmentKind, OrgUnit, Task, User
from tests.conftest import wipe_cases
from tests.web.support import diagram_with, page, reading, text, upload, whistle_step

CODE = "women_fed"
NAME = "妇联"


def _forget(session_factory):
    """What the tests below made in the registry (not wiped between tests): its logins, units, kind, history."""
    wipe_cases(session_factory)
    with reading(session_factory) as session:
        units = session.scalars(sa.select(OrgUnit.id).where(OrgUnit.department_kind == CODE)).all()
        users = session.scalars(sa.select(User).where(User.org_unit_id.in_(units))).all() if units else []
        for user in users:
            session.execute(sa.delete(AccountEvent).where(AccountEvent.user_id == user.id))
            session.delete(user)
        session.flush()
        if units:
            session.execute(sa.delete(OrgUnit).where(OrgUnit.id.in_(units)))
        session.execute(sa.delete(AccountEvent).where(AccountEvent.kind.like("department_%")))
        session.execute(sa.delete(DepartmentKind).where(DepartmentKind.code == CODE))
        session.commit()


@pytest.fixture
def fresh_registry(session_factory):
    _forget(session_factory)
    yield
    _forget(session_factory)


def _kind(session_factory, code=CODE):
    with reading(session_factory) as session:
        return session.scalar(sa.select(DepartmentKind).where(DepartmentKind.code == code))


def _add(client, code=CODE, name=NAME, name_en="Women's federation", service=""):
    return client.post("/admin/departments", data={"code": code, "name": name, "name_en": name_en, "service": service})


def test_the_top_administrator_adds_a_kind_and_a_county_administrator_stations_it(
        client, login_as, session_factory, fresh_registry):
    login_as("admin")
    # A county administrator sees the registry and stations kinds, but every unit shares the kinds.
    listing = client.get("/admin/departments")
    assert listing.status_code == 200 and "人民法院" in text(listing) and "法律援助中心" in text(listing)
    assert not page(listing).xpath('//form[@id="new-kind"]')
    assert _add(client).status_code == 403 and _kind(session_factory) is None

    login_as("city_admin")
    bad = _add(client, code="Women Fed", name="")
    assert bad.status_code == 422 and "以字母开头" in text(bad) and _kind(session_factory) is None
    assert _add(client).status_code == 302
    kind = _kind(session_factory)
    assert (kind.name, kind.name_en, kind.active, kind.service) == (NAME, "Women's federation", True, None)
    assert _add(client, code="women_fed2").status_code == 422  # the same name twice

    login_as("admin")
    county = session_factory().scalar(sa.select(OrgUnit.id).where(OrgUnit.code == "C01-Q"))
    stationed = client.post(f"/admin/departments/{kind.id}/station", data={"center_id": county})
    assert stationed.status_code == 302 and "/admin/users/new?unit_id=" in stationed.headers["Location"]
    with reading(session_factory) as session:
        unit = session.scalar(sa.select(OrgUnit).where(OrgUnit.department_kind == CODE))
        assert (unit.name, unit.level, unit.path.startswith("/1/2/")) == ("清河县妇联", "department", True)
    # Once is enough at one center.
    again = client.post(f"/admin/departments/{kind.id}/station", data={"center_id": county}, follow_redirects=True)
    assert "已入驻" in text(again)
    # The new-login form opens on the department's unit with its one role ticked.
    form = page(client.get(stationed.headers["Location"]))
    assert form.xpath(f'//select[@name="unit_id"]/option[@selected]/@value') == [str(unit.id)]
    assert form.xpath('//input[@name="roles"][@checked]/@value') == ["department"]
    made = client.post("/admin/users/new", data={"username": "dept_women_fed", "display_name": "妇联（入驻县中心）",
                                                 "unit_id": unit.id, "roles": ["department"], "password": "s3cret-pass",
                                                 "active": "on"})
    assert made.status_code == 302
    with reading(session_factory) as session:
        kinds = session.scalars(sa.select(AccountEvent.kind).where(AccountEvent.kind.like("department_%"))
                                .order_by(AccountEvent.id)).all()
    assert kinds == ["department_kind_added", "department_stationed"]
    history = text(client.get("/admin/departments"))
    assert "新增部门类别" in history and "入驻中心" in history


def test_a_diagram_naming_the_new_kind_publishes_and_an_unknown_kind_is_refused(
        client, login_as, session_factory, fresh_registry):
    login_as("designer")
    swap = ('<spiffworkflow:property name="department" value="police" />',
            f'<spiffworkflow:property name="department" value="{CODE}" />')
    diagram = diagram_with("mediation.bpmn", swap)
    refused = upload(client, diagram, "mediation.bpmn")
    assert refused.status_code == 422
    assert f'department &#34;{CODE}&#34; is not a kind of the department registry' in refused.get_data(as_text=True) or \
        f'department "{CODE}" is not a kind of the department registry' in text(refused)
    login_as("city_admin")
    assert _add(client).status_code == 302
    login_as("designer")
    assert upload(client, diagram, "mediation.bpmn").status_code == 302
    login_as("city_admin")
    kind = _kind(session_factory)
    # Named by the published library: deactivating it is refused, with the diagram named.
    refusal = client.post(f"/admin/departments/{kind.id}/active", data={"active": "0"}, follow_redirects=True)
    assert "bpmn/mediation.bpmn" in text(refusal) and _kind(session_factory).active


def test_the_whistle_summons_a_new_kind_whose_login_gets_the_report_step(
        client, login_as, session_factory, fresh_registry, app):
    login_as("city_admin")
    assert _add(client).status_code == 302
    kind = _kind(session_factory)
    login_as("admin")
    with reading(session_factory) as session:
        county = session.scalar(sa.select(OrgUnit.id).where(OrgUnit.code == "C01-Q"))
    client.post(f"/admin/departments/{kind.id}/station", data={"center_id": county})
    with reading(session_factory) as session:
        unit = session.scalar(sa.select(OrgUnit.id).where(OrgUnit.department_kind == CODE))
    assert client.post("/admin/users/new", data={"username": "dept_women_fed", "display_name": "妇联（入驻县中心）",
                                                 "unit_id": unit, "roles": ["department"], "password": "s3cret-pass",
                                                 "active": "on"}).status_code == 302
    case_id, whistle = whistle_step(session_factory)
    login_as("supervisor")
    form = page(client.get(f"/tasks/{whistle}"))
    options = form.xpath('//select[@name="summons-0-department"]/option/@value')
    assert CODE in options and "legal_aid" in options and "court" in options
    assert form.xpath(f'//select[@name="summons-0-department"]/option[@value="{CODE}"]/text()') == [NAME]
    posted = client.post(f"/tasks/{whistle}", data={
        "summons-0-department": CODE, "summons-0-assignment": "关注妇女儿童权益",
        "summons-1-department": "housing", "summons-1-assignment": "核查房屋质量问题",
        "report_days": "3", "whistle_reason": "涉及多个部门职责，需联合会诊。"})
    assert posted.status_code == 302
    with reading(session_factory) as session:
        report = session.scalar(sa.select(Task).where(Task.case_id == case_id, Task.spec_id == "Task_report",
                                                      Task.org_unit_id == unit))
        assert report is not None and report.title.endswith(f"（{NAME}）")
        report_id = report.id
    other = app.test_client()
    assert other.post("/login", data={"username": "dept_women_fed", "password": "s3cret-pass"}).status_code == 302
    assert f"（{NAME}）" in text(other.get("/tasks"))
    assert other.get(f"/tasks/{report_id}").status_code == 200
    # A kind still holding open steps is not deactivated.
    login_as("city_admin")
    refusal = client.post(f"/admin/departments/{kind.id}/active", data={"active": "0"}, follow_redirects=True)
    assert "个待办环节" in text(refusal) and _kind(session_factory).active


def test_a_deactivated_kind_is_no_longer_offered(client, login_as, session_factory, fresh_registry):
    login_as("city_admin")
    assert _add(client).status_code == 302
    kind = _kind(session_factory)
    off = client.post(f"/admin/departments/{kind.id}/active", data={"active": "0"})
    assert off.status_code == 302 and not _kind(session_factory).active
    _case_id, whistle = whistle_step(session_factory)
    login_as("supervisor")
    assert CODE not in page(client.get(f"/tasks/{whistle}")).xpath('//select[@name="summons-0-department"]/option/@value')
    refused = client.post(f"/tasks/{whistle}", data={
        "summons-0-department": CODE, "summons-0-assignment": "关注妇女儿童权益",
        "summons-1-department": "housing", "summons-1-assignment": "核查房屋质量问题",
        "report_days": "3", "whistle_reason": "涉及多个部门职责，需联合会诊。"})
    assert refused.status_code == 422
    login_as("city_admin")
    assert client.post(f"/admin/departments/{kind.id}/active", data={"active": "1"}).status_code == 302
    assert _kind(session_factory).active
    # Renaming: the registry's name is what pages show from then on.
    assert client.post(f"/admin/departments/{kind.id}", data={"name": "县妇女联合会", "name_en": "Women's federation",
                                                              "service": ""}).status_code == 302
    assert _kind(session_factory).name == "县妇女联合会"
    # A county administrator changes no kind.
    login_as("admin")
    assert client.post(f"/admin/departments/{kind.id}/active", data={"active": "0"}).status_code == 403
    assert client.post(f"/admin/departments/{kind.id}", data={"name": "x"}).status_code == 403
