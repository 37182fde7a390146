"""geo_antt.io.osm and ``geo-antt osm convert``: OpenStreetMap extracts written by pyosmium's own
writer (XML, PBF, bzip2), with every tagging variant the converter reads.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import unicodedata
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import osmium
import pytest
import shapely
from osmium.osm.mutable import Node, Relation, Way

from geo_antt import io
from geo_antt._errors import GeoAnttError
from geo_antt.cli import main
from geo_antt.config import DEFAULT_DATA_DIR
from geo_antt.io.cells import ParseError
from geo_antt.io.osm import (
    MODEL_EXTRA_COLUMNS,
    OsmProblem,
    check_bbox,
    convert_extract,
    parse_bbox,
    parse_camera_direction,
    parse_length,
    parse_levels,
)
from geo_antt.schema import MODEL_COLUMNS

ROOT = Path(__file__).resolve().parents[1]

# Around Hoàn Kiếm, Hà Nội: 1e-4 degree is about 10 m.
X0, Y0 = 105.85, 21.03


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


def write_extract(
    path: Path,
    nodes: list[tuple[int, float, float, dict[str, str]]],
    ways: list[tuple[int, list[int], dict[str, str]]] = (),  # type: ignore[assignment]
    relations: list[tuple[int, list[tuple[str, int, str]], dict[str, str]]] = (),
) -> Path:  # type: ignore[assignment]
    """An OSM file in the order OSM files keep (nodes, ways, relations, each by id), written by
    pyosmium; the format comes from the suffix.
    """
    with osmium.SimpleWriter(str(path)) as w:
        for nid, lon, lat, tags in sorted(nodes):
            w.add_node(Node(id=nid, location=(lon, lat), tags=tags, version=1))
        for wid, refs, tags in sorted(ways, key=lambda t: t[0]):
            w.add_way(Way(id=wid, nodes=refs, tags=tags, version=1))
        for rid, members, tags in sorted(relations, key=lambda t: t[0]):
            w.add_relation(Relation(id=rid, members=members, tags=tags, version=1))
    return path


CAMERAS: dict[int, dict[str, str]] = {
    101: {"camera:direction": "90", "camera:resolution": "4MP"},  # 2560 px (geo_antt.tiers)
    102: {"camera:direction": "ENE", "camera:resolution": "100"},  # under the camera's bounds: left empty
    103: {"camera:direction": "nnw"},
    104: {"camera:direction": "90;180"},
    105: {"camera:direction": "350-10"},
    106: {"camera:type": "dome"},
    107: {"camera:type": "panning", "camera:direction": "45"},
    108: {"camera:direction": "200", "camera:angle": "30", "camera:type": "fixed"},
    109: {"camera:type": "fixed"},  # no direction: left out
    110: {"camera:direction": "400"},  # out of range: left out
    111: {"camera:direction": "towards the gate"},  # garbage: left out
    112: {"surveillance:type": "guard"},  # a guard, not a camera
    113: {
        "camera:direction": "S",
        "name": nfd("Camera cổng chợ Hàng Da"),
        "operator": nfd("Công an phường Hàng Bồ"),
        "surveillance": "public",
        "surveillance:type": "camera",
        "surveillance:zone": "traffic",
        "height": "4 m",
    },
    114: {"camera:direction": "N-E"},
    115: {"camera:direction": "10", "height": "150"},  # height out of the camera's bounds: value left out
}


def sample_objects() -> tuple[list, list, list]:
    nodes: list[tuple[int, float, float, dict[str, str]]] = []
    for i, (nid, tags) in enumerate(CAMERAS.items()):
        nodes.append((nid, X0 + 0.0001 * i, Y0 + 0.0005, {"man_made": "surveillance", **tags}))
    nodes.append((116, 100.5, 13.75, {"man_made": "surveillance", "camera:direction": "90"}))  # Bangkok
    nodes += [
        (201, X0 + 0.0002, Y0 + 0.0008, {"highway": "street_lamp", "light:count": "2", "light:direction": "90"}),
        (202, X0 + 0.0004, Y0 + 0.0008, {"highway": "street_lamp", "light:count": "many", "height": "8"}),
    ]
    # road nodes: a line along y = Y0 from X0 to X0 + 0.01 (about 1 km), with a node of 8 decimals
    nodes += [(1, X0, Y0, {}), (2, X0 + 0.005, Y0, {}), (3, X0 + 0.01, Y0, {}), (4, X0 + 0.012345678, Y0 + 0.001, {})]

    # a building square of ~11 m at (X0+0.002, Y0+0.002), and others
    def square(base: int, x: float, y: float, d: float = 0.0001) -> list[tuple[int, float, float, dict[str, str]]]:
        return [(base, x, y, {}), (base + 1, x + d, y, {}), (base + 2, x + d, y + d, {}), (base + 3, x, y + d, {})]

    nodes += square(11, X0 + 0.002, Y0 + 0.002)
    nodes += square(21, X0 + 0.004, Y0 + 0.002)
    nodes += square(31, X0 + 0.006, Y0 + 0.002, 0.0004)  # outer ring of the multipolygon
    nodes += square(41, X0 + 0.0061, Y0 + 0.0021, 0.0002)  # its hole
    nodes += square(51, X0 + 0.008, Y0 + 0.002)
    ways = [
        (301, [1, 2], {"highway": "residential", "name": nfd("Phố Hàng Bài")}),
        (302, [2, 3, 4], {"highway": "primary", "name": "Đường Trần Hưng Đạo", "ref": "QL1"}),
        (303, [1, 11], {"highway": "footway"}),
        (304, [11, 12, 13, 14, 11], {"highway": "pedestrian", "area": "yes", "name": "Quảng trường"}),
        (305, [2, 21], {"highway": "proposed"}),
        (306, [3, 9999], {"highway": "service"}),  # node 9999 is not in the extract
        (307, [21, 22], {"highway": "platform"}),
        (401, [11, 12, 13, 14, 11], {"building": "yes", "building:levels": "3", "height": "12 m"}),
        (402, [21, 22, 23], {"building": "house"}),  # not closed
        (403, [21, 22, 23, 24, 21], {"building": "house", "height": "tall", "building:levels": "2"}),
        (404, [51, 52, 9998, 54, 51], {"building": "yes"}),  # node 9998 missing
        (410, [31, 32, 33, 34, 31], {}),
        (411, [41, 42, 43, 44, 41], {}),
    ]
    relations = [
        (
            501,
            [("w", 410, "outer"), ("w", 411, "inner")],
            {"type": "multipolygon", "building": "apartments", "building:levels": "9", "height": "30.5"},
        ),
        (
            502,
            [("w", 410, "outer"), ("w", 9997, "inner")],
            {"type": "multipolygon", "building": "yes"},
        ),  # a member missing
    ]
    return nodes, ways, relations


@pytest.fixture(params=[".osm.pbf", ".osm", ".osm.bz2"])
def extract(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    return write_extract(tmp_path / f"sample{request.param}", *sample_objects())


# --------------------------------------------------------------------------------------------
# tag values


@pytest.mark.parametrize(
    ("text", "directions", "fov"),
    [
        ("90", (90.0,), None),
        ("22.5", (22.5,), None),
        ("0", (0.0,), None),
        ("360", (0.0,), None),
        ("90°", (90.0,), None),
        ("90;180", (90.0, 180.0), None),
        ("90; 180 ;270", (90.0, 180.0, 270.0), None),
        ("350-10", (0.0,), 20.0),
        ("10-350", (180.0,), 340.0),
        ("45-135", (90.0,), 90.0),
        ("270 - 90", (0.0,), 180.0),
        ("0-360", (180.0,), 360.0),
        ("N-E", (45.0,), 90.0),
        ("0-90;180-200", (45.0, 190.0), 90.0),
        ("E;350-10", (90.0, 0.0), 20.0),
        ("sw", (225.0,), None),
        ("North", (0.0,), None),
    ],
)
def test_camera_directions(text: str, directions: tuple[float, ...], fov: float | None) -> None:
    assert parse_camera_direction(text) == (directions, fov)


def test_all_sixteen_compass_points() -> None:
    words = "N NNE NE ENE E ESE SE SSE S SSW SW WSW W WNW NW NNW".split()
    assert [parse_camera_direction(w)[0][0] for w in words] == [22.5 * i for i in range(16)]
    assert parse_camera_direction(";".join(words))[0] == tuple(22.5 * i for i in range(16))


@pytest.mark.parametrize(
    "text", ["400", "-10", "towards the gate", "", " ; ", "90;;180", "10-10", "NNN", "90,180", "N-400", "1e3"]
)
def test_bad_camera_directions(text: str) -> None:
    with pytest.raises(ParseError):
        parse_camera_direction(text)


@pytest.mark.parametrize(
    ("text", "metres"),
    [
        ("12", 12.0),
        ("12 m", 12.0),
        ("12m", 12.0),
        ("12.5", 12.5),
        ("12,5", 12.5),
        ("40 ft", 12.192),
        ("40'", 12.192),
        ("12'6\"", 3.81),
    ],
)
def test_lengths(text: str, metres: float) -> None:
    assert parse_length(text) == pytest.approx(metres)


@pytest.mark.parametrize("text", ["tall", "3-4", "12 m; 14 m", "", "-5", "12 km"])
def test_bad_lengths(text: str) -> None:
    with pytest.raises(ParseError):
        parse_length(text)


def test_levels() -> None:
    assert parse_levels("3") == 3.0 and parse_levels(" 2.5 ") == 2.5
    for bad in ("3;4", "three", "-1", ""):
        with pytest.raises(ParseError):
            parse_levels(bad)


def test_bbox_checks() -> None:
    assert parse_bbox("105.80, 21.00,105.86,21.05") == (105.80, 21.00, 105.86, 21.05)
    with pytest.raises(GeoAnttError, match=r"swapped.*105\.8,21,105\.86,21\.05"):
        parse_bbox("21.00,105.80,21.05,105.86")
    with pytest.raises(GeoAnttError, match="west edge"):
        check_bbox((105.86, 21.0, 105.80, 21.05))
    with pytest.raises(GeoAnttError, match="south edge"):
        check_bbox((105.80, 21.05, 105.86, 21.0))
    with pytest.raises(GeoAnttError, match="outside Vietnam"):
        check_bbox((2.0, 48.0, 3.0, 49.0))
    with pytest.raises(GeoAnttError, match="-180..180"):
        check_bbox((105.0, 21.0, 200.0, 300.0))
    with pytest.raises(GeoAnttError, match="four numbers"):
        parse_bbox("105.8,21.0,105.9")
    with pytest.raises(GeoAnttError, match="four numbers"):
        parse_bbox("a,b,c,d")
    with pytest.raises(GeoAnttError, match="finite"):
        check_bbox((105.0, float("nan"), 106.0, 22.0))


# --------------------------------------------------------------------------------------------
# conversion


def test_roads(extract: Path) -> None:
    roads = convert_extract(extract).roads
    assert roads.crs.to_epsg() == 4326
    assert list(roads.index) == ["w301", "w302", "w303"]  # area, proposed, platform and the broken way left out
    assert roads.index.name == "osm_id" and list(roads.columns) == ["highway", "name", "geometry"]
    assert list(roads["highway"]) == ["residential", "primary", "footway"]
    assert roads.loc["w301", "name"] == "Phố Hàng Bài" and unicodedata.is_normalized("NFC", roads.loc["w301", "name"])
    assert roads.loc["w302", "name"] == "Đường Trần Hưng Đạo" and roads.loc["w303", "name"] is None
    assert set(roads.geom_type) == {"LineString"}
    assert np.allclose(
        shapely.get_coordinates(roads.geometry["w302"]),
        [[X0 + 0.005, Y0], [X0 + 0.01, Y0], [X0 + 0.012345678, Y0 + 0.001]],
        rtol=0,
        atol=1e-7,
    )


def test_buildings(extract: Path) -> None:
    b = convert_extract(extract).buildings
    assert sorted(b.index) == ["r501", "w401", "w403"]
    assert list(b.columns) == ["building", "levels", "height_m", "geometry"]
    assert set(b.geom_type) == {"Polygon"}
    w401 = b.loc["w401"]
    assert (w401["building"], w401["levels"], w401["height_m"]) == ("yes", 3.0, 12.0)
    # OSM keeps coordinates to 1e-7 degree
    assert w401.geometry.normalize().equals_exact(
        shapely.box(X0 + 0.002, Y0 + 0.002, X0 + 0.0021, Y0 + 0.0021).normalize(), 1e-7
    )
    assert (
        b.loc["w403", "building"] == "house"
        and b.loc["w403", "levels"] == 2.0
        and math.isnan(b.loc["w403", "height_m"])
    )
    r501 = b.loc["r501"]
    assert (r501["building"], r501["levels"], r501["height_m"]) == ("apartments", 9.0, 30.5)
    poly = r501.geometry
    assert len(poly.interiors) == 1  # the hole
    hole = shapely.box(X0 + 0.0061, Y0 + 0.0021, X0 + 0.0063, Y0 + 0.0023)
    assert poly.area == pytest.approx(0.0004**2 - hole.area, rel=1e-6)
    assert not poly.contains(hole.centroid) and poly.contains(shapely.Point(X0 + 0.00605, Y0 + 0.00205))


def models_by_id(extract: Path) -> gpd.GeoDataFrame:
    return convert_extract(extract).models


def test_cameras(extract: Path) -> None:
    m = models_by_id(extract)
    cams = m[m["kind"] == "camera"]
    assert sorted(cams.index) == [f"osm-n{i}" for i in (101, 102, 103, 104, 105, 106, 107, 108, 113, 114, 115)]
    expect = {
        101: ((90.0,), math.nan, None),
        102: ((67.5,), math.nan, None),
        103: ((337.5,), math.nan, None),
        104: ((90.0, 180.0), math.nan, None),
        105: ((0.0,), 20.0, None),
        106: ((), 360.0, "dome"),
        107: ((45.0,), 360.0, "ptz"),
        108: ((200.0,), math.nan, "fixed"),
        113: ((180.0,), math.nan, None),
        114: ((45.0,), 90.0, None),
        115: ((10.0,), math.nan, None),
    }
    for nid, (dirs, fov, ctype) in expect.items():
        row = cams.loc[f"osm-n{nid}"]
        assert row["direction_deg"] == dirs, nid
        assert math.isnan(row["fov_deg"]) if math.isnan(fov) else row["fov_deg"] == fov, (nid, row["fov_deg"])
        assert row["camera_type"] == ctype, nid
    # defaults: nothing OSM does not say is invented (NaN = the layer default)
    assert cams["range_m"].isna().all() and cams["radius_m"].isna().all()
    assert (
        set(cams["status"]) == {"active"}
        and set(cams["field"]) == {"crime_prevention"}
        and set(cams["host"]) == {"residential"}
    )
    assert set(cams["source"]) == {"osm"}
    c113 = cams.loc["osm-n113"]
    assert c113["name"] == "Camera cổng chợ Hàng Da" and unicodedata.is_normalized("NFC", c113["name"])
    assert c113["owner"] == "Công an phường Hàng Bồ" and unicodedata.is_normalized("NFC", c113["owner"])
    assert (c113["surveillance"], c113["surveillance:type"], c113["surveillance:zone"]) == (
        "public",
        "camera",
        "traffic",
    )
    assert c113["height_m"] == 4.0 and c113["osm_id"] == "n113"
    assert cams.loc["osm-n101", "name"] == "Camera OSM n101"
    assert math.isnan(cams.loc["osm-n115", "height_m"])  # 150 m: outside the camera's bounds
    assert cams.loc["osm-n101", "resolution_px"] == 2560.0 and math.isnan(cams.loc["osm-n102", "resolution_px"])
    assert c113.geometry.equals_exact(shapely.Point(X0 + 0.0001 * list(CAMERAS).index(113), Y0 + 0.0005), 1e-7)
    assert list(m.columns) == [*MODEL_COLUMNS, *MODEL_EXTRA_COLUMNS, "geometry"] and m.index.name == "id"


def test_camera_angle_is_the_tilt_not_the_field_of_view(extract: Path, tmp_path: Path) -> None:
    m = convert_extract(extract).models
    row = m.loc["osm-n108"]
    assert math.isnan(row["fov_deg"]) and row["tilt_deg"] == 30.0
    # and so it stays in the written file, read back by the project's model reader: the
    # camera takes the layer's default field of view (90), not 30
    out = io.write_layer(m, tmp_path / "models.geojson")
    props = {f["id"]: f["properties"] for f in json.loads(out.read_text(encoding="utf-8"))["features"]}
    assert "camera:angle" not in props["osm-n108"] and props["osm-n108"]["fov_deg"] is None
    back, problems = io.load_models(out)
    assert not [p for p in problems if p.severity == "error"]
    assert math.isnan(back.loc["osm-n108", "fov_deg"]) and back.loc["osm-n108", "tilt_deg"] == 30.0
    assert back.attrs["defaults"]["camera"]["fov_deg"]["value"] == 90.0


def test_street_lamps(extract: Path) -> None:
    m = models_by_id(extract)
    lamps = m[m["kind"] == "lighting"]
    assert list(lamps.index) == ["osm-n201", "osm-n202"]
    assert lamps.loc["osm-n201", "light:count"] == 2 and lamps.loc["osm-n201", "light:direction"] == "90"
    assert lamps.loc["osm-n202", "light:count"] is None and lamps.loc["osm-n202", "height_m"] == 8.0
    assert lamps["radius_m"].isna().all()  # the layer's default radius applies
    assert lamps.loc["osm-n201", "name"] == "Đèn đường OSM n201"
    assert lamps["direction_deg"].map(len).eq(0).all()
    assert set(lamps["field"]) == {"crime_prevention"} and set(lamps["status"]) == {"active"}


def test_problems_name_the_osm_objects(extract: Path) -> None:
    problems = convert_extract(extract).problems
    assert all(isinstance(p, OsmProblem) and p.file == str(extract) and p.row is None for p in problems)
    by_object = {p.osm_object: p for p in problems}
    assert set(by_object) == {
        "node 102",
        "node 109",
        "node 110",
        "node 111",
        "node 112",
        "node 115",
        "node 116",
        "node 202",
        "way 306",
        "way 402",
        "way 403",
        "way 404",
        "relation 502",
    }
    errors = {o for o, p in by_object.items() if p.severity == "error"}
    assert errors == {"node 109", "node 110", "node 111", "node 116", "way 306", "way 402", "way 404", "relation 502"}
    p110 = by_object["node 110"]
    assert (p110.field, p110.value) == ("camera:direction", "400") and "outside 0-360" in p110.reason
    assert str(p110).startswith(f"{extract}, node 110, tag 'camera:direction': direction 400 outside 0-360 degrees")
    assert by_object["node 111"].value == "towards the gate"
    assert "needs a direction" in by_object["node 109"].reason
    assert "9999" in by_object["way 306"].reason and "9998" in by_object["way 404"].reason
    assert "not closed" in by_object["way 402"].reason
    assert (by_object["way 403"].field, by_object["way 403"].value) == ("height", "tall")
    assert by_object["node 115"].field == "height" and "from 0 to 100" in by_object["node 115"].reason
    assert "outside Vietnam" in by_object["node 116"].reason
    p102 = by_object["node 102"]  # camera:resolution 100: a warning, the camera kept
    assert (p102.severity, p102.field, p102.value) == ("warning", "camera:resolution", "100")
    assert "from 320 to 16384" in p102.reason
    assert by_object["node 110"].to_dict()["object"] == "node 110"


def test_a_clean_extract_has_no_problems(tmp_path: Path) -> None:
    nodes = [
        (1, X0, Y0, {}),
        (2, X0 + 0.001, Y0, {}),
        (3, X0, Y0 + 0.001, {"man_made": "surveillance", "camera:direction": "E"}),
    ]
    layers = convert_extract(write_extract(tmp_path / "ok.osm.pbf", nodes, [(10, [1, 2], {"highway": "tertiary"})]))
    assert layers.problems == [] and layers.counts() == {
        "roads": 1,
        "buildings": 0,
        "cameras": 1,
        "lights": 0,
        "problems": 0,
        "errors": 0,
        "warnings": 0,
    }


@pytest.mark.parametrize("suffix", [".osm", ".osm.pbf"])
def test_a_building_tagged_on_its_way_and_its_relation_is_counted_once(tmp_path: Path, suffix: str) -> None:
    """A courtyard house mapped twice (the outer way tagged building=house, and the multipolygon
    relation with the courtyard as its inner ring tagged building=yes): one building, the
    relation's, with its hole; a warning names the way. A way outside any relation stays.
    """
    d = 0.0002  # about 20 m
    nodes = [
        (1, X0, Y0, {}),
        (2, X0 + 3 * d, Y0, {}),
        (3, X0 + 3 * d, Y0 + 3 * d, {}),
        (4, X0, Y0 + 3 * d, {}),
        (5, X0 + d, Y0 + d, {}),
        (6, X0 + 2 * d, Y0 + d, {}),
        (7, X0 + 2 * d, Y0 + 2 * d, {}),
        (8, X0 + d, Y0 + 2 * d, {}),
        (11, X0 + 5 * d, Y0, {}),
        (12, X0 + 6 * d, Y0, {}),
        (13, X0 + 6 * d, Y0 + d, {}),
        (14, X0 + 5 * d, Y0 + d, {}),
    ]
    ways = [
        (20, [1, 2, 3, 4, 1], {"building": "house", "building:levels": "2"}),
        (21, [5, 6, 7, 8, 5], {}),
        (22, [11, 12, 13, 14, 11], {"building": "yes"}),  # a house of its own
    ]
    relations = [(30, [("w", 20, "outer"), ("w", 21, "inner")], {"type": "multipolygon", "building": "yes"})]
    layers = convert_extract(write_extract(tmp_path / f"twice{suffix}", nodes, ways, relations))
    b = layers.buildings
    assert sorted(b.index) == ["r30", "w22"]
    utm = b.to_crs(32648)
    side = 3 * d * 111_320 * math.cos(math.radians(Y0))  # about 62 m east-west
    assert shapely.get_num_interior_rings(b.geometry["r30"]) == 1
    assert utm.area["r30"] == pytest.approx(utm.area["w22"] * 8, rel=0.02)  # 9 cells less the courtyard
    assert utm.area["r30"] < side * side * 1.01
    warned = [(p.osm_object, p.severity) for p in layers.problems]
    assert warned == [("way 20", "warning")], layers.problems
    assert "relation 30" in layers.problems[0].reason


def test_bbox_clips(tmp_path: Path) -> None:
    path = write_extract(tmp_path / "s.osm.pbf", *sample_objects())
    # the west half: x < X0 + 0.0055 cuts road 302 (X0+0.005 .. X0+0.0123) and keeps road 301 whole
    box = (X0 - 0.001, Y0 - 0.001, X0 + 0.0055, Y0 + 0.003)
    layers = convert_extract(path, bbox=box)
    roads = layers.roads
    assert list(roads.index) == ["w301", "w302", "w303"]
    assert np.allclose(shapely.get_coordinates(roads.geometry["w301"]), [[X0, Y0], [X0 + 0.005, Y0]], rtol=0, atol=1e-7)
    assert np.allclose(
        shapely.get_coordinates(roads.geometry["w302"]), [[X0 + 0.005, Y0], [X0 + 0.0055, Y0]], rtol=0, atol=1e-7
    )
    assert sorted(layers.buildings.index) == ["w401", "w403"]  # r501 at X0+0.006 is outside
    assert len(layers.models) == 13  # the models of the sample lie at X0..X0+0.0014, inside
    tight = convert_extract(path, bbox=(X0 + 0.00115, Y0 + 0.0004, X0 + 0.00145, Y0 + 0.0006))
    assert sorted(tight.models.index) == ["osm-n113", "osm-n114", "osm-n115"]
    assert tight.roads.empty and tight.buildings.empty
    # the problems are those of the objects in the box (node 115's height), and of the
    # multipolygon that has no place
    assert [p.osm_object for p in tight.problems] == ["node 115", "relation 502"]
    # (way 306's known node and way 404 lie east of the box: not its problems)
    assert [p.osm_object for p in layers.problems] == [
        "node 102",
        "node 109",
        "node 110",
        "node 111",
        "node 112",
        "node 115",
        "node 202",
        "way 402",
        "way 403",
        "relation 502",
    ]
    with pytest.raises(GeoAnttError, match="swapped"):
        convert_extract(path, bbox=(Y0, X0, Y0 + 0.01, X0 + 0.01))


def test_cli_writes_files_the_project_reads(extract: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(["osm", "convert", str(extract), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    warnings = captured.err.strip().splitlines()
    assert len(warnings) == 13 and all(line.startswith(f"warning: {extract}, ") for line in warnings)
    assert any("node 110, tag 'camera:direction'" in line for line in warnings)
    assert (
        "3 roads, 3 buildings, 11 cameras, 2 lights written; 13 problems (8 objects left out, 5 values left empty)"
        in captured.out
    )
    assert sorted(p.name for p in out.iterdir()) == [
        "buildings.geojson",
        "models.geojson",
        "roads.geojson",
    ]  # no temporary file left
    roads = json.loads((out / "roads.geojson").read_text(encoding="utf-8"))
    assert "crs" not in roads and roads["type"] == "FeatureCollection"
    assert [f["id"] for f in roads["features"]] == ["w301", "w302", "w303"]
    assert roads["features"][1]["properties"] == {"osm_id": "w302", "highway": "primary", "name": "Đường Trần Hưng Đạo"}
    assert roads["features"][1]["geometry"]["coordinates"][-1] == [105.8623457, 21.031]  # 7 decimals
    buildings = json.loads((out / "buildings.geojson").read_text(encoding="utf-8"))
    props = {f["id"]: f["properties"] for f in buildings["features"]}
    assert props["w401"] == {"osm_id": "w401", "building": "yes", "levels": 3.0, "height_m": 12.0}
    assert props["w403"]["height_m"] is None
    r501 = next(f for f in buildings["features"] if f["id"] == "r501")["geometry"]
    assert r501["type"] == "Polygon" and len(r501["coordinates"]) == 2
    assert not shapely.is_ccw(shapely.LinearRing(r501["coordinates"][1])) and shapely.is_ccw(
        shapely.LinearRing(r501["coordinates"][0])
    )
    # models.geojson: read by the project's model reader without an error, and `validate` passes
    models = out / "models.geojson"
    back = io.read_models(models)
    assert (
        len(back) == 13
        and back.loc["osm-n104", "direction_deg"] == (90.0, 180.0)
        and back.loc["osm-n105", "fov_deg"] == 20.0
    )
    assert (
        back.loc["osm-n113", "owner"] == "Công an phường Hàng Bồ"
        and back.loc["osm-n113", "surveillance:zone"] == "traffic"
    )
    assert back.loc["osm-n201", "light:count"] == 2 and back.loc["osm-n113", "osm_id"] == "n113"
    assert main(["validate", str(models)]) == 0
    assert "0 errors, 0 warnings" in capsys.readouterr().out


def demo_commune() -> tuple[str, Any, gpd.GeoDataFrame]:
    from geo_antt.io.dataset import load_dataset

    units = load_dataset(DEFAULT_DATA_DIR).units
    code = "22714"  # Thị trấn Tô Hạp (Khánh Sơn)
    return code, units.geometry.loc[code], units


def test_unit_clip_on_a_demo_unit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, unit, units = demo_commune()
    inside = unit.representative_point()
    # a point well outside the commune, in another demo commune
    other = units[(units["level"] == "commune") & (units.index != code)].geometry.iloc[0].representative_point()
    assert not unit.contains(other)
    nodes = [
        (1, inside.x, inside.y, {"man_made": "surveillance", "camera:direction": "90"}),
        (2, other.x, other.y, {"man_made": "surveillance", "camera:direction": "90"}),
        (3, inside.x + 0.0001, inside.y, {"highway": "street_lamp"}),
    ]
    path = write_extract(tmp_path / "u.osm", nodes, [(10, [1, 2], {"highway": "secondary"})])
    out = tmp_path / "out"
    assert main(["osm", "convert", str(path), "--out", str(out), "--unit", code]) == 0, capsys.readouterr().err
    models = io.read_models(out / "models.geojson")
    assert sorted(models.index) == ["osm-n1", "osm-n3"]
    road = gpd.read_file(out / "roads.geojson")
    assert len(road) == 1 and road.geometry.iloc[0].length < shapely.LineString([inside, other]).length
    assert unit.buffer(1e-6).covers(road.geometry.iloc[0])
    assert road.geometry.iloc[0].intersects(inside.buffer(1e-6))
    # an unknown code is a clear error naming it, and nothing is written
    assert main(["osm", "convert", str(path), "--out", str(tmp_path / "none"), "--unit", "99999999"]) == 1
    err = capsys.readouterr().err
    assert "--unit 99999999: no unit with this code" in err and "Traceback" not in err
    assert not (tmp_path / "none").exists()
    # --bbox and --unit together are refused by the parser
    with pytest.raises(SystemExit):
        main(["osm", "convert", str(path), "--out", str(out), "--unit", code, "--bbox", "105,21,106,22"])


@pytest.mark.parametrize("kind", ["truncated", "not osm", "empty", "xml"])
def test_bad_files_are_clean_errors(kind: str, tmp_path: Path) -> None:
    good = write_extract(tmp_path / "good.osm.pbf", *sample_objects())
    if kind == "truncated":
        bad = tmp_path / "cut.osm.pbf"
        bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    elif kind == "not osm":
        bad = tmp_path / "photo.osm.pbf"
        bad.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    elif kind == "empty":
        bad = tmp_path / "empty.osm.pbf"
        bad.write_bytes(b"")
    else:
        bad = tmp_path / "page.osm"
        bad.write_text("<html><body>not OSM</body></html>", encoding="utf-8")
    with pytest.raises(GeoAnttError, match="cannot read as an OpenStreetMap extract"):
        convert_extract(bad)
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "geo_antt", "osm", "convert", str(bad), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 1
    assert proc.stderr.startswith(f"geo-antt osm: error: {bad}: cannot read as an OpenStreetMap extract")
    assert "Traceback" not in proc.stderr and not out.exists()


def test_missing_and_misnamed_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nowhere.osm.pbf"
    with pytest.raises(FileNotFoundError):
        convert_extract(missing)
    assert main(["osm", "convert", str(missing), "--out", str(tmp_path / "o")]) == 1
    assert f"No such file or directory: {missing}" in capsys.readouterr().err
    odd = tmp_path / "data.csv"
    odd.write_text("a,b\n", encoding="utf-8")
    with pytest.raises(GeoAnttError, match="not an OpenStreetMap file name"):
        convert_extract(odd)
    with pytest.raises(GeoAnttError, match="is a directory"):
        convert_extract(tmp_path)
    with pytest.raises(GeoAnttError, match="node location index"):
        convert_extract(write_extract(tmp_path / "x.osm", [(1, X0, Y0, {})]), index="no_such_index")
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    assert main(["osm", "convert", str(tmp_path / "x.osm"), "--out", str(blocker)]) == 1
    assert "is not a folder" in capsys.readouterr().err


def test_file_node_index(tmp_path: Path) -> None:
    path = write_extract(tmp_path / "s.osm.pbf", *sample_objects())
    on_disk = convert_extract(path, index=f"sparse_file_array,{tmp_path / 'nodes.idx'}")
    in_memory = convert_extract(path)
    assert on_disk.roads.geometry.equals(in_memory.roads.geometry)
    assert list(on_disk.buildings.index) == list(in_memory.buildings.index)


def test_field_of_view_bounds_and_direction_limits(tmp_path: Path) -> None:
    cams = {
        1: {"camera:direction": "10-10.5"},  # 0.5 degree wide: under the camera's 1 degree
        2: {"camera:direction": ";".join(["90"] * 9)},  # 9 sectors: at most 8
        3: {"direction": "SE"},  # the plain direction key
        4: {"camera:direction": "W", "direction": "E"},  # camera:direction wins
        5: {"camera:type": "panning"},  # all around: no direction needed
    }
    nodes = [(nid, X0 + 0.0001 * nid, Y0, {"man_made": "surveillance", **tags}) for nid, tags in cams.items()]
    layers = convert_extract(write_extract(tmp_path / "f.osm.pbf", nodes))
    m = layers.models
    assert sorted(m.index) == ["osm-n3", "osm-n4", "osm-n5"]
    assert m.loc["osm-n3", "direction_deg"] == (135.0,) and m.loc["osm-n4", "direction_deg"] == (270.0,)
    assert m.loc["osm-n5", "direction_deg"] == () and m.loc["osm-n5", "fov_deg"] == 360.0
    reasons = {p.osm_object: p.reason for p in layers.problems}
    assert set(reasons) == {"node 1", "node 2"}
    assert "field of view 0.5 degrees" in reasons["node 1"] and "from 1 to 360" in reasons["node 1"]
    assert "9 directions; at most 8" in reasons["node 2"]


def test_the_command_is_listed(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "osm" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["osm", "convert", "--help"])
    out = capsys.readouterr().out
    assert "--bbox W,S,E,N" in out and "--unit CODE" in out and "models.geojson" in out
    assert main(["osm"]) == 2
