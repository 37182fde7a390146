"""Placement along streets (``plan_sites(..., roads=)``): sites stand on the streets, the demand
is uncovered street length, and a plan by street watches more street than a plan by area.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from geo_antt import GeoAnttError
from geo_antt.placement import plan_sites

UTM48 = "EPSG:32648"
X0, Y0 = 600_000.0, 1_120_000.0


def _units() -> gpd.GeoDataFrame:
    # one 400 m x 400 m hamlet (Mekong delta, UTM 48N)
    return gpd.GeoDataFrame(
        {"code": ["H1"], "name": ["Ấp 1"], "level": ["hamlet"]},
        geometry=[shapely.box(X0, Y0, X0 + 400, Y0 + 400)],
        crs=UTM48,
        index=["H1"],
    )


def _roads() -> gpd.GeoDataFrame:
    # an L of two streets along two sides and one across the middle: most of the hamlet is fields
    lines = [
        shapely.LineString([(X0 + 20, Y0 + 20), (X0 + 380, Y0 + 20)]),
        shapely.LineString([(X0 + 20, Y0 + 20), (X0 + 20, Y0 + 380)]),
        shapely.LineString([(X0 + 20, Y0 + 200), (X0 + 380, Y0 + 200)]),
    ]
    return gpd.GeoDataFrame(
        {"osm_id": ["w1", "w2", "w3"], "highway": "residential", "name": ["A", "B", "C"]}, geometry=lines, crs=UTM48
    )


def _no_models() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"id": [], "kind": [], "status": []}, geometry=[], crs="EPSG:4326").set_index("id")


def test_a_plan_by_street_stands_on_the_streets_and_watches_street_metres():
    roads = _roads()
    res = plan_sites(_units(), _no_models(), kind="lighting", count=3, radius_m=40.0, roads=roads, solver="exact")
    assert res.stats["by"] == "street" and len(res.sites) == 3
    sites_m = res.sites.to_crs(UTM48)
    streets = shapely.union_all(roads.geometry.values)
    assert all(shapely.distance(p, streets) < 1e-3 for p in sites_m.geometry)  # on a street
    before = float(res.before["road_covered_m"].sum())
    after = float(res.after["road_covered_m"].sum())
    assert before == 0.0 and "road_m" in res.after.columns
    # the solver's objective is the newly lit street length measured on its demand cells; the
    # engine measures it exactly: they agree within the demand cells' size
    assert res.objective == pytest.approx(after - before, rel=0.1)
    # a disc of 40 m lights at most 80 m of a street, 120 m at the T junction: the plan finds
    # the junction and the two corners (120 + 80 + 80 m)
    assert 0.9 * 280.0 <= after <= 280.0 * 1.01  # (the equal-area disc outline reaches +0.33 % past the arc)
    by_area = plan_sites(_units(), _no_models(), kind="lighting", count=3, radius_m=40.0, solver="exact")
    assert by_area.stats["by"] == "area"
    lit_by_area = shapely.length(
        shapely.intersection(streets, shapely.union_all(by_area.footprints.to_crs(UTM48).geometry.values))
    )
    assert after > lit_by_area + 50.0  # a plan for area lights the fields, not the streets


def test_street_sites_are_spaced_along_the_streets_and_capped():
    from geo_antt.placement.streets import street_sites

    sites = street_sites(_roads(), _units(), crs=UTM48, spacing_m=40.0, max_sites=None)
    # 3 streets of 360 m: 10 points each, the shared corner once
    assert len(sites) == 29
    capped = street_sites(_roads(), _units(), crs=UTM48, spacing_m=1.0, max_sites=50)
    assert 40 <= len(capped) <= 60


def test_roads_outside_the_units_are_refused_clearly():
    far = _roads().set_geometry(_roads().geometry.translate(xoff=10_000))
    with pytest.raises(GeoAnttError, match="no road lies in the units"):
        plan_sites(_units(), _no_models(), kind="lighting", count=1, radius_m=40.0, roads=far)


def test_the_plan_command_plans_along_the_roads_it_is_given(tmp_path, capsys):
    import json

    from geo_antt.cli import main
    from geo_antt.config import DEFAULT_DATA_DIR
    from geo_antt.io import read_units, write_layer

    communes = read_units(DEFAULT_DATA_DIR / "boundaries" / "communes.geojson")
    x0, y0, x1, y1 = communes.loc["28939"].geometry.bounds
    lines = [shapely.LineString([(x, y0), (x, y1)]) for x in np.linspace(x0, x1, 12)]
    lines += [shapely.LineString([(x0, y), (x1, y)]) for y in np.linspace(y0, y1, 12)]
    roads = gpd.GeoDataFrame(
        {"osm_id": [f"w{i}" for i in range(len(lines))], "highway": "residential"}, geometry=lines, crs="EPSG:4326"
    )
    write_layer(roads, tmp_path / "roads.geojson")
    args = ["plan", "--data", str(DEFAULT_DATA_DIR), "--unit", "28939", "--kind", "lighting", "--count", "3"]
    assert main([*args, "--roads", str(tmp_path / "roads.geojson"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["by"] == "street" and out["sites"] == 3
    assert out["road_covered_m_after"] - out["road_covered_m_before"] == pytest.approx(out["objective"], rel=0.1)
    assert main([*args, "--by", "street"]) == 1  # the demo dataset has no roads
    assert "--by street needs roads" in capsys.readouterr().err
