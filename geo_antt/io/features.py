"""Readers of the feature layers read beside the units and models: roads (the street coverage of
:func:`geo_antt.coverage.compute_coverage`) and buildings.

Both read any vector file :func:`geo_antt.io.read_layer` reads (GeoJSON, Shapefile, GeoPackage),
in any CRS, and settle it as the unit readers do (a file's own CRS wins; ``crs`` for a file that
names none; swapped lon/lat and unlabelled metres are errors). Every feature is checked before
anything else: a geometry of the wrong type, an empty one or a broken one (a line of one point,
a NaN coordinate) is a :class:`~geo_antt._errors.ValidationError` naming the file and the
feature, all of them at once.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio.raw
import shapely
import shapely.errors

from .._errors import GeoAnttError, Problem, ValidationError
from ..crs import to_wgs84
from ..text import nfc
from ._readers import _as_code, _read_vector, _settle_crs, _warn

__all__ = ["read_roads", "read_buildings", "ROAD_TYPES", "BUILDING_TYPES"]

ROAD_TYPES = ("LineString", "MultiLineString")
BUILDING_TYPES = ("Polygon", "MultiPolygon")
# columns that name a feature in a problem ("road 123456: ..."), first found wins
_ID_COLUMNS = ("osm_id", "id", "code", "ma")
_MAX_PROBLEMS = 200


def read_roads(path: str | os.PathLike[str], *, crs: object = None, layer: str | None = None) -> gpd.GeoDataFrame:
    """Read a road layer (street centre lines) for the street coverage.

    Parameters
    ----------
    path
        GeoJSON, Shapefile or GeoPackage (first layer unless ``layer``) of LineStrings or
        MultiLineStrings, e.g. the ``roads.geojson`` of ``geo-antt osm convert`` (properties
        ``osm_id``, ``highway``, ``name``).
    crs
        The CRS of the coordinates when the file does not say ("EPSG:3405", 9210...).
    layer
        GeoPackage layer (default: the first one).

    Returns
    -------
    GeoDataFrame
        EPSG:4326, one row per feature in file order (a RangeIndex), the file's properties
        (text NFC) and the line geometry.

    Raises
    ------
    ValidationError
        Every feature whose geometry is missing, empty, broken or not a line (file, feature
        number, the feature's ``osm_id``/``id`` when it has one).
    GeoAnttError
        The file cannot be read, or holds no feature.
    CRSError
        No usable CRS, or latitude/longitude swapped.
    """
    return _read_features(Path(path), allowed=ROAD_TYPES, what="road", crs=crs, layer=layer)


def read_buildings(path: str | os.PathLike[str], *, crs: object = None, layer: str | None = None) -> gpd.GeoDataFrame:
    """Read a building footprint layer (Polygons/MultiPolygons); as :func:`read_roads`, except
    that an invalid polygon is repaired with ``shapely.make_valid`` (a warning names them).
    """
    return _read_features(Path(path), allowed=BUILDING_TYPES, what="building", crs=crs, layer=layer)


def _is_na(v: Any) -> bool:
    """A missing cell (None, NaN, NA); lists and other values are not."""
    return v is None or v is pd.NA or (isinstance(v, (float, np.floating)) and bool(np.isnan(v)))


def _labels(raw: gpd.GeoDataFrame, what: str) -> list[str]:
    """A name for each feature in problems: ``road <osm_id>`` when the file has an id column."""
    cols = {str(c).lower(): c for c in raw.columns if c != raw.geometry.name}
    col = next((cols[c] for c in _ID_COLUMNS if c in cols), None)
    if col is None:
        return [what] * len(raw)
    return [f"{what} {v}" if (v := _as_code(x)) is not None else what for x in raw[col]]


def _broken_features(path: Path, layer: str | None, what: str) -> list[Problem]:
    """The features whose geometry GEOS cannot even build (``_read_vector`` failed on them):
    read the raw WKB and parse it feature by feature.
    """
    kwargs: dict[str, Any] = {"layer": layer} if layer is not None else {}
    if layer is None and path.suffix.lower() == ".gpkg":
        kwargs["layer"] = str(pyogrio.list_layers(path)[0][0])
    meta, _fids, wkb, fields = pyogrio.raw.read(path, **kwargs)[:4]
    names = [str(n).lower() for n in meta["fields"]]
    id_pos = next((names.index(c) for c in _ID_COLUMNS if c in names), None)
    problems = []
    for i, w in enumerate(wkb):
        if w is None:
            continue
        try:
            shapely.from_wkb(w)
        except shapely.errors.GEOSException as exc:
            label = what
            if id_pos is not None and (v := _as_code(fields[id_pos][i])) is not None:
                label = f"{what} {v}"
            problems.append(
                Problem(str(path), i + 1, "geometry", None, f"{label}: broken geometry ({str(exc).strip()})")
            )
    return problems


def _read_features(
    path: Path, *, allowed: tuple[str, ...], what: str, crs: object, layer: str | None
) -> gpd.GeoDataFrame:
    try:
        raw = _read_vector(path, encoding=None, layer=layer)
    except shapely.errors.GEOSException as exc:
        problems = _broken_features(path, layer, what)
        if not problems:  # pragma: no cover - GEOS failed on something else
            raise GeoAnttError(f"{path}: cannot read the geometries ({exc})") from None
        raise ValidationError(problems) from None
    if len(raw) == 0:
        raise GeoAnttError(f"{path}: no {what} features in the file (an empty layer)")
    geoms = np.asarray(raw.geometry.to_numpy(), dtype=object)
    labels = _labels(raw, what)
    fname = str(path)
    problems = []
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    types = np.array([g.geom_type if g is not None else None for g in geoms], dtype=object)
    wrong = ~missing & ~np.isin(types, allowed)
    valid = np.ones(len(geoms), dtype=bool)
    fine = np.flatnonzero(~missing & ~wrong)
    valid[fine] = shapely.is_valid(geoms[fine])
    kinds = " or ".join(allowed)
    repair = what != "road"
    for i in np.flatnonzero(missing | wrong | ~valid):
        if missing[i]:
            problems.append(Problem(fname, int(i) + 1, "geometry", None, f"{labels[i]}: empty geometry"))
        elif wrong[i]:
            problems.append(
                Problem(fname, int(i) + 1, "geometry", types[i], f"{labels[i]}: geometry must be a {kinds}")
            )
        elif not repair:
            problems.append(
                Problem(
                    fname,
                    int(i) + 1,
                    "geometry",
                    types[i],
                    f"{labels[i]}: broken geometry ({shapely.is_valid_reason(geoms[i])})",
                )
            )
        if len(problems) >= _MAX_PROBLEMS:
            break
    if problems:
        raise ValidationError(problems)
    if repair and not valid.all():
        bad = np.flatnonzero(~valid)
        fixed = shapely.make_valid(geoms[bad])
        for j, i in enumerate(bad):  # keep the polygonal part (make_valid may add lines)
            parts = [p for p in shapely.get_parts(fixed[j]) if p.geom_type in BUILDING_TYPES]
            if not parts:
                raise ValidationError(
                    [Problem(fname, int(i) + 1, "geometry", types[i], f"{labels[i]}: no polygon left after repair")]
                )
            fixed[j] = shapely.union_all(parts) if len(parts) > 1 else parts[0]
        geoms = geoms.copy()
        geoms[bad] = fixed
        raw = raw.set_geometry(gpd.GeoSeries(geoms, index=raw.index, crs=raw.crs))
        _warn(
            f"{path}: repaired {len(bad)} invalid {what} polygon(s) with make_valid (features {', '.join(str(int(i) + 1) for i in bad[:20])}{'...' if len(bad) > 20 else ''})"
        )
    raw = _settle_crs(raw, crs=crs, path=path)
    geom_col = raw.geometry.name
    for c in raw.columns:
        if c != geom_col and (raw[c].dtype == object or pd.api.types.is_string_dtype(raw[c].dtype)):
            vals = [nfc(v) if isinstance(v, str) else (None if _is_na(v) else v) for v in raw[c]]
            raw[c] = pd.Series(np.array(vals + [None], dtype=object)[:-1], index=raw.index, dtype=object)
    return to_wgs84(raw.reset_index(drop=True))
