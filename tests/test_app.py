"""The app factory as a multi-user system of record: the store behind the map, the login guard,
the role x endpoint x scope matrix, the public aggregate mode, and the map following edits.
"""

from __future__ import annotations

import json
import re

import pandas as pd
import pyogrio
import pytest

from tests.web_fixtures import WEB_USERS, add_web_users, login, synthetic_models, synthetic_units

MODELS = synthetic_models()
UNITS = synthetic_units()
A, B = "28903", "28891"  # Xã Hương Mỹ (the officer's and viewer's commune), Xã An Thạnh
UNIT_OF = {**{c: c for c in UNITS.index}, **dict(zip(MODELS.index, MODELS["unit_code"]))}
IN_A = {c for c in UNITS.index if c.startswith(A)}
# active cameras (inactive ones have no footprint)
CAM_A = next(
    i
    for i, r in MODELS.iterrows()
    if r["kind"] == "camera" and r["status"] == "active" and r["unit_code"].startswith(A)
)
CAM_B = next(
    i
    for i, r in MODELS.iterrows()
    if r["kind"] == "camera" and r["status"] == "active" and r["unit_code"].startswith(B)
)
ROLES = ("admin", "officer", "viewer", None)
BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


def _feature_units(cid: str, fc: dict) -> set[str]:
    """The unit each feature of a FeatureCollection of ``cid`` belongs to."""
    out = set()
    for f in fc["features"]:
        p = f["properties"]
        if cid == "footprints":
            out.add(UNIT_OF[p.get("model_id") or f["id"]])
        elif cid in ("coverage", "provinces", "districts", "communes", "hamlets"):
            out.add(p["code"])
        else:
            out.add(p["unit_code"])
    return out


@pytest.fixture()
def clients(app):
    """A client per role on a fresh app and store (for the tests that write)."""
    return {role: login(app, role) for role in ROLES}


@pytest.fixture(scope="module")
def ro(tmp_path_factory, synthetic_store_file, synthetic_dir, synthetic_cov):
    """A client per role on one app and store shared by the read-only tests of this module."""
    import shutil

    from geo_antt.app import create_app
    from geo_antt.store import Store
    from tests.storehelp import CHEAP_HASHER

    path = tmp_path_factory.mktemp("ro-store") / "web.sqlite"
    shutil.copyfile(synthetic_store_file, path)
    store = Store.open(f"sqlite:///{path}", password_hasher=CHEAP_HASHER)
    app = create_app(
        {"TESTING": True, "DATA_DIR": str(synthetic_dir), "STORE": store, "COVERAGE": synthetic_cov, "SECRET_KEY": "ro"}
    )
    yield {role: login(app, role) for role in ROLES}
    store.close()


# -- anonymous -----------------------------------------------------------------------------------

ALL_GETS = [
    "/",
    "/map",
    "/collections",
    "/collections/camera",
    "/collections/camera/items",
    f"/collections/camera/items/{CAM_A}",
    "/collections/coverage/items",
    "/export/camera.geojson",
    "/export/coverage.gpkg",
    "/api/search?q=huong",
    "/api/stats",
    "/api/units",
    "/openapi",
    "/conformance",
    "/api/registry/models",
    "/api/registry/coverage",
    "/api/registry/audit",
    "/api/me",
]


def test_anonymous_gets_only_the_login_page_and_static_files(anon_client):
    c = anon_client
    for path in ALL_GETS:
        r = c.get(path)
        if path in ("/", "/map"):
            assert r.status_code == 302 and r.headers["Location"].startswith("/login?next="), path
        else:
            assert r.status_code == 401 and r.get_json()["error"] == "Unauthorized", path
    assert c.get("/", headers={"Accept": "application/json"}).status_code == 401
    r = c.patch(
        f"/api/registry/models/{CAM_A}", json={"version": 1, "changes": {"name": "x"}}, headers={"X-CSRFToken": c.csrf}
    )
    assert r.status_code == 401
    login = c.get("/login")
    assert login.status_code == 200
    with c.get("/static/js/map.js") as r:
        assert r.status_code == 200
    icon = re.search(r'<link rel="icon" type="image/svg\+xml" href="([^"]+)">', login.get_data(as_text=True)).group(1)
    with c.get(icon) as r:  # the page's icon, served by the app (no 404 in the console)
        assert r.status_code == 200 and r.mimetype == "image/svg+xml"


# -- the role matrix -----------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["admin", "officer", "viewer"])
def test_map_page_for_every_role(ro, role):
    r = ro[role].get("/map")
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "leaflet" in html
    assert f'<span id="account-name">{WEB_USERS[role][0]} (' in html and 'action="/logout"' in html


def test_logout_from_the_map_page(clients):
    c = clients["officer"]
    html = c.get("/map").get_data(as_text=True)
    token = re.search(r'id="account".*?name="csrf_token" value="([^"]+)"', html, re.S).group(1)
    assert c.post("/logout", data={"csrf_token": token}).status_code == 302
    assert c.get("/map").status_code == 302 and c.get("/api/stats").status_code == 401


@pytest.mark.parametrize(
    "cid", ["camera", "lighting", "gate", "footprints", "gaps", "coverage", "hamlets", "communes", "provinces"]
)
def test_lists_contain_only_the_readers_units(ro, cid):
    every = _feature_units(cid, ro["admin"].get(f"/collections/{cid}/items").get_json())
    for role in ("officer", "viewer"):
        got = _feature_units(cid, ro[role].get(f"/collections/{cid}/items").get_json())
        assert got == every & IN_A, (role, cid)
    if cid in ("camera", "footprints", "gaps", "coverage", "hamlets"):
        assert every - IN_A  # the admin does see the other commune
        assert got  # and the officer/viewer see something of their own


@pytest.mark.parametrize(
    "role, unit, status",
    [
        ("admin", B, 200),
        ("officer", B, 403),
        ("viewer", B, 403),
        ("officer", A, 200),
        ("officer", "835", 200),
        ("officer", "83", 200),  # a larger area: only A's part
        ("officer", "nope", 404),
    ],
)
def test_items_of_a_unit(ro, role, unit, status):
    r = ro[role].get(f"/collections/camera/items?unit={unit}")
    assert r.status_code == status, r.get_data(as_text=True)
    if status == 200 and role != "admin":
        body = r.get_json()
        ids = {f["id"] for f in body["features"]}
        assert ids == {i for i in MODELS.index[(MODELS["kind"] == "camera") & MODELS["unit_code"].str.startswith(A)]}
        assert body["numberMatched"] == len(ids)


@pytest.mark.parametrize(
    "role, cid, fid, status",
    [
        ("admin", "camera", CAM_B, 200),
        ("admin", "camera", CAM_A, 200),
        ("officer", "camera", CAM_A, 200),
        ("officer", "camera", CAM_B, 404),
        ("viewer", "camera", CAM_A, 200),
        ("viewer", "camera", CAM_B, 404),
        ("officer", "footprints", CAM_B, 404),
        ("officer", "footprints", CAM_A, 200),
        ("officer", "gap" + "s", f"gap-{B}-01", 404),
        ("officer", "coverage", f"{B}-02", 404),
        ("officer", "communes", B, 404),
        ("officer", "communes", A, 200),
        ("officer", "camera", "CAM999", 404),
    ],
)
def test_one_item(ro, role, cid, fid, status):
    r = ro[role].get(f"/collections/{cid}/items/{fid}")
    assert r.status_code == status, r.get_data(as_text=True)
    if status == 404 and fid != "CAM999":  # outside the area: exactly as an unknown id
        unknown = ro[role].get(f"/collections/{cid}/items/NO-SUCH-ID")
        assert r.get_data(as_text=True).replace(fid, "NO-SUCH-ID") == unknown.get_data(as_text=True)
        assert "properties" not in r.get_json()


@pytest.mark.parametrize("role", ["admin", "officer", "viewer"])
def test_exports_keep_only_the_readers_units(ro, role, tmp_path):
    c = ro[role]
    gj = json.loads(c.get("/export/camera.geojson").get_data(as_text=True))
    r = c.get("/export/camera.gpkg")
    assert r.status_code == 200
    (tmp_path / "camera.gpkg").write_bytes(r.data)
    gpkg = pyogrio.read_dataframe(tmp_path / "camera.gpkg")
    want = set(MODELS.index[MODELS["kind"] == "camera"])
    if role != "admin":
        want = {i for i in want if MODELS.at[i, "unit_code"].startswith(A)}
    assert {f["id"] for f in gj["features"]} == want
    assert set(gpkg["id"]) == want
    # the district: the officer's part of it; the other commune: 403
    r = c.get("/export/gaps.geojson?unit=835")
    assert r.status_code == 200
    assert _feature_units("gaps", r.get_json()) <= (IN_A if role != "admin" else set(UNITS.index))
    assert c.get(f"/export/gaps.gpkg?unit={B}").status_code == (200 if role == "admin" else 403)


@pytest.mark.parametrize("role", ["admin", "officer", "viewer"])
def test_search_units_and_stats_are_scoped(ro, role):
    c = ro[role]
    scoped = role != "admin"
    hits = [h["code"] for h in c.get("/api/search?q=an thanh").get_json()["results"]]
    assert (B in hits) is not scoped
    assert A in [h["code"] for h in c.get("/api/search?q=huong my").get_json()["results"]]
    top = [u["code"] for u in c.get("/api/units").get_json()["units"]]
    assert top == ([A] if scoped else ["83"])
    assert c.get(f"/api/units?parent={B}").status_code == (403 if scoped else 200)
    assert [u["code"] for u in c.get("/api/units?parent=835").get_json()["units"]] == ([A] if scoped else [B, A])
    st = c.get("/api/stats").get_json()
    in_a = MODELS["unit_code"].str.startswith(A)
    assert st["models_total"] == (int(in_a.sum()) if scoped else len(MODELS))
    assert st["coverage"]["hamlets"] == (2 if scoped else 4)
    assert {h["code"] for h in st["least_covered"]} <= (IN_A if scoped else set(UNITS.index))
    assert c.get(f"/api/stats?unit={B}").status_code == (403 if scoped else 200)
    assert c.get("/api/stats?unit=83").get_json()["models_total"] == st["models_total"]


@pytest.mark.parametrize(
    "role, model, status",
    [
        ("admin", CAM_A, 200),
        ("admin", CAM_B, 200),
        ("officer", CAM_A, 200),
        ("officer", CAM_B, 404),  # another commune's model: as an unknown id
        ("viewer", CAM_A, 403),
        ("viewer", CAM_B, 403),
        (None, CAM_A, 401),
    ],
)
def test_registry_edit(clients, role, model, status):
    c = clients[role]
    before = clients["admin"].get(f"/api/registry/models/{model}").get_json()["properties"]
    r = c.patch(
        f"/api/registry/models/{model}",
        json={"version": before["version"], "changes": {"name": "Camera đổi tên"}},
        headers={"X-CSRFToken": c.csrf},
    )
    assert r.status_code == status, r.get_data(as_text=True)
    after = clients["admin"].get(f"/collections/camera/items/{model}").get_json()["properties"]
    assert (after["name"] == "Camera đổi tên") is (status == 200)


# -- the map follows the store ------------------------------------------------------------------


def test_an_edit_reaches_the_map_layers_and_coverage(clients, app):
    c = clients["officer"]
    rec = c.get(f"/api/registry/models/{CAM_A}").get_json()
    fp_before = c.get(f"/collections/footprints/items/{CAM_A}").get_json()["geometry"]
    lon, lat = rec["geometry"]["coordinates"]
    new = [round(lon + 0.0003, 7), round(lat - 0.0002, 7)]
    r = c.patch(
        f"/api/registry/models/{CAM_A}",
        headers={"X-CSRFToken": c.csrf},
        json={
            "version": rec["properties"]["version"],
            "changes": {"geometry": {"type": "Point", "coordinates": new}, "direction_deg": [45.0]},
        },
    )
    assert r.status_code == 200, r.get_data(as_text=True)
    item = c.get(f"/collections/camera/items/{CAM_A}").get_json()
    assert item["geometry"]["coordinates"] == pytest.approx(new)
    assert item["properties"]["direction_deg"] == [45.0]
    fp_after = c.get(f"/collections/footprints/items/{CAM_A}").get_json()["geometry"]
    assert fp_after != fp_before  # the sector moved with the camera
    # a retired camera leaves the coverage: its footprint is gone
    v = c.get(f"/api/registry/models/{CAM_A}").get_json()["properties"]["version"]
    assert (
        c.post(f"/api/registry/models/{CAM_A}/retire", json={"version": v}, headers={"X-CSRFToken": c.csrf}).status_code
        == 200
    )
    assert c.get(f"/collections/footprints/items/{CAM_A}").status_code == 404
    assert c.get(f"/collections/camera/items/{CAM_A}").get_json()["properties"]["status"] == "inactive"


def test_a_store_change_from_outside_the_app_is_seen(app, web_store, clients):
    """An import from the command line (another writer of the same store) reaches the map."""
    rec = web_store.get_model(CAM_B, user=None)
    web_store.update_model(CAM_B, {"name": "Đổi từ dòng lệnh"}, expected_version=rec["version"], user=None)
    assert (
        clients["admin"].get(f"/collections/camera/items/{CAM_B}").get_json()["properties"]["name"]
        == "Đổi từ dòng lệnh"
    )


def test_requests_are_served_from_the_previous_catalog_while_another_rebuilds_it(app, web_store, clients):
    """A slow catalog update (a large import's full rebuild) runs on the catalog's own thread:
    the request that found the catalog behind and any other wait at most ``wait_s``, then are
    answered from the previous catalog, whole; once the update is done everyone sees the new one.
    """
    import threading
    import time

    live = app.extensions["geo_antt"].live
    live.wait_s = 0.2
    old = live.catalog
    started, release = threading.Event(), threading.Event()
    real_refresh = live.refresh

    def slow_refresh() -> None:
        started.set()
        assert release.wait(30)
        real_refresh()

    live.refresh = slow_refresh
    rec = web_store.get_model(CAM_B, user=None)
    web_store.update_model(CAM_B, {"name": "Sau khi nhập"}, expected_version=rec["version"], user=None)
    first = threading.Thread(target=live.current)
    first.start()
    try:
        assert started.wait(30)
        t0 = time.perf_counter()
        r = clients["admin"].get(f"/collections/camera/items/{CAM_B}")
        waited = time.perf_counter() - t0
        assert r.status_code == 200 and r.get_json()["properties"]["name"] == rec["name"]  # the previous catalog
        first.join(10)
        assert live.catalog is old and live.updating and not first.is_alive() and waited < 10
    finally:
        release.set()
        first.join(30)
    assert live.wait_until_current(timeout_s=30)
    assert clients["admin"].get(f"/collections/camera/items/{CAM_B}").get_json()["properties"]["name"] == "Sau khi nhập"


def test_a_request_waits_for_a_catalog_behind_the_store_once(app, web_store, clients):
    """While a large import's rebuild runs, a request is served the previous catalog after one
    wait of ``wait_s``, not one per helper that asks for the catalog (an items request asked
    about ten times: ten waits, 14 s in the load bench), and every part of its reply comes from
    that one catalog.
    """
    import threading

    live = app.extensions["geo_antt"].live
    live.wait_s = 0.05
    release = threading.Event()
    real_refresh, real_current = live.refresh, live.current
    asked: list[int] = []

    def slow_refresh() -> None:
        assert release.wait(30)
        real_refresh()

    def counted(generation=None):
        asked.append(generation)
        return real_current(generation)

    live.refresh, live.current = slow_refresh, counted
    rec = web_store.get_model(CAM_B, user=None)
    web_store.update_model(CAM_B, {"name": "Sau khi nhập"}, expected_version=rec["version"], user=None)
    try:
        for url in (
            f"/collections/camera/items?unit={B}&limit=1",
            f"/collections/camera/items/{CAM_B}",
            "/map",
            "/api/stats",
        ):
            asked.clear()
            r = clients["admin"].get(url)
            assert r.status_code == 200, (url, r.status_code)
            assert len(asked) == 1, (url, len(asked))
        assert (
            clients["admin"].get(f"/collections/camera/items/{CAM_B}").get_json()["properties"]["name"] == rec["name"]
        )
    finally:
        release.set()
    assert live.wait_until_current(timeout_s=30)


def test_an_officer_scope_follows_a_new_unit_and_a_changed_account(app, web_store, clients):
    """The scope of an account is remembered per generation of the store: a hamlet added under
    the officer's commune is in scope at the next request, and an account moved to another
    commune sees that commune's models, not its old ones.
    """
    import geopandas as gpd
    from shapely.geometry import box

    c = clients["officer"]
    assert c.get("/collections/hamlets/items/28903-new").status_code == 404
    new = gpd.GeoDataFrame(
        {
            "code": ["28903-new"],
            "name": ["Ấp Mới"],
            "level": ["hamlet"],
            "parent_code": [A],
            "approximate": [True],
            "valid_from": [None],
            "valid_to": [None],
        },
        geometry=[box(106.40, 10.05, 106.401, 10.051)],
        crs=4326,
    ).set_index(pd.Index(["28903-new"], name="code"))
    web_store.put_units(new, user=None)
    assert c.get("/collections/hamlets/items/28903-new").status_code == 200
    assert c.get(f"/collections/camera/items/{CAM_A}").status_code == 200
    web_store.set_user_access(WEB_USERS["officer"][0], role="officer", unit_codes=[B], user=None)
    assert c.get(f"/collections/camera/items/{CAM_B}").status_code == 401  # the change ended its sessions
    c = login(app, "officer")
    assert c.get(f"/collections/camera/items/{CAM_B}").status_code == 200
    assert c.get(f"/collections/camera/items/{CAM_A}").status_code in (403, 404)


def test_the_map_page_is_rendered_per_scope_and_language(app, clients):
    """The map's folium part is remembered per catalog, language and scope: an officer's page is
    framed on its own commune, an admin's on everything, and the English page is English.
    """
    import re as _re

    def bounds(html: str) -> list[float]:
        return [
            float(x)
            for x in _re.search(
                r"fitBounds\(\s*\[\[([-\d.]+),\s*([-\d.]+)\],\s*\[([-\d.]+),\s*([-\d.]+)\]\]", html
            ).groups()
        ]

    pages = {}
    for _ in range(2):  # the second time from the memo: the same pages
        for role in ("admin", "officer"):
            for lang in ("vi", "en"):
                html = clients[role].get(f"/?lang={lang}", headers=BROWSER).get_data(as_text=True)
                assert pages.setdefault((role, lang), bounds(html)) == bounds(html)
    a, o = pages[("admin", "vi")], pages[("officer", "vi")]
    assert o != a and a[0] <= o[0] and a[1] <= o[1] and o[2] <= a[2] and o[3] <= a[3]
    assert 'lang="en"' in clients["officer"].get("/?lang=en", headers=BROWSER).get_data(as_text=True)


# -- public aggregates ---------------------------------------------------------------------------


@pytest.fixture()
def public_app(web_store, synthetic_dir, synthetic_cov):
    from geo_antt.app import create_app

    return create_app(
        {
            "TESTING": True,
            "DATA_DIR": str(synthetic_dir),
            "STORE": web_store,
            "COVERAGE": synthetic_cov,
            "SECRET_KEY": "t",
            "PUBLIC_AGGREGATES": True,
        }
    )


def test_public_aggregates_show_figures_but_no_cameras(public_app):
    c = public_app.test_client()
    st = c.get("/api/stats")
    assert st.status_code == 200 and st.get_json()["models_total"] == len(MODELS)
    assert c.get(f"/api/stats?unit={B}").get_json()["models_total"] == int(MODELS["unit_code"].str.startswith(B).sum())
    cov = c.get("/api/registry/coverage?level=hamlet")
    assert cov.status_code == 200 and {u["code"] for u in cov.get_json()["units"]} == {
        c for c in UNITS.index if "-" in c
    }
    fc = c.get("/collections/coverage/items").get_json()
    assert len(fc["features"]) == 4 and "covered_pct" in fc["features"][0]["properties"]
    assert c.get("/api/units").status_code == 200
    for path in (
        "/collections/camera/items",
        f"/collections/camera/items/{CAM_A}",
        "/collections/footprints/items",
        "/collections/gaps/items",
        "/collections/lighting/items",
        "/export/camera.geojson",
        "/export/coverage.geojson",
        "/api/registry/models",
        "/collections",
    ):
        assert c.get(path).status_code == 401, path
    assert c.get("/map").status_code == 302
    text = json.dumps(st.get_json())
    assert not any(str(i) in text for i in MODELS.index)  # no model named, let alone placed
    # a logged-in officer still gets only their area in this mode
    assert login(public_app, "officer").get("/api/stats").get_json()["models_total"] == int(
        MODELS["unit_code"].str.startswith(A).sum()
    )


def test_public_mode_is_per_app(public_app, app):
    """Marking the aggregate views public in one app leaves another app of the process closed."""
    assert public_app.test_client().get("/api/stats").status_code == 200
    assert app.test_client().get("/api/stats").status_code == 401


# -- both store backends ---------------------------------------------------------------------------


def test_app_on_each_backend_seeds_scopes_and_follows_edits(store_url, synthetic_dir, synthetic_cov):
    from geo_antt.app import create_app

    app = create_app(
        {"TESTING": True, "DATA_DIR": str(synthetic_dir), "DB": store_url, "COVERAGE": synthetic_cov, "SECRET_KEY": "t"}
    )
    store = app.extensions["geo_antt"].store
    try:
        assert len(store.models_frame(user=None)) == len(MODELS)  # seeded on first run
        add_web_users(store)
        off = login(app, "officer")
        ids = {f["id"] for f in off.get("/collections/camera/items").get_json()["features"]}
        assert CAM_A in ids and CAM_B not in ids
        assert off.get(f"/collections/camera/items/{CAM_B}").status_code == 404  # as an unknown id
        v = off.get(f"/api/registry/models/{CAM_A}").get_json()["properties"]["version"]
        r = off.patch(
            f"/api/registry/models/{CAM_A}",
            json={"version": v, "changes": {"name": "Mới"}},
            headers={"X-CSRFToken": off.csrf},
        )
        assert r.status_code == 200
        assert off.get(f"/collections/camera/items/{CAM_A}").get_json()["properties"]["name"] == "Mới"
        assert WEB_USERS["officer"][0] in {u.name for u in store.list_users()}
    finally:
        store.close()


def test_collection_extents_are_those_of_the_readers_features(ro):
    from shapely.geometry import box

    a = box(*UNITS.loc[A].geometry.bounds)
    for role in ("officer", "viewer"):
        cams = {c["id"]: c for c in ro[role].get("/collections").get_json()["collections"]}["camera"]
        minx, miny, maxx, maxy = cams["extent"]["spatial"]["bbox"][0]
        assert a.buffer(1e-9).contains(box(minx, miny, maxx, maxy)), role
        one = ro[role].get("/collections/camera").get_json()
        assert one["extent"] == cams["extent"]
    full = {c["id"]: c for c in ro["admin"].get("/collections").get_json()["collections"]}["camera"]
    assert full["extent"]["spatial"]["bbox"][0][2] > UNITS.loc[A].geometry.bounds[2]  # reaches into B


def test_the_language_chosen_sticks_through_login_and_the_pages(app):
    """/login?lang=en&next=/, log in: the map is in English, and so are the import and audit pages
    without ?lang=, until ?lang=vi is chosen.
    """
    from tests.web_fixtures import WEB_PASSWORD, csrf_token

    c = app.test_client()
    page = c.get("/login?lang=en&next=/").get_data(as_text=True)
    assert 'lang="en"' in page
    r = c.post(
        "/login",
        data={"csrf_token": csrf_token(c), "name": WEB_USERS["officer"][0], "password": WEB_PASSWORD, "next": "/"},
    )
    assert r.status_code == 302
    for path in ("/", "/import", "/audit"):
        assert 'lang="en"' in c.get(path, headers=BROWSER).get_data(as_text=True), path
    assert 'lang="vi"' in c.get("/?lang=vi", headers=BROWSER).get_data(as_text=True)
    assert 'lang="vi"' in c.get("/audit", headers=BROWSER).get_data(as_text=True)
