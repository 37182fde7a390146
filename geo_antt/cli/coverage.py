"""``geo-antt coverage``: coverage and gaps of every hamlet (or commune), written as GeoJSON/GPKG."""

from __future__ import annotations

import argparse
import gc
import sys
import warnings
from pathlib import Path


from .inputs import add_input_arguments, load_inputs
from .._errors import GeoAnttError
from ..config import DEFAULT_SETTINGS
from .. import io
from ._main import leave_for_exit
from ._progress import add_quiet_argument, progress_bar
from ..coverage import compute_coverage

__all__ = ["register"]

HELP = """\
Compute, for every hamlet (or commune), the area covered by the active security models —
camera field-of-view sectors, lighting and checkpoint discs — and the uncovered parts (gaps).

Inputs come either from a dataset directory (--data, default: the embedded demo in data/) or
from files: --boundaries (communes), optionally --hamlets (polygons, or points from which
approximate hamlet areas are built inside their commune), and one or more --models files
(CSV, XLSX, GeoJSON, GPKG; Vietnamese or English headers). Distances and areas are computed in
metres in the UTM zone of the data (48N west of 108°E, 49N east) unless --crs names one.

Outputs are RFC 7946 GeoJSON (WGS84, 7 decimals) or GeoPackage when the name ends in .gpkg.
"""

EXAMPLES = """\
examples:
  geo-antt coverage --out hamlets.geojson --gaps gaps.geojson          # the embedded demo
  geo-antt coverage --boundaries xa.shp --hamlets ap.geojson --models camera.xlsx \\
                    --models den.csv --out ap_coverage.geojson --gaps ap_gaps.geojson
  geo-antt coverage --boundaries xa.gpkg --models mo_hinh.csv --level commune \\
                    --crs EPSG:3405 --out xa.gpkg
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "coverage",
        help="coverage and gaps per hamlet/commune",
        description=HELP,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_input_arguments(p)
    opt = p.add_argument_group("analysis")
    opt.add_argument("--level", choices=("hamlet", "commune", "district", "province"), help="level to report at (default: the finest present)")
    opt.add_argument("--crs", metavar="EPSG:NNNN", help="metric CRS for distances and areas (default: UTM zone of the data)")
    opt.add_argument("--min-gap-area", metavar="M2", type=float, default=DEFAULT_SETTINGS.min_gap_area_m2, help="drop gap pieces under this many square metres (default %(default)s)")
    need = p.add_argument_group("ranking by need (optional)")
    need.add_argument("--demand", metavar="FILE", help="demand layer: points, lines or polygons (households, roads, incidents...)")
    need.add_argument("--weight-column", metavar="COL", help="numeric column of --demand weighting it (default: count, length or area)")
    need.add_argument("--threshold", metavar="PCT", type=float, default=DEFAULT_SETTINGS.uncovered_threshold_pct,
                      help="a unit is 'uncovered' below this covered share, percent (default %(default)s)")
    need.add_argument("--kind", metavar="KIND", help="judge coverage by one kind only (camera, lighting, ...)")
    out = p.add_argument_group("outputs")
    out.add_argument("--out", metavar="FILE", required=True, help="per-unit figures with unit polygons (.geojson or .gpkg)")
    out.add_argument("--gaps", metavar="FILE", help="uncovered parts of every unit (.geojson or .gpkg)")
    out.add_argument("--footprints", metavar="FILE", help="footprint of every counted model (.geojson or .gpkg)")
    add_quiet_argument(p)
    p.set_defaults(func=run)


def _rank_by_need(res, args: argparse.Namespace):
    """Per-unit figures plus ``weighted_covered_pct``, ``uncovered``, ``uncovered_need`` and
    ``need_rank`` (1 = most need): weighted by ``--demand`` when given, else by area."""
    import geopandas as gpd

    from ..placement import rank_uncovered

    demand = None
    if args.demand:
        demand = io.read_layer(args.demand)
        if args.weight_column and args.weight_column not in demand.columns:
            raise GeoAnttError(f"{args.demand}: no column {args.weight_column!r} (columns: {', '.join(map(str, demand.columns))})")
    ranked = rank_uncovered(
        res.units,
        demand=demand,
        weight_column=args.weight_column,
        threshold_pct=args.threshold,
        kind=args.kind,
        footprints=res.footprints if demand is not None else None,
    )
    return gpd.GeoDataFrame(ranked, geometry=res.units.geometry.reindex(ranked.index), crs=res.units.crs)


def run(args: argparse.Namespace) -> int:
    # The run makes millions of geometry objects, each tracked by the cyclic garbage collector;
    # scanning them every 700 allocations costs more than the geometry work itself at times.
    # Collect rarely while it runs (the previous thresholds come back afterwards).
    thresholds = gc.get_threshold()
    gc.set_threshold(100_000, 50, 100)
    try:
        return _run(args)
    finally:
        gc.set_threshold(*thresholds)


def _warned(fn, *a, **kw):
    """``fn(*a, **kw)``, its warnings printed once it returns as one ``warning: ...`` line each."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = fn(*a, **kw)
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)
    return out


def _run(args: argparse.Namespace) -> int:
    settings = DEFAULT_SETTINGS.replace(metric_crs=args.crs, min_gap_area_m2=args.min_gap_area)
    units, models, skipped = _warned(load_inputs, args)
    for prob in skipped:
        print(f"skipped: {prob}", file=sys.stderr)
    with progress_bar(args, "coverage") as bar:
        res = _warned(compute_coverage, units, models, level=args.level, settings=settings, with_gaps=bool(args.gaps),
                      progress=bar)
        ranked = _rank_by_need(res, args)
        # the metric frames are reprojected and repaired chunk by chunk while being written: the
        # same files as res.gaps / res.footprints would give
        writes = [(args.out, lambda: io.write_layer(ranked, args.out))]
        if args.gaps:
            writes.append((args.gaps, lambda: io.write_layer(res.gaps_metric, args.gaps, make_valid=True)))
        if args.footprints:
            writes.append((args.footprints, lambda: io.write_layer(res.footprints_metric, args.footprints, make_valid=True)))
        for k, (path, write) in enumerate(writes):
            if bar is not None:
                bar(f"writing {Path(path).name}", k, len(writes))
            write()
    u = res.units
    n_unc = int(ranked["uncovered"].sum())
    print(f"{n_unc} of {len(ranked)} units below {args.threshold:g} % ({'weighted by ' + args.demand if args.demand else 'by area'})")
    print(
        f"{len(u)} {res.level} units, {int(u['n_models'].sum())} active models, "
        f"covered {u['covered_m2'].sum() / 1e6:.3f} of {u['area_m2'].sum() / 1e6:.3f} km² "
        f"({100 * u['covered_m2'].sum() / max(u['area_m2'].sum(), 1e-9):.2f} %), metric CRS {res.metric_crs.to_string()}"
    )
    worst = u.sort_values("rank").head(5)
    print("least covered: " + "; ".join(f"{r.unit_name} ({r.unit_code}) {r.covered_pct:.1f} %" for r in worst.itertuples()))
    written = [args.out] + [p for p in (args.gaps, args.footprints) if p]
    print("wrote " + ", ".join(str(Path(p)) for p in written))
    leave_for_exit(res, ranked, units, models)  # as the geo-antt program: no teardown
    return 0
