"""National coverage benchmark: the real 2025 communes, partitioned by province on Dask.

Builds the national case from ``../shared/data/national/vn_communes_2025.gpkg``: hamlets from
points inside every commune (about ``--hamlets`` of them, by population; Voronoi cells clipped
to the commune, :func:`geo_antt.units.hamlets_from_points`), ``--cameras`` cameras and
``--lights`` lights placed around the hamlet centres of communes drawn by population. Then
prints, for the in-process run (one process, partitions in turn; left out with ``--no-inprocess``)
and for LocalClusters of 1 and 2 worker processes (one thread each), the wall time, the peak
memory of each worker process and of this process, the speed-up from 1 to 2 workers, and the
largest relative difference of every commune's ``area_m2`` from an equal-area computation (the
Albers projection of NATIONAL.md), next to what one UTM zone for the whole country gives.

``--small`` runs three provinces across the 108°E line (Huế, Đà Nẵng, Quảng Ngãi) with
hamlets and models scaled down, in about a minute.

Usage: python bench/national_bench.py [--small] [--hamlets 70000] [--cameras 1000000]
       [--lights 100000] [--workers 1,2] [--seed 1] [--no-inprocess] [--level hamlet]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from geo_antt import io  # noqa: E402
from geo_antt.crs import partition_crs, project  # noqa: E402
from geo_antt.io.models import MAX_TABLE_ROWS  # noqa: E402
from geo_antt.units import hamlets_from_points  # noqa: E402

COMMUNES = ROOT.parent / "shared" / "data" / "national" / "vn_communes_2025.gpkg"
# The equal-area projection NATIONAL.md computes area_km2 in.
ALBERS = "+proj=aea +lat_0=16 +lon_0=106 +lat_1=10 +lat_2=22 +datum=WGS84 +units=m +no_defs"
SMALL_PROVINCES = ("46", "48", "51")  # Huế (west of 108°E), Đà Nẵng, Quảng Ngãi (across it)
# Metres per degree of latitude (for offsets of a few hundred metres).
_M_PER_DEG = 111_320.0


def peak_rss_mb() -> float:
    """Peak resident memory of this process, MB: ``VmHWM`` of /proc/self/status (of this
    process alone: ``ru_maxrss`` is inherited from the parent through fork and exec, so a
    worker process would report its cluster's driver).
    """
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # kB on Linux


def read_communes(path: Path = COMMUNES, provinces: tuple[str, ...] | None = None) -> gpd.GeoDataFrame:
    """The 2025 communes (units frame, level commune, parent = province code), optionally of
    some provinces only.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the file's own notes (e.g. names) are not the bench's concern
        communes = io.read_units(path)
    if provinces is not None:
        communes = communes.loc[communes["parent_code"].isin(provinces).to_numpy()]
    return communes


def _points_in(geom, k: int, rng: np.random.Generator) -> np.ndarray:
    """``k`` points drawn uniformly (in lon/lat) inside ``geom``."""
    minx, miny, maxx, maxy = geom.bounds
    out: list[np.ndarray] = []
    got, tries = 0, 0
    shapely.prepare(geom)
    while got < k and tries < 50:
        m = max(16, 4 * (k - got))
        cand = shapely.points(rng.uniform(minx, maxx, m), rng.uniform(miny, maxy, m))
        cand = cand[shapely.contains(geom, cand)][: k - got]
        out.append(cand)
        got += len(cand)
        tries += 1
    if got < k:  # a sliver: its representative point
        out.append(np.array([shapely.point_on_surface(geom)] * (k - got), dtype=object))
    return np.concatenate(out)


def make_hamlets(communes: gpd.GeoDataFrame, *, n_hamlets: int, rng: np.random.Generator) -> gpd.GeoDataFrame:
    """Hamlet polygons: about ``n_hamlets`` points inside the communes (at least two each, the
    rest by population), Voronoi cells clipped to their commune, built province by province in
    the province's own UTM zone.
    """
    pop = communes["population"].astype(float).fillna(communes["population"].median()).clip(lower=1000).to_numpy()
    extra = np.floor(np.maximum(n_hamlets - 2 * len(communes), 0) * pop / pop.sum()).astype(int)
    per = 2 + extra
    frames = []
    for prov in sorted(communes["parent_code"].unique()):
        sel = (communes["parent_code"] == prov).to_numpy()
        cm = communes.loc[sel]
        pts, parent = [], []
        for (code, geom), k in zip(cm.geometry.items(), per[sel]):
            p = _points_in(geom, int(k), rng)
            pts.append(p)
            parent.extend([code] * len(p))
        pts_a = np.concatenate(pts)
        points = gpd.GeoDataFrame(
            {
                "code": [f"{c}-{i:04d}" for i, c in enumerate(parent)],
                "name": [f"Thôn {i + 1}" for i in range(len(parent))],
                "parent_code": parent,
            },
            geometry=pts_a,
            crs="EPSG:4326",
        ).set_index("code", drop=False)
        frames.append(hamlets_from_points(points, cm, metric_crs=partition_crs(tuple(cm.total_bounds), system="utm")))
    return gpd.GeoDataFrame(pd.concat(frames), crs="EPSG:4326")


def border_points(communes: gpd.GeoDataFrame, a: str, b: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` points on the border between provinces ``a`` and ``b`` (lon/lat)."""
    ua = communes.loc[(communes["parent_code"] == a).to_numpy()].union_all()
    ub = communes.loc[(communes["parent_code"] == b).to_numpy()].union_all()
    line = shapely.intersection(ua.boundary, ub.buffer(0.002))
    if line.is_empty:
        raise ValueError(f"provinces {a} and {b} do not touch")
    return shapely.line_interpolate_point(line, rng.uniform(0.0, 1.0, n), normalized=True)


def models_table(
    hamlets: gpd.GeoDataFrame,
    communes: gpd.GeoDataFrame,
    *,
    n_cameras: int,
    n_lights: int,
    rng: np.random.Generator,
    extra_points: np.ndarray | None = None,
) -> pd.DataFrame:
    """A models sheet (id, kind, name, lat, lon, direction, fov, range/radius, status): cameras
    and lights around hamlet centres of communes drawn by population (exponential offsets, mean
    120 m); ``extra_points`` (lon/lat) become cameras of the largest range (300 m) there.
    """
    pop = communes["population"].astype(float).fillna(communes["population"].median()).clip(lower=1000)
    centres = shapely.point_on_surface(np.asarray(hamlets.geometry.to_numpy(), dtype=object))
    hx, hy = shapely.get_x(centres), shapely.get_y(centres)
    codes = communes.index.to_numpy()
    # the hamlets of each commune as one run of positions: pick = start + floor(u * count)
    of = pd.Index(codes).get_indexer(hamlets["parent_code"].to_numpy())
    by = np.argsort(of, kind="stable")
    count = np.bincount(of, minlength=len(codes))
    start = np.r_[0, np.cumsum(count)[:-1]]
    weights = pop.to_numpy() * (count > 0)
    weights = weights / weights.sum()

    def around(n: int) -> tuple[np.ndarray, np.ndarray]:
        c = rng.choice(len(codes), size=n, p=weights)
        pick = by[start[c] + np.floor(rng.random(n) * count[c]).astype(np.int64)]
        d = rng.exponential(120.0, n) / _M_PER_DEG
        a = rng.uniform(0, 2 * np.pi, n)
        lat = hy[pick] + d * np.cos(a)
        return hx[pick] + d * np.sin(a) / np.cos(np.radians(lat)), lat

    x, y = around(n_cameras)
    lx, ly = around(n_lights)
    n_extra = 0 if extra_points is None else len(extra_points)
    if n_extra:
        x = np.r_[x, shapely.get_x(extra_points)]
        y = np.r_[y, shapely.get_y(extra_points)]
    nc = n_cameras + n_extra
    n = nc + n_lights
    ptz = rng.random(nc) < 0.05
    rng_m = np.round(rng.uniform(10, 30, nc), 1)
    if n_extra:
        rng_m[n_cameras:] = 300.0
    return pd.DataFrame(
        {
            "id": [f"CAM{i:07d}" for i in range(nc)] + [f"DEN{i:06d}" for i in range(n_lights)],
            "kind": ["camera"] * nc + ["lighting"] * n_lights,
            "name": ["Camera an ninh"] * nc + ["Đèn chiếu sáng an ninh"] * n_lights,
            "lat": np.round(np.r_[y, ly], 7),
            "lon": np.round(np.r_[x, lx], 7),
            "direction_deg": np.r_[np.round(rng.uniform(0, 360, nc), 1), np.full(n_lights, np.nan)],
            "fov_deg": np.r_[np.where(ptz, 360.0, np.round(rng.uniform(80, 110, nc))), np.full(n_lights, np.nan)],
            "range_m": np.r_[rng_m, np.full(n_lights, np.nan)],
            "radius_m": np.r_[np.full(nc, np.nan), np.round(rng.uniform(15, 30, n_lights), 1)],
            "status": np.where(rng.random(n) < 0.03, "inactive", "active"),
        }
    )


def build_case(
    communes: gpd.GeoDataFrame,
    out: Path,
    *,
    n_hamlets: int,
    n_cameras: int,
    n_lights: int,
    seed: int,
    border: tuple[str, str, int] | None = None,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, list[Path]]:
    """Units (communes + hamlets) and models (read back through ``io.read_models`` from the
    CSV sheets written to ``out/models-NN.csv``, as the CLI reads them); ``border`` = (province a,
    province b, n): n cameras of 300 m on their shared border.
    """
    rng = np.random.default_rng(seed)
    hamlets = make_hamlets(communes, n_hamlets=n_hamlets, rng=rng)
    extra = border_points(communes, *border, rng) if border is not None else None
    table = models_table(hamlets, communes, n_cameras=n_cameras, n_lights=n_lights, rng=rng, extra_points=extra)
    # one sheet holds at most MAX_TABLE_ROWS rows: a national registry comes as several sheets
    paths = []
    rows = MAX_TABLE_ROWS - 1  # the limit counts the header line too
    for n, a in enumerate(range(0, len(table), rows), start=1):
        paths.append(out / f"models-{n:02d}.csv")
        table.iloc[a : a + rows].to_csv(paths[-1], index=False)
    frames = [io.read_models(p) for p in paths]
    models = gpd.GeoDataFrame(pd.concat(frames), crs="EPSG:4326") if len(frames) > 1 else frames[0]
    units = gpd.GeoDataFrame(pd.concat([communes, hamlets]), crs="EPSG:4326")
    return units, models, paths


def area_errors(figures: pd.DataFrame, units: gpd.GeoDataFrame) -> pd.Series:
    """Relative difference of each unit's ``area_m2`` from its area in the Albers equal-area
    projection of NATIONAL.md (the same polygon, made valid as the engine does).
    """
    geoms = units.loc[figures.index].geometry
    eq = project(gpd.GeoSeries(shapely.make_valid(geoms.to_numpy()), index=geoms.index, crs=units.crs), ALBERS)
    return (figures["area_m2"] - eq.area) / eq.area


def _worker_peaks(client) -> list[float]:
    return sorted(client.run(peak_rss_mb).values())


def cpu_seconds() -> float:
    """User + system CPU seconds of this process so far."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _engine_seconds(res) -> float:
    return sum(res.timings[p.key] for p in res.partitions)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--small", action="store_true", help="three provinces across 108°E, scaled down")
    ap.add_argument("--hamlets", type=int, default=None)
    ap.add_argument("--cameras", type=int, default=None)
    ap.add_argument("--lights", type=int, default=None)
    ap.add_argument("--workers", default="1,2", help="LocalCluster sizes to run, comma-separated (default 1,2)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--level", default="hamlet", choices=("hamlet", "commune"))
    ap.add_argument("--no-inprocess", action="store_true", help="leave out the in-process run")
    ap.add_argument("--no-gaps", action="store_true", help="figures only (no gap polygons)")
    args = ap.parse_args()
    from distributed import Client, LocalCluster

    from geo_antt.coverage import compute_coverage
    from geo_antt.national import compute_national_coverage

    small = args.small
    n_h = args.hamlets or (2_000 if small else 70_000)
    n_c = args.cameras or (30_000 if small else 1_000_000)
    n_l = args.lights or (3_000 if small else 100_000)
    communes = read_communes(provinces=SMALL_PROVINCES if small else None)
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        units, models, _ = build_case(communes, Path(tmp), n_hamlets=n_h, n_cameras=n_c, n_lights=n_l, seed=args.seed)
        n_level = int((units["level"] == args.level).sum())
        print(
            f"case                    {time.perf_counter() - t:7.1f} s   ({len(communes)} communes of "
            f"{communes['parent_code'].nunique()} provinces, {int((units['level'] == 'hamlet').sum())} hamlets, "
            f"{int((models['kind'] == 'camera').sum())} cameras, {int((models['kind'] == 'lighting').sum())} lights; "
            f"level {args.level}: {n_level} units)"
        )
        print(f"driver after the case   {peak_rss_mb():7.0f} MB peak")
        results = {}
        if not args.no_inprocess:
            t, c = time.perf_counter(), cpu_seconds()
            res = compute_national_coverage(units, models, level=args.level, with_gaps=not args.no_gaps)
            wall, cpu = time.perf_counter() - t, cpu_seconds() - c
            results["in process"] = res
            print(
                f"in process              {wall:7.1f} s   ({cpu:.1f} s CPU; {len(res.partitions)} partitions, engine "
                f"{_engine_seconds(res):.1f} s; driver peak {peak_rss_mb():.0f} MB)"
            )
        walls: dict[int, float] = {}
        cpus: dict[int, float] = {}
        for n in [int(x) for x in args.workers.split(",") if x.strip()]:
            with (
                LocalCluster(
                    n_workers=n,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                    memory_limit=0,
                    env={"GEO_ANTT_THREADS": "1"},
                ) as cluster,
                Client(cluster) as client,
            ):
                client.run(lambda: __import__("geo_antt.national"))  # imports are not the run's time
                cpu0 = sum(client.run(cpu_seconds).values())
                t = time.perf_counter()
                res = compute_national_coverage(
                    units, models, level=args.level, client=client, with_gaps=not args.no_gaps
                )
                walls[n] = time.perf_counter() - t
                peaks = _worker_peaks(client)
                cpus[n] = sum(client.run(cpu_seconds).values()) - cpu0
            results[f"{n} workers"] = res
            print(
                f"{n} worker(s)             {walls[n]:7.1f} s   (peak per worker {', '.join(f'{p:.0f}' for p in peaks)} MB; "
                f"compute {res.timings['compute']:.1f} s, partitioning {res.timings['partition']:.1f} s; "
                f"{len(res.partitions)} partitions, engine {_engine_seconds(res):.1f} s, workers' CPU {cpus[n]:.1f} s)"
            )
        if 1 in walls and 2 in walls:
            print(
                f"speed-up 1 -> 2 workers {walls[1] / walls[2]:7.2f} x  (floor 1.6 x; load average "
                f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
            )
        any_res = next(iter(results.values()))
        err = area_errors(any_res.units, units)
        worst = err.abs().idxmax()
        communes_err = err.loc[any_res.units["level"] == args.level]
        print(
            f"largest area error      {100 * err.abs().max():7.3f} %  ({any_res.units.loc[worst, 'unit_name']} {worst}, "
            f"{any_res.units.loc[worst, 'metric_crs']}; {int((communes_err.abs() > 0.0025).sum())} of {len(err)} units over 0.25 %)"
        )
        one = compute_coverage(units, models, level=args.level, with_gaps=False) if small else None
        if one is not None:
            e1 = area_errors(one.units, units)
            print(f"  one UTM zone for all   {100 * e1.abs().max():7.3f} %  ({one.metric_crs.name})")
        names = list(results)
        for other in names[1:]:
            a, b = results[names[0]].units, results[other].units
            diff = ((a["covered_m2"] - b["covered_m2"]).abs() / a["covered_m2"].abs().clip(lower=1e-9)).max()
            print(f"{other} vs {names[0]}: largest relative difference of covered_m2 {diff:.2e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
