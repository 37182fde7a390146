"""Terrain hides what lies behind it (``geo_antt.terrain``, ``geo_antt.io.dem``,
``compute_coverage(..., dem=)``, ``geo-antt coverage/plan --dem``).

The elevation models are small synthetic GeoTIFFs the tests write with rasterio: 1 m cells over
a 200 m x 100 m hamlet of EPSG:32648 (flat ground at 0 m, plus a wall, a ridge or a valley), so
every answer is similar triangles. A viewpoint is the centre of its cell, so the cameras stand
on cell centres (x.5 m) and the answers are whole cells.
"""

from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from rasterio.transform import from_origin
from shapely.geometry import box

from geo_antt._errors import CRSError, GeoAnttError
from geo_antt.cli import main
from geo_antt.coverage import compute_coverage
from geo_antt.io.dem import open_dem

from .conftest import X0, Y0, make_models, make_units

W, H = 200, 100  # cells (1 m) of the test DEMs, west edge X0, north edge Y0 + 100


def write_dem(path: Path, z: np.ndarray, *, crs: object = "EPSG:32648", west: float = X0, north: float = Y0 + H,
              res: float = 1.0, nodata: float | None = -9999.0) -> Path:  # fmt: skip
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=z.shape[1],
        height=z.shape[0],
        count=1,
        dtype="float32",
        crs=crs,
        transform=from_origin(west, north, res, res),
        nodata=nodata,
    ) as dst:
        dst.write(z.astype("float32"), 1)
    return path


def columns(fn) -> np.ndarray:
    """An elevation grid whose value depends on the cell centre's x (metres east of X0) only."""
    xs = np.arange(W) + 0.5
    return np.tile(np.asarray(fn(xs), dtype=float), (H, 1))


@pytest.fixture
def hamlet() -> gpd.GeoDataFrame:
    return make_units([("H1", "Ấp Đồi", "hamlet", None, box(X0, Y0, X0 + W, Y0 + H))])


def camera(x: float, y: float, direction: float, *, fov: float = 40.0, r: float = 40.0, height: float = 3.5):
    m = make_models(
        [
            {
                "id": "c1",
                "kind": "camera",
                "x": X0 + x,
                "y": Y0 + y,
                "direction_deg": [direction],
                "fov_deg": fov,
                "range_m": r,
            }
        ]
    )
    m["height_m"] = height
    return m


def lamp(x: float, y: float, *, r: float = 30.0, kind: str = "lighting", id_: str = "l1"):
    return make_models([{"id": id_, "kind": kind, "x": X0 + x, "y": Y0 + y, "radius_m": r}])


def footprint(res) -> shapely.Geometry:
    return res.footprints_metric.geometry.iloc[0]


def local(g) -> np.ndarray:
    return np.asarray(g.bounds) - [X0, Y0, X0, Y0]


def segment_area(r: float, d: float) -> float:
    """Area of the part of a disc of radius r beyond a line at distance d from its centre."""
    return r * r * math.acos(d / r) - d * math.sqrt(r * r - d * d)


# -- by hand -----------------------------------------------------------------------------------


def test_a_camera_in_front_of_a_wall_higher_than_itself_sees_nothing_behind_it(tmp_path, hamlet) -> None:
    # a 10 m wall on the cells 60..61 m east; the camera 3.5 m high at 50.5 m, looking east
    dem = open_dem(write_dem(tmp_path / "wall.tif", columns(lambda x: np.where((x > 60) & (x < 61), 10.0, 0.0))))
    res = compute_coverage(hamlet, camera(50.5, 50.5, 90.0), dem=dem)
    g = footprint(res)
    # what it sees is the sector up to the wall's back face (x = 61): a triangle 10.5 m deep,
    # 2 * 10.5 * tan(20°) wide
    assert local(g)[2] == pytest.approx(61.0)
    assert g.area == pytest.approx(10.5 * 10.5 * math.tan(math.radians(20.0)), rel=1e-6)
    assert res.units.loc["H1", "covered_m2"] == pytest.approx(g.area, rel=1e-6)
    # without the DEM the whole sector counts
    plain = compute_coverage(hamlet, camera(50.5, 50.5, 90.0))
    assert footprint(plain).area == pytest.approx(math.pi * 40**2 * 40 / 360, rel=1e-6)


def test_behind_a_low_ridge_the_far_ground_is_hidden_as_far_as_similar_triangles_say(tmp_path, hamlet) -> None:
    # a 2 m ridge (one cell at 60.5 m) below a camera 3.5 m high at 50.5 m: the line over its crest
    # falls 1.5 m in 10 m and meets the ground 3.5 / 0.15 = 23.3 m from the camera, at 73.8 m
    dem = open_dem(write_dem(tmp_path / "ridge.tif", columns(lambda x: np.where((x > 60) & (x < 61), 2.0, 0.0))))
    g = footprint(compute_coverage(hamlet, camera(50.5, 50.5, 90.0), dem=dem))
    row = shapely.intersection(g, box(X0, Y0 + 50, X0 + W, Y0 + 51))  # the camera's row of cells
    parts = sorted((local(p) for p in shapely.get_parts(row) if p.area > 0), key=lambda b: b[0])
    assert [(p[0], p[2]) for p in parts][:1] == [(50.5, 61.0)]  # up to the ridge's back face
    assert parts[1][0] == pytest.approx(74.0)  # the first cell whose centre is beyond 73.8 m
    assert parts[1][2] == pytest.approx(90.5, abs=0.2)  # on to the range (40 m)
    # a camera 10 m high sees more: the line falls 8 m in 10 m and meets the ground 12.5 m out,
    # at 63 m: two cells are hidden
    g10 = footprint(compute_coverage(hamlet, camera(50.5, 50.5, 90.0, height=10.0), dem=dem))
    row10 = shapely.intersection(g10, box(X0, Y0 + 50, X0 + W, Y0 + 51))
    assert row10.area == pytest.approx(row.area + (74.0 - 63.0), abs=1e-6)


def test_in_a_valley_a_lamp_sees_both_slopes_on_a_crest_not_the_far_side(tmp_path) -> None:
    units = make_units([("H1", "Ấp Thung", "hamlet", None, box(X0, Y0, X0 + W, Y0 + H))])
    valley = open_dem(write_dem(tmp_path / "valley.tif", columns(lambda x: 0.5 * np.abs(x - 100.0))))
    res = compute_coverage(units, lamp(100.5, 50.5), dem=valley)
    disc = math.pi * 30**2
    assert footprint(res).area == pytest.approx(disc, rel=5e-3)  # all of it (the disc's polygon)
    # an inverted valley (a crest along x = 100 m): a lamp 6 m high at 85.5 m, 7.25 m below the
    # crest, looks up at it and sees nothing of the far slope beyond x = 100.5
    crest = open_dem(write_dem(tmp_path / "crest.tif", columns(lambda x: 20.0 - 0.5 * np.abs(x - 100.0))))
    g = footprint(compute_coverage(units, lamp(85.5, 50.5), dem=crest))
    assert local(g)[2] <= 101.0 + 1e-9
    far = segment_area(30.0, 15.0)  # beyond x = 100.5
    assert g.area == pytest.approx(disc - far, abs=2 * 2 * math.sqrt(30**2 - 15**2))  # within 2 cell strips


def test_only_the_occluded_kinds_lose_ground(tmp_path, hamlet) -> None:
    dem = open_dem(write_dem(tmp_path / "wall.tif", columns(lambda x: np.where((x > 60) & (x < 61), 10.0, 0.0))))
    both = make_models(
        [
            {"id": "l1", "kind": "lighting", "x": X0 + 50.5, "y": Y0 + 50.5, "radius_m": 20.0},
            {"id": "k1", "kind": "checkpoint", "x": X0 + 150.5, "y": Y0 + 50.5, "radius_m": 20.0},
        ]
    )
    ckpt = make_models([{"id": "k1", "kind": "checkpoint", "x": X0 + 58.5, "y": Y0 + 50.5, "radius_m": 20.0}])
    fp = compute_coverage(hamlet, both, dem=dem).footprints_metric
    assert local(fp.geometry.loc["l1"])[2] == pytest.approx(61.0)  # a lamp's light stops at the wall
    assert fp.loc["k1", "area_m2"] == pytest.approx(math.pi * 400, rel=5e-3)  # a checkpoint's watch does not
    assert compute_coverage(hamlet, ckpt, dem=dem).footprints_metric.loc["k1", "area_m2"] == pytest.approx(
        math.pi * 400, rel=5e-3
    )


def test_terrain_and_buildings_together(tmp_path, hamlet) -> None:
    # the wall at 60 m and a house across the sector at 55-57 m: the house is nearer, so it decides
    dem = open_dem(write_dem(tmp_path / "wall.tif", columns(lambda x: np.where((x > 60) & (x < 61), 10.0, 0.0))))
    house = gpd.GeoDataFrame(geometry=[box(X0 + 55, Y0 + 40, X0 + 57, Y0 + 60)], crs=32648)
    res = compute_coverage(hamlet, camera(50.5, 50.5, 90.0), dem=dem, buildings=house)
    g = footprint(res)
    assert local(g)[2] == pytest.approx(55.0)
    assert g.area == pytest.approx(4.5 * 4.5 * math.tan(math.radians(20.0)), rel=1e-6)


def test_a_dem_in_another_crs_gives_the_same_answer(tmp_path, hamlet) -> None:
    # the wall DEM in geographic degrees (EPSG:4326, ~0.5 m cells): the wall is resampled, so
    # its answer is the wall's within a cell
    from rasterio.warp import Resampling, calculate_default_transform, reproject

    src = write_dem(tmp_path / "wall.tif", columns(lambda x: np.where((x > 59) & (x < 62), 10.0, 0.0)))
    with rasterio.open(src) as s:
        transform, w, h = calculate_default_transform(s.crs, "EPSG:4326", s.width, s.height, *s.bounds, resolution=5e-6)
        out = np.full((h, w), -9999.0, dtype="float32")
        reproject(rasterio.band(s, 1), out, dst_transform=transform, dst_crs="EPSG:4326", dst_nodata=-9999.0,
                  resampling=Resampling.nearest)  # fmt: skip
    geo = tmp_path / "wall4326.tif"
    with rasterio.open(geo, "w", driver="GTiff", width=w, height=h, count=1, dtype="float32", crs="EPSG:4326",
                       transform=transform, nodata=-9999.0) as d:  # fmt: skip
        d.write(out, 1)
    dem = open_dem(geo)
    assert dem.crs.to_epsg() == 4326
    g = footprint(compute_coverage(hamlet, camera(50.5, 50.5, 90.0), dem=dem))
    assert 59.0 <= local(g)[2] <= 63.0
    assert g.area == pytest.approx(11.0 * 11.0 * math.tan(math.radians(20.0)), rel=0.25)


# -- bad input -----------------------------------------------------------------------------------


def test_a_dem_without_a_crs_is_refused_naming_the_file(tmp_path) -> None:
    path = write_dem(tmp_path / "nocrs.tif", columns(lambda x: 0 * x), crs=None)
    with pytest.raises(CRSError, match=r"nocrs\.tif: the elevation model names no CRS"):
        open_dem(path)


def test_a_dem_in_a_wrong_crs_is_refused_naming_the_file(tmp_path) -> None:
    # UTM metres labelled as degrees: nowhere on earth near Vietnam
    path = write_dem(tmp_path / "wrong.tif", columns(lambda x: 0 * x), crs="EPSG:4326")
    with pytest.raises(CRSError, match=r"wrong\.tif: .*outside Vietnam"):
        open_dem(path)


def test_an_unreadable_dem_is_refused_naming_the_file(tmp_path) -> None:
    bad = tmp_path / "broken.tif"
    bad.write_text("not a GeoTIFF", encoding="utf-8")
    with pytest.raises(GeoAnttError, match=r"broken\.tif: cannot read the elevation model"):
        open_dem(bad)
    with pytest.raises(GeoAnttError, match=r"missing\.tif: no such elevation model file"):
        open_dem(tmp_path / "missing.tif")


def test_a_dem_that_does_not_cover_the_cameras_is_refused_naming_them(tmp_path, hamlet) -> None:
    # the DEM covers the western half only: the lamp at 150 m stands outside it
    z = np.zeros((H, 100))
    dem = open_dem(write_dem(tmp_path / "west.tif", z))
    models = make_models(
        [
            {"id": "in", "kind": "lighting", "x": X0 + 50.5, "y": Y0 + 50.5, "radius_m": 10.0},
            {"id": "out-1", "kind": "lighting", "x": X0 + 150.5, "y": Y0 + 50.5, "radius_m": 10.0},
        ]
    )
    with pytest.raises(GeoAnttError, match=r"west\.tif: the elevation model does not cover 1 model\(s\).*out-1"):
        compute_coverage(hamlet, models, dem=dem)
    # nodata where a camera stands is the same
    z2 = np.zeros((H, W))
    z2[40:60, 140:160] = -9999.0
    hole = open_dem(write_dem(tmp_path / "hole.tif", z2))
    with pytest.raises(GeoAnttError, match=r"hole\.tif: .*out-1"):
        compute_coverage(hamlet, models, dem=hole)


# -- the commands --------------------------------------------------------------------------------


def _files(tmp_path: Path, hamlet: gpd.GeoDataFrame, models: gpd.GeoDataFrame) -> tuple[Path, Path]:
    upath, mpath = tmp_path / "u.geojson", tmp_path / "m.geojson"
    hamlet.to_crs(4326).reset_index(drop=True).to_file(upath)
    m = models.to_crs(4326)
    m.assign(direction_deg=m["direction_deg"].map(lambda d: ";".join(map(str, d)))).reset_index(drop=True).to_file(
        mpath
    )
    return upath, mpath


def test_the_coverage_command_reads_a_dem(tmp_path, hamlet, capsys) -> None:
    dem = write_dem(tmp_path / "wall.tif", columns(lambda x: np.where((x > 60) & (x < 61), 10.0, 0.0)))
    upath, mpath = _files(tmp_path, hamlet, camera(50.5, 50.5, 90.0))
    out = tmp_path / "out.geojson"
    args = ["coverage", "--boundaries", str(upath), "--models", str(mpath), "--out", str(out)]
    assert main([*args, "--dem", str(dem)]) == 0
    assert "terrain: " in capsys.readouterr().out
    got = gpd.read_file(out).set_index("unit_code")
    # the camera's height comes from the file (3.5 m) and the models' lon/lat move it a hair
    assert got.loc["H1", "covered_m2"] == pytest.approx(10.5 * 10.5 * math.tan(math.radians(20.0)), rel=0.1)
    assert main([*args, "--dem", str(tmp_path / "nope.tif")]) != 0
    assert "nope.tif: no such elevation model file" in capsys.readouterr().err


def test_the_plan_command_judges_candidates_over_the_terrain(tmp_path, hamlet, capsys) -> None:
    import json

    from geo_antt.placement import plan_sites

    # a 10 m wall across the hamlet at 60 m: a lamp west of it lights nothing east of it
    dem = open_dem(write_dem(tmp_path / "wall.tif", columns(lambda x: np.where((x > 60) & (x < 61), 10.0, 0.0))))
    cands = gpd.GeoDataFrame(geometry=[shapely.Point(X0 + 55.5, Y0 + 50.5), shapely.Point(X0 + 100.5, Y0 + 50.5)],
                             crs=32648)  # fmt: skip
    none = make_models([{"id": "x", "kind": "lighting", "x": X0 + 199.5, "y": Y0 + 99.5, "status": "proposed"}])
    flat = plan_sites(hamlet, none, kind="lighting", count=1, candidates=cands, radius_m=20.0, solver="greedy")
    hilly = plan_sites(
        hamlet, none, kind="lighting", count=1, candidates=cands, radius_m=20.0, solver="greedy", dem=dem
    )
    # on flat ground the two discs tie (both wholly inside); with the wall the one at 55.5 m loses
    # everything east of 61 m, so the one at 100.5 m wins
    assert hilly.sites.to_crs(32648).geometry.iloc[0].x == pytest.approx(X0 + 100.5, abs=1e-6)
    lit = float(hilly.after.loc["H1", "covered_m2"])
    assert lit == pytest.approx(math.pi * 400, rel=5e-3)
    assert float(flat.after.loc["H1", "covered_m2"]) == pytest.approx(math.pi * 400, rel=5e-3)
    upath, mpath = _files(tmp_path, hamlet, none)
    out = tmp_path / "plan.geojson"
    path = str(tmp_path / "wall.tif")
    code = main(["plan", "--boundaries", str(upath), "--models", str(mpath), "--unit", "H1", "--kind", "lighting",
                 "--count", "1", "--radius-m", "20", "--dem", path, "--out", str(out), "--json"])  # fmt: skip
    assert code == 0
    assert json.loads(out.read_text(encoding="utf-8"))["features"]
