"""What an items query of the Features API asks beyond Part 1: the output CRS (OGC API -
Features Part 2, CRS by reference).

The catalog stores and pre-serialises every feature in CRS84 (lon/lat degrees). A request for
another CRS reprojects only the features of its page (:func:`geometry_texts`), and a ``bbox`` in
another CRS (``bbox-crs``) becomes the lon/lat polygon the catalog queries (:func:`bbox_region`).
CRSs are named by their OGC URIs (``http://www.opengis.net/def/crs/EPSG/0/32648``); ``EPSG:n``
and ``[EPSG:n]`` are read too. Coordinates are written in the axis order of the CRS's
definition: EPSG:4326 is latitude, longitude (Part 2 ``/req/crs/crs-uri`` and the EPSG
register), CRS84 longitude, latitude, the projected ones easting, northing.

No Flask here: :mod:`geo_antt.app.ogcapi` reads the request and calls these.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from functools import cache

import numpy as np
import shapely
from pyproj import CRS, Transformer

from .._errors import GeoAnttError
from ..crs import VN2000_CRS
from ..io.geojson import geometry_texts as _texts
from ..io.geojson import round_coordinates

__all__ = [
    "CRS84",
    "SUPPORTED_EPSG",
    "OutputCrs",
    "bbox_region",
    "geometry_texts",
    "parse_crs_uri",
    "supported_crs_uris",
]

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
_EPSG_URI = "http://www.opengis.net/def/crs/EPSG/0/{}"
# WGS 84 (lat/lon), WGS 84 / UTM 48N and 49N, and the VN-2000 zones the CLI reads
SUPPORTED_EPSG: tuple[int, ...] = (4326, 32648, 32649, *VN2000_CRS)
_DEGREE_DECIMALS = 7  # ~1 cm, as the CRS84 texts of the catalog
_METRE_DECIMALS = 3  # 1 mm
_FORMS = (
    re.compile(r"^https?://www\.opengis\.net/def/crs/EPSG/0/(\d+)$"),
    re.compile(r"^\[?EPSG:(\d+)\]?$", re.IGNORECASE),
)
_CRS84_FORMS = {CRS84, "https://www.opengis.net/def/crs/OGC/1.3/CRS84", "OGC:CRS84", "[OGC:CRS84]", "CRS84"}


@dataclass(frozen=True)
class OutputCrs:
    """A CRS the service writes or reads coordinates in.

    ``epsg`` is None for CRS84 (the catalog's own coordinates); ``lat_first`` when the CRS's
    first axis is the latitude (EPSG:4326); ``decimals`` of each coordinate (7 for degrees, 3
    for metres)."""

    uri: str
    epsg: int | None
    lat_first: bool
    decimals: int

    @property
    def is_crs84(self) -> bool:
        return self.epsg is None


def supported_crs_uris() -> list[str]:
    """URIs of every CRS the Features API serves, CRS84 first."""
    return [CRS84, *(_EPSG_URI.format(e) for e in SUPPORTED_EPSG)]


@cache
def _output_crs(epsg: int | None) -> OutputCrs:
    if epsg is None:
        return OutputCrs(CRS84, None, False, _DEGREE_DECIMALS)
    crs = CRS.from_epsg(epsg)
    lat_first = crs.axis_info[0].direction.lower() == "north" and crs.is_geographic
    return OutputCrs(_EPSG_URI.format(epsg), epsg, lat_first, _DEGREE_DECIMALS if crs.is_geographic else _METRE_DECIMALS)


def parse_crs_uri(value: str | None, *, what: str = "crs") -> OutputCrs:
    """The :class:`OutputCrs` a ``crs`` / ``bbox-crs`` / ``filter-crs`` parameter names
    (CRS84 when absent).

    Raises
    ------
    GeoAnttError
        For a CRS this service does not serve; the message names it and the supported ones.
    """
    if value is None or not value.strip():
        return _output_crs(None)
    v = value.strip()
    if v in _CRS84_FORMS:
        return _output_crs(None)
    for form in _FORMS:
        m = form.match(v)
        if m and int(m.group(1)) in SUPPORTED_EPSG:
            return _output_crs(int(m.group(1)))
    codes = ", ".join(f"EPSG:{e}" for e in SUPPORTED_EPSG)
    raise GeoAnttError(f"{what}={v[:80]!r} is not served: use {CRS84} (the default) or one of "
                       f"{_EPSG_URI.format('<code>')} with code {codes}")


_local = threading.local()  # a pyproj Transformer is never shared between threads


def _transformer(epsg: int, *, inverse: bool = False) -> Transformer:
    cache = getattr(_local, "transformers", None)
    if cache is None:
        cache = _local.transformers = {}
    key = (epsg, inverse)
    t = cache.get(key)
    if t is None:
        src, dst = (CRS.from_epsg(epsg), CRS.from_epsg(4326)) if inverse else (CRS.from_epsg(4326), CRS.from_epsg(epsg))
        t = cache[key] = Transformer.from_crs(src, dst, always_xy=True)
    return t


def _to(crs: OutputCrs, geoms: np.ndarray) -> np.ndarray:
    """``geoms`` (lon/lat) in ``crs``, its axis order, rounded to its decimals."""
    t = _transformer(crs.epsg)  # type: ignore[arg-type]

    def move(xy: np.ndarray) -> np.ndarray:
        x, y = t.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([y, x] if crs.lat_first else [x, y])

    return round_coordinates(shapely.transform(geoms, move), crs.decimals)


def geometry_texts(geoms: np.ndarray, crs: OutputCrs) -> list[str]:
    """GeoJSON geometry texts of ``geoms`` (lon/lat) in ``crs`` ("null" for a missing one)."""
    g = np.asarray(geoms, dtype=object)
    out = ["null"] * len(g)
    present = ~shapely.is_missing(g)
    if present.any():
        present[present] = ~shapely.is_empty(g[present])
    if present.any():
        for i, text in zip(np.flatnonzero(present), _texts(_to(crs, g[present]))):
            out[i] = text
    return out


def bbox_region(bbox: tuple[float, float, float, float], crs: OutputCrs) -> shapely.Geometry:
    """The lon/lat polygon of a ``bbox`` given in ``crs`` (its axis order: for EPSG:4326
    minLat,minLon,maxLat,maxLon); its outline densified so that the reprojected edges stay
    within ~1 m of the true ones."""
    a, b, c, d = bbox
    if crs.is_crs84:
        return shapely.box(a, b, c, d)
    if crs.lat_first:
        a, b, c, d = b, a, d, c
    if a > c or b > d:
        raise GeoAnttError(f"bbox minimum greater than maximum in {bbox} (bbox-crs {crs.uri})")
    ring = shapely.box(a, b, c, d)
    if crs.epsg == 4326:
        return ring
    if max(c - a, d - b) > 0:
        ring = shapely.segmentize(ring, max(c - a, d - b) / 256)
    t = _transformer(crs.epsg, inverse=True)  # type: ignore[arg-type]

    def back(xy: np.ndarray) -> np.ndarray:
        x, y = t.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    out = shapely.transform(ring, back)
    if not np.isfinite(shapely.get_coordinates(out)).all():
        raise GeoAnttError(f"bbox {bbox} lies outside the area of {crs.uri}")
    return out
