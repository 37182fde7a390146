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
from collections.abc import Callable, Iterable, Mapping
from json.encoder import encode_basestring
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer

from .._errors import GeoAnttError, Problem, ValidationError
from .._geometry import polygonal_part
from .._threads import WORKERS, balanced_bounds, map_chunks, threaded
from ..crs import WGS84, to_wgs84
from ..schema import UNIT_LEVELS
from ..text import fold, fold_key, nfc
from ._readers import PARQUET_SUFFIXES, _as_code, _as_flag, _as_text, _object_array, _read_vector, _settle_crs, _warn
from .geojson import geometry_texts, round_coordinates
from .models import load_models, read_models

__all__ = [
    "GEOJSON_DECIMALS",
    "REFORM_DATE",
    "json_value",
    "load_models",
    "read_layer",
    "read_models",
    "read_units",
    "write_partitioned",
    "to_geojson_dict",
    "to_geojson_text",
    "write_atomic",
    "write_layer",
]

# RFC 7946 recommends 6-7 decimals: 1e-7 degree is about 1 cm.
GEOJSON_DECIMALS = 7


# --------------------------------------------------------------------------------------------
# writing


def _prepare_geometry(geoms: np.ndarray, *, decimals: int = GEOJSON_DECIMALS) -> np.ndarray:
    """Round coordinates (vectorised, never breaking validity) and orient polygon exteriors
    counter-clockwise (:func:`geo_antt.io.geojson.round_coordinates`), over the cores.
    """
    return threaded(lambda g: round_coordinates(g, decimals), np.asarray(geoms, dtype=object), min_chunk=64)


def _geometry_json(gdf: gpd.GeoDataFrame, *, decimals: int, make_valid: bool) -> np.ndarray:
    """GeoJSON text of each geometry of ``gdf`` in EPSG:4326, rounded and oriented (None for
    a missing geometry).

    Worker threads reproject, round (checking that rounding breaks no geometry), repair
    (``make_valid``), orient and write the geometries chunk by chunk: GEOS, PROJ and numpy
    release the GIL, and the text itself is written from the coordinate arrays
    (:func:`geo_antt.io.geojson.geometry_texts`, a few times faster than GEOS's writer).
    """
    geoms = np.asarray(gdf.geometry.to_numpy(), dtype=object)
    reproject = gdf.crs is not None and not CRS(gdf.crs).equals(WGS84)
    if len(geoms) == 0 or shapely.has_z(geoms).any():  # z coordinates: as to_crs does it
        g = to_wgs84(gdf, make_valid=make_valid) if gdf.crs is not None else gdf
        return geometry_texts(_prepare_geometry(g.geometry.to_numpy(), decimals=decimals))

    def prepare(a: int, b: int) -> np.ndarray:
        # one pass over the coordinates: projected (PROJ), then rounded (numpy); the unrounded
        # geometries are only built for the few that rounding leaves invalid
        chunk = geoms[a:b]
        coords = shapely.get_coordinates(chunk)
        if reproject:
            x, y = Transformer.from_crs(CRS(gdf.crs), WGS84, always_xy=True).transform(coords[:, 0], coords[:, 1])
            coords = np.column_stack([x, y])
        return geometry_texts(round_coordinates(chunk, decimals, coords=coords, repair=make_valid))

    bounds = balanced_bounds(shapely.get_num_coordinates(geoms), n_chunks=4 * WORKERS, min_chunk=64)
    return np.concatenate(map_chunks(prepare, bounds))


def json_value(v: Any) -> Any:
    """One value as something :func:`json.dumps` accepts (RFC 7946 properties, JSON API):
    numpy scalars as Python numbers, NaN/inf/NA as null, dates as ISO text, tuples as lists.
    """
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
        return [json_value(x) for x in v]
    if isinstance(v, pd.Timestamp):
        return None if pd.isna(v) else _iso(v.to_pydatetime())
    if isinstance(v, (_dt.datetime, _dt.date, _dt.time)):
        return _iso(v)
    if isinstance(v, dict):
        return {str(k): json_value(x) for k, x in v.items()}
    if v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, shapely.Geometry):
        return v.wkt
    return str(v)


def _iso(v: _dt.date | _dt.datetime | _dt.time) -> str:
    if isinstance(v, _dt.datetime) and v.tzinfo is None and v.time() == _dt.time(0):
        return v.date().isoformat()
    return v.isoformat()


_PLAIN_TYPES = frozenset({str, type(None), bool, int, float, tuple, list})


def _json_ready(s: pd.Series) -> Any:
    """A column that ``DataFrame.to_json`` encodes as RFC 7946 wants (NaN/inf -> null, dates
    -> ISO strings, tuples -> arrays): the column itself when it already is, else converted.
    """
    dt = s.dtype
    if pd.api.types.is_float_dtype(dt):
        arr = s.to_numpy(dtype=float, na_value=np.nan)
        return np.where(np.isfinite(arr), arr, np.nan)
    if (
        pd.api.types.is_bool_dtype(dt)
        or pd.api.types.is_integer_dtype(dt)
        or (pd.api.types.is_string_dtype(dt) and not pd.api.types.is_object_dtype(dt))
    ):
        return s.to_numpy(dtype=object, na_value=None) if s.hasnans else s.to_numpy()
    if pd.api.types.is_object_dtype(dt):
        vals = s.tolist()
        kinds = set(map(type, vals))
        if (
            kinds <= _PLAIN_TYPES
            and float not in kinds
            and not any(
                isinstance(v, (tuple, list)) and any(type(x) not in (int, float, str, bool) or x != x for x in v)
                for v in (vals if tuple in kinds or list in kinds else ())
            )
        ):
            return np.array(vals + [None], dtype=object)[:-1]
    return np.array(_column_values(s) + [None], dtype=object)[:-1]


def _column_values(s: pd.Series) -> list[Any]:
    """A column as JSON-ready Python values; vectorised for the common dtypes."""
    dt = s.dtype
    if pd.api.types.is_bool_dtype(dt) and not isinstance(dt, pd.CategoricalDtype):
        if pd.api.types.is_object_dtype(dt):
            return [json_value(v) for v in s]
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
    if pd.api.types.is_string_dtype(dt) and not pd.api.types.is_object_dtype(dt):
        return [None if pd.isna(v) else str(v) for v in s]
    return [json_value(v) for v in s]


def to_geojson_text(
    gdf: gpd.GeoDataFrame,
    *,
    decimals: int = GEOJSON_DECIMALS,
    make_valid: bool = False,
    name: str | None = None,
    ids: bool = True,
    diffable: bool = False,
) -> str:
    """Return ``gdf`` as an RFC 7946 FeatureCollection string.

    Parameters
    ----------
    gdf
        Any GeoDataFrame with a CRS (reprojected to EPSG:4326) or already in EPSG:4326.
    decimals
        Decimal places kept in the coordinates (degrees); 7 is about 1 cm. Rounding never
        makes a valid geometry invalid: one it would break is snap-rounded to the same grid
        instead (see :func:`geo_antt.io.geojson.round_coordinates`).
    make_valid
        Also repair (``shapely.make_valid``) the geometries that are invalid in EPSG:4326 and
        still invalid once rounded; without it they are written as they are.
    name
        A ``name`` member of the FeatureCollection (the layer name, as GDAL writes it).
    ids
        Give each feature an ``id`` (the frame's index); False: no ``id`` members.
    diffable
        For files kept under version control (the demo dataset): the header, each feature and
        the closing bracket on lines of their own, and the properties written by :mod:`json`
        (shortest floats, ``/`` not escaped), so that the same data are the same bytes and a
        change diffs feature by feature. Slower (one :func:`json.dumps` per feature).

    Returns
    -------
    str
        UTF-8 JSON text (non-ASCII kept). Each feature has ``id`` = the frame's index (as a
        string), the non-geometry columns as ``properties`` (tuples/lists as arrays, NaN as
        null, dates as ISO strings) and the geometry with counter-clockwise exterior rings.
        A frame whose index is named and not a column also gets the index as a property.
        Features are one per line.
    """
    if not isinstance(gdf, gpd.GeoDataFrame):
        msg = f"'gdf' should be a GeoDataFrame, got {type(gdf).__name__}"
        raise TypeError(msg)
    g = gdf  # the properties do not depend on the CRS
    geom_col = g.geometry.name
    geom_json = _geometry_json(g, decimals=decimals, make_valid=make_valid)

    prop_cols = [c for c in g.columns if c != geom_col and not isinstance(g[c].dtype, gpd.array.GeometryDtype)]
    idx_name = g.index.name
    index_prop = idx_name is not None and idx_name not in prop_cols and not isinstance(g.index, pd.RangeIndex)
    if diffable:
        keys = [str(c) for c in prop_cols]
        columns = [g[c].tolist() for c in prop_cols]
        if index_prop:
            keys.insert(0, str(idx_name))
            columns.insert(0, g.index.tolist())
        prop_json = [
            json.dumps(dict(zip(keys, map(json_value, row))), ensure_ascii=False, separators=(",", ":"))
            for row in zip(*columns)
        ] or ["{}"] * len(g)
    else:
        props = pd.DataFrame(index=pd.RangeIndex(len(g)))
        if index_prop:
            props[str(idx_name)] = _json_ready(g.index.to_series())
        for c in prop_cols:
            props[str(c)] = _json_ready(g[c])
        if len(props.columns):
            # pandas' C encoder, one record per line (newlines inside strings are escaped)
            text = props.to_json(orient="records", lines=True, force_ascii=False, double_precision=15)
            prop_json = text.split("\n")[: len(g)]
        else:
            prop_json = ["{}"] * len(g)
    if not ids:
        heads = ['{"type":"Feature",'] * len(g)
    elif isinstance(g.index, pd.RangeIndex):
        heads = [f'{{"type":"Feature","id":{i},' for i in g.index]
    else:
        heads = [
            '{"type":"Feature","id":'
            + (encode_basestring(i) if type(i) is str else json.dumps(json_value(i), ensure_ascii=False))
            + ","
            for i in g.index
        ]
    parts = [
        f'{head}"properties":{p},"geometry":{gj if gj is not None else "null"}}}'
        for head, p, gj in zip(heads, prop_json, geom_json)
    ]
    collection = '{"type":"FeatureCollection",'
    if name is not None:
        collection += '"name":' + json.dumps(name, ensure_ascii=False) + ","
    if diffable:
        return collection + '"features":[\n' + ",\n".join(parts) + "\n]}\n"
    return collection + '"features":[' + ",\n".join(parts) + "]}\n"


def to_geojson_dict(gdf: gpd.GeoDataFrame, *, decimals: int = GEOJSON_DECIMALS) -> dict[str, Any]:
    """Return ``gdf`` as an RFC 7946 FeatureCollection dict (see :func:`to_geojson_text`)."""
    return json.loads(to_geojson_text(gdf, decimals=decimals))


def _atomic_write(path: Path, write: Callable[[Path], object], *, suffix: str) -> Path:
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


def write_partitioned(
    parts: Mapping[str, gpd.GeoDataFrame], directory: str | os.PathLike[str], *, make_valid: bool = False
) -> Path:
    """Write a partitioned layer as a directory of GeoParquet files, ``<key>.parquet`` each
    (EPSG:4326; read back whole with ``geopandas.read_parquet(directory)`` or
    ``dask_geopandas.read_parquet`` (one partition per file; dask-geopandas is in the ``test``
    extra), or file by file).

    Parameters
    ----------
    parts
        Frames by partition key (letters, digits, ``-`` and ``_``); every frame is written, an
        empty one too (so the directory names every partition).
    directory
        Destination directory. It is replaced only once every file is written: a new directory
        next to it, then renamed; an existing directory is replaced only when it holds nothing
        but ``.parquet`` files (a previous output).
    make_valid
        As for :func:`write_layer`.

    Raises
    ------
    GeoAnttError
        ``directory`` is a file, or a directory holding other files; a key that is no file name.
    """
    import shutil

    out = Path(directory)
    if out.exists() and not out.is_dir():
        raise GeoAnttError(
            f"{out}: exists and is not a directory; a partitioned output is a directory of .parquet files"
        )
    if out.is_dir() and any(not (p.is_file() and p.suffix == ".parquet") for p in out.iterdir()):
        raise GeoAnttError(f"{out}: the directory holds other files than .parquet; give a new or empty directory")
    for key in parts:
        if not key or not all(ch.isalnum() or ch in "-_" for ch in key) or key.startswith("-"):
            raise GeoAnttError(f"partition key {key!r} is not a file name (letters, digits, - and _)")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for key, frame in parts.items():
            _gpkg_frame(frame, make_valid=make_valid).to_parquet(tmp / f"{key}.parquet", index=False)
        os.chmod(tmp, 0o777 & ~_umask())
        if out.is_dir():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
            os.replace(out, old / out.name)
            os.replace(tmp, out)
            shutil.rmtree(old)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def read_layer(path: str | os.PathLike[str], *, layer: str | None = None, crs: object = None) -> gpd.GeoDataFrame:
    """Read any vector layer (a demand layer, candidate sites...) as it is, in EPSG:4326.

    Parameters
    ----------
    path
        GeoJSON, Shapefile (encoding from the .cpg, else detected), GeoPackage (first layer
        unless ``layer``).
    crs
        CRS to assume when the file names none (coordinates in Vietnam's lon/lat box are taken
        as EPSG:4326 with a warning; anything else without a CRS is an error).
    """
    p = Path(path)
    gdf = _read_vector(p, encoding=None, layer=layer)
    return to_wgs84(_settle_crs(gdf, crs=crs, path=p))


def write_atomic(path: str | os.PathLike[str], data: str | bytes) -> Path:
    """Write ``data`` (text as UTF-8) to ``path`` atomically: a temporary file next to it,
    then :func:`os.replace`; the old file stays intact when anything fails.
    """
    payload = data.encode("utf-8") if isinstance(data, str) else data
    return _atomic_write(Path(path), lambda tmp: tmp.write_bytes(payload), suffix=".tmp")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _gpkg_frame(gdf: gpd.GeoDataFrame, *, make_valid: bool = False) -> gpd.GeoDataFrame:
    """Copy of ``gdf`` in EPSG:4326 with tuple/list columns joined with ';' (GPKG has no arrays)."""
    g = to_wgs84(gdf, make_valid=make_valid) if gdf.crs is not None else gdf.copy()
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
        return json.dumps(json_value(v), ensure_ascii=False)
    if isinstance(v, (tuple, list, np.ndarray)):
        return ";".join(_fmt_item(x) for x in v)
    return v


def _fmt_item(x: Any) -> str:
    if isinstance(x, (float, np.floating)):
        f = float(x)
        return str(int(f)) if f.is_integer() else repr(f)
    return str(x)


def write_layer(
    gdf: gpd.GeoDataFrame, path: str | os.PathLike[str], *, layer: str | None = None, make_valid: bool = False
) -> Path:
    """Write ``gdf`` atomically as RFC 7946 GeoJSON, as GeoPackage when ``path`` ends in .gpkg,
    as GeoParquet (pyarrow, geometry as WKB, EPSG:4326) when it ends in .parquet.

    Parameters
    ----------
    gdf
        The frame to write; reprojected to EPSG:4326 (its CRS must be set, or it must already
        be in lon/lat).
    path
        Destination. ``.gpkg`` -> GeoPackage (one layer; tuple columns such as
        ``direction_deg`` joined with ';'); anything else -> GeoJSON FeatureCollection with
        coordinates rounded to 7 decimals (never breaking a valid geometry) and
        counter-clockwise exterior rings.
    layer
        GeoPackage layer name (default: the file stem). Ignored for GeoJSON.
    make_valid
        Also repair the geometries that are invalid in EPSG:4326 (``shapely.make_valid``), as
        ``crs.to_wgs84(gdf, make_valid=True)`` does; metric gaps and footprints are written so.

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
    if path.suffix.lower() in PARQUET_SUFFIXES:
        pq = _gpkg_frame(gdf, make_valid=make_valid)
        return _atomic_write(path, lambda tmp: pq.to_parquet(tmp, index=False), suffix=".tmp")
    if path.suffix.lower() == ".gpkg":
        frame = _gpkg_frame(gdf, make_valid=make_valid)
        name = layer or path.stem

        def _write_gpkg(tmp: Path) -> None:
            frame.to_file(tmp, driver="GPKG", layer=name, engine="pyogrio")

        return _atomic_write(path, _write_gpkg, suffix=".gpkg")

    text = to_geojson_text(gdf, make_valid=make_valid)

    def _write_json(tmp: Path) -> None:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())

    return _atomic_write(path, _write_json, suffix=".tmp")


# --------------------------------------------------------------------------------------------
# units


# Default column names per level (matched with fold_key, first hit wins): code, name, parent.
_UNIT_DEFAULTS: tuple[tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...]], ...] = (
    (
        "hamlet",
        ("hamlet_code", "hamlet_id", "ma_thon", "ma_ap", "ma_ban", "ma_to_dan_pho", "ma_thon_ap", "ma_khu_dan_cu"),
        (
            "hamlet_full_name",
            "hamlet_name",
            "hamlet",
            "ten_thon",
            "ten_ap",
            "ten_ban",
            "ten_to_dan_pho",
            "ten_thon_ap",
            "thon",
            "ap",
            "ten_khu_dan_cu",
        ),
        ("commune_code_2025", "commune_code_gso", "commune_code", "commune_id", "ma_xa", "parent_code"),
    ),
    (
        "commune",
        (
            "commune_code_2025",
            "commune_code_gso",
            "commune_code",
            "commune_id",
            "ma_xa",
            "ma_phuong_xa",
            "ma_xa_phuong",
        ),
        (
            "commune_2025",
            "commune_full_name",
            "commune",
            "commune_name",
            "ten_xa",
            "ten_phuong_xa",
            "ten_xa_phuong",
            "xa",
        ),
        (
            "district_code_gso",
            "district_code",
            "district_id",
            "ma_huyen",
            "province_code_2025",
            "province_code",
            "province_id",
            "ma_tinh",
            "parent_code",
        ),
    ),
    (
        "district",
        ("district_code_gso", "district_code", "district_id", "ma_huyen", "ma_quan_huyen"),
        ("district_full_name", "district", "district_name", "ten_huyen", "ten_quan_huyen", "huyen"),
        ("province_code", "province_id", "ma_tinh", "parent_code"),
    ),
    (
        "province",
        ("province_code_2025", "province_code", "province_id", "ma_tinh", "ma_tinh_thanh"),
        ("province_full_name", "province_2025", "province", "province_name", "ten_tinh", "ten_tinh_thanh", "tinh"),
        ("parent_code",),
    ),
)
# Generic names: the level comes from ``level=``, a ``level`` column, or the code column's name.
_GENERIC_CODE = ("code", "ma", "ma_dvhc", "ma_don_vi", "id", "unit_code", "gid")
_GENERIC_NAME = ("name", "ten", "ten_dvhc", "ten_don_vi", "unit_name", "full_name")
_GENERIC_PARENT = ("parent_code", "parent", "ma_cha", "ma_don_vi_cha", "parent_id")
_LEVEL_WORDS = {
    "hamlet": ("hamlet", "thon", "ap", "ban", "to", "khudancu", "kdc"),
    "commune": ("commune", "xa", "phuong", "ward"),
    "district": ("district", "huyen", "quan"),
    "province": ("province", "tinh"),
}
_LEVEL_ALIASES = {
    "hamlet": ("hamlet", "thon", "ap", "ban", "to dan pho", "khu dan cu", "thon ap", "village"),
    "commune": ("commune", "xa", "phuong", "thi tran", "ward", "xa phuong"),
    "district": ("district", "huyen", "quan", "thi xa", "quan huyen"),
    "province": ("province", "tinh", "thanh pho", "tinh thanh"),
}


def _resolve_level(value: object) -> str | None:
    key = fold(None if value is None else str(value))
    for level, aliases in _LEVEL_ALIASES.items():
        if key == level or key in aliases:
            return level
    return None


def _find_column(keys: dict[str, str], candidates: Iterable[str]) -> str | None:
    for cand in candidates:
        col = keys.get(fold_key(cand))
        if col is not None:
            return col
    return None


def _level_of_column(name: str) -> str | None:
    """Guess the level from a code column's name ("MA_XA" -> commune)."""
    words = fold(name.replace("_", " ").replace("-", " ")).split()
    for level, hints in _LEVEL_WORDS.items():
        if any(w in hints for w in words):
            return level
    return None


def _unit_mapping(
    columns_in_file: Iterable[str], *, columns: dict[str, str] | None, level: str | None, path: Path
) -> tuple[str, str | None, str | None, str | None, str | None]:
    """Return (code_col, name_col, parent_col, level_col, level) for a boundary file."""
    cols = [str(c) for c in columns_in_file]
    keys: dict[str, str] = {}
    for c in cols:
        keys.setdefault(fold_key(c), c)
    user = dict(columns or {})
    unknown = set(user) - {"code", "name", "parent_code", "level"}
    if unknown:
        raise GeoAnttError(f"columns=: unknown key(s) {sorted(unknown)}; use code, name, parent_code, level")
    chosen: dict[str, str | None] = {}
    for key, want in user.items():
        if want is None:
            chosen[key] = None
            continue
        col = keys.get(fold_key(want))
        if col is None:
            raise GeoAnttError(f"{path}: column {want!r} (for {key}) not found; the file has {cols}")
        chosen[key] = col
    lvl = level
    if lvl is not None and lvl not in UNIT_LEVELS:
        raise GeoAnttError(f"level must be one of {UNIT_LEVELS}, got {lvl!r}")

    # defaults: the most specific level whose code column is present (or the requested level)
    table = _UNIT_DEFAULTS if lvl is None else tuple(t for t in _UNIT_DEFAULTS if t[0] == lvl)
    code_col = chosen.get("code")
    name_col = chosen.get("name")
    parent_col = chosen.get("parent_code")
    level_col = chosen.get("level")
    if "level" not in chosen:
        level_col = _find_column(keys, ("level", "cap", "cap_hanh_chinh"))
    matched_level: str | None = None
    own = keys.get("code"), keys.get("level")
    if not user and lvl is None and own[0] and own[1]:
        # geo-antt's own layout (UNIT_COLUMNS): code, name, level, parent_code
        return own[0], keys.get("name"), keys.get("parentcode"), own[1], None
    if "code" not in chosen:
        for lv, codes, _names, _parents in table:
            found = _find_column(keys, codes)
            if found is not None:
                code_col, matched_level = found, lv
                break
        if code_col is None:
            code_col = _find_column(keys, _GENERIC_CODE)
    if code_col is None:
        raise GeoAnttError(
            f"{path}: no unit code column found among {cols}; name it with columns={{'code': ...}} "
            "(e.g. commune_code_gso, ma_xa, code)"
        )
    if lvl is None:
        lvl = matched_level or _level_of_column(code_col)
    spec = next((t for t in _UNIT_DEFAULTS if t[0] == lvl), None)
    if "name" not in chosen:
        name_col = _find_column(keys, (spec[2] if spec else ()) + _GENERIC_NAME)
    if "parent_code" not in chosen:
        parent_col = _find_column(keys, (spec[3] if spec else ()) + _GENERIC_PARENT)
        if parent_col == code_col:
            parent_col = None
    if lvl is None and level_col is None:
        raise GeoAnttError(
            f"{path}: cannot tell the level of the units from column {code_col!r}; "
            f"give level= / --level ({', '.join(UNIT_LEVELS)})"
        )
    return code_col, name_col, parent_col, level_col, lvl


_POLYGONAL = ("Polygon", "MultiPolygon")


_polygonal_part = polygonal_part  # the readers' name for it


def read_units(
    path: str | os.PathLike[str],
    *,
    level: str | None = None,
    columns: dict[str, str] | None = None,
    crs: object = None,
    encoding: str | None = None,
    layer: str | None = None,
) -> gpd.GeoDataFrame:
    """Read administrative units (province, district, commune or hamlet polygons) from a file.

    Parameters
    ----------
    path
        GeoJSON, Shapefile (.shp; the .cpg is honoured, and without one the text encoding is
        detected — UTF-8 or Windows-1258 — with a warning saying which) or GeoPackage.
    level
        ``province``, ``district``, ``commune`` or ``hamlet``; None: inferred from the code
        column (``commune_code_gso`` -> commune, ``ma_huyen`` -> district...) or from a
        ``level`` column.
    columns
        Where ``code``, ``name``, ``parent_code`` (and optionally ``level``) come from, e.g.
        ``{"code": "MA_XA", "name": "TEN_XA"}``; header names are matched ignoring case and
        diacritics. Unnamed ones use defaults that recognise the GSO-coded files of
        ``../shared/data`` (``commune_code_gso``/``commune``/``district_code_gso``,
        ``commune_code_2025``/``commune_2025``, ``commune_code``/``commune_full_name``/
        ``province_code``...) and common Vietnamese names (``ma_xa``, ``ten_xa``, ``ma``, ``ten``).
    crs
        The CRS of the coordinates ("EPSG:3405", 9210...) when the file does not say (no .prj,
        or a GeoJSON whose coordinates are not degrees); a file's own CRS wins. A file
        without a CRS whose coordinates lie in Vietnam's lon/lat box is read as EPSG:4326 with
        a warning; otherwise :class:`CRSError` asks for it.
    encoding
        Text encoding of a Shapefile's .dbf (overrides the .cpg and the detection).
    layer
        GeoPackage layer (default: the first one).

    Returns
    -------
    GeoDataFrame
        EPSG:4326, index = ``code`` (str), columns ``UNIT_COLUMNS`` + geometry + every other
        property of the file. Names are NFC. Invalid polygons are repaired with
        ``shapely.make_valid`` (a warning names the units); multipolygons and islands are kept.

    Raises
    ------
    ValidationError
        Listing every problem (file, row = 1-based feature number, field): missing or
        duplicate code, empty or non-polygon geometry, unknown level.
    CRSError
        No usable CRS, or latitude/longitude swapped.
    """
    return _read_unit_frame(path, level=level, columns=columns, crs=crs, encoding=encoding, layer=layer, points=False)


def _read_unit_frame(
    path: str | os.PathLike[str],
    *,
    level: str | None,
    columns: dict[str, str] | None,
    crs: object,
    encoding: str | None,
    layer: str | None,
    points: bool | None,
) -> gpd.GeoDataFrame:
    """:func:`read_units` for polygons (``points=False``), points (True) or whichever the file
    holds (None: points when every geometry is a point).
    """
    path = Path(path)
    raw = _read_vector(path, encoding=encoding, layer=layer)
    if points is None:
        types = set(raw.geometry[~(raw.geometry.isna() | raw.geometry.is_empty)].geom_type)
        points = bool(types) and types <= {"Point", "MultiPoint"}
    code_col, name_col, parent_col, level_col, lvl = _unit_mapping(
        [c for c in raw.columns if c != raw.geometry.name], columns=columns, level=level, path=path
    )
    raw = _settle_crs(raw, crs=crs, path=path)
    fname = str(path)
    problems: list[Problem] = []
    n = len(raw)
    codes = [_as_code(v) for v in raw[code_col]]
    names = [_as_text(v) for v in raw[name_col]] if name_col else [None] * n
    parents = [_as_code(v) for v in raw[parent_col]] if parent_col else [None] * n
    if level_col is not None and (level is None or "level" in (columns or {})):
        levels = []
        for i, v in enumerate(raw[level_col]):
            lv = _resolve_level(v)
            if lv is None and lvl is not None and _as_text(v) is None:
                lv = lvl
            if lv is None:
                problems.append(
                    Problem(
                        fname, i + 1, str(level_col), _as_text(v), f"unknown level; use one of {', '.join(UNIT_LEVELS)}"
                    )
                )
            levels.append(lv)
    else:
        levels = [lvl] * n

    seen: dict[str, int] = {}
    for i, c in enumerate(codes):
        if c is None:
            problems.append(Problem(fname, i + 1, code_col, None, "missing unit code"))
            continue
        if c in seen:
            problems.append(Problem(fname, i + 1, code_col, c, f"duplicate unit code (first at row {seen[c]})"))
        else:
            seen[c] = i + 1
    unnamed = [c for c, nm in zip(codes, names) if nm is None and c is not None]
    if unnamed:
        what = f"no name column found ({name_col or 'none'})" if name_col is None else f"empty '{name_col}'"
        _warn(
            f"{path}: {len(unnamed)} unit(s) without a name ({what}); their code is used as name: {', '.join(unnamed[:10])}{'...' if len(unnamed) > 10 else ''}"
        )
        names = [names[i] if names[i] is not None else codes[i] for i in range(n)]

    geoms = raw.geometry.to_numpy().copy()
    repaired: list[str] = []
    for i, g in enumerate(geoms):
        label = codes[i] or f"row {i + 1}"
        if g is None or g.is_empty:
            problems.append(Problem(fname, i + 1, "geometry", None, f"unit {label}: empty geometry"))
            continue
        if points:
            if g.geom_type == "MultiPoint" and shapely.get_num_geometries(g) == 1:
                geoms[i] = shapely.get_geometry(g, 0)
            elif g.geom_type != "Point":
                problems.append(
                    Problem(
                        fname,
                        i + 1,
                        "geometry",
                        g.geom_type,
                        f"unit {label}: geometry must be a Point (a file of unit centres)",
                    )
                )
            continue
        if g.geom_type not in _POLYGONAL and g.geom_type != "GeometryCollection":
            problems.append(
                Problem(
                    fname, i + 1, "geometry", g.geom_type, f"unit {label}: geometry must be a Polygon or MultiPolygon"
                )
            )
            continue
        if g.geom_type == "GeometryCollection" or not g.is_valid:
            fixed = _polygonal_part(shapely.make_valid(g)) if not g.is_valid else _polygonal_part(g)
            if fixed is None:
                problems.append(
                    Problem(fname, i + 1, "geometry", g.geom_type, f"unit {label}: no polygon left after repair")
                )
                continue
            if not g.is_valid:
                repaired.append(f"{label} ({shapely.is_valid_reason(g)})")
            geoms[i] = fixed
    if problems:
        raise ValidationError(problems)
    if repaired:
        _warn(
            f"{path}: repaired {len(repaired)} invalid polygon(s) with make_valid: {'; '.join(repaired[:20])}{'...' if len(repaired) > 20 else ''}"
        )

    extra = [c for c in raw.columns if c not in (code_col, name_col, parent_col, level_col, raw.geometry.name)]
    if "id" in extra and code_col != "id" and [_as_code(v) for v in raw["id"]] == codes:
        extra.remove("id")  # the GeoJSON feature id written by write_layer: same as the code
    approx = [_as_flag(v) for v in raw["approximate"]] if "approximate" in raw.columns else [False] * n
    valid_from = (
        [_as_text(v) for v in raw["valid_from"]]
        if "valid_from" in raw.columns
        else [_default_valid_from(code_col, levels[i]) for i in range(n)]
    )
    valid_to = (
        [_as_text(v) for v in raw["valid_to"]]
        if "valid_to" in raw.columns
        else [_default_valid_to(code_col, levels[i]) for i in range(n)]
    )
    data: dict[str, Any] = {
        "code": codes,
        "name": names,
        "level": levels,
        "parent_code": parents,
        "approximate": approx,
        "valid_from": valid_from,
        "valid_to": valid_to,
    }
    for c in extra:
        if c in data:
            continue
        col = raw[c]
        if col.dtype == object or pd.api.types.is_string_dtype(col.dtype):
            col = col.map(lambda v: nfc(v) if isinstance(v, str) else v)
        data[c] = col.to_numpy()
    for c in ("code", "name", "level", "parent_code", "valid_from", "valid_to"):
        data[c] = _object_array(data[c])
    out = gpd.GeoDataFrame(data, geometry=geoms, crs=WGS84)
    out.index = pd.Index(codes, name="code")
    return out


# The 1 July 2025 reform ended districts and replaced the communes; codes named *_2025 are new.
REFORM_DATE = "2025-07-01"
_PRE_REFORM_END = "2025-06-30"


def _default_valid_from(code_col: str, level: str | None) -> str | None:
    return REFORM_DATE if "2025" in code_col else None


def _default_valid_to(code_col: str, level: str | None) -> str | None:
    return _PRE_REFORM_END if level == "district" else None
