"""Grid workers on the web: granted only at a village with a grid of that village, grids made and
renamed by the administrator (in the account history), and a grid worker who sees only their own
grid's cases and steps."""
import re
import uuid

import pytest
import sqlalchemy as sa

from engine.persistence.models import AccountEvent, AuditEvent, Case, Grid, OrgUnit, User
from tests.engine.helpers import CLOSE, MEDIATION_SUCCESS, WINDOW_NO
from tests.web.support import complete_steps, open_task_id, page, reading, text

CHECK = {"checked_on": "2026-09-10", "performance": "kept"}


def _unit(factory, code):
    with reading(factory) as s:
        return s.scalar(sa.select(OrgUnit.id).where(OrgUnit.code == code))


def _grid(factory, code):
    with reading(factory) as s:
        return s.scalar(sa.select(Grid.id).where(Grid.code == code))


@pytest.fixture
def made(session_factory):
    """Logins and grids a test makes, removed afterwards (with their account history)."""
    names, grid_names = [], []
    yield names, grid_names
    with reading(session_factory) as s:
        for user in s.scalars(sa.select(User).where(User.username.in_(names))):
            s.execute(sa.delete(AccountEvent).where(AccountEvent.user_id == user.id))
            s.delete(user)
        s.execute(sa.delete(AccountEvent).where(AccountEvent.kind.in_(("grid_created", "grid_renamed"))))
        s.execute(sa.delete(Grid).where(Grid.name.in_(grid_names)))
        s.commit()


def _new_login(client, username, unit_id, grid_id, roles=("grid_worker",)):
    return client.post("/admin/users/new", data={
        "username": username, "display_name": "测试网格员", "unit_id": unit_id, "roles": list(roles),
        "password": "grid-pass-1", "active": "on", "grid_id": grid_id if grid_id is not None else ""})


def test_a_grid_worker_sits_at_a_village_with_a_grid_of_that_village(login_as, session_factory, made):
    names, _grids = made
    client = login_as("admin")
    dongguan, chengguan = _unit(session_factory, "C01-Q-CG-DG"), _unit(session_factory, "C01-Q-CG")
    xiguan_grid = _grid(session_factory, "C01-Q-CG-XG-G01")
    first = _grid(session_factory, "C01-Q-CG-DG-G01")
    names.extend(["gw_nogrid", "gw_other", "gw_town", "gw_ok"])
    refused = _new_login(client, "gw_nogrid", dongguan, None)
    assert refused.status_code == 422 and "网格员须属于本村（社区）的一个网格" in text(refused)
    # Another village's grid is no grid of this one.
    refused = _new_login(client, "gw_other", dongguan, xiguan_grid)
    assert refused.status_code == 422 and "网格员须属于本村（社区）的一个网格" in text(refused)
    # What was typed stays on the page.
    assert page(refused).xpath('//select[@name="grid_id"]/option[@selected]/@value') == [str(xiguan_grid)]
    refused = _new_login(client, "gw_town", chengguan, first)
    assert refused.status_code == 422 and "网格员只设在村（社区）" in text(refused)
    assert _new_login(client, "gw_ok", dongguan, first).status_code == 302
    with reading(session_factory) as s:
        user = s.scalar(sa.select(User).where(User.username == "gw_ok"))
        assert (sorted(user.roles), user.grid_id) == (["grid_worker"], first)
        assert s.scalars(sa.select(User.username).where(User.username.in_(names[:3]))).all() == []
        event = s.scalar(sa.select(AccountEvent).where(AccountEvent.user_id == user.id))
        assert event.detail["grid"] == "东关村第一网格"
    # Moving them to the second grid is in the history; a clerk keeps no grid.
    second = _grid(session_factory, "C01-Q-CG-DG-G02")
    with reading(session_factory) as s:
        user_id = s.scalar(sa.select(User.id).where(User.username == "gw_ok"))
    moved = client.post(f"/admin/users/{user_id}", data={"display_name": "测试网格员", "unit_id": dongguan,
                                                        "roles": ["grid_worker"], "active": "on", "grid_id": second})
    assert moved.status_code == 302
    became_clerk = client.post(f"/admin/users/{user_id}", data={"display_name": "测试网格员", "unit_id": dongguan,
                                                               "roles": ["clerk"], "active": "on", "grid_id": second})
    assert became_clerk.status_code == 302
    with reading(session_factory) as s:
        assert s.get(User, user_id).grid_id is None
        changes = [e.detail.get("grid") for e in s.scalars(sa.select(AccountEvent).where(
            AccountEvent.user_id == user_id, AccountEvent.kind == "user_changed").order_by(AccountEvent.id))]
    assert changes == [["东关村第一网格", "东关村第二网格"], ["东关村第二网格", None]]
    history = text(client.get("/admin/"))
    assert "东关村第一网格 → 东关村第二网格" in history


def test_the_administrator_makes_and_renames_grids(login_as, session_factory, made):
    _names, grids = made
    client = login_as("admin")
    dongguan = _unit(session_factory, "C01-Q-CG-DG")
    name = f"东关村测试网格{uuid.uuid4().hex[:6]}"
    grids.extend([name, name + "乙"])
    made_it = client.post("/admin/grids", data={"unit_id": dongguan, "name": name})
    assert made_it.status_code == 302
    listed = page(client.get("/admin/grids"))
    assert name in listed.xpath('string(//table[@id="grids"])')
    # The same name again, a township, nothing chosen: refused with a message, the name kept.
    again = client.post("/admin/grids", data={"unit_id": dongguan, "name": f" {name} "})
    assert again.status_code == 422 and "本村（社区）已有同名网格" in text(again)
    town = client.post("/admin/grids", data={"unit_id": _unit(session_factory, "C01-Q-CG"), "name": "镇网格"})
    assert town.status_code == 422 and "请选择村（社区）" in text(town)
    assert page(town).xpath('//input[@id="g-name"]/@value') == ["镇网格"]
    assert client.post("/admin/grids", data={"name": "无单位"}).status_code == 422
    assert client.post("/admin/grids", data={"unit_id": dongguan, "name": "长" * 101}).status_code == 422
    with reading(session_factory) as s:
        grid_id = s.scalar(sa.select(Grid.id).where(Grid.name == name))
        assert s.scalar(sa.select(sa.func.count()).select_from(Grid).where(Grid.name == "镇网格")) == 0
    renamed = client.post(f"/admin/grids/{grid_id}", data={"name": name + "乙"})
    assert renamed.status_code == 302
    with reading(session_factory) as s:
        assert s.get(Grid, grid_id).name == name + "乙"
        kinds = [(e.kind, e.detail["grid"]) for e in s.scalars(sa.select(AccountEvent).where(
            AccountEvent.kind.in_(("grid_created", "grid_renamed"))).order_by(AccountEvent.id))]
    assert kinds[-2:] == [("grid_created", name), ("grid_renamed", [name, name + "乙"])]
    history = text(client.get("/admin/"))
    assert "建立网格" in history and f"{name} → {name}乙" in history
    # A grid outside one's units is not found; a grid worker has no admin pages.
    assert client.post("/admin/grids/999999", data={"name": "x"}).status_code == 404
    assert login_as("grid_dg").get("/admin/grids").status_code == 403


def test_an_administrator_of_one_village_cannot_touch_another_village_s_grids(login_as, session_factory, made):
    _names, grids = made
    with reading(session_factory) as s:
        from engine.access import accounts, passwords
        if s.scalar(sa.select(User.id).where(User.username == "admin_dg_grid")) is None:
            accounts.create_user(s, "admin_dg_grid", passwords.hash_password("demo1234"), "东关村管理员",
                                 _unit(session_factory, "C01-Q-CG-DG"), ["admin"])
            s.commit()
    made[0].append("admin_dg_grid")
    client = login_as("admin_dg_grid")
    xiguan = _grid(session_factory, "C01-Q-CG-XG-G01")
    assert client.post(f"/admin/grids/{xiguan}", data={"name": "改名"}).status_code == 404
    refused = client.post("/admin/grids", data={"unit_id": _unit(session_factory, "C01-Q-CG-XG"), "name": "越权网格"})
    assert refused.status_code == 422
    listed = page(client.get("/admin/grids")).xpath('string(//table[@id="grids"])')
    assert "东关村第一网格" in listed and "西关社区第一网格" not in listed


@pytest.fixture
def grid_case(session_factory, filed_case):
    """A 东关村 case of its first grid, mediated with an agreement: its check waits for the grid."""
    def make(grid_code="C01-Q-CG-DG-G01"):
        case_id, _task, _version = filed_case("clerk_dg")
        with reading(session_factory) as s:
            s.get(Case, case_id).grid_id = _grid(session_factory, grid_code)
            s.commit()
        complete_steps(session_factory, case_id, ("mediator_cg", "Task_mediate", MEDIATION_SUCCESS),
                       ("mediator_cg", "Task_confirm_window", WINDOW_NO))
        return case_id, open_task_id(session_factory, case_id, "Task_agreement_check")
    return make


def test_a_grid_worker_sees_their_grid_and_nothing_else(login_as, make_client, session_factory, filed_case, grid_case):
    theirs, check = grid_case()
    others, other_check = grid_case("C01-Q-CG-DG-G02")
    plain, _task, _version = filed_case("clerk_dg")
    client = login_as("grid_dg")
    home = page(client.get("/grid/"))
    links = home.xpath('//section[@id="tasks"]//a/@href')
    assert links == [f"/tasks/{check}"]
    assert "东关村第一网格" in home.xpath("string(//div[@class='phone-head'])")
    found = page(client.get("/cases")).xpath('//a[contains(@href, "/cases/")]/@href')
    assert f"/cases/{theirs}" in found and f"/cases/{others}" not in found and f"/cases/{plain}" not in found
    assert client.get(f"/cases/{theirs}").status_code == 200
    for forbidden in (f"/cases/{others}", f"/cases/{plain}", f"/cases/{plain}/receipt", f"/tasks/{other_check}"):
        assert client.get(forbidden).status_code == 403, forbidden
    # Nor can they claim or submit the other grid's step by posting to it.
    assert client.post(f"/tasks/{other_check}/claim").status_code == 403
    assert client.post(f"/tasks/{other_check}", data=CHECK).status_code == 403
    assert open_task_id(session_factory, others, "Task_agreement_check") == other_check
    # Their own step: the form, submitted; the case goes on to closing.
    assert client.get(f"/tasks/{check}").status_code == 200
    done = client.post(f"/tasks/{check}", data=CHECK)
    assert done.status_code == 302
    assert open_task_id(session_factory, theirs, "Task_close") is not None
    # The other grid's worker finds the other case and step, and not this one.
    other = make_client("grid_dg2")
    assert page(other.get("/grid/")).xpath('//section[@id="tasks"]//a/@href') == [f"/tasks/{other_check}"]
    assert other.get(f"/cases/{theirs}").status_code == 403
    # A grid worker files nothing at the window, supervises nothing, administers nothing.
    for path in ("/matters/new", "/supervision/", "/admin/", "/audit/cases", "/designer/"):
        assert client.get(path).status_code == 403, path


def test_a_grid_worker_sees_parties_phones_of_their_own_grid_s_case(login_as, grid_case):
    theirs, _check = grid_case()
    body = text(login_as("grid_dg").get(f"/cases/{theirs}"))
    # They visit the parties at home: the phone is shown to them in full.
    assert "13800138000" in body


def test_grid_pages_need_the_csrf_token(schema, session_factory):
    from webui import create_app
    app = create_app({"SQLALCHEMY_DATABASE_URI": schema, "TESTING": True, "WTF_CSRF_ENABLED": True})
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    assert client.post("/login", data={"username": "admin", "password": "demo1234", "csrf_token": token}).status_code == 302
    dongguan = _unit(session_factory, "C01-Q-CG-DG")
    assert client.post("/admin/grids", data={"unit_id": dongguan, "name": "无令牌网格"}).status_code == 400
    first = _grid(session_factory, "C01-Q-CG-DG-G01")
    assert client.post(f"/admin/grids/{first}", data={"name": "无令牌改名"}).status_code == 400
    with reading(session_factory) as s:
        assert s.get(Grid, first).name == "东关村第一网格"
        assert s.scalar(sa.select(Grid.id).where(Grid.name == "无令牌网格")) is None


def test_a_clerk_places_a_case_in_a_grid_and_its_worker_then_sees_it(login_as, session_factory, filed_case):
    case_id, _task, _version = filed_case("clerk_dg")
    first, xiguan = _grid(session_factory, "C01-Q-CG-DG-G01"), _grid(session_factory, "C01-Q-CG-XG-G01")
    worker = login_as("grid_dg")
    assert worker.get(f"/cases/{case_id}").status_code == 403
    # A grid worker places nothing; a grid of another village is refused with a message.
    assert worker.post(f"/grid/cases/{case_id}/grid", data={"grid_id": first}).status_code == 403
    clerk = login_as("clerk_dg")
    offered = page(clerk.get(f"/cases/{case_id}")).xpath('//form[contains(@class, "grid-place")]//option/@value')
    assert str(first) in offered and str(xiguan) not in offered
    refused = clerk.post(f"/grid/cases/{case_id}/grid", data={"grid_id": xiguan}, follow_redirects=True)
    assert "请选择本案所属单位或其下级单位的网格" in text(refused)
    placed = clerk.post(f"/grid/cases/{case_id}/grid", data={"grid_id": first})
    assert placed.status_code == 302
    with reading(session_factory) as s:
        assert s.get(Case, case_id).grid_id == first
        [detail] = s.scalars(sa.select(AuditEvent.detail).where(AuditEvent.case_id == case_id,
                                                                 AuditEvent.kind == "grid_set")).all()
    assert detail == {"grid": "东关村第一网格", "before": None}
    assert login_as("grid_dg").get(f"/cases/{case_id}").status_code == 200
    # Taken out of the grid again: the worker no longer finds it.
    assert login_as("clerk_dg").post(f"/grid/cases/{case_id}/grid", data={"grid_id": ""}).status_code == 302
    assert login_as("grid_dg").get(f"/cases/{case_id}").status_code == 403
