"""The server side of map editing (geo_antt.app.edit): the edit script's settings for editors
only, and ``/api/edit/locate`` (which unit of the user's area a clicked point is filed under).
"""

from __future__ import annotations

import json
import re
import unicodedata

import pytest

from geo_antt.app.edit import EDIT_PARAMS, EDIT_STRINGS, editable_kinds
from geo_antt.layers import load_layer_specs
from tests.web_fixtures import STEP, X0, Y0, login

# a point in Ấp Đồng Xuân (28903-02, Xã Hương Mỹ) and one in Ấp Tân Phú (28891-02, Xã An Thạnh)
IN_DONG_XUAN = (X0 + 0.3 * STEP, Y0 + 0.2 * STEP)
IN_TAN_PHU = (X0 + 1.4 * STEP, Y0 + 0.2 * STEP)
BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}  # the landing page is JSON for API clients


def _locate(client, lon, lat, **extra):
    return client.get("/api/edit/locate", query_string={"lon": lon, "lat": lat, **extra})


def _edit_config(html: str) -> dict | None:
    m = re.search(r'<script id="geo-antt-edit-config" type="application/json">(.*?)</script>', html, re.S)
    return json.loads(m.group(1)) if m else None


def test_editable_kinds_follow_the_layer_specs():
    specs = load_layer_specs()
    kinds = {k["code"]: k for k in editable_kinds(specs)}
    # the kinds with a footprint; the non-spatial ones cannot be placed on the map
    assert set(kinds) == {k for k, s in specs.items() if s.spatial and s.footprint in EDIT_PARAMS}
    assert "camera" in kinds and "self_management" not in kinds and "other" not in kinds
    cam = kinds["camera"]
    # a kind with tiers (layers/camera.toml [tiers]) also takes its resolution: the form shows
    # the range of each tier from it
    assert cam["rule"] == "sector" and cam["params"] == ["direction_deg", "fov_deg", "range_m", "resolution_px"]
    assert cam["tiers"] is True and kinds["lighting"]["tiers"] is False
    assert cam["defaults"] == {
        "fov_deg": specs["camera"].defaults["fov_deg"],
        "range_m": specs["camera"].defaults["range_m"],
        "direction_deg": 0.0,
    }
    light = kinds["lighting"]
    assert light["rule"] == "disc" and light["params"] == ["radius_m"]
    assert light["defaults"] == {"radius_m": specs["lighting"].defaults["radius_m"]}
    assert kinds["checkpoint"]["defaults"]["radius_m"] == specs["checkpoint"].defaults["radius_m"]
    assert {k["code"]: k["title"] for k in editable_kinds(specs, lang="en")}["camera"] == specs["camera"].title_en


def test_the_editor_form_gets_each_kinds_bounds():
    """edit.js sets the inputs' min/max and stops a dragged range at the bound from these."""
    kinds = {k["code"]: k for k in editable_kinds(load_layer_specs())}
    assert kinds["camera"]["bounds"] == {
        "fov_deg": [1.0, 360.0],
        "range_m": [1.0, 300.0],
        "resolution_px": [320.0, 16384.0],
    }
    assert kinds["lighting"]["bounds"] == {"radius_m": [1.0, 200.0]}
    assert kinds["gate"]["bounds"] == {"radius_m": [1.0, 100.0]}


def test_strings_in_both_languages():
    assert set(EDIT_STRINGS["vi"]) == set(EDIT_STRINGS["en"])
    for lang, strings in EDIT_STRINGS.items():
        for key, text in strings.items():
            assert text and unicodedata.normalize("NFC", text) == text, (lang, key)
    assert EDIT_STRINGS["vi"]["range_m"].endswith("(m)") and "°" in EDIT_STRINGS["vi"]["fov_deg"]


def test_edit_script_only_for_editors(app):
    officer = login(app, "officer").get("/", headers=BROWSER).get_data(as_text=True)
    cfg = _edit_config(officer)
    assert cfg is not None and "/static/js/edit.js" in officer
    assert cfg["lang"] == "vi" and cfg["strings"]["edit_mode"] == "Sửa bản đồ"
    assert [k["code"] for k in cfg["kinds"]][0] == "camera"
    assert cfg["urls"]["locate"] == "/api/edit/locate"
    assert cfg["urls"]["model"] == "/api/registry/models/__ID__"
    assert cfg["urls"]["retire"] == "/api/registry/models/__ID__/retire"
    en = _edit_config(login(app, "officer").get("/?lang=en", headers=BROWSER).get_data(as_text=True))
    assert en["strings"]["edit_mode"] == "Edit the map"
    assert _edit_config(login(app, "admin").get("/map").get_data(as_text=True)) is not None
    viewer = login(app, "viewer").get("/", headers=BROWSER).get_data(as_text=True)
    assert _edit_config(viewer) is None and "edit.js" not in viewer


def test_locate_inside_the_officers_commune(officer_client):
    r = _locate(officer_client, *IN_DONG_XUAN)
    assert r.status_code == 200, r.get_json()
    got = r.get_json()
    assert got["code"] == "28903-02" and got["name"] == "Ấp Đồng Xuân" and got["level"] == "hamlet"
    assert got["context"].startswith("Xã Hương Mỹ")


def test_locate_outside_the_officers_commune_is_refused(officer_client, client):
    r = _locate(officer_client, *IN_TAN_PHU)
    assert r.status_code == 403
    assert r.get_json()["error"] == "PermissionDeniedError"
    assert "Tân Phú" not in r.get_data(as_text=True)  # nothing about the other commune
    # the admin may place it there
    r = _locate(client, *IN_TAN_PHU)
    assert r.status_code == 200 and r.get_json()["code"] == "28891-02"


def test_locate_prefers_the_unit_a_model_is_filed_under(officer_client):
    # a model filed under the commune stays there when moved inside it
    assert _locate(officer_client, *IN_DONG_XUAN, unit="28903").get_json()["code"] == "28903"
    # a unit that no longer covers the point, or outside the scope, is not kept
    assert _locate(officer_client, *IN_DONG_XUAN, unit="28903-01").get_json()["code"] == "28903-02"
    assert _locate(officer_client, *IN_DONG_XUAN, unit="28891").get_json()["code"] == "28903-02"
    assert _locate(officer_client, *IN_DONG_XUAN, unit="nope").get_json()["code"] == "28903-02"


def test_locate_nowhere_and_bad_input(client, anon_client):
    r = _locate(client, 107.5, 9.0)  # the sea
    assert r.status_code == 404 and r.get_json()["error"] == "NotFoundError"
    for lon, lat in (("abc", 10.1), (106.3, 95.0), ("nan", 10.1), (181, 10.1)):
        r = _locate(client, lon, lat)
        assert r.status_code == 400, (lon, lat)
        assert ("'lon'" if lat == 10.1 else "'lat'") in r.get_json()["message"]
    assert client.get("/api/edit/locate?lat=10.1").status_code == 400
    assert _locate(anon_client, *IN_DONG_XUAN).status_code == 401


@pytest.mark.parametrize("corner", [(X0, Y0), (X0 + STEP, Y0 + STEP / 2)])
def test_locate_on_the_boundary(client, corner):
    """A point on a hamlet's border is covered by it (the store checks positions with covers)."""
    got = _locate(client, *corner).get_json()
    assert got["level"] == "hamlet"


# -- the footprint preview the editor draws while dragging ----------------------------------------


@pytest.fixture()
def built_app(web_store, synthetic_dir):
    """The app on the synthetic store with one 10 m x 10 m house whose east wall stands 10 m
    west of the point P (in Ấp Đồng Xuân), so that a camera at P facing west sees little.
    """
    import geopandas as gpd
    import numpy as np
    import shapely

    from geo_antt.app import create_app

    lon, lat = IN_DONG_XUAN
    mx, my = 1 / (111_320.0 * np.cos(np.radians(lat))), 1 / 110_574.0  # degrees per metre
    house = shapely.box(lon - 20 * mx, lat - 5 * my, lon - 10 * mx, lat + 5 * my)
    frame = gpd.GeoDataFrame({"osm_id": ["b1"], "building": ["house"]}, geometry=[house], crs="EPSG:4326")
    web_store.load_context("buildings", frame, unit_codes=["28903"], user=None)
    return create_app({"TESTING": True, "DATA_DIR": str(synthetic_dir), "STORE": web_store, "SECRET_KEY": "t"})


def _preview(client, props: dict, point=IN_DONG_XUAN):
    feature = {"type": "Feature", "geometry": {"type": "Point", "coordinates": list(point)}, "properties": props}
    return client.post("/api/edit/footprint", json=feature, headers={"X-CSRFToken": client.csrf})


def test_the_preview_is_the_footprint_the_camera_gets_once_saved(built_app, web_store):
    """Issue #16: dragging or turning a camera in the editor shows what it would see, cut by the
    houses: facing the house it sees a fraction of its sector, facing away all of it; and the
    preview is exactly the footprint that the map shows once the camera is saved there.
    """
    import math

    import shapely

    officer = login(built_app, "officer")
    before = (web_store.generation(), set(web_store.models_frame().index))
    cam = {"kind": "camera", "direction_deg": 270, "fov_deg": 60, "range_m": 40}
    r = _preview(officer, cam)
    assert r.status_code == 200, r.get_data(as_text=True)
    west = r.get_json()
    sector = math.pi * 40**2 * 60 / 360
    p = west["properties"]
    assert p["occluded"] and p["buildings"] == 1 and not p["inside_building"]
    assert p["sector_m2"] == pytest.approx(sector, rel=0.01)
    # by hand: the house's east wall (10 m away, 10 m wide, across the axis) hides everything
    # behind it within atan(5/10) = 26.57° of the axis; seen are the triangle up to the wall
    # (50 m²) and the two 30° - 26.57° slivers of the sector beside the house, 40 m long
    edge = math.degrees(math.atan(0.5))
    expected = 0.5 * 10 * 10 + 2 * (30 - edge) / 360 * math.pi * 40**2
    assert p["area_m2"] == pytest.approx(expected, rel=0.01)
    east = _preview(officer, {**cam, "direction_deg": 90}).get_json()["properties"]
    assert east["area_m2"] == pytest.approx(east["sector_m2"], rel=1e-9)
    # a light's disc is cut by the house too (walls stop light); a checkpoint's watch is not
    light = _preview(officer, {"kind": "lighting", "radius_m": 30}).get_json()["properties"]
    assert light["occluded"] and light["area_m2"] < light["sector_m2"]
    check = _preview(officer, {"kind": "checkpoint", "radius_m": 30}).get_json()["properties"]
    assert not check["occluded"] and check["area_m2"] == pytest.approx(check["sector_m2"])

    # saved there, the camera's footprint on the map is the preview's
    assert (web_store.generation(), set(web_store.models_frame().index)) == before  # previews write nothing
    r = officer.post(
        "/api/registry/models",
        json={
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": list(IN_DONG_XUAN)},
            "properties": {**cam, "name": "Camera thử", "unit_code": "28903-02"},
        },
        headers={"X-CSRFToken": officer.csrf},
    )
    assert r.status_code == 201, r.get_data(as_text=True)
    mid = r.get_json()["id"]
    item = officer.get(f"/collections/footprints/items/{mid}").get_json()
    saved = shapely.geometry.shape(item["geometry"])
    shown = shapely.geometry.shape(west["geometry"])
    assert shapely.symmetric_difference(saved, shown).area <= 1e-6 * shown.area


def test_the_preview_without_the_live_pieces_cuts_the_same(built_app, web_store):
    """A catalog without the live catalog's disjoint building pieces (a dataset's, served as it
    is) previews from its buildings frame: the same visible footprint as the pieces give.
    """
    import copy

    import shapely

    from geo_antt.catalog.preview import preview_footprint

    live = built_app.extensions["geo_antt"].live
    cat = live.current()
    rec = web_store.check_model(
        {
            "kind": "camera",
            "direction_deg": 270,
            "fov_deg": 60,
            "range_m": 40,
            "geometry": shapely.Point(*IN_DONG_XUAN),
            "unit_code": "28903-02",
        }
    )
    specs = built_app.extensions["geo_antt"].specs
    fast = preview_footprint(cat, rec, specs=specs)
    plain = copy.copy(cat)
    plain._live = None  # as a catalog of a dataset has none
    slow = preview_footprint(plain, rec, specs=specs)
    assert fast["properties"]["occluded"] and slow["properties"]["occluded"]
    assert fast["properties"]["area_m2"] < 0.5 * fast["properties"]["sector_m2"]
    assert slow["properties"]["area_m2"] == pytest.approx(fast["properties"]["area_m2"], rel=1e-9)
    a, b = shapely.geometry.shape(fast["geometry"]), shapely.geometry.shape(slow["geometry"])
    assert shapely.symmetric_difference(a, b).area <= 1e-9 * a.area


def test_the_preview_checks_like_a_save_and_only_for_editors(built_app, web_store):
    officer, viewer = login(built_app, "officer"), login(built_app, "viewer")
    cam = {"kind": "camera", "direction_deg": 270, "fov_deg": 60, "range_m": 40}
    assert _preview(viewer, cam).status_code == 403
    assert _preview(login(built_app, None), cam).status_code in (401, 403)
    # the kind's bounds, named as a save names them (layers/camera.toml)
    r = _preview(officer, {**cam, "range_m": 1e308})
    assert r.status_code == 400 and "range_m" in r.get_data(as_text=True)
    assert _preview(officer, {**cam, "direction_deg": "north-ish"}).status_code == 400
    assert _preview(officer, {**cam, "kind": "self_management"}).status_code == 400  # no footprint
    for far in ((1e308, 10.0), (106.0, -1e308), (200.0, 10.0)):  # rounding 1e308 overflowed once
        r = _preview(officer, cam, point=far)
        assert r.status_code == 400 and "geometry" in r.get_data(as_text=True), far
    assert _preview(officer, cam, point=(IN_DONG_XUAN[1], IN_DONG_XUAN[0])).status_code in (200, 400)
    r = officer.post(
        "/api/edit/footprint",
        data="[" * 100_000,
        content_type="application/json",
        headers={"X-CSRFToken": officer.csrf},
    )
    assert r.status_code == 400
    # NaN, a million characters, a body over the JSON limit
    r = officer.post(
        "/api/edit/footprint",
        data=b'{"type": "Feature", "geometry": {"type": "Point", "coordinates": [106.3, 10.1]}, '
        b'"properties": {"kind": "camera", "direction_deg": 0, "fov_deg": NaN, "range_m": 40}}',
        content_type="application/json",
        headers={"X-CSRFToken": officer.csrf},
    )
    # NaN is a missing value, as on every write path: the kind's default field of view
    from geo_antt.layers import load_layer_specs as _specs

    dflt = _preview(officer, {**cam, "fov_deg": _specs()["camera"].defaults["fov_deg"]}).get_json()
    assert r.status_code == 200 and r.get_json()["properties"]["sector_m2"] == dflt["properties"]["sector_m2"]
    assert _preview(officer, {**cam, "kind": "c" * 1_000_000}).status_code in (400, 413)
    import io

    stream = io.BytesIO(b"{}" * 500)
    r = officer.post(
        "/api/edit/footprint",
        input_stream=stream,
        content_type="application/json",
        headers={"X-CSRFToken": officer.csrf},
        environ_overrides={"CONTENT_LENGTH": str(300 * 2**20)},
    )
    assert r.status_code == 413 and stream.tell() == 0  # refused from its Content-Length, unread
    # an officer's API token works as the session does; a viewer's token does not
    token = web_store.create_token("can_bo_hm", label="t", user=None)
    feature = {"type": "Feature", "geometry": {"type": "Point", "coordinates": list(IN_DONG_XUAN)}, "properties": cam}
    api = built_app.test_client()
    r = api.post("/api/edit/footprint", json=feature, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and r.get_json()["properties"]["occluded"]
    vtoken = web_store.create_token("xem_hm", label="t", user=None)
    r = api.post("/api/edit/footprint", json=feature, headers={"Authorization": f"Bearer {vtoken}"})
    assert r.status_code == 403
    # a camera mounted inside the house: said, and the house hides nothing from it
    lon, lat = IN_DONG_XUAN
    inside = _preview(officer, cam, point=(lon - 15 / 111_320.0 / 0.97, lat)).get_json()["properties"]
    assert inside["inside_building"]
