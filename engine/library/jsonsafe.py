"""JSON from people and outside systems, parsed so that what cannot be stored never gets further:
no nesting deeper than MAX_DEPTH, no NUL characters or lone surrogates (PostgreSQL refuses the
first, no database can encode the second), no NaN or infinite numbers (JSON has none)."""
import json
import math

from engine.messages import Msg

MAX_DEPTH = 40


class JsonRefused(ValueError):
    """The text is not JSON this application takes. `message` (a Msg) says why."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


def _no_constant(name):
    raise JsonRefused(Msg("%(name)s is not a JSON number", name=name))


def _finite(text):
    number = float(text)
    if not math.isfinite(number):
        raise JsonRefused(Msg("the number %(text)s is too large", text=text[:20]))
    return number


def bad_text(value):
    """Why a string cannot be stored (a Msg), or None when it can."""
    if "\x00" in value:
        return Msg("contains a NUL character, which is not allowed")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return Msg("contains an invalid Unicode character (a lone surrogate)")
    return None


def refusal(value, max_depth=MAX_DEPTH):
    """Why parsed JSON (or form data) cannot be taken (a Msg), or None. Walks without
    recursion, so a deep value is measured, never a stack overflow."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > max_depth:
                return Msg("nested more than %(n)s levels deep", n=max_depth)
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
            return Msg("a number is not finite")
    return None


def loads(text, max_depth=MAX_DEPTH):
    """json.loads for untrusted text. Raises JsonRefused (a ValueError) with the reason."""
    if isinstance(text, (bytes, bytearray)):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise JsonRefused(Msg("JSON must be UTF-8 encoded")) from exc
    try:
        value = json.loads(text, parse_constant=_no_constant, parse_float=_finite)
    except RecursionError as exc:
        raise JsonRefused(Msg("nested more than %(n)s levels deep", n=max_depth)) from exc
    why = refusal(value, max_depth)
    if why:
        raise JsonRefused(why)
    return value
