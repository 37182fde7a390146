"""A small synthetic dataset for the web tests (geo_antt.app, api, views, catalog).

It sits in Mỏ Cày Nam (Bến Tre): one province, one (pre-2025) district, two communes (Xã Hương
Mỹ, Xã An Thạnh) of 0.004° × 0.004° with two hamlets each, cameras, lights, a checkpoint, a gate
and a non-spatial self-management group; one camera is named ``<script>alert(1)</script>``. Its
coverage frames (per-hamlet figures, gaps, footprints) follow the contract of
``geo_antt.coverage.compute_coverage`` and are computed here with plain shapely (discs and
sectors in UTM 48N), so that the web layer is tested against consistent, hand-checkable figures.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from types import SimpleNamespace

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import Point, Polygon, box

__all__ = [
    "XSS_NAME",
    "synthetic_units",
    "synthetic_models",
    "synthetic_coverage",
    "write_dataset",
    "WEB_USERS",
    "WEB_PASSWORD",
    "add_web_users",
    "login",
    "csrf_token",
]

XSS_NAME = "<script>alert(1)</script>"

# -- synthetic dataset ------------------------------------------------------------------------

X0, Y0, STEP = 106.30, 10.10, 0.004  # degrees (a commune of ~440 m x 440 m)


def synthetic_units() -> gpd.GeoDataFrame:
    rows = []
    a = box(X0, Y0, X0 + STEP, Y0 + STEP)
    b = box(X0 + STEP, Y0, X0 + 2 * STEP, Y0 + STEP)
    rows.append(("83", "Tỉnh Bến Tre", "province", None, box(X0, Y0, X0 + 2 * STEP, Y0 + STEP)))
    rows.append(("835", "Huyện Mỏ Cày Nam", "district", "83", box(X0, Y0, X0 + 2 * STEP, Y0 + STEP)))
    rows.append(("28903", "Xã Hương Mỹ", "commune", "835", a))
    rows.append(("28891", "Xã An Thạnh", "commune", "835", b))
    half = STEP / 2
    rows.append(("28903-01", "Ấp Hương Mỹ Thượng", "hamlet", "28903", box(X0, Y0 + half, X0 + STEP, Y0 + STEP)))
    rows.append(("28903-02", "Ấp Đồng Xuân", "hamlet", "28903", box(X0, Y0, X0 + STEP, Y0 + half)))
    rows.append(("28891-01", "Ấp Thạnh Lợi", "hamlet", "28891", box(X0 + STEP, Y0 + half, X0 + 2 * STEP, Y0 + STEP)))
    rows.append(("28891-02", "Ấp Tân Phú", "hamlet", "28891", box(X0 + STEP, Y0, X0 + 2 * STEP, Y0 + half)))
    df = pd.DataFrame(rows, columns=["code", "name", "level", "parent_code", "geometry"])
    df["approximate"] = True
    df["valid_from"] = "2020-01-01"
    df["valid_to"] = None
    g = gpd.GeoDataFrame(df, geometry="geometry", crs=4326)
    return g.set_index("code", drop=False)


def synthetic_models() -> gpd.GeoDataFrame:
    rng = np.random.default_rng(7)
    rows = []
    hamlets = synthetic_units().query("level == 'hamlet'")
    n = 0
    for code, h in hamlets.iterrows():
        minx, miny, maxx, maxy = h.geometry.bounds
        k = 6 if code != "28891-02" else 1  # Ấp Tân Phú is nearly uncovered
        for i in range(k):
            n += 1
            x = minx + (maxx - minx) * rng.uniform(0.1, 0.9)
            y = miny + (maxy - miny) * rng.uniform(0.1, 0.9)
            name = XSS_NAME if n == 1 else f"Camera {code} số {i + 1}"
            rows.append(
                dict(
                    id=f"CAM{n:03d}",
                    kind="camera",
                    name=name,
                    field="crime_prevention",
                    host="residential",
                    status="active" if i % 5 else "inactive",
                    unit_code=code,
                    direction_deg=[float(rng.uniform(0, 360))],
                    fov_deg=90.0,
                    range_m=60.0,
                    owner="Hộ ông Nguyễn Văn Đức",
                    data_sharing=True,
                    geometry=Point(x, y),
                )
            )
        rows.append(
            dict(
                id=f"LIGHT-{code}",
                kind="lighting",
                name=f"Đèn {h['name']}",
                field="traffic_safety",
                host="residential",
                status="active",
                unit_code=code,
                radius_m=40.0,
                geometry=Point((minx + maxx) / 2, (miny + maxy) / 2),
            )
        )
    rows.append(
        dict(
            id="CHOT1",
            kind="checkpoint",
            name="Chốt dân phòng ngã ba",
            field="crime_prevention",
            host="agency",
            status="active",
            unit_code="28903-01",
            radius_m=100.0,
            geometry=Point(X0 + 0.001, Y0 + 0.003),
        )
    )
    rows.append(
        dict(
            id="GATE1",
            kind="gate",
            name="Cổng rào xóm Đình",
            field="crime_prevention",
            host="residential",
            status="active",
            unit_code="28891-01",
            radius_m=10.0,
            geometry=Point(X0 + 0.006, Y0 + 0.003),
        )
    )
    rows.append(
        dict(
            id="TQ1",
            kind="self_management",
            name="Tổ nhân dân tự quản số 1",
            field="subject_management",
            host="residential",
            status="active",
            unit_code="28903-02",
            geometry=None,
        )
    )
    g = gpd.GeoDataFrame(pd.DataFrame(rows), geometry="geometry", crs=4326)
    return g.set_index("id", drop=False)


def _footprint(pt_m: Point, *, radius_m: float, direction_deg: float | None, fov_deg: float) -> Polygon:
    if direction_deg is None or fov_deg >= 360:
        return pt_m.buffer(radius_m, 32)
    a0 = math.radians(direction_deg - fov_deg / 2)
    a1 = math.radians(direction_deg + fov_deg / 2)
    angles = np.linspace(a0, a1, 17)
    ring = [(pt_m.x, pt_m.y)] + [(pt_m.x + radius_m * math.sin(t), pt_m.y + radius_m * math.cos(t)) for t in angles]
    return Polygon(ring)


def synthetic_coverage(units: gpd.GeoDataFrame, models: gpd.GeoDataFrame) -> SimpleNamespace:
    """Per-hamlet coverage, gaps and footprints of the active spatial models (UTM 48N)."""
    crs_m = 32648
    um = units.to_crs(crs_m)
    mm = models[models.geometry.notna() & (models["status"] == "active")].to_crs(crs_m)
    fps = []
    for mid, r in mm.iterrows():
        d = r.get("direction_deg")
        if r["kind"] == "camera":
            geom = _footprint(r.geometry, radius_m=r["range_m"], direction_deg=d[0], fov_deg=r["fov_deg"])
        else:
            geom = _footprint(r.geometry, radius_m=r["radius_m"], direction_deg=None, fov_deg=360)
        fps.append(dict(model_id=mid, kind=r["kind"], geometry=geom))
    fp = gpd.GeoDataFrame(pd.DataFrame(fps), geometry="geometry", crs=crs_m)
    fp.index = fp["model_id"]
    rows, gaps = [], []
    hamlets = um[um["level"] == "hamlet"]
    for code, h in hamlets.iterrows():
        inside = fp[fp.intersects(h.geometry)]
        cov = shapely.union_all(inside.geometry.to_numpy()).intersection(h.geometry) if len(inside) else Polygon()
        area = h.geometry.area
        row = dict(
            code=code,
            name=h["name"],
            level="hamlet",
            area_m2=area,
            covered_m2=cov.area,
            covered_pct=100.0 * cov.area / area,
            geometry=h.geometry,
        )
        for kind in ("camera", "lighting", "checkpoint", "gate"):
            sub = inside[inside["kind"] == kind]
            c = shapely.union_all(sub.geometry.to_numpy()).intersection(h.geometry) if len(sub) else Polygon()
            row[f"covered_m2_{kind}"] = c.area
            row[f"n_{kind}"] = int((models["unit_code"] == code).mul(models["kind"] == kind).sum())
        rows.append(row)
        # a gap: the uncovered part of the hamlet's south-west quarter
        minx, miny, maxx, maxy = h.geometry.bounds
        q = box(minx, miny, (minx + maxx) / 2, (miny + maxy) / 2).difference(cov)
        if not q.is_empty:
            gaps.append(dict(gap_id=f"gap-{code}", unit_code=code, area_m2=q.area, geometry=q))
    cu = gpd.GeoDataFrame(pd.DataFrame(rows), geometry="geometry", crs=crs_m).set_index("code", drop=False)
    cu["rank"] = cu["covered_pct"].rank(method="first").astype(int)
    gp = gpd.GeoDataFrame(pd.DataFrame(gaps), geometry="geometry", crs=crs_m).set_index("gap_id", drop=False)
    return SimpleNamespace(units=cu.to_crs(4326), gaps=gp.to_crs(4326), footprints=fp.to_crs(4326))


def _plain(v):
    if isinstance(v, (list, tuple)):
        return [float(x) for x in v]
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (float, np.floating)):
        return None if math.isnan(v) else float(v)
    return v


def write_dataset(directory: Path, units: gpd.GeoDataFrame, models: gpd.GeoDataFrame) -> Path:
    """Write a dataset directory (dataset.toml + GeoJSON files) as DEVELOPING.md describes."""
    (directory / "boundaries").mkdir(parents=True, exist_ok=True)
    (directory / "models").mkdir(parents=True, exist_ok=True)
    names = {"province": "provinces", "district": "districts", "commune": "communes", "hamlet": "hamlets"}
    files = []
    for level, stem in names.items():
        sub = units[units["level"] == level]
        p = directory / "boundaries" / f"{stem}.geojson"
        sub.to_file(p, driver="GeoJSON", engine="pyogrio", index=False)
        files.append(f"boundaries/{stem}.geojson")
    m = models.copy()
    # RFC 7946 lists for the directions (GDAL writes list columns as JSON arrays)
    feats = []
    for _, r in m.iterrows():
        props = {k: _plain(v) for k, v in r.items() if k != "geometry"}
        geom = shapely.geometry.mapping(r.geometry) if isinstance(r.geometry, shapely.Geometry) else None
        feats.append({"type": "Feature", "properties": props, "geometry": geom})
    (directory / "models" / "models.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": feats}, ensure_ascii=False), encoding="utf-8"
    )
    toml = (
        'title = { vi = "Dữ liệu thử Mỏ Cày Nam", en = "Mỏ Cày Nam test data" }\n'
        'note = { vi = "Ranh giới tổng hợp để kiểm thử", en = "Synthetic boundaries for tests" }\n'
        "approximate = true\n"
        f"units = {json.dumps(files)}\n"
        'models = ["models/models.geojson"]\n'
    )
    (directory / "dataset.toml").write_text(toml, encoding="utf-8")
    return directory


# -- accounts of the web tests -------------------------------------------------------------------

WEB_PASSWORD = "mật-khẩu-web-123"
# role key -> (account name, role, units): the officer and the viewer of Xã Hương Mỹ (28903), the
# officer of Xã An Thạnh (28891)
WEB_USERS = {
    "admin": ("quan_tri", "admin", ()),
    "officer": ("can_bo_hm", "officer", ("28903",)),
    "viewer": ("xem_hm", "viewer", ("28903",)),
    "officer_b": ("can_bo_at", "officer", ("28891",)),
}


def add_web_users(store) -> None:
    """Create the :data:`WEB_USERS` accounts (password :data:`WEB_PASSWORD`) in ``store``."""
    for name, role, units in WEB_USERS.values():
        store.add_user(name, role=role, password=WEB_PASSWORD, unit_codes=units, user=None)


def csrf_token(client) -> str:
    """The CSRF token of the client's session (read from the login form)."""
    html = client.get("/login").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def login(app, role: str | None):
    """A test client of ``app`` logged in through the login form as the account of ``role``
    (None: anonymous); ``client.csrf`` holds the session's CSRF token for writes.
    """
    client = app.test_client()
    if role is not None:
        name = WEB_USERS[role][0]
        resp = client.post("/login", data={"csrf_token": csrf_token(client), "name": name, "password": WEB_PASSWORD})
        assert resp.status_code == 302, resp.get_data(as_text=True)
    client.csrf = csrf_token(client)
    return client
