"""The script environment for BPMN scripts, pre/post scripts, gateway conditions, DMN cells and
timer expressions.

Designers write these in the diagrams, so they are untrusted code (engine/workflow/restricted.py says how
they are checked and compiled). Where each one runs:
- an expression or assignment with no loop, no call into arbitrary code and no operator whose
  cost grows with its operands (`route == "mediation"`, `natural_days(30)`) runs here, in the
  engine's process: its cost is bounded by its length and the case's data, and it cannot change
  anything it reads;
- everything else runs in a sandbox process (engine/workflow/sandbox.py) on a copy of the case's data,
  with a CPU time limit, a memory limit and a kill when its time is up.
Either way a condition or decision cell changes nothing in the case's data, and what a script
leaves behind is bounded by the size a case may hold.
"""
import ast
import datetime
import os

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

from engine.workflow import sandbox
from engine.legaltime import workcalendar
from engine.legaltime.clock import Clock, china_date, end_of_day_in_china
from engine.workflow.restricted import (  # noqa: F401  (ScriptRejected and check_source are this module's API)
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
    return end_of_day_in_china(deadline.day).isoformat()


def _whole(count, unit, limit):
    """A period's length as a whole number of `unit`s within 0..limit, or a refusal."""
    if isinstance(count, bool) or not isinstance(count, (int, float, str)):
        raise ScriptRejected(f"a period must be a whole number of {unit}, not {type(count).__name__}")
    try:
        whole = int(count)
    except (ValueError, OverflowError):
        raise ScriptRejected(f"a period must be a whole number of {unit}, not {str(count)[:20]!r}") from None
    if not 0 <= whole <= limit:
        raise ScriptRejected(f"a period of {whole} {unit} is outside 0..{limit}")
    return whole


def _days(count):
    return _whole(count, "days", MAX_PERIOD_DAYS)


def _months(count):
    return _whole(count, "months", workcalendar.MAX_MONTHS)


def _since(value, today):
    """The day a period starts from when the diagram names one (the day a party learned of an
    administrative act, the day a decision was served): a date, or ISO text as a form keeps it.
    It may lie in the past (the window may already be closed), never over ten years away."""
    if isinstance(value, datetime.datetime):
        value = china_date(value) if value.tzinfo else value.date()
    elif isinstance(value, str):
        try:
            value = datetime.date.fromisoformat(value.strip()[:10])
        except ValueError:
            raise ScriptRejected(f"{value[:20]!r} is not a date (YYYY-MM-DD)") from None
    if not isinstance(value, datetime.date):
        raise ScriptRejected(f"a period starts on a date, not {type(value).__name__}")
    if abs((value - today).days) > MAX_PERIOD_DAYS:
        raise ScriptRejected(f"a period starting on {value} is more than {MAX_PERIOD_DAYS} days away")
    return value


def _periods(start):
    """The legal-period functions of timer expressions, counted from the day `start()` gives
    (a date in China), or from the day named as their second argument."""
    def counted(add, count_of):
        def period(count, since=None):
            day = start() if since is None else _since(since, start())
            try:
                return _deadline(add(day, count_of(count)))
            except ValueError as beyond:  # the calendar counts no further than any legal period
                raise ScriptRejected(str(beyond)) from None
        return period
    return {
        "working_days": counted(workcalendar.add_working_days, _days),
        "natural_days": counted(workcalendar.add_days, _days),
        "months": counted(workcalendar.add_months, _months),
    }


def _today_in_china():
    return china_date(Clock.now())


_TODAY = _periods(_today_in_china)


def working_days(count, since=None):
    """For timer expressions: `working_days(5)` is the end of the fifth working day after today
    (today not counted; weekends and public holidays skipped, make-up working days counted)."""
    return _TODAY["working_days"](count, since)


def natural_days(count, since=None):
    """For timer expressions: `natural_days(15)` is the end of the fifteenth day after today, or
    of the next working day if that one is a holiday (民事诉讼法 Art. 85); `natural_days(60,
    act_known_on)` counts from the day the case's data names instead of today."""
    return _TODAY["natural_days"](count, since)


def months(count, since=None):
    """For timer expressions: `months(1)` is the end of the corresponding day of next month (the
    month's last day when it has none), or of the next working day if that one is a rest day
    (民法典 Arts. 201-203)."""
    return _TODAY["months"](count, since)


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
    # The line goes last: SpiffWorkflow reads "name 'x' is not defined" from the start of the text.
    where = f" (line {line})" if line and kind != "ScriptRejected" else ""
    cls = _SCRIPT_ERRORS.get(kind)
    if cls is not None:
        return cls(f"{message}{where}")
    if kind in (None, "ScriptRejected"):
        return ScriptRejected(message, line)
    return ScriptRejected(f"{kind}: {message}{where}", line)


# ---- what a timer expression gives ---------------------------------------------------------------
# SpiffWorkflow counts a duration month by month (P99999999Y looped for ever in the engine's
# process) and fails on anything that is not ISO 8601 text. A timer's value is checked here first.
MAX_CYCLES = 100
_DAYS_PER = {"years": 366, "months": 31, "weeks": 7, "days": 1, "hours": 1 / 24, "minutes": 1 / 1440,
             "seconds": 1 / 86400}


def _duration_days(text):
    try:
        parsed = TimerEventDefinition.parse_iso_duration(text)
    except Exception:  # noqa: BLE001 - SpiffWorkflow raises a bare Exception for a malformed duration
        raise ScriptRejected(f"{text[:40]!r} is not an ISO 8601 duration (P30D, PT2H)") from None
    return sum(_DAYS_PER[unit] * value for unit, value in parsed.items())


def _check_duration(text):
    if not 0 < _duration_days(text) <= MAX_PERIOD_DAYS:
        raise ScriptRejected(f"a timer of {text[:40]} is outside 0..{MAX_PERIOD_DAYS} days")


def _check_date(value):
    if isinstance(value, str):
        if value.upper().startswith("P"):
            raise ScriptRejected(f"a timeDate needs a date and time, not the duration {value[:40]!r}")
        try:
            value = TimerEventDefinition.parse_time_or_duration(value)
        except Exception:  # noqa: BLE001 - malformed dates fail inside the library in many ways
            raise ScriptRejected(f"{value[:40]!r} is not an ISO 8601 date and time") from None
    if not isinstance(value, datetime.datetime):
        raise ScriptRejected(f"a timeDate needs a date and time, not {type(value).__name__}")
    latest = Clock.now() + datetime.timedelta(days=MAX_PERIOD_DAYS)
    if value.tzinfo is not None and value > latest:
        raise ScriptRejected(f"a deadline on {value.date()} is more than {MAX_PERIOD_DAYS} days away")


def _check_cycle(text):
    parts = text.upper().replace("--", "/").strip("R").split("/")
    cycles = parts[0]
    if not cycles.isdigit() or not 1 <= int(cycles) <= MAX_CYCLES or len(parts) < 2:
        raise ScriptRejected(f"a repeating timer needs R1..R{MAX_CYCLES} and an interval, not {text[:40]!r}")
    for part in parts[1:]:
        if part.startswith("P"):
            if not 1 / 24 <= _duration_days(part) <= MAX_PERIOD_DAYS:
                raise ScriptRejected(f"a repeating timer's interval {part[:40]} is outside 1 hour..{MAX_PERIOD_DAYS} days")
        else:
            _check_date(part)


def check_timer_value(kind, value):
    """Refuse what a timer expression gave unless SpiffWorkflow can take it quickly: an ISO 8601
    date (timeDate), duration (timeDuration) or R<n>/interval (timeCycle) within the longest legal
    period. `kind` is the BPMN element: timeDate, timeDuration or timeCycle."""
    if kind == "timeDate":
        return _check_date(value)
    if not isinstance(value, str):
        raise ScriptRejected(f"a {kind} needs ISO 8601 text, not {type(value).__name__}")
    if len(value) > 200:
        raise ScriptRejected(f"a {kind} of {len(value)} characters is not ISO 8601")
    (_check_duration if kind == "timeDuration" else _check_cycle)(value.strip())


def check_timer_expression(kind, source):
    """What can be known of a timer expression before publishing: a literal is checked as its
    value, and a legal-period call with a literal count as the date it gives."""
    try:
        tree = ast.parse(source.strip(), mode="eval").body
    except SyntaxError:
        return  # compile_source names it
    if isinstance(tree, ast.Constant):
        check_timer_value(kind, tree.value)
    elif isinstance(tree, ast.Call) and isinstance(tree.func, ast.Name) and tree.func.id in _TODAY:
        if kind != "timeDate":
            raise ScriptRejected(f"{tree.func.id}() gives a date: write it as a timeDate, not a {kind}")
        if len(tree.args) == 1 and not tree.keywords and isinstance(tree.args[0], ast.Constant):
            _TODAY[tree.func.id](tree.args[0].value)  # counted as it will be, so check and run agree


_TIMER_KINDS = {TimeDateEventDefinition: "timeDate", DurationTimerEventDefinition: "timeDuration",
                CycleTimerEventDefinition: "timeCycle"}


class RestrictedScriptEngine(PythonScriptEngine):
    def __init__(self):
        super().__init__(environment=RestrictedEnvironment())

    def validate(self, expression):
        compile_source(expression, "eval")

    def evaluate(self, task, expression, external_context=None):
        value = super().evaluate(task, expression, external_context)
        definition = getattr(task.task_spec, "event_definition", None)
        kind = _TIMER_KINDS.get(type(definition))
        if kind is not None and expression == definition.expression:
            try:
                check_timer_value(kind, value)
            except ScriptRejected as refused:
                raise WorkflowTaskException(f"timer expression {expression!r} gave {str(value)[:60]!r}",
                                            task=task, exception=refused) from refused
        return value


SCRIPT_ENGINE = RestrictedScriptEngine()
