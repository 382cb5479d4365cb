"""Promises about the shape of the code that a reviewer would otherwise have to re-check."""
import ast

from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from engine.db import engine_for
from engine.models import Base

from .conftest import ROOT


def _imports(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def test_engine_never_imports_the_web():
    offenders = [(path.name, name) for path in (ROOT / "engine").glob("*.py") for name in _imports(path)
                 if name.split(".")[0] in ("flask", "flask_login", "flask_wtf", "flask_babel", "flask_sqlalchemy",
                                           "flask_migrate", "webui")]
    assert offenders == []


def test_web_views_never_commit():
    offenders = [path.name for path in (ROOT / "webui").glob("*.py") if ".commit(" in path.read_text(encoding="utf-8")]
    assert offenders == []


def test_one_migration_head():
    config = Config()
    config.set_main_option("script_location", str(ROOT / "migrations"))
    assert len(ScriptDirectory.from_config(config).get_heads()) == 1


def test_migrations_match_the_models(schema):
    engine = engine_for(schema)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection, opts={"compare_type": False}), Base.metadata)
    engine.dispose()
    assert diff == []
