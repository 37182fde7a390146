"""A placement plan end to end: demand, candidates, solver, proposed models and their gain."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .._errors import CRSError, GeoAnttError, NotFoundError
from ..config import DEFAULT_SETTINGS, Settings
from ..crs import metric_crs_for, to_metric, to_wgs84
from ..layers import MAX_MIN_SPACING_M, LayerSpec, bound_problem, load_layer_specs
from ..tiers import TierRun, apply_tier, tier_range_m
from ._helpers import _polygonal_units
from .candidates import (
    _footprint_params,
    _spec_for,
    area_pieces,
    candidate_footprints,
    candidate_sites,
    coverage_matrix,
)
from .demand import demand_points
from .solvers import solve_mclp, spacing_conflicts
from .streets import street_demand, street_sites

if TYPE_CHECKING:
    from ..terrain import ElevationSource

__all__ = ["PlanResult", "plan_sites", "plan_count", "planning_units", "sites_feature_collection"]


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


def _tier_range(
    spec: LayerSpec, tier: str, *, range_m: float | None, fov_deg: float | None, resolution_px: float | None
) -> tuple[float, float]:
    """(range of ``tier`` for a new camera of ``spec``'s kind, metres; its resolution, pixels)."""
    t = spec.tier(tier)
    if t is None:
        known = ", ".join(x.code for x in spec.tiers)
        raise GeoAnttError(
            f"a {spec.kind} has no tier {tier!r}"
            + (f"; its tiers: {known}" if known else " (its layer file declares none)")
        )
    if range_m is not None:
        raise GeoAnttError("give a tier or a range_m, not both: the tier sets the range of the new cameras")
    res = spec.placement_resolution_px if resolution_px is None else float(resolution_px)
    reason = bound_problem(spec, "resolution_px", res)
    if reason is not None:
        raise GeoAnttError(f"resolution_px {reason}, got {res!r}")
    fov = float(fov_deg if fov_deg is not None else spec.defaults.get("fov_deg", 90.0))
    rng = float(tier_range_m(res, fov, t.px_per_m, max_range_m=spec.bounds["range_m"][1])[0])
    return rng, res


def _tier_run_in(models: gpd.GeoDataFrame, units_m: gpd.GeoDataFrame, run: TierRun, specs) -> TierRun:
    """``run`` counted over the models standing in ``units_m`` (metric) only."""
    if not len(models) or models.crs is None:
        return TierRun(run.tier, 0, 0)
    area = shapely.union_all(units_m.geometry.to_numpy())
    g = models.to_crs(units_m.crs).geometry.to_numpy()
    inside = shapely.intersects(area, g) & ~shapely.is_missing(g)
    return apply_tier(models.loc[inside], run.tier, specs)[1]


def _active_models(models: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    if "status" not in models.columns:
        return models
    return models.loc[models["status"] == "active"]


def _proposed_models(sites_m, chosen_fp, spec, params, *, id_prefix: str) -> gpd.GeoDataFrame:
    from ..schema import MODEL_COLUMNS

    n = len(chosen_fp)
    ids = [f"{id_prefix}{k + 1:03d}" for k in range(n)]
    rows: dict[str, list[Any]] = {c: [None] * n for c in MODEL_COLUMNS}
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
    roads: gpd.GeoDataFrame | None = None,
    buildings: gpd.GeoDataFrame | None = None,
    dem: ElevationSource | None = None,
    min_spacing_m: float | None = None,
    tier: str | None = None,
    resolution_px: float | None = None,
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
        Demand lattice spacing, metres (default: a quarter of the reach, between 2 and 25 m;
        along streets a 25th of the reach, between 1 and 5 m).
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
    roads
        Road lines (any CRS): plan along streets. Without ``demand``, the demand is the
        uncovered street length (``gain_weight`` and the objective in metres of street); without
        ``candidates``, the sites stand on the streets, one every ``candidate_spacing_m`` metres
        (default: the footprint reach); the before/after figures carry the street columns.
    buildings
        Building footprints (Polygons, any CRS): candidates are evaluated with their visible
        footprints (when the kind's layer file says ``occluded = true``), a candidate site inside
        a building is left out, existing coverage is the visible one, building interiors are no
        demand, and the before/after figures come from ``compute_coverage(..., buildings=)``.
    dem
        An elevation model (:func:`geo_antt.io.dem.open_dem`): existing and candidate footprints
        of an ``occluded`` kind also lose the ground their model cannot see from its
        ``height_m`` (candidates: the kind's default) over the terrain, and the before/after
        figures come from ``compute_coverage(..., dem=)``.
    min_spacing_m
        No two proposed sites stand closer than this, metres (default: the layer spec's
        ``[placement] min_spacing_m``, 30 m for cameras; 0: no limit). Every solver but
        "spopt" keeps to it.
    tier
        Plan for one purpose of the kind's ``[tiers]`` (``detect``, ``observe``, ``recognise``,
        ``identify``; :mod:`geo_antt.tiers`): the candidates' range is that tier's range for a
        camera of ``resolution_px`` and ``fov_deg`` (so ``range_m`` may not be given too), and
        the registered cameras count with their tier ranges (those without a resolution keep
        their ``range_m``: ``stats["tier_unknown"]``). With ``buildings`` the candidates are
        judged by the visible part of that footprint.
    resolution_px
        Horizontal resolution of the new cameras, pixels (default: the layer spec's
        ``[placement] resolution_px``, 1920 for cameras); only with ``tier``.

    Returns
    -------
    PlanResult
    """
    import warnings

    from scipy import sparse

    from ..coverage import (
        building_pieces,
        compute_coverage,
        model_heights,
        occluded_footprints,
        terrain_occluded_footprints,
    )
    from ..footprints import footprints as build_footprints
    from ..terrain import terrain_footprints
    from ..visibility import visible_footprints

    t_start = time.perf_counter()
    specs = specs if specs is not None else load_layer_specs()
    settings = settings or DEFAULT_SETTINGS
    spec = _spec_for(kind, specs)
    n = plan_count(count=count, budget_vnd=budget_vnd, unit_cost_vnd=unit_cost_vnd)
    tier_run: TierRun | None = None
    new_resolution = math.nan
    if tier is not None:
        range_m, new_resolution = _tier_range(spec, tier, range_m=range_m, fov_deg=fov_deg, resolution_px=resolution_px)
        models, tier_run = apply_tier(models, tier, specs)
    elif resolution_px is not None:
        raise GeoAnttError("resolution_px (the new cameras' pixels) goes with a tier: give tier too")
    params = _footprint_params(
        spec,
        fov_deg=fov_deg,
        range_m=range_m,
        radius_m=radius_m,
        directions_deg=directions_deg,
        n_directions=n_directions,
    )
    mcrs = metric_crs_for(units, crs=settings.metric_crs)
    units_m = _polygonal_units(to_metric(units, crs=mcrs))
    if tier_run is not None:  # count the cameras of the planned area only
        tier_run = _tier_run_in(models, units_m, tier_run, specs)
    if models.crs is None:
        if len(models):
            raise CRSError("models have no CRS: say which one they are in (e.g. EPSG:4326)")
        models = models.set_crs(4326)
    models_m = models.to_crs(mcrs)
    active = _active_models(models_m)
    seg = settings.sector_segments
    existing = build_footprints(active, specs=specs, segments_per_quarter=seg) if len(active) else None
    bpieces = building_pieces(buildings, mcrs) if buildings is not None else None
    if bpieces is not None and existing is not None and len(existing):
        with warnings.catch_warnings():  # a model inside a building: the before figures warn once
            warnings.simplefilter("ignore", UserWarning)
            existing = occluded_footprints(existing, active, bpieces, specs=specs)
    if dem is not None and existing is not None and len(existing):
        existing = terrain_occluded_footprints(existing, active, dem, mcrs, specs=specs)
    existing_geom = None if existing is None or existing.empty else np.asarray(existing.geometry.values, dtype=object)
    if bpieces is not None and len(bpieces):  # the inside of a building is never demand
        existing_geom = bpieces if existing_geom is None else np.concatenate([existing_geom, bpieces])

    reach = params["reach_m"]
    cand_spacing = candidate_spacing_m if candidate_spacing_m is not None else max(2.0 * reach, 5.0)
    dem_spacing = demand_spacing_m if demand_spacing_m is not None else min(25.0, max(2.0, reach / 4.0))
    gaps_geom = None
    by_street = roads is not None and len(roads) > 0
    if by_street and demand is None:
        demand, weight_column = street_demand(roads, units_m, crs=mcrs), "length_m"
        if demand_spacing_m is None:  # one demand point per 2 m of street (a 50 m camera): an
            dem_spacing = min(5.0, max(1.0, reach / 25.0))  # edge of a footprint errs by less
    if by_street and candidates is None:
        cand_spacing = candidate_spacing_m if candidate_spacing_m is not None else max(reach, 5.0)
        candidates = street_sites(roads, units_m, crs=mcrs, spacing_m=cand_spacing, max_sites=max_candidates)
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
    if bpieces is not None and len(fps) and len(bpieces):
        # what each candidate would see; a site inside a building cannot take a model
        at = sites_m.geometry.reindex(fps["site_id"].to_numpy()).to_numpy()
        vis = visible_footprints(
            fps.geometry.to_numpy(),
            shapely.get_x(at),
            shapely.get_y(at),
            bpieces,
            occluded=np.full(len(fps), spec.occluded),
        )
        fps = fps.set_geometry(gpd.GeoSeries(vis.geoms, index=fps.index, crs=fps.crs))
        fps = fps.loc[~vis.inside & ~shapely.is_empty(vis.geoms) & (shapely.area(vis.geoms) > 0)].reset_index(drop=True)
    if dem is not None and len(fps) and spec.occluded:
        # what each candidate would see over the terrain, from the kind's default height
        at = sites_m.geometry.reindex(fps["site_id"].to_numpy()).to_numpy()
        height = model_heights(pd.DataFrame({"kind": [spec.kind]}), specs)[0]
        seen = terrain_footprints(
            fps.geometry.to_numpy(),
            shapely.get_x(at),
            shapely.get_y(at),
            np.full(len(fps), height),
            dem,
            mcrs,
            occluded=np.ones(len(fps), dtype=bool),
            ids=[f"candidate {s}" for s in fps["site_id"]],
        )
        fps = fps.set_geometry(gpd.GeoSeries(seen, index=fps.index, crs=fps.crs))
        fps = fps.loc[~shapely.is_empty(seen) & (shapely.area(seen) > 0)].reset_index(drop=True)
    xy = np.column_stack([shapely.get_x(sites_m.geometry.values), shapely.get_y(sites_m.geometry.values)])
    if demand is None:
        weights, a = area_pieces(fps, units_m, covered=existing_geom)
        n_demand, n_open = int(a.shape[0]), int(a.shape[0])
    else:
        dpts = demand_points(
            units_m,
            covered=existing_geom,
            demand=demand,
            weight_column=weight_column,
            spacing_m=dem_spacing,
            near=xy if len(xy) else None,
            reach_m=reach if len(xy) else None,
            crs=mcrs,
        )
        open_dem = dpts.loc[~dpts["covered"].to_numpy()]
        weights = open_dem["weight"].to_numpy()
        a = coverage_matrix(open_dem, fps)
        n_demand, n_open = int(len(dpts)), int(len(open_dem))
    site_pos = pd.Index(sites_m.index.astype(str)).get_indexer(fps["site_id"])
    # among sites of equal gain, those in the least covered units first: priority 1 for the
    # least covered unit down to 0 for the best covered (by rank; units outside: 0)
    kw: dict[str, Any] = {"specs": specs, "settings": settings}
    if level is not None:
        kw["level"] = level
    if by_street:
        kw.update(roads=roads, with_street_gaps=False)
    if buildings is not None:
        kw["buildings"] = buildings
    if dem is not None:
        kw["dem"] = dem
    before = compute_coverage(units, models, **kw).units
    share = "road_covered_pct" if by_street and "road_covered_pct" in before.columns else "covered_pct"
    pct = pd.to_numeric(before[share], errors="coerce").fillna(100.0)  # a unit without roads: no need
    order = pct.rank(method="average", ascending=False)  # highest share: rank 1
    unit_need = (order - 1) / max(len(order) - 1, 1) if len(order) > 1 else order * 0 + 1.0
    need = unit_need.reindex(sites_m["unit_code"].astype(object)).fillna(0.0).to_numpy(dtype=float)
    spacing = float(spec.min_spacing_m if min_spacing_m is None else min_spacing_m)
    if not (math.isfinite(spacing) and 0.0 <= spacing <= MAX_MIN_SPACING_M):
        raise GeoAnttError(f"min_spacing_m must be metres in [0, {MAX_MIN_SPACING_M:g}], got {min_spacing_m!r}")
    conflicts = spacing_conflicts(xy[site_pos], spacing, groups=site_pos) if len(site_pos) else None
    t_prep = time.perf_counter() - t_start
    res = solve_mclp(
        a,
        weights,
        count=n,
        groups=site_pos,
        solver=solver,
        time_limit_s=time_limit_s,
        compare_greedy=compare_greedy,
        priority=need[site_pos],
        conflicts=conflicts,
    )
    chosen = res["chosen"]
    # rank the chosen footprints by a greedy replay: marginal demand weight, then area
    a_c = sparse.csc_matrix(a[:, chosen], dtype=bool) if len(chosen) else None
    chosen_need = need[site_pos[chosen]]
    wv = weights
    order = []
    gains_w: list[float] = []
    if len(chosen):
        assert a_c is not None  # built above whenever something is chosen
        alive = np.ones(a.shape[0], dtype=bool)
        remaining = list(range(len(chosen)))
        while remaining:
            best, best_gain = None, -1.0
            for k in remaining:
                rows = a_c.indices[a_c.indptr[k] : a_c.indptr[k + 1]]
                g = float(wv[rows[alive[rows]]].sum())
                if g > best_gain or (g == best_gain and chosen_need[k] > chosen_need[best]):
                    best, best_gain = k, g
            assert best is not None  # every gain beats -1
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
    new_models["resolution_px"] = new_resolution
    # marginal area gain (m²) in rank order, against existing coverage and earlier ranks
    union_units = shapely.union_all(units_m.geometry.values)
    covered_so_far = shapely.union_all(existing_geom) if existing_geom is not None else shapely.Polygon()
    gains_m2 = []
    for poly in chosen_fp.geometry.values:
        piece = shapely.difference(shapely.intersection(poly, union_units), covered_so_far)
        gains_m2.append(float(shapely.area(piece)))
        covered_so_far = shapely.union(covered_so_far, poly)
    sites = new_models[
        ["kind", "unit_code", "direction_deg", "fov_deg", "range_m", "radius_m", "status", "geometry"]
    ].copy()
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
        "demand": (
            "area pieces (exact m²)"
            if demand is None
            else f"streets (metres), one point per {dem_spacing:g} m cell"
            if by_street and weight_column == "length_m"
            else f"layer, lattice {dem_spacing:g} m"
        ),
        "candidate_spacing_m": float(cand_spacing) if candidates is None or by_street else None,
        "by": "street" if by_street else "area",
        "min_spacing_m": spacing,
        "n_spacing_conflicts": 0 if conflicts is None else int(len(conflicts)),
        "count": int(n),
        "reduced_rows": res["n_rows"],
        "reduced_nnz": res["nnz"],
        "bound": res.get("bound"),
        "proven_by_bound": bool(res.get("proven_by_bound", False)),
        "prepare_seconds": t_prep,
        "solve_seconds": res["seconds"],
        "total_seconds": time.perf_counter() - t_start,
        "metric_crs": mcrs.to_string(),
        **(
            {
                "tier": tier_run.tier,
                "tier_range_m": float(params["range_m"]),
                "resolution_px": float(new_resolution),
                "tier_rated": tier_run.rated,
                "tier_unknown": tier_run.unknown,
            }
            if tier_run is not None
            else {}
        ),
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


def planning_units(units: gpd.GeoDataFrame, code: str) -> gpd.GeoDataFrame:
    """The polygons to plan over for unit ``code``: its hamlets, or the smallest units under it,
    or the unit itself.
    """
    from ..units import units_under

    scope = units_under(units, code)
    if "level" in scope.columns:
        for level in ("hamlet", "commune"):
            sub = scope.loc[(scope["level"] == level).to_numpy()]
            sub = sub.loc[sub.geometry.notna() & sub.geometry.geom_type.isin(["Polygon", "MultiPolygon"])]
            if len(sub):
                return sub
    sub = scope.loc[scope.geometry.notna()]
    if sub.empty:
        raise NotFoundError(f"unit {code!r} has no polygon to plan over")
    return sub


def sites_feature_collection(result, *, decimals: int = 7) -> dict:
    """GeoJSON FeatureCollection of the proposed sites (``layer`` = "site") followed by their
    footprints (``layer`` = "footprint"), RFC 7946 (WGS84, 7 decimals).
    """
    from ..io import to_geojson_dict

    sites = result.sites.copy()
    sites["layer"] = "site"
    sites["direction_deg"] = sites["direction_deg"].map(lambda t: list(t) if isinstance(t, tuple) else t)
    fps = result.footprints.copy()
    fps["layer"] = "footprint"
    fc: dict = {"type": "FeatureCollection", "features": []}
    for frame in (sites, fps):
        fc["features"].extend(to_geojson_dict(frame.reset_index(), decimals=decimals)["features"])
    fc["properties"] = {
        "objective": result.objective,
        "solver": result.solver,
        "optimal": result.optimal,
        "greedy_objective": result.greedy_objective,
        "gap_to_optimum": result.gap_to_optimum,
    }
    return fc
