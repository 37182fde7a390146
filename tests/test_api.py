"""OGC API - Features endpoints, exports, side-panel JSON and errors (Flask test client)."""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

import geopandas as gpd
import pyogrio
import pytest
from shapely.geometry import box, shape

from tests.web_fixtures import synthetic_models, synthetic_units

MODELS = synthetic_models()
UNITS = synthetic_units()


def _json(resp):
    assert resp.is_json or resp.mimetype == "application/geo+json", resp.mimetype
    return json.loads(resp.get_data(as_text=True))


def _error(resp, status):
    assert resp.status_code == status, resp.get_data(as_text=True)
    body = resp.get_json()
    assert set(body) >= {"error", "message"} and body["message"]
    return body


# -- landing, conformance, collections ----------------------------------------------------------


def test_landing_json_has_ogc_links(client):
    for resp in (client.get("/?f=json"), client.get("/", headers={"Accept": "application/json"})):
        assert resp.status_code == 200
        body = resp.get_json()
        rels = {link["rel"]: link["href"] for link in body["links"]}
        assert rels["data"].endswith("/collections")
        assert rels["conformance"].endswith("/conformance")
        assert rels["service-desc"].endswith("/openapi")
        assert body["title"] == "Dữ liệu thử Mỏ Cày Nam"


def test_landing_html_for_browsers(client):
    resp = client.get("/", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert resp.status_code == 200 and resp.mimetype == "text/html"
    assert "leaflet" in resp.get_data(as_text=True)
    assert client.get("/?f=html", headers={"Accept": "application/json"}).mimetype == "text/html"


@pytest.mark.parametrize("accept", ["*/*", None, "application/json;q=0.9,text/html;q=0.5", "application/geo+json, */*"])
def test_landing_json_for_api_clients_that_do_not_ask_for_html(client, accept):
    """curl, httpx, GDAL and most scripts send ``Accept: */*`` (or nothing): they get the JSON
    landing page, whose links the OGC conformance suite follows; HTML only when asked for.
    """
    resp = client.get("/", headers={"Accept": accept} if accept else {})
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    assert any(link["rel"] == "data" for link in resp.get_json()["links"])


def test_conformance(client):
    body = client.get("/conformance").get_json()
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in body["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson" in body["conformsTo"]


def test_collections_list(client):
    body = client.get("/collections").get_json()
    ids = [c["id"] for c in body["collections"]]
    for cid in (
        "provinces",
        "districts",
        "communes",
        "hamlets",
        "camera",
        "lighting",
        "checkpoint",
        "gate",
        "footprints",
        "coverage",
        "gaps",
    ):
        assert cid in ids
    assert "self_management" not in ids and "other" not in ids  # non-spatial: see the next test
    cam = next(c for c in body["collections"] if c["id"] == "camera")
    assert cam["title"] == "Camera an ninh"
    minx, miny, maxx, maxy = cam["extent"]["spatial"]["bbox"][0]
    pts = MODELS[MODELS["kind"] == "camera"].geometry
    assert minx == pytest.approx(pts.x.min(), abs=1e-7) and maxy == pytest.approx(pts.y.max(), abs=1e-7)
    assert any(link["rel"] == "items" for link in cam["links"])
    en = client.get("/collections?lang=en").get_json()
    assert next(c for c in en["collections"] if c["id"] == "camera")["title"] == "Security camera"


def test_models_without_a_location_stay_out_of_the_features_api(client):
    """OGC 17-069r4's ``featureGeoJSON.yaml`` (1.0.1) allows no ``"geometry": null`` (its
    geometry is ``$ref: geometryGeoJSON.yaml``, one of the seven geometry objects; null came
    only with the 2023 draft), so non-spatial models are served by the registry API and the
    exports (RFC 7946 allows null there), never by ``/collections``.
    """
    for path in (
        "/collections/self_management",
        "/collections/self_management/items",
        f"/collections/self_management/items/{MODELS.index[MODELS['kind'] == 'self_management'][0]}",
    ):
        assert "/api/registry/models" in _error(client.get(path), 404)["message"], path
    doc = client.get("/openapi").get_json()
    cid = doc["paths"]["/collections/{collectionId}/items"]["get"]["parameters"][0]["schema"]["enum"]
    assert "self_management" not in cid and "camera" in cid
    exported = _json(client.get("/export/self_management.geojson"))["features"]
    assert exported and all(f["geometry"] is None for f in exported)
    registry = _json(client.get("/api/registry/models"))["features"]
    assert any(f["properties"]["kind"] == "self_management" for f in registry)


def test_collection_and_unknown_collection(client):
    assert client.get("/collections/gaps").get_json()["id"] == "gaps"
    body = _error(client.get("/collections/nope"), 404)
    assert body["error"] == "NotFoundError" and "nope" in body["message"]
    _error(client.get("/collections/nope/items"), 404)


# -- items ------------------------------------------------------------------------------------


def test_items_default_page(client):
    resp = client.get("/collections/camera/items")
    assert resp.status_code == 200 and resp.mimetype == "application/geo+json"
    fc = _json(resp)
    n = int((MODELS["kind"] == "camera").sum())
    assert fc["type"] == "FeatureCollection"
    assert fc["numberMatched"] == n == fc["numberReturned"] == len(fc["features"])
    assert not any(link["rel"] == "next" for link in fc["links"])
    f = next(f for f in fc["features"] if f["id"] == "CAM002")
    assert f["geometry"]["type"] == "Point"
    assert f["properties"]["kind"] == "camera"
    assert isinstance(f["properties"]["direction_deg"], list) and len(f["properties"]["direction_deg"]) == 1


@pytest.mark.parametrize("cid", ["camera", "coverage", "gaps", "footprints", "hamlets"])
def test_items_bbox_filter_is_exact(client, cid):
    bbox = (106.3005, 10.1005, 106.3035, 10.1025)
    fc = _json(client.get(f"/collections/{cid}/items", query_string={"bbox": ",".join(map(str, bbox))}))
    everything = _json(client.get(f"/collections/{cid}/items"))
    expected = {
        f["id"]
        for f in everything["features"]
        if f["geometry"] is not None and shape(f["geometry"]).intersects(box(*bbox))
    }
    got = {f["id"] for f in fc["features"]}
    assert got == expected
    assert 0 < len(got) < len(everything["features"])
    assert fc["numberMatched"] == len(expected)


def test_items_paging_links(client):
    n = int((MODELS["kind"] == "camera").sum())
    seen: list[str] = []
    url = "/collections/camera/items?limit=5"
    pages = 0
    while url:
        fc = _json(client.get(url))
        pages += 1
        assert fc["numberMatched"] == n
        assert fc["numberReturned"] == len(fc["features"]) <= 5
        seen += [f["id"] for f in fc["features"]]
        links = {link["rel"]: link["href"] for link in fc["links"]}
        assert ("prev" in links) == (pages > 1)
        url = links.get("next", "").replace("http://localhost", "")
    assert pages == -(-n // 5)
    assert sorted(seen) == sorted(MODELS.index[MODELS["kind"] == "camera"]) and len(set(seen)) == n
    second = _json(client.get("/collections/camera/items?limit=5&offset=5"))
    prev = next(link["href"] for link in second["links"] if link["rel"] == "prev")
    assert "offset=0" in prev and "limit=5" in prev


def test_items_next_link_keeps_filters(client):
    fc = _json(client.get("/collections/camera/items?limit=2&unit=28903&bbox=106.29,10.09,106.32,10.12"))
    nxt = next(link["href"] for link in fc["links"] if link["rel"] == "next")
    assert "unit=28903" in nxt and "bbox=" in nxt and "offset=2" in nxt


def test_items_limit_bounds(client):
    fc = _json(client.get("/collections/camera/items?limit=999999"))
    assert fc["numberReturned"] == fc["numberMatched"]
    assert "limit=10000" in fc["links"][0]["href"]
    _error(client.get("/collections/camera/items?limit=0"), 400)
    _error(client.get("/collections/camera/items?limit=ten"), 400)
    _error(client.get("/collections/camera/items?offset=-1"), 400)


@pytest.mark.parametrize(
    "bbox", ["1,2,3", "a,b,c,d", "106.4,10.1,106.3,10.2", "106,10,nan,11", "200,10,201,11", "1,2,3,4,5"]
)
def test_items_bad_bbox_is_400(client, bbox):
    body = _error(client.get("/collections/camera/items", query_string={"bbox": bbox}), 400)
    assert body["error"] == "GeoAnttError" and "bbox" in body["message"]


def test_items_unit_means_unit_and_descendants(client):
    commune = _json(client.get("/collections/camera/items?unit=28903"))
    expected = set(MODELS.index[(MODELS["kind"] == "camera") & MODELS["unit_code"].str.startswith("28903-")])
    assert {f["id"] for f in commune["features"]} == expected
    province = _json(client.get("/collections/camera/items?unit=83"))
    assert province["numberMatched"] == int((MODELS["kind"] == "camera").sum())
    hamlets = _json(client.get("/collections/hamlets/items?unit=28891"))
    assert {f["id"] for f in hamlets["features"]} == {"28891-01", "28891-02"}
    # footprints carry no unit: linked through their model
    fps = _json(client.get("/collections/footprints/items?unit=28891-01"))
    assert fps["numberMatched"] > 0
    assert all(MODELS.loc[f["properties"]["model_id"], "unit_code"] == "28891-01" for f in fps["features"])
    gaps = _json(client.get("/collections/gaps/items?unit=28891"))
    assert {f["properties"]["unit_code"] for f in gaps["features"]} == {"28891-01", "28891-02"}
    body = _error(client.get("/collections/camera/items?unit=99999"), 404)
    assert "99999" in body["message"]


def test_item_and_missing_item(client):
    resp = client.get("/collections/camera/items/CAM001")
    f = _json(resp)
    assert f["type"] == "Feature" and f["id"] == "CAM001"
    assert f["properties"]["name"] == "<script>alert(1)</script>"
    assert any(link["rel"] == "collection" for link in f["links"])
    body = _error(client.get("/collections/camera/items/NOPE"), 404)
    assert "NOPE" in body["message"]
    _error(client.get("/collections/nope/items/CAM001"), 404)


def test_werkzeug_errors_are_json_on_api_paths(client):
    body = _error(client.get("/collections/camera/items/CAM001/extra"), 404)
    assert body["error"] == "NotFound"
    body = _error(client.post("/collections", headers={"X-CSRFToken": client.csrf}), 405)


def test_openapi_document(client):
    resp = client.get("/openapi")
    assert resp.status_code == 200
    doc = json.loads(resp.get_data(as_text=True))
    assert doc["openapi"].startswith("3.0")
    for path in (
        "/",
        "/conformance",
        "/collections",
        "/collections/{collectionId}",
        "/collections/{collectionId}/items",
        "/collections/{collectionId}/items/{featureId}",
        "/export/{collectionId}.geojson",
        "/export/{collectionId}.gpkg",
    ):
        assert path in doc["paths"]
    params = {p["name"] for p in doc["paths"]["/collections/{collectionId}/items"]["get"]["parameters"]}
    assert params == {
        "collectionId",
        "bbox",
        "bbox-crs",
        "limit",
        "offset",
        "unit",
        "crs",
        "filter",
        "filter-lang",
        "filter-crs",
        "tier",
    }
    assert "camera" in doc["paths"]["/collections/{collectionId}"]["get"]["parameters"][0]["schema"]["enum"]


def test_openapi_is_valid_and_documents_every_api_route(app, client):
    """The document passes the OpenAPI 3.0 validator, and every JSON/download route of the app
    (OGC API, side panel, planning, report, registry) is in it with its methods.
    """
    from openapi_spec_validator import validate

    doc = json.loads(client.get("/openapi").get_data(as_text=True))
    validate(doc)
    documented = {(path, method.upper()) for path, ops in doc["paths"].items() for method in ops}
    missing = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(("/api/", "/collections", "/conformance", "/export", "/report", "/openapi")):
            continue
        # a Flask placeholder <x> stands for one path segment; the document's {x} are literal
        pattern = re.compile(
            "^" + re.sub(r"<(?:\w+:)?\w+>", "[^/]+", re.escape(rule.rule).replace("\\<", "<").replace("\\>", ">")) + "$"
        )
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            if not any(m == method and pattern.match(p) for p, m in documented):
                missing.append((rule.rule, method))
    assert missing == []
    assert {"token", "session"} <= set(doc["components"]["securitySchemes"])
    plan = doc["paths"]["/api/plan"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert plan["required"] == ["unit"] and "budget_vnd" in plan["properties"]


# -- exports ----------------------------------------------------------------------------------


def _decimals(coords) -> int:
    if isinstance(coords, (int, float)):
        s = repr(float(coords))
        return len(s.split(".")[1]) if "." in s and "e" not in s else 0
    return max((_decimals(c) for c in coords), default=0)


def test_export_geojson_is_rfc7946(client):
    resp = client.get("/export/gaps.geojson?unit=28903")
    assert resp.status_code == 200
    assert resp.headers["Content-Disposition"] == 'attachment; filename="gaps_28903.geojson"'
    fc = json.loads(resp.get_data(as_text=True))
    assert fc["type"] == "FeatureCollection" and "crs" not in fc
    assert {f["properties"]["unit_code"] for f in fc["features"]} == {"28903-01", "28903-02"}
    for f in fc["features"]:
        assert _decimals(f["geometry"]["coordinates"]) <= 7
        g = shape(f["geometry"])
        polys = getattr(g, "geoms", [g])
        for p in polys:
            assert p.exterior.is_ccw  # right-hand rule: exterior counter-clockwise
            assert all(not r.is_ccw for r in p.interiors)
        assert box(106.2999, 10.0999, 106.3041, 10.1041).contains(g)
    whole = client.get("/export/camera.geojson")
    assert whole.headers["Content-Disposition"] == 'attachment; filename="camera.geojson"'
    assert len(json.loads(whole.get_data(as_text=True))["features"]) == int((MODELS["kind"] == "camera").sum())


def test_export_gpkg(client, tmp_path):
    resp = client.get("/export/camera.gpkg?unit=28891")
    assert resp.status_code == 200
    assert resp.headers["Content-Disposition"] == 'attachment; filename="camera_28891.gpkg"'
    p = tmp_path / "x.gpkg"
    p.write_bytes(resp.data)
    assert [name for name, _ in pyogrio.list_layers(p)] == ["camera"]
    got = gpd.read_file(p, engine="pyogrio")
    expected = MODELS[(MODELS["kind"] == "camera") & MODELS["unit_code"].str.startswith("28891-")]
    assert sorted(got["id"]) == sorted(expected.index)
    assert got.crs.to_epsg() == 4326
    assert json.loads(got.set_index("id").loc["CAM013", "direction_deg"]) == pytest.approx(
        list(expected.loc["CAM013", "direction_deg"]), abs=1e-6
    )


def test_export_errors(client):
    _error(client.get("/export/camera.shp"), 404)
    _error(client.get("/export/nope.geojson"), 404)
    _error(client.get("/export/camera.geojson?unit=nope"), 404)


# -- side-panel JSON --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "q, code",
    [
        ("huong my", "28903"),
        ("HƯƠNG MỸ", "28903"),
        ("dong xuan", "28903-02"),
        ("Đồng   XUÂN", "28903-02"),
        ("tan phu", "28891-02"),
    ],
)
def test_search_ignores_diacritics_and_case(client, q, code):
    body = client.get("/api/search", query_string={"q": q}).get_json()
    assert body["results"][0]["code"] == code
    assert body["results"][0]["name"] == UNITS.loc[code, "name"]


def test_search_context_and_empty(client):
    body = client.get("/api/search?q=dong xuan").get_json()
    assert body["results"][0]["context"] == "Xã Hương Mỹ, Huyện Mỏ Cày Nam, Tỉnh Bến Tre"
    assert client.get("/api/search?q=").get_json()["results"] == []
    assert client.get("/api/search?q=zzzz").get_json()["results"] == []


def test_units_children(client):
    top = client.get("/api/units").get_json()["units"]
    assert [u["code"] for u in top] == ["83"]
    communes = client.get("/api/units?parent=835").get_json()["units"]
    assert [u["name"] for u in communes] == ["Xã An Thạnh", "Xã Hương Mỹ"]
    assert communes[1]["bbox"] == pytest.approx([106.3, 10.1, 106.304, 10.104])
    _error(client.get("/api/units?parent=nope"), 404)


def test_stats_counts_by_kind_field_host_status(client):
    st = client.get("/api/stats?unit=28903").get_json()
    sel = MODELS[MODELS["unit_code"].str.startswith("28903-")]
    assert st["models_total"] == len(sel)

    def nonzero(rows):
        return {r["code"]: r["count"] for r in rows if r["count"]}

    assert nonzero(st["by_kind"]) == sel["kind"].value_counts().to_dict()
    assert nonzero(st["by_status"]) == sel["status"].value_counts().to_dict()
    assert nonzero(st["by_host"]) == sel["host"].value_counts().to_dict()
    assert nonzero(st["by_field"]) == sel["field"].value_counts().to_dict()
    # every code of the vocabularies is listed (zeros too), with its Vietnamese label
    assert [r["code"] for r in st["by_status"]] == ["active", "inactive", "proposed"]
    assert st["by_status"][0]["label"] == "Hoạt động"
    assert st["unit"]["path"] == ["83", "835", "28903"]
    assert [h["code"] for h in st["least_covered"]] == ["28903-02", "28903-01"]
    assert st["coverage"]["hamlets"] == 2
    assert 0 < st["coverage"]["covered_pct"] < 100


def test_stats_whole_dataset_ranks_hamlets(client, synthetic_cov):
    st = client.get("/api/stats?lang=en").get_json()
    assert st["unit"] is None and st["models_total"] == len(MODELS)
    expected = list(synthetic_cov.units.sort_values("covered_pct").index)
    assert [h["code"] for h in st["least_covered"]] == expected
    # hamlets of several communes: each names its commune (the panel shows "Ấp 1 (Xã ...)")
    parents = {h["code"]: h["parent_name"] for h in st["least_covered"]}
    assert all(parents[c] == UNITS.loc[UNITS.loc[c, "parent_code"], "name"] for c in expected)
    assert len(set(parents.values())) > 1
    cov = synthetic_cov.units
    assert st["coverage"]["covered_pct"] == pytest.approx(
        100 * cov["covered_m2"].sum() / cov["area_m2"].sum(), abs=0.01
    )
    assert {r["label"]: r["count"] for r in st["by_status"]} == {"Active": 19, "Inactive": 7, "Proposed": 0}
    _error(client.get("/api/stats?unit=nope"), 404)


# -- factory ------------------------------------------------------------------------------------


def test_factory_seeds_an_empty_store_from_the_env_data_dir(tmp_path, monkeypatch, synthetic_dir, synthetic_cov):
    from geo_antt._errors import GeoAnttError
    from geo_antt.app import create_app

    db = tmp_path / "first-run.sqlite"
    monkeypatch.setenv("GEO_ANTT_DATA", str(synthetic_dir))
    monkeypatch.setenv("GEO_ANTT_DB", f"sqlite:///{db}")
    app = create_app({"TESTING": True, "COVERAGE": synthetic_cov})
    store = app.extensions["geo_antt"].store
    try:
        assert app.config["DATA_DIR"] == str(synthetic_dir) and db.exists()
        # seeded on first run: the store holds the dataset, and the catalog is built from it
        assert sorted(store.units_frame().index) == sorted(UNITS.index)
        assert sorted(store.models_frame(user=None).index) == sorted(MODELS.index)
        cat = app.extensions["geo_antt"].live.current()
        assert "coverage" in cat.collections and len(cat.get("camera").frame) == (MODELS["kind"] == "camera").sum()
        assert app.extensions["geo_antt"].meta["title"]["vi"] == "Dữ liệu thử Mỏ Cày Nam"
    finally:
        store.close()
    monkeypatch.delenv("GEO_ANTT_DB")
    with pytest.raises(GeoAnttError, match="dataset.toml"):
        create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "none")})
    assert not (tmp_path / "none").exists()  # no store file made for nothing


def test_factory_in_memory_dataset_without_coverage(monkeypatch, web_store):
    from geo_antt import app as app_mod
    from tests.web_fixtures import login

    monkeypatch.setattr("geo_antt.catalog.live._compute_coverage", lambda *a, **k: None)
    a = app_mod.create_app(
        {
            "TESTING": True,
            "STORE": web_store,
            "SECRET_KEY": "t",
            "DATASET": SimpleNamespace(units=UNITS, models=MODELS, meta={}),
        }
    )
    c = login(a, "admin")
    ids = [x["id"] for x in c.get("/collections").get_json()["collections"]]
    assert "coverage" not in ids and "camera" in ids
    st = c.get("/api/stats").get_json()
    assert st["coverage"] is None and st["least_covered"] == []
    assert c.get("/", headers={"Accept": "text/html"}).status_code == 200


def test_an_unknown_query_parameter_is_a_client_error(client):
    """OGC API - Features /req/core/query-param-invalid: a parameter the operation does not take
    (a misspelt ``bbox``) answers 400 naming it, on every operation of the OpenAPI document;
    ``f`` and ``lang`` are taken everywhere.
    """
    r = client.get("/collections/camera/items?ooga=booga")
    assert r.status_code == 400 and "ooga" in r.get_json()["message"] and "bbox" in r.get_json()["message"]
    assert client.get("/collections/camera/items?bbx=1,2,3,4").status_code == 400
    assert client.get("/collections/camera/items?limit=2&lang=en&f=json").status_code == 200
    assert client.get("/api/registry/audit?model=x&nosuch=1").status_code == 400
    assert client.get("/api/stats?lang=en").status_code == 200


def test_search_and_coverage_reject_what_their_schema_does_not_allow(client):
    assert client.get("/api/search").status_code == 400  # q is required
    assert client.get("/api/search", query_string={"q": "x" * 201}).status_code == 400
    assert client.get("/api/search", query_string={"q": "x" * 200}).status_code == 200
    assert client.get("/api/search?q=an&limit=5000").status_code == 200  # served as the maximum, 100
    assert client.get("/api/registry/coverage?level=province").status_code == 400
    assert client.get("/?f=xml").status_code == 400


@pytest.mark.parametrize(
    "query",
    [
        "/api/search?q=an&limit=1e308",
        "/api/search?q=an&limit=NaN",
        "/api/search?q=" + "x" * 10**6,
        "/?f=" + "x" * 10**6,
        "/collections/camera/items?" + "x" * 10**6 + "=1",
        "/report/28903.html?compare=1e308",
        "/report/28903.html?compare=" + "x" * 10**6,
        "/report/28903.html?period=0001-01-01:9999-12-31",
    ],
)
def test_hostile_parameters_of_the_changed_routes_are_400_with_a_short_message(client, query):
    """1e308, NaN and megabyte values in the parameters of the landing page, search, items and
    the report: a 400 whose message does not echo the value back, never a 500.
    """
    r = client.get(query)
    assert r.status_code == 400 and len(r.get_data()) < 2000


def test_a_megabyte_language_is_ignored(client):
    r = client.get("/?lang=" + "x" * 10**6, headers={"Accept": "text/html"})
    assert (
        r.status_code == 200
        and 'lang="vi"' in r.get_data(as_text=True)
        and "geo_antt_lang" not in r.headers.get("Set-Cookie", "")
    )


def test_an_officer_token_cannot_report_on_another_commune(app, web_store):
    """The report (and its compare option) stays within the officer's area."""
    from tests.web_fixtures import WEB_USERS

    token = web_store.create_token(WEB_USERS["officer"][0], label="t", user=None)
    c = app.test_client()
    h = {"Authorization": f"Bearer {token}"}
    assert c.get("/report/28903.html?compare=before", headers=h).status_code == 200
    assert c.get("/report/28891.html?compare=before", headers=h).status_code == 403
