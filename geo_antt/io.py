"""Reading and writing geo-antt's files.

Writing: :func:`write_layer` writes any GeoDataFrame as RFC 7946 GeoJSON (EPSG:4326, coordinates
rounded to 7 decimals, exterior rings counter-clockwise, no ``crs`` member) or, when the file
name ends in ``.gpkg``, as a GeoPackage; writes are atomic (temporary file in the same folder,
then :func:`os.replace`). :func:`to_geojson_dict` builds the same FeatureCollection as a dict
(the web layer reuses it for API responses).

Reading: :func:`read_units` (boundaries of any level), :func:`read_models` / :func:`load_models`
(security models from CSV, XLSX, GeoJSON, GeoPackage) — see their docstrings.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .crs import to_wgs84

__all__ = [
    "GEOJSON_DECIMALS",
    "to_geojson_dict",
    "to_geojson_text",
    "write_layer",
]

# RFC 7946 recommends 6-7 decimals: 1e-7 degree is about 1 cm.
GEOJSON_DECIMALS = 7


# --------------------------------------------------------------------------------------------
# writing


def _prepare_geometry(geoms: np.ndarray, *, decimals: int = GEOJSON_DECIMALS) -> np.ndarray:
    """Round coordinates (vectorised) and orient polygon exteriors counter-clockwise."""
    out = shapely.transform(geoms, lambda c: np.round(c, decimals))
    # Rounding may make a ring run the other way only in degenerate cases; orient afterwards.
    return shapely.orient_polygons(out, exterior_cw=False)


def _json_scalar(v: Any) -> Any:
    """One property value as something :func:`json.dumps` accepts (RFC 7946 properties)."""
    if v is None:
        return None
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        f = float(v)
        return None if math.isnan(f) or math.isinf(f) else f
    if isinstance(v, str):
        return v
    if isinstance(v, (tuple, list, np.ndarray)):
        return [_json_scalar(x) for x in v]
    if isinstance(v, pd.Timestamp):
        return None if pd.isna(v) else _iso(v.to_pydatetime())
    if isinstance(v, (_dt.datetime, _dt.date, _dt.time)):
        return _iso(v)
    if isinstance(v, dict):
        return {str(k): _json_scalar(x) for k, x in v.items()}
    if v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, shapely.Geometry):
        return v.wkt
    return str(v)


def _iso(v: _dt.date | _dt.datetime | _dt.time) -> str:
    if isinstance(v, _dt.datetime) and v.tzinfo is None and v.time() == _dt.time(0):
        return v.date().isoformat()
    return v.isoformat()


def _column_values(s: pd.Series) -> list[Any]:
    """A column as JSON-ready Python values; vectorised for the common dtypes."""
    dt = s.dtype
    if pd.api.types.is_bool_dtype(dt) and not isinstance(dt, pd.CategoricalDtype):
        if dt == object:
            return [_json_scalar(v) for v in s]
        arr = s.to_numpy(dtype=object, na_value=None)
        return [None if v is None else bool(v) for v in arr]
    if pd.api.types.is_float_dtype(dt):
        arr = s.to_numpy(dtype=float, na_value=np.nan)
        bad = ~np.isfinite(arr)
        vals = arr.tolist()
        if bad.any():
            for i in np.flatnonzero(bad):
                vals[i] = None
        return vals
    if pd.api.types.is_integer_dtype(dt):
        if s.hasnans:
            return [None if pd.isna(v) else int(v) for v in s]
        return s.to_numpy().tolist()
    if pd.api.types.is_datetime64_any_dtype(dt):
        return [None if pd.isna(v) else _iso(v.to_pydatetime()) for v in s]
    if pd.api.types.is_string_dtype(dt) and dt != object:
        return [None if pd.isna(v) else str(v) for v in s]
    return [_json_scalar(v) for v in s]


def to_geojson_text(gdf: gpd.GeoDataFrame, *, decimals: int = GEOJSON_DECIMALS) -> str:
    """Return ``gdf`` as an RFC 7946 FeatureCollection string.

    Parameters
    ----------
    gdf
        Any GeoDataFrame with a CRS (reprojected to EPSG:4326) or already in EPSG:4326.
    decimals
        Decimal places kept in the coordinates (degrees); 7 is about 1 cm.

    Returns
    -------
    str
        UTF-8 JSON text (non-ASCII kept). Each feature has ``id`` = the frame's index (as a
        string), the non-geometry columns as ``properties`` (tuples/lists as arrays, NaN as
        null, dates as ISO strings) and the geometry with counter-clockwise exterior rings.
        A frame whose index is named and not a column also gets the index as a property.
    """
    if not isinstance(gdf, gpd.GeoDataFrame):
        msg = f"'gdf' should be a GeoDataFrame, got {type(gdf).__name__}"
        raise TypeError(msg)
    g = to_wgs84(gdf) if gdf.crs is not None else gdf
    geom_col = g.geometry.name
    geoms = _prepare_geometry(g.geometry.to_numpy(), decimals=decimals)
    geom_json = shapely.to_geojson(geoms)

    prop_cols = [c for c in g.columns if c != geom_col and not isinstance(g[c].dtype, gpd.array.GeometryDtype)]
    columns: list[tuple[str, list[Any]]] = []
    idx_name = g.index.name
    if idx_name is not None and idx_name not in prop_cols and not isinstance(g.index, pd.RangeIndex):
        columns.append((str(idx_name), _column_values(g.index.to_series())))
    for c in prop_cols:
        columns.append((str(c), _column_values(g[c])))
    names = [c for c, _ in columns]
    ids = [json.dumps(_json_scalar(i) if not isinstance(i, (int, np.integer)) else int(i)) for i in g.index]

    dumps = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode
    rows = zip(*(vals for _, vals in columns)) if columns else ([] for _ in range(len(g)))
    parts = []
    for fid, props, gj in zip(ids, rows, geom_json):
        p = dumps(dict(zip(names, props)))
        parts.append(f'{{"type":"Feature","id":{fid},"properties":{p},"geometry":{gj if gj is not None else "null"}}}')
    return '{"type":"FeatureCollection","features":[' + ",\n".join(parts) + "]}\n"


def to_geojson_dict(gdf: gpd.GeoDataFrame, *, decimals: int = GEOJSON_DECIMALS) -> dict[str, Any]:
    """Return ``gdf`` as an RFC 7946 FeatureCollection dict (see :func:`to_geojson_text`)."""
    return json.loads(to_geojson_text(gdf, decimals=decimals))


def _atomic_write(path: Path, write: Callable[[Path], None], *, suffix: str) -> Path:
    """Call ``write(tmp_path)`` on a temporary file next to ``path``, then move it into place.

    The old file (if any) stays untouched when ``write`` raises.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        if suffix == ".gpkg":
            tmp_path.unlink()  # the GPKG driver wants to create the file itself
        write(tmp_path)
        os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _gpkg_frame(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Copy of ``gdf`` in EPSG:4326 with tuple/list columns joined with ';' (GPKG has no arrays)."""
    g = to_wgs84(gdf) if gdf.crs is not None else gdf.copy()
    g = g.copy()
    geom_col = g.geometry.name
    g[geom_col] = _prepare_geometry(g.geometry.to_numpy())
    for c in g.columns:
        if c == geom_col or g[c].dtype != object:
            continue
        vals = g[c].tolist()
        if any(isinstance(v, (tuple, list, np.ndarray, dict)) for v in vals):
            g[c] = [_join(v) for v in vals]
    if g.index.name is not None and g.index.name not in g.columns and not isinstance(g.index, pd.RangeIndex):
        g = g.reset_index()
    else:
        g = g.reset_index(drop=True)
    return g


def _join(v: Any) -> Any:
    if isinstance(v, dict):
        return json.dumps(_json_scalar(v), ensure_ascii=False)
    if isinstance(v, (tuple, list, np.ndarray)):
        return ";".join(_fmt_item(x) for x in v)
    return v


def _fmt_item(x: Any) -> str:
    if isinstance(x, (float, np.floating)):
        f = float(x)
        return str(int(f)) if f.is_integer() else repr(f)
    return str(x)


def write_layer(gdf: gpd.GeoDataFrame, path: str | os.PathLike[str], *, layer: str | None = None) -> Path:
    """Write ``gdf`` atomically as RFC 7946 GeoJSON, or as GeoPackage when ``path`` ends in .gpkg.

    Parameters
    ----------
    gdf
        The frame to write; reprojected to EPSG:4326 (its CRS must be set, or it must already
        be in lon/lat).
    path
        Destination. ``.gpkg`` -> GeoPackage (one layer; tuple columns such as
        ``direction_deg`` joined with ';'); anything else -> GeoJSON FeatureCollection with
        coordinates rounded to 7 decimals and counter-clockwise exterior rings.
    layer
        GeoPackage layer name (default: the file stem). Ignored for GeoJSON.

    Returns
    -------
    Path
        ``path``. The file is replaced only once fully written: a failing write leaves any
        previous file intact.
    """
    if not isinstance(gdf, gpd.GeoDataFrame):
        msg = f"'gdf' should be a GeoDataFrame, got {type(gdf).__name__}"
        raise TypeError(msg)
    path = Path(path)
    if path.suffix.lower() == ".gpkg":
        frame = _gpkg_frame(gdf)
        name = layer or path.stem

        def _write_gpkg(tmp: Path) -> None:
            frame.to_file(tmp, driver="GPKG", layer=name, engine="pyogrio")

        return _atomic_write(path, _write_gpkg, suffix=".gpkg")

    text = to_geojson_text(gdf)

    def _write_json(tmp: Path) -> None:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())

    return _atomic_write(path, _write_json, suffix=".tmp")
