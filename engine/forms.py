"""Task forms: JSON Schema plus UI hints (x-title-en, x-enum-labels, x-widget, x-personal).

Turns what a browser posts (flat names such as "parties-0-phone") into typed data, validates
it with jsonschema, and reports errors per field in Chinese and English."""
import json
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

ITEM_KEY = re.compile(r"^(?P<field>[a-z_][a-z0-9_]*)-(?P<index>\d{1,3})-(?P<sub>[a-z_][a-z0-9_]*)$")
MAX_ITEMS = 200


class FormDefinitionError(ValueError):
    def __init__(self, message, line=1):
        super().__init__(message)
        self.line = line


@dataclass(frozen=True)
class FormDef:
    key: str
    definition: dict

    @property
    def schema(self):
        return self.definition["schema"]

    @cached_property
    def validator(self):
        return Draft202012Validator(self.schema, format_checker=Draft202012Validator.FORMAT_CHECKER)

    def title(self, lang="zh"):
        return self.definition.get("title_en" if lang == "en" else "title") or self.definition["title"]

    def description(self, lang="zh"):
        return self.definition.get("description_en" if lang == "en" else "description", "")

    def personal_fields(self):
        """Paths of fields marked x-personal (ID numbers, phones), for masking."""
        found = []
        for name, prop in self.schema.get("properties", {}).items():
            if prop.get("x-personal"):
                found.append((name,))
            for sub, subprop in prop.get("items", {}).get("properties", {}).items():
                if subprop.get("x-personal"):
                    found.append((name, sub))
        return found


def _line_of(text, needle):
    for number, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return number
    return 1


def parse_form(key, text):
    """Parse and check a form definition. Raises FormDefinitionError with a line number."""
    try:
        definition = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FormDefinitionError(f"not valid JSON: {exc.msg}", exc.lineno) from exc
    if not isinstance(definition, dict) or "schema" not in definition or "title" not in definition:
        raise FormDefinitionError('a form needs "title" and "schema"')
    schema = definition["schema"]
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        path = "/".join(str(p) for p in exc.path)
        raise FormDefinitionError(f"invalid JSON Schema at {path or 'top'}: {exc.message}",
                                  _line_of(text, str(exc.path[-1]) if exc.path else '"schema"')) from exc
    if schema.get("type") != "object":
        raise FormDefinitionError('the schema must be of "type": "object"', _line_of(text, '"schema"'))
    for name, prop in _all_fields(schema):
        if "title" not in prop:
            raise FormDefinitionError(f'field "{name}" has no "title"', _line_of(text, f'"{name}"'))
        labels = prop.get("x-enum-labels")
        if "enum" in prop and labels is not None:
            missing = [v for v in prop["enum"] if v not in labels]
            if missing:
                raise FormDefinitionError(f'field "{name}": no label for {missing}', _line_of(text, f'"{name}"'))
    return FormDef(key, definition)


def _all_fields(schema):
    for name, prop in schema.get("properties", {}).items():
        yield name, prop
        for sub, subprop in prop.get("items", {}).get("properties", {}).items():
            yield f"{name}.{sub}", subprop


def load_forms(folder):
    """Every forms/*.json as {file name: text}."""
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(Path(folder).glob("*.json"))}


# ---- submitted data -------------------------------------------------------------------------

def _coerce(value, prop):
    """Turn one posted string into the type the schema wants; leave it a string if it will not
    convert, so validation names the problem instead of the value being lost."""
    kind = prop.get("type")
    if kind == "boolean":
        return value in ("on", "true", "1", "yes", True)
    if value is None:
        return None
    value = value.strip()
    if value == "":
        return None
    if kind == "integer":
        try:
            return int(value)
        except ValueError:
            return value
    if kind == "number":
        try:
            number = float(value)
        except ValueError:
            return value
        return int(number) if number.is_integer() else number
    return value


def data_from_post(form, post):
    """Build form data from a posted mapping (name -> value). Unknown names are ignored."""
    data = {}
    properties = form.schema.get("properties", {})
    rows = {}
    for name, value in post.items():
        match = ITEM_KEY.match(name)
        if match and match["field"] in properties and properties[match["field"]].get("type") == "array":
            index = int(match["index"])
            if index < MAX_ITEMS:
                rows.setdefault(match["field"], {}).setdefault(index, {})[match["sub"]] = value
    for name, prop in properties.items():
        if prop.get("type") == "array":
            item_props = prop.get("items", {}).get("properties", {})
            items = []
            for index in sorted(rows.get(name, {})):
                raw = rows[name][index]
                item = {}
                for sub, subprop in item_props.items():
                    value = _coerce(raw.get(sub), subprop) if sub in raw or subprop.get("type") == "boolean" else None
                    if value is not None and value != "":
                        item[sub] = value
                if any(v not in (None, False) for v in item.values()):
                    items.append(item)
            data[name] = items
        elif prop.get("type") == "boolean":
            data[name] = _coerce(post.get(name), prop)
        else:
            value = _coerce(post.get(name), prop)
            if value is None:
                # A field left out takes the schema's default, so conditions can rely on it.
                value = prop.get("default")
            if value is not None:
                data[name] = value
    return data


def data_from_json(form, payload):
    """Keep only the fields the form defines (a system's JSON may carry more); types are left
    as sent, for validation to judge."""
    if not isinstance(payload, dict):
        return {}
    properties = form.schema.get("properties", {})
    data = {}
    for name, value in payload.items():
        prop = properties.get(name)
        if prop is None or value is None:
            continue
        item_props = prop.get("items", {}).get("properties") if prop.get("type") == "array" else None
        if item_props is not None and isinstance(value, list):
            value = [{k: v for k, v in item.items() if k in item_props} if isinstance(item, dict) else item
                     for item in value[:MAX_ITEMS]]
        data[name] = value
    for name, prop in properties.items():
        # An unticked checkbox is False in a browser's form; make it so when a system leaves it out.
        if prop.get("type") == "boolean" and name not in data:
            data[name] = False
        elif name not in data and "default" in prop:
            data[name] = prop["default"]
    return data


_MESSAGES = {
    "required": ("此项为必填项", "This field is required"),
    "pattern": ("格式不正确", "The format is not right"),
    "minLength": ("至少填写 {v} 个字", "Enter at least {v} characters"),
    "maxLength": ("不能超过 {v} 个字", "Enter at most {v} characters"),
    "minimum": ("不能小于 {v}", "Must be at least {v}"),
    "maximum": ("不能大于 {v}", "Must be at most {v}"),
    "enum": ("请从列表中选择", "Choose one of the options"),
    "const": ("请从列表中选择", "Choose one of the options"),
    "minItems": ("至少填写 {v} 项", "Add at least {v}"),
    "maxItems": ("最多填写 {v} 项", "Add at most {v}"),
    "format": ("请输入有效日期（年-月-日）", "Enter a valid date (YYYY-MM-DD)"),
    "type:integer": ("请输入整数", "Enter a whole number"),
    "type:number": ("请输入数字", "Enter a number"),
    "type": ("类型不正确", "Wrong type"),
}


def _message(error):
    custom = error.schema.get("x-pattern-message") if isinstance(error.schema, dict) else None
    if error.validator == "pattern" and custom:
        return tuple(custom)
    key = error.validator
    if key == "type":
        key = f"type:{error.validator_value}" if f"type:{error.validator_value}" in _MESSAGES else "type"
    zh, en = _MESSAGES.get(key, (error.message, error.message))
    return zh.format(v=error.validator_value), en.format(v=error.validator_value)


def field_key(path):
    """["parties", 0, "phone"] -> "parties-0-phone", the name the browser posted."""
    return "-".join(str(p) for p in path)


def validate(form, data):
    """Return {field key: (zh message, en message)}; empty when the data is valid."""
    errors = {}
    for error in form.validator.iter_errors(data):
        if error.validator in ("if", "allOf", "then"):
            continue
        if error.validator == "required":
            for name in error.validator_value:
                if isinstance(error.instance, dict) and name not in error.instance:
                    errors.setdefault(field_key(list(error.absolute_path) + [name]), _message(error))
            continue
        errors.setdefault(field_key(error.absolute_path) or "_form", _message(error))
    return errors
