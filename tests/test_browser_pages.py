"""Real-browser test of the import and audit pages: headless Chromium (Debian package) driven
by Playwright against a live server on a random loopback port, logged in as an officer through
the login form. Screenshots go to tests/artifacts/.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser_support import ARTIFACTS, watched_page
from tests.web_fixtures import WEB_PASSWORD, WEB_USERS

HEADER = "mã,loại,tên,vĩ độ,kinh độ,hướng,góc,tầm xa,mã thôn\n"


def _state(page, state: str) -> None:
    # an import is a background job: the first one of a fresh machine waits for the parse
    # worker process to start (it imports geopandas, compiling every module on a clean clone)
    page.locator(f"body[data-import-state='{state}']").wait_for(state="attached", timeout=60000)


def _preview(page, path: Path) -> None:
    page.set_input_files("#import-file", str(path))
    page.click("#import-preview")


@pytest.mark.browser
def test_import_then_audit_in_chromium(live_server, browser, web_store, tmp_path):
    cam = web_store.get_model("CAM002")
    lon, lat = cam["geometry"].x, cam["geometry"].y
    # one row (spreadsheet row 3) lies in the neighbouring commune, Xã An Thạnh
    bad = tmp_path / "xa_huong_my_loi.csv"
    bad.write_text(
        HEADER
        + "HM-N1,camera,Camera cổng chợ,10.1032,106.3010,45,90,50,28903-02\n"
        + "HM-N2,camera,Camera đầu cầu,10.1030,106.3060,45,90,50,28903-02\n",
        encoding="utf-8",
    )
    good = tmp_path / "xa_huong_my.csv"
    good.write_text(
        HEADER
        + "HM-N1,camera,Camera cổng chợ,10.1032,106.3010,45,90,50,28903-02\n"
        + "HM-N2,camera,Camera đầu cầu,10.1012,106.3025,180,90,40,28903-02\n"
        + f"CAM002,camera,Camera nhà văn hoá,{lat!r},{lon!r},{cam['direction_deg'][0]!r},90,60,28903-01\n",
        encoding="utf-8",
    )
    ids_before = sorted(web_store.models_frame().index)

    ctx, page, requests, errors = watched_page(browser, viewport={"width": 1280, "height": 900})

    page.goto(live_server + "/import", wait_until="domcontentloaded")
    assert "/login" in page.url
    page.fill("#name", WEB_USERS["officer"][0])
    page.fill("#password", WEB_PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert page.url.endswith("/import"), page.url
    errors.clear()  # the login page's favicon request (404) is expected
    assert page.locator("#import-unit").input_value() == "28903"

    # 1. a file with a row outside the commune: rejected with its row number; nothing to commit
    _preview(page, bad)
    _state(page, "rejected")
    row = page.locator("#import-rejected tbody tr")
    assert row.count() == 1
    cells = row.first.locator("td").all_inner_texts()
    assert cells[0] == "3" and cells[1] == "HM-N2" and cells[4] == "vị trí nằm ngoài địa bàn đơn vị 28903"
    assert row.first.locator("td.reason").get_attribute("title") == "position outside unit 28903"
    assert page.locator("#import-outside tbody tr").count() == 1
    assert page.locator("[data-count='rejected'] .n").inner_text() == "1"
    assert page.locator("[data-count='outside'] .n").inner_text() == "1"
    assert page.locator("[data-count='new'] .n").inner_text() == "1"
    assert page.locator("#import-commit").is_disabled()
    assert "Có dòng bị từ chối" in page.locator("#import-status").inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "import_rejected.png"), full_page=True)
    assert sorted(web_store.models_frame().index) == ids_before  # the preview wrote nothing

    # 2. the clean file: preview (2 new, 1 update old -> new), then write it
    _preview(page, good)
    _state(page, "ready")
    assert page.locator("[data-count='new'] .n").inner_text() == "2"
    assert page.locator("[data-count='update'] .n").inner_text() == "1"
    # only the name changes: the columns the sheet does not have (owner, field...) stay as stored
    assert page.locator("#import-updates tbody tr").count() == 1
    upd = page.locator("#import-updates tbody tr").first.locator("td").all_inner_texts()
    assert upd == ["CAM002", "Tên", f"{cam['name']} → Camera nhà văn hoá"]
    assert page.locator("#import-commit").is_enabled()
    page.screenshot(path=str(ARTIFACTS / "import_preview.png"), full_page=True)
    page.click("#import-commit")
    _state(page, "committed")
    assert page.locator("#import-status").inner_text() == "Đã ghi vào sổ: 2 thêm mới, 1 cập nhật, 0 không đổi."
    page.screenshot(path=str(ARTIFACTS / "import_committed.png"), full_page=True)
    frame = web_store.models_frame()
    assert {"HM-N1", "HM-N2"} <= set(frame.index) and frame.loc["CAM002", "name"] == "Camera nhà văn hoá"
    assert frame.loc["HM-N2", "unit_code"] == "28903-02" and frame.loc["HM-N1", "created_by"] == WEB_USERS["officer"][0]
    assert frame.loc["CAM002", "owner"] == cam["owner"] and frame.loc["CAM002", "version"] == cam["version"] + 1

    # 3. the same file again: nothing to change
    _preview(page, good)
    _state(page, "nothing")
    assert page.locator("[data-count='unchanged'] .n").inner_text() == "3"
    assert "Không có gì thay đổi" in page.locator("#import-status").inner_text()
    assert page.locator("#import-commit").is_disabled()

    # 4. the audit page lists the import, newest first, in Vietnam time
    page.click("#nav-audit")
    page.wait_for_selector("#audit-table")
    rows = page.locator("#audit-table tbody tr")
    first_models = [rows.nth(i).get_attribute("data-model") for i in range(4)]
    assert first_models[0] == ""  # the import summary (import_batch) is the newest entry
    assert rows.first.get_attribute("data-action") == "import_batch"
    assert set(first_models[1:]) == {"HM-N1", "HM-N2", "CAM002"}
    cam_row = page.locator("#audit-table tr[data-model='CAM002'][data-action='import']").first
    text = cam_row.inner_text()
    assert WEB_USERS["officer"][0] in text and "Camera nhà văn hoá" in text and "→" in text
    assert page.locator("th", has_text="Thời gian (UTC+7)").count() == 1
    page.fill("#f-model", "HM-N2")
    with page.expect_navigation():
        page.click("#f-submit")
    assert [r.get_attribute("data-model") for r in page.locator("#audit-table tbody tr").all()] == ["HM-N2"]
    page.screenshot(path=str(ARTIFACTS / "audit_filtered.png"), full_page=True)
    page.goto(live_server + "/audit", wait_until="networkidle")
    page.screenshot(path=str(ARTIFACTS / "audit.png"), full_page=True)
    # a phone: the same pages stay usable; the audit log is laid out as cards, as wide as the
    # screen (no sideways scroll), units named
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(live_server + "/audit", wait_until="networkidle")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert page.locator("#audit-table thead").is_hidden()
    assert page.locator("#audit-table td.unit .unit-name").count() > 0
    page.screenshot(path=str(ARTIFACTS / "audit_phone.png"), full_page=True)
    page.goto(live_server + "/import", wait_until="networkidle")
    _preview(page, bad)
    _state(page, "rejected")
    page.screenshot(path=str(ARTIFACTS / "import_phone.png"), full_page=True)

    assert errors == []
    assert all(u.startswith(live_server) or u.startswith("data:") for u in requests), requests
    ctx.close()
