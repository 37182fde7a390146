"""What an items query of the Features API asks beyond Part 1: the output CRS (OGC API -
Features Part 2, CRS by reference) and filters (Part 3: CQL2 text and JSON, queryables).

The catalog stores and pre-serialises every feature in CRS84 (lon/lat degrees). A request for
another CRS reprojects only the features of its page (:func:`geometry_texts`), and a ``bbox`` in
another CRS (``bbox-crs``) becomes the lon/lat polygon the catalog queries (:func:`bbox_region`).
CRSs are named by their OGC URIs (``http://www.opengis.net/def/crs/EPSG/0/32648``); ``EPSG:n``
and ``[EPSG:n]`` are read too. Coordinates are written in the axis order of the CRS's
definition: EPSG:4326 is latitude, longitude (Part 2 ``/req/crs/crs-uri`` and the EPSG
register), CRS84 longitude, latitude, the projected ones easting, northing.

Filters (:func:`parse_filter`) are parsed by pygeofilter's CQL2 parsers and evaluated by its
geopandas backend over the rows an items query matches (a boolean mask over that frame), after
the reader's scope and any ``bbox``/``unit``: a filter only narrows what the reader may see.
Property names must be queryables (:func:`queryables`: the collection's scalar columns and
``geometry``); a geometry literal is in ``filter-crs`` (CRS84 by default) and is moved to
lon/lat vertex by vertex. A bad filter is a :class:`~geo_antt.GeoAnttError` naming the problem.

No Flask here: :mod:`geo_antt.app.ogcapi` reads the request and calls these.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import pandas as pd
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
    for metres).
    """

    uri: str
    epsg: int | None
    lat_first: bool
    decimals: int

    @property
    def is_crs84(self) -> bool:
        """Whether the answer is in OGC:CRS84 (longitude, latitude), the API's default."""
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
    return OutputCrs(
        _EPSG_URI.format(epsg), epsg, lat_first, _DEGREE_DECIMALS if crs.is_geographic else _METRE_DECIMALS
    )


def parse_crs_uri(value: str | None, *, what: str = "crs") -> OutputCrs:
    """The :class:`OutputCrs` a ``crs`` / ``bbox-crs`` / ``filter-crs`` parameter names
    (CRS84 when absent).

    Raises
    ------
    GeoAnttError
        For a CRS this service does not serve; the message names it and the supported ones.
    """
    if value is None:
        return _output_crs(None)
    v = value.strip()
    if v in _CRS84_FORMS:
        return _output_crs(None)
    for form in _FORMS:
        m = form.match(v)
        if m and int(m.group(1)) in SUPPORTED_EPSG:
            return _output_crs(int(m.group(1)))
    codes = ", ".join(f"EPSG:{e}" for e in SUPPORTED_EPSG)
    raise GeoAnttError(
        f"{what}={v[:80]!r} is not served: use {CRS84} (the default) or one of "
        f"{_EPSG_URI.format('<code>')} with code {codes}"
    )


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
    within ~1 m of the true ones.
    """
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
        try:
            ring = shapely.segmentize(ring, max(c - a, d - b) / 256)
        except shapely.errors.GEOSException:  # e.g. a box of 1e-9 m at 1e12 m: GEOS refuses the step
            raise GeoAnttError(f"bbox {bbox} is not a usable box in {crs.uri}") from None
    t = _transformer(crs.epsg, inverse=True)  # type: ignore[arg-type]

    def back(xy: np.ndarray) -> np.ndarray:
        x, y = t.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    out = shapely.transform(ring, back)
    if not np.isfinite(shapely.get_coordinates(out)).all():
        raise GeoAnttError(f"bbox {bbox} lies outside the area of {crs.uri}")
    return out


def _to_crs84(geom: shapely.Geometry, crs: OutputCrs) -> shapely.Geometry:
    """A geometry given in ``crs`` (its axis order) in lon/lat."""
    if crs.is_crs84:
        return geom
    if crs.lat_first:
        return shapely.transform(geom, lambda xy: xy[:, ::-1])
    t = _transformer(crs.epsg, inverse=True)  # type: ignore[arg-type]

    def back(xy: np.ndarray) -> np.ndarray:
        x, y = t.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    out = shapely.transform(geom, back)
    if not np.isfinite(shapely.get_coordinates(out)).all():
        raise GeoAnttError(f"filter: a geometry lies outside the area of filter-crs {crs.uri}")
    return out


# -- filters (OGC API - Features Part 3, CQL2) ---------------------------------------------

FILTER_LANGS = ("cql2-text", "cql2-json")
GEOMETRY_QUERYABLE = "geometry"
_MAX_FILTER_CHARS = 20_000


def _json_type(s: pd.Series) -> dict[str, Any] | None:
    """JSON Schema type of a column's values (None: not queryable, e.g. lists)."""
    kind = s.dtype.kind
    if kind == "b":
        return {"type": "boolean"}
    if kind in "iu":
        return {"type": "integer"}
    if kind == "f":
        return {"type": "number"}
    if kind == "M":
        return {"type": "string", "format": "date-time"}
    if isinstance(s.dtype, pd.StringDtype):  # text by its type: no scan of the values
        return {"type": "string"}
    values = [v for v in s.to_numpy(dtype=object) if not (v is None or (isinstance(v, float) and np.isnan(v)))]
    if all(isinstance(v, str) for v in values):
        return {"type": "string"}
    if values and all(isinstance(v, bool) for v in values):
        return {"type": "boolean"}
    if values and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return {"type": "number"}
    return None


def queryables(frame: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """``{name: JSON Schema}`` of the properties a filter may name: the scalar columns of the
    collection's frame (text, numbers, booleans, times) and its geometry.
    """
    out: dict[str, dict[str, Any]] = {}
    geom_name = getattr(frame, "geometry", None) is not None and frame.geometry.name
    for col in frame.columns:
        if col == geom_name:
            continue
        t = _json_type(frame[col])
        if t is not None:
            out[str(col)] = {"title": str(col), **t}
    if geom_name:
        g = np.asarray(frame.geometry.to_numpy(), dtype=object)
        types = {t for t in shapely.get_type_id(g[~shapely.is_missing(g)]).tolist()}
        names = {0: "point", 1: "linestring", 3: "polygon", 4: "multipoint", 5: "multilinestring", 6: "multipolygon"}
        fmt = (
            f"geometry-{names[next(iter(types))]}" if len(types) == 1 and next(iter(types)) in names else "geometry-any"
        )
        out[GEOMETRY_QUERYABLE] = {"title": "geometry", "format": fmt, "x-ogc-role": "primary-geometry"}
    return out


def _evaluator_class():
    from pygeofilter import ast, values
    from pygeofilter.backends.evaluator import handle
    from pygeofilter.backends.geopandas.evaluate import GeoPandasEvaluator

    class _Evaluator(GeoPandasEvaluator):
        """pygeofilter's geopandas evaluator, with names checked against the queryables,
        geometry literals moved from ``filter-crs`` to lon/lat, and what it does not evaluate
        (functions, temporal predicates) refused by name.
        """

        def __init__(self, df, names: frozenset[str], crs: OutputCrs) -> None:
            super().__init__(df)
            self.names, self.crs = names, crs

        @handle(ast.Attribute)
        def attribute(self, node):
            if node.name not in self.names:
                raise GeoAnttError(
                    f"filter: unknown property {node.name!r}; queryables: {', '.join(sorted(self.names))}"
                )
            if node.name == GEOMETRY_QUERYABLE:
                return self.df.geometry
            return self.df[node.name]

        @handle(values.Geometry)
        def geometry(self, node):
            try:
                g = shapely.geometry.shape(node)
            except Exception as exc:  # noqa: BLE001 - shapely's errors of a malformed literal vary
                raise GeoAnttError(f"filter: bad geometry literal ({exc})") from None
            return _to_crs84(g, self.crs)

        @handle(values.Envelope)
        def envelope(self, node):
            return _to_crs84(shapely.box(node.x1, node.y1, node.x2, node.y2), self.crs)

        @handle(ast.Function)
        def function(self, node, *arguments):
            raise GeoAnttError(f"filter: function {node.name!r} is not supported")

        @handle(ast.TemporalPredicate, subclasses=True)
        def temporal(self, node, lhs, rhs):
            raise GeoAnttError("filter: temporal predicates are not supported (no collection has a time extent)")

    return _Evaluator


_EVALUATOR: list[Any] = []


def parse_filter(
    text: str | None, *, lang: str | None = None, crs: OutputCrs | None = None, names: frozenset[str]
) -> Callable[[pd.DataFrame], np.ndarray] | None:
    """The mask function of a ``filter`` (None when absent) for an items query.

    Parameters
    ----------
    text
        The ``filter`` parameter.
    lang
        ``filter-lang``: ``cql2-text`` (the default) or ``cql2-json``.
    crs
        ``filter-crs``: the CRS of geometry literals (None: CRS84).
    names
        The queryables of the collection (:func:`queryables`).

    Raises
    ------
    GeoAnttError
        An unknown language, a syntax error, an unknown property, an unsupported function or
        predicate, or values that cannot be compared (each named).
    """
    if text is None:
        if lang is not None and lang not in FILTER_LANGS:
            raise GeoAnttError(f"filter-lang={lang[:40]!r}: use one of {', '.join(FILTER_LANGS)}")
        return None
    lang = "cql2-text" if lang is None else lang
    if lang not in FILTER_LANGS:
        raise GeoAnttError(f"filter-lang={lang[:40]!r}: use one of {', '.join(FILTER_LANGS)}")
    if len(text) > _MAX_FILTER_CHARS:
        raise GeoAnttError(f"filter: at most {_MAX_FILTER_CHARS} characters, got {len(text)}")
    if not text.strip():
        raise GeoAnttError("filter: empty")
    try:
        if lang == "cql2-text":
            from pygeofilter.parsers.cql2_text import parse
        else:
            from pygeofilter.parsers.cql2_json import parse
        root = parse(text)
    except GeoAnttError:
        raise
    except RecursionError:
        raise GeoAnttError("filter: nested too deeply") from None
    except Exception as exc:  # noqa: BLE001 - lark's syntax errors, ValueError/KeyError/TypeError of the JSON walk
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise GeoAnttError(f"filter is not valid {lang}: {first}") from None
    if not _EVALUATOR:
        _EVALUATOR.append(_evaluator_class())
    evaluator = _EVALUATOR[0]
    out_crs = crs or _output_crs(None)
    # check the property names and literals once, on no rows, before any query runs
    _mask(evaluator, root, None, names, out_crs, lang)

    def where(frame: pd.DataFrame) -> np.ndarray:
        return _mask(evaluator, root, frame, names, out_crs, lang)

    return where


def _mask(evaluator, root, frame, names, crs, lang) -> np.ndarray:
    import geopandas as gpd

    if frame is None:
        frame = gpd.GeoDataFrame(
            {n: pd.Series([], dtype=object) for n in names if n != GEOMETRY_QUERYABLE},
            geometry=gpd.GeoSeries([], crs=4326),
        )
    try:
        result = evaluator(frame, names, crs).evaluate(root)
    except GeoAnttError:
        raise
    except Exception as exc:  # noqa: BLE001 - comparing text with a number, a predicate on a literal...
        raise GeoAnttError(f"filter cannot be evaluated ({lang}): {type(exc).__name__}: {str(exc)[:200]}") from None
    if isinstance(result, (bool, np.bool_)):
        return np.full(len(frame), bool(result))
    if not isinstance(result, (pd.Series, np.ndarray)):
        raise GeoAnttError("filter: it must be a condition (true or false for each feature)")
    arr = (
        np.asarray(pd.Series(result).fillna(False), dtype=bool)
        if isinstance(result, pd.Series)
        else np.asarray(result, dtype=bool)
    )
    return arr
