"""The offline base map in headless Chromium: an MBTiles file (raster tiles from
``/basemap/{z}/{x}/{y}``) and a PMTiles archive (vector tiles read by range requests and drawn
by protomaps-leaflet) show under the layers; every request stays on the app's origin.
"""

from __future__ import annotations

import io
from urllib.parse import urlparse

import pytest

from tests.basemap_fixtures import EARTH_RGB, TILE_RGB, make_mbtiles, make_pmtiles
from tests.browser_support import ARTIFACTS, login_form, watched_page
from tests.web_fixtures import WEB_PASSWORD, WEB_USERS

BBOX = (106.27, 10.08, 106.34, 10.125)  # the synthetic communes and around them
WATER_RGB = (170, 211, 223)  # map.js's vector flavour: water #aad3df


@pytest.fixture(params=["mbtiles", "pmtiles"])
def app(request, web_store, synthetic_dir, synthetic_cov, tmp_path):
    """The web app (the live_server fixture serves it) with a base-map file of each kind."""
    from geo_antt.app import create_app

    if request.param == "mbtiles":
        path = make_mbtiles(tmp_path / "bt.mbtiles", bbox=BBOX, zooms=range(12, 16))
    else:
        path = make_pmtiles(tmp_path / "bt.pmtiles", bbox=BBOX, zooms=range(12, 15))
    a = create_app(
        {
            "TESTING": True,
            "DATA_DIR": str(synthetic_dir),
            "STORE": web_store,
            "COVERAGE": synthetic_cov,
            "SECRET_KEY": "web-test",
            "BASEMAP": str(path),
        }
    )
    a.config["TEST_BASEMAP_KIND"] = request.param
    return a


def _share(png: bytes, rgb: tuple[int, int, int], *, tol: int = 6) -> float:
    """Share of the screenshot's pixels within ``tol`` of ``rgb`` (each channel)."""
    import numpy as np
    from PIL import Image

    px = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)
    near = (np.abs(px - np.array(rgb, dtype=np.int16)) <= tol).all(axis=2)
    return float(near.mean())


@pytest.mark.browser
def test_basemap_drawn_from_the_app_only(app, live_server, browser):
    kind = app.config["TEST_BASEMAP_KIND"]
    ctx, page, requests, errors = watched_page(browser, viewport={"width": 1280, "height": 800})
    login_form(page, live_server + "/", name=WEB_USERS["admin"][0], password=WEB_PASSWORD)
    page.wait_for_selector("path.leaflet-interactive", timeout=10000)
    # zoomed out a little: the base map shows around the (choropleth-covered) communes
    page.evaluate("window.geoAntt.map.setZoom(15, {animate: false})")
    if kind == "mbtiles":
        page.wait_for_selector("img.leaflet-tile-loaded", timeout=10000)
    else:
        page.wait_for_selector(".leaflet-tile-container canvas", state="attached", timeout=10000)
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(800)  # tiles fade in; vector tiles and labels are painted after loading
    label = page.locator(".leaflet-control-layers-base label")
    assert label.count() == 1 and "Bản đồ nền — Bến Tre" in label.inner_text()
    assert label.locator("input").is_checked()
    map_box = page.locator("#map-wrap").bounding_box()
    ARTIFACTS.mkdir(exist_ok=True)
    shot = page.screenshot(path=str(ARTIFACTS / f"basemap_{kind}.png"), clip=map_box)

    if kind == "mbtiles":
        assert any("/basemap/15/" in u for u in requests)
        assert _share(shot, TILE_RGB) > 0.2
        # the file's zooms stop at 15: deeper zooms stretch its tiles, never asking for more
        page.evaluate("window.geoAntt.map.setZoom(17, {animate: false})")
        page.wait_for_load_state("networkidle")
        assert not any("/basemap/16/" in u or "/basemap/17/" in u for u in requests)
        attribution = page.locator(".leaflet-control-attribution").inner_text()
        assert "© Sở TN&MT" in attribution
    else:
        ranges = [u for u in requests if u.endswith("/basemap.pmtiles")]
        assert ranges, requests
        assert _share(shot, EARTH_RGB) > 0.2  # land
        assert _share(shot, WATER_RGB) > 0.02  # the river band of each tile
        assert page.locator("script[src$='protomaps-leaflet.js']").count() == 1
    # every request went to the app itself
    hosts = {urlparse(u).netloc for u in requests if not u.startswith(("data:", "blob:"))}
    assert hosts == {urlparse(live_server).netloc}, hosts
    assert errors == []
    ctx.close()
