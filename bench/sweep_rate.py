"""python -m bench.sweep_rate: the timer sweep's rate (timers/s) on a database kept by bench.scale,
in a minute or two instead of the whole county bench, repeatable round after round.

  python -m bench.scale --db postgresql://postgres@127.0.0.1:5432/yz_sweep --cases 20000 \\
      --due-timers 4000 --pages-only --keep --repeat 1      # once: a county with 4,000 due timers
  python -m bench.sweep_rate --db postgresql://postgres@127.0.0.1:5432/yz_sweep --processes 1 2

The first run notes which timers are due and their cases' rows as they are; every run first puts
those rows back (the cases' workflow state, current step and overdue mark, their timers waiting
and due, the task and timer rows a firing added deleted; the audit chains go on from where they
are, so `run.py audit verify` still holds), vacuums, then fires them all: once in one process,
then once in each number of `--processes` at the same time, as bench.scale's sweep phase does.
Reported per firing: timers/s (wall), the sweepers' CPU per timer (time.process_time) and
their database server processes' (from /proc, the server on this machine)."""
import argparse
import os
import sys
import time
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent

# The rows as they were before the first firing: the due timers' cases, and the id each table had
# reached (rows past it were added by a firing).
_SAVE = [
    "CREATE TABLE bench_sweep_cases AS SELECT c.id AS case_id, c.state, c.current_step, c.overdue FROM cases c "
    "WHERE c.id IN (SELECT case_id FROM timers WHERE state = 'waiting' AND due_at <= now())",
    "CREATE TABLE bench_sweep_marks AS SELECT (SELECT max(id) FROM tasks) AS task_id, "
    "(SELECT max(id) FROM timers) AS timer_id, now() AS due_at",
]
_REARM = [
    "UPDATE cases c SET state = b.state, current_step = b.current_step, overdue = b.overdue, error = NULL, "
    "status = 'open', closed_at = NULL FROM bench_sweep_cases b WHERE c.id = b.case_id",
    "DELETE FROM tasks WHERE id > (SELECT task_id FROM bench_sweep_marks) "
    "AND case_id IN (SELECT case_id FROM bench_sweep_cases)",
    "UPDATE tasks SET state = 'ready', completed_at = NULL, completed_by = NULL "
    "WHERE id <= (SELECT task_id FROM bench_sweep_marks) AND spec_id = 'Task_mediate' "
    "AND case_id IN (SELECT case_id FROM bench_sweep_cases)",
    "DELETE FROM timers WHERE id > (SELECT timer_id FROM bench_sweep_marks) "
    "AND case_id IN (SELECT case_id FROM bench_sweep_cases)",
    "UPDATE timers SET state = 'waiting', fired_at = NULL, due_at = LEAST(due_at, (SELECT due_at FROM bench_sweep_marks)) "
    "WHERE id <= (SELECT timer_id FROM bench_sweep_marks) AND case_id IN (SELECT case_id FROM bench_sweep_cases)",
]


def rearm(url):
    """Make the noted timers due again (noting them on the first run). Returns how many are due."""
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.begin() as connection:
            if not sa.inspect(connection).has_table("bench_sweep_cases"):
                for statement in _SAVE:
                    connection.execute(sa.text(statement))
            for statement in _REARM:
                connection.execute(sa.text(statement))
            due = connection.scalar(sa.text("SELECT count(*) FROM timers WHERE state = 'waiting' AND due_at <= now()"))
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(sa.text("VACUUM ANALYZE cases, tasks, timers, audit_events"))
        return due
    finally:
        engine.dispose()


def _sweeper(url, go, results):
    """One sweeper process: connected, ready, waits for the start, fires until none is due;
    reports (fired, CPU seconds)."""
    sys.path.insert(0, str(ROOT))
    from bench.scale import time_sweep
    from engine.persistence.db import session_factory
    factory = session_factory(url)
    session = factory()
    backend = session.scalar(sa.text("SELECT pg_backend_pid()"))
    session.close()
    results.put(("ready", 0, 0, 0))
    go.wait()
    cpu, server = time.process_time(), _server_cpu(backend)
    fired, _seconds = time_sweep(factory, 0)
    results.put(("fired", fired, time.process_time() - cpu, _server_cpu(backend) - server))


def _server_cpu(pid):
    """CPU seconds of the server process behind a connection (the pool hands the sweep the same
    connection each time), when the server runs on this machine; else 0."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def fire(url, processes):
    """All due timers fired by `processes` sweeper processes at once: (fired, wall seconds, the
    sweepers' CPU seconds, their database server processes' CPU seconds)."""
    from bench.scale import run_gated
    done, seconds = run_gated(_sweeper, url, processes)
    return sum(d[1] for d in done), seconds, sum(d[2] for d in done), sum(d[3] for d in done)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.sweep_rate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True, help="a PostgreSQL database kept by bench.scale --keep")
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2], help="sweepers at once, one firing each")
    args = parser.parse_args(argv)
    for processes in args.processes:
        due = rearm(args.db)
        fired, seconds, cpu, server = fire(args.db, processes)
        print(f"sweep processes={processes} due={due} fired={fired} wall={seconds:.2f}s rate={fired / seconds:.0f}/s "
              f"cpu_per_timer={cpu / max(fired, 1) * 1000:.2f}ms server_cpu_per_timer={server / max(fired, 1) * 1000:.2f}ms",
              flush=True)


if __name__ == "__main__":
    main()
