"""Ranking of the uncovered units and the weighted coverage of a unit set."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .._errors import GeoAnttError
from ..crs import to_metric
from ..stats import street_share_order
from ._helpers import _as_metric, _polygonal_units, _weights_from_column

__all__ = ["rank_uncovered", "weighted_coverage"]


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
    order, pct = street_share_order(road, covered)
    out["kind_covered_pct"] = pct
    out["demand_weight"] = road
    out["weighted_covered_pct"] = pct
    out["uncovered_need"] = np.maximum(road - covered, 0.0)
    out["uncovered"] = pct < float(threshold_pct)
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
        units_m = _polygonal_units(
            to_metric(gpd.GeoDataFrame(geo_units, geometry=geo_units.geometry.name, crs=geo_units.crs))
        )
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
