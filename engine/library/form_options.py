"""Options a form takes from the database rather than from its own JSON: a field marked
`"x-options": "department_kinds"` offers the active kinds of the department registry, so a kind an
administrator adds (教育局, 妇联) can be summoned without editing the form. The options are filled
into a copy of the form (as "enum" and "x-enum-labels") wherever the form is shown or judged, so
jsonschema still does the judging."""
import copy

from engine.access import department_kinds
from engine.library.forms import FormDef, all_fields

# A few copies per form and state of the registry; the registry changes rarely. Keyed by the
# registry's fingerprint read from the database in the caller's transaction, so a process never
# serves options another process has changed since (runtime.SpecCache says why this is per process).
_FILLED = {}
_MAX_FILLED = 256


def needs_options(definition):
    return any("x-options" in prop for _name, prop in all_fields(definition.get("schema", {})))


def fill(definition, kinds):
    """A copy of a form definition with its x-options fields filled from `kinds` (a
    department_kinds.Kinds): the active kinds to choose from, every kind's label (a step recorded
    before a kind was deactivated still reads by name). The definition itself is left alone."""
    if not definition or not needs_options(definition):
        return definition
    filled = copy.deepcopy(definition)
    for _name, prop in all_fields(filled["schema"]):
        if prop.get("x-options") == "department_kinds":
            prop["enum"] = [kind.code for kind in kinds.active()]
            prop["x-enum-labels"] = kinds.labels()
    return filled


def filled_form(form, kinds):
    """`form` (a FormDef) with its options filled, kept while neither changes."""
    if not needs_options(form.definition):
        return form
    key = (form.key, id(form.definition), kinds.fingerprint)
    found = _FILLED.get(key)
    if found is None or found[0] is not form.definition:
        if len(_FILLED) >= _MAX_FILLED:
            _FILLED.clear()
        found = _FILLED[key] = (form.definition, FormDef(form.key, fill(form.definition, kinds)))
    return found[1]


def form_of(session, version, key):
    """The form of step `key` in a version (catalog.VersionInfo), options filled from the registry."""
    form = version.form(key)
    if not needs_options(form.definition):
        return form  # most forms: the registry is not read
    return filled_form(form, department_kinds.read(session))
