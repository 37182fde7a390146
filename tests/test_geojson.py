"""geo_antt.io.geojson: geometry text written from coordinate arrays, JSON-equal to GEOS's."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry import LineString, MultiPoint, MultiPolygon, Point, Polygon, box

from geo_antt.io.geojson import geometry_texts


def _same_as_geos(geoms) -> list[str | None]:
    got = geometry_texts(np.asarray(geoms, dtype=object))
    assert len(got) == len(geoms)
    for g, text in zip(geoms, got):
        if g is None:
            assert text is None
        else:
            assert json.loads(text) == json.loads(shapely.to_geojson(g)), g.wkt
    return list(got)


def test_every_geometry_type_and_the_odd_ones() -> None:
    holed = Polygon([(0, 0), (10, 0), (10, 10), (0, 10)], [[(2, 2), (4, 2), (4, 4)], [(6, 6), (8, 6), (8, 8)]])
    geoms = [
        Point(105.8271457, 21.0341714),
        None,
        Point(-0.0000001, 1e-7),
        box(105, 20, 106, 21),
        holed,
        MultiPolygon([holed, box(20, 20, 21, 21), Polygon([(30, 30), (31, 30), (30.5, 31)])]),
        LineString([(0, 0), (1, 1)]),  # other types: GEOS's text
        MultiPoint([(0, 0), (1, 2)]),
        shapely.GeometryCollection([Point(1, 1), box(0, 0, 1, 1)]),
        Polygon(),  # empty
        Point(1.5, 2.5, 3.5),  # 3D
        Point(600000.0, 1100000.0),  # whole numbers in metres
        MultiPolygon([box(0, 0, 1, 1)]),  # a multipolygon of one part stays a multipolygon
    ]
    texts = _same_as_geos(geoms)
    assert json.loads(texts[12])["type"] == "MultiPolygon" and json.loads(texts[3])["type"] == "Polygon"
    assert json.loads(texts[2])["coordinates"] == [-1e-7, 1e-7]


def test_coordinates_round_trip_exactly() -> None:
    rng = np.random.default_rng(4)
    xy = np.round(rng.uniform([102, 8], [110, 23], (2000, 2)), 7)
    texts = geometry_texts(shapely.points(xy))
    assert np.array_equal(np.array([json.loads(t)["coordinates"] for t in texts]), xy)
    discs = shapely.buffer(shapely.points(xy[:300]), 0.001, quad_segs=4)
    _same_as_geos(list(discs))


def test_real_boundaries(shared_data) -> None:
    """Every real boundary file: multipolygons with islands, thousands of vertices."""
    g = np.concatenate(
        [gpd.read_file(p).geometry.to_numpy() for p in sorted((shared_data / "boundaries").glob("*.geojson"))]
    )
    assert (shapely.get_num_geometries(g[shapely.get_type_id(g) == 6]) > 1).any()  # islands among them
    _same_as_geos(list(g))
    _same_as_geos(list(shapely.get_parts(g)))  # as polygons only


# A hamlet-sized square (about 110 m) whose hole comes within 3e-8 degrees (3 mm) of the
# left edge: rounding to 7 decimals puts two hole vertices on that edge, so the
# hole would run along the shell. Valid as it is, invalid once plainly rounded.
_EDGE = 105.00000006
_NEAR = 105.00000009


def _near_touching() -> Polygon:
    shell = [(_EDGE, 21.0), (105.001, 21.0), (105.001, 21.001), (_EDGE, 21.001)]
    hole = [(_NEAR, 21.0005), (105.0005, 21.00055), (_NEAR, 21.0006)]
    return Polygon(shell, [hole])


def _check_rounded(before, after, decimals: int = 7) -> None:
    for b, a in zip(before, after):
        if b is None:
            assert a is None
            continue
        assert shapely.is_valid(a), shapely.is_valid_reason(a)
        xy = shapely.get_coordinates(a)
        assert np.array_equal(xy, np.round(xy, decimals))
        assert abs(a.area - b.area) <= b.length * 10.0**-decimals  # each vertex moves under half the grid
        assert shapely.hausdorff_distance(a, b) < 2e-7


def test_rounding_never_breaks_a_valid_geometry() -> None:
    from geo_antt.io.geojson import round_coordinates

    poly = _near_touching()
    assert poly.is_valid
    plain = shapely.set_coordinates(shapely.Polygon(poly), np.round(shapely.get_coordinates(poly), 7))
    assert not plain.is_valid  # what plain rounding does to it
    geoms = np.array(
        [poly, None, box(105.1, 21.1, 105.2, 21.2), MultiPolygon([poly, box(105.01, 21.0, 105.02, 21.01)])],
        dtype=object,
    )
    out = round_coordinates(geoms, 7)
    _check_rounded(geoms, out)
    assert out[2].equals(geoms[2]) and shapely.is_ccw(out[2].exterior)
    assert geoms[0] is not out[0] and geoms[0].equals(poly)  # the input is left as it was


def test_rounding_repairs_only_when_asked() -> None:
    from geo_antt.io.geojson import round_coordinates

    bowtie = Polygon([(105.0, 21.0), (105.001, 21.001), (105.001, 21.0), (105.0, 21.001)])
    out = round_coordinates(np.array([bowtie], dtype=object), 7)
    assert not shapely.is_valid(out[0])  # not asked: written as it is
    fixed = round_coordinates(np.array([bowtie], dtype=object), 7, repair=True)
    assert shapely.is_valid(fixed[0]) and fixed[0].geom_type == "MultiPolygon"
    assert abs(fixed[0].area - 0.5e-6) < 1e-12


def test_written_layers_stay_valid_once_rounded(tmp_path) -> None:
    """The GeoJSON and GeoPackage writers (metric frame reprojected on the way, as gaps are
    written) and the web catalog's geometry text all keep the near-touching hole valid.
    """
    from geo_antt import io
    from geo_antt.catalog._catalog import _geometry_json

    wgs = gpd.GeoDataFrame(
        {"name": ["ấp 1", "ấp 2"]}, geometry=[_near_touching(), box(105.1, 21.1, 105.2, 21.2)], crs="EPSG:4326"
    )
    for frame in (wgs, wgs.to_crs("EPSG:32648")):
        for make_valid in (False, True):
            doc = json.loads(io.to_geojson_text(frame, make_valid=make_valid))
            _check_rounded(wgs.geometry, [shapely.from_geojson(json.dumps(f["geometry"])) for f in doc["features"]])
        io.write_layer(frame, tmp_path / "a.gpkg")
        _check_rounded(wgs.geometry, gpd.read_file(tmp_path / "a.gpkg").geometry)
    _check_rounded(wgs.geometry, [shapely.from_geojson(t) for t in _geometry_json(wgs.geometry.values)])
