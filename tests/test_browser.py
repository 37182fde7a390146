"""Real-browser test of the map page: headless Chromium (Debian package) driven by Playwright,
against a live server on a random loopback port, logged in through the real login form; and
GDAL's OAPIF driver against the same server with an API token.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest
from werkzeug.serving import make_server

from tests.browser_support import ARTIFACTS, login_form, need, wait_selected, watched_page
from tests.web_fixtures import WEB_PASSWORD, WEB_USERS


@pytest.mark.browser
def test_map_page_in_chromium(live_server, browser, tmp_path):
    ctx, page, requests, errors = watched_page(browser, viewport={"width": 1280, "height": 800}, accept_downloads=True)

    # a wrong password keeps the browser on the login page, with the message
    page.goto(live_server + "/", wait_until="domcontentloaded")
    page.fill("#name", WEB_USERS["admin"][0])
    page.fill("#password", "sai-mat-khau")
    page.click("button[type=submit]")
    page.wait_for_selector("text=Sai tên đăng nhập hoặc mật khẩu.", timeout=5000)
    login_form(page, live_server + "/", name=WEB_USERS["admin"][0], password=WEB_PASSWORD)
    errors.clear()  # the 401 of the wrong password is expected
    # the layers drew: outlines/choropleth as SVG paths, models as markers (or clusters)
    page.wait_for_selector("path.leaflet-interactive", timeout=10000)
    page.wait_for_selector(".leaflet-marker-icon", timeout=10000)
    assert page.locator(".leaflet-control-layers-overlays label").count() >= 8
    assert page.locator(".legend").count() == 1

    # least-covered list is ranked and a click selects (and zooms to) the hamlet
    first = page.locator("#least-covered button").first
    first.wait_for(timeout=5000)
    assert first.get_attribute("data-code") == "28891-02"
    assert first.inner_text().startswith("Ấp Tân Phú (Xã An Thạnh)")  # the whole area: each hamlet names its commune
    first.click()
    wait_selected(page, "28891-02")
    assert page.locator("#area-name").inner_text() == "Ấp Tân Phú"

    # search ignoring diacritics and case: "huong my" finds "Xã Hương Mỹ"
    page.fill("#search", "huong my")
    hit = page.locator("#search-results button[data-code='28903']")
    hit.wait_for(timeout=5000)
    assert hit.inner_text().startswith("Xã Hương Mỹ")
    hit.click()
    wait_selected(page, "28903")
    assert page.locator("#area-name").inner_text() == "Xã Hương Mỹ"

    # drill-down: pick a hamlet of the commune in the last select
    last = page.locator("select.drill-select[data-depth='3']")
    last.wait_for(timeout=5000)
    last.select_option("28903-02")
    wait_selected(page, "28903-02")
    assert page.locator("#area-name").inner_text() == "Ấp Đồng Xuân"
    page.wait_for_timeout(600)  # fitBounds animation + bbox reloads
    page.wait_for_load_state("networkidle")
    # zoomed on the hamlet: camera markers and sectors are drawn individually
    assert page.locator(".model-marker").count() >= 1
    assert page.locator(".model-icon.not-active").count() >= 1  # inactive cameras drawn faded

    # gaps are off at start; ticking them in the layer control loads them by bbox, in red
    assert page.locator("path[fill='#e53935']").count() == 0
    page.locator(".leaflet-control-layers-overlays label", has_text="Vùng chưa được phủ").locator("input").check()
    page.wait_for_selector("path[fill='#e53935']", timeout=5000)
    assert any("/collections/gaps/items?bbox=" in u for u in requests)

    # the XSS camera's popup shows the name as text
    page.evaluate("window.geoAntt.selectUnit('28903-01', {zoom: true})")
    wait_selected(page, "28903-01")
    page.wait_for_timeout(600)
    page.wait_for_load_state("networkidle")
    opened = page.evaluate(
        """() => { let done = false;
        const cl = window.geoAntt.config.layers.find(d => d.id === 'camera').layer;
        cl.eachLayer(l => { if (!done && l.feature && l.feature.id === 'CAM001') {
            cl.zoomToShowLayer(l, () => l.openPopup()); done = true; } });
        return done; }"""
    )
    assert opened
    popup = page.locator(".leaflet-popup-content h3")
    popup.wait_for(timeout=5000)
    assert "<script>alert(1)</script>" in popup.inner_text()
    assert page.locator(".leaflet-popup-content script").count() == 0
    assert "Ngừng hoạt động" in page.locator(".leaflet-popup-content").inner_text()  # status label, not code
    ARTIFACTS.mkdir(exist_ok=True)
    page.wait_for_timeout(300)
    page.screenshot(path=str(ARTIFACTS / "map_popup.png"))

    # a download of the selected area's gaps
    with page.expect_download() as dl_info:
        page.locator("#downloads a[data-collection='gaps'][data-format='geojson']").click()
    dl = dl_info.value
    assert dl.suggested_filename == "gaps_28903-01.geojson"
    target = tmp_path / dl.suggested_filename
    dl.save_as(target)
    assert '"FeatureCollection"' in target.read_text(encoding="utf-8")

    # shares keep two decimals (geo_antt/numbers.py; a rural hamlet's 0.004 % is not "0 %"),
    # areas under a hectare are in m²
    shown = page.evaluate(
        "[0.0312, 0.004, 0, 6.4308, 100].map(window.geoAntt.formatPct).concat("
        "[420.4, 25300].map(window.geoAntt.formatArea))"
    )
    assert shown == ["0,03 %", "< 0,01 %", "0 %", "6,43 %", "100 %", "420 m²", "2,53 ha"]

    page.keyboard.press("Escape")
    page.evaluate("window.geoAntt.map.closePopup(); window.geoAntt.selectUnit('28903', {zoom: true})")
    page.wait_for_timeout(800)
    page.wait_for_load_state("networkidle")
    page.evaluate("document.getElementById('panel').scrollTop = 0")
    page.screenshot(path=str(ARTIFACTS / "map_desktop.png"))

    # a phone screen: the panel folds into a sheet toggled by a button
    phone = browser.new_context(viewport={"width": 390, "height": 780}, is_mobile=True)
    pp = phone.new_page()
    pp.on("request", lambda r: requests.append(r.url))
    login_form(pp, live_server + "/?lang=en", name=WEB_USERS["viewer"][0], password=WEB_PASSWORD)
    pp.wait_for_selector("path.leaflet-interactive", timeout=10000)
    assert pp.locator("#panel-toggle").is_visible()
    pp.screenshot(path=str(ARTIFACTS / "map_phone.png"))
    pp.click("#panel-toggle")
    pp.wait_for_timeout(400)
    assert pp.locator("#search").is_visible()
    pp.screenshot(path=str(ARTIFACTS / "map_phone_panel.png"))
    # the viewer of Xã Hương Mỹ: the drill-down starts at that commune, An Thạnh is not offered
    top = pp.locator("select.drill-select[data-depth='0'] option")
    codes = [top.nth(i).get_attribute("value") for i in range(top.count())]
    assert "28903" in codes and "28891" not in codes and "83" not in codes, codes
    phone.close()
    ctx.close()

    hosts = {urlparse(u).hostname for u in requests if not u.startswith(("data:", "blob:"))}
    assert hosts == {"127.0.0.1"}, hosts
    assert any("/static/vendor/leaflet/leaflet.js" in u for u in requests)
    assert any("/items?bbox=" in u for u in requests)
    assert not errors, errors


@pytest.mark.browser
def test_gdal_oapif_lists_collections(live_server, web_store):
    need(shutil.which("ogrinfo") is not None, "ogrinfo (gdal-bin) is not installed")
    denied = subprocess.run(
        ["ogrinfo", "-ro", "-so", f"OAPIF:{live_server}/"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "GDAL_HTTP_TIMEOUT": "20"},
    )
    assert denied.returncode != 0  # anonymous: 401
    token = web_store.create_token(WEB_USERS["admin"][0], label="ogrinfo", user=None)
    env = {**os.environ, "GDAL_HTTP_TIMEOUT": "20", "GDAL_HTTP_HEADERS": f"Authorization: Bearer {token}"}
    out = subprocess.run(
        ["ogrinfo", "-ro", "-so", f"OAPIF:{live_server}/"], capture_output=True, text=True, timeout=60, env=env
    )
    assert out.returncode == 0, out.stderr
    for cid in ("communes", "hamlets", "camera", "coverage", "gaps"):
        assert f": {cid}" in out.stdout or f" {cid} (" in out.stdout, out.stdout
    # and the features of one layer, with paging through the next links
    out = subprocess.run(
        ["ogrinfo", "-ro", "-al", "-so", f"OAPIF:{live_server}/", "camera"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert out.returncode == 0, out.stderr
    assert "Feature Count: 19" in out.stdout, out.stdout


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory):
    """Live server on the embedded demo dataset (data/) seeded into a new store on first run
    (as ``make run`` does), coverage computed by the engine; yields (url, admin password).
    """
    from geo_antt.app import create_app, ensure_admin_account
    from geo_antt.config import DEFAULT_DATA_DIR

    need((Path(DEFAULT_DATA_DIR) / "dataset.toml").is_file(), f"demo data missing in {DEFAULT_DATA_DIR}")
    db = tmp_path_factory.mktemp("demo-store") / "geo-antt.sqlite"
    app = create_app({"TESTING": True, "DATA_DIR": str(DEFAULT_DATA_DIR), "DB": f"sqlite:///{db}"})
    store = app.extensions["geo_antt"].store
    password = ensure_admin_account(store)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", password
    finally:
        server.shutdown()
        thread.join(timeout=5)
        store.close()


@pytest.mark.browser
def test_demo_map_in_chromium(demo_server, browser, tmp_path):
    ctx, page, requests, errors = watched_page(
        browser, console=False, viewport={"width": 1280, "height": 800}, accept_downloads=True
    )
    url, password = demo_server
    login_form(page, url + "/", name="admin", password=password)
    page.wait_for_selector("path.leaflet-interactive", timeout=15000)

    page.fill("#search", "huong my")
    hit = page.locator("#search-results button").first
    hit.wait_for(timeout=5000)
    assert hit.inner_text().startswith("Xã Hương Mỹ")
    code = hit.get_attribute("data-code")
    hit.click()
    wait_selected(page, code)
    # drill down to the least-covered hamlet of the commune
    worst = page.locator("#least-covered button").first
    worst.wait_for(timeout=5000)
    hamlet = worst.get_attribute("data-code")
    worst.click()
    wait_selected(page, hamlet)
    assert page.locator("select.drill-select").count() >= 4  # province, district, commune, hamlet
    page.wait_for_timeout(800)
    page.wait_for_load_state("networkidle")
    assert page.locator(".leaflet-marker-icon").count() > 0
    assert page.locator("path.leaflet-interactive").count() > 0

    with page.expect_download() as dl_info:
        page.locator("#downloads a[data-collection='coverage'][data-format='gpkg']").click()
    dl = dl_info.value
    assert dl.suggested_filename == f"coverage_{hamlet}.gpkg"
    target = tmp_path / dl.suggested_filename
    dl.save_as(target)
    import geopandas as gpd

    got = gpd.read_file(target, engine="pyogrio")
    assert list(got["unit_code"]) == [hamlet]
    assert 0 <= got["covered_pct"].iat[0] <= 100

    ARTIFACTS.mkdir(exist_ok=True)
    page.evaluate("document.getElementById('panel').scrollTop = 0")
    page.screenshot(path=str(ARTIFACTS / "demo_hamlet.png"))
    ctx.close()
    hosts = {urlparse(u).hostname for u in requests if not u.startswith(("data:", "blob:"))}
    assert hosts == {"127.0.0.1"}, hosts
    assert not errors, errors


@pytest.mark.browser
def test_plan_panel_in_chromium(live_server, browser, tmp_path):
    """Select a commune, ask for 3 new cameras: 3 proposed markers, the list, the report links."""
    ctx, page, requests, errors = watched_page(browser, viewport={"width": 1280, "height": 800}, accept_downloads=True)
    login_form(page, live_server + "/", name=WEB_USERS["admin"][0], password=WEB_PASSWORD)
    assert errors == []  # the login page loads cleanly (its icon is served)
    page.wait_for_selector("path.leaflet-interactive", timeout=10000)
    assert page.locator("#plan-run").is_disabled()  # nothing selected yet

    page.fill("#search", "huong my")
    hit = page.locator("#search-results button[data-code='28903']")
    hit.wait_for(timeout=5000)
    hit.click()
    wait_selected(page, "28903")
    assert page.locator("#plan-run").is_enabled()
    page.select_option("#plan-kind", "camera")
    page.fill("#plan-count", "3")
    page.click("#plan-run")
    page.locator("body[data-plan-sites='3']").wait_for(state="attached", timeout=30000)
    assert page.locator(".proposed-marker").count() == 3
    assert page.locator("#plan-result ol.plan-sites li").count() == 3
    assert page.locator(".leaflet-control-layers-overlays label", has_text="Đề xuất").count() == 1
    # the dashed footprints are drawn under the markers
    assert page.locator("path.proposed-footprint").count() == 3
    assert "m²" in page.locator("#plan-result").inner_text()
    # each site is listed with its hamlet and position (lat, lon), as the CLI gives them
    first_site = page.locator("#plan-result ol.plan-sites li button").first.inner_text()
    assert re.search(r"(Ấp|Khu phố|Thôn)[^(]*\(10\.\d{5}, 106\.\d{5}\)", first_site), first_site
    # the covered share shows its gain (enough digits)
    before, after = page.locator("#plan-result p.fig-total").nth(1).inner_text().split(": ", 1)[1].split(" → ")
    assert before != after
    assert "Phương pháp: chính xác (quy hoạch nguyên, CBC) (tối ưu)" in page.locator("#plan-result").inner_text()
    assert any(u.endswith("/api/plan") for u in requests)

    # a proposed site's popup
    page.locator("#plan-result ol.plan-sites button[data-rank='1']").click()
    page.locator(".leaflet-popup-content h3").wait_for(timeout=5000)
    assert "1" in page.locator(".leaflet-popup-content h3").inner_text()
    page.evaluate("window.geoAntt.map.closePopup()")
    page.locator("body[data-plan-sites='3']").wait_for(state="attached", timeout=5000)
    page.evaluate("window.geoAntt.map.fitBounds(window.geoAntt.plan.layer.getBounds().pad(0.4))")
    page.wait_for_timeout(700)
    page.wait_for_load_state("networkidle")

    # accept the first proposal into the registry: it becomes an active model on the map
    page.locator("#plan-result button[data-accept='1']").click()
    accepted = page.locator("#plan-result button[data-accept='1'][data-model-id]")
    accepted.wait_for(state="attached", timeout=10000)
    assert accepted.is_disabled()
    model_id = accepted.get_attribute("data-model-id")
    page.wait_for_load_state("networkidle")
    got = page.evaluate("(id) => fetch('/api/registry/models/' + encodeURIComponent(id)).then(r => r.json())", model_id)
    assert got["properties"]["status"] == "active" and got["properties"]["kind"] == "camera"

    # the report of the selected commune, for the period typed in
    page.fill("#report-from", "2024-01-01")
    page.fill("#report-to", "2024-09-30")
    link = page.locator("#report-links a[data-format='xlsx']")
    assert "/report/28903.xlsx?period=2024-01-01%3A2024-09-30" in link.get_attribute("href")
    with page.expect_download() as dl_info:
        link.click()
    dl = dl_info.value
    assert dl.suggested_filename == "bao_cao_28903_2024-01-01_2024-09-30.xlsx"
    dl.save_as(tmp_path / dl.suggested_filename)
    from openpyxl import load_workbook

    assert load_workbook(tmp_path / dl.suggested_filename).worksheets[0].max_row > 2

    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("#plan-section").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "plan_desktop.png"))

    # a phone: the officer of Xã Hương Mỹ, in English, from the folded panel
    phone = browser.new_context(viewport={"width": 390, "height": 780}, is_mobile=True)
    pp = phone.new_page()
    pp.on("request", lambda r: requests.append(r.url))
    pp.on("pageerror", lambda e: errors.append(str(e)))
    login_form(pp, live_server + "/?lang=en", name=WEB_USERS["officer"][0], password=WEB_PASSWORD)
    pp.wait_for_selector("path.leaflet-interactive", timeout=10000)
    pp.evaluate("window.geoAntt.selectUnit('28903-02', {zoom: true})")
    wait_selected(pp, "28903-02")
    pp.click("#panel-toggle")
    pp.wait_for_timeout(400)
    pp.select_option("#plan-kind", "lighting")
    pp.fill("#plan-count", "2")
    pp.click("#plan-run")
    pp.locator("body[data-plan-sites='2']").wait_for(state="attached", timeout=30000)
    assert pp.locator(".proposed-marker").count() == 2
    assert "Suggest new sites" in pp.locator("#plan-section h2").inner_text()
    pp.locator("#plan-result").scroll_into_view_if_needed()
    pp.wait_for_timeout(300)
    pp.screenshot(path=str(ARTIFACTS / "plan_phone.png"))
    pp.click("#panel-toggle")  # fold the panel: the proposed sites on the map
    pp.wait_for_timeout(500)
    assert pp.locator(".proposed-marker").first.is_visible()
    pp.screenshot(path=str(ARTIFACTS / "plan_phone_map.png"))
    phone.close()
    ctx.close()

    hosts = {urlparse(u).hostname for u in requests if not u.startswith(("data:", "blob:"))}
    assert hosts == {"127.0.0.1"}, hosts
    assert not errors, errors
