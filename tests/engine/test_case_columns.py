"""What the case store copies from a form onto a column of its own (the parties' rows, the case's
kind, category, outcome...) fits that column because the form's own limits say so: a text too
long is refused with the field's error when typed, never cut on the way to the column."""
from pathlib import Path

from engine.cases.store import _CASE_FIELDS
from engine.library.forms import load_forms, parse_form, validate
from engine.persistence.models import Case, CaseParty

ROOT = Path(__file__).resolve().parents[2]
FORMS = {name: parse_form(name, text) for name, text in load_forms(ROOT / "forms").items()}


def _length(column):
    return column.property.columns[0].type.length


def test_party_rows_fit_their_columns():
    with_parties = [form for form in FORMS.values() if "parties" in form.schema["properties"]]
    assert with_parties
    for form in with_parties:
        party = form.schema["properties"]["parties"]["items"]["properties"]
        assert party["name"]["maxLength"] <= _length(CaseParty.name), form.key
        assert party["id_number"]["maxLength"] <= _length(CaseParty.id_number), form.key
        # A phone is kept as its digits: more than the column holds is refused as typed.
        too_long = {"parties": [{"phone": "1" * (_length(CaseParty.phone) + 1)}]}
        assert "parties-0-phone" in validate(form, too_long), form.key


def test_coded_case_fields_fit_their_columns():
    checked = 0
    for form in FORMS.values():
        for name in _CASE_FIELDS:
            prop = form.schema["properties"].get(name)
            if prop is None:
                continue
            assert "enum" in prop, f"{form.key}: {name} is copied onto the case row, so it must be one of a list"
            assert max(len(value) for value in prop["enum"]) <= _length(getattr(Case, name)), f"{form.key}: {name}"
            checked += 1
    assert checked >= 6
