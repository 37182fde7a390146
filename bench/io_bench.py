"""Benchmark of geo_antt.io: read/write of real boundaries and of a city-scale model file.

Prints seconds per step; not a test. Run: python bench/io_bench.py [N_MODELS]
"""

from __future__ import annotations

import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from geo_antt import io  # noqa: E402
from geo_antt import units as units_mod  # noqa: E402

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def _timed(label: str, fn):
    t, c = time.perf_counter(), time.process_time()
    out = fn()
    print(f"{label:<48s} {time.perf_counter() - t:7.2f} s wall {time.process_time() - c:7.2f} s CPU")
    return out


def main(n_models: int = 110_000) -> None:
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    hanoi = SHARED / "national" / "hanoi_communes_2025.geojson"
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        units = _timed(f"read_units {hanoi.name} ({hanoi.stat().st_size / 1e6:.1f} MB)", lambda: io.read_units(hanoi))
        n_vertices = int(sum(len(g.exterior.coords) for p in units.geometry for g in getattr(p, "geoms", [p])))
        print(f"  {len(units)} communes, {n_vertices} exterior vertices")
        _timed("to_geojson_dict (126 communes)", lambda: io.to_geojson_dict(units))
        _timed("write_layer GeoJSON (126 communes)", lambda: io.write_layer(units, tmp / "u.geojson"))
        _timed("write_layer GPKG (126 communes)", lambda: io.write_layer(units, tmp / "u.gpkg"))

        rng = np.random.default_rng(1)
        codes, pts = [], []
        for code, poly in units.geometry.items():
            minx, miny, maxx, maxy = poly.bounds
            inside = np.empty(0, dtype=object)
            while len(inside) < 40:
                cand = shapely.points(rng.uniform((minx, miny), (maxx, maxy), size=(400, 2)))
                inside = np.concatenate([inside, cand[shapely.contains(poly, cand)]])
            codes += [f"{code}-{i:02d}" for i in range(40)]
            pts += list(inside[:40])
        points = gpd.GeoDataFrame({"code": codes}, geometry=pts, crs="EPSG:4326")
        hamlets = _timed(
            f"hamlets_from_points ({len(points)} points, 126 communes)",
            lambda: units_mod.hamlets_from_points(points, units),
        )
        print(f"  {len(hamlets)} approximate hamlets")

        rng = np.random.default_rng(0)
        lon = rng.uniform(105.3, 106.0, n_models)
        lat = rng.uniform(20.6, 21.3, n_models)
        kinds = np.where(np.arange(n_models) % 11 == 0, "Đèn chiếu sáng", "Camera")
        dirs = rng.integers(0, 360, n_models)
        csv_path = tmp / "models.csv"
        with open(csv_path, "w", encoding="utf-8-sig") as fh:
            fh.write("Mã;Loại;Vĩ độ;Kinh độ;Hướng;Góc;Tầm xa;Trạng thái\n")
            for i in range(n_models):
                d = "" if kinds[i] != "Camera" else str(dirs[i])
                fh.write(
                    f"M{i};{kinds[i]};{lat[i]:.6f}".replace(".", ",")
                    + f";{lon[i]:.6f}".replace(".", ",")
                    + f";{d};;;Hoạt động\n"
                )
        print(f"  models CSV: {n_models} rows, {csv_path.stat().st_size / 1e6:.1f} MB")
        models = _timed(f"read_models CSV ({n_models} rows)", lambda: io.read_models(csv_path))
        print(f"  {len(models)} models")
        _timed(f"to_geojson_dict ({n_models} models)", lambda: io.to_geojson_dict(models))
        _timed(f"write_layer GeoJSON ({n_models} models)", lambda: io.write_layer(models, tmp / "m.geojson"))
        _timed(f"read_models GeoJSON ({n_models} models)", lambda: io.read_models(tmp / "m.geojson"))
        _timed(f"write_layer GPKG ({n_models} models)", lambda: io.write_layer(models, tmp / "m.gpkg"))
        _timed(f"read_models GPKG ({n_models} models)", lambda: io.read_models(tmp / "m.gpkg"))
    print(f"peak resident memory {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 110_000)
