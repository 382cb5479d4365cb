"""Steps a pathway gives the grid (a lane 网格员): checking a mediation agreement is kept, and the
visit after closing. They go to the workers of the case's grid; a worker of another grid of the
same village neither sees nor takes them; with no grid worker to take them they go to the clerk
(engine/library/routing.py grid_step)."""
import uuid
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from engine.cases import services
from engine.errors import NotAllowed
from engine.library import routing
from engine.persistence.models import Case, Grid, OrgUnit, Task
from engine.reading import queries

from .helpers import (
    CLOSE, MEDIATION_FAILURE, MEDIATION_SUCCESS, VISIT_OK, WINDOW_NO, actor, complete, file_matter, open_specs,
    open_task, prefiling,
)

CHECK_KEPT = {"checked_on": "2026-09-10", "performance": "kept", "check_note": "已当面核实，赔偿款已付清。"}
CHECK_NOT_KEPT = {"checked_on": "2026-09-10", "performance": "not_kept", "check_note": "排水沟仍未疏通。"}
FOLLOWUP = {"measure": "litigation", "measure_note": "督促无果，已告知可就协议履行向法院起诉（人民调解法第三十二条）。"}
GRID_VISIT = {"visited_on": "2026-09-20", "found": "settled", "visit_note": "两户已和好。"}


def _unit(session, code):
    return session.scalar(sa.select(OrgUnit).where(OrgUnit.code == code))


def _grid(session, code):
    return session.scalar(sa.select(Grid).where(Grid.code == code))


def _in_grid(session, case, grid):
    """The case lies in the grid (set at acceptance of a grid worker's report, or by the clerk)."""
    session.get(Case, case.id).grid_id = grid.id if grid is not None else None
    session.commit()


def _agreed(session, case):
    complete(session, "mediator_cg", case.id, "Task_mediate", MEDIATION_SUCCESS)
    return complete(session, "mediator_cg", case.id, "Task_confirm_window", WINDOW_NO)


def test_a_kept_agreement_is_checked_by_the_grid_and_the_grid_visits_after_closing(session):
    village, grid = _unit(session, "C01-Q-CG-DG"), _grid(session, "C01-Q-CG-DG-G01")
    case = file_matter(session, "clerk_dg")
    _in_grid(session, case, grid)
    _agreed(session, case)
    check = open_task(session, case.id, "Task_agreement_check")
    assert (check.role, check.org_unit_id, check.assignee_id) == ("grid_worker", village.id, None)
    # In the pool of the case's grid: its worker sees it, the village's other grid's worker does not.
    pool = queries.inbox(session, actor(session, "grid_dg")).pool
    assert check.id in {t.id for t in pool}
    assert check.id not in {t.id for t in queries.inbox(session, actor(session, "grid_dg2")).pool}
    with pytest.raises(NotAllowed):
        services.claim_task(session, actor(session, "grid_dg2"), check.id)
    with pytest.raises(NotAllowed):
        services.complete_task(session, actor(session, "grid_dg2"), check.id, CHECK_KEPT)
    session.rollback()
    complete(session, "grid_dg", case.id, "Task_agreement_check", CHECK_KEPT)
    assert open_specs(session, case.id) == ["Task_close"]
    complete(session, "clerk_dg", case.id, "Task_close", CLOSE)
    visit = open_task(session, case.id, "Task_grid_visit")
    # The worker who checked the agreement keeps the grid's next step of the case.
    assert (visit.role, visit.org_unit_id) == ("grid_worker", village.id)
    assert visit.assignee_id == actor(session, "grid_dg").user_id
    assert open_specs(session, case.id) == ["Task_grid_visit"]
    complete(session, "grid_dg", case.id, "Task_grid_visit", GRID_VISIT)
    assert open_specs(session, case.id) == ["Task_visit"]
    case = complete(session, "clerk_dg", case.id, "Task_visit", VISIT_OK)
    assert case.status == "completed"


def test_an_agreement_not_kept_goes_back_to_the_mediator(session):
    case = file_matter(session, "clerk_dg")
    _in_grid(session, case, _grid(session, "C01-Q-CG-DG-G01"))
    _agreed(session, case)
    complete(session, "grid_dg", case.id, "Task_agreement_check", CHECK_NOT_KEPT)
    followup = open_task(session, case.id, "Task_performance_followup")
    # The mediator who mediated it keeps it: they urge performance and say what the law leaves.
    assert followup.role == "mediator" and followup.assignee_id == actor(session, "mediator_cg").user_id
    complete(session, "mediator_cg", case.id, "Task_performance_followup", FOLLOWUP)
    assert open_specs(session, case.id) == ["Task_close"]


def test_no_grid_no_grid_steps_and_a_failed_mediation_is_not_checked(session):
    plain = file_matter(session, "clerk_dg")
    _agreed(session, plain)
    assert open_specs(session, plain.id) == ["Task_close"]
    complete(session, "clerk_dg", plain.id, "Task_close", CLOSE)
    assert open_specs(session, plain.id) == ["Task_visit"]
    failed = file_matter(session, "clerk_dg")
    _in_grid(session, failed, _grid(session, "C01-Q-CG-DG-G01"))
    complete(session, "mediator_cg", failed.id, "Task_mediate", MEDIATION_FAILURE)
    complete(session, "dept_court", failed.id, "Task_prefiling", prefiling("success"))
    # No agreement of the committee to check: on to closing, then the grid's visit.
    assert open_specs(session, failed.id) == ["Task_close"]
    complete(session, "clerk_dg", failed.id, "Task_close", CLOSE)
    assert open_specs(session, failed.id) == ["Task_grid_visit"]


@pytest.fixture
def empty_grid(session):
    """A grid of 东关村 that nobody walks."""
    grid = Grid(code=f"T-{uuid.uuid4().hex[:12]}", name="无人网格", org_unit_id=_unit(session, "C01-Q-CG-DG").id)
    session.add(grid)
    session.commit()
    return grid


def test_a_grid_step_with_no_grid_worker_goes_to_the_village_clerk(session, empty_grid):
    case = file_matter(session, "clerk_dg")
    _in_grid(session, case, empty_grid)
    _agreed(session, case)
    check = open_task(session, case.id, "Task_agreement_check")
    assert (check.role, check.org_unit_id) == ("clerk", _unit(session, "C01-Q-CG-DG").id)
    # No grid worker of the village takes it, the clerk does.
    assert check.id not in {t.id for t in queries.inbox(session, actor(session, "grid_dg")).pool}
    complete(session, "clerk_dg", case.id, "Task_agreement_check", CHECK_KEPT)
    assert open_specs(session, case.id) == ["Task_close"]


@pytest.mark.parametrize("unit_code, grid_code, expected", [
    # A grid with workers: its workers, at the grid's village (wherever the case is held now).
    ("C01-Q-CG", "C01-Q-CG-DG-G02", ("grid_worker", "C01-Q-CG-DG")),
    # No grid, a village's case: the village's grid workers.
    ("C01-Q-CG-XG", None, ("grid_worker", "C01-Q-CG-XG")),
    # No grid, a township's case: its clerk.
    ("C01-Q-CG", None, ("clerk", "C01-Q-CG")),
    # No grid, a village with no grid worker and no clerk: the nearest clerk above (the county's).
    ("C01-Q-LL-WZ", None, ("clerk", "C01-Q")),
])
def test_where_a_grid_step_goes(session, unit_code, grid_code, expected):
    unit = _unit(session, unit_code)
    grid = _grid(session, grid_code) if grid_code else None
    case = SimpleNamespace(org_unit_id=unit.id, grid_id=grid.id if grid else None)
    role, unit_id = routing.grid_step(session, case, unit.path)
    assert (role, unit_id) == (expected[0], _unit(session, expected[1]).id)


def test_a_grid_worker_finds_only_their_grid_s_cases(session):
    grid = _grid(session, "C01-Q-CG-DG-G01")
    theirs, other, plain = (file_matter(session, "clerk_dg") for _ in range(3))
    _in_grid(session, theirs, grid)
    _in_grid(session, other, _grid(session, "C01-Q-CG-DG-G02"))
    rows, total = queries.search_cases(session, actor(session, "grid_dg"), queries.CaseFilter())
    assert [c.id for c in rows] == [theirs.id] and total == 1
    assert queries.visible_case(session, actor(session, "grid_dg"), other.id)[1] is False
    assert queries.visible_case(session, actor(session, "grid_dg"), plain.id)[1] is False
    # The village's clerk still sees all three.
    assert queries.search_cases(session, actor(session, "clerk_dg"), queries.CaseFilter())[1] == 3
    assert session.scalar(sa.select(sa.func.count()).select_from(Task).where(Task.role == "grid_worker")) == 0
