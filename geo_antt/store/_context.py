"""The built world in the store: roads and buildings of each unit (table ``context_features``,
migration 0007): the functions behind :class:`geo_antt.store.Store`'s methods of the same names.

A load replaces one layer of one unit whole: roads are clipped to the unit's polygon (so a
road's metres count once per unit, as street coverage counts them), buildings are kept when
their representative point lies in the unit. Loading needs an admin, or an officer whose area
holds the unit; reading is open to every account (context layers are not secret: they come
from OpenStreetMap). Every load is one transaction with one audit entry (``context``: layer,
unit, rows before and after) and moves the store's generation, so the web catalog reloads.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa

from .._errors import GeoAnttError, NotFoundError, Problem, ValidationError
from .._geometry import polygonal_part
from ..text import nfc
from . import _tables as T

if TYPE_CHECKING:  # the Store these functions serve (its methods call them)
    from ._store import Store, User

__all__ = [
    "CONTEXT_LAYERS",
    "MAX_CONTEXT_FEATURES",
    "context_counts",
    "context_frame",
    "load_context",
    "put_context_layer",
]

# layer -> (geometry types kept, the frame's class column)
CONTEXT_LAYERS: Mapping[str, tuple[tuple[str, ...], str]] = {
    "roads": (("LineString", "MultiLineString"), "highway"),
    "buildings": (("Polygon", "MultiPolygon"), "building"),
}
# features of one layer loaded for one unit at most (a big city ward has ~20,000 buildings)
MAX_CONTEXT_FEATURES = 500_000
_TEXT_MAX = 200
_LEVELS_MAX = 200.0
_HEIGHT_MAX_M = 1_000.0


def _text(v: Any, *, limit: int = _TEXT_MAX) -> str | None:
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
        return None
    s = nfc(str(v)).strip()
    return s[:limit] or None


def _bounded(v: Any, high: float) -> float | None:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) and 0 <= x <= high else None


def _feature_ids(frame: gpd.GeoDataFrame) -> list[str]:
    for col in ("osm_id", "id"):
        if col in frame.columns:
            ids = [_text(v, limit=128) for v in frame[col]]
            break
    else:
        ids = [_text(v, limit=128) for v in frame.index]
    seen: dict[str, int] = {}
    out = []
    for i, v in enumerate(ids):
        key = v or f"f{i}"
        n = seen.get(key, 0)
        seen[key] = n + 1
        out.append(key if n == 0 else f"{key}#{n}")  # a way cut in two keeps both pieces
    return out


def put_context_layer(
    store: Store, layer: str, frame: gpd.GeoDataFrame, *, unit_code: str, user: User | None
) -> dict[str, int]:
    """Replace the ``layer`` (``"roads"`` or ``"buildings"``) features of unit ``unit_code``
    with those of ``frame`` that lie in it.

    Parameters
    ----------
    layer
        ``"roads"`` (lines; ``highway``, ``name``) or ``"buildings"`` (polygons;
        ``building``, ``levels``, ``height_m`` in metres), as ``geo-antt osm convert`` writes.
    frame
        The features, any CRS (reprojected to EPSG:4326); ids from ``osm_id``, else ``id``,
        else the index.
    unit_code
        The unit whose features are replaced; it must have a polygon.
    user
        The account (None: the system account of the command line).

    Returns
    -------
    dict
        ``{"removed": n, "inserted": n}``.

    Raises
    ------
    GeoAnttError
        Unknown layer, a frame without CRS, more than :data:`MAX_CONTEXT_FEATURES` features.
    NotFoundError
        The unit does not exist, has no polygon, or is outside the account's area.
    PermissionDeniedError
        A viewer, or a disabled account.
    """
    if layer not in CONTEXT_LAYERS:
        raise GeoAnttError(f"unknown context layer {layer!r}; use one of: {', '.join(CONTEXT_LAYERS)}")
    types, klass_col = CONTEXT_LAYERS[layer]
    actor = store._actor(user)
    store._require_edit(actor)
    if frame.crs is None:
        raise GeoAnttError(f"{layer}: the features have no CRS")
    scope = store.scope_codes(actor)
    if scope is not None and unit_code not in scope:
        raise NotFoundError(f"no unit {unit_code!r}")
    with store._read() as conn:
        row = conn.execute(sa.select(T.units.c.code, T.units.c.geom).where(T.units.c.code == unit_code)).first()
    unit = polygonal_part(shapely.from_wkb(row.geom)) if row is not None and row.geom is not None else None
    if row is None:
        raise NotFoundError(f"no unit {unit_code!r}")
    if unit is None:
        raise NotFoundError(f"unit {unit_code!r} has no polygon to load {layer} for")
    wgs = frame.to_crs("EPSG:4326") if str(frame.crs) != "EPSG:4326" else frame
    geoms = np.asarray(wgs.geometry.values, dtype=object)
    ids = np.asarray(_feature_ids(wgs), dtype=object)
    ok = np.array([g is not None and not g.is_empty and g.geom_type in types for g in geoms], dtype=bool)
    bad = [
        Problem(layer, int(i) + 1, "geometry", None, f"{layer} need {' or '.join(types)} geometries")
        for i in np.flatnonzero(~ok)[:20]
    ]
    if bad:
        raise ValidationError(bad)
    shapely.prepare(unit)
    if layer == "roads":
        hit = shapely.intersects(unit, geoms)
        inside = shapely.contains_properly(unit, geoms)
        pieces = geoms.copy()
        cross = hit & ~inside
        if cross.any():
            cut = shapely.intersection(geoms[cross], unit)
            parts = []
            for g in cut:  # the line part of the cut (a touching point is no road)
                lines = [
                    p for p in shapely.get_parts(g) if p.geom_type in ("LineString", "MultiLineString") and p.length > 0
                ]
                parts.append(shapely.line_merge(shapely.multilinestrings(lines)) if lines else None)
            pieces[cross] = np.asarray(parts, dtype=object)
        keep = hit & np.array([g is not None and not g.is_empty for g in pieces], dtype=bool)
    else:
        pieces = geoms
        keep = shapely.contains(unit, shapely.point_on_surface(geoms))
    if int(keep.sum()) > MAX_CONTEXT_FEATURES:
        raise GeoAnttError(
            f"{layer}: {int(keep.sum())} features in unit {unit_code}; at most {MAX_CONTEXT_FEATURES} per unit"
        )
    sel = np.flatnonzero(keep)
    names = wgs["name"].to_numpy(dtype=object) if "name" in wgs.columns else np.full(len(wgs), None, dtype=object)
    klass = wgs[klass_col].to_numpy(dtype=object) if klass_col in wgs.columns else np.full(len(wgs), None, dtype=object)
    levels = wgs["levels"].to_numpy(dtype=object) if "levels" in wgs.columns else np.full(len(wgs), None, dtype=object)
    height = (
        wgs["height_m"].to_numpy(dtype=object) if "height_m" in wgs.columns else np.full(len(wgs), None, dtype=object)
    )
    b = shapely.bounds(pieces[sel]) if len(sel) else np.empty((0, 4))
    wkb = shapely.to_wkb(pieces[sel]) if len(sel) else []
    rows = [
        {
            "layer": layer,
            "unit_code": unit_code,
            "feature_id": str(ids[i]),
            "name": _text(names[i]),
            "klass": _text(klass[i], limit=64),
            "levels": _bounded(levels[i], _LEVELS_MAX),
            "height_m": _bounded(height[i], _HEIGHT_MAX_M),
            "geom": wkb[k],
            "minx": float(b[k, 0]),
            "miny": float(b[k, 1]),
            "maxx": float(b[k, 2]),
            "maxy": float(b[k, 3]),
        }
        for k, i in enumerate(sel)
    ]
    cf = T.context_features
    with store._write() as conn:
        where = sa.and_(cf.c.layer == layer, cf.c.unit_code == unit_code)
        removed = conn.execute(sa.select(sa.func.count()).select_from(cf).where(where)).scalar() or 0
        conn.execute(cf.delete().where(where))
        for start in range(0, len(rows), 5_000):
            conn.execute(cf.insert(), rows[start : start + 5_000])
        store._models_changed(conn, None)  # readers reload
        store._audit(
            conn,
            actor,
            "context",
            unit_code=unit_code,
            detail={"layer": layer, "removed": int(removed), "inserted": len(rows)},
        )
    return {"removed": int(removed), "inserted": len(rows)}


def load_context(
    store: Store,
    layer: str,
    frame: gpd.GeoDataFrame,
    *,
    unit_codes: Sequence[str] | None = None,
    level: str = "commune",
    user: User | None,
) -> dict[str, dict[str, int]]:
    """:meth:`put_context_layer` for each of ``unit_codes``, or, when None, for every unit of
    ``level`` (with a polygon, in the account's area) that a feature of ``frame`` meets.

    Returns
    -------
    dict
        ``{unit code: {"removed": n, "inserted": n}}`` in code order.
    """
    if unit_codes is None:
        units = store.units_frame()
        scope = store.scope_codes(store._actor(user))
        units = units.loc[(units["level"] == level).to_numpy() & units.geometry.notna().to_numpy()]
        if scope is not None:
            units = units.loc[units.index.isin(list(scope))]
        wgs = frame.to_crs("EPSG:4326") if frame.crs is not None and str(frame.crs) != "EPSG:4326" else frame
        geoms = np.asarray(wgs.geometry.values, dtype=object)
        geoms = geoms[np.array([g is not None and not g.is_empty for g in geoms], dtype=bool)]
        if len(units) and len(geoms):
            tree = shapely.STRtree(geoms)
            hit = tree.query(np.asarray(units.geometry.values, dtype=object), predicate="intersects")
            unit_codes = sorted({str(units.index[i]) for i in np.unique(hit[0])})
        else:
            unit_codes = []
        if not unit_codes:
            raise GeoAnttError(f"{layer}: no {level} of the store meets the features (give --unit CODE)")
    return {code: put_context_layer(store, layer, frame, unit_code=code, user=user) for code in sorted(set(unit_codes))}


def context_frame(
    store: Store,
    layer: str,
    *,
    unit_codes: Sequence[str] | None = None,
    bbox: Sequence[float] | None = None,
    merged: bool = False,
) -> gpd.GeoDataFrame:
    """The stored ``layer`` features (EPSG:4326), of ``unit_codes`` when given, meeting
    ``bbox`` (min lon, min lat, max lon, max lat degrees) when given. Columns: ``osm_id``,
    ``unit_code``, ``name`` and ``highway`` (roads) or ``building``, ``levels``,
    ``height_m`` (buildings); ordered by unit and id.

    ``merged``: one row per feature id, its pieces of every unit put back together (union:
    a piece in two overlapping units counts once), ``unit_code`` the first unit; what an
    analysis that clips to its own units (street coverage) needs.
    """
    if layer not in CONTEXT_LAYERS:
        raise GeoAnttError(f"unknown context layer {layer!r}; use one of: {', '.join(CONTEXT_LAYERS)}")
    klass_col = CONTEXT_LAYERS[layer][1]
    cf = T.context_features
    q = sa.select(cf.c.feature_id, cf.c.unit_code, cf.c.name, cf.c.klass, cf.c.levels, cf.c.height_m, cf.c.geom)
    q = q.where(cf.c.layer == layer)
    if unit_codes is not None:
        q = q.where(cf.c.unit_code.in_(list(unit_codes)))
    if bbox is not None:
        q = q.where(store._bbox_filter(bbox, table=cf))
    with store._read() as conn:
        rows = conn.execute(q.order_by(cf.c.unit_code, cf.c.feature_id)).all()
    data: dict[str, list[Any]] = {
        "osm_id": [r.feature_id for r in rows],
        "unit_code": [r.unit_code for r in rows],
        "name": [r.name for r in rows],
        klass_col: [r.klass for r in rows],
    }
    if layer == "buildings":
        data["levels"] = [r.levels for r in rows]
        data["height_m"] = [r.height_m for r in rows]
    geom = shapely.from_wkb(np.array([r.geom for r in rows], dtype=object)) if rows else []
    out = gpd.GeoDataFrame(data, geometry=gpd.GeoSeries(geom, crs="EPSG:4326"), crs="EPSG:4326")
    if merged and len(out) and out["osm_id"].duplicated().any():
        out = out.dissolve(by="osm_id", aggfunc="first", sort=True).reset_index()
        if layer == "roads":
            out.geometry = shapely.line_merge(out.geometry.values)
        out = out[list(data) + ["geometry"]]
    return out


def context_counts(store: Store) -> dict[str, int]:
    """Features stored per context layer (``{"roads": n, "buildings": n}``)."""
    cf = T.context_features
    with store._read() as conn:
        got: dict[str, int] = dict(conn.execute(sa.select(cf.c.layer, sa.func.count()).group_by(cf.c.layer)).all())
    return {layer: int(got.get(layer, 0)) for layer in CONTEXT_LAYERS}
