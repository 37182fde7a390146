"""Tests of geo_antt.units: hamlets from points (Voronoi clipped to communes), the unit tree."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo_antt import io, units
from geo_antt._errors import ValidationError
from geo_antt.io.hamlets import read_hamlets


@pytest.fixture(scope="module")
def communes(shared_data: Path) -> gpd.GeoDataFrame:
    return io.read_units(shared_data / "boundaries" / "thanh_phu_communes_2025.geojson")


def _points_in(poly: shapely.Geometry, n: int, *, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = poly.bounds
    out: list[shapely.Point] = []
    while len(out) < n:
        xy = rng.uniform((minx, miny), (maxx, maxy), size=(4 * n, 2))
        pts = shapely.points(xy)
        out.extend(pts[shapely.contains(poly, pts)][: n - len(out)])
    return np.array(out, dtype=object)


def _hamlet_points(communes: gpd.GeoDataFrame, per_commune: dict[str, int], *, with_parent: bool) -> gpd.GeoDataFrame:
    rows = []
    for k, (code, n) in enumerate(per_commune.items()):
        for j, p in enumerate(_points_in(communes.geometry.loc[code], n, seed=k)):
            rows.append(
                {
                    "code": f"{code}-{j + 1:02d}",
                    "name": f"Ấp {j + 1}",
                    "parent_code": code if with_parent else None,
                    "geometry": p,
                }
            )
    return gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")


def test_hamlets_tile_their_commune(communes: gpd.GeoDataFrame) -> None:
    many, one = communes.index[0], communes.index[1]
    pts = _hamlet_points(communes, {many: 12, one: 1}, with_parent=True)
    h = units.hamlets_from_points(pts, communes)
    assert list(h.index) == list(pts["code"])
    assert (h["level"] == "hamlet").all() and h["approximate"].all()
    assert h.crs.to_epsg() == 4326 and h.geom_type.isin(["Polygon", "MultiPolygon"]).all()
    crs_m = "EPSG:32648"
    hm = h.to_crs(crs_m)
    cm = communes.to_crs(crs_m)
    for code in (many, one):
        mine = hm[hm["parent_code"] == code]
        commune = cm.geometry.loc[code]
        # areas sum to the commune's, no overlaps, all inside
        assert mine.area.sum() == pytest.approx(commune.area, rel=1e-6)
        assert shapely.union_all(mine.geometry.to_numpy()).area == pytest.approx(commune.area, rel=1e-6)
        assert all(commune.buffer(0.01).contains(g) for g in mine.geometry)
    # each hamlet's cell holds its own point
    pm = pts.to_crs(crs_m).set_index("code")
    for code, g in hm.geometry.items():
        assert g.buffer(0.01).contains(pm.geometry.loc[code])
    # the single-point commune gets the whole commune
    assert hm.geometry.loc[f"{one}-01"].symmetric_difference(cm.geometry.loc[one]).area < 1.0


def test_parent_found_by_location(communes: gpd.GeoDataFrame) -> None:
    codes = list(communes.index[:3])
    pts = _hamlet_points(communes, {c: 3 for c in codes}, with_parent=False)
    h = units.hamlets_from_points(pts, communes)
    assert list(h["parent_code"]) == [c for c in codes for _ in range(3)]


def test_bad_points_all_reported(communes: gpd.GeoDataFrame) -> None:
    code = communes.index[0]
    pts = _hamlet_points(communes, {code: 2}, with_parent=True)
    far = gpd.GeoDataFrame(
        {"code": ["far"], "name": ["x"], "parent_code": [None]}, geometry=[shapely.Point(105.0, 21.0)], crs=4326
    )
    ghost = gpd.GeoDataFrame(
        {"code": ["ghost"], "name": ["y"], "parent_code": ["99999"]}, geometry=[pts.geometry.iloc[0]], crs=4326
    )
    bad = gpd.GeoDataFrame(pd.concat([pts, far, ghost], ignore_index=True), crs=4326)
    with pytest.raises(ValidationError) as ei:
        units.hamlets_from_points(bad, communes)
    reasons = {p.row: p.reason for p in ei.value.problems}
    assert set(reasons) == {3, 4}
    assert "no commune" in reasons[3] and "99999" in reasons[4]
    same = gpd.GeoDataFrame(
        {"code": ["a", "b"], "name": ["a", "b"], "parent_code": [code, code]},
        geometry=[pts.geometry.iloc[0]] * 2,
        crs=4326,
    )
    with pytest.raises(ValidationError, match="same place"):
        units.hamlets_from_points(same, communes)


def test_points_outside_their_given_commune_are_named(communes: gpd.GeoDataFrame) -> None:
    """A point given a parent commune it lies outside of is warned about, with the commune it
    lies in; one so far away that its cell misses the commune is named and gets no area.
    """
    a, b = communes.index[0], communes.index[1]
    pts = _hamlet_points(communes, {a: 3}, with_parent=True)
    in_b = _points_in(communes.geometry.loc[b], 1, seed=9)[0]
    east = shapely.Point(communes.total_bounds[2] + 0.5, communes.geometry.loc[a].centroid.y)  # 50 km off
    odd = gpd.GeoDataFrame(
        {"code": ["moved", "lost"], "name": ["m", "l"], "parent_code": [a, a]}, geometry=[in_b, east], crs=4326
    )
    with pytest.warns(UserWarning) as rec:
        h = units.hamlets_from_points(gpd.GeoDataFrame(pd.concat([pts, odd], ignore_index=True), crs=4326), communes)
    msg = " ".join(str(w.message) for w in rec)
    assert "outside their parent commune" in msg and "lost" in msg and f"moved (in {b}, parent {a})" in msg
    assert h.geometry.loc["lost"] is None and h.geometry.loc["moved"] is not None
    assert h.drop(index="lost").geom_type.isin(["Polygon", "MultiPolygon"]).all()


def test_a_point_in_the_overlap_of_its_commune_and_a_neighbour_is_not_moved(shared_data: Path) -> None:
    """Real neighbours overlap (Mỏ Cày Nam: 28939 and 28945 share a sliver): a hamlet point inside
    its own commune stays there and is not warned about, whichever commune comes first.
    """
    import warnings

    cm = io.read_units(shared_data / "boundaries" / "mo_cay_nam_communes_pre2025.geojson")
    a, b = cm.geometry.loc["28945"], cm.geometry.loc["28939"]
    overlap = shapely.intersection(a, b)
    assert overlap.area > 0, "the real boundaries overlap here"
    p = overlap.representative_point()
    rows = [{"code": "h-overlap", "parent_code": "28945", "geometry": p}]
    rows += [{"code": f"h{i}", "parent_code": "28945", "geometry": q} for i, q in enumerate(_points_in(a, 3, seed=1))]
    pts = gpd.GeoDataFrame(rows, geometry="geometry", crs=4326)
    for order in (cm, cm.iloc[::-1]):  # the overlap's other commune first, then last
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            h = units.hamlets_from_points(pts, order)
        assert h.loc["h-overlap", "parent_code"] == "28945" and h.geometry.loc["h-overlap"].intersects(p)


def test_read_hamlets_points_and_polygons(tmp_path: Path, communes: gpd.GeoDataFrame) -> None:
    code = communes.index[2]
    pts = _hamlet_points(communes, {code: 4}, with_parent=False).rename(columns={"code": "ma_ap", "name": "ten_ap"})
    pts = pts.drop(columns="parent_code")
    p = tmp_path / "ap.geojson"
    pts.to_file(p, engine="pyogrio")
    h = read_hamlets(p, communes)
    assert len(h) == 4 and h["approximate"].all() and set(h["parent_code"]) == {code}
    assert list(h["name"]) == ["Ấp 1", "Ấp 2", "Ấp 3", "Ấp 4"]
    # polygons read back as they are, parents from location
    poly = tmp_path / "ap_poly.geojson"
    io.write_layer(h.drop(columns=["parent_code", "approximate"]), poly)
    h2 = read_hamlets(poly, communes)
    assert set(h2["parent_code"]) == {code} and not h2["approximate"].any()
    assert (h2.geom_type != "Point").all()


def test_unit_tree() -> None:
    u = gpd.GeoDataFrame(
        {
            "parent_code": [None, "P", "P", "D1", "D1", "C1"],
            "level": ["province", "district", "district", "commune", "commune", "hamlet"],
        },
        index=["P", "D1", "D2", "C1", "C2", "H1"],
        geometry=[None] * 6,
    )
    assert units.children(u, "P") == ["D1", "D2"]
    assert units.descendants(u, "P") == ["D1", "D2", "C1", "C2", "H1"]
    assert units.ancestors(u, "H1") == ["C1", "D1", "P"]
    assert units.check_parents(u) == []
    assert units.check_parents(u.drop(index="D1")) == ["C1", "C2"]


def test_read_hamlets_from_a_table(tmp_path: Path, communes: gpd.GeoDataFrame) -> None:
    code = communes.index[1]
    pts = _points_in(communes.geometry.loc[code], 3, seed=7)
    lines = ["Mã thôn;Tên thôn;Mã xã;Vĩ độ;Kinh độ"]
    lines += [f"T{i};Ấp {i};{code};{p.y:.6f};{p.x:.6f}".replace(".", ",") for i, p in enumerate(pts, start=1)]
    (tmp_path / "thon.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    h = read_hamlets(tmp_path / "thon.csv", communes)
    assert list(h.index) == ["T1", "T2", "T3"] and list(h["name"]) == ["Ấp 1", "Ấp 2", "Ấp 3"]
    assert set(h["parent_code"]) == {code} and h["approximate"].all()
    bad = lines[:2] + ["T9;Ấp 9;;106,5;10,2"]
    (tmp_path / "bad.csv").write_text("\n".join(bad) + "\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="row 3, field 'Vĩ độ': latitude and longitude are swapped"):
        read_hamlets(tmp_path / "bad.csv", communes)
