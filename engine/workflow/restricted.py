"""The restricted Python that diagrams are written in: how a script or condition is checked and
compiled, the guarded names it runs with, and how its data crosses into a sandbox process.

Designers write these scripts, so they are untrusted code. This module imports only the standard
library and RestrictedPython (no package-relative imports): the sandbox process loads it as a
plain module (`engine/workflow/sandbox_child.py`), without the rest of the engine.
"""
import ast
import datetime
import math
from functools import lru_cache

from RestrictedPython import RestrictingNodeTransformer, compile_restricted_eval, compile_restricted_exec, safe_builtins
from RestrictedPython.Eval import default_guarded_getitem, default_guarded_getiter
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safer_getattr,
)


class ScriptRejected(Exception):
    """A script that may not run here: it does not compile under the restrictions, it ran too
    long or too big, or what it left behind cannot be kept in a case. `line` is the line within
    the script, where known."""

    def __init__(self, message, line=None):
        super().__init__(message)
        self.line = line


# Sizes bounded before a single operation starts, so that the sandbox process answers with a
# clear message instead of being killed at its time or memory limit.
MAX_SEQUENCE = 1_000_000
MAX_INT_BITS = 100_000
# What the check refuses before publishing: a diagram's script or condition of this size is a
# mistake or an attack, never a rule of a pathway.
MAX_SCRIPT_CHARS = 20_000
MAX_EXPRESSION_CHARS = 2_000
MAX_LITERAL_CHARS = 5_000


def _too_big(what):
    return ScriptRejected(f"{what} is too large for a script (limit {MAX_SEQUENCE:,} items / {MAX_INT_BITS:,} bits)")


def _binop(op, a, b):
    if op == "Pow":
        if isinstance(a, int) and isinstance(b, int) and b > 0 and abs(a) > 1 and a.bit_length() * b > MAX_INT_BITS:
            raise _too_big("a power")
        return a ** b
    if op == "LShift":
        if isinstance(a, int) and isinstance(b, int) and b > MAX_INT_BITS:
            raise _too_big("a shift")
        return a << b
    for sequence, count in ((a, b), (b, a)):
        if isinstance(sequence, (str, bytes, list, tuple)) and isinstance(count, int) \
                and len(sequence) * count > MAX_SEQUENCE:
            raise _too_big("a repeated sequence")
    if isinstance(a, int) and isinstance(b, int) and a.bit_length() + b.bit_length() > MAX_INT_BITS:
        raise _too_big("a product")
    return a * b


def _range(*args):
    numbers = range(*args)
    if len(numbers) > MAX_SEQUENCE:
        raise _too_big("a range")
    return numbers


class _Policy(RestrictingNodeTransformer):
    """RestrictedPython's checks, plus: *, ** and << go through size guards."""
    _GUARDED = {ast.Pow: "Pow", ast.Mult: "Mult", ast.LShift: "LShift"}

    def visit_BinOp(self, node):
        node = super().visit_BinOp(node)
        name = self._GUARDED.get(type(node.op))
        if name is None:
            return node
        call = ast.Call(func=ast.Name("_binop_", ast.Load()), args=[ast.Constant(name), node.left, node.right],
                        keywords=[])
        return ast.fix_missing_locations(ast.copy_location(call, node))


def _inplacevar(op, x, y):
    ops = {
        "+=": lambda a, b: a + b, "-=": lambda a, b: a - b, "*=": lambda a, b: _binop("Mult", a, b),
        "/=": lambda a, b: a / b, "//=": lambda a, b: a // b, "%=": lambda a, b: a % b,
        "|=": lambda a, b: a | b, "&=": lambda a, b: a & b,
    }
    if op not in ops:
        raise ScriptRejected(f"operator {op} is not allowed in scripts")
    return ops[op](x, y)


def _builtins():
    allowed = dict(safe_builtins)
    for name in ("setattr", "delattr"):
        allowed.pop(name, None)
    allowed.update({
        "dict": dict, "list": list, "set": set, "frozenset": frozenset, "sum": sum, "min": min,
        "max": max, "any": any, "all": all, "sorted": sorted, "enumerate": enumerate,
        "reversed": reversed, "map": map, "filter": filter, "math": math, "range": _range,
    })
    return allowed


BUILTINS = _builtins()
GUARDS = {
    "__builtins__": BUILTINS,
    "_getattr_": safer_getattr,
    "_getitem_": default_guarded_getitem,
    "_getiter_": default_guarded_getiter,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence,
    "_write_": full_write_guard,
    "_inplacevar_": _inplacevar,
    "_binop_": _binop,
    "date": datetime.date,
    "timedelta": datetime.timedelta,
}

# Functions the engine lends to diagrams (legal periods counted over the holiday calendar). They
# run in the engine's own process, never in the sandbox: they need its clock and calendar.
HOST_FUNCTIONS = ("working_days", "natural_days", "months")
# Names a script's namespace holds that are not the script's variables.
HIDDEN_NAMES = frozenset(GUARDS) | frozenset(HOST_FUNCTIONS)
_PLAIN_GUARDS = {name: value for name, value in GUARDS.items() if not name.startswith("_")}
_PRIVATE_GUARDS = {name: value for name, value in GUARDS.items() if name.startswith("_")}


def namespace(context, external=None, extra=None):
    """The names a script sees: the case's data may shadow `date` or `timedelta` (a form field of
    that name), never the guards."""
    names = dict(_PLAIN_GUARDS)
    names.update(extra or {})
    names.update(external or {})
    names.update(context)
    names.update(_PRIVATE_GUARDS)
    return names


def kept_variables(names, hidden):
    """What a script leaves for the case: its variables, not the guards, functions or modules."""
    return {key: value for key, value in names.items()
            if key not in hidden and not key.startswith("_") and not callable(value)
            and not isinstance(value, type(math))}


def _too_complex(compile_):
    """Python's parser and RestrictedPython's transformer recurse over the tree: code nested a few
    thousand levels deep (`- - - 1`, `1 + 1 + ... + 1`) exhausts them. That is the code's fault,
    refused like any other, never an error of the check or the step."""
    def guarded(*args):
        try:
            return compile_(*args)
        except (RecursionError, MemoryError):
            raise ScriptRejected("the code is nested too deeply to compile") from None
    return guarded


@lru_cache(maxsize=2048)
@_too_complex
def compile_expression(source):
    result = compile_restricted_eval(source.strip(), "<condition>", policy=_Policy)
    if result.errors:
        raise ScriptRejected("; ".join(result.errors))
    return result.code


@lru_cache(maxsize=2048)
@_too_complex
def compile_script(source):
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            raise ScriptRejected(f"line {node.lineno}: import is not allowed in scripts", node.lineno)
    result = compile_restricted_exec(source, "<script>", policy=_Policy)
    if result.errors:
        raise ScriptRejected("; ".join(result.errors))
    return result.code


def compile_source(source, mode):
    return compile_expression(source) if mode == "eval" else compile_script(source)


# Built-ins that only serve to reach outside the sandbox. RestrictedPython compiles a call to them
# without complaint (they are plain names) and they are missing at run time, so a diagram using
# them would publish and then fail on a live case; refuse them when the diagram is checked.
FORBIDDEN_NAMES = frozenset({
    "open", "exec", "eval", "compile", "globals", "locals", "vars", "getattr", "breakpoint",
    "input", "help", "exit", "quit", "memoryview", "dir",
}) - frozenset(BUILTINS)


@_too_complex
def _parse(source, mode):
    return ast.parse(source.strip() if mode == "eval" else source, mode=mode)


def _forbidden_names(tree):
    stored = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}
    return [(n.lineno, f'"{n.id}" is not available in scripts') for n in ast.walk(tree)
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and n.id in FORBIDDEN_NAMES
            and n.id not in stored]


def _huge_literals(tree):
    return [(node.lineno, f"a literal of {len(node.value):,} characters (limit {MAX_LITERAL_CHARS:,})")
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes))
            and len(node.value) > MAX_LITERAL_CHARS]


def _exits(node):
    """The statements within `node` that leave a loop it is in: a nested loop's break leaves
    only that loop (its return or raise leaves ours too); a nested function's statements run
    elsewhere."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
        return
    if isinstance(node, (ast.For, ast.While, ast.AsyncFor)):
        yield from (inner for inner in ast.walk(node) if isinstance(inner, (ast.Return, ast.Raise)))
        return
    if isinstance(node, (ast.Break, ast.Return, ast.Raise)):
        yield node
    for child in ast.iter_child_nodes(node):
        yield from _exits(child)


def _leaves(body):
    return any(True for statement in body for _ in _exits(statement))


def _endless_loops(tree):
    return [(node.lineno, "a loop that never ends (while with an always-true test and no break, return or raise)")
            for node in ast.walk(tree)
            if isinstance(node, ast.While) and isinstance(node.test, ast.Constant) and bool(node.test.value)
            and not _leaves(node.body)]


def check_source(source, kind):
    """Compile a script or condition as it will run, and refuse what can be known to be wrong
    before publishing: names that are not available, endless loops, huge literals. The message
    names the line within the script."""
    mode = "eval" if kind == "expression" else "exec"
    limit = MAX_EXPRESSION_CHARS if mode == "eval" else MAX_SCRIPT_CHARS
    if len(source) > limit:
        raise ScriptRejected(f"{len(source):,} characters, over the limit of {limit:,}")
    compile_source(source, mode)
    tree = _parse(source, mode)
    found = sorted(dict.fromkeys(_forbidden_names(tree) + _huge_literals(tree) + _endless_loops(tree)))
    if found:
        raise ScriptRejected("; ".join(f"Line {line}: {what}" for line, what in found), found[0][0])


# SpiffWorkflow's DMN engine reads `?` in an input cell as the column's value, and a cell that is
# not an expression by itself (`> 5`, `in ("a", "b")`) as a test written after the value.
_DMN_INPUT = "dmninputexpr"


def check_decision_cell(text, kind):
    """Check a decision-table cell as the DMN engine will evaluate it; `kind` is "input" for a
    rule's test on a column, anything else for an input or output expression."""
    source = (text or "").strip()
    if not source:
        return
    if len(source) > MAX_EXPRESSION_CHARS:
        raise ScriptRejected(f"{len(source):,} characters, over the limit of {MAX_EXPRESSION_CHARS:,}")
    if kind == "input":
        source = _question_marks(source)
        try:
            _parse(source, "eval")
        except SyntaxError:
            source = f"{_DMN_INPUT} {source}"
    check_source(source, "expression")


def _question_marks(source):
    """`?` outside string literals, as the column's value (a scan, not the engine's regex)."""
    out, quote = [], None
    for char in source:
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "?":
            out.append(_DMN_INPUT)
            continue
        out.append(char)
    return "".join(out)


# ---- expressions that need no sandbox ---------------------------------------------------------
# Most conditions, decision cells and timer expressions are a comparison or one call of a legal
# period: no loops, no calls into arbitrary code, no operator whose cost grows with its operands.
# Their cost is bounded by their length and the case's data, so they run in the engine's process.
# Everything else goes to the sandbox process.

_BOUNDED_NODES = (
    ast.Expression, ast.Module, ast.Assign, ast.Pass, ast.Constant, ast.Name, ast.Load,
    ast.Store, ast.Attribute, ast.Subscript, ast.Slice, ast.Compare, ast.BoolOp, ast.UnaryOp,
    ast.IfExp, ast.Tuple, ast.List, ast.Dict, ast.Set, ast.Call, ast.keyword,
    ast.And, ast.Or, ast.Not, ast.USub, ast.UAdd,
    ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Is, ast.IsNot, ast.In, ast.NotIn,
)
BOUNDED_CALLS = frozenset(HOST_FUNCTIONS) | {"date", "timedelta", "len"}


def _bounded_node(node):
    if not isinstance(node, _BOUNDED_NODES):
        return False
    if isinstance(node, ast.Call):
        return isinstance(node.func, ast.Name) and node.func.id in BOUNDED_CALLS
    if isinstance(node, ast.Assign):
        return all(isinstance(target, ast.Name) for target in node.targets)
    return True


@lru_cache(maxsize=4096)
def bounded_by_shape(source, mode):
    """None if `source` needs the sandbox; else the built-in names it reads as values, which the
    case's data must shadow (a form field called `complex`) for it to stay in the engine's
    process: `x = sorted` would hand the script a function."""
    if len(source) > MAX_EXPRESSION_CHARS:
        return None
    try:
        tree = _parse(source, mode)
    except (SyntaxError, ScriptRejected):
        return None
    if not all(_bounded_node(node) for node in ast.walk(tree)):
        return None
    return frozenset(node.id for node in ast.walk(tree) if isinstance(node, ast.Name)
                     and node.id not in BOUNDED_CALLS and (node.id in BUILTINS or node.id in GUARDS))


def is_bounded(source, mode, context):
    shadowed = bounded_by_shape(source, mode)
    return shadowed is not None and all(name in context for name in shadowed)


# ---- data across the process boundary -------------------------------------------------------
# JSON with tagged objects for the few non-JSON types scripts may make. A dict that itself has
# the tag key is sent as a list of pairs, so case data can never be mistaken for a tag.
_TAG = "$yz"
# JSON cannot carry an integer of more than 4,300 digits (Python's default conversion limit).
MAX_STORED_INT_BITS = 14_000
MAX_DEPTH = 200


def encode(value, depth=0):
    if depth > MAX_DEPTH:
        raise ScriptRejected(f"the data is nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > MAX_STORED_INT_BITS:
        raise ScriptRejected("a number of more than 4,000 digits cannot be kept in a case")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [encode(item, depth + 1) for item in value]
    if isinstance(value, dict):
        if all(isinstance(key, str) for key in value) and _TAG not in value:
            return {key: encode(item, depth + 1) for key, item in value.items()}
        return {_TAG: "dict", "v": [[encode(k, depth + 1), encode(v, depth + 1)] for k, v in value.items()]}
    if isinstance(value, (set, frozenset)):
        return {_TAG: "set", "v": [encode(item, depth + 1) for item in value]}
    if isinstance(value, datetime.datetime):
        return {_TAG: "datetime", "v": value.isoformat()}
    if isinstance(value, datetime.date):
        return {_TAG: "date", "v": value.isoformat()}
    if isinstance(value, datetime.time):
        return {_TAG: "time", "v": value.isoformat()}
    if isinstance(value, datetime.timedelta):
        return {_TAG: "timedelta", "v": [value.days, value.seconds, value.microseconds]}
    raise ScriptRejected(f"a value of type {type(value).__name__} cannot be kept in a case")


_DECODERS = {
    "dict": lambda v: {decode(k): decode(item) for k, item in v},
    "set": lambda v: {decode(item) for item in v},
    "datetime": datetime.datetime.fromisoformat,
    "date": datetime.date.fromisoformat,
    "time": datetime.time.fromisoformat,
    "timedelta": lambda v: datetime.timedelta(*v),
}


def decode(value):
    if isinstance(value, list):
        return [decode(item) for item in value]
    if isinstance(value, dict):
        tag = value.get(_TAG)
        if tag is not None and set(value) == {_TAG, "v"} and tag in _DECODERS:
            return _DECODERS[tag](value["v"])
        return {key: decode(item) for key, item in value.items()}
    return value
