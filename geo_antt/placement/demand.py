"""Demand of a placement: weighted points (or area pieces) of the uncovered parts of the units."""

from __future__ import annotations

import math
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS

from .._errors import GeoAnttError
from ..crs import to_metric
from ._helpers import (
    _as_metric,
    _clip_cells_to_units,
    _covered_flags,
    _lattice_cells,
    _polygonal_units,
    _weights_from_column,
)

__all__ = ["demand_points"]


def demand_points(
    units: gpd.GeoDataFrame,
    *,
    gaps: gpd.GeoDataFrame | None = None,
    covered: Any = None,
    demand: gpd.GeoDataFrame | None = None,
    weight_column: str | None = None,
    spacing_m: float = 25.0,
    near: Any = None,
    reach_m: float | None = None,
    crs: object = None,
    demand_name: str = "demand",
) -> gpd.GeoDataFrame:
    """Weighted demand points over ``units`` (in a metric CRS).

    Parameters
    ----------
    units
        Units to cover (hamlets), any CRS; only polygonal ones are used.
    gaps
        Uncovered polygons (``CoverageResult.gaps``): a point inside none of them is marked
        covered. Ignored when ``covered`` is given.
    covered
        Polygons already covered by active models (array, GeoSeries or one geometry), metric CRS
        of the result: points in them are marked covered.
    demand
        Optional demand layer: points, lines or polygons with a numeric ``weight_column``
        (households, population, incidents, street length...). Points keep their weight; lines
        are cut into pieces of at most ``spacing_m`` metres sharing the weight by length (a
        point at each piece's midpoint); polygons are spread over the lattice cells in
        proportion to area. Without it, demand is area: a lattice of square
        cells of side ``spacing_m`` metres clipped to the units, weight = piece area in m².
    weight_column
        Column of ``demand`` holding the weight (default: every feature weighs 1).
    spacing_m
        Side of the lattice cells, metres.
    near, reach_m
        Restrict the lattice to cells within ``reach_m`` metres of these points (array of x, y in
        the metric CRS): demand no candidate can reach does not change a plan.
    crs
        Metric CRS to use (default: the UTM zone of ``units``).
    demand_name
        Name of the demand layer in error messages (its file name).

    Returns
    -------
    geopandas.GeoDataFrame
        Points in the metric CRS with ``unit_code``, ``weight`` and ``covered`` (bool).
    """
    units_m = _polygonal_units(_as_metric(units, crs and CRS.from_user_input(crs), what="units"))
    mcrs = units_m.crs
    codes = np.asarray(units_m.index.astype(str))
    near_xy = None
    if near is not None:
        near_xy = np.asarray(near, dtype=float).reshape(-1, 2)
        if reach_m is None:
            raise GeoAnttError("reach_m is needed with near")
    if demand is None:
        ix, iy = _lattice_cells(tuple(units_m.total_bounds), spacing_m, near_xy=near_xy, reach_m=reach_m)
        upos, pieces = _clip_cells_to_units(ix, iy, spacing_m, units_m)
        weight = shapely.area(pieces)
        pts = shapely.point_on_surface(pieces)
    else:
        dem = _as_metric(demand, mcrs, what=demand_name)
        w = _weights_from_column(dem, weight_column, file=demand_name)
        g = np.asarray(dem.geometry.values, dtype=object)
        ok = ~(shapely.is_missing(g) | shapely.is_empty(g))
        gtype = shapely.get_type_id(g)
        is_point = ok & np.isin(gtype, [0, 4])  # Point, MultiPoint
        is_poly = ok & np.isin(gtype, [3, 6])
        is_line = ok & np.isin(gtype, [1, 2, 5])
        pts_list, w_list, u_list = [], [], []
        ugeom = np.asarray(units_m.geometry.values, dtype=object)
        tree = shapely.STRtree(ugeom)
        if is_point.any():
            p = shapely.point_on_surface(g[is_point])
            di, ui = tree.query(p, predicate="intersects")
            di, first = np.unique(di, return_index=True)
            pts_list.append(p[di])
            w_list.append(w[is_point][di])
            u_list.append(ui[first])
        if is_line.any():
            # lines (roads): cut into pieces of at most ``spacing_m`` metres, each a demand
            # point at its midpoint weighing its share of the line's weight (pieces add up to
            # the line exactly; only the lines' own length is walked, never a lattice)
            lines = g[is_line]
            lw = w[is_line] / np.maximum(shapely.length(lines), 1e-9)
            parts, owner = shapely.get_parts(lines, return_index=True)
            parts = shapely.segmentize(parts, spacing_m)
            xy, part = shapely.get_coordinates(parts, return_index=True)
            same = part[1:] == part[:-1]
            a0, a1 = xy[:-1][same], xy[1:][same]
            seg_len = np.hypot(*(a1 - a0).T)
            keep = seg_len > 0
            mid = shapely.points(((a0 + a1) / 2)[keep])
            seg_w = seg_len[keep] * lw[owner[part[:-1][same][keep]]]
            di, ui = tree.query(mid, predicate="intersects")
            di, first = np.unique(di, return_index=True)
            pts_list.append(mid[di])
            w_list.append(seg_w[di])
            u_list.append(ui[first])
        if is_poly.any():
            polys = g[is_poly]
            pw = w[is_poly] / np.maximum(shapely.area(polys), 1e-9)
            ix, iy = _lattice_cells(tuple(shapely.total_bounds(polys)), spacing_m, near_xy=near_xy, reach_m=reach_m)
            upos, pieces = _clip_cells_to_units(ix, iy, spacing_m, units_m)
            ptree = shapely.STRtree(polys)
            ki, pj = ptree.query(pieces, predicate="intersects")
            sub = shapely.intersection(pieces[ki], polys[pj])
            sw = shapely.area(sub) * pw[pj]
            keep = sw > 0
            pts_list.append(shapely.point_on_surface(sub[keep]))
            w_list.append(sw[keep])
            u_list.append(upos[ki][keep])
        if not pts_list:
            raise GeoAnttError(f"{demand_name}: no usable geometry (points, lines or polygons)")
        pts = np.concatenate(pts_list)
        weight = np.concatenate(w_list)
        upos = np.concatenate(u_list).astype(np.int64)
        if near_xy is not None and len(pts):
            assert reach_m is not None  # required with near (checked above)
            nt = shapely.STRtree(shapely.points(near_xy))
            pi, _ = nt.query(pts, predicate="dwithin", distance=reach_m * math.sqrt(2) + spacing_m)
            keep = np.zeros(len(pts), dtype=bool)
            keep[pi] = True
            pts, weight, upos = pts[keep], weight[keep], upos[keep]
    if covered is not None:
        flags = _covered_flags(pts, covered)
    elif gaps is not None:
        gaps_m = to_metric(gaps, crs=mcrs)
        flags = ~_covered_flags(pts, gaps_m.geometry.values)
    else:
        flags = np.zeros(len(pts), dtype=bool)
    return gpd.GeoDataFrame(
        {"unit_code": codes[upos] if len(upos) else np.empty(0, dtype=str), "weight": weight, "covered": flags},
        geometry=np.asarray(pts, dtype=object),
        crs=mcrs,
    )
