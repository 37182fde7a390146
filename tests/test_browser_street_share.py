"""Where the store has roads, the map shades and ranks hamlets by the share of their street
length that is covered (the CLI's and the report's rule), and says so; the area share stays
beside it for comparison.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from tests.browser_support import ARTIFACTS, login_form, watched_page
from tests.web_fixtures import WEB_PASSWORD, WEB_USERS


@pytest.fixture()
def app(web_store, synthetic_dir):
    """The web app on the synthetic store, with a street grid over its communes (no precomputed
    coverage: the catalog computes it, street figures included).
    """
    from geo_antt.app import create_app

    units = web_store.units_frame()
    communes = units[units["level"] == "commune"]
    lines = []
    for _, c in communes.iterrows():
        x0, y0, x1, y1 = c.geometry.bounds
        lines += [shapely.LineString([(x, y0), (x, y1)]) for x in np.linspace(x0, x1, 9)]
        lines += [shapely.LineString([(x0, y), (x1, y)]) for y in np.linspace(y0, y1, 9)]
    grid = gpd.GeoDataFrame(
        {"osm_id": [f"w{i}" for i in range(len(lines))], "highway": "residential", "name": "Đường"},
        geometry=lines,
        crs="EPSG:4326",
    )
    web_store.load_context("roads", grid, unit_codes=list(communes.index), user=None)
    return create_app({"TESTING": True, "DATA_DIR": str(synthetic_dir), "STORE": web_store, "SECRET_KEY": "web-test"})


@pytest.mark.browser
def test_the_panel_measures_streets_where_they_are_known(live_server, browser, app):
    ctx, page, requests, errors = watched_page(browser, viewport={"width": 1366, "height": 900})
    login_form(page, live_server + "/", name=WEB_USERS["admin"][0], password=WEB_PASSWORD)
    street = page.locator("#figures .fig-total[data-measure='street']")
    street.wait_for(timeout=15000)
    assert "Tỷ lệ chiều dài đường được phủ" in street.inner_text()
    assert "Tỷ lệ diện tích được phủ (để so sánh)" in page.locator("#figures").inner_text()
    with app.app_context():
        from geo_antt.app.context import get_catalog

        st = get_catalog().stats(None, ranked_limit=5)
    assert st["coverage"]["measure"] == "street"
    shown = street.locator("strong").inner_text().replace("\u00a0", " ")
    want = st["coverage"]["road_covered_pct"]
    # the panel writes the share with the one formatter (vi: decimal comma)
    assert shown.endswith("%") and float(shown.rstrip(" %").replace(".", "").replace(",", ".")) == pytest.approx(
        want, abs=0.06
    ), (shown, want)
    first = page.locator("#least-covered li button").first
    assert st["least_covered"][0]["name"] in first.inner_text()
    page.screenshot(path=str(ARTIFACTS / "street_share_panel.png"))
    assert errors == [], errors
    ctx.close()
