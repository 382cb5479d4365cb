"""The timer sweep on APScheduler. It only calls services; the database is the truth, so the
scheduler keeps nothing of its own that matters and a restart loses nothing: every timer that
came due while it was down fires on the first sweep, oldest first."""
import functools
import logging
from datetime import datetime, timezone

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from engine.cases import attachments, client_limits, clocks, outbox, phone_codes, rollup, services, supervision, transfers
from engine.persistence.uow import outage_behind, outage_summary

log = logging.getLogger(__name__)


def sweep(session_factory):
    session = session_factory()
    try:
        fired = services.fire_due_timers(session)
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


def make_scheduler(session_factory, interval_seconds=1.0, blocking=False):
    scheduler = (BlockingScheduler if blocking else BackgroundScheduler)(timezone="UTC")
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
