"""The one place engine code asks for the time. Tests move it with time-machine."""
from datetime import datetime, timezone


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
