"""Without a base-map file, the dataset's roads (named along the line) and buildings are drawn
in headless Chromium from street zoom (15), under the choropleth, from the app only.
"""

from __future__ import annotations

from urllib.parse import urlparse

import pytest

from tests.basemap_fixtures import STREETS, write_context_dataset
from tests.browser_support import ARTIFACTS, login_form, watched_page
from tests.web_fixtures import WEB_PASSWORD, WEB_USERS


@pytest.fixture()
def app(web_store, synthetic_dir, synthetic_cov, tmp_path):
    """The web app (served by live_server) on the synthetic dataset with roads and buildings."""
    from geo_antt.app import create_app

    data = write_context_dataset(synthetic_dir, tmp_path / "ds")
    return create_app(
        {
            "TESTING": True,
            "DATA_DIR": str(data),
            "STORE": web_store,
            "COVERAGE": synthetic_cov,
            "SECRET_KEY": "web-test",
        }
    )


@pytest.mark.browser
def test_streets_drawn_from_street_zoom(live_server, browser):
    ctx, page, requests, errors = watched_page(browser, viewport={"width": 1280, "height": 800})
    login_form(page, live_server + "/", name=WEB_USERS["admin"][0], password=WEB_PASSWORD)
    page.wait_for_selector("path.leaflet-interactive", timeout=10000)
    page.evaluate("window.geoAntt.map.setZoom(14, {animate: false})")
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(300)
    assert page.locator(".leaflet-geoAnttRoads-pane path").count() == 0
    requests.clear()
    page.evaluate("window.geoAntt.map.panBy([200, 100], {animate: false})")
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(300)
    assert not any("/collections/roads/items" in u or "/collections/buildings/items" in u for u in requests)

    page.evaluate("window.geoAntt.map.setView([10.1022, 106.3035], 17, {animate: false})")
    page.wait_for_selector(".leaflet-geoAnttRoads-pane path", state="attached", timeout=10000)
    page.wait_for_selector(".leaflet-geoAnttBuildings-pane path", state="attached", timeout=10000)
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(400)
    assert any("/collections/roads/items?bbox=" in u and "limit=3000" in u for u in requests)
    assert page.locator(".leaflet-geoAnttRoads-pane path").count() >= 3
    assert page.locator(".leaflet-geoAnttBuildings-pane path").count() == 8
    # names along the lines (SVG textPath); the east-to-west street is turned to read left to right
    labels = page.locator(".leaflet-geoAnttRoads-pane text.road-label")
    texts = [t.replace("\u00a0", " ") for t in labels.all_text_contents()]
    assert set(texts) == {n for n, _ in STREETS}, texts
    flipped = page.locator(".leaflet-geoAnttRoads-pane text.road-label", has_text="Hẻm").get_attribute("transform")
    assert flipped and flipped.startswith("rotate(180")
    straight = page.locator(".leaflet-geoAnttRoads-pane text.road-label", has_text="Lê").get_attribute("transform")
    assert straight is None or straight.startswith("rotate(0")
    # the streets lie under the choropleth and outlines (a plain base layer)
    z = page.evaluate(
        "[getComputedStyle(document.querySelector('.leaflet-geoAnttRoads-pane')).zIndex,"
        " getComputedStyle(document.querySelector('.leaflet-geoAnttCoverage-pane')).zIndex]"
    )
    assert int(z[0]) < int(z[1])
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "streets_z17.png"), clip=page.locator("#map-wrap").bounding_box())
    # zoomed out again: gone
    page.evaluate("window.geoAntt.map.setZoom(14, {animate: false})")
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(300)
    assert page.locator(".leaflet-geoAnttRoads-pane path").count() == 0
    assert page.locator(".leaflet-geoAnttRoads-pane text.road-label").count() == 0
    hosts = {urlparse(u).netloc for u in requests if not u.startswith(("data:", "blob:"))}
    assert hosts == {urlparse(live_server).netloc}, hosts
    assert errors == []
    ctx.close()
