"""Latency of OGC API items queries on a province-scale case: 100,000 cameras.

Builds a province from the real 2025 communes (../shared/data/national/vn_communes_2025.gpkg,
default Vĩnh Long), cuts every commune into hamlets by a ~1.2 km grid (in UTM), scatters the
cameras around hamlet centres (normal, sd 150 m), starts the app (live Waitress server on a
loopback port, plus the Flask test client), and prints p50/p95 latency of
``/collections/camera/items?bbox=...`` for boxes sized to return about 1,000 cameras each.
Floor: p95 < 100 ms. Requests carry an API token (an admin account in a temporary store), so the
figures include the login guard and the scope look-up of every request.

Usage: python bench/api_bench.py [--province "Vĩnh Long"] [--cameras 100000] [--queries 200]
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from geo_antt.text import fold  # noqa: E402

__all__ = ["build_case", "main"]

NATIONAL = ROOT.parent / "shared" / "data" / "national" / "vn_communes_2025.gpkg"
if not NATIONAL.exists():
    NATIONAL = Path("/work/shared/data/national/vn_communes_2025.gpkg")


def build_case(*, province: str, n_cameras: int, hamlet_cell_m: float = 1200.0, seed: int = 1) -> SimpleNamespace:
    """Units (province, communes, grid hamlets) and ``n_cameras`` cameras, EPSG:4326."""
    communes = gpd.read_file(NATIONAL, layer="communes", engine="pyogrio")
    communes = communes[communes["province_name"].map(fold) == fold(province)]
    if communes.empty:
        raise SystemExit(f"no commune of province {province!r} in {NATIONAL}")
    pcode = communes["province_code"].iat[0]
    metric = communes.estimate_utm_crs()
    cm = communes.to_crs(metric)
    minx, miny, maxx, maxy = cm.total_bounds
    xs = np.arange(minx, maxx, hamlet_cell_m)
    ys = np.arange(miny, maxy, hamlet_cell_m)
    gx, gy = np.meshgrid(xs, ys)
    cells = shapely.box(gx.ravel(), gy.ravel(), gx.ravel() + hamlet_cell_m, gy.ravel() + hamlet_cell_m)
    tree = shapely.STRtree(cells)
    ci, gi = tree.query(cm.geometry.to_numpy(), predicate="intersects")
    pieces = shapely.intersection(cm.geometry.to_numpy()[ci], cells[gi])
    keep = ~shapely.is_empty(pieces) & (shapely.area(pieces) > 20_000)
    ci, pieces = ci[keep], pieces[keep]
    ccodes = cm["commune_code"].to_numpy()[ci]
    order = pd.Series(ccodes).groupby(ccodes).cumcount().to_numpy() + 1
    hamlets = gpd.GeoDataFrame(
        {
            "code": [f"{c}-{k:03d}" for c, k in zip(ccodes, order)],
            "name": [f"Ấp {k}, {n}" for k, n in zip(order, cm["commune_name"].to_numpy()[ci])],
            "level": "hamlet",
            "parent_code": ccodes,
        },
        geometry=pieces,
        crs=metric,
    )
    units = pd.concat(
        [
            gpd.GeoDataFrame(
                {"code": [pcode], "name": [province], "level": ["province"], "parent_code": [None]},
                geometry=[shapely.union_all(cm.geometry.to_numpy())],
                crs=metric,
            ),
            gpd.GeoDataFrame(
                {"code": cm["commune_code"], "name": cm["commune_full_name"], "level": "commune", "parent_code": pcode},
                geometry=cm.geometry.to_numpy(),
                crs=metric,
            ),
            hamlets,
        ],
        ignore_index=True,
    )
    units["approximate"] = True
    units["valid_from"] = "2025-07-01"
    units["valid_to"] = None
    units = gpd.GeoDataFrame(units, geometry="geometry", crs=metric).to_crs(4326).set_index("code", drop=False)

    rng = np.random.default_rng(seed)
    area = shapely.area(hamlets.geometry.to_numpy())
    pick = rng.choice(len(hamlets), size=n_cameras, p=area / area.sum())
    centres = shapely.point_on_surface(hamlets.geometry.to_numpy())
    cx, cy = shapely.get_x(centres)[pick], shapely.get_y(centres)[pick]
    px, py = cx + rng.normal(0, 150, n_cameras), cy + rng.normal(0, 150, n_cameras)
    models = (
        gpd.GeoDataFrame(
            {
                "id": [f"CAM{i:06d}" for i in range(n_cameras)],
                "kind": "camera",
                "name": [f"Camera {i}" for i in range(n_cameras)],
                "field": "crime_prevention",
                "host": "residential",
                "status": np.where(rng.random(n_cameras) < 0.9, "active", "inactive"),
                "unit_code": hamlets["code"].to_numpy()[pick],
                "direction_deg": [(float(d),) for d in rng.uniform(0, 360, n_cameras)],
                "fov_deg": 90.0,
                "range_m": 20.0,
                "radius_m": np.nan,
                "height_m": 3.5,
                "camera_type": "fixed",
                "owner": "Hộ gia đình",
                "data_sharing": True,
                "start_date": "2024-01-01",
                "end_date": None,
                "notes": None,
            },
            geometry=shapely.points(px, py),
            crs=metric,
        )
        .to_crs(4326)
        .set_index("id", drop=False)
    )
    return SimpleNamespace(
        units=units, models=models, meta={"title": {"vi": f"Bench {province}", "en": f"Bench {province}"}}
    )


def _bboxes(col, *, n: int, target: int, seed: int) -> list[tuple[float, float, float, float]]:
    """Boxes centred on random cameras, sized (binary search) to hold about ``target`` cameras."""
    rng = np.random.default_rng(seed)
    xs, ys = shapely.get_x(col.frame.geometry.to_numpy()), shapely.get_y(col.frame.geometry.to_numpy())
    out = []
    for i in rng.choice(len(xs), size=n, replace=False):
        lo, hi = 1e-4, 0.5
        for _ in range(18):
            mid = (lo + hi) / 2
            k = len(col.positions(bbox=(xs[i] - mid, ys[i] - mid, xs[i] + mid, ys[i] + mid)))
            lo, hi = (mid, hi) if k < target else (lo, mid)
        s = (lo + hi) / 2
        out.append((xs[i] - s, ys[i] - s, xs[i] + s, ys[i] + s))
    return out


def _pct(ms: list[float]) -> str:
    a = np.asarray(ms)
    return f"p50 {np.percentile(a, 50):6.1f} ms   p95 {np.percentile(a, 95):6.1f} ms   max {a.max():6.1f} ms"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--province", default="Vĩnh Long")
    ap.add_argument("--cameras", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--target", type=int, default=1000, help="cameras per bbox (about)")
    args = ap.parse_args(argv)

    from waitress import create_server

    from geo_antt.app import create_app

    t0 = time.perf_counter()
    case = build_case(province=args.province, n_cameras=args.cameras)
    t1 = time.perf_counter()
    import tempfile

    from geo_antt.store import Store

    tmp = tempfile.TemporaryDirectory(prefix="geo-antt-bench-")
    store = Store.open(f"sqlite:///{tmp.name}/bench.sqlite")
    store.add_user("bench", role="admin", password=None, user=None)
    auth = {"Authorization": "Bearer " + store.create_token("bench", label="api_bench", user=None)}
    app = create_app({"TESTING": False, "STORE": store, "DATASET": case, "COVERAGE": None})
    t2 = time.perf_counter()
    cat = app.extensions["geo_antt"].live.catalog
    col = cat.get("camera")
    n_h = int((case.units["level"] == "hamlet").sum())
    n_c = int((case.units["level"] == "commune").sum())
    print(
        f"case: {args.province}: {n_c} communes, {n_h} hamlets, {len(case.models):,} cameras "
        f"(built in {t1 - t0:.1f} s); app + catalog ready in {t2 - t1:.1f} s (coverage included when the engine is installed)"
    )
    print("collections: " + ", ".join(f"{k} {len(c.frame):,}" for k, c in cat.collections.items()))

    boxes = _bboxes(col, n=args.queries, target=args.target, seed=2)
    urls = ["/collections/camera/items?bbox=" + ",".join(f"{v:.6f}" for v in b) + "&limit=10000" for b in boxes]

    client = app.test_client()
    for u in urls[:10]:
        client.get(u, headers=auth).close()  # warm-up
    lat, returned, sizes = [], [], []
    for u in urls:
        s = time.perf_counter()
        r = client.get(u, headers=auth)
        body = r.get_data()
        lat.append((time.perf_counter() - s) * 1000)
        fc = json.loads(body)
        returned.append(fc["numberReturned"])
        sizes.append(len(body))
        r.close()
    print(
        f"test client : {len(urls)} bbox queries, features/query median {int(np.median(returned))} "
        f"(min {min(returned)}, max {max(returned)}), body median {np.median(sizes) / 1024:.0f} KiB"
    )
    print(f"              {_pct(lat)}")

    # the server `geo-antt serve` runs (Waitress, its default thread count)
    server = create_server(app, host="127.0.0.1", port=0, threads=8)
    th = threading.Thread(target=server.run, daemon=True)
    th.start()
    port = server.effective_port
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        lat_http = []
        for u in urls:
            s = time.perf_counter()
            conn.request("GET", u, headers={"Accept": "application/geo+json", **auth})
            resp = conn.getresponse()
            data = resp.read()
            lat_http.append((time.perf_counter() - s) * 1000)
            assert resp.status == 200 and data
            if resp.getheader("Connection", "").lower() == "close" or resp.version == 10:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.close()
        print(f"live HTTP   : {_pct(lat_http)}   (http://127.0.0.1:{port}, Waitress, 8 threads)")
        # unit-filtered page (a commune and its hamlets) for reference
        commune = case.units.index[case.units["level"] == "commune"][0]
        lat_u = []
        for _ in range(20):
            s = time.perf_counter()
            client.get(f"/collections/camera/items?unit={commune}&limit=1000", headers=auth).close()
            lat_u.append((time.perf_counter() - s) * 1000)
        print(f"unit filter : {_pct(lat_u)}   (unit={commune}, limit 1000)")
        if "footprints" in cat.collections:  # camera sectors (polygons) in the same boxes
            lat_f, n_f = [], []
            for u in urls[:100]:
                s = time.perf_counter()
                r = client.get(u.replace("/camera/", "/footprints/"), headers=auth)
                body = r.get_data()
                lat_f.append((time.perf_counter() - s) * 1000)
                n_f.append(json.loads(body)["numberReturned"])
                r.close()
            print(f"footprints  : {_pct(lat_f)}   (same boxes, median {int(np.median(n_f))} sectors)")
    finally:
        server.close()
        th.join(timeout=5)
        store.close()
        tmp.cleanup()
    p95 = float(np.percentile(lat_http, 95))
    verdict = "OK" if p95 < 100 else "ABOVE FLOOR"
    print(f"floor p95 < 100 ms for ~{args.target} features per bbox (live HTTP): {p95:.1f} ms -> {verdict}")
    return 0 if p95 < 100 else 1


if __name__ == "__main__":
    raise SystemExit(main())
