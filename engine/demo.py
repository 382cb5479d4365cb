"""The demo organisation and one login per role. Safe to run any number of times."""
from datetime import time

from sqlalchemy import select

from engine.access.accounts import create_user
from engine.access.passwords import hash_password
from engine.legaltime.clock import Clock, china_date
from engine.persistence.models import DepartmentKind, Grid, Meeting, OrgUnit, Resolver, ResolverGrading, User
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
    ("mediator_med", "刘调解（县医疗纠纷人民调解委员会）", "C01-Q", ["mediator"]),
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


# The registry of mediators and experts (engine/reading/registry.py): name, kind, unit code, login,
# employment, committee or body, team, specialties (intake categories), grade given last year,
# certificate, phone.
RESOLVERS = [
    ("李明华", "mediator", "C01-Q", "mediator", "full_time", "清河县人民调解委员会", "矛调中心驻点调解团队",
     ["neighbour", "marriage_family", "contract", "damages"], "level2", "QH-RMTJ-2019-012", "13700137001"),
    ("刘建国", "mediator", "C01-Q", "mediator_med", "full_time", "清河县医疗纠纷人民调解委员会", "医调委",
     ["medical", "damages"], "level1", "QH-RMTJ-2016-003", "13700137002"),
    ("吴桂兰", "mediator", "C01-Q-CG", "mediator_cg", "part_time", "城关镇人民调解委员会", "",
     ["neighbour", "housing_land", "forest_land"], "level3", "QH-RMTJ-2021-047", "13700137003"),
    ("郑秀英", "mediator", "C01-Q-CG-DG", None, "part_time", "东关村人民调解委员会", "",
     ["marriage_family", "neighbour"], "level4", "", "13700137004"),
    ("何志强", "mediator", "C01-Q", None, "part_time", "清河县道路交通事故人民调解委员会", "交调委",
     ["traffic", "damages"], None, "", "13700137005"),
    ("林雅琴", "lawyer", "C01-Q", None, None, "清河明正律师事务所", "公共法律服务律师团",
     ["contract", "labour", "damages"], None, "律师执业证 13701201910123456", "13700137006"),
    ("高卫东", "judge", "C01-Q-D-court", "dept_court", None, "清河县人民法院", "诉前调解团队",
     ["contract", "damages", "marriage_family"], None, "", "05307654321"),
    ("许静", "psychologist", "C01-Q", None, None, "清河县社会心理服务站", "",
     ["marriage_family", "neighbour"], None, "心理咨询师二级", "13700137008"),
    ("马振国", "police", "C01-Q-D-police", None, None, "清河县公安局交警大队", "",
     ["traffic"], None, "", "13700137009"),
]


def _load_registry(session, units):
    """The demo mediators and experts, with last year's grade for the graded mediators; a person
    already registered (by name and unit) is left as it is."""
    have = {(name, unit_id) for name, unit_id in session.execute(select(Resolver.name, Resolver.org_unit_id))}
    logins = {u.username: u.id for u in session.scalars(select(User))}
    linked = set(session.scalars(select(Resolver.user_id).where(Resolver.user_id.is_not(None))))
    year = china_date(Clock.now()).year - 1
    for name, kind, unit_code, login, employment, committee, team, specialties, grade, certificate, phone in RESOLVERS:
        unit_id = units[unit_code].id
        if (name, unit_id) in have:
            continue
        user_id = logins.get(login) if login and logins.get(login) not in linked else None
        person = Resolver(org_unit_id=unit_id, user_id=user_id, name=name, kind=kind, employment=employment,
                          committee=committee, team=team, specialties=specialties, grade=grade,
                          certificate=certificate, phone=phone, active=True)
        session.add(person)
        session.flush()
        if grade:
            session.add(ResolverGrading(resolver_id=person.id, year=year, grade=grade,
                                        basis=f"{year}年度人民调解员等级评定（清河县人民调解员协会）"))


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
        session.flush()
        _load_registry(session, units)
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
