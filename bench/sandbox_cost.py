"""What the script sandbox costs: one evaluation in the engine's process (an expression bounded by
its shape) and in a sandbox process, and how many of each one case of the benchmark makes."""
import time

from engine.workflow import sandbox, scripting
from engine.workflow.scripting import RestrictedEnvironment

from . import inmemory

ROUNDS = 2000


def _per_call(call, rounds=ROUNDS):
    call()  # a sandbox process is started on first use; that is not what is measured
    started = time.perf_counter()
    for _ in range(rounds):
        call()
    return (time.perf_counter() - started) / rounds


def per_evaluation(data):
    env = RestrictedEnvironment()
    context = {"route": "mediation", "case_round": 1}
    for submitted in data.values():  # every form of the benchmark case, as the case carries them
        context.update(submitted)
    return {
        "in-process condition (route == ..., natural_days(n))": _per_call(
            lambda: env.evaluate('route == "mediation" and case_round > 0', context)),
        "sandboxed condition (a comprehension)": _per_call(
            lambda: env.evaluate("len([p for p in parties if p]) >= 0", context)),
        "sandboxed script (a loop, data sent back)": _per_call(
            lambda: env.execute("names = [p['name'] for p in parties]", dict(context))),
    }


def per_case(specs, data):
    """Evaluations one benchmark case makes, and how many of them went to a sandbox process."""
    counts = {"all": 0, "sandboxed": 0}
    environment = scripting.SCRIPT_ENGINE.environment
    real_evaluate, real_execute, real_run = environment.evaluate, environment.execute, sandbox.POOL.run

    def counted(real, key):
        def call(*args, **kwargs):
            counts[key] += 1
            return real(*args, **kwargs)
        return call

    environment.evaluate, environment.execute = counted(real_evaluate, "all"), counted(real_execute, "all")
    sandbox.POOL.run = counted(real_run, "sandboxed")
    try:
        inmemory.measure(specs, data, 1)
    finally:
        del environment.evaluate, environment.execute, sandbox.POOL.run
    return counts
