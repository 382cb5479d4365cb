"""The command line an operator uses."""
import os
import subprocess
import sys

from .conftest import ROOT


def _run(*args, instance):
    env = dict(os.environ, YIZHAN_INSTANCE=str(instance))
    env.pop("DATABASE_URL", None)
    return subprocess.run([sys.executable, "run.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


def test_help_lists_the_sub_commands(tmp_path):
    out = _run("--help", instance=tmp_path).stdout
    for command in ("serve", "worker", "check", "migrate", "load", "demo", "token"):
        assert f"  {command}" in out


def test_worker_refuses_an_unmigrated_database(tmp_path):
    result = _run("worker", instance=tmp_path)
    assert result.returncode == 1 and "run `python run.py migrate` first" in result.stderr


def test_demo_twice_changes_nothing_the_second_time(tmp_path):
    first = _run("demo", instance=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "new version: intake v1" in first.stdout and "clerk" in first.stdout
    second = _run("demo", instance=tmp_path)
    assert second.returncode == 0 and "library unchanged: no new versions" in second.stdout
    import sqlite3
    with sqlite3.connect(tmp_path / "yizhan.db") as db:
        # Ten staff logins and one login for each of the thirteen resident departments.
        assert db.execute("select count(*) from users").fetchone()[0] == 23
        assert db.execute("select count(*) from org_units").fetchone()[0] == 8 + 13
        assert db.execute("select count(*) from process_versions").fetchone()[0] == 1
