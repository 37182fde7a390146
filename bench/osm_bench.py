"""Benchmark of ``geo-antt osm convert``: a synthetic extract around Hà Nội (105.8°E, 21.0°N)
of 300,000 building ways (square outlines, 4 nodes each; every 600th a multipolygon relation
with a hole), 50,000 road ways (6 nodes each, 8 highway classes, Vietnamese names) and 3,000
surveillance cameras plus 3,000 street lamps, written as .osm.pbf by pyosmium's own writer
into a temporary folder.

The conversion runs in a fresh Python process (so that the peak memory is its own, not the
generator's): it prints the seconds of :func:`geo_antt.io.osm.convert_extract`, of writing the
three GeoJSON files, and the peak resident memory (``resource.getrusage(...).ru_maxrss``)
before and after. Figures, not a timed test; run with the project's Python:

    python bench/osm_bench.py [--buildings 300000] [--roads 50000] [--models 3000]
                              [--index flex_mem] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

X0, Y0 = 105.75, 20.95  # south-west corner of the area (about 11 x 11 km)
HIGHWAYS = ("residential", "tertiary", "secondary", "primary", "service", "unclassified", "footway", "living_street")
NAMES = ("Phố Huế", "Đường Láng", "Phố Hàng Bài", "Đường Trần Hưng Đạo", "Ngõ 42 Phố Vọng", "Đường Giải Phóng", None)
DIRECTIONS = ("90", "NE", "90;270", "350-10", "S", None, "180", "ENE")


def generate(path: Path, *, buildings: int, roads: int, models: int, seed: int = 20250701) -> dict[str, int]:
    """Write the extract to ``path``; return the counts of objects written."""
    import osmium
    from osmium.osm.mutable import Node, Relation, Way

    rng = np.random.default_rng(seed)
    side = int(np.ceil(np.sqrt(buildings)))
    step = 0.1 / side  # 0.1 degree ~ 11 km across
    size = step * 0.55
    nid = 0
    with osmium.SimpleWriter(str(path), overwrite=True) as w:
        # building outlines: 4 nodes each (a hole's 4 more for every 600th)
        corners = np.array([(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)])
        for i in range(buildings):
            bx, by = X0 + (i % side) * step, Y0 + (i // side) * step
            for cx, cy in corners:
                nid += 1
                w.add_node(Node(id=nid, location=(bx + cx * size, by + cy * size)))
            if i % 600 == 0:
                for cx, cy in corners:
                    nid += 1
                    w.add_node(Node(id=nid, location=(bx + size * (0.3 + 0.4 * cx), by + size * (0.3 + 0.4 * cy))))
        building_nodes = nid
        # roads: 6 nodes each, a random walk
        road_start = nid + 1
        starts = np.column_stack([rng.uniform(X0, X0 + 0.1, roads), rng.uniform(Y0, Y0 + 0.1, roads)])
        steps = rng.normal(0.0, 0.0008, (roads, 5, 2))
        for r in range(roads):
            pts = np.vstack([starts[r], starts[r] + np.cumsum(steps[r], axis=0)])
            for x, y in pts:
                nid += 1
                w.add_node(Node(id=nid, location=(float(x), float(y))))
        # cameras and street lamps
        model_start = nid + 1
        xy = np.column_stack([rng.uniform(X0, X0 + 0.1, 2 * models), rng.uniform(Y0, Y0 + 0.1, 2 * models)])
        for k in range(2 * models):
            nid += 1
            if k < models:
                tags = {"man_made": "surveillance", "surveillance:type": "camera", "surveillance": "public"}
                d = DIRECTIONS[k % len(DIRECTIONS)]
                if d is not None:
                    tags["camera:direction"] = d
                else:
                    tags["camera:type"] = "dome"
                if k % 5 == 0:
                    tags["camera:angle"] = "30"
            else:
                tags = {"highway": "street_lamp", "light:count": str(1 + k % 3)}
            w.add_node(Node(id=nid, location=(float(xy[k, 0]), float(xy[k, 1])), tags=tags))
        # ways: buildings (every 600th is the untagged outer of a relation), then roads
        wid = 0
        ref = 0
        relations = []
        for i in range(buildings):
            wid += 1
            outline = [ref + 1, ref + 2, ref + 3, ref + 4, ref + 1]
            ref += 4
            if i % 600 == 0:
                w.add_way(Way(id=wid, nodes=outline, tags={}))
                wid += 1
                w.add_way(Way(id=wid, nodes=[ref + 1, ref + 2, ref + 3, ref + 4, ref + 1], tags={}))
                ref += 4
                relations.append((wid - 1, wid))
                continue
            tags = {"building": "house" if i % 3 else "yes"}
            if i % 4 == 0:
                tags["building:levels"] = str(1 + i % 6)
            if i % 10 == 0:
                tags["height"] = f"{3 + i % 20} m"
            w.add_way(Way(id=wid, nodes=outline, tags=tags))
        assert ref == building_nodes
        for r in range(roads):
            wid += 1
            first = road_start + 6 * r
            tags = {"highway": HIGHWAYS[r % len(HIGHWAYS)]}
            name = NAMES[r % len(NAMES)]
            if name:
                tags["name"] = name
            w.add_way(Way(id=wid, nodes=list(range(first, first + 6)), tags=tags))
        for k, (outer, inner) in enumerate(relations, start=1):
            w.add_relation(
                Relation(
                    id=k,
                    members=[("w", outer, "outer"), ("w", inner, "inner")],
                    tags={"type": "multipolygon", "building": "apartments", "building:levels": "12"},
                )
            )
    assert model_start + 2 * models - 1 == nid
    return {
        "nodes": nid,
        "building_ways": buildings - len(relations),
        "relations": len(relations),
        "roads": roads,
        "models": 2 * models,
    }


def convert_only(extract: Path, out: Path, index: str) -> None:
    """The child process: convert and write, print JSON figures."""
    from geo_antt import io
    from geo_antt.io.osm import convert_extract

    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    layers = convert_extract(extract, index=index)
    t1 = time.perf_counter()
    peak_convert = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for name, frame in (("roads", layers.roads), ("buildings", layers.buildings), ("models", layers.models)):
        io.write_layer(frame, out / f"{name}.geojson")
    t2 = time.perf_counter()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    sizes = {p.name: p.stat().st_size for p in sorted(out.glob("*.geojson"))}
    print(
        json.dumps(
            {
                "convert_s": t1 - t0,
                "write_s": t2 - t1,
                "rss_imports_kib": base,
                "rss_convert_kib": peak_convert,
                "rss_peak_kib": peak,
                "counts": layers.counts(),
                "sizes": sizes,
            }
        )
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--buildings", type=int, default=300_000)
    ap.add_argument("--roads", type=int, default=50_000)
    ap.add_argument("--models", type=int, default=3_000, help="cameras, and as many street lamps")
    ap.add_argument("--index", default="flex_mem", help="node location index (default flex_mem)")
    ap.add_argument(
        "--keep", metavar="DIR", help="write the extract and the outputs here instead of a temporary folder"
    )
    ap.add_argument("--convert-only", nargs=2, metavar=("EXTRACT", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.convert_only:
        convert_only(Path(args.convert_only[0]), Path(args.convert_only[1]), args.index)
        return
    with tempfile.TemporaryDirectory(prefix="osm-bench-") as tmp:
        folder = Path(args.keep) if args.keep else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        extract = folder / "hanoi-synthetic.osm.pbf"
        t0 = time.perf_counter()
        made = generate(extract, buildings=args.buildings, roads=args.roads, models=args.models)
        print(
            f"extract: {extract.stat().st_size / 2**20:.2f} MiB, {made['nodes']:,} nodes, {made['building_ways']:,} building ways, "
            f"{made['relations']:,} multipolygon relations, {made['roads']:,} roads, {made['models']:,} camera/lamp nodes "
            f"(written in {time.perf_counter() - t0:.1f} s)"
        )
        out = folder / "out"
        out.mkdir(exist_ok=True)
        proc = subprocess.run(
            [sys.executable, __file__, "--index", args.index, "--convert-only", str(extract), str(out)],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode:
            sys.exit(proc.stderr)
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        c = r["counts"]
        print(
            f"convert_extract: {r['convert_s']:.2f} s -> {c['roads']:,} roads, {c['buildings']:,} buildings, "
            f"{c['cameras']:,} cameras, {c['lights']:,} lights, {c['problems']} problems (index {args.index})"
        )
        print(
            f"write 3 GeoJSON files: {r['write_s']:.2f} s ({', '.join(f'{k} {v / 2**20:.1f} MiB' for k, v in r['sizes'].items())})"
        )
        print(
            f"peak RSS (ru_maxrss): {r['rss_imports_kib'] / 1024:.0f} MiB after imports, {r['rss_convert_kib'] / 1024:.0f} MiB "
            f"after the conversion, {r['rss_peak_kib'] / 1024:.0f} MiB after writing"
        )


if __name__ == "__main__":
    main()
