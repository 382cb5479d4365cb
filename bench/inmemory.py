"""SpiffWorkflow alone: one BpmnWorkflow per case on a spec parsed once, every READY user task
filled and run, no database and no serialization.

For reference, the same case the way the services drive the engine (runtime.start and
runtime.complete with their task-state diffs, the state dumped after every action and loaded
before the next one) but with no database: no persisted figure can beat that one."""
import time

from SpiffWorkflow.util.task import TaskState

from engine.workflow import runtime

from .scenario import EXPECTED, USER_TASKS, WrongPath


def run_case(specs, data):
    """Drive one case to the end. Returns the finished workflow and the user tasks it ran."""
    workflow = runtime.new_workflow(specs)  # BpmnWorkflow(spec, subs, script_engine=SCRIPT_ENGINE)
    runtime.seed(workflow)  # the start data every case gets
    workflow.do_engine_steps()
    done = []
    while True:
        ready = workflow.get_tasks(state=TaskState.READY, manual=True)
        if not ready:
            break
        for task in ready:
            spec_id = task.task_spec.bpmn_id
            task.data.update(data[spec_id])
            task.run()
            done.append(spec_id)
        workflow.do_engine_steps()
    return workflow, done


def run_case_saved(specs, data):
    """The services' engine work for one case, without the database: start and complete intake
    (start_case), then load, complete and dump for each later step (complete_task)."""
    workflow, snap = runtime.start(specs)
    done, state = [], None
    while snap.ready:
        task = snap.ready[0]
        task_id, spec_id = str(task.id), task.task_spec.bpmn_id
        if state is not None:
            workflow = runtime.load_state(state, specs)
        snap = runtime.complete(workflow, task_id, data[spec_id])
        state = runtime.dump_state(workflow)
        done.append(spec_id)
    return workflow, done


def check(workflow, done):
    if not workflow.completed or done != USER_TASKS:
        raise WrongPath(f"in memory: completed={workflow.completed}, user tasks {done}, expected {USER_TASKS}")
    wrong = {k: workflow.data.get(k) for k, v in EXPECTED.items() if workflow.data.get(k) != v}
    if wrong:
        raise WrongPath(f"in memory: case data {wrong}, expected {EXPECTED}")


def warm_up(specs, data, cases, run=run_case):
    for _ in range(cases):
        check(*run(specs, data))


def measure(specs, data, cases, run=run_case):
    """Time `cases` cases. Returns (wall seconds, CPU seconds, the last finished workflow)."""
    workflow = None
    started, cpu = time.perf_counter(), time.process_time()
    for _ in range(cases):
        workflow, done = run(specs, data)
        check(workflow, done)
    return time.perf_counter() - started, time.process_time() - cpu, workflow
