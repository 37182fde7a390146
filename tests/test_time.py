"""geo_antt._time: dates and times typed by users are Vietnam time (UTC+7)."""

from __future__ import annotations

import datetime as dt

import pytest

from geo_antt import GeoAnttError
from geo_antt._time import VIETNAM_TZ, parse_local_time

UTC = dt.UTC


def test_a_date_is_a_vietnam_day():
    start = parse_local_time("2026-11-23")
    end = parse_local_time("2026-11-23", end=True)
    assert start.astimezone(UTC) == dt.datetime(2026, 11, 22, 17, 0, tzinfo=UTC)
    assert end - start == dt.timedelta(days=1) and end.tzinfo is VIETNAM_TZ


def test_times_with_and_without_offset():
    assert parse_local_time("2026-11-23T08:30").astimezone(UTC) == dt.datetime(2026, 11, 23, 1, 30, tzinfo=UTC)
    assert parse_local_time("2026-11-23T08:30Z") == dt.datetime(2026, 11, 23, 8, 30, tzinfo=UTC)
    # end= only widens plain dates: a time is already an instant
    assert parse_local_time("2026-11-23T08:30+07:00", end=True).astimezone(UTC).hour == 1


@pytest.mark.parametrize("bad", ["23/11/2026", "2026-13-01", "hôm qua", ""])
def test_bad_values_name_the_parameter(bad):
    with pytest.raises(GeoAnttError, match="^until: "):
        parse_local_time(bad, what="until")


@pytest.mark.parametrize("bad", ["0001-01-01", "9999-12-31", "9999-12-31T23:59", "1899-12-31"])
def test_years_outside_the_range_are_refused_not_overflowed(bad):
    # 9999-12-31 as an end bound used to overflow (OverflowError: a 500 on /audit)
    with pytest.raises(GeoAnttError, match="^until: .*allowed years 1900 to 9998"):
        parse_local_time(bad, end=True, what="until")
