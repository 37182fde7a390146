"""geo_antt.crs: the threaded projection gives exactly what GeoDataFrame.to_crs gives."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal, assert_geoseries_equal

from geo_antt import crs as crs_mod


def _frame(n: int) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(3)
    x, y = rng.uniform(580_000, 600_000, n), rng.uniform(2_300_000, 2_320_000, n)
    discs = shapely.buffer(shapely.points(x, y), rng.uniform(5, 30, n), quad_segs=8)
    geoms = discs.astype(object)
    geoms[1] = None
    geoms[2] = shapely.Polygon()
    geoms[3] = shapely.difference(discs[3], shapely.buffer(shapely.points(x[3], y[3]), 2.0))  # a hole
    return gpd.GeoDataFrame({"code": [f"u{i}" for i in range(n)], "v": np.arange(n)}, geometry=geoms, crs="EPSG:32648", index=pd.Index([f"u{i}" for i in range(n)], name="code"))


def test_project_equals_to_crs_on_large_frames(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(crs_mod, "_THREADED_COORDS", 2_000)
    g = _frame(600)  # 600 discs of 33 points: threaded
    assert shapely.get_num_coordinates(g.geometry.array).sum() >= 2_000
    assert_geodataframe_equal(crs_mod.project(g, "EPSG:4326"), g.to_crs("EPSG:4326"), check_less_precise=False)
    assert_geoseries_equal(crs_mod.project(g.geometry, 4326), g.geometry.to_crs(4326), check_less_precise=False)
    back = crs_mod.to_metric(crs_mod.to_wgs84(g), crs="EPSG:32648")
    assert_geodataframe_equal(back, g.to_crs(4326).to_crs(32648))
    # exactly the same coordinates, bit for bit
    a = shapely.get_coordinates(crs_mod.project(g, 4326).geometry.array)
    b = shapely.get_coordinates(g.to_crs(4326).geometry.array)
    assert np.array_equal(a, b)


def test_project_leaves_the_input_alone_and_keeps_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(crs_mod, "_THREADED_COORDS", 2_000)
    g = _frame(300)
    before = g.copy()
    out = crs_mod.project(g, "EPSG:4326")
    assert_geodataframe_equal(g, before)
    assert out.crs.to_epsg() == 4326 and list(out.columns) == list(g.columns) and out.index.equals(g.index)
    assert out.geometry.name == g.geometry.name
