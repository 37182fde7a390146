"""Plausible bounds of every model parameter and text (geo-antt #13, items 1, 2 and 9): declared
once in ``layers/*.toml`` ``[bounds]``, refused on every write path (API, editor, import), and a
stored row outside them (written past the checks) never breaks the service for the others.
"""

from __future__ import annotations

import math
import re
import sqlite3

import pytest
import shapely

from geo_antt import io
from geo_antt._errors import GeoAnttError
from geo_antt.layers import DEFAULT_BOUNDS, MAX_DIRECTIONS, TEXT_MAX_LENGTH, load_layer_specs, spatial_kinds
from geo_antt.store import Store
from tests.storehelp import CHEAP_HASHER, PASSWORD, registry_app, seed

SPECS = load_layer_specs()


def _client(app, name):
    c = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").get_data(as_text=True)).group(1)
    assert c.post("/login", data={"csrf_token": token, "name": name, "password": PASSWORD}).status_code == 302
    c.csrf = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").get_data(as_text=True)).group(1)
    return c


@pytest.fixture
def store_file(tmp_path):
    path = tmp_path / "bounds.sqlite"
    s = Store.open(f"sqlite:///{path}", password_hasher=CHEAP_HASHER)
    seed(s)
    s.close()
    return path


@pytest.fixture
def store(store_file):
    s = Store.open(f"sqlite:///{store_file}", password_hasher=CHEAP_HASHER)
    yield s
    s.close()


@pytest.fixture
def app(store):
    return registry_app(store)


def _feature(mid, lon, lat, **props):
    props = {"kind": "camera", "unit_code": "A1", "status": "active", "direction_deg": [90], "fov_deg": 60, **props}
    return {"type": "Feature", "id": mid, "properties": props, "geometry": {"type": "Point", "coordinates": [lon, lat]}}


# -- the layer files ------------------------------------------------------------------------------


def test_every_spatial_kind_declares_its_bounds_and_its_defaults_lie_within():
    assert SPECS["camera"].bounds["range_m"] == (1.0, 300.0)
    for kind in ("lighting", "checkpoint"):
        assert SPECS[kind].bounds["radius_m"] == (1.0, 200.0)
    for kind in spatial_kinds(SPECS):
        spec = SPECS[kind]
        assert set(spec.bounds) == set(DEFAULT_BOUNDS)
        assert spec.bounds["height_m"] == (0.0, 100.0) and spec.bounds["fov_deg"] == (1.0, 360.0)
        for fld, value in spec.defaults.items():
            lo, hi = spec.bounds[fld]
            assert lo <= value <= hi, (kind, fld)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("range_m = [300.0, 1.0]", "bounds.range_m must be [low, high]"),
        ("range_m = [1.0, inf]", "bounds.range_m must be [low, high]"),
        ("reach_m = [1.0, 2.0]", "bounds.reach_m: unknown parameter"),
        ("range_m = [1.0, 10.0]", "defaults.range_m = 20 lies outside bounds.range_m"),
        ("fov_deg = [1.0, 400.0]", "may not exceed 360 degrees"),
    ],
)
def test_a_bad_bounds_table_is_refused_naming_the_file_and_key(tmp_path, table, message):
    from geo_antt._errors import GeoAnttError

    (tmp_path / "cam.toml").write_text(
        'kind = "cam"\ntitle = { vi = "C", en = "C" }\n[footprint]\nrule = "sector"\n'
        f"[defaults]\nrange_m = 20.0\n[bounds]\n{table}\n",
        encoding="utf-8",
    )
    with pytest.raises(GeoAnttError, match=re.escape(message)) as ei:
        load_layer_specs(tmp_path)
    assert "cam.toml" in str(ei.value)


# -- item 1: the write paths refuse values out of bounds ------------------------------------------


@pytest.mark.parametrize(
    ("props", "field", "allowed"),
    [
        ({"range_m": 1e308}, "range_m", "from 1 to 300"),
        ({"range_m": 20000}, "range_m", "from 1 to 300"),
        ({"range_m": 0.5}, "range_m", "from 1 to 300"),
        ({"fov_deg": 0.5}, "fov_deg", "from 1 to 360"),
        ({"height_m": 150}, "height_m", "from 0 to 100"),
        ({"kind": "lighting", "direction_deg": [], "radius_m": 5000}, "radius_m", "from 1 to 200"),
        ({"kind": "checkpoint", "direction_deg": [], "radius_m": 201}, "radius_m", "from 1 to 200"),
    ],
)
def test_the_api_refuses_a_parameter_out_of_bounds_naming_field_value_and_range(app, store, props, field, allowed):
    o = _client(app, "can_bo_a")
    r = o.post("/api/registry/models", json=_feature("n1", 106.05, 10.06, **props), headers={"X-CSRFToken": o.csrf})
    assert r.status_code == 400, r.get_json()
    (p,) = [p for p in r.get_json()["problems"] if p["field"] == field]
    assert allowed in p["reason"] and p["value"] == props[field]
    assert "n1" not in store.models_frame(user=None).index
    # the map editor saves through PATCH: the same check
    v = o.get("/api/registry/models/a1").get_json()["properties"]["version"]
    changes = {k: v_ for k, v_ in props.items() if k == field}
    r = o.patch("/api/registry/models/a1", json={"version": v, "changes": changes}, headers={"X-CSRFToken": o.csrf})
    assert r.status_code == 400 and allowed in r.get_json()["problems"][0]["reason"]


@pytest.mark.parametrize("dirs", [[400], [90, -10], [360.5]])
def test_a_bearing_outside_0_360_is_refused_not_wrapped(app, store, dirs):
    """As a sheet's cell is: 400 is a typo for 40 (or 100), never silently stored as 40."""
    o = _client(app, "can_bo_a")
    r = o.post(
        "/api/registry/models", json=_feature("n1", 106.05, 10.06, direction_deg=dirs), headers={"X-CSRFToken": o.csrf}
    )
    assert r.status_code == 400, r.get_json()
    text = r.get_data(as_text=True)
    assert "direction_deg" in text and "0-360" in text and "n1" not in store.models_frame(user=None).index
    v = o.get("/api/registry/models/a1").get_json()["properties"]["version"]
    r = o.patch(
        "/api/registry/models/a1",
        json={"version": v, "changes": {"direction_deg": dirs}},
        headers={"X-CSRFToken": o.csrf},
    )
    assert r.status_code == 400 and "0-360" in r.get_data(as_text=True)
    # 0 and 360 themselves are bearings (360 is north, stored as 0)
    r = o.post(
        "/api/registry/models",
        json=_feature("n2", 106.05, 10.06, direction_deg=[0, 360]),
        headers={"X-CSRFToken": o.csrf},
    )
    assert r.status_code == 201 and store.get_model("n2")["direction_deg"] == (0.0, 0.0)


def test_the_api_accepts_the_bounds_themselves(app):
    o = _client(app, "can_bo_a")
    for mid, props in (
        ("lo", {"range_m": 1.0, "fov_deg": 1.0, "height_m": 0.0}),
        ("hi", {"range_m": 300.0, "fov_deg": 360.0, "height_m": 100.0}),
    ):
        r = o.post("/api/registry/models", json=_feature(mid, 106.05, 10.06, **props), headers={"X-CSRFToken": o.csrf})
        assert r.status_code == 201, r.get_json()


def test_an_infinite_value_is_refused_with_valid_json(app):
    o = _client(app, "can_bo_a")
    body = '{"type": "Feature", "id": "n1", "properties": {"kind": "camera", "unit_code": "A1", "direction_deg": [90], "range_m": Infinity}, "geometry": {"type": "Point", "coordinates": [106.05, 10.06]}}'
    r = o.post("/api/registry/models", data=body, content_type="application/json", headers={"X-CSRFToken": o.csrf})
    assert r.status_code == 400
    assert "Infinity" not in r.get_data(as_text=True).replace('"inf"', "")  # strict JSON for clients
    assert r.get_json()["problems"][0]["field"] == "range_m"


def test_spreadsheet_import_rejects_the_rows_out_of_bounds(tmp_path):
    p = tmp_path / "m.csv"
    p.write_text(
        "id,kind,lat,lon,direction_deg,fov_deg,range_m,radius_m,height_m\n"
        "ok,camera,10.5,106.5,90,90,300,,3\n"
        "far,camera,10.5,106.5,90,90,1e308,,\n"
        "wide,lighting,10.5,106.5,,,,20000,\n"
        "tall,camera,10.5,106.5,90,90,20,,101\n",
        encoding="utf-8",
    )
    g, problems = io.load_models(p)
    errs = {(q.row, q.field): q for q in problems if q.severity == "error"}
    assert set(errs) == {(3, "range_m"), (4, "radius_m"), (5, "height_m")}
    assert "from 1 to 300 for a camera" in errs[(3, "range_m")].reason and errs[(3, "range_m")].value == "1e308"
    assert "from 1 to 200" in errs[(4, "radius_m")].reason
    assert list(g.index) == ["ok"]


# -- item 9: lengths ------------------------------------------------------------------------------


@pytest.mark.parametrize(("field", "limit"), [("name", 200), ("notes", 2000), ("owner", 200), ("id", 64)])
def test_the_api_bounds_every_text_field(app, field, limit):
    assert TEXT_MAX_LENGTH[field] == limit
    o = _client(app, "can_bo_a")
    h = {"X-CSRFToken": o.csrf}
    feat = _feature("t1", 106.05, 10.06, **{field: "x" * limit})
    if field == "id":
        feat["id"] = "x" * limit
    assert o.post("/api/registry/models", json=feat, headers=h).status_code == 201
    feat = _feature("t2", 106.05, 10.06, **{field: "ê" * (limit + 1)})
    if field == "id":
        feat["id"] = "ê" * (limit + 1)
    r = o.post("/api/registry/models", json=feat, headers=h)
    assert r.status_code == 400
    (p,) = [p for p in r.get_json()["problems"] if p["field"] == field]
    assert f"{limit + 1} characters long; at most {limit}" in p["reason"]
    assert len(r.get_data()) < 2000  # the refusal does not echo a megabyte back


def test_a_megabyte_name_is_refused_by_the_api_and_by_import(app, tmp_path):
    o = _client(app, "can_bo_a")
    r = o.post(
        "/api/registry/models", json=_feature("big", 106.05, 10.06, name="a" * 10**6), headers={"X-CSRFToken": o.csrf}
    )
    assert r.status_code == 400 and len(r.get_data()) < 2000
    p = tmp_path / "m.csv"
    # a megabyte cell: the whole file is refused by the table reader's cell limit, naming it
    p.write_text(
        "id,kind,lat,lon,radius_m,name\nok,lighting,10.5,106.5,20,Đèn\nbig,lighting,10.5,106.5,20,"
        + "a" * 10**6
        + "\n",
        encoding="utf-8",
    )
    with pytest.raises(GeoAnttError, match="10,000 characters"):
        io.load_models(p)
    # a name over its 200 characters but within the cell limit: that row is rejected, named
    p.write_text(
        "id,kind,lat,lon,radius_m,name\nok,lighting,10.5,106.5,20,Đèn\nbig,lighting,10.5,106.5,20," + "a" * 300 + "\n",
        encoding="utf-8",
    )
    g, problems = io.load_models(p)
    (e,) = [q for q in problems if q.severity == "error"]
    assert (e.row, e.field) == (3, "name") and "at most 200 characters" in e.reason and len(e.value) < 50
    assert list(g.index) == ["ok"]


@pytest.mark.parametrize("field", ["kind", "status", "host", "range_m", "unit_code"])
def test_no_refusal_echoes_a_huge_value(app, field):
    o = _client(app, "can_bo_a")
    r = o.post(
        "/api/registry/models",
        json=_feature("big", 106.05, 10.06, **{field: "q" * 10**6}),
        headers={"X-CSRFToken": o.csrf},
    )
    assert r.status_code in (400, 403) and len(r.get_data()) < 5000, (r.status_code, len(r.get_data()))


def test_direction_lists_are_bounded(app, tmp_path):
    o = _client(app, "can_bo_a")
    h = {"X-CSRFToken": o.csrf}
    ok = [i * 40.0 for i in range(MAX_DIRECTIONS)]
    assert (
        o.post("/api/registry/models", json=_feature("d8", 106.05, 10.06, direction_deg=ok), headers=h).status_code
        == 201
    )
    r = o.post("/api/registry/models", json=_feature("d9", 106.05, 10.06, direction_deg=[*ok, 350.0]), headers=h)
    assert r.status_code == 400 and r.get_json()["problems"][0]["field"] == "direction_deg"
    assert f"at most {MAX_DIRECTIONS}" in r.get_json()["problems"][0]["reason"]
    p = tmp_path / "m.csv"
    p.write_text(
        "id,kind,lat,lon,direction_deg\nd9,camera,10.5,106.5," + ";".join(str(i * 30) for i in range(9)) + "\n",
        encoding="utf-8",
    )
    _, problems = io.load_models(p)
    assert [(q.row, q.field) for q in problems if q.severity == "error"] == [(2, "direction_deg")]


# -- item 1: a stored row out of bounds breaks nothing --------------------------------------------


def _full_app(store_file, tmp_path):
    from geo_antt.app import create_app

    store = Store.open(f"sqlite:///{store_file}", password_hasher=CHEAP_HASHER)
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path), "STORE": store, "SECRET_KEY": "t"})
    return app, store


@pytest.mark.parametrize("value", [1e308, 20000.0, math.inf])
def test_a_row_written_past_the_checks_is_left_out_and_listed(store_file, tmp_path, caplog, value):
    with sqlite3.connect(store_file) as con:  # as a hand edit or an old version would
        assert con.execute("UPDATE models SET range_m = ? WHERE id = 'a1'", (value,)).rowcount == 1
        con.execute("DELETE FROM coverage_cache")
    with caplog.at_level("WARNING"):
        app, store = _full_app(store_file, tmp_path)  # starts: the data cannot stop it
    try:
        assert any("a1" in r.getMessage() and "range_m" in r.getMessage() for r in caplog.records)
        admin, officer = _client(app, "admin"), _client(app, "can_bo_a")
        for c in (admin, officer, _client(app, "xem_a"), _client(app, "can_bo_b")):
            for url in (
                "/map",
                "/collections/camera/items",
                "/collections/coverage/items",
                "/collections/footprints/items",
                "/api/stats",
                "/api/stats?unit=P",
                "/api/registry/coverage?level=commune",
                "/api/registry/models",
            ):
                r = c.get(url)
                assert r.status_code in (200, 403), (url, r.status_code)
                assert r.status_code == 200 or url == "/api/stats?unit=P"
        ids = {f["id"] for f in admin.get("/collections/camera/items").get_json()["features"]}
        assert "b1" in ids and "a1" not in ids
        fp = {f["id"] for f in admin.get("/collections/footprints/items").get_json()["features"]}
        assert "a1" not in fp and "b1" in fp
        listed = admin.get("/api/registry/excluded").get_json()["models"]
        assert [(m["id"], m["field"]) for m in listed] == [("a1", "range_m")] and "from 1 to 300" in listed[0]["reason"]
        assert officer.get("/api/registry/excluded").status_code == 403
        # the admin fixes it: it comes back
        v = admin.get("/api/registry/models/a1").get_json()["properties"]["version"]
        r = admin.patch(
            "/api/registry/models/a1",
            json={"version": v, "changes": {"range_m": 30}},
            headers={"X-CSRFToken": admin.csrf},
        )
        assert r.status_code == 200
        assert "a1" in {f["id"] for f in admin.get("/collections/footprints/items").get_json()["features"]}
        assert admin.get("/api/registry/excluded").get_json()["models"] == []
    finally:
        store.close()


# -- item 2: an officer's reach into a neighbouring commune ----------------------------------------


def test_an_officer_raises_a_neighbours_coverage_by_at_most_one_max_bound_camera(app, store):
    def covered_b():
        return float(store.coverage_frame(level="commune", user=None).loc["B", "covered_m2"])

    before = covered_b()
    o = _client(app, "can_bo_a")
    h = {"X-CSRFToken": o.csrf}
    # the 20 km camera of the review: refused
    far = _feature("far", 106.2, 10.1, direction_deg=[], fov_deg=360, range_m=20000)
    assert o.post("/api/registry/models", json=far, headers=h).status_code == 400
    # inside B: refused (the position must lie in the officer's own area)
    inside_b = _feature("inb", 106.201, 10.1, unit_code="A", direction_deg=[], fov_deg=360, range_m=300)
    assert o.post("/api/registry/models", json=inside_b, headers=h).status_code == 403
    # on A's border, at the camera bound, all round: the most an officer of A can reach into B
    edge = _feature("edge", 106.2, 10.1, unit_code="A", direction_deg=[], fov_deg=360, range_m=300)
    assert o.post("/api/registry/models", json=edge, headers=h).status_code == 201
    gained = covered_b() - before
    half_disc = math.pi * 300.0**2 / 2
    assert 0.9 * half_disc < gained < 1.02 * half_disc
    area_b = float(store.coverage_frame(level="commune", user=None).loc["B", "area_m2"])
    assert gained / area_b < 0.0005  # 0.03 % of B, not 100 %
    assert shapely.Point(106.2, 10.1).touches(shapely.box(106.2, 10.0, 106.4, 10.2))


# -- item 9: the limits are in the OpenAPI document -------------------------------------------------


def test_the_openapi_document_states_the_limits(store_file, tmp_path):
    app, store = _full_app(store_file, tmp_path)
    try:
        doc = _client(app, "admin").get("/openapi").get_json()
        post = doc["paths"]["/api/registry/models"]["post"]["requestBody"]["content"]["application/json"]["schema"]
        props = post["properties"]["properties"]["properties"]
        assert post["properties"]["id"]["maxLength"] == 64
        assert props["name"]["maxLength"] == 200 and props["notes"]["maxLength"] == 2000
        assert (props["range_m"]["minimum"], props["range_m"]["maximum"]) == (1.0, 300.0)
        assert props["radius_m"]["maximum"] == 200.0 and "gate 1-100" in props["radius_m"]["description"]
        assert (props["fov_deg"]["minimum"], props["fov_deg"]["maximum"]) == (1.0, 360.0)
        assert props["height_m"]["maximum"] == 100.0
        assert props["direction_deg"]["maxItems"] == MAX_DIRECTIONS
        patch = doc["paths"]["/api/registry/models/{modelId}"]["patch"]["requestBody"]["content"]["application/json"][
            "schema"
        ]
        assert patch["properties"]["changes"]["properties"]["name"]["maxLength"] == 200
        assert "/api/registry/excluded" in doc["paths"]
    finally:
        store.close()
