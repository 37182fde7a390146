"""The import and audit pages (geo_antt.app.pages): role matrix, scope, filters, paging, time zone,
escaping; the import preview names spreadsheet rows.
"""

from __future__ import annotations

import datetime as _dt
import io
import re

import pytest

from tests.storehelp import post_import
from tests.web_fixtures import WEB_USERS, XSS_NAME, login

OFFICER = WEB_USERS["officer"][0]  # can_bo_hm, Xã Hương Mỹ (28903)
OFFICER_B = WEB_USERS["officer_b"][0]  # can_bo_at, Xã An Thạnh (28891)


def _options(html: str, select_id: str) -> list[str]:
    block = re.search(rf'<select id="{select_id}"[^>]*>(.*?)</select>', html, re.S).group(1)
    return re.findall(r'<option value="([^"]*)"', block)


def _selected(html: str, select_id: str) -> str | None:
    block = re.search(rf'<select id="{select_id}"[^>]*>(.*?)</select>', html, re.S).group(1)
    m = re.search(r'<option value="([^"]*)" selected', block)
    return m.group(1) if m else None


def _entries(html: str) -> list[tuple[str, str, str]]:
    """(entry id, model id, action) of each audit table row."""
    return re.findall(r'<tr data-entry="(\d+)" data-model="([^"]*)" data-action="([^"]*)">', html)


@pytest.mark.parametrize("path", ["/import", "/audit"])
def test_anonymous_is_sent_to_login(app, path):
    r = login(app, None).get(path)
    assert r.status_code == 302 and "/login?next=" in r.headers["Location"]


def test_import_page_role_matrix(app):
    r = login(app, "viewer").get("/import")
    assert r.status_code == 403 and r.mimetype == "text/html"
    html = r.get_data(as_text=True)
    assert "Tài khoản của bạn không có quyền dùng trang này." in html and 'id="nav-import"' not in html
    r = login(app, "officer").get("/import")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    # only the officer's commune and its hamlets; its commune chosen
    assert sorted(_options(html, "import-unit")) == ["28903", "28903-01", "28903-02"]
    assert _selected(html, "import-unit") == "28903"
    assert "Xem trước" in html and "Ghi vào sổ" in html and 'aria-current="page"' in html
    assert "default-src 'self'" in r.headers["Content-Security-Policy"]
    assert re.search(r'<script src="/static/js/import.js">', html)
    html = login(app, "officer_b").get("/import").get_data(as_text=True)
    assert sorted(_options(html, "import-unit")) == ["28891", "28891-01", "28891-02"]
    # what the page posts is checked again by the API: outside the officer's area, or a viewer -> 403
    csv = b"id,kind,name,lat,lon,direction\nX1,camera,X,10.1032,106.3010,45\n"
    for role, unit in (("officer_b", "28903"), ("viewer", "28903")):
        c = login(app, role)
        r = post_import(c, {"unit": unit, "file": (io.BytesIO(csv), "x.csv")}, headers={"X-CSRFToken": c.csrf})
        assert r.status_code == 403, (role, r.get_json())
    html = login(app, "admin").get("/import?lang=en").get_data(as_text=True)
    assert len(_options(html, "import-unit")) == 8 and "Preview" in html and "Write to the registry" in html
    assert _selected(html, "import-unit") in ("28903", "28891")  # a commune, not the province


def test_map_page_links(app):
    html = login(app, "officer").get("/map").get_data(as_text=True)
    assert 'id="link-import" href="/import"' in html and 'id="link-audit" href="/audit"' in html
    html = login(app, "viewer").get("/map?lang=en").get_data(as_text=True)
    assert 'id="link-import"' not in html and 'id="link-audit" href="/audit?lang=en"' in html


def _edit(web_store, who: str, model_id: str, **changes):
    user = web_store.get_user(who)
    v = web_store.get_model(model_id, user=user)["version"]
    return web_store.update_model(model_id, changes, expected_version=v, user=user)


def test_audit_page_scope_per_role(app, web_store):
    _edit(web_store, OFFICER, "CAM002", name="Camera chợ Hương Mỹ")
    _edit(web_store, OFFICER_B, "GATE1", name="Cổng rào mới")
    officer = login(app, "officer").get("/audit")
    assert officer.status_code == 200
    html = officer.get_data(as_text=True)
    models = {m for _, m, _ in _entries(html)}
    assert "CAM002" in models and "GATE1" not in models
    # only models of Xã Hương Mỹ (28903-xx)
    units = re.findall(
        r'<td class="unit" data-label="[^"]*">(?:<span class="unit-name">[^<]+</span> <code>)?([^<]*)(?:</code>)?</td>',
        html,
    )
    assert re.search(r'<span class="unit-name">[^<]*\w[^<]*</span> <code>28903', html)  # units are shown by name
    assert units and all(u.startswith("28903") for u in units)
    viewer = login(app, "viewer").get("/audit").get_data(as_text=True)
    assert {m for _, m, _ in _entries(viewer)} == models  # a viewer reads the same area
    other = login(app, "officer_b").get("/audit").get_data(as_text=True)
    assert "GATE1" in {m for _, m, _ in _entries(other)} and "CAM002" not in {m for _, m, _ in _entries(other)}
    admin = login(app, "admin").get("/audit").get_data(as_text=True)
    actions = {a for _, _, a in _entries(admin)}
    assert {"update", "user_add"} <= actions  # account changes: admins only
    assert "user_add" not in {a for _, _, a in _entries(html)}
    # old -> new of the officer's edit, with the model's current name
    row = re.search(r'<tr data-entry="\d+" data-model="CAM002" data-action="update">(.*?)</tr>', html, re.S).group(1)
    assert "Camera chợ Hương Mỹ" in row and "→" in row and 'class="old"' in row and OFFICER in row


def test_audit_time_is_vietnam_time(app, web_store):
    _edit(web_store, OFFICER, "CAM003", range_m=70.0)
    at = web_store.audit_frame(model_id="CAM003", limit=1)["at"].iloc[0].to_pydatetime()
    local = (at + _dt.timedelta(hours=7)).strftime("%d/%m/%Y %H:%M:%S")
    html = login(app, "officer").get("/audit?model=CAM003").get_data(as_text=True)
    assert "Thời gian (UTC+7)" in html
    row = re.search(r'data-model="CAM003" data-action="update">(.*?)</tr>', html, re.S).group(1)
    assert f">{local}</time>" in row and at.isoformat() in row
    assert "Tầm xa (m)" in row and re.search(r'class="old">60</span> → <span class="new">70</span>', row)


def test_audit_filters(app, web_store):
    _edit(web_store, OFFICER, "CAM002", name="Sửa 1")
    _edit(web_store, OFFICER, "CAM008", name="Sửa 2")
    c = login(app, "admin")
    html = c.get("/audit?model=CAM002").get_data(as_text=True)
    assert {m for _, m, _ in _entries(html)} == {"CAM002"} and 'value="CAM002"' in html
    assert 'id="lang-switch" href="/audit?model=CAM002&amp;lang=en"' in html  # the filters survive
    en = c.get("/audit?model=CAM002&lang=en").get_data(as_text=True)
    assert "Audit log" in en and "Time (UTC+7)" in en and "Edited" in en
    assert (
        'id="lang-switch" href="/audit?model=CAM002&amp;lang=vi"' in en
        and '<input type="hidden" name="lang" value="en">' in en
    )
    assert "Audit log" in c.get("/audit").get_data(as_text=True)  # English sticks until Vietnamese is chosen
    assert "Nhật ký" in c.get("/audit?lang=vi").get_data(as_text=True)
    html = c.get(f"/audit?user={OFFICER}").get_data(as_text=True)
    assert {(m, a) for _, m, a in _entries(html)} == {("CAM002", "update"), ("CAM008", "update")}
    html = c.get("/audit?unit=28903-01&user=" + OFFICER).get_data(as_text=True)
    hamlet_of = {mid: web_store.get_model(mid)["unit_code"] for mid in ("CAM002", "CAM008")}
    expected = {m for m, u in hamlet_of.items() if u == "28903-01"}
    assert {m for _, m, _ in _entries(html)} == expected and _selected(html, "f-unit") == "28903-01"
    today = _dt.datetime.now(_dt.timezone(_dt.timedelta(hours=7))).date()
    html = c.get(f"/audit?user={OFFICER}&from={today}&to={today}").get_data(as_text=True)
    assert len(_entries(html)) == 2
    tomorrow, yesterday = today + _dt.timedelta(days=1), today - _dt.timedelta(days=1)
    assert _entries(c.get(f"/audit?from={tomorrow}").get_data(as_text=True)) == []
    assert "Không có mục nào." in c.get(f"/audit?to={yesterday}").get_data(as_text=True)
    assert c.get("/audit?from=23/11/2026").status_code == 400
    assert c.get("/audit?unit=NOPE").status_code == 404
    # an officer may not filter on another commune
    r = login(app, "officer").get("/audit?unit=28891")
    assert r.status_code == 403 and "Tài khoản của bạn không có quyền" in r.get_data(as_text=True)


def test_audit_paging(app, web_store):
    for i in range(55):
        _edit(web_store, OFFICER, "CAM002", range_m=float(10 + i))
    c = login(app, "officer")
    page1 = c.get("/audit?model=CAM002").get_data(as_text=True)
    ids1 = [int(e) for e, _, _ in _entries(page1)]
    assert len(ids1) == 50 and ids1 == sorted(ids1, reverse=True)  # newest first
    assert 'id="page-newer"' not in page1
    older = re.search(r'id="page-older" href="([^"]+)"', page1).group(1).replace("&amp;", "&")
    assert "model=CAM002" in older and "page=2" in older
    page2 = c.get(older).get_data(as_text=True)
    ids2 = [int(e) for e, _, _ in _entries(page2)]
    assert len(ids2) == 5 and max(ids2) < min(ids1)  # 55 updates (the seed is one batch entry, not per model)
    assert 'id="page-older"' not in page2 and 'id="page-newer"' in page2


def test_audit_escapes_user_text(app, web_store):
    _edit(web_store, OFFICER, "CAM001", range_m=30.0)  # the seeded name is a script
    html = login(app, "officer").get("/audit?model=CAM001").get_data(as_text=True)
    assert XSS_NAME not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_audit_api_filters_are_backward_compatible(app, web_store):
    _edit(web_store, OFFICER, "CAM008", range_m=25.0)
    _edit(web_store, OFFICER, "CAM008", range_m=26.0)
    _edit(web_store, OFFICER, "CAM002", name="Sửa API")
    c = login(app, "officer")
    all_entries = c.get("/api/registry/audit").get_json()
    assert all_entries[0]["model_id"] == "CAM002" and all_entries[0]["model_name"] == "Sửa API"
    mine = c.get(f"/api/registry/audit?user={OFFICER}").get_json()
    assert [e["model_id"] for e in mine] == ["CAM002", "CAM008", "CAM008"]
    assert c.get("/api/registry/audit?since=2999-01-01").get_json() == []
    assert len(c.get("/api/registry/audit?limit=2&offset=1").get_json()) == 2
    r = c.get("/api/registry/audit?until=yesterday")
    assert r.status_code == 400 and "until" in r.get_json()["message"]
    assert c.get("/api/registry/audit?unit=28891").status_code == 403


def test_import_preview_names_spreadsheet_rows(app, web_store):
    """What the import page shows: rejected rows by spreadsheet row (header = 1) and reason,
    outside-area points, updates old -> new; committing is refused while rows are rejected.
    """
    csv = (
        "mã,loại,tên,vĩ độ,kinh độ,hướng,góc,tầm xa,mã thôn\n"
        "N1,camera,Camera mới 1,10.1032,106.3010,45,90,50,28903-02\n"
        "N2,camera,Camera ngoài xã,10.1030,106.3060,45,90,50,28903-02\n"  # in Xã An Thạnh
        "N3,camera,Camera hỏng,không rõ,106.3010,45,90,50,28903-02\n"
    ).encode()
    c = login(app, "officer")
    h = {"X-CSRFToken": c.csrf}
    before = web_store.models_frame()
    r = post_import(c, {"unit": "28903", "file": (io.BytesIO(csv), "xa_huong_my.csv")}, headers=h)
    body = r.get_json()
    assert r.status_code == 200 and body["counts"] == {"new": 1, "update": 0, "unchanged": 0, "rejected": 2}
    rej = sorted(body["rejected"], key=lambda p: p["row"])
    assert [(p["row"], p["id"], p["field"]) for p in rej] == [
        (3, "N2", "geometry"),
        (4, "N3", "vĩ độ"),
    ]  # the reader's rows keep their ids
    assert rej[0]["reason"] == "position outside unit 28903" and rej[0]["file"] == "xa_huong_my.csv"
    assert body["outside"] == [{"row": 3, "id": "N2", "lon": 106.306, "lat": 10.103, "unit_code": "28903-02"}]
    r = post_import(
        c,
        {
            "unit": "28903",
            "commit": "1",
            "fingerprint": body["fingerprint"],
            "file": (io.BytesIO(csv), "xa_huong_my.csv"),
        },
        headers=h,
    )
    assert r.status_code == 400
    assert web_store.models_frame().index.equals(before.index)


def test_import_updates_only_the_columns_of_the_sheet(app, web_store):
    """A sheet with a few columns updates those fields of stored models and keeps the others
    (owner, field, status...); re-importing it changes nothing.
    """
    cam = web_store.get_model("CAM002")
    csv = (
        "mã,loại,tên,vĩ độ,kinh độ,hướng\n"  # a camera row needs its direction
        f"CAM002,camera,Camera nhà văn hoá,{cam['geometry'].y!r},{cam['geometry'].x!r},{cam['direction_deg'][0]!r}\n"
    ).encode()
    c = login(app, "officer")
    h = {"X-CSRFToken": c.csrf}
    body = post_import(c, {"unit": "28903", "file": (io.BytesIO(csv), "ten.csv")}, headers=h).get_json()
    assert body["counts"] == {"new": 0, "update": 1, "unchanged": 0, "rejected": 0}, body["rejected"]
    assert body["updates"] == {"CAM002": {"name": [cam["name"], "Camera nhà văn hoá"]}}
    r = post_import(
        c,
        {"unit": "28903", "commit": "1", "fingerprint": body["fingerprint"], "file": (io.BytesIO(csv), "ten.csv")},
        headers=h,
    )
    assert r.status_code == 200 and r.get_json()["counts"]["update"] == 1
    after = web_store.get_model("CAM002")
    assert after["name"] == "Camera nhà văn hoá"
    for k in ("owner", "field", "host", "status", "unit_code", "direction_deg", "range_m", "data_sharing"):
        assert after[k] == cam[k], k
    again = post_import(c, {"unit": "28903", "file": (io.BytesIO(csv), "ten.csv")}, headers=h).get_json()
    assert again["counts"] == {"new": 0, "update": 0, "unchanged": 1, "rejected": 0}


def test_rejection_reasons_are_translated(app, web_store):
    """The reasons the store and the reader really give are shown in Vietnamese on the page."""
    csv = (
        "mã,loại,tên,vĩ độ,kinh độ,hướng,góc,tầm xa,mã thôn\n"
        "N2,camera,Ngoài xã,10.1030,106.3060,45,90,50,28903-02\n"
        "N3,camera,Hỏng,không rõ,106.3010,45,90,50,28903-02\n"
        "N4,camera,Không hướng,10.1032,106.3010,,90,50,28903-02\n"
        "N5,đèn lồng,Lạ,10.1032,106.3010,,,,28903-02\n"
        "N6,camera,Sai thôn,10.1032,106.3010,45,90,50,28891-01\n"
        "N6,camera,Trùng,10.1033,106.3010,45,90,50,28903-02\n"
    ).encode()
    c = login(app, "officer")
    body = post_import(
        c, {"unit": "28903", "file": (io.BytesIO(csv), "x.csv")}, headers={"X-CSRFToken": c.csrf}
    ).get_json()
    shown = {p["row"]: p["reason_vi"] for p in body["rejected"]}
    assert shown[2] == "vị trí nằm ngoài địa bàn đơn vị 28903"
    assert shown[3].startswith("không phải toạ độ")
    assert shown[4].startswith("mô hình loại camera cần có hướng")
    assert shown[5].startswith("loại mô hình không rõ; các loại: camera (Camera an ninh)")
    assert shown[6] == "đơn vị không thuộc 28903"
    assert shown[7] == "mã trùng (đã có ở dòng 6)"
    assert all(v != p["reason"] for v, p in zip(shown.values(), body["rejected"])), body["rejected"]
    english = {p["row"]: p["reason"] for p in body["rejected"]}
    assert english[2] == "position outside unit 28903" and english[7] == "duplicate id (first at row 6)"
    # the rejected rows name their model ids (the table's "Mã" column), from the file
    assert {p["row"]: p["id"] for p in body["rejected"]} == {2: "N2", 3: "N3", 4: "N4", 5: "N5", 6: "N6", 7: "N6"}
