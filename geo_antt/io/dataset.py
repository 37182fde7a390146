"""A dataset directory: the units of every level and the security models of one area.

Layout (see DEVELOPING.md)::

    DIR/dataset.toml                 title, note, approximate flag, lists of files
    DIR/boundaries/*.geojson         units of each level
    DIR/models/*.geojson|csv|xlsx    security models
    DIR/roads/*.geojson              road centre lines (optional: street coverage)
    DIR/buildings/*.geojson          building footprints (optional)

``dataset.toml``::

    title = { vi = "...", en = "..." }
    note = { vi = "...", en = "..." }
    approximate = true
    units = ["boundaries/provinces.geojson", "boundaries/communes.geojson", "boundaries/hamlets.geojson"]
    models = ["models/models.geojson"]
    roads = ["roads/roads.geojson"]          # optional
    buildings = ["buildings/buildings.gpkg"] # optional

An entry of ``units`` or ``models`` may also be a table with options, e.g.
``{ path = "boundaries/xa.shp", level = "commune", crs = "EPSG:9210", columns = { code = "MA_XA" } }``
or ``{ path = "models/camera.xlsx", sheet = "Camera", lang = "vi" }``. A units file of points
(hamlet centres) becomes approximate hamlet areas inside the communes listed before it. An
entry of ``roads`` or ``buildings`` may take ``crs`` and ``layer``.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import geopandas as gpd
import pandas as pd

from .._errors import GeoAnttError, NotFoundError, Problem, ValidationError
from ..crs import WGS84
from ..layers import LayerSpec, load_layer_specs
from ..schema import MODEL_COLUMNS, UNIT_COLUMNS
from ..units import check_parents, hamlets_from_points
from ._readers import _warn
from .features import read_buildings, read_roads
from .vector import _read_unit_frame, read_models

__all__ = ["Dataset", "load_dataset", "DATASET_FILE", "FEATURE_LAYERS"]

DATASET_FILE = "dataset.toml"
_UNIT_OPTIONS = ("level", "columns", "crs", "encoding", "layer")
_MODEL_OPTIONS = ("crs", "lang", "sheet")
_FEATURE_OPTIONS = ("crs", "layer")
# the optional feature layers a dataset.toml may list (files of roads, of buildings)
FEATURE_LAYERS = ("roads", "buildings")


@dataclass(frozen=True)
class Dataset:
    """Units of all levels, security models and the description of one dataset.

    Attributes
    ----------
    units
        Units frame (``UNIT_COLUMNS``, EPSG:4326, index = code) of every level.
    models
        Models frame (``MODEL_COLUMNS``, EPSG:4326, index = id).
    meta
        The ``dataset.toml`` table (title, note, approximate...) plus ``dir`` (the folder).
    roads
        Road centre lines of the ``roads`` files (EPSG:4326, their properties, e.g. ``osm_id``,
        ``highway``, ``name``), None when the dataset lists none.
    buildings
        Building polygons of the ``buildings`` files (EPSG:4326), None when it lists none.
    """

    units: gpd.GeoDataFrame
    models: gpd.GeoDataFrame
    meta: Mapping[str, Any] = field(default_factory=dict)
    roads: gpd.GeoDataFrame | None = None
    buildings: gpd.GeoDataFrame | None = None

    def title(self, lang: str = "vi") -> str:
        """The dataset's title in ``lang`` ("vi" or "en"), falling back to the other one."""
        t = self.meta.get("title", {})
        if isinstance(t, str):
            return t
        return str(t.get(lang) or t.get("vi") or t.get("en") or "")

    def level(self, level: str) -> gpd.GeoDataFrame:
        """The units of one level (province, district, commune, hamlet)."""
        return self.units[self.units["level"] == level]


def _entry(item: Any, *, what: str, allowed: tuple[str, ...], toml_path: Path) -> tuple[str, dict[str, Any]]:
    if isinstance(item, str):
        return item, {}
    if isinstance(item, dict) and isinstance(item.get("path"), str):
        opts = {k: v for k, v in item.items() if k != "path"}
        unknown = set(opts) - set(allowed)
        if unknown:
            raise GeoAnttError(
                f"{toml_path}: {what} entry {item['path']!r}: unknown option(s) {sorted(unknown)}; allowed: {', '.join(allowed)}"
            )
        return item["path"], opts
    raise GeoAnttError(f"{toml_path}: each {what} entry must be a file name or a table with 'path', got {item!r}")


def _empty_units() -> gpd.GeoDataFrame:
    g = gpd.GeoDataFrame(
        {c: pd.Series(dtype=object) for c in UNIT_COLUMNS}, geometry=gpd.GeoSeries([], crs=WGS84), crs=WGS84
    )
    g.index = pd.Index([], name="code", dtype=object)
    return g


def _empty_models() -> gpd.GeoDataFrame:
    g = gpd.GeoDataFrame(
        {c: pd.Series(dtype=object) for c in MODEL_COLUMNS}, geometry=gpd.GeoSeries([], crs=WGS84), crs=WGS84
    )
    g.index = pd.Index([], name="id", dtype=object)
    return g


def load_dataset(
    directory: str | os.PathLike[str],
    *,
    specs: Mapping[str, LayerSpec] | None = None,
    skip_invalid: bool = False,
    feature_layers: Sequence[str] = FEATURE_LAYERS,
) -> Dataset:
    """Read the dataset in ``directory`` as described by its ``dataset.toml``.

    Parameters
    ----------
    directory
        Folder holding ``dataset.toml``; the file names in it are relative to this folder.
    specs
        Layer specs for the models (default: the project's ``layers/``).
    skip_invalid
        Passed to :func:`geo_antt.io.read_models`: leave out invalid model rows (listed in
        ``models.attrs["skipped"]``) instead of failing.
    feature_layers
        Which of the optional ``roads`` and ``buildings`` lists to read (the others are left
        None; ``()`` for the commands that use neither). Their features are never skipped: a
        bad one is a problem of the dataset.

    Returns
    -------
    Dataset
        Units of every file concatenated (duplicate codes across files are an error; units whose
        parent is missing while their parent level is present draw a warning), models likewise.

    Raises
    ------
    NotFoundError
        No ``dataset.toml`` in ``directory``.
    ValidationError
        Any problem of any file, or a code/id used twice across files.
    """
    root = Path(directory)
    toml_path = root / DATASET_FILE
    if not toml_path.is_file():
        raise NotFoundError(f"{root}: no {DATASET_FILE} (see DEVELOPING.md for its format)")
    try:
        meta = tomllib.loads(toml_path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise GeoAnttError(f"{toml_path}: invalid TOML: {exc}") from None
    for key in ("units", "models", "roads", "buildings"):
        if key in meta and not isinstance(meta[key], list):
            raise GeoAnttError(f"{toml_path}: '{key}' must be a list of files")
    specs = load_layer_specs() if specs is None else specs

    frames: list[gpd.GeoDataFrame] = []
    origin: dict[str, str] = {}
    problems: list[Problem] = []
    for item in meta.get("units", []):
        rel, opts = _entry(item, what="units", allowed=_UNIT_OPTIONS, toml_path=toml_path)
        path = root / rel
        frame = _read_unit_frame(
            path,
            level=opts.get("level"),
            columns=opts.get("columns"),
            crs=opts.get("crs"),
            encoding=opts.get("encoding"),
            layer=opts.get("layer"),
            points=None,
        )
        if len(frame) and set(frame.geom_type) <= {"Point"}:
            communes = [f[f["level"] == "commune"] for f in frames]
            communes = [c for c in communes if len(c)]
            if not communes:
                raise GeoAnttError(
                    f"{path}: hamlet points need the communes: list the communes file before it in {toml_path.name}"
                )
            frame = hamlets_from_points(frame, pd.concat(communes), source=str(path))
        for i, code in enumerate(frame.index):
            if code in origin:
                problems.append(Problem(str(path), i + 1, "code", code, f"unit code already used in {origin[code]}"))
            else:
                origin[code] = str(path)
        frames.append(frame)
    units = _empty_units() if not frames else gpd.GeoDataFrame(pd.concat(frames), crs=WGS84)

    mframes: list[gpd.GeoDataFrame] = []
    id_origin: dict[str, str] = {}
    skipped: list[Problem] = []
    for item in meta.get("models", []):
        rel, opts = _entry(item, what="models", allowed=_MODEL_OPTIONS, toml_path=toml_path)
        path = root / rel
        try:
            m = read_models(path, skip_invalid=skip_invalid, specs=specs, **opts)
        except ValidationError as exc:
            problems.extend(exc.problems)
            continue
        skipped.extend(m.attrs.get("skipped", []))
        for mid in m.index:
            if mid in id_origin:
                problems.append(Problem(str(path), None, "id", mid, f"model id already used in {id_origin[mid]}"))
            else:
                id_origin[mid] = str(path)
        mframes.append(m)
    layers: dict[str, gpd.GeoDataFrame | None] = {"roads": None, "buildings": None}
    for key, reader in (("roads", read_roads), ("buildings", read_buildings)):
        if key not in feature_layers or not meta.get(key):
            continue
        parts = []
        for item in meta[key]:
            rel, opts = _entry(item, what=key, allowed=_FEATURE_OPTIONS, toml_path=toml_path)
            try:
                parts.append(reader(root / rel, **opts))
            except ValidationError as exc:
                problems.extend(exc.problems)
        if parts:
            layers[key] = (
                gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs=WGS84) if len(parts) > 1 else parts[0]
            )
    if problems:
        raise ValidationError(problems)
    models = _empty_models() if not mframes else gpd.GeoDataFrame(pd.concat(mframes), crs=WGS84)
    models.attrs = {"skipped": skipped}

    orphans = check_parents(units)
    if orphans:
        _warn(
            f"{toml_path}: {len(orphans)} unit(s) whose parent_code is not in the dataset: {', '.join(orphans[:20])}{'...' if len(orphans) > 20 else ''}"
        )
    meta = dict(meta)
    meta["dir"] = str(root)
    return Dataset(
        units=units, models=models, meta=MappingProxyType(meta), roads=layers["roads"], buildings=layers["buildings"]
    )
