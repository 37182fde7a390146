"""geo_antt._geojson: geometry text written from coordinate arrays, JSON-equal to GEOS's."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry import LineString, MultiPoint, MultiPolygon, Point, Polygon, box

from geo_antt._geojson import geometry_texts


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
    g = np.concatenate([gpd.read_file(p).geometry.to_numpy() for p in sorted((shared_data / "boundaries").glob("*.geojson"))])
    assert (shapely.get_num_geometries(g[shapely.get_type_id(g) == 6]) > 1).any()  # islands among them
    _same_as_geos(list(g))
    _same_as_geos(list(shapely.get_parts(g)))  # as polygons only
