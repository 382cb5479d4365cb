"""The department registry as a new database holds it (the migration's initial kinds), for checks
of the library that run without a database (engine/library/catalog.compile_library takes it)."""
import importlib.util
from pathlib import Path

from engine.access.department_kinds import Kind, Kinds

_MIGRATION = (Path(__file__).resolve().parent.parent / "migrations" / "versions"
              / "139341c89b1b_registries_meetings_referrals_dossier.py")


def _initial():
    spec = importlib.util.spec_from_file_location("initial_kinds_migration", _MIGRATION)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.INITIAL_KINDS


SEEDED = Kinds(Kind(code, name, name_en, None, True, position) for position, (code, name, name_en)
               in enumerate(_initial()))
