"""The demo organisation and one login per role. Safe to run any number of times."""
from datetime import time

from sqlalchemy import select

from engine.access.accounts import create_user
from engine.access.passwords import hash_password
from engine.persistence.models import DepartmentKind, Grid, Meeting, OrgUnit, User
from engine.reading import meetings as meeting_days
from engine.persistence.uow import UnitOfWork

DEMO_PASSWORD = "demo1234"

# Residents per unit (the county's and a township's figures are their whole area's), for the
# indicators counted per 10,000 residents.
POPULATION = {"C01": 2_130_000, "C01-Q": 326_000, "C01-Q-CG": 86_400, "C01-Q-CG-DG": 3_260, "C01-Q-CG-XG": 12_480,
              "C01-Q-LL": 41_700, "C01-Q-LL-LL": 2_870, "C01-Q-LL-WZ": 1_940}

# code, name, English name, level, parent code
UNITS = [
    ("C01", "示范市", "Demo City", "city", None),
    ("C01-Q", "清河县", "Qinghe County", "county", "C01"),
    ("C01-Q-CG", "城关镇", "Chengguan Town", "township", "C01-Q"),
    ("C01-Q-CG-DG", "东关村", "Dongguan Village", "village", "C01-Q-CG"),
    ("C01-Q-CG-XG", "西关社区", "Xiguan Community", "village", "C01-Q-CG"),
    ("C01-Q-LL", "柳林镇", "Liulin Town", "township", "C01-Q"),
    ("C01-Q-LL-LL", "柳林村", "Liulin Village", "village", "C01-Q-LL"),
    ("C01-Q-LL-WZ", "王庄村", "Wangzhuang Village", "village", "C01-Q-LL"),
]

# Kinds the demo adds to the registry's initial thirteen (the migration's), as an administrator
# would: code, name, English name, the service parties are referred to.
KINDS = [
    ("legal_aid", "法律援助中心", "Legal aid center", "legal_aid"),
    ("counselling", "心理服务站", "Psychological service station", "counselling"),
    ("education", "教育局", "Education bureau", None),
]
# The kinds stationed at the county center, each a unit "县<name>" with one login "dept_<code>"; their
# names are the registry's.
STATIONED = ("labour", "agriculture", "arbitration", "justice", "petition", "court", "procuratorate", "police",
             "natural_resources", "housing", "market", "health", "environment", "legal_aid", "counselling",
             "education")

# username, display name, unit code, roles
USERS = [
    ("clerk", "王受理（县中心窗口）", "C01-Q", ["clerk"]),
    ("mediator", "李调解（县人民调解委员会）", "C01-Q", ["mediator"]),
    ("supervisor", "张督办（县中心）", "C01-Q", ["supervisor"]),
    ("auditor", "赵审计", "C01-Q", ["auditor"]),
    ("designer", "钱设计", "C01-Q", ["designer"]),
    ("admin", "孙管理员", "C01-Q", ["admin"]),
    # The top unit's administrator keeps what every unit shares: the department registry, and
    # the designer's role (policy.may_keep_kinds, may_grant).
    ("city_admin", "林管理员（示范市）", "C01", ["admin"]),
    ("clerk_cg", "周受理（城关镇）", "C01-Q-CG", ["clerk"]),
    ("mediator_cg", "吴调解（城关镇）", "C01-Q-CG", ["mediator"]),
    ("clerk_dg", "郑受理（东关村）", "C01-Q-CG-DG", ["clerk"]),
    ("clerk_ll", "冯受理（柳林村）", "C01-Q-LL-LL", ["clerk"]),
    # The 12345 hotline's system login: it files work orders through the API (`run.py token hotline
    # 12345热线`) and is told back at the address `run.py callback hotline --url ...` sets.
    ("hotline", "12345热线（系统接入）", "C01-Q", ["clerk"]),
]
# The grids (网格) of villages and communities: code, name, unit code.
GRIDS = [
    ("C01-Q-CG-DG-G01", "东关村第一网格", "C01-Q-CG-DG"),
    ("C01-Q-CG-DG-G02", "东关村第二网格", "C01-Q-CG-DG"),
    ("C01-Q-CG-XG-G01", "西关社区第一网格", "C01-Q-CG-XG"),
    ("C01-Q-LL-LL-G01", "柳林村第一网格", "C01-Q-LL-LL"),
]
# Grid workers: username, display name, unit code, roles, and (below) the grid each walks.
USERS += [
    ("grid_dg", "陈网格（东关村第一网格）", "C01-Q-CG-DG", ["grid_worker"]),
    ("grid_dg2", "褚网格（东关村第二网格）", "C01-Q-CG-DG", ["grid_worker"]),
    ("grid_xg", "卫网格（西关社区第一网格）", "C01-Q-CG-XG", ["grid_worker"]),
    ("grid_ll", "蒋网格（柳林村第一网格）", "C01-Q-LL-LL", ["grid_worker"]),
]
GRID_OF = {"grid_dg": "C01-Q-CG-DG-G01", "grid_dg2": "C01-Q-CG-DG-G02", "grid_xg": "C01-Q-CG-XG-G01",
           "grid_ll": "C01-Q-LL-LL-G01"}
# One login per stationed department; its display name is made from the registry's name at loading.
USERS += [(f"dept_{code}", None, f"C01-Q-D-{code}", ["department"]) for code in STATIONED]


def _kinds(session):
    """The registry with the demo's kinds added: {code: (name, English name)} of the active kinds."""
    known = {kind.code: kind for kind in session.scalars(select(DepartmentKind))}
    position = max((kind.position for kind in known.values()), default=0)
    for code, name, name_en, service in KINDS:
        if code not in known:
            position += 1
            known[code] = DepartmentKind(code=code, name=name, name_en=name_en, service=service, active=True,
                                         position=position)
            session.add(known[code])
    return {code: (kind.name, kind.name_en) for code, kind in known.items() if kind.active}


def load_demo(session, password=DEMO_PASSWORD):
    """Create what is missing. Returns the list of (username, display name, roles, unit) created or found."""
    with UnitOfWork(session):
        kinds = _kinds(session)
        # The resident departments stationed at the county center, named as the registry names them.
        units_wanted = UNITS + [(f"C01-Q-D-{code}", f"县{kinds[code][0]}", f"County {kinds[code][1]}", "department",
                                 "C01-Q") for code in STATIONED if code in kinds]
        users_wanted = [(username, display or f"{kinds[unit_code.rsplit('-', 1)[1]][0]}（入驻县中心）", unit_code, roles)
                        for username, display, unit_code, roles in USERS
                        if display or unit_code.rsplit("-", 1)[1] in kinds]
        units = {u.code: u for u in session.scalars(select(OrgUnit))}
        for code, name, name_en, level, parent_code in units_wanted:
            if code in units:
                if units[code].population is None and code in POPULATION:
                    units[code].population = POPULATION[code]
                continue
            parent = units.get(parent_code)
            unit = OrgUnit(code=code, name=name, name_en=name_en, level=level,
                           parent_id=parent.id if parent else None,
                           department_kind=code.rsplit("-", 1)[1] if level == "department" else None,
                           population=POPULATION.get(code))
            session.add(unit)
            session.flush()
            unit.path = f"{parent.path if parent else '/'}{unit.id}/"
            units[code] = unit
        grids = {g.code: g for g in session.scalars(select(Grid))}
        for code, name, unit_code in GRIDS:
            if code not in grids:
                grids[code] = Grid(code=code, name=name, org_unit_id=units[unit_code].id)
                session.add(grids[code])
        session.flush()
        existing = set(session.scalars(select(User.username)))
        password_hash = None
        for username, display, unit_code, roles in users_wanted:
            if username in existing:
                continue
            password_hash = password_hash or hash_password(password)
            grid = grids.get(GRID_OF.get(username))
            create_user(session, username, password_hash, display, units[unit_code].id, roles,
                        grid.id if grid else None)
        _demo_meetings(session, units["C01-Q"])
    return [(u, d, r, units[c].name) for u, d, c, r in users_wanted]


# The county center's rhythm (日会商、周研判): the next weekly analysis and tomorrow's daily
# consultation, chaired by the supervisor. The demo has no cases: the agenda is drawn when the
# director opens the meeting.
DEMO_MEETINGS = (("weekly", time(9, 0), "县社会治理综合服务中心三楼会商室"),
                 ("daily", time(8, 30), "县中心接访大厅"))


def _demo_meetings(session, county):
    if session.scalar(select(Meeting.id).where(Meeting.org_unit_id == county.id).limit(1)) is not None:
        return
    chair = session.scalar(select(User).where(User.username == "supervisor"))
    for kind, at, place in DEMO_MEETINGS:
        day = meeting_days.suggested_day(kind)
        session.add(Meeting(org_unit_id=county.id, kind=kind, title=meeting_days.suggested_title(kind, day),
                            scheduled_at=meeting_days.china_moment(day, at), place=place,
                            chair_id=chair.id if chair else None, state="scheduled", attendees=[], minutes="",
                            created_by=chair.id if chair else None))
