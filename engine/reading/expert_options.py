"""Experts of the registry as a form's options: a field marked `"x-options": "experts"` (the
whistle's summoned experts, the joint consultation's opinions) offers the active experts registered
at the case's unit and the units above it (and at the resident departments stationed there), filled into a copy of the form as "enum" and
"x-enum-labels" wherever the form is shown or judged, so jsonschema still does the judging. Every
expert's label is filled in (a deactivated one still reads by name in what was recorded). A field
that also says `"x-summon": true` summons the experts chosen (engine/cases/expert_summons.py)."""
import copy

from sqlalchemy import select

from engine.library import catalog, form_options
from engine.library.forms import FormDef, all_fields as fields
from engine.messages import in_chinese
from engine.persistence.models import OrgUnit, Resolver
from engine.reading.registry import EXPERT_KINDS, KINDS, chain_ids

SOURCE = "experts"


def needs_experts(definition):
    return bool(definition) and any(prop.get("x-options") == SOURCE
                                    for _name, prop in fields(definition.get("schema", {})))


def _label(person, unit_name):
    kind_zh, kind_en = in_chinese(KINDS[person.kind]), KINDS[person.kind]
    where = person.committee or unit_name
    return [f"{person.name}（{kind_zh}·{where}）", f"{person.name} ({kind_en}, {where})"]


def _experts(session):
    return session.execute(select(Resolver, OrgUnit.name).join(OrgUnit, OrgUnit.id == Resolver.org_unit_id)
                           .where(Resolver.kind.in_(EXPERT_KINDS)).order_by(Resolver.kind, Resolver.name)).all()


def fill(session, definition, unit_path=None):
    """A copy of a form definition with its expert fields filled: to choose from, the active
    experts of `unit_path`'s unit and the units above it (none when no unit is given: the form is
    only being read); every expert's label. The definition itself is left alone."""
    if not needs_experts(definition):
        return definition
    rows = _experts(session)
    chain = set(chain_ids(unit_path)) if unit_path else set()
    if chain:  # and the resident departments stationed at those centers (a judge of the court there)
        chain |= set(session.scalars(select(OrgUnit.id).where(OrgUnit.parent_id.in_(chain),
                                                              OrgUnit.level == "department")))
    choices = [str(person.id) for person, _unit in rows if person.active and person.org_unit_id in chain]
    labels = {str(person.id): _label(person, unit_name) for person, unit_name in rows}
    filled = copy.deepcopy(definition)
    for _name, prop in fields(filled["schema"]):
        if prop.get("x-options") == SOURCE:
            prop["enum"], prop["x-enum-labels"] = choices, labels
    return filled


def form_for(session, form, unit_path):
    """`form` (a FormDef) as a case of `unit_path` shows and judges it."""
    if not needs_experts(form.definition):
        return form
    return FormDef(form.key, fill(session, form.definition, unit_path))


def step_form(session, version_id, key, unit_path):
    """The form of step `key` of a process version as a case of `unit_path` shows and judges it:
    its options filled from the department registry and from the registry of experts."""
    version = catalog.version_info(session, version_id)
    return form_for(session, form_options.form_of(session, version, key), unit_path)
