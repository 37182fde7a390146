"""Crosswalk from the pre-2025 communes to the communes of the 1 July 2025 reform.

The mapping comes from the PyPI package ``vietnamadminunits``, which ships it as
``data/converter_2025.json`` (keys built from folded names: ``tinhbinhthuan_huyenhamthuannam_
xahamminh``) and the unit lists with their official GSO codes in ``data/dataset.db`` (SQLite,
tables ``admin_units_legacy`` — 63 provinces, districts, ~10,000 communes — and ``admin_units``
— 34 provinces, 3,321 communes). This module joins the two so that the crosswalk speaks codes:

* ``DICT_PROVINCE_WARD_NO_DIVIDED``: ``{new province: {new commune: [old keys]}}`` — an old
  commune merged whole into one new commune (the vast majority).
* ``DICT_PROVINCE_WARD_DIVIDED``: ``{new province: {old key: [new communes]}}`` — an old
  commune split between several new ones; the package marks one of them ``isDefaultNewWard``.

**Allocation of split communes.** A figure of a split old commune cannot be divided without
knowing where inside it each item lies, so :func:`aggregate_to_2025` gives the whole figure to
one new commune: the package's default successor (``isDefaultNewWard``, the one the package's
own address converter uses when no street address is known). ``allocation="centroid"`` picks
instead the successor whose centre is nearest the old commune's centre (coordinates from the
package). The table keeps every successor (``targets``) so a caller can do better with
point data (allocate by location) when it has it.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path

import pandas as pd

from ._errors import GeoAnttError, NotFoundError
from .text import fold

__all__ = ["ALLOCATIONS", "crosswalk_table", "aggregate_to_2025", "new_communes", "old_communes"]

ALLOCATIONS = ("default", "centroid")


def _package_dir() -> Path:
    try:
        import vietnamadminunits
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise GeoAnttError(
            "the crosswalk needs the package 'vietnamadminunits' (pip install vietnamadminunits)"
        ) from exc
    return Path(vietnamadminunits.__file__).resolve().parent


def _query(sql: str) -> list[dict]:
    db = _package_dir() / "data" / "dataset.db"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute(sql).fetchall()]


@lru_cache(maxsize=1)
def old_communes() -> pd.DataFrame:
    """Pre-2025 communes known to ``vietnamadminunits``: index ``old_code`` (5-digit GSO code),
    columns ``old_name``, ``old_district``, ``old_district_code``, ``old_province``,
    ``old_province_code``, ``old_key``, ``old_lat``, ``old_lon``.
    """
    rows = _query(
        "SELECT wardCode, ward, district, districtCode, province, provinceCode, provinceKey, districtKey, wardKey, "
        "wardLat, wardLon FROM admin_units_legacy WHERE wardCode IS NOT NULL AND wardCode <> ''"
    )
    df = pd.DataFrame(rows)
    df["old_key"] = df["provinceKey"] + "_" + df["districtKey"] + "_" + df["wardKey"]
    df = df.rename(
        columns={
            "wardCode": "old_code",
            "ward": "old_name",
            "district": "old_district",
            "districtCode": "old_district_code",
            "province": "old_province",
            "provinceCode": "old_province_code",
            "wardLat": "old_lat",
            "wardLon": "old_lon",
        }
    )
    df = df.drop_duplicates("old_code").set_index("old_code")
    return df[
        [
            "old_name",
            "old_district",
            "old_district_code",
            "old_province",
            "old_province_code",
            "old_key",
            "old_lat",
            "old_lon",
        ]
    ]


@lru_cache(maxsize=1)
def new_communes() -> pd.DataFrame:
    """Post-2025 communes: index ``new_code`` (5-digit code), columns ``new_name``,
    ``new_province``, ``new_province_code``, ``new_key`` (province key + "_" + commune key),
    ``new_lat``, ``new_lon``, ``new_area_km2``.
    """
    rows = _query(
        "SELECT wardCode, ward, province, provinceCode, provinceKey, wardKey, wardLat, wardLon, wardAreaKm2 FROM admin_units"
    )
    df = pd.DataFrame(rows)
    df["new_key"] = df["provinceKey"] + "_" + df["wardKey"]
    df = df.rename(
        columns={
            "wardCode": "new_code",
            "ward": "new_name",
            "province": "new_province",
            "provinceCode": "new_province_code",
            "wardLat": "new_lat",
            "wardLon": "new_lon",
            "wardAreaKm2": "new_area_km2",
        }
    )
    return df.set_index("new_code")[
        ["new_name", "new_province", "new_province_code", "new_key", "new_lat", "new_lon", "new_area_km2"]
    ]


@lru_cache(maxsize=1)
def _converter() -> dict:
    with (_package_dir() / "data" / "converter_2025.json").open(encoding="utf-8") as fh:
        return json.load(fh)


@lru_cache(maxsize=2)
def _full_table(allocation: str) -> pd.DataFrame:
    conv = _converter()
    new = new_communes()
    code_by_key = pd.Series(new.index, index=new["new_key"])
    code_by_key = code_by_key[~code_by_key.index.duplicated()]
    whole: dict[str, str] = {}
    for prov, wards in conv["DICT_PROVINCE_WARD_NO_DIVIDED"].items():
        for ward_key, olds in wards.items():
            for ok in olds:
                whole[ok] = f"{prov}_{ward_key}"
    split: dict[str, list[dict]] = {}
    for prov, olds in conv["DICT_PROVINCE_WARD_DIVIDED"].items():
        for ok, targets in olds.items():
            split[ok] = [dict(t, newKey=f"{prov}_{t['newWardKey']}") for t in targets]
    old = old_communes()
    records = []
    for code, row in old.iterrows():
        ok = row["old_key"]
        if ok in whole:
            target = code_by_key.get(whole[ok])
            targets = (target,) if target is not None else ()
            rule = "whole"
        elif ok in split:
            cands = split[ok]
            targets = tuple(c for c in (code_by_key.get(t["newKey"]) for t in cands) if c is not None)
            if allocation == "centroid" and not (math.isnan(row["old_lat"] or math.nan)):
                best = min(
                    cands,
                    key=lambda t: (
                        (t["newWardLat"] - row["old_lat"]) ** 2
                        + ((t["newWardLon"] - row["old_lon"]) * math.cos(math.radians(row["old_lat"]))) ** 2
                    ),
                )
                rule = "split: nearest centre"
            else:
                best = next((t for t in cands if t.get("isDefaultNewWard")), cands[0])
                rule = "split: package default"
            target = code_by_key.get(best["newKey"])
        else:
            target, targets, rule = None, (), "unmapped"
        records.append((code, target, targets, len(targets) > 1, rule))
    df = pd.DataFrame.from_records(records, columns=["old_code", "new_code", "targets", "split", "rule"]).set_index(
        "old_code"
    )
    df = old.join(df)
    df = df.join(new[["new_name", "new_province", "new_province_code"]], on="new_code")
    df["n_targets"] = df["targets"].map(len)
    return df


def crosswalk_table(
    codes: Iterable[str] | None = None,
    *,
    old_district: str | None = None,
    allocation: str = "default",
) -> pd.DataFrame:
    """Old (pre-2025) → new (2025) commune crosswalk.

    Parameters
    ----------
    codes
        Pre-2025 commune codes (GSO, 5 digits; leading zeros may be missing); default all.
    old_district
        Keep only the communes of this old district (code, or name matched without diacritics,
        e.g. "Hàm Thuận Nam" or "huyen ham thuan nam").
    allocation
        How a split old commune is sent to one new commune: "default" (the package's default
        successor) or "centroid" (the successor whose centre is nearest the old centre).

    Returns
    -------
    pandas.DataFrame
        Index ``old_code``; ``old_name``, ``old_district``, ``old_province``, ``new_code``,
        ``new_name``, ``new_province``, ``split`` (bool), ``n_targets``, ``targets`` (tuple of
        every successor code) and ``rule`` (how ``new_code`` was chosen).

    Raises
    ------
    NotFoundError
        When a code or the district is unknown.
    """
    if allocation not in ALLOCATIONS:
        raise GeoAnttError(f"allocation must be one of {ALLOCATIONS}, got {allocation!r}")
    table = _full_table(allocation)
    if old_district is not None:
        key = str(old_district).strip()
        if key.isdigit():
            mask = table["old_district_code"].astype(str).str.lstrip("0") == key.lstrip("0")
        else:
            f = fold(key)
            names = table["old_district"].map(fold)
            mask = (names == f) | (names.str.replace(r"^(huyen|quan|thi xa|thanh pho) ", "", regex=True) == f)
        if not mask.any():
            raise NotFoundError(f"unknown pre-2025 district {old_district!r}")
        table = table.loc[mask]
    if codes is not None:
        wanted = [_norm_code(c) for c in codes]
        missing = [c for c in wanted if c not in table.index]
        if missing:
            raise NotFoundError(f"unknown pre-2025 commune code(s): {', '.join(missing[:20])}")
        table = table.loc[wanted]
    return table.copy()


def _norm_code(code: object) -> str:
    s = str(code).strip()
    if s.endswith(".0"):
        s = s[:-2]
    if not s.isdigit():
        raise NotFoundError(f"commune code {code!r} is not a GSO code (digits)")
    return s.zfill(5)


def aggregate_to_2025(
    figures_by_old_code: pd.DataFrame | pd.Series | Mapping[str, float],
    *,
    allocation: str = "default",
    mean_columns: Sequence[str] = (),
    weight_column: str | None = None,
) -> pd.DataFrame:
    """Aggregate figures of pre-2025 communes to the 2025 communes.

    Parameters
    ----------
    figures_by_old_code
        Figures indexed by pre-2025 commune code: counts and areas are summed.
    allocation
        Successor of a split commune (see :func:`crosswalk_table`).
    mean_columns
        Columns averaged instead of summed (e.g. ``covered_pct``), weighted by
        ``weight_column`` (e.g. ``area_m2``) when given.
    weight_column
        Column weighting the means.

    Returns
    -------
    pandas.DataFrame
        Index ``new_code``; ``new_name``, ``new_province``, the aggregated figures,
        ``n_old`` (pre-2025 communes aggregated) and ``old_codes`` (their codes, comma-separated).

    Raises
    ------
    NotFoundError
        When a code is unknown or has no successor.
    """
    if isinstance(figures_by_old_code, Mapping):
        figures_by_old_code = pd.Series(figures_by_old_code, name="value")
    df = figures_by_old_code.to_frame() if isinstance(figures_by_old_code, pd.Series) else figures_by_old_code.copy()
    df.index = [_norm_code(c) for c in df.index]
    table = crosswalk_table(df.index, allocation=allocation)
    unmapped = table.index[table["new_code"].isna()]
    if len(unmapped):
        raise NotFoundError(f"no 2025 successor known for commune(s) {', '.join(unmapped)}")
    df["new_code"] = table["new_code"].reindex(df.index).to_numpy()
    for c in mean_columns:
        if c not in df.columns:
            raise GeoAnttError(f"no column {c!r} in the figures")
    if weight_column is not None and weight_column not in df.columns:
        raise GeoAnttError(f"no weight column {weight_column!r} in the figures")
    sum_cols = [c for c in df.columns if c not in ("new_code", *mean_columns) and pd.api.types.is_numeric_dtype(df[c])]
    g = df.groupby("new_code", sort=True)
    out = g[sum_cols].sum()
    for c in mean_columns:
        if weight_column is not None:
            w = df[weight_column].astype(float)
            num = (df[c].astype(float) * w).groupby(df["new_code"]).sum()
            den = w.groupby(df["new_code"]).sum()
            out[c] = num / den.where(den != 0)
        else:
            out[c] = g[c].mean()
    out["n_old"] = g.size()
    out["old_codes"] = g.apply(lambda s: ", ".join(sorted(s.index)), include_groups=False)
    new = new_communes()
    out.insert(0, "new_province", new["new_province"].reindex(out.index).to_numpy())
    out.insert(0, "new_name", new["new_name"].reindex(out.index).to_numpy())
    out.index.name = "new_code"
    return out
