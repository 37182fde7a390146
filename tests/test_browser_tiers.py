"""The tier switch of the map panel (issue 19), in Chromium on the demo dataset: switching to
"identify" shrinks the camera footprints drawn, and the panel's coverage figures and its count of
cameras of unknown resolution are those ``geo-antt coverage --tier`` writes for the same tier.
"""

from __future__ import annotations

import json
import math
import re

import pytest

from geo_antt.numbers import format_number, format_percent
from tests.browser_support import ARTIFACTS, login_form, wait_selected, watched_page
from tests.test_browser import demo_server  # noqa: F401  (the module's live demo server)

COMMUNE = "28903"  # Xã Hương Mỹ (Mỏ Cày Nam): hamlets with rated and unrated cameras

# the camera footprints drawn now: their ids and the summed area of their bounding boxes,
# square degrees (the drawn geometry, not a figure the server sends)
_DRAWN = """() => { const d = geoAntt.config.layers.find(x => x.id === 'footprints'); const ids = []; let a = 0;
  d.layer.eachLayer(l => { if (l.feature.properties.kind !== 'camera') { return; }
    const b = l.getBounds(); ids.push(l.feature.id); a += (b.getEast() - b.getWest()) * (b.getNorth() - b.getSouth()); });
  return [ids.sort(), a]; }"""


def _cli(tier: str | None, tmp_path) -> tuple[dict, str]:
    """Per-hamlet figures (code -> properties) and the console text of ``geo-antt coverage``."""
    import contextlib
    import io

    from geo_antt.cli import main

    out = tmp_path / f"cov_{tier or 'plain'}.geojson"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["coverage", "--out", str(out), *(["--tier", tier] if tier else [])]) == 0
    doc = json.loads(out.read_text(encoding="utf-8"))
    return {f["properties"]["unit_code"]: f["properties"] for f in doc["features"]}, buf.getvalue()


def _panel_figures(props: dict, prefix: str | None) -> tuple[str, str]:
    """The coverage share and covered area the panel writes for the hamlets under ``prefix``."""
    rows = [p for c, p in props.items() if prefix is None or p["parent_code"] == prefix]
    area = sum(p["area_m2"] for p in rows)
    covered = sum(p["covered_m2"] for p in rows)
    covered_text = f"{format_number(round(covered), lang='vi')} m²" if covered < 10000 else None
    if covered_text is None:
        covered_text = f"{format_number(covered / 10000, lang='vi')} ha"
    return format_percent(100.0 * covered / area, lang="vi"), covered_text


def _switch(page, tier: str) -> None:
    page.select_option("#tier", tier)
    page.locator(f"body[data-tier-drawn='{tier or 'recorded'}']").wait_for(state="attached", timeout=60000)
    page.wait_for_load_state("networkidle")


@pytest.mark.browser
def test_tier_switch_shrinks_footprints_and_matches_the_cli(demo_server, browser, tmp_path):  # noqa: F811
    url, password = demo_server
    ctx, page, requests, errors = watched_page(browser, console=False, viewport={"width": 1366, "height": 900})
    login_form(page, url + "/", name="admin", password=password)
    page.wait_for_selector("path.leaflet-interactive", timeout=15000)
    page.locator("body[data-first-view='done']").wait_for(state="attached", timeout=5000)
    options = page.locator("#tier option").all_inner_texts()
    assert options == [
        "Tầm xa ghi nhận",
        "Phát hiện (25 px/m)",
        "Quan sát (62 px/m)",
        "Nhận biết (125 px/m)",
        "Nhận dạng (250 px/m)",
    ]

    # the whole area first: the panel's figures and tier-unknown count are the CLI's
    identify, text = _cli("identify", tmp_path)
    unknown = int(re.search(r"(\d+) tier unknown", text).group(1))
    _switch(page, "identify")
    share, covered = _panel_figures(identify, None)
    assert page.locator("#fig-coverage strong").inner_text() == share
    assert page.locator("#fig-covered-m2 strong").inner_text() == covered
    assert page.locator("#fig-tier-unknown strong").inner_text() == format_number(unknown, lang="vi")
    assert "Nhận dạng" in page.locator("#fig-tier-unknown").inner_text()

    # a commune, at street zoom: footprints drawn for the recorded ranges, then per tier
    _switch(page, "")
    assert page.locator("#fig-tier-unknown").count() == 0
    page.evaluate(f"geoAntt.selectUnit('{COMMUNE}', {{zoom: true}})")
    wait_selected(page, COMMUNE)
    page.evaluate("geoAntt.map.setZoom(15, {animate: false})")
    page.wait_for_timeout(1500)
    page.wait_for_load_state("networkidle")
    _switch(page, "detect")
    ids_det, a_det = page.evaluate(_DRAWN)
    _switch(page, "identify")
    ids_id, a_id = page.evaluate(_DRAWN)
    # the demo's cameras: two in three have a resolution; the others keep their recorded range
    assert ids_id and set(ids_id) <= set(ids_det)
    assert a_id < 0.8 * a_det, (len(ids_det), a_det, len(ids_id), a_id)
    assert page.locator("body[data-tier='identify']").count() == 1
    share, covered = _panel_figures(identify, COMMUNE)
    assert page.locator("#fig-coverage strong").inner_text() == share
    assert page.locator("#fig-covered-m2 strong").inner_text() == covered
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "tier_identify.png"))
    plain, _ = _cli(None, tmp_path)
    detect, _ = _cli("detect", tmp_path)
    _switch(page, "detect")
    assert page.locator("#fig-coverage strong").inner_text() == _panel_figures(detect, COMMUNE)[0]
    _switch(page, "")
    assert page.locator("#fig-coverage strong").inner_text() == _panel_figures(plain, COMMUNE)[0]
    ids_rec, a_rec = page.evaluate(_DRAWN)
    assert set(ids_id) <= set(ids_rec) and a_id < a_rec, (len(ids_rec), a_rec, len(ids_id), a_id)

    # a rated camera's popup lists its four ranges (the engine's formula, metres to 1 cm)
    props = page.evaluate("""() => new Promise(done => {
      const d = geoAntt.config.layers.find(x => x.id === 'camera');
      const m = d.layer.getLayers().find(l => { const p = l.feature.properties;
        return typeof p.resolution_px === 'number' && typeof p.fov_deg === 'number' && !p.lens && p.fov_deg < 180; });
      d.layer.zoomToShowLayer(m, () => { m.openPopup(); done(m.feature.properties); }); })""")
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for(timeout=5000)
    row = popup.locator("tr", has_text="Tầm theo mục đích (IEC 62676-4)").inner_text()
    half = math.tan(math.radians(props["fov_deg"] / 2))
    for title, ppm in (("Phát hiện", 25), ("Quan sát", 62), ("Nhận biết", 125), ("Nhận dạng", 250)):
        metres = min(props["resolution_px"] / (2 * ppm * half), 300.0)
        assert f"{title} {format_number(round(metres, 2), lang='vi')} m" in row, (row, props)
    page.screenshot(path=str(ARTIFACTS / "tier_popup.png"))
    page.evaluate("geoAntt.map.closePopup()")

    # planning for a tier in the panel: new 2MP cameras of 90 degrees identify to 3.84 m
    page.evaluate(f"geoAntt.selectUnit('{COMMUNE}', {{zoom: true}})")
    wait_selected(page, COMMUNE)
    page.select_option("#plan-kind", "camera")
    page.select_option("#plan-tier", "identify")
    page.fill("#plan-count", "2")
    page.click("#plan-run")
    page.locator("body[data-plan-sites='2']").wait_for(state="attached", timeout=60000)
    assert "Nhận dạng 3,84 m" in page.locator("#plan-tier-line").inner_text()
    page.select_option("#plan-kind", "lighting")  # lights have no tiers: the choice goes away
    assert page.locator("#plan-tier-row").is_hidden() and page.locator("#plan-tier").input_value() == ""

    # the popup's four ranges: the page's formula is the engine's (1920 px over 90 degrees)
    ranges = page.evaluate("geoAntt.tierRanges('camera', {resolution_px: 1920, fov_deg: 90})")
    assert [(r["code"], round(r["m"], 4)) for r in ranges] == [
        ("detect", 38.4),
        ("observe", round(1920 / 124, 4)),
        ("recognise", 7.68),
        ("identify", 3.84),
    ]
    fish = page.evaluate("geoAntt.tierRanges('camera', {resolution_px: 3840, fov_deg: 180, lens: 'fisheye'})")
    assert fish[-1]["m"] == pytest.approx(3840 / (250 * math.pi))
    ctx.close()
    assert not errors, errors


@pytest.mark.browser
def test_editor_shows_the_four_ranges_live(live_server, browser, web_store):
    """An officer adds a camera: the form shows its four ranges as the resolution, the field of
    view and the lens change (1920 px over 90 degrees identifies to 3.84 m and detects to
    38.4 m); the save stores the resolution and the lens; 100 px is refused on that field.
    """
    from tests.test_browser_edit import _free_spot, _open, _state, _to_screen

    # the refused save (100 px) is a 400 the console reports: expected here
    ctx, page, _requests, errors = watched_page(
        browser, ignore="status of 400", viewport={"width": 1280, "height": 800}
    )
    _open(page, live_server, "officer")
    page.click("#edit-toggle")
    _state(page, "idle")
    lon, lat = _free_spot(web_store)
    page.mouse.click(*[round(v) for v in _to_screen(page, lon, lat)])
    _state(page, "creating")
    ranges = page.locator("#edit-tier-ranges")
    assert "Nhập độ phân giải" in ranges.inner_text()
    page.fill("#edit-direction_deg", "45")
    page.fill("#edit-fov_deg", "90")
    page.fill("#edit-resolution_px", "1920")

    def shown(code: str) -> str:
        return ranges.locator(f"strong[data-tier='{code}']").inner_text()

    assert shown("identify") == "Nhận dạng 3,84 m" and shown("detect") == "Phát hiện 38,4 m"
    assert shown("recognise") == "Nhận biết 7,68 m" and shown("observe") == "Quan sát 15,48 m"
    page.fill("#edit-fov_deg", "60")  # 1920 / (2 * 250 * tan 30) = 6.65 m
    assert (
        shown("identify")
        == f"Nhận dạng {format_number(round(1920 / (500 * math.tan(math.radians(30))), 2), lang='vi')} m"
    )
    page.select_option("#edit-lens", "fisheye")  # 1920 / (250 * pi / 3) = 7.33 m
    assert shown("identify") == f"Nhận dạng {format_number(round(1920 / (250 * math.pi / 3), 2), lang='vi')} m"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "tier_editor.png"))
    page.fill("#edit-resolution_px", "100")
    page.click("#edit-save")
    page.locator(".edit-row[data-field='resolution_px'] .field-error:not([hidden])").wait_for(timeout=8000)
    page.fill("#edit-resolution_px", "1920")
    page.fill("#edit-name", "Camera 2MP mắt cá")
    page.click("#edit-save")
    page.locator("body[data-edit-refreshed='1']").wait_for(state="attached", timeout=10000)
    cam = web_store.get_model(page.locator("body").get_attribute("data-edit-saved").split("@")[0])
    assert cam["resolution_px"] == 1920.0 and cam["lens"] == "fisheye" and cam["fov_deg"] == 60.0
    ctx.close()
    assert not errors, errors
