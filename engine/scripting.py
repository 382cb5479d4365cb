"""The script environment for BPMN scripts, pre/post scripts, gateway conditions, DMN cells and
timer expressions.

Designers write these in the diagrams, so they are untrusted code (engine/restricted.py says how
they are checked and compiled). Where each one runs:
- an expression or assignment with no loop, no call into arbitrary code and no operator whose
  cost grows with its operands (`route == "mediation"`, `natural_days(30)`) runs here, in the
  engine's process: its cost is bounded by its length and the case's data, and it cannot change
  anything it reads;
- everything else runs in a sandbox process (engine/sandbox.py) on a copy of the case's data,
  with a CPU time limit, a memory limit and a kill when its time is up.
Either way a condition or decision cell changes nothing in the case's data, and what a script
leaves behind is bounded by the size a case may hold.
"""
import datetime
import os

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

from . import sandbox, workcalendar
from .clock import CHINA, Clock, china_date
from .restricted import (  # noqa: F401  (ScriptRejected and check_source are this module's API)
    HIDDEN_NAMES,
    ScriptRejected,
    check_decision_cell,
    check_source,
    compile_source,
    decode,
    is_bounded,
    kept_variables,
    namespace,
)

SCRIPT_TIME_LIMIT_SECONDS = float(os.environ.get("SCRIPT_SECONDS", "1.0"))
# The most a case's stored state may hold; also the most one script may hand back.
MAX_CASE_STATE_BYTES = int(os.environ.get("MAX_CASE_STATE_KB", "1024")) * 1024
# A legal period longer than ten years is a mistake in the diagram, and counting it day by day
# would hold the engine.
MAX_PERIOD_DAYS = 3660


def _deadline(deadline):
    """End of the deadline's day in China, as the ISO text a BPMN timeDate expects."""
    end = datetime.datetime.combine(deadline.day, datetime.time(23, 59, 59), CHINA)
    return end.isoformat()


def _days(count):
    if isinstance(count, bool) or not isinstance(count, (int, float, str)):
        raise ScriptRejected(f"a period must be a whole number of days, not {type(count).__name__}")
    try:
        days = int(count)
    except (ValueError, OverflowError):
        raise ScriptRejected(f"a period must be a whole number of days, not {str(count)[:20]!r}") from None
    if not 0 <= days <= MAX_PERIOD_DAYS:
        raise ScriptRejected(f"a period of {days} days is outside 0..{MAX_PERIOD_DAYS}")
    return days


def _periods(start):
    """The legal-period functions of timer expressions, counted from the day `start()` gives
    (a date in China)."""
    return {
        "working_days": lambda count: _deadline(workcalendar.add_working_days(start(), _days(count))),
        "natural_days": lambda count: _deadline(workcalendar.add_days(start(), _days(count))),
    }


def _today_in_china():
    return china_date(Clock.now())


_TODAY = _periods(_today_in_china)


def working_days(count):
    """For timer expressions: `working_days(5)` is the end of the fifth working day after today
    (today not counted; weekends and public holidays skipped, make-up working days counted)."""
    return _TODAY["working_days"](count)


def natural_days(count):
    """For timer expressions: `natural_days(15)` is the end of the fifteenth day after today, or
    of the next working day if that one is a holiday (民事诉讼法 Art. 85)."""
    return _TODAY["natural_days"](count)


def deadline_from(expression, data, start):
    """Evaluate a timer expression as if the timer had started on `start` (a date in China), for
    recomputing a deadline once the holiday calendar it crossed is published."""
    return SCRIPT_ENGINE.environment.evaluate(expression, dict(data), host=_periods(lambda: start))


class RestrictedEnvironment(BasePythonScriptEngineEnvironment):
    def __init__(self, time_limit=None):
        super().__init__({})
        self.time_limit = SCRIPT_TIME_LIMIT_SECONDS if time_limit is None else time_limit

    def evaluate(self, expression, context, external_context=None, host=None):
        host = host or _TODAY
        if is_bounded(expression, "eval", context):
            code = compile_source(expression, "eval")
            return eval(code, namespace(context, external_context, host))  # noqa: S307 - bounded, restricted
        return decode(self._sandboxed("eval", expression, context, external_context, host)["value"])

    def execute(self, script, context, external_context=None):
        if is_bounded(script, "exec", context):
            names = namespace(context, external_context, _TODAY)
            exec(compile_source(script, "exec"), names)  # noqa: S102 - bounded, restricted
            context.update(kept_variables(names, HIDDEN_NAMES | set(external_context or {})))
            return True
        answer = self._sandboxed("exec", script, context, external_context, _TODAY)
        for key in answer["deleted"]:
            context.pop(key, None)
        context.update(decode(answer["context"]))
        return True

    def _sandboxed(self, mode, source, context, external_context, host):
        answer = sandbox.POOL.run(mode, source, context, external_context, host, self.time_limit,
                                  MAX_CASE_STATE_BYTES)
        if not answer.get("ok"):
            raise _error(answer)
        return answer

    def call_service(self, context, **kwargs):
        raise ScriptRejected("service tasks are not available to diagrams")


# A script's own mistakes come back as the same type wherever it ran (a missing variable is a
# NameError in the sandbox too); anything else is a refusal.
_SCRIPT_ERRORS = {cls.__name__: cls for cls in (
    NameError, TypeError, ValueError, KeyError, IndexError, AttributeError, ZeroDivisionError,
    ArithmeticError, OverflowError, LookupError, AssertionError, UnboundLocalError,
)}


def _error(answer):
    kind, message, line = answer.get("kind"), answer.get("error") or "the script failed", answer.get("line")
    where = f"line {line}: " if line and kind != "ScriptRejected" else ""
    cls = _SCRIPT_ERRORS.get(kind)
    if cls is not None:
        return cls(f"{where}{message}")
    if kind in (None, "ScriptRejected"):
        return ScriptRejected(message, line)
    return ScriptRejected(f"{where}{kind}: {message}", line)


class RestrictedScriptEngine(PythonScriptEngine):
    def __init__(self):
        super().__init__(environment=RestrictedEnvironment())

    def validate(self, expression):
        compile_source(expression, "eval")


SCRIPT_ENGINE = RestrictedScriptEngine()
