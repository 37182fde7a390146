"""The store's units (administrative boundaries): loading them, and reading them back whole or as
a list of names.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa

from .._errors import GeoAnttError, Problem, ValidationError
from ..io import json_value
from ..schema import UNIT_COLUMNS, UNIT_LEVELS
from ..text import nfc
from . import _tables as T
from ._audit import AuditMixin
from ._base import User, _chunks, _geom_columns, _isna
from ._coverage_cache import CoverageCacheMixin
from ._records import normalize_geometry

__all__ = ["UnitsMixin"]


class UnitsMixin(CoverageCacheMixin, AuditMixin):
    """Loading and reading units."""

    # ------------------------------------------------------------------------------------------
    # units

    def put_units(self, units_gdf: gpd.GeoDataFrame, *, user: User | None) -> dict[str, int]:
        """Insert or replace units (a units frame, see DEVELOPING.md) in one transaction.

        Returns ``{"inserted": n, "updated": n}``. Admin only.
        """
        actor = self._actor(user)
        self._require_admin(actor, "load units")
        gdf = _check_units_frame(units_gdf)
        rows = []
        extra_cols = [c for c in gdf.columns if c not in UNIT_COLUMNS and c != gdf.geometry.name]
        geoms = np.asarray(gdf.geometry.values, dtype=object)
        for i, (code, r) in enumerate(gdf.iterrows()):
            g = normalize_geometry(geoms[i])
            extra = {c: json_value(r[c]) for c in extra_cols}
            rows.append(
                {
                    "code": str(code),
                    "name": nfc(str(r["name"])),
                    "level": str(r["level"]),
                    "parent_code": None if _isna(r.get("parent_code")) else str(r["parent_code"]),
                    "approximate": bool(False if _isna(r.get("approximate")) else r.get("approximate")),
                    "valid_from": None if _isna(r.get("valid_from")) else str(r["valid_from"])[:10],
                    "valid_to": None if _isna(r.get("valid_to")) else str(r["valid_to"])[:10],
                    "extra": {k: v for k, v in extra.items() if v is not None} or None,
                    **_geom_columns(g),
                }
            )
        with self._write() as conn:
            existing = set()
            codes = [r["code"] for r in rows]
            for chunk in _chunks(codes):
                existing |= set(conn.execute(sa.select(T.units.c.code).where(T.units.c.code.in_(chunk))).scalars())
            ins = [r for r in rows if r["code"] not in existing]
            upd = [r for r in rows if r["code"] in existing]
            if ins:
                conn.execute(T.units.insert(), ins)
            if upd:
                stmt = T.units.update().where(T.units.c.code == sa.bindparam("_code"))
                stmt = stmt.values({k: sa.bindparam(k) for k in upd[0] if k != "code"})
                conn.execute(stmt, [{**{k: v for k, v in r.items() if k != "code"}, "_code": r["code"]} for r in upd])
            self._models_changed(conn, None)  # unit polygons changed: every cached figure may be stale
            self._audit(conn, actor, "units", detail={"inserted": len(ins), "updated": len(upd)})
        return {"inserted": len(ins), "updated": len(upd)}

    def units_frame(self) -> gpd.GeoDataFrame:
        """All units as a units frame (index ``code``, EPSG:4326). Boundaries are not secret."""
        cols = [T.units.c[c] for c in UNIT_COLUMNS] + [T.units.c.extra, T.units.c.geom]
        with self._read() as conn:
            rows = conn.execute(sa.select(*cols).order_by(T.units.c.code)).all()
        data: dict[str, list[Any]] = {c: [getattr(r, c) for r in rows] for c in UNIT_COLUMNS}
        extras = [r.extra or {} for r in rows]
        extra_keys = sorted({k for e in extras for k in e})
        for k in extra_keys:
            data[k] = [e.get(k) for e in extras]
        geom = shapely.from_wkb(np.array([r.geom for r in rows], dtype=object)) if rows else []
        gdf = gpd.GeoDataFrame(data, geometry=gpd.GeoSeries(geom, crs="EPSG:4326"), crs="EPSG:4326")
        gdf["approximate"] = gdf["approximate"].astype(bool)
        return gdf.set_index(pd.Index(gdf["code"], name="code"))

    def unit_names(self, *, user: User | None = None) -> pd.DataFrame:
        """Code, name, level and parent of the units ``user`` may see (admins: all), without
        boundaries: a cheap list for pickers. Index ``code``, ordered by code.
        """
        actor = self._actor(user)
        u = T.units
        q = sa.select(u.c.code, u.c.name, u.c.level, u.c.parent_code).order_by(u.c.code)
        flt = self._scope_filter(u.c.code, actor)
        if flt is not None:
            q = q.where(flt)
        with self._read() as conn:
            rows = conn.execute(q).all()
        cols = ["code", "name", "level", "parent_code"]
        df = pd.DataFrame({c: pd.Series([getattr(r, c) for r in rows], dtype=object) for c in cols}, columns=cols)
        return df.set_index(pd.Index(df["code"], name="code"))


def _check_units_frame(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise TypeError(f"'units_gdf' should be a GeoDataFrame, got {type(gdf).__name__}")
    if gdf.crs is None:
        raise GeoAnttError("units have no CRS; say which one they are in (e.g. EPSG:4326)")
    if not gdf.crs.equals("EPSG:4326"):
        gdf = gdf.to_crs("EPSG:4326")
    if "code" not in gdf.columns:
        gdf = gdf.assign(code=gdf.index)
    gdf = gdf.set_index(pd.Index(gdf["code"].astype(str), name="code"))
    problems = []
    for col in ("name", "level"):
        if col not in gdf.columns:
            problems.append(Problem("units", None, col, None, "missing column"))
    if problems:
        raise ValidationError(problems)
    for i, (code, r) in enumerate(gdf.iterrows(), start=1):
        if _isna(code) or not str(code).strip():
            problems.append(Problem("units", i, "code", code, "missing code"))
        if r["level"] not in UNIT_LEVELS:
            problems.append(Problem("units", i, "level", r["level"], f"level must be one of {', '.join(UNIT_LEVELS)}"))
        if _isna(r["name"]):
            problems.append(Problem("units", i, "name", None, "missing name"))
    dup = gdf.index[gdf.index.duplicated()].unique()
    for code in dup:
        problems.append(Problem("units", None, "code", code, "duplicate code"))
    if problems:
        raise ValidationError(problems)
    return gdf
