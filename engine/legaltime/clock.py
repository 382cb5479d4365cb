"""The one place engine code asks for the time. Tests move it with time-machine."""
from datetime import datetime, time, timezone
from zoneinfo import ZoneInfo

# Legal days are days in China: "today", deadlines, "filed today" are counted in this zone.
CHINA = ZoneInfo("Asia/Shanghai")


class Clock:
    @staticmethod
    def now():
        """Aware UTC now."""
        return datetime.now(timezone.utc)


def as_utc(value):
    """Databases hand back naive datetimes (SQLite) or aware ones (PostgreSQL): make them aware UTC."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def china_date(moment):
    """The calendar day in China of an aware moment."""
    return moment.astimezone(CHINA).date()


def end_of_day_in_china(day):
    """Where a legal period ending on `day` ends: the last second of that day in China."""
    return datetime.combine(day, time(23, 59, 59), CHINA)
