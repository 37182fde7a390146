"""The map editor shows what a camera would really see while it is placed and turned (issue #16):
in a real browser, an officer puts a camera 10 m east of a house; facing the house, the page
draws the footprint cut by it (the server's ``POST /api/edit/footprint``, the same cut the map
draws once saved), facing away the whole sector.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.browser_support import ARTIFACTS, watched_page
from tests.test_browser_edit import _free_spot, _open, _state, _to_lonlat, _to_screen

SECTOR_M2 = math.pi * 40**2 * 60 / 360
HOUSE: dict = {}  # the house of the app fixture (lon/lat)


def _seen_m2(lon: float, lat: float, direction: float) -> float:
    """What a 60°, 40 m camera at (lon, lat) sees past the house, computed independently: in
    UTM 48N, the sector minus the house's shadow (the hull of the house and of the house pushed
    1 km away from the camera).
    """
    import shapely
    from pyproj import Transformer

    to_m = Transformer.from_crs(4326, 32648, always_xy=True).transform
    cx, cy = to_m(lon, lat)
    arc = [math.radians(90 - (direction - 30 + 60 * i / 256)) for i in range(257)]
    sector = shapely.Polygon([(cx, cy)] + [(cx + 40 * math.cos(a), cy + 40 * math.sin(a)) for a in arc])
    house = shapely.transform(HOUSE["geometry"], lambda xy: np.column_stack(to_m(xy[:, 0], xy[:, 1])))
    far = shapely.affinity.scale(house, 1000, 1000, origin=(cx, cy))
    shadow = shapely.union(house, far).convex_hull
    return float(sector.difference(shadow).area)


@pytest.fixture()
def spot(web_store):
    return _free_spot(web_store)


@pytest.fixture()
def app(web_store, synthetic_dir, spot):
    """The app on the synthetic store with one 10 m x 10 m house west of the free spot."""
    import geopandas as gpd
    import shapely

    from geo_antt.app import create_app

    lon, lat = spot
    mx, my = 1 / (111_320.0 * np.cos(np.radians(lat))), 1 / 110_574.0  # degrees per metre
    house = shapely.box(lon - 20 * mx, lat - 5 * my, lon - 10 * mx, lat + 5 * my)
    HOUSE["geometry"] = house
    frame = gpd.GeoDataFrame({"osm_id": ["b1"], "building": ["house"]}, geometry=[house], crs="EPSG:4326")
    web_store.load_context("buildings", frame, unit_codes=["28903"], user=None)
    return create_app({"TESTING": True, "DATA_DIR": str(synthetic_dir), "STORE": web_store, "SECRET_KEY": "t"})


def _preview(page) -> tuple[float, float]:
    """The visible and the whole footprint (m²) the page draws once its preview has caught up
    with the form.
    """
    page.locator("body[data-edit-preview-state='done']").wait_for(state="attached", timeout=8000)
    body = page.locator("body")
    return float(body.get_attribute("data-edit-visible-m2")), float(body.get_attribute("data-edit-sector-m2"))


@pytest.mark.browser
def test_turning_a_camera_towards_a_house_shows_what_it_would_see(live_server, browser, spot):
    ctx, page, requests, errors = watched_page(browser, viewport={"width": 1280, "height": 800})
    _open(page, live_server, "officer")
    page.click("#edit-toggle")
    _state(page, "idle")
    x, y = (round(v) for v in _to_screen(page, *spot))
    page.mouse.click(x, y)
    at = _to_lonlat(page, x, y)  # where the click put the camera (within a pixel of the spot)
    _state(page, "creating")
    page.fill("#edit-fov_deg", "60")
    page.fill("#edit-range_m", "40")
    page.fill("#edit-direction_deg", "270")
    seen, sector = _preview(page)
    assert sector == pytest.approx(SECTOR_M2, rel=0.01)
    expected = _seen_m2(*at, 270.0)
    assert expected < 0.5 * SECTOR_M2  # the house hides most of it
    assert seen == pytest.approx(expected, rel=0.02), (seen, expected)
    drawn = page.locator(".leaflet-geoAnttEdit-pane path").count()
    assert drawn >= 2  # the sector's outline and, over it, what it sees
    ARTIFACTS.mkdir(exist_ok=True)
    page.evaluate("([lat, lon]) => geoAntt.map.setView([lat, lon], 19, {animate: false})", [at[1], at[0]])
    page.wait_for_timeout(500)
    page.screenshot(path=str(ARTIFACTS / "edit_preview_facing_house.png"))
    page.fill("#edit-direction_deg", "90")
    seen, sector = _preview(page)
    assert seen == pytest.approx(sector, rel=1e-6)  # nothing in the way
    assert [u for u in requests if "/api/edit/footprint" in u]
    assert errors == []
    ctx.close()
