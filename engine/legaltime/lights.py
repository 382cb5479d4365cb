"""When a step's time light turns amber: configured per stage in config/warnings.json (there is no
national rule; each center sets its own). Red is always "overdue" and needs no setting; an
extended deadline is marked on its own; the risk colour of a case is a different field."""
import json
from datetime import datetime, time
from functools import lru_cache
from pathlib import Path

import jsonschema

from engine.legaltime import workcalendar
from engine.legaltime.clock import CHINA, as_utc, china_date

DEFAULT_PATH = Path(__file__).resolve().parents[2] / "config" / "warnings.json"

_RULE = {"type": "object", "additionalProperties": False,
         "properties": {"amber_working_days": {"type": "integer", "minimum": 0, "maximum": 60},
                        "amber_share": {"type": "number", "exclusiveMinimum": 0, "maximum": 1}},
         "minProperties": 1, "maxProperties": 1}
SCHEMA = {"type": "object", "required": ["default"],
          "properties": {"_comment": {"type": "string"}, "default": _RULE,
                         "red_risk_earlier_working_days": {"type": "integer", "minimum": 0, "maximum": 30},
                         "stages": {"type": "object", "additionalProperties": _RULE}},
          "additionalProperties": False}


class WarningConfigError(Exception):
    pass


@lru_cache(maxsize=4)
def load(path=DEFAULT_PATH):
    """The settings, checked once; a broken file is a clear error at start, never a wrong light."""
    try:
        config = json.loads(Path(path).read_text(encoding="utf-8"))
        jsonschema.validate(config, SCHEMA)
    except (OSError, ValueError, jsonschema.ValidationError) as exc:
        raise WarningConfigError(f"{path}: {getattr(exc, 'message', exc)}") from exc
    return config


def rule_for(spec_id, config=None):
    config = config or load()
    return config.get("stages", {}).get(spec_id) or config["default"]


def amber_at(spec_id, started_at, due_at, config=None, risk=None):
    """The moment the step's light turns amber, never before the step started. A red-risk case
    warns `red_risk_earlier_working_days` working days earlier than its stage's rule says."""
    if due_at is None:
        return None
    config = config or load()
    due_at, started_at = as_utc(due_at), as_utc(started_at)
    rule = rule_for(spec_id, config)
    if "amber_share" in rule:
        at = due_at - (due_at - started_at) * rule["amber_share"]
    else:
        at = _working_days_before(due_at, rule["amber_working_days"])
    earlier = config.get("red_risk_earlier_working_days", 0) if risk == "red" else 0
    if earlier:
        at = min(at, _working_days_before(at, earlier + 1))
    return max(min(at, due_at), started_at)


def _working_days_before(moment, days):
    day = workcalendar.working_day_before(china_date(moment), days)
    return as_utc(datetime.combine(day, time(0, 0), CHINA))


def shift(amber, by):
    """An extension or a stopped clock moves the amber moment with the deadline."""
    return None if amber is None else as_utc(amber) + by
