"""Which unit's role holders get a task. A case belongs to the unit that took it; a step goes to
holders of its role in that unit, or, where the unit has none (a village without a mediator),
to the nearest unit above that has one: lower levels pass work upward, the county is the
terminal station. A step for a resident department goes to the department of that kind stationed
at the nearest unit above the case (the county center's court, say). A step for the grid (a lane
网格员) goes to the grid workers of the case's grid; see route_task."""
from types import SimpleNamespace

from sqlalchemy import bindparam, select

from engine.persistence.models import Grid, OrgUnit, User, UserRole

GRID_ROLE = "grid_worker"
# Who does a grid step that finds no grid worker to take it: the clerk, from the unit that would
# have held it upward (unit_for_role). The clerk already does the return visit at every level
# and can visit or call the parties; a step for nobody would sit unseen until its case stalled.
GRID_FALLBACK_ROLE = "clerk"


# Built once: a statement built for each call costs more than running it (bench/).
_HOLDING = (select(User.org_unit_id).join(UserRole, UserRole.user_id == User.id)
            .where(UserRole.role == bindparam("b_role"), User.active.is_(True)))
_HOLDERS = _HOLDING.where(User.org_unit_id.in_(bindparam("b_chain", expanding=True)))
_HOLDERS_ANYWHERE = _HOLDING.distinct()


class SweepRoutes(dict):
    """The routing cache of a sweep, which routes the steps of many cases of every unit: the units
    where a role has active holders are read once for the whole tree, not once per unit (a
    county's sweep met a few hundred units)."""

    def holders(self, session, role):
        key = ("holders", role)
        if key not in self:
            self[key] = set(session.connection().scalars(_HOLDERS_ANYWHERE, {"b_role": role}))
        return self[key]


def unit_for_role(session, unit_id, unit_path, role, cache=None):
    key = (unit_id, role)
    if cache is not None and key in cache:
        return cache[key]
    chain = _chain(unit_path)
    if isinstance(cache, SweepRoutes):
        holders = cache.holders(session, role)
    else:
        # On the connection, not the ORM session: an autoflush here would write the case row early.
        holders = set(session.connection().scalars(_HOLDERS, {"b_role": role, "b_chain": chain}))
    found = next((uid for uid in reversed(chain) if uid in holders), unit_id)
    if cache is not None:
        cache[key] = found
    return found


def unit_for_department(session, unit_path, kind, cache=None):
    """The resident department of `kind` that serves a case of the unit at `unit_path`: the one
    stationed at the nearest unit above (or at) the case's unit. None if no such department."""
    key = (unit_path, "department", kind)
    if cache is not None and key in cache:
        return cache[key]
    chain = _chain(unit_path)
    rows = session.connection().execute(
        select(OrgUnit.id, OrgUnit.parent_id).where(OrgUnit.level == "department", OrgUnit.department_kind == kind,
                                                    OrgUnit.parent_id.in_(chain))).all()
    found = max(rows, key=lambda row: chain.index(row.parent_id)).id if rows else None
    if cache is not None:
        cache[key] = found
    return found


def _chain(unit_path):
    return [int(part) for part in unit_path.strip("/").split("/") if part]


def step_title(info, task, read_kinds):
    """A step's title; a step of one summoned department says whose it is. `read_kinds()` gives
    the department registry (engine/access/department_kinds.read), read only for such a step."""
    title = info.get("name") or task.task_spec.bpmn_name or task.task_spec.bpmn_id
    summoned = _lookup(task.data, info.get("department_from"))
    if isinstance(summoned, str) and summoned in (kinds := read_kinds()):
        # One step per summoned department (a multi-instance task): say whose it is, in the
        # language the diagram's step names are written in.
        title = f"{title}（{kinds.name(summoned)}）"
    return title


def unit_for_step(session, unit_id, unit_path, info, data, cache=None):
    """The unit whose people a step of a case filed at `unit_id` would go to."""
    return unit_for_task(session, SimpleNamespace(org_unit_id=unit_id), unit_path, info,
                          info.get("role") or "supervisor", data, cache)


def unit_for_task(session, case, unit_path, info, role, data, cache):
    """Whose work a new step is: a resident department's step goes to the department of the kind
    the diagram names (or the case's data names, e.g. each summoned department of a whistle);
    any other step to the role's holders at or above the case's unit."""
    kind = info.get("department") or _lookup(data, info.get("department_from"))
    if kind:
        found = unit_for_department(session, unit_path, str(kind), cache)
        if found is not None:
            return found
    return unit_for_role(session, case.org_unit_id, unit_path, role, cache)


def route_task(session, case, unit_path, info, role, data, cache):
    """(role, unit id) of a new step: unit_for_task's unit, except for a grid step (see grid_step)."""
    if role == GRID_ROLE:
        return grid_step(session, case, unit_path, cache)
    return role, unit_for_task(session, case, unit_path, info, role, data, cache)


def grid_step(session, case, unit_path, cache=None):
    """Where a step for the grid goes, as (role, unit id):
    - the case has a grid: to the grid workers of that grid, at the grid's village (the rulebook
      and the inbox let only the workers of the case's grid see and take it);
    - the case has no grid but is a village's (or community's) case: to the grid workers of that
      village, any of whom may take it;
    - otherwise (no grid worker there, or the case lies at a township or above): to the clerk
      (GRID_FALLBACK_ROLE) of the grid's village, or of the case's unit, or the nearest unit above
      with one, so the visit or check still reaches someone who answers for the case."""
    grid_id = getattr(case, "grid_id", None)
    key = ("grid", grid_id, case.org_unit_id)
    if cache is not None and key in cache:
        return cache[key]
    connection = session.connection()
    workers = select(User.id).join(UserRole, UserRole.user_id == User.id).where(
        UserRole.role == GRID_ROLE, User.active.is_(True))
    if grid_id is not None:
        start_id, start_path = connection.execute(select(OrgUnit.id, OrgUnit.path).join(
            Grid, Grid.org_unit_id == OrgUnit.id).where(Grid.id == grid_id)).one()
        found = connection.scalar(workers.where(User.grid_id == grid_id).limit(1))
    else:
        start_id, start_path = case.org_unit_id, unit_path
        level = connection.scalar(select(OrgUnit.level).where(OrgUnit.id == case.org_unit_id))
        found = connection.scalar(workers.where(User.org_unit_id == case.org_unit_id).limit(1)) \
            if level == "village" else None
    routed = ((GRID_ROLE, start_id) if found is not None else
              (GRID_FALLBACK_ROLE, unit_for_role(session, start_id, start_path, GRID_FALLBACK_ROLE, cache)))
    if cache is not None:
        cache[key] = routed
    return routed


def _lookup(data, dotted):
    """`summon.department` in the task's data, or None."""
    value = data
    for part in (dotted or "").split("."):
        if not part or not isinstance(value, dict):
            return None
        value = value.get(part)
    return value
