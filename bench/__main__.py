"""python -m bench [--cases N]: cases per second for the intake pathway, in memory and persisted."""
import argparse
import gc
import os
import platform
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
from importlib.metadata import version

from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG

from engine.workflow import runtime

from . import breakdown, inmemory, persisted, reopened, sandbox_cost, websubmit
from .scenario import STEPS, Library

DEFAULT_PERSISTED = 200
MEMORY_PER_PERSISTED = 1.5  # 300 in-memory repetitions for the default 200 persisted cases
TARGET_RATIO = 0.30
REOPENED_ROUNDS = 10
LABEL = 50
STATEMENT_CASES = 5


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--cases", type=int, default=DEFAULT_PERSISTED, metavar="N",
                        help=f"persisted cases to time (default {DEFAULT_PERSISTED}); the in-memory "
                             f"run times {MEMORY_PER_PERSISTED:g} x N cases")
    parser.add_argument("--memory-cases", type=int, metavar="N", help="in-memory cases to time (overrides)")
    parser.add_argument("--warmup", type=int, metavar="N",
                        help="untimed cases before each measurement (default: a tenth of the timed ones, at least 5)")
    parser.add_argument("--rounds", type=int, default=5, metavar="R",
                        help="split the timed cases into R alternating in-memory/persisted rounds and "
                             "report the median round (default 5)")
    parser.add_argument("--breakdown", action="store_true",
                        help="afterwards, time where a persisted case spends its time (extra pass)")
    parser.add_argument("--web-cases", type=int, default=30, metavar="N",
                        help="cases driven through the web application (Flask test client) for the "
                             "CPU per submit, the first fifth untimed (default 30; 0 skips)")
    parser.add_argument("--db-dir", metavar="DIR",
                        help="put the SQLite file here and keep it (default: a temporary folder, removed)")
    args = parser.parse_args(argv)
    if args.cases < 1 or (args.memory_cases is not None and args.memory_cases < 1) or args.rounds < 1:
        parser.error("case and round counts must be at least 1")
    args.memory_cases = args.memory_cases or max(1, round(args.cases * MEMORY_PER_PERSISTED))
    return args


def _warmup(args, timed):
    return args.warmup if args.warmup is not None else max(5, timed // 10)


def line(label, value, note=""):
    print(f"  {label:<{LABEL}}{value:>14}  {note}".rstrip())


def peak_rss_bytes():
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # Linux reports KiB


def full_state_size(workflow):
    """The same finished case serialized the naive way, spec and subprocess specs embedded."""
    full = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))
    return len(full.serialize_json(workflow).encode("utf-8"))


def split(total, parts):
    """`total` cases over `parts` rounds, as evenly as possible, no empty round."""
    parts = min(parts, total)
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def rates(counts, seconds):
    per_round = sorted(n / s for n, s in zip(counts, seconds))
    return statistics.median(per_round), per_round[0], per_round[-1]


def main(argv=None):
    args = parse_args(argv)
    began = time.perf_counter()
    print("yizhan benchmark - intake pathway: intake > triage (DMN) > mediation, success > no judicial "
          "confirmation > close > return visit, satisfied")
    print(f"  Python {platform.python_version()}, SpiffWorkflow {version('SpiffWorkflow')}, "
          f"SQLAlchemy {version('SQLAlchemy')}, SQLite {sqlite3.sqlite_version}, "
          f"{os.cpu_count()} CPUs, {args.rounds} interleaved rounds")

    compiled = time.perf_counter()
    library = Library()
    compiled = time.perf_counter() - compiled
    data = library.typed_data()
    mem_counts, db_counts = split(args.memory_cases, args.rounds), split(args.cases, args.rounds)
    mem_warm, db_warm = _warmup(args, args.memory_cases), _warmup(args, args.cases)

    with tempfile.TemporaryDirectory(prefix="yizhan-bench-") as tmp:
        db = persisted.Database(args.db_dir or tmp)
        try:
            inmemory.warm_up(library.specs, data, mem_warm)
            inmemory.warm_up(library.specs, data, mem_warm, inmemory.run_case_saved)
            persisted.warm_up(db, db_warm)
            size_before = db.file_size()
            timings, ids = persisted.Timings(), []
            mem_seconds, saved_seconds, db_seconds = [], [], []
            mem_cpu, saved_cpu, db_cpu = [], [], []
            # Rounds alternate so that a burst of load from elsewhere on the machine hits both sides.
            for mem_n, db_n in zip(mem_counts, db_counts):
                gc.collect()
                seconds, cpu, finished = inmemory.measure(library.specs, data, mem_n)
                mem_seconds.append(seconds)
                mem_cpu.append(cpu)
                gc.collect()
                seconds, cpu, _ = inmemory.measure(library.specs, data, mem_n, inmemory.run_case_saved)
                saved_seconds.append(seconds)
                saved_cpu.append(cpu)
                gc.collect()
                seconds, cpu = persisted.measure(db, db_n, timings, ids)
                db_seconds.append(seconds)
                db_cpu.append(cpu)
            stored = persisted.storage(db, ids, db.file_size() - size_before)
            statements = persisted.count_statements(db, STATEMENT_CASES)
            web = websubmit.measure(f"sqlite:///{db.path}", db.session, args.web_cases) if args.web_cases else None
            if args.breakdown:
                extra = max(20, args.cases // 4)
                spent = breakdown.run(db, lambda n: persisted.measure(db, n, persisted.Timings(), [])[0], extra)
        finally:
            db.close()

    mem_rate, mem_low, mem_high = rates(mem_counts, mem_seconds)
    saved_rate, saved_low, saved_high = rates(mem_counts, saved_seconds)
    db_rate, db_low, db_high = rates(db_counts, db_seconds)
    mem_cpu_rate, saved_cpu_rate, db_cpu_rate = (rates(counts, cpu)[0] for counts, cpu in
                                                 ((mem_counts, mem_cpu), (mem_counts, saved_cpu), (db_counts, db_cpu)))
    n_mem, n_db = args.memory_cases, args.cases

    print()
    print(f"in memory: SpiffWorkflow alone, spec parsed once, no database, no serialization "
          f"({n_mem} cases after {mem_warm} warm-up)")
    line("check and compile the library (once)", f"{compiled * 1000:,.1f} ms")
    line("time per case", f"{sum(mem_seconds) / n_mem * 1000:,.2f} ms", "mean")
    line("CPU time per case", f"{sum(mem_cpu) / n_mem * 1000:,.2f} ms", "mean (time.process_time)")
    line("throughput", f"{mem_rate:,.1f} cases/s", f"median of rounds; range {mem_low:,.0f}-{mem_high:,.0f}")

    print()
    print(f"reference: the services' engine calls without a database: runtime.start/complete with their "
          f"task-state diffs,\n  state dumped after every action and loaded before the next ({n_mem} cases)")
    line("time per case", f"{sum(saved_seconds) / n_mem * 1000:,.2f} ms", "mean")
    line("CPU time per case", f"{sum(saved_cpu) / n_mem * 1000:,.2f} ms", "mean")
    line("throughput", f"{saved_rate:,.1f} cases/s", f"median of rounds; range {saved_low:,.0f}-{saved_high:,.0f}")
    line("as a share of in-memory", f"{saved_rate / mem_rate:.2f}",
         f"CPU {saved_cpu_rate / mem_cpu_rate:.2f}; the most any persisted figure could reach")

    print()
    print(f"persisted: engine services on a fresh SQLite file, one transaction per user action "
          f"({n_db} cases after {db_warm} warm-up)")
    later = len(STEPS) - 1
    line(f"time per case ({len(STEPS)} actions + {later} task look-ups)", f"{sum(db_seconds) / n_db * 1000:,.2f} ms", "mean")
    line("CPU time per case", f"{sum(db_cpu) / n_db * 1000:,.2f} ms", "mean; the rest of the wall time is waiting (fsync)")
    line("  services.start_case (intake, clerk)", f"{timings.start_case / n_db * 1000:,.2f} ms")
    line(f"  services.complete_task (mean of {later})", f"{timings.complete_task / (n_db * later) * 1000:,.2f} ms",
         ", ".join(f"{spec.removeprefix('Task_')}: {who}" for spec, who, _ in STEPS[1:]))
    line(f"  open-task look-up (mean of {later})", f"{timings.lookups / (n_db * later) * 1000:,.2f} ms",
         "select tasks.id, as the inbox link would carry")
    line("throughput", f"{db_rate:,.1f} cases/s", f"median of rounds; range {db_low:,.1f}-{db_high:,.1f}")
    line("user actions", f"{db_rate * len(STEPS):,.1f} per s")

    print()
    print(f"ratio persisted/in-memory: {db_rate / mem_rate:.2f} wall time, {db_cpu_rate / mem_cpu_rate:.2f} CPU time "
          f"(target >= {TARGET_RATIO:.2f}; medians of rounds)")

    print()
    print(f"SQL statements per persisted case, by action (mean of {STATEMENT_CASES} more cases; "
          "cursor executions, COMMITs counted apart)")
    for action, count in statements:
        line(f"  {action}", f"{count:,.1f}")
    line("  all", f"{sum(count for action, count in statements if not action.endswith('(COMMIT)')):,.1f}",
         f"+ {sum(count for action, count in statements if action.endswith('(COMMIT)')):,.0f} COMMITs")

    if web is not None:
        warm = args.web_cases // 5
        print()
        print(f"the web application's own cost, in-process (Flask test client, same SQLite file, CSRF on; "
              f"{args.web_cases - warm} cases after {warm} untimed; medians per POST)")
        for label, cpu, wall, count in websubmit.summary(web, warm):
            line(f"  {label}", f"{cpu:,.2f} ms CPU", f"{wall:,.2f} ms wall, {count:,.0f} SQL statements")

    n = stored.cases
    print()
    print(f"stored per case (mean of the {n} timed cases, UTF-8 bytes; rows measured as JSON of all columns)")
    line("workflow state alone (cases.state)", f"{stored.state / n:,.0f} B", "finished case, spec not embedded")
    line(f"audit events ({stored.audit_rows / n:g} rows)", f"{stored.audit / n:,.0f} B")
    line(f"task rows ({stored.task_rows / n:g})", f"{stored.tasks / n:,.0f} B")
    line(f"timer rows ({stored.timer_rows / n:g})", f"{stored.timers / n:,.0f} B")
    line("sum: state + audit + task + timer rows", f"{stored.total / n:,.0f} B")
    line("SQLite file growth / cases", f"{stored.file_growth / n:,.0f} B",
         "after WAL checkpoint; includes indexes, other case columns, page slack")
    line("same finished state with spec embedded", f"{full_state_size(finished):,} B",
         f"naive full serializer, for comparison (state-only: {len(runtime.dump_state(finished).encode()):,} B)")
    rounds = reopened.state_sizes(library, REOPENED_ROUNDS)
    line(f"state after {REOPENED_ROUNDS} reopened rounds", f"{rounds[-1][-1]:,} B",
         f"after round 1: {rounds[0][-1]:,} B; the largest saved in any round: {max(map(max, rounds)):,} B")

    if args.breakdown:
        print()
        print(f"where a persisted case spends its time (extra pass of {extra} cases, wall clock, ms per case; "
              "includes the benchmark's task look-ups)")
        total = spent[-1][1]
        for label, ms in spent:
            line(label, f"{ms:,.2f} ms", f"{ms / total * 100:4.0f} %")

    print()
    line("peak memory (ru_maxrss)", f"{peak_rss_bytes() / 2**20:,.1f} MiB", "before the sandbox figures below")
    print()
    evaluations = sandbox_cost.per_case(library.specs, data)
    print(f"script sandbox: one case makes {evaluations['all']} evaluations (conditions, decision cells, "
          f"timers, scripts), {evaluations['sandboxed']} of them in a sandbox process")
    for label, seconds in sandbox_cost.per_evaluation(data).items():
        line(f"  {label}", f"{seconds * 1e6:,.1f} us", f"mean of {sandbox_cost.ROUNDS}")
    print()
    line("total run time", f"{time.perf_counter() - began:,.1f} s")
    if not args.breakdown:
        print("  (--breakdown adds where a persisted case spends its time; --help for the options)")


if __name__ == "__main__":
    main()
