"""Coverage benchmark at city scale: Hà Nội's 126 real communes, ~5,000 generated hamlets,
100,000 cameras and 10,000 lights clustered around hamlet centres.

Prints seconds and peak memory for load, footprints, coverage and gaps, the same result computed
in the same run by a plain ``geopandas.overlay`` + ``dissolve`` pipeline (and checks both agree
within 1 % per hamlet), and the wall time and peak memory of the whole ``geo-antt coverage``
process on the same files (best of ``--runs``, with its user + system CPU seconds: on a busy
machine the wall time says little, the CPU time stays comparable).

Streets: a grid of ``--road-segments`` street segments (block-long lines, as OSM ways between
crossings) over the communes; the coverage is computed without and with ``roads=`` (best of three
each, alternating) and the extra seconds of the street figures and street gaps are printed; the
whole process is then timed once more with ``--roads --street-gaps``.

Usage: python bench/coverage_bench.py [--hamlets 5000] [--cameras 100000] [--lights 10000]
       [--seed 1] [--no-overlay] [--road-segments 50000] [--keep DIR [--reuse]] [--runs 3]
       [--cli-only]

``--keep DIR --reuse`` reads the case already written in DIR (same options) instead of making it
again; ``--cli-only`` then times only the whole ``geo-antt coverage`` process.
"""

from __future__ import annotations

import argparse
import gc
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from geo_antt import io  # noqa: E402
from geo_antt.coverage import compute_coverage  # noqa: E402
from geo_antt.crs import to_metric  # noqa: E402
from geo_antt.io.hamlets import read_hamlets  # noqa: E402

HANOI = ROOT.parent / "shared" / "data" / "national" / "hanoi_communes_2025.geojson"


def peak_rss_mb(who: int = resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024.0  # kB on Linux


def make_case(out: Path, *, n_hamlets: int, n_cameras: int, n_lights: int, seed: int) -> tuple[Path, Path, Path]:
    """Write communes (a copy path is not needed: the real file is read), hamlet points and a
    models CSV into ``out``; return their paths.
    """
    rng = np.random.default_rng(seed)
    communes = io.read_units(HANOI)
    cm = to_metric(communes)
    area = cm.area.to_numpy()
    per = np.maximum(3, np.round(n_hamlets * area / area.sum())).astype(int)
    pts, parent, names = [], [], []
    for (code, geom), k in zip(cm.geometry.items(), per):
        minx, miny, maxx, maxy = geom.bounds
        cand = shapely.points(rng.uniform(minx, maxx, k * 6), rng.uniform(miny, maxy, k * 6))
        cand = cand[shapely.contains(geom, cand)][:k]
        pts.extend(cand)
        parent.extend([code] * len(cand))
        names.extend(f"Tổ dân phố {i + 1}" for i in range(len(cand)))
    hp = gpd.GeoDataFrame(
        {"code": [f"{p}-{i:03d}" for i, p in enumerate(parent)], "name": names, "parent_code": parent},
        geometry=list(pts),
        crs=cm.crs,
    ).to_crs(4326)
    hp_path = out / "hamlet_points.geojson"
    hp.to_file(hp_path, driver="GeoJSON")

    centres = hp.to_crs(cm.crs).geometry
    cx, cy = centres.x.to_numpy(), centres.y.to_numpy()

    def around(n: int) -> tuple[np.ndarray, np.ndarray]:
        h = rng.integers(0, len(cx), n)
        d = rng.exponential(120.0, n)
        a = rng.uniform(0, 2 * np.pi, n)
        return cx[h] + d * np.sin(a), cy[h] + d * np.cos(a)

    x, y = around(n_cameras)
    lx, ly = around(n_lights)
    xy = gpd.GeoSeries(shapely.points(np.r_[x, lx], np.r_[y, ly]), crs=cm.crs).to_crs(4326)
    n = n_cameras + n_lights
    ptz = rng.random(n_cameras) < 0.05
    models = pd.DataFrame(
        {
            "id": [f"CAM{i:06d}" for i in range(n_cameras)] + [f"DEN{i:05d}" for i in range(n_lights)],
            "kind": ["camera"] * n_cameras + ["lighting"] * n_lights,
            "name": ["Camera an ninh"] * n_cameras + ["Đèn chiếu sáng an ninh"] * n_lights,
            "lat": np.round(xy.y.to_numpy(), 7),
            "lon": np.round(xy.x.to_numpy(), 7),
            "direction_deg": np.r_[np.round(rng.uniform(0, 360, n_cameras), 1), np.full(n_lights, np.nan)],
            "fov_deg": np.r_[
                np.where(ptz, 360.0, np.round(rng.uniform(80, 110, n_cameras))), np.full(n_lights, np.nan)
            ],
            "range_m": np.r_[np.round(rng.uniform(10, 30, n_cameras), 1), np.full(n_lights, np.nan)],
            "radius_m": np.r_[np.full(n_cameras, np.nan), np.round(rng.uniform(15, 30, n_lights), 1)],
            "status": np.where(rng.random(n) < 0.03, "inactive", "active"),
        }
    )
    models_path = out / "models.csv"
    models.to_csv(models_path, index=False)
    return HANOI, hp_path, models_path


def make_roads(communes: gpd.GeoDataFrame, *, n_segments: int) -> gpd.GeoDataFrame:
    """A street grid over the communes in their UTM zone, cut into block-long segments (spacing
    chosen so that about ``n_segments`` of them touch the communes), in EPSG:4326.
    """
    cm = to_metric(communes)
    area = cm.union_all()
    spacing = float(np.sqrt(2.0 * area.area / n_segments))
    x0, y0, x1, y1 = area.bounds
    xs = np.arange(x0, x1 + spacing, spacing)
    ys = np.arange(y0, y1 + spacing, spacing)
    hx, hy = np.meshgrid(xs[:-1], ys, indexing="ij")  # horizontal: (x, y) -> (x + s, y)
    vx, vy = np.meshgrid(xs, ys[:-1], indexing="ij")  # vertical: (x, y) -> (x, y + s)
    sx = np.r_[hx.ravel(), vx.ravel()]
    sy = np.r_[hy.ravel(), vy.ravel()]
    n_h = hx.size
    ex = sx + np.r_[np.full(n_h, spacing), np.zeros(vx.size)]
    ey = sy + np.r_[np.zeros(n_h), np.full(vx.size, spacing)]
    coords = np.stack([np.column_stack([sx, sy]), np.column_stack([ex, ey])], axis=1)
    segs = shapely.linestrings(coords)
    shapely.prepare(area)
    segs = segs[shapely.intersects(area, segs)]
    kinds = np.array(["residential", "tertiary", "secondary", "primary"])
    return gpd.GeoDataFrame(
        {
            "osm_id": np.arange(len(segs)),
            "highway": kinds[np.arange(len(segs)) % 4],
            "name": [f"Phố {i % 997}" for i in range(len(segs))],
        },
        geometry=segs,
        crs=cm.crs,
    ).to_crs(4326)


def street_figures(
    units: pd.DataFrame,
    models: gpd.GeoDataFrame,
    communes: gpd.GeoDataFrame,
    *,
    n_segments: int,
    out: Path,
    runs: int = 3,
) -> Path:
    """Seconds of the coverage without and with a street grid (best of ``runs`` each,
    alternating, the garbage collector set as the coverage command sets it); the grid is
    written to ``out/roads.geojson`` for the whole-process run.
    """
    t = time.perf_counter()
    roads = make_roads(communes, n_segments=n_segments)
    print(f"street grid             {time.perf_counter() - t:7.2f} s   ({len(roads)} road segments)")
    plain: list[tuple[float, float]] = []  # (wall, CPU of all threads) seconds
    streets: list[tuple[float, float]] = []
    street_stage: list[float] = []
    res = None
    thresholds = gc.get_threshold()
    gc.set_threshold(100_000, 50, 100)
    try:
        for _ in range(runs):
            for sink, kw in ((plain, {}), (streets, {"roads": roads})):
                res = None
                gc.collect()
                t, c = time.perf_counter(), time.process_time()
                res = compute_coverage(units, models, **kw)
                sink.append((time.perf_counter() - t, time.process_time() - c))
            street_stage.append(res.timings["streets"])
    finally:
        gc.set_threshold(*thresholds)
    u = res.units

    def runs_text(xs: list[tuple[float, float]]) -> str:
        return ", ".join(f"{w:.2f}" for w, _ in xs)

    (pw, pc), (sw, sc) = min(plain), min(streets)
    print(f"coverage + gaps, plain  {pw:7.2f} s   ({pc:.2f} s CPU; runs: {runs_text(plain)})")
    print(f"  with roads=           {sw:7.2f} s   ({sc:.2f} s CPU; runs: {runs_text(streets)})")
    print(
        f"  of which streets      {min(street_stage):7.2f} s   (best of {', '.join(f'{x:.2f}' for x in street_stage)}; "
        f"figures + {len(res.street_gaps_metric)} street gaps)"
    )
    print(
        f"street coverage extra   {sw - pw:7.2f} s   ({sc - pc:+.2f} s CPU; {u['road_covered_m'].sum() / 1e3:.1f} of "
        f"{u['road_m'].sum() / 1e3:.1f} km of road covered, {100 * u['road_covered_m'].sum() / u['road_m'].sum():.2f} %)"
    )
    path = out / "roads.geojson"
    io.write_layer(roads, path)
    return path


def overlay_pipeline(hamlets: gpd.GeoDataFrame, footprints_m: gpd.GeoDataFrame, crs) -> tuple[pd.Series, float]:
    """The plain pipeline: overlay(intersection) + dissolve per hamlet, and overlay(difference)
    of the hamlets with the dissolved footprints for the gaps.
    """
    hm = hamlets.to_crs(crs)[["code", "geometry"]].reset_index(drop=True)
    fp = footprints_m[["geometry"]].reset_index(drop=True)
    inter = gpd.overlay(hm, fp, how="intersection", keep_geom_type=True)
    covered = inter.dissolve(by="code").area.reindex(hm["code"]).fillna(0.0)
    # the dissolved coverage as separate parts, so overlay's spatial index can work per hamlet
    cover_parts = gpd.GeoDataFrame(geometry=[fp.union_all()], crs=crs).explode(ignore_index=True)
    gaps = gpd.overlay(hm, cover_parts, how="difference", keep_geom_type=True)
    return covered, float(gaps.area.sum())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hamlets", type=int, default=5000)
    ap.add_argument("--cameras", type=int, default=100_000)
    ap.add_argument("--lights", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-overlay", action="store_true", help="skip the (slow) overlay pipeline")
    ap.add_argument(
        "--road-segments", type=int, default=50_000, help="street grid segments for the street figure (0: none)"
    )
    ap.add_argument("--keep", metavar="DIR", help="write the generated case here and keep it")
    ap.add_argument("--reuse", action="store_true", help="with --keep: use the case files already in DIR")
    ap.add_argument("--runs", type=int, default=3, help="runs of the whole geo-antt coverage process (best reported)")
    ap.add_argument("--cli-only", action="store_true", help="time only the whole geo-antt coverage process")
    args = ap.parse_args()
    if not HANOI.exists():
        print(f"missing {HANOI}: the benchmark needs ../shared/data", file=sys.stderr)
        return 2

    tmp = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="geo-antt-bench-"))
    tmp.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    if args.reuse and args.keep and (tmp / "hamlet_points.geojson").exists() and (tmp / "models.csv").exists():
        communes_path, hamlet_points_path, models_path = HANOI, tmp / "hamlet_points.geojson", tmp / "models.csv"
        print(f"case read from {tmp}")
    else:
        communes_path, hamlet_points_path, models_path = make_case(
            tmp, n_hamlets=args.hamlets, n_cameras=args.cameras, n_lights=args.lights, seed=args.seed
        )
        print(f"case generated in {time.perf_counter() - t:.1f} s under {tmp}")
    if args.cli_only:
        return time_cli(communes_path, hamlet_points_path, models_path, tmp, runs=args.runs)

    # --- geo-antt, in process, stage by stage -------------------------------------------------
    rss0 = peak_rss_mb()
    t0 = time.perf_counter()
    communes = io.read_units(communes_path)
    t1 = time.perf_counter()
    hamlets = read_hamlets(hamlet_points_path, communes)
    t2 = time.perf_counter()
    models = io.read_models(models_path)
    t3 = time.perf_counter()
    units = pd.concat([communes, hamlets])
    res = compute_coverage(units, models)
    t4 = time.perf_counter()
    print(
        f"hamlets: {len(hamlets)}, models: {len(models)} ({(models.status == 'active').sum()} active), metric CRS {res.metric_crs.to_string()}"
    )
    print(f"load communes           {t1 - t0:7.2f} s")
    print(f"hamlet areas (Voronoi)  {t2 - t1:7.2f} s")
    print(f"load + validate models  {t3 - t2:7.2f} s")
    for stage, sec in res.timings.items():
        print(f"  coverage: {stage:<13}{sec:7.2f} s")
    cov_s = t4 - t3
    print(f"coverage + gaps         {cov_s:7.2f} s   ({len(res.gaps)} gap polygons)")
    print(f"peak RSS (in process)   {peak_rss_mb():7.0f} MB (before: {rss0:.0f} MB)")
    roads_path = None
    if args.road_segments > 0:
        roads_path = street_figures(units, models, communes, n_segments=args.road_segments, out=tmp)

    # --- the plain overlay pipeline, same footprints ------------------------------------------
    if not args.no_overlay:
        fp_m = res.footprints_metric
        t = time.perf_counter()
        ref, ref_gap_area = overlay_pipeline(hamlets, fp_m, res.metric_crs)
        ov_s = time.perf_counter() - t
        ours = res.units["covered_m2"].reindex(ref.index).to_numpy()
        rel = np.abs(ours - ref.to_numpy()) / np.maximum(ref.to_numpy(), 1.0)
        gap_ours = float(res.units["uncovered_m2"].sum())
        print(f"overlay + dissolve      {ov_s:7.2f} s")
        print(f"speed-up                {ov_s / cov_s:7.1f} x")
        print(
            f"agreement: max relative difference per hamlet {rel.max():.2e} (floor 1e-2); "
            f"uncovered area {gap_ours / 1e6:.3f} km² vs {ref_gap_area / 1e6:.3f} km²"
        )
        if rel.max() > 0.01:
            print("DISAGREEMENT above 1 %", file=sys.stderr)
            return 1

    rc = time_cli(communes_path, hamlet_points_path, models_path, tmp, runs=args.runs)
    if rc == 0 and roads_path is not None:
        rc = time_cli(
            communes_path,
            hamlet_points_path,
            models_path,
            tmp,
            runs=args.runs,
            extra=["--roads", str(roads_path), "--street-gaps", str(tmp / "streets.geojson")],
        )
    return rc


def time_cli(
    communes_path: Path,
    hamlet_points_path: Path,
    models_path: Path,
    tmp: Path,
    *,
    runs: int,
    extra: list[str] | None = None,
) -> int:
    """Run the whole ``geo-antt coverage`` process ``runs`` times (with ``extra`` arguments);
    print every run's wall and user + system CPU seconds, the best run and the peak memory.
    """
    cmd = [
        sys.executable,
        "-m",
        "geo_antt",
        "coverage",
        "--boundaries",
        str(communes_path),
        "--hamlets",
        str(hamlet_points_path),
        "--models",
        str(models_path),
        "--out",
        str(tmp / "units.geojson"),
        "--gaps",
        str(tmp / "gaps.geojson"),
        *(extra or []),
    ]
    results = []
    for _ in range(max(1, runs)):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        wall = time.perf_counter() - t
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)
            return 1
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        results.append((wall, cpu))
        print(
            f"geo-antt coverage{' ' + extra[0] if extra else ''} (whole process) {wall:6.2f} s wall, {cpu:6.2f} s CPU (user + system)"
        )
    wall, cpu = min(results)
    median = statistics.median(w for w, _ in results)
    print(
        f"geo-antt coverage best of {len(results)}: {wall:6.2f} s wall ({cpu:.2f} s CPU), median {median:.2f} s, "
        f"peak RSS {peak_rss_mb(resource.RUSAGE_CHILDREN):.0f} MB"
    )
    print("  " + proc.stdout.strip().replace("\n", "\n  "))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
