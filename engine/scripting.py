"""The script environment for BPMN scripts, gateway conditions and DMN expressions.

Designers write these in the diagrams, so they are untrusted code. SpiffWorkflow's default
environment runs them with plain exec/eval; here they are compiled with RestrictedPython,
run with its attribute and item guards, a small whitelist of builtins and a time limit.
"""
import ast
import datetime
import math
import sys
import time
from functools import lru_cache

from RestrictedPython import RestrictingNodeTransformer, compile_restricted_eval, compile_restricted_exec, safe_builtins
from RestrictedPython.Eval import default_guarded_getitem, default_guarded_getiter
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safer_getattr,
)
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

from . import workcalendar
from .clock import CHINA, Clock, china_date

SCRIPT_TIME_LIMIT_SECONDS = 1.0


class ScriptRejected(Exception):
    """A script that may not run here: it does not compile under the restrictions, or it ran too long."""


# The time limit checks the clock between lines, so it cannot stop one huge operation done in C
# (10**10**10, "x" * 10**10, sum(range(10**12))). Those are bounded by size before they start.
MAX_SEQUENCE = 1_000_000
MAX_INT_BITS = 100_000


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


def _deadline(deadline):
    """End of the deadline's day in China, as the ISO text a BPMN timeDate expects."""
    end = datetime.datetime.combine(deadline.day, datetime.time(23, 59, 59), CHINA)
    return end.isoformat()


def working_days(count):
    """For timer expressions: `working_days(5)` is the end of the fifth working day after today
    (today not counted; weekends and public holidays skipped, make-up working days counted)."""
    return _deadline(workcalendar.add_working_days(_today_in_china(), int(count)))


def natural_days(count):
    """For timer expressions: `natural_days(15)` is the end of the fifteenth day after today, or
    of the next working day if that one is a holiday (民事诉讼法 Art. 85)."""
    return _deadline(workcalendar.add_days(_today_in_china(), int(count)))


def _today_in_china():
    return china_date(Clock.now())


def deadline_from(expression, data, start):
    """Evaluate a timer expression as if the timer had started on `start` (a date in China), for
    recomputing a deadline once the holiday calendar it crossed is published."""
    counted = {
        "working_days": lambda count: _deadline(workcalendar.add_working_days(start, int(count))),
        "natural_days": lambda count: _deadline(workcalendar.add_days(start, int(count))),
    }
    return RestrictedEnvironment().evaluate(expression, dict(data), counted)


_BUILTINS = _builtins()
_GUARDS = {
    "__builtins__": _BUILTINS,
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
    "working_days": working_days,
    "natural_days": natural_days,
}


@lru_cache(maxsize=2048)
def compile_expression(source):
    result = compile_restricted_eval(source.strip(), "<condition>", policy=_Policy)
    if result.errors:
        raise ScriptRejected("; ".join(result.errors))
    return result.code


@lru_cache(maxsize=2048)
def compile_script(source):
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            raise ScriptRejected(f"line {node.lineno}: import is not allowed in scripts")
    result = compile_restricted_exec(source, "<script>", policy=_Policy)
    if result.errors:
        raise ScriptRejected("; ".join(result.errors))
    return result.code


# Built-ins that only serve to reach outside the sandbox. RestrictedPython compiles a call to them
# without complaint (they are plain names) and they are missing at run time, so a diagram using
# them would publish and then fail on a live case; refuse them when the diagram is checked.
FORBIDDEN_NAMES = frozenset({
    "open", "exec", "eval", "compile", "globals", "locals", "vars", "getattr", "breakpoint",
    "input", "help", "exit", "quit", "memoryview", "dir",
}) - frozenset(_BUILTINS)


def _forbidden_names(source, mode):
    tree = ast.parse(source.strip() if mode == "eval" else source, mode=mode)
    stored = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}
    return [f'Line {n.lineno}: "{n.id}" is not available in scripts' for n in ast.walk(tree)
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and n.id in FORBIDDEN_NAMES
            and n.id not in stored]


def check_source(source, kind):
    """Compile a script or condition as it will run, so a designer sees the error before publishing."""
    (compile_expression if kind == "expression" else compile_script)(source)
    errors = _forbidden_names(source, "eval" if kind == "expression" else "exec")
    if errors:
        raise ScriptRejected("; ".join(dict.fromkeys(errors)))


def _run_with_time_limit(run, limit):
    # A line tracer on this thread only: works in web threads where signals cannot be used.
    deadline = time.monotonic() + limit
    previous = sys.gettrace()

    def tracer(frame, event, arg):
        if time.monotonic() > deadline:
            raise ScriptRejected(f"script ran longer than {limit:g} s and was stopped")
        return tracer

    sys.settrace(tracer)
    try:
        return run()
    finally:
        sys.settrace(previous)


class RestrictedEnvironment(BasePythonScriptEngineEnvironment):
    def __init__(self, time_limit=SCRIPT_TIME_LIMIT_SECONDS):
        super().__init__({})
        self.time_limit = time_limit

    def _namespace(self, context, external_context):
        namespace = dict(_GUARDS)
        namespace.update(external_context or {})
        namespace.update(context)
        return namespace

    def evaluate(self, expression, context, external_context=None):
        code = compile_expression(expression)
        namespace = self._namespace(context, external_context)
        return _run_with_time_limit(lambda: eval(code, namespace), self.time_limit)

    def execute(self, script, context, external_context=None):
        code = compile_script(script)
        namespace = self._namespace(context, external_context)
        _run_with_time_limit(lambda: exec(code, namespace), self.time_limit)
        hidden = set(_GUARDS) | set(external_context or {})
        for key in list(context):
            if key not in namespace:
                del context[key]
        for key, value in namespace.items():
            if key in hidden or key.startswith("_") or callable(value) or isinstance(value, type(math)):
                continue
            context[key] = value
        return True

    def call_service(self, context, **kwargs):
        raise ScriptRejected("service tasks are not available to diagrams")


class RestrictedScriptEngine(PythonScriptEngine):
    def __init__(self):
        super().__init__(environment=RestrictedEnvironment())

    def validate(self, expression):
        compile_expression(expression)


SCRIPT_ENGINE = RestrictedScriptEngine()
