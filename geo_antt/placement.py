"""Where new models close the most gap: ranking of uncovered units and the maximal covering
location problem (MCLP).

The planner's question is "where do N new cameras (or lights, or checkpoints) cover the most of
what is not covered yet?". It is answered in four steps, all in a metric CRS:

1. **Demand**: what there is to cover. By default area, measured exactly: the faces of the
   arrangement of the candidate footprints inside the units and outside the existing coverage
   (:func:`area_pieces`), weight = the face's area in m², so the objective *is* the newly
   covered area the coverage engine reports. With a user layer (households, population, road
   length, incidents...) :func:`demand_points` turns it into weighted points (numeric
   ``weight_column``; lines and polygons are spread over a lattice by length/area), marked
   ``covered`` when an existing active footprint covers them. Demand already covered is never
   counted again (existing models are fixed).
2. **Candidates** (:func:`candidate_sites`): where a new model may go. By default a lattice over
   the gap polygons plus each unit's representative point; or a user file (e.g. existing poles).
   A camera site gets one candidate footprint per direction (8 by default); at most one of them
   may be chosen per site.
3. **Solve**: choose ``count`` footprints maximising the weight of newly covered demand.
   ``solver="exact"`` builds the MCLP as an integer programme (PuLP, CBC) with the extra
   "one direction per site" rows spopt's MCLP has no room for; ``solver="spopt"`` runs
   :class:`spopt.locate.MCLP` itself (one footprint per site only); ``solver="greedy"`` is the
   classic (1 - 1/e) greedy heuristic for very large cases; ``"auto"`` is exact when the reduced
   problem is small enough, else greedy. Whenever the exact solver runs, the greedy runs too and
   its relative gap to the optimum is reported. Before an exact solver runs, bounds from the
   candidates' standalone values settle the problem when the greedy choice reaches them (the
   usual case while coverage is sparse) or rule out candidates that cannot be in an optimum.
   Among sites of equal gain (to ``TIE_BREAK``, 0.1 % of the largest demand piece) the plan
   takes those in the least covered units: a tiny priority bonus, never counted in the
   newly covered area reported.
4. **Before/after**: the chosen sites become active models and
   :func:`geo_antt.coverage.compute_coverage` is run with and without them, so the figures are
   exactly the coverage engine's. Each site's marginal gain (demand weight and m² of area) is
   given in the order of a greedy replay of the chosen set.

:func:`rank_uncovered` ranks units by uncovered need, weighted by an optional demand layer.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from ._errors import CRSError, GeoAnttError, Problem, ValidationError
from .config import DEFAULT_SETTINGS, Settings
from .crs import metric_crs_for, to_metric, to_wgs84
from .layers import LayerSpec, bound_problem, load_layer_specs, resolve_kind

if TYPE_CHECKING:  # scipy is imported where it is used: the coverage command ranks units without it
    from scipy import sparse

__all__ = [
    "PlanResult",
    "SOLVERS",
    "demand_points",
    "candidate_sites",
    "candidate_footprints",
    "coverage_matrix",
    "area_pieces",
    "solve_mclp",
    "plan_sites",
    "rank_uncovered",
    "weighted_coverage",
    "plan_count",
]

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


# --------------------------------------------------------------------------------------------
# footprints of candidate sites: the engine's own builders, so that the placement's footprints
# are exactly the ones compute_coverage draws for the same models.


def _sector_polygons(x, y, direction_deg, fov_deg, range_m, *, segments_per_quarter: int):
    from .footprints import sector_polygons

    return sector_polygons(x, y, direction_deg, fov_deg, range_m, segments_per_quarter=segments_per_quarter)


def _disc_polygons(x, y, radius_m, *, segments_per_quarter: int):
    from .footprints import disc_polygons

    return disc_polygons(x, y, radius_m, segments_per_quarter=segments_per_quarter)


# --------------------------------------------------------------------------------------------
# helpers


def _as_metric(gdf: gpd.GeoDataFrame, crs: CRS | None, *, what: str) -> gpd.GeoDataFrame:
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
    only the cells within ``reach_m`` (box) of those points."""
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


# --------------------------------------------------------------------------------------------
# demand


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
        Optional demand layer: points or polygons with a numeric ``weight_column`` (households,
        population, incidents...). Points keep their weight; polygons are spread over the
        lattice cells in proportion to area. Without it, demand is area: a lattice of square
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
            # lines (roads): weight spread along the length, one sample point per lattice cell
            lines = g[is_line]
            lw = w[is_line] / np.maximum(shapely.length(lines), 1e-9)
            ix, iy = _lattice_cells(tuple(shapely.total_bounds(lines)), spacing_m)
            cells = shapely.box(ix * spacing_m, iy * spacing_m, (ix + 1) * spacing_m, (iy + 1) * spacing_m)
            ltree = shapely.STRtree(lines)
            ci, li = ltree.query(cells, predicate="intersects")
            seg = shapely.intersection(lines[li], cells[ci])
            seg_w = shapely.length(seg) * lw[li]
            p = shapely.point_on_surface(seg)
            di, ui = tree.query(p, predicate="intersects")
            di, first = np.unique(di, return_index=True)
            pts_list.append(p[di])
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


# --------------------------------------------------------------------------------------------
# candidates


def candidate_sites(
    units: gpd.GeoDataFrame,
    gaps: gpd.GeoDataFrame | None,
    *,
    spacing_m: float = 50.0,
    candidates: gpd.GeoDataFrame | None = None,
    include_centres: bool = True,
    crs: object = None,
    candidates_name: str = "candidates",
) -> gpd.GeoDataFrame:
    """Candidate sites for new models, in a metric CRS.

    Parameters
    ----------
    units
        Units planned over (hamlets), any CRS.
    gaps
        Uncovered polygons (``CoverageResult.gaps``); None: the whole of the units.
    spacing_m
        Spacing of the lattice of candidate sites over the gaps, metres.
    candidates
        A user layer of candidate sites (e.g. existing poles): points (other geometries are
        replaced by a point on their surface). When given, no lattice is generated.
    include_centres
        Add each unit's representative point (default lattice mode only).
    crs
        Metric CRS (default: the UTM zone of ``units``).

    Returns
    -------
    geopandas.GeoDataFrame
        Points, index ``site_id`` (str), columns ``source`` ("grid", "centre" or "file") and
        ``unit_code`` (the unit holding the site, or None outside every unit).
    """
    units_m = _polygonal_units(_as_metric(units, crs and CRS.from_user_input(crs), what="units"))
    mcrs = units_m.crs
    codes = np.asarray(units_m.index.astype(str))
    ugeom = np.asarray(units_m.geometry.values, dtype=object)
    if candidates is not None:
        cand = _as_metric(candidates, mcrs, what=candidates_name)
        g = np.asarray(cand.geometry.values, dtype=object)
        bad = shapely.is_missing(g) | shapely.is_empty(g)
        if bad.any():
            problems = [
                Problem(candidates_name, int(i) + 1, "geometry", None, "empty or missing geometry")
                for i in np.flatnonzero(bad)
            ]
            raise ValidationError(problems)
        pts = shapely.point_on_surface(g)
        ids = [str(i) for i in cand.index]
        if len(set(ids)) != len(ids):
            ids = [f"c{i + 1}" for i in range(len(ids))]
        source = np.full(len(pts), "file", dtype=object)
    else:
        if gaps is None:
            area = ugeom
        else:
            area = np.asarray(to_metric(gaps, crs=mcrs).geometry.values, dtype=object)
            area = area[~(shapely.is_missing(area) | shapely.is_empty(area))]
        if len(area):
            ix, iy = _lattice_cells(tuple(shapely.total_bounds(area)), spacing_m)
            grid = shapely.points((ix + 0.5) * spacing_m, (iy + 0.5) * spacing_m)
            tree = shapely.STRtree(area)
            gi, _ = tree.query(grid, predicate="intersects")
            grid = grid[np.unique(gi)]
        else:
            grid = np.empty(0, dtype=object)
        parts = [grid]
        source_parts = [np.full(len(grid), "grid", dtype=object)]
        if include_centres:
            centres = shapely.point_on_surface(ugeom)
            parts.append(centres)
            source_parts.append(np.full(len(centres), "centre", dtype=object))
        pts = np.concatenate(parts) if parts else np.empty(0, dtype=object)
        source = np.concatenate(source_parts)
        ids = [f"s{i + 1}" for i in range(len(pts))]
    tree = shapely.STRtree(ugeom)
    pi, ui = tree.query(pts, predicate="intersects")
    unit_code = np.full(len(pts), None, dtype=object)
    pi_u, first = np.unique(pi, return_index=True)
    unit_code[pi_u] = codes[ui[first]]
    out = gpd.GeoDataFrame(
        {"source": source, "unit_code": unit_code},
        geometry=np.asarray(pts, dtype=object),
        crs=mcrs,
        index=pd.Index(ids, name="site_id"),
    )
    return out


def _spec_for(kind: str, specs: Mapping[str, LayerSpec]) -> LayerSpec:
    code = kind if kind in specs else resolve_kind(kind, specs)
    if code is None:
        raise GeoAnttError(f"unknown model kind {kind!r}; known: {', '.join(specs)}")
    spec = specs[code]
    if spec.footprint == "none":
        raise GeoAnttError(f"kind {code!r} has no footprint: there is nothing to place")
    return spec


def _footprint_params(
    spec: LayerSpec,
    *,
    fov_deg: float | None,
    range_m: float | None,
    radius_m: float | None,
    directions_deg: Sequence[float] | None,
    n_directions: int | None,
) -> dict[str, Any]:
    if spec.footprint == "sector":
        fov = float(fov_deg if fov_deg is not None else spec.defaults.get("fov_deg", 90.0))
        rng = float(range_m if range_m is not None else spec.defaults.get("range_m", 20.0))
        if not (0 < fov <= 360) or not (rng > 0):
            raise GeoAnttError(f"fov_deg must be in (0, 360] and range_m > 0; got {fov}, {rng}")
        for fld, value in (("fov_deg", fov), ("range_m", rng)):
            if (reason := bound_problem(spec, fld, value)) is not None:  # layers/*.toml [bounds]
                raise GeoAnttError(f"{fld} = {value:g}: {reason}")
        if fov >= 360:
            dirs: tuple[float, ...] = (0.0,)
        elif directions_deg is not None:
            dirs = tuple(float(d) % 360.0 for d in directions_deg)
            if not dirs:
                raise GeoAnttError("directions_deg is empty")
        else:
            n = int(n_directions or DEFAULT_N_DIRECTIONS)
            if n < 1:
                raise GeoAnttError(f"n_directions must be >= 1, got {n}")
            dirs = tuple(360.0 * k / n for k in range(n))
        return {"rule": "sector", "fov_deg": fov, "range_m": rng, "directions_deg": dirs, "reach_m": rng}
    rad = float(radius_m if radius_m is not None else spec.defaults.get("radius_m", 20.0))
    if not rad > 0:
        raise GeoAnttError(f"radius_m must be > 0, got {rad}")
    if (reason := bound_problem(spec, "radius_m", rad)) is not None:
        raise GeoAnttError(f"radius_m = {rad:g}: {reason}")
    return {"rule": "disc", "radius_m": rad, "directions_deg": (), "reach_m": rad}


def candidate_footprints(
    sites: gpd.GeoDataFrame,
    params: Mapping[str, Any],
    *,
    segments_per_quarter: int = 8,
) -> gpd.GeoDataFrame:
    """One footprint per candidate site and direction (metric CRS of ``sites``).

    ``params`` is ``{"rule": "sector", "fov_deg", "range_m", "directions_deg"}`` or
    ``{"rule": "disc", "radius_m"}``. Returns columns ``site_id``, ``direction_deg`` (NaN for
    discs) and the polygon geometry, built with the coverage engine's own builders.
    """
    x = shapely.get_x(sites.geometry.values)
    y = shapely.get_y(sites.geometry.values)
    site_ids = np.asarray(sites.index.astype(str))
    if params["rule"] == "sector":
        dirs = np.asarray(params["directions_deg"], dtype=float)
        n = len(dirs)
        xs, ys = np.repeat(x, n), np.repeat(y, n)
        ds = np.tile(dirs, len(x))
        fov = np.full(len(xs), params["fov_deg"], dtype=float)
        rng = np.full(len(xs), params["range_m"], dtype=float)
        if params["fov_deg"] >= 360:
            polys = _disc_polygons(xs, ys, rng, segments_per_quarter=segments_per_quarter)
            ds = np.full(len(xs), np.nan)
        else:
            polys = _sector_polygons(xs, ys, ds, fov, rng, segments_per_quarter=segments_per_quarter)
        sid = np.repeat(site_ids, n)
    else:
        polys = _disc_polygons(x, y, np.full(len(x), params["radius_m"], dtype=float), segments_per_quarter=segments_per_quarter)
        ds = np.full(len(x), np.nan)
        sid = site_ids
    return gpd.GeoDataFrame(
        {"site_id": sid, "direction_deg": ds},
        geometry=np.asarray(polys, dtype=object),
        crs=sites.crs,
    )


def coverage_matrix(demand: gpd.GeoDataFrame, footprints: gpd.GeoDataFrame) -> sparse.csr_matrix:
    """Boolean sparse matrix (demand points × footprints): True where the footprint covers the
    point (boundary included)."""
    from scipy import sparse
    pts = np.asarray(demand.geometry.values, dtype=object)
    polys = np.asarray(footprints.geometry.values, dtype=object)
    if len(pts) == 0 or len(polys) == 0:
        return sparse.csr_matrix((len(pts), len(polys)), dtype=bool)
    tree = shapely.STRtree(pts)
    fi, pi = tree.query(polys, predicate="intersects")
    data = np.ones(len(fi), dtype=bool)
    return sparse.csr_matrix((data, (pi, fi)), shape=(len(pts), len(polys)), dtype=bool)


def _polygonal(geoms: np.ndarray) -> np.ndarray:
    """Keep the polygonal part of each geometry (intersections may add stray lines/points)."""
    out = np.asarray(geoms, dtype=object).copy()
    mixed = np.flatnonzero(shapely.get_type_id(out) == 7)
    for k in mixed:
        parts = [p for p in shapely.get_parts(out[k]) if shapely.get_type_id(p) in (3, 6)]
        out[k] = shapely.union_all(parts) if parts else shapely.Polygon()
    return out


def _translation_keys(fp: np.ndarray, order: np.ndarray, starts: np.ndarray, ends: np.ndarray,
                      which: np.ndarray) -> dict[int, bytes]:
    """For each component flagged in ``which``: a key equal for components that are the same
    footprints translated (coordinates relative to the component's first vertex, to 1 µm)."""
    keys: dict[int, bytes] = {}
    for c in np.flatnonzero(which).tolist():
        geoms = fp[order[starts[c] : ends[c]]]
        xy = shapely.get_coordinates(geoms)
        rel = np.round(xy - xy[0], 6) + 0.0  # + 0.0: no negative zero
        keys[c] = shapely.get_num_coordinates(geoms).tobytes() + rel.tobytes()
    return keys


def _arrangement(geoms: np.ndarray, region: shapely.Geometry) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pieces of the arrangement of ``geoms`` (one component of overlapping footprints)
    inside ``region``: their areas (m²) and the (piece, footprint) pairs of which footprint
    covers which piece, footprints numbered by their position in ``geoms``."""
    if len(geoms) == 1:
        return np.array([shapely.area(region)]), np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int64)
    none = np.empty(0), np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    # in coordinates relative to the component's first vertex: the snap grid then falls alike on
    # every copy of a footprint, so that equal footprints get equal pieces wherever they stand
    origin = shapely.get_coordinates(geoms[0])[0]
    geoms = shapely.transform(geoms, lambda c: c - origin)
    region = shapely.transform(region, lambda c: c - origin)
    # clip the footprints to the open region first: the arrangement is then built only
    # where it matters (not inside existing coverage nor outside the units)
    shapely.prepare(region)
    clipped = _polygonal(shapely.intersection(geoms, region))
    ok = ~shapely.is_empty(clipped) & (shapely.area(clipped) > 0)
    clipped, cpos = clipped[ok], np.flatnonzero(ok)
    if len(clipped) == 0:
        return none
    # snap-rounded noding (0.1 mm grid): floating-point noding of thousands of nearly
    # coincident arcs leaves unclosed rings whose faces polygonize would silently drop
    lines = shapely.union_all(shapely.boundary(clipped), grid_size=ARRANGEMENT_GRID_M)
    pieces = np.asarray(shapely.get_parts(shapely.polygonize(shapely.get_parts(lines))), dtype=object)
    if len(pieces) == 0:
        return none
    rp = shapely.point_on_surface(pieces)
    # each face of the arrangement lies wholly inside or outside every footprint; faces
    # outside the open region (enclosed holes, slivers) are dropped. Membership is tested
    # against the unclipped footprints, which the faces' interior points are well inside.
    inside = shapely.intersects(region, rp)
    ptree = shapely.STRtree(rp)
    gi, pi = ptree.query(geoms[ok], predicate="intersects")
    keep = inside[pi]
    gi, pi = gi[keep], pi[keep]
    used, local = np.unique(pi, return_inverse=True)
    return shapely.area(pieces[used]), local, cpos[gi]


def area_pieces(
    footprints: gpd.GeoDataFrame,
    units: gpd.GeoDataFrame,
    *,
    covered: Any = None,
) -> tuple[np.ndarray, sparse.csr_matrix]:
    """Exact area demand: the pieces of the arrangement of candidate ``footprints`` that lie
    inside the units and outside the ``covered`` polygons, with the footprints covering each.

    Every piece is covered by a fixed set of candidate footprints, so choosing footprints
    covers exactly the sum of the areas of the pieces they touch: the MCLP objective is then
    the newly covered area in m², the same figure the coverage engine measures before/after.
    Overlapping footprints are handled per connected component (STRtree self-query), so
    isolated candidates cost one intersection each.

    Parameters
    ----------
    footprints
        Candidate footprints (metric CRS).
    units
        Unit polygons (same CRS).
    covered
        Polygons already covered by active models (array, GeoSeries or geometry), same CRS.

    Returns
    -------
    (numpy.ndarray, scipy.sparse.csr_matrix)
        Area of each piece in m², and the pieces × footprints boolean coverage matrix.
    """
    from scipy import sparse
    from scipy.sparse.csgraph import connected_components

    fp = np.asarray(footprints.geometry.values, dtype=object)
    n = len(fp)
    if n == 0:
        return np.empty(0), sparse.csr_matrix((0, 0), dtype=bool)
    ug = np.asarray(units.geometry.values, dtype=object)
    ug = ug[~(shapely.is_missing(ug) | shapely.is_empty(ug))]
    utree = shapely.STRtree(ug)
    if covered is None:
        cg = np.empty(0, dtype=object)
    else:
        if isinstance(covered, shapely.Geometry):
            covered = shapely.get_parts(covered)
        elif isinstance(covered, (gpd.GeoSeries, gpd.GeoDataFrame)):
            covered = covered.geometry.values
        cg = np.asarray(covered, dtype=object)
        cg = cg[~(shapely.is_missing(cg) | shapely.is_empty(cg))]
    ctree = shapely.STRtree(cg) if len(cg) else None
    ftree = shapely.STRtree(fp)
    i, j = ftree.query(fp, predicate="intersects")
    graph = sparse.coo_matrix((np.ones(len(i), dtype=bool), (i, j)), shape=(n, n))
    n_comp, label = connected_components(graph, directed=False)
    order = np.argsort(label, kind="stable")
    starts = np.searchsorted(label[order], np.arange(n_comp))
    ends = np.append(starts[1:], n)
    # A component whose every footprint lies within a unit and meets no covered polygon is
    # open throughout: its pieces are its own arrangement. Components that are translated
    # copies of one another (the sites of the default lattice: the same directions, angle and
    # range) then share one arrangement, computed once.
    open_fp = np.zeros(n, dtype=bool)
    open_fp[np.unique(utree.query(fp, predicate="within")[0])] = True
    if ctree is not None:
        open_fp[np.unique(ctree.query(fp, predicate="intersects")[0])] = False
    comp_open = np.logical_and.reduceat(open_fp[order], starts) if n_comp else np.zeros(0, bool)
    shapes = _translation_keys(fp, order, starts, ends, comp_open)
    arrangements: dict[bytes, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    weights: list[np.ndarray] = []
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    n_rows = 0
    for c, (s, e) in enumerate(zip(starts, ends)):
        idx = order[s:e]
        geoms = fp[idx]
        key = shapes.get(c)
        if key is not None:
            if key not in arrangements:
                env = shapely.union_all(geoms) if len(idx) > 1 else geoms[0]
                arrangements[key] = _arrangement(geoms, env)
            area, pi, gi = arrangements[key]
        else:
            env = shapely.union_all(geoms) if len(idx) > 1 else geoms[0]
            box = shapely.box(*shapely.bounds(env))
            lu = ug[utree.query(box, predicate="intersects")]
            if len(lu) == 0:
                continue
            region = shapely.intersection(env, shapely.union_all(shapely.clip_by_rect(lu, *shapely.bounds(box))))
            if ctree is not None:
                lc = cg[ctree.query(box, predicate="intersects")]
                if len(lc):
                    region = shapely.difference(region, shapely.union_all(lc))
            if shapely.is_empty(region) or shapely.area(region) <= 0:
                continue
            area, pi, gi = _arrangement(geoms, region)
        if len(area) == 0:
            continue
        weights.append(area)
        rows.append(pi + n_rows)
        cols.append(idx[gi])
        n_rows += len(area)
    if not weights:
        return np.empty(0), sparse.csr_matrix((0, n), dtype=bool)
    r = np.concatenate(rows)
    c = np.concatenate(cols)
    a = sparse.csr_matrix((np.ones(len(r), dtype=bool), (r, c)), shape=(n_rows, n), dtype=bool)
    return np.concatenate(weights), a


# --------------------------------------------------------------------------------------------
# solvers


@dataclass(frozen=True)
class _Solution:
    chosen: np.ndarray  # footprint (column) positions
    objective: float
    optimal: bool
    seconds: float


def _reduce(a: sparse.csr_matrix, w: np.ndarray):
    """Drop rows no column covers and merge rows covered by the same set of columns."""
    from scipy import sparse
    a = sparse.csr_matrix(a, dtype=bool)
    a.sort_indices()
    nnz_row = np.diff(a.indptr)
    keep = (nnz_row > 0) & (w > 0)
    a = a[keep]
    w = w[keep]
    if a.shape[0] == 0:
        return a, w
    keys: dict[bytes, int] = {}
    rows = np.empty(a.shape[0], dtype=np.int64)
    indptr, indices = a.indptr, a.indices
    for r in range(a.shape[0]):
        k = indices[indptr[r] : indptr[r + 1]].tobytes()
        rows[r] = keys.setdefault(k, len(keys))
    if len(keys) == a.shape[0]:
        return a, w
    merged_w = np.bincount(rows, weights=w, minlength=len(keys))
    first = np.full(len(keys), -1, dtype=np.int64)
    order = np.arange(len(rows))[::-1]
    first[rows[order]] = order
    return a[first], merged_w


@dataclass(frozen=True)
class _Pruned:
    keep: np.ndarray  # candidate (column) positions that may still be in an optimal choice
    a: sparse.csr_matrix  # the rows and those columns (rows no kept column covers dropped)
    w: np.ndarray


def _bounded(a: sparse.csr_matrix, w: np.ndarray, groups: np.ndarray, p: int, greedy: _Solution,
             bonus: np.ndarray | None = None) -> _Pruned | None:
    """Bounds that settle or shrink the exact problem before a solver sees it.

    A candidate alone covers ``v_j`` (the weight of its rows), and ``p`` candidates of
    different groups together cover at most the ``p`` largest group maxima of ``v`` (``U``).
    When the greedy choice covers ``U`` it is optimal and None is returned: the common case
    of sparse coverage, where the best footprints do not overlap. Otherwise a candidate ``j``
    whose best possible company, ``v_j`` plus the ``p - 1`` largest maxima of the other
    groups, stays below the greedy's cover cannot be in any choice better than the greedy's:
    such candidates are dropped (the optimum is unchanged) and the smaller problem returned.
    Values and bounds include the candidates' tie-break ``bonus``.
    """
    from scipy import sparse

    v = np.asarray(sparse.csr_matrix(a, dtype=np.float64).T @ w).ravel()
    g_val = greedy.objective
    if bonus is not None:
        v = v + bonus
        g_val += float(bonus[greedy.chosen].sum())
    _, g = np.unique(groups, return_inverse=True)
    gmax = np.full(g.max() + 1, -np.inf)
    np.maximum.at(gmax, g, v)
    top = np.sort(gmax)[::-1]
    ub = float(top[:p].sum())
    tol = 1e-9 * max(abs(ub), 1.0)
    if g_val >= ub - tol:
        return None
    # the p - 1 largest maxima of the groups other than j's
    rank = np.empty(len(gmax), dtype=np.int64)
    rank[np.argsort(-gmax, kind="stable")] = np.arange(len(gmax))
    t_p1 = float(top[: p - 1].sum())
    next_best = float(top[p - 1]) if len(top) >= p else 0.0
    others = np.where(rank[g] < p - 1, t_p1 - gmax[g] + next_best, t_p1)
    keep = np.flatnonzero(v + others >= g_val - tol)
    keep = np.union1d(keep, greedy.chosen)
    sub = sparse.csr_matrix(a, dtype=bool)[:, keep]
    rows = np.flatnonzero(np.diff(sub.indptr) > 0)
    return _Pruned(keep, sub[rows], w[rows])


def _greedy(a: sparse.csr_matrix, w: np.ndarray, groups: np.ndarray, p: int, bonus: np.ndarray | None = None) -> _Solution:
    """The classic greedy: take the candidate covering the most uncovered weight, p times (one
    per group); ``bonus`` (tiny, per candidate) breaks ties. The objective is the covered weight."""
    from scipy import sparse
    t0 = time.perf_counter()
    a = sparse.csr_matrix(a, dtype=np.float64)
    at = a.T.tocsr()
    alive = np.ones(a.shape[0], dtype=bool)
    gain = np.asarray(at @ w).ravel()
    extra = np.zeros(len(gain)) if bonus is None else bonus
    chosen: list[int] = []
    for _ in range(p):
        if gain.size == 0:
            break
        j = int(np.argmax(np.where(gain > 0, gain + extra, -np.inf)))
        if not gain[j] > 0:
            break
        chosen.append(j)
        rows = at.indices[at.indptr[j] : at.indptr[j + 1]]
        new = rows[alive[rows]]
        alive[new] = False
        if len(new):
            gain -= np.asarray(a[new].T @ w[new]).ravel()
        gain[groups == groups[j]] = -np.inf  # one footprint per site
    obj = float(w[~alive].sum())
    return _Solution(np.asarray(chosen, dtype=np.int64), obj, False, time.perf_counter() - t0)


def _own_coefficients(csr: sparse.csr_matrix, w: np.ndarray, bonus: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """The integer programmes' objective coefficient of each candidate (the weight of the rows
    it alone covers, plus its tie-break ``bonus``) and the rows covered by several candidates."""
    single = np.diff(csr.indptr) == 1
    own = np.bincount(csr.indices[csr.indptr[:-1][single]], weights=w[single], minlength=csr.shape[1])
    if bonus is not None:
        own = own + bonus
    return own, np.flatnonzero(~single)


def _exact(a, w, groups, p, *, time_limit_s, warm=None, bonus=None) -> _Solution:
    """Exact MCLP with PuLP + CBC: max sum c_j x_j + sum w_i y_i, y_i <= sum_{j covers i} x_j,
    sum x_j <= p, at most one x per group. Demand rows covered by a single candidate are folded
    into that candidate's own coefficient c_j (the same optimum, far fewer rows); the tie-break
    ``bonus`` of each candidate is added to it."""
    from scipy import sparse
    import pulp

    t0 = time.perf_counter()
    csr = sparse.csr_matrix(a, dtype=bool)
    n_rows, n_cols = csr.shape
    own, multi = _own_coefficients(csr, w, bonus)
    prob = pulp.LpProblem("mclp", pulp.LpMaximize)
    x = [pulp.LpVariable(f"x{j}", cat=pulp.LpBinary) for j in range(n_cols)]
    # y continuous in [0, 1]: with binary x the optimum has y_i = min(1, sum x) anyway.
    y = [pulp.LpVariable(f"y{i}", lowBound=0, upBound=1) for i in range(len(multi))]
    obj = [(x[j], float(own[j])) for j in np.flatnonzero(own > 0)]
    obj += [(y[k], float(w[i])) for k, i in enumerate(multi)]
    prob += pulp.LpAffineExpression(obj)
    indptr, indices = csr.indptr, csr.indices
    for k, i in enumerate(multi):
        terms = [(x[j], 1) for j in indices[indptr[i] : indptr[i + 1]]]
        terms.append((y[k], -1))
        prob += pulp.LpConstraint(pulp.LpAffineExpression(terms), sense=pulp.LpConstraintGE, rhs=0)
    prob += pulp.LpConstraint(pulp.LpAffineExpression([(v, 1) for v in x]), sense=pulp.LpConstraintLE, rhs=p)
    order = np.argsort(groups, kind="stable")
    _, starts = np.unique(groups[order], return_index=True)
    bounds = list(starts[1:]) + [len(order)]
    for s_, e_ in zip(starts, bounds):
        if e_ - s_ > 1:
            terms = [(x[j], 1) for j in order[s_:e_]]
            prob += pulp.LpConstraint(pulp.LpAffineExpression(terms), sense=pulp.LpConstraintLE, rhs=1)
    warm_start = False
    if warm is not None and len(warm):
        for j in warm:
            x[int(j)].setInitialValue(1)
        warm_start = True
    solver = pulp.PULP_CBC_CMD(msg=False, timeLimit=time_limit_s, warmStart=warm_start)
    prob.solve(solver)
    if prob.sol_status not in (pulp.LpSolutionIntegerFeasible, pulp.LpSolutionOptimal):
        raise GeoAnttError(f"the CBC solver found no solution (status {pulp.LpStatus[prob.status]})")
    xv = np.array([v.value() or 0.0 for v in x])
    chosen = np.flatnonzero(xv > 0.5)
    covered = np.asarray((csr[:, chosen].sum(axis=1) > 0)).ravel() if len(chosen) else np.zeros(n_rows, bool)
    obj_value = float(w[covered].sum())
    optimal = prob.sol_status == pulp.LpSolutionOptimal
    return _Solution(chosen, obj_value, bool(optimal), time.perf_counter() - t0)


def _highs(a, w, groups, p, *, time_limit_s, bonus=None) -> _Solution:
    """The same integer programme as :func:`_exact`, solved by HiGHS (scipy.optimize.milp)."""
    from scipy import sparse
    from scipy.optimize import Bounds, LinearConstraint, milp

    t0 = time.perf_counter()
    csr = sparse.csr_matrix(a, dtype=float)
    n_rows, n_cols = csr.shape
    own, multi = _own_coefficients(csr, w, bonus)
    k = len(multi)
    _, group_row = np.unique(groups, return_inverse=True)
    g = sparse.csr_matrix((np.ones(n_cols), (group_row, np.arange(n_cols))))
    m = sparse.vstack(
        [
            sparse.hstack([csr[multi], -sparse.identity(k, format="csr")]),
            sparse.hstack([sparse.csr_matrix(np.ones((1, n_cols))), sparse.csr_matrix((1, k))]),
            sparse.hstack([g, sparse.csr_matrix((g.shape[0], k))]),
        ]
    ).tocsr()
    lb = np.concatenate([np.zeros(k), [-np.inf], np.full(g.shape[0], -np.inf)])
    ub = np.concatenate([np.full(k, np.inf), [float(p)], np.ones(g.shape[0])])
    res = milp(
        -np.concatenate([own, w[multi]]),
        constraints=LinearConstraint(m, lb, ub),
        integrality=np.concatenate([np.ones(n_cols), np.zeros(k)]),
        bounds=Bounds(0, 1),
        options={"time_limit": float(time_limit_s)},
    )
    if res.x is None:
        raise GeoAnttError(f"HiGHS found no solution ({res.message})")
    chosen = np.flatnonzero(res.x[:n_cols] > 0.5)
    covered = np.asarray((csr[:, chosen].sum(axis=1) > 0)).ravel() if len(chosen) else np.zeros(n_rows, bool)
    return _Solution(chosen, float(w[covered].sum()), res.status == 0, time.perf_counter() - t0)


def _spopt(a, w, groups, p) -> _Solution:
    import pulp
    from spopt.locate import MCLP

    if len(np.unique(groups)) != len(groups):
        msg = "spopt's MCLP cannot limit the choice to one direction per site; use solver='exact' or one direction (fov_deg=360 or directions_deg=[d])"
        raise GeoAnttError(msg)
    t0 = time.perf_counter()
    dense = a.toarray()
    cost = np.where(dense, 0.0, 1.0)
    model = MCLP.from_cost_matrix(cost, np.asarray(w, dtype=float), service_radius=0.5, p_facilities=int(p))
    model = model.solve(pulp.PULP_CBC_CMD(msg=False))
    chosen = np.asarray(
        [j for j, var in enumerate(model.fac_vars) if (var.value() or 0) > 0.5], dtype=np.int64
    )
    covered = dense[:, chosen].any(axis=1) if len(chosen) else np.zeros(dense.shape[0], bool)
    optimal = pulp.LpStatus[model.problem.status] == "Optimal"
    return _Solution(chosen, float(w[covered].sum()), optimal, time.perf_counter() - t0)


def solve_mclp(
    a: sparse.spmatrix,
    weights: np.ndarray,
    *,
    count: int,
    groups: np.ndarray | None = None,
    solver: str = "exact",
    time_limit_s: float = 300.0,
    compare_greedy: bool = True,
    priority: np.ndarray | None = None,
) -> dict[str, Any]:
    """Solve the maximal covering location problem on a coverage matrix.

    Parameters
    ----------
    a
        Demand × candidate boolean matrix (True: the candidate covers the demand point).
    weights
        Weight of each demand row (rows already covered must be removed beforehand).
    count
        Number of candidates to choose (at most).
    groups
        Group of each candidate column: at most one column per group is chosen (one direction
        per camera site). Default: every column its own group.
    solver
        "exact" (PuLP + CBC), "highs" (the same integer programme solved by HiGHS through
        scipy.optimize.milp, often faster on dense cases), "spopt" (spopt.locate.MCLP + CBC),
        "greedy", or "auto" (exact when the reduced matrix has at most ``AUTO_EXACT_MAX_NNZ``
        non-zeros, else greedy).
    time_limit_s
        Time limit of CBC, seconds; a solution stopped by it is reported as not optimal.
    compare_greedy
        Also run the greedy heuristic when solving exactly and report its gap.
    priority
        Tie-break of each candidate column, 0..1 (e.g. how uncovered its hamlet is): among
        choices covering the same weight, to ``TIE_BREAK`` (1e-3) of the largest row weight per
        candidate, the higher priorities win. The covered weight reported is the true one.
        Not used by "spopt".

    Returns
    -------
    dict
        ``chosen`` (column positions), ``objective`` (covered weight), ``solver``, ``optimal``,
        ``greedy_objective``, ``gap_to_optimum`` (relative shortfall of the greedy from the exact
        optimum, 0..1, or None), ``seconds``, ``n_rows``/``n_cols``/``nnz`` of the reduced problem,
        and for "exact"/"highs" ``bound``: what the bounds settled before the solver ran (the
        greedy choice proven optimal, or how many candidates were ruled out; see
        :func:`_bounded`) and ``proven_by_bound`` (True: no solver had to run).
    """
    from scipy import sparse
    if solver not in SOLVERS:
        raise GeoAnttError(f"solver must be one of {', '.join(SOLVERS)}; got {solver!r}")
    if count < 0 or int(count) != count:
        raise GeoAnttError(f"count must be a whole number >= 0, got {count!r}")
    a = sparse.csr_matrix(a, dtype=bool)
    w = np.asarray(weights, dtype=float)
    if a.shape[0] != len(w):
        raise ValueError(f"'weights' has {len(w)} values for {a.shape[0]} demand rows")
    groups = np.arange(a.shape[1]) if groups is None else np.asarray(groups)
    ar, wr = _reduce(a, w)
    info = {"n_rows": int(ar.shape[0]), "n_cols": int(ar.shape[1]), "nnz": int(ar.nnz)}
    if solver == "auto":
        solver = "exact" if ar.nnz <= AUTO_EXACT_MAX_NNZ else "greedy"
    if count == 0 or ar.shape[0] == 0:
        return {"chosen": np.empty(0, dtype=np.int64), "objective": 0.0, "solver": solver, "optimal": True,
                "greedy_objective": 0.0, "gap_to_optimum": 0.0, "seconds": 0.0, **info}
    bonus = None
    if priority is not None:
        if len(priority) != a.shape[1]:
            raise ValueError(f"'priority' has {len(priority)} values for {a.shape[1]} candidates")
        bonus = TIE_BREAK * float(wr.max()) * np.clip(np.nan_to_num(np.asarray(priority, dtype=float)), 0.0, 1.0)
        bonus[np.asarray(sparse.csr_matrix(ar, dtype=np.float64).T @ wr).ravel() <= 0] = 0.0  # nothing to cover: no pull
    # the greedy answer is a lower bound for the exact solvers (and CBC's warm start)
    greedy = _greedy(ar, wr, groups, int(count), bonus) if solver != "spopt" or compare_greedy else None
    if solver == "greedy":
        sol = greedy
    elif solver == "spopt":
        sol = _spopt(ar, wr, groups, int(count))
    else:
        pruned = _bounded(ar, wr, groups, int(count), greedy, bonus)
        if pruned is None:  # the greedy choice is optimal: no solver needed
            info["bound"] = "the greedy choice reaches the upper bound"
            info["proven_by_bound"] = True
            sol = _Solution(greedy.chosen, greedy.objective, True, greedy.seconds)
            greedy = _Solution(greedy.chosen, greedy.objective, False, 0.0)  # its time counted once
        else:
            info["bound"] = f"{ar.shape[1] - len(pruned.keep)} of {ar.shape[1]} candidates ruled out"
            info["proven_by_bound"] = False
            keep, sub_groups = pruned.keep, groups[pruned.keep]
            sub_bonus = None if bonus is None else bonus[keep]
            if solver == "highs":
                sol = _highs(pruned.a, pruned.w, sub_groups, int(count), time_limit_s=time_limit_s, bonus=sub_bonus)
            else:
                warm = np.flatnonzero(np.isin(keep, greedy.chosen))
                sol = _exact(pruned.a, pruned.w, sub_groups, int(count), time_limit_s=time_limit_s, warm=warm, bonus=sub_bonus)
            sol = _Solution(keep[sol.chosen], sol.objective, sol.optimal, sol.seconds)
    gap = None
    if greedy is not None and solver != "greedy" and sol.optimal:
        gap = 0.0 if sol.objective <= 0 else max(0.0, (sol.objective - greedy.objective) / sol.objective)
    reported = compare_greedy or solver == "greedy"
    return {
        "chosen": np.sort(sol.chosen),
        "objective": sol.objective,
        "solver": solver,
        "optimal": sol.optimal,
        "greedy_objective": greedy.objective if greedy is not None and reported else None,
        "gap_to_optimum": gap if reported else None,
        "seconds": sol.seconds + (greedy.seconds if greedy is not None and greedy is not sol else 0.0),
        **info,
    }


# --------------------------------------------------------------------------------------------
# plan


@dataclass(frozen=True)
class PlanResult:
    """Result of :func:`plan_sites`.

    Attributes
    ----------
    sites
        Proposed sites (EPSG:4326 points), index = proposed model id, in rank order: ``rank``,
        ``site_id`` (candidate), ``unit_code``, ``kind``, ``direction_deg`` (tuple), ``fov_deg``,
        ``range_m``, ``radius_m``, ``gain_weight`` (newly covered demand weight, in the order of
        the ranks), ``gain_m2`` (newly covered unit area, m², same order), ``status`` = "proposed".
    footprints
        Footprint polygon of each proposed site (EPSG:4326), same index and ``rank``.
    models
        The proposed sites as model rows (``MODEL_COLUMNS``; status "proposed"), ready to be
        accepted into the registry.
    before, after
        Per-unit coverage from :func:`geo_antt.coverage.compute_coverage` without and with the
        proposed sites counted as active.
    objective
        Newly covered demand weight of the chosen set (m² with the default area demand).
    solver
        Solver that produced the chosen set ("exact", "spopt" or "greedy").
    optimal
        True when the exact solver proved optimality.
    greedy_objective, gap_to_optimum
        The greedy heuristic's objective and its relative shortfall from the proven optimum
        (0..1), when both ran.
    stats
        Sizes and times: candidates, footprints, demand points, reduced rows/nnz, seconds.
    """

    sites: gpd.GeoDataFrame
    footprints: gpd.GeoDataFrame
    models: gpd.GeoDataFrame
    before: pd.DataFrame
    after: pd.DataFrame
    objective: float
    solver: str
    optimal: bool
    greedy_objective: float | None
    gap_to_optimum: float | None
    stats: Mapping[str, Any] = field(default_factory=dict)

    def comparison(self) -> pd.DataFrame:
        """Per-unit before/after table: covered_pct before and after and the gain in points."""
        cols = [c for c in ("unit_name", "name", "area_m2") if c in self.before.columns]
        out = self.before[cols].copy()
        out["covered_m2_before"] = self.before["covered_m2"]
        out["covered_pct_before"] = self.before["covered_pct"]
        out["covered_m2_after"] = self.after["covered_m2"].reindex(out.index)
        out["covered_pct_after"] = self.after["covered_pct"].reindex(out.index)
        out["gain_m2"] = out["covered_m2_after"] - out["covered_m2_before"]
        out["gain_pct"] = out["covered_pct_after"] - out["covered_pct_before"]
        return out


def plan_count(*, count: int | None = None, budget_vnd: float | None = None, unit_cost_vnd: float | None = None) -> int:
    """Number of sites to place: ``count``, capped by ``floor(budget_vnd / unit_cost_vnd)``.

    Raises
    ------
    GeoAnttError
        When neither a count nor a budget is given, or a budget lacks its unit cost.
    """
    cap = None
    if budget_vnd is not None or unit_cost_vnd is not None:
        if budget_vnd is None or unit_cost_vnd is None:
            raise GeoAnttError("a budget needs both --budget and --unit-cost (VND)")
        if not unit_cost_vnd > 0 or budget_vnd < 0:
            raise GeoAnttError(f"budget must be >= 0 and unit cost > 0 (VND); got {budget_vnd}, {unit_cost_vnd}")
        cap = int(math.floor(budget_vnd / unit_cost_vnd + 1e-9))
    if count is None:
        if cap is None:
            raise GeoAnttError("say how many sites to place (--count N) or give a budget (--budget, --unit-cost)")
        return cap
    if count < 0 or int(count) != count:
        raise GeoAnttError(f"count must be a whole number >= 0, got {count!r}")
    return int(count) if cap is None else min(int(count), cap)


def _active_models(models: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    if "status" not in models.columns:
        return models
    return models.loc[models["status"] == "active"]


def _proposed_models(sites_m, chosen_fp, spec, params, *, id_prefix: str) -> gpd.GeoDataFrame:
    from .schema import MODEL_COLUMNS

    n = len(chosen_fp)
    ids = [f"{id_prefix}{k + 1:03d}" for k in range(n)]
    rows = {c: [None] * n for c in MODEL_COLUMNS}
    rows["id"] = ids
    rows["kind"] = [spec.kind] * n
    rows["name"] = [f"{spec.title_vi} đề xuất {k + 1}" for k in range(n)]
    rows["status"] = ["proposed"] * n
    rows["unit_code"] = list(sites_m.loc[chosen_fp["site_id"], "unit_code"])
    if params["rule"] == "sector" and params["fov_deg"] < 360:
        rows["direction_deg"] = [(float(d),) for d in chosen_fp["direction_deg"]]
    else:
        rows["direction_deg"] = [()] * n
    nan = float("nan")
    rows["fov_deg"] = [params.get("fov_deg", nan)] * n if params["rule"] == "sector" else [nan] * n
    rows["range_m"] = [params.get("range_m", nan)] * n if params["rule"] == "sector" else [nan] * n
    rows["radius_m"] = [params.get("radius_m", nan)] * n if params["rule"] == "disc" else [nan] * n
    rows["height_m"] = [nan] * n
    rows["notes"] = ["geo-antt plan"] * n
    geom = gpd.GeoSeries(sites_m.loc[chosen_fp["site_id"]].geometry.values, crs=sites_m.crs)
    out = gpd.GeoDataFrame(rows, geometry=geom.values, crs=sites_m.crs)
    out.index = pd.Index(ids, name="id")
    return out


def _with_models(models: gpd.GeoDataFrame, extra: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    extra = extra.to_crs(models.crs) if models.crs is not None else extra
    cols = list(models.columns)
    for c in cols:
        if c not in extra.columns:
            extra[c] = None
    extra = extra[cols]
    both = pd.concat([models, extra])
    return gpd.GeoDataFrame(both, geometry=models.geometry.name, crs=models.crs)


def plan_sites(
    units: gpd.GeoDataFrame,
    models: gpd.GeoDataFrame,
    *,
    kind: str = "camera",
    count: int | None = None,
    budget_vnd: float | None = None,
    unit_cost_vnd: float | None = None,
    candidates: gpd.GeoDataFrame | None = None,
    candidate_spacing_m: float | None = None,
    demand: gpd.GeoDataFrame | None = None,
    weight_column: str | None = None,
    demand_spacing_m: float | None = None,
    specs: Mapping[str, LayerSpec] | None = None,
    settings: Settings | None = None,
    solver: str = "exact",
    fov_deg: float | None = None,
    range_m: float | None = None,
    radius_m: float | None = None,
    directions_deg: Sequence[float] | None = None,
    n_directions: int | None = None,
    time_limit_s: float = 300.0,
    compare_greedy: bool = True,
    id_prefix: str = "plan-",
    level: str | None = None,
    max_candidates: int | None = 2000,
) -> PlanResult:
    """Choose where ``count`` new models of ``kind`` cover the most uncovered demand.

    Parameters
    ----------
    units
        Units to plan over (the hamlets of a commune), EPSG:4326 or any CRS.
    models
        Registered models (``MODEL_COLUMNS``); active ones are kept fixed and what they cover
        is not counted again.
    kind
        Kind of the new models (a layer spec kind, title or alias): "camera", "lighting"...
    count, budget_vnd, unit_cost_vnd
        Number of new models, capped by ``floor(budget_vnd / unit_cost_vnd)`` (VND).
    candidates
        User candidate sites (e.g. poles); default a lattice over the gaps plus unit centres.
    candidate_spacing_m
        Lattice spacing of default candidates, metres (default: 2 × the footprint reach).
    demand, weight_column
        Optional demand layer and its weight column (see :func:`demand_points`); default area.
    demand_spacing_m
        Demand lattice spacing, metres (default: a quarter of the reach, between 2 and 25 m).
    specs, settings
        Layer specs and settings (defaults: the project's).
    solver
        "exact", "highs", "spopt", "greedy" or "auto" (see :func:`solve_mclp`).
    fov_deg, range_m
        Angle of view (degrees) and range (metres) of new cameras (default: the layer spec).
    radius_m
        Radius of new lights/checkpoints, metres (default: the layer spec).
    directions_deg, n_directions
        Directions tried per camera site (degrees clockwise from north), or their number
        (evenly spaced, default 8). At most one direction is chosen per site.
    time_limit_s
        CBC time limit, seconds.
    compare_greedy
        Run the greedy heuristic next to the exact solver and report its gap.
    id_prefix
        Prefix of the ids of the proposed models.
    level
        Passed to ``compute_coverage`` for the before/after figures.
    max_candidates
        Cap of the default candidate lattice: over large gaps its spacing grows so that about
        this many sites are tried (None: no cap). User candidates are never thinned.

    Returns
    -------
    PlanResult
    """
    from scipy import sparse
    from .coverage import compute_coverage
    from .footprints import footprints as build_footprints

    t_start = time.perf_counter()
    specs = specs if specs is not None else load_layer_specs()
    settings = settings or DEFAULT_SETTINGS
    spec = _spec_for(kind, specs)
    n = plan_count(count=count, budget_vnd=budget_vnd, unit_cost_vnd=unit_cost_vnd)
    params = _footprint_params(
        spec, fov_deg=fov_deg, range_m=range_m, radius_m=radius_m, directions_deg=directions_deg, n_directions=n_directions
    )
    mcrs = metric_crs_for(units, crs=settings.metric_crs)
    units_m = _polygonal_units(to_metric(units, crs=mcrs))
    if models.crs is None:
        if len(models):
            raise CRSError("models have no CRS: say which one they are in (e.g. EPSG:4326)")
        models = models.set_crs(4326)
    models_m = models.to_crs(mcrs)
    active = _active_models(models_m)
    seg = settings.sector_segments
    existing = build_footprints(active, specs=specs, segments_per_quarter=seg) if len(active) else None
    existing_geom = None if existing is None or existing.empty else np.asarray(existing.geometry.values, dtype=object)

    reach = params["reach_m"]
    cand_spacing = candidate_spacing_m if candidate_spacing_m is not None else max(2.0 * reach, 5.0)
    dem_spacing = demand_spacing_m if demand_spacing_m is not None else min(25.0, max(2.0, reach / 4.0))
    gaps_geom = None
    if candidates is None:
        # default candidates: a lattice over the gaps (units minus existing footprints) + centres
        union_units = shapely.union_all(units_m.geometry.values)
        if existing_geom is not None:
            cov = shapely.union_all(existing_geom)
            gap = shapely.difference(union_units, cov)
        else:
            gap = union_units
        gaps_geom = gpd.GeoDataFrame(geometry=gpd.GeoSeries([gap], crs=mcrs), crs=mcrs)
        # keep the default lattice to about max_candidates sites: widen it over large gaps
        gap_area = float(shapely.area(gap))
        if max_candidates and gap_area / cand_spacing**2 > max_candidates:
            cand_spacing = math.sqrt(gap_area / max_candidates)
    sites_m = candidate_sites(units_m, gaps_geom, spacing_m=cand_spacing, candidates=candidates, crs=mcrs)
    fps = candidate_footprints(sites_m, params, segments_per_quarter=seg)
    xy = np.column_stack([shapely.get_x(sites_m.geometry.values), shapely.get_y(sites_m.geometry.values)])
    if demand is None:
        weights, a = area_pieces(fps, units_m, covered=existing_geom)
        n_demand, n_open = int(a.shape[0]), int(a.shape[0])
    else:
        dem = demand_points(
            units_m,
            covered=existing_geom,
            demand=demand,
            weight_column=weight_column,
            spacing_m=dem_spacing,
            near=xy if len(xy) else None,
            reach_m=reach if len(xy) else None,
            crs=mcrs,
        )
        open_dem = dem.loc[~dem["covered"].to_numpy()]
        weights = open_dem["weight"].to_numpy()
        a = coverage_matrix(open_dem, fps)
        n_demand, n_open = int(len(dem)), int(len(open_dem))
    site_pos = pd.Index(sites_m.index.astype(str)).get_indexer(fps["site_id"])
    # among sites of equal gain, those in the least covered units first: priority 1 for the
    # least covered unit down to 0 for the best covered (by rank; units outside: 0)
    kw: dict[str, Any] = {"specs": specs, "settings": settings}
    if level is not None:
        kw["level"] = level
    before = compute_coverage(units, models, **kw).units
    pct = pd.to_numeric(before["covered_pct"], errors="coerce")
    order = pct.rank(method="average", ascending=False)  # highest share: rank 1
    unit_need = (order - 1) / max(len(order) - 1, 1) if len(order) > 1 else order * 0 + 1.0
    need = unit_need.reindex(sites_m["unit_code"].astype(object)).fillna(0.0).to_numpy(dtype=float)
    t_prep = time.perf_counter() - t_start
    res = solve_mclp(
        a, weights, count=n, groups=site_pos, solver=solver,
        time_limit_s=time_limit_s, compare_greedy=compare_greedy, priority=need[site_pos],
    )
    chosen = res["chosen"]
    # rank the chosen footprints by a greedy replay: marginal demand weight, then area
    a_c = sparse.csc_matrix(a[:, chosen], dtype=bool) if len(chosen) else None
    chosen_need = need[site_pos[chosen]]
    wv = weights
    order: list[int] = []
    gains_w: list[float] = []
    if len(chosen):
        alive = np.ones(a.shape[0], dtype=bool)
        remaining = list(range(len(chosen)))
        while remaining:
            best, best_gain = None, -1.0
            for k in remaining:
                rows = a_c.indices[a_c.indptr[k] : a_c.indptr[k + 1]]
                g = float(wv[rows[alive[rows]]].sum())
                if g > best_gain or (g == best_gain and chosen_need[k] > chosen_need[best]):
                    best, best_gain = k, g
            rows = a_c.indices[a_c.indptr[best] : a_c.indptr[best + 1]]
            alive[rows] = False
            order.append(best)
            gains_w.append(best_gain)
            remaining.remove(best)
    # a chosen footprint that adds nothing (possible when fewer useful sites exist than asked
    # for) is not proposed
    useful = [k for k, g in zip(order, gains_w) if g > 0]
    gains_w = [g for g in gains_w if g > 0]
    order = useful
    chosen_fp = fps.iloc[chosen[order]] if len(order) else fps.iloc[[]]
    new_models = _proposed_models(sites_m, chosen_fp, spec, params, id_prefix=id_prefix)
    # marginal area gain (m²) in rank order, against existing coverage and earlier ranks
    union_units = shapely.union_all(units_m.geometry.values)
    covered_so_far = shapely.union_all(existing_geom) if existing_geom is not None else shapely.Polygon()
    gains_m2 = []
    for poly in chosen_fp.geometry.values:
        piece = shapely.difference(shapely.intersection(poly, union_units), covered_so_far)
        gains_m2.append(float(shapely.area(piece)))
        covered_so_far = shapely.union(covered_so_far, poly)
    sites = new_models[["kind", "unit_code", "direction_deg", "fov_deg", "range_m", "radius_m", "status", "geometry"]].copy()
    sites.insert(0, "rank", np.arange(1, len(sites) + 1))
    sites.insert(1, "site_id", list(chosen_fp["site_id"]))
    sites["gain_weight"] = gains_w
    sites["gain_m2"] = gains_m2
    sites = gpd.GeoDataFrame(sites, geometry="geometry", crs=mcrs)
    fp_out = gpd.GeoDataFrame(
        {"rank": sites["rank"].to_numpy(), "site_id": sites["site_id"].to_numpy(), "gain_m2": gains_m2},
        geometry=np.asarray(chosen_fp.geometry.values, dtype=object),
        crs=mcrs,
        index=sites.index,
    )
    # before/after with the coverage engine itself
    if len(new_models):
        as_active = new_models.copy()
        as_active["status"] = "active"
        base = models if len(models) else new_models.iloc[[]].to_crs(4326)
        after_models = _with_models(base, to_wgs84(as_active))
        after = compute_coverage(units, after_models, **kw).units
    else:
        after = before
    stats = {
        "n_candidates": int(len(sites_m)),
        "n_footprints": int(len(fps)),
        "n_demand_points": n_demand,
        "n_demand_open": n_open,
        "demand": "area pieces (exact m²)" if demand is None else f"layer, lattice {dem_spacing:g} m",
        "candidate_spacing_m": float(cand_spacing) if candidates is None else None,
        "count": int(n),
        "reduced_rows": res["n_rows"],
        "reduced_nnz": res["nnz"],
        "bound": res.get("bound"),
        "proven_by_bound": bool(res.get("proven_by_bound", False)),
        "prepare_seconds": t_prep,
        "solve_seconds": res["seconds"],
        "total_seconds": time.perf_counter() - t_start,
        "metric_crs": mcrs.to_string(),
    }
    return PlanResult(
        sites=to_wgs84(sites),
        footprints=to_wgs84(fp_out),
        models=to_wgs84(new_models),
        before=before,
        after=after,
        objective=float(res["objective"]),
        solver=res["solver"],
        optimal=bool(res["optimal"]),
        greedy_objective=res["greedy_objective"],
        gap_to_optimum=res["gap_to_optimum"],
        stats=stats,
    )


# --------------------------------------------------------------------------------------------
# ranking


def weighted_coverage(units_m: gpd.GeoDataFrame, geoms, weights: np.ndarray, covered) -> tuple[pd.Series, pd.Series]:
    """Demand weight of each unit and the part of it that is covered, exactly.

    A point gives its weight to the unit holding it (covered when a footprint holds it); a line
    spreads its weight along its length and a polygon over its area, so a unit gets
    ``weight × measure(feature ∩ unit) / measure(feature)`` and the covered part the same with
    ``feature ∩ unit ∩ covered``.

    Parameters
    ----------
    units_m
        Unit polygons in a metric CRS, index = unit code.
    geoms, weights
        Demand geometries (same CRS) and their weights.
    covered
        The covered area (one geometry, same CRS).

    Returns
    -------
    (pandas.Series, pandas.Series)
        Total and covered weight per unit code (units without demand are absent).
    """
    g = np.asarray(geoms, dtype=object)
    w = np.asarray(weights, dtype=float)
    ok = ~(shapely.is_missing(g) | shapely.is_empty(g))
    g, w = g[ok], w[ok]
    ug = np.asarray(units_m.geometry.values, dtype=object)
    codes = np.asarray(units_m.index.astype(str))
    tree = shapely.STRtree(ug)
    di, ui = tree.query(g, predicate="intersects")
    if len(di) == 0:
        empty = pd.Series(dtype=float)
        return empty, empty
    dim = shapely.get_dimensions(g)
    shapely.prepare(covered)

    def measure(x, d):
        n_points = np.where(shapely.is_empty(x), 0.0, shapely.get_num_geometries(x).astype(float))
        return np.where(d == 2, shapely.area(x), np.where(d == 1, shapely.length(x), n_points))

    feat = g[di]
    d = dim[di]
    whole = measure(feat, d)
    part = shapely.intersection(feat, ug[ui])
    # points on a shared border go to one unit only
    if (d == 0).any():
        first = np.zeros(len(di), dtype=bool)
        _, first_pos = np.unique(di, return_index=True)
        first[first_pos] = True
        part = np.where((d == 0) & ~first, shapely.Point(), part)
    share = np.where(whole > 0, measure(part, d) / np.where(whole > 0, whole, 1.0), 0.0)
    cov_part = shapely.intersection(part, covered)
    cov_share = np.where(whole > 0, measure(cov_part, d) / np.where(whole > 0, whole, 1.0), 0.0)
    tot = pd.Series(w[di] * share).groupby(codes[ui]).sum()
    cov = pd.Series(w[di] * cov_share).groupby(codes[ui]).sum()
    return tot, cov


def _rank_by_street(out: pd.DataFrame, *, threshold_pct: float, kind: str | None) -> pd.DataFrame:
    """:func:`rank_uncovered` by metres of road (``out`` is a copy, changed in place)."""
    col = "road_covered_m" if kind is None else f"road_covered_m_{kind}"
    if "road_m" not in out.columns:
        raise GeoAnttError("no street figures (column road_m missing): compute the coverage with roads")
    if col not in out.columns:
        raise GeoAnttError(f"no street figures for kind {kind!r} (column {col} missing)")
    road = out["road_m"].to_numpy(dtype=float)
    covered = np.minimum(out[col].to_numpy(dtype=float), road)
    pct = np.where(road > 0, 100.0 * covered / np.where(road > 0, road, 1.0), 100.0)
    out["kind_covered_pct"] = pct
    out["demand_weight"] = road
    out["weighted_covered_pct"] = pct
    out["uncovered_need"] = np.maximum(road - covered, 0.0)
    out["uncovered"] = pct < float(threshold_pct)
    order = np.lexsort((-out["uncovered_need"].to_numpy(), pct))  # stable: ties keep their order
    out = out.iloc[order]
    out["need_rank"] = np.arange(1, len(out) + 1)
    return out


def rank_uncovered(
    coverage_units: pd.DataFrame,
    *,
    demand: gpd.GeoDataFrame | None = None,
    weight_column: str | None = None,
    threshold_pct: float = 50.0,
    kind: str | None = None,
    footprints: gpd.GeoDataFrame | None = None,
    units: gpd.GeoDataFrame | None = None,
    demand_name: str = "demand",
    by: str | None = None,
) -> pd.DataFrame:
    """Rank units by uncovered need.

    Parameters
    ----------
    coverage_units
        Per-unit coverage (``CoverageResult.units``): ``area_m2``, ``covered_m2``,
        ``covered_pct`` and per kind ``covered_m2_<kind>``; with a geometry when ``demand`` is
        given and ``units`` is not.
    demand, weight_column
        Optional demand layer (points, lines or polygons) and the numeric column weighting it
        (households, population, road length, incidents). Without it area is the measure.
    threshold_pct
        A unit is ``uncovered`` when its (weighted) covered share is below this percentage.
    kind
        Judge coverage by this kind only (``covered_m2_<kind>``; footprints of that kind);
        default all kinds.
    footprints
        Footprints of the active models (``CoverageResult.footprints``, with a ``kind`` column
        when ``kind`` is given), needed with ``demand``.
    units
        Unit polygons when ``coverage_units`` has no geometry.
    by
        The measure without a demand layer: ``"area"`` (covered m²) or ``"street"`` (covered
        metres of road: ``road_m``, ``road_covered_m`` and ``road_covered_m_<kind>`` of a
        coverage computed with roads). Default: ``"street"`` when ``coverage_units`` has
        ``road_m``, else ``"area"``; a demand layer is its own measure.

    Returns
    -------
    pandas.DataFrame
        ``coverage_units`` plus ``kind_covered_pct`` (the share judged), ``weighted_covered_pct``,
        ``demand_weight``, ``uncovered_need`` (uncovered m², uncovered metres of road or
        uncovered demand weight), ``uncovered`` (bool) and ``need_rank`` (1 = most need).
        By area or demand: sorted by uncovered first, then need. By street: least covered
        share of road first (a unit without roads counts as covered: 100 %), then most
        uncovered metres of road.
    """
    out = pd.DataFrame(coverage_units).copy()
    if "area_m2" not in out.columns:
        raise GeoAnttError("coverage_units lacks 'area_m2': pass CoverageResult.units")
    if by not in (None, "area", "street"):
        raise GeoAnttError(f"by must be 'area' or 'street', got {by!r}")
    if by == "street" or (by is None and demand is None and "road_m" in out.columns):
        if demand is not None:
            raise GeoAnttError("rank either by a demand layer or by street (by='street'), not both")
        return _rank_by_street(out, threshold_pct=threshold_pct, kind=kind)
    if kind is not None:
        col = f"covered_m2_{kind}"
        if col not in out.columns:
            raise GeoAnttError(f"no coverage figures for kind {kind!r} (column {col} missing)")
        covered_m2 = out[col].astype(float)
    else:
        covered_m2 = out["covered_m2"].astype(float)
    area = out["area_m2"].astype(float)
    pct = np.where(area > 0, 100.0 * covered_m2 / area.where(area > 0, 1.0), 0.0)
    out["kind_covered_pct"] = pct
    if demand is None:
        out["demand_weight"] = area
        out["weighted_covered_pct"] = pct
        out["uncovered_need"] = (area - covered_m2).clip(lower=0.0)
    else:
        geo_units = units if units is not None else coverage_units
        if not isinstance(geo_units, gpd.GeoDataFrame):
            raise GeoAnttError("a demand layer needs the unit polygons: pass units=")
        fp = footprints
        if fp is None:
            raise GeoAnttError("a demand layer needs the footprints of the active models: pass footprints=")
        if kind is not None and "kind" in fp.columns:
            fp = fp.loc[fp["kind"] == kind]
        units_m = _polygonal_units(to_metric(gpd.GeoDataFrame(geo_units, geometry=geo_units.geometry.name, crs=geo_units.crs)))
        fp_m = to_metric(fp, crs=units_m.crs) if len(fp) else fp
        cov_geom = shapely.union_all(np.asarray(fp_m.geometry.values, dtype=object)) if len(fp) else shapely.Polygon()
        dem_m = _as_metric(demand, units_m.crs, what=demand_name)
        w = _weights_from_column(dem_m, weight_column, file=demand_name)
        tot, cov = weighted_coverage(units_m, dem_m.geometry.values, w, cov_geom)
        idx = out.index.astype(str)
        tot_u = tot.reindex(idx).fillna(0.0).to_numpy()
        cov_u = cov.reindex(idx).fillna(0.0).to_numpy()
        wpct = np.where(tot_u > 0, 100.0 * cov_u / np.where(tot_u > 0, tot_u, 1.0), 100.0)
        out["demand_weight"] = tot_u
        out["weighted_covered_pct"] = wpct
        out["uncovered_need"] = tot_u - cov_u
    out["uncovered"] = out["weighted_covered_pct"] < float(threshold_pct)
    out = out.sort_values(["uncovered", "uncovered_need"], ascending=[False, False], kind="stable")
    out["need_rank"] = np.arange(1, len(out) + 1)
    return out
