"""Benchmark of the placement: a 1,000-candidate, 200-hamlet commune plan with N = 20 new
cameras (8 directions per site = 8,000 candidate footprints), solved exactly (CBC).

The commune is a real one (Thị trấn Thuận Nam, Hàm Thuận Nam, 29 km², from ../shared/data)
cut into 200 hamlets (Voronoi cells of random seeds); 400 existing active cameras and 150
lights are placed at random in its 700 m core, where the 1,000 candidate sites (e.g. poles)
are random points too, so that candidate footprints overlap each other and existing coverage.
Solvers: "exact" (PuLP + CBC), "highs" (the same model in HiGHS) and the greedy heuristic.
Floor: under 30 s. Prints the figures; run with the project's Python:

    python bench/plan_bench.py [--candidates 1000] [--hamlets 200] [--count 20]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from geo_antt.crs import to_metric  # noqa: E402
from geo_antt.placement import plan_sites  # noqa: E402
from geo_antt.schema import MODEL_COLUMNS  # noqa: E402

SHARED = ROOT.parent / "shared" / "data" / "boundaries" / "ham_thuan_nam_communes_pre2025.geojson"


def commune_polygon() -> gpd.GeoDataFrame:
    if SHARED.exists():
        g = gpd.read_file(SHARED)
        g = g.loc[g["commune_code_gso"].astype(str) == "23110"]
        return g[["geometry"]]
    # fallback: a 5 km x 6 km square near Phan Thiết
    return gpd.GeoDataFrame(geometry=[shapely.box(107.85, 10.82, 107.895, 10.875)], crs=4326)


def random_points_in(poly, n, rng):
    minx, miny, maxx, maxy = poly.bounds
    out = []
    while len(out) < n:
        p = shapely.points(rng.uniform(minx, maxx, 4 * n), rng.uniform(miny, maxy, 4 * n))
        out.extend(p[shapely.contains_xy(poly, shapely.get_x(p), shapely.get_y(p))].tolist())
    return np.asarray(out[:n], dtype=object)


def make_case(
    n_hamlets: int, n_candidates: int, *, core_m: float = 700.0, n_cam: int = 400, n_light: int = 150, seed: int = 7
):
    rng = np.random.default_rng(seed)
    commune = to_metric(commune_polygon())
    poly = shapely.union_all(commune.geometry.values)
    seeds = random_points_in(poly, n_hamlets, rng)
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=poly))
    cells = shapely.intersection(cells, poly)
    cells = cells[shapely.area(cells) > 0]
    codes = [f"B{i:03d}" for i in range(len(cells))]
    hamlets = gpd.GeoDataFrame(
        {
            "code": codes,
            "name": [f"Thôn {i + 1}" for i in range(len(cells))],
            "level": "hamlet",
            "parent_code": "23110",
        },
        geometry=cells,
        crs=commune.crs,
        index=pd.Index(codes, name="code"),
    ).to_crs(4326)
    # the village core (a 700 m disc around the commune's centre) holds the existing models
    # and the candidate poles: footprints overlap and compete, as in a real town centre
    core = shapely.intersection(poly, shapely.point_on_surface(poly).buffer(core_m))
    pts = random_points_in(core, n_cam + n_light, rng)
    n = n_cam + n_light
    rows = {c: [None] * n for c in MODEL_COLUMNS}
    rows["id"] = [f"m{i}" for i in range(n)]
    rows["kind"] = ["camera"] * n_cam + ["lighting"] * n_light
    rows["status"] = ["active"] * n
    rows["direction_deg"] = [(float(d),) for d in rng.uniform(0, 360, n_cam)] + [()] * n_light
    rows["fov_deg"] = [90.0] * n_cam + [np.nan] * n_light
    rows["range_m"] = [20.0] * n_cam + [np.nan] * n_light
    rows["radius_m"] = [np.nan] * n_cam + [20.0] * n_light
    rows["height_m"] = [np.nan] * n
    models = gpd.GeoDataFrame(rows, geometry=pts, crs=commune.crs, index=pd.Index(rows["id"], name="id")).to_crs(4326)
    cand = gpd.GeoDataFrame(
        {"ref": [f"p{i}" for i in range(n_candidates)]},
        geometry=random_points_in(core, n_candidates, rng),
        crs=commune.crs,
    ).to_crs(4326)
    return hamlets, models, cand


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--candidates", type=int, default=1000)
    ap.add_argument("--hamlets", type=int, default=200)
    ap.add_argument("--count", type=int, default=20)
    ap.add_argument(
        "--core-m", type=float, default=700.0, help="radius of the village core holding models and poles (m)"
    )
    ap.add_argument("--cameras", type=int, default=400, help="existing cameras")
    args = ap.parse_args()
    hamlets, models, cand = make_case(args.hamlets, args.candidates, core_m=args.core_m, n_cam=args.cameras)
    print(
        f"case: {len(hamlets)} hamlets, {len(models)} existing models, {len(cand)} candidate sites "
        f"in a {args.core_m:g} m core, N = {args.count}"
    )
    for solver in ("exact", "highs", "greedy"):
        t0 = time.perf_counter()
        res = plan_sites(hamlets, models, kind="camera", count=args.count, candidates=cand, solver=solver)
        wall = time.perf_counter() - t0
        s = res.stats
        gain = float(res.after["covered_m2"].sum() - res.before["covered_m2"].sum())
        print(
            f"{solver:>6}: total {wall:6.2f} s (prepare {s['prepare_seconds']:.2f} s, solve {s['solve_seconds']:.2f} s); "
            f"{s['n_footprints']} footprints, {s['reduced_rows']} demand pieces, nnz {s['reduced_nnz']}; "
            f"objective {res.objective:,.1f} m² (engine after-before {gain:,.1f} m²), optimal={res.optimal}"
            + (
                f", greedy {res.greedy_objective:,.1f} m², gap {100 * res.gap_to_optimum:.3f} %"
                if res.gap_to_optimum is not None
                else ""
            )
        )
        if solver in ("exact", "highs"):
            verdict = "PASS" if wall < 30.0 and res.optimal else "FAIL"
            print(f"floor ({solver}): exact plan under 30 s -> {verdict} ({wall:.2f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
