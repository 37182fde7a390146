"""Placement along streets: the demand is the uncovered street length and the candidate sites
stand on the streets (what a commune can actually mount a camera or a lamp on).
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS

from .._errors import GeoAnttError
from ._helpers import _as_metric

__all__ = ["street_demand", "street_sites"]


def _lines_in(roads: gpd.GeoDataFrame, units_m: gpd.GeoDataFrame, crs: CRS) -> np.ndarray:
    """The line parts of ``roads`` (metric) inside the units, one per road that has any."""
    roads_m = _as_metric(roads, crs, what="roads")
    g = np.asarray(roads_m.geometry.values, dtype=object)
    g = g[~(shapely.is_missing(g) | shapely.is_empty(g))]
    if not len(g):
        return np.array([], dtype=object)
    area = shapely.union_all(np.asarray(units_m.geometry.values, dtype=object))
    shapely.prepare(area)
    g = g[shapely.intersects(area, g)]
    cut = shapely.intersection(g, area)
    out = []
    for geom in cut:  # keep the line part: touching points are no street
        parts = [
            p for p in shapely.get_parts(geom) if p.geom_type in ("LineString", "MultiLineString") and p.length > 0
        ]
        if parts:
            out.append(shapely.line_merge(shapely.multilinestrings(parts)) if len(parts) > 1 else parts[0])
    return np.asarray(out, dtype=object)


def street_demand(roads: gpd.GeoDataFrame, units_m: gpd.GeoDataFrame, *, crs: CRS) -> gpd.GeoDataFrame:
    """The streets of the units as a demand layer weighted by length: ``length_m`` (metres) per
    road, so that the demand points' weights add up to street metres.

    Raises
    ------
    GeoAnttError
        When no road lies in the units.
    """
    lines = _lines_in(roads, units_m, crs)
    if not len(lines):
        raise GeoAnttError("no road lies in the units to plan over: plan by area (without roads)")
    return gpd.GeoDataFrame({"length_m": shapely.length(lines)}, geometry=lines, crs=crs)


def street_sites(
    roads: gpd.GeoDataFrame, units_m: gpd.GeoDataFrame, *, crs: CRS, spacing_m: float, max_sites: int | None = 2000
) -> gpd.GeoDataFrame:
    """Candidate sites on the streets of the units: a point every ``spacing_m`` metres along each
    road (its ends included), the spacing widened so that about ``max_sites`` points are made
    at most (None: no cap).
    """
    lines = _lines_in(roads, units_m, crs)
    if not len(lines):
        raise GeoAnttError("no road lies in the units to plan over: plan by area (without roads)")
    total = float(shapely.length(lines).sum())
    if max_sites and total / spacing_m > max_sites:
        spacing_m = total / max_sites
    lengths = shapely.length(lines)
    n = np.maximum(np.ceil(lengths / spacing_m).astype(np.int64), 1) + 1  # points per road
    owner = np.repeat(np.arange(len(lines)), n)
    step = np.concatenate([np.arange(k) for k in n]).astype(float)
    frac = step / (n[owner] - 1)
    pts = shapely.line_interpolate_point(lines[owner], frac, normalized=True)
    # points shared by two roads (a junction) stand once
    rounded = np.round(shapely.get_coordinates(pts), 2)
    _, first = np.unique(rounded, axis=0, return_index=True)
    pts = pts[np.sort(first)]
    if not math.isfinite(spacing_m) or not len(pts):
        raise GeoAnttError("no candidate site on the streets")
    return gpd.GeoDataFrame(geometry=np.asarray(pts, dtype=object), crs=crs)
