"""deploy/backup.sh and deploy/restore.sh, tried once on the database the suite runs on (SQLite, or
the PostgreSQL of DATABASE_URL): a backup of the demo with a few cases and their attachment files,
restored into a fresh database (on PostgreSQL one named after the suite's, dropped afterwards) and
a fresh attachments folder, brings back the cases, their intact hash chains and the files; a
restore never writes over a database that holds data."""
import os
import subprocess
import sys

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from engine.cases.attachments import Limits, Upload, keep
from engine.persistence.db import engine_for
from engine.persistence.models import Attachment, AuditEvent, Case

from . import files
from .conftest import ROOT
from .engine.helpers import file_matter

DEPLOY = ROOT / "deploy"


def _run(script, *args, env):
    return subprocess.run(["bash", str(DEPLOY / script), *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)


@pytest.fixture
def empty_target(schema, tmp_path):
    """A database URL with nothing in it yet, on the suite's kind of database."""
    if not schema.startswith("postgresql"):
        yield f"sqlite:///{tmp_path / 'restored.db'}"
        return
    url = make_url(schema)
    name = f"{url.database}_restore"
    admin = engine_for(schema, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _contents(url):
    """What must come back: each case's code and status, its chain's hashes, its files' hashes."""
    engine = engine_for(url)
    try:
        with engine.connect() as connection:
            cases = dict(connection.execute(sa.select(Case.code, Case.status)).all())
            chains = {}
            for code, seq, digest in connection.execute(
                    sa.select(Case.code, AuditEvent.seq, AuditEvent.hash).join(Case, Case.id == AuditEvent.case_id)
                    .order_by(Case.code, AuditEvent.seq)):
                chains.setdefault(code, []).append((seq, digest))
            attached = sorted(connection.execute(
                sa.select(Case.code, Attachment.filename, Attachment.sha256).join(Case, Case.id == Attachment.case_id)).all())
    finally:
        engine.dispose()
    return cases, chains, attached


def test_a_backup_restored_into_a_fresh_database_brings_back_cases_chains_and_files(session, schema, tmp_path,
                                                                                      empty_target):
    filed = [file_matter(session) for _ in range(3)]
    source_files = Limits(directory=tmp_path / "attachments")
    photo, document = files.jpeg(), files.pdf()
    keep(session, Upload("现场照片.jpg", photo), source_files, case_id=filed[0].id)
    keep(session, Upload("收据.pdf", document), source_files, case_id=filed[2].id)
    session.commit()
    before = _contents(schema)
    assert len(before[0]) == 3 and len(before[2]) == 2 and all(len(chain) > 5 for chain in before[1].values())

    env = dict(os.environ, DATABASE_URL=schema, ATTACHMENTS_DIR=str(source_files.directory), PYTHON=sys.executable)
    made = _run("backup.sh", str(tmp_path / "backups"), env=env)
    assert made.returncode == 0, made.stderr
    [backup] = (tmp_path / "backups").iterdir()
    assert backup.name.startswith("yizhan-") and "2 attachment file(s)" in made.stdout
    assert {path.name for path in backup.iterdir()} >= {"MANIFEST", "SHA256SUMS", "attachments.tar"}

    # Changes after the backup are not in it.
    file_matter(session)

    restored_files = tmp_path / "restored-attachments"
    target = dict(env, DATABASE_URL=empty_target, ATTACHMENTS_DIR=str(restored_files))
    restored = _run("restore.sh", str(backup), env=target)
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert "3 case(s)" in restored.stdout and "every chain is intact" in restored.stdout
    assert "2 file(s) named by the database, 0 missing" in restored.stdout

    assert _contents(empty_target) == before
    for _code, _name, sha in before[2]:
        relative = f"{sha[:2]}/{sha}"
        assert (restored_files / relative).read_bytes() == (source_files.directory / relative).read_bytes()
    assert {(restored_files / f"{sha[:2]}/{sha}").read_bytes() for _c, _n, sha in before[2]} == {photo, document}

    # A second restore into what now holds data is refused, and changes nothing.
    again = _run("restore.sh", str(backup), env=target)
    assert again.returncode == 1 and "refused" in again.stderr
    assert _contents(empty_target) == before


def test_a_damaged_backup_is_refused_before_anything_is_written(session, schema, tmp_path, empty_target):
    file_matter(session)
    env = dict(os.environ, DATABASE_URL=schema, ATTACHMENTS_DIR=str(tmp_path / "attachments"), PYTHON=sys.executable)
    assert _run("backup.sh", str(tmp_path / "backups"), env=env).returncode == 0
    [backup] = (tmp_path / "backups").iterdir()
    tar = backup / "attachments.tar"
    whole = tar.stat().st_size
    with tar.open("ab") as out:
        out.write(b"\0" * 512)
    # The target named by an environment file, as systemd's (--env).
    settings = tmp_path / "yizhan.env"
    settings.write_text(f"# the target\nDATABASE_URL={empty_target}\nATTACHMENTS_DIR={tmp_path / 'restored'}\n")
    target = {key: value for key, value in env.items() if key not in ("DATABASE_URL", "ATTACHMENTS_DIR")}
    refused = _run("restore.sh", "--env", str(settings), str(backup), env=target)
    assert refused.returncode == 1 and "damaged or incomplete" in refused.stderr
    assert not (tmp_path / "restored").exists()
    engine = engine_for(empty_target)
    try:
        assert sa.inspect(engine).get_table_names() == []
        engine.dispose()  # nothing holds the target open while it is restored
        # Whole again, it is restored where the file says.
        with tar.open("r+b") as out:
            out.truncate(whole)
        restored = _run("restore.sh", "--env", str(settings), str(backup), env=target)
        assert restored.returncode == 0, restored.stderr
        with engine.connect() as connection:
            assert connection.scalar(sa.select(sa.func.count()).select_from(Case)) == 1
    finally:
        engine.dispose()
