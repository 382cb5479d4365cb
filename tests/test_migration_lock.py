"""Several machines start `run.py migrate` at once (each one's yizhan-migrate service): on
PostgreSQL one migrates while the others wait for its advisory lock, then find nothing to do."""
import os
import subprocess
import sys
import time

import pytest
import sqlalchemy as sa

from engine.persistence.db import MIGRATION_LOCK_KEY, engine_for

from .conftest import ROOT

WAITING = sa.text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = :key AND NOT granted")


@pytest.mark.skipif(not os.environ.get("DATABASE_URL", "").startswith("postgresql"),
                    reason="advisory locks are PostgreSQL's; SQLite is one machine's file")
def test_a_second_migration_waits_for_the_first(schema):
    engine = engine_for(schema)
    env = dict(os.environ, DATABASE_URL=schema)
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as first:
            # This connection is the first machine's migration, under way.
            first.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            second = subprocess.Popen([sys.executable, "run.py", "migrate"], cwd=ROOT, env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            try:
                deadline = time.monotonic() + 60
                # Bounded: the second migration is another process, starting up.
                while first.scalar(WAITING, {"key": MIGRATION_LOCK_KEY}) == 0:
                    assert second.poll() is None, f"migrated without waiting: {second.stdout.read()}"
                    assert time.monotonic() < deadline, "the second migration never asked for the lock"
                    time.sleep(0.1)
                assert second.poll() is None
            finally:
                first.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
            output, _ = second.communicate(timeout=120)
        assert second.returncode == 0, output
        with engine.connect() as check:
            assert check.scalar(WAITING, {"key": MIGRATION_LOCK_KEY}) == 0
            held = check.scalar(sa.text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = :key"),
                                {"key": MIGRATION_LOCK_KEY})
            assert held == 0  # released when it finished
    finally:
        engine.dispose()
