"""Web planning: ``POST /api/plan`` and ``GET /report/<unit>.<fmt>`` (geo_antt.app.planning)."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from shapely.geometry import shape

DEMO_DIR = Path(__file__).resolve().parent.parent / "data"


def _post(client, body, **kw):
    """POST /api/plan as plan.js does: JSON, with the session's CSRF token when it has one."""
    token = getattr(client, "csrf", None)
    headers = {"X-CSRFToken": token} if token else {}
    return client.post("/api/plan", json=body, headers=headers, **kw)


def _catalog(app):
    from geo_antt.app import get_catalog

    with app.app_context():
        return get_catalog()


def _sites(fc: dict) -> list[dict]:
    return [f for f in fc["features"] if f["properties"]["layer"] == "site"]


def _footprints(fc: dict) -> list[dict]:
    return [f for f in fc["features"] if f["properties"]["layer"] == "footprint"]


# -- POST /api/plan on the synthetic Mỏ Cày Nam dataset ---------------------------------------


def test_plan_proposes_count_sites_inside_the_commune(app, client):
    r = _post(client, {"unit": "28903", "kind": "camera", "count": 3})
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.mimetype == "application/geo+json"
    fc = r.get_json()
    assert fc["type"] == "FeatureCollection"
    sm = fc["summary"]
    sites, fps = _sites(fc), _footprints(fc)
    assert len(sites) == 3 == sm["sites"] == sm["count"]
    assert sorted(f["properties"]["rank"] for f in sites) == [1, 2, 3]
    assert sorted(f["properties"]["rank"] for f in fps) == [1, 2, 3]
    units = _catalog(app).units
    commune = units.loc["28903"].geometry
    hamlets = set(units.index[units["parent_code"] == "28903"])
    for f in sites:
        pt = shape(f["geometry"])
        assert commune.buffer(1e-9).contains(pt)
        assert f["properties"]["unit_code"] in hamlets
        assert f["properties"]["status"] == "proposed"
        assert f["properties"]["gain_m2"] > 0
    for f in fps:
        assert shape(f["geometry"]).geom_type in ("Polygon", "MultiPolygon")
    # the marginal gains add up to the objective, which is what the coverage grew by
    gains = sum(f["properties"]["gain_m2"] for f in sites)
    assert gains == pytest.approx(sm["objective_m2"], rel=1e-3)
    assert sm["covered_m2_after"] - sm["covered_m2_before"] == pytest.approx(sm["objective_m2"], rel=1e-2)
    assert sm["covered_pct_after"] > sm["covered_pct_before"]
    assert sm["solver"] in ("exact", "highs", "spopt", "greedy")
    assert sm["optimal"] is True and sm["gap_to_optimum"] is not None and 0 <= sm["gap_to_optimum"] <= 1
    # sparse coverage: the greedy's three footprints do not overlap, which the upper bound proves
    # optimal without a solver run
    assert sm["proven_by_bound"] is True and sm["gap_to_optimum"] == 0
    assert sorted(h["code"] for h in sm["hamlets"]) == sorted(hamlets)
    per_hamlet_gain = 0.0
    for h in sm["hamlets"]:
        assert h["covered_pct_after"] >= h["covered_pct_before"] - 1e-9
        assert h["name"]
        per_hamlet_gain += h["gain_m2"]
    assert per_hamlet_gain == pytest.approx(sm["objective_m2"], rel=1e-2)


def test_plan_before_is_the_coverage_engine_on_the_app_dataset(app, client):
    from geo_antt.coverage import compute_coverage

    fc = _post(client, {"unit": "28891-02", "kind": "lighting", "count": 2}).get_json()
    ext = app.extensions["geo_antt"]
    cat = _catalog(app)
    engine = compute_coverage(cat.units.loc[["28891-02"]], cat.models, specs=ext.specs, settings=ext.settings).units
    (h,) = fc["summary"]["hamlets"]
    assert h["code"] == "28891-02" and h["name"] == "Ấp Tân Phú"
    assert h["covered_pct_before"] == pytest.approx(float(engine["covered_pct"].iloc[0]), abs=0.01)
    assert len(_sites(fc)) == 2
    assert all(f["properties"]["unit_code"] == "28891-02" for f in _sites(fc))


def test_plan_budget_caps_the_count(client):
    r = _post(client, {"unit": "28903", "kind": "lighting", "budget_vnd": 10_000_000, "unit_cost_vnd": 3_500_000})
    assert r.status_code == 200, r.get_data(as_text=True)
    fc = r.get_json()
    assert fc["summary"]["count"] == 2 and len(_sites(fc)) == 2
    # numbers as form strings are read too (the page sends the inputs' values)
    r = _post(client, {"unit": "28903", "kind": "checkpoint", "count": "1"})
    assert r.status_code == 200
    assert len(_sites(r.get_json())) == 1


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"kind": "camera", "count": 3}, "unit"),
        ({"unit": "28903", "count": -1}, "count"),
        ({"unit": "28903", "count": 2.5}, "count"),
        ({"unit": "28903", "count": "ba"}, "count"),
        ({"unit": "28903", "count": 1000}, "count"),
        ({"unit": "28903"}, "count"),
        ({"unit": "28903", "budget_vnd": 1e7}, "unit_cost_vnd"),
        ({"unit": "28903", "count": 2, "unit_cost_vnd": 0, "budget_vnd": 5}, "unit_cost_vnd"),
        ({"unit": "28903", "count": 2, "kind": "submarine"}, "submarine"),
        ({"unit": "28903", "count": 2, "kind": "self_management"}, "footprint"),
        ({"unit": "28903", "count": 2, "solver": "magic"}, "solver"),
        ({"unit": "28903", "count": 2, "time_limit_s": 100000}, "time_limit_s"),
        ({"unit": "28903", "count": 2, "colour": "red"}, "colour"),
        ({"unit": "28903", "count": 2, "min_spacing_m": -1}, "min_spacing_m"),
        ({"unit": "28903", "count": 2, "min_spacing_m": "xa"}, "min_spacing_m"),
        ([1, 2, 3], "JSON object"),
    ],
)
def test_plan_bad_input_is_400_json(client, body, needle):
    r = _post(client, body)
    assert r.status_code == 400, r.get_data(as_text=True)
    err = r.get_json()
    assert err["error"] and needle in err["message"]


def test_plan_not_json_and_unknown_unit(client):
    token = getattr(client, "csrf", None)
    r = client.post(
        "/api/plan",
        data="unit=28903&count=3",
        content_type="application/x-www-form-urlencoded",
        headers={"X-CSRFToken": token} if token else {},
    )
    assert r.status_code == 400 and "JSON object" in r.get_json()["message"]
    r = _post(client, {"unit": "99999", "count": 3})
    assert r.status_code == 404
    assert r.get_json()["error"] == "NotFoundError" and "99999" in r.get_json()["message"]
    assert client.get("/api/plan").status_code == 405


# -- the map page carries the planning section --------------------------------------------------


def test_map_page_has_the_plan_and_report_sections(client):
    text = client.get("/map").get_data(as_text=True)
    assert "Đề xuất vị trí mới" in text and "Báo cáo" in text
    assert "/static/js/plan.js" in text
    cfg = json.loads(
        re.search(r'<script id="geo-antt-plan-config" type="application/json">(.*?)</script>', text, re.S).group(1)
    )
    assert cfg["urls"]["plan"] == "/api/plan" and cfg["urls"]["report"] == "/report/__NAME__"
    assert [k["code"] for k in cfg["kinds"]] == ["camera", "lighting", "checkpoint"]
    start, end = (dt.date.fromisoformat(d) for d in cfg["defaultPeriod"])
    assert start == dt.date(end.year, 1, 1) and end == dt.date.today()
    en = client.get("/map?lang=en").get_data(as_text=True)
    assert "Suggest new sites" in en and "Đề xuất vị trí mới" not in en
    # plan.js posts through the pages' one request helper, which sends the CSRF token
    r, d = client.get("/static/js/plan.js"), client.get("/static/js/dom.js")
    try:
        assert r.status_code == 200 and b"geoAnttDom.request" in r.data
        assert d.status_code == 200 and b"X-CSRFToken" in d.data
        assert "/static/js/dom.js" in text and text.index("/static/js/dom.js") < text.index("/static/js/plan.js")
    finally:
        r.close()
        d.close()


# -- GET /report/<unit>.<fmt> --------------------------------------------------------------------


def test_report_default_period_and_errors(client):
    r = client.get("/report/28903.xlsx")
    assert r.status_code == 200
    today = dt.date.today()
    name = f"bao_cao_28903_{today.year}-01-01_{today.isoformat()}.xlsx"
    assert r.headers["Content-Disposition"] == f"attachment; filename={name}"
    from openpyxl import load_workbook

    ws = load_workbook(io.BytesIO(r.data)).worksheets[0]
    values = {row[0]: row[1] for row in ws.iter_rows(min_row=2, values_only=True)}
    # every synthetic model of Xã Hương Mỹ (2 hamlets: 12 cameras, 2 lights, a checkpoint, a group)
    assert values["Tổng số mô hình"] == 16

    assert client.get("/report/99999.html").status_code == 404
    assert client.get("/report/28903.docx").status_code == 400
    assert client.get("/report/28903").status_code == 400
    r = client.get("/report/28903.html?period=2024-09-30:2024-01-01")
    assert r.status_code == 400 and "ends before it starts" in r.get_json()["message"]
    assert client.get("/report/28903.html?lang=fr").status_code == 400


def test_report_pdf(client):
    r = client.get("/report/835.pdf?period=2024-01-01:2024-12-31&lang=en")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    assert r.data.startswith(b"%PDF-")
    assert "report_835_2024-01-01_2024-12-31.pdf" in r.headers["Content-Disposition"]


@pytest.fixture(scope="module")
def demo_client(tmp_path_factory):
    """The admin's client of an app on the demo dataset, seeded into a new store (as on first run)."""
    assert (DEMO_DIR / "dataset.toml").is_file(), "the committed demo dataset (data/) is missing"
    from geo_antt.app import create_app, ensure_admin_account
    from tests.web_fixtures import csrf_token

    db = tmp_path_factory.mktemp("demo-store") / "geo-antt.sqlite"
    app = create_app({"TESTING": True, "DATA_DIR": str(DEMO_DIR), "DB": f"sqlite:///{db}", "SECRET_KEY": "demo-test"})
    store = app.extensions["geo_antt"].store
    try:
        password = ensure_admin_account(store)
        client = app.test_client()
        r = client.post("/login", data={"csrf_token": csrf_token(client), "name": "admin", "password": password})
        assert r.status_code == 302, r.get_data(as_text=True)
        client.csrf = csrf_token(client)
        yield client
    finally:
        store.close()


def _district_code(name: str) -> str:
    d = gpd.read_file(DEMO_DIR / "boundaries" / "districts.geojson")
    return str(d.loc[d["name"] == name, "code"].iloc[0])


def test_demo_report_of_ham_thuan_nam_shows_127_34_5(demo_client):
    code = _district_code("Huyện Hàm Thuận Nam")
    r = demo_client.get(f"/report/{code}.xlsx?period=2025-01-01:2025-06-30")
    assert r.status_code == 200
    assert r.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert f"bao_cao_{code}_2025-01-01_2025-06-30.xlsx" in r.headers["Content-Disposition"]
    from openpyxl import load_workbook

    ws = load_workbook(io.BytesIO(r.data)).worksheets[0]
    values = {row[0]: row[1] for row in ws.iter_rows(min_row=2, values_only=True)}
    assert (values["Tổng số mô hình"], values["Số tên mô hình khác nhau"], values["Số lĩnh vực"]) == (127, 34, 5)

    r = demo_client.get(f"/report/{code}.html?period=2025-01-01:2025-06-30")
    assert r.status_code == 200 and r.mimetype == "text/html"
    text = r.get_data(as_text=True)

    def first(label: str) -> str:
        return re.search(rf"<td>{re.escape(label)}</td><td class=\"num\">([^<]+)</td>", text).group(1)

    assert (first("Tổng số mô hình"), first("Số tên mô hình khác nhau"), first("Số lĩnh vực")) == ("127", "34", "5")
    assert "Huyện Hàm Thuận Nam" in text


def test_demo_plan_in_a_ham_thuan_nam_commune(demo_client):
    communes = gpd.read_file(DEMO_DIR / "boundaries" / "communes.geojson")
    code = str(communes.loc[communes["name"] == "Thị trấn Thuận Nam", "code"].iloc[0])
    r = _post(demo_client, {"unit": code, "kind": "lighting", "count": 3})
    assert r.status_code == 200, r.get_data(as_text=True)
    fc = r.get_json()
    sm = fc["summary"]
    sites = _sites(fc)
    assert len(sites) == 3
    area = shapely.union_all(communes.loc[communes["code"] == code].geometry.to_numpy())
    assert all(area.buffer(1e-9).contains(shape(f["geometry"])) for f in sites)
    assert sum(f["properties"]["gain_m2"] for f in sites) == pytest.approx(sm["objective_m2"], rel=1e-3)
    assert len(sm["hamlets"]) >= 2
    assert all(h["covered_pct_after"] >= h["covered_pct_before"] for h in sm["hamlets"])
    assert sm["covered_pct_after"] > sm["covered_pct_before"]


def test_plan_needs_the_page_csrf_token(client):
    """A POST with the session cookie but without the CSRF token is refused; the page's
    ``<meta name="csrf-token">`` value sent as ``X-CSRFToken`` (as plan.js does) passes.
    """
    page = client.get("/map").get_data(as_text=True)
    token = re.search(r'<meta name="csrf-token" content="([^"]+)">', page).group(1)
    body = {"unit": "28903-02", "kind": "checkpoint", "count": 1}
    refused = client.post("/api/plan", json=body)
    assert refused.status_code == 400 and refused.get_json()["error"] == "CSRFError"
    r = client.post("/api/plan", json=body, headers={"X-CSRFToken": token})
    assert r.status_code == 200, r.get_data(as_text=True)
    assert len(_sites(r.get_json())) == 1


def test_plan_and_report_keep_to_the_account_units(officer_client, anon_client):
    # the officer of Xã Hương Mỹ (28903) plans and reports there, not in Xã An Thạnh (28891)
    assert _post(officer_client, {"unit": "28903-02", "kind": "checkpoint", "count": 1}).status_code == 200
    r = _post(officer_client, {"unit": "28891", "kind": "checkpoint", "count": 1})
    assert r.status_code == 403 and "28891" in r.get_json()["message"]
    assert officer_client.get("/report/28903.xlsx?period=2024-01-01:2024-12-31").status_code == 200
    assert officer_client.get("/report/28891.xlsx?period=2024-01-01:2024-12-31").status_code == 403
    assert officer_client.get("/report/835.xlsx?period=2024-01-01:2024-12-31").status_code == 403
    # anonymous: nothing
    assert _post(anon_client, {"unit": "28903", "count": 1}).status_code == 401
    assert anon_client.get("/report/28903.html").status_code in (302, 401)


def _accept(client, site: dict):
    """Accept a proposed site as plan.js does: POST the registry with the site's parameters."""
    p = site["properties"]
    props = {k: p.get(k) for k in ("kind", "unit_code", "direction_deg", "fov_deg", "range_m", "radius_m")}
    props.update(status="active", name=f"Đề xuất {p['rank']}", notes="geo-antt plan")
    token = getattr(client, "csrf", None)
    headers = {"X-CSRFToken": token} if token else {}
    return client.post(
        "/api/registry/models",
        json={"type": "Feature", "properties": props, "geometry": site["geometry"]},
        headers=headers,
    )


def test_accepting_a_proposal_makes_an_active_model_and_closes_the_gap(client, viewer_client):
    fc = _post(client, {"unit": "28903", "kind": "checkpoint", "count": 1}).get_json()
    site = _sites(fc)[0]
    hamlet = site["properties"]["unit_code"]
    before = client.get(f"/collections/coverage/items/{hamlet}").get_json()["properties"]["covered_m2"]
    # the map page offers the button to editors only
    cfg = lambda c: json.loads(
        re.search(
            r'<script id="geo-antt-plan-config" type="application/json">(.*?)</script>',
            c.get("/map").get_data(as_text=True),
            re.S,
        ).group(1)
    )  # noqa: E731
    assert cfg(client)["canEdit"] is True and cfg(viewer_client)["canEdit"] is False
    assert cfg(client)["urls"]["accept"] == "/api/registry/models"
    assert _accept(viewer_client, site).status_code == 403
    r = _accept(client, site)
    assert r.status_code == 201, r.get_data(as_text=True)
    model = r.get_json()
    assert model["properties"]["status"] == "active" and model["properties"]["kind"] == "checkpoint"
    # the map's layers and the coverage now include it, and the planned gain is realised
    items = client.get(f"/collections/checkpoint/items?unit={hamlet}&limit=1000").get_json()
    assert model["id"] in {f["id"] for f in items["features"]}
    after = client.get(f"/collections/coverage/items/{hamlet}").get_json()["properties"]["covered_m2"]
    assert after - before == pytest.approx(site["properties"]["gain_m2"], rel=1e-3)


def test_hostile_plan_body_and_report_periods_are_400(client):
    token = getattr(client, "csrf", None)
    headers = {"X-CSRFToken": token} if token else {}
    deep = "[" * 100_000 + "]" * 100_000
    r = client.post("/api/plan", data=deep, content_type="application/json", headers=headers)
    assert r.status_code == 400 and "nested too deeply" in r.get_json()["message"]
    for period in ("0001-01-01:0002-01-01", "2024-01-01:9999-12-31"):
        r = client.get(f"/report/28903.xlsx?period={period}")
        assert r.status_code == 400 and "allowed range 1900-01-01 to 2200-12-31" in r.get_json()["message"]


def test_with_roads_in_the_store_the_panel_plans_along_the_streets(web_store, synthetic_dir):
    """Roads loaded into the store: the catalog's figures carry street metres, and a plan stands
    its sites on the streets and reports the street metres it watches.
    """
    import numpy as np

    from geo_antt.app import create_app
    from tests.web_fixtures import login

    units = web_store.units_frame()
    x0, y0, x1, y1 = units.loc["28903"].geometry.bounds
    lines = [shapely.LineString([(x, y0), (x, y1)]) for x in np.linspace(x0, x1, 8)]
    lines += [shapely.LineString([(x0, y), (x1, y)]) for y in np.linspace(y0, y1, 8)]
    grid = gpd.GeoDataFrame(
        {
            "osm_id": [f"w{i}" for i in range(len(lines))],
            "highway": "residential",
            "name": [f"Đường {i}" for i in range(len(lines))],
        },
        geometry=lines,
        crs="EPSG:4326",
    )
    web_store.load_context("roads", grid, unit_codes=["28903"], user=None)
    app = create_app({"TESTING": True, "DATA_DIR": str(synthetic_dir), "STORE": web_store, "SECRET_KEY": "web-test"})
    client = login(app, "admin")
    cat = _catalog(app)
    assert cat.roads is not None and len(cat.roads) == len(grid)
    cov = json.loads(client.get("/collections/coverage/items?limit=10000").get_data(as_text=True))
    with_roads = [f["properties"] for f in cov["features"] if (f["properties"].get("road_m") or 0) > 0]
    assert with_roads  # the hamlets of 28903 have streets now
    r = _post(client, {"unit": "28903", "kind": "lighting", "count": 3})
    assert r.status_code == 200, r.get_data(as_text=True)
    sm = r.get_json()["summary"]
    assert sm["by"] == "street" and sm["road_covered_m_after"] > sm["road_covered_m_before"]
    streets = shapely.union_all(grid.to_crs("EPSG:32648").geometry.values)
    for f in _sites(r.get_json()):
        p = gpd.GeoSeries([shape(f["geometry"])], crs="EPSG:4326").to_crs("EPSG:32648").iloc[0]
        assert p.distance(streets) < 0.05  # on a street (to a few cm)


def _metres_apart(sites):
    import geopandas as gpd

    pts = gpd.GeoSeries([shape(f["geometry"]) for f in sites], crs=4326).to_crs(32648)
    return [a.distance(b) for i, a in enumerate(pts) for b in list(pts)[i + 1 :]]


def test_plan_keeps_proposed_sites_apart(client):
    """The least spacing between proposed sites: the kind's default (30 m for cameras), or the
    request's ``min_spacing_m``.
    """
    r = _post(client, {"unit": "28903", "kind": "camera", "count": 4})
    assert r.status_code == 200, r.get_data(as_text=True)
    fc = r.get_json()
    assert fc["summary"]["min_spacing_m"] == 30.0
    assert min(_metres_apart(_sites(fc))) >= 30.0 - 1e-6
    r = _post(client, {"unit": "28903", "kind": "camera", "count": 4, "min_spacing_m": 150})
    fc = r.get_json()
    assert r.status_code == 200 and fc["summary"]["min_spacing_m"] == 150.0
    assert min(_metres_apart(_sites(fc))) >= 150.0 - 1e-6


def test_plan_panel_offers_the_spacing_and_vietnamese_words(client):
    page = client.get("/map").get_data(as_text=True)
    assert (
        'id="plan-min-spacing"' in page and 'value="30"' in page and "Khoảng cách tối thiểu giữa hai vị trí (m)" in page
    )
    from geo_antt.app.planning import PLAN_STRINGS

    vi = " ".join(PLAN_STRINGS["vi"].values()).lower()
    assert "heuristic" not in vi and PLAN_STRINGS["vi"]["solver_greedy"] == "thuật toán tham lam"


def test_plan_for_a_tier(client):
    """``tier`` in the body: new 2MP cameras of 90 degrees identify to 3.84 m, so each site adds
    at most pi * 3.84^2 / 4 = 11.58 m^2 (the synthetic cameras have no resolution: all of the
    commune's are tier unknown); the panel offers the tiers; a light has none (400).
    """
    import math

    r = _post(client, {"unit": "28903", "kind": "camera", "count": 2, "tier": "identify"})
    assert r.status_code == 200, r.get_data(as_text=True)
    sm = r.get_json()["summary"]
    assert sm["tier"] == "identify" and sm["tier_range_m"] == pytest.approx(3.84) and sm["resolution_px"] == 1920.0
    assert 0 < sm["objective_m2"] <= 2 * math.pi * 3.84**2 / 4 + 0.01
    assert sm["tier_unknown"] > 0
    plain = _post(client, {"unit": "28903", "kind": "camera", "count": 2}).get_json()["summary"]
    assert "tier" not in plain and plain["objective_m2"] > sm["objective_m2"]
    bad = _post(client, {"unit": "28903", "kind": "lighting", "count": 2, "tier": "identify"})
    assert bad.status_code == 400 and "has no tier" in bad.get_json()["message"]
    bad = _post(client, {"unit": "28903", "kind": "camera", "count": 2, "tier": 7})
    assert bad.status_code == 400 and "tier must be a tier code" in bad.get_json()["message"]
    page = client.get("/map").get_data(as_text=True)
    assert 'id="plan-tier"' in page and "Nhận dạng (250 px/m)" in page and "Mục đích của camera mới" in page
