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


# ----------------------------------------------------------------------------------------------
# VN-2000: the official TM-3 zone of each province (Circular 973/2001/TT-TCĐC)

OFFICIAL = {  # GSO code: central meridian (degrees, minutes)
    "01": (105, 0),  # Hà Nội
    "31": (105, 45),  # Hải Phòng
    "79": (105, 45),  # TP Hồ Chí Minh
    "48": (107, 45),  # Đà Nẵng
    "68": (107, 45),  # Lâm Đồng
    "56": (108, 15),  # Khánh Hòa
    "22": (107, 45),  # Quảng Ninh
    "10": (104, 45),  # Lào Cai
    "11": (103, 0),  # Điện Biên
    "12": (103, 0),  # Lai Châu
    "14": (104, 0),  # Sơn La
    "92": (105, 0),  # Cần Thơ
    "91": (104, 30),  # Kiên Giang
    "96": (104, 30),  # Cà Mau
    "52": (108, 15),  # Bình Định
    "64": (108, 30),  # Gia Lai
    "66": (108, 30),  # Đắk Lắk
    "46": (107, 0),  # Thừa Thiên Huế
    "40": (104, 45),  # Nghệ An
    "38": (105, 0),  # Thanh Hóa
}


@pytest.mark.parametrize(("code", "dm"), sorted(OFFICIAL.items()))
def test_the_official_meridian_of_a_province(code: str, dm: tuple[int, int]) -> None:
    meridian = dm[0] + dm[1] / 60
    assert crs_mod.province_meridian(code) == meridian
    zone = crs_mod.vn2000_crs_for_province(code)
    assert zone is not None and crs_mod._central_meridian(zone) == pytest.approx(meridian, abs=1e-12)
    assert _scale_factor_of(zone) == 0.9999


def _scale_factor_of(crs) -> float:
    return crs_mod._scale_factor(crs)


def test_the_table_has_the_63_provinces_and_every_2025_province() -> None:
    table = crs_mod.VN2000_PROVINCE_MERIDIANS
    assert len(table) == 63 and all(len(c) == 2 and c.isdigit() for c in table)
    assert len(crs_mod.VN2000_PROVINCES_2025) == 34 and set(crs_mod.VN2000_PROVINCES_2025) <= set(table)
    assert set(table.values()) <= set(crs_mod.VN2000_TM3_MERIDIANS)  # every one has its EPSG code
    assert crs_mod.province_meridian(1) == crs_mod.province_meridian("1") == 105.0
    assert crs_mod.province_meridian("P") is None and crs_mod.vn2000_crs_for_province(None) is None
    assert crs_mod.province_meridian(float("nan")) is None


def test_the_2025_provinces_of_the_real_data_are_in_the_table(shared_data) -> None:
    import pyogrio

    path = shared_data / "national" / "vn_provinces_2025.gpkg"
    codes = pyogrio.read_dataframe(path, layer="provinces", read_geometry=False)["province_code"]
    assert sorted(codes.astype(str)) == sorted(crs_mod.VN2000_PROVINCES_2025)


def test_a_meridian_epsg_lacks_is_the_same_transverse_mercator() -> None:
    from pyproj import CRS, Transformer

    made = crs_mod.vn2000_tm3_crs(109.0)
    assert made.to_epsg() is None and crs_mod._central_meridian(made) == 109.0
    # built the same way for a meridian EPSG has, it gives EPSG's coordinates (to the millimetre)
    own = _built(105.0)
    lon, lat = np.array([104.2, 105.0, 105.9]), np.array([20.1, 21.0, 21.4])
    a = Transformer.from_crs("EPSG:4326", own, always_xy=True).transform(lon, lat)
    b = Transformer.from_crs("EPSG:4326", "EPSG:5897", always_xy=True).transform(lon, lat)
    assert np.abs(np.subtract(a, b)).max() < 1e-3
    assert CRS.from_epsg(5897).geodetic_crs == made.geodetic_crs == CRS.from_epsg(4756)


def _built(meridian: float):
    """The CRS vn2000_tm3_crs builds when EPSG has no code for ``meridian``."""
    saved = dict(crs_mod.VN2000_TM3_MERIDIANS)
    try:
        crs_mod.VN2000_TM3_MERIDIANS.pop(meridian)
        return crs_mod.vn2000_tm3_crs(meridian)
    finally:
        crs_mod.VN2000_TM3_MERIDIANS.clear()
        crs_mod.VN2000_TM3_MERIDIANS.update(saved)


def test_partition_crs_takes_the_province_zone_before_the_nearest() -> None:
    hanoi_box = (105.29, 20.56, 106.02, 21.39)  # nearest meridian of its centre: 105°45'
    assert crs_mod.partition_crs(hanoi_box, system="vn2000").to_epsg() == 9210
    assert crs_mod.partition_crs(hanoi_box, system="vn2000", province="01").to_epsg() == 5897
    assert crs_mod.partition_crs(hanoi_box, system="vn2000", province="X9").to_epsg() == 9210
    assert crs_mod.partition_crs(hanoi_box, system="utm", province="01").to_epsg() == 32648
