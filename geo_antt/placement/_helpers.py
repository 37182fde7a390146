"""Shared pieces of the placement: candidate footprints built by the engine's own builders, metric frames, lattices, weights and the solver constants."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .._errors import GeoAnttError, Problem, ValidationError
from ..crs import to_metric

__all__ = ["SOLVERS"]


SOLVERS = ("exact", "highs", "spopt", "greedy", "auto")


# "auto" solves exactly while the reduced coverage matrix has at most this many non-zeros.
AUTO_EXACT_MAX_NNZ = 3_000_000


DEFAULT_N_DIRECTIONS = 8


# Tie-break weight of a candidate's priority, relative to the largest demand weight: gains that
# differ by less are equal for the planner and the candidate of higher priority wins. Area
# pieces carry up to ~0.003 m² of snap-rounding noise; 1e-3 of a 20 m camera's 157 m² piece
# is 0.16 m², 0.05 % of the camera's footprint.
TIE_BREAK = 1e-3


# Snap-rounding grid of the arrangement of candidate footprints, metres.
ARRANGEMENT_GRID_M = 1e-4


def _sector_polygons(x, y, direction_deg, fov_deg, range_m, *, segments_per_quarter: int):
    from ..footprints import sector_polygons

    return sector_polygons(x, y, direction_deg, fov_deg, range_m, segments_per_quarter=segments_per_quarter)


def _disc_polygons(x, y, radius_m, *, segments_per_quarter: int):
    from ..footprints import disc_polygons

    return disc_polygons(x, y, radius_m, segments_per_quarter=segments_per_quarter)


def _as_metric(gdf: gpd.GeoDataFrame, crs: object, *, what: str) -> gpd.GeoDataFrame:
    if not isinstance(gdf, gpd.GeoDataFrame):
        msg = f"{what} should be a GeoDataFrame, got {type(gdf).__name__}"
        raise TypeError(msg)
    return to_metric(gdf, crs=crs)


def _polygonal_units(units_m: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    geom = units_m.geometry
    keep = geom.notna() & ~geom.is_empty & geom.geom_type.isin(["Polygon", "MultiPolygon"])
    out = units_m.loc[keep]
    if out.empty:
        raise GeoAnttError("no unit with a polygon geometry to plan over")
    return out


def _lattice_cells(bounds: tuple[float, float, float, float], spacing_m: float, *, near_xy=None, reach_m=None):
    """Indices (ix, iy) of lattice cells of side ``spacing_m`` over ``bounds``; with ``near_xy``
    only the cells within ``reach_m`` (box) of those points.
    """
    if spacing_m <= 0 or not math.isfinite(spacing_m):
        raise GeoAnttError(f"spacing_m must be a positive number of metres, got {spacing_m!r}")
    minx, miny, maxx, maxy = bounds
    if near_xy is None:
        nx = int(math.floor(maxx / spacing_m)) - int(math.floor(minx / spacing_m)) + 1
        ny = int(math.floor(maxy / spacing_m)) - int(math.floor(miny / spacing_m)) + 1
        if nx * ny > 20_000_000:
            msg = f"a {spacing_m} m lattice over this area has {nx * ny:,} cells; use a larger spacing_m"
            raise GeoAnttError(msg)
        ix0, iy0 = int(math.floor(minx / spacing_m)), int(math.floor(miny / spacing_m))
        ix, iy = np.meshgrid(np.arange(ix0, ix0 + nx), np.arange(iy0, iy0 + ny))
        return ix.ravel(), iy.ravel()
    near_xy = np.asarray(near_xy, dtype=float).reshape(-1, 2)
    k = int(math.ceil(reach_m / spacing_m)) + 1
    off = np.arange(-k, k + 1)
    ox, oy = np.meshgrid(off, off)
    base_x = np.floor(near_xy[:, 0] / spacing_m).astype(np.int64)
    base_y = np.floor(near_xy[:, 1] / spacing_m).astype(np.int64)
    ix = (base_x[:, None] + ox.ravel()[None, :]).ravel()
    iy = (base_y[:, None] + oy.ravel()[None, :]).ravel()
    pairs = np.unique(np.stack([ix, iy], axis=1), axis=0)
    return pairs[:, 0], pairs[:, 1]


def _clip_cells_to_units(ix, iy, spacing_m: float, units_m: gpd.GeoDataFrame):
    """Clip lattice cells to the units: returns (unit position, piece geometry) arrays."""
    cells = shapely.box(ix * spacing_m, iy * spacing_m, (ix + 1) * spacing_m, (iy + 1) * spacing_m)
    ugeom = units_m.geometry.values
    tree = shapely.STRtree(ugeom)
    ci, ui = tree.query(cells, predicate="intersects")
    if len(ci) == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=object)
    uarr = np.asarray(ugeom, dtype=object)
    shapely.prepare(uarr)
    inside = shapely.contains_properly(uarr[ui], cells[ci])
    pieces = np.empty(len(ci), dtype=object)
    pieces[inside] = cells[ci[inside]]
    cut = ~inside
    if cut.any():
        pieces[cut] = shapely.intersection(cells[ci[cut]], uarr[ui[cut]])
    area = shapely.area(pieces)
    keep = area > 1e-9
    return ui[keep], pieces[keep]


def _covered_flags(points: np.ndarray, covered) -> np.ndarray:
    """True where a point lies in (or on) one of the ``covered`` polygons (array or geometry)."""
    if covered is None:
        return np.zeros(len(points), dtype=bool)
    if isinstance(covered, (gpd.GeoSeries, gpd.GeoDataFrame)):
        covered = covered.geometry.values if isinstance(covered, gpd.GeoDataFrame) else covered.values
    if isinstance(covered, shapely.Geometry):
        covered = np.asarray(shapely.get_parts(covered), dtype=object)
    covered = np.asarray(covered, dtype=object)
    covered = covered[~shapely.is_empty(covered) & ~shapely.is_missing(covered)]
    flags = np.zeros(len(points), dtype=bool)
    if len(covered) == 0 or len(points) == 0:
        return flags
    tree = shapely.STRtree(covered)
    pi, _ = tree.query(points, predicate="intersects")
    flags[np.unique(pi)] = True
    return flags


def _weights_from_column(demand: gpd.GeoDataFrame, weight_column: str | None, *, file: str) -> np.ndarray:
    if weight_column is None:
        return np.ones(len(demand))
    if weight_column not in demand.columns:
        cols = ", ".join(str(c) for c in demand.columns if c != demand.geometry.name)
        raise ValidationError(
            [Problem(file, None, weight_column, None, f"no such column; the demand layer has: {cols}")]
        )
    values = pd.to_numeric(demand[weight_column], errors="coerce")
    problems = []
    for pos, (v_raw, v) in enumerate(zip(demand[weight_column], values)):
        if pd.isna(v) or v < 0 or not math.isfinite(v):
            problems.append(Problem(file, pos + 1, weight_column, v_raw, "weight must be a number >= 0"))
    if problems:
        raise ValidationError(problems)
    return values.to_numpy(dtype=float)
