"""Inputs shared by the commands: a dataset directory, or explicit boundary/hamlet/model files."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, NamedTuple

import geopandas as gpd
import pandas as pd

from .._errors import GeoAnttError, Problem, ValidationError
from ..config import DEFAULT_SETTINGS

__all__ = [
    "StoreFrames",
    "add_input_arguments",
    "add_db_argument",
    "add_roads_argument",
    "add_buildings_argument",
    "add_dem_argument",
    "open_dem_argument",
    "load_inputs",
    "load_inputs_with_roads",
    "load_inputs_with_features",
    "store_frames",
]


def add_input_arguments(parser: argparse.ArgumentParser) -> None:
    """``--data`` | ``--boundaries/--hamlets/--models``, ``--input-crs``, ``--skip-invalid``."""
    g = parser.add_argument_group("inputs (a dataset directory, or files)")
    g.add_argument(
        "--data", metavar="DIR", help="dataset directory with dataset.toml (default: the embedded demo in data/)"
    )
    g.add_argument(
        "--boundaries",
        metavar="FILE",
        action="extend",
        nargs="+",
        default=[],
        help="unit boundaries of any level: GeoJSON, Shapefile, GeoPackage (repeatable)",
    )
    g.add_argument(
        "--hamlets",
        metavar="FILE",
        help="hamlet polygons, or hamlet centre points (areas are then approximated inside their commune)",
    )
    g.add_argument(
        "--models",
        metavar="FILE",
        action="extend",
        nargs="+",
        default=[],
        help="security models: CSV, XLSX, GeoJSON, GPKG (repeatable)",
    )
    g.add_argument(
        "--input-crs", metavar="CRS", help="CRS of input files that do not say (e.g. EPSG:3405 for VN-2000 x/y)"
    )
    g.add_argument(
        "--skip-invalid", action="store_true", help="skip invalid model rows (they are listed) instead of stopping"
    )
    add_db_argument(g)


def add_db_argument(parser: Any) -> None:
    """``--db URL``: read the units and models of a store (what the web service serves)."""
    parser.add_argument(
        "--db",
        metavar="URL",
        default=None,
        help="read the units and models of a store instead of files: sqlite:///FILE, a file path, or "
        "postgresql://user@host:port/db (default: $GEO_ANTT_DB when set; else the files)",
    )


def add_roads_argument(parser: Any) -> None:
    """``--roads FILE``: road centre lines for the street coverage (else the dataset's roads)."""
    parser.add_argument(
        "--roads",
        metavar="FILE",
        default=None,
        help="road centre lines (LineStrings: GeoJSON, GPKG, SHP; any CRS; e.g. the roads.geojson of "
        "geo-antt osm convert) for coverage along streets (default: the roads of the --data dataset, if it lists any)",
    )


def add_buildings_argument(parser: Any) -> None:
    """``--buildings FILE``: building footprints that hide what lies behind them (else the dataset's)."""
    parser.add_argument(
        "--buildings",
        metavar="FILE",
        default=None,
        help="building footprints (Polygons: GeoJSON, GPKG, SHP; any CRS; e.g. the buildings.geojson of "
        "geo-antt osm convert): cameras and lights do not see through them and their inside is never "
        "covered (default: the buildings of the --data dataset, if it lists any)",
    )


def add_dem_argument(parser: Any) -> None:
    """``--dem FILE``: an elevation model over which cameras and lights look (line of sight)."""
    parser.add_argument(
        "--dem",
        metavar="FILE",
        default=None,
        help="digital elevation model (GeoTIFF of ground heights in metres, any CRS): cameras and lights "
        "see only the ground a straight line from height_m above them reaches over the terrain",
    )


def open_dem_argument(args: argparse.Namespace) -> Any:
    """The elevation model of ``--dem`` (:func:`geo_antt.io.dem.open_dem`), or None."""
    if not getattr(args, "dem", None):
        return None
    from ..io.dem import open_dem

    return open_dem(args.dem)


class StoreFrames(NamedTuple):
    """What :func:`store_frames` read from a store."""

    units: gpd.GeoDataFrame
    models: gpd.GeoDataFrame
    roads: gpd.GeoDataFrame | None  # None: not asked for, or the store has none
    buildings: gpd.GeoDataFrame | None = None  # the same


def store_frames(args: argparse.Namespace, *, roads: bool = False, buildings: bool = False) -> StoreFrames | None:
    """Units and models of the store named by ``--db`` (or ``$GEO_ANTT_DB``), None without one;
    with ``roads``/``buildings``, also the store's roads (their pieces per unit merged again)
    and buildings.

    Without a store, says on stderr when the default store file exists beside the dataset
    (the web service's data, which edits and imports may have changed since the files).
    """
    from ..store import DB_ENV_VAR, DEFAULT_DB_NAME, Store, resolve_db_url

    url = getattr(args, "db", None) or os.environ.get(DB_ENV_VAR) or None
    if url is None:
        default = data_dir_of(args) / DEFAULT_DB_NAME
        if not getattr(args, "boundaries", None) and default.is_file():
            print(
                f"note: read the dataset files of {data_dir_of(args)}; the store {default} (what the web service "
                f"shows, with its edits and imports) may differ: add --db {default} to read it",
                file=sys.stderr,
            )
        return None
    url = resolve_db_url(url)
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        raise GeoAnttError(f"--db {url}: no such store file")
    with Store.open(url) as store:
        units, models = store.units_frame(), store.models_frame(user=None)
        counts = store.context_counts()
        stored_roads = store.context_frame("roads", merged=True) if roads and counts["roads"] else None
        stored_buildings = store.context_frame("buildings") if buildings and counts["buildings"] else None
    extra = "" if stored_roads is None else f", {len(stored_roads)} roads"
    extra += "" if stored_buildings is None else f", {len(stored_buildings)} buildings"
    print(f"source: the store {_shown(url)} ({len(units)} units, {len(models)} models{extra})", file=sys.stderr)
    return StoreFrames(units, models, stored_roads, stored_buildings)


def _shown(url: str) -> str:
    """A database URL without its password."""
    import sqlalchemy as sa

    return sa.engine.make_url(url).render_as_string(hide_password=True)


def load_inputs(args: argparse.Namespace) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, list[Problem]]:
    """Units (all levels) and models from ``--data`` or the files; also the skipped rows."""
    units, models, skipped, _, _ = _load(args)
    return units, models, skipped


def load_inputs_with_roads(
    args: argparse.Namespace,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, list[Problem], gpd.GeoDataFrame | None]:
    """:func:`load_inputs` plus the roads: those of ``--roads`` (read with ``--input-crs`` for a
    file that names no CRS), else those the dataset lists when the inputs are a dataset
    directory, else None.
    """
    units, models, skipped, roads, _ = _load(args, layers=("roads",))
    return units, models, skipped, roads


def load_inputs_with_features(
    args: argparse.Namespace,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, list[Problem], gpd.GeoDataFrame | None, gpd.GeoDataFrame | None]:
    """:func:`load_inputs_with_roads` plus the buildings: those of ``--buildings``, else those
    the dataset lists when the inputs are a dataset directory, else None.
    """
    return _load(args, layers=("roads", "buildings"))


def _feature_file(args: argparse.Namespace, key: str) -> gpd.GeoDataFrame | None:
    from ..io.features import read_buildings, read_roads

    path = getattr(args, key, None)
    reader = read_roads if key == "roads" else read_buildings
    return reader(path, crs=getattr(args, "input_crs", None)) if path else None


def _load(
    args: argparse.Namespace, *, layers: tuple[str, ...] = ()
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, list[Problem], gpd.GeoDataFrame | None, gpd.GeoDataFrame | None]:
    from .. import io
    from ..io.dataset import load_dataset
    from ..io.hamlets import read_hamlets

    # first: a bad road or building file stops the run at once
    given = {key: _feature_file(args, key) for key in layers}
    roads, buildings = given.get("roads"), given.get("buildings")
    from_store = store_frames(
        args, roads="roads" in layers and roads is None, buildings="buildings" in layers and buildings is None
    )
    if from_store is not None:
        if getattr(args, "boundaries", None) or getattr(args, "models", None) or getattr(args, "hamlets", None):
            raise GeoAnttError(
                "--db reads the store's units and models: give it without --boundaries/--hamlets/--models"
            )
        return (
            from_store.units,
            from_store.models,
            [],
            roads if roads is not None else from_store.roads,
            buildings if buildings is not None else from_store.buildings,
        )
    boundaries = list(getattr(args, "boundaries", None) or [])
    models_files = list(getattr(args, "models", None) or [])
    skip = bool(getattr(args, "skip_invalid", False))
    crs = getattr(args, "input_crs", None)
    if not boundaries:
        if models_files or getattr(args, "hamlets", None):
            raise GeoAnttError("--models/--hamlets need --boundaries (or use --data DIR)")
        wanted = tuple(key for key in layers if given[key] is None)
        ds = load_dataset(
            getattr(args, "data", None) or DEFAULT_SETTINGS.data_dir, skip_invalid=skip, feature_layers=wanted
        )
        return (
            ds.units,
            ds.models,
            list(ds.models.attrs.get("skipped", [])),
            roads if roads is not None else ds.roads,
            buildings if buildings is not None else ds.buildings,
        )
    # Everything in turn, on this thread. (CSV files used to be parsed on a second thread while
    # the boundaries were read; but Python's warning filters are process-wide and
    # ``warnings.catch_warnings`` is not thread-safe, so a library's catch_warnings on one
    # thread could swallow or mis-route the other's warnings: which hamlet warnings a run
    # printed depended on thread timing.)
    units = pd.concat([io.read_units(p, crs=crs) for p in boundaries])
    if getattr(args, "hamlets", None):
        units = pd.concat([units, read_hamlets(args.hamlets, units, crs=crs)])
    dup = units.index[units.index.duplicated()].unique()
    if len(dup):
        raise ValidationError(
            [
                Problem(", ".join(boundaries), None, "code", d, "the same unit code appears in more than one file")
                for d in dup[:50]
            ]
        )
    if not models_files:
        raise GeoAnttError("give --models FILE (one or more model files) with --boundaries")
    skipped: list[Problem] = []
    frames = []
    for path in models_files:
        m = io.read_models(path, crs=crs, skip_invalid=skip)
        skipped.extend(m.attrs.get("skipped", []))
        frames.append(m)
    models = pd.concat(frames) if len(frames) > 1 else frames[0]
    dup = models.index[models.index.duplicated()].unique()
    if len(dup):
        raise ValidationError(
            [
                Problem(", ".join(models_files), None, "id", d, "the same model id appears in more than one file")
                for d in dup[:50]
            ]
        )
    return (
        gpd.GeoDataFrame(units, crs="EPSG:4326"),
        gpd.GeoDataFrame(models, crs="EPSG:4326"),
        skipped,
        roads,
        buildings,
    )


def data_dir_of(args: argparse.Namespace) -> Path:
    return Path(getattr(args, "data", None) or DEFAULT_SETTINGS.data_dir)
