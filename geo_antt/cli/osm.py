"""``geo-antt osm convert``: an OpenStreetMap extract as roads, buildings and security models."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from .._errors import GeoAnttError, NotFoundError
from ..config import DEFAULT_DATA_DIR
from .inputs import add_db_argument, store_frames

__all__ = ["register"]

HELP = """\
Read an OpenStreetMap extract (.osm.pbf, .osm, .osm.bz2, .osm.gz; e.g. Geofabrik's Vietnam
extract, or an export of the area from openstreetmap.org) and write, in DIR:

  roads.geojson      highway=* ways (streets, tracks, paths) as lines: osm_id, highway, name
  buildings.geojson  building=* ways and multipolygon relations: osm_id, building, levels,
                     height_m
  models.geojson     security models in geo-antt's columns (read by --models and by
                     `geo-antt validate`): man_made=surveillance nodes as cameras
                     (camera:direction in degrees, compass points, "90;180" or a range
                     "350-10"; camera:type dome/panning = 360 degrees), highway=street_lamp
                     nodes as lighting; status active, field crime prevention, host
                     residential area; the layer defaults of layers/*.toml apply to
                     missing values

Objects that cannot be used (a camera without a direction, an unclosed building, a way whose
nodes are missing from the extract) are left out and each is reported on stderr with its OSM
object ("node 123", "way 45"). --bbox or --unit cut the layers to an area: roads are cut at
its edge, buildings and nodes inside it are kept. The files are RFC 7946 GeoJSON (WGS84, 7
decimals), each replaced only once fully written.
"""

EXAMPLES = """\
examples:
  geo-antt osm convert vietnam-latest.osm.pbf --out osm/ --bbox 105.80,21.00,105.86,21.05
  geo-antt osm convert map.osm --out osm/ --unit 22714              # a unit of the demo data
  geo-antt osm convert vietnam-latest.osm.pbf --out osm/ --data du_lieu/ --unit 00004 \\
                       --node-index sparse_file_array,/tmp/nodes.idx
  geo-antt coverage --boundaries xa.geojson --models osm/models.geojson --out xa_cov.geojson
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``osm`` (with ``convert``) to the ``geo-antt`` command line."""
    osm = subparsers.add_parser(
        "osm",
        help="OpenStreetMap extracts: roads, buildings, cameras and street lamps as geo-antt layers",
        description="OpenStreetMap extracts as geo-antt layers.",
    )
    osub = osm.add_subparsers(dest="osm_command", metavar="ACTION")
    p = osub.add_parser(
        "convert",
        help="convert an extract into roads.geojson, buildings.geojson and models.geojson",
        description=HELP,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("extract", metavar="EXTRACT", help="the OSM file: .osm.pbf, .osm, .osm.bz2 or .osm.gz")
    p.add_argument(
        "--out",
        metavar="DIR",
        required=True,
        help="folder to write roads.geojson, buildings.geojson and models.geojson to",
    )
    area = p.add_mutually_exclusive_group()
    area.add_argument(
        "--bbox",
        metavar="W,S,E,N",
        help="keep this lon/lat box only (WGS84 degrees, longitude first: 105.80,21.00,105.86,21.05)",
    )
    area.add_argument("--unit", metavar="CODE", help="keep the area of this unit (any level) of the dataset only")
    units = p.add_argument_group("units for --unit (a dataset directory, boundary files, or a store)")
    units.add_argument(
        "--data",
        metavar="DIR",
        help=f"dataset directory with dataset.toml (default: the embedded demo in {DEFAULT_DATA_DIR.name}/)",
    )
    units.add_argument(
        "--boundaries",
        metavar="FILE",
        action="extend",
        nargs="+",
        default=[],
        help="unit boundaries of any level: GeoJSON, Shapefile, GeoPackage (repeatable)",
    )
    units.add_argument(
        "--input-crs", metavar="CRS", help="CRS of boundary files that do not say (e.g. EPSG:3405 for VN-2000)"
    )
    add_db_argument(units)
    p.add_argument(
        "--node-index",
        metavar="INDEX",
        default="flex_mem",
        help="pyosmium's node location index: flex_mem (default; memory), or sparse_file_array,FILE / "
        "dense_file_array,FILE to keep a large extract's node locations on disk",
    )
    p.set_defaults(func=_run_convert)
    osm.set_defaults(func=lambda args: (osm.print_help(), 2)[1])


def _unit_polygon(args: argparse.Namespace) -> Any:
    """The boundary of ``--unit`` from ``--boundaries``, ``--db`` or the dataset (``--data``)."""
    import pandas as pd

    from .. import io
    from ..io.dataset import load_dataset
    from ..text import fold

    if args.boundaries:
        if args.db:
            raise GeoAnttError("--db reads the store's units: give it without --boundaries")
        units = pd.concat([io.read_units(p, crs=args.input_crs) for p in args.boundaries])
        source = ", ".join(args.boundaries)
    else:
        from_store = store_frames(args)
        if from_store is not None:
            units, source = from_store.units, "the store"
        else:
            data = Path(args.data or DEFAULT_DATA_DIR)
            units, source = load_dataset(data).units, str(data)
    code = str(args.unit).strip()
    if code not in units.index:
        key = fold(code)
        near = [
            f"{c} ({n})"
            for c, n in zip(units.index, units["name"])
            if key and (key in fold(str(n)) or key in fold(str(c)))
        ]
        hint = (
            f"; did you mean {', '.join(near[:5])}?"
            if near
            else f"; its {len(units)} units have codes such as {', '.join(map(str, units.index[:3]))}"
        )
        raise NotFoundError(f"--unit {code}: no unit with this code in {source}{hint}")
    geom = units.geometry.loc[code]
    if geom is None or geom.is_empty:
        raise GeoAnttError(f"--unit {code}: the unit has no boundary in {source}")
    return geom


def _run_convert(args: argparse.Namespace) -> int:
    from .. import io
    from ..io.osm import convert_extract, parse_bbox

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise GeoAnttError(f"--out {out}: exists and is not a folder")
    bbox = parse_bbox(args.bbox) if args.bbox else None
    clip = _unit_polygon(args) if args.unit else None
    layers = convert_extract(args.extract, bbox=bbox, clip=clip, index=args.node_index)
    for p in layers.problems:
        print(f"warning: {p}", file=sys.stderr)
    written = [
        io.write_layer(layers.roads, out / "roads.geojson"),
        io.write_layer(layers.buildings, out / "buildings.geojson"),
        io.write_layer(layers.models, out / "models.geojson"),
    ]
    n = layers.counts()
    print(
        f"{n['roads']} roads, {n['buildings']} buildings, {n['cameras']} cameras, {n['lights']} lights written; "
        f"{n['problems']} problem{'s' if n['problems'] != 1 else ''} ({n['errors']} objects left out, {n['warnings']} values left empty)"
    )
    print("wrote " + ", ".join(str(p) for p in written))
    return 0
