"""Editing models on the map in a real browser (headless Chromium driven by Playwright) against a
live server on a random loopback port, logged in through the login form: an officer of Xã Hương
Mỹ adds a camera by clicking, drags it, drags its direction handle, meets a concurrent edit (409)
and retires it; every step is checked in the store, in metres (pyproj's geodesic on WGS84, not
the page's own sphere). A viewer gets no edit controls; a click outside the officer's commune
shows the scope error.
"""

from __future__ import annotations

import re
from urllib.parse import urlparse

import numpy as np
import pytest
from pyproj import Geod

from tests.browser_support import ARTIFACTS, login_form, wait_selected, watched_page
from tests.web_fixtures import STEP, WEB_PASSWORD, WEB_USERS, X0, Y0

GEOD = Geod(ellps="WGS84")
HAMLET = "28903-02"  # Ấp Đồng Xuân, Xã Hương Mỹ: lon X0..X0+STEP, lat Y0..Y0+STEP/2
OFFICER = WEB_USERS["officer"][0]


# -- helpers -----------------------------------------------------------------------------------


def _metres(lon0: float, lat0: float, lon1: float, lat1: float) -> float:
    return float(GEOD.inv(lon0, lat0, lon1, lat1)[2])


def _bearing(lon0: float, lat0: float, lon1: float, lat1: float) -> float:
    return float(GEOD.inv(lon0, lat0, lon1, lat1)[0]) % 360.0


def _angle_diff(a: float, b: float) -> float:
    return abs((a - b + 180.0) % 360.0 - 180.0)


def _free_spot(store) -> tuple[float, float]:
    """A point of the hamlet as far as possible from every model (so a camera placed there covers
    ground nobody covered, and the click lands on no marker), kept ~65 m inside its west and east
    sides and ~33 m inside its north and south sides.
    """
    models = store.models_frame()  # inactive ones too: their markers must not catch the click
    pts = models[models.geometry.notna()].geometry
    best, where = -1.0, None
    for lon in np.linspace(X0 + 0.0006, X0 + STEP - 0.0006, 25):
        for lat in np.linspace(Y0 + 0.0003, Y0 + STEP / 2 - 0.0003, 9):
            d = min(_metres(lon, lat, p.x, p.y) for p in pts)
            if d > best:
                best, where = d, (float(lon), float(lat))
    assert best > 40, best
    return where


def _coverage_pct(page, code: str) -> float:
    st = page.evaluate("(c) => fetch('/api/stats?unit=' + c).then(r => r.json())", code)
    return float(st["coverage"]["covered_pct"])


def _to_screen(page, lon: float, lat: float) -> tuple[float, float]:
    """Page coordinates of a point of the map."""
    box = page.locator(".folium-map").bounding_box()
    x, y = page.evaluate(
        "([lat, lon]) => { const p = geoAntt.map.latLngToContainerPoint([lat, lon]); return [p.x, p.y]; }", [lat, lon]
    )
    return box["x"] + x, box["y"] + y


def _to_lonlat(page, x: float, y: float) -> tuple[float, float]:
    """The map position under page coordinates (x, y)."""
    box = page.locator(".folium-map").bounding_box()
    ll = page.evaluate(
        "([x, y]) => { const l = geoAntt.map.containerPointToLatLng([x, y]); return [l.lng, l.lat]; }",
        [x - box["x"], y - box["y"]],
    )
    return ll[0], ll[1]


def _drag(page, start: tuple[float, float], end: tuple[float, float]) -> None:
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(*end, steps=12)
    page.mouse.up()


def _centre(page, selector: str) -> tuple[float, float]:
    b = page.locator(selector).bounding_box()
    return b["x"] + b["width"] / 2, b["y"] + b["height"] / 2


def _state(page, state: str) -> None:
    try:
        page.locator(f"body[data-edit-state='{state}']").wait_for(state="attached", timeout=8000)
    except Exception:
        page.screenshot(path=str(ARTIFACTS / "edit_failure.png"))
        raise AssertionError(
            f"edit state {page.locator('body').get_attribute('data-edit-state')!r}, not {state!r}; "
            f"message {page.locator('#edit-message').inner_text()!r}"
        ) from None


def _saved(page, model_id: str, version: int, writes: int) -> None:
    """Wait until the save of ``version`` answered and, after the page's ``writes``-th write, the
    layers and figures were fetched again.
    """
    page.locator(f"body[data-edit-saved='{model_id}@{version}']").wait_for(state="attached", timeout=10000)
    page.locator(f"body[data-edit-refreshed='{writes}']").wait_for(state="attached", timeout=10000)


def _layer_features(page, layer_id: str) -> list[dict]:
    return page.evaluate(
        """(id) => { const d = geoAntt.config.layers.find(x => x.id === id); const out = [];
        d.layer.eachLayer(l => { if (l.feature) { out.push({id: l.feature.id, props: l.feature.properties,
            cls: l._icon ? l._icon.innerHTML : ''}); } }); return out; }""",
        layer_id,
    )


def _footprint_ids(page) -> set[str]:
    """The models whose footprint the footprints layer draws (``model_id``, else the feature id)."""
    return {f["props"].get("model_id") or f["id"] for f in _layer_features(page, "footprints")}


def _open(page, live_server: str, role: str, *, lang: str = "vi") -> None:
    url = live_server + "/" + ("?lang=en" if lang == "en" else "")
    login_form(page, url, name=WEB_USERS[role][0], password=WEB_PASSWORD)
    page.wait_for_selector("path.leaflet-interactive", timeout=10000)
    page.evaluate(f"window.geoAntt.selectUnit('{HAMLET}', {{zoom: true}})")
    wait_selected(page, HAMLET)
    page.wait_for_timeout(700)  # fitBounds animation, then the bbox reloads
    page.wait_for_load_state("networkidle")


# -- tests -------------------------------------------------------------------------------------


@pytest.mark.browser
def test_each_direction_of_a_camera_has_its_own_handle(live_server, browser, web_store):
    """A camera watching two ways gets a handle on each sector axis: dragging the second one
    turns that direction only (and sets the range, shared by both); the save keeps both.
    """
    ctx, page, requests, errors = watched_page(browser, viewport={"width": 1280, "height": 800})
    _open(page, live_server, "officer")
    page.click("#edit-toggle")
    _state(page, "idle")
    lon, lat = _free_spot(web_store)
    page.mouse.click(*[round(v) for v in _to_screen(page, lon, lat)])
    _state(page, "creating")
    page.fill("#edit-direction_deg", "45, 200")
    assert page.locator(".edit-handle").count() == 2
    page.fill("#edit-range_m", "30")
    hx, hy = _centre(page, ".edit-handle >> nth=1")
    want_start = GEOD.fwd(lon, lat, 200.0, 30.0)
    assert _metres(*_to_lonlat(page, hx, hy), want_start[0], want_start[1]) < 3.0  # on the 200° axis
    goal = GEOD.fwd(lon, lat, 300.0, 45.0)
    tx, ty = (round(v) for v in _to_screen(page, goal[0], goal[1]))
    want_dir = _bearing(lon, lat, *_to_lonlat(page, tx, ty))
    _drag(page, (hx, hy), (tx, ty))
    first, second = (float(v) for v in page.locator("#edit-direction_deg").input_value().split(","))
    assert first == 45.0 and _angle_diff(second, want_dir) <= 1.5
    assert abs(float(page.locator("#edit-range_m").input_value()) - 45.0) <= 2.0
    page.fill("#edit-direction_deg", "45")  # one direction again: one handle
    assert page.locator(".edit-handle").count() == 1
    page.fill("#edit-direction_deg", f"45, {second:g}")
    page.fill("#edit-name", "Camera hai hướng")
    page.click("#edit-save")
    page.locator("body[data-edit-refreshed='1']").wait_for(state="attached", timeout=10000)
    cam = web_store.get_model(page.locator("body").get_attribute("data-edit-saved").split("@")[0])
    assert cam["direction_deg"][0] == 45.0 and _angle_diff(cam["direction_deg"][1], want_dir) <= 1.5
    assert len(cam["direction_deg"]) == 2 and abs(cam["range_m"] - 45.0) <= 2.0
    assert errors == []
    ctx.close()


@pytest.mark.browser
def test_officer_adds_moves_rotates_and_retires_a_camera(live_server, browser, web_store):
    ctx, page, requests, errors = watched_page(browser, viewport={"width": 1280, "height": 800})
    _open(page, live_server, "officer")
    assert errors == []
    ARTIFACTS.mkdir(exist_ok=True)

    before_pct = _coverage_pct(page, HAMLET)
    before_ids = set(web_store.models_frame().index)
    figures_before = page.locator("#figures").inner_text()

    # edit mode; a click on a free spot of the hamlet opens the form, filed under the hamlet
    page.click("#edit-toggle")
    _state(page, "idle")
    assert page.locator("#edit-toggle").get_attribute("aria-pressed") == "true"
    lon, lat = _free_spot(web_store)
    x, y = _to_screen(page, lon, lat)
    click_lon, click_lat = _to_lonlat(page, round(x), round(y))
    page.mouse.click(round(x), round(y))
    _state(page, "creating")
    assert page.locator("#edit-unit").get_attribute("data-code") == HAMLET
    assert "Ấp Đồng Xuân" in page.locator("#edit-unit").inner_text()
    # prefilled from layers/camera.toml; units in the labels
    assert page.locator("#edit-kind").input_value() == "camera"
    assert float(page.locator("#edit-fov_deg").input_value()) == 90.0
    assert float(page.locator("#edit-range_m").input_value()) == 20.0
    assert page.locator("label[for='edit-range_m']").inner_text() == "Tầm xa (m)"
    assert "(°" in page.locator("label[for='edit-direction_deg']").inner_text()
    assert page.locator(".edit-marker").count() == 1 and page.locator(".edit-handle").count() == 1

    # toward the hamlet's centre, 60 m; a field of view the server refuses first (400)
    direction = round(_bearing(lon, lat, X0 + STEP / 2, Y0 + STEP / 4))
    name = "Camera thử <b>ngã tư</b> Đồng Xuân"
    page.fill("#edit-name", name)
    page.fill("#edit-direction_deg", str(direction))
    page.fill("#edit-range_m", "60")
    page.fill("#edit-fov_deg", "400")
    page.select_option("#edit-field", "crime_prevention")
    page.select_option("#edit-host", "residential")
    page.fill("#edit-start_date", "2025-03-01")
    page.click("#edit-save")
    page.locator("[data-error-for='fov_deg']:not([hidden])").wait_for(timeout=5000)
    # the server's reason, in Vietnamese, names the allowed range of the kind (layers/camera.toml)
    assert (
        page.locator("[data-error-for='fov_deg']").inner_text() == "phải là số độ từ 1 đến 360 với mô hình loại camera"
    )
    assert "Dữ liệu chưa hợp lệ" in page.locator(".edit-error").inner_text()
    assert set(web_store.models_frame().index) == before_ids  # nothing written
    page.screenshot(path=str(ARTIFACTS / "edit_add_invalid.png"))
    page.fill("#edit-fov_deg", "90")
    # a bearing of 400 is a typo: the form says so and nothing is sent or stored (not 40)
    page.fill("#edit-direction_deg", "400")
    page.click("#edit-save")
    page.locator("[data-error-for='direction_deg']:not([hidden])").wait_for(timeout=5000)
    assert "0 đến 360" in page.locator("[data-error-for='direction_deg']").inner_text()
    assert set(web_store.models_frame().index) == before_ids
    page.fill("#edit-direction_deg", str(direction))
    page.click("#edit-save")
    page.locator("body[data-edit-saved]").wait_for(state="attached", timeout=10000)
    saved = page.locator("body").get_attribute("data-edit-saved")
    new_id = saved.split("@")[0]
    _saved(page, new_id, 1, 1)

    rec = web_store.get_model(new_id)
    assert rec["kind"] == "camera" and rec["unit_code"] == HAMLET and rec["status"] == "active"
    assert rec["name"] == name  # stored as typed (text, never markup)
    assert rec["direction_deg"] == (float(direction),)
    assert rec["range_m"] == 60.0 and rec["fov_deg"] == 90.0
    assert rec["field"] == "crime_prevention" and rec["host"] == "residential"
    assert str(rec["start_date"])[:10] == "2025-03-01"
    assert rec["created_by"] == OFFICER
    g = rec["geometry"]
    assert _metres(g.x, g.y, click_lon, click_lat) < 1.0
    # the coverage of the hamlet rose (the catalog was rebuilt from the store) and the panel shows it
    after_pct = _coverage_pct(page, HAMLET)
    assert after_pct > before_pct + 1.0, (before_pct, after_pct)
    assert page.locator("#figures").inner_text() != figures_before
    assert new_id in {f["id"] for f in _layer_features(page, "camera")}
    assert new_id in _footprint_ids(page)
    assert page.locator(".edit-message").inner_text().startswith("Đã lưu")
    assert page.locator("b", has_text="ngã tư").count() == 0  # the name was never parsed as HTML
    page.screenshot(path=str(ARTIFACTS / "edit_added.png"))

    # move: click the camera (edit mode), drag it 40 px east, 25 px south, save
    x0, y0 = _to_screen(page, g.x, g.y)
    page.mouse.click(round(x0), round(y0))
    _state(page, "editing")
    assert page.locator(".edit-id").inner_text().endswith("Phiên bản 1")
    mx, my = _centre(page, ".edit-marker")
    target_lon, target_lat = _to_lonlat(page, mx + 40, my + 25)
    _drag(page, (mx, my), (mx + 40, my + 25))
    page.wait_for_load_state("networkidle")  # the unit of the new position
    assert page.locator("#edit-unit").get_attribute("data-code") == HAMLET
    page.click("#edit-save")
    _saved(page, new_id, 2, 2)
    moved = web_store.get_model(new_id)
    m = moved["geometry"]
    expected = _metres(g.x, g.y, target_lon, target_lat)
    assert expected > 40
    assert abs(_metres(g.x, g.y, m.x, m.y) - expected) < 1.5
    assert _metres(m.x, m.y, target_lon, target_lat) < 1.5
    assert moved["direction_deg"] == (float(direction),) and moved["range_m"] == 60.0  # only the position changed
    assert moved["updated_by"] == OFFICER

    # rotate: drag the handle at the end of the sector axis 100° clockwise and to 45 m
    page.mouse.click(*[round(v) for v in _to_screen(page, m.x, m.y)])
    _state(page, "editing")
    hx, hy = _centre(page, ".edit-handle")
    goal = GEOD.fwd(m.x, m.y, (direction + 100) % 360, 45.0)  # 100° clockwise, 45 m out
    tx, ty = (round(v) for v in _to_screen(page, goal[0], goal[1]))
    handle_lon, handle_lat = _to_lonlat(page, tx, ty)
    want_dir = _bearing(m.x, m.y, handle_lon, handle_lat)
    want_range = _metres(m.x, m.y, handle_lon, handle_lat)
    _drag(page, (hx, hy), (tx, ty))
    # the form follows the handle live
    assert _angle_diff(float(page.locator("#edit-direction_deg").input_value()), want_dir) <= 1.5
    assert abs(float(page.locator("#edit-range_m").input_value()) - want_range) <= 1.5
    page.screenshot(path=str(ARTIFACTS / "edit_rotate.png"))

    # meanwhile someone else renames it: the save is refused (409), the stored model is reloaded
    web_store.update_model(new_id, {"name": "Đổi bởi người khác"}, expected_version=2, user=None)
    page.click("#edit-save")
    page.locator(".edit-error", has_text="vừa được người khác thay đổi").wait_for(timeout=8000)
    _state(page, "editing")
    assert page.locator(".edit-id").inner_text().endswith("Phiên bản 3")
    assert page.locator("#edit-name").input_value() == "Đổi bởi người khác"
    assert float(page.locator("#edit-direction_deg").input_value()) == float(direction)  # nothing stale kept
    assert web_store.get_model(new_id)["direction_deg"] == (float(direction),)
    page.screenshot(path=str(ARTIFACTS / "edit_conflict.png"))
    # the same drag again, on the fresh version
    hx, hy = _centre(page, ".edit-handle")
    _drag(page, (hx, hy), (tx, ty))
    page.click("#edit-save")
    _saved(page, new_id, 4, 3)
    rot = web_store.get_model(new_id)
    assert _angle_diff(rot["direction_deg"][0], want_dir) <= 1.5, (rot["direction_deg"], want_dir)
    assert abs(rot["range_m"] - want_range) <= 1.5, (rot["range_m"], want_range)
    assert abs(rot["range_m"] - 45.0) <= 2.0 and abs(_angle_diff(rot["direction_deg"][0], direction) - 100) <= 2.0
    assert rot["name"] == "Đổi bởi người khác" and rot["fov_deg"] == 90.0
    assert _metres(rot["geometry"].x, rot["geometry"].y, m.x, m.y) < 0.01  # not moved

    # retire, with a confirmation: status inactive, no footprint, drawn faded
    pct_active = _coverage_pct(page, HAMLET)
    page.mouse.click(*[round(v) for v in _to_screen(page, m.x, m.y)])
    _state(page, "editing")
    page.click("#edit-retire")
    assert page.locator(".edit-confirm").is_visible()
    assert web_store.get_model(new_id)["status"] == "active"
    page.screenshot(path=str(ARTIFACTS / "edit_retire_confirm.png"))
    page.click("#edit-retire-yes")
    _saved(page, new_id, 5, 4)
    assert web_store.get_model(new_id)["status"] == "inactive"
    assert new_id in set(web_store.models_frame().index)  # never deleted
    assert new_id not in _footprint_ids(page)
    cams = {f["id"]: f for f in _layer_features(page, "camera")}
    assert cams[new_id]["props"]["status"] == "inactive" and "not-active" in cams[new_id]["cls"]
    assert _coverage_pct(page, HAMLET) < pct_active - 1.0
    assert page.locator(".edit-message").inner_text() == "Đã chuyển sang ngừng hoạt động."

    # a click in Xã An Thạnh (not the officer's commune): the scope error, no form, nothing written
    n_models = len(web_store.models_frame())
    page.mouse.click(*[round(v) for v in _to_screen(page, X0 + 1.4 * STEP, Y0 + 0.3 * STEP)])
    page.locator(".edit-message.error").wait_for(timeout=5000)
    assert page.locator(".edit-message").inner_text().startswith("Vị trí này nằm ngoài địa bàn được giao")
    assert page.locator("#edit-form").count() == 0
    _state(page, "idle")
    assert len(web_store.models_frame()) == n_models
    page.screenshot(path=str(ARTIFACTS / "edit_outside.png"))

    # leaving edit mode: popups again on a click
    page.click("#edit-toggle")
    _state(page, "off")
    ctx.close()
    audit = web_store.audit_frame(model_id=new_id, limit=20)
    assert sorted(audit["action"]) == ["create", "retire", "update", "update", "update"]
    hosts = {urlparse(u).hostname for u in requests if not u.startswith(("data:", "blob:"))}
    assert hosts == {"127.0.0.1"}, hosts
    assert any("/api/edit/locate?" in u for u in requests)
    # the browser logs each refused request: exactly the three this test provoked, nothing else
    refused = [int(m.group(1)) for e in errors if (m := re.match(r"Failed to load resource: .* status of (\d+)", e))]
    assert refused == [400, 409, 403], errors
    assert len(errors) == 3, errors


@pytest.mark.browser
def test_viewer_has_no_edit_controls_and_english_officer(live_server, browser, web_store):
    ctx, page, requests, errors = watched_page(browser, console=False, viewport={"width": 1280, "height": 800})
    _open(page, live_server, "viewer")
    assert page.locator("#edit-toggle").count() == 0
    assert page.locator("#geo-antt-edit-config").count() == 0
    assert not any("/static/js/edit.js" in u for u in requests)
    # a camera's popup has no "Sửa" button
    opened = page.evaluate(
        """() => { const d = geoAntt.config.layers.find(x => x.id === 'camera'); let done = false;
        d.layer.eachLayer(l => { if (!done && l.feature) { l.openPopup(); done = true; } }); return done; }"""
    )
    assert opened
    page.locator(".leaflet-popup-content h3").wait_for(timeout=5000)
    assert page.locator(".edit-popup-button").count() == 0
    ctx.close()

    # the officer, in English. A camera whose start date is free text (an import may bring that):
    # renaming it from the popup's "Edit" button keeps the date the date field cannot show
    cams = web_store.models_frame()
    cam = sorted(cams.index[(cams["kind"] == "camera") & (cams["unit_code"] == HAMLET)])[0]
    version = web_store.update_model(
        cam, {"start_date": "quý 3/2023"}, expected_version=int(cams.at[cam, "version"]), user=None
    )["version"]
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    page = ctx.new_page()
    _open(page, live_server, "officer", lang="en")
    assert page.locator("#edit-toggle").inner_text() == "Edit the map"
    page.evaluate(
        """(id) => { const d = geoAntt.config.layers.find(x => x.id === 'camera');
        d.layer.eachLayer(l => { if (l.feature && l.feature.id === id) { l.openPopup(); } }); }""",
        cam,
    )
    page.locator(f".edit-popup-button[data-edit-id='{cam}']").click()
    _state(page, "editing")
    assert page.locator("#edit-form h3").inner_text() == "Edit model"
    assert page.locator("label[for='edit-range_m']").inner_text() == "Range (m)"
    assert page.locator(".edit-id").inner_text().endswith(f"Version {version}")
    page.fill("#edit-name", "Renamed camera")
    page.click("#edit-save")
    _saved(page, cam, version + 1, 1)
    rec = web_store.get_model(cam)
    assert rec["name"] == "Renamed camera" and rec["start_date"] == "quý 3/2023"
    # only the name changed: no field round-tripped through the form (a float direction, an empty
    # date, the position) comes back as a change
    assert set(web_store.audit_frame(model_id=cam, limit=1)["new"].iat[0]) == {"name"}
    assert rec["updated_by"] == OFFICER

    # a security light: its handle sets the radius (the popup's button turned edit mode on)
    assert page.locator("#edit-toggle").get_attribute("aria-pressed") == "true"
    _state(page, "idle")
    lon, lat = _free_spot(web_store)
    page.mouse.click(*[round(v) for v in _to_screen(page, lon, lat)])
    _state(page, "creating")
    page.select_option("#edit-kind", "lighting")
    assert page.locator("label[for='edit-radius_m']").inner_text() == "Radius (m)"
    assert page.locator("#edit-fov_deg").count() == 0
    assert float(page.locator("#edit-radius_m").input_value()) == 20.0  # layers/lighting.toml
    hx, hy = _centre(page, ".edit-handle")
    goal = GEOD.fwd(lon, lat, 200.0, 35.0)
    tx, ty = (round(v) for v in _to_screen(page, goal[0], goal[1]))
    _drag(page, (hx, hy), (tx, ty))
    page.fill("#edit-name", "Đèn ngõ 5")
    page.click("#edit-save")
    page.locator("body[data-edit-refreshed='2']").wait_for(state="attached", timeout=10000)
    light_id = page.locator("body").get_attribute("data-edit-saved").split("@")[0]
    light = web_store.get_model(light_id)
    g = light["geometry"]
    want = _metres(g.x, g.y, *_to_lonlat(page, tx, ty))
    assert light["kind"] == "lighting" and abs(light["radius_m"] - want) <= 1.5 and abs(want - 35.0) < 2
    assert not light["direction_deg"] and light["fov_deg"] is None
    page.screenshot(path=str(ARTIFACTS / "edit_light_en.png"))

    # outside the commune: the message in English
    page.mouse.click(*[round(v) for v in _to_screen(page, X0 + 1.4 * STEP, Y0 + 0.3 * STEP)])
    page.locator(".edit-message.error").wait_for(timeout=5000)
    assert page.locator(".edit-message").inner_text().startswith("This position lies outside the area assigned")
    page.screenshot(path=str(ARTIFACTS / "edit_outside_en.png"))
    ctx.close()


@pytest.mark.browser
def test_phone_form_is_a_sheet_below_the_model(live_server, browser, web_store):
    """On a phone the form opens as a sheet at the bottom and the map pans so that the new model
    and its handle stay visible above it.
    """
    ctx = browser.new_context(viewport={"width": 390, "height": 780}, is_mobile=True)
    page = ctx.new_page()
    _open(page, live_server, "officer")
    page.click("#edit-toggle")
    _state(page, "idle")
    lon, lat = _free_spot(web_store)
    # zoomed on the hamlet, the free spot may lie anywhere on the screen: bring it to the middle
    page.evaluate("([lat, lon]) => geoAntt.map.setView([lat, lon], 17, {animate: false})", [lat, lon])
    page.wait_for_timeout(300)
    page.mouse.click(*[round(v) for v in _to_screen(page, lon, lat)])
    _state(page, "creating")
    page.wait_for_timeout(400)  # the pan that makes room for the sheet
    sheet = page.locator("#edit-box").bounding_box()
    assert sheet["width"] == 390 and sheet["y"] + sheet["height"] == pytest.approx(780, abs=1)
    for sel in (".edit-marker", ".edit-handle"):
        b = page.locator(sel).bounding_box()
        assert b["y"] + b["height"] <= sheet["y"], sel
        assert 0 <= b["x"] and b["x"] + b["width"] <= 390, sel
    page.screenshot(path=str(ARTIFACTS / "edit_phone.png"))
    page.keyboard.press("Escape")
    _state(page, "idle")
    assert page.locator("#edit-form").count() == 0
    assert not any(m.startswith("camera-") for m in web_store.models_frame().index)  # nothing saved
    ctx.close()
