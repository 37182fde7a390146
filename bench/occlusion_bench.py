"""Occlusion benchmark: the Hà Nội case of ``bench/coverage_bench.py`` (126 real communes, ~5,000
generated hamlets, 100,000 cameras and 10,000 lights clustered around hamlet centres) with
``--buildings`` generated houses (300,000 by default).

Houses stand on a 24 m lattice around the hamlet centres (the same spread as the models), each a
10-20 m x 10-20 m box inside its lattice cell, so that streets and alleys of 4-14 m run between
them; no house is built on a cell where a model stands (cameras hang in the streets).

Prints the seconds of ``compute_coverage`` (with gaps) without and with ``buildings=`` on the
same run (best of ``--runs`` each, alternating; the garbage collector set as the coverage
command sets it), their ratio (the goal is at most 3x), the stages of the occluded run, the
figures (covered share of all area and of the open area) and the peak memory (ru_maxrss).

The geopandas overlay peer (``--peer-hamlets N``, 100 by default; 0: none) computes the same
visible areas the way a GIS would, for N hamlets drawn at random and every model whose footprint
meets them: ray-cast footprints (``--peer-rays`` rays per model, each cut at the first wall it
meets, numpy per model), the footprint intersected with the polygon of the ray ends, then
``geopandas.overlay`` (difference with the buildings, intersection with the hamlets) and a
dissolve per hamlet. It prints its seconds (and per hamlet, next to the engine's per hamlet) and
the largest difference of covered area per hamlet against the engine.

Usage: python bench/occlusion_bench.py [--hamlets 5000] [--cameras 100000] [--lights 10000]
       [--buildings 300000] [--seed 1] [--runs 1] [--keep DIR [--reuse]]
       [--peer-hamlets 100] [--peer-rays 1024]
"""

from __future__ import annotations

import argparse
import gc
import resource
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
sys.path.insert(0, str(ROOT / "bench"))

from coverage_bench import HANOI, make_case  # noqa: E402

from geo_antt import io  # noqa: E402
from geo_antt.coverage import compute_coverage  # noqa: E402
from geo_antt.crs import to_metric  # noqa: E402
from geo_antt.io.hamlets import read_hamlets  # noqa: E402

CELL_M = 24.0  # lattice of the houses, metres


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # kB on Linux


def make_buildings(hamlet_points: gpd.GeoDataFrame, models: gpd.GeoDataFrame, *, n: int, seed: int) -> gpd.GeoDataFrame:
    """``n`` houses (EPSG:4326) on a lattice around the hamlet centres, none on a model's cell."""
    rng = np.random.default_rng(seed + 16)
    hp = to_metric(hamlet_points)
    crs = hp.crs
    cx, cy = hp.geometry.x.to_numpy(), hp.geometry.y.to_numpy()
    mm = models.to_crs(crs)
    taken = set(
        zip(
            np.floor(mm.geometry.x.to_numpy() / CELL_M).astype(np.int64).tolist(),
            np.floor(mm.geometry.y.to_numpy() / CELL_M).astype(np.int64).tolist(),
        )
    )
    cells = np.empty((0, 2), dtype=np.int64)
    draw = int(n * 1.6)
    while len(cells) < n:
        h = rng.integers(0, len(cx), draw)
        d = rng.exponential(150.0, draw)
        a = rng.uniform(0, 2 * np.pi, draw)
        c = np.column_stack(
            [np.floor((cx[h] + d * np.sin(a)) / CELL_M), np.floor((cy[h] + d * np.cos(a)) / CELL_M)]
        ).astype(np.int64)
        cells = np.unique(np.concatenate([cells, c]), axis=0)
        free = np.array([(int(i), int(j)) not in taken for i, j in cells], dtype=bool)
        cells = cells[free]
        draw = max(draw // 2, 1000)
    cells = cells[rng.permutation(len(cells))[:n]]
    w = rng.uniform(10.0, 20.0, n)
    hgt = rng.uniform(10.0, 20.0, n)
    ox = cells[:, 0] * CELL_M + rng.uniform(0, CELL_M - w)
    oy = cells[:, 1] * CELL_M + rng.uniform(0, CELL_M - hgt)
    houses = shapely.box(ox, oy, ox + w, oy + hgt)
    return gpd.GeoDataFrame({"id": np.arange(n)}, geometry=houses, crs=crs).to_crs(4326)


def timed(units, models, runs: int, **kw):
    """Best wall seconds of ``runs`` coverage runs, the CPU seconds of that run, the last result."""
    best, cpu, res = np.inf, np.nan, None
    thresholds = gc.get_threshold()
    gc.set_threshold(100_000, 50, 100)
    try:
        for _ in range(runs):
            gc.collect()
            c0, t0 = time.process_time(), time.perf_counter()
            res = compute_coverage(units, models, **kw)
            t = time.perf_counter() - t0
            if t < best:
                best, cpu = t, time.process_time() - c0
    finally:
        gc.set_threshold(*thresholds)
    return best, cpu, res


def _walls(geoms: np.ndarray) -> np.ndarray:
    """``(n, 4)`` wall segments ``x0, y0, x1, y1`` of every ring of the polygons."""
    rings = shapely.get_rings(shapely.get_parts(geoms))
    coords, owner = shapely.get_coordinates(rings, return_index=True)
    same = np.flatnonzero(owner[:-1] == owner[1:])
    return np.column_stack([coords[same], coords[same + 1]])


def ray_cast_footprints(
    fp: gpd.GeoDataFrame, at: np.ndarray, bpieces: np.ndarray, *, n_rays: int, occluded: np.ndarray
) -> np.ndarray:
    """Each footprint cut by ray casting: ``n_rays`` rays from its model, each stopped at the
    first wall of a building meeting the footprint; the footprint intersected with the polygon
    of the ray ends (an independent peer of ``geo_antt.visibility``).
    """
    tree = shapely.STRtree(bpieces)
    geoms = fp.geometry.to_numpy()
    fi, bi = tree.query(geoms, predicate="intersects")
    out = geoms.copy()
    ang = np.linspace(0.0, 2 * np.pi, n_rays, endpoint=False)
    dx, dy = np.sin(ang), np.cos(ang)
    starts = np.searchsorted(fi, np.arange(len(geoms)))
    ends = np.searchsorted(fi, np.arange(len(geoms)), side="right")
    for i in np.flatnonzero(occluded & (ends > starts)):
        x, y = shapely.get_x(at[i]), shapely.get_y(at[i])
        b = shapely.bounds(geoms[i])
        reach = 1.01 * max(np.hypot(cx - x, cy - y) for cx in (b[0], b[2]) for cy in (b[1], b[3]))
        w = _walls(bpieces[bi[starts[i] : ends[i]]])
        ex, ey = w[:, 2] - w[:, 0], w[:, 3] - w[:, 1]
        ox, oy = w[:, 0] - x, w[:, 1] - y
        # ray t*(dx, dy), wall (x0, y0) + u*(ex, ey): t = cross(o, e)/cross(d, e), u = cross(o, d)/cross(d, e)
        den = dx[:, None] * ey[None, :] - dy[:, None] * ex[None, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            t = (ox * ey - oy * ex)[None, :] / den
            u = (ox[None, :] * dy[:, None] - oy[None, :] * dx[:, None]) / den
        hit = (np.abs(den) > 1e-12) & (t >= 0) & (u >= 0) & (u <= 1)
        dist = np.where(hit, t, np.inf).min(axis=1)
        dist = np.minimum(dist, reach)
        star = shapely.make_valid(shapely.Polygon(np.column_stack([x + dist * dx, y + dist * dy])))
        out[i] = shapely.intersection(geoms[i], star)
    return out


def overlay_peer(units, models, plain, occl, buildings, *, n_hamlets: int, n_rays: int, seed: int) -> None:
    """The geopandas overlay peer on ``n_hamlets`` random hamlets (see the module docstring)."""
    from geo_antt.coverage import building_pieces
    from geo_antt.layers import load_layer_specs

    crs = occl.metric_crs
    hamlets = units[units["level"] == "hamlet"]
    rng = np.random.default_rng(seed + 99)
    pick = hamlets.iloc[np.sort(rng.choice(len(hamlets), size=min(n_hamlets, len(hamlets)), replace=False))]
    t0 = time.perf_counter()
    hm = pick.to_crs(crs)[["geometry"]].assign(unit_code=pick.index.astype(str))
    fp = plain.footprints_metric
    near = np.unique(shapely.STRtree(fp.geometry.to_numpy()).query(hm.geometry.to_numpy(), predicate="intersects")[1])
    fp = fp.iloc[near]
    bm = buildings.to_crs(crs)
    # the buildings that meet a footprint (one that misses every footprint hides nothing)
    bm = bm.iloc[
        np.unique(shapely.STRtree(bm.geometry.to_numpy()).query(fp.geometry.to_numpy(), predicate="intersects")[1])
    ]
    bpieces = building_pieces(bm, crs)
    specs = load_layer_specs()
    occluded = fp["kind"].map({k: v.occluded for k, v in specs.items()}).fillna(False).to_numpy(dtype=bool).copy()
    at = models.loc[fp.index].to_crs(crs).geometry.to_numpy()  # the apex of each footprint
    occluded &= shapely.get_type_id(at) == 0  # a model placed by a line has no single viewpoint
    seen = ray_cast_footprints(fp, at, bpieces, n_rays=n_rays, occluded=occluded)
    vis = gpd.GeoDataFrame({"id": fp.index}, geometry=shapely.make_valid(seen), crs=crs)
    vis = vis[~vis.geometry.is_empty]
    vis = vis[vis.geometry.geom_type.isin(["Polygon", "MultiPolygon", "GeometryCollection"])]
    vis = vis.explode(index_parts=False)
    vis = vis[vis.geometry.geom_type.isin(["Polygon", "MultiPolygon"])]
    open_vis = gpd.overlay(vis, gpd.GeoDataFrame(geometry=bpieces, crs=crs), how="difference", keep_geom_type=True)
    per_hamlet = gpd.overlay(open_vis, hm, how="intersection", keep_geom_type=True).dissolve(by="unit_code")
    peer_s = time.perf_counter() - t0
    got = per_hamlet.geometry.area.reindex(hm["unit_code"]).fillna(0.0).to_numpy()
    engine = occl.units.loc[pick.index, "covered_m2"].to_numpy(dtype=float)
    diff = np.abs(got - engine) / np.maximum(engine, 1.0)
    total = occl.timings
    engine_per_hamlet = sum(total.values()) / max(len(hamlets), 1)
    print(
        f"overlay peer (ray casting {n_rays} rays per model + geopandas.overlay + dissolve) on {len(pick)} hamlets, "
        f"{len(fp)} models, {len(bpieces)} buildings: {peer_s:.1f} s = {peer_s / len(pick) * 1000:.0f} ms per hamlet "
        f"(the engine: {engine_per_hamlet * 1000:.1f} ms per hamlet over the whole case)"
    )
    print(
        f"  covered area per hamlet, peer vs engine: largest difference {100 * diff.max():.3f} %, "
        f"median {100 * np.median(diff):.3f} % (goal <= 0.5 %; the peer's rays miss thin slivers)"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hamlets", type=int, default=5000)
    ap.add_argument("--cameras", type=int, default=100_000)
    ap.add_argument("--lights", type=int, default=10_000)
    ap.add_argument("--buildings", type=int, default=300_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--runs", type=int, default=1, help="runs of each (best reported)")
    ap.add_argument("--keep", metavar="DIR", help="write the generated case here and keep it")
    ap.add_argument("--reuse", action="store_true", help="with --keep: use the case files already in DIR")
    ap.add_argument("--peer-hamlets", type=int, default=100, help="hamlets of the overlay peer (0: no peer)")
    ap.add_argument("--peer-rays", type=int, default=1024, help="rays per model of the overlay peer")
    args = ap.parse_args()
    if not HANOI.exists():
        print(f"missing {HANOI}: the benchmark needs ../shared/data", file=sys.stderr)
        return 2
    tmp = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="geo-antt-occl-"))
    tmp.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    if args.reuse and args.keep and (tmp / "models.csv").exists():
        hp_path, models_path = tmp / "hamlet_points.geojson", tmp / "models.csv"
    else:
        _, hp_path, models_path = make_case(
            tmp, n_hamlets=args.hamlets, n_cameras=args.cameras, n_lights=args.lights, seed=args.seed
        )
    communes = io.read_units(HANOI)
    hamlets = read_hamlets(hp_path, communes)
    models = io.read_models(models_path)
    units = pd.concat([communes, hamlets])
    bpath = tmp / "buildings.gpkg"
    if args.reuse and bpath.exists():
        buildings = gpd.read_file(bpath)
    else:
        buildings = make_buildings(gpd.read_file(hp_path), models, n=args.buildings, seed=args.seed)
        if args.keep:
            buildings.to_file(bpath)
    print(
        f"case ready in {time.perf_counter() - t:.1f} s: {len(hamlets)} hamlets, {len(models)} models, {len(buildings)} buildings"
    )

    rss0 = peak_rss_mb()
    plain_s, plain_cpu, plain = timed(units, models, args.runs)
    rss1 = peak_rss_mb()
    occl_s, occl_cpu, occl = timed(units, models, args.runs, buildings=buildings)
    rss2 = peak_rss_mb()
    pu, ou = plain.units, occl.units
    print(
        f"unoccluded coverage + gaps {plain_s:7.2f} s (CPU {plain_cpu:6.2f} s)  {len(plain.gaps_metric)} gap polygons"
    )
    print(f"occluded coverage + gaps   {occl_s:7.2f} s (CPU {occl_cpu:6.2f} s)  {len(occl.gaps_metric)} gap polygons")
    print(f"ratio                      {occl_s / plain_s:7.2f} x wall, {occl_cpu / plain_cpu:5.2f} x CPU (goal <= 3x)")
    for stage, sec in occl.timings.items():
        print(f"  occluded: {stage:<13}{sec:7.2f} s   (unoccluded {plain.timings.get(stage, 0.0):6.2f} s)")
    area, open_m2 = pu["area_m2"].sum(), ou["open_m2"].sum()
    print(
        f"covered, unoccluded        {pu['covered_m2'].sum() / 1e6:9.3f} km² ({100 * pu['covered_m2'].sum() / area:.2f} % of {area / 1e6:.1f} km²)"
    )
    print(
        f"covered, occluded          {ou['covered_m2'].sum() / 1e6:9.3f} km² ({100 * ou['covered_m2'].sum() / area:.2f} % of all, "
        f"{100 * ou['covered_m2'].sum() / open_m2:.2f} % of the open {open_m2 / 1e6:.1f} km²; buildings {ou['building_m2'].sum() / 1e6:.2f} km²)"
    )
    fp_plain = plain.footprints_metric["area_m2"].sum()
    print(
        f"footprint area kept        {100 * occl.footprints_metric['area_m2'].sum() / fp_plain:.1f} % of the full footprints"
    )
    print(
        f"peak memory (ru_maxrss)    {rss2:.0f} MB (after loading {rss0:.0f} MB, after the unoccluded run {rss1:.0f} MB)"
    )
    if args.peer_hamlets:
        overlay_peer(
            units, models, plain, occl, buildings, n_hamlets=args.peer_hamlets, n_rays=args.peer_rays, seed=args.seed
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
