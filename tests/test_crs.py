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
    return gpd.GeoDataFrame(
        {"code": [f"u{i}" for i in range(n)], "v": np.arange(n)},
        geometry=geoms,
        crs="EPSG:32648",
        index=pd.Index([f"u{i}" for i in range(n)], name="code"),
    )


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


def test_utm_area_error_matches_the_projection(shared_data) -> None:
    """The estimate bounds the true area error of one zone: measured on the real communes of
    the whole country (against an equal-area projection) it is at most the estimate.
    """
    from pathlib import Path

    from pyproj import CRS

    from geo_antt import io

    u = io.read_units(Path(shared_data) / "national" / "vn_communes_2025.gpkg")
    zone = CRS.from_epsg(32649)
    with pytest.warns(UserWarning, match=r"102\.1-117\.8°E, wider than one UTM zone: .*off by up to 2\.3 %"):
        assert crs_mod.metric_crs_for(u).equals(zone)
    true = (u.to_crs(zone).area / u.to_crs("+proj=cea +lon_0=106 +lat_ts=16 +datum=WGS84").area - 1).abs()
    assert 0.015 < true.max() <= crs_mod.utm_area_error(tuple(u.total_bounds), zone)


def test_metric_crs_warns_only_beyond_a_zone(recwarn) -> None:
    def box(x0, y0, x1, y1):
        return gpd.GeoDataFrame(geometry=[shapely.box(x0, y0, x1, y1)], crs=4326)

    assert crs_mod.metric_crs_for(box(105.3, 20.5, 106.0, 21.4)).to_epsg() == 32648  # Hà Nội
    assert crs_mod.metric_crs_for(box(106.2, 9.5, 109.2, 12.5)).to_epsg() == 32648  # the demo: 0.44 %
    assert len(recwarn) == 0
    wide = box(102.1, 8.5, 112.0, 23.4)  # centre 107°E: 48N, 7° from its meridian
    with pytest.warns(UserWarning, match="EPSG:32648"):
        crs_mod.metric_crs_for(wide)
    assert crs_mod.metric_crs_for(wide, crs="EPSG:3405").to_epsg() == 3405  # named: no warning
    assert len(recwarn) == 0
