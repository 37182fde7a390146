"""Tests of geo_antt.io: writing layers, reading units and models, validation."""

from __future__ import annotations

import datetime as dt
import json
import math
import unicodedata
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import MultiPolygon, Point, Polygon

from geo_antt import io
from geo_antt._errors import CRSError, GeoAnttError, Problem, ValidationError
from geo_antt.cli import main as cli_main
from geo_antt.io.cells import ParseError, parse_coordinate, parse_directions, parse_number


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
    g = gpd.GeoDataFrame({"id": ["x", "y"]}, geometry=[Point(500000.0, 1100000.0), None], crs="EPSG:32648").set_index(
        "id", drop=False
    )
    d = io.to_geojson_dict(g)
    lon, lat = d["features"][0]["geometry"]["coordinates"]
    assert lon == pytest.approx(105.0, abs=1e-6) and 9.9 < lat < 10.0
    assert d["features"][1]["geometry"] is None


def test_to_geojson_text_diffable_for_files_kept_in_git() -> None:
    """The demo dataset's form: a named collection, no ids, one line each for the header, every
    feature and the closing bracket, properties as the json module writes them.
    """
    g = gpd.GeoDataFrame(
        {"name": ["Ấp 1 / khu A", "b"], "direction_deg": [(70.2,), ()], "range_m": [25.0, float("nan")]},
        geometry=[Point(106.1234567, 10.5), None],
        crs="EPSG:4326",
    )
    text = io.to_geojson_text(g, decimals=6, name="models", ids=False, diffable=True)
    assert text.split("\n") == [
        '{"type":"FeatureCollection","name":"models","features":[',
        '{"type":"Feature","properties":{"name":"Ấp 1 / khu A","direction_deg":[70.2],"range_m":25.0},'
        '"geometry":{"type":"Point","coordinates":[106.123457,10.5]}},',
        '{"type":"Feature","properties":{"name":"b","direction_deg":[],"range_m":null},"geometry":null}',
        "]}",
        "",
    ]
    plain = json.loads(io.to_geojson_text(g, decimals=6))
    assert [f["properties"] for f in json.loads(text)["features"]] == [f["properties"] for f in plain["features"]]
    assert [f["id"] for f in plain["features"]] == [0, 1]


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

    monkeypatch.setattr("geo_antt.io.vector.os.fsync", boom)
    with pytest.raises(OSError, match="disk full"):
        io.write_layer(bad, target)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.geojson"]


# --------------------------------------------------------------------------------------------
# read_units


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
    with pytest.raises(CRSError, match="--input-crs"):
        io.read_units(p2, level="commune")
    u2 = io.read_units(p2, level="commune", crs="EPSG:3405")
    assert u2.geometry.iloc[0].centroid.distance(_squares(1)[0].centroid) < 0.005


def test_crs_option_only_when_the_file_does_not_say(tmp_path: Path) -> None:
    wgs = gpd.GeoDataFrame({"ma_xa": ["1"], "ten_xa": ["A"]}, geometry=_squares(1), crs="EPSG:4326")
    p = tmp_path / "wgs.geojson"
    wgs.to_file(p, engine="pyogrio")
    u = io.read_units(p, crs="EPSG:3405")  # the file's own CRS wins (--input-crs is for others)
    assert u.geometry.iloc[0].equals_exact(wgs.geometry.iloc[0], 1e-9)
    # a GeoJSON exported in VN-2000 without a "crs" member: GDAL says degrees, the numbers say no
    vn = wgs.to_crs(3405)
    feats = [
        {
            "type": "Feature",
            "properties": {"ma_xa": "1", "ten_xa": "A"},
            "geometry": shapely.geometry.mapping(vn.geometry.iloc[0]),
        }
    ]
    p2 = tmp_path / "vn2000_nocrs.geojson"
    p2.write_text(json.dumps({"type": "FeatureCollection", "features": feats}), encoding="utf-8")
    with pytest.raises(CRSError, match="not degrees"):
        io.read_units(p2)
    u2 = io.read_units(p2, crs="EPSG:3405")
    assert u2.geometry.iloc[0].centroid.distance(wgs.geometry.iloc[0].centroid) < 0.005
    # the same for a model file
    x, y = vn.geometry.iloc[0].centroid.coords[0]
    pm = tmp_path / "models_vn2000.geojson"
    pm.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"id": "k", "kind": "checkpoint"},
                        "geometry": {"type": "Point", "coordinates": [x, y]},
                    }
                ],
            }
        ),
        encoding="utf-8",
    )
    with pytest.raises(CRSError, match="--input-crs"):
        io.load_models(pm)
    g = io.read_models(pm, crs="EPSG:3405")
    assert g.loc["k"].geometry.distance(wgs.geometry.iloc[0].centroid) < 0.005


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
    g = gpd.GeoDataFrame(
        {"code": ["good", "bow"], "name": ["A", "B"]}, geometry=[_squares(1)[0], bowtie], crs="EPSG:4326"
    )
    p = tmp_path / "bow.geojson"
    g.to_file(p, engine="pyogrio")
    with pytest.warns(UserWarning, match=r"repaired 1 invalid polygon.*bow"):
        u = io.read_units(p, level="commune")
    assert u.is_valid.all() and u.loc["bow"].geometry.geom_type == "MultiPolygon"
    assert shapely.area(u.loc["bow"].geometry) == pytest.approx(0.5 * 0.01 * 0.01, rel=1e-6)


def test_bad_units_report_every_problem(tmp_path: Path) -> None:
    p = tmp_path / "bad.geojson"
    feats = [
        {
            "type": "Feature",
            "properties": {"ma_xa": "1", "ten_xa": "A"},
            "geometry": shapely.geometry.mapping(_squares(1)[0]),
        },
        {
            "type": "Feature",
            "properties": {"ma_xa": "1", "ten_xa": "B"},
            "geometry": shapely.geometry.mapping(_squares(2)[1]),
        },
        {"type": "Feature", "properties": {"ma_xa": "3", "ten_xa": "C"}, "geometry": None},
        {
            "type": "Feature",
            "properties": {"ma_xa": "4", "ten_xa": "D"},
            "geometry": {"type": "Point", "coordinates": [106.0, 10.0]},
        },
        {
            "type": "Feature",
            "properties": {"ma_xa": None, "ten_xa": "E"},
            "geometry": shapely.geometry.mapping(_squares(1)[0]),
        },
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


def test_read_units_multi_level_file(tmp_path: Path) -> None:
    g = gpd.GeoDataFrame(
        {
            "code": ["P", "C1", "H1"],
            "name": ["Tỉnh", "Xã", "Ấp"],
            "level": ["province", "commune", "hamlet"],
            "parent_code": [None, "P", "C1"],
            "commune_code_gso": [None, "C1", None],  # a stray GSO column must not take over
        },
        geometry=_squares(3),
        crs="EPSG:4326",
    )
    io.write_layer(g.set_index("code", drop=False), tmp_path / "all.geojson")
    u = io.read_units(tmp_path / "all.geojson")
    assert list(u.index) == ["P", "C1", "H1"] and list(u["level"]) == ["province", "commune", "hamlet"]
    assert list(u["parent_code"]) == [None, "P", "C1"]


def test_read_units_reads_its_own_output(tmp_path: Path, shared_data: Path) -> None:
    u = io.read_units(shared_data / "boundaries" / "mo_cay_nam_communes_pre2025.geojson")
    out = io.write_layer(u, tmp_path / "u.geojson")
    back = io.read_units(out)
    assert list(back.index) == list(u.index)
    assert (back["level"] == "commune").all() and list(back["parent_code"]) == list(u["parent_code"])
    assert np.allclose(shapely.area(back.geometry.to_numpy()), shapely.area(u.geometry.to_numpy()), rtol=1e-5)
    assert list(back.columns) == list(u.columns)


# --------------------------------------------------------------------------------------------
# models


VI_HEADER = "Mã;Loại mô hình;Tên;Vĩ độ;Kinh độ;Hướng;Góc;Tầm xa;Bán kính;Trạng thái;Lĩnh vực"


def _write_csv(path: Path, lines: list[str], *, bom: bool = False, encoding: str = "utf-8") -> Path:
    data = ("\n".join(lines) + "\n").encode(encoding)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    return path


def _errors(problems: list[Problem]) -> dict[tuple[int | None, str | None], Problem]:
    return {(p.row, p.field): p for p in problems if p.severity == "error"}


def test_csv_vietnamese_headers_bom_semicolon_comma_decimals(tmp_path: Path) -> None:
    p = _write_csv(
        tmp_path / "mo_hinh.csv",
        [
            VI_HEADER,
            "C1;Camera;Camera chợ;10,1269;106,6867;ĐB;90;30;;Hoạt động;Phòng chống tội phạm",
            'C2;camera an ninh;Cam 2;10°07\'36.9"N;106°41\'12"E;"90; 270";;;;;',
            "L1;Đèn chiếu sáng;Đèn 1;10,13;106,69;;;;25;Ngừng hoạt động;",
            "K1;Chốt dân phòng;Chốt 1;10.14;106.7;;;;;;pccc",
            "T1;Tổ tự quản;Tổ 1;;;;;;;;",
        ],
        bom=True,
    )
    g, problems = io.load_models(p)
    assert [q for q in problems if q.severity == "error"] == []
    assert list(g.index) == ["C1", "C2", "L1", "K1", "T1"]
    assert list(g["kind"]) == ["camera", "camera", "lighting", "checkpoint", "self_management"]
    assert g.loc["C1", "direction_deg"] == (45.0,)
    assert g.loc["C2", "direction_deg"] == (90.0, 270.0)
    assert g.loc["C1"].geometry.x == pytest.approx(106.6867) and g.loc["C1"].geometry.y == pytest.approx(10.1269)
    assert g.loc["C2"].geometry.y == pytest.approx(10 + 7 / 60 + 36.9 / 3600)
    assert g.loc["C2"].geometry.x == pytest.approx(106 + 41 / 60 + 12 / 3600)
    assert g.loc["C1", "fov_deg"] == 90.0 and math.isnan(g.loc["C2", "fov_deg"])
    assert g.loc["L1", "radius_m"] == 25.0 and g.loc["L1", "status"] == "inactive"
    assert g.loc["C1", "status"] == "active" and g.loc["K1", "status"] == "active"  # blank = active
    assert g.loc["C1", "field"] == "crime_prevention" and g.loc["K1", "field"] == "fire_prevention"
    assert g.loc["T1"].geometry is None  # non-spatial kinds need no location
    assert g.crs.to_epsg() == 4326
    # blank fov/range: NaN, and the defaults that will apply are recorded
    assert g.attrs["defaults"]["camera"]["fov_deg"] == {"value": 90.0, "rows": 1}
    assert g.attrs["defaults"]["checkpoint"]["radius_m"] == {"value": 100.0, "rows": 1}


def test_csv_english_comma_no_bom(tmp_path: Path) -> None:
    p = _write_csv(
        tmp_path / "m.csv",
        [
            "id,kind,name,lat,lon,direction_deg,fov_deg,range_m,status,camera_type,start_date",
            'a,camera,"Gate, north",10.5,106.5,NE;SW,60,25,active,PTZ,01/07/2025',
            "b,lighting,lamp,10.6,106.6,,,,inactive,,2025-03-02",
        ],
    )
    g = io.read_models(p)
    assert g.loc["a", "direction_deg"] == (45.0, 225.0) and g.loc["a", "name"] == "Gate, north"
    assert g.loc["a", "camera_type"] == "ptz" and g.loc["a", "start_date"] == "2025-07-01"
    assert g.loc["b", "start_date"] == "2025-03-02"


def test_csv_cp1258_detected(tmp_path: Path) -> None:
    lines = [
        "ma,loai,ten,vi do,kinh do,ban kinh",
        f"1,{_vn1258('Đèn chiếu sáng')},{_vn1258('Đèn ngõ Hương')},10.1,106.1,15",
    ]
    p = _write_csv(tmp_path / "w.csv", lines, encoding="cp1258")
    g, problems = io.load_models(p)
    assert [q.reason for q in problems if q.severity == "warning" and "Windows-1258" in q.reason]
    assert g.loc["1", "name"] == "Đèn ngõ Hương" and g.loc["1", "kind"] == "lighting"
    with pytest.warns(UserWarning, match="Windows-1258"):
        io.read_models(p)


def test_csv_cp1252_detected(tmp_path: Path) -> None:
    p = _write_csv(tmp_path / "w.csv", ["id,kind,name,lat,lon", "1,lighting,Café ½ rue,10.1,106.1"], encoding="cp1252")
    g, problems = io.load_models(p)
    assert any("Windows-1252" in q.reason for q in problems if q.severity == "warning")
    assert g.loc["1", "name"] == "Café ½ rue"


def test_every_validation_rule_reported_with_row_and_field(tmp_path: Path) -> None:
    p = _write_csv(
        tmp_path / "bad.csv",
        [
            "id,kind,lat,lon,direction_deg,fov_deg,range_m,radius_m,status",
            "ok,camera,10.5,106.5,90,90,20,,active",  # 2
            "nocoord,camera,,,90,,,,",  # 3
            "swap,camera,106.5,10.5,90,,,,",  # 4
            "far,lighting,48.8,2.3,,,,,",  # 5
            "dir,camera,10.5,106.5,400,,,,",  # 6
            "fov0,camera,10.5,106.5,90,0,,,",  # 7
            "fov400,camera,10.5,106.5,90,400,,,",  # 8
            "range,camera,10.5,106.5,90,,0,,",  # 9
            "radius,lighting,10.5,106.5,,,,-3,",  # 10
            "ok,lighting,10.5,106.5,,,,,",  # 11 duplicate id
            "kind,spaceship,10.5,106.5,,,,,",  # 12
            "status,lighting,10.5,106.5,,,,,broken-ish",  # 13
            "num,lighting,10.5,106.5,,,,ten,",  # 14
            "onlylat,lighting,10.5,,,,,,",  # 15
            "nodir,camera,10.5,106.5,,,,,",  # 16
            "disc,camera,10.5,106.5,,360,,,",  # 17: fine, a 360° camera needs no direction
            ",lighting,10.5,106.5,,,,,",  # 18 missing id
        ],
    )
    g, problems = io.load_models(p)
    errs = _errors(problems)
    expect = {
        (3, None): "missing coordinates",
        (4, "lat"): "swapped",
        (5, "lat"): "outside Vietnam",
        (6, "direction_deg"): "outside 0-360",
        (7, "fov_deg"): "degrees from 1 to 360 for a camera",  # layers/camera.toml [bounds]
        (8, "fov_deg"): "degrees from 1 to 360 for a camera",
        (9, "range_m"): "metres from 1 to 300 for a camera",
        (10, "radius_m"): "metres from 1 to 200 for a lighting",
        (11, "id"): "duplicate id (first at row 2)",
        (12, "kind"): "unknown kind",
        (13, "status"): "unknown status",
        (14, "radius_m"): "malformed number",
        (15, "lon"): "missing coordinate",
        (16, "direction_deg"): "needs a direction",
        (18, "id"): "missing id",
    }
    assert set(errs) == set(expect)
    for key, text in expect.items():
        assert text in errs[key].reason, (key, errs[key].reason)
        assert errs[key].file == str(p)
    assert errs[(4, "lat")].value == "106.5, 10.5"
    assert errs[(14, "radius_m")].value == "ten"
    assert list(g.index) == ["ok", "disc"]
    with pytest.raises(ValidationError) as ei:
        io.read_models(p)
    assert len(ei.value.problems) == len(expect)
    assert "row 4, field 'lat'" in ei.value.message
    g2 = io.read_models(p, skip_invalid=True)
    assert list(g2.index) == ["ok", "disc"]
    assert {(q.row, q.field) for q in g2.attrs["skipped"]} == set(expect)


@pytest.mark.parametrize(
    ("header", "lang", "expected"),
    [
        ("id,kind,lat,lon,direction", None, 0.0),  # English headers: North
        ("mã,loại,vĩ độ,kinh độ,hướng", None, 180.0),  # Vietnamese headers: Nam = South
        ("id,kind,lat,kinh độ,hướng", "en", 0.0),  # as many English as Vietnamese headers
        ("id,kind,lat,kinh độ,hướng", "vi", 180.0),
    ],
)
def test_lone_n_follows_the_header_language(tmp_path: Path, header: str, lang: str | None, expected: float) -> None:
    p = _write_csv(tmp_path / "n.csv", [header, "c,camera,10.5,106.5,N"])
    g = io.read_models(p, lang=lang)
    assert g.loc["c", "direction_deg"] == (expected,)


def test_lone_n_ambiguous_is_rejected(tmp_path: Path) -> None:
    p = _write_csv(
        tmp_path / "n.csv", ["id,kind,lat,kinh độ,hướng", "c,camera,10.5,106.5,N", "d,camera,10.5,106.5,Đông Bắc;NE"]
    )
    g, problems = io.load_models(p)
    (err,) = [q for q in problems if q.severity == "error"]
    assert err.row == 2 and err.field == "hướng" and "ambiguous" in err.reason and err.value == "N"
    assert g.loc["d", "direction_deg"] == (45.0, 45.0)


def test_xlsx(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    wb.active.title = "Khác"
    ws = wb.create_sheet("Mô hình", 0)  # first sheet
    ws.append(["DANH SÁCH CAMERA AN NINH XÃ THẠNH PHÚ"])  # a title above the header, then a blank row
    ws.append([None])
    ws.append(
        [
            "STT",
            "Mã mô hình",
            "Loại",
            "Tên",
            "Vĩ độ",
            "Kinh độ",
            "Hướng",
            "Góc nhìn",
            "Tầm xa (m)",
            "Ngày lắp đặt",
            "Chia sẻ dữ liệu",
        ]
    )
    ws.append(
        [1, "CAM-01", "Camera an ninh", "Ngã ba", 10.25, 106.375, "Tây Nam", 100, 35, dt.datetime(2024, 5, 1), "Có"]
    )
    ws.append([2, "CAM-02", "Camera", "Chợ", "10,26", "106,38", 45, None, None, "15/08/2024", "không"])
    ws.append([None] * 11)
    ws.append([4, "CAM-03", "Camera", "Sai", 10.26, 106.38, 45, "rộng", None, None, None])
    wb.save(tmp_path / "m.xlsx")
    g, problems = io.load_models(tmp_path / "m.xlsx")
    assert list(g.index) == ["CAM-01", "CAM-02"]
    assert g.loc["CAM-01", "direction_deg"] == (225.0,) and g.loc["CAM-01", "fov_deg"] == 100.0
    assert g.loc["CAM-01", "start_date"] == "2024-05-01" and g.loc["CAM-02", "start_date"] == "2024-08-15"
    assert list(g["data_sharing"]) == [True, False]
    assert g.loc["CAM-02"].geometry.x == pytest.approx(106.38)
    (err,) = [q for q in problems if q.severity == "error"]
    assert (err.row, err.field, err.value) == (7, "Góc nhìn", "rộng")  # real sheet row, blank row 6 counted
    assert g.loc["CAM-01", "range_m"] == 35.0  # "Tầm xa (m)": the unit in brackets is ignored
    with pytest.raises(GeoAnttError, match="no sheet"):
        io.load_models(tmp_path / "m.xlsx", sheet="nope")
    g2, _ = io.load_models(tmp_path / "m.xlsx", sheet="Khác")
    assert len(g2) == 0
    # for imports: each kept row's sheet row (title, blank, header = rows 1-3), and only the
    # model columns the sheet has (an update must not blank the others)
    g3, _ = io.load_models(tmp_path / "m.xlsx", source_rows=True, fill_absent=False)
    assert g3["source_row"].tolist() == [4, 5]
    assert {"owner", "status", "unit_code", "radius_m"}.isdisjoint(g3.columns)
    assert {"id", "kind", "name", "direction_deg", "fov_deg", "range_m", "start_date", "data_sharing"} <= set(
        g3.columns
    )
    assert "source_row" not in g.columns and "owner" in g.columns


def test_projected_xy_with_crs(tmp_path: Path) -> None:
    from pyproj import Transformer

    x, y = Transformer.from_crs(4326, 9210, always_xy=True).transform(105.85, 21.03)
    lines = ["id,kind,x,y,radius_m", f"k,checkpoint,{x:.2f},{y:.2f},50".replace(".", ",", 0)]
    p = _write_csv(tmp_path / "vn2000.csv", lines)
    g, problems = io.load_models(p)
    (err,) = [q for q in problems if q.severity == "error"]  # once for the file, not per row
    assert "need the CRS" in err.reason and err.row is None and err.field == "x"
    assert len(g) == 0
    g = io.read_models(p, crs="EPSG:9210")
    assert g.loc["k"].geometry.x == pytest.approx(105.85, abs=1e-6) and g.loc["k"].geometry.y == pytest.approx(
        21.03, abs=1e-6
    )


def test_geojson_models_with_osm_tags(tmp_path: Path) -> None:
    feats = [
        {
            "type": "Feature",
            "properties": {"id": "n1", "kind": "camera", "camera:direction": "NW", "camera:angle": 70},
            "geometry": {"type": "Point", "coordinates": [106.5, 10.5]},
        },
        {
            "type": "Feature",
            "properties": {"id": "n2", "kind": "lighting"},
            "geometry": {"type": "Point", "coordinates": [10.5, 106.5]},
        },
        {"type": "Feature", "properties": {"id": "n3", "kind": "lighting"}, "geometry": None},
        {"type": "Feature", "properties": {"id": "n4", "kind": "other", "name": "5 không 3 sạch"}, "geometry": None},
    ]
    p = tmp_path / "m.geojson"
    p.write_text(json.dumps({"type": "FeatureCollection", "features": feats}), encoding="utf-8")
    g, problems = io.load_models(p)
    assert list(g.index) == ["n1", "n4"]
    assert g.loc["n1", "direction_deg"] == (315.0,) and g.loc["n1", "fov_deg"] == 70.0
    errs = _errors(problems)
    assert "swapped" in errs[(2, "geometry")].reason
    assert "missing coordinates" in errs[(3, None)].reason


def test_file_level_problems(tmp_path: Path) -> None:
    p = _write_csv(tmp_path / "nokind.csv", ["name,lat,lon", "a,10.5,106.5"])
    g, problems = io.load_models(p)
    errs = [q for q in problems if q.severity == "error"]
    assert [q.reason for q in errs] == ["no kind column (kind / loại / loại mô hình)"] and len(g) == 0
    assert any("no id column" in q.reason for q in problems if q.severity == "warning")


def test_models_round_trip_through_write_layer(tmp_path: Path) -> None:
    p = _write_csv(tmp_path / "m.csv", ["id,kind,lat,lon,direction_deg,fov_deg", "a,camera,10.5,106.5,10;200,60"])
    g = io.read_models(p)
    out = io.write_layer(g, tmp_path / "m.geojson")
    d = json.loads(out.read_text(encoding="utf-8"))
    assert d["features"][0]["properties"]["direction_deg"] == [10.0, 200.0]
    assert d["features"][0]["properties"]["range_m"] is None
    back = io.read_models(out)
    assert back.loc["a", "direction_deg"] == (10.0, 200.0)


def test_parsers() -> None:
    assert parse_number("1.234,5") == 1234.5 and parse_number("20 m") == 20.0 and parse_number("-3") == -3.0
    for bad in ("abc", "1,2,3", "10 07", ""):
        with pytest.raises(ParseError):
            parse_number(bad)
    assert parse_coordinate("106 41 12 E", axis="lon") == pytest.approx(106.68666667)
    assert parse_coordinate("N 10°07.615'", axis="lat") == pytest.approx(10.12691667)
    assert parse_coordinate("10°07'36.9\"S", axis="lat") == pytest.approx(-10.12691667)
    with pytest.raises(ParseError, match="hemisphere"):
        parse_coordinate("10°07'36.9\"E", axis="lat")
    with pytest.raises(ParseError, match="below 60"):
        parse_coordinate("10°75'", axis="lat")
    assert parse_directions("Bắc; Đông; Nam; Tây") == (0.0, 90.0, 180.0, 270.0)
    assert parse_directions("NNE;wsw;TB;ĐN") == (22.5, 247.5, 315.0, 135.0)
    assert parse_directions(360) == (0.0,) and parse_directions(" ") == ()
    with pytest.raises(ParseError, match="ambiguous"):
        parse_directions("n")


# --------------------------------------------------------------------------------------------
# geo-antt validate


def test_cli_validate(tmp_path: Path, shared_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = _write_csv(tmp_path / "good.csv", ["mã;loại;vĩ độ;kinh độ;hướng", "c;camera;10,5;106,5;N"])
    bad = _write_csv(
        tmp_path / "bad.csv", ["id,kind,lat,lon,direction_deg", "a,camera,106.5,10.5,90", "a,camera,10.5,106.5,999"]
    )
    communes = shared_data / "boundaries" / "thanh_phu_communes_2025.geojson"
    assert cli_main(["validate", str(good), str(communes)]) == 0
    out = capsys.readouterr().out
    assert "good.csv (models): OK" in out and "(units): OK, 0 warnings, 6 valid units" in out
    assert "note: 1 camera row without fov_deg uses the layer default 90" in out
    assert cli_main(["validate", str(good), str(bad)]) == 1
    out = capsys.readouterr().out
    assert "row 2, field 'lat': latitude and longitude are swapped" in out
    assert "row 3, field 'id': duplicate id" in out and "row 3, field 'direction_deg'" in out
    assert out.strip().endswith("2 files: 3 errors, 0 warnings")
    assert cli_main(["validate", "--json", "--kind-lang", "en", str(bad), str(good)]) == 1
    rep = json.loads(capsys.readouterr().out)
    assert rep["errors"] == 3 and [f["rows_ok"] for f in rep["files"]] == [0, 1]
    assert {(p["row"], p["field"]) for p in rep["files"][0]["problems"]} == {
        (2, "lat"),
        (3, "id"),
        (3, "direction_deg"),
    }


@settings(max_examples=200, deadline=None)
@given(
    value=st.floats(min_value=0.0, max_value=179.999, allow_nan=False),
    axis=st.sampled_from(["lat", "lon"]),
    style=st.sampled_from(["dms", "dm", "spaces", "decimal_comma"]),
)
def test_coordinate_formats_round_trip(value: float, axis: str, style: str) -> None:
    if axis == "lat":
        value = value / 2.0
    hemi = "N" if axis == "lat" else "E"
    deg = int(value)
    minutes_f = (value - deg) * 60.0
    if style == "dm":
        minutes = round(minutes_f, 4)
        if minutes >= 60.0:
            return
        text = f"{deg}°{minutes:.4f}'{hemi}"
        expected = deg + minutes / 60.0
    elif style == "decimal_comma":
        text = f"{value:.6f}".replace(".", ",")
        expected = round(value, 6)
    else:
        minutes = int(minutes_f)
        seconds = round((minutes_f - minutes) * 60.0, 2)
        if seconds >= 60.0:
            return
        text = f"{deg}°{minutes:02d}'{seconds:05.2f}\"{hemi}" if style == "dms" else f"{deg} {minutes} {seconds} {hemi}"
        expected = deg + minutes / 60.0 + seconds / 3600.0
    assert parse_coordinate(text, axis=axis) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize(
    ("kind", "status", "expected"),
    [
        ("Camera", "Hoạt động", ("camera", "active")),
        ("Đèn chiếu sáng", "Ngừng hoạt động", ("lighting", "inactive")),
        ("Ánh sáng an ninh", "HOẠT ĐỘNG", ("lighting", "active")),
        ("Chốt dân phòng", "ngung hoat dong", ("checkpoint", "inactive")),
        ("Cổng rào", "Đề xuất", ("gate", "proposed")),
        ("Tổ nhân dân tự quản", "", ("self_management", "active")),
    ],
)
def test_vietnamese_kind_and_status_values(tmp_path: Path, kind: str, status: str, expected: tuple[str, str]) -> None:
    p = _write_csv(tmp_path / "k.csv", ["mã;loại;trạng thái;vĩ độ;kinh độ;hướng", f"x;{kind};{status};10,5;106,5;Bắc"])
    g = io.read_models(p)
    assert (g.loc["x", "kind"], g.loc["x", "status"]) == expected


def test_truong_sa_points_are_inside_vietnam(tmp_path: Path) -> None:
    """Trường Sa (Khánh Hòa) reaches 7.18°N and 117.83°E: its points are accepted, a point
    further out at sea is not.
    """
    p = _write_csv(
        tmp_path / "ts.csv",
        [
            "id,kind,lat,lon",
            "ba-ke,lighting,7.88,110.52",  # Đá Ba Kè
            "song-tu-tay,checkpoint,11.43,114.33",  # Song Tử Tây
            "sea,lighting,5.5,110.0",
        ],
    )
    g, problems = io.load_models(p)
    assert sorted(g["id"]) == ["ba-ke", "song-tu-tay"]
    assert [(pr.row, pr.field) for pr in problems] == [(4, "lat")]
    assert "outside Vietnam" in problems[0].reason


# ---- the fast paths of the model reader give what the cell-by-cell paths give

_CSV_ALPHABET = [
    "a",
    "id",
    "kind",
    "lat",
    "1",
    "2.5",
    " ",
    "\t",
    ",",
    ";",
    "\n",
    "\r",
    "\r\n",
    "đ",
    "\u00a0",
    "\x0c",
    '"',
]


@settings(max_examples=300, deadline=None)
@given(pieces=st.lists(st.sampled_from(_CSV_ALPHABET), max_size=40), delim=st.sampled_from([",", ";", "\t"]))
def test_plain_csv_fast_path_reads_like_the_csv_module(pieces: list[str], delim: str) -> None:
    from geo_antt.io.models import _csv_module_table, _plain_csv_columns, _plain_table

    text = "".join(pieces)
    plain = _plain_csv_columns(text, delim)
    if plain is not None:
        assert _plain_table(plain) == _csv_module_table(text, delim)


@pytest.mark.parametrize(
    "lines",
    [
        ["id,kind,lat", "a,camera,10.5", "", "b,camera,10.6", " , ,  ", "c,camera,10.7", ""],  # blank records
        ["Danh sách camera,,", ",,", "id,kind,lat", "a,camera,10.5", "b,camera,10.6"],  # a title row
        ["id,kind,lat\r", "a,camera,10.5\r", "b,camera,10.6"],  # CRLF
        ["id,kind,lat", "a,camera", "b,camera,10.6,extra"],  # ragged: the csv module's path
    ],
)
def test_plain_csv_fast_path_on_typical_files(lines: list[str]) -> None:
    from geo_antt.io.models import _csv_module_table, _csv_text_table

    text = "\n".join(lines)
    assert _csv_text_table(text, ",") == _csv_module_table(text, ",")
    header, rownums, cols = _csv_text_table(text, ",")
    assert header == ["id", "kind", "lat"] and len(cols) == 3 and all(len(c) == len(rownums) for c in cols)


@settings(max_examples=300, deadline=None)
@given(cells=st.lists(st.one_of(st.none(), st.text(alphabet="0123456789.,-e_ °'\"NSEW", max_size=8)), max_size=12))
def test_number_column_is_the_cells_one_by_one(cells: list[str | None]) -> None:
    from geo_antt.io.models import _clean_column, _number_column

    values = _clean_column(cells)
    for parse in (parse_number, lambda v: parse_coordinate(v, axis="lat")):
        arr, failed = _number_column(values, parse)
        one = [_number_column([v], parse) for v in values]
        assert np.array_equal(arr, np.array([a[0] for a, _ in one]).reshape(-1), equal_nan=True)
        assert [(k, str(e)) for k, e in failed] == [(k, str(f[0][1])) for k, (_, f) in enumerate(one) if f]


def test_text_columns_of_a_plain_csv_are_kept_as_read(tmp_path: Path) -> None:
    p = _write_csv(
        tmp_path / "t.csv",
        [
            "id,kind,name,lat,lon,radius_m,unit_code,ghi chú",
            "a, lighting ,Đèn  Ngõ 5 ,10.5,106.5,25,00475 ,x",
            "b,lighting,,10.5,106.5,,,",
        ],
    )
    g = io.read_models(p)
    assert g.loc["a", "name"] == "Đèn  Ngõ 5" and g.loc["b", "name"] is None
    assert g.loc["a", "unit_code"] == "00475" and g.loc["b", "unit_code"] is None
    assert g.loc["a", "notes"] == "x" and g.loc["a", "owner"] is None
    assert g.loc["a", "radius_m"] == 25.0 and math.isnan(g.loc["b", "radius_m"])


def test_geojson_of_a_metric_frame_is_the_text_of_its_wgs84_frame() -> None:
    """The writer reprojects, repairs, rounds and orients chunk by chunk on threads: the text
    is the same as for the frame reprojected (and repaired) first.
    """
    from geo_antt.crs import to_wgs84

    rng = np.random.default_rng(7)
    n = 700
    x, y = rng.uniform(580_000, 600_000, n), rng.uniform(2_300_000, 2_320_000, n)
    geoms = shapely.buffer(shapely.points(x, y), rng.uniform(5, 40, n), quad_segs=rng.integers(2, 30)).astype(object)
    geoms[5] = None
    geoms[6] = shapely.Polygon(
        [(x[6], y[6]), (x[6] + 10, y[6] + 10), (x[6] + 10, y[6]), (x[6], y[6] + 10)]
    )  # a bow-tie
    geoms[7] = shapely.MultiPolygon(
        [shapely.box(x[7], y[7], x[7] + 5, y[7] + 5), shapely.box(x[7] + 9, y[7], x[7] + 12, y[7] + 3)]
    )
    gdf = gpd.GeoDataFrame(
        {"k": np.arange(n), "name": [f"gap {i}" for i in range(n)]},
        geometry=geoms,
        crs="EPSG:32648",
        index=pd.Index([f"g{i}" for i in range(n)], name="gap_id"),
    )
    assert io.to_geojson_text(gdf) == io.to_geojson_text(gdf.to_crs(4326))
    fixed = io.to_geojson_text(gdf, make_valid=True)
    assert fixed == io.to_geojson_text(to_wgs84(gdf, make_valid=True))
    doc = json.loads(fixed)
    assert doc["features"][6]["geometry"]["type"] == "MultiPolygon" and doc["features"][5]["geometry"] is None
    assert shapely.is_valid(shapely.from_geojson(json.dumps(doc["features"][6]["geometry"])))
    assert not shapely.is_valid(
        shapely.from_geojson(json.dumps(json.loads(io.to_geojson_text(gdf))["features"][6]["geometry"]))
    )


def test_a_validation_error_pickles_with_its_problems() -> None:
    """A worker (a process pool, a queue) can hand the error back whole."""
    import pickle

    from geo_antt import ValidationError
    from geo_antt._errors import Problem

    err = ValidationError(
        [Problem("m.csv", 3, "lat", "x", "not a number"), Problem("m.csv", 4, "kind", "ufo", "unknown kind")]
    )
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is ValidationError and back.problems == err.problems and back.message == err.message
    assert "row 3" in str(back) and "row 4" in str(back)


# -- hostile table files (geo-antt #13): limits checked while reading -------------------------


def _sheet(path: Path, cells: dict[str, object], *, dimension: str | None = None) -> Path:
    """A small models workbook (header + one row) plus ``cells``; ``dimension`` rewrites the
    sheet's declared ``<dimension ref=...>`` (a file may declare less than it holds).
    """
    import re
    import zipfile

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["id", "kind", "name", "lat", "lon"])
    ws.append(["a1", "camera", "Cam", 10.0, 106.0])
    for ref, v in cells.items():
        ws[ref] = v
    wb.save(path)
    if dimension is not None:
        tmp = path.with_suffix(".tmp.xlsx")
        with zipfile.ZipFile(path) as zin, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zout:
            for it in zin.infolist():
                data = zin.read(it.filename)
                if it.filename.startswith("xl/worksheets/sheet"):
                    data, n = re.subn(rb'<dimension ref="[^"]*"\s*/>', f'<dimension ref="{dimension}"/>'.encode(), data)
                    assert n == 1
                zout.writestr(it, data)
        tmp.replace(path)
    return path


def test_xlsx_row_gap_is_refused_from_the_declared_size(tmp_path):
    path = _sheet(tmp_path / "gap.xlsx", {"A1000000": "x"})
    with pytest.raises(
        GeoAnttError, match=r"gap\.xlsx: more than 200,000 rows \(sheet 'Sheet' declares 1,000,000\).*quá 200\.000 dòng"
    ):
        io.load_models(path)


def test_xlsx_row_gap_behind_a_false_dimension_stops_at_the_limit(tmp_path):
    # the declaration says A1:E2: reading stops at row 200,001, not after a million empty rows
    path = _sheet(tmp_path / "gap.xlsx", {"A1000000": "x"}, dimension="A1:E2")
    with pytest.raises(GeoAnttError, match=r"more than 200,000 rows \(row 200,001\)"):
        io.load_models(path)


@pytest.mark.parametrize("dimension", [None, "A1:E2"])
def test_xlsx_cell_in_column_xfd_is_refused(tmp_path, dimension):
    path = _sheet(tmp_path / "wide.xlsx", {"XFD2": "x"}, dimension=dimension)
    with pytest.raises(GeoAnttError, match=r"more than 200 columns.*quá 200 cột"):
        io.load_models(path)


def test_xlsx_long_cell_is_refused(tmp_path):
    path = _sheet(tmp_path / "long.xlsx", {"C2": "x" * 10_001})
    with pytest.raises(GeoAnttError, match=r"longer than 10,000 characters \(row 2, column 3\)"):
        io.load_models(path)


def test_csv_with_100000_columns_is_refused_at_its_header(tmp_path):
    path = tmp_path / "wide.csv"
    path.write_text(",".join(f"c{i}" for i in range(100_000)) + "\n" + ",".join("1" * 100_000) + "\n")
    with pytest.raises(GeoAnttError, match=r"wide\.csv: more than 200 columns \(header row 1: 100,000 cells\)"):
        io.load_models(path)


def test_csv_wide_row_after_a_narrow_header_is_refused(tmp_path):
    path = tmp_path / "wide.csv"
    path.write_text('id,kind,name,lat,lon\na1,camera,"Cam",10,106\n' + ",".join("1" * 1000) + "\n")
    with pytest.raises(GeoAnttError, match=r"more than 200 columns \(row 3: 1,000 cells\)"):
        io.load_models(path)


@pytest.mark.parametrize("quote", ["", '"'])
def test_csv_too_many_rows_or_a_too_long_cell_is_refused(tmp_path, quote):
    # plain text (pandas' parser) and quoted text (the csv module) alike
    path = tmp_path / "rows.csv"
    path.write_text("id,kind,name,lat,lon\n" + f"a,camera,{quote}C{quote},10,106\n" * 200_000)
    with pytest.raises(GeoAnttError, match=r"more than 200,000 rows"):
        io.load_models(path)
    path.write_text(f"id,kind,name,lat,lon\na,camera,{quote}{'x' * 10_001}{quote},10,106\n")
    with pytest.raises(GeoAnttError, match=r"longer than 10,000 characters"):
        io.load_models(path)
