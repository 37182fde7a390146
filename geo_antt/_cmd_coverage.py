"""``geo-antt coverage``: coverage and gaps of every hamlet (or commune), written as GeoJSON/GPKG."""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import geopandas as gpd
import pandas as pd

from ._errors import GeoAnttError
from .config import DEFAULT_SETTINGS
from .coverage import compute_coverage

__all__ = ["register", "load_inputs"]

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
    src = p.add_argument_group("inputs")
    src.add_argument("--data", metavar="DIR", help="dataset directory with dataset.toml (default: the embedded demo, when no --boundaries)")
    src.add_argument("--boundaries", metavar="FILE", help="commune (or any level) boundaries: GeoJSON, Shapefile, GeoPackage")
    src.add_argument("--hamlets", metavar="FILE", help="hamlet polygons, or hamlet centre points (areas are then approximated)")
    src.add_argument("--models", metavar="FILE", action="append", default=[], help="security models (CSV, XLSX, GeoJSON, GPKG); repeatable")
    src.add_argument("--input-crs", metavar="CRS", help="CRS of inputs that do not say (e.g. EPSG:3405 for VN-2000 x/y)")
    src.add_argument("--skip-invalid", action="store_true", help="skip invalid model rows (they are listed) instead of stopping")
    opt = p.add_argument_group("analysis")
    opt.add_argument("--level", choices=("hamlet", "commune", "district", "province"), help="level to report at (default: the finest present)")
    opt.add_argument("--crs", metavar="EPSG:NNNN", help="metric CRS for distances and areas (default: UTM zone of the data)")
    opt.add_argument("--min-gap-area", metavar="M2", type=float, default=DEFAULT_SETTINGS.min_gap_area_m2, help="drop gap pieces under this many square metres (default %(default)s)")
    out = p.add_argument_group("outputs")
    out.add_argument("--out", metavar="FILE", required=True, help="per-unit figures with unit polygons (.geojson or .gpkg)")
    out.add_argument("--gaps", metavar="FILE", help="uncovered parts of every unit (.geojson or .gpkg)")
    out.add_argument("--footprints", metavar="FILE", help="footprint of every counted model (.geojson or .gpkg)")
    p.set_defaults(func=run)


def load_inputs(args: argparse.Namespace) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, list]:
    """Units and models from ``--data`` or from ``--boundaries/--hamlets/--models``; also the
    skipped-row problems when ``--skip-invalid``."""
    from . import io, units as units_mod
    from .dataset import load_dataset

    skipped: list = []
    if args.boundaries:
        units = io.read_units(args.boundaries, crs=args.input_crs)
        if args.hamlets:
            hamlets = units_mod.read_hamlets(args.hamlets, units, crs=args.input_crs)
            units = pd.concat([units, hamlets])
        frames = []
        for path in args.models:
            m = io.read_models(path, crs=args.input_crs, skip_invalid=args.skip_invalid)
            skipped.extend(m.attrs.get("skipped", []))
            frames.append(m)
        if not frames:
            raise GeoAnttError("--models FILE is required with --boundaries (one or more model files)")
        models = pd.concat(frames) if len(frames) > 1 else frames[0]
        dup = models.index[models.index.duplicated()].unique()
        if len(dup):
            from ._errors import Problem, ValidationError

            raise ValidationError([Problem(", ".join(args.models), None, "id", d, "the same id appears in more than one models file") for d in dup[:50]])
        return gpd.GeoDataFrame(units, crs="EPSG:4326"), gpd.GeoDataFrame(models, crs="EPSG:4326"), skipped
    ds = load_dataset(args.data or DEFAULT_SETTINGS.data_dir)
    return ds.units, ds.models, skipped


def run(args: argparse.Namespace) -> int:
    from . import io

    settings = DEFAULT_SETTINGS.replace(metric_crs=args.crs, min_gap_area_m2=args.min_gap_area)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        units, models, skipped = load_inputs(args)
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)
    for prob in skipped:
        print(f"skipped: {prob}", file=sys.stderr)
    res = compute_coverage(units, models, level=args.level, settings=settings, with_gaps=bool(args.gaps))
    io.write_layer(res.units, args.out)
    if args.gaps:
        io.write_layer(res.gaps, args.gaps)
    if args.footprints:
        io.write_layer(res.footprints, args.footprints)
    u = res.units
    print(
        f"{len(u)} {res.level} units, {int(u['n_models'].sum())} active models, "
        f"covered {u['covered_m2'].sum() / 1e6:.3f} of {u['area_m2'].sum() / 1e6:.3f} km² "
        f"({100 * u['covered_m2'].sum() / max(u['area_m2'].sum(), 1e-9):.2f} %), metric CRS {res.metric_crs.to_string()}"
    )
    worst = u.sort_values("rank").head(5)
    print("least covered: " + "; ".join(f"{r.unit_name} ({r.unit_code}) {r.covered_pct:.1f} %" for r in worst.itertuples()))
    written = [args.out] + [p for p in (args.gaps, args.footprints) if p]
    print("wrote " + ", ".join(str(Path(p)) for p in written))
    return 0
