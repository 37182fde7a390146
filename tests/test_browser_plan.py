"""The plan panel in Chromium: the least spacing between proposed sites, the gain in m², and
proposed footprints that stay visible below street zoom.
"""

from __future__ import annotations

import pytest

from tests.browser_support import ARTIFACTS, login_form, wait_selected, watched_page
from tests.web_fixtures import WEB_PASSWORD, WEB_USERS


@pytest.mark.browser
def test_plan_spacing_gain_and_footprints_below_street_zoom(live_server, browser):
    ctx, page, _requests, errors = watched_page(browser, viewport={"width": 1366, "height": 900})
    login_form(page, live_server + "/", name=WEB_USERS["admin"][0], password=WEB_PASSWORD)
    page.wait_for_selector("path.leaflet-interactive", timeout=10000)
    page.evaluate("window.geoAntt.selectUnit('28903', {zoom: true})")
    wait_selected(page, "28903")
    # the spacing follows the kind (its layer spec) until typed over
    assert page.input_value("#plan-min-spacing") == "30"
    page.select_option("#plan-kind", "lighting")
    assert page.input_value("#plan-min-spacing") == "25"
    page.select_option("#plan-kind", "camera")
    assert page.input_value("#plan-min-spacing") == "30"
    page.fill("#plan-min-spacing", "120")
    page.fill("#plan-count", "3")
    with page.expect_request(lambda r: r.url.endswith("/api/plan")) as req:
        page.click("#plan-run")
    assert req.value.post_data_json["min_spacing_m"] == "120"
    page.locator("body[data-plan-sites='3']").wait_for(state="attached", timeout=30000)
    text = page.locator("#plan-result").inner_text()
    assert "Heuristic" not in text and "heuristic" not in text
    # the covered share moves, and the gain is written in m² next to it
    line = page.locator("#plan-result p.fig-total").nth(1).inner_text()
    assert "→" in line and "(+" in line and line.rstrip().endswith("m²)"), line
    # the proposed sites stand 120 m apart at least
    d = page.evaluate("""() => { const ll = []; geoAntt.plan.layer.eachLayer(g => { if (g.eachLayer) g.eachLayer(l => {
        if (l.getIcon) ll.push(l.getLatLng()); }); });
        const out = []; for (let i = 0; i < ll.length; i++) for (let j = i + 1; j < ll.length; j++) out.push(geoAntt.map.distance(ll[i], ll[j]));
        return out; }""")
    assert len(d) == 3 and min(d) >= 119.0, d

    # below street zoom: solid footprints and a dashed ring of fixed size around each site
    ARTIFACTS.mkdir(exist_ok=True)
    for z in (17, 15, 14, 13):
        page.evaluate(f"geoAntt.map.setView(geoAntt.plan.layer.getBounds().getCenter(), {z}, {{animate: false}})")
        page.wait_for_timeout(500)
        rings = page.locator("path.proposed-halo")
        assert rings.count() == 3
        opacity = [float(rings.nth(i).get_attribute("stroke-opacity")) for i in range(3)]
        if z >= 16:
            assert opacity == [0, 0, 0]
            assert page.locator("path.proposed-footprint[stroke-dasharray='6 5']").count() == 3
        else:
            assert opacity == [1, 1, 1]
            for i in range(3):
                box = rings.nth(i).bounding_box()
                assert box and box["width"] >= 36 and box["height"] >= 36, box
            assert page.locator("path.proposed-footprint[stroke-dasharray]").count() == 0
        page.screenshot(path=str(ARTIFACTS / f"plan_zoom{z}.png"))
    ctx.close()
    assert not errors, errors
