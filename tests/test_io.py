"""Tests of geo_antt.io: writing layers, reading units and models, validation."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import MultiPolygon, Point, Polygon

from geo_antt import io


def _signed_area(ring: list[list[float]]) -> float:
    a = 0.0
    for (x1, y1), (x2, y2) in zip(ring[:-1], ring[1:]):
        a += x1 * y2 - x2 * y1
    return a / 2.0


def _frame() -> gpd.GeoDataFrame:
    cw = Polygon([(106.0, 10.0), (106.0, 10.01), (106.01, 10.01), (106.01, 10.0)])  # clockwise
    assert not cw.exterior.is_ccw
    hole = [(106.002, 10.002), (106.004, 10.002), (106.004, 10.004), (106.002, 10.004)]  # ccw hole
    with_hole = Polygon([(106.1, 10.1), (106.1, 10.12), (106.12, 10.12), (106.12, 10.1)], [hole])
    multi = MultiPolygon([cw, Polygon([(106.2, 10.2), (106.2, 10.21), (106.21, 10.21)])])
    return gpd.GeoDataFrame(
        {
            "code": ["a", "b", "c", "d"],
            "name": ["Xã Vĩnh Bình", "b", None, "d"],
            "direction_deg": [(90.0, 180.0), (), (12.5,), ()],
            "fov_deg": [90.0, np.nan, 60.0, np.nan],
            "n": [1, 2, 3, 4],
            "start_date": [dt.date(2025, 7, 1), None, dt.date(2024, 1, 2), None],
            "approximate": [True, False, True, False],
        },
        geometry=[cw, with_hole, multi, Point(106.123456789123, 10.987654321987)],
        crs="EPSG:4326",
        index=pd.Index(["a", "b", "c", "d"], name="code"),
    )


def test_geojson_is_rfc7946(tmp_path: Path) -> None:
    out = io.write_layer(_frame(), tmp_path / "units.geojson")
    d = json.loads(out.read_text(encoding="utf-8"))
    assert d["type"] == "FeatureCollection" and "crs" not in d
    f0, f1, f2, f3 = d["features"]
    assert f0["id"] == "a"
    assert f0["properties"]["direction_deg"] == [90.0, 180.0]
    assert f0["properties"]["name"] == "Xã Vĩnh Bình"
    assert f0["properties"]["start_date"] == "2025-07-01"
    assert f1["properties"]["fov_deg"] is None
    assert f1["properties"]["start_date"] is None
    assert f0["properties"]["approximate"] is True and f0["properties"]["n"] == 1
    # exterior counter-clockwise, holes clockwise (right-hand rule)
    assert _signed_area(f0["geometry"]["coordinates"][0]) > 0
    assert _signed_area(f1["geometry"]["coordinates"][0]) > 0
    assert _signed_area(f1["geometry"]["coordinates"][1]) < 0
    for poly in f2["geometry"]["coordinates"]:
        assert _signed_area(poly[0]) > 0
    # 7 decimals
    assert f3["geometry"]["coordinates"] == [106.1234568, 10.9876543]
    assert "106.1234568," in out.read_text(encoding="utf-8")


def test_to_geojson_dict_reprojects_and_keeps_none_geometry() -> None:
    g = gpd.GeoDataFrame(
        {"id": ["x", "y"]}, geometry=[Point(500000.0, 1100000.0), None], crs="EPSG:32648"
    ).set_index("id", drop=False)
    d = io.to_geojson_dict(g)
    lon, lat = d["features"][0]["geometry"]["coordinates"]
    assert lon == pytest.approx(105.0, abs=1e-6) and 9.9 < lat < 10.0
    assert d["features"][1]["geometry"] is None


def test_geojson_round_trip(tmp_path: Path) -> None:
    src = _frame()
    out = io.write_layer(src, tmp_path / "x.geojson")
    back = gpd.read_file(out)
    assert list(back["code"]) == ["a", "b", "c", "d"]
    assert back.crs.to_epsg() == 4326
    for a, b in zip(src.geometry, back.geometry):
        assert a.symmetric_difference(b).area < 1e-12 if a.area else a.distance(b) < 1e-6


def test_gpkg_joins_tuples(tmp_path: Path) -> None:
    out = io.write_layer(_frame(), tmp_path / "x.gpkg", layer="units")
    back = gpd.read_file(out, layer="units")
    assert list(back["direction_deg"]) == ["90;180", "", "12.5", ""]
    assert back.crs.to_epsg() == 4326
    assert list(back["code"]) == ["a", "b", "c", "d"]


def test_failed_write_leaves_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "keep.geojson"
    io.write_layer(_frame(), target)
    before = target.read_bytes()
    bad = _frame().iloc[:1]

    def boom(*a, **k):
        raise OSError("disk full")
    monkeypatch.setattr(io.os, "fsync", boom)
    with pytest.raises(OSError, match="disk full"):
        io.write_layer(bad, target)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.geojson"]
