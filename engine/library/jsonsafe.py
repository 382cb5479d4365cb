"""JSON from people and outside systems, parsed so that what cannot be stored never gets further:
no nesting deeper than MAX_DEPTH, no NUL characters or lone surrogates (PostgreSQL refuses the
first, no database can encode the second), no NaN or infinite numbers (JSON has none)."""
import json
import math

MAX_DEPTH = 40


class JsonRefused(ValueError):
    """The text is not JSON this application takes. `zh` and `en` say why."""

    def __init__(self, zh, en):
        super().__init__(en)
        self.zh, self.en = zh, en


def _no_constant(name):
    raise JsonRefused(f"JSON 中不能有 {name}", f"{name} is not a JSON number")


def _finite(text):
    number = float(text)
    if not math.isfinite(number):
        raise JsonRefused("数值过大", f"the number {text[:20]} is too large")
    return number


def bad_text(value):
    """Why a string cannot be stored, as (zh, en), or None when it can."""
    if "\x00" in value:
        return "含有不允许的空字符（NUL）", "contains a NUL character, which is not allowed"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "含有无效的 Unicode 字符（孤立代理项）", "contains an invalid Unicode character (a lone surrogate)"
    return None


def refusal(value, max_depth=MAX_DEPTH):
    """Why parsed JSON (or form data) cannot be taken, as (zh, en), or None. Walks without
    recursion, so a deep value is measured, never a stack overflow."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > max_depth:
                return f"嵌套层级超过 {max_depth} 层", f"nested more than {max_depth} levels deep"
            children = item.items() if isinstance(item, dict) else ((None, v) for v in item)
            for key, child in children:
                if key is not None:
                    stack.append((key, depth))
                stack.append((child, depth + 1))
        elif isinstance(item, str):
            why = bad_text(item)
            if why:
                return why
        elif isinstance(item, float) and not math.isfinite(item):
            return "数值无效", "a number is not finite"
    return None


def loads(text, max_depth=MAX_DEPTH):
    """json.loads for untrusted text. Raises JsonRefused (a ValueError) with the reason."""
    if isinstance(text, (bytes, bytearray)):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise JsonRefused("JSON 必须是 UTF-8 编码", "JSON must be UTF-8 encoded") from exc
    try:
        value = json.loads(text, parse_constant=_no_constant, parse_float=_finite)
    except RecursionError as exc:
        raise JsonRefused(f"嵌套层级超过 {max_depth} 层", f"nested more than {max_depth} levels deep") from exc
    why = refusal(value, max_depth)
    if why:
        raise JsonRefused(*why)
    return value
