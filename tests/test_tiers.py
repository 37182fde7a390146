"""What a camera is good for (IEC 62676-4 tiers): ranges by hand, footprints, coverage per tier,
the resolution shorthand and Vietnamese headers of a model sheet, and the bounds.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from shapely.geometry import box

from geo_antt import GeoAnttError
from geo_antt.coverage import compute_coverage
from geo_antt.footprints import footprints
from geo_antt.io.cells import ParseError, parse_resolution
from geo_antt.io.models import load_models
from geo_antt.layers import load_layer_specs
from geo_antt.store._records import check_record, normalize_record
from geo_antt.tiers import apply_tier, tier_codes, tier_range_m, tier_ranges

from .conftest import X0, Y0, make_models, make_units

SPECS = load_layer_specs()


def test_the_tier_table_is_declared_once_in_the_camera_layer() -> None:
    cam = SPECS["camera"]
    assert [(t.code, t.px_per_m) for t in cam.tiers] == [
        ("detect", 25.0),
        ("observe", 62.0),
        ("recognise", 125.0),
        ("identify", 250.0),
    ]
    assert [t.title("vi") for t in cam.tiers] == ["Phát hiện", "Quan sát", "Nhận biết", "Nhận dạng"]
    assert tier_codes(SPECS) == ("detect", "observe", "recognise", "identify")
    assert all(not s.tiers for k, s in SPECS.items() if k != "camera")  # lights have no pixels
    assert cam.bounds["resolution_px"] == (320.0, 16384.0)


def test_rectilinear_ranges_by_hand() -> None:
    # 1920 px over a 90-degree view: the width at d metres is 2 d tan 45 = 2 d
    # identify: 1920 / (2 * 250) = 3.84 m; detect: 1920 / (2 * 25) = 38.4 m
    assert tier_range_m(1920.0, 90.0, 250.0)[0] == pytest.approx(3.84)
    assert tier_range_m(1920.0, 90.0, 25.0)[0] == pytest.approx(38.4)
    # 60 degrees: 2 tan 30 = 1.1547; observe 2560 / (62 * 1.1547) = 35.76 m
    assert tier_range_m(2560.0, 60.0, 62.0)[0] == pytest.approx(2560 / (62 * 2 * math.tan(math.radians(30))))
    assert tier_ranges({"resolution_px": 1920.0, "fov_deg": 90.0}, SPECS["camera"]) == {
        "detect": 38.4,
        "observe": 15.48,  # 1920 / 124 = 15.4839
        "recognise": 7.68,
        "identify": 3.84,
    }


def test_fisheye_ranges_by_hand() -> None:
    # a 4K fisheye over 180 degrees (pi radians): width at d metres is pi d
    # identify 3840 / (250 pi) = 4.889 m; detect 3840 / (25 pi) = 48.89 m
    assert tier_range_m(3840.0, 180.0, 250.0, lens="fisheye")[0] == pytest.approx(3840 / (250 * math.pi))
    assert tier_range_m(3840.0, 360.0, 25.0, lens="panoramic")[0] == pytest.approx(3840 / (25 * 2 * math.pi))
    # a fisheye of 90 degrees spreads its pixels over pi/2 radians, not over 2 tan 45 = 2
    assert tier_range_m(1920.0, 90.0, 250.0, lens="fisheye")[0] == pytest.approx(1920 / (250 * math.pi / 2))
    # no rectilinear lens sees 180 degrees: read as panoramic (tan 90 would give 0 m)
    assert tier_range_m(1920.0, 200.0, 25.0)[0] == pytest.approx(1920 / (25 * math.radians(200)))
    rec = {"resolution_px": 3840.0, "fov_deg": 180.0, "lens": "fisheye"}
    assert tier_ranges(rec, SPECS["camera"])["identify"] == round(3840 / (250 * math.pi), 2) == 4.89


def test_the_range_never_passes_the_kinds_bound() -> None:
    # 16384 px over 10 degrees detects to 16384 / (2 * 25 * tan 5) = 3745 m: capped at 300 m
    assert tier_range_m(16384.0, 10.0, 25.0, max_range_m=300.0)[0] == 300.0
    assert tier_ranges({"resolution_px": 16384.0, "fov_deg": 10.0}, SPECS["camera"])["detect"] == 300.0


def _one_camera(**kw) -> object:
    return make_models([dict(id="c1", kind="camera", x=X0, y=Y0, direction_deg=(0.0,), **kw)])


def test_identify_footprint_area_by_hand() -> None:
    models = _one_camera(fov_deg=90.0, range_m=20.0)
    models["resolution_px"] = 1920.0
    tiered, run = apply_tier(models, "identify", SPECS)
    assert tiered.loc["c1", "range_m"] == pytest.approx(3.84)
    assert models.loc["c1", "range_m"] == 20.0  # the input is left alone
    assert (run.rated, run.unknown) == (1, 0)
    fp = footprints(tiered, specs=SPECS)
    # a quarter disc of 3.84 m: pi * 3.84^2 / 4 = 11.58 m^2 (equal-area polygon: exact)
    assert fp.loc["c1", "area_m2"] == pytest.approx(math.pi * 3.84**2 / 4, rel=1e-6)
    detect = footprints(apply_tier(models, "detect", SPECS)[0], specs=SPECS)
    assert detect.loc["c1", "area_m2"] == pytest.approx(math.pi * 38.4**2 / 4, rel=1e-6)


def test_a_camera_without_resolution_keeps_its_range_and_is_tier_unknown() -> None:
    models = make_models(
        [
            dict(id="c1", kind="camera", x=X0, y=Y0, direction_deg=(0.0,), fov_deg=90.0),
            dict(id="c2", kind="camera", x=X0 + 50, y=Y0, direction_deg=(0.0,), range_m=25.0),
            dict(id="c3", kind="camera", x=X0 + 80, y=Y0, direction_deg=(0.0,), status="proposed"),
            dict(id="l1", kind="lighting", x=X0, y=Y0 + 50, radius_m=15.0),
        ]
    )
    models["resolution_px"] = [1920.0, np.nan, np.nan, np.nan]
    tiered, run = apply_tier(models, "recognise", SPECS)
    assert tiered["range_m"].tolist()[:2] == [pytest.approx(7.68), 25.0]
    assert math.isnan(tiered.loc["c3", "range_m"])  # still the default of the kind
    assert tiered.loc["l1", "radius_m"] == 15.0  # lights have no tiers
    assert (run.rated, run.unknown) == (1, 1)  # the proposed camera counts for nothing
    assert "1 tier unknown" in run.summary()
    with pytest.raises(GeoAnttError, match="unknown tier 'inspect'"):
        apply_tier(models, "inspect", SPECS)


def test_coverage_per_tier_in_a_hamlet() -> None:
    """A 100 m square hamlet with one 2MP camera at its centre looking north: the covered area
    is the quarter disc of each tier's range.
    """
    units = make_units([("H1", "Ấp 1", "hamlet", None, box(X0 - 50, Y0 - 50, X0 + 50, Y0 + 50))])
    models = _one_camera(fov_deg=90.0)
    models["resolution_px"] = 1920.0
    for tier, rng in (("identify", 3.84), ("recognise", 7.68), ("detect", 38.4)):
        res = compute_coverage(units, apply_tier(models, tier, SPECS)[0], with_gaps=True)
        area = math.pi * rng**2 / 4
        assert res.units.loc["H1", "covered_m2"] == pytest.approx(area, rel=1e-6)
        assert res.gaps_metric.area.sum() == pytest.approx(100 * 100 - area, rel=1e-6)


def test_parse_resolution_shorthand() -> None:
    assert parse_resolution("2MP") == 1920.0
    assert parse_resolution("4 MP") == 2560.0
    assert parse_resolution("8MP") == parse_resolution("4K") == parse_resolution("4k") == 3840.0
    assert parse_resolution("2 megapixel") == parse_resolution("2,0 MP") == parse_resolution("2 chấm") == 1920.0
    assert parse_resolution("1920") == parse_resolution("1920x1080") == parse_resolution("1920 px") == 1920.0
    assert parse_resolution(2560) == 2560.0
    with pytest.raises(ParseError, match="unknown megapixel figure 3.5MP"):
        parse_resolution("3.5MP")
    with pytest.raises(ParseError, match="not a resolution"):
        parse_resolution("rõ nét")


def test_sheet_with_vietnamese_headers(tmp_path) -> None:
    sheet = tmp_path / "camera.csv"
    sheet.write_text(
        "Mã,Loại,Vĩ độ,Kinh độ,Hướng,Góc nhìn,Độ phân giải,Ống kính\n"
        "c1,camera,10.05,106.05,90,90,2MP,\n"
        "c2,camera,10.05,106.06,90,180,4K,mắt cá\n"
        "c3,camera,10.05,106.07,90,90,100,\n"
        "c4,camera,10.05,106.08,90,90,,Toàn cảnh\n"
        "c5,camera,10.05,106.09,90,90,2560,kính lúp\n",
        encoding="utf-8",
    )
    gdf, problems = load_models(sheet)
    assert gdf.index.tolist() == ["c1", "c2", "c4"]
    assert gdf.loc["c1", "resolution_px"] == 1920.0 and gdf.loc["c1", "lens"] is None
    assert gdf.loc["c2", "resolution_px"] == 3840.0 and gdf.loc["c2", "lens"] == "fisheye"
    assert math.isnan(gdf.loc["c4", "resolution_px"]) and gdf.loc["c4", "lens"] == "panoramic"
    errors = [(p.row, p.field, p.reason) for p in problems if p.severity == "error"]
    assert errors == [
        (4, "Độ phân giải", "must be a number of pixels from 320 to 16384 for a camera"),
        (
            6,
            "Ống kính",
            "unknown lens; use one of: rectilinear (Ống kính thường), fisheye (Mắt cá), panoramic (Toàn cảnh)",
        ),
    ]


def test_english_headers(tmp_path) -> None:
    sheet = tmp_path / "cams.csv"
    sheet.write_text(
        "id,kind,lat,lon,direction,fov,resolution,lens\nk1,camera,10.05,106.05,0,90,4MP,panoramic\n",
        encoding="utf-8",
    )
    gdf, problems = load_models(sheet)
    assert not problems
    assert gdf.loc["k1", "resolution_px"] == 2560.0 and gdf.loc["k1", "lens"] == "panoramic"


def test_records_check_resolution_and_lens() -> None:
    base = {"id": "c1", "kind": "camera", "direction_deg": (0.0,), "geometry": box(0, 0, 0, 0).centroid}
    rec = normalize_record({**base, "resolution_px": 100, "lens": "Mắt cá"})
    assert rec["lens"] == "fisheye"
    assert check_record(rec, SPECS) == [
        ("resolution_px", 100.0, "must be a number of pixels from 320 to 16384 for a camera")
    ]
    rec = normalize_record({**base, "resolution_px": "1920", "lens": "zoom"})
    assert check_record(rec, SPECS) == [("lens", "zoom", "lens must be one of rectilinear, fisheye, panoramic")]


def _demo_cameras() -> list[dict]:
    """The demo's cameras, read from the committed file as plain JSON (not through geo-antt)."""
    import json

    from geo_antt.config import DEFAULT_DATA_DIR

    doc = json.loads((DEFAULT_DATA_DIR / "models" / "models.geojson").read_text(encoding="utf-8"))
    return [f["properties"] for f in doc["features"] if f["properties"]["kind"] == "camera"]


def test_cli_coverage_per_tier_on_the_demo(tmp_path, capsys) -> None:
    import geopandas as gpd

    from geo_antt.cli import main

    cams = [c for c in _demo_cameras() if c["status"] == "active"]
    rated = [c for c in cams if c["resolution_px"] is not None]
    assert rated and len(rated) < len(cams)  # the demo has both
    fp = tmp_path / "fp.geojson"
    assert main(["coverage", "--out", str(tmp_path / "u.geojson"), "--footprints", str(fp), "--tier", "identify"]) == 0
    text = capsys.readouterr().out
    assert (
        f"tier identify: {len(rated)} cameras ranged by their resolution, {len(cams) - len(rated)} tier unknown" in text
    )
    foot = gpd.read_file(fp).set_index("id")
    # a rated one-direction rectilinear camera: a sector of R / (2 * 250 * tan(fov / 2)) metres
    one = next(c for c in rated if c["lens"] is None and len(c["direction_deg"]) == 1)
    r = one["resolution_px"] / (2 * 250 * math.tan(math.radians(one["fov_deg"] / 2)))
    assert foot.loc[one["id"], "area_m2"] == pytest.approx(math.pi * r**2 * one["fov_deg"] / 360, rel=1e-6)
    # a camera without resolution keeps its recorded range
    plain = next(c for c in cams if c["resolution_px"] is None and len(c["direction_deg"]) == 1)
    rp = plain["range_m"]
    assert foot.loc[plain["id"], "area_m2"] == pytest.approx(math.pi * rp**2 * plain["fov_deg"] / 360, rel=1e-6)
    # the plain run says nothing of tiers
    assert main(["coverage", "--out", str(tmp_path / "u2.geojson")]) == 0
    assert "tier unknown" not in capsys.readouterr().out


def test_cli_plan_for_a_tier(capsys) -> None:
    """Planning for identification: a new 2MP camera of 90 degrees reaches 3.84 m, so each new
    site adds at most a quarter disc of pi * 3.84^2 / 4 = 11.58 m^2.
    """
    import json

    from geo_antt.cli import main

    assert main(["plan", "--unit", "28903", "--count", "2", "--tier", "identify", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["tier"] == "identify" and out["stats"]["tier_range_m"] == pytest.approx(3.84)
    assert out["sites"] == 2
    gain = out["covered_m2_after"] - out["covered_m2_before"]
    assert 0 < gain <= 2 * math.pi * 3.84**2 / 4 + 0.2
    # the commune's own cameras (the demo places each one inside the hamlet it names)
    assert out["tier_unknown"] == sum(
        1
        for c in _demo_cameras()
        if c["status"] == "active" and c["resolution_px"] is None and c["unit_code"].startswith("28903-")
    )
    with pytest.raises(SystemExit):  # not a tier of the layer files
        main(["plan", "--unit", "28903", "--count", "2", "--tier", "inspect"])


def test_plan_refuses_a_tier_with_a_range_or_a_resolution_out_of_bounds() -> None:
    from geo_antt.placement import plan_sites

    units = make_units([("H1", "Ấp 1", "hamlet", None, box(X0, Y0, X0 + 100, Y0 + 100))])
    models = make_models([dict(id="l1", kind="lighting", x=X0 + 50, y=Y0 + 50)])
    with pytest.raises(GeoAnttError, match="not both"):
        plan_sites(units, models, count=1, tier="identify", range_m=20.0)
    with pytest.raises(GeoAnttError, match="resolution_px must be a number of pixels from 320 to 16384"):
        plan_sites(units, models, count=1, tier="identify", resolution_px=100.0)
    with pytest.raises(GeoAnttError, match="a lighting has no tier"):
        plan_sites(units, models, kind="lighting", count=1, tier="identify")
    res = plan_sites(units, models, count=1, tier="recognise", resolution_px=2560.0, fov_deg=90.0, solver="greedy")
    # 2560 / (2 * 125) = 10.24 m: one site adds a quarter disc of that radius
    assert res.stats["tier_range_m"] == pytest.approx(10.24)
    assert res.sites["gain_m2"].iloc[0] == pytest.approx(math.pi * 10.24**2 / 4, rel=1e-6)
    assert res.models["resolution_px"].iloc[0] == 2560.0


def test_api_tier_parameter(client, web_store) -> None:
    """``?tier=`` on footprints and ``/api/stats``: a camera given a resolution gets its tier
    footprint (1920 px over 90 degrees identifies to 3.84 m: pi * 3.84^2 / 4 m^2); one without
    keeps its range and is counted as tier unknown; the models themselves keep their range_m;
    an unknown or empty tier is a 400 naming the tiers.
    """
    import json

    cams = web_store.models_frame()
    cams = cams[(cams["kind"] == "camera") & (cams["status"] == "active")]
    one = next(i for i, r in cams.iterrows() if len(r["direction_deg"]) == 1)
    web_store.update_model(
        one, {"resolution_px": 1920.0, "fov_deg": 90.0}, expected_version=int(cams.loc[one, "version"]), user=None
    )

    def footprint(tier: str | None) -> dict:
        q = f"&tier={tier}" if tier else ""
        fc = json.loads(client.get(f"/collections/footprints/items?limit=10000{q}").get_data(as_text=True))
        return {f.get("properties", {}).get("model_id") or f["id"]: f["properties"] for f in fc["features"]}

    plain, ident = footprint(None), footprint("identify")
    rng = float(cams.loc[one, "range_m"]) if cams.loc[one, "range_m"] == cams.loc[one, "range_m"] else 20.0
    assert plain[one]["area_m2"] == pytest.approx(math.pi * rng**2 / 4, rel=1e-6)
    assert ident[one]["area_m2"] == pytest.approx(math.pi * 3.84**2 / 4, rel=1e-6)
    other = next(i for i in cams.index if i != one and i in plain)
    assert ident[other]["area_m2"] == pytest.approx(plain[other]["area_m2"], rel=1e-9)
    fc = json.loads(client.get("/collections/camera/items?limit=10000&tier=identify").get_data(as_text=True))
    shown = next(f["properties"] for f in fc["features"] if f["id"] == one)
    assert shown["resolution_px"] == 1920.0 and shown.get("range_m") == web_store.get_model(one)["range_m"]
    st = client.get("/api/stats?tier=identify").get_json()
    assert st["tier"] == {
        "code": "identify",
        "title": "Nhận dạng",
        "px_per_m": 250.0,
        "rated": 1,
        "unknown": len(cams) - 1,
    }
    assert st["coverage"]["covered_m2"] <= client.get("/api/stats").get_json()["coverage"]["covered_m2"]
    assert "tier" not in client.get("/api/stats").get_json()
    for bad in ("inspect", ""):
        r = client.get(f"/api/stats?tier={bad}")
        assert r.status_code == 400 and "tiers: detect, observe, recognise, identify" in r.get_json()["message"]
    assert client.get("/collections/gaps/items?tier=bogus").status_code == 400
    en = client.get("/map?lang=en").get_data(as_text=True)
    assert "What the cameras are for" in en and "Identify (250 px/m)" in en and "Recorded range" in en


def test_hostile_tier_and_resolution_values_are_400s_for_an_officer(app, web_store) -> None:
    """What an officer's token may send to the routes that take a tier or a resolution: 1e308,
    NaN, a million characters, JSON nested deep, another commune's model: a 400 (or the unknown
    id's 404) with a short message, never a 500, and nothing written.
    """
    from tests.web_fixtures import WEB_USERS

    token = web_store.create_token(WEB_USERS["officer"][0], label="t", user=None)
    h = {"Authorization": f"Bearer {token}"}
    c = app.test_client()
    huge = "x" * 1_000_000
    for value in ("1e308", "NaN", huge, "identify\x00", "IDENTIFY"):
        for url in ("/api/stats", "/collections/footprints/items", "/collections/coverage/items"):
            r = c.get(url, query_string={"tier": value}, headers=h)
            assert r.status_code == 400, (url, value[:20], r.status_code)
            assert len(r.get_data()) < 2000 and "tiers: detect" in r.get_json()["message"]
    nested: object = "identify"
    for _ in range(100_000):
        nested = [nested]
    for tier in (1e308, float("nan"), huge, ["identify"]):
        body = {"unit": "28903", "kind": "camera", "count": 1, "tier": tier}
        r = c.post("/api/plan", data=json.dumps(body), content_type="application/json", headers=h)
        assert r.status_code == 400, (str(tier)[:20], r.status_code)
        assert len(r.get_data()) < 2000
    deep = '{"unit": "28903", "count": 1, "tier": ' + "[" * 100_000 + "]" * 100_000 + "}"
    r = c.post("/api/plan", data=deep, content_type="application/json", headers=h)
    assert r.status_code == 400
    # a resolution out of bounds on the officer's own camera: refused, the row unchanged
    mine = web_store.models_frame(unit_code="28903")
    cam = mine.index[mine["kind"] == "camera"][0]
    before = web_store.get_model(cam)
    for px in (1e308, float("inf"), 100.0, huge, [1920]):
        r = c.patch(
            f"/api/registry/models/{cam}",
            data=json.dumps({"version": before["version"], "changes": {"resolution_px": px}}),
            content_type="application/json",
            headers=h,
        )
        assert r.status_code == 400, (str(px)[:20], r.status_code, r.get_data()[:200])
    assert web_store.get_model(cam)["version"] == before["version"]
    # NaN is the store's "no value" (as for every number): it clears the resolution, the row stays valid
    r = c.patch(
        f"/api/registry/models/{cam}",
        data='{"version": ' + str(before["version"]) + ', "changes": {"resolution_px": NaN}}',
        content_type="application/json",
        headers=h,
    )
    assert r.status_code == 200 and web_store.get_model(cam).get("resolution_px") is None
    # another commune's camera looks exactly like an unknown id
    other = web_store.models_frame(unit_code="28891")
    theirs = other.index[other["kind"] == "camera"][0]
    for mid in (theirs, "no-such-model"):
        r = c.patch(
            f"/api/registry/models/{mid}",
            json={"version": 1, "changes": {"resolution_px": 1920.0}},
            headers=h,
        )
        assert r.status_code == 404, (mid, r.status_code)
    a = c.patch(f"/api/registry/models/{theirs}", json={"version": 1, "changes": {"resolution_px": 1920}}, headers=h)
    b = c.patch(
        "/api/registry/models/no-such-model", json={"version": 1, "changes": {"resolution_px": 1920}}, headers=h
    )
    assert a.get_json()["message"].replace(theirs, "ID") == b.get_json()["message"].replace("no-such-model", "ID")
