"""One way to write a number, per language (Babel's CLDR number formats).

The rules, shared with ``web/static/js/format.js`` (``geoAntt.fmt``):

- ``format_number(value, lang=, digits=)``: grouped, at most ``digits`` decimals, trailing zeros
  dropped; a non-zero value below 1 keeps two significant digits (0.004 -> "0,004", never "0");
  ties round away from zero on the shortest decimal text of the value (as ``Intl.NumberFormat``).
- ``format_percent(value, lang=, digits=)``: ``value`` in percent (0-100); exactly 0 is "0 %",
  a non-zero share below one unit of the last digit is "< 0,01 %", a share short of 100 that
  would round to it is "> 99,99 %"; otherwise as ``format_number`` with ``digits`` decimals.
- Vietnamese writes 1.234,5 (vi_VN), English 1,234.5 (en_GB); the sign is " %" after a space.
"""

from __future__ import annotations

import decimal
import math
from typing import Any

from babel.numbers import format_decimal

__all__ = ["LOCALES", "MISSING", "format_number", "format_percent", "fraction_digits", "round_share"]

#: The CLDR locale of each language of the app.
LOCALES = {"vi": "vi_VN", "en": "en_GB"}
#: What a missing value (None, NaN) is written as.
MISSING = "—"
_MAX_DIGITS = 12


def _locale(lang: str) -> str:
    return LOCALES.get(lang, LOCALES["vi"])


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return False


def fraction_digits(value: float, digits: int) -> int:
    """The decimals ``format_number`` writes ``value`` with (at most): ``digits``, or more for
    a non-zero value below 1 so that two significant digits show (0.004 -> 4).
    """
    v = abs(float(value))
    if v == 0 or v >= 1 or not math.isfinite(v):
        return digits
    return max(digits, min(_MAX_DIGITS, 1 - math.floor(math.log10(v))))


def _rounded(value: float, decimals: int) -> decimal.Decimal:
    """``value`` to ``decimals`` places, ties away from zero on its shortest decimal text."""
    return decimal.Decimal(repr(float(value))).quantize(
        decimal.Decimal(1).scaleb(-decimals), rounding=decimal.ROUND_HALF_UP
    )


def _write(value: float, lang: str, decimals: int) -> str:
    q = _rounded(value, decimals)
    if q == 0:
        q = abs(q)  # no "-0"
    pattern = "#,##0." + "#" * decimals if decimals > 0 else "#,##0"
    return format_decimal(q, format=pattern, locale=_locale(lang), decimal_quantization=False)


def format_number(value: Any, *, lang: str, digits: int = 2) -> str:
    """``value`` written for people reading ``lang`` ("vi" | "en").

    Parameters
    ----------
    value
        A number; None or NaN gives ``MISSING``. Integers are written whole.
    lang
        "vi" (1.234,5) or "en" (1,234.5).
    digits
        At most this many decimals (more for a non-zero value below 1: two significant digits).

    Returns
    -------
    str
    """
    if _missing(value):
        return MISSING
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int) or (hasattr(value, "dtype") and getattr(value.dtype, "kind", "") in "iu"):
        return format_decimal(int(value), format="#,##0", locale=_locale(lang))
    v = float(value)
    if not math.isfinite(v):
        return str(v)
    return _write(v, lang, fraction_digits(v, digits))


def format_percent(value: Any, *, lang: str, digits: int = 2, sign: bool = True) -> str:
    """A share ``value`` in percent (0-100) for ``lang``: never "0 %" when it is not zero.

    Parameters
    ----------
    value
        The share in percent; None or NaN gives ``MISSING``.
    lang
        "vi" | "en".
    digits
        Decimals at most (trailing zeros dropped).
    sign
        Append " %" (False for table cells under a "(%)" header).

    Returns
    -------
    str
    """
    if _missing(value):
        return MISSING
    v = float(value)
    step = 10.0**-digits
    suffix = " %" if sign else ""
    if 0 < abs(v) < step:
        return ("< " if v > 0 else "> -") + _write(step, lang, digits) + suffix
    if 100 - step / 2 <= v < 100:
        return "> " + _write(100 - step, lang, digits) + suffix
    return _write(v, lang, digits) + suffix


def round_share(values: Any, digits: int = 2) -> Any:
    """``values`` (shares in percent: a number, an array or a Series) rounded as
    ``format_number`` writes them: ``digits`` decimals, but a non-zero share below 1 keeps two
    significant digits (0.0041 stays 0.0041), so the report's tables and sheets never show a
    covered share as 0 when it is not. A Series keeps its index.
    """
    import numpy as np
    import pandas as pd

    def one(x: float) -> float:
        return float(_rounded(x, fraction_digits(x, digits))) if math.isfinite(x) else x

    if isinstance(values, pd.Series):
        return values.astype(float).map(one)
    if np.ndim(values) == 0:
        return one(float(values))
    v = np.asarray(values, dtype=float)
    return np.array([one(x) for x in v.ravel()], dtype=float).reshape(v.shape)
