"""Roads and buildings in the store (``context_features``): loaded per unit (roads clipped to it,
buildings by the unit holding them), replaced whole, audited, scoped, kept by backups, seeded
from a dataset and loaded by ``geo-antt db load-roads|load-buildings``; on SQLite and PostGIS.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pytest
import shapely

from geo_antt import GeoAnttError, NotFoundError, PermissionDeniedError
from geo_antt.store import Store
from tests.storehelp import CHEAP_HASHER, seed

# communes A = box(106.0, 10.0, 106.2, 10.2) and B = box(106.2, 10.0, 106.4, 10.2) (storehelp)


@pytest.fixture()
def store(store_url: str):
    s = Store.open(store_url, password_hasher=CHEAP_HASHER)
    yield s
    s.close()


@pytest.fixture()
def users(store):
    return seed(store)


def _roads() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "osm_id": ["w1", "w2", "w3"],
            "highway": ["primary", "residential", "service"],
            "name": ["Quốc lộ 57", "Hẻm 3", None],
        },
        geometry=[
            shapely.LineString([(106.1, 10.1), (106.3, 10.1)]),  # crosses A | B at 106.2
            shapely.LineString([(106.05, 10.05), (106.05, 10.15)]),  # inside A
            shapely.LineString([(107.0, 11.0), (107.1, 11.0)]),  # in no unit
        ],
        crs="EPSG:4326",
    )


def _buildings() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"osm_id": ["w10", "w11"], "building": ["house", "school"], "levels": [2.0, 9999.0], "height_m": [7.5, None]},
        geometry=[shapely.box(106.05, 10.05, 106.0502, 10.0502), shapely.box(106.1999, 10.05, 106.2003, 10.0502)],
        crs="EPSG:4326",
    )


def _metres(frame: gpd.GeoDataFrame) -> float:
    return float(frame.to_crs("EPSG:32648").length.sum())


def test_roads_are_clipped_to_each_unit_and_replaced_whole(store, users):
    done = store.load_context("roads", _roads(), user=users["admin"])
    assert sorted(done) == ["A", "B"]  # the communes the roads meet (w3 meets none)
    assert done["A"] == {"removed": 0, "inserted": 2} and done["B"] == {"removed": 0, "inserted": 1}
    a = store.context_frame("roads", unit_codes=["A"])
    b = store.context_frame("roads", unit_codes=["B"])
    assert list(a["osm_id"]) == ["w1", "w2"] and list(a["name"]) == ["Quốc lộ 57", "Hẻm 3"]
    # w1 is cut at the border: its two pieces add up to the whole road, each in its own unit
    w1 = _roads().iloc[[0]]
    assert _metres(a.iloc[[0]]) + _metres(b) == pytest.approx(_metres(w1), rel=1e-6)
    assert _metres(a.iloc[[0]]) == pytest.approx(_metres(w1) / 2, rel=1e-3)
    assert a.geometry.iloc[0].bounds[2] == pytest.approx(106.2)
    # a second load of A replaces A's roads only
    again = store.put_context_layer("roads", _roads().iloc[[1]], unit_code="A", user=users["admin"])
    assert again == {"removed": 2, "inserted": 1}
    assert list(store.context_frame("roads")["osm_id"]) == ["w2", "w1"]  # A's w2, then B's w1
    assert store.context_counts() == {"roads": 2, "buildings": 0}
    audit = store.audit_frame(user=users["admin"])
    entries = audit.loc[audit["action"] == "context"]
    assert len(entries) == 3 and set(entries["unit_code"]) == {"A", "B"}


def test_buildings_go_to_the_unit_that_holds_them_with_bounded_attributes(store, users):
    done = store.load_context("buildings", _buildings(), user=users["admin"])
    assert done == {"A": {"removed": 0, "inserted": 1}, "B": {"removed": 0, "inserted": 1}}
    a = store.context_frame("buildings", unit_codes=["A"])
    b = store.context_frame("buildings", unit_codes=["B"])
    assert list(a["osm_id"]) == ["w10"] and a["levels"].iloc[0] == 2.0 and a["height_m"].iloc[0] == 7.5
    # the school straddles the border; most of it lies in B, and so does its representative point
    assert list(b["osm_id"]) == ["w11"] and b["building"].iloc[0] == "school"
    assert b["levels"].isna().all()  # 9999 levels is no plausible value: left empty
    assert b.geometry.iloc[0].equals_exact(_buildings().geometry.iloc[1], 1e-9)  # kept whole, not clipped
    hit = store.context_frame("buildings", bbox=(106.19, 10.0, 106.21, 10.1))
    assert list(hit["osm_id"]) == ["w11"]


def test_loading_follows_roles_and_scope(store, users):
    with pytest.raises(PermissionDeniedError):
        store.put_context_layer("roads", _roads(), unit_code="A", user=users["viewer"])
    with pytest.raises(NotFoundError, match="no unit 'B'"):  # outside the officer's area: as if unknown
        store.put_context_layer("roads", _roads(), unit_code="B", user=users["officer"])
    with pytest.raises(NotFoundError, match="no unit 'ZZ'"):
        store.put_context_layer("roads", _roads(), unit_code="ZZ", user=users["admin"])
    assert store.put_context_layer("roads", _roads(), unit_code="A", user=users["officer"])["inserted"] == 2
    # an officer loading without --unit gets the units of its own area only
    assert sorted(store.load_context("roads", _roads(), user=users["officer"])) == ["A"]
    with pytest.raises(GeoAnttError, match="unknown context layer"):
        store.put_context_layer("rivers", _roads(), unit_code="A", user=users["admin"])
    points = gpd.GeoDataFrame({"osm_id": ["n1"]}, geometry=[shapely.Point(106.1, 10.1)], crs="EPSG:4326")
    with pytest.raises(GeoAnttError, match="LineString"):
        store.put_context_layer("roads", points, unit_code="A", user=users["admin"])
    assert store.context_counts()["roads"] == 2  # the refused loads changed nothing


def test_a_load_moves_the_generation_and_a_backup_keeps_the_layers(store, users, tmp_path):
    gen = store.generation()
    store.load_context("roads", _roads(), user=users["admin"])
    store.load_context("buildings", _buildings(), user=users["admin"])
    assert store.generation() > gen  # readers (the web catalog) reload
    before = {layer: store.context_frame(layer) for layer in ("roads", "buildings")}
    path = store.export_backup(tmp_path / "b.gpkg", user=users["admin"])
    store.put_context_layer("roads", _roads().iloc[[1]], unit_code="A", user=users["admin"])
    store.restore_backup(path, user=users["admin"])
    for layer, frame in before.items():
        after = store.context_frame(layer)
        assert list(after["osm_id"]) == list(frame["osm_id"])
        assert all(g1.equals_exact(g2, 1e-9) for g1, g2 in zip(after.geometry, frame.geometry, strict=True))


def test_seed_and_the_db_commands_load_roads_and_buildings(tmp_path: Path, capsys):
    from geo_antt.cli import main
    from geo_antt.io import write_layer
    from tests.storehelp import units_frame

    data = tmp_path / "ds"
    (data / "boundaries").mkdir(parents=True)
    write_layer(units_frame(), data / "boundaries" / "units.geojson")
    write_layer(_roads(), data / "roads.geojson")
    write_layer(_buildings(), data / "buildings.geojson")
    (data / "dataset.toml").write_text(
        'title = { vi = "Thử", en = "Test" }\nunits = ["boundaries/units.geojson"]\nmodels = []\n'
        'roads = ["roads.geojson"]\nbuildings = ["buildings.geojson"]\n',
        encoding="utf-8",
    )
    db = f"sqlite:///{tmp_path / 's.sqlite'}"
    assert main(["db", "seed", "--db", db, "--data", str(data)]) == 0
    with Store.open(db) as s:
        assert s.context_counts() == {"roads": 3, "buildings": 2}
    capsys.readouterr()
    one = tmp_path / "one.geojson"
    one.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"osm_id": "w9", "highway": "tertiary", "name": "Đường Đồng Khởi"},
                        "geometry": {"type": "LineString", "coordinates": [[106.25, 10.05], [106.35, 10.05]]},
                    }
                ],
            }
        ),
        encoding="utf-8",
    )
    assert main(["db", "load-roads", str(one), "--db", db, "--unit", "B"]) == 0
    out = capsys.readouterr().out
    assert "roads of unit B: 1 loaded, 1 replaced" in out
    with Store.open(db) as s:
        b = s.context_frame("roads", unit_codes=["B"])
        assert list(b["name"]) == ["Đường Đồng Khởi"] and s.context_counts()["roads"] == 3
    assert main(["db", "load-buildings", str(one), "--db", db]) == 1  # lines are no buildings
    assert "Polygon" in capsys.readouterr().err


def test_coverage_of_a_store_measures_its_roads_once_per_unit(tmp_path: Path, capsys):
    """``geo-antt coverage --db`` uses the store's roads: a road's pieces of two overlapping
    communes are merged again, so each commune counts the road inside it once.
    """
    from geo_antt.cli import main
    from tests.storehelp import units_frame

    db = f"sqlite:///{tmp_path / 's.sqlite'}"
    with Store.open(db, password_hasher=CHEAP_HASHER) as s:
        units = units_frame()
        units = units.loc[units["level"] != "hamlet"]
        # B overlaps A by 0.02 degree: the stretch 106.18-106.2 lies in both
        units.loc[units["code"] == "B", "geometry"] = shapely.box(106.18, 10.0, 106.4, 10.2)
        s.put_units(units, user=None)
        done = s.load_context("roads", _roads(), user=None)
        assert sorted(done) == ["A", "B"]
    out = tmp_path / "cov.geojson"
    assert main(["coverage", "--db", db, "--level", "commune", "--out", str(out)]) == 0
    assert ", 2 roads)" in capsys.readouterr().err  # w1 and w2 stored as 3 pieces, merged again to 2 roads
    got = {f["properties"]["code"]: f["properties"] for f in json.loads(out.read_text(encoding="utf-8"))["features"]}
    w1, w2 = _roads().iloc[[0]], _roads().iloc[[1]]
    a_expected = _metres(gpd.clip(w1, shapely.box(106.0, 10.0, 106.2, 10.2))) + _metres(w2)
    b_expected = _metres(gpd.clip(w1, shapely.box(106.18, 10.0, 106.4, 10.2)))
    assert got["A"]["road_m"] == pytest.approx(a_expected, rel=1e-4)
    assert got["B"]["road_m"] == pytest.approx(b_expected, rel=1e-4)
