"""Administrative units beyond reading polygons: hamlets from points, and the unit tree.

No open data has hamlet (thôn, ấp, tổ dân phố) boundaries; communes often know only where each
hamlet's centre (nhà văn hoá, trụ sở) is. :func:`hamlets_from_points` turns such points into
approximate hamlet areas: the Voronoi cells of the points of one commune, clipped to that
commune (``approximate=True``), so that they tile the commune exactly.
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from collections.abc import Iterable

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ._errors import GeoAnttError, Problem, ValidationError
from ._geometry import polygonal_part as _polygonal_part
from ._threads import threaded as _threaded
from .crs import WGS84, metric_crs_for, project
from .schema import UNIT_COLUMNS


def _warn(message: str) -> None:
    warnings.warn(message, UserWarning, stacklevel=3)


__all__ = [
    "hamlets_from_points",
    "resolve_code",
    "units_under",
    "children",
    "descendants",
    "ancestors",
    "check_parents",
]


def _commune_of_points(points_m: gpd.GeoSeries, communes_m: gpd.GeoDataFrame) -> np.ndarray:
    """Code of the commune containing each point (None when none does); vectorised STRtree."""
    # the communes (prepared) as query geometries against a tree of the points
    poly_idx, pt_idx = shapely.STRtree(points_m.to_numpy()).query(
        communes_m.geometry.to_numpy(), predicate="intersects"
    )
    out = np.full(len(points_m), None, dtype=object)
    codes = communes_m.index.to_numpy()
    # a point on a shared border: the first commune wins (stable order)
    first = pd.Series(poly_idx).groupby(pt_idx).min()
    out[first.index.to_numpy()] = codes[first.to_numpy()]
    return out


def _voronoi_cells(
    parent: list[str | None],
    contained: np.ndarray,
    points: np.ndarray,
    communes: gpd.GeoSeries,
    codes: pd.Index,
    source: str,
) -> tuple[np.ndarray, list[str]]:
    """The Voronoi cell of every point inside its ``parent`` commune (metric), and the points
    that lie outside it (for a warning). Every commune at once: one Voronoi diagram per commune
    in one vectorised call, each cell matched to its point, and the clipping to the commune
    spread over the cores.

    Raises
    ------
    ValidationError
        Two hamlets of one commune at the same place (one problem per commune).
    """
    groups: dict[str, list[int]] = defaultdict(list)
    for i, p in enumerate(parent):
        assert p is not None  # the caller raised for every hamlet without a commune
        groups[p].append(i)
    cells = np.empty(len(parent), dtype=object)
    multi: list[str] = []
    for code, members in groups.items():
        if len(members) == 1:
            cells[members[0]] = communes.loc[code]  # one hamlet: the whole commune
        else:
            multi.append(code)
    if not multi:
        return cells, []
    rows = np.concatenate([groups[c] for c in multi])
    group = np.repeat(np.arange(len(multi)), [len(groups[c]) for c in multi])
    xy = shapely.get_coordinates(points[rows])
    same = pd.DataFrame({"g": group, "x": xy[:, 0], "y": xy[:, 1]}).duplicated(keep=False).to_numpy()
    if same.any():
        problems = [
            Problem(
                source,
                None,
                "geometry",
                ", ".join(str(codes[r]) for r in rows[same & (group == gi)]),
                f"hamlets of commune {multi[gi]} at the same place",
            )
            for gi in np.unique(group[same])
        ]
        raise ValidationError(problems)
    commune_geoms = np.asarray(communes.loc[multi].to_numpy(), dtype=object)
    regions = _threaded(
        lambda mp, ext: shapely.voronoi_polygons(mp, extend_to=ext, ordered=True),
        shapely.multipoints(xy, indices=group),
        commune_geoms,
        min_chunk=8,
    )
    parts, part_group = shapely.get_parts(regions, return_index=True)
    # ordered=True keeps input order; match by containment to be safe across GEOS versions:
    # the first cell of the point's own commune that holds it
    pi, ci = shapely.STRtree(parts).query(shapely.points(xy), predicate="intersects")
    own = part_group[ci] == group[pi]
    cell_of = pd.Series(ci[own]).groupby(pi[own]).min().reindex(range(len(rows))).to_numpy()
    cell_geoms, own_commune = parts[cell_of], commune_geoms[group]
    # a cell lying inside its commune is its own clip: only the cells that cross the commune's
    # border are intersected with it (prepared tests; rows of one commune stay in one chunk)
    shapely.prepare(commune_geoms)
    try:
        inside = _threaded(shapely.contains_properly, own_commune, cell_geoms, keys=group, min_chunk=32)
    finally:
        shapely.destroy_prepared(commune_geoms)
    clipped = cell_geoms.copy()
    cross = np.flatnonzero(~inside)
    clipped[cross] = _threaded(shapely.intersection, cell_geoms[cross], own_commune[cross], min_chunk=32)
    # the polygonal part of each clipped cell (None: the point's cell misses its commune)
    tid = shapely.get_type_id(clipped)
    polygonal = np.isin(tid, (3, 6)) & ~shapely.is_empty(clipped)
    polys: np.ndarray = np.where(polygonal, clipped, None)  # type: ignore[assignment]  # numpy's stubs read y=None as where(cond)
    for k in np.flatnonzero(~polygonal & (tid >= 0)).tolist():  # collections, rarely
        polys[k] = _polygonal_part(clipped[k])
    cells[rows] = polys
    missing = np.array([p is None for p in polys.tolist()], dtype=bool)
    # the points' own commune test: a point given a parent it lies outside of
    found = contained[rows]
    moved = (found != None) & (found != np.asarray(multi, dtype=object)[group])  # noqa: E711 (elementwise)
    outside: list[str] = []
    for gi in np.unique(group[missing | moved]).tolist():  # by commune: its lost cells, then its moved points
        sel = np.flatnonzero(group == gi)
        outside += [str(codes[rows[k]]) for k in sel[missing[sel]]]
        outside += [f"{codes[rows[k]]} (in {found[k]}, parent {multi[gi]})" for k in sel[moved[sel]]]
    return cells, outside


def hamlets_from_points(
    points: gpd.GeoDataFrame,
    communes: gpd.GeoDataFrame,
    *,
    metric_crs: object = None,
    source: str = "points",
) -> gpd.GeoDataFrame:
    """Approximate hamlet areas from hamlet centre points: Voronoi cells clipped to the commune.

    Parameters
    ----------
    points
        One Point per hamlet; index = hamlet code (or a ``code`` column), ``name`` and
        optionally ``parent_code`` (the commune's code). Without ``parent_code`` (or where it
        is blank) the commune containing the point is used.
    communes
        Commune polygons (a units frame: index = code; when it holds several levels, its
        communes are used).
    metric_crs
        CRS the cells are computed in (metres); default: the UTM zone of the communes.
    source
        Name of the input used in problem reports (a file name).

    Returns
    -------
    GeoDataFrame
        Units frame (``UNIT_COLUMNS``, EPSG:4326, index = code) with ``level="hamlet"`` and
        ``approximate=True``; the hamlets of one commune tile it exactly (a commune with one
        hamlet point gets the whole commune). Other columns of ``points`` are kept.

    Raises
    ------
    ValidationError
        A point outside every commune, a ``parent_code`` not among the communes, two hamlets
        of one commune at the same place, a missing point.
    """
    if points.crs is None or communes.crs is None:
        raise GeoAnttError("hamlets_from_points: points and communes need a CRS")
    pts = points.copy()
    if "code" in pts.columns:
        pts.index = pd.Index([str(c) for c in pts["code"]], name="code")
    else:
        pts.index = pd.Index([str(c) for c in pts.index], name="code")
    if "level" in communes.columns and (communes["level"] == "commune").any():
        communes = communes[communes["level"] == "commune"]  # a frame of several levels
    crs_m = metric_crs_for(communes, crs=metric_crs)
    com_m = project(communes, crs_m)
    pts_m = project(pts, crs_m)
    problems: list[Problem] = []
    geoms = pts_m.geometry
    has_pt = ~(geoms.isna() | geoms.is_empty)
    for i in np.flatnonzero(~has_pt.to_numpy()).tolist():
        problems.append(Problem(source, i + 1, "geometry", None, f"hamlet {pts.index[i]}: no point"))
    contained = np.full(len(pts), None, dtype=object)
    if has_pt.any():
        contained[has_pt.to_numpy()] = _commune_of_points(geoms[has_pt], com_m)
    given = pts["parent_code"].tolist() if "parent_code" in pts.columns else [None] * len(pts)
    parent: list[str | None] = []
    for i, (g, c) in enumerate(zip(given, contained)):
        g = None if g is None or (isinstance(g, float) and np.isnan(g)) or str(g).strip() == "" else str(g)
        if g is not None and g not in com_m.index:
            problems.append(
                Problem(
                    source, i + 1, "parent_code", g, f"hamlet {pts.index[i]}: commune {g} is not among the communes"
                )
            )
            parent.append(None)
            continue
        if g is None and c is None and has_pt.iloc[i]:
            problems.append(
                Problem(
                    source, i + 1, "geometry", geoms.iloc[i].wkt, f"hamlet {pts.index[i]}: the point lies in no commune"
                )
            )
        parent.append(g if g is not None else c)
    if problems:
        raise ValidationError(problems)
    # a point inside its given commune belongs there even where that commune overlaps a
    # neighbour (real boundaries do): only a point outside its own commune is "moved"
    given_rows = np.flatnonzero([g is not None and c is not None and g != c for g, c in zip(parent, contained)])
    if len(given_rows):
        own = com_m.geometry.loc[[parent[i] for i in given_rows]].to_numpy()
        keep = shapely.intersects(own, geoms.to_numpy()[given_rows])
        contained[given_rows[keep]] = [parent[i] for i in given_rows[keep]]

    cells, outside = _voronoi_cells(parent, contained, geoms.to_numpy(), com_m.geometry, pts.index, source)
    if outside:
        _warn(f"{source}: hamlet point(s) outside their parent commune: {', '.join(outside[:20])}")

    out = pts.drop(columns=[c for c in ("code", "level", "parent_code", "approximate") if c in pts.columns])
    out = gpd.GeoDataFrame(out.drop(columns=pts.geometry.name), geometry=list(cells), crs=crs_m)
    out = project(out, WGS84)
    out.insert(0, "code", out.index.to_numpy())
    if "name" not in out.columns:
        out.insert(1, "name", out.index.to_numpy())
    out["level"] = "hamlet"
    out["parent_code"] = parent
    out["approximate"] = True
    for c in ("valid_from", "valid_to"):
        if c not in out.columns:
            out[c] = None
    first = list(UNIT_COLUMNS)
    out = out[first + [c for c in out.columns if c not in first]]
    return out


# --------------------------------------------------------------------------------------------
# the unit tree


def children(units: gpd.GeoDataFrame | pd.DataFrame, code: str) -> list[str]:
    """Codes of the units whose ``parent_code`` is ``code`` (in frame order)."""
    return [str(c) for c in units.index[units["parent_code"].to_numpy() == code]]


def descendants(units: gpd.GeoDataFrame | pd.DataFrame, code: str) -> list[str]:
    """Codes of every unit below ``code`` (children, their children...), breadth first."""
    by_parent: dict[str, list[str]] = defaultdict(list)
    for c, p in zip(units.index, units["parent_code"]):
        if p is not None and p == p:
            by_parent[str(p)].append(str(c))
    out: list[str] = []
    queue = list(by_parent.get(code, ()))
    seen = {code}
    while queue:
        c = queue.pop(0)
        if c in seen:  # a cycle in bad data
            continue
        seen.add(c)
        out.append(c)
        queue.extend(by_parent.get(c, ()))
    return out


def ancestors(units: gpd.GeoDataFrame | pd.DataFrame, code: str) -> list[str]:
    """Codes from ``code``'s parent up to the root (only units present in ``units``)."""
    parent = dict(zip(map(str, units.index), units["parent_code"]))
    out: list[str] = []
    cur = parent.get(code)
    while cur is not None and cur == cur and cur in parent and cur not in out and cur != code:
        out.append(cur)
        cur = parent.get(cur)
    return out


def check_parents(units: gpd.GeoDataFrame | pd.DataFrame, *, levels: Iterable[str] | None = None) -> list[str]:
    """Codes of units whose ``parent_code`` names a unit absent from ``units`` (orphans).

    Only units of ``levels`` (default: every level whose parent level is present in the
    frame) are checked, so a commune file alone has no orphans.
    """
    present_levels = set(units["level"])
    order = ("province", "district", "commune", "hamlet")
    if levels is None:
        levels = [
            lv
            for i, lv in enumerate(order)
            if i > 0 and lv in present_levels and any(o in present_levels for o in order[:i])
        ]
    levels = set(levels)
    codes = set(map(str, units.index))
    return [
        str(c)
        for c, lv, p in zip(units.index, units["level"], units["parent_code"])
        if lv in levels and p is not None and p == p and str(p) not in codes
    ]


def resolve_code(units: pd.DataFrame, query: str) -> str:
    """The code of the unit ``query`` names: a code, or a name matched without diacritics and
    with or without its type word ("Hàm Thuận Nam", "huyen ham thuan nam").

    Raises
    ------
    NotFoundError
        When no unit (or more than one) matches.
    """
    if str(query) in set(units.index.astype(str)):
        return str(query)
    from .stats import resolve_unit

    return str(resolve_unit(units, str(query)))


def units_under(units: pd.DataFrame, code: str) -> pd.DataFrame:
    """The unit ``code`` and all its descendants (through ``parent_code``).

    Raises
    ------
    NotFoundError
        When ``code`` is not a unit.
    """
    idx = units.index.astype(str)
    code = resolve_code(units, code)
    parent = (
        units["parent_code"].astype("string").fillna("")
        if "parent_code" in units.columns
        else pd.Series("", index=units.index)
    )
    keep = {str(code)}
    frontier = {str(code)}
    while frontier:
        children = set(idx[parent.isin(frontier).to_numpy()]) - keep
        keep |= children
        frontier = children
    return units.loc[idx.isin(keep)]
