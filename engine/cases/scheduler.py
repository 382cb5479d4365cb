"""The timer sweep on APScheduler. It only calls services; the database is the truth, so the
scheduler keeps nothing of its own that matters and a restart loses nothing: every timer that
came due while it was down fires on the first sweep, oldest first."""
import functools
import logging
import multiprocessing
import os
import signal
import time
from datetime import datetime, timezone

from apscheduler.schedulers.background import BackgroundScheduler

from engine.cases import attachments, client_limits, clocks, outbox, phone_codes, rollup, services, supervision, transfers
from engine.persistence.uow import outage_behind, outage_summary

log = logging.getLogger(__name__)


# How long one sweep keeps firing while timers are still due (a backlog after a stop, a mass of
# deadlines on one day) before it does the sweep's other work; the next sweep goes on at once.
FIRING_SECONDS = 5.0


def fire_backlog(session, seconds=FIRING_SECONDS):
    """Fire due timers, a sweep's worth (services.fire_due_timers) after another, while some are
    still due and for at most `seconds`. Returns how many fired."""
    fired, until = 0, time.monotonic() + seconds
    while True:
        done = services.fire_due_timers(session, limit=services.SWEEP_LIMIT)
        fired += done
        if done < services.SWEEP_LIMIT or time.monotonic() >= until:
            return fired


def sweep(session_factory):
    session = session_factory()
    try:
        fired = fire_backlog(session)
        if fired:
            log.info("timer sweep fired %d timer(s)", fired)
        if clocks.recompute_provisional(session):
            log.info("timer sweep recomputed provisional deadlines")
        returned = transfers.return_unacknowledged(session)
        if returned:
            log.info("timer sweep returned %d unacknowledged move(s)", returned)
        reminded = supervision.sweep_reminders(session)
        if reminded:
            log.info("timer sweep made %d reminder(s)", reminded)
        outbox.deliver(session)
        return fired
    finally:
        session.close()


def housekeeping(session_factory):
    """Hourly: files a resident's form kept and nobody filed within a day, and one-time codes and
    clients' counted attempts past every throttling window."""
    session = session_factory()
    try:
        files = attachments.forget_pending(session, attachments.Limits.default())
        codes = phone_codes.forget_old(session)
        attempts = client_limits.forget_old(session)
        if files or codes or attempts:
            log.info("housekeeping forgot %d unfiled attachment(s), %d old phone code(s) and %d old client "
                     "attempt(s)", files, codes, attempts)
    finally:
        session.close()


def roll_up(session_factory):
    """Every ROLLUP_SECONDS: the days that closed and the past days changed since the last run
    are rolled up for the indicators (engine/cases/rollup.py); on a first start over a long
    history, a few seconds' worth each run until it is all there."""
    session = session_factory()
    try:
        days, months = rollup.refresh(session)
        if days or months:
            log.info("roll-up: %d day(s) and %d month(s) rolled up", days, months)
    finally:
        session.close()


ROLLUP_SECONDS = 10


def through_outages(job):
    """A job the scheduler runs: while the database is out of reach (restarting, say) each run says
    so in one line and the next run tries again, instead of a traceback a second."""
    @functools.wraps(job)
    def run(session_factory):
        try:
            return job(session_factory)
        except Exception as error:
            outage = outage_behind(error)
            if outage is None:
                raise
            log.warning("%s: the database cannot be reached (%s); the next run tries again", job.__name__,
                        outage_summary(outage))
            return None
    return run


def make_scheduler(session_factory, interval_seconds=1.0):
    scheduler = BackgroundScheduler(timezone="UTC")
    sweep_job, roll_up_job, housekeeping_job = (through_outages(job) for job in (sweep, roll_up, housekeeping))
    scheduler.add_job(sweep_job, "interval", args=[session_factory], seconds=interval_seconds,
                      id="timer-sweep", max_instances=1, coalesce=True,
                      # The first sweep runs at once: it fires what came due while we were down.
                      next_run_time=datetime.now(timezone.utc))
    scheduler.add_job(roll_up_job, "interval", args=[session_factory], seconds=ROLLUP_SECONDS, id="roll-up",
                      max_instances=1, coalesce=True, next_run_time=datetime.now(timezone.utc))
    scheduler.add_job(housekeeping_job, "interval", args=[session_factory], hours=1, id="housekeeping",
                      max_instances=1, coalesce=True)
    return scheduler


def fire_timers(session_factory):
    """A helper sweeper's job (SWEEP_PROCESSES above 1): the due timers only; the sweep's other
    work stays with the worker's main process."""
    session = session_factory()
    try:
        return fire_backlog(session)
    finally:
        session.close()


def run_timer_helper(url, interval_seconds, parent_pid):
    """The body of a helper sweeper process (run.py worker starts them): fires due timers every
    `interval_seconds`, sharing them with the other sweepers by row locks (services.fire_due_timers).
    SIGTERM lets the firing under way finish its transactions; the helper also stops when the
    worker that started it is gone."""
    from engine.persistence.db import session_factory
    # The signals only mark the stop (no lock taken in a handler: an Event's could be the one the
    # main thread holds when the signal comes, and the helper would never stop).
    stopping = []
    signal.signal(signal.SIGTERM, lambda received, _frame: stopping.append(received))
    signal.signal(signal.SIGINT, lambda received, _frame: stopping.append(received))
    factory = session_factory(url)
    fire = through_outages(fire_timers)
    while not stopping and os.getppid() == parent_pid:
        began = time.monotonic()
        try:
            fire(factory)
        except Exception:  # noqa: BLE001 - logged in full; the helper goes on at the next interval
            log.exception("timer helper: the sweep failed")
        next_at = began + interval_seconds
        while not stopping and time.monotonic() < next_at:
            time.sleep(min(0.2, max(0.0, next_at - time.monotonic())))
    factory.kw["bind"].dispose()


# How often the worker looks for a helper that died, to start it again.
HELPER_CHECK_SECONDS = 10


def start_timer_helpers(url, interval_seconds, count, scheduler=None, helpers=None):
    """`count` helper sweeper processes (run_timer_helper), fresh interpreters (not forks of this
    one, which holds a scheduler's threads and a database pool), each added to `helpers` as it
    starts; `scheduler`, the worker's own, starts again one that died."""
    context = multiprocessing.get_context("spawn")
    helpers = [] if helpers is None else helpers
    for _ in range(count):
        helpers.append(_start_helper(context, url, interval_seconds))
    if helpers and scheduler is not None:
        scheduler.add_job(_restart_dead, "interval", args=[helpers, context, url, interval_seconds],
                          seconds=HELPER_CHECK_SECONDS, id="timer-helpers", max_instances=1, coalesce=True)
    return helpers


def _start_helper(context, url, interval_seconds):
    # Daemonic: however the worker exits, multiprocessing stops its helpers rather than waiting for them.
    process = context.Process(target=run_timer_helper, args=(url, interval_seconds, os.getpid()),
                              name="yizhan timer helper", daemon=True)
    process.start()
    return process


def _restart_dead(helpers, context, url, interval_seconds):
    for i, process in enumerate(helpers):
        if not process.is_alive():
            log.warning("timer helper %s exited (%s); starting it again", process.pid, process.exitcode)
            helpers[i] = _start_helper(context, url, interval_seconds)


def stop_timer_helpers(helpers, grace_seconds=60):
    """SIGTERM to every helper, then wait for each to finish what it holds (killed past the grace)."""
    for process in helpers:
        if process.is_alive():
            process.terminate()
    for process in helpers:
        process.join(grace_seconds)
        if process.is_alive():
            process.kill()
            process.join()
