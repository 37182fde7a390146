"""The report's period (parsing, bounds, the period compared) and the selection of its units."""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import pandas as pd

from .._errors import GeoAnttError
from .._time import VIETNAM_TZ

__all__ = ["check_period", "parse_period", "previous_period"]


def parse_period(text: str) -> tuple[dt.date, dt.date]:
    """Parse ``"YYYY-MM-DD:YYYY-MM-DD"`` (inclusive) into two dates.

    Raises
    ------
    GeoAnttError
        When the text is not two ISO dates or the end precedes the start.
    """
    try:
        a, b = str(text).split(":")
        start, end = dt.date.fromisoformat(a.strip()), dt.date.fromisoformat(b.strip())
    except ValueError:
        raise GeoAnttError(f"period must be START:END in ISO dates, e.g. 2024-01-01:2024-09-30; got {text!r}") from None
    if end < start:
        raise GeoAnttError(f"period {text!r} ends before it starts")
    check_period(start, end)
    return start, end


# Dates a report period may span: the previous period of the same length must stay inside the
# dates Python and pandas represent (pandas: 1677-09-22 to 2262-04-11).
PERIOD_MIN = dt.date(1900, 1, 1)


PERIOD_MAX = dt.date(2200, 12, 31)


def check_period(start: dt.date, end: dt.date) -> None:
    """Raise :class:`GeoAnttError` unless ``start``..``end`` lies within 1900-01-01..2200-12-31.

    Raises
    ------
    GeoAnttError
        When a date is outside that range (naming the date and the range) or the end precedes
        the start.
    """
    for what, day in (("start", start), ("end", end)):
        if not PERIOD_MIN <= day <= PERIOD_MAX:
            raise GeoAnttError(
                f"period {what} {day.isoformat()} is outside the allowed range "
                f"{PERIOD_MIN.isoformat()} to {PERIOD_MAX.isoformat()}"
            )
    if end < start:
        raise GeoAnttError(f"period {start.isoformat()}:{end.isoformat()} ends before it starts")


COMPARE_RULES = ("year", "before")


def _year_earlier(day: dt.date) -> dt.date:
    """The same day a year earlier (29 February -> 28 February)."""
    try:
        return day.replace(year=day.year - 1)
    except ValueError:
        return day.replace(year=day.year - 1, day=28)


def previous_period(start: dt.date, end: dt.date, *, compare: str = "year") -> tuple[dt.date, dt.date]:
    """The period ``start``..``end`` is compared with.

    ``compare="year"`` (default): the same dates a year earlier (01/01-12/01/2026 against
    01/01-12/01/2025: the review conferences compare with the same period of last year); a period
    longer than a year is compared with the one just before it. ``compare="before"``: the period
    of the same length (in days) just before ``start``.
    """
    if compare not in COMPARE_RULES:
        raise GeoAnttError(f"compare={str(compare)[:40]!r}: use one of {', '.join(COMPARE_RULES)}")
    if compare == "year" and (end - start).days < 366 and _year_earlier(end) < start:
        return _year_earlier(start), _year_earlier(end)
    days = (end - start).days + 1
    pend = start - dt.timedelta(days=1)
    return pend - dt.timedelta(days=days - 1), pend


def _dates(s: pd.Series | None, n: int) -> pd.Series:
    if s is None:
        return pd.Series(pd.NaT, index=range(n))
    return pd.to_datetime(s.astype("string"), errors="coerce", format="mixed")


def _models_in(models: gpd.GeoDataFrame, scope: pd.DataFrame, all_codes: set[str]) -> gpd.GeoDataFrame:
    """Models of the units in ``scope``: by ``unit_code``; a model whose code is missing or
    names no known unit (e.g. hamlet codes with only commune boundaries loaded) counts where it
    stands.
    """
    codes = set(scope.index.astype(str))
    uc = (
        models["unit_code"].astype("string")
        if "unit_code" in models.columns
        else pd.Series(pd.NA, index=models.index, dtype="string")
    )
    inside = uc.isin(codes).fillna(False).to_numpy(dtype=bool)
    unknown = (uc.isna() | ~uc.isin(all_codes).fillna(False)).to_numpy(dtype=bool)
    loose = unknown & models.geometry.notna().to_numpy()
    if loose.any() and isinstance(scope, gpd.GeoDataFrame) and len(scope) and models.crs is not None:
        geo = scope.loc[scope.geometry.notna()]
        if len(geo):
            area = geo.to_crs(models.crs).union_all()
            inside = inside | (loose & models.geometry.intersects(area).to_numpy())
    return models.loc[inside]


def _state_at(models: gpd.GeoDataFrame, end: dt.date) -> gpd.GeoDataFrame:
    """Models registered by ``end`` (``start_date`` on or before it, or unknown), any status."""
    start = _dates(models.get("start_date"), len(models))
    start.index = models.index
    keep = start.isna() | (start <= pd.Timestamp(end))
    return models.loc[keep.to_numpy()]


def _counting_at(state: gpd.GeoDataFrame, end: dt.date) -> gpd.GeoDataFrame:
    """Models of ``state`` that count toward coverage on ``end``: active and not ended."""
    stop = _dates(state.get("end_date"), len(state))
    stop.index = state.index
    status = state["status"].astype("string") if "status" in state.columns else pd.Series("active", index=state.index)
    keep = (status == "active").fillna(False) & (stop.isna() | (stop > pd.Timestamp(end)))
    return state.loc[keep.to_numpy()]


def _registered_days(models: gpd.GeoDataFrame) -> pd.Series:
    """The Vietnam-time day each model was registered in the store (``created_at``, UTC), NaT
    where unknown (models read from files).
    """
    if "created_at" not in models.columns:
        return pd.Series(pd.NaT, index=models.index, dtype="datetime64[ns]")
    t = pd.to_datetime(models["created_at"], errors="coerce", utc=True)
    return t.dt.tz_convert(VIETNAM_TZ).dt.tz_localize(None).dt.normalize()


def _new_in(models: gpd.GeoDataFrame, start: dt.date, end: dt.date) -> gpd.GeoDataFrame:
    """Models new in the period: their ``start_date`` lies in it or, for a model without one,
    the day it was registered in the store (an import of the day counts that day).
    """
    s = _dates(models.get("start_date"), len(models))
    s.index = models.index
    s = s.fillna(_registered_days(models))
    return models.loc[((s >= pd.Timestamp(start)) & (s <= pd.Timestamp(end))).to_numpy()]
