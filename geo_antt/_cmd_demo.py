"""Sub-commands ``geo-antt demo build`` and ``geo-antt stats``."""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
from pathlib import Path
from typing import Any

import pandas as pd

from ._errors import GeoAnttError
from .config import DEFAULT_DATA_DIR

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
    build.add_argument("--out", metavar="DIR", default=str(DEFAULT_DATA_DIR),
                       help=f"dataset directory to write (default: {DEFAULT_DATA_DIR})")
    from .demo import DEFAULT_SEED

    build.add_argument("--seed", type=int, default=DEFAULT_SEED,
                       help=f"seed of the generated hamlets and models (default: {DEFAULT_SEED})")
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
    st.add_argument("--data", metavar="DIR", default=str(DEFAULT_DATA_DIR),
                    help=f"dataset directory (default: {DEFAULT_DATA_DIR})")
    st.add_argument("--unit", metavar="CODE_OR_NAME",
                    help="unit code or name of any level (diacritics and case ignored); default: all")
    st.add_argument("--since", metavar="YYYY-MM-DD", help="count new models started on or after this date")
    st.add_argument("--until", metavar="YYYY-MM-DD", help="count new models started on or before this date")
    st.add_argument("--json", action="store_true", help="print JSON instead of text")
    st.add_argument("--lang", choices=("vi", "en"), default="vi", help="language of the text (default: vi)")
    st.set_defaults(func=_run_stats)


def _run_demo_build(args: argparse.Namespace) -> int:
    from .demo import build_demo

    written = build_demo(args.out, seed=args.seed)
    for key in ("dataset", "provinces", "districts", "communes", "hamlets", "models"):
        p = written[key]
        print(f"{p}  ({p.stat().st_size / 1024:.0f} KiB)")
    return 0


def load_frames(data_dir: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return ``(units, models)`` of the dataset directory ``data_dir``.

    Uses :func:`geo_antt.dataset.load_dataset` when the package has it (any file format);
    otherwise reads the GeoJSON files listed in ``dataset.toml`` directly.

    Raises
    ------
    GeoAnttError
        A missing or invalid ``dataset.toml``, or a non-GeoJSON file without the dataset loader.
    """
    d = Path(data_dir)
    try:
        from .dataset import load_dataset  # the full loader (geo_antt.io), when present
    except ImportError:
        load_dataset = None
    if load_dataset is not None:
        ds = load_dataset(d)
        return ds.units, ds.models

    import geopandas as gpd

    meta_path = d / "dataset.toml"
    if not meta_path.is_file():
        raise GeoAnttError(f"{meta_path}: no dataset.toml (run `geo-antt demo build` or give --data DIR)")
    try:
        meta: dict[str, Any] = tomllib.loads(meta_path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise GeoAnttError(f"{meta_path}: invalid TOML: {exc}") from None

    def read(key: str) -> pd.DataFrame:
        frames = []
        for rel in meta.get(key, []):
            p = d / rel
            if p.suffix.lower() not in (".geojson", ".json"):
                raise GeoAnttError(f"{p}: only GeoJSON can be read without geo_antt.dataset")
            frames.append(gpd.read_file(p))
        if not frames:
            raise GeoAnttError(f"{meta_path}: lists no {key} files")
        return pd.concat(frames, ignore_index=True)

    units = read("units")
    models = read("models")
    units["code"] = units["code"].astype(str)
    units["parent_code"] = units["parent_code"].astype(object).where(units["parent_code"].notna(), None)
    units = units.set_index("code", drop=False)
    units.index.name = "code"
    models = models.set_index("id", drop=False)
    models.index.name = "id"
    return units, models


def _run_stats(args: argparse.Namespace) -> int:
    from .stats import format_stats, model_stats, resolve_unit

    units, models = load_frames(args.data)
    code = resolve_unit(units, args.unit) if args.unit else None
    stats = model_stats(models, units, unit_code=code, since=args.since, until=args.until)
    if args.json:
        json.dump(stats, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    else:
        print(format_stats(stats, lang=args.lang))
    return 0
