from __future__ import annotations

import math

import pytest
import shapely

from geo_antt import CRSError, ValidationError
from geo_antt.footprints import disc_polygons, footprints, normalise_directions, sector_polygons

from .conftest import X0, Y0, make_models


@pytest.mark.parametrize("fov", [30.0, 80.0, 90.0, 110.0, 180.0, 270.0, 359.0, 360.0])
@pytest.mark.parametrize("rng", [10.0, 25.0, 150.0])
def test_sector_area_matches_formula(fov: float, rng: float) -> None:
    poly = sector_polygons([X0], [Y0], [37.0], [fov], [rng])[0]
    expected = math.pi * rng**2 * fov / 360.0
    assert poly.is_valid
    assert abs(poly.area - expected) / expected < 1e-9  # equal-area polygons: exact


@pytest.mark.parametrize("segments", [2, 4, 8, 16])
@pytest.mark.parametrize("fov", [20.0, 90.0, 200.0, 360.0])
def test_sector_is_equal_area_and_close_to_the_arc(segments: int, fov: float) -> None:
    """Whatever the number of chords, the polygon has the sector's exact area; its outline lies
    within a hair of the true arc (at the default 8 chords per quarter: +0.33 % / -0.17 %).
    """
    rng = 50.0
    poly = sector_polygons([0.0], [0.0], [123.0], [fov], [rng], segments_per_quarter=segments)[0]
    assert poly.area == pytest.approx(math.pi * rng**2 * fov / 360.0, rel=1e-9)
    ring = shapely.get_coordinates(poly.exterior)
    dist = [math.hypot(x, y) for x, y in ring if math.hypot(x, y) > 1e-9]  # arc vertices
    if segments == 8:
        assert max(dist) < rng * 1.0033
        truth = shapely.Point(0, 0).buffer(rng, quad_segs=256)
        # the polygon and the true sector differ by a sliver of well under 1 % of the area
        if fov == 360.0:
            assert poly.symmetric_difference(truth).area / truth.area < 0.003
    assert min(dist) > rng  # vertices outside the arc, chords across it


def test_default_segments_match_postgis_buffer() -> None:
    from geo_antt.config import DEFAULT_SETTINGS

    assert DEFAULT_SETTINGS.sector_segments == 8  # ST_Buffer's quad_segs=8: 32 chords a circle
    d = disc_polygons([0.0], [0.0], [10.0])[0]
    assert len(d.exterior.coords) == len(shapely.Point(0, 0).buffer(10.0, quad_segs=8).exterior.coords) == 33


def test_sector_points_clockwise_from_north() -> None:
    north, east, south = sector_polygons([0, 0, 0], [0, 0, 0], [0.0, 90.0, 180.0], [60.0] * 3, [10.0] * 3)
    # north: above the apex, symmetric about x = 0
    minx, miny, maxx, maxy = north.bounds
    # (the arc's vertices sit a hair outside the range: equal-area polygons)
    assert maxy == pytest.approx(10.0, rel=0.004) and miny == pytest.approx(0.0) and minx == pytest.approx(-maxx)
    minx, miny, maxx, maxy = east.bounds
    assert maxx == pytest.approx(10.0, rel=0.004) and minx == pytest.approx(0.0)
    assert south.bounds[1] == pytest.approx(-10.0, rel=0.004)
    # directions wrap: 450 degrees is 90 (east)
    wrap = sector_polygons([0], [0], [450.0], [60.0], [10.0])[0]
    assert wrap.equals_exact(east, 1e-9)


def test_polygons_are_counter_clockwise() -> None:
    polys = sector_polygons([0, 0], [0, 0], [10.0, 10.0], [90.0, 360.0], [10.0, 10.0])
    assert all(shapely.is_ccw(p.exterior) for p in polys)


def test_disc_area() -> None:
    d = disc_polygons([X0], [Y0], [20.0])[0]
    assert abs(d.area - math.pi * 400) / (math.pi * 400) < 1e-9
    assert d.contains(shapely.Point(X0 + 19, Y0))


def test_normalise_directions() -> None:
    assert normalise_directions("45; 135") == (45.0, 135.0)
    assert normalise_directions(90) == (90.0,)
    assert normalise_directions(float("nan")) == ()
    assert normalise_directions(None) == ()
    assert normalise_directions([10, 20]) == (10.0, 20.0)


def test_footprints_defaults_kinds_and_index() -> None:
    models = make_models(
        [
            {"id": "cam", "kind": "camera", "x": X0, "y": Y0, "direction_deg": [0.0]},  # defaults 90 deg, 20 m
            {"id": "ptz", "kind": "camera", "x": X0 + 500, "y": Y0, "fov_deg": 360.0, "range_m": 30.0},
            {
                "id": "two",
                "kind": "camera",
                "x": X0 + 900,
                "y": Y0,
                "direction_deg": [0.0, 180.0],
                "fov_deg": 90.0,
                "range_m": 10.0,
            },
            {"id": "lamp", "kind": "lighting", "x": X0 + 200, "y": Y0},  # default radius 20 m
            {"id": "post", "kind": "checkpoint", "x": X0 + 300, "y": Y0, "radius_m": 50.0},
            {"id": "group", "kind": "self_management", "x": None, "y": None, "unit_code": "H1"},
        ]
    )
    fp = footprints(models)
    assert list(fp.index) == ["cam", "ptz", "two", "lamp", "post"]
    assert fp.crs == models.crs
    area = fp["area_m2"]
    assert area["cam"] == pytest.approx(math.pi * 400 / 4, rel=0.005)
    assert area["ptz"] == pytest.approx(math.pi * 900, rel=0.005)
    assert area["two"] == pytest.approx(2 * math.pi * 100 / 4, rel=0.005)
    assert area["lamp"] == pytest.approx(math.pi * 400, rel=0.005)
    assert area["post"] == pytest.approx(math.pi * 2500, rel=0.005)


def test_lighting_line_is_buffered() -> None:
    line = shapely.LineString([(X0, Y0), (X0 + 100, Y0)])
    models = make_models([{"id": "road", "kind": "lighting", "geometry": line, "radius_m": 10.0}])
    fp = footprints(models)
    assert fp.loc["road", "area_m2"] == pytest.approx(100 * 20 + math.pi * 100, rel=0.005)


def test_bad_parameters_are_all_reported() -> None:
    models = make_models(
        [
            {"id": "nodir", "kind": "camera", "x": X0, "y": Y0, "fov_deg": 90.0},
            {"id": "badfov", "kind": "camera", "x": X0, "y": Y0, "direction_deg": [0.0], "fov_deg": 400.0},
            {"id": "neg", "kind": "lighting", "x": X0, "y": Y0, "radius_m": -5.0},
        ]
    )
    with pytest.raises(ValidationError) as err:
        footprints(models)
    text = str(err.value)
    assert "nodir" in text and "badfov" in text and "neg" in text
    assert {p.field for p in err.value.problems} == {"direction_deg", "fov_deg", "radius_m"}


def test_geographic_crs_is_refused() -> None:
    models = make_models([{"id": "c", "kind": "lighting", "x": 105.0, "y": 10.0}], crs="EPSG:4326")
    with pytest.raises(CRSError):
        footprints(models)
