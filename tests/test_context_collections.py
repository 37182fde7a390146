"""Roads and buildings of a dataset (``roads``/``buildings`` in dataset.toml) as the context
collections of the catalog: read, served by bounding box to every logged-in reader whatever
its unit scope, and put on the map page from street zoom.
"""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

import geopandas as gpd
import pytest
from shapely.geometry import LineString

from geo_antt._errors import GeoAnttError
from geo_antt.catalog import context_layers
from tests.basemap_fixtures import STREETS, make_mbtiles, write_context_dataset
from tests.web_fixtures import login


@pytest.fixture()
def context_dir(tmp_path, synthetic_dir):
    return write_context_dataset(synthetic_dir, tmp_path / "ds")


@pytest.fixture()
def context_app(web_store, context_dir, synthetic_cov):
    from geo_antt.app import create_app

    return create_app(
        {
            "TESTING": True,
            "DATA_DIR": str(context_dir),
            "STORE": web_store,
            "COVERAGE": synthetic_cov,
            "SECRET_KEY": "web-test",
        }
    )


def _config(client) -> dict:
    html = client.get("/map").get_data(as_text=True)
    return json.loads(
        re.search(r'<script id="geo-antt-config" type="application/json">(.*?)</script>', html, re.DOTALL).group(1)
    )


def test_context_layers_read_from_dataset_toml(context_dir):
    layers = context_layers(context_dir)
    roads, buildings = layers["roads"], layers["buildings"]
    assert list(roads.index) == ["r1", "r2", "r3", "r4"] and roads.index.name == "id"
    assert list(roads.columns) == ["osm_id", "highway", "name", "geometry"]
    assert roads.crs.to_epsg() == 4326 and set(roads.geom_type) == {"LineString"}
    assert list(roads["name"][:3]) == [n for n, _ in STREETS]
    assert list(buildings.index[:2]) == ["b1", "b2"] and len(buildings) == 8
    assert {"osm_id", "building", "levels", "height_m"} <= set(buildings.columns)
    # no list in dataset.toml, or no dataset.toml at all: no context layers
    assert context_layers(context_dir.parent / "nowhere") == {}


def test_context_layers_of_a_dataset_object_come_first(context_dir):
    lines = gpd.GeoDataFrame(
        {"name": ["Đường 30/4"], "highway": ["primary"], "other": [1]},
        geometry=[LineString([(106.3, 10.1), (106.31, 10.1)])],
        crs=4326,
    )
    layers = context_layers(context_dir, dataset=SimpleNamespace(roads=lines))
    assert list(layers["roads"]["name"]) == ["Đường 30/4"] and "other" not in layers["roads"].columns
    assert len(layers["buildings"]) == 8  # the dataset object has none: from the files
    # only dataset frames, no folder
    assert set(context_layers(None, dataset=SimpleNamespace(roads=lines, buildings=None))) == {"roads"}


def test_bad_context_entries(context_dir):
    toml = context_dir / "dataset.toml"
    text = toml.read_text(encoding="utf-8")
    toml.write_text(text.replace('roads = ["osm/roads.geojson"]', 'roads = ["osm/missing.geojson"]'), encoding="utf-8")
    with pytest.raises(GeoAnttError, match="missing.geojson"):
        context_layers(context_dir)
    toml.write_text(text.replace('roads = ["osm/roads.geojson"]', 'roads = "osm/roads.geojson"'), encoding="utf-8")
    with pytest.raises(GeoAnttError, match="must be a list"):
        context_layers(context_dir)


def test_context_collections_served_by_bbox_to_every_reader(context_app):
    admin = login(context_app, "admin")
    ids = [c["id"] for c in admin.get("/collections").get_json()["collections"]]
    assert "roads" in ids and "buildings" in ids
    doc = admin.get("/collections/roads").get_json()
    assert doc["title"] == "Đường phố"
    fc = admin.get("/collections/roads/items?bbox=106.299,10.099,106.309,10.105").get_json()
    assert sorted(f["id"] for f in fc["features"]) == ["r1", "r2", "r3"]  # r4 lies further out
    assert {f["properties"]["name"] for f in fc["features"]} == {n for n, _ in STREETS}
    assert (
        admin.get("/collections/roads/items?bbox=106.299,10.099,106.309,10.105&limit=1").get_json()["numberMatched"]
        == 3
    )
    # the viewer of Xã Hương Mỹ (28903) sees the streets of its neighbour too: public context
    viewer = login(context_app, "viewer")
    fc = viewer.get("/collections/roads/items?bbox=106.299,10.099,106.311,10.105").get_json()
    assert sorted(f["id"] for f in fc["features"]) == ["r1", "r2", "r3"]
    assert viewer.get("/collections/buildings/items/b8").status_code == 200
    assert viewer.get("/collections/roads").get_json().get("extent")
    # unit=: the features within the unit's box; a unit outside the viewer's scope is refused
    fc = viewer.get("/collections/buildings/items?unit=28903").get_json()
    assert fc["numberMatched"] == 5  # 106.3005 .. 106.3061 west edges; Hương Mỹ ends at 106.304
    assert viewer.get("/collections/buildings/items?unit=28891").status_code == 403
    body = viewer.get("/export/roads.geojson?unit=28903").get_data(as_text=True)
    assert {f["id"] for f in json.loads(body)["features"]} == {"r1", "r2", "r3"}
    # never for anonymous readers
    assert (
        login(context_app, None).get("/collections/roads/items", headers={"Accept": "application/json"}).status_code
        == 401
    )


def test_map_page_draws_context_layers_from_street_zoom(context_app, web_store, context_dir, synthetic_cov, tmp_path):
    client = login(context_app, "admin")
    layers = {d["id"]: d for d in _config(client)["layers"]}
    assert layers["roads"]["group"] == "context" and layers["roads"]["minZoom"] == 15
    assert layers["roads"]["show"] and layers["buildings"]["show"] and layers["roads"]["limit"] == 3000
    html = client.get("/map").get_data(as_text=True)
    assert '<script src="/static/vendor/leaflet-textpath/leaflet.textpath.js"></script>' in html
    # with a base-map file the streets are on it: the context layers start unticked
    from geo_antt.app import create_app

    mb = make_mbtiles(tmp_path / "b.mbtiles", bbox=(106.29, 10.09, 106.32, 10.11), zooms=range(12, 13))
    app2 = create_app(
        {
            "TESTING": True,
            "DATA_DIR": str(context_dir),
            "STORE": web_store,
            "COVERAGE": synthetic_cov,
            "SECRET_KEY": "web-test",
            "BASEMAP": str(mb),
        }
    )
    layers = {d["id"]: d for d in _config(login(app2, "admin"))["layers"]}
    assert not layers["roads"]["show"] and not layers["buildings"]["show"]


def test_no_context_layers_without_lists(client):
    ids = [c["id"] for c in client.get("/collections").get_json()["collections"]]
    assert "roads" not in ids and "buildings" not in ids
    assert "leaflet.textpath.js" not in client.get("/map").get_data(as_text=True)


def test_context_layers_survive_a_store_edit(context_app):
    from geo_antt.app import get_catalog

    live = context_app.extensions["geo_antt"].live
    store = context_app.extensions["geo_antt"].store
    before = live.catalog
    store.update_model(
        "CAM002", {"name": "Camera đổi tên"}, expected_version=store.get_model("CAM002")["version"], user=None
    )
    with context_app.test_request_context():
        cat = get_catalog()
    assert cat is not before and "roads" in cat.collections and len(cat.collections["buildings"]) == 8
    live.catalog = live._full()
    assert len(live.catalog.collections["roads"]) == 4


def test_with_buildings_the_web_coverage_is_the_visible_one_and_the_legend_says_so(context_app, client):
    # the app started from a given coverage (no buildings); its next full build uses the
    # dataset's buildings: visible footprints, building_m2 / open_m2, and the legend's note
    live = context_app.extensions["geo_antt"].live
    assert not _config(login(context_app, "admin"))["occluded"]
    live.catalog = live._full()
    cov = live.catalog.collections["coverage"].frame
    assert {"building_m2", "open_m2", "covered_open_pct"} <= set(cov.columns)
    assert (cov["covered_m2"] <= cov["open_m2"] + 1e-6).all()
    assert _config(login(context_app, "admin"))["occluded"]
    assert not _config(client)["occluded"]  # the synthetic app (no buildings): plain coverage
