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
    for command in ("serve", "worker", "check", "migrate", "load", "demo", "token", "audit", "export"):
        assert f"  {command}" in out


def test_worker_refuses_an_unmigrated_database(tmp_path):
    result = _run("worker", instance=tmp_path)
    assert result.returncode == 1 and "run `python run.py migrate` first" in result.stderr


def test_demo_twice_changes_nothing_the_second_time(tmp_path):
    first = _run("demo", instance=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "new version: intake v1" in first.stdout and "clerk" in first.stdout
    # The one version holds every pathway of the library, and says so.
    files = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "bpmn").glob("*.bpmn"))
    assert f"{len(files)} pathway(s):" in first.stdout
    listed = [line for line in first.stdout.splitlines() if line.startswith("  - ")]
    assert sorted(line.rsplit(", ", 1)[1].rstrip(")") for line in listed) == files
    assert "  - 人民调解（一般 / 专业调解委员会 / 交警调解） (people_mediation, bpmn/mediation.bpmn)" in listed
    second = _run("demo", instance=tmp_path)
    assert second.returncode == 0 and "library unchanged: no new versions" in second.stdout
    import sqlite3
    with sqlite3.connect(tmp_path / "yizhan.db") as db:
        # Twelve staff logins (the city's administrator among them), the 12345 hotline's system login,
        # four grid workers and one login for each of the sixteen resident departments (the thirteen
        # kinds the registry starts with, and legal aid, counselling and education the demo adds).
        assert db.execute("select count(*) from users").fetchone()[0] == 12 + 1 + 4 + 16
        assert db.execute("select count(*) from org_units").fetchone()[0] == 8 + 16
        assert db.execute("select count(*) from department_kinds").fetchone()[0] == 16
        # Five mediators (four graded last year) and four experts in the registry, once.
        assert db.execute("select count(*) from resolvers").fetchone()[0] == 5 + 4
        assert db.execute("select count(*) from resolver_gradings").fetchone()[0] == 4
        assert db.execute("select count(*) from grids").fetchone()[0] == 4
        assert db.execute("select count(*) from process_versions").fetchone()[0] == 1


def test_audit_verify_exit_codes(tmp_path):
    assert _run("demo", instance=tmp_path).returncode == 0
    from engine.persistence.db import session_factory
    from tests.engine.helpers import file_matter
    import sqlalchemy as sa
    from engine.persistence.models import AuditEvent
    session = session_factory(f"sqlite:///{tmp_path / 'yizhan.db'}")()
    try:
        case = file_matter(session)
        code = case.code
        intact = _run("audit", "verify", instance=tmp_path)
        assert intact.returncode == 0 and "every chain is intact" in intact.stdout, intact.stdout
        session.execute(sa.update(AuditEvent).where(AuditEvent.case_id == case.id, AuditEvent.seq == 2)
                        .values(detail={"forged": True}))
        session.commit()
    finally:
        session.close()
    broken = _run("audit", "verify", instance=tmp_path)
    assert broken.returncode == 1
    assert broken.stdout.splitlines()[0] == f"{code}: event #2 (id 2): its content does not match its hash (altered)"


def test_export_writes_the_published_library_back(tmp_path):
    import json
    assert _run("demo", instance=tmp_path).returncode == 0
    bpmn, forms = tmp_path / "out-bpmn", tmp_path / "out-forms"
    first = _run("export", "--bpmn", str(bpmn), "--forms", str(forms), instance=tmp_path)
    assert first.returncode == 0, first.stderr
    for path in sorted((ROOT / "bpmn").glob("*.bpmn")) + sorted((ROOT / "bpmn").glob("*.dmn")):
        assert (bpmn / path.name).read_text(encoding="utf-8") == path.read_text(encoding="utf-8"), path.name
    for path in forms.iterdir():
        assert json.loads(path.read_text(encoding="utf-8")) == json.loads((ROOT / "forms" / path.name).read_text(encoding="utf-8"))
    again = _run("export", "--bpmn", str(bpmn), "--forms", str(forms), instance=tmp_path)
    assert "already match" in again.stdout
