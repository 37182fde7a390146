"""Visible footprints: the part of each footprint a straight line from the model reaches
without crossing a building (exact 2D visibility), vectorised over all models.

Method, for footprints and buildings in one metric CRS (metres):

1. candidate buildings per footprint: one STRtree query of the footprints against the buildings
   (``intersects``: a building that misses a footprint cannot hide any of it, since a sector is
   star-shaped from its apex and a disc is convex);
2. every wall (ring edge) of a candidate building that faces the viewpoint casts a *shadow*: the
   polygon of the edge's two endpoints and their projections away from the viewpoint, out to
   twice the footprint's reach, with a middle vertex on the bisector so that the far side stays
   outside the footprint even for a wall seen under nearly 180 degrees. All shadows of all
   candidate edges are built at once from coordinate arrays (``shapely.polygons``);
   A convex building seen from outside (most buildings) takes a faster, equally exact path: its
   hidden region (the building and its shadow) is convex, so it is the convex hull of the
   building's vertices, their projections and the far point on the bisector of its angular
   extent: one polygon per (footprint, building) pair instead of a shadow per wall;
3. per footprint, the shadows and the candidate buildings themselves (area inside buildings is
   never covered) are gathered into one multipolygon (``shapely.multipolygons(..., indices=)``),
   resolved into their union by a vectorised ``buffer(0)`` (checked against the parts' areas,
   ``union_all`` for a group that fails) and subtracted from the footprint by one vectorised
   ``difference``.

A point hidden behind a building is behind one of its walls facing the viewer, so the facing
edges and the building give the exact hidden region. A viewpoint lying exactly on a building's
outline (a wall-mounted camera) lets rays enter that building: every edge of that building
(not only the facing ones) casts its shadow. A viewpoint strictly inside a building is
reported by :func:`visible_footprints` (``inside``): that building is left out of the
occluders' walls (the model sees out as if mounted on its outside wall) but its interior is
still removed. Rows without a viewpoint (a model placed by a line) or not occluded only lose
the building interiors.

No Python loop runs over models or buildings: the work is split over the cores in chunks of
footprints (``geo_antt._threads``).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import shapely

from ._threads import WORKERS, balanced_bounds, map_chunks

__all__ = ["VisibleFootprints", "visible_footprints", "wall_edges"]

# footprints per chunk of the shadow work (bounded memory, several chunks per thread)
_CHUNK = 8192


class VisibleFootprints(NamedTuple):
    """What :func:`visible_footprints` returns.

    Attributes
    ----------
    geoms
        The visible footprints (Polygons/MultiPolygons, possibly empty), aligned with the input.
    inside
        True where the viewpoint lies strictly inside a building (usually a mounting error).
    """

    geoms: np.ndarray
    inside: np.ndarray


class _Edges(NamedTuple):
    x0: np.ndarray
    y0: np.ndarray
    x1: np.ndarray
    y1: np.ndarray
    start: np.ndarray  # first edge of each building
    n_edges: np.ndarray  # edges of each building


def wall_edges(buildings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every wall of every building as a segment, from the coordinate arrays.

    Parameters
    ----------
    buildings
        Array of Polygons/MultiPolygons (metres).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        ``(n, 4)`` float array of ``x0, y0, x1, y1`` (metres), rings oriented with the building
        on the left of each edge (exterior counter-clockwise, holes clockwise), and the index of
        the building of each edge (sorted).
    """
    b = shapely.orient_polygons(np.asarray(buildings, dtype=object))
    parts, part_of = shapely.get_parts(b, return_index=True)
    rings, ring_of = shapely.get_rings(parts, return_index=True)
    coords, vertex_of = shapely.get_coordinates(rings, return_index=True)
    same = vertex_of[:-1] == vertex_of[1:]  # consecutive vertices of one ring (closed: last = first)
    k = np.flatnonzero(same)
    seg = np.column_stack([coords[k], coords[k + 1]])
    return seg, part_of[ring_of[vertex_of[k]]]


def _edges(buildings: np.ndarray) -> _Edges:
    seg, owner = wall_edges(buildings)
    nb = len(buildings)
    start = np.searchsorted(owner, np.arange(nb), side="left")
    count = np.searchsorted(owner, np.arange(nb), side="right") - start
    return _Edges(seg[:, 0], seg[:, 1], seg[:, 2], seg[:, 3], start, count)


def _shadows(
    vx: np.ndarray, vy: np.ndarray, reach: np.ndarray, e: _Edges, bld: np.ndarray, all_edges: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Shadow polygons of the walls of building ``bld[i]`` seen from ``(vx[i], vy[i])``: those
    facing the viewpoint (every non-degenerate wall where ``all_edges[i]``), each out to
    ``max(reach[i], 2 * its distance)`` metres; returns ``(shadows, pair index of each)``.
    """
    cnt = e.n_edges[bld]
    pair = np.repeat(np.arange(len(bld)), cnt)
    offset = np.arange(len(pair)) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    k = e.start[bld][pair] + offset
    px, py = e.x0[k] - vx[pair], e.y0[k] - vy[pair]  # endpoints relative to the viewpoint
    qx, qy = e.x1[k] - vx[pair], e.y1[k] - vy[pair]
    cross = px * qy - py * qx  # > 0: viewpoint on the left of P->Q (inside); < 0: outside
    keep = (cross < 0) | (all_edges[pair] & (cross != 0))
    pair, px, py, qx, qy = pair[keep], px[keep], py[keep], qx[keep], qy[keep]
    dp, dq = np.hypot(px, py), np.hypot(qx, qy)
    far = np.maximum(reach[pair], 2.0 * np.maximum(dp, dq))
    ux, uy, wx, wy = px / dp, py / dp, qx / dq, qy / dq
    mx, my = ux + wx, uy + wy  # the bisector (not null: the wall is not seen edge-on)
    mn = np.hypot(mx, my)
    ox, oy = vx[pair], vy[pair]
    ring = np.empty((len(pair), 5, 2))
    ring[:, 0, 0], ring[:, 0, 1] = ox + px, oy + py
    ring[:, 1, 0], ring[:, 1, 1] = ox + qx, oy + qy
    ring[:, 2, 0], ring[:, 2, 1] = ox + far * wx, oy + far * wy
    ring[:, 3, 0], ring[:, 3, 1] = ox + far * mx / mn, oy + far * my / mn
    ring[:, 4, 0], ring[:, 4, 1] = ox + far * ux, oy + far * uy
    return shapely.polygons(ring), pair


def _hull_shadows(vx: np.ndarray, vy: np.ndarray, reach: np.ndarray, e: _Edges, bld: np.ndarray) -> np.ndarray:
    """Hidden region of each *convex* building ``bld[i]`` seen from outside it at
    ``(vx[i], vy[i])``: the building and its shadow at once, as the convex hull of its vertices,
    their projections away from the viewpoint out to ``max(reach[i], 2 * their distance)``
    metres and a point that far on the bisector of the building's angular extent (so that the
    hull's far side stays outside the footprint). The shadow of a convex building is convex and
    those are its vertices, so this is exact.
    """
    cnt = e.n_edges[bld]
    first = np.cumsum(cnt) - cnt
    pair = np.repeat(np.arange(len(bld)), cnt)
    k = e.start[bld][pair] + np.arange(len(pair)) - first[pair]
    px, py = e.x0[k] - vx[pair], e.y0[k] - vy[pair]  # vertices relative to the viewpoint
    d = np.hypot(px, py)
    far = np.maximum(reach, 2.0 * np.maximum.reduceat(d, first))
    # angular extent around the direction of the vertices' mean (inside the building)
    cx = np.add.reduceat(px, first) / cnt
    cy = np.add.reduceat(py, first) / cnt
    ang = np.arctan2(cx[pair] * py - cy[pair] * px, cx[pair] * px + cy[pair] * py)
    mid = np.arctan2(cy, cx) + (np.minimum.reduceat(ang, first) + np.maximum.reduceat(ang, first)) / 2.0
    f = far[pair] / d
    pts = np.concatenate(
        [
            np.column_stack([e.x0[k], e.y0[k]]),
            np.column_stack([vx[pair] + f * px, vy[pair] + f * py]),
            np.column_stack([vx + far * np.cos(mid), vy + far * np.sin(mid)]),
        ]
    )
    owner = np.concatenate([pair, pair, np.arange(len(bld))])
    srt = np.argsort(owner, kind="stable")
    # the hull of each pair's points, read from a line through them (built from the coordinate
    # array at once: no point objects)
    return shapely.convex_hull(shapely.linestrings(pts[srt], indices=owner[srt]))


def _union_groups(parts: np.ndarray, group: np.ndarray, n: int) -> np.ndarray:
    """Union of the overlapping ``parts`` of each group (``group`` sorted, every group present):
    one vectorised ``buffer(0)`` of each group's multipolygon, checked against the parts'
    areas (between the largest and the sum); ``union_all`` for a group that fails.
    """
    mp = shapely.multipolygons(parts, indices=group)
    out = shapely.buffer(mp, 0.0)
    area = shapely.area(parts)
    hi = np.bincount(group, weights=area, minlength=n)
    lo = np.zeros(n)
    np.maximum.at(lo, group, area)
    ua = shapely.area(out)
    bad = np.flatnonzero((ua < lo * (1 - 1e-9)) | (ua > hi * (1 + 1e-9)) | ~shapely.is_valid(out))
    if bad.size:  # pragma: no cover - a safety net
        start = np.searchsorted(group, bad, side="left")
        stop = np.searchsorted(group, bad, side="right")
        for gi, a, b in zip(bad, start, stop):
            out[gi] = shapely.union_all(parts[a:b])
    return out


def visible_footprints(
    footprints: np.ndarray,
    x_m: np.ndarray,
    y_m: np.ndarray,
    buildings: np.ndarray,
    *,
    occluded: np.ndarray | None = None,
) -> VisibleFootprints:
    """The part of every footprint seen from its model without looking through a building.

    Parameters
    ----------
    footprints
        Polygons (metres, a projected CRS), e.g. from :func:`geo_antt.footprints.footprints`.
    x_m, y_m
        Viewpoint of each footprint (the model's position), metres; NaN for none (a model placed
        by a line): such a footprint only loses the building interiors.
    buildings
        Building Polygons/MultiPolygons in the same CRS (they may overlap).
    occluded
        Which footprints buildings hide (default: all). The others only lose the area inside
        buildings.

    Returns
    -------
    VisibleFootprints
        ``geoms``: each footprint minus the buildings and (occluded rows) the shadows they cast
        from its viewpoint; ``inside``: the viewpoint lies strictly inside a building (that
        building's walls do not hide anything from it; its interior is still removed).
    """
    fp = np.asarray(footprints, dtype=object)
    n = len(fp)
    x = np.asarray(x_m, dtype=float)
    y = np.asarray(y_m, dtype=float)
    occ = np.ones(n, dtype=bool) if occluded is None else np.asarray(occluded, dtype=bool).copy()
    occ &= np.isfinite(x) & np.isfinite(y)
    out = fp.copy()
    inside = np.zeros(n, dtype=bool)
    b = np.asarray(buildings, dtype=object)
    b = b[~(shapely.is_missing(b) | shapely.is_empty(b))] if len(b) else b
    if n == 0 or len(b) == 0:
        return VisibleFootprints(out, inside)
    tree = shapely.STRtree(b)
    fi, bj = tree.query(fp, predicate="intersects")
    order = np.lexsort((bj, fi))
    fi, bj = fi[order], bj[order]
    if len(fi) == 0:
        return VisibleFootprints(out, inside)
    # viewpoints strictly inside / on the outline of a building
    rows = np.flatnonzero(occ)
    pts = shapely.points(x[rows], y[rows])
    nb = len(b)
    keys = fi.astype(np.int64) * nb + bj

    def pair_flags(predicate: str) -> np.ndarray:
        pi, pj = tree.query(pts, predicate=predicate)
        return np.isin(keys, rows[pi].astype(np.int64) * nb + pj)

    in_pair = pair_flags("within")
    on_pair = pair_flags("touches")
    inside[fi[in_pair]] = True
    shadow_pair = occ[fi] & ~in_pair
    # only the candidate buildings' walls and polygons are needed: renumber them
    used, bj = np.unique(bj, return_inverse=True)
    b, nb = b[used], len(used)
    e = _edges(b)
    fb = shapely.bounds(fp)
    # reach: twice the farthest corner of the footprint's box from the viewpoint
    with np.errstate(invalid="ignore"):
        rx = np.maximum(np.abs(fb[:, 0] - x), np.abs(fb[:, 2] - x))
        ry = np.maximum(np.abs(fb[:, 1] - y), np.abs(fb[:, 3] - y))
    reach = 2.0 * np.hypot(rx, ry)
    # convex buildings (most): one hull gives the building and its shadow together
    convex = (shapely.get_type_id(b) == 3) & (shapely.get_num_interior_rings(b) == 0)
    convex[convex] = shapely.area(shapely.convex_hull(b[convex])) <= shapely.area(b[convex]) * (1 + 1e-12)
    bparts, bpart_of = shapely.get_parts(b, return_index=True)
    bpart_start = np.searchsorted(bpart_of, np.arange(nb), side="left")
    bpart_count = np.searchsorted(bpart_of, np.arange(nb), side="right") - bpart_start
    cand = np.unique(fi)
    # chunks of footprints of about equal numbers of candidate pairs
    weight = np.bincount(fi, minlength=n)[cand]
    bounds = balanced_bounds(weight, n_chunks=max(1, int(np.ceil(len(fi) / _CHUNK)), 4 * WORKERS), min_chunk=16)
    pair_start = np.searchsorted(fi, cand, side="left")
    pair_stop = np.searchsorted(fi, cand, side="right")

    def chunk(a: int, c: int) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = pair_start[a], pair_stop[c - 1]
        f, j, sp, on = fi[lo:hi], bj[lo:hi], shadow_pair[lo:hi], on_pair[lo:hi]
        hull = sp & convex[j] & ~on
        s = np.flatnonzero(sp & ~hull)
        h = np.flatnonzero(hull)
        quads, qpair = _shadows(x[f[s]], y[f[s]], reach[f[s]], e, j[s], on[s])
        hulls = _hull_shadows(x[f[h]], y[f[h]], reach[f[h]], e, j[h]) if h.size else np.array([], dtype=object)
        # the other buildings themselves (each of their polygons): interiors are never covered
        rest = np.flatnonzero(~hull)
        cnt = bpart_count[j[rest]]
        bp_pair = rest[np.repeat(np.arange(len(rest)), cnt)]
        bp = bparts[bpart_start[j[bp_pair]] + np.arange(len(bp_pair)) - np.repeat(np.cumsum(cnt) - cnt, cnt)]
        parts = np.concatenate([quads, hulls, bp])
        owner = np.concatenate([f[s][qpair], f[h], f[bp_pair]])
        srt = np.argsort(owner, kind="stable")
        groups, group = np.unique(owner[srt], return_inverse=True)
        parts = parts[srt]
        # a footprint hidden by one convex building alone (most) has its hull as the hidden
        # region already: a valid convex polygon, no union to resolve
        n_parts = np.bincount(group, minlength=len(groups))
        is_hull = np.zeros(len(owner), dtype=bool)
        is_hull[len(quads) : len(quads) + len(hulls)] = True
        first = np.searchsorted(group, np.arange(len(groups)))
        alone = (n_parts == 1) & is_hull[srt][first] & (shapely.get_type_id(parts[first]) == 3)
        hidden = np.empty(len(groups), dtype=object)
        hidden[alone] = parts[first[alone]]
        mixed = ~alone[group]
        if mixed.any():
            hidden[~alone] = _union_groups(parts[mixed], np.cumsum(~alone)[group[mixed]] - 1, int((~alone).sum()))
        return groups, shapely.difference(fp[groups], hidden)

    for groups, vis in map_chunks(chunk, bounds):
        out[groups] = vis
    return VisibleFootprints(out, inside)
