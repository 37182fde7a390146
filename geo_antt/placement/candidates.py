"""Candidate sites of new models, their footprints, the coverage matrix and the arrangement of area pieces."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from .._errors import GeoAnttError, Problem, ValidationError
from ..crs import to_metric
from ..layers import LayerSpec, bound_problem, resolve_kind
from ._helpers import (
    ARRANGEMENT_GRID_M,
    DEFAULT_N_DIRECTIONS,
    _as_metric,
    _disc_polygons,
    _lattice_cells,
    _polygonal_units,
    _sector_polygons,
)

if TYPE_CHECKING:  # scipy is imported where it is used
    from scipy import sparse

__all__ = ["candidate_sites", "candidate_footprints", "coverage_matrix", "area_pieces"]


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
        polys = _disc_polygons(
            x, y, np.full(len(x), params["radius_m"], dtype=float), segments_per_quarter=segments_per_quarter
        )
        ds = np.full(len(x), np.nan)
        sid = site_ids
    return gpd.GeoDataFrame(
        {"site_id": sid, "direction_deg": ds},
        geometry=np.asarray(polys, dtype=object),
        crs=sites.crs,
    )


def coverage_matrix(demand: gpd.GeoDataFrame, footprints: gpd.GeoDataFrame) -> sparse.csr_matrix:
    """Boolean sparse matrix (demand points × footprints): True where the footprint covers the
    point (boundary included).
    """
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


def _translation_keys(
    fp: np.ndarray, order: np.ndarray, starts: np.ndarray, ends: np.ndarray, which: np.ndarray
) -> dict[int, bytes]:
    """For each component flagged in ``which``: a key equal for components that are the same
    footprints translated (coordinates relative to the component's first vertex, to 1 µm).
    """
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
    covers which piece, footprints numbered by their position in ``geoms``.
    """
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
    a = sparse.csr_matrix((np.ones(len(r), dtype=bool), (r, np.concatenate(cols))), shape=(n_rows, n), dtype=bool)
    return np.concatenate(weights), a
