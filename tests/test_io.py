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


# --------------------------------------------------------------------------------------------
# read_units

import unicodedata
import warnings

from geo_antt._errors import CRSError, GeoAnttError, ValidationError
from geo_antt.text import fold

BOUNDARY_FILES = {
    # file stem -> (level, a known code, its name, its parent code)
    "go_cong_tay_communes_pre2025": ("commune", "28651", "Thị trấn Vĩnh Bình", "823"),
    "go_cong_tay_communes_2025": ("commune", "28651", "Xã Vĩnh Bình", None),
    "go_cong_tay_district_pre2025": ("district", "823", "Huyện Gò Công Tây", None),
    "ham_thuan_nam_communes_pre2025": ("commune", "23110", "Thị trấn Thuận Nam", "598"),
    "ham_thuan_nam_communes_2025": ("commune", "22963", "Xã Tuyên Quang", None),
    "ham_thuan_nam_district_pre2025": ("district", "598", "Huyện Hàm Thuận Nam", None),
    "mo_cay_nam_communes_pre2025": ("commune", "28903", "Thị trấn Mỏ Cày", "833"),
    "mo_cay_nam_communes_2025": ("commune", "28903", "Xã Mỏ Cày", None),
    "mo_cay_nam_district_pre2025": ("district", "833", "Huyện Mỏ Cày Nam", None),
    "thanh_phu_communes_pre2025": ("commune", "29182", "Thị trấn Thạnh Phú", "837"),
    "thanh_phu_communes_2025": ("commune", "29182", "Xã Thạnh Phú", None),
    "thanh_phu_district_pre2025": ("district", "837", "Huyện Thạnh Phú", None),
}


@pytest.mark.parametrize("stem", sorted(BOUNDARY_FILES))
def test_read_units_shared_boundaries_without_options(shared_data: Path, stem: str) -> None:
    level, code, name, parent = BOUNDARY_FILES[stem]
    path = shared_data / "boundaries" / f"{stem}.geojson"
    raw = gpd.read_file(path)
    u = io.read_units(path)
    assert len(u) == len(raw)
    assert set(u["level"]) == {level}
    assert u.index.name == "code" and u.index.is_unique
    assert list(u.index) == list(u["code"])
    assert u.loc[code, "name"] == name
    assert u.loc[code, "parent_code"] == parent
    assert u.crs.to_epsg() == 4326
    # every geometry kept as it was (multipolygons, islands)
    assert list(u.geom_type) == list(raw.geom_type)
    assert np.allclose(shapely.area(u.geometry.to_numpy()), shapely.area(raw.geometry.to_numpy()))
    # extra properties kept
    assert "area_km2" in u.columns
    for col in ("code", "name", "level", "parent_code", "approximate", "valid_from", "valid_to"):
        assert col in u.columns
    assert all(unicodedata.is_normalized("NFC", n) for n in u["name"])
    if stem.endswith("_communes_2025"):
        assert set(u["valid_from"]) == {"2025-07-01"}


def test_read_units_national_files(shared_data: Path) -> None:
    hanoi = io.read_units(shared_data / "national" / "hanoi_communes_2025.geojson")
    assert len(hanoi) == 126 and set(hanoi["level"]) == {"commune"}
    assert hanoi.loc["00004", "name"] == "Phường Ba Đình" and hanoi.loc["00004", "parent_code"] == "01"
    prov = io.read_units(shared_data / "national" / "vn_provinces_2025.gpkg")
    assert len(prov) == 34 and set(prov["level"]) == {"province"}
    assert prov.loc["01", "name"] == "Thành phố Hà Nội"
    assert (prov.geom_type == "MultiPolygon").all()


def _vn1258(text: str) -> str:
    """Text as Windows-1258 writes Vietnamese: base letter (with â ê ô ă ơ ư) + tone mark."""
    tones = "\u0300\u0301\u0303\u0309\u0323"
    out = []
    for ch in unicodedata.normalize("NFC", text):
        try:
            ch.encode("cp1258")
            out.append(ch)
        except UnicodeEncodeError:
            d = unicodedata.normalize("NFD", ch)
            base = unicodedata.normalize("NFC", "".join(c for c in d if c not in tones))
            out.append(base + "".join(c for c in d if c in tones))
    return "".join(out)


def _squares(n: int = 2, *, x0: float = 106.0, y0: float = 10.0) -> list[Polygon]:
    return [shapely.box(x0 + 0.02 * i, y0, x0 + 0.02 * i + 0.01, y0 + 0.01) for i in range(n)]


def test_shapefile_cp1258_without_cpg(tmp_path: Path) -> None:
    names = ["Xã Vĩnh Bình", "Phường Đội Cấn"]
    g = gpd.GeoDataFrame(
        {"MA_XA": ["00001", "00002"], "TEN_XA": [_vn1258(n) for n in names], "MA_HUYEN": ["001", "001"]},
        geometry=_squares(),
        crs="EPSG:4326",
    )
    shp = tmp_path / "xa.shp"
    g.to_file(shp, encoding="cp1258", engine="pyogrio")
    (tmp_path / "xa.cpg").unlink()
    with pytest.warns(UserWarning, match=r"no \.cpg.*Windows-1258"):
        u = io.read_units(shp)
    assert list(u["name"]) == names
    assert list(u.index) == ["00001", "00002"]
    assert set(u["level"]) == {"commune"} and set(u["parent_code"]) == {"001"}


def test_shapefile_utf8_without_cpg_and_with_cpg(tmp_path: Path) -> None:
    g = gpd.GeoDataFrame({"ma": ["1", "2"], "ten": ["Thôn Đông", "Ấp Mỹ"]}, geometry=_squares(), crs="EPSG:4326")
    shp = tmp_path / "thon.shp"
    g.to_file(shp, encoding="utf-8", engine="pyogrio")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        u = io.read_units(shp, level="hamlet")  # .cpg present: no warning
    assert list(u["name"]) == ["Thôn Đông", "Ấp Mỹ"]
    (tmp_path / "thon.cpg").unlink()
    with pytest.warns(UserWarning, match=r"no \.cpg.*UTF-8"):
        u = io.read_units(shp, level="hamlet")
    assert list(u["name"]) == ["Thôn Đông", "Ấp Mỹ"] and set(u["level"]) == {"hamlet"}


@pytest.mark.parametrize("epsg", [3405, 5897, 9210])
def test_vn2000_input(tmp_path: Path, epsg: int) -> None:
    wgs = gpd.GeoDataFrame({"ma_xa": ["1", "2"], "ten_xa": ["A", "B"]}, geometry=_squares(), crs="EPSG:4326")
    path = tmp_path / "vn2000.gpkg"
    wgs.to_crs(epsg).to_file(path, driver="GPKG", engine="pyogrio")
    u = io.read_units(path)
    assert u.crs.to_epsg() == 4326
    # VN-2000 differs from WGS 84 by a datum shift (a few hundred metres at most), not more
    for a, b in zip(u.geometry, wgs.geometry):
        assert a.centroid.distance(b.centroid) < 0.005


def test_no_crs(tmp_path: Path) -> None:
    lonlat = gpd.GeoDataFrame({"code": ["1"], "name": ["A"]}, geometry=_squares(1))
    p = tmp_path / "nocrs.shp"
    with pytest.warns(UserWarning, match="'crs' was not provided"):
        lonlat.to_file(p, engine="pyogrio")
    with pytest.warns(UserWarning, match="no CRS.*EPSG:4326"):
        u = io.read_units(p, level="commune")
    assert u.crs.to_epsg() == 4326
    proj = gpd.GeoDataFrame({"code": ["1"], "name": ["A"]}, geometry=_squares(1)).set_crs(4326).to_crs(3405)
    proj = proj.set_crs(None, allow_override=True)
    p2 = tmp_path / "proj_nocrs.shp"
    with pytest.warns(UserWarning, match="'crs' was not provided"):
        proj.to_file(p2, engine="pyogrio")
    with pytest.raises(CRSError, match="--crs"):
        io.read_units(p2, level="commune")
    u2 = io.read_units(p2, level="commune", crs="EPSG:3405")
    assert u2.geometry.iloc[0].centroid.distance(_squares(1)[0].centroid) < 0.005


def test_swapped_lat_lon(tmp_path: Path) -> None:
    swapped = [shapely.transform(p, lambda c: c[:, ::-1]) for p in _squares()]
    g = gpd.GeoDataFrame({"code": ["1", "2"], "name": ["A", "B"]}, geometry=swapped, crs="EPSG:4326")
    p = tmp_path / "swapped.geojson"
    g.to_file(p, engine="pyogrio")
    with pytest.raises(CRSError, match="swapped"):
        io.read_units(p, level="commune")


def test_invalid_polygon_repaired_with_warning(tmp_path: Path) -> None:
    bowtie = Polygon([(106.0, 10.0), (106.01, 10.01), (106.01, 10.0), (106.0, 10.01)])
    assert not bowtie.is_valid
    g = gpd.GeoDataFrame({"code": ["good", "bow"], "name": ["A", "B"]}, geometry=[_squares(1)[0], bowtie], crs="EPSG:4326")
    p = tmp_path / "bow.geojson"
    g.to_file(p, engine="pyogrio")
    with pytest.warns(UserWarning, match=r"repaired 1 invalid polygon.*bow"):
        u = io.read_units(p, level="commune")
    assert u.is_valid.all() and u.loc["bow"].geometry.geom_type == "MultiPolygon"
    assert shapely.area(u.loc["bow"].geometry) == pytest.approx(0.5 * 0.01 * 0.01, rel=1e-6)


def test_bad_units_report_every_problem(tmp_path: Path) -> None:
    p = tmp_path / "bad.geojson"
    feats = [
        {"type": "Feature", "properties": {"ma_xa": "1", "ten_xa": "A"}, "geometry": shapely.geometry.mapping(_squares(1)[0])},
        {"type": "Feature", "properties": {"ma_xa": "1", "ten_xa": "B"}, "geometry": shapely.geometry.mapping(_squares(2)[1])},
        {"type": "Feature", "properties": {"ma_xa": "3", "ten_xa": "C"}, "geometry": None},
        {"type": "Feature", "properties": {"ma_xa": "4", "ten_xa": "D"}, "geometry": {"type": "Point", "coordinates": [106.0, 10.0]}},
        {"type": "Feature", "properties": {"ma_xa": None, "ten_xa": "E"}, "geometry": shapely.geometry.mapping(_squares(1)[0])},
    ]
    p.write_text(json.dumps({"type": "FeatureCollection", "features": feats}), encoding="utf-8")
    with pytest.raises(ValidationError) as ei:
        io.read_units(p)
    probs = {(q.row, q.field): q for q in ei.value.problems}
    assert set(probs) == {(2, "ma_xa"), (3, "geometry"), (4, "geometry"), (5, "ma_xa")}
    assert "duplicate" in probs[(2, "ma_xa")].reason
    assert "empty" in probs[(3, "geometry")].reason
    assert "Polygon" in probs[(4, "geometry")].reason
    assert "missing" in probs[(5, "ma_xa")].reason
    assert all(q.file == str(p) for q in ei.value.problems)


def test_column_mapping_and_level_inference(tmp_path: Path) -> None:
    g = gpd.GeoDataFrame(
        {"Mã thôn": ["T1", "T2"], "Tên thôn": ["Thôn 1", "Thôn 2"], "Mã xã": ["X", "X"], "dan_so": [10, 20]},
        geometry=_squares(),
        crs="EPSG:4326",
    )
    p = tmp_path / "thon.geojson"
    g.to_file(p, engine="pyogrio")
    u = io.read_units(p)
    assert set(u["level"]) == {"hamlet"} and list(u["parent_code"]) == ["X", "X"]
    assert list(u["name"]) == ["Thôn 1", "Thôn 2"] and list(u["dan_so"]) == [10, 20]
    u2 = io.read_units(p, columns={"code": "TEN THON", "name": "ma thon", "parent_code": "dan_so"}, level="commune")
    assert list(u2.index) == ["Thôn 1", "Thôn 2"] and list(u2["parent_code"]) == ["10", "20"]
    with pytest.raises(GeoAnttError, match="not found"):
        io.read_units(p, columns={"code": "nope"})
    g2 = gpd.GeoDataFrame({"ma": ["1"], "ten": ["A"]}, geometry=_squares(1), crs="EPSG:4326")
    p2 = tmp_path / "generic.geojson"
    g2.to_file(p2, engine="pyogrio")
    with pytest.raises(GeoAnttError, match="level"):
        io.read_units(p2)


def test_read_units_reads_its_own_output(tmp_path: Path, shared_data: Path) -> None:
    u = io.read_units(shared_data / "boundaries" / "mo_cay_nam_communes_pre2025.geojson")
    out = io.write_layer(u, tmp_path / "u.geojson")
    back = io.read_units(out)
    assert list(back.index) == list(u.index)
    assert (back["level"] == "commune").all() and list(back["parent_code"]) == list(u["parent_code"])
    assert np.allclose(shapely.area(back.geometry.to_numpy()), shapely.area(u.geometry.to_numpy()), rtol=1e-5)
    assert list(back.columns) == list(u.columns)
