"""geo_antt.numbers: one way to write a number per language (the rules of web/static/js/format.js)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from geo_antt.numbers import MISSING, format_number, format_percent, round_share


@pytest.mark.parametrize(
    ("value", "digits", "vi", "en"),
    [
        (0, 2, "0", "0"),
        (1737, 2, "1.737", "1,737"),
        (1234567.891, 2, "1.234.567,89", "1,234,567.89"),
        (314.25, 1, "314,3", "314.3"),  # ties away from zero, as Intl.NumberFormat
        (1.005, 2, "1,01", "1.01"),  # on the shortest decimal text, not the binary value
        (1.9, 2, "1,9", "1.9"),  # trailing zeros dropped
        (0.865, 2, "0,87", "0.87"),
        (0.004, 2, "0,004", "0.004"),  # below 1: two significant digits, never "0"
        (0.0004123, 2, "0,00041", "0.00041"),
        (-0.0001, 2, "-0,0001", "-0.0001"),
        (-0.0, 2, "0", "0"),
        (np.float64(27.98123), 2, "27,98", "27.98"),
        (np.int64(12000), 2, "12.000", "12,000"),
    ],
)
def test_format_number(value, digits, vi, en):
    assert format_number(value, lang="vi", digits=digits) == vi
    assert format_number(value, lang="en", digits=digits) == en


@pytest.mark.parametrize(
    ("value", "vi", "en"),
    [
        (0, "0 %", "0 %"),
        (0.0, "0 %", "0 %"),
        (100, "100 %", "100 %"),
        (1.92, "1,92 %", "1.92 %"),
        (1.9, "1,9 %", "1.9 %"),
        (0.82, "0,82 %", "0.82 %"),
        (0.004, "< 0,01 %", "< 0.01 %"),  # a small share is never "0 %"
        (0.00001, "< 0,01 %", "< 0.01 %"),
        (0.01, "0,01 %", "0.01 %"),
        (99.996, "> 99,99 %", "> 99.99 %"),  # nor "100 %" when it is not all
        (99.994, "99,99 %", "99.99 %"),
        (27.98123, "27,98 %", "27.98 %"),
    ],
)
def test_format_percent(value, vi, en):
    assert format_percent(value, lang="vi") == vi
    assert format_percent(value, lang="en") == en


def test_percent_digits_and_missing():
    assert format_percent(0.8213, lang="vi", digits=3) == "0,821 %"
    assert format_percent(0.0004, lang="vi", digits=3) == "< 0,001 %"
    assert format_percent(12.5, lang="vi", sign=False) == "12,5"
    for missing in (None, math.nan, np.nan):
        assert format_number(missing, lang="vi") == MISSING
        assert format_percent(missing, lang="en") == MISSING


def test_a_nonzero_share_never_reads_zero():
    for v in np.geomspace(1e-9, 0.5, 200):
        for lang in ("vi", "en"):
            assert format_number(v, lang=lang) not in ("0", "0,0", "0.0")
            assert not format_percent(v, lang=lang).startswith("0 ")


def test_round_share_keeps_small_shares():
    got = round_share(np.array([0.004123, 27.98123, 0.0, np.nan, 0.5234]))
    np.testing.assert_allclose(got, [0.0041, 27.98, 0.0, np.nan, 0.52])
    s = round_share(pd.Series([0.001234, 5.555], index=["a", "b"]))
    assert list(s.index) == ["a", "b"] and s.tolist() == [0.0012, 5.56]
    assert round_share(12.3456, 3) == 12.346
