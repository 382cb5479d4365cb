"""Legal periods counted the Chinese way (民法典 2020 Arts. 200-204; 民事诉讼法 2023 Art. 85): the
start day is not counted; a period in working days skips weekends and public holidays but counts
make-up working days (调休); a period in days or in months that ends on a rest day moves to the
next working day; a period in months ends on the corresponding day of the last month, or on that
month's last day when it has no such day (民法典 Art. 202). Every period ends at the end of its last
day in China (Art. 203).

Published years come from chinese-calendar (the State Council notices). A year whose notice is
not out yet is computed from the statutory holidays by rule (the `holidays` package, lunar
festivals included) and weekends, and the result is marked provisional; an administrator can
load the notice early as config/holidays/<year>.json ({"holidays": [...], "workdays": [...]}).
"""
import calendar
import hashlib
import json
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

import chinese_calendar
import holidays as statutory

NOTICES_DIR = Path(__file__).resolve().parents[2] / "config" / "holidays"
MAX_SPAN_DAYS = 3 * 366  # no legal period here is longer; a bound keeps a bad input from looping
MAX_MONTHS = 120


@dataclass(frozen=True)
class Deadline:
    day: date
    provisional: bool  # some day on the way lies in a year whose holiday notice is not published


def _notice(year):
    """A notice an administrator loaded for `year`, re-read when the file changes (no restart)."""
    path = NOTICES_DIR / f"{year}.json"
    if not path.exists():
        return None
    return _read_notice(str(path), path.stat().st_mtime_ns)


@lru_cache(maxsize=16)
def _read_notice(path, _mtime):
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return frozenset(date.fromisoformat(d) for d in data.get("holidays", ())), \
        frozenset(date.fromisoformat(d) for d in data.get("workdays", ()))


def is_published(year):
    """Whether the holiday arrangements of `year` are known (a package year or a loaded notice)."""
    try:
        chinese_calendar.is_workday(date(year, 1, 1))
        return True
    except NotImplementedError:  # chinese-calendar's way of saying: no notice for that year yet
        return _notice(year) is not None


def calendar_version():
    """What a counted deadline depends on besides the statutes: chinese-calendar's release and the
    notices loaded in NOTICES_DIR (by content, so machines holding the same files agree). Counted
    again under another version, a deadline may move."""
    notices = sorted((path.name, hashlib.sha256(path.read_bytes()).hexdigest())
                     for path in NOTICES_DIR.glob("*.json")) if NOTICES_DIR.is_dir() else []
    return json.dumps([chinese_calendar.__version__, str(NOTICES_DIR), notices])


@lru_cache(maxsize=16)
def _rule_holidays(year):
    return frozenset(statutory.China(years=year))


def is_workday(day):
    """(is it a working day, is that answer provisional)."""
    try:
        return chinese_calendar.is_workday(day), False
    except NotImplementedError:  # chinese-calendar's way of saying: no notice for that year yet
        pass
    notice = _notice(day.year)
    if notice is not None:
        days_off, workdays = notice
        if day in workdays:
            return True, False
        return day.weekday() < 5 and day not in days_off, False
    return day.weekday() < 5 and day not in _rule_holidays(day.year), True


def add_working_days(start, count):
    """The day `count` working days after `start` (which is not counted)."""
    day, left, provisional = start, count, False
    for _ in range(MAX_SPAN_DAYS):
        if left <= 0:
            return Deadline(day, provisional)
        day += timedelta(days=1)
        working, guessed = is_workday(day)
        provisional |= guessed
        if working:
            left -= 1
    raise ValueError(f"{count} working days from {start} is beyond any legal period")


def add_days(start, count):
    """`count` natural days after `start`; if that day is not a working day, the next one that is."""
    day = start + timedelta(days=count)
    working, provisional = is_workday(day)
    for _ in range(MAX_SPAN_DAYS):
        if working:
            return Deadline(day, provisional)
        day += timedelta(days=1)
        working, guessed = is_workday(day)
        provisional |= guessed
    raise ValueError(f"no working day after {start + timedelta(days=count)}")


def add_months(start, count):
    """`count` months after `start` (民法典 Arts. 201-203): the corresponding day of the last month,
    or its last day when it has none (January 31st + 1 month is February 28th or 29th); if that
    day is not a working day, the next one that is."""
    if not 0 <= count <= MAX_MONTHS:
        raise ValueError(f"a period of {count} months is beyond any legal period")
    month = start.month - 1 + count
    year, month = start.year + month // 12, month % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    end = date(year, month, day)
    return add_days(end, 0)


def working_day_before(day, count):
    """The `count`-th working day counting back from `day` (included when it is a working day):
    1 is the last working day on or before `day`. 0 means `day` itself."""
    if count <= 0:
        return day
    left = count
    for _ in range(MAX_SPAN_DAYS):
        if is_workday(day)[0]:
            left -= 1
            if left == 0:
                return day
        day -= timedelta(days=1)
    raise ValueError(f"{count} working days before {day} is beyond any legal period")
