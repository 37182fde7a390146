"""``geo-antt coverage``: coverage and gaps of every hamlet (or commune), written as
GeoJSON/GPKG/GeoParquet; ``--workers``/``--scheduler`` run it partitioned by province on Dask.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import re
import sys
import warnings
from pathlib import Path
from types import SimpleNamespace

from .. import io
from .._errors import GeoAnttError
from ..config import DEFAULT_SETTINGS
from ..coverage import compute_coverage
from ..layers import load_layer_specs
from ..tiers import apply_tier, tier_codes
from ._main import leave_for_exit
from ._progress import add_quiet_argument, progress_bar
from .inputs import (
    add_buildings_argument,
    add_dem_argument,
    add_input_arguments,
    add_roads_argument,
    load_inputs_with_features,
    open_dem_argument,
)

__all__ = ["register", "MAX_STREET_GAP_M", "MAX_WORKERS", "CRS_SYSTEMS"]

# Upper bound of --min-street-gap, metres (10 km: no stretch of a commune's road is longer).
MAX_STREET_GAP_M = 10_000.0
# Upper bound of --workers: local worker processes (a larger cluster is a --scheduler's).
MAX_WORKERS = 256
# --crs values that ask for a national run: each partition in its own CRS of this system.
CRS_SYSTEMS = ("utm", "vn2000")
# tcp://host:port (or tls://); the host a name, an IPv4 address or a bracketed IPv6 one.
_SCHEDULER = re.compile(r"^(tcp|tls)://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9][A-Za-z0-9.-]{0,252}):(\d{1,5})$")

HELP = """\
Compute, for every hamlet (or commune), the area covered by the active security models —
camera field-of-view sectors, lighting and checkpoint discs — and the uncovered parts (gaps).

Inputs come either from a dataset directory (--data, default: the embedded demo in data/) or
from files: --boundaries (communes), optionally --hamlets (polygons, or points from which
approximate hamlet areas are built inside their commune), and one or more --models files
(CSV, XLSX, GeoJSON, GPKG; Vietnamese or English headers). Distances and areas are computed in
metres in the UTM zone of the data (48N west of 108°E, 49N east) unless --crs names one.

With --roads (road centre lines, e.g. the roads.geojson of geo-antt osm convert; or the roads a
--data dataset lists), every unit also gets the metres of road inside it and inside the
footprints (road_m, road_covered_m, road_covered_pct and per kind), units are ranked by the
covered share of their streets, and --street-gaps writes the uncovered stretches of road.

With --buildings (building footprints, e.g. the buildings.geojson of geo-antt osm convert; or
the buildings a --data dataset lists), cameras and lights see only what a straight line from
them reaches without crossing a building (the kinds whose layer file says occluded = true),
the inside of buildings is never covered, and every unit also gets building_m2, open_m2 (its
area outside buildings) and covered_open_pct (covered share of the open area).

With --tier detect|observe|recognise|identify (IEC 62676-4: 25, 62, 125, 250 px per metre of
target), a camera's range is what its resolution_px and fov_deg give for that purpose (see
layers/camera.toml [tiers]); a camera without resolution_px keeps its range_m and is counted as
"tier unknown" in the summary.

With --dem (a GeoTIFF of ground heights in metres, any CRS), the same kinds also see only the
ground a straight line from their height_m above it reaches over the terrain (xarray-spatial's
viewshed, over the cells of the model's reach); "covered" is then what is seen past walls and
over hills.

Outputs are RFC 7946 GeoJSON (WGS84, 7 decimals), GeoPackage when the name ends in .gpkg,
GeoParquet when it ends in .parquet. Inputs may be GeoParquet too.

The whole country: --workers N runs the coverage on a Dask cluster of N local worker processes,
--scheduler tcp://host:8786 on an existing cluster (every worker needs geo-antt installed). The
units are partitioned by province (split further when large), each partition computed in the
metric CRS that suits it: the UTM zone of its centre, or with --crs vn2000 the nearest VN-2000
TM-3 zone (--crs utm|vn2000 alone runs the partitions in this process). Models whose footprint
can reach a partition are given to it, so the figures equal one run per province. There,
--gaps/--street-gaps/--footprints without a file suffix are directories of one GeoParquet file
per partition.
"""

EXAMPLES = """\
examples:
  geo-antt coverage --out hamlets.geojson --gaps gaps.geojson          # the embedded demo
  geo-antt coverage --boundaries xa.shp --hamlets ap.geojson --models camera.xlsx \\
                    --models den.csv --out ap_coverage.geojson --gaps ap_gaps.geojson
  geo-antt coverage --boundaries xa.gpkg --models mo_hinh.csv --level commune \\
                    --crs EPSG:3405 --out xa.gpkg
  geo-antt coverage --roads roads.geojson --out hamlets.geojson --street-gaps streets.geojson
  geo-antt coverage --buildings buildings.geojson --out hamlets.geojson --gaps gaps.geojson
  geo-antt coverage --tier identify --out hamlets_identify.geojson --gaps gaps_identify.geojson
  geo-antt coverage --dem dem.tif --buildings buildings.geojson --out hamlets.geojson
  geo-antt coverage --boundaries vn_communes.parquet --hamlets thon.parquet --models models.parquet \\
                    --workers 2 --out hamlets.parquet --gaps gaps/          # Dask, by province
  geo-antt coverage --data national/ --scheduler tcp://10.0.0.5:8786 --crs vn2000 --out xa.parquet
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``geo-antt coverage`` to the command line."""
    p = subparsers.add_parser(
        "coverage",
        help="coverage and gaps per hamlet/commune",
        description=HELP,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_input_arguments(p)
    streets = p.add_argument_group("streets (optional)")
    add_roads_argument(streets)
    streets.add_argument(
        "--min-street-gap",
        metavar="METRES",
        type=_metres_between(0.0, MAX_STREET_GAP_M),
        default=DEFAULT_SETTINGS.min_street_gap_m,
        help=f"leave out uncovered stretches of road shorter than this, metres (0-{MAX_STREET_GAP_M:g}; default %(default)s)",
    )
    streets.add_argument(
        "--street-gaps", metavar="FILE", help="write the uncovered stretches of road (.geojson or .gpkg; needs roads)"
    )
    add_buildings_argument(p.add_argument_group("buildings (optional)"))
    add_dem_argument(p.add_argument_group("terrain (optional)"))
    opt = p.add_argument_group("analysis")
    opt.add_argument(
        "--level",
        choices=("hamlet", "commune", "district", "province"),
        help="level to report at (default: the finest present)",
    )
    opt.add_argument(
        "--tier",
        choices=tier_codes(load_layer_specs()),
        help="coverage for one purpose of the cameras (IEC 62676-4 DORI): ranges from resolution_px and fov_deg",
    )
    opt.add_argument(
        "--crs",
        metavar="EPSG:NNNN|utm|vn2000",
        help="metric CRS for distances and areas (default: UTM zone of the data); utm or vn2000: "
        "one CRS of that system per partition (a national run)",
    )
    opt.add_argument(
        "--min-gap-area",
        metavar="M2",
        type=float,
        default=DEFAULT_SETTINGS.min_gap_area_m2,
        help="drop gap pieces under this many square metres (default %(default)s)",
    )
    need = p.add_argument_group("ranking by need (optional)")
    need.add_argument(
        "--demand", metavar="FILE", help="demand layer: points, lines or polygons (households, roads, incidents...)"
    )
    need.add_argument(
        "--weight-column",
        metavar="COL",
        help="numeric column of --demand weighting it (default: count, length or area)",
    )
    need.add_argument(
        "--threshold",
        metavar="PCT",
        type=float,
        default=DEFAULT_SETTINGS.uncovered_threshold_pct,
        help="a unit is 'uncovered' below this covered share, percent (default %(default)s)",
    )
    need.add_argument("--kind", metavar="KIND", help="judge coverage by one kind only (camera, lighting, ...)")
    dist = p.add_argument_group("the whole country on Dask (optional)")
    where = dist.add_mutually_exclusive_group()
    where.add_argument(
        "--workers",
        metavar="N",
        type=_whole_between(1, MAX_WORKERS),
        help=f"run the partitions on a local Dask cluster of N worker processes (1-{MAX_WORKERS})",
    )
    where.add_argument(
        "--scheduler",
        metavar="ADDR",
        type=_scheduler_address,
        help="run the partitions on an existing Dask cluster (tcp://host:8786)",
    )
    out = p.add_argument_group("outputs")
    out.add_argument(
        "--out",
        metavar="FILE",
        required=True,
        help="per-unit figures with unit polygons (.geojson, .gpkg or .parquet)",
    )
    out.add_argument(
        "--gaps", metavar="FILE", help="uncovered parts of every unit (.geojson, .gpkg, .parquet; a directory on Dask)"
    )
    out.add_argument(
        "--footprints",
        metavar="FILE",
        help="footprint of every counted model (.geojson, .gpkg, .parquet; a directory on Dask)",
    )
    add_quiet_argument(p)
    p.set_defaults(func=run)


def _metres_between(low: float, high: float):
    """An argparse type: a number of metres from ``low`` to ``high`` (both included)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number of metres: {text!r}") from None
        if not low <= value <= high:  # NaN fails too
            raise argparse.ArgumentTypeError(f"must be between {low:g} and {high:g} metres, got {text}")
        return value

    return parse


def _whole_between(low: int, high: int):
    """An argparse type: a whole number from ``low`` to ``high`` (both included)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be from {low} to {high}, got {text}")
        return value

    return parse


def _scheduler_address(text: str) -> str:
    """An argparse type: a Dask scheduler address, ``tcp://host:port`` (or ``tls://``)."""
    m = _SCHEDULER.match(text.strip())
    if m is None or not 1 <= int(m.group(3)) <= 65535:
        raise argparse.ArgumentTypeError(f"not a scheduler address (tcp://host:8786): {text!r}")
    return text.strip()


def _rank_by_need(res, args: argparse.Namespace):
    """Per-unit figures plus ``weighted_covered_pct``, ``uncovered``, ``uncovered_need`` and
    ``need_rank`` (1 = most need): weighted by ``--demand`` when given, else by street when
    the coverage has roads, else by area.
    """
    import geopandas as gpd

    from ..placement import rank_uncovered

    demand = None
    if args.demand:
        demand = io.read_layer(args.demand)
        if args.weight_column and args.weight_column not in demand.columns:
            raise GeoAnttError(
                f"{args.demand}: no column {args.weight_column!r} (columns: {', '.join(map(str, demand.columns))})"
            )
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


def _national(args: argparse.Namespace) -> bool:
    """Whether the run is partitioned (``--workers``, ``--scheduler`` or ``--crs utm|vn2000``)."""
    system = (args.crs or "").strip().lower()
    if (getattr(args, "workers", None) or getattr(args, "scheduler", None)) and args.crs and system not in CRS_SYSTEMS:
        raise GeoAnttError(
            f"--crs {args.crs}: a run on Dask computes each partition in its own metric CRS; "
            f"give --crs {' or --crs '.join(CRS_SYSTEMS)} (or leave it out: utm)"
        )
    return bool(getattr(args, "workers", None) or getattr(args, "scheduler", None) or system in CRS_SYSTEMS)


def _run(args: argparse.Namespace) -> int:
    if _national(args):
        return _run_national(args)
    settings = DEFAULT_SETTINGS.replace(
        metric_crs=args.crs, min_gap_area_m2=args.min_gap_area, min_street_gap_m=args.min_street_gap
    )
    dem = open_dem_argument(args)  # a bad file is an error before any work
    units, models, skipped, roads, buildings = _warned(load_inputs_with_features, args)
    for prob in skipped:
        print(f"skipped: {prob}", file=sys.stderr)
    if args.street_gaps and roads is None:
        raise GeoAnttError(
            "--street-gaps needs roads: give --roads FILE (or a --data dataset whose dataset.toml lists roads)"
        )
    tier_run = None
    if args.tier:
        models, tier_run = apply_tier(models, args.tier, load_layer_specs(settings.layers_dir))
    with progress_bar(args, "coverage") as bar:
        res = _warned(
            compute_coverage,
            units,
            models,
            level=args.level,
            settings=settings,
            with_gaps=bool(args.gaps),
            roads=roads,
            with_street_gaps=bool(args.street_gaps),
            buildings=buildings,
            dem=dem,
            progress=bar,
        )
        ranked = _rank_by_need(res, args)
        # the metric frames are reprojected and repaired chunk by chunk while being written: the
        # same files as res.gaps / res.footprints would give
        writes = [(args.out, lambda: io.write_layer(ranked, args.out))]
        if args.gaps:
            writes.append((args.gaps, lambda: io.write_layer(res.gaps_metric, args.gaps, make_valid=True)))
        if args.street_gaps:
            writes.append((args.street_gaps, lambda: io.write_layer(res.street_gaps_metric, args.street_gaps)))
        if args.footprints:
            writes.append(
                (args.footprints, lambda: io.write_layer(res.footprints_metric, args.footprints, make_valid=True))
            )
        for k, (path, write) in enumerate(writes):
            if bar is not None:
                bar(f"writing {Path(path).name}", k, len(writes))
            write()
    u = res.units
    n_unc = int(ranked["uncovered"].sum())
    measure = "weighted by " + args.demand if args.demand else ("by street length" if roads is not None else "by area")
    print(f"{n_unc} of {len(ranked)} units below {args.threshold:g} % ({measure})")
    print(
        f"{len(u)} {res.level} units, {int(u['n_models'].sum())} active models, "
        f"covered {u['covered_m2'].sum() / 1e6:.3f} of {u['area_m2'].sum() / 1e6:.3f} km² "
        f"({100 * u['covered_m2'].sum() / max(u['area_m2'].sum(), 1e-9):.2f} %), metric CRS {res.metric_crs.to_string()}"
    )
    if tier_run is not None:
        print(tier_run.summary())
    if buildings is not None:
        open_m2 = float(u["open_m2"].sum())
        print(
            f"buildings: {len(buildings)} read; open area {open_m2 / 1e6:.3f} km², covered "
            f"{100 * u['covered_m2'].sum() / max(open_m2, 1e-9):.2f} % of it (cameras and lights do not see through walls)"
        )
    if dem is not None:
        print(
            f"terrain: {dem.name} ({dem.crs.to_string()}); cameras and lights see only the ground their line of sight reaches"
        )
    if roads is not None:
        road_m, road_cov = float(u["road_m"].sum()), float(u["road_covered_m"].sum())
        stretches = (
            f", {len(res.street_gaps_metric)} uncovered stretches of at least {settings.min_street_gap_m:g} m"
            if args.street_gaps
            else ""
        )
        print(
            f"streets: covered {road_cov / 1e3:.3f} of {road_m / 1e3:.3f} km of road "
            f"({100 * road_cov / max(road_m, 1e-9):.2f} %){stretches}"
        )
    worst = u.sort_values("rank").head(5)
    print(
        "least covered: "
        + "; ".join(f"{r.unit_name} ({r.unit_code}) {r.covered_pct:.1f} %" for r in worst.itertuples())
    )
    if roads is not None and not args.demand:
        worst_streets = ranked.head(5)
        print(
            "least covered streets: "
            + "; ".join(
                f"{r.unit_name} ({r.unit_code}) {r.weighted_covered_pct:.1f} % of {r.road_m / 1e3:.2f} km"
                for r in worst_streets.itertuples()
            )
        )
    written = [args.out] + [p for p in (args.gaps, args.street_gaps, args.footprints) if p]
    print("wrote " + ", ".join(str(Path(p)) for p in written))
    leave_for_exit(res, ranked, units, models)  # as the geo-antt program: no teardown
    return 0


def _is_directory_output(path: str) -> bool:
    """A partitioned output: an existing directory, a path ending in ``/``, or one without a
    file suffix.
    """
    return path.endswith(("/", "\\")) or Path(path).is_dir() or Path(path).suffix == ""


@contextlib.contextmanager
def _client(args: argparse.Namespace):
    """A ``distributed.Client``: of a LocalCluster of ``--workers`` processes (one thread each,
    the engine single-threaded in them), of the ``--scheduler``, or None (in this process).
    """
    if not (args.workers or args.scheduler):
        yield None
        return
    from distributed import Client, LocalCluster

    if args.scheduler:
        try:
            client = Client(args.scheduler, timeout="10s")
        except (OSError, TimeoutError) as exc:
            raise GeoAnttError(
                f"--scheduler {args.scheduler}: cannot connect to a Dask scheduler there ({exc})"
            ) from None
        with client:
            yield client
        return
    with (
        LocalCluster(
            n_workers=args.workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            env={"GEO_ANTT_THREADS": "1"},
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def _dask_progress(args: argparse.Namespace):
    """Dask's own console progress bar (``distributed.progress``, on stderr) when stderr is a
    terminal and not ``--quiet``; else None.
    """
    stream = sys.stderr
    if getattr(args, "quiet", False) or not (hasattr(stream, "isatty") and stream.isatty()):
        return None
    from distributed import progress

    def show(futures: list) -> None:
        with contextlib.redirect_stdout(stream):
            progress(futures)
        print(file=stream)

    return show


def _write_parts(path: str, parts: dict, whole, *, make_valid: bool) -> None:
    if _is_directory_output(path):
        io.write_partitioned(parts, path, make_valid=make_valid)
    else:
        io.write_layer(whole(), path, make_valid=make_valid)


def _run_national(args: argparse.Namespace) -> int:
    from ..national import compute_national_coverage

    system = (args.crs or "utm").strip().lower()
    settings = DEFAULT_SETTINGS.replace(min_gap_area_m2=args.min_gap_area, min_street_gap_m=args.min_street_gap)
    if getattr(args, "dem", None):
        raise GeoAnttError(
            "--dem is not available in a partitioned run (--workers, --scheduler, --crs utm|vn2000) yet: "
            "run the terrain coverage per province without them"
        )
    units, models, skipped, roads, buildings = _warned(load_inputs_with_features, args)
    for prob in skipped:
        print(f"skipped: {prob}", file=sys.stderr)
    if args.street_gaps and roads is None:
        raise GeoAnttError(
            "--street-gaps needs roads: give --roads FILE (or a --data dataset whose dataset.toml lists roads)"
        )
    tier_run = None
    if args.tier:  # the cameras' ranges for that purpose, before the partitions take them
        models, tier_run = apply_tier(models, args.tier, load_layer_specs(settings.layers_dir))
    with _client(args) as client:
        res = _warned(
            compute_national_coverage,
            units,
            models,
            client=client,
            level=args.level,
            crs_system=system,
            settings=settings,
            with_gaps=bool(args.gaps),
            roads=roads,
            with_street_gaps=bool(args.street_gaps),
            buildings=buildings,
            progress=_dask_progress(args) if client is not None else None,
        )
    footprints = res.all_footprints() if args.demand else None
    ranked = _rank_by_need(SimpleNamespace(units=res.units, footprints=footprints), args)
    io.write_layer(ranked, args.out)
    if args.gaps:
        _write_parts(args.gaps, res.gaps, res.all_gaps, make_valid=True)
    if args.street_gaps:
        _write_parts(args.street_gaps, res.street_gaps, res.all_street_gaps, make_valid=False)
    if args.footprints:
        _write_parts(args.footprints, res.footprints, res.all_footprints, make_valid=True)
    u = res.units
    n_unc = int(ranked["uncovered"].sum())
    measure = "weighted by " + args.demand if args.demand else ("by street length" if roads is not None else "by area")
    print(f"{n_unc} of {len(ranked)} units below {args.threshold:g} % ({measure})")
    if tier_run is not None:
        print(tier_run.summary())
    counts = u["metric_crs"].value_counts()
    where = f"{args.workers} local worker(s)" if args.workers else (args.scheduler or "this process")
    print(
        f"{len(u)} {res.level} units in {len(res.partitions)} partitions on {where}, {int(u['n_models'].sum())} active "
        f"models, covered {u['covered_m2'].sum() / 1e6:.3f} of {u['area_m2'].sum() / 1e6:.3f} km² "
        f"({100 * u['covered_m2'].sum() / max(u['area_m2'].sum(), 1e-9):.2f} %), metric CRS per partition: "
        + ", ".join(f"{crs} ({counts[crs]} units)" for crs in res.crs_names)
    )
    worst = u.sort_values("rank").head(5)
    print(
        "least covered: "
        + "; ".join(f"{r.unit_name} ({r.unit_code}) {r.covered_pct:.1f} %" for r in worst.itertuples())
    )
    written = [args.out] + [p for p in (args.gaps, args.street_gaps, args.footprints) if p]
    print("wrote " + ", ".join(str(Path(p)) for p in written))
    leave_for_exit(res, ranked, units, models)
    return 0
