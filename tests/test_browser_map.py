"""The map's first view, its fits around the panel and controls, the legend, hamlet names and
cluster colours, in Chromium on a 1366×900 desktop and a 390×844 phone (the demo dataset:
five districts from Khánh Hòa to Bến Tre).
"""

from __future__ import annotations

import pytest

from tests.browser_support import ARTIFACTS, login_form, wait_selected, watched_page
from tests.test_browser import demo_server  # noqa: F401  (the module's live demo server)

_RECTS = """(sel) => Array.from(document.querySelectorAll(sel)).filter(e => e.offsetWidth && e.offsetHeight && !e.hidden)
  .map(e => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; })"""
_PROVINCES = """() => fetch('/collections/provinces/items?limit=100').then(r => r.json()).then(fc => fc.features.map(f => {
  const b = L.geoJSON(f).getBounds(), m = geoAntt.map, box = m.getContainer().getBoundingClientRect();
  const nw = m.latLngToContainerPoint(b.getNorthWest()), se = m.latLngToContainerPoint(b.getSouthEast());
  return [f.properties.name, [box.left + nw.x, box.top + nw.y, box.left + se.x, box.top + se.y]]; }))"""


def _overlap(a, b) -> bool:
    return a[0] < b[2] - 1 and b[0] < a[2] - 1 and a[1] < b[3] - 1 and b[1] < a[3] - 1


def _inside(a, box) -> bool:
    return a[0] >= box[0] - 1 and a[1] >= box[1] - 1 and a[2] <= box[2] + 1 and a[3] <= box[3] + 1


@pytest.mark.browser
def test_desktop_first_view_legend_labels_clusters(demo_server, browser):  # noqa: F811
    url, password = demo_server
    ctx, page, _requests, _errors = watched_page(browser, console=False, viewport={"width": 1366, "height": 900})
    login_form(page, url + "/", name="admin", password=password)
    page.wait_for_selector("path.leaflet-interactive", timeout=15000)
    page.locator("body[data-first-view='done']").wait_for(state="attached", timeout=5000)
    page.wait_for_timeout(500)
    box = page.evaluate(
        "() => { const r = geoAntt.map.getContainer().getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; }"
    )
    covers = (
        page.evaluate(_RECTS, ".leaflet-control-layers")
        + page.evaluate(_RECTS, ".legend")
        + page.evaluate(_RECTS, ".leaflet-top.leaflet-left .leaflet-control")
    )
    provinces = page.evaluate(_PROVINCES)
    names = [n for n, _ in provinces]
    assert any("Khánh Hòa" in n for n in names) and any("Bến Tre" in n for n in names), names
    for name, rect in provinces:  # every province wholly on the map, under no control
        assert _inside(rect, box), (name, rect, box)
        for c in covers:
            assert not _overlap(rect, c), (name, rect, c)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "map_first_view_1366.png"))

    # the legend lists the layers that are on: the gaps layer starts off
    legend = page.locator(".legend")
    assert legend.get_attribute("data-layers") == "coverage" and page.locator(".legend .legend-gaps").count() == 0
    page.locator(".leaflet-control-layers-overlays label", has_text="Vùng chưa được phủ").locator("input").check()
    page.locator(".legend .legend-gaps").wait_for(timeout=5000)
    page.locator(".leaflet-control-layers-overlays label", has_text="Tỷ lệ phủ theo thôn").locator("input").uncheck()
    assert legend.get_attribute("data-layers") == "gaps" and page.locator(".legend .legend-row").count() == 1
    page.locator(".leaflet-control-layers-overlays label", has_text="Vùng chưa được phủ").locator("input").uncheck()
    assert legend.is_hidden()
    page.locator(".leaflet-control-layers-overlays label", has_text="Tỷ lệ phủ theo thôn").locator("input").check()

    # camera clusters: slate, not the green of the coverage classes
    colours = page.evaluate("""() => Array.from(document.querySelectorAll('.marker-cluster div')).slice(0, 5)
        .map(d => getComputedStyle(d).backgroundColor)""")
    assert colours and all(c.startswith(("rgba(38, 50, 56", "rgba(21, 28, 33")) for c in colours), colours

    # hamlet names from zoom 13, where they fit
    page.fill("#search", "huong my")
    hit = page.locator("#search-results button").first
    hit.wait_for(timeout=5000)
    code = hit.get_attribute("data-code")
    hit.click()
    wait_selected(page, code)
    page.evaluate("geoAntt.map.setZoom(13, {animate: false})")
    page.wait_for_timeout(1500)
    page.wait_for_load_state("networkidle")
    shown = page.locator(".unit-label-hamlets:not(.label-hidden)")
    assert shown.count() > 0
    for i in range(min(shown.count(), 5)):
        assert shown.nth(i).is_visible()
    page.screenshot(path=str(ARTIFACTS / "map_hamlet_names_z13.png"))
    ctx.close()


@pytest.mark.browser
def test_phone_fits_above_the_panel_and_clear_of_the_edit_button(demo_server, browser):  # noqa: F811
    url, password = demo_server
    ctx, page, _requests, _errors = watched_page(
        browser, console=False, viewport={"width": 390, "height": 844}, is_mobile=True
    )
    login_form(page, url + "/", name="admin", password=password)
    page.wait_for_selector("path.leaflet-interactive", timeout=15000)
    page.click("#panel-toggle")
    page.wait_for_timeout(400)
    page.fill("#search", "huong my")
    hit = page.locator("#search-results button").first
    hit.wait_for(timeout=5000)
    code = hit.get_attribute("data-code")
    hit.click()
    wait_selected(page, code)
    page.wait_for_timeout(800)
    panel = page.evaluate(_RECTS, "#panel")[0]
    bbox = page.evaluate("""() => { const u = geoAntt.state.stats.unit.bbox, m = geoAntt.map;
        const nw = m.latLngToContainerPoint([u[3], u[0]]), se = m.latLngToContainerPoint([u[1], u[2]]);
        return [nw.x, nw.y, se.x, se.y]; }""")
    assert bbox[3] <= panel[1] + 1, (bbox, panel)  # the commune is drawn above the open sheet
    assert bbox[0] >= -1 and bbox[2] <= 391 and bbox[1] >= -1
    page.screenshot(path=str(ARTIFACTS / "map_phone_commune.png"))

    page.select_option("#plan-kind", "camera")
    page.fill("#plan-count", "3")
    page.click("#plan-run")
    page.locator("body[data-plan-sites='3']").wait_for(state="attached", timeout=60000)
    page.wait_for_timeout(800)
    markers = page.evaluate(_RECTS, ".proposed-marker")
    covers = (
        page.evaluate(_RECTS, "#edit-toggle") + page.evaluate(_RECTS, "#panel-toggle") + page.evaluate(_RECTS, "#panel")
    )
    assert len(markers) == 3
    assert page.evaluate(_RECTS, "#edit-toggle"), "the admin has the edit button"
    for m in markers:
        for c in covers:
            assert not _overlap(m, c), (m, c)
    page.screenshot(path=str(ARTIFACTS / "map_phone_plan.png"))
    ctx.close()
