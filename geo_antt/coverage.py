"""Coverage of administrative units by the footprints of active security models, and the gaps.

The computation follows the fast path measured in DESIGN.md:

1. all footprints are built at once from coordinate arrays (:mod:`geo_antt.footprints`);
2. overlapping footprints are merged only where they overlap: an STRtree self-query gives the
   overlap graph, scipy's connected components group it, and each group of more than one
   footprint is unioned (most footprints stand alone) — so the resulting *pieces* are pairwise
   disjoint and overlapping footprints count once;
3. a unit's covered area is the sum of the areas of the pieces lying wholly inside it
   (``contains_properly`` on the prepared unit) plus the intersection areas of the few pieces
   that cross its border; a piece crossing a border counts for each unit it covers;
4. the gaps of a unit are the unit minus the (valid, disjoint) multipolygon of its pieces;
5. with a road layer, the roads are clipped to the units once (STRtree, ``contains_properly`` on
   the prepared units, an intersection only for the roads crossing a border), and each unit's
   stretches of road are intersected with the same disjoint pieces: covered metres add up over
   the pieces, and the uncovered stretches are the stretches minus their pieces;
6. with a building layer, the footprints of the kinds their layer file declares ``occluded``
   are replaced by their visible footprints (:mod:`geo_antt.visibility`) before step 2, every
   footprint loses the area inside buildings, and the gaps are the units minus the disjoint
   union of the pieces and the buildings (step 4 on that union): area
   inside a building is never covered, and ``open_m2`` (the unit outside buildings) and
   ``covered_open_pct`` join the figures.

Geometry work runs in shapely's vectorised functions, split over the machine's cores with
threads (shapely releases the GIL); there is no Python loop over models x units.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from ._errors import CRSError, GeoAnttError, Problem, ValidationError
from ._threads import threaded as _threaded
from .config import DEFAULT_SETTINGS, Settings
from .crs import metric_crs_for, project, to_wgs84
from .footprints import footprints as build_footprints
from .layers import LayerSpec, load_layer_specs, spatial_kinds
from .schema import COUNTING_STATUSES, UNIT_LEVELS
from .terrain import ElevationSource, terrain_footprints
from .visibility import visible_footprints

__all__ = [
    "CoverageResult",
    "compute_coverage",
    "dissolve_overlaps",
    "covered_area",
    "unit_gaps",
    "choose_level",
    "building_pieces",
    "occluded_footprints",
    "terrain_occluded_footprints",
    "model_heights",
]


class CoverageResult:
    """What :func:`compute_coverage` returns. Frames are in EPSG:4326 (converted on first use).

    Attributes
    ----------
    units
        One row per unit of the chosen level, index = unit code: ``unit_code, unit_name, level,
        parent_code, approximate, area_m2, covered_m2, covered_pct, uncovered_m2,
        covered_m2_<kind>, covered_pct_<kind>`` (each spatial kind), ``n_<kind>`` (active models
        of each kind located in the unit), ``n_models``, ``n_inactive``, ``rank`` (1 = least
        covered, by area) and the unit polygon. With roads also ``road_m``, ``road_covered_m``,
        ``road_covered_pct``, ``road_uncovered_m``, ``road_covered_m_<kind>`` and
        ``road_covered_pct_<kind>`` (metres of road; the shares are NaN for a unit without roads).
        With buildings also ``building_m2`` (area inside buildings), ``open_m2`` (``area_m2``
        minus it) and ``covered_open_pct`` (``covered_m2`` in percent of ``open_m2``; NaN for a
        unit that is all buildings); ``covered_m2`` then never includes a building's interior.
    gaps
        The uncovered parts of every unit as polygons (one row per part of at least
        ``min_gap_area_m2``), index = ``gap_id``: ``gap_id, unit_code, unit_name, level,
        parent_code, area_m2``.
    street_gaps
        The uncovered stretches of road of every unit (lines; one row per stretch of at least
        ``min_street_gap_m``; empty without roads), index = ``gap_id``: ``gap_id, unit_code,
        unit_name, level, parent_code, road_id, name, highway, length_m``.
    footprints
        The footprint of every counted model, index = model id: ``kind, name, status, area_m2``
        (with buildings: the visible footprint, outside buildings; None for a model that sees
        nothing, e.g. a camera facing the wall it hangs on).
    level
        The level the figures are for.
    metric_crs
        The CRS the areas were computed in (metres).
    timings
        Seconds spent per stage (footprints, visibility, dissolve, coverage, gaps, streets,
        counts).
    model_units
        The unit each counted model was counted in (index = model id, values = unit code; a
        model in no unit is absent): what ``n_<kind>``, ``n_models`` and ``n_inactive`` add up.
    """

    def __init__(
        self,
        *,
        units: gpd.GeoDataFrame,
        gaps_m: gpd.GeoDataFrame,
        footprints_m: gpd.GeoDataFrame,
        level: str,
        metric_crs: CRS,
        timings: dict[str, float],
        street_gaps_m: gpd.GeoDataFrame | None = None,
        model_units: pd.Series | None = None,
    ) -> None:
        self.units = units
        self.level = level
        self.metric_crs = metric_crs
        self.timings = timings
        self.gaps_metric = gaps_m
        self.footprints_metric = footprints_m
        self.street_gaps_metric = street_gaps_m if street_gaps_m is not None else _empty_street_gaps(metric_crs)
        self.model_units = model_units if model_units is not None else pd.Series([], dtype=object, name="unit_code")

    @cached_property
    def gaps(self) -> gpd.GeoDataFrame:
        """The uncovered parts of every unit, in WGS 84 (see ``gaps_metric`` for metres)."""
        return _valid_wgs84(self.gaps_metric)

    @cached_property
    def street_gaps(self) -> gpd.GeoDataFrame:
        """The uncovered stretches of road, in WGS 84 (see ``street_gaps_metric``)."""
        return to_wgs84(self.street_gaps_metric)

    @cached_property
    def footprints(self) -> gpd.GeoDataFrame:
        """The active models' footprints, in WGS 84 (see ``footprints_metric``)."""
        return _valid_wgs84(self.footprints_metric)

    def __repr__(self) -> str:
        """Level and counts, for a console."""
        return f"<CoverageResult level={self.level} units={len(self.units)} gaps={len(self.gaps_metric)} footprints={len(self.footprints_metric)}>"


def _valid_wgs84(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """To EPSG:4326, repairing the rare polygon that reprojection makes self-touching."""
    return to_wgs84(gdf, make_valid=True)


def _overlap_pairs(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (i < j) of geometries that intersect: STRtree bounding-box query, then the
    exact predicate on the candidate pairs only, over the cores.
    """
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms)
    keep = left < right
    left, right = left[keep], right[keep]
    hit = _threaded(shapely.intersects, geoms[left], geoms[right])
    return left[hit], right[hit]


def _union_groups(geoms: np.ndarray, order: np.ndarray, group_of: np.ndarray, n_groups: int) -> np.ndarray:
    """Union of each group of polygons (``order`` sorted by ``group_of``), vectorised.

    A multipolygon of a group's overlapping members is made and buffered by 0, which GEOS
    resolves into their union in one vectorised call (faster than a union_all per group). The
    result is checked (:func:`_checked_unions`).
    """
    parts, src = shapely.get_parts(geoms[order], return_index=True)  # members may be multipolygons
    mp = shapely.multipolygons(parts, indices=group_of[src])
    out = _threaded(shapely.buffer, mp, np.zeros(len(mp)), min_chunk=64)
    return _checked_unions(out, geoms, order, group_of, n_groups)


def _checked_unions(
    out: np.ndarray, geoms: np.ndarray, order: np.ndarray, group_of: np.ndarray, n_groups: int
) -> np.ndarray:
    """``out`` (the union of each group of ``geoms[order]``, groups ``group_of``), checked: its
    area must lie between the largest member's and the sum of the members' and it must be
    valid; a group that fails is unioned with union_all instead (in place).
    """
    area = shapely.area(geoms[order])
    hi = np.bincount(group_of, weights=area, minlength=n_groups)
    lo = np.zeros(n_groups)
    np.maximum.at(lo, group_of, area)
    ua = shapely.area(out)
    bad = np.flatnonzero(
        (ua < lo * (1 - 1e-9)) | (ua > hi * (1 + 1e-9)) | ~_threaded(shapely.is_valid, out, min_chunk=64)
    )
    for gi in bad:  # pragma: no cover - a safety net (buffer(0) of walls along edges may add slivers)
        out[gi] = shapely.union_all(geoms[order[group_of == gi]])
    return out


def dissolve_overlaps(geoms: np.ndarray, *, return_index: bool = False):
    """Merge overlapping polygons into pairwise-disjoint pieces.

    Polygons that intersect (directly or through a chain) are unioned together; the others are
    returned as they are. The pieces do not even touch, so their areas add up and a
    multipolygon of any of them is valid.

    Parameters
    ----------
    geoms
        Array of polygons (any CRS; the operation is planar).
    return_index
        Also return, for every input polygon, the index of the piece that holds it.

    Returns
    -------
    numpy.ndarray or (numpy.ndarray, numpy.ndarray)
        Pieces (Polygons/MultiPolygons, pairwise disjoint); with ``return_index`` also the
        piece index of each input.
    """
    geoms = np.asarray(geoms, dtype=object)
    n = len(geoms)
    if n == 0:
        return (geoms, np.array([], dtype=np.int64)) if return_index else geoms
    left, right = _overlap_pairs(geoms)
    return _merge_pairs(geoms, left, right, return_index=return_index)


def _merge_pairs(geoms: np.ndarray, left: np.ndarray, right: np.ndarray, *, return_index: bool = False):
    """:func:`dissolve_overlaps` given the pairs of ``geoms`` that intersect."""
    n = len(geoms)
    graph = coo_matrix((np.ones(len(left), dtype=np.int8), (left, right)), shape=(n, n))
    ncomp, label = connected_components(graph, directed=False)
    sizes = np.bincount(label, minlength=ncomp)
    alone = sizes[label] == 1
    # pieces: the lone polygons first, then one union per group, in label order
    piece_of = np.empty(n, dtype=np.int64)
    lone = np.flatnonzero(alone)
    piece_of[lone] = np.arange(len(lone))
    multi = np.flatnonzero(~alone)
    parts = [geoms[lone]]
    if multi.size:
        order = multi[np.argsort(label[multi], kind="stable")]
        group_labels, group_of = np.unique(label[order], return_inverse=True)
        parts.append(_union_groups(geoms, order, group_of, len(group_labels)))
        piece_of[order] = len(lone) + group_of
    pieces = np.concatenate(parts)
    return (pieces, piece_of) if return_index else pieces


@dataclass(frozen=True)
class _Pairs:
    """Units x disjoint pieces that intersect; ``inside``: the piece lies in the unit's interior."""

    unit: np.ndarray
    piece: np.ndarray
    inside: np.ndarray


@dataclass(frozen=True)
class _UnitEdges:
    """The boundary segments of some units (every ring of every part), in an STRtree."""

    x0: np.ndarray
    y0: np.ndarray
    x1: np.ndarray
    y1: np.ndarray
    unit: np.ndarray  # the unit of each segment
    tree: shapely.STRtree


def _unit_edges(unit_geoms: np.ndarray) -> _UnitEdges:
    parts, part_of = shapely.get_parts(unit_geoms, return_index=True)
    rings, ring_of = shapely.get_rings(parts, return_index=True)
    coords, vertex_of = shapely.get_coordinates(rings, return_index=True)
    k = np.flatnonzero(vertex_of[:-1] == vertex_of[1:])  # consecutive vertices of one ring
    a, b = coords[k], coords[k + 1]
    tree = shapely.STRtree(shapely.linestrings(np.stack([a, b], axis=1)))
    return _UnitEdges(a[:, 0], a[:, 1], b[:, 0], b[:, 1], part_of[ring_of[vertex_of[k]]], tree)


def _near_border(u: np.ndarray, p: np.ndarray, pieces: np.ndarray, edges: _UnitEdges) -> np.ndarray:
    """For each pair (unit ``u``, piece ``p``): may the piece meet the unit's boundary? False
    only where every boundary segment of the unit whose box meets the piece's box leaves that
    box strictly on one side of its line (with a margin far above the rounding of the cross
    products), so the piece cannot meet the boundary; True (maybe) otherwise.
    """
    p_of, s = edges.tree.query(pieces)  # segment boxes meeting piece boxes
    pb = shapely.bounds(pieces)[p_of]
    x0, y0 = edges.x0[s], edges.y0[s]
    dx, dy = edges.x1[s] - x0, edges.y1[s] - y0
    side = np.empty((len(s), 4))
    for c, (ix, iy) in enumerate(((0, 1), (2, 1), (2, 3), (0, 3))):  # the four corners of the box
        side[:, c] = dx * (pb[:, iy] - y0) - dy * (pb[:, ix] - x0)
    reach = np.abs(pb - np.column_stack([x0, y0, x0, y0])).max(axis=1) + np.abs(dx) + np.abs(dy)
    tol = 1e-9 * (np.abs(dx) + np.abs(dy)) * reach
    apart = (side > tol[:, None]).all(axis=1) | (side < -tol[:, None]).all(axis=1)
    n = np.int64(len(pieces))
    near = np.unique(edges.unit[s[~apart]].astype(np.int64) * n + p_of[~apart])
    return np.isin(u.astype(np.int64) * n + p, near)


def _unit_piece_pairs(
    unit_geoms: np.ndarray,
    pieces: np.ndarray,
    *,
    edges: _UnitEdges | None = None,
    tree: shapely.STRtree | None = None,
) -> _Pairs:
    """Every (unit, piece) pair that intersects, and whether the piece lies in the unit's
    interior (``contains_properly``).

    A polygon piece that cannot meet the unit's boundary (:func:`_near_border`: most pieces,
    far from any border) is wholly inside or wholly outside the unit, as one of its vertices
    is: one point-in-polygon test (``intersects_xy``, prepared unit) decides both. The other
    pairs (near a border, multipolygon pieces) take ``contains_properly`` and ``intersects``.
    ``edges``: :func:`_unit_edges` of ``unit_geoms``, when the caller pairs them more than once;
    ``tree``: an STRtree of ``pieces`` the caller has.
    """
    if len(pieces) == 0 or len(unit_geoms) == 0:
        e = np.array([], dtype=np.int64)
        return _Pairs(e, e, np.array([], dtype=bool))
    u, p = (tree if tree is not None else shapely.STRtree(pieces)).query(unit_geoms)
    edges = edges if edges is not None else _unit_edges(unit_geoms)
    fast = (shapely.get_type_id(pieces) == 3)[p] & ~_near_border(u, p, pieces, edges)
    coords, owner = shapely.get_coordinates(pieces, return_index=True)
    first = np.minimum(np.searchsorted(owner, np.arange(len(pieces))), max(len(coords) - 1, 0))
    inside = np.zeros(len(u), dtype=bool)
    hit = np.zeros(len(u), dtype=bool)
    shapely.prepare(unit_geoms)
    try:
        f = np.flatnonzero(fast)
        at = coords[first[p[f]]]
        inside[f] = hit[f] = _threaded(shapely.intersects_xy, unit_geoms[u[f]], at[:, 0], at[:, 1], keys=u[f])
        slow = np.flatnonzero(~fast)
        # only a piece whose box lies inside the unit's box can lie inside the unit
        ub, pb = shapely.bounds(unit_geoms[u[slow]]), shapely.bounds(pieces[p[slow]])
        boxed = (pb[:, 0] > ub[:, 0]) & (pb[:, 1] > ub[:, 1]) & (pb[:, 2] < ub[:, 2]) & (pb[:, 3] < ub[:, 3])
        cand = slow[boxed]
        inside[cand] = _threaded(shapely.contains_properly, unit_geoms[u[cand]], pieces[p[cand]], keys=u[cand])
        rest = slow[~inside[slow]]
        hit[slow] = inside[slow]
        hit[rest] = _threaded(shapely.intersects, unit_geoms[u[rest]], pieces[p[rest]], keys=u[rest])
    finally:
        shapely.destroy_prepared(unit_geoms)
    return _Pairs(u[hit], p[hit], inside[hit])


def covered_area(unit_geoms: np.ndarray, pieces: np.ndarray, *, pairs: _Pairs | None = None) -> np.ndarray:
    """Area (in the CRS's square units, m² in a metric CRS) of each unit covered by ``pieces``.

    ``pieces`` must be pairwise disjoint (see :func:`dissolve_overlaps`). A piece wholly inside a
    unit counts by its own area; only the pieces crossing a unit's border are intersected.
    """
    unit_geoms = np.asarray(unit_geoms, dtype=object)
    pr = pairs or _unit_piece_pairs(unit_geoms, pieces)
    area = np.zeros(len(unit_geoms))
    if len(pr.unit) == 0:
        return area
    np.add.at(area, pr.unit[pr.inside], shapely.area(pieces[pr.piece[pr.inside]]))
    cross = ~pr.inside
    if cross.any():
        inter = _threaded(shapely.intersection, unit_geoms[pr.unit[cross]], pieces[pr.piece[cross]])
        np.add.at(area, pr.unit[cross], shapely.area(inter))
    return area


def _kind_pieces(
    geoms: np.ndarray, kinds: np.ndarray, piece_of: np.ndarray, pieces: np.ndarray, kind: str
) -> tuple[np.ndarray, np.ndarray]:
    """The union of one kind's footprints inside each disjoint piece that holds any of them:
    ``(sub-pieces, index of the piece holding each)``. A piece made of that kind alone is its
    own sub-piece; only pieces where kinds mix need a union of the kind's members.
    """
    idx = np.flatnonzero(kinds == kind)
    if idx.size == 0:
        return np.array([], dtype=object), np.array([], dtype=np.int64)
    n_total = np.bincount(piece_of, minlength=len(pieces))
    n_kind = np.bincount(piece_of[idx], minlength=len(pieces))
    holder = np.flatnonzero(n_kind > 0)
    sub = pieces[holder].copy()
    mixed = n_kind[holder] < n_total[holder]
    if mixed.any():
        mixed_pieces = holder[mixed]
        members = idx[np.isin(piece_of[idx], mixed_pieces)]
        order = members[np.argsort(piece_of[members], kind="stable")]
        group_of = np.searchsorted(mixed_pieces, piece_of[order])
        lone = np.bincount(group_of, minlength=len(mixed_pieces)) == 1
        unions = np.empty(len(mixed_pieces), dtype=object)
        first = np.searchsorted(group_of, np.arange(len(mixed_pieces)))
        unions[lone] = geoms[order[first[lone]]]
        if (~lone).any():
            keep = ~lone[group_of]
            grp = np.flatnonzero(~lone)
            unions[grp] = _union_groups(geoms, order[keep], np.searchsorted(grp, group_of[keep]), len(grp))
        sub[mixed] = unions
    return sub, holder


def _covered_area_of_subpieces(
    unit_geoms: np.ndarray, sub: np.ndarray, sub_piece: np.ndarray, pairs: _Pairs, n_pieces: int
) -> np.ndarray:
    """Covered area per unit of disjoint ``sub`` polygons, each lying in piece ``sub_piece`` of
    an already-paired set of pieces (e.g. one kind's pieces inside the all-kinds pieces): a
    piece inside a unit brings all its sub-polygons' area; only sub-polygons of crossing pieces
    are intersected.
    """
    area = np.zeros(len(unit_geoms))
    if len(sub) == 0 or len(pairs.unit) == 0:
        return area
    sub_area = shapely.area(sub)
    per_piece = np.bincount(sub_piece, weights=sub_area, minlength=n_pieces)
    np.add.at(area, pairs.unit[pairs.inside], per_piece[pairs.piece[pairs.inside]])
    cross = np.flatnonzero(~pairs.inside)
    if cross.size:
        order = np.argsort(sub_piece, kind="stable")
        start = np.searchsorted(sub_piece[order], pairs.piece[cross], side="left")
        stop = np.searchsorted(sub_piece[order], pairs.piece[cross], side="right")
        cnt = stop - start
        rep_unit = np.repeat(pairs.unit[cross], cnt)
        idx = (
            order[np.concatenate([np.arange(a, b) for a, b in zip(start, stop)])]
            if cnt.sum()
            else np.array([], dtype=np.int64)
        )
        if idx.size:
            inter = _threaded(shapely.intersection, unit_geoms[rep_unit], sub[idx])
            np.add.at(area, rep_unit, shapely.area(inter))
    return area


def unit_gaps(unit_geoms: np.ndarray, pieces: np.ndarray, *, pairs: _Pairs | None = None) -> np.ndarray:
    """Each unit minus the disjoint ``pieces``: the uncovered part of every unit (may be empty).

    The pieces crossing a unit's border (and any non-simple piece) go through one difference
    with the plain unit; the pieces lying in the unit's interior then become holes of the part
    of the result that holds them, with no overlay at all.
    """
    unit_geoms = np.asarray(unit_geoms, dtype=object)
    pr = pairs or _unit_piece_pairs(unit_geoms, pieces)
    gaps = unit_geoms.copy()
    if len(pr.unit) == 0:
        return gaps
    pg = pieces[pr.piece]
    # simple: a polygon without holes (each piece once, whatever the units it meets)
    simple = ((shapely.get_type_id(pieces) == 3) & (shapely.get_num_interior_rings(pieces) == 0))[pr.piece]
    as_hole = pr.inside & simple
    _subtract(gaps, pr.unit[~as_hole], pg[~as_hole])
    if not as_hole.any():
        return gaps
    hole_unit, holes = pr.unit[as_hole], pg[as_hole]
    targets = np.unique(hole_unit)
    parts, part_src = shapely.get_parts(gaps[targets], return_index=True)
    keep = shapely.get_type_id(parts) == 3
    parts, part_src = parts[keep], part_src[keep]
    hole_rings = shapely.get_exterior_ring(holes)
    n_parts = np.bincount(part_src, minlength=len(targets))
    # a hole of a unit whose gap is one polygon lies in that polygon: it is inside the unit,
    # disjoint from every other piece, and a piece enclosing it would have split the gap
    # into parts; only the holes of units with several parts look for theirs (by a point)
    first_part = np.full(len(targets), -1, dtype=np.int64)
    first_part[part_src[::-1]] = np.arange(len(parts))[::-1]
    t_of_hole = np.searchsorted(targets, hole_unit)
    direct = n_parts[t_of_hole] == 1
    a_direct = np.flatnonzero(direct)
    p_direct = first_part[t_of_hole[a_direct]]
    look = np.flatnonzero(~direct)
    a_idx, p_idx = np.array([], dtype=np.int64), np.array([], dtype=np.int64)
    if look.size:
        # the first vertex of each hole: from the coordinates at once, no point per ring
        coords, owner = shapely.get_coordinates(hole_rings[look], return_index=True)
        anchor = shapely.points(coords[np.searchsorted(owner, np.arange(len(look)))])
        # the parts (prepared) hold the anchors: a tree of the anchors queried with the parts,
        # pairs listed by anchor as a query of the anchors would list them
        p_idx, a_idx = shapely.STRtree(anchor).query(parts, predicate="contains")
        by_anchor = np.lexsort((p_idx, a_idx))
        a_idx, p_idx = look[a_idx[by_anchor]], p_idx[by_anchor]
        # each hole sits in exactly one part of its own unit; anything else takes the overlay path
        own = targets[part_src[p_idx]] == hole_unit[a_idx]
        a_idx, p_idx = a_idx[own], p_idx[own]
    a_idx, p_idx = np.concatenate([a_direct, a_idx]), np.concatenate([p_direct, p_idx])
    found = np.zeros(len(holes), dtype=bool)
    found[a_idx] = True
    rings, ring_src = shapely.get_rings(parts, return_index=True)
    all_rings = np.concatenate([rings, hole_rings[a_idx]])
    key = np.concatenate([ring_src * 2, p_idx * 2 + 1])  # a part's own rings first, then its holes
    order = np.argsort(key, kind="stable")
    new_parts = shapely.polygons(all_rings[order], indices=key[order] // 2)
    single = n_parts == 1
    first = np.concatenate([[0], np.cumsum(n_parts)[:-1]])
    gaps[targets[single]] = new_parts[first[single]]
    if (~single).any():
        sel = np.isin(part_src, np.flatnonzero(~single))
        grouped = shapely.multipolygons(new_parts[sel], indices=np.searchsorted(np.flatnonzero(~single), part_src[sel]))
        gaps[targets[~single]] = grouped
    if not found.all():  # pragma: no cover - precision corner cases
        _subtract(gaps, hole_unit[~found], holes[~found])
    return gaps


def _subtract(gaps: np.ndarray, unit_idx: np.ndarray, polys: np.ndarray) -> None:
    """In place: ``gaps[u] -= union of polys of u`` for every unit index in ``unit_idx``."""
    if len(unit_idx) == 0:
        return
    parts, src = shapely.get_parts(polys, return_index=True)
    owner = unit_idx[src]
    order = np.argsort(owner, kind="stable")
    owners = np.unique(owner)
    mp = shapely.multipolygons(parts[order], indices=np.searchsorted(owners, owner[order]))
    gaps[owners] = _threaded(shapely.difference, gaps[owners], mp)


# --------------------------------------------------------------------------------------------
# streets: metres of road inside each unit and inside the footprints

_LINE_TYPES = (1, 2, 5)  # LineString, LinearRing, MultiLineString
_STREET_GAP_COLUMNS = (
    "gap_id",
    "unit_code",
    "unit_name",
    "level",
    "parent_code",
    "road_id",
    "name",
    "highway",
    "length_m",
)


def _empty_street_gaps(crs: CRS | None) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {c: [] for c in _STREET_GAP_COLUMNS}, geometry=gpd.GeoSeries([], crs=crs), crs=crs
    ).set_index("gap_id", drop=False)


def _text_values(frame: pd.DataFrame, column: str) -> np.ndarray:
    """A column as an object array of text, None where missing (an absent column: all None)."""
    if column not in frame.columns:
        return np.full(len(frame), None, dtype=object)
    vals = frame[column].to_numpy(dtype=object)
    out = np.full(len(vals), None, dtype=object)
    for i, v in enumerate(vals):
        if v is None or v is pd.NA or (isinstance(v, (float, np.floating)) and np.isnan(v)):
            continue
        if isinstance(v, (float, np.floating)) and float(v).is_integer():
            v = int(v)  # an id read as a float column (missing values): 12.0 -> "12"
        out[i] = str(v)
    return out


def _road_lines(roads: gpd.GeoDataFrame, crs: CRS) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The roads that have a geometry, as metric lines, and their ``road_id``, ``name`` and
    ``highway`` (``road_id``: the ``osm_id`` column, else the ``id`` column, else the index).
    """
    if not isinstance(roads, gpd.GeoDataFrame):
        msg = f"'roads' should be a GeoDataFrame, got {type(roads).__name__}"
        raise TypeError(msg)
    if roads.crs is None:
        raise CRSError("roads have no CRS: say which one they are in (e.g. EPSG:4326)")
    geoms = np.asarray(roads.geometry.to_numpy(), dtype=object)
    has = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    tid = shapely.get_type_id(geoms)
    bad = np.flatnonzero(has & ~np.isin(tid, _LINE_TYPES))
    if bad.size:
        raise ValidationError(
            [
                Problem(
                    "roads",
                    int(i) + 1,
                    "geometry",
                    str(roads.index[i]),
                    f"road geometry must be a LineString or MultiLineString, got {geoms[i].geom_type}",
                )
                for i in bad[:50]
            ]
        )
    keep = np.flatnonzero(has)
    kept = roads.iloc[keep]
    ids = np.array([str(i) for i in kept.index], dtype=object)
    id_col = next((c for c in ("osm_id", "id") if c in kept.columns), None)
    if id_col is not None:
        given = _text_values(kept, id_col)
        ids = np.where(pd.isna(given), ids, given)  # the index where the column has no value
    attrs = {"road_id": ids, "name": _text_values(kept, "name"), "highway": _text_values(kept, "highway")}
    lines = (
        np.asarray(project(kept[[kept.geometry.name]], crs).geometry.to_numpy(), dtype=object)
        if len(kept)
        else np.array([], dtype=object)
    )
    return lines, attrs


def _line_part(geoms: np.ndarray) -> np.ndarray:
    """The linear part of each geometry (an intersection with a polygon may add the points
    where a road touches the border): LineString/MultiLineString, or None when nothing is left.
    """
    out = geoms.copy()
    tid = shapely.get_type_id(geoms)
    odd = np.flatnonzero(~np.isin(tid, _LINE_TYPES))
    if odd.size == 0:
        return out
    parts, src = shapely.get_parts(geoms[odd], return_index=True)
    for _ in range(2):  # a collection may hold multi-geometries: flatten them too
        multi = np.isin(shapely.get_type_id(parts), (4, 5, 6, 7))
        if not multi.any():
            break
        sub, sub_src = shapely.get_parts(parts[multi], return_index=True)
        parts = np.concatenate([parts[~multi], sub])
        src = np.concatenate([src[~multi], src[multi][sub_src]])
    line = np.isin(shapely.get_type_id(parts), (1, 2)) & ~shapely.is_empty(parts)
    parts, src = parts[line], src[line]
    out[odd] = None
    if parts.size:
        order = np.argsort(src, kind="stable")
        owners, group = np.unique(src[order], return_inverse=True)
        out[odd[owners]] = shapely.multilinestrings(parts[order], indices=group)
    return out


def _clip_roads(unit_geoms: np.ndarray, lines: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (unit, road) pair sharing a stretch of road: ``(unit index, road index, the road's
    line inside the unit)``, sorted by unit, then road.

    One STRtree query of the roads with the units; a road whose box is inside the unit's box is
    tested with ``contains_properly`` (prepared unit) and kept whole; only the roads crossing a
    border are intersected with the unit. A road along a border counts for both sides.
    """
    e = np.array([], dtype=np.int64)
    if len(lines) == 0 or len(unit_geoms) == 0:
        return e, e, np.array([], dtype=object)
    u, r = shapely.STRtree(lines).query(unit_geoms)
    order = np.lexsort((r, u))
    u, r = u[order], r[order]
    ub, lb = shapely.bounds(unit_geoms), shapely.bounds(lines)
    boxed = (lb[r, 0] > ub[u, 0]) & (lb[r, 1] > ub[u, 1]) & (lb[r, 2] < ub[u, 2]) & (lb[r, 3] < ub[u, 3])
    inside = np.zeros(len(u), dtype=bool)
    hit = np.ones(len(u), dtype=bool)
    shapely.prepare(unit_geoms)
    try:
        cand = np.flatnonzero(boxed)
        inside[cand] = _threaded(shapely.contains_properly, unit_geoms[u[cand]], lines[r[cand]], keys=u[cand])
        rest = np.flatnonzero(~inside)
        hit[rest] = _threaded(shapely.intersects, unit_geoms[u[rest]], lines[r[rest]], keys=u[rest])
    finally:
        shapely.destroy_prepared(unit_geoms)
    seg = lines[r].copy()
    cross = np.flatnonzero(hit & ~inside)
    if cross.size:
        seg[cross] = _line_part(_threaded(shapely.intersection, unit_geoms[u[cross]], lines[r[cross]]))
    keep = hit & (shapely.length(seg) > 0)  # a road touching a unit at a point has no stretch in it
    return u[keep], r[keep], seg[keep]


def _street_coverage(
    fig: pd.DataFrame,
    unit_geoms: np.ndarray,
    roads: gpd.GeoDataFrame,
    crs: CRS,
    pieces: np.ndarray,
    piece_of: np.ndarray,
    fkind: np.ndarray,
    kind_pieces: Mapping[str, tuple[np.ndarray, np.ndarray]],
    kinds: Sequence[str],
    *,
    min_gap_m: float | None,
) -> gpd.GeoDataFrame | None:
    """Add the street columns to ``fig`` (in place); return the uncovered stretches of road
    (metric frame; None when ``min_gap_m`` is None: no stretches asked for).

    The stretches of road in each unit (:func:`_clip_roads`) are paired with the disjoint
    footprint pieces by an STRtree query, and each pair is intersected: the pieces do not
    overlap, so a stretch's covered metres are the sum over its pieces. A kind's metres come
    from the same intersections: a piece made of that kind alone gives all of them, a piece
    where kinds mix is intersected once more with the kind's own union inside it.
    """
    n = len(fig)
    lines, attrs = _road_lines(roads, crs)
    su, sr, seg = _clip_roads(unit_geoms, lines)
    seg_len = shapely.length(seg)
    road_m = np.bincount(su, weights=seg_len, minlength=n)
    if len(pieces) and len(seg):
        s, p = shapely.STRtree(pieces).query(seg)  # sorted by stretch
        inter = _threaded(shapely.intersection, seg[s], pieces[p])
        inter_len = shapely.length(inter)
        hit = inter_len > 0
        s, p, inter, inter_len = s[hit], p[hit], inter[hit], inter_len[hit]
    else:
        s = p = np.array([], dtype=np.int64)
        inter, inter_len = np.array([], dtype=object), np.array([], dtype=float)
    covered_seg = np.bincount(s, weights=inter_len, minlength=len(seg))
    covered = np.bincount(su, weights=covered_seg, minlength=n)
    n_total = np.bincount(piece_of, minlength=len(pieces))
    by_kind: dict[str, np.ndarray] = {}
    for kind in kinds:
        n_kind = np.bincount(piece_of[fkind == kind], minlength=len(pieces))
        has = n_kind[p] > 0
        pure = has & (n_kind[p] == n_total[p])
        mixed = np.flatnonzero(has & ~pure)
        klen = np.where(pure, inter_len, 0.0)
        if mixed.size:
            sub, holder = kind_pieces[kind]
            sub_of = np.full(len(pieces), -1, dtype=np.int64)
            sub_of[holder] = np.arange(len(holder))
            klen[mixed] = shapely.length(_threaded(shapely.intersection, inter[mixed], sub[sub_of[p[mixed]]]))
        by_kind[kind] = np.bincount(su[s], weights=klen, minlength=n) if len(s) else np.zeros(n)
    with np.errstate(invalid="ignore", divide="ignore"):

        def share(metres: np.ndarray) -> np.ndarray:
            return np.where(road_m > 0, 100.0 * np.minimum(metres, road_m) / np.where(road_m > 0, road_m, 1.0), np.nan)

        fig["road_m"] = road_m
        for kind in kinds:
            fig[f"road_covered_m_{kind}"] = by_kind[kind]
        fig["road_covered_m"] = covered
        fig["road_covered_pct"] = share(covered)
        for kind in kinds:
            fig[f"road_covered_pct_{kind}"] = share(by_kind[kind])
        fig["road_uncovered_m"] = np.maximum(road_m - covered, 0.0)
    if min_gap_m is None:
        return None
    # uncovered stretches: each stretch minus the (disjoint, so valid as one multipolygon)
    # pieces it meets; stretches meeting none are uncovered whole
    left = seg.copy()
    if len(s):
        parts, src = shapely.get_parts(pieces[p], return_index=True)
        owner = s[src]
        order = np.argsort(owner, kind="stable")
        owners, group = np.unique(owner[order], return_inverse=True)
        mp = shapely.multipolygons(parts[order], indices=group)
        left[owners] = _line_part(_threaded(shapely.difference, seg[owners], mp))
    return _street_gap_frame(fig, left, su, sr, attrs, crs, float(min_gap_m))


def _street_gap_frame(
    fig: pd.DataFrame,
    left: np.ndarray,
    su: np.ndarray,
    sr: np.ndarray,
    attrs: Mapping[str, np.ndarray],
    crs: CRS,
    min_m: float,
) -> gpd.GeoDataFrame:
    """One row per uncovered stretch of at least ``min_m`` metres (and longer than 0)."""
    ok = ~shapely.is_missing(left)
    parts, src = shapely.get_parts(left[ok], return_index=True)
    src = np.flatnonzero(ok)[src]
    length = shapely.length(parts)
    keep = (length >= min_m) & (length > 0)
    parts, src, length = parts[keep], src[keep], length[keep]
    if len(parts) == 0:
        return _empty_street_gaps(crs)
    unit, road = su[src], sr[src]
    codes = fig["unit_code"].to_numpy()[unit]
    seq = pd.Series(np.ones(len(unit), dtype=np.int64)).groupby(unit).cumsum().to_numpy()

    def text(values: np.ndarray | list[str]) -> pd.Series:  # object columns: missing text stays None
        return pd.Series(np.asarray(values, dtype=object), dtype=object)

    return gpd.GeoDataFrame(
        {
            "gap_id": text([f"{c}-s{k}" for c, k in zip(codes, seq)]),
            "unit_code": text(codes),
            "unit_name": text(fig["unit_name"].to_numpy()[unit]),
            "level": text(fig["level"].to_numpy()[unit]),
            "parent_code": text(fig["parent_code"].to_numpy()[unit]),
            "road_id": text(attrs["road_id"][road]),
            "name": text(attrs["name"][road]),
            "highway": text(attrs["highway"][road]),
            "length_m": length,
        },
        geometry=gpd.GeoSeries(parts, crs=crs),
        crs=crs,
    ).set_index("gap_id", drop=False)


def choose_level(units: pd.DataFrame, level: str | None = None) -> str:
    """The level to report at: ``level`` if given and present, else the finest level present."""
    present = [lv for lv in UNIT_LEVELS if (units["level"] == lv).any()]
    if not present:
        raise GeoAnttError("no administrative units to compute coverage for")
    if level is None:
        return present[-1]
    if level not in UNIT_LEVELS:
        raise GeoAnttError(f"level must be one of {', '.join(UNIT_LEVELS)}, got {level!r}")
    if level not in present:
        raise GeoAnttError(f"no units of level {level!r} in the data (levels present: {', '.join(present)})")
    return level


def _descendant_map(units: pd.DataFrame, targets: pd.Index) -> dict[str, str]:
    """Map every unit code at or below a target unit to that target unit's code."""
    parent = dict(zip(units.index.astype(str), units["parent_code"]))
    target_set = set(map(str, targets))
    out: dict[str, str] = {}
    for code in parent:
        seen, c = 0, code
        while c is not None and c == c and seen < 16:  # c == c: not NaN
            if c in target_set:
                out[code] = c
                break
            c, seen = parent.get(c), seen + 1
    return out


def compute_coverage(
    units: gpd.GeoDataFrame,
    models: gpd.GeoDataFrame,
    *,
    level: str | None = None,
    specs: Mapping[str, LayerSpec] | None = None,
    settings: Settings = DEFAULT_SETTINGS,
    statuses: Sequence[str] = COUNTING_STATUSES,
    with_gaps: bool = True,
    roads: gpd.GeoDataFrame | None = None,
    with_street_gaps: bool = True,
    buildings: gpd.GeoDataFrame | None = None,
    dem: ElevationSource | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    building_pieces_m: np.ndarray | None = None,
    footprints_m: gpd.GeoDataFrame | None = None,
) -> CoverageResult:
    """Coverage figures and gaps of every unit of one level, by area and (with roads) by street.

    Parameters
    ----------
    units
        Units frame (see ``geo_antt.schema``), any CRS; all levels may be present.
    models
        Models frame, any CRS. Only models whose ``status`` is in ``statuses`` count.
    level
        ``"hamlet"``, ``"commune"``, ... (default: the finest level present).
    specs
        Layer specs by kind (default ``layers/*.toml``).
    settings
        ``metric_crs`` (None: UTM zone of the units), ``min_gap_area_m2`` (gap parts under this
        many m² are dropped), ``min_street_gap_m`` (uncovered stretches of road shorter than
        this many metres are dropped), ``sector_segments``.
    statuses
        Statuses that count toward coverage.
    with_gaps
        Compute the gap polygons (the slower part); figures are the same either way.
    roads
        Road centre lines (LineStrings/MultiLineStrings, any CRS; e.g. the ``roads.geojson`` of
        ``geo-antt osm convert``: ``osm_id``, ``highway``, ``name``). Adds the street figures
        (metres, in the same metric CRS as the areas) to ``units`` and the uncovered stretches
        to ``street_gaps``. A road lying in two overlapping units counts in each; rows without
        a geometry count for nothing.
    with_street_gaps
        With ``roads``: also build the uncovered stretches (figures are the same either way).
    buildings
        Building footprints (Polygons/MultiPolygons, any CRS, may overlap; e.g. the
        ``buildings.geojson`` of ``geo-antt osm convert``). The footprints of kinds whose layer
        file says ``occluded = true`` become what their model sees without looking through a
        building (:func:`geo_antt.visibility.visible_footprints`); no footprint covers the inside
        of a building; gaps leave buildings out; ``units`` gains ``building_m2``, ``open_m2``
        and ``covered_open_pct``. A model standing inside a building is warned about (its
        building does not hide anything from it). Street figures use the visible footprints.
    dem
        An elevation model (e.g. :func:`geo_antt.io.dem.open_dem` of a GeoTIFF): the footprints
        of the same ``occluded`` kinds also lose the ground their model cannot see from its
        ``height_m`` above the terrain (:func:`geo_antt.terrain.terrain_footprints`), after the
        buildings; everything downstream (figures, gaps, streets) uses what is left.
    progress
        Called as ``progress(stage, done, total)`` after each stage (``"project"``,
        ``"footprints"``, ``"dissolve"``, ``"coverage"``, ``"counts"``, ``"gaps"``), e.g. by the CLI's
        progress bar.
    building_pieces_m
        Instead of ``buildings``: the buildings already made disjoint polygons in the metric CRS
        this call computes in (:func:`building_pieces` of ``settings.metric_crs``, or of the
        units' UTM zone), e.g. those of a whole province near a few units; the same results as
        the ``buildings`` they were made from.
    footprints_m
        Footprints made before (metric CRS, indexed by model id, columns ``kind``, ``status``,
        ``area_m2`` and the geometry; already cut by the same buildings and terrain, as this
        call's ``footprints_metric`` returns them): the counted models found there keep that
        footprint, only the others' are built (and cut). Used by the live catalog, which keeps
        every model's footprint between edits.

    Returns
    -------
    CoverageResult

    Raises
    ------
    ValidationError
        A road geometry that is not a line, a building geometry that is not a polygon (the rows
        are named by index).
    CRSError
        ``roads`` or ``buildings`` without a CRS.
    GeoAnttError
        ``dem`` has no elevation where an occluded model stands.
    """
    specs = specs or load_layer_specs(settings.layers_dir)
    level = choose_level(units, level)
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    n_stages = 6 if with_gaps else 5
    done = 0

    def lap(stage: str) -> None:
        nonlocal clock, done
        now = time.perf_counter()
        timings[stage] = timings.get(stage, 0.0) + now - clock
        clock = now
        if progress is not None:
            done = min(done + 1, n_stages - 1)
            progress(stage, done, n_stages)

    target = units.loc[(units["level"] == level).to_numpy()]
    crs = metric_crs_for(target, crs=settings.metric_crs)
    target_m = project(target, crs)
    ug = np.asarray(target_m.geometry.to_numpy(), dtype=object)
    bad = ~_threaded(shapely.is_valid, ug, min_chunk=64)
    if bad.any():
        ug = ug.copy()
        ug[bad] = shapely.make_valid(ug[bad])
    unit_area = shapely.area(ug)
    models_m = project(models, crs) if len(models) else models.set_crs(crs, allow_override=True)
    lap("project")

    kinds_sp = spatial_kinds(specs)
    kept = None  # footprints given for some counted models (footprints_m)
    if len(models_m):
        counted = models_m["status"].isin(list(statuses)).to_numpy().copy()
        g = models_m.geometry.to_numpy()
        counted &= ~(shapely.is_missing(g) | shapely.is_empty(g))
        if footprints_m is not None and len(footprints_m):
            have = counted & models_m.index.isin(footprints_m.index)
            if have.any():
                kept = footprints_m.loc[models_m.index[have]]
                kept = kept.drop(columns=[c for c in ("name",) if c in kept.columns])
                counted &= ~have
        fp = build_footprints(models_m.loc[counted], specs=specs, segments_per_quarter=settings.sector_segments)
    else:
        fp = gpd.GeoDataFrame({"kind": [], "status": [], "area_m2": []}, geometry=[], crs=crs)
    lap("footprints")
    bpieces = None
    if building_pieces_m is not None:
        bpieces = np.asarray(building_pieces_m, dtype=object)
    elif buildings is not None:
        bpieces = building_pieces(buildings, crs)
    if bpieces is not None:
        fp = occluded_footprints(fp, models_m, bpieces, specs=specs)
        lap("visibility")
    if dem is not None:
        fp = terrain_occluded_footprints(fp, models_m, dem, crs, specs=specs)
        lap("terrain")
    if kept is not None:  # the given ones, in the models' order with the new ones
        both = pd.concat([kept[list(fp.columns)], fp]) if len(fp) else kept[list(fp.columns)]
        at = models_m.index.get_indexer(both.index)
        fp = both.iloc[np.argsort(at, kind="stable")]
        fp = fp.set_geometry(gpd.GeoSeries(fp.geometry.to_numpy(), index=fp.index, crs=crs))

    fig = pd.DataFrame(index=target.index)
    fig["unit_code"] = target.index.astype(str)
    fig["unit_name"] = target["name"].to_numpy()
    fig["level"] = level
    fig["parent_code"] = target["parent_code"].to_numpy() if "parent_code" in target else None
    fig["approximate"] = (
        target["approximate"].fillna(False).astype(bool).to_numpy() if "approximate" in target else False
    )
    fig["area_m2"] = unit_area

    fpg = fp.geometry.to_numpy()
    fkind = fp["kind"].to_numpy()
    # one dissolve over every footprint; each kind's own pieces are derived from it, and need
    # a union of their own only inside the few pieces where kinds overlap one another
    all_pieces, piece_of = dissolve_overlaps(fpg, return_index=True)
    kind_pieces = {kind: _kind_pieces(fpg, fkind, piece_of, all_pieces, kind) for kind in kinds_sp}
    lap("dissolve")
    edges = _unit_edges(ug)  # pairs the units with the footprint pieces, then with the buildings
    pairs = _unit_piece_pairs(ug, all_pieces, edges=edges)
    for kind in kinds_sp:  # each kind's pieces lie inside the all-kinds pieces: reuse their pairs
        sub, sub_piece = kind_pieces[kind]
        fig[f"covered_m2_{kind}"] = _covered_area_of_subpieces(ug, sub, sub_piece, pairs, len(all_pieces))
    lap("coverage")
    raw_gaps = None
    if with_gaps and bpieces is not None and len(bpieces):
        # gaps are open area only: the buildings join the pieces they touch (a visible footprint
        # ends on the walls) into disjoint blocked pieces, most of them then simple holes
        blocked, blocked_pairs = _blocked_pieces(ug, all_pieces, pairs, bpieces, edges=edges)
        raw_gaps = unit_gaps(ug, blocked, pairs=blocked_pairs)
    elif with_gaps:
        raw_gaps = unit_gaps(ug, all_pieces, pairs=pairs)
    lap("gaps")
    building_area = np.zeros(len(ug))
    if bpieces is not None:
        # the pieces never cover a building's inside: with gaps, the buildings are what the
        # blocked pieces hold beyond the covered area; without, their own area in each unit
        covered = covered_area(ug, all_pieces, pairs=pairs)
        if raw_gaps is not None:
            building_area = np.clip(unit_area - shapely.area(raw_gaps) - covered, 0.0, None)
        else:
            building_area = np.minimum(covered_area(ug, bpieces), unit_area)
    elif raw_gaps is not None:
        covered = np.clip(unit_area - shapely.area(raw_gaps), 0.0, None)
    else:
        covered = covered_area(ug, all_pieces, pairs=pairs)
    open_area = unit_area - building_area
    fig["covered_m2"] = covered
    with np.errstate(invalid="ignore", divide="ignore"):
        fig["covered_pct"] = np.where(unit_area > 0, 100.0 * covered / unit_area, 0.0)
        for kind in kinds_sp:
            fig[f"covered_pct_{kind}"] = np.where(unit_area > 0, 100.0 * fig[f"covered_m2_{kind}"] / unit_area, 0.0)
    fig["uncovered_m2"] = np.maximum(unit_area - covered, 0.0)
    if bpieces is not None:
        fig["building_m2"] = building_area
        fig["open_m2"] = open_area
        with np.errstate(invalid="ignore", divide="ignore"):
            fig["covered_open_pct"] = np.where(
                open_area > 0, 100.0 * np.minimum(covered, open_area) / np.where(open_area > 0, open_area, 1.0), np.nan
            )
        fig["uncovered_m2"] = np.maximum(open_area - covered, 0.0)
    lap("coverage")
    street_gaps = None
    if roads is not None:
        min_street = settings.min_street_gap_m if with_street_gaps else None
        street_gaps = _street_coverage(
            fig, ug, roads, crs, all_pieces, piece_of, fkind, kind_pieces, kinds_sp, min_gap_m=min_street
        )
        lap("streets")

    counted_mi, counted_ui = _count_models(fig, target_m, ug, models_m, units, specs, statuses)
    model_units = pd.Series(
        fig["unit_code"].to_numpy()[counted_ui], index=models_m.index[counted_mi], name="unit_code", dtype=object
    )
    order = np.lexsort((-fig["uncovered_m2"].to_numpy(), fig["covered_pct"].to_numpy()))
    rank = np.empty(len(fig), dtype=np.int64)
    rank[order] = np.arange(1, len(fig) + 1)
    fig["rank"] = rank
    # the units keep their own lon/lat geometry: no round trip through the metric CRS
    out_units = gpd.GeoDataFrame(fig, geometry=to_wgs84(target).geometry.to_numpy(), crs="EPSG:4326")
    lap("counts")

    if raw_gaps is not None:
        gaps = _gap_frame(fig, raw_gaps, crs, settings.min_gap_area_m2)
    else:
        gaps = gpd.GeoDataFrame(
            {c: [] for c in ("gap_id", "unit_code", "unit_name", "level", "parent_code", "area_m2")},
            geometry=[],
            crs=crs,
        )
    fp_out = fp.copy()
    if "name" in models_m.columns and len(fp_out):
        fp_out.insert(1, "name", models_m.loc[fp_out.index, "name"].to_numpy())
    blind = shapely.is_empty(fp_out.geometry.to_numpy())
    if blind.any():  # a camera facing its wall sees nothing: no geometry (GeoJSON null), area 0
        fp_out = fp_out.set_geometry(
            gpd.GeoSeries(np.where(blind, None, fp_out.geometry.to_numpy()), index=fp_out.index, crs=fp_out.crs)
        )
    lap("gaps")
    if progress is not None:
        progress("done", n_stages, n_stages)
    return CoverageResult(
        units=out_units,
        gaps_m=gaps,
        footprints_m=fp_out,
        level=level,
        metric_crs=crs,
        timings=timings,
        street_gaps_m=street_gaps,
        model_units=model_units,
    )


_POLYGON_TYPES = (3, 6)  # Polygon, MultiPolygon


def _blocked_pieces(
    unit_geoms: np.ndarray,
    pieces: np.ndarray,
    piece_pairs: _Pairs,
    bpieces: np.ndarray,
    *,
    edges: _UnitEdges | None = None,
) -> tuple[np.ndarray, _Pairs]:
    """The disjoint union of disjoint footprint pieces and disjoint buildings, and its pairs
    with the units: ``(blocked pieces, pairs)`` for :func:`unit_gaps`.

    Each building is merged with the pieces it touches (a visible footprint ends on the walls
    it sees), found by one STRtree query of the pieces against the buildings. A piece or a
    building that touches nothing (most buildings: they meet no footprint) is a blocked piece
    as it is. A touching group is the union of two valid multipolygons, its disjoint pieces
    and its disjoint buildings: one vectorised binary overlay, cheaper than resolving one
    invalid multipolygon of them all with ``buffer(0)`` (which also adds slivers of area
    between walls and the visible edges along them).

    The pairs need no geometry test for the pieces (``piece_pairs``, those of the coverage) nor
    for the groups: a group meets a unit where one of its members does, and lies in the unit's
    interior where all of them do (a union of subsets of an open set stays in it); only the
    buildings are paired (:func:`_unit_piece_pairs`, with the units' ``edges`` if given).
    """
    n_p = len(pieces)
    both = np.concatenate([pieces, bpieces])
    if len(bpieces) == 0 or n_p == 0:
        return both, _concat_pairs(piece_pairs, _unit_piece_pairs(unit_geoms, bpieces, edges=edges), n_p)
    btree = shapely.STRtree(bpieces)
    p, b = btree.query(pieces, predicate="intersects")
    n = len(both)
    graph = coo_matrix((np.ones(len(p), dtype=np.int8), (p, n_p + b)), shape=(n, n))
    ncomp, label = connected_components(graph, directed=False)
    alone = np.bincount(label, minlength=ncomp)[label] == 1
    lone = np.flatnonzero(alone)
    multi = np.flatnonzero(~alone)
    blocked_of = np.empty(n, dtype=np.int64)  # the blocked piece that holds each member
    blocked_of[lone] = np.arange(len(lone))
    out = [both[lone]]
    if multi.size:
        # every group holds at least one piece and one building (the graph is bipartite)
        order = multi[np.argsort(label[multi], kind="stable")]
        group_labels, group_of = np.unique(label[order], return_inverse=True)
        n_groups = len(group_labels)
        blocked_of[order] = len(lone) + group_of
        is_piece = order < n_p

        def multi_of(sel: np.ndarray) -> np.ndarray:
            parts, src = shapely.get_parts(both[order[sel]], return_index=True)
            return shapely.multipolygons(parts, indices=group_of[sel][src])

        unions = _threaded(shapely.union, multi_of(is_piece), multi_of(~is_piece), min_chunk=64)
        out.append(_checked_unions(unions, both, order, group_of, n_groups))
    blocked = np.concatenate(out)
    members = _concat_pairs(piece_pairs, _unit_piece_pairs(unit_geoms, bpieces, edges=edges, tree=btree), n_p)
    unit, piece = members.unit, blocked_of[members.piece]
    by = np.lexsort((piece, unit))
    unit, piece, inside = unit[by], piece[by], members.inside[by]
    first = np.flatnonzero(np.r_[True, (unit[1:] != unit[:-1]) | (piece[1:] != piece[:-1])])
    return blocked, _Pairs(unit[first], piece[first], np.logical_and.reduceat(inside, first))


def _concat_pairs(a: _Pairs, b: _Pairs, offset: int) -> _Pairs:
    """The pairs of two arrays of pieces concatenated (``b``'s pieces start at ``offset``)."""
    return _Pairs(
        np.concatenate([a.unit, b.unit]),
        np.concatenate([a.piece, offset + b.piece]),
        np.concatenate([a.inside, b.inside]),
    )


def _building_polygons(buildings: gpd.GeoDataFrame, crs: CRS) -> np.ndarray:
    """The building polygons that have a geometry, in the metric CRS (valid: repaired)."""
    if not isinstance(buildings, gpd.GeoDataFrame):
        msg = f"'buildings' should be a GeoDataFrame, got {type(buildings).__name__}"
        raise TypeError(msg)
    if buildings.crs is None:
        raise CRSError("buildings have no CRS: say which one they are in (e.g. EPSG:4326)")
    geoms = np.asarray(buildings.geometry.to_numpy(), dtype=object)
    has = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    bad = np.flatnonzero(has & ~np.isin(shapely.get_type_id(geoms), _POLYGON_TYPES))
    if bad.size:
        raise ValidationError(
            [
                Problem(
                    "buildings",
                    int(i) + 1,
                    "geometry",
                    str(buildings.index[i]),
                    f"building geometry must be a Polygon or MultiPolygon, got {geoms[i].geom_type}",
                )
                for i in bad[:50]
            ]
        )
    kept = buildings.iloc[np.flatnonzero(has)]
    if not len(kept):
        return np.array([], dtype=object)
    out = np.asarray(project(kept[[kept.geometry.name]], crs).geometry.to_numpy(), dtype=object)
    broken = ~_threaded(shapely.is_valid, out, min_chunk=4096)
    if broken.any():  # reprojection may make a thin polygon self-touching: keep its polygonal part
        fixed = shapely.make_valid(out[broken])
        parts = shapely.get_parts(fixed)
        poly = np.isin(shapely.get_type_id(parts), _POLYGON_TYPES)
        out = np.concatenate([out[~broken], parts[poly]])
    return out


def building_pieces(buildings: gpd.GeoDataFrame, crs: CRS) -> np.ndarray:
    """Building footprints as disjoint polygons in a metric CRS (overlapping buildings merged).

    Parameters
    ----------
    buildings
        Polygons/MultiPolygons, any CRS (rows without a geometry are left out).
    crs
        The metric CRS to compute in (metres).

    Returns
    -------
    numpy.ndarray
        Pairwise disjoint Polygons/MultiPolygons (:func:`dissolve_overlaps`).

    Raises
    ------
    ValidationError
        A geometry that is not polygonal (the rows are named by index).
    CRSError
        ``buildings`` without a CRS.
    """
    return dissolve_overlaps(_building_polygons(buildings, crs))


def occluded_footprints(
    fp: gpd.GeoDataFrame, models_m: gpd.GeoDataFrame, bpieces: np.ndarray, *, specs: Mapping[str, LayerSpec]
) -> gpd.GeoDataFrame:
    """Footprints cut by the buildings: visible footprints for the kinds whose layer file says
    ``occluded = true``, and no building interiors for any kind.

    Parameters
    ----------
    fp
        Footprints frame of :func:`geo_antt.footprints.footprints` (metric CRS, index = model id).
    models_m
        The models (same CRS): the position of each footprint's model is its viewpoint (a model
        placed by a line has none: its footprint only loses the building interiors).
    bpieces
        Disjoint building polygons, same CRS (:func:`building_pieces`).
    specs
        Layer specs by kind.

    Returns
    -------
    geopandas.GeoDataFrame
        ``fp`` with the new geometry and ``area_m2`` (m²). A model standing inside a building is
        warned about (``UserWarning`` naming the ids).
    """
    if not len(fp):
        return fp
    pos = models_m.geometry.loc[fp.index].to_numpy()
    is_pt = shapely.get_type_id(pos) == 0
    x = np.where(is_pt, shapely.get_x(pos), np.nan)
    y = np.where(is_pt, shapely.get_y(pos), np.nan)
    occluded = fp["kind"].map({k: s.occluded for k, s in specs.items()}).fillna(False).to_numpy(dtype=bool)
    vis = visible_footprints(fp.geometry.to_numpy(), x, y, bpieces, occluded=occluded)
    if vis.inside.any():
        ids = [str(i) for i in fp.index[vis.inside]]
        more = f" and {len(ids) - 20} more" if len(ids) > 20 else ""
        warnings.warn(
            f"{len(ids)} model(s) stand inside a building, usually a mounting error (that building does not hide "
            f"anything from them; its inside is not covered): {', '.join(ids[:20])}{more}",
            UserWarning,
            stacklevel=3,
        )
    out = fp.copy()
    out = out.set_geometry(gpd.GeoSeries(vis.geoms, index=fp.index, crs=fp.crs))
    out["area_m2"] = shapely.area(vis.geoms)
    return out


def model_heights(models: pd.DataFrame, specs: Mapping[str, LayerSpec]) -> np.ndarray:
    """Each model's ``height_m`` above the ground (metres): its own, else its kind's default,
    else 0.
    """
    if "height_m" in models.columns:
        h = pd.to_numeric(models["height_m"], errors="coerce").to_numpy(dtype=float, copy=True)
    else:
        h = np.full(len(models), np.nan)
    kinds = models["kind"].to_numpy()
    for kind in pd.unique(kinds):
        spec = specs.get(kind)
        sel = (kinds == kind) & np.isnan(h)
        h[sel] = spec.defaults.get("height_m", 0.0) if spec is not None else 0.0
    return h


def terrain_occluded_footprints(
    fp: gpd.GeoDataFrame,
    models_m: gpd.GeoDataFrame,
    dem: ElevationSource,
    crs: CRS,
    *,
    specs: Mapping[str, LayerSpec],
) -> gpd.GeoDataFrame:
    """Footprints cut by the terrain, for the kinds whose layer file says ``occluded = true``.

    Parameters
    ----------
    fp
        Footprints frame (metric CRS ``crs``, index = model id), e.g. after
        :func:`occluded_footprints`.
    models_m
        The models (same CRS): a point model's position is its viewpoint, ``height_m`` (NaN:
        the kind's default) its height above the ground in metres; a model placed by a line is
        left as it is.
    dem
        The elevation model.
    crs
        The metric CRS.
    specs
        Layer specs by kind.

    Returns
    -------
    geopandas.GeoDataFrame
        ``fp`` with the new geometry and ``area_m2`` (m²).

    Raises
    ------
    GeoAnttError
        ``dem`` has no elevation where an occluded model stands.
    """
    if not len(fp):
        return fp
    at = models_m.loc[fp.index]
    pos = at.geometry.to_numpy()
    is_pt = shapely.get_type_id(pos) == 0
    x = np.where(is_pt, shapely.get_x(pos), np.nan)
    y = np.where(is_pt, shapely.get_y(pos), np.nan)
    occluded = fp["kind"].map({k: s.occluded for k, s in specs.items()}).fillna(False).to_numpy(dtype=bool)
    geoms = terrain_footprints(
        fp.geometry.to_numpy(), x, y, model_heights(at, specs), dem, crs, occluded=occluded, ids=list(fp.index)
    )
    out = fp.set_geometry(gpd.GeoSeries(geoms, index=fp.index, crs=fp.crs))
    out["area_m2"] = shapely.area(geoms)
    return out


def _gap_frame(fig: pd.DataFrame, gaps: np.ndarray, crs: CRS, min_area_m2: float) -> gpd.GeoDataFrame:
    parts, src = shapely.get_parts(gaps, return_index=True)
    # keep polygonal parts only (a difference may leave lines along shared borders)
    poly = np.isin(shapely.get_type_id(parts), (3,))
    parts, src = parts[poly], src[poly]
    area = shapely.area(parts)
    keep = area >= min_area_m2
    parts, src, area = parts[keep], src[keep], area[keep]
    codes = fig["unit_code"].to_numpy()[src]
    seq = (
        pd.Series(np.ones(len(src), dtype=np.int64)).groupby(src).cumsum().to_numpy()
        if len(src)
        else np.array([], dtype=np.int64)
    )
    return gpd.GeoDataFrame(
        {
            "gap_id": [f"{c}-g{n}" for c, n in zip(codes, seq)],
            "unit_code": codes,
            "unit_name": fig["unit_name"].to_numpy()[src],
            "level": fig["level"].to_numpy()[src],
            "parent_code": fig["parent_code"].to_numpy()[src],
            "area_m2": area,
        },
        geometry=gpd.GeoSeries(parts, crs=crs),
        crs=crs,
    ).set_index("gap_id", drop=False)


def _unit_of_points(points: np.ndarray, units: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(point index, unit index) of every point that lies in a unit, sorted by point.

    The units are the query geometries (prepared, so a unit with many models is tested fast)
    against a tree of the points. A point on a shared border belongs to one unit only: the
    first of them in the order of ``units`` (whatever other units are given: a partitioned
    run counts it where one process does).
    """
    # boxes from the tree (one thread), the exact test on the prepared units over the cores
    ui, pi = shapely.STRtree(points).query(units)
    shapely.prepare(units)
    try:
        hit = _threaded(shapely.intersects, units[ui], points[pi], keys=ui)
    finally:
        shapely.destroy_prepared(units)
    ui, pi = ui[hit], pi[hit]
    hits = np.bincount(pi, minlength=len(points))
    shared = np.flatnonzero(hits > 1)
    if shared.size:
        alone = hits[pi] == 1
        sp, su = shapely.STRtree(units).query(points[shared], predicate="intersects")
        by = np.lexsort((su, sp))  # the tree lists hits in its own order: keep the first unit
        sp, su = sp[by], su[by]
        first = np.unique(sp, return_index=True)[1]
        pi = np.concatenate([pi[alone], shared[sp[first]]])
        ui = np.concatenate([ui[alone], su[first]])
    order = np.argsort(pi, kind="stable")
    return pi[order], ui[order]


def _count_models(
    fig: pd.DataFrame,
    target_m: gpd.GeoDataFrame,
    ug: np.ndarray,
    models_m: gpd.GeoDataFrame,
    units: gpd.GeoDataFrame,
    specs: Mapping[str, LayerSpec],
    statuses: Sequence[str],
) -> tuple[np.ndarray, np.ndarray]:
    """Add ``n_<kind>``, ``n_models`` and ``n_inactive``: models located in each unit (by point
    in polygon; non-spatial models by ``unit_code`` at or below the unit). Returns the pairs
    (model position, unit position) counted.
    """
    n = len(fig)
    for kind in specs:
        fig[f"n_{kind}"] = 0
    fig["n_models"] = 0
    fig["n_inactive"] = 0
    none = np.array([], dtype=np.int64)
    if len(models_m) == 0:
        return none, none
    geom = models_m.geometry
    has = (geom.notna() & ~geom.is_empty).to_numpy()
    unit_idx_parts, model_idx_parts = [], []
    if has.any():
        g = geom.to_numpy()[has]
        anchor = g.copy()
        not_point = shapely.get_type_id(g) != 0
        if not_point.any():
            anchor[not_point] = shapely.point_on_surface(g[not_point])
        mi, ui = _unit_of_points(anchor, ug)
        unit_idx_parts.append(ui)
        model_idx_parts.append(np.flatnonzero(has)[mi])
    if (~has).any() and "unit_code" in models_m.columns:
        dmap = _descendant_map(units, target_m.index)
        pos = {c: i for i, c in enumerate(target_m.index.astype(str))}
        codes = models_m["unit_code"].to_numpy()[~has]
        mapped = np.array([pos.get(dmap.get(str(c)), -1) if c is not None else -1 for c in codes], dtype=np.int64)
        ok = mapped >= 0
        unit_idx_parts.append(mapped[ok])
        model_idx_parts.append(np.flatnonzero(~has)[ok])
    if not unit_idx_parts:
        return none, none
    ui = np.concatenate(unit_idx_parts)
    mi = np.concatenate(model_idx_parts)
    kinds = models_m["kind"].to_numpy()[mi]
    status = models_m["status"].to_numpy()[mi]
    active = np.isin(status, list(statuses))
    for kind in specs:
        sel = active & (kinds == kind)
        fig[f"n_{kind}"] = np.bincount(ui[sel], minlength=n)
    fig["n_models"] = np.bincount(ui[active], minlength=n)
    fig["n_inactive"] = np.bincount(ui[status == "inactive"], minlength=n)
    return mi, ui
