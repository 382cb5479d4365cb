"""The workflow state a case stores as it is reopened, round after round (the engine alone, no
database; the state dumped after every action and loaded before the next, as the services do).
Each round: mediation succeeds, no judicial confirmation, closed, the party is unsatisfied on the
return visit and the supervisor reopens the case, which starts the next round at mediation."""
from engine.workflow import runtime
from tests.engine.helpers import REVIEW, VISIT_BAD

from .scenario import STEPS, WrongPath

REOPEN = dict(REVIEW, decision="reopen", finding="调解协议未履行，重新调解。")


def state_sizes(library, rounds):
    """UTF-8 bytes of the state stored after each action, one list per round."""
    posts = {spec_id: post for spec_id, _, post in STEPS}
    posts.update({"Task_visit": VISIT_BAD, "Task_review": REOPEN})
    data = {spec_id: library.typed(spec_id, post) for spec_id, post in posts.items()}
    restarts = library.draft.meta["restarts"]
    workflow, snap = runtime.start(library.specs)
    sizes = []
    for _ in range(rounds):
        sizes.append([])
        while True:
            task = snap.ready[0]
            snap = runtime.complete(workflow, str(task.id), data[task.task_spec.bpmn_id])
            if snap.completed and any(c.after == "COMPLETED" and c.element in restarts for c in snap.changes):
                workflow, snap = runtime.next_round(library.specs, snap)
            state = runtime.dump_state(workflow)
            sizes[-1].append(len(state.encode("utf-8")))
            workflow = runtime.load_state(state, library.specs)
            if task.task_spec.bpmn_id == "Task_review":
                break
    if [t.task_spec.bpmn_id for t in snap.ready] != ["Task_mediate"]:
        raise WrongPath(f"after {rounds} reopened rounds the case waits at {[t.task_spec.bpmn_id for t in snap.ready]}")
    return sizes
