"""Shared fixtures. The database is SQLite in a temporary folder, or the PostgreSQL named by
DATABASE_URL; its schema is built by the Alembic migrations, as in production."""
import os
from pathlib import Path

import pytest
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent


def _compile_catalogue():
    """`make test` compiles the Chinese catalogue (make translations); a bare pytest run in a fresh
    worktree, or after the .po changed, compiles it here, so that pages are in Chinese."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po
    po = ROOT / "webui/translations/zh/LC_MESSAGES/messages.po"
    mo = po.with_suffix(".mo")
    if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
        with po.open("rb") as source:
            catalog = read_po(source, locale="zh")
        with mo.open("wb") as target:
            write_mo(target, catalog)


_compile_catalogue()
CASE_TABLES = ("rollup_counts", "rollup_spans", "confirmation_consents", "referrals", "meeting_items", "meetings", "callback_endpoints", "attachments", "submissions", "phone_codes", "api_requests", "task_drafts", "outbox", "reminders", "audit_events", "timers", "tasks", "case_parties", "case_transfers", "cases")


@pytest.fixture(scope="session")
def db_url(tmp_path_factory):
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


def _reset(url):
    from engine.persistence.db import engine_for
    engine = engine_for(url)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text("DROP SCHEMA public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session")
def schema(db_url, tmp_path_factory):
    """Migrate a clean database, record the library and create the demo organisation."""
    os.environ.setdefault("YIZHAN_INSTANCE", str(tmp_path_factory.mktemp("instance")))
    _reset(db_url)
    from flask_migrate import upgrade

    from engine.demo import load_demo
    from engine.cases.services import sync_library
    from webui import create_app
    from webui.extensions import db
    app = create_app({"SQLALCHEMY_DATABASE_URI": db_url, "TESTING": True})
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        created, problems = sync_library(db.session, ROOT / "bpmn", ROOT / "forms")
        assert not problems, problems
        load_demo(db.session)
        db.session.remove()
        db.engine.dispose()
    return db_url


@pytest.fixture(scope="session")
def session_factory(schema):
    from engine.persistence.db import session_factory as make
    return make(schema)


def wipe_cases(factory):
    session = factory()
    try:
        for table in CASE_TABLES:
            session.execute(sa.text(f"DELETE FROM {table}"))
        session.execute(sa.text("DELETE FROM process_versions WHERE source <> 'files'"))
        session.commit()
    finally:
        session.close()


@pytest.fixture
def session(session_factory):
    """A plain SQLAlchemy session on a database with no cases."""
    wipe_cases(session_factory)
    s = session_factory()
    yield s
    s.close()


@pytest.fixture
def registry_rows(session_factory):
    """What a test adds to the registry of mediators and experts (not wiped between tests) is
    removed after it, and the demo people's state and grade put back."""
    from engine.persistence.models import AccountEvent, Resolver, ResolverGrading
    from engine.reading.registry import EVENTS
    s = session_factory()
    try:
        last = s.scalar(sa.select(sa.func.max(Resolver.id))) or 0
        last_event = s.scalar(sa.select(sa.func.max(AccountEvent.id))) or 0
        graded = s.scalar(sa.select(sa.func.max(ResolverGrading.id))) or 0
        kept = {r.id: (r.active, r.grade) for r in s.scalars(sa.select(Resolver))}
        s.rollback()
        yield
        s.execute(sa.delete(ResolverGrading).where(sa.or_(ResolverGrading.resolver_id > last,
                                                          ResolverGrading.id > graded)))
        s.execute(sa.delete(Resolver).where(Resolver.id > last))
        s.execute(sa.delete(AccountEvent).where(AccountEvent.id > last_event, AccountEvent.kind.in_(EVENTS)))
        for resolver_id, (active, grade) in kept.items():
            s.execute(sa.update(Resolver).where(Resolver.id == resolver_id).values(active=active, grade=grade))
        s.commit()
    finally:
        s.close()


# The limits per client address (the follow page's look-ups, the filing page's posts and files),
# counted in the database. Every test client and the browser's live server come from 127.0.0.1,
# so without this each test would spend the budget of the ones before it and fail by the order
# tests happen to run in. Tests that use no database have nothing to forget.
@pytest.fixture(autouse=True)
def fresh_client_limits(request):
    if "schema" in request.fixturenames:
        forget_client_attempts(request.getfixturevalue("session_factory"))


def forget_client_attempts(factory):
    session = factory()
    try:
        session.execute(sa.text("DELETE FROM client_attempts"))
        session.commit()
    finally:
        session.close()
