"""Placement: MCLP exactness against brute force, greedy gap, demand, candidates, plans."""

from __future__ import annotations

import itertools
import math

import geopandas as gpd
import numpy as np
import pytest
import shapely
from scipy import sparse

from geo_antt._errors import GeoAnttError, ValidationError
from geo_antt.placement import (
    coverage_matrix,
    demand_points,
    candidate_sites,
    plan_count,
    rank_uncovered,
    solve_mclp,
)

UTM48 = "EPSG:32648"


def _random_instance(seed, n_rows=40, n_cols=10, density=0.25):
    rng = np.random.default_rng(seed)
    a = rng.random((n_rows, n_cols)) < density
    w = rng.integers(1, 20, n_rows).astype(float)
    return a, w


def _brute(a, w, p, groups=None):
    n = a.shape[1]
    groups = np.arange(n) if groups is None else np.asarray(groups)
    best = 0.0
    for k in range(1, p + 1):
        for combo in itertools.combinations(range(n), k):
            if len(set(groups[list(combo)])) < k:
                continue
            best = max(best, float(w[a[:, list(combo)].any(axis=1)].sum()))
    return best


def _value(a, w, chosen):
    chosen = list(chosen)
    return float(w[a[:, chosen].any(axis=1)].sum()) if chosen else 0.0


@pytest.mark.parametrize("seed", range(8))
def test_exact_mclp_equals_brute_force_10_choose_3(seed):
    a, w = _random_instance(seed)
    best = _brute(a, w, 3)
    res = solve_mclp(sparse.csr_matrix(a), w, count=3, solver="exact")
    assert res["optimal"]
    assert res["objective"] == pytest.approx(best)
    assert len(res["chosen"]) <= 3
    assert _value(a, w, res["chosen"]) == pytest.approx(best)
    # greedy is never better than the optimum, and its gap is reported
    assert res["greedy_objective"] <= best + 1e-9
    assert res["gap_to_optimum"] == pytest.approx((best - res["greedy_objective"]) / best)


@pytest.mark.parametrize("seed", range(4))
def test_spopt_mclp_equals_brute_force(seed):
    a, w = _random_instance(100 + seed)
    best = _brute(a, w, 3)
    res = solve_mclp(sparse.csr_matrix(a), w, count=3, solver="spopt")
    assert res["solver"] == "spopt"
    assert res["objective"] == pytest.approx(best)
    assert _value(a, w, res["chosen"]) == pytest.approx(best)


def test_greedy_gap_is_positive_on_a_known_trap():
    # column 0 is the single best (weight 4.0) but columns 1 + 2 together cover more (7.0):
    # greedy takes column 0, then adds 1.5 -> 5.5
    a = np.array([[1, 1, 0], [1, 1, 0], [1, 0, 1], [1, 0, 1], [0, 1, 0], [0, 0, 1]], dtype=bool)
    w = np.array([1.0, 1.0, 1.0, 1.0, 1.5, 1.5])
    res = solve_mclp(sparse.csr_matrix(a), w, count=2, solver="exact")
    assert res["objective"] == pytest.approx(7.0)
    assert sorted(res["chosen"]) == [1, 2]
    assert res["greedy_objective"] == pytest.approx(5.5)
    assert res["gap_to_optimum"] == pytest.approx(1.5 / 7.0)
    g = solve_mclp(sparse.csr_matrix(a), w, count=2, solver="greedy")
    assert g["objective"] == pytest.approx(5.5) and g["gap_to_optimum"] is None


@pytest.mark.parametrize("seed", range(5))
def test_one_direction_per_site_is_respected_and_optimal(seed):
    # 5 sites x 2 directions = 10 columns, choose 3
    a, w = _random_instance(200 + seed, density=0.3)
    groups = np.repeat(np.arange(5), 2)
    best = _brute(a, w, 3, groups)
    res = solve_mclp(sparse.csr_matrix(a), w, count=3, groups=groups, solver="exact")
    assert res["objective"] == pytest.approx(best)
    assert len(set(groups[res["chosen"]])) == len(res["chosen"])
    gr = solve_mclp(sparse.csr_matrix(a), w, count=3, groups=groups, solver="greedy")
    assert len(set(groups[gr["chosen"]])) == len(gr["chosen"])
    assert gr["objective"] <= best + 1e-9
    with pytest.raises(GeoAnttError, match="one direction per site"):
        solve_mclp(sparse.csr_matrix(a), w, count=3, groups=groups, solver="spopt")


def test_auto_and_bad_arguments():
    a, w = _random_instance(7)
    res = solve_mclp(sparse.csr_matrix(a), w, count=2, solver="auto")
    assert res["solver"] == "exact" and res["objective"] == pytest.approx(_brute(a, w, 2))
    with pytest.raises(GeoAnttError, match="solver"):
        solve_mclp(sparse.csr_matrix(a), w, count=2, solver="magic")
    with pytest.raises(GeoAnttError, match="count"):
        solve_mclp(sparse.csr_matrix(a), w, count=-1)
    assert solve_mclp(sparse.csr_matrix(a), w, count=0)["objective"] == 0.0


def test_budget_caps_the_count():
    assert plan_count(count=10, budget_vnd=50_000_000, unit_cost_vnd=12_000_000) == 4
    assert plan_count(count=3, budget_vnd=50_000_000, unit_cost_vnd=12_000_000) == 3
    assert plan_count(budget_vnd=36_000_000, unit_cost_vnd=12_000_000) == 3
    with pytest.raises(GeoAnttError, match="unit-cost"):
        plan_count(count=3, budget_vnd=1_000_000)
    with pytest.raises(GeoAnttError, match="count"):
        plan_count()


# ---------------------------------------------------------------------------------------------
# demand and candidates on hand-checkable metric fixtures


def _hamlets():
    # two 100 m x 100 m hamlets side by side, EPSG:32648 (Mekong delta)
    x0, y0 = 600_000.0, 1_120_000.0
    geoms = [shapely.box(x0, y0, x0 + 100, y0 + 100), shapely.box(x0 + 100, y0, x0 + 200, y0 + 100)]
    return gpd.GeoDataFrame(
        {"code": ["H1", "H2"], "name": ["Ấp 1", "Ấp 2"], "level": ["hamlet", "hamlet"]},
        geometry=geoms,
        crs=UTM48,
        index=["H1", "H2"],
    )


def test_area_demand_weights_sum_to_unit_areas():
    units = _hamlets()
    dem = demand_points(units, spacing_m=7.0)  # 7 m does not divide 100 m: cells get clipped
    tot = dem.groupby("unit_code")["weight"].sum()
    assert tot["H1"] == pytest.approx(10_000.0)
    assert tot["H2"] == pytest.approx(10_000.0)
    assert not dem["covered"].any()


def test_existing_coverage_is_marked_and_not_counted_again():
    units = _hamlets()
    x0, y0 = 600_000.0, 1_120_000.0
    existing = shapely.Point(x0 + 50, y0 + 50).buffer(30, quad_segs=32)
    dem = demand_points(units, spacing_m=2.0, covered=existing)
    covered_w = dem.loc[dem["covered"], "weight"].sum()
    assert covered_w == pytest.approx(existing.area, rel=0.03)
    # a candidate footprint identical to the existing one adds nothing; one in the empty hamlet adds its area
    fps = gpd.GeoDataFrame(
        {"site_id": ["a", "b"]},
        geometry=[existing, shapely.Point(x0 + 150, y0 + 50).buffer(30, quad_segs=32)],
        crs=UTM48,
    )
    open_dem = dem.loc[~dem["covered"]]
    a = coverage_matrix(open_dem, fps)
    res = solve_mclp(a, open_dem["weight"].to_numpy(), count=1)
    assert list(res["chosen"]) == [1]
    assert res["objective"] == pytest.approx(fps.geometry.iloc[1].area, rel=0.03)
    only_a = solve_mclp(a[:, [0]], open_dem["weight"].to_numpy(), count=1)
    assert only_a["objective"] == 0.0


def test_gaps_mark_coverage_like_covered_polygons():
    units = _hamlets()
    x0, y0 = 600_000.0, 1_120_000.0
    gaps = gpd.GeoDataFrame({"unit_code": ["H2"]}, geometry=[units.geometry.iloc[1]], crs=UTM48)
    dem = demand_points(units, spacing_m=10.0, gaps=gaps)
    assert dem.loc[dem["unit_code"] == "H1", "covered"].all()
    assert not dem.loc[dem["unit_code"] == "H2", "covered"].any()


def test_weighted_demand_points_and_polygons():
    units = _hamlets()
    x0, y0 = 600_000.0, 1_120_000.0
    pts = gpd.GeoDataFrame(
        {"households": [5, 7, 100]},
        geometry=[shapely.Point(x0 + 10, y0 + 10), shapely.Point(x0 + 150, y0 + 50), shapely.Point(x0 - 500, y0)],
        crs=UTM48,
    )
    dem = demand_points(units, demand=pts, weight_column="households")
    assert sorted(dem["weight"]) == [5, 7]  # the point outside every unit is dropped
    assert dict(zip(dem["unit_code"], dem["weight"])) == {"H1": 5, "H2": 7}
    poly = gpd.GeoDataFrame(
        {"population": [400.0]}, geometry=[shapely.box(x0 + 50, y0, x0 + 150, y0 + 100)], crs=UTM48
    )
    dem = demand_points(units, demand=poly, weight_column="population", spacing_m=10.0)
    tot = dem.groupby("unit_code")["weight"].sum()
    assert tot["H1"] == pytest.approx(200.0) and tot["H2"] == pytest.approx(200.0)
    bad = pts.assign(households=["5", "x", -1])
    with pytest.raises(ValidationError) as ei:
        demand_points(units, demand=bad, weight_column="households", demand_name="ho.geojson")
    rows = sorted(p.row for p in ei.value.problems)
    assert rows == [2, 3] and ei.value.problems[0].file == "ho.geojson"
    with pytest.raises(ValidationError, match="no such column"):
        demand_points(units, demand=pts, weight_column="nope")


def test_candidate_sites_grid_over_gaps_plus_centres_and_file():
    units = _hamlets()
    x0, y0 = 600_000.0, 1_120_000.0
    gaps = gpd.GeoDataFrame(geometry=[shapely.box(x0 + 100, y0, x0 + 200, y0 + 100)], crs=UTM48)
    c = candidate_sites(units, gaps, spacing_m=25.0)
    grid = c.loc[c["source"] == "grid"]
    assert len(grid) == 16  # 4 x 4 lattice points inside the gap
    assert (grid["unit_code"] == "H2").all()
    assert grid.geometry.within(gaps.geometry.iloc[0]).all() and grid.crs == units.crs
    assert (c["source"] == "centre").sum() == 2
    poles = gpd.GeoDataFrame({"ref": ["P1"]}, geometry=[shapely.Point(x0 + 5, y0 + 5)], crs=UTM48, index=["P1"])
    c2 = candidate_sites(units, gaps, candidates=poles)
    assert list(c2.index) == ["P1"] and c2["unit_code"].tolist() == ["H1"] and c2["source"].tolist() == ["file"]
    assert c2.geometry.iloc[0].equals(poles.geometry.iloc[0])


def test_rank_uncovered_by_area_and_threshold():
    import pandas as pd

    cov = pd.DataFrame(
        {"area_m2": [100.0, 1000.0, 50.0], "covered_m2": [90.0, 300.0, 0.0], "covered_m2_camera": [10.0, 300.0, 0.0]},
        index=["A", "B", "C"],
    )
    cov["covered_pct"] = 100 * cov["covered_m2"] / cov["area_m2"]
    r = rank_uncovered(cov, threshold_pct=50.0)
    assert list(r.index) == ["B", "C", "A"]
    assert r["uncovered"].tolist() == [True, True, False]
    assert r.loc["B", "uncovered_need"] == 700.0
    rc = rank_uncovered(cov, threshold_pct=50.0, kind="camera")
    assert rc.loc["A", "uncovered"] and rc.loc["A", "weighted_covered_pct"] == pytest.approx(10.0)
    with pytest.raises(GeoAnttError, match="lighting"):
        rank_uncovered(cov, kind="lighting")


def test_rank_uncovered_weighted_by_households():
    import pandas as pd

    units = _hamlets()
    x0, y0 = 600_000.0, 1_120_000.0
    # H1 is 25 % covered by area but its 10 households all sit under the coverage
    fp = gpd.GeoDataFrame({"kind": ["camera"]}, geometry=[shapely.box(x0, y0, x0 + 50, y0 + 50)], crs=UTM48)
    cov = gpd.GeoDataFrame(
        {"area_m2": [10_000.0, 10_000.0], "covered_m2": [2_500.0, 0.0], "covered_m2_camera": [2_500.0, 0.0]},
        geometry=units.geometry.values,
        crs=UTM48,
        index=units.index,
    )
    cov["covered_pct"] = 100 * cov["covered_m2"] / cov["area_m2"]
    homes = gpd.GeoDataFrame(
        {"hh": [4, 6, 3]},
        geometry=[shapely.Point(x0 + 10, y0 + 10), shapely.Point(x0 + 20, y0 + 20), shapely.Point(x0 + 150, y0 + 50)],
        crs=UTM48,
    )
    r = rank_uncovered(cov, demand=homes, weight_column="hh", footprints=fp)
    assert r.loc["H1", "weighted_covered_pct"] == pytest.approx(100.0)
    assert r.loc["H1", "covered_pct"] == pytest.approx(25.0)
    assert r.loc["H2", "weighted_covered_pct"] == 0.0 and r.loc["H2", "uncovered_need"] == 3
    assert list(r.index) == ["H2", "H1"] and r["uncovered"].tolist() == [True, False]


def test_area_pieces_measure_exactly_the_newly_covered_area():
    from geo_antt.placement import area_pieces

    units = _hamlets()
    x0, y0 = 600_000.0, 1_120_000.0
    rng = np.random.default_rng(3)
    # 7 candidate discs / sectors around the shared border, some reaching outside the units
    centres = rng.uniform([x0 + 40, y0 - 10], [x0 + 160, y0 + 110], size=(7, 2))
    geoms = [shapely.Point(c).buffer(25, quad_segs=16) for c in centres[:4]]
    geoms += [shapely.Polygon([tuple(c), tuple(c + [0, 35]), tuple(c + [30, 20])]) for c in centres[4:]]
    fps = gpd.GeoDataFrame({"site_id": [f"s{i}" for i in range(7)]}, geometry=geoms, crs=UTM48)
    existing = shapely.Point(x0 + 100, y0 + 50).buffer(30, quad_segs=16)
    w, a = area_pieces(fps, units, covered=existing)
    assert a.shape == (len(w), 7)
    dense = a.toarray()
    region = shapely.union_all(units.geometry.values)
    best = 0.0
    for k in (1, 2, 3):
        for combo in itertools.combinations(range(7), k):
            truth = shapely.difference(shapely.intersection(shapely.union_all([geoms[i] for i in combo]), region), existing).area
            got = float(w[dense[:, list(combo)].any(axis=1)].sum())
            assert got == pytest.approx(truth, rel=1e-9, abs=1e-6)
            if k == 3:
                best = max(best, truth)
    res = solve_mclp(a, w, count=3)
    assert res["objective"] == pytest.approx(best, rel=1e-9)
