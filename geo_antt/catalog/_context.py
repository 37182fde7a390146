"""Context layers of a dataset: its roads and buildings, drawn under everything as a plain
street map when there is no base-map file.

``dataset.toml`` may list them (files as ``geo-antt osm convert`` writes them, or any vector
file with those columns)::

    roads = ["osm/roads.geojson"]
    buildings = ["osm/buildings.geojson"]

:func:`context_layers` takes the frames a dataset object already carries (``dataset.roads`` /
``dataset.buildings``) and reads the files of ``dataset.toml`` otherwise.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from .._errors import GeoAnttError
from ..crs import WGS84
from ..io import read_layer

__all__ = ["CONTEXT_COLLECTIONS", "context_layers", "read_context_files"]

# collection id -> (Vietnamese title, English title, columns kept)
CONTEXT_COLLECTIONS: Mapping[str, tuple[str, str, tuple[str, ...]]] = {
    "roads": ("Đường phố", "Roads", ("osm_id", "highway", "name")),
    "buildings": ("Nhà, công trình", "Buildings", ("osm_id", "building", "name", "levels", "height_m")),
}
_GEOMETRY_TYPES = {"roads": ("LineString", "MultiLineString"), "buildings": ("Polygon", "MultiPolygon")}


def _tidy(cid: str, frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Keep the collection's columns (those present), lines or polygons only, ids ``r1``/``b1``...
    in file order (OSM ids may repeat once a way is cut).
    """
    frame = frame.to_crs(WGS84) if frame.crs is not None and not frame.crs.equals(WGS84) else frame
    if frame.index.name in CONTEXT_COLLECTIONS[cid][2] and frame.index.name not in frame.columns:
        frame = frame.reset_index()
    keep = frame.geometry.notna() & ~frame.geometry.is_empty
    keep &= frame.geometry.geom_type.isin(_GEOMETRY_TYPES[cid])
    frame = frame[keep.to_numpy()]
    cols = [c for c in CONTEXT_COLLECTIONS[cid][2] if c in frame.columns]
    out = gpd.GeoDataFrame(
        frame[cols].reset_index(drop=True), geometry=frame.geometry.reset_index(drop=True), crs=WGS84
    )
    out.index = pd.Index([f"{cid[0]}{i + 1}" for i in range(len(out))], name="id", dtype=object)
    return out


def read_context_files(data_dir: str | os.PathLike[str]) -> dict[str, gpd.GeoDataFrame]:
    """The roads and buildings listed in ``data_dir/dataset.toml`` (none: no entry).

    Raises
    ------
    GeoAnttError
        When a listed file is missing or unreadable, or a list is not a list of file names.
    """
    toml = Path(data_dir) / "dataset.toml"
    if not toml.is_file():
        return {}
    try:
        with toml.open("rb") as fh:
            meta = tomllib.load(fh)
    except tomllib.TOMLDecodeError:
        return {}  # the dataset reader reports it
    out: dict[str, gpd.GeoDataFrame] = {}
    for cid in CONTEXT_COLLECTIONS:
        entries = meta.get(cid)
        if entries is None:
            continue
        if not isinstance(entries, list):
            raise GeoAnttError(f"{toml}: {cid} must be a list of files, got {entries!r}")
        frames = []
        for item in entries:
            rel = item.get("path") if isinstance(item, dict) else item
            if not isinstance(rel, str):
                raise GeoAnttError(f"{toml}: each {cid} entry must be a file name or a table with 'path', got {item!r}")
            path = Path(data_dir) / rel
            if not path.is_file():
                raise GeoAnttError(f"{toml}: {cid} file {rel!r} does not exist")
            frames.append(read_layer(path, layer=item.get("layer") if isinstance(item, dict) else None))
        if frames:
            out[cid] = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    return out


def context_layers(data_dir: str | os.PathLike[str] | None, *, dataset: Any = None) -> dict[str, gpd.GeoDataFrame]:
    """The context layers to serve: ``roads`` and ``buildings`` (those there are), in EPSG:4326,
    index ``id`` (``r1``..., ``b1``...), columns of :data:`CONTEXT_COLLECTIONS`.

    Parameters
    ----------
    data_dir
        Dataset folder whose ``dataset.toml`` lists the files (None: only ``dataset``'s frames).
    dataset
        An object that may carry ``roads``/``buildings`` frames (a loaded dataset); those are
        used as they are, the files of ``dataset.toml`` only for the layers it lacks.
    """
    given = {cid: getattr(dataset, cid, None) for cid in CONTEXT_COLLECTIONS}
    files = read_context_files(data_dir) if data_dir is not None and any(v is None for v in given.values()) else {}
    out = {}
    for cid in CONTEXT_COLLECTIONS:
        frame = given[cid] if given[cid] is not None else files.get(cid)
        if frame is not None:
            out[cid] = _tidy(cid, frame)
    return out
