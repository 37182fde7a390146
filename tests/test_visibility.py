"""Cameras do not see through walls: visible footprints (``geo_antt.visibility``), the
``occluded`` rule of the layer files and ``compute_coverage(..., buildings=)``.

Hand-checkable metric fixtures (EPSG:32648) first, then real commune boundaries of
../shared/data with a generated town of blocks and alleys, checked against an independent ray
casting (4,096 rays per model, each cut at the first wall it meets).
"""

from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import LineString, Point, box

from geo_antt import io
from geo_antt._errors import CRSError, GeoAnttError, ValidationError
from geo_antt.cli import main
from geo_antt.coverage import compute_coverage
from geo_antt.footprints import disc_polygons, sector_polygons
from geo_antt.layers import load_layer_specs
from geo_antt.visibility import visible_footprints, wall_edges

from .conftest import X0, Y0, make_models, make_units


def cam(id_, x, y, direction, *, fov=90.0, r=20.0, **kw):
    return {
        "id": id_,
        "kind": "camera",
        "x": X0 + x,
        "y": Y0 + y,
        "direction_deg": [direction],
        "fov_deg": fov,
        "range_m": r,
        **kw,
    }


def lamp(id_, x, y, r=20.0, kind="lighting", **kw):
    return {"id": id_, "kind": kind, "x": X0 + x, "y": Y0 + y, "radius_m": r, **kw}


def houses(*boxes, crs="EPSG:32648") -> gpd.GeoDataFrame:
    """Buildings from (x0, y0, x1, y1) boxes in metres relative to (X0, Y0)."""
    return gpd.GeoDataFrame(
        {"id": range(len(boxes))}, geometry=[box(X0 + a, Y0 + b, X0 + c, Y0 + d) for a, b, c, d in boxes], crs=crs
    )


def segment_area(r: float, d: float) -> float:
    """Area of the part of a disc of radius r beyond a line at distance d from its centre."""
    return r * r * math.acos(d / r) - d * math.sqrt(r * r - d * d)


# -- the layer rule ---------------------------------------------------------------------------


def test_layer_files_say_which_kinds_buildings_hide() -> None:
    specs = load_layer_specs()
    assert specs["camera"].occluded and specs["lighting"].occluded
    assert not specs["checkpoint"].occluded and not specs["gate"].occluded
    assert not specs["other"].occluded  # no footprint: the default


def test_a_non_boolean_occluded_is_refused(tmp_path: Path) -> None:
    (tmp_path / "x.toml").write_text(
        'kind = "x"\ntitle = { vi = "X", en = "X" }\n[footprint]\nrule = "disc"\noccluded = "yes"\n', encoding="utf-8"
    )
    with pytest.raises(GeoAnttError, match="occluded must be true or false"):
        load_layer_specs(tmp_path)


# -- the visible footprint, by hand -------------------------------------------------------------


def test_a_camera_facing_a_square_building_loses_the_shadow_behind_it() -> None:
    # apex (0, 0), looking north, 90 degrees, 50 m; a 10 m square 10..20 m ahead: the shadow is
    # the sector between the rays through (-5, 10) and (5, 10) (2 atan(1/2) = 53.13 degrees)
    # beyond the front wall, less the triangle (0,0)-(-5,10)-(5,10) of 50 m²
    fp = sector_polygons(np.array([0.0]), np.array([0.0]), np.array([0.0]), np.array([90.0]), np.array([50.0]))
    vis = visible_footprints(fp, np.array([0.0]), np.array([0.0]), np.array([box(-5, 10, 5, 20)]))
    span = 2 * math.degrees(math.atan(0.5))
    shadow = math.pi * 50**2 * span / 360 - 50.0
    assert vis.geoms[0].area == pytest.approx(math.pi * 50**2 / 4 - shadow, rel=1e-3)
    assert not vis.inside[0]
    assert shapely.intersection(vis.geoms[0], box(-5, 10, 5, 20)).area == pytest.approx(0.0, abs=1e-9)
    # a point behind the building is hidden, one beside it is seen
    assert not vis.geoms[0].contains(Point(0, 30)) and vis.geoms[0].contains(Point(20, 30))


def test_one_convex_building_alone_hides_what_it_hides_among_others() -> None:
    # a footprint with one convex building takes its hull as the hidden region as it is; with
    # two (here: one overlapping shadow, one apart) the hulls go through the union: what is seen
    # with both is what is seen with each alone
    fp = sector_polygons(np.array([0.0]), np.array([0.0]), np.array([0.0]), np.array([120.0]), np.array([60.0]))
    xy = np.array([0.0]), np.array([0.0])
    a, b, c = box(-5, 10, 5, 20), box(2, 30, 12, 36), shapely.affinity.rotate(box(-40, 20, -30, 28), 20.0)
    alone = [visible_footprints(fp, *xy, np.array([g])).geoms[0] for g in (a, b, c)]
    both = visible_footprints(fp, *xy, np.array([a, b, c])).geoms[0]
    seen = shapely.intersection_all(alone)
    assert shapely.symmetric_difference(both, seen).area < 1e-9 * fp[0].area
    assert all(g.area < fp[0].area - 50.0 for g in alone)


def test_a_lamp_with_one_wall_lights_its_own_side_only() -> None:
    d = disc_polygons(np.array([0.0]), np.array([0.0]), np.array([20.0]))
    vis = visible_footprints(d, np.array([0.0]), np.array([0.0]), np.array([box(-100, 5, 100, 6)]))
    assert vis.geoms[0].area == pytest.approx(math.pi * 400 - segment_area(20, 5), rel=2e-3)
    assert vis.geoms[0].bounds[3] == pytest.approx(5.0)


def test_an_l_shaped_building_and_a_courtyard_hide_exactly_what_rays_say() -> None:
    ell = shapely.Polygon([(5, -5), (15, -5), (15, 15), (-5, 15), (-5, 5), (5, 5)])  # an L around the corner
    yard = box(-20, -20, -10, -10).difference(box(-18, -18, -12, -12))  # a building with a courtyard
    d = disc_polygons(np.array([0.0]), np.array([0.0]), np.array([30.0]))
    vis = visible_footprints(d, np.array([0.0]), np.array([0.0]), np.array([ell, yard])).geoms[0]
    assert vis.area == pytest.approx(_ray_cast_area(0.0, 0.0, d[0], [ell, yard]), rel=2e-3)


def test_a_wall_mounted_camera_looking_into_its_wall_sees_nothing_behind_it() -> None:
    # the camera stands on the south wall of a 10 m square and looks north, through it
    b = box(-5, 0, 5, 10)
    fp = sector_polygons(np.array([0.0]), np.array([0.0]), np.array([0.0]), np.array([60.0]), np.array([30.0]))
    vis = visible_footprints(fp, np.array([0.0]), np.array([0.0]), np.array([b]))
    assert not vis.inside[0]
    assert vis.geoms[0].area == pytest.approx(0.0, abs=1e-6)


def test_rows_not_occluded_or_without_a_viewpoint_only_lose_the_building_inside() -> None:
    d = disc_polygons(np.array([0.0, 0.0]), np.array([0.0, 0.0]), np.array([20.0, 20.0]))
    wall = box(-100, 5, 100, 6)
    vis = visible_footprints(
        d, np.array([0.0, np.nan]), np.array([0.0, np.nan]), np.array([wall]), occluded=np.array([False, True])
    )
    for g in vis.geoms:
        assert g.area == pytest.approx(d[0].area - d[0].intersection(wall).area, rel=1e-9)


def test_the_hull_of_a_convex_building_is_its_walls_shadows() -> None:
    """The fast path for convex buildings (one hull) hides what the general one (a shadow per
    facing wall, plus the building) hides.
    """
    from geo_antt.visibility import _edges, _hull_shadows, _shadows

    rng = np.random.default_rng(7)
    blds = [shapely.affinity.rotate(box(-a, -b, a, b), rng.uniform(0, 180)) for a, b in rng.uniform(1, 15, (40, 2))]
    blds = np.array([shapely.affinity.translate(g, *rng.uniform(-40, 40, 2)) for g in blds])
    vx, vy = rng.uniform(-60, 60, 40), rng.uniform(-60, 60, 40)
    out = ~shapely.intersects(blds, shapely.points(vx, vy))
    blds, vx, vy = blds[out], vx[out], vy[out]
    e = _edges(blds)
    idx = np.arange(len(blds))
    reach = np.full(len(blds), 300.0)
    hulls = _hull_shadows(vx, vy, reach, e, idx)
    quads, pair = _shadows(vx, vy, reach, e, idx, np.zeros(len(blds), dtype=bool))
    disc = shapely.buffer(shapely.points(vx, vy), 150.0)  # compare within the reach
    for i in idx:
        walls = shapely.union_all(np.concatenate([quads[pair == i], [blds[i]]]))
        a, b = shapely.intersection(walls, disc[i]), shapely.intersection(hulls[i], disc[i])
        assert shapely.symmetric_difference(a, b).area < 1e-6 * a.area


def test_wall_edges_put_the_building_on_the_left() -> None:
    seg, owner = wall_edges(np.array([box(0, 0, 1, 1), box(5, 5, 6, 6).difference(box(5.2, 5.2, 5.8, 5.8))]))
    assert owner.tolist() == [0] * 4 + [1] * 8
    # the centre of each building lies on the left of every exterior edge
    ext = seg[:4]
    cross = (ext[:, 2] - ext[:, 0]) * (0.5 - ext[:, 1]) - (ext[:, 3] - ext[:, 1]) * (0.5 - ext[:, 0])
    assert (cross > 0).all()


# -- compute_coverage(..., buildings=) ----------------------------------------------------------


def test_coverage_counts_only_open_area_in_sight(square_hamlet) -> None:
    models = make_models([cam("c", 50, 20, 0.0, r=50.0), lamp("k", 150, 50, kind="checkpoint")])
    b = houses((45, 30, 55, 40), (140, 40, 145, 60))
    res = compute_coverage(square_hamlet, models, buildings=b)
    u = res.units
    span = 2 * math.degrees(math.atan(0.5))
    seen = math.pi * 50**2 / 4 - (math.pi * 50**2 * span / 360 - 50.0)
    # the camera's sector reaches y = 70, inside H1 (x 14.6..85.4)
    assert u.loc["H1", "covered_m2"] == pytest.approx(seen, rel=1e-3)
    assert u.loc["H1", "building_m2"] == pytest.approx(100.0)
    assert u.loc["H1", "open_m2"] == pytest.approx(9900.0)
    assert u.loc["H1", "covered_open_pct"] == pytest.approx(100 * u.loc["H1", "covered_m2"] / 9900.0)
    assert u.loc["H1", "covered_pct"] == pytest.approx(100 * u.loc["H1", "covered_m2"] / 10000.0)
    # the checkpoint is not occluded: it keeps what lies behind the wall, not the wall's inside
    assert u.loc["H2", "covered_m2"] == pytest.approx(
        disc_polygons(np.array([0.0]), np.array([0.0]), np.array([20.0]))[0].area - 100.0
    )
    assert u.loc["H2", "covered_m2_checkpoint"] == pytest.approx(u.loc["H2", "covered_m2"])
    # gaps are the open area not covered; the footprints are the visible ones
    g = res.gaps_metric
    for code in ("H1", "H2"):
        assert g.loc[g.unit_code == code, "area_m2"].sum() == pytest.approx(
            u.loc[code, "open_m2"] - u.loc[code, "covered_m2"], rel=1e-9
        )
        assert u.loc[code, "uncovered_m2"] == pytest.approx(u.loc[code, "open_m2"] - u.loc[code, "covered_m2"])
    assert not shapely.union_all(g.geometry.to_numpy()).intersects(Point(X0 + 50, Y0 + 35))
    fp = res.footprints_metric
    assert fp.loc["c", "area_m2"] == pytest.approx(seen, rel=1e-3)
    # without gaps the figures are the same
    quick = compute_coverage(square_hamlet, models, buildings=b, with_gaps=False).units
    pd.testing.assert_series_equal(quick["covered_m2"], u["covered_m2"], rtol=1e-9)


def test_a_camera_inside_a_building_is_reported(square_hamlet) -> None:
    models = make_models([cam("CAM-7", 50, 50, 90.0, r=30.0)])
    b = houses((40, 40, 60, 60))
    with pytest.warns(UserWarning, match=r"1 model\(s\) stand inside a building.*CAM-7"):
        res = compute_coverage(square_hamlet, models, buildings=b)
    # it sees out of its own building (not hidden by it), but the inside is not covered
    fp = res.footprints_metric.geometry.iloc[0]
    full = sector_polygons(
        np.array([X0 + 50]), np.array([Y0 + 50]), np.array([90.0]), np.array([90.0]), np.array([30.0])
    )[0]
    assert fp.area == pytest.approx(full.area - full.intersection(b.geometry.iloc[0]).area, rel=1e-9)


def test_a_building_out_of_range_changes_nothing(square_hamlet) -> None:
    models = make_models([cam("c", 50, 50, 0.0), lamp("l", 150, 50), lamp("k", 20, 20, kind="checkpoint", r=10.0)])
    b = houses((185, 80, 195, 95))  # in H2, beyond every footprint
    plain = compute_coverage(square_hamlet, models)
    res = compute_coverage(square_hamlet, models, buildings=b)
    u, p = res.units, plain.units
    assert u.loc["H2", "open_m2"] == pytest.approx(10000.0 - 150.0)
    for col in ("covered_m2", "covered_pct", "covered_m2_camera", "covered_m2_lighting", "covered_m2_checkpoint"):
        pd.testing.assert_series_equal(u[col], p[col], rtol=1e-9)
    assert shapely.equals(res.footprints_metric.geometry, plain.footprints_metric.geometry).all()


def test_blocked_pieces_give_the_gaps_and_pairs_of_the_general_path() -> None:
    """``_blocked_pieces`` (lone buildings as they are, a binary union per touching group, the
    pairs derived from the members') against the plain way: the union of everything, paired
    with the units by geometry and subtracted by overlay.
    """
    from geo_antt.coverage import _blocked_pieces, _unit_piece_pairs, unit_gaps

    units = np.array([box(0, 0, 100, 100), box(100, 0, 200, 100), box(50, 50, 150, 150)])  # the last overlaps both
    # pieces: disjoint footprints, some ending on a wall (the visible footprint of a camera)
    wall_a, wall_b = box(20, 20, 30, 30), box(60, 10, 70, 20)
    pieces = np.array(
        [
            box(5, 15, 40, 40).difference(wall_a),  # around wall_a: its hole ends on the four walls
            box(70, 5, 80, 18),  # touches wall_b on its left
            box(45, 5, 60, 25),  # touches wall_b on its right: wall_b joins two pieces
            shapely.Polygon(
                [(110, 60), (130, 60), (130, 80), (110, 80)], [[(115, 65), (125, 65), (125, 75), (115, 75)]]
            ),
            box(95, 40, 105, 45),  # crosses the border of the first two units
            box(160, 10, 170, 20),  # alone
        ]
    )
    buildings = np.array(
        [
            wall_a,
            wall_b,
            box(116, 66, 124, 74),  # inside the courtyard of the ring piece, touching nothing
            box(117, 58, 122, 60),  # on the ring piece's outer wall
            box(10, 80, 20, 90),  # alone in the first unit
            box(195, 50, 205, 60),  # alone, across the outer border of the second unit
            box(140, 140, 150, 150),  # alone, in a corner of the third unit only
        ]
    )
    blocked, pairs = _blocked_pieces(units, pieces, _unit_piece_pairs(units, pieces), buildings)
    # disjoint, and together exactly the pieces and the buildings
    # two pieces and four buildings alone, then three touching groups (wall_a and its piece, wall_b and its
    # two pieces, the ring and its wall)
    assert len(blocked) == 6 + 3
    assert shapely.is_valid(shapely.multipolygons(shapely.get_parts(blocked)))
    every = shapely.union_all(np.concatenate([pieces, buildings]))
    assert shapely.symmetric_difference(shapely.union_all(blocked), every).area < 1e-9
    # the pairs are those a geometric pairing of the blocked pieces finds
    ref = _unit_piece_pairs(units, blocked)
    got = sorted(zip(pairs.unit.tolist(), pairs.piece.tolist(), pairs.inside.tolist()))
    assert got == sorted(zip(ref.unit.tolist(), ref.piece.tolist(), ref.inside.tolist()))
    gaps = unit_gaps(units, blocked, pairs=pairs)
    for unit, gap in zip(units, gaps):
        assert shapely.is_valid(gap)
        assert shapely.symmetric_difference(gap, unit.difference(every)).area < 1e-9


def test_non_occluded_kinds_are_not_shadowed(square_hamlet) -> None:
    wall = houses((0, 60, 100, 61))
    models = make_models([lamp("k", 50, 50, kind="checkpoint")])
    res = compute_coverage(square_hamlet, models, buildings=wall)
    disc = disc_polygons(np.array([X0 + 50]), np.array([Y0 + 50]), np.array([20.0]))[0]
    assert res.footprints_metric.geometry.iloc[0].area == pytest.approx(
        disc.area - disc.intersection(wall.geometry.iloc[0]).area, rel=1e-9
    )
    lit = compute_coverage(square_hamlet, make_models([lamp("l", 50, 50)]), buildings=wall)
    assert lit.footprints_metric.area_m2.iloc[0] == pytest.approx(disc.area - segment_area(20, 10), rel=2e-3)


def test_streets_behind_a_building_are_not_covered(square_hamlet) -> None:
    roads = gpd.GeoDataFrame(
        {"osm_id": [1, 2]},
        geometry=[LineString([(X0, Y0 + 40), (X0 + 100, Y0 + 40)]), LineString([(X0, Y0 + 10), (X0 + 100, Y0 + 10)])],
        crs=32648,
    )
    models = make_models([lamp("l", 50, 20)])  # 20 m disc: chords on y = 10 (dist 10) and y = 40 (tangent)
    wall = houses((0, 25, 100, 30))  # between the lamp and the far road
    u = compute_coverage(square_hamlet, models, roads=roads, buildings=wall).units
    assert u.loc["H1", "road_covered_m"] == pytest.approx(2 * math.sqrt(400 - 100), rel=5e-3)


def test_a_camera_that_sees_nothing_has_no_footprint(square_hamlet, tmp_path: Path) -> None:
    models = make_models([cam("blind", 50, 20, 0.0, fov=60.0, r=30.0), cam("c", 20, 20, 0.0, fov=60.0, r=30.0)])
    res = compute_coverage(square_hamlet, models, buildings=houses((45, 20, 55, 40)))  # "blind" hangs on its wall
    fp = res.footprints_metric
    assert fp.geometry.isna().tolist() == [True, False] and fp.loc["blind", "area_m2"] == 0.0
    assert res.units.loc["H1", "covered_m2"] == pytest.approx(fp.loc["c", "area_m2"])
    io.write_layer(fp, tmp_path / "fp.geojson", make_valid=True)
    assert '"geometry":null' in (tmp_path / "fp.geojson").read_text(encoding="utf-8")


def test_buildings_are_checked(square_hamlet) -> None:
    models = make_models([lamp("l", 50, 20)])
    with pytest.raises(CRSError):
        compute_coverage(square_hamlet, models, buildings=gpd.GeoDataFrame(geometry=[box(0, 0, 1, 1)]))
    lines = gpd.GeoDataFrame(geometry=[LineString([(X0, Y0), (X0 + 1, Y0)])], crs=32648)
    with pytest.raises(ValidationError, match="Polygon or MultiPolygon"):
        compute_coverage(square_hamlet, models, buildings=lines)


def test_the_command_reads_buildings(tmp_path: Path, square_hamlet, capsys) -> None:
    units = square_hamlet.to_crs(4326)
    models = make_models([cam("c", 50, 20, 0.0, r=50.0)]).to_crs(4326)
    bpath, upath, mpath = tmp_path / "b.geojson", tmp_path / "u.geojson", tmp_path / "m.geojson"
    houses((45, 30, 55, 40)).to_crs(4326).to_file(bpath)
    units.reset_index(drop=True).to_file(upath)
    models.assign(direction_deg=models["direction_deg"].map(lambda d: ";".join(map(str, d)))).reset_index(
        drop=True
    ).to_file(mpath)
    out = tmp_path / "out.geojson"
    assert (
        main(
            [
                "coverage",
                "--boundaries",
                str(upath),
                "--models",
                str(mpath),
                "--buildings",
                str(bpath),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "buildings: 1 read" in text
    got = gpd.read_file(out).set_index("unit_code")
    assert got.loc["H1", "open_m2"] == pytest.approx(9900.0, rel=1e-4)
    assert got.loc["H1", "covered_m2"] < 900


# -- accuracy against an independent ray casting -------------------------------------------------


def _ray_cast_area(x: float, y: float, footprint, walls, n_rays: int = 4096) -> float:
    """Area of the polygon of the ends of ``n_rays`` rays from (x, y), each cut at the first wall
    (building edge) or footprint outline it meets.
    """
    return _ray_polygon(x, y, footprint, walls, None, None, n_rays).area


def _ray_polygon(x, y, footprint, walls, direction, fov, n_rays: int = 4096) -> shapely.Polygon:
    segs = []
    for g in walls:
        for poly in shapely.get_parts(g):
            for ring in [poly.exterior, *poly.interiors]:
                c = np.asarray(ring.coords)
                segs.append(np.column_stack([c[:-1], c[1:]]))
    # the footprint's outline away from the apex (the arc chords) stops a ray at the range
    c = np.asarray(footprint.exterior.coords)
    outline = np.column_stack([c[:-1], c[1:]])
    at_apex = (np.hypot(outline[:, 0] - x, outline[:, 1] - y) < 1e-9) | (
        np.hypot(outline[:, 2] - x, outline[:, 3] - y) < 1e-9
    )
    segs.append(outline[~at_apex])
    s = np.concatenate(segs)
    if direction is None:
        ang = np.linspace(0.0, 2 * np.pi, n_rays, endpoint=False)
    else:
        ang = np.radians(np.linspace(direction - fov / 2, direction + fov / 2, n_rays + 1))
    dx, dy = np.sin(ang), np.cos(ang)  # bearings clockwise from north
    # ray (x, y) + t (dx, dy) against segment a + u (b - a): solve for t >= 0, 0 <= u <= 1
    ax, ay = s[:, 0] - x, s[:, 1] - y
    ex, ey = s[:, 2] - s[:, 0], s[:, 3] - s[:, 1]
    den = dx[:, None] * ey[None, :] - dy[:, None] * ex[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (ax[None, :] * ey[None, :] - ay[None, :] * ex[None, :]) / den
        u = (ax[None, :] * dy[:, None] - ay[None, :] * dx[:, None]) / den
    ok = (np.abs(den) > 1e-12) & (t > 1e-9) & (u >= -1e-9) & (u <= 1 + 1e-9)
    tmin = np.where(ok, t, np.inf).min(axis=1)
    ends = np.column_stack([x + tmin * dx, y + tmin * dy])
    return shapely.Polygon(ends if direction is None else np.vstack([[x, y], ends]))


def _town(x0: float, y0: float, size: float, rng: np.random.Generator) -> list[shapely.Polygon]:
    """Blocks of 40 m on a 47 m grid (7 m streets), each of six houses behind 1.5 m alleys,
    some L-shaped, some turned a few degrees.
    """
    out = []
    for bx in np.arange(x0, x0 + size, 47.0):
        for by in np.arange(y0, y0 + size, 47.0):
            for i in range(3):
                for j in range(2):
                    hx, hy = bx + i * 13.8, by + j * 20.5
                    h = box(hx, hy, hx + 12.3, hy + 19.0)
                    r = rng.random()
                    if r < 0.2:
                        h = h.difference(box(hx + 6, hy + 9, hx + 13, hy + 20))  # an L
                    elif r < 0.4:
                        h = shapely.affinity.rotate(h, rng.uniform(-8, 8), origin="centroid")
                    out.append(h)
    return out


def test_visible_coverage_matches_ray_casting_on_real_communes(shared_data: Path) -> None:
    communes = io.read_units(shared_data / "boundaries" / "mo_cay_nam_communes_pre2025.geojson")
    cm = communes.to_crs(32648)
    # a town of 700 m around a point of the border between two communes; hamlets are each
    # commune cut into quarters around that point
    first = cm.geometry.iloc[3]
    other = cm[cm.intersects(first) & (cm.index != cm.index[3])].geometry.iloc[0]
    cx, cy = shapely.intersection(first.boundary, other.boundary).representative_point().coords[0]
    size = 700.0
    x0, y0 = cx - size / 2, cy - size / 2
    rng = np.random.default_rng(16)
    town = _town(x0, y0, size, rng)
    rows = [("C1", "Xã 1", "commune", None, first), ("C2", "Xã 2", "commune", None, other)]
    for ci, commune in (("C1", first), ("C2", other)):
        for q, quarter in enumerate(
            [
                box(cx - 2000, cy - 2000, cx, cy),
                box(cx, cy - 2000, cx + 2000, cy),
                box(cx - 2000, cy, cx, cy + 2000),
                box(cx, cy, cx + 2000, cy + 2000),
            ]
        ):
            part = commune.intersection(quarter)
            if part.area > 1000:
                rows.append((f"{ci}-{q}", f"Ấp {q}", "hamlet", ci, part))
    units = make_units(rows)
    # cameras and lamps in the streets and alleys, at least 0.5 m from any wall
    built = shapely.union_all(town)
    shapely.prepare(built)
    pts = []
    while len(pts) < 400:
        p = Point(rng.uniform(x0, x0 + size), rng.uniform(y0, y0 + size))
        if not built.intersects(p.buffer(0.5)):
            pts.append(p)
    models = []
    for i, p in enumerate(pts[:320]):
        fov = 360.0 if rng.random() < 0.1 else float(rng.uniform(60, 120))
        models.append(
            {
                "id": f"c{i}",
                "kind": "camera",
                "x": p.x,
                "y": p.y,
                "direction_deg": [float(rng.uniform(0, 360))],
                "fov_deg": fov,
                "range_m": float(rng.uniform(10, 40)),
            }
        )
    for i, p in enumerate(pts[320:]):
        models.append({"id": f"l{i}", "kind": "lighting", "x": p.x, "y": p.y, "radius_m": float(rng.uniform(10, 25))})
    frame = make_models(models)
    bframe = gpd.GeoDataFrame(geometry=town, crs=32648)
    res = compute_coverage(units, frame.to_crs(4326), buildings=bframe.to_crs(4326), settings=_utm())
    # the reference: each model's own footprint polygon (same outline), rays cut at the walls
    tree = shapely.STRtree(town)
    fp_plain = compute_coverage(units, frame, settings=_utm()).footprints_metric.geometry
    refs = []
    for m in models:
        f = fp_plain.loc[m["id"]]
        walls = [town[k] for k in tree.query(f, predicate="intersects")]
        if m["kind"] == "camera" and m["fov_deg"] < 360:
            refs.append(_ray_polygon(m["x"], m["y"], f, walls, m["direction_deg"][0], m["fov_deg"]))
        else:
            refs.append(_ray_polygon(m["x"], m["y"], f, walls, None, None))
    # (the rays ending on one wall or one chord of the outline are collinear: simplified by 1 mm)
    cover = shapely.union_all(shapely.make_valid(shapely.simplify(np.array(refs), 0.001)))
    u = res.units
    checked = 0
    for code, geom in units.loc[units.level == "hamlet"].geometry.items():
        want = shapely.intersection(geom, cover).area
        if want < 500:
            continue
        checked += 1
        assert u.loc[code, "covered_m2"] == pytest.approx(want, rel=0.005), code
        assert u.loc[code, "building_m2"] == pytest.approx(shapely.intersection(geom, built).area, rel=1e-6)
    assert checked >= 4
    # the whole town: walls hide a good part of the plain footprints
    plain = compute_coverage(units, frame, settings=_utm()).units
    assert u["covered_m2"].sum() < 0.8 * plain["covered_m2"].sum()


def _utm():
    from geo_antt.config import Settings

    return Settings(metric_crs="EPSG:32648")


# -- placement with buildings -------------------------------------------------------------------


def test_plan_judges_candidates_by_what_they_see(square_hamlet) -> None:
    from geo_antt.placement import plan_sites

    units = square_hamlet.to_crs(4326)
    models = make_models([lamp("l0", 190, 90, r=5.0)]).to_crs(4326)
    # two poles facing east: P0 has a house 5 m in front of it, P1 an open street; P2 stands
    # inside a house and is no site at all
    poles = gpd.GeoDataFrame(
        geometry=[Point(X0 + 10, Y0 + 20), Point(X0 + 10, Y0 + 70), Point(X0 + 150, Y0 + 30)],
        crs=32648,
        index=["P0", "P1", "P2"],
    ).to_crs(4326)
    b = houses((15, 5, 40, 35), (140, 20, 160, 40))
    res = plan_sites(
        units, models, kind="camera", count=1, candidates=poles, range_m=25.0, directions_deg=[90.0], buildings=b
    )
    assert res.sites["site_id"].tolist() == ["P1"]
    full = math.pi * 25**2 / 4
    assert res.objective == pytest.approx(full, rel=0.01)
    # with the house, P0 alone sees far less than a whole sector, and P2 is never proposed
    two = plan_sites(
        units, models, kind="camera", count=3, candidates=poles, range_m=25.0, directions_deg=[90.0], buildings=b
    )
    gains = dict(zip(two.sites["site_id"], two.sites["gain_m2"]))
    assert "P2" not in gains and gains["P0"] < 0.5 * full
    # the before/after figures are the occluded engine's
    assert "open_m2" in two.after.columns
    assert float(two.after["covered_m2"].sum() - two.before["covered_m2"].sum()) == pytest.approx(
        two.objective, rel=1e-4
    )
