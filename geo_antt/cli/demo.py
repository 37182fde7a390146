"""Sub-commands ``geo-antt demo build`` and ``geo-antt stats``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

from ..config import DEFAULT_DATA_DIR

__all__ = ["register", "load_frames"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``demo`` (with ``build``) and ``stats`` to the ``geo-antt`` parser."""
    demo = subparsers.add_parser(
        "demo",
        help="the embedded demo dataset (5 districts of the field reports)",
        description="The embedded demo dataset: Mỏ Cày Nam, Thạnh Phú, Gò Công Tây, Hàm Thuận Nam, "
        "Khánh Sơn (pre-2025 units). Boundaries are APPROXIMATE (Voronoi from the commune "
        "centroids of vietnamadminunits); hamlets and models are generated.",
    )
    dsub = demo.add_subparsers(dest="demo_command", metavar="ACTION")
    build = dsub.add_parser(
        "build",
        help="(re)generate the demo dataset, byte-identical for a given seed",
        description="Write DIR/dataset.toml, DIR/boundaries/*.geojson and DIR/models/models.geojson.",
    )
    build.add_argument(
        "--out",
        metavar="DIR",
        default=str(DEFAULT_DATA_DIR),
        help=f"dataset directory to write (default: {DEFAULT_DATA_DIR})",
    )
    from ..io.demo import DEFAULT_SEED

    build.add_argument(
        "--seed",
        type=int,
        default=DEFAULT_SEED,
        help=f"seed of the generated hamlets and models (default: {DEFAULT_SEED})",
    )
    build.set_defaults(func=_run_demo_build)
    demo.set_defaults(func=lambda args: (demo.print_help(), 2)[1])

    st = subparsers.add_parser(
        "stats",
        help="conference figures (models by kind, field, host, status) for an area",
        description="Print the figures of a review conference for an area: total models, "
        "distinct names, fields, and counts by host, field, kind and status.",
        epilog="examples:\n  geo-antt stats --unit 'Hàm Thuận Nam'\n  geo-antt stats --unit 598 --json\n"
        "  geo-antt stats --unit 'xa son binh' --lang en --since 2024-01-01",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    st.add_argument(
        "--data", metavar="DIR", default=str(DEFAULT_DATA_DIR), help=f"dataset directory (default: {DEFAULT_DATA_DIR})"
    )
    st.add_argument(
        "--unit",
        metavar="CODE_OR_NAME",
        help="unit code or name of any level (diacritics and case ignored); default: all",
    )
    st.add_argument("--since", metavar="YYYY-MM-DD", help="count new models started on or after this date")
    st.add_argument("--until", metavar="YYYY-MM-DD", help="count new models started on or before this date")
    from .inputs import add_db_argument

    add_db_argument(st)
    st.add_argument("--json", action="store_true", help="print JSON instead of text")
    st.add_argument("--lang", choices=("vi", "en"), default="vi", help="language of the text (default: vi)")
    st.set_defaults(func=_run_stats)


def _run_demo_build(args: argparse.Namespace) -> int:
    from ..io.demo import build_demo

    written = build_demo(args.out, seed=args.seed)
    for key in ("dataset", "provinces", "districts", "communes", "hamlets", "models"):
        p = written[key]
        print(f"{p}  ({p.stat().st_size / 1024:.0f} KiB)")
    return 0


def load_frames(data_dir: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return ``(units, models)`` of the dataset directory ``data_dir`` (see
    :func:`geo_antt.io.dataset.load_dataset`).
    """
    from ..io.dataset import load_dataset

    ds = load_dataset(Path(data_dir))
    return ds.units, ds.models


def _run_stats(args: argparse.Namespace) -> int:
    from ..stats import format_stats, model_stats, resolve_unit
    from .inputs import store_frames

    from_store = store_frames(args)
    units, models = (from_store.units, from_store.models) if from_store is not None else load_frames(args.data)
    code = resolve_unit(units, args.unit) if args.unit else None
    stats = model_stats(models, units, unit_code=code, since=args.since, until=args.until)
    if args.json:
        json.dump(stats, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    else:
        print(format_stats(stats, lang=args.lang))
    return 0
