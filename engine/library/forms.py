"""Task forms: JSON Schema plus UI hints (x-title-en, x-enum-labels, x-widget, x-personal).

Turns what a browser posts (flat names such as "parties-0-phone") into typed data, validates
it with jsonschema, and reports errors per field in Chinese and English."""
import json
import math
import re
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cached_property, lru_cache
from pathlib import Path

import re2
from jsonschema import Draft202012Validator, FormatChecker, validators
from jsonschema.exceptions import SchemaError, ValidationError

from engine.legaltime.clock import Clock, china_date
from engine.library.jsonsafe import bad_text, loads as json_loads
from engine.messages import Msg, N_

ITEM_KEY = re.compile(r"^(?P<field>[a-z_][a-z0-9_]*)-(?P<index>\d{1,3})-(?P<sub>[a-z_][a-z0-9_]*)$")
MAX_ITEMS = 200


# Where a field's options may come from instead of its own "enum" (engine/library/form_options.py
# fills them in when the form is shown and when it is judged): "department_kinds", the active kinds
# of the department registry; "experts", the active experts of the registry of mediators and experts
# at the case's unit and above (engine/reading/expert_options.py).
OPTION_SOURCES = ("department_kinds", "experts")


class FormDefinitionError(ValueError):
    def __init__(self, message, line=1):
        super().__init__(message)
        self.line = line


# ---- patterns and dates: what the validator runs on a clerk's input ------------------------------
# A designer's "pattern" runs on every submission. Python's re backtracks (^(a+)+$ takes seconds on
# 28 characters, and doubles with each more); RE2 runs in time linear in the input and refuses what
# it cannot run so (backreferences, lookaround), which check and publish report with the field.

_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False
_ESCAPE = re.compile(r"\\(?:u([0-9A-Fa-f]{4})|.)", re.S)


class PatternRefused(ValueError):
    pass


@lru_cache(maxsize=1024)
def compile_pattern(pattern):
    """A JSON Schema (ECMA-262) pattern compiled by RE2; \\uXXXX is written \\x{XXXX} there.
    Raises PatternRefused saying why RE2 cannot run it."""
    if not isinstance(pattern, str):
        raise PatternRefused("a pattern must be a string")
    try:
        return re2.compile(_ESCAPE.sub(lambda m: f"\\x{{{m[1]}}}" if m[1] else m[0], pattern), _RE2_OPTIONS)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        raise PatternRefused(reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)) from None


def _unusable(pattern, why):
    return ValidationError(f"pattern {pattern!r} cannot be used: {why}", validator="x-unusable-pattern")


def _pattern(validator, pattern, instance, schema):
    if not validator.is_type(instance, "string") or bad_text(instance):
        return  # text RE2 cannot read (a lone surrogate) is refused as unstorable instead
    try:
        regex = compile_pattern(pattern)
    except PatternRefused as why:
        yield _unusable(pattern, why)
        return
    if not regex.search(instance):
        yield ValidationError(f"{instance[:50]!r} does not match {pattern!r}")


def _matching(validator, patterns, instance):
    """(key, pattern) for each key of `instance` a patternProperties pattern matches, by RE2."""
    for pattern in patterns:
        try:
            regex = compile_pattern(pattern)
        except PatternRefused as why:
            yield None, _unusable(pattern, why)
            continue
        yield from ((key, pattern) for key in instance if not bad_text(key) and regex.search(key))


def _pattern_properties(validator, patterns, instance, schema):
    if not validator.is_type(instance, "object"):
        return
    for key, pattern in _matching(validator, patterns, instance):
        if key is None:
            yield pattern
        else:
            yield from validator.descend(instance[key], patterns[pattern], path=key, schema_path=pattern)


_ADDITIONAL = Draft202012Validator.VALIDATORS["additionalProperties"]


def _additional_properties(validator, additional, instance, schema):
    if "patternProperties" not in schema or not validator.is_type(instance, "object"):
        yield from _ADDITIONAL(validator, additional, instance, schema)
        return
    matched = {key for key, _ in _matching(validator, schema["patternProperties"], instance) if key is not None}
    extras = [key for key in instance if key not in schema.get("properties", {}) and key not in matched]
    if validator.is_type(additional, "object"):
        for key in extras:
            yield from validator.descend(instance[key], additional, path=key)
    elif not additional and extras:
        yield ValidationError(f"{', '.join(map(repr, sorted(extras)))}: not allowed here")


# A date a form records happened: by default not before 1900 and not after today (in China). A field
# says otherwise with "x-not-before" / "x-not-after": "YYYY-MM-DD", "today", "today+N" or "today-N".
DATE_BOUNDS = {"x-not-before": "1900-01-01", "x-not-after": "today"}
_RELATIVE = re.compile(r"^today(?:([+-])(\d{1,5}))?$")


def date_bound(spec, today):
    """The date a bound names. Raises ValueError for a bound that names none."""
    relative = _RELATIVE.match(spec) if isinstance(spec, str) else None
    if relative:
        days = int(relative[2] or 0)
        return today + timedelta(days=-days if relative[1] == "-" else days)
    if not isinstance(spec, str):
        raise ValueError(spec)
    return date.fromisoformat(spec)


_FORMAT = Draft202012Validator.VALIDATORS["format"]


def _format(validator, fmt, instance, schema):
    errors = list(_FORMAT(validator, fmt, instance, schema))
    yield from errors
    if errors or fmt != "date" or not isinstance(instance, str):
        return
    try:
        day = date.fromisoformat(instance)
    except ValueError:
        return
    today = china_date(Clock.now())
    low = date_bound(schema.get("x-not-before", DATE_BOUNDS["x-not-before"]), today)
    high = date_bound(schema.get("x-not-after", DATE_BOUNDS["x-not-after"]), today)
    if day < low:
        yield ValidationError(f"{instance} is before {low}", validator="x-not-before", validator_value=low.isoformat())
    elif day > high:
        yield ValidationError(f"{instance} is after {high}", validator="x-not-after", validator_value=high.isoformat())


FORMAT_CHECKER = FormatChecker()
FORMAT_CHECKER.checkers = dict(Draft202012Validator.FORMAT_CHECKER.checkers)


@FORMAT_CHECKER.checks("regex", raises=PatternRefused)
def _is_regex(instance):
    return not isinstance(instance, str) or bool(compile_pattern(instance))


FormValidator = validators.extend(Draft202012Validator, {
    "pattern": _pattern, "patternProperties": _pattern_properties, "additionalProperties": _additional_properties,
    "format": _format,
})


@dataclass(frozen=True)
class FormDef:
    key: str
    definition: dict

    @property
    def schema(self):
        return self.definition["schema"]

    @cached_property
    def validator(self):
        return FormValidator(self.schema, format_checker=FORMAT_CHECKER)

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
        definition = json_loads(text)
    except ValueError as exc:
        raise FormDefinitionError(f"not valid JSON: {getattr(exc, 'msg', exc)}", getattr(exc, "lineno", 1)) from exc
    if not isinstance(definition, dict) or "schema" not in definition or "title" not in definition:
        raise FormDefinitionError('a form needs "title" and "schema"')
    schema = definition["schema"]
    _check_patterns_and_dates(text, schema)
    try:
        FormValidator.check_schema(schema, format_checker=FORMAT_CHECKER)
    except SchemaError as exc:
        path = "/".join(str(p) for p in exc.path)
        raise FormDefinitionError(f"invalid JSON Schema at {path or 'top'}: {exc.message}",
                                  _line_of(text, str(exc.path[-1]) if exc.path else '"schema"')) from exc
    if schema.get("type") != "object":
        raise FormDefinitionError('the schema must be of "type": "object"', _line_of(text, '"schema"'))
    for name, prop in all_fields(schema):
        if "title" not in prop:
            raise FormDefinitionError(f'field "{name}" has no "title"', _line_of(text, f'"{name}"'))
        if "x-options" in prop and prop["x-options"] not in OPTION_SOURCES:
            raise FormDefinitionError(f'field "{name}": "x-options" names {str(prop["x-options"])[:40]!r}, not one of '
                                      f'{", ".join(OPTION_SOURCES)}', _line_of(text, '"x-options"'))
        labels = prop.get("x-enum-labels")
        if "enum" in prop and labels is not None:
            missing = [v for v in prop["enum"] if v not in labels]
            if missing:
                raise FormDefinitionError(f'field "{name}": no label for {missing}', _line_of(text, f'"{name}"'))
    return FormDef(key, definition)


_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
_SCHEMA_ONE = ("items", "additionalProperties", "contains", "propertyNames", "if", "then", "else", "not",
               "unevaluatedItems", "unevaluatedProperties", "additionalItems")


def _subschemas(schema):
    """Every schema object inside `schema` (never its data: enum values, labels) with its path,
    without recursion."""
    stack = [((), schema)]
    while stack:
        path, node = stack.pop()
        if not isinstance(node, dict):
            continue
        yield path, node
        for key in _SCHEMA_MAPS:
            if isinstance(node.get(key), dict):
                stack.extend((path + (key, name), sub) for name, sub in node[key].items())
        for key in _SCHEMA_LISTS:
            if isinstance(node.get(key), list):
                stack.extend((path + (key, index), sub) for index, sub in enumerate(node[key]))
        stack.extend((path + (key,), node[key]) for key in _SCHEMA_ONE if key in node)


def _field_name(path):
    """("properties", "parties", "items", "properties", "phone") -> "parties.phone"."""
    names = [str(path[i + 1]) for i, part in enumerate(path[:-1]) if part == "properties"]
    return ".".join(names) or "schema"


def _check_patterns_and_dates(text, schema):
    """Every pattern must compile under RE2 and every date bound name a date; the field is named."""
    uses_unevaluated = any("unevaluatedProperties" in node for _path, node in _subschemas(schema))
    for path, node in _subschemas(schema):
        field = _field_name(path)
        patterns = [node["pattern"]] if "pattern" in node else []
        if isinstance(node.get("patternProperties"), dict):
            if uses_unevaluated:
                raise FormDefinitionError(f'field "{field}": patternProperties cannot be combined with '
                                          "unevaluatedProperties here", _line_of(text, '"patternProperties"'))
            patterns += list(node["patternProperties"])
        for pattern in patterns:
            try:
                compile_pattern(pattern)
            except PatternRefused as why:
                needle = json.dumps(pattern, ensure_ascii=False)[1:-1] if isinstance(pattern, str) else '"pattern"'
                raise FormDefinitionError(
                    f'field "{field}": pattern {pattern!r} cannot be used ({why}); patterns run in linear time '
                    "(RE2), without backreferences or lookaround", _line_of(text, needle)) from None
        for keyword in DATE_BOUNDS:
            if keyword not in node:
                continue
            if node.get("format") != "date":
                raise FormDefinitionError(f'field "{field}": {keyword} needs "format": "date"', _line_of(text, keyword))
            try:
                date_bound(node[keyword], china_date(Clock.now()))
            except (ValueError, TypeError, OverflowError):
                raise FormDefinitionError(f'field "{field}": {keyword} must be "YYYY-MM-DD", "today", "today+N" or '
                                          f'"today-N", not {node[keyword]!r}', _line_of(text, keyword)) from None


def all_fields(schema):
    """Every field and every field of an array's items, as (dotted name, property)."""
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
    # Browsers post a textarea's line breaks as CRLF; kept as LF, a limit counts what people see.
    value = value.replace("\r\n", "\n").strip()
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
        if not math.isfinite(number):
            return value  # "nan", "inf", "1e999": no number a form can record
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
    "required": N_("This field is required"),
    "pattern": N_("The format is not right"),
    "minLength": N_("Enter at least %(v)s characters"),
    "maxLength": N_("Enter at most %(v)s characters (there are %(n)s); shorten it and submit again"),
    "minimum": N_("Must be at least %(v)s"),
    "maximum": N_("Must be at most %(v)s"),
    "enum": N_("Choose one of the options"),
    "const": N_("Choose one of the options"),
    "minItems": N_("Add at least %(v)s"),
    "maxItems": N_("Add at most %(v)s"),
    "format": N_("Enter a valid date (YYYY-MM-DD)"),
    "type:integer": N_("Enter a whole number"),
    "type:number": N_("Enter a number"),
    "type": N_("Wrong type"),
    "x-not-before": N_("The date cannot be before %(v)s"),
    "x-not-after": N_("The date cannot be after %(v)s"),
    "x-unusable-pattern": N_("This field's format rule cannot be used; tell the process designer"),
}
# JSON numbers beyond this are not exact in JavaScript, nor storable in every database column.
MAX_NUMBER = 2 ** 53 - 1
MAX_DATA_DEPTH = 10


def _unstorable(data):
    """(path, Msg) for each value no database can keep as typed: NUL characters, lone
    surrogates, numbers that are not finite or too large, nesting no form has."""
    stack = [((), data)]
    while stack:
        path, item = stack.pop()
        if len(path) > MAX_DATA_DEPTH:
            yield path[:1], Msg("Nested too deeply")
        elif isinstance(item, dict):
            for key, value in item.items():
                why = bad_text(key) if isinstance(key, str) else None
                if why:
                    yield path, why
                stack.append((path + (key,), value))
        elif isinstance(item, list):
            stack.extend((path + (index,), value) for index, value in enumerate(item))
        elif isinstance(item, str):
            why = bad_text(item)
            if why:
                yield path, why
        elif isinstance(item, (int, float)) and not isinstance(item, bool):
            if not math.isfinite(item) or abs(item) > MAX_NUMBER:
                yield path, Msg("The number is not valid or too large")


def _message(error):
    custom = error.schema.get("x-pattern-message") if isinstance(error.schema, dict) else None
    if error.validator == "pattern" and custom:
        return tuple(custom)  # the designer's words, in both languages
    key = error.validator
    if key == "type":
        key = f"type:{error.validator_value}" if f"type:{error.validator_value}" in _MESSAGES else "type"
    if key not in _MESSAGES:
        return error.message
    # %(n)s: how long the text is (said beside a length limit, so nobody has to count).
    length = len(error.instance) if isinstance(error.instance, (str, list)) else 0
    return Msg(_MESSAGES[key], v=error.validator_value, n=length)


def field_key(path):
    """["parties", 0, "phone"] -> "parties-0-phone", the name the browser posted."""
    return "-".join(str(p) for p in path)


# What bounds a draft: it is kept unvalidated (a required field empty, a date half typed) but is
# no larger than a submission may be.
SIZE_KEYWORDS = frozenset({"maxLength", "maxItems", "maxProperties"})


def validate(form, data, only=None):
    """Return {field key: why}; empty when the data is valid. `why` is a Msg, or the
    designer's own (zh, en) message for a pattern (x-pattern-message). With `only` (a set of JSON
    Schema keywords), judge by those alone, and by whether the data can be stored."""
    errors = {}
    for path, why in _unstorable(data):
        errors.setdefault(field_key(path) or "_form", why)
    for error in form.validator.iter_errors(data):
        if only is not None and error.validator not in only:
            continue
        if error.validator in ("if", "allOf", "then"):
            continue
        if error.validator == "required":
            for name in error.validator_value:
                if isinstance(error.instance, dict) and name not in error.instance:
                    errors.setdefault(field_key(list(error.absolute_path) + [name]), _message(error))
            continue
        errors.setdefault(field_key(error.absolute_path) or "_form", _message(error))
    return errors
