"""Promises about the shape of the code that a reviewer would otherwise have to re-check."""
import ast

from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from engine.persistence.db import engine_for
from engine.persistence.models import Base

from .conftest import ROOT


def _imports(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def _engine_imports(path):
    """The engine modules `path` imports, as dotted names (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names if alias.name.startswith("engine"))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1] + ([base] if base else []))
            if base == "engine" or base.startswith("engine."):
                # `from engine.cases import services` imports engine.cases.services
                names = [f"{base}.{alias.name}" for alias in node.names]
                yield from (name if _is_module(name) else base for name in names)


def _is_module(dotted):
    path = ROOT.joinpath(*dotted.split("."))
    return path.with_suffix(".py").exists() or path.is_dir()


# The engine's layers, lowest first. A module imports from its own layer and the layers below it,
# never from above: legal time knows no workflow, the workflow runtime knows no database, the
# library knows no case verbs, and the read side writes nothing.
LAYERS = ["legaltime", "workflow", "persistence", "access", "library", "reading", "cases"]
ANYWHERE = {"engine", "engine.errors", "engine.messages"}
# The read side may use the tables but never the unit of work or the case verbs.
READ_SIDE_NEVER = {"engine.persistence.uow"}


def _layer(dotted):
    parts = dotted.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else None


def _engine_modules():
    return sorted(path for path in (ROOT / "engine").rglob("*.py"))


def test_engine_has_no_loose_modules():
    """Every engine module lives in a layer, except the package's doorway, its errors, the texts
    they carry (messages) and the demo."""
    loose = [path.name for path in (ROOT / "engine").glob("*.py")]
    assert sorted(loose) == ["__init__.py", "demo.py", "errors.py", "messages.py"]
    assert sorted(p.name for p in (ROOT / "engine").iterdir() if p.is_dir() and p.name != "__pycache__") == sorted(LAYERS)


def test_layers_import_only_downwards():
    offenders = []
    for path in _engine_modules():
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        own = _layer(module)
        if own is None:
            continue
        for name in _engine_imports(path):
            other = _layer(name)
            if name in ANYWHERE or other is None:
                continue
            if LAYERS.index(other) > LAYERS.index(own):
                offenders.append(f"{module} imports {name}")
            if own == "reading" and (name in READ_SIDE_NEVER or other == "cases"):
                offenders.append(f"{module} (read side) imports {name}")
    assert offenders == []


def test_engine_never_imports_the_web():
    offenders = [(path.name, name) for path in _engine_modules() for name in _imports(path)
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


def _lines_with(pattern, *folders):
    found = []
    for folder in folders:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if pattern in line:
                    found.append(str(path.relative_to(ROOT)))
    return sorted(set(found))


# Where a transaction may still be opened by hand: the one entry of the case verbs, and the
# logins' own administration (engine/access, a layer below the case verbs), and the demo's loader.
OWN_TRANSACTIONS = ["engine/access/accounts.py", "engine/cases/acting.py", "engine/demo.py"]


def test_transactions_are_opened_by_the_one_entry():
    assert _lines_with("UnitOfWork(", "engine", "webui") == OWN_TRANSACTIONS


def test_permission_refusals_come_from_the_rulebook():
    """Whether an actor may act on a case is the rulebook's to say; the services raise no
    NotAllowed of their own (the logins' administration keeps its grant rules, engine/access)."""
    assert _lines_with("raise NotAllowed", "engine", "webui") == ["engine/access/accounts.py",
                                                                 "engine/access/rulebook.py"]


def test_case_templates_show_what_the_rulebook_allows_and_decide_nothing():
    """Buttons on a case or a step come from the rulebook's verbs (`"escalate" in allowed`); no
    template reads roles or asks `may(...)` except the menu and the inbox's link to file a matter,
    which mirror the route decorators."""
    offenders = []
    for path in sorted((ROOT / "webui" / "templates").rglob("*.html")):
        text = path.read_text(encoding="utf-8")
        name = str(path.relative_to(ROOT / "webui" / "templates"))
        if name not in ("base.html", "work/inbox.html") and "may(" in text:
            offenders.append(name)
        if any(expression in text for expression in ("current_user.roles", "current_user.id")):
            offenders.append(name)
    assert offenders == []
