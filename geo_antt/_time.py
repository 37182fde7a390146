"""Vietnam time for people: what users type and read (dates and times in UTC+7); the store keeps UTC."""

from __future__ import annotations

import datetime as _dt

from ._errors import GeoAnttError

__all__ = ["VIETNAM_TZ", "parse_local_time"]

VIETNAM_TZ = _dt.timezone(_dt.timedelta(hours=7), "UTC+7")
"""Indochina Time (no daylight saving): the time users read and type."""


def parse_local_time(value: str, *, end: bool = False, what: str = "time") -> _dt.datetime:
    """An ISO 8601 date or date-time typed by a user, as an aware datetime.

    Parameters
    ----------
    value
        ``2026-11-23``, ``2026-11-23T08:30`` (Vietnam time, UTC+7) or with an offset
        (``...Z``, ``...+07:00``).
    end
        For a plain date: the start of the next day (an exclusive upper bound covering the
        whole day) instead of the start of that day.
    what
        Name of the parameter, for the error message.

    Raises
    ------
    GeoAnttError
        ``value`` is not an ISO date or date-time.
    """
    text = value.strip()
    try:
        if len(text) == 10:
            day = _dt.date.fromisoformat(text)
            t = _dt.datetime(day.year, day.month, day.day, tzinfo=VIETNAM_TZ)
            return t + _dt.timedelta(days=1) if end else t
        t = _dt.datetime.fromisoformat(text)
    except ValueError:
        raise GeoAnttError(f"{what}: {value!r} is not a date (YYYY-MM-DD) or time (YYYY-MM-DDTHH:MM)") from None
    return t if t.tzinfo is not None else t.replace(tzinfo=VIETNAM_TZ)
