"""The /api/registry JSON API (geo_antt.app.registry) in a minimal app with geo_antt.app.auth."""

from __future__ import annotations

import io
import json
import re

import geopandas as gpd
import pytest
from flask import Flask

from geo_antt.app.auth import init_auth
from geo_antt.app.registry import init_registry
from geo_antt.store import Store
from tests.storehelp import CHEAP_HASHER, PASSWORD, model_record, post_import, registry_app, seed


@pytest.fixture
def store(tmp_path):
    s = Store.open(f"sqlite:///{tmp_path / 'reg.sqlite'}", password_hasher=CHEAP_HASHER)
    seed(s)
    yield s
    s.close()


@pytest.fixture
def app(store):
    return registry_app(store)


def _client(app, name):
    c = app.test_client()
    html = c.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    assert c.post("/login", data={"csrf_token": token, "name": name, "password": PASSWORD}).status_code == 302
    html = c.get("/login").get_data(as_text=True)
    c.csrf = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    return c


def _geojson_bytes(records) -> bytes:
    geoms = [r.pop("geometry") for r in records]
    g = gpd.GeoDataFrame(records, geometry=geoms, crs="EPSG:4326")
    g["direction_deg"] = g["direction_deg"].map(lambda t: ";".join(map(str, t)))
    return g.to_json().encode()


def test_anonymous_gets_401(app):
    c = app.test_client()
    assert c.get("/api/registry/models").status_code == 401
    assert c.patch("/api/registry/models/a1", json={}).status_code == 401


def test_list_get_and_scope(app):
    c = _client(app, "can_bo_a")
    fc = c.get("/api/registry/models").get_json()
    assert fc["type"] == "FeatureCollection"
    assert sorted(f["id"] for f in fc["features"]) == ["a1", "a2"]
    a1 = next(f for f in fc["features"] if f["id"] == "a1")
    assert a1["properties"]["version"] == 1 and a1["geometry"] == {"type": "Point", "coordinates": [106.05, 10.05]}
    assert a1["properties"]["direction_deg"] == [90.0]
    ids = [f["id"] for f in c.get("/api/registry/models?bbox=106.1,10.0,106.2,10.1").get_json()["features"]]
    assert ids == ["a2"]
    r = c.get("/api/registry/models/b1")
    assert r.status_code == 404 and r.get_json()["error"] == "NotFoundError"
    assert c.get("/api/registry/models/zz").status_code == 404
    assert c.get("/api/registry/models?unit=B").status_code == 403


def test_edit_conflict_retire_and_audit(app):
    c = _client(app, "can_bo_a")
    h = {"X-CSRFToken": c.csrf}
    body = {
        "version": 1,
        "changes": {"geometry": {"type": "Point", "coordinates": [106.06, 10.06]}, "direction_deg": [45]},
    }
    assert c.patch("/api/registry/models/a1", json=body).status_code == 400  # no CSRF token
    r = c.patch("/api/registry/models/a1", json=body, headers=h)
    assert r.status_code == 200 and r.get_json()["properties"]["version"] == 2
    r = c.patch("/api/registry/models/a1", json={"version": 1, "changes": {"name": "x"}}, headers=h)
    assert r.status_code == 409 and "version 2" in r.get_json()["message"]
    r = c.post("/api/registry/models/a1/retire", json={"version": 2}, headers=h)
    assert r.status_code == 200 and r.get_json()["properties"]["status"] == "inactive"
    entries = c.get("/api/registry/audit?model=a1").get_json()
    assert [e["action"] for e in entries] == ["retire", "update", "create"]
    assert entries[1]["new"]["direction_deg"] == [45.0] and entries[1]["user_name"] == "can_bo_a"


def test_create_needs_an_editor(app):
    feature = {
        "type": "Feature",
        "id": "n1",
        "geometry": {"type": "Point", "coordinates": [106.12, 10.02]},
        "properties": {"kind": "checkpoint", "name": "Chốt 1", "unit_code": "A2", "radius_m": 40},
    }
    v = _client(app, "xem_a")
    assert v.post("/api/registry/models", json=feature, headers={"X-CSRFToken": v.csrf}).status_code == 403
    o = _client(app, "can_bo_a")
    r = o.post("/api/registry/models", json=feature, headers={"X-CSRFToken": o.csrf})
    assert r.status_code == 201 and r.get_json()["properties"]["radius_m"] == 40.0
    bad = dict(feature, id="n2", properties={"kind": "ufo", "unit_code": "A2"})
    r = o.post("/api/registry/models", json=bad, headers={"X-CSRFToken": o.csrf})
    assert r.status_code == 400 and r.get_json()["problems"][0]["field"] == "kind"


def test_coverage_endpoint(app):
    c = _client(app, "can_bo_b")
    body = c.get("/api/registry/coverage").get_json()
    assert [u["code"] for u in body["units"]] == ["B1"] and body["units"][0]["n_camera"] == 1


def test_import_preview_then_commit(app, store):
    c = _client(app, "can_bo_a")
    h = {"X-CSRFToken": c.csrf}
    bad = _geojson_bytes([model_record("c1", "A1", 106.05, 10.06), model_record("c2", "A1", 106.35, 10.05)])
    r = post_import(c, {"unit": "A", "file": (io.BytesIO(bad), "xa_an.geojson")}, headers=h)
    body = r.get_json()
    assert r.status_code == 200 and body["counts"] == {"new": 1, "update": 0, "unchanged": 0, "rejected": 1}
    assert body["rejected"][0]["reason"] == "position outside unit A"
    r = post_import(
        c,
        {"unit": "A", "commit": "1", "fingerprint": body["fingerprint"], "file": (io.BytesIO(bad), "xa_an.geojson")},
        headers=h,
    )
    assert r.status_code == 400 and "nothing imported" in r.get_json()["message"]
    good = _geojson_bytes([model_record("c1", "A1", 106.05, 10.06)])
    body = post_import(c, {"unit": "A", "file": (io.BytesIO(good), "xa_an.geojson")}, headers=h).get_json()
    r = post_import(
        c, {"unit": "A", "commit": "1", "fingerprint": "stale", "file": (io.BytesIO(good), "xa_an.geojson")}, headers=h
    )
    assert r.status_code == 409
    r = post_import(
        c,
        {"unit": "A", "commit": "1", "fingerprint": body["fingerprint"], "file": (io.BytesIO(good), "xa_an.geojson")},
        headers=h,
    )
    assert r.status_code == 200 and r.get_json()["counts"]["new"] == 1
    assert store.get_model("c1")["created_by"] == "can_bo_a"
    r = post_import(c, {"unit": "A", "file": (io.BytesIO(good), "notes.txt")}, headers=h)
    assert r.status_code == 400
    json.dumps(body)  # the preview is plain JSON


def _same_answer(r_other, r_unknown, other_id, unknown_id):
    """Status and body of two answers are the same once the two ids are swapped."""
    assert r_other.status_code == r_unknown.status_code
    assert r_other.get_data(as_text=True).replace(other_id, unknown_id) == r_unknown.get_data(as_text=True)
    return r_other


def test_ids_of_another_commune_answer_as_unknown_ids(app, store):
    """As an attacker with an officer's account of commune A: nothing tells b1 (a model of the
    neighbouring commune B) from zz (no such model).
    """
    c = _client(app, "can_bo_a")
    h = {"X-CSRFToken": c.csrf}
    r = _same_answer(c.get("/api/registry/models/b1"), c.get("/api/registry/models/zz"), "b1", "zz")
    assert r.status_code == 404 and "B" not in r.get_json()["message"].replace("b1", "")
    patch = {"version": 1, "changes": {"name": "x"}}
    r = _same_answer(
        c.patch("/api/registry/models/b1", json=patch, headers=h),
        c.patch("/api/registry/models/zz", json=patch, headers=h),
        "b1",
        "zz",
    )
    assert r.status_code == 404
    _same_answer(
        c.post("/api/registry/models/b1/retire", json={"version": 1}, headers=h),
        c.post("/api/registry/models/zz/retire", json={"version": 1}, headers=h),
        "b1",
        "zz",
    )
    _same_answer(c.get("/api/registry/audit?model=b1"), c.get("/api/registry/audit?model=zz"), "b1", "zz")
    assert c.get("/api/registry/audit?model=b1").get_json() == []

    def preview(mid):
        data = _geojson_bytes([model_record(mid, "A1", 106.05, 10.06)])
        r = post_import(c, {"unit": "A", "file": (io.BytesIO(data), "xa_an.geojson")}, headers=h)
        body = r.get_json()
        body.pop("fingerprint")
        return r.status_code, json.dumps(body, sort_keys=True)

    status_b, body_b = preview("b1")
    assert (status_b, body_b.replace("b1", "zz")) == preview("zz")
    assert '"new": 1' in body_b
    assert store.get_model("b1")["unit_code"] == "B1" and store.get_model("b1")["version"] == 1  # untouched


def test_create_or_import_with_a_taken_id_names_no_unit(app, store):
    c = _client(app, "can_bo_a")
    h = {"X-CSRFToken": c.csrf}

    def create(mid):
        feature = {
            "type": "Feature",
            "id": mid,
            "geometry": {"type": "Point", "coordinates": [106.12, 10.02]},
            "properties": {"kind": "checkpoint", "name": "Chốt", "unit_code": "A2", "radius_m": 40},
        }
        return c.post("/api/registry/models", json=feature, headers=h)

    # an id of commune B answers as an id of the officer's own commune does: in use, nothing more
    r = _same_answer(create("b1"), create("a1"), "b1", "a1")
    assert r.status_code == 409 and r.get_json()["error"] == "ConflictError"
    message = r.get_json()["message"]
    assert "already in use" in message and "B1" not in message and "can_bo_b" not in message
    data = _geojson_bytes([model_record("b1", "A1", 106.05, 10.06)])
    body = post_import(c, {"unit": "A", "file": (io.BytesIO(data), "xa_an.geojson")}, headers=h).get_json()
    r = post_import(
        c,
        {"unit": "A", "commit": "1", "fingerprint": body["fingerprint"], "file": (io.BytesIO(data), "xa_an.geojson")},
        headers=h,
    )
    assert r.status_code == 409 and "already in use" in r.get_json()["message"] and "B1" not in r.get_json()["message"]
    assert store.get_model("b1")["unit_code"] == "B1" and store.get_model("b1")["version"] == 1


def test_reads_answer_while_an_import_holds_the_write_lock(app, store, tmp_path):
    """A CLI import holds SQLite's write lock: token reads, the coverage figures (whose cache
    is written best-effort) and session reads answer at once; a write answers 503.
    """
    import sqlite3
    import time

    from geo_antt.store import _store

    token = store.create_token("can_bo_b", label="script", user=None)
    s = _client(app, "can_bo_a")
    auth = {"Authorization": f"Bearer {token}"}
    lock = sqlite3.connect(tmp_path / "reg.sqlite", isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")
    try:
        t0 = time.perf_counter()
        r_token = app.test_client().get("/api/registry/models", headers=auth)
        r_cov = app.test_client().get("/api/registry/coverage", headers=auth)
        r_session = s.get("/api/registry/models/a1")
        elapsed = time.perf_counter() - t0
        _store._BUSY_TIMEOUT_MS, saved = 200, _store._BUSY_TIMEOUT_MS  # a write: do not wait 30 s here
        try:
            with Store.open(
                f"sqlite:///{tmp_path / 'reg.sqlite'}", password_hasher=CHEAP_HASHER, upgrade=False
            ) as quick:
                app_w = Flask(__name__)
                app_w.config.update(SECRET_KEY="test-secret", TESTING=True)
                init_auth(app_w, quick)
                init_registry(app_w, quick)
                r_write = app_w.test_client().patch(
                    "/api/registry/models/b1", json={"version": 1, "changes": {"name": "x"}}, headers=auth
                )
        finally:
            _store._BUSY_TIMEOUT_MS = saved
    finally:
        lock.rollback()
        lock.close()
    assert r_token.status_code == 200 and [f["id"] for f in r_token.get_json()["features"]] == ["b1"]
    assert r_cov.status_code == 200 and [u["code"] for u in r_cov.get_json()["units"]] == ["B1"]
    assert r_session.status_code == 200
    assert elapsed < 3.0, f"reads waited {elapsed:.1f} s for the write lock"
    assert r_write.status_code == 503 and int(r_write.headers["Retry-After"]) > 0
    assert r_write.get_json()["error"] == "BusyError"
    # once the lock is free, the figures are cached as before
    assert app.test_client().get("/api/registry/coverage", headers=auth).status_code == 200
    assert store.coverage_frame(level="hamlet", user=store.get_user("can_bo_b")).attrs["recomputed"] == []


def test_hostile_bodies_and_files_are_400_not_500(app):
    # JSON nested 100,000 deep (RecursionError in json), a .gpkg that is not one (GDAL's
    # DataSourceError from list_layers): each used to be an unhandled 500
    c = _client(app, "can_bo_a")
    h = {"X-CSRFToken": c.csrf}
    deep = "[" * 100_000 + "]" * 100_000
    r = c.post("/api/registry/models", data=deep, content_type="application/json", headers=h)
    assert r.status_code == 400 and "nested too deeply" in r.get_json()["message"]
    doc = '{"type": "FeatureCollection", "features": ' + deep + "}"
    r = post_import(c, {"unit": "A", "file": (io.BytesIO(doc.encode()), "deep.geojson")}, headers=h)
    assert r.status_code == 400 and "nested too deeply" in r.get_json()["message"]
    r = post_import(c, {"unit": "A", "file": (io.BytesIO(b"not a geopackage"), "x.gpkg")}, headers=h)
    assert r.status_code == 400 and "cannot read as a vector file" in r.get_json()["message"]


def _post_stream(client, path, data: bytes, *, content_length: int, headers=None):
    """POST ``data`` as a raw stream declaring ``content_length``; returns (response, bytes read)."""
    stream = io.BytesIO(data)
    r = client.post(
        path,
        input_stream=stream,
        content_type="multipart/form-data; boundary=xyz",
        headers=headers or {},
        environ_overrides={"CONTENT_LENGTH": str(content_length)},
    )
    return r, stream.tell()


def test_a_body_over_the_limit_is_413_before_it_is_read(app):
    c = _client(app, "can_bo_a")
    h = {"X-CSRFToken": c.csrf}
    # a 300 MB upload (declared) is refused from its Content-Length alone
    r, read = _post_stream(c, "/api/registry/import", b"x" * 1000, content_length=300 * 1024 * 1024, headers=h)
    assert r.status_code == 413 and read == 0
    assert "33554432" in r.get_data(as_text=True)  # names the limit (32 MB)
    # JSON bodies have a smaller limit than uploads (config GEO_ANTT_MAX_JSON_BYTES)
    app.config["GEO_ANTT_MAX_JSON_BYTES"] = 1000
    r = c.post("/api/registry/models", json={"name": "x" * 2000}, headers=h)
    assert r.status_code == 413
    # the login form has its own small limit (GEO_ANTT_MAX_FORM_BYTES, default 16 KB)
    r, read = _post_stream(app.test_client(), "/login", b"x" * 100, content_length=17 * 1024)
    assert r.status_code == 413 and read == 0


def test_anonymous_post_is_401_without_reading_the_body(app):
    c = app.test_client()
    body = b'--xyz\r\nContent-Disposition: form-data; name="lang"\r\n\r\nen\r\n--xyz--\r\n' + b" " * 5000
    r, read = _post_stream(c, "/api/registry/import", body, content_length=len(body))
    assert r.status_code == 401 and read == 0
    r, read = _post_stream(c, "/api/registry/models", body, content_length=len(body))
    assert r.status_code == 401 and read == 0
