"""Coverage measured along streets: ``compute_coverage(..., roads=)``, the street gaps, the
ranking by street, the road readers, the dataset's roads and ``geo-antt coverage --roads``.

Hand-checkable metric fixtures (EPSG:32648) first, then real commune boundaries of
../shared/data with a generated street grid checked against plain shapely, then the command.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import LineString, MultiLineString, Point, box

from geo_antt import io
from geo_antt._errors import CRSError, GeoAnttError, ValidationError
from geo_antt.cli import main
from geo_antt.config import DEFAULT_DATA_DIR, DEFAULT_SETTINGS, Settings
from geo_antt.coverage import compute_coverage
from geo_antt.io.dataset import load_dataset
from geo_antt.io.features import read_buildings, read_roads
from geo_antt.placement import rank_uncovered

from .conftest import X0, Y0, make_models, make_units

ROOT = Path(__file__).resolve().parent.parent


def lamp(id_, x, y, r=20.0, **kw):
    return {"id": id_, "kind": "lighting", "x": X0 + x, "y": Y0 + y, "radius_m": r, **kw}


def cam(id_, x, y, direction, *, fov=90.0, r=20.0, **kw):
    return {
        "id": id_,
        "kind": "camera",
        "x": X0 + x,
        "y": Y0 + y,
        "direction_deg": [direction],
        "fov_deg": fov,
        "range_m": r,
        **kw,
    }


def road_frame(lines, *, names=None, highway="residential", crs="EPSG:32648", ids=None) -> gpd.GeoDataFrame:
    """Roads from lines in metres relative to (X0, Y0)."""
    geoms = [shapely.affinity.translate(g, X0, Y0) if g is not None else None for g in lines]
    n = len(geoms)
    return gpd.GeoDataFrame(
        {
            "osm_id": ids if ids is not None else list(range(1, n + 1)),
            "highway": highway,
            "name": names or [f"Đường {i}" for i in range(1, n + 1)],
        },
        geometry=geoms,
        crs=crs,
    )


def chord(r: float, d: float) -> float:
    """Length of the chord of a circle of radius r at distance d from its centre."""
    return 2.0 * math.sqrt(r * r - d * d)


# -- hand-checkable fixtures --------------------------------------------------------------------


def test_a_disc_on_a_road_through_a_square_covers_its_chord(square_hamlet) -> None:
    roads = road_frame([LineString([(0, 50), (100, 50)])])
    models = make_models([lamp("l", 50, 60)])  # 10 m off the road: chord 2*sqrt(20² - 10²)
    u = compute_coverage(square_hamlet, models, roads=roads).units
    assert u.loc["H1", "road_m"] == pytest.approx(100.0)
    assert u.loc["H1", "road_covered_m"] == pytest.approx(chord(20, 10), rel=0.005)
    assert u.loc["H1", "road_covered_pct"] == pytest.approx(chord(20, 10), rel=0.005)  # of 100 m
    assert u.loc["H1", "road_uncovered_m"] == pytest.approx(100 - u.loc["H1", "road_covered_m"])
    assert u.loc["H1", "road_covered_m_lighting"] == pytest.approx(u.loc["H1", "road_covered_m"])
    assert u.loc["H1", "road_covered_m_camera"] == 0.0
    # H2 has no road: nothing to cover, no share
    assert u.loc["H2", "road_m"] == 0.0 and u.loc["H2", "road_covered_m"] == 0.0
    assert math.isnan(u.loc["H2", "road_covered_pct"]) and math.isnan(u.loc["H2", "road_covered_pct_lighting"])
    # the area figures are those of a run without roads
    plain = compute_coverage(square_hamlet, models).units
    pd.testing.assert_frame_equal(pd.DataFrame(u[plain.columns]), pd.DataFrame(plain))


def test_a_road_crossing_two_units_counts_its_part_in_each(square_hamlet) -> None:
    # a diagonal road from H1 into H2 and a lamp on the shared border, on the road
    roads = road_frame([LineString([(20, 10), (180, 90)])])
    models = make_models([lamp("l", 100, 50)])
    u = compute_coverage(square_hamlet, models, roads=roads).units
    half = math.hypot(80, 40)
    assert u.loc["H1", "road_m"] == pytest.approx(half) and u.loc["H2", "road_m"] == pytest.approx(half)
    assert u.loc["H1", "road_covered_m"] == pytest.approx(20.0, rel=0.005)
    assert u.loc["H2", "road_covered_m"] == pytest.approx(20.0, rel=0.005)
    # at the commune level the same road is one 2 x half metres, covered by the whole diameter
    c = compute_coverage(square_hamlet, models, roads=roads, level="commune").units
    assert c.loc["C1", "road_m"] == pytest.approx(2 * half)
    assert c.loc["C1", "road_covered_m"] == pytest.approx(40.0, rel=0.005)


def test_only_active_models_cover_streets(square_hamlet) -> None:
    roads = road_frame([LineString([(0, 50), (200, 50)])])
    models = make_models(
        [lamp("on", 50, 50), lamp("off", 150, 50, status="inactive"), lamp("plan", 150, 50, status="proposed")]
    )
    u = compute_coverage(square_hamlet, models, roads=roads).units
    assert u.loc["H1", "road_covered_m"] == pytest.approx(40.0, rel=0.005)
    assert u.loc["H2", "road_covered_m"] == 0.0 and u.loc["H2", "road_m"] == pytest.approx(100.0)
    what_if = compute_coverage(square_hamlet, models, roads=roads, statuses=("active", "proposed")).units
    assert what_if.loc["H2", "road_covered_m"] == pytest.approx(40.0, rel=0.005)


def test_per_kind_street_columns_follow_the_area_columns(square_hamlet) -> None:
    roads = road_frame([LineString([(0, 50), (100, 50)])])
    # a camera looking east from x=30 covers 30..50, a lamp at x=60 covers 40..80: they overlap
    # (one piece of two kinds), together 30..80
    models = make_models([cam("c", 30, 50, 90.0), lamp("l", 60, 50)])
    u = compute_coverage(square_hamlet, models, roads=roads).units
    assert u.loc["H1", "road_covered_m_camera"] == pytest.approx(20.0, rel=0.005)
    assert u.loc["H1", "road_covered_m_lighting"] == pytest.approx(40.0, rel=0.005)
    assert u.loc["H1", "road_covered_m"] == pytest.approx(50.0, rel=0.005)
    assert u.loc["H1", "road_covered_pct_camera"] == pytest.approx(20.0, rel=0.005)
    assert u.loc["H1", "road_covered_pct_lighting"] == pytest.approx(40.0, rel=0.005)
    kinds = [c.removeprefix("covered_m2_") for c in u.columns if c.startswith("covered_m2_")]
    assert set(kinds) >= {"camera", "lighting", "checkpoint"}
    for kind in kinds:
        assert f"road_covered_m_{kind}" in u.columns and f"road_covered_pct_{kind}" in u.columns
    assert {c for c in u.columns if c.startswith("road_")} == {
        "road_m",
        "road_covered_m",
        "road_covered_pct",
        "road_uncovered_m",
    } | {f"road_covered_{w}_{k}" for k in kinds for w in ("m", "pct")}


def test_overlapping_units_count_a_road_in_each() -> None:
    units = make_units(
        [
            ("A", "Xã A", "commune", None, box(X0, Y0, X0 + 100, Y0 + 100)),
            ("B", "Xã B", "commune", None, box(X0 + 60, Y0, X0 + 160, Y0 + 100)),
        ]
    )
    roads = road_frame([LineString([(0, 50), (160, 50)])])
    u = compute_coverage(units, make_models([lamp("l", 80, 50, r=10.0)]), roads=roads).units
    assert u.loc["A", "road_m"] == pytest.approx(100.0) and u.loc["B", "road_m"] == pytest.approx(100.0)
    assert u.loc["A", "road_covered_m"] == pytest.approx(20.0, rel=0.005)
    assert u.loc["B", "road_covered_m"] == pytest.approx(20.0, rel=0.005)


def test_street_gaps_are_the_uncovered_stretches_and_short_ones_are_left_out(square_hamlet) -> None:
    roads = road_frame(
        [LineString([(0, 50), (100, 50)]), MultiLineString([[(0, 20), (40, 20)], [(60, 20), (100, 20)]])],
        names=["Đường Lê Lợi", None],
        highway=["primary", "service"],
    )
    # lamps covering 30..70 and 75..95 of the road at y=50: stretches 0..30, 70..75, 95..100
    models = make_models([lamp("a", 50, 50), lamp("b", 85, 50, r=10.0)])
    res = compute_coverage(square_hamlet, models, roads=roads)
    g = res.street_gaps_metric
    assert g.crs.equals(res.metric_crs) and list(g.columns) == [
        "gap_id",
        "unit_code",
        "unit_name",
        "level",
        "parent_code",
        "road_id",
        "name",
        "highway",
        "length_m",
        "geometry",
    ]
    first = g[g["road_id"] == "1"]
    assert list(first["length_m"].round(0)) == [30.0]  # the two 5 m stretches are under 10 m
    assert (
        first.iloc[0]["name"] == "Đường Lê Lợi"
        and first.iloc[0]["highway"] == "primary"
        and first.iloc[0]["unit_code"] == "H1"
    )
    second = g[g["road_id"] == "2"]  # the multi-line road: two parts, far from the lamps, uncovered whole
    assert (
        sorted(second["length_m"].round(6)) == [40.0, 40.0]
        and second["name"].isna().all()
        and (second["highway"] == "service").all()
    )
    assert list(g.index) == ["H1-s1", "H1-s2", "H1-s3"] and g.index.is_unique
    assert shapely.equals_exact(first.geometry.iloc[0], LineString([(X0, Y0 + 50), (X0 + 30, Y0 + 50)]), tolerance=0.1)
    # a smaller minimum keeps them; all stretches add up to the uncovered metres
    every = compute_coverage(
        square_hamlet, models, roads=roads, settings=Settings(min_street_gap_m=0.0)
    ).street_gaps_metric
    lengths = sorted(every.loc[every["road_id"] == "1", "length_m"])
    assert lengths == pytest.approx([5.0, 5.0, 30.0], abs=0.15)
    assert every["length_m"].sum() == pytest.approx(res.units["road_uncovered_m"].sum(), rel=1e-9)
    wgs = res.street_gaps
    assert wgs.crs.to_epsg() == 4326 and len(wgs) == len(g) and set(wgs.geom_type) == {"LineString"}
    # without street gaps asked for, the figures stay
    nog = compute_coverage(square_hamlet, models, roads=roads, with_street_gaps=False)
    assert len(nog.street_gaps_metric) == 0
    pd.testing.assert_frame_equal(pd.DataFrame(nog.units), pd.DataFrame(res.units))


def test_without_roads_there_are_no_street_figures(square_hamlet) -> None:
    res = compute_coverage(square_hamlet, make_models([lamp("l", 50, 50)]))
    assert not [c for c in res.units.columns if c.startswith("road_")]
    assert len(res.street_gaps_metric) == 0 and len(res.street_gaps) == 0 and "length_m" in res.street_gaps.columns


def test_road_rows_are_checked(square_hamlet) -> None:
    models = make_models([lamp("l", 50, 50)])
    bad = road_frame([LineString([(0, 50), (100, 50)]), Point(5, 5), None])
    with pytest.raises(ValidationError, match="row 2.*LineString or MultiLineString"):
        compute_coverage(square_hamlet, models, roads=bad)
    ok = road_frame([LineString([(0, 50), (100, 50)]), None, LineString()])  # no geometry: counts nothing
    assert compute_coverage(square_hamlet, models, roads=ok).units.loc["H1", "road_m"] == pytest.approx(100.0)
    with pytest.raises(CRSError):
        compute_coverage(
            square_hamlet,
            models,
            roads=road_frame([LineString([(0, 50), (100, 50)])]).set_crs(None, allow_override=True),
        )
    # an empty frame and a frame in another CRS are fine
    empty = compute_coverage(square_hamlet, models, roads=road_frame([])).units
    assert (empty["road_m"] == 0).all() and empty["road_covered_pct"].isna().all()
    lonlat = compute_coverage(
        square_hamlet, models, roads=road_frame([LineString([(0, 50), (100, 50)])]).to_crs(4326)
    ).units
    assert lonlat.loc["H1", "road_covered_m"] == pytest.approx(40.0, rel=0.005)


def test_road_ids_come_from_osm_id_else_the_index(square_hamlet) -> None:
    roads = road_frame([LineString([(0, 50), (100, 50)])], ids=[9876543210.0])
    g = compute_coverage(square_hamlet, make_models([]), roads=roads).street_gaps_metric
    assert list(g["road_id"]) == ["9876543210"]
    plain = roads.drop(columns=["osm_id", "name", "highway"])
    plain.index = ["way-a"]
    g = compute_coverage(square_hamlet, make_models([]), roads=plain).street_gaps_metric
    assert list(g["road_id"]) == ["way-a"] and g["name"].isna().all() and g["highway"].isna().all()
    assert g["length_m"].iloc[0] == pytest.approx(100.0)


def test_street_figures_do_not_depend_on_the_order_of_the_roads(square_hamlet) -> None:
    rng = np.random.default_rng(3)
    lines = [
        LineString([(rng.uniform(0, 200), rng.uniform(0, 100)), (rng.uniform(0, 200), rng.uniform(0, 100))])
        for _ in range(40)
    ]
    models = make_models(
        [lamp(f"l{i}", rng.uniform(0, 200), rng.uniform(0, 100), r=rng.uniform(5, 25)) for i in range(30)]
    )
    roads = road_frame(lines)
    a = compute_coverage(square_hamlet, models, roads=roads)
    b = compute_coverage(square_hamlet, models, roads=roads.iloc[::-1])
    for col in ("road_m", "road_covered_m", "road_covered_m_lighting"):
        np.testing.assert_allclose(a.units[col], b.units[col], rtol=1e-12)
    key = ["unit_code", "road_id", "length_m"]
    ga = a.street_gaps_metric[key].sort_values(key).reset_index(drop=True)
    gb = b.street_gaps_metric[key].sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(ga, gb)


# -- ranking ------------------------------------------------------------------------------------


def test_rank_by_street_least_covered_share_first_then_uncovered_metres() -> None:
    cov = pd.DataFrame(
        {
            "area_m2": [100.0, 100.0, 100.0, 100.0, 100.0],
            "covered_m2": [90.0, 0.0, 50.0, 10.0, 10.0],
            "covered_m2_camera": [90.0, 0.0, 0.0, 10.0, 10.0],
            "road_m": [1000.0, 0.0, 400.0, 2000.0, 1000.0],
            "road_covered_m": [100.0, 0.0, 300.0, 200.0, 100.0],
            "road_covered_m_camera": [0.0, 0.0, 300.0, 200.0, 100.0],
        },
        index=pd.Index(["A", "B", "C", "D", "E"], name="code"),
    )
    r = rank_uncovered(cov, threshold_pct=50.0)  # roads present: by street
    # A, D and E are all 10 % covered: the most uncovered metres first (D 1800, A 900, E 900:
    # a tie keeps the input order); then C (75 %); B has no road: last
    assert list(r.index) == ["D", "A", "E", "C", "B"] and list(r["need_rank"]) == [1, 2, 3, 4, 5]
    assert r.loc["D", "uncovered_need"] == 1800.0 and r.loc["B", "weighted_covered_pct"] == 100.0
    assert list(r["uncovered"]) == [True, True, True, False, False]
    by_area = rank_uncovered(cov, threshold_pct=50.0, by="area")
    assert list(by_area.index) == list(rank_uncovered(cov.drop(columns=["road_m"]), threshold_pct=50.0).index)
    assert by_area.loc["B", "uncovered_need"] == 100.0 and list(by_area.index[:1]) == ["B"]
    cams = rank_uncovered(cov, threshold_pct=50.0, kind="camera")
    assert cams.index[0] == "A" and cams.loc["A", "kind_covered_pct"] == 0.0
    with pytest.raises(GeoAnttError, match="road_m"):
        rank_uncovered(cov.drop(columns=["road_m"]), by="street")
    with pytest.raises(GeoAnttError, match="by must be"):
        rank_uncovered(cov, by="length")
    with pytest.raises(GeoAnttError, match="road_covered_m_gate"):
        rank_uncovered(cov, kind="gate")


# -- real boundaries, a generated street grid, and plain shapely as the reference --------------


def _sector(x: float, y: float, direction: float, fov: float, r: float) -> shapely.Polygon:
    """A camera's field of view by hand: the centre and 513 points of the true arc (bearings
    clockwise from north), or a fine disc for 360 degrees.
    """
    if fov >= 360.0:
        return Point(x, y).buffer(r, quad_segs=128)
    b = np.radians(np.linspace(direction - fov / 2, direction + fov / 2, 513))
    return shapely.Polygon([(x, y), *zip(x + r * np.sin(b), y + r * np.cos(b))])


def test_real_communes_with_a_street_grid_agree_with_plain_shapely(shared_data: Path) -> None:
    communes = io.read_units(shared_data / "boundaries" / "mo_cay_nam_communes_pre2025.geojson")
    cm = communes.to_crs(32648)
    # a commune and its neighbours (the simplified real boundaries overlap)
    first = cm.geometry.iloc[3]
    near = cm[cm.intersects(first)]
    assert len(near) >= 3
    area = near.union_all()
    x0, y0, x1, y1 = area.bounds
    lines = [LineString([(x, y0 - 50), (x, y1 + 50)]) for x in np.arange(x0 + 37.0, x1, 150.0)]
    lines += [LineString([(x0 - 50, y), (x1 + 50, y)]) for y in np.arange(y0 + 11.0, y1, 150.0)]
    roads = gpd.GeoDataFrame(
        {"osm_id": np.arange(len(lines)), "highway": "residential", "name": None}, geometry=lines, crs=32648
    ).to_crs(4326)

    rng = np.random.default_rng(20250701)
    shapely.prepare(area)

    def points(n: int) -> list[Point]:
        out: list[Point] = []
        while len(out) < n:
            p = Point(rng.uniform(x0, x1), rng.uniform(y0, y1))
            if area.contains(p):
                out.append(p)
        return out

    rows = []
    for i, p in enumerate(points(600)):
        fov = 360.0 if rng.random() < 0.1 else float(rng.uniform(60, 120))
        status = "inactive" if rng.random() < 0.05 else "active"
        rows.append(
            {
                "id": f"c{i}",
                "kind": "camera",
                "x": p.x,
                "y": p.y,
                "direction_deg": [float(rng.uniform(0, 360))],
                "fov_deg": fov,
                "range_m": float(rng.uniform(15, 40)),
                "status": status,
            }
        )
    for i, p in enumerate(points(250)):
        rows.append({"id": f"l{i}", "kind": "lighting", "x": p.x, "y": p.y, "radius_m": float(rng.uniform(15, 30))})
    models = make_models(rows).to_crs(4326)

    res = compute_coverage(communes.loc[near.index], models, roads=roads, settings=Settings(min_street_gap_m=0.0))
    assert res.metric_crs.to_epsg() == 32648

    active = [r for r in rows if r.get("status", "active") == "active"]
    cams = shapely.union_all(
        [
            _sector(r["x"], r["y"], r["direction_deg"][0], r["fov_deg"], r["range_m"])
            for r in active
            if r["kind"] == "camera"
        ]
    )
    lights = shapely.union_all(
        [Point(r["x"], r["y"]).buffer(r["radius_m"], quad_segs=128) for r in active if r["kind"] == "lighting"]
    )
    cover = shapely.union(cams, lights)
    grid = MultiLineString(lines)
    u = res.units
    for code, commune in near.geometry.items():
        on_road = shapely.intersection(commune, grid)
        assert u.loc[code, "road_m"] == pytest.approx(on_road.length, rel=1e-9)
        want = shapely.intersection(on_road, cover).length
        assert want > 500  # the check means something
        assert u.loc[code, "road_covered_m"] == pytest.approx(want, rel=0.005)
        assert u.loc[code, "road_covered_m_camera"] == pytest.approx(
            shapely.intersection(on_road, cams).length, rel=0.005
        )
        assert u.loc[code, "road_covered_m_lighting"] == pytest.approx(
            shapely.intersection(on_road, lights).length, rel=0.005
        )
        gaps = res.street_gaps_metric
        assert gaps.loc[gaps["unit_code"] == code, "length_m"].sum() == pytest.approx(
            u.loc[code, "road_uncovered_m"], rel=1e-6
        )
    # the overlaps count for each commune: more metres than the grid inside their union
    assert u["road_m"].sum() > shapely.intersection(area, grid).length + 1.0


# -- the readers ----------------------------------------------------------------------------------


def _write_features(path: Path, geoms: list[dict | None], props: list[dict] | None = None) -> Path:
    feats = [
        {"type": "Feature", "properties": (props or [{}] * len(geoms))[i], "geometry": g} for i, g in enumerate(geoms)
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}, ensure_ascii=False), encoding="utf-8")
    return path


def test_read_roads_names_every_bad_feature(tmp_path: Path) -> None:
    line = {"type": "LineString", "coordinates": [[106.0, 10.0], [106.01, 10.0]]}
    f = _write_features(
        tmp_path / "duong.geojson",
        [
            line,
            {"type": "Point", "coordinates": [106.0, 10.0]},
            None,
            {"type": "LineString", "coordinates": [[106.0, 10.0], [106.0, 10.0]]},
        ],
        [{"osm_id": 11, "name": "Đường 1"}, {"osm_id": 12}, {"osm_id": 13}, {"osm_id": 14}],
    )
    with pytest.raises(ValidationError) as exc:
        read_roads(f)
    text = exc.value.message
    assert "3 problems" in text and "duong.geojson" in text
    assert "row 2" in text and "road 12: geometry must be a LineString or MultiLineString" in text
    assert "row 3" in text and "road 13: empty geometry" in text
    assert "row 4" in text and "road 14: broken geometry" in text
    # a line of one point cannot even be built: still named
    broken = _write_features(
        tmp_path / "one.geojson",
        [line, {"type": "LineString", "coordinates": [[106.0, 10.0]]}],
        [{"osm_id": 1}, {"osm_id": 2}],
    )
    with pytest.raises(ValidationError, match=r"one\.geojson, row 2, field 'geometry': road 2: broken geometry"):
        read_roads(broken)
    empty = _write_features(tmp_path / "empty.geojson", [])
    with pytest.raises(GeoAnttError, match="empty.geojson: no road features"):
        read_roads(empty)
    ok = read_roads(_write_features(tmp_path / "ok.geojson", [line], [{"osm_id": 11, "name": "Đường 1"}]))
    assert ok.crs.to_epsg() == 4326 and list(ok["name"]) == ["Đường 1"] and list(ok.geom_type) == ["LineString"]


def test_read_roads_settles_the_crs(tmp_path: Path) -> None:
    lonlat = gpd.GeoDataFrame({"osm_id": [1]}, geometry=[LineString([(106.0, 10.0), (106.01, 10.0)])], crs=4326)
    projected = tmp_path / "roads_utm.gpkg"
    lonlat.to_crs(32648).to_file(projected)
    back = read_roads(projected)
    assert back.crs.to_epsg() == 4326
    assert shapely.equals_exact(back.geometry.iloc[0], lonlat.geometry.iloc[0], tolerance=1e-8)
    swapped = _write_features(
        tmp_path / "swapped.geojson", [{"type": "LineString", "coordinates": [[10.0, 106.0], [10.0, 106.01]]}]
    )
    with pytest.raises(CRSError, match="swapped"):
        read_roads(swapped)
    # metres in a file that names no CRS: the given one is used
    shp = tmp_path / "duong.shp"
    lonlat.to_crs(32648).to_file(shp)
    shp.with_suffix(".prj").unlink()
    with pytest.raises(CRSError, match="duong.shp"):
        read_roads(shp)
    assert read_roads(shp, crs="EPSG:32648").geometry.iloc[0].equals_exact(lonlat.geometry.iloc[0], 1e-8)


def test_read_buildings_keeps_polygons_and_repairs_them(tmp_path: Path) -> None:
    bow = {
        "type": "Polygon",
        "coordinates": [[[106.0, 10.0], [106.001, 10.001], [106.001, 10.0], [106.0, 10.001], [106.0, 10.0]]],
    }
    f = _write_features(tmp_path / "nha.geojson", [bow], [{"id": "n1"}])
    with pytest.warns(UserWarning, match="repaired 1 invalid building"):
        b = read_buildings(f)
    assert b.geometry.is_valid.all() and set(b.geom_type) <= {"Polygon", "MultiPolygon"}
    lines = _write_features(
        tmp_path / "lines.geojson",
        [{"type": "LineString", "coordinates": [[106.0, 10.0], [106.01, 10.0]]}],
        [{"id": "x"}],
    )
    with pytest.raises(ValidationError, match="building x: geometry must be a Polygon or MultiPolygon"):
        read_buildings(lines)


# -- the dataset ----------------------------------------------------------------------------------


def _street_dataset(directory: Path, *, roads: bool = True) -> Path:
    """A small dataset: one commune of two square hamlets, a lamp and (optionally) a road and a building."""
    units = make_units(
        [
            ("C1", "Xã Thử", "commune", None, box(X0, Y0, X0 + 200, Y0 + 100)),
            ("H1", "Ấp 1", "hamlet", "C1", box(X0, Y0, X0 + 100, Y0 + 100)),
            ("H2", "Ấp 2", "hamlet", "C1", box(X0 + 100, Y0, X0 + 200, Y0 + 100)),
        ]
    ).to_crs(4326)
    (directory / "boundaries").mkdir(parents=True)
    (directory / "models").mkdir()
    for level, stem in (("commune", "communes"), ("hamlet", "hamlets")):
        units[units["level"] == level].to_file(directory / "boundaries" / f"{stem}.geojson", index=False)
    lon_lat = gpd.GeoSeries([Point(X0 + 50, Y0 + 50)], crs=32648).to_crs(4326).iloc[0]
    (directory / "models" / "models.csv").write_text(
        f"id,kind,lat,lon,radius_m\nlamp1,lighting,{lon_lat.y:.8f},{lon_lat.x:.8f},20\n", encoding="utf-8"
    )
    toml = (
        'title = { vi = "Thử", en = "Test" }\n'
        'units = ["boundaries/communes.geojson", "boundaries/hamlets.geojson"]\nmodels = ["models/models.csv"]\n'
    )
    if roads:
        (directory / "roads").mkdir()
        road_frame([LineString([(0, 50), (200, 50)])], names=["Đường Trục"]).to_crs(4326).to_file(
            directory / "roads" / "roads.geojson"
        )
        (directory / "buildings").mkdir()
        gpd.GeoDataFrame({"id": ["n1"]}, geometry=[box(X0 + 10, Y0 + 10, X0 + 20, Y0 + 20)], crs=32648).to_file(
            directory / "buildings" / "nha.gpkg"
        )
        toml += 'roads = ["roads/roads.geojson"]\nbuildings = [{ path = "buildings/nha.gpkg", layer = "nha" }]\n'
    (directory / "dataset.toml").write_text(toml, encoding="utf-8")
    return directory


def test_a_dataset_may_list_roads_and_buildings(tmp_path: Path) -> None:
    ds = load_dataset(_street_dataset(tmp_path / "with"))
    assert (
        ds.roads is not None
        and len(ds.roads) == 1
        and ds.roads.crs.to_epsg() == 4326
        and list(ds.roads["name"]) == ["Đường Trục"]
    )
    assert ds.buildings is not None and len(ds.buildings) == 1 and ds.buildings.crs.to_epsg() == 4326
    only = load_dataset(tmp_path / "with", feature_layers=("roads",))
    assert only.roads is not None and only.buildings is None
    none = load_dataset(tmp_path / "with", feature_layers=())
    assert none.roads is None and none.buildings is None
    plain = load_dataset(_street_dataset(tmp_path / "without", roads=False))
    assert plain.roads is None and plain.buildings is None
    # a bad road file is a problem of the dataset, named
    _write_features(
        tmp_path / "with" / "roads" / "roads.geojson",
        [{"type": "Point", "coordinates": [105.0, 9.95]}],
        [{"osm_id": 5}],
    )
    with pytest.raises(ValidationError, match=r"roads\.geojson, row 1.*road 5"):
        load_dataset(tmp_path / "with")
    (tmp_path / "with" / "dataset.toml").write_text('roads = "roads/roads.geojson"\n', encoding="utf-8")
    with pytest.raises(GeoAnttError, match="'roads' must be a list"):
        load_dataset(tmp_path / "with")


def test_the_command_uses_the_dataset_roads_unless_given(tmp_path: Path, capsys) -> None:
    data = _street_dataset(tmp_path / "ds")
    out, sg = tmp_path / "out.geojson", tmp_path / "sg.geojson"
    assert main(["coverage", "--data", str(data), "--out", str(out), "--street-gaps", str(sg)]) == 0
    text = capsys.readouterr().out
    assert "(by street length)" in text and "streets: covered 0.040 of 0.200 km of road (20.0" in text
    props = {
        f["properties"]["unit_code"]: f["properties"] for f in json.loads(out.read_text(encoding="utf-8"))["features"]
    }
    assert props["H1"]["road_m"] == pytest.approx(100.0, rel=1e-6) and props["H1"]["road_covered_m"] == pytest.approx(
        40.0, rel=0.005
    )
    assert props["H2"]["road_covered_m"] == 0.0 and props["H2"]["need_rank"] == 1
    stretches = json.loads(sg.read_text(encoding="utf-8"))["features"]
    assert sorted(round(f["properties"]["length_m"]) for f in stretches) == [30, 30, 100]
    assert {f["properties"]["name"] for f in stretches} == {"Đường Trục"}
    # --roads wins over the dataset's
    other = road_frame([LineString([(150, 0), (150, 100)])]).to_crs(4326)
    other.to_file(tmp_path / "other.geojson")
    assert main(["coverage", "--data", str(data), "--roads", str(tmp_path / "other.geojson"), "--out", str(out)]) == 0
    props = {
        f["properties"]["unit_code"]: f["properties"] for f in json.loads(out.read_text(encoding="utf-8"))["features"]
    }
    assert props["H1"]["road_m"] == 0.0 and props["H2"]["road_m"] == pytest.approx(100.0, rel=1e-6)
    # street gaps need roads
    plain = _street_dataset(tmp_path / "plain", roads=False)
    capsys.readouterr()
    assert main(["coverage", "--data", str(plain), "--out", str(out), "--street-gaps", str(sg)]) == 1
    assert "--street-gaps needs roads" in capsys.readouterr().err
    assert main(["coverage", "--data", str(plain), "--out", str(out)]) == 0
    assert "(by area)" in capsys.readouterr().out
    assert "road_m" not in json.loads(out.read_text(encoding="utf-8"))["features"][0]["properties"]


# -- the command on the demo data -------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_roads(tmp_path_factory) -> Path:
    """A street grid (every 100 m, EPSG:32648) over the commune of the demo with most models."""
    ds = load_dataset(DEFAULT_DATA_DIR)
    hamlets = ds.level("hamlet")
    models = ds.models[ds.models["status"] == "active"]
    joined = gpd.sjoin(
        gpd.GeoDataFrame(geometry=models.geometry.to_numpy(), crs=4326),
        hamlets[["parent_code", "geometry"]],
        predicate="within",
    )
    commune = joined["parent_code"].value_counts().index[0]
    area = hamlets[hamlets["parent_code"] == commune].to_crs(32648).union_all()
    x0, y0, x1, y1 = area.bounds
    lines = [LineString([(x, y0), (x, y1)]) for x in np.arange(x0 + 13.0, x1, 100.0)]
    lines += [LineString([(x0, y), (x1, y)]) for y in np.arange(y0 + 7.0, y1, 100.0)]
    frame = gpd.GeoDataFrame(
        {
            "osm_id": np.arange(1, len(lines) + 1),
            "highway": ["primary", "residential"] * (len(lines) // 2) + ["service"] * (len(lines) % 2),
            "name": [f"Đường số {i}" for i in range(1, len(lines) + 1)],
        },
        geometry=lines,
        crs=32648,
    )
    d = tmp_path_factory.mktemp("demo_roads")
    frame.to_crs(4326).to_file(d / "roads.geojson")
    frame.to_file(d / "roads_utm.gpkg")  # the same roads in a projected CRS
    return d


def test_the_command_with_roads_on_the_demo(tmp_path: Path, demo_roads: Path, capsys) -> None:
    roads = demo_roads / "roads.geojson"
    out, sg = tmp_path / "hamlets.geojson", tmp_path / "streets.geojson"
    assert main(["coverage", "--roads", str(roads), "--out", str(out), "--street-gaps", str(sg)]) == 0
    text = capsys.readouterr().out
    assert "(by street length)" in text and "streets: covered" in text and "least covered streets: " in text
    assert text.rstrip().endswith(f"wrote {out}, {sg}")
    doc = json.loads(out.read_text(encoding="utf-8"))
    props = [f["properties"] for f in doc["features"]]
    cols = {
        "road_m",
        "road_covered_m",
        "road_covered_pct",
        "road_uncovered_m",
        "road_covered_m_camera",
        "road_covered_pct_camera",
        "road_covered_m_lighting",
        "road_covered_pct_lighting",
        "need_rank",
    }
    assert cols <= set(props[0])
    with_roads = [p for p in props if p["road_m"] > 0]
    assert len(with_roads) >= 3 and any(p["road_covered_m"] > 0 for p in with_roads)
    assert all(p["road_covered_pct"] is None for p in props if p["road_m"] == 0)
    # ranked by street: the covered share of road never decreases down the file's ranks
    ranked = sorted(props, key=lambda p: p["need_rank"])
    share = [p["weighted_covered_pct"] for p in ranked]
    assert share == sorted(share) and ranked[0]["road_m"] > 0
    # street gaps: RFC 7946 lines of at least 10 m, with unit, name, class and length
    sdoc = json.loads(sg.read_text(encoding="utf-8"))
    assert "crs" not in sdoc
    gaps = [f["properties"] for f in sdoc["features"]]
    assert gaps and {"unit_code", "name", "highway", "length_m", "road_id"} <= set(gaps[0])
    assert min(g["length_m"] for g in gaps) >= 10.0
    assert {f["geometry"]["type"] for f in sdoc["features"]} <= {"LineString"}
    assert not list(tmp_path.glob(".*"))  # atomic writes: no temporary file left
    # with no minimum the short stretches come back, and all of them add up to what is uncovered
    every = tmp_path / "every.geojson"
    assert (
        main(
            ["coverage", "--roads", str(roads), "--out", str(out), "--street-gaps", str(every), "--min-street-gap", "0"]
        )
        == 0
    )
    capsys.readouterr()
    all_gaps = [f["properties"] for f in json.loads(every.read_text(encoding="utf-8"))["features"]]
    short = [g for g in all_gaps if g["length_m"] < 10.0]
    assert short, "the grid leaves some short stretches between footprints"
    assert len(all_gaps) - len(short) == len(gaps)
    assert sum(g["length_m"] for g in all_gaps) == pytest.approx(sum(p["road_uncovered_m"] for p in props), rel=1e-6)
    # the same roads in a projected CRS give the same figures
    utm = tmp_path / "utm.geojson"
    assert main(["coverage", "--roads", str(demo_roads / "roads_utm.gpkg"), "--out", str(utm)]) == 0
    capsys.readouterr()
    again = {
        f["properties"]["unit_code"]: f["properties"] for f in json.loads(utm.read_text(encoding="utf-8"))["features"]
    }
    for p in with_roads:
        assert again[p["unit_code"]]["road_m"] == pytest.approx(p["road_m"], rel=1e-6)
        assert again[p["unit_code"]]["road_covered_m"] == pytest.approx(p["road_covered_m"], rel=1e-4, abs=1e-3)


def test_bad_road_files_stop_the_command_naming_the_file(tmp_path: Path, capsys) -> None:
    out = tmp_path / "out.geojson"
    points = _write_features(
        tmp_path / "diem.geojson", [{"type": "Point", "coordinates": [106.3, 10.1]}], [{"osm_id": 7}]
    )
    assert main(["coverage", "--roads", str(points), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "diem.geojson, row 1, field 'geometry': road 7: geometry must be a LineString or MultiLineString" in err
    empty = _write_features(tmp_path / "rong.geojson", [])
    assert main(["coverage", "--roads", str(empty), "--out", str(out)]) == 1
    assert "rong.geojson: no road features" in capsys.readouterr().err
    nothing = tmp_path / "zero.geojson"
    nothing.write_bytes(b"")
    assert main(["coverage", "--roads", str(nothing), "--out", str(out)]) == 1
    assert "zero.geojson: cannot read as a vector file" in capsys.readouterr().err
    assert main(["coverage", "--roads", str(tmp_path / "missing.geojson"), "--out", str(out)]) == 1
    assert "missing.geojson" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("value", ["-1", "10001", "nan", "ten"])
def test_min_street_gap_is_bounded(value: str, tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["coverage", "--out", str(tmp_path / "o.geojson"), "--min-street-gap", value])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--min-street-gap" in err and ("between 0 and 10000 metres" in err or "not a number" in err)


def test_min_street_gap_default_is_the_settings_default() -> None:
    assert DEFAULT_SETTINGS.min_street_gap_m == 10.0


def test_street_gaps_are_the_same_bytes_under_any_hash_seed(tmp_path: Path, demo_roads: Path) -> None:
    seen = set()
    for seed in ("0", "5"):
        out, sg = tmp_path / f"u-{seed}.geojson", tmp_path / f"s-{seed}.geojson"
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "geo_antt",
                "coverage",
                "--roads",
                str(demo_roads / "roads.geojson"),
                "--out",
                str(out),
                "--street-gaps",
                str(sg),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )
        assert proc.returncode == 0, proc.stderr
        seen.add((proc.stdout.replace(str(out), "OUT").replace(str(sg), "SG"), out.read_bytes(), sg.read_bytes()))
    assert len(seen) == 1
