from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import Point, Polygon, box

from geo_antt import GeoAnttError
from geo_antt.config import Settings
from geo_antt.coverage import compute_coverage, dissolve_overlaps, unit_gaps

from .conftest import X0, Y0, make_models, make_units

QUARTER_DISC_20 = math.pi * 20**2 / 4  # camera: fov 90, range 20 m


def cam(id_, x, y, direction=0.0, **kw):
    return {
        "id": id_,
        "kind": "camera",
        "x": x,
        "y": y,
        "direction_deg": [direction],
        "fov_deg": 90.0,
        "range_m": 20.0,
        **kw,
    }


def test_camera_at_hamlet_centre(square_hamlet) -> None:
    models = make_models([cam("c1", X0 + 50, Y0 + 50)])
    res = compute_coverage(square_hamlet, models)
    assert res.level == "hamlet"
    u = res.units
    assert list(u.index) == ["H1", "H2"]
    assert u.loc["H1", "area_m2"] == pytest.approx(10_000.0)
    assert u.loc["H1", "covered_m2"] == pytest.approx(QUARTER_DISC_20, rel=0.005)
    assert u.loc["H1", "covered_pct"] == pytest.approx(100 * QUARTER_DISC_20 / 10_000, rel=0.005)
    assert u.loc["H1", "covered_m2_camera"] == pytest.approx(u.loc["H1", "covered_m2"])
    assert u.loc["H1", "covered_m2_lighting"] == 0.0
    assert u.loc["H2", "covered_m2"] == 0.0
    assert u.loc["H1", "n_camera"] == 1 and u.loc["H2", "n_camera"] == 0
    # rank 1 = least covered
    assert u.loc["H2", "rank"] == 1 and u.loc["H1", "rank"] == 2
    assert u.crs.to_epsg() == 4326
    assert set(["unit_code", "unit_name", "level", "parent_code", "approximate"]) <= set(u.columns)


def test_overlapping_footprints_count_once(square_hamlet) -> None:
    models = make_models([cam("a", X0 + 50, Y0 + 50), cam("b", X0 + 50, Y0 + 50), cam("c", X0 + 50, Y0 + 50, 90.0)])
    u = compute_coverage(square_hamlet, models).units
    # two identical quarter discs + one quarter disc to the east that touches them along an edge
    assert u.loc["H1", "covered_m2"] == pytest.approx(2 * QUARTER_DISC_20, rel=0.005)
    assert u.loc["H1", "n_camera"] == 3


def test_footprint_crossing_a_border_counts_for_both(square_hamlet) -> None:
    models = make_models([{"id": "lamp", "kind": "lighting", "x": X0 + 100, "y": Y0 + 50, "radius_m": 20.0}])
    u = compute_coverage(square_hamlet, models).units
    half = math.pi * 400 / 2
    assert u.loc["H1", "covered_m2_lighting"] == pytest.approx(half, rel=0.005)
    assert u.loc["H2", "covered_m2_lighting"] == pytest.approx(half, rel=0.005)
    # the lamp itself is counted in one hamlet only
    assert u["n_lighting"].sum() == 1


def test_only_active_models_count(square_hamlet) -> None:
    models = make_models(
        [
            cam("on", X0 + 50, Y0 + 50),
            cam("off", X0 + 150, Y0 + 50, status="inactive"),
            cam("plan", X0 + 150, Y0 + 50, status="proposed"),
        ]
    )
    u = compute_coverage(square_hamlet, models).units
    assert u.loc["H2", "covered_m2"] == 0.0
    assert u.loc["H2", "n_inactive"] == 1 and u.loc["H2", "n_camera"] == 0
    # a caller may count proposed models too (planning: what-if)
    u2 = compute_coverage(square_hamlet, models, statuses=("active", "proposed")).units
    assert u2.loc["H2", "covered_m2"] == pytest.approx(QUARTER_DISC_20, rel=0.005)


def test_non_spatial_models_counted_by_unit_code(square_hamlet) -> None:
    models = make_models([{"id": "g", "kind": "self_management", "x": None, "y": None, "unit_code": "H2"}])
    u = compute_coverage(square_hamlet, models).units
    assert u.loc["H2", "n_self_management"] == 1 and u.loc["H2", "covered_m2"] == 0.0
    uc = compute_coverage(square_hamlet, models, level="commune").units
    assert uc.loc["C1", "n_self_management"] == 1


def test_camera_looking_several_ways(square_hamlet) -> None:
    # two sectors touching at the apex (a MultiPolygon footprint), overlapped by a third camera
    models = make_models(
        [
            {
                "id": "two",
                "kind": "camera",
                "x": X0 + 50,
                "y": Y0 + 50,
                "direction_deg": [0.0, 180.0],
                "fov_deg": 90.0,
                "range_m": 20.0,
            },
            {
                "id": "lone",
                "kind": "camera",
                "x": X0 + 150,
                "y": Y0 + 50,
                "direction_deg": [0.0, 180.0],
                "fov_deg": 90.0,
                "range_m": 20.0,
            },
            cam("over", X0 + 50, Y0 + 50),
        ]
    )
    u = compute_coverage(square_hamlet, models).units
    assert u.loc["H1", "covered_m2"] == pytest.approx(2 * QUARTER_DISC_20, rel=0.005)
    assert u.loc["H2", "covered_m2"] == pytest.approx(2 * QUARTER_DISC_20, rel=0.005)


def test_commune_level_and_level_errors(square_hamlet) -> None:
    models = make_models([cam("c1", X0 + 50, Y0 + 50)])
    u = compute_coverage(square_hamlet, models, level="commune").units
    assert list(u.index) == ["C1"] and u.loc["C1", "area_m2"] == pytest.approx(20_000.0)
    with pytest.raises(GeoAnttError, match="district"):
        compute_coverage(square_hamlet, models, level="district")
    with pytest.raises(GeoAnttError, match="level must be one of"):
        compute_coverage(square_hamlet, models, level="village")


def test_gaps_complement_coverage(square_hamlet) -> None:
    models = make_models(
        [
            cam("c1", X0 + 50, Y0 + 50),  # inside H1: becomes a hole of the gap
            {"id": "edge", "kind": "checkpoint", "x": X0 + 100, "y": Y0 + 100, "radius_m": 30.0},  # crosses both
        ]
    )
    res = compute_coverage(square_hamlet, models, settings=Settings(min_gap_area_m2=0.0))
    gaps = res.gaps.to_crs(32648)
    assert gaps.geometry.is_valid.all()
    per_unit = gaps.groupby("unit_code")["area_m2"].sum()
    for code in ("H1", "H2"):
        u = res.units.loc[code]
        assert per_unit[code] == pytest.approx(u["area_m2"] - u["covered_m2"], rel=1e-9)
    # gaps do not overlap any footprint
    fp = res.footprints.to_crs(32648).union_all()
    assert gaps.geometry.intersection(fp).area.sum() < 1e-6
    assert {"gap_id", "unit_code", "unit_name", "area_m2"} <= set(res.gaps.columns)


def test_ring_of_cameras_leaves_an_enclosed_gap() -> None:
    units = make_units([("H", "Ấp Vòng", "hamlet", None, box(X0 - 200, Y0 - 200, X0 + 200, Y0 + 200))])
    # 12 lights on a circle of radius 50 m, radius 20 m each: they overlap into an annulus
    ang = np.radians(np.arange(0, 360, 30))
    models = make_models(
        [
            {"id": f"l{i}", "kind": "lighting", "x": X0 + 50 * np.sin(a), "y": Y0 + 50 * np.cos(a), "radius_m": 20.0}
            for i, a in enumerate(ang)
        ]
    )
    res = compute_coverage(units, models, settings=Settings(min_gap_area_m2=1.0))
    gaps = res.gaps.to_crs(32648)
    assert len(gaps) == 2  # the outer gap and the uncovered middle of the ring
    assert gaps.geometry.contains(Point(X0, Y0)).any()
    assert gaps["area_m2"].sum() == pytest.approx(res.units.loc["H", "uncovered_m2"], rel=1e-6)


def test_min_gap_area_drops_slivers(square_hamlet) -> None:
    # a disc leaving 4 small corners uncovered in H1
    models = make_models([{"id": "big", "kind": "checkpoint", "x": X0 + 50, "y": Y0 + 50, "radius_m": 68.0}])
    all_parts = compute_coverage(square_hamlet, models, settings=Settings(min_gap_area_m2=0.0)).gaps
    filtered = compute_coverage(square_hamlet, models, settings=Settings(min_gap_area_m2=200.0)).gaps
    h1_all = all_parts[all_parts.unit_code == "H1"]
    assert len(h1_all) == 4 and (h1_all.area_m2 < 200).all()
    assert (filtered.unit_code == "H1").sum() == 0 and (filtered.unit_code == "H2").sum() == 1


def test_no_models_means_no_coverage(square_hamlet) -> None:
    models = make_models([])
    res = compute_coverage(square_hamlet, models)
    assert (res.units["covered_m2"] == 0).all()
    assert len(res.gaps) == 2 and len(res.footprints) == 0


def test_dissolve_overlaps_pieces_are_disjoint() -> None:
    rng = np.random.default_rng(3)
    discs = shapely.buffer(shapely.points(rng.uniform(0, 500, 400), rng.uniform(0, 500, 400)), rng.uniform(5, 30, 400))
    pieces, piece_of = dissolve_overlaps(discs, return_index=True)
    assert len(pieces) < len(discs)
    assert shapely.area(pieces).sum() == pytest.approx(shapely.union_all(discs).area, rel=1e-9)
    tree = shapely.STRtree(pieces)
    a, b = tree.query(pieces, predicate="intersects")
    assert (a == b).all()  # no piece touches another
    # each input lies within its piece
    assert shapely.covers(pieces[piece_of], shapely.buffer(discs, -1e-6)).all()


def _overlay_reference(units_m: gpd.GeoDataFrame, fp_m: gpd.GeoDataFrame) -> pd.Series:
    ov = gpd.overlay(
        units_m[["code", "geometry"]].reset_index(drop=True),
        fp_m[["geometry"]].reset_index(drop=True),
        how="intersection",
        keep_geom_type=True,
    )
    return ov.dissolve(by="code").area.reindex(units_m.index).fillna(0.0)


def random_case(seed: int, units: gpd.GeoDataFrame, n: int) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = units.total_bounds
    rows = []
    for i in range(n):
        x, y = rng.uniform(minx - 30, maxx + 30), rng.uniform(miny - 30, maxy + 30)
        r = rng.random()
        if r < 0.6:
            rows.append(
                {
                    "id": f"c{i}",
                    "kind": "camera",
                    "x": x,
                    "y": y,
                    "direction_deg": [rng.uniform(0, 360)],
                    "fov_deg": rng.choice([80.0, 95.0, 110.0, 360.0]),
                    "range_m": rng.uniform(10, 40),
                }
            )
        elif r < 0.9:
            rows.append({"id": f"l{i}", "kind": "lighting", "x": x, "y": y, "radius_m": rng.uniform(15, 30)})
        else:
            rows.append(
                {
                    "id": f"k{i}",
                    "kind": "checkpoint",
                    "x": x,
                    "y": y,
                    "radius_m": rng.uniform(50, 100),
                    "status": rng.choice(["active", "inactive"]),
                }
            )
    return make_models(rows, crs=units.crs)


def test_matches_overlay_pipeline_on_awkward_units() -> None:
    ring = Polygon(
        [(X0, Y0), (X0 + 600, Y0), (X0 + 600, Y0 + 600), (X0, Y0 + 600)],
        [[(X0 + 200, Y0 + 200), (X0 + 400, Y0 + 200), (X0 + 400, Y0 + 400), (X0 + 200, Y0 + 400)]],
    )
    islands = shapely.MultiPolygon([box(X0 + 700, Y0, X0 + 900, Y0 + 200), box(X0 + 700, Y0 + 300, X0 + 900, Y0 + 600)])
    overlapping = box(X0 + 500, Y0 + 500, X0 + 800, Y0 + 800)  # overlaps both others, like real data
    units = make_units(
        [
            ("R", "ring", "hamlet", None, ring),
            ("I", "islands", "hamlet", None, islands),
            ("O", "overlap", "hamlet", None, overlapping),
        ]
    )
    models = random_case(11, units, 600)
    res = compute_coverage(units, models, settings=Settings(min_gap_area_m2=0.0))
    units_m = units.to_crs(res.metric_crs)
    fp = res.footprints.to_crs(res.metric_crs)
    ref = _overlay_reference(units_m, fp)
    np.testing.assert_allclose(res.units["covered_m2"].to_numpy(), ref.to_numpy(), rtol=1e-6)
    for kind in ("camera", "lighting", "checkpoint"):
        ref_k = _overlay_reference(units_m, fp[fp.kind == kind])
        np.testing.assert_allclose(res.units[f"covered_m2_{kind}"].to_numpy(), ref_k.to_numpy(), rtol=1e-6, atol=1e-6)
    gaps = res.gaps.to_crs(res.metric_crs)
    assert gaps.geometry.is_valid.all()
    np.testing.assert_allclose(
        gaps.groupby("unit_code").area_m2.sum().reindex(units.index).to_numpy(),
        res.units["uncovered_m2"].to_numpy(),
        rtol=1e-6,
    )
    assert len(fp) == (models.status == "active").sum()


def test_unit_gaps_handles_multipolygon_remainders() -> None:
    # a crossing piece cuts a unit in two; inside pieces must go to the right part
    unit = np.array([box(0, 0, 300, 100)], dtype=object)
    pieces = np.array([box(140, -10, 160, 110), box(40, 40, 60, 60), box(240, 40, 260, 60)], dtype=object)
    gaps = unit_gaps(unit, pieces)
    g = gaps[0]
    assert g.is_valid and g.geom_type == "MultiPolygon" and len(g.geoms) == 2
    assert g.area == pytest.approx(30_000 - 2000 - 400 - 400)
    assert all(len(p.interiors) == 1 for p in g.geoms)


def test_real_communes_with_overlaps(shared_data) -> None:
    """Mỏ Cày Nam's pre-2025 communes (simplified 2009 map: overlaps and slivers between
    neighbours) against the overlay pipeline.
    """
    raw = gpd.read_file(shared_data / "boundaries" / "mo_cay_nam_communes_pre2025.geojson")
    units = gpd.GeoDataFrame(
        {
            "code": raw["commune_code_gso"],
            "name": raw["commune"],
            "level": "commune",
            "parent_code": raw["district_code_gso"],
            "approximate": False,
        },
        geometry=raw.geometry,
        crs=raw.crs,
    ).set_index("code", drop=False)
    units_m = units.to_crs(32648)
    models = random_case(5, units_m, 3000).to_crs(4326)
    res = compute_coverage(units, models)
    assert res.metric_crs.to_epsg() == 32648
    assert len(res.units) == 16
    ref = _overlay_reference(units_m, res.footprints.to_crs(32648))
    np.testing.assert_allclose(res.units["covered_m2"].to_numpy(), ref.to_numpy(), rtol=1e-6)
    assert res.gaps.geometry.is_valid.all()
    assert (res.units["covered_pct"] < 100).all() and (res.units["covered_pct"] >= 0).all()


def test_unit_of_points_first_unit_on_shared_borders() -> None:
    from geo_antt.coverage import _unit_of_points

    units = np.array(
        [shapely.box(0, 0, 10, 10), shapely.box(10, 0, 20, 10), shapely.box(0, 10, 10, 20), shapely.box(30, 30, 40, 40)]
    )
    xy = [(5, 5), (10, 5), (15, 5), (10, 10), (50, 50), (0, 0), (5, 10), (35, 35), (20, 0), (12, 3)]
    points = shapely.points(np.array(xy, dtype=float))
    pi, ui = _unit_of_points(points, units)
    # the reference: each point queried against a tree of the units, the hit first in the
    # units' order kept (the tree's own order of hits would depend on which units it holds)
    mi, uj = shapely.STRtree(units).query(points, predicate="intersects")
    by = np.lexsort((uj, mi))
    mi, uj = mi[by], uj[by]
    first = np.unique(mi, return_index=True)[1]
    assert pi.tolist() == mi[first].tolist() and ui.tolist() == uj[first].tolist()
    assert 4 not in pi.tolist()  # outside every unit
    assert dict(zip(pi.tolist(), ui.tolist()))[0] == 0 and dict(zip(pi.tolist(), ui.tolist()))[7] == 3
    # by hand: (10, 5) on the border of units 0 and 1 goes to 0, (10, 10) at the corner of 0, 1
    # and 2 to 0, (5, 10) between 0 and 2 to 0, (20, 0) on the edge of 1 alone to 1
    got = dict(zip(pi.tolist(), ui.tolist()))
    assert got[1] == 0 and got[3] == 0 and got[6] == 0 and got[8] == 1


def test_unit_piece_pairs_match_the_plain_predicates() -> None:
    """The pairing's fast path (a polygon piece far from every border is decided by one vertex)
    gives the pairs and the ``contains_properly`` of testing every pair in full: pieces on,
    across, along and near borders (a diagonal one among them), in a unit's hole, a multipolygon
    piece across two units, overlapping units.
    """
    from geo_antt.coverage import _unit_piece_pairs

    units = np.array(
        [
            box(0, 0, 100, 100).difference(box(40, 40, 60, 60)),  # with a hole
            Polygon([(100, 0), (200, 0), (100, 100)]),  # a diagonal border
            shapely.MultiPolygon([box(100, 100, 150, 150), box(160, 100, 200, 150)]),
            box(50, 50, 150, 150),  # overlaps the others
        ]
    )
    rng = np.random.default_rng(7)
    x, y = rng.uniform(-10, 210, 3000), rng.uniform(-10, 160, 3000)
    w, h = rng.uniform(0.5, 12, 3000), rng.uniform(0.5, 12, 3000)
    turned = shapely.affinity.rotate(box(150, 20, 158, 26), 37.0)
    pieces = np.concatenate(
        [
            shapely.box(x, y, x + w, y + h),
            [
                box(90, 10, 100, 20),  # along a border, inside
                box(100, 10, 110, 20),  # along the same border, on the other side
                box(45, 45, 55, 55),  # in the hole
                box(40, 40, 60, 60),  # the hole exactly
                Polygon([(150, 50), (160, 40), (170, 50)]),  # a vertex on the diagonal
                box(150, 49.999999, 151, 50.5),  # across the diagonal by a hair
                turned,
                shapely.MultiPolygon([box(10, 10, 20, 20), box(120, 10, 125, 15)]),
                box(150, 110, 160, 120),  # between the two parts of a unit, touching both
            ],
        ]
    )
    got = _unit_piece_pairs(units, pieces)
    ui, pi = np.meshgrid(np.arange(len(units)), np.arange(len(pieces)), indexing="ij")
    ui, pi = ui.ravel(), pi.ravel()
    hit = shapely.intersects(units[ui], pieces[pi])
    inside = shapely.contains_properly(units[ui], pieces[pi])
    want = sorted(zip(ui[hit].tolist(), pi[hit].tolist(), inside[hit].tolist()))
    assert sorted(zip(got.unit.tolist(), got.piece.tolist(), got.inside.tolist())) == want
    assert 0 < inside.sum() < hit.sum()  # both kinds of pairs are there
