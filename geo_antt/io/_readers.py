"""Shared helpers of the readers: vector files (encoding of Shapefiles, GeoPackage layers),
CRS settling (VN-2000, files without a CRS, swapped lon/lat), cell values.
"""

from __future__ import annotations

import codecs
import math
import warnings
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyogrio.errors
import shapely

from .._errors import CRSError, GeoAnttError
from ..crs import VIETNAM_BOUNDS, WGS84, parse_crs, to_wgs84
from ..i18n import msg
from ..text import nfc
from .cells import ParseError, is_blank, parse_bool

__all__: list[str] = []  # private helpers of geo_antt.io and its friends


def _warn(message: str) -> None:
    warnings.warn(message, UserWarning, stacklevel=3)


def _detect_dbf_encoding(dbf: Path) -> str | None:
    """Return ``"utf-8"`` or ``"cp1258"`` for the text of a .dbf, None when it is plain ASCII."""
    raw = dbf.read_bytes()
    if len(raw) < 32:
        return None
    header_len = int.from_bytes(raw[8:10], "little")
    data = raw[header_len:]
    # field names (header) count too: Vietnamese column names are common
    names = raw[32:header_len]
    blob = names + data
    if all(b < 0x80 for b in blob):
        return None
    try:
        blob.decode("utf-8")
    except UnicodeDecodeError:
        return "cp1258"
    return "utf-8"


def _sidecar(path: Path, suffix: str) -> Path | None:
    for cand in (path.with_suffix(suffix), path.with_suffix(suffix.upper())):
        if cand.exists():
            return cand
    return None


def _cpg_encoding(cpg: Path) -> str | None:
    """The Python codec named by a .cpg file ("UTF-8", "1258", "CP1258"...), None if unknown."""
    text = cpg.read_text(encoding="ascii", errors="ignore").strip()
    if not text:
        return None
    cand = f"cp{text}" if text.isdigit() else text
    if cand == "cp65001":
        cand = "utf-8"
    try:
        return codecs.lookup(cand).name
    except LookupError:
        return None


def _transcode(gdf: gpd.GeoDataFrame, codec: str) -> gpd.GeoDataFrame:
    """Decode a frame read as latin-1 (bytes kept 1:1) with ``codec``: headers and text cells."""

    def fix(v: Any) -> Any:
        return v.encode("latin-1").decode(codec) if isinstance(v, str) else v

    geom = gdf.geometry.name
    out = gdf.rename(columns={c: fix(c) for c in gdf.columns if c != geom})
    for c in out.columns:
        if c != geom and (out[c].dtype == object or pd.api.types.is_string_dtype(out[c].dtype)):
            out[c] = out[c].map(fix).astype(object)
    return out


# GeoParquet (geopandas' reader, pyarrow): a file, or a directory of them (a partitioned output).
PARQUET_SUFFIXES = (".parquet", ".geoparquet")


def _read_parquet(path: Path) -> gpd.GeoDataFrame:
    """A GeoParquet file or a directory of GeoParquet files, as one frame."""
    import pyarrow

    try:
        return gpd.read_parquet(path)
    except (ValueError, OSError, pyarrow.ArrowException) as exc:
        raise GeoAnttError(f"{path}: cannot read as GeoParquet ({exc})") from None


def _read_vector(path: Path, *, encoding: str | None, layer: str | None) -> gpd.GeoDataFrame:
    """Read a vector file with pyogrio (Shapefile encoding detected when there is no .cpg)."""
    if not path.exists():
        raise FileNotFoundError(2, "No such file or directory", str(path))
    kwargs: dict[str, Any] = {}
    suffix = path.suffix.lower()
    if suffix in PARQUET_SUFFIXES or path.is_dir():
        return _read_parquet(path)
    codec: str | None = None
    if encoding is not None:
        try:
            codec = codecs.lookup(encoding).name
        except LookupError:
            raise GeoAnttError(f"{path}: unknown text encoding {encoding!r}") from None
    if suffix == ".shp" and codec is None:
        cpg = _sidecar(path, ".cpg")
        if cpg is not None:
            codec = _cpg_encoding(cpg)
        else:
            dbf = _sidecar(path, ".dbf")
            if dbf is not None:
                codec = _detect_dbf_encoding(dbf)
                if codec is not None:
                    label = "UTF-8" if codec == "utf-8" else "Windows-1258 (cp1258)"
                    _warn(
                        f"{path}: no .cpg file; text decoded as {label} (detected). Add a .cpg or pass encoding= to choose."
                    )
    transcode = None
    if codec == "cp1258" and suffix == ".shp":
        # GDAL's iconv CP1258 decoder drops the last character of every string (it waits for a
        # combining tone mark that never comes): read the bytes as latin-1 and decode here.
        kwargs["encoding"] = "latin1"
        transcode = codec
    elif codec is not None:
        kwargs["encoding"] = codec
    try:
        if layer is None and suffix == ".gpkg":
            layers = pyogrio.list_layers(path)
            if len(layers) == 0:
                raise GeoAnttError(f"{path}: the GeoPackage has no layer")
            layer = str(layers[0][0])
        if layer is not None:
            kwargs["layer"] = layer
        gdf = pyogrio.read_dataframe(path, **kwargs)
    except pyogrio.errors.DataSourceError as exc:
        raise GeoAnttError(f"{path}: cannot read as a vector file ({exc})") from None
    except pyogrio.errors.DataLayerError as exc:
        raise GeoAnttError(f"{path}: {exc}") from None
    except UnicodeDecodeError as exc:
        raise GeoAnttError(f"{path}: text is not {codec} ({exc}); pass encoding= (e.g. cp1258 or utf-8)") from None
    if transcode is not None:
        try:
            gdf = _transcode(gdf, transcode)
        except UnicodeError as exc:
            raise GeoAnttError(f"{path}: text is not {transcode} ({exc}); pass encoding=") from None
    return gdf


def _looks_projected(bounds: tuple[float, ...]) -> bool:
    """Coordinates in metres (VN-2000, UTM: hundreds of thousands), not degrees (swapped
    lon/lat stays below 180).
    """
    return max(abs(float(v)) for v in bounds) > 1000.0


def _in_box(bounds: tuple[float, ...], box: tuple[float, float, float, float]) -> bool:
    minx, miny, maxx, maxy = bounds
    bx0, by0, bx1, by1 = box
    return bx0 <= minx and maxx <= bx1 and by0 <= miny and maxy <= by1


# VIETNAM_BOUNDS padded by a degree: the 2025 province of Khánh Hòa (Trường Sa) reaches
# 117.83°E and 7.18°N in the national data.
_NATIONAL_BOX = (VIETNAM_BOUNDS[0] - 1.0, VIETNAM_BOUNDS[1] - 1.0, VIETNAM_BOUNDS[2] + 1.0, VIETNAM_BOUNDS[3] + 1.0)
_SWAPPED_BOX = (VIETNAM_BOUNDS[1], VIETNAM_BOUNDS[0], VIETNAM_BOUNDS[3], VIETNAM_BOUNDS[2])


def _settle_crs(gdf: gpd.GeoDataFrame, *, crs: object, path: Path) -> gpd.GeoDataFrame:
    """Give ``gdf`` its CRS, reproject to EPSG:4326 and check that the result lies in Vietnam
    (swapped lon/lat and unlabelled projected data reported).

    The file's own CRS wins; ``crs`` is used when the file has none, or when it claims
    degrees (as every GeoJSON does) while its coordinates are not degrees (a GeoJSON exported
    in VN-2000 without a ``crs`` member).
    """
    geoms = gdf.geometry
    has_geom = ~(geoms.isna() | geoms.is_empty)
    bounds = tuple(float(v) for v in shapely.total_bounds(geoms[has_geom].to_numpy())) if has_geom.any() else None
    if crs is not None:
        claims_degrees_wrongly = (
            gdf.crs is not None and gdf.crs.is_geographic and bounds is not None and _looks_projected(bounds)
        )
        if gdf.crs is None or claims_degrees_wrongly:
            gdf = gdf.set_crs(parse_crs(crs, what=f"{path}: crs"), allow_override=True)
    if bounds is None:
        if gdf.crs is None:
            gdf = gdf.set_crs(WGS84)
        return to_wgs84(gdf)
    if gdf.crs is None:
        if _in_box(bounds, _NATIONAL_BOX):
            _warn(
                f"{path}: no CRS in the file; its coordinates are lon/lat in Vietnam, read as EPSG:4326 (WGS 84). Pass crs= / --input-crs to choose another."
            )
            return gdf.set_crs(WGS84)
        if _in_box(bounds, _SWAPPED_BOX):
            raise CRSError(
                f"{path}: no CRS in the file and the coordinates look like latitude/longitude swapped (x from {bounds[0]:.4f} to {bounds[2]:.4f} is a latitude in Vietnam): put longitude first"
            )
        raise CRSError(
            f"{path}: the file has no CRS and its coordinates (x {bounds[0]:.1f}..{bounds[2]:.1f}, y {bounds[1]:.1f}..{bounds[3]:.1f}) are not lon/lat in Vietnam; say which CRS they are in with --input-crs (e.g. EPSG:3405 for VN-2000 / UTM 48N, EPSG:9210 for a VN-2000 TM-3 zone)"
        )
    if gdf.crs.is_geographic:
        if _in_box(bounds, _SWAPPED_BOX) and not _in_box(bounds, _NATIONAL_BOX):
            raise CRSError(
                f"{path}: latitude and longitude are swapped (x from {bounds[0]:.4f} to {bounds[2]:.4f} is a latitude in Vietnam, y a longitude): put longitude first"
            )
        if not _in_box(bounds, (-180.0, -90.0, 180.0, 90.0)):
            raise CRSError(
                f"{path}: the file says {gdf.crs.to_string()} (degrees) but its coordinates (x {bounds[0]:.1f}..{bounds[2]:.1f}, y {bounds[1]:.1f}..{bounds[3]:.1f}) are not degrees; say which CRS they are in with --input-crs (e.g. EPSG:3405 for VN-2000 / UTM 48N)"
            )
    out = to_wgs84(gdf)
    ob = tuple(float(v) for v in shapely.total_bounds(out.geometry[has_geom].to_numpy()))
    if not all(math.isfinite(v) for v in ob):
        raise CRSError(
            f"{path}: coordinates cannot be projected from {gdf.crs.to_string()} to lon/lat; check the CRS (--input-crs)"
        )
    if not _in_box(ob, _NATIONAL_BOX):
        _warn(
            f"{path}: the data lies outside Vietnam (lon {ob[0]:.3f}..{ob[2]:.3f}, lat {ob[1]:.3f}..{ob[3]:.3f}) once read as {gdf.crs.to_string()}; check the CRS (--input-crs)"
        )
    return out


def _as_code(v: Any) -> str | None:
    """A code cell as a string: None/NaN/blank -> None; 28651.0 -> "28651"; text kept (NFC)."""
    if v is None:
        return None
    if isinstance(v, (float, np.floating)):
        if math.isnan(v):
            return None
        if float(v).is_integer():
            return str(int(v))
        return repr(float(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    s = nfc(str(v))
    return s or None


def _as_flag(v: Any) -> bool:
    """A yes/no cell as bool; blank or unreadable -> False."""
    if is_blank(v):
        return False
    try:
        return parse_bool(v)
    except ParseError:
        return False


def _as_text(v: Any) -> str | None:
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
        return None
    s = nfc(str(v))
    return s or None


def _check_lonlat(lon: float, lat: float) -> str | None:
    """Why (lon, lat) is not a plausible point in Vietnam, or None."""
    if _in_box((lon, lat, lon, lat), VIETNAM_BOUNDS):
        return None
    if _in_box((lat, lon, lat, lon), VIETNAM_BOUNDS):
        return msg(
            "latitude and longitude are swapped (latitude {lat:g} is a longitude in Vietnam, longitude {lon:g} "
            "a latitude): exchange the two columns",
            lat=lat,
            lon=lon,
        )
    w, s, e, n = VIETNAM_BOUNDS
    return msg(
        "point (lon {lon:g}, lat {lat:g}) is outside Vietnam ({w:g}-{e:g}°E, {s:g}-{n:g}°N)",
        lon=lon,
        lat=lat,
        w=w,
        e=e,
        s=s,
        n=n,
    )


def _object_array(values: list[Any]) -> pd.Series:
    """A list as an object column (pandas 3 would make text a ``str`` column with NaN for
    missing; geo-antt frames keep None), tuples kept as tuples.
    """
    return pd.Series(np.fromiter(values, dtype=object, count=len(values)), dtype=object)
