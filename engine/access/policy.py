"""Who may do what, where. Pure functions over roles and organisation paths."""
from engine.messages import N_

ROLES = {
    # code: name (English; translated where shown, webui.i18n.label)
    "clerk": N_("Intake officer"),
    "mediator": N_("Mediator"),
    "department": N_("Resident department"),
    "supervisor": N_("Supervisor"),
    "auditor": N_("Auditor"),
    "designer": N_("Process designer"),
    "admin": N_("Administrator"),
    # A grid worker (网格员) walks one grid of a village or community: reports matters from the
    # field and does the steps a pathway gives the grid (a visit after closing, checking that an
    # agreement is kept). Held only at a village-level unit, with a grid of that unit.
    "grid_worker": N_("Grid worker"),
}

# Lanes in the diagrams are named in Chinese for the people who read them; these names map
# a lane to the role whose holders get its tasks.
LANE_ALIASES = {
    "受理员": "clerk", "窗口受理": "clerk", "受理": "clerk",
    "调解员": "mediator", "人民调解员": "mediator",
    "督办": "supervisor", "主管": "supervisor",
    "入驻部门": "department", "部门": "department",
    "网格员": "grid_worker",
}

ACTIONS = {
    "file_matter": {"clerk"},
    "work_tasks": {"clerk", "mediator", "department", "supervisor", "grid_worker"},
    # A grid worker sees only the cases of their grid, those made from what they reported and
    # those they were given a step of (engine/reading/queries.py), never the whole village's:
    # decided so for every grid worker, 综治 ones included; a village official who needs the
    # village's cases holds the clerk role beside it.
    "view_cases": {"clerk", "mediator", "department", "supervisor", "auditor", "admin", "grid_worker"},
    "supervise": {"supervisor"},
    "audit": {"auditor"},
    "design": {"designer"},
    "administer": {"admin"},
    "move_cases": {"clerk", "mediator", "supervisor"},
    # A submission from the field into a unit's inbox (engine/cases/submissions.py); residents
    # report with no login at all. "grid_worker" is the grid worker's role (网格员).
    "report_matter": {"grid_worker"},
    # Saying which grid a case lies in (its grid's workers then get the grid's steps).
    "place_in_grid": {"clerk", "supervisor"},
    # The QR posters residents file through, for the units at and below one's own.
    "print_posters": {"clerk", "admin"},
    # The unit's inbox of matters residents and grid workers reported: clerks decide them,
    # supervisors watch them (read-only).
    "view_submissions": {"clerk", "supervisor"},
    # The unit's periodic report (day, week, month) for the center's meetings: supervisors who
    # run them and auditors who check the figures; read-only, scoped to one's unit and below.
    "view_reports": {"supervisor", "auditor"},
    # Referring a party from a step to a service (legal aid, counselling): whoever works the step.
    "refer": {"clerk", "mediator", "department", "supervisor"},
    # Taking on, turning down and recording the outcome of a referral: the receiving department.
    "handle_referrals": {"department"},
    # The judicial-confirmation dossier (personal data unmasked, for the court): those who handle
    # or audit the case at the center, and of the resident departments only the court
    # (rulebook.may_see_dossier), never a grid worker or an administrator.
    "view_dossier": {"clerk", "mediator", "department", "supervisor", "auditor"},
    # Making the dossier again after the case's data was corrected (a new version; the old stays).
    "make_dossier": {"clerk", "mediator"},
    # The center's joint meetings (联席会议: daily consultation, weekly analysis, monthly
    # assessment): the supervisors of a unit (the center's director and deputies answer for
    # supervision) schedule them, draw the agenda, record the minutes and the decisions; a unit
    # above sees them read-only. Clerks keep the window: a meeting's decisions give steps,
    # list cases for supervision and move cases, which only supervisors may do.
    "hold_meetings": {"supervisor"},
    # The registry of mediators and experts (engine/reading/registry.py): supervisors and
    # administrators keep it for their units; clerks read it (they call people to a case) and
    # auditors read it with its history (phones masked).
    "view_registry": {"clerk", "supervisor", "admin", "auditor"},
    "keep_registry": {"supervisor", "admin"},
}
# The department kind that receives the dossier.
COURT = "court"

LEVELS = {"city": N_("City"), "county": N_("County"),
          "township": N_("Township"), "village": N_("Village"),
          # A resident department stationed at a center; it takes tasks, never owns cases.
          "department": N_("Resident department")}


# Grants (who may give which role, README "Powers stay within their scope"):
# - an administrator places logins only in their own unit and the units below it;
# - the pathway library is shared by every unit, so the role that edits, publishes and migrates it
#   is given only by an administrator of the top unit, and only to a login at a center (city or
#   county); a designer placed lower (before this rule) holds no library power at all;
# - a resident department's unit holds department logins only, and the department role is held
#   only there;
# - a grid worker is a login of a village or community (level "village") and holds a grid of that
#   unit (accounts.save_user checks the grid);
# - nobody changes their own roles, unit or enabled state, and an administrator changes a login
#   only if they could have granted every role it holds.
LIBRARY_ROLES = {"designer"}
LIBRARY_ACTIONS = {"design"}
LIBRARY_LEVELS = {"city", "county"}
GRID_ROLES = {"grid_worker"}
# Grids are drawn within villages and urban communities (社区), both units of level "village".
GRID_LEVELS = {"village"}


def is_top(unit_path):
    """The root of the organisation tree ("/1/")."""
    return unit_path.count("/") == 2


def may_keep_kinds(actor):
    """Adding, renaming or deactivating a kind of resident department changes what every unit
    stations and every diagram may name (engine/access/department_kinds.py): like granting the
    library's designer role, it is for an administrator of the top unit."""
    return "admin" in actor.roles and is_top(actor.unit_path)


def may_grant(actor, role, unit_level):
    """May this administrator give `role` to a login at a unit of `unit_level` (one of theirs)?"""
    if "admin" not in actor.roles or role not in ROLES:
        return False
    if (role == "department") != (unit_level == "department"):
        return False
    if role in GRID_ROLES and unit_level not in GRID_LEVELS:
        return False
    if role in LIBRARY_ROLES:
        return is_top(actor.unit_path) and unit_level in LIBRARY_LEVELS
    return True


def may_change_login(actor, roles, unit_level):
    """An administrator changes (password, unit, roles, state) only a login whose every role they
    could have granted: a county administrator cannot take over the library's designer."""
    return all(may_grant(actor, role, unit_level) for role in roles)


def grantable_roles(actor):
    """The roles this administrator can give somewhere in their units (for the form)."""
    return {code: names for code, names in ROLES.items()
            if any(may_grant(actor, code, level) for level in LEVELS)}


def allowed(actor, action):
    """`may` for a person: their roles, and for the library's powers, a unit where they hold."""
    if not may(actor.roles, action):
        return False
    return action not in LIBRARY_ACTIONS or actor.unit_level in LIBRARY_LEVELS


def role_for_lane(lane):
    if lane is None:
        return None
    if lane in ROLES:
        return lane
    return LANE_ALIASES.get(lane.strip())


def may(roles, action):
    return bool(set(roles) & ACTIONS[action])


def unit_covers(actor_path, unit_path):
    """A person sees their own unit and every unit below it."""
    return unit_path.startswith(actor_path)


def mask_id_number(value):
    """Keep the first three and last four characters: enough to tell two people apart at the window."""
    return _mask(value, 3, 4)


def mask_phone(value):
    return _mask(value, 3, 4)


def _mask(value, head, tail):
    if not value:
        return value
    value = str(value)
    if len(value) <= head + tail:
        return value[:1] + "*" * (len(value) - 1)
    return value[:head] + "*" * (len(value) - head - tail) + value[-tail:]


class Actor:
    """The person (or system) doing something, as the services see them. Built by the web layer
    from the logged-in user; the services never read request globals."""

    __slots__ = ("user_id", "name", "roles", "unit_id", "unit_path", "unit_level", "grid_id")

    def __init__(self, user_id, name, roles, unit_id, unit_path, unit_level=None, grid_id=None):
        self.user_id = user_id
        self.name = name
        self.roles = frozenset(roles)
        self.unit_id = unit_id
        self.unit_path = unit_path
        self.unit_level = unit_level
        self.grid_id = grid_id

    @classmethod
    def of(cls, user):
        return cls(user.id, user.display_name, user.roles, user.org_unit_id, user.org_unit.path, user.org_unit.level,
                   user.grid_id)


SYSTEM = Actor(None, "系统", (), None, "/")
# A resident acting on their own case without a login (rating the outcome online), after proving
# a phone number of the case. No login can hold the role "resident" (accounts grant only ROLES),
# so only engine/cases/acting.py's resident entry acts as it.
RESIDENT = Actor(None, "当事人（网上）", ("resident",), None, "/")


# Roles that handle a case and need to reach the parties; everyone else sees ID numbers and
# phones masked. A grid worker visits the parties at home and sees only their own grid's cases.
HANDLING_ROLES = {"clerk", "mediator", "department", "supervisor", "grid_worker"}

# Roles that see every case of their units; a login holding none of them but the grid worker's
# sees its grid's cases alone.
UNIT_WIDE_ROLES = ACTIONS["view_cases"] - {"grid_worker"}


def grid_only(actor):
    """True when the actor sees cases as a grid worker only (no unit-wide role beside it)."""
    return "grid_worker" in actor.roles and not actor.roles & UNIT_WIDE_ROLES


def sees_personal_data(actor):
    return bool(actor.roles & HANDLING_ROLES)
