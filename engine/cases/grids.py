"""Which grid a case lies in. A matter a grid worker reported gets its grid when accepted; a clerk
or supervisor of the case's unit may place any open case in a grid of that unit or below (or take
it out of one), so the steps a pathway gives the grid reach the right grid workers from the next
step on (services.case_facts tells the workflow)."""
from sqlalchemy import select

from engine.cases.acting import acting_on_case
from engine.messages import Msg
from engine.persistence.models import Grid, OrgUnit
from engine.persistence.states import EventKind


def grids_for(session, unit_path):
    """The grids a case of the unit at `unit_path` may lie in: [(grid, unit)], by unit."""
    return session.execute(select(Grid, OrgUnit).join(OrgUnit, OrgUnit.id == Grid.org_unit_id)
                           .where(OrgUnit.path.startswith(unit_path)).order_by(OrgUnit.path, Grid.name)).all()


def place_in_grid(session, actor, case_id, grid_id):
    """Put the case in the grid `grid_id` (None: in no grid), with the change in its history."""
    with acting_on_case(session, actor, case_id, "place_in_grid") as act:
        case = act.case
        grid = session.get(Grid, grid_id) if grid_id is not None else None
        if grid_id is not None and (grid is None or not grid.org_unit.path.startswith(act.unit_path)):
            raise ValueError(Msg("Choose a grid of the case's unit or a unit below it"))
        before = session.get(Grid, case.grid_id) if case.grid_id is not None else None
        if (before.id if before else None) == (grid.id if grid else None):
            return case
        case.grid_id = grid.id if grid else None
        act.log.add(actor, EventKind.GRID_SET, detail={"grid": grid.name if grid else None,
                                                      "before": before.name if before else None})
        return case
