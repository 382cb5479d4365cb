"""Powers stay within their scope (issue 9, part 3): every role granted by an administrator of
every level; nobody changes their own roles; a county administrator cannot take over the
library's designer; a designer below a center holds no library power; a designer's lists keep to
their units."""
import pytest
import sqlalchemy as sa

from engine.access import accounts, passwords
from engine.cases import migration, services
from engine.demo import DEMO_PASSWORD
from engine.errors import NotAllowed
from engine.persistence.models import AccountEvent, Case, Grid, OrgUnit, User
from engine.access.policy import ROLES
from tests.conftest import ROOT, wipe_cases
from tests.engine.helpers import actor, file_matter
from tests.web.support import case_row, diagram_with, latest_version_id, page, reading, text, upload, version_count

# username: (unit code, roles) made for these tests; the county administrator is the demo "admin".
PEOPLE = {
    "admin_city": ("C01", ["admin"]),
    "admin_cg": ("C01-Q-CG", ["admin"]),
    "admin_dg": ("C01-Q-CG-DG", ["admin"]),
    "designer_city": ("C01", ["designer"]),
    "designer_cg": ("C01-Q-CG", ["designer"]),   # made at a township before the rule existed
    "clerk_x": ("C01-X", ["clerk"]),             # a clerk in a sibling county
}
ADMINS = {"city": "admin_city", "county": "admin", "township": "admin_cg", "village": "admin_dg"}
ADMIN_UNIT = {"city": "C01", "county": "C01-Q", "township": "C01-Q-CG", "village": "C01-Q-CG-DG"}
LEVEL = {"C01": "city", "C01-Q": "county", "C01-Q-CG": "township", "C01-Q-CG-DG": "village",
         "C01-Q-D-court": "department", "C01-Q-LL": "township", "C01-Q-CG-XG": "village"}
# Where each administrator may place people (their unit and below), one unit per level.
TARGETS = {"city": ["C01", "C01-Q", "C01-Q-CG", "C01-Q-CG-DG", "C01-Q-D-court"],
           "county": ["C01-Q", "C01-Q-CG", "C01-Q-CG-DG", "C01-Q-D-court"],
           "township": ["C01-Q-CG", "C01-Q-CG-DG"], "village": ["C01-Q-CG-DG"]}

MONTH_TIMER = 'TimerDef_Timer_mediation_deadline">\n        <bpmn:timeDate>months(1)</bpmn:timeDate>'
TWENTY_DAY_TIMER = 'TimerDef_Timer_mediation_deadline">\n        <bpmn:timeDate>natural_days(20)</bpmn:timeDate>'


def expected(admin_level, unit_code, role):
    """The rule, written out: the design role only from the top unit's administrator to a city or
    county login; a department's unit holds the department role and nothing else."""
    if LEVEL[unit_code] == "department" or role == "department":
        return LEVEL[unit_code] == "department" and role == "department"
    if role == "designer":
        return admin_level == "city" and LEVEL[unit_code] in ("city", "county")
    if role == "grid_worker":
        return LEVEL[unit_code] == "village"
    return True


MATRIX = [(level, unit, role) for level, units in TARGETS.items() for unit in units for role in sorted(ROLES)]
# ... and units outside theirs (above, or beside), where nothing is granted.
OUTSIDE = [("county", "C01", "clerk"), ("township", "C01-Q", "clerk"), ("township", "C01-Q-LL", "clerk"),
           ("village", "C01-Q-CG", "clerk"), ("village", "C01-Q-CG-XG", "clerk"), ("township", "C01-Q-LL", "admin")]


def _unit_id(session, code):
    return session.scalar(sa.select(OrgUnit.id).where(OrgUnit.code == code))


def _drop_users(session, usernames):
    for user in session.scalars(sa.select(User).where(User.username.in_(usernames))):
        session.execute(sa.delete(AccountEvent).where(sa.or_(AccountEvent.user_id == user.id,
                                                             AccountEvent.actor_id == user.id)))
        session.delete(user)
    session.flush()


@pytest.fixture(scope="module")
def people(session_factory):
    """The administrators of every level, two designers, and a sibling county with a clerk."""
    with reading(session_factory) as s:
        _drop_users(s, list(PEOPLE))
        if _unit_id(s, "C01-X") is None:
            city = s.scalar(sa.select(OrgUnit).where(OrgUnit.code == "C01"))
            sibling = OrgUnit(code="C01-X", name="邻县", name_en="Next County", level="county", parent_id=city.id)
            s.add(sibling)
            s.flush()
            sibling.path = f"{city.path}{sibling.id}/"
        password_hash = passwords.hash_password(DEMO_PASSWORD)
        for username, (code, roles) in PEOPLE.items():
            accounts.create_user(s, username, password_hash, username, _unit_id(s, code), roles)
        s.commit()
    yield
    wipe_cases(session_factory)
    with reading(session_factory) as s:
        _drop_users(s, list(PEOPLE))
        s.execute(sa.delete(OrgUnit).where(OrgUnit.code == "C01-X"))
        s.commit()


@pytest.fixture
def made(session_factory):
    """User names the test creates, removed afterwards."""
    names = []
    yield names
    with reading(session_factory) as s:
        _drop_users(s, names)
        s.commit()


def _roles_of(factory, username):
    with reading(factory) as s:
        user = s.scalar(sa.select(User).where(User.username == username))
        return None if user is None else (sorted(user.roles), user.org_unit_id, user.active, user.password_hash)


# ---- the grant matrix ----------------------------------------------------------------------------

@pytest.mark.parametrize("admin_level,unit_code,role", MATRIX + OUTSIDE)
def test_grant_matrix(client, login_as, session_factory, people, made, admin_level, unit_code, role):
    username = f"g_{admin_level[:2]}_{LEVEL[unit_code][:3]}_{role}"[:30]
    made.append(username)
    with reading(session_factory) as s:
        unit = _unit_id(s, unit_code)
        # A grid worker is given a grid of their village (the demo's first of it, if it has one).
        grid = s.scalar(sa.select(Grid.id).where(Grid.org_unit_id == unit).order_by(Grid.code).limit(1))
    login_as(ADMINS[admin_level])
    response = client.post("/admin/users/new", data={"username": username, "display_name": "授权测试", "unit_id": unit,
                                                     "roles": [role], "password": "grant-pass-1", "active": "on",
                                                     "grid_id": grid or ""})
    created = _roles_of(session_factory, username)
    if unit_code not in TARGETS[admin_level]:
        assert response.status_code == 422 and created is None
        assert "请选择本单位或下级单位" in text(response)
    elif expected(admin_level, unit_code, role):
        assert response.status_code == 302 and created[:2] == ([role], unit)
    else:
        assert response.status_code == 422 and created is None
        assert "不能在该单位授予所选角色" in text(response)


def test_the_form_offers_only_the_roles_one_may_grant(client, login_as, people):
    login_as("admin")
    offered = page(client.get("/admin/users/new")).xpath('//input[@name="roles"]/@value')
    assert sorted(offered) == sorted(set(ROLES) - {"designer"})
    login_as("admin_city")
    offered = page(client.get("/admin/users/new")).xpath('//input[@name="roles"]/@value')
    assert sorted(offered) == sorted(ROLES)


# ---- nobody changes their own roles --------------------------------------------------------------

@pytest.mark.parametrize("admin_level", list(ADMINS))
def test_nobody_changes_their_own_roles_unit_or_state(client, login_as, session_factory, people, admin_level):
    username = ADMINS[admin_level]
    before = _roles_of(session_factory, username)
    with reading(session_factory) as s:
        me = s.scalar(sa.select(User).where(User.username == username))
        # A unit below (or, for the village, beside) their own.
        my_id, my_name = me.id, me.display_name
        elsewhere = _unit_id(s, "C01-Q-CG-XG" if admin_level == "village" else "C01-Q-CG-DG")
    login_as(username)
    own = {"display_name": my_name, "unit_id": before[1], "roles": ["admin"], "active": "on"}
    for change in ({"roles": ["admin", "supervisor"]}, {"roles": ["admin", "auditor", "designer", "supervisor"]},
                   {"roles": ["supervisor"]}, {"unit_id": elsewhere}, {"active": ""}):
        response = client.post(f"/admin/users/{my_id}", data=dict(own, **change))
        assert response.status_code == 422, change
        assert "不能更改自己的角色或单位" in text(response) or admin_level == "village", change
        assert _roles_of(session_factory, username) == before
    # Their own name, yes.
    assert client.post(f"/admin/users/{my_id}", data=dict(own, display_name=my_name + "·")).status_code == 302
    assert client.post(f"/admin/users/{my_id}", data=own).status_code == 302


def test_a_county_administrator_cannot_take_over_the_librarys_designer(client, login_as, session_factory, people):
    with reading(session_factory) as s:
        designer = s.scalar(sa.select(User).where(User.username == "designer"))
        designer_id, name, unit = designer.id, designer.display_name, designer.org_unit_id
    before = _roles_of(session_factory, "designer")
    login_as("admin")
    assert client.get(f"/admin/users/{designer_id}").status_code == 403
    for change in ({"password": "taken-over-1"}, {"roles": ["clerk"]}, {"active": ""}):
        form = dict({"display_name": name, "unit_id": unit, "roles": ["designer"], "active": "on"}, **change)
        assert client.post(f"/admin/users/{designer_id}", data=form).status_code == 403
    assert _roles_of(session_factory, "designer") == before
    # The top unit's administrator manages it.
    login_as("admin_city")
    assert client.get(f"/admin/users/{designer_id}").status_code == 200


# ---- a designer's powers and lists ---------------------------------------------------------------

def test_a_designer_below_a_center_holds_no_library_power(app, session_factory, people):
    client = app.test_client()
    assert client.post("/login", data={"username": "designer_cg", "password": DEMO_PASSWORD}).status_code == 302
    start = client.get("/")
    assert start.status_code == 403 and "没有可用的功能" in text(start)
    assert "流程设计" not in text(client.get("/cases"))
    version = latest_version_id(session_factory, "intake")
    versions_before = version_count(session_factory)
    for url in ("/designer/", f"/designer/versions/{version}", f"/designer/versions/{version}/migrate"):
        assert client.get(url).status_code == 403, url
    changed = diagram_with("mediation.bpmn", (MONTH_TIMER,
                                              TWENTY_DAY_TIMER))
    assert upload(client, changed, "mediation.bpmn").status_code == 403
    assert client.post("/designer/edit/mediation.bpmn/draft", data={"xml": changed}).status_code == 403
    assert version_count(session_factory) == versions_before
    with reading(session_factory) as s:
        township_designer = actor(s, "designer_cg")
        with pytest.raises(NotAllowed):
            services.publish_upload(s, township_designer, "mediation.bpmn", changed.encode(), ROOT / "bpmn", ROOT / "forms")
        with pytest.raises(NotAllowed):
            migration.dry_run(s, township_designer, version)


def test_the_migration_dry_run_and_move_keep_to_the_designers_units(client, login_as, session_factory, people):
    with reading(session_factory) as s:
        ours = file_matter(s, "clerk")
        theirs = file_matter(s, "clerk_x")
        ours_code, theirs_code, old_version = ours.code, theirs.code, ours.process_version_id
    assert theirs.process_version_id == old_version
    login_as("designer")
    changed = diagram_with("mediation.bpmn", (MONTH_TIMER,
                                              TWENTY_DAY_TIMER))
    assert upload(client, changed, "mediation.bpmn").status_code == 302
    new_version = latest_version_id(session_factory)
    listed = text(client.get(f"/designer/versions/{new_version}/migrate"))
    assert ours_code in listed and theirs_code not in listed
    counts = page(client.get("/designer/")).xpath("//table[@class='list']/tbody/tr/td[6]/text()")
    assert sum(int(c) for c in counts if c.strip().isdigit()) == 1, "the version list counts our units' cases only"
    moved = client.post(f"/designer/versions/{new_version}/migrate", data={"case_id": [str(ours.id), str(theirs.id)]})
    assert moved.status_code == 302
    assert case_row(session_factory, ours.id).process_version_id == new_version
    assert case_row(session_factory, theirs.id).process_version_id == old_version
    # The top unit's designer sees, and may move, both.
    login_as("designer_city")
    listed = text(client.get(f"/designer/versions/{new_version}/migrate"))
    assert theirs_code in listed
    with reading(session_factory) as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Case)) == 2
