"""Store benchmark: import, read, bbox query and single edits on a synthetic province.

Prints figures; asserts nothing. Usage::

    python bench/store_bench.py                      # 20,000 cameras, SQLite in a temp folder
    python bench/store_bench.py --n 100000
    python bench/store_bench.py --db postgresql://geo@127.0.0.1:5432/bench
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import argon2
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from geo_antt.store import Store  # noqa: E402

__all__: list[str] = []


def _units(n_communes: int) -> gpd.GeoDataFrame:
    side = int(np.ceil(np.sqrt(n_communes)))
    rows = [("P", "Tỉnh", "province", None, shapely.box(105.0, 10.0, 105.0 + side * 0.05, 10.0 + side * 0.05))]
    for i in range(n_communes):
        x, y = 105.0 + (i % side) * 0.05, 10.0 + (i // side) * 0.05
        rows.append((f"C{i:04d}", f"Xã {i}", "commune", "P", shapely.box(x, y, x + 0.05, y + 0.05)))
        for j in range(16):  # 4 x 4 hamlets of 0.0125 degree (about 1.4 km)
            hx, hy = x + (j % 4) * 0.0125, y + (j // 4) * 0.0125
            rows.append(
                (f"C{i:04d}-{j:02d}", f"Ấp {j}", "hamlet", f"C{i:04d}", shapely.box(hx, hy, hx + 0.0125, hy + 0.0125))
            )
    return gpd.GeoDataFrame(
        {
            "code": [r[0] for r in rows],
            "name": [r[1] for r in rows],
            "level": [r[2] for r in rows],
            "parent_code": [r[3] for r in rows],
        },
        geometry=[r[4] for r in rows],
        crs="EPSG:4326",
    )


def _models(n: int, n_communes: int, rng: np.random.Generator) -> gpd.GeoDataFrame:
    side = int(np.ceil(np.sqrt(n_communes)))
    c = rng.integers(0, n_communes, n)
    x = 105.0 + (c % side) * 0.05 + rng.uniform(0.001, 0.049, n)
    y = 10.0 + (c // side) * 0.05 + rng.uniform(0.001, 0.049, n)
    df = pd.DataFrame(
        {
            "id": [f"cam-{i:06d}" for i in range(n)],
            "kind": "camera",
            "name": [f"Camera {i}" for i in range(n)],
            "status": "active",
            "unit_code": [
                f"C{k:04d}-{int((xx - 105.0 - (k % side) * 0.05) // 0.0125) + 4 * int((yy - 10.0 - (k // side) * 0.05) // 0.0125):02d}"
                for k, xx, yy in zip(c, x, y)
            ],
            "direction_deg": [(float(d),) for d in rng.uniform(0, 360, n).round(1)],
            "fov_deg": 90.0,
            "range_m": 25.0,
        }
    )
    return gpd.GeoDataFrame(df, geometry=shapely.points(x, y), crs="EPSG:4326")


def _t(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=20_000, help="cameras (default 20000)")
    ap.add_argument("--communes", type=int, default=100)
    ap.add_argument("--db", help="store URL (default: a new SQLite file in a temporary folder)")
    args = ap.parse_args()
    rng = np.random.default_rng(7)
    with tempfile.TemporaryDirectory() as tmp:
        url = args.db or f"sqlite:///{Path(tmp) / 'bench.sqlite'}"
        store = Store.open(url, password_hasher=argon2.PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
        store.put_units(_units(args.communes), user=None)
        officer = store.add_user("bench_officer", role="officer", unit_codes=["C0000"], user=None)
        gdf = _models(args.n, args.communes, rng)
        print(f"store {store.backend}: {args.n:,} cameras in {args.communes} communes of 16 hamlets")
        preview, dt = _t(lambda: store.preview_import(gdf, user=None, unit_code="P"))
        print(f"  preview import      {dt:7.2f} s  ({args.n / dt:,.0f} rows/s)")
        _, dt = _t(lambda: store.commit_import(preview, user=None))
        print(f"  commit import       {dt:7.2f} s  ({args.n / dt:,.0f} rows/s, one transaction, with audit)")
        p2, dt = _t(lambda: store.preview_import(gdf, user=None, unit_code="P"))
        print(f"  re-import preview   {dt:7.2f} s  ({len(p2.unchanged):,} unchanged)")
        f, dt = _t(lambda: store.models_frame())
        print(f"  read all            {dt:7.2f} s  ({len(f):,} rows)")
        f, dt = _t(lambda: store.models_frame(user=officer))
        print(f"  read officer scope  {dt:7.3f} s  ({len(f):,} rows)")
        times = []
        for _ in range(20):
            x, y = rng.uniform(105.0, 105.4), rng.uniform(10.0, 10.4)
            _, dt = _t(lambda: store.models_frame(bbox=(x, y, x + 0.01, y + 0.01)))
            times.append(dt)
        print(f"  bbox query 0.01 deg median {statistics.median(times) * 1000:7.1f} ms")
        ids = f.index[:20].tolist() or gdf["id"].iloc[:20].tolist()
        times = []
        for mid in ids:
            ver = store.get_model(mid)["version"]
            _, dt = _t(lambda: store.update_model(mid, {"range_m": 30.0}, expected_version=ver, user=officer))
            times.append(dt)
        print(f"  single edit (checked, audited) median {statistics.median(times) * 1000:7.1f} ms")
        cov, dt = _t(lambda: store.coverage_frame())
        print(f"  coverage, all {len(cov):,} hamlets (cold cache) {dt:7.2f} s")
        _, dt = _t(lambda: store.coverage_frame())
        print(f"  coverage, all hamlets from the cache        {dt:7.3f} s")
        edit_t, refresh_t, n_re = [], [], []
        full = store.models_frame(unit_code="C0000")
        for mid in full.index[:20]:
            rec = store.get_model(mid)
            p = rec["geometry"]
            moved = shapely.Point(p.x + 0.0002, p.y + 0.0001)  # about 20 m; may cross into the next hamlet
            _, dt1 = _t(
                lambda: store.update_model(
                    mid,
                    {"geometry": moved, "direction_deg": (float(rng.uniform(0, 360)),)},
                    expected_version=rec["version"],
                    user=None,
                )
            )
            cov, dt2 = _t(lambda: store.coverage_frame(unit_code="C0000"))
            edit_t.append(dt1)
            refresh_t.append(dt2)
            n_re.append(len(cov.attrs["recomputed"]))
        print(
            f"  one camera edit re-scored: edit {statistics.median(edit_t) * 1000:.1f} ms + refresh "
            f"{statistics.median(refresh_t) * 1000:.1f} ms median (max {max(refresh_t) * 1000:.1f} ms; "
            f"{statistics.median(n_re):.0f} hamlet(s) recomputed of the commune's 16)"
        )
        store.close()


if __name__ == "__main__":
    main()
