"""OpenStreetMap extracts as geo-antt layers: roads, buildings and security models.

:func:`convert_extract` reads an extract (``.osm.pbf``, ``.osm``, ``.osm.bz2``, ``.osm.gz``,
``.opl``) with pyosmium: libosmium's reader, its node location index (``with_locations``) and
its area assembler (``with_areas``) do all the OSM work; nothing here parses PBF or XML. The file
is streamed (the area assembler reads the relations first, then the whole file once), C++
filters drop every object that is neither a building, a road, a surveillance camera nor a
street lamp before Python sees it, and geometries come as WKB (``osmium.geom.WKBFactory``),
turned into shapely geometries (and clipped) a batch at a time. Only the kept features and
osmium's own node location index are held in memory.

The result (:class:`OsmLayers`) holds three frames in EPSG:4326:

* ``roads``: ``highway=*`` ways that are streets, tracks or paths, as LineStrings (a road cut
  by the clip area in several pieces is a MultiLineString); index ``osm_id`` (``"w123"``),
  columns ``highway``, ``name``. Areas (``area=yes``) and values that are no way to travel
  (:data:`NOT_ROADS`: proposed, construction, platform, bus_stop...) are left out.
* ``buildings``: ``building=*`` closed ways and ``type=multipolygon`` relations, assembled by
  libosmium (holes included), as Polygon/MultiPolygon; index ``osm_id`` (``"w123"``,
  ``"r45"``), columns ``building``, ``levels`` (``building:levels``), ``height_m`` (``height``
  in metres).
* ``models``: security models in the columns of :data:`geo_antt.schema.MODEL_COLUMNS`, as
  :func:`geo_antt.io.load_models` returns them and reads them back from ``models.geojson``.
  ``man_made=surveillance`` nodes are cameras (kind ``camera``), ``highway=street_lamp`` nodes
  are lighting (kind ``lighting``); see :func:`convert_extract` for the columns.

Every problem is an :class:`OsmProblem`: the OSM object ("node 123", "way 45", "relation 7") is
the OSM equivalent of a file row, the tag the equivalent of its column.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import geopandas as gpd
import numpy as np
import osmium
import osmium.filter
import osmium.geom
import osmium.index
import pandas as pd
import shapely

from .._errors import GeoAnttError, Problem
from ..crs import VIETNAM_BOUNDS, WGS84
from ..layers import MAX_DIRECTIONS, TEXT_MAX_LENGTH, LayerSpec, bound_problem, load_layer_specs, text_problem
from ..schema import MODEL_COLUMNS
from ..text import nfc
from ._readers import _NATIONAL_BOX, _object_array
from .cells import COMPASS_EN, ParseError, parse_resolution

__all__ = [
    "OSM_SUFFIXES",
    "NOT_ROADS",
    "MODEL_DEFAULTS",
    "MODEL_EXTRA_COLUMNS",
    "OsmProblem",
    "OsmLayers",
    "convert_extract",
    "parse_camera_direction",
    "parse_length",
    "parse_levels",
    "parse_bbox",
    "check_bbox",
]

# File names pyosmium reads (the format and the compression come from the suffix).
OSM_SUFFIXES = (".osm.pbf", ".pbf", ".osm", ".osm.bz2", ".osm.gz", ".opl", ".opl.bz2", ".opl.gz")

# highway=* values that are no street, path or track one can travel: lifecycle states, stops and
# platforms, points and junctions (tagged on nodes, but sometimes drawn as ways), service areas.
NOT_ROADS = frozenset({
    "proposed", "planned", "construction", "abandoned", "disused", "razed", "demolished", "no", "none",
    "platform", "bus_stop", "elevator", "rest_area", "services", "emergency_bay", "emergency_access_point",
    "traffic_signals", "crossing", "street_lamp", "stop", "give_way", "turning_circle", "turning_loop",
    "mini_roundabout", "motorway_junction", "speed_camera", "milestone", "toll_gantry", "traffic_mirror",
    "passing_place", "corridor", "bus_guideway_stop", "traffic_island", "ladder", "via_ferrata",
})  # fmt: skip

# Model fields OSM does not tell, per kind: every mapped object exists (status active); cameras
# and street lamps of a commune's streets serve crime prevention (phòng, chống tội phạm: the
# field of 606 of the demo's 610 cameras and 383 of its 389 lights, and of the reports'
# "camera an ninh" and "ánh sáng an ninh trật tự" models), hosted by the residential area
# (khu dân cư: who runs a mapped camera is unknown; the operator tag goes to ``owner``).
MODEL_DEFAULTS: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {
        "camera": MappingProxyType({"field": "crime_prevention", "host": "residential", "status": "active"}),
        "lighting": MappingProxyType({"field": "crime_prevention", "host": "residential", "status": "active"}),
    }
)

# Columns of the models frame after MODEL_COLUMNS: OSM tags kept as they are, and the source.
# Their names fold to no header the model reader knows (``camera:angle`` would be read as the
# field of view, ``operator`` as the owner), so the file reads back column for column.
MODEL_EXTRA_COLUMNS = (
    "osm_id",
    "source",
    "surveillance",
    "surveillance:type",
    "surveillance:zone",
    "tilt_deg",
    "light:count",
    "light:direction",
)

# Building attributes outside these bounds are garbage (reported and left out).
_MAX_BUILDING_HEIGHT_M = 1000.0
_MAX_BUILDING_LEVELS = 200.0
# Features turned into shapely geometries (and clipped) at once.
_BATCH = 20_000
# OSM camera:type values -> the project's camera types (geo_antt._models_io._CAMERA_TYPES).
_CAMERA_TYPES = {"fixed": "fixed", "dome": "dome", "panning": "ptz", "ptz": "ptz"}
# camera:type values that see all around: fov_deg 360.
_ALL_AROUND = ("dome", "panning")

_DEGREES = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)\s*(?:°|º|deg)?$", re.IGNORECASE)
_RANGE = re.compile(r"^([^-]+?)\s*-\s*([^-]+)$")
_LENGTH = re.compile(r"^(\d+(?:[.,]\d+)?|\.\d+)\s*(m|metres?|meters?|ft|feet|foot|')?$", re.IGNORECASE)
_FEET_INCHES = re.compile(r"""^(\d+)\s*'\s*(\d+(?:\.\d+)?)\s*(?:"|'')$""")
_NUMBER = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$")


# --------------------------------------------------------------------------------------------
# problems and results


@dataclass(frozen=True)
class OsmProblem(Problem):
    """A :class:`geo_antt._errors.Problem` of one OSM object: ``file`` is the extract, ``osm_type``
    and ``osm_id`` name the object (``"node"``, 123) in place of a row, ``field`` is the tag.

    ``severity`` ``"error"``: the object is left out; ``"warning"``: only the value is.
    """

    osm_type: str = ""
    osm_id: int | None = None

    @property
    def osm_object(self) -> str:
        """``"node 123"``, ``"way 45"``, ``"relation 7"`` ('' for a problem of the whole file)."""
        return f"{self.osm_type} {self.osm_id}" if self.osm_type else ""

    def __str__(self) -> str:
        """File, OSM object and tag, then the reason and the value."""
        where = ", ".join(w for w in (self.file, self.osm_object, f"tag '{self.field}'" if self.field else "") if w)
        val = "" if self.value is None else f" (value {self.value!r:.200})"
        return f"{where}: {self.reason}{val}"

    def to_dict(self) -> dict[str, Any]:
        """The problem as JSON, with the OSM object ("way 123") in ``object``."""
        d = super().to_dict()
        d["object"] = self.osm_object or None
        return d


@dataclass(frozen=True)
class OsmLayers:
    """What :func:`convert_extract` made of an extract (frames in EPSG:4326) and its problems."""

    roads: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    models: gpd.GeoDataFrame
    problems: list[OsmProblem] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """Features of each kind and problems: ``roads``, ``buildings``, ``cameras``, ``lights``,
        ``problems`` (``errors``: objects left out, ``warnings``: values left out).
        """
        kinds = self.models["kind"] if "kind" in self.models else pd.Series([], dtype=object)
        errors = sum(1 for p in self.problems if p.severity == "error")
        return {
            "roads": len(self.roads),
            "buildings": len(self.buildings),
            "cameras": int((kinds == "camera").sum()),
            "lights": int((kinds == "lighting").sum()),
            "problems": len(self.problems),
            "errors": errors,
            "warnings": len(self.problems) - errors,
        }


# --------------------------------------------------------------------------------------------
# tag values


def _angle(token: str) -> float:
    """Degrees from a number ("90", "22.5°") or a compass point of 16 ("N", "ENE", "north")."""
    t = token.strip()
    if _DEGREES.match(t):
        return float(t.rstrip("°ºdegDEG ").strip())
    d = COMPASS_EN.get(t.lower())
    if d is None:
        raise ParseError(
            "not a direction (degrees clockwise from north, a compass point N, NNE, ... NNW, or a range such as 350-10)"
        )
    return d


def parse_camera_direction(text: str) -> tuple[tuple[float, ...], float | None]:
    """Directions and field of view from an OSM ``camera:direction`` value.

    Parameters
    ----------
    text
        Degrees clockwise from north (``"90"``, ``"22.5"``), a compass point of the 16
        (``"N"``, ``"NE"``, ``"ENE"``..., any case), several of them separated by ``;`` (one
        sector each: ``"90;180"``), or a range ``"A-B"``: the sector from A clockwise to B
        (``"350-10"``: centre 0, 20 degrees wide; ``"0-360"``: all around). A range's ends may
        be degrees or compass points.

    Returns
    -------
    (tuple of float, float or None)
        The directions in degrees clockwise from north, in [0, 360) (360 is 0), and the field
        of view in degrees that the ranges give (None without a range; ranges of different
        widths give the widest, as a model has one field of view).

    Raises
    ------
    ParseError
        Text that is no direction, a value outside 0-360 degrees, a range of zero width.

    Examples
    --------
    >>> parse_camera_direction("350-10")
    ((0.0,), 20.0)
    >>> parse_camera_direction("90;ENE")
    ((90.0, 67.5), None)
    """
    parts = [p.strip() for p in str(text).split(";")]
    if not any(parts):
        raise ParseError("empty direction")
    directions: list[float] = []
    widths: list[float] = []
    for part in parts:
        if not part:
            raise ParseError("empty direction between two ';'")
        m = _RANGE.match(part)
        if m and not _NUMBER.match(part):
            a, b = _angle(m.group(1)), _angle(m.group(2))
            for v in (a, b):
                if not 0.0 <= v <= 360.0:
                    raise ParseError(f"direction {v:g} outside 0-360 degrees")
            width = (b - a) % 360.0
            if width == 0.0:
                if a == b:
                    raise ParseError(f"range {part!r} has no width (its ends are the same direction)")
                width = 360.0  # 0-360
            directions.append((a + width / 2.0) % 360.0)
            widths.append(width)
            continue
        d = _angle(part)
        if not 0.0 <= d <= 360.0:
            raise ParseError(f"direction {d:g} outside 0-360 degrees")
        directions.append(d % 360.0)
    return tuple(directions), (max(widths) if widths else None)


def parse_length(text: str) -> float:
    r"""Metres from an OSM length (``height``): ``"12"``, ``"12.5"``, ``"12 m"``, ``"12m"``, feet
    (``"40 ft"``, ``"40'"``, ``"12'6\""``); a decimal comma (``"12,5"``) is read as a point.

    Raises
    ------
    ParseError
        Anything else (``"tall"``, ``"3-4"``, ``"12 m; 14 m"``).
    """
    t = str(text).strip()
    m = _FEET_INCHES.match(t)
    if m:
        return (float(m.group(1)) + float(m.group(2)) / 12.0) * 0.3048
    m = _LENGTH.match(t)
    if not m:
        raise ParseError("not a length (metres, e.g. 12, 12.5 or 12 m; or feet: 40 ft)")
    value = float(m.group(1).replace(",", "."))
    unit = (m.group(2) or "m").lower()
    return value * 0.3048 if unit in ("ft", "feet", "foot", "'") else value


def parse_levels(text: str) -> float:
    """A number of storeys from ``building:levels`` (``"3"``, ``"2.5"``).

    Raises
    ------
    ParseError
        Not a plain non-negative number (``"3;4"``, ``"three"``, ``"-1"``).
    """
    t = str(text).strip()
    if not _NUMBER.match(t) or float(t) < 0:
        raise ParseError("not a number of levels (a number such as 3)")
    return float(t)


def parse_bbox(text: str) -> tuple[float, float, float, float]:
    """``"W,S,E,N"`` (WGS84 degrees) -> a checked ``(west, south, east, north)``.

    Raises
    ------
    GeoAnttError
        Not four numbers, or a box :func:`check_bbox` refuses.
    """
    parts = [p.strip() for p in str(text).split(",")]
    try:
        if len(parts) != 4:
            raise ValueError(text)
        values = tuple(float(p) for p in parts)
    except ValueError:
        raise GeoAnttError(
            f"--bbox {text!r}: give four numbers W,S,E,N separated by commas (degrees, longitude first; "
            "e.g. 105.80,21.00,105.86,21.05)"
        ) from None
    return check_bbox(values)


def check_bbox(bbox: Sequence[float]) -> tuple[float, float, float, float]:
    """Check a lon/lat box ``(west, south, east, north)`` in WGS84 degrees and return it.

    The box must lie on the globe (longitudes -180..180, latitudes -90..90), have west < east
    and south < north (no box across the 180th meridian), and overlap Vietnam (with a margin of
    one degree: 101-119°E, 6-24.5°N). A box given latitude first is recognised and said so.

    Raises
    ------
    GeoAnttError
        The reason, with the box written the right way round when it was swapped.
    """
    try:
        w, s, e, n = (float(v) for v in bbox)
    except (TypeError, ValueError):
        raise GeoAnttError(f"bbox {bbox!r}: give four numbers (west, south, east, north) in degrees") from None
    shown = f"{w:g},{s:g},{e:g},{n:g}"
    if not all(math.isfinite(v) for v in (w, s, e, n)):
        raise GeoAnttError(f"bbox {shown}: every value must be a finite number of degrees")
    swapped = f"bbox {shown}: latitude and longitude look swapped; give W,S,E,N with the longitudes first: {s:g},{w:g},{n:g},{e:g}"

    def on_globe(lon0: float, lat0: float, lon1: float, lat1: float) -> bool:
        return all(-180.0 <= v <= 180.0 for v in (lon0, lon1)) and all(-90.0 <= v <= 90.0 for v in (lat0, lat1))

    def near_vietnam(lon0: float, lat0: float, lon1: float, lat1: float) -> bool:
        bx0, by0, bx1, by1 = _NATIONAL_BOX
        return min(lon0, lon1) <= bx1 and max(lon0, lon1) >= bx0 and min(lat0, lat1) <= by1 and max(lat0, lat1) >= by0

    if not on_globe(w, s, e, n):
        if on_globe(s, w, n, e):
            raise GeoAnttError(swapped)
        raise GeoAnttError(f"bbox {shown}: longitudes must lie in -180..180 and latitudes in -90..90 degrees")
    if not near_vietnam(w, s, e, n):
        if on_globe(s, w, n, e) and near_vietnam(s, w, n, e):
            raise GeoAnttError(swapped)
        v = VIETNAM_BOUNDS
        raise GeoAnttError(f"bbox {shown}: outside Vietnam ({v[0]:g}-{v[2]:g}°E, {v[1]:g}-{v[3]:g}°N)")
    if not w < e:
        raise GeoAnttError(f"bbox {shown}: the west edge must be less than the east edge (W,S,E,N)")
    if not s < n:
        raise GeoAnttError(f"bbox {shown}: the south edge must be less than the north edge (W,S,E,N)")
    return (w, s, e, n)


# --------------------------------------------------------------------------------------------
# clipping


class _Clip:
    """The area kept: a lon/lat box and/or a polygon (prepared), or everything (``None``)."""

    def __init__(self, bbox: tuple[float, float, float, float] | None, polygon: Any) -> None:
        geom = None
        if bbox is not None:
            geom = shapely.box(*bbox)
        if polygon is not None:
            if not isinstance(polygon, shapely.Geometry) or shapely.get_type_id(polygon) not in (3, 6):
                raise GeoAnttError(f"clip must be a Polygon or MultiPolygon in EPSG:4326, got {type(polygon).__name__}")
            geom = polygon if geom is None else shapely.intersection(geom, polygon)
        if geom is not None:
            if geom.is_empty:
                raise GeoAnttError("the clip area is empty (the box and the polygon do not overlap)")
            shapely.prepare(geom)
        self.geom = geom
        self.bounds = tuple(geom.bounds) if geom is not None else None
        self.is_box = polygon is None

    def near(self, lon: float, lat: float) -> bool:
        """Whether (lon, lat) lies in the area's bounding box (always, without a clip)."""
        b = self.bounds
        return b is None or (b[0] <= lon <= b[2] and b[1] <= lat <= b[3])

    def near_way(self, way: Any) -> bool:
        """Whether a node of ``way`` with a known location lies in the area's bounding box."""
        if self.bounds is None:
            return True
        return any(n.location.valid() and self.near(n.location.lon, n.location.lat) for n in way.nodes)

    def keeps_point(self, lon: float, lat: float) -> bool:
        """Whether the point (lon, lat) is in the area (its edge included)."""
        if not self.near(lon, lat):
            return False
        return self.is_box or self.geom is None or bool(shapely.intersects_xy(self.geom, lon, lat))

    def lines(self, geoms: np.ndarray) -> np.ndarray:
        """The lines cut to the area (None where nothing of a line is left)."""
        if self.geom is None or not len(geoms):
            return geoms
        out = np.full(len(geoms), None, dtype=object)
        near = np.flatnonzero(shapely.intersects(self.geom, geoms))
        inside = shapely.contains_properly(self.geom, geoms[near])
        out[near[inside]] = geoms[near[inside]]
        cross = near[~inside]
        if len(cross):
            cut = shapely.intersection(geoms[cross], self.geom)
            out[cross] = [_line_part(g) for g in cut]
        return out

    def keeps_polygons(self, geoms: np.ndarray) -> np.ndarray:
        """Which polygons are in the area: those whose point on surface (always inside the
        polygon) is, so that a building on an edge belongs to one side only.
        """
        if self.geom is None:
            return np.ones(len(geoms), dtype=bool)
        return shapely.intersects(self.geom, shapely.point_on_surface(geoms))


def _line_part(g: Any) -> Any:
    """The linear part of an intersection (a line touching the edge adds points): a LineString,
    a MultiLineString, or None.
    """
    if g is None or g.is_empty:
        return None
    tid = shapely.get_type_id(g)
    if tid in (1, 5):
        return g
    parts = [p for p in shapely.get_parts(g) if shapely.get_type_id(p) in (1, 5) and not p.is_empty]
    lines = [q for p in parts for q in shapely.get_parts(p)]
    if not lines:
        return None
    return lines[0] if len(lines) == 1 else shapely.MultiLineString(lines)


class _Layer:
    """Features of one output layer, gathered as WKB and turned into geometries (clipped) a
    batch at a time; only the kept ones stay, and only their problems go to ``problems``.
    """

    def __init__(
        self, columns: tuple[str, ...], keep: Callable[[np.ndarray], np.ndarray], problems: list[OsmProblem]
    ) -> None:
        self.columns = columns
        self._keep = keep
        self._problems = problems
        self._ids: list[str] = []
        self._wkb: list[str] = []
        self._values: list[tuple[Any, ...]] = []
        self._notes: dict[int, list[OsmProblem]] = {}
        self._chunks: list[tuple[list[str], np.ndarray, list[tuple[Any, ...]]]] = []

    def add(self, osm_id: str, wkb: str, values: tuple[Any, ...], notes: list[OsmProblem] | None = None) -> None:
        """One feature; ``notes``: the problems of its values, kept when the feature is."""
        if notes:
            self._notes[len(self._wkb)] = notes
        self._ids.append(osm_id)
        self._wkb.append(wkb)
        self._values.append(values)
        if len(self._wkb) >= _BATCH:
            self.flush()

    def flush(self) -> None:
        """Build (and clip) the geometries of the features gathered since the last batch."""
        if not self._wkb:
            return
        geoms = self._keep(shapely.from_wkb(np.asarray(self._wkb, dtype=object)))
        kept = np.flatnonzero(~shapely.is_missing(geoms)).tolist()
        self._chunks.append(([self._ids[i] for i in kept], geoms[kept], [self._values[i] for i in kept]))
        if self._notes:
            self._problems.extend(p for i in kept for p in self._notes.get(i, ()))
        self._ids, self._wkb, self._values, self._notes = [], [], [], {}

    def frame(self, numeric: tuple[str, ...] = ()) -> gpd.GeoDataFrame:
        """The kept features: index ``osm_id``, the columns (``numeric`` ones as floats, the
        others as objects with None for missing) and the geometry, EPSG:4326.
        """
        self.flush()
        ids = [i for c in self._chunks for i in c[0]]
        geoms = np.concatenate([c[1] for c in self._chunks]) if self._chunks else np.array([], dtype=object)
        rows = [v for c in self._chunks for v in c[2]]
        self._chunks = []
        data = {col: [r[j] for r in rows] for j, col in enumerate(self.columns)}
        frame = pd.DataFrame(
            {
                col: np.asarray(data[col], dtype=float) if col in numeric else _object_array(data[col])
                for col in self.columns
            }
        )
        frame.index = pd.Index(np.asarray(ids, dtype=object), name="osm_id", dtype=object)
        return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, index=frame.index, crs=WGS84), crs=WGS84)


# --------------------------------------------------------------------------------------------
# conversion


def _osm_file(path: Path) -> str:
    name = path.name.lower()
    if not any(name.endswith(s) for s in OSM_SUFFIXES):
        raise GeoAnttError(
            f"{path}: not an OpenStreetMap file name; the extract must end in .osm.pbf, .osm, .osm.bz2 or .osm.gz"
        )
    return str(path)


def _location_index(index: str) -> str:
    name = str(index).split(",", 1)[0]
    known = osmium.index.map_types()
    if name not in known:
        raise GeoAnttError(
            f"node location index {index!r}: not one of {', '.join(known)} (flex_mem suits most extracts; "
            "sparse_file_array,FILE keeps a country's node locations on disk)"
        )
    return str(index)


def convert_extract(
    path: str | os.PathLike[str],
    *,
    bbox: Sequence[float] | None = None,
    clip: Any = None,
    index: str = "flex_mem",
    specs: Mapping[str, LayerSpec] | None = None,
) -> OsmLayers:
    """Convert an OpenStreetMap extract into roads, buildings and security models.

    Parameters
    ----------
    path
        The extract: ``.osm.pbf``, ``.osm`` (XML), ``.osm.bz2``, ``.osm.gz`` (or OPL).
    bbox
        ``(west, south, east, north)`` in WGS84 degrees (checked by :func:`check_bbox`): roads
        crossing it are cut to it, buildings and nodes inside it are kept.
    clip
        A Polygon/MultiPolygon in EPSG:4326 (a unit's boundary) that the layers are cut to as
        with ``bbox``; with both, their intersection. A building is inside when its point on
        surface is (a building on the edge belongs to one side only).
    index
        pyosmium's node location index (``osmium.index.map_types()``): ``"flex_mem"`` (memory;
        dense for large files) or ``"sparse_file_array,FILE"`` / ``"dense_file_array,FILE"``
        to keep a country's node locations in a file.
    specs
        Layer specs (default ``layers/*.toml``): the bounds of the camera and lighting values.

    Returns
    -------
    OsmLayers
        ``roads``, ``buildings`` and ``models`` (see the module docstring), and ``problems``
        in file order (then the buildings that could not be assembled, by id). With ``bbox``
        or ``clip``, the problems are those of the objects in the area (a node inside it, a
        way with a node in its bounding box); a multipolygon that cannot be assembled has no
        place and is always reported.

        The models frame has index ``id`` (``"osm-n<id>"``), :data:`MODEL_COLUMNS` and
        :data:`MODEL_EXTRA_COLUMNS`, Point geometry:

        * cameras (``man_made=surveillance``; ``surveillance:type=guard`` is a guard, not a
          camera, and left out): ``direction_deg`` and, for a range, ``fov_deg`` from
          ``camera:direction`` (or ``direction``; :func:`parse_camera_direction`);
          ``fov_deg`` 360 for ``camera:type`` dome and panning; ``camera_type`` fixed, dome,
          ptz (panning) or the tag as it is; ``height_m`` from ``height``; ``tilt_deg`` from
          ``camera:angle``, the tilt below the horizon, which is NOT the field of view.
          A camera without a direction that is not all-around is left out (a sector needs a
          direction), as are a direction that cannot be read or lies outside 0-360 degrees,
          more than ``layers.MAX_DIRECTIONS`` directions and a field of view outside the
          camera's bounds.
        * lighting (``highway=street_lamp``): ``height_m`` from ``height``, ``light:count``
          (an integer) and ``light:direction`` (as tagged) kept.
        * both: ``name`` from ``name`` (else ``"Camera OSM n123"`` / ``"Đèn đường OSM n123"``),
          ``owner`` from ``operator``, ``field``/``host``/``status`` from
          :data:`MODEL_DEFAULTS` (crime prevention, residential area, active), ``source``
          ``"osm"``, ``osm_id`` ``"n123"``, ``surveillance``, ``surveillance:type``,
          ``surveillance:zone``. ``fov_deg``, ``range_m``, ``radius_m`` and a missing
          ``height_m`` are NaN: the layer spec's defaults apply (``layers/*.toml``). An
          informational value outside its kind's bounds (``height_m``) is reported and left
          empty; a node outside Vietnam is left out (the model files hold Vietnam's).

    Raises
    ------
    FileNotFoundError
        No such file.
    GeoAnttError
        A file that is not a readable OSM extract (not OSM, truncated, corrupt: pyosmium's
        reason and the file name), a bad ``bbox``/``clip``/``index``.
    """
    p = Path(path)
    if not p.is_file():
        if p.is_dir():
            raise GeoAnttError(f"{p}: is a directory, not an OpenStreetMap extract")
        raise FileNotFoundError(2, "No such file or directory", str(p))
    fname = _osm_file(p)
    box = check_bbox(bbox) if bbox is not None else None
    area = _Clip(box, clip)
    specs = load_layer_specs() if specs is None else specs
    state = _Conversion(str(p), area, specs)
    # enable_for() returns the filter; pyosmium's stub says None, hence the type: ignore below
    nodes = osmium.filter.TagFilter(("man_made", "surveillance"), ("highway", "street_lamp"))
    nodes = nodes.enable_for(osmium.osm.NODE)  # type: ignore[func-returns-value,assignment]
    processor = (
        osmium.FileProcessor(fname)
        .with_locations(_location_index(index))
        .with_areas(osmium.filter.KeyFilter("building"))
        .with_filter(nodes)
        .with_filter(osmium.filter.KeyFilter("building", "highway").enable_for(osmium.osm.WAY))  # type: ignore[func-returns-value]  # returns the filter; the stub says None
        .with_filter(osmium.filter.KeyFilter("building").enable_for(osmium.osm.RELATION | osmium.osm.AREA))  # type: ignore[func-returns-value]  # returns the filter; the stub says None
    )
    try:
        for obj in processor:
            state.take(obj)
    except RuntimeError as exc:  # libosmium: not OSM, truncated PBF, XML errors, bad compression
        raise GeoAnttError(f"{p}: cannot read as an OpenStreetMap extract ({exc})") from None
    return state.result()


class _Conversion:
    """The state of one :func:`convert_extract` run: the layers being gathered, the buildings
    waiting for their area, the problems.
    """

    def __init__(self, fname: str, area: _Clip, specs: Mapping[str, LayerSpec]) -> None:
        self.fname = fname
        self.area = area
        self.specs = specs
        self.problems: list[OsmProblem] = []
        self.wkb = osmium.geom.WKBFactory()
        self.roads = _Layer(("highway", "name"), area.lines, self.problems)
        self.buildings = _Layer(("building", "levels", "height_m"), self._keep_buildings, self.problems)
        self.models: list[dict[str, Any]] = []
        # Closed building ways whose area has not come yet (libosmium gives areas a buffer at a
        # time, so this holds at most a buffer's worth), multipolygon relations seen without
        # their area, and areas of relations seen before their relation (areas of relations
        # are built when their last way is read, before the relation itself).
        self.waiting_ways: set[int] = set()
        self.waiting_relations: set[int] = set()
        self.relation_areas: set[int] = set()
        # the outer ways of each building relation: a way tagged building=* itself as well is
        # the same building, counted once (the relation's polygon, which has its holes)
        self.relation_outers: dict[int, list[int]] = {}
        self._texts: dict[str, str | None] = {}
        self._handlers: dict[type, Callable[[Any], None]] = {
            osmium.osm.Node: self.node,
            osmium.osm.Way: self.way,
            osmium.osm.Relation: self.relation,
            osmium.osm.Area: self.area_object,
        }

    def _keep_buildings(self, geoms: np.ndarray) -> np.ndarray:
        """The buildings in the area; a multipolygon of one part becomes its Polygon."""
        out = geoms.copy()
        single = shapely.get_num_geometries(out) == 1
        out[single] = shapely.get_geometry(out[single], 0)
        out[~self.area.keeps_polygons(out)] = None
        return out

    def text(self, value: str) -> str | None:
        """``nfc(value)``, remembered: a file holds a few building and highway values and
        street names many times.
        """
        out = self._texts.get(value)
        if out is None:
            out = self._texts[value] = nfc(value) or None
            if len(self._texts) > 100_000:
                self._texts.clear()
        return out

    def problem(
        self,
        osm_type: str,
        osm_id: int,
        tag: str | None,
        value: Any,
        reason: str,
        severity: str = "error",
        *,
        to: list[OsmProblem] | None = None,
    ) -> None:
        """Report a problem of an OSM object (to ``to`` instead, when given)."""
        p = OsmProblem(self.fname, None, tag, value, reason, severity, osm_type=osm_type, osm_id=osm_id)
        (self.problems if to is None else to).append(p)

    # ---- dispatch

    def take(self, obj: Any) -> None:
        """Handle one object of the stream (a node, way, relation or area)."""
        handler = self._handlers.get(type(obj))
        if handler is not None:
            handler(obj)

    # ---- ways: roads, and the checks of building ways

    def missing_nodes(self, way: Any) -> bool:
        """Report the nodes of ``way`` that the extract does not hold (when the way has a node
        near the area: elsewhere it would be left out anyway); True when there are any.
        """
        missing = [n.ref for n in way.nodes if not n.location.valid()]
        if missing and self.area.near_way(way):
            shown = ", ".join(map(str, missing[:5])) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
            self.problem(
                "way",
                way.id,
                None,
                None,
                f"references node{'s' if len(missing) > 1 else ''} {shown}, not in the extract; left out",
            )
        return bool(missing)

    def way(self, way: Any) -> None:
        tags = way.tags
        building = tags.get("building")
        if building is not None and building != "no":
            self.building_way(way)
        highway = tags.get("highway")
        if highway is None or highway in NOT_ROADS or tags.get("area") == "yes":
            return
        try:
            wkb = self.wkb.create_linestring(way)
        except osmium.InvalidLocationError:
            self.missing_nodes(way)
            return
        except RuntimeError:  # libosmium's geometry_error: fewer than two distinct points
            if self.area.near_way(way):
                self.problem("way", way.id, "highway", highway, "a road needs two distinct points; left out")
            return
        name = tags.get("name") or tags.get("name:vi")
        self.roads.add(f"w{way.id}", wkb, (self.text(highway), self.text(name) if name else None))

    def building_way(self, way: Any) -> None:
        """Check a building way: the area assembler makes its polygon when it can (an unclosed
        outline or a missing node gives none, silently), so the reasons are found here.
        """
        try:  # libosmium checks every node's location (a line of them is the cheapest test)
            self.wkb.create_linestring(way)
        except osmium.InvalidLocationError:
            self.missing_nodes(way)
            return
        except RuntimeError:  # fewer than two distinct points
            if self.area.near_way(way):
                self.problem(
                    "way",
                    way.id,
                    "building",
                    way.tags.get("building"),
                    "building outline of fewer than 2 distinct points; left out",
                )
            return
        nodes = way.nodes
        count = len(nodes)
        if self.area.bounds is not None:
            first = nodes[0].location
            if not self.area.near(first.lon, first.lat):
                return  # outside the area: its polygon, if any, would be left out
        if not way.is_closed():
            ends = f"first node {nodes[0].ref}, last node {nodes[count - 1].ref}"
            self.problem(
                "way",
                way.id,
                "building",
                way.tags.get("building"),
                f"building outline is not closed ({ends}); left out",
            )
            return
        if count < 4:
            self.problem(
                "way",
                way.id,
                "building",
                way.tags.get("building"),
                f"building outline of {count} nodes (a closed ring needs 4); left out",
            )
            return
        self.waiting_ways.add(way.id)

    # ---- relations and areas: buildings

    def relation(self, rel: Any) -> None:
        tags = rel.tags
        if tags.get("type") != "multipolygon" or tags.get("building") in (None, "no"):
            return
        self.relation_outers[rel.id] = [m.ref for m in rel.members if m.type == "w" and m.role in ("outer", "")]
        if rel.id in self.relation_areas:
            self.relation_areas.discard(rel.id)
        else:
            self.waiting_relations.add(rel.id)

    def area_object(self, a: Any) -> None:
        """A building polygon assembled by libosmium (from a closed way or a relation)."""
        tags = a.tags
        building = tags.get("building")
        if building is None or building == "no":
            return
        orig = a.orig_id()
        if a.from_way():
            osm_type, osm_id = "way", f"w{orig}"
            self.waiting_ways.discard(orig)
        else:
            osm_type, osm_id = "relation", f"r{orig}"
            if orig in self.waiting_relations:
                self.waiting_relations.discard(orig)
            else:
                self.relation_areas.add(orig)
        try:
            wkb = self.wkb.create_multipolygon(a)
        except (RuntimeError, osmium.InvalidLocationError) as exc:
            self.problem(osm_type, orig, "building", building, f"building polygon cannot be built ({exc}); left out")
            return
        levels = height = math.nan
        notes: list[OsmProblem] = []  # reported if the building is in the area
        text = tags.get("building:levels")
        if text is not None:
            try:
                levels = parse_levels(text)
                if levels > _MAX_BUILDING_LEVELS:
                    raise ParseError(f"{levels:g} levels: more than {_MAX_BUILDING_LEVELS:g}")
            except ParseError as exc:
                self.problem(osm_type, orig, "building:levels", text, f"{exc}; left empty", "warning", to=notes)
                levels = math.nan
        text = tags.get("height")
        if text is not None:
            try:
                height = parse_length(text)
                if not 0.0 < height <= _MAX_BUILDING_HEIGHT_M:
                    raise ParseError(f"a building height must be more than 0 and at most {_MAX_BUILDING_HEIGHT_M:g} m")
            except ParseError as exc:
                self.problem(osm_type, orig, "height", text, f"{exc}; left empty", "warning", to=notes)
                height = math.nan
        self.buildings.add(osm_id, wkb, (self.text(building), levels, height), notes)

    # ---- nodes: security models

    def node(self, node: Any) -> None:
        loc = node.location
        if not self.area.keeps_point(loc.lon, loc.lat):
            return
        tags = node.tags
        if tags.get("man_made") == "surveillance":
            self.camera(node)
        elif tags.get("highway") == "street_lamp":
            self.lamp(node)

    def _common(self, node: Any, kind: str, default_name: str) -> dict[str, Any] | None:
        """The columns every model from a node has; None (reported) when it is outside Vietnam."""
        tags = node.tags
        loc = node.location
        lon, lat = loc.lon, loc.lat
        x0, y0, x1, y1 = VIETNAM_BOUNDS
        if not (x0 <= lon <= x1 and y0 <= lat <= y1):
            self.problem(
                "node",
                node.id,
                None,
                f"{lat:g}, {lon:g}",
                f"{kind} outside Vietnam ({x0:g}-{x1:g}°E, {y0:g}-{y1:g}°N): the model files hold Vietnam's models; left out",
            )
            return None
        rec: dict[str, Any] = dict.fromkeys(MODEL_COLUMNS)
        rec.update(dict.fromkeys(MODEL_EXTRA_COLUMNS))
        rec.update(MODEL_DEFAULTS[kind])
        mid = f"osm-n{node.id}"
        rec.update(id=mid, kind=kind, direction_deg=(), osm_id=f"n{node.id}", source="osm", _lon=lon, _lat=lat)
        for fld in ("fov_deg", "range_m", "radius_m", "height_m"):
            rec[fld] = math.nan
        name = nfc(tags.get("name") or "") or None
        if name is not None and text_problem("name", name):
            self.problem(
                "node",
                node.id,
                "name",
                f"{name[:40]}…",
                f"name {text_problem('name', name)}; the generated name is used",
                "warning",
            )
            name = None
        rec["name"] = name or nfc(f"{default_name} n{node.id}")
        owner = nfc(tags.get("operator") or "") or None
        if owner is not None and text_problem("owner", owner):
            self.problem(
                "node",
                node.id,
                "operator",
                f"{owner[:40]}…",
                f"operator {text_problem('owner', owner)}; left empty",
                "warning",
            )
            owner = None
        rec["owner"] = owner
        for key in ("surveillance", "surveillance:type", "surveillance:zone", "light:direction"):
            v = nfc(tags.get(key) or "") or None
            rec[key] = v[: TEXT_MAX_LENGTH["notes"]] if v else None
        spec = self.specs.get(kind)
        height_key = (
            "height" if "height" in tags else "camera:height" if kind == "camera" and "camera:height" in tags else None
        )
        if height_key:
            text = tags[height_key]
            try:
                h = parse_length(text)
                why = bound_problem(spec, "height_m", h)
                if why:
                    raise ParseError(f"height {h:g} m: {why}")
                rec["height_m"] = h
            except ParseError as exc:
                self.problem("node", node.id, height_key, text, f"{exc}; left empty", "warning")
        return rec

    def camera(self, node: Any) -> None:
        tags = node.tags
        stype = tags.get("surveillance:type")
        if stype is not None and stype.strip().lower() == "guard":
            self.problem("node", node.id, "surveillance:type", stype, "a guard, not a camera; left out", "warning")
            return
        rec = self._common(node, "camera", "Camera OSM")
        if rec is None:
            return
        spec = self.specs.get("camera")
        key = "camera:direction" if "camera:direction" in tags else "direction" if "direction" in tags else None
        directions: tuple[float, ...] = ()
        fov: float | None = None
        if key is not None:
            text = tags[key]
            try:
                directions, fov = parse_camera_direction(text)
            except ParseError as exc:
                self.problem("node", node.id, key, text, f"{exc}; camera left out")
                return
            if len(directions) > MAX_DIRECTIONS:
                self.problem(
                    "node",
                    node.id,
                    key,
                    text,
                    f"{len(directions)} directions; at most {MAX_DIRECTIONS} (one sector each); camera left out",
                )
                return
        ctype = tags.get("camera:type")
        if ctype is not None:
            folded = ctype.strip().lower()
            rec["camera_type"] = _CAMERA_TYPES.get(folded, nfc(ctype)[: TEXT_MAX_LENGTH["camera_type"]])
            if folded in _ALL_AROUND:
                fov = 360.0
        if fov is not None:
            why = bound_problem(spec, "fov_deg", fov)
            if why:
                self.problem(
                    "node", node.id, key, tags.get(key or ""), f"field of view {fov:g} degrees: {why}; camera left out"
                )
                return
            rec["fov_deg"] = fov
        if not directions:
            all_around = fov if fov is not None else (spec.defaults.get("fov_deg", math.nan) if spec else math.nan)
            if not all_around >= 360.0:
                self.problem(
                    "node",
                    node.id,
                    "camera:direction",
                    None,
                    "no camera:direction: a camera's sector needs a direction (unless camera:type is dome or panning); left out",
                )
                return
        rec["direction_deg"] = directions
        if "camera:angle" in tags:  # the tilt from the horizontal: never the field of view
            text = tags["camera:angle"]
            t = text.strip().rstrip("°").strip()
            if _NUMBER.match(t) and -90.0 <= float(t) <= 90.0:
                rec["tilt_deg"] = float(t)
            else:
                self.problem(
                    "node", node.id, "camera:angle", text, "not a tilt in degrees from -90 to 90; left empty", "warning"
                )
        if "camera:resolution" in tags:  # horizontal pixels, or 2MP / 4K (geo_antt.tiers)
            text = tags["camera:resolution"]
            try:
                res = parse_resolution(text)
                why = bound_problem(spec, "resolution_px", res)
                if why:
                    raise ParseError(f"resolution {res:g} px: {why}")
                rec["resolution_px"] = res
            except ParseError as exc:
                self.problem("node", node.id, "camera:resolution", text, f"{exc}; left empty", "warning")
        self.models.append(rec)

    def lamp(self, node: Any) -> None:
        rec = self._common(node, "lighting", "Đèn đường OSM")
        if rec is None:
            return
        tags = node.tags
        if "light:count" in tags:
            text = tags["light:count"]
            t = text.strip()
            if t.isdigit() and 0 < int(t) <= 1000:
                rec["light:count"] = int(t)
            else:
                self.problem(
                    "node",
                    node.id,
                    "light:count",
                    text,
                    "not a number of lights (a whole number such as 2); left empty",
                    "warning",
                )
        self.models.append(rec)

    # ---- the end

    def result(self) -> OsmLayers:
        """The frames and the problems, once the whole file is read."""
        for wid in sorted(self.waiting_ways):
            self.problem(
                "way",
                wid,
                "building",
                None,
                "building outline cannot be made a polygon (it crosses itself or repeats a segment); left out",
            )
        for rid in sorted(self.waiting_relations):
            self.problem(
                "relation",
                rid,
                "building",
                None,
                "multipolygon building cannot be assembled (member ways missing from the extract, or rings that do not close); left out",
            )
        roads = self.roads.frame()
        buildings = self._once(self.buildings.frame(numeric=("levels", "height_m")))
        # in file order: nodes, ways, relations, each by id (a building's value problems are
        # known once its batch is clipped)
        rank = {"node": 0, "way": 1, "relation": 2}
        self.problems.sort(key=lambda p: (rank.get(p.osm_type, 3), p.osm_id or 0))
        return OsmLayers(roads=roads, buildings=buildings, models=self._models_frame(), problems=self.problems)

    def _once(self, buildings: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        """``buildings`` without the ways that are the outline of a building relation kept too."""
        kept = set(buildings.index)
        doubles: dict[str, int] = {}
        for rid in sorted(self.relation_outers):
            if f"r{rid}" not in kept:
                continue  # the relation was not assembled (or lies outside the area): keep its ways
            for wid in self.relation_outers[rid]:
                if f"w{wid}" in kept:
                    doubles.setdefault(f"w{wid}", rid)
        for way_id, rid in doubles.items():
            self.problem(
                "way",
                int(way_id[1:]),
                "building",
                buildings.at[way_id, "building"],
                f"also the outline of building relation {rid}: counted once, as the relation",
                "warning",
            )
        return buildings[~buildings.index.isin(list(doubles))] if doubles else buildings

    def _models_frame(self) -> gpd.GeoDataFrame:
        recs = self.models
        lon = np.array([r.pop("_lon") for r in recs], dtype=float)
        lat = np.array([r.pop("_lat") for r in recs], dtype=float)
        columns = (*MODEL_COLUMNS, *MODEL_EXTRA_COLUMNS)
        numeric = ("fov_deg", "range_m", "radius_m", "height_m", "resolution_px", "tilt_deg")
        data: dict[str, Any] = {}
        for col in columns:
            values = [r[col] for r in recs]
            if col in numeric:
                data[col] = np.asarray(values, dtype=float)
            else:
                data[col] = _object_array(values)
        frame = pd.DataFrame(data)
        frame.index = pd.Index(frame["id"].to_numpy(dtype=object), name="id")
        geometry = shapely.points(lon, lat) if len(recs) else np.array([], dtype=object)
        return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geometry, index=frame.index, crs=WGS84), crs=WGS84)
