"""Vietnam time for people: what users type and read (dates and times in UTC+7); the store keeps UTC."""

from __future__ import annotations

import datetime as _dt

from ._errors import GeoAnttError

__all__ = ["MAX_YEAR", "MIN_YEAR", "VIETNAM_TZ", "parse_local_time"]

VIETNAM_TZ = _dt.timezone(_dt.timedelta(hours=7), "UTC+7")
"""Indochina Time (no daylight saving): the time users read and type."""


# Years a typed time may name: the next day (an end bound) and the conversion to UTC never
# overflow Python's datetime (years 1 to 9999; 9999-12-31 as an end bound did: a 500).
MIN_YEAR = 1900
MAX_YEAR = 9998


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
        ``value`` is not an ISO date or date-time, or its year is outside
        :data:`MIN_YEAR`..:data:`MAX_YEAR`.
    """
    text = value.strip()
    if text[:4].isdigit() and not MIN_YEAR <= int(text[:4]) <= MAX_YEAR:
        raise GeoAnttError(f"{what}: {value!r} is outside the allowed years {MIN_YEAR} to {MAX_YEAR}")
    try:
        if len(text) == 10:
            day = _dt.date.fromisoformat(text)
            t = _dt.datetime(day.year, day.month, day.day, tzinfo=VIETNAM_TZ)
            return t + _dt.timedelta(days=1) if end else t
        t = _dt.datetime.fromisoformat(text)
    except ValueError:
        raise GeoAnttError(f"{what}: {value!r} is not a date (YYYY-MM-DD) or time (YYYY-MM-DDTHH:MM)") from None
    return t if t.tzinfo is not None else t.replace(tzinfo=VIETNAM_TZ)
