"""Pure helpers: one model record in its stored form, its checks, and differences between two.

A *record* is a ``dict`` with the keys of ``MODEL_COLUMNS`` (``id`` included) plus
``geometry`` (a shapely geometry or None), every value normalised: text in NFC (empty -> None),
numbers as ``float`` (missing -> None, never NaN), ``direction_deg`` a tuple of floats in
[0, 360), dates as ISO text, geometry rounded to 7 decimals of a degree (about 1 cm).
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import shapely
import shapely.geometry

from .._errors import GeoAnttError
from ..i18n import msg
from ..layers import MAX_DIRECTIONS, LayerSpec, bound_problem, text_problem
from ..schema import FIELDS, HOSTS, LENSES, MODEL_COLUMNS, STATUSES, lookup_vocab
from ..text import nfc

__all__ = [
    "GEOMETRY_DECIMALS",
    "FLOAT_COLUMNS",
    "TEXT_COLUMNS",
    "normalize_record",
    "check_record",
    "record_diff",
    "to_json_record",
    "normalize_geometry",
    "json_value",
    "round_geometries",
]

GEOMETRY_DECIMALS = 7
FLOAT_COLUMNS = ("fov_deg", "range_m", "radius_m", "height_m", "resolution_px")
TEXT_COLUMNS = ("id", "kind", "name", "field", "host", "status", "unit_code", "camera_type", "lens", "owner", "notes")
DATE_COLUMNS = ("start_date", "end_date")
CAMERA_TYPES = ("fixed", "ptz", "dome")
_FLOAT_TOL = 1e-9


def _missing(v: Any) -> bool:
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    if isinstance(v, (float, np.floating)) and math.isnan(float(v)):
        return True
    return False


def _text(v: Any) -> str | None:
    if _missing(v):
        return None
    s = nfc(str(v))
    return s or None


def _float(v: Any, col: str) -> float | None:
    if _missing(v):
        return None
    if isinstance(v, str):
        if not v.strip():
            return None
        try:
            return float(v.replace(",", "."))
        except ValueError:
            raise _BadValue(col, v, "not a number") from None
    if isinstance(v, (bool, np.bool_)):
        raise _BadValue(col, v, "not a number")
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise _BadValue(col, v, "not a number") from None
    return None if math.isnan(f) else f


def _date(v: Any, col: str) -> str | None:
    if _missing(v):
        return None
    if isinstance(v, pd.Timestamp):
        v = v.to_pydatetime()
    if isinstance(v, _dt.datetime):
        return v.date().isoformat() if v.time() == _dt.time(0) and v.tzinfo is None else v.isoformat()
    if isinstance(v, _dt.date):
        return v.isoformat()
    return _text(v)


def _directions(v: Any) -> tuple[float, ...]:
    if _missing(v):
        return ()
    if isinstance(v, str):
        v = v.strip().strip("[]()")
        parts = [p for p in v.replace(";", ",").replace("|", ",").split(",") if p.strip()]
        v = parts
    if isinstance(v, (int, float, np.integer, np.floating)):
        v = [v]
    out = []
    for d in v:
        f = _float(d, "direction_deg")
        if f is None:
            continue
        if not math.isfinite(f):
            raise _BadValue("direction_deg", d, "not a finite number")
        if not 0.0 <= f <= 360.0:  # as a sheet's cell: a typo (400 for 40?) is not guessed at
            raise _BadValue("direction_deg", d, msg("direction {value:g} outside 0-360 degrees", value=f))
        d = round(f % 360.0, 9)
        out.append(0.0 if d >= 360.0 else d)  # -1e-300 % 360 == 360.0 in floating point
    return tuple(out)


def _data_sharing(v: Any) -> Any:
    if _missing(v):
        return None
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return float(v)
    return _text(v)


class _BadValue(Exception):
    def __init__(self, field: str, value: Any, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.value = value
        self.reason = reason


def normalize_geometry(value: Any, *, rounded: bool = False) -> shapely.Geometry | None:
    """A shapely geometry (or GeoJSON-like mapping, or WKT) rounded to 7 decimals; None if empty.

    ``rounded``: the caller rounded the coordinates already (vectorised, see ``round_geometries``).
    """
    if _missing(value):
        return None
    if isinstance(value, Mapping):
        try:
            value = shapely.geometry.shape(value)
        except Exception as exc:  # shapely raises several types for bad GeoJSON
            raise _BadValue("geometry", dict(value), f"not a GeoJSON geometry ({exc})") from None
    elif isinstance(value, str):
        try:
            value = shapely.from_wkt(value)
        except Exception:
            raise _BadValue("geometry", value, "not WKT") from None
    if not isinstance(value, shapely.Geometry):
        raise _BadValue("geometry", value, "not a geometry")
    if value.is_empty:
        return None
    xy = shapely.get_coordinates(value, include_z=bool(shapely.has_z(value)))
    if not np.isfinite(xy).all() or (np.abs(xy) > 1e9).any():  # rounding 1e308 overflows
        raise _BadValue("geometry", f"{value.wkt:.80}", "coordinates must be finite numbers of degrees")
    if rounded:
        return value
    return shapely.transform(value, lambda c: np.round(c, GEOMETRY_DECIMALS))


def round_geometries(geoms: np.ndarray) -> np.ndarray:
    """Round the coordinates of an array of geometries (None kept) to 7 decimals, vectorised."""
    return shapely.transform(np.asarray(geoms, dtype=object), lambda c: np.round(c, GEOMETRY_DECIMALS))


def normalize_record(raw: Mapping[str, Any], *, partial: bool = False, rounded: bool = False) -> dict[str, Any]:
    """Return ``raw`` in stored form (see the module docstring).

    With ``partial`` only the keys present in ``raw`` are returned (an update); otherwise every
    column is present (missing -> None, ``status`` defaults to ``"active"``).

    Raises
    ------
    GeoAnttError
        For a key that is not a model column, or a value of the wrong type (message names it).
    """
    unknown = sorted(set(raw) - set(MODEL_COLUMNS) - {"geometry"})
    if unknown:
        raise GeoAnttError(
            f"unknown model field(s) {', '.join(map(repr, unknown))}; fields are {', '.join(MODEL_COLUMNS)}, geometry"
        )
    out: dict[str, Any] = {}
    keys = list(raw) if partial else [*MODEL_COLUMNS, "geometry"]
    try:
        for k in keys:
            v = raw.get(k)
            if k in FLOAT_COLUMNS:
                out[k] = _float(v, k)
            elif k in DATE_COLUMNS:
                out[k] = _date(v, k)
            elif k == "direction_deg":
                out[k] = _directions(v)
            elif k == "data_sharing":
                out[k] = _data_sharing(v)
            elif k == "geometry":
                out[k] = normalize_geometry(v, rounded=rounded)
            else:
                out[k] = _text(v)
    except _BadValue as exc:
        raise GeoAnttError(
            msg(
                "field '{field}': {reason} (value {value})",
                field=exc.field,
                reason=exc.reason,
                value=f"{exc.value!r:.200}",
            )
        ) from None
    if not partial and out.get("status") is None:
        out["status"] = "active"
    if out.get("camera_type") is not None:
        out["camera_type"] = out["camera_type"].lower()
    if out.get("lens") is not None:  # a code, a label or an alias ("mắt cá") -> the code
        out["lens"] = lookup_vocab(LENSES, out["lens"]) or out["lens"]
    return out


def check_record(rec: Mapping[str, Any], specs: Mapping[str, LayerSpec]) -> list[tuple[str, Any, str]]:
    """Every problem of a full, normalised record as ``(field, value, reason)`` tuples."""
    problems: list[tuple[str, Any, str]] = []
    if not rec.get("id"):
        problems.append(("id", rec.get("id"), "missing id"))
    kind = rec.get("kind")
    spec = specs.get(kind) if kind else None
    if spec is None:
        problems.append(("kind", kind, msg("unknown kind; known kinds: {known}", known=", ".join(specs))))
    for col, vocab in (("field", FIELDS), ("host", HOSTS), ("status", STATUSES)):
        v = rec.get(col)
        if v is not None and v not in vocab:
            problems.append((col, v, msg("unknown code; codes: {codes}", codes=", ".join(vocab))))
    if rec.get("status") is None:
        problems.append(("status", None, "missing status"))
    for col in FLOAT_COLUMNS:
        reason = bound_problem(spec, col, rec.get(col))
        if reason is not None:
            problems.append((col, rec.get(col), reason))
    dirs = rec.get("direction_deg") or ()
    if len(dirs) > MAX_DIRECTIONS:
        problems.append(
            (
                "direction_deg",
                len(dirs),
                msg("{n} directions; at most {limit} (one sector each)", n=len(dirs), limit=MAX_DIRECTIONS),
            )
        )
    for col, v in rec.items():
        reason = text_problem(col, v)
        if reason is not None:
            problems.append((col, f"{v[:40]}…", reason))
    ct = rec.get("camera_type")
    if ct is not None and ct not in CAMERA_TYPES:
        problems.append(("camera_type", ct, msg("camera type must be one of {types}", types=", ".join(CAMERA_TYPES))))
    lens = rec.get("lens")
    if lens is not None and lens not in LENSES:
        problems.append(("lens", lens, msg("lens must be one of {lenses}", lenses=", ".join(LENSES))))
    geom = rec.get("geometry")
    if spec is not None and spec.spatial and geom is None:
        problems.append(("geometry", None, msg("a {kind} needs a location", kind=kind)))
    if geom is not None:
        if geom.geom_type not in ("Point", "LineString", "MultiPoint", "MultiLineString"):
            problems.append(("geometry", geom.geom_type, "a model is located by a point or a line"))
        else:
            x0, y0, x1, y1 = geom.bounds
            if not (-180.0 <= x0 <= x1 <= 180.0 and -90.0 <= y0 <= y1 <= 90.0):
                problems.append(("geometry", geom.wkt[:80], "coordinates are not lon/lat degrees (EPSG:4326)"))
    return problems


def _same(col: str, a: Any, b: Any) -> bool:
    if col == "geometry":
        if a is None or b is None:
            return a is None and b is None
        return shapely.equals_exact(a, b, tolerance=10.0 ** -(GEOMETRY_DECIMALS + 1))
    if col in FLOAT_COLUMNS:
        if a is None or b is None:
            return a is None and b is None
        if not (math.isfinite(a) and math.isfinite(b)):  # inf is "close" to every number otherwise
            return a == b
        return abs(a - b) <= _FLOAT_TOL * max(1.0, abs(a), abs(b))
    if col == "direction_deg":
        a, b = tuple(a or ()), tuple(b or ())
        return len(a) == len(b) and all(abs(x - y) <= _FLOAT_TOL * 360 for x, y in zip(a, b))
    return a == b


def record_diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """``{column: (old value, new value)}`` for every key of ``new`` whose value differs."""
    return {k: (old.get(k), v) for k, v in new.items() if k != "id" and not _same(k, old.get(k), v)}


def json_value(col: str, v: Any) -> Any:
    """One stored value as a JSON-ready value (geometry -> GeoJSON mapping, tuple -> list)."""
    if col == "geometry":
        return None if v is None else shapely.geometry.mapping(v)
    if col == "direction_deg":
        return list(v or ())
    return v


def to_json_record(rec: Mapping[str, Any]) -> dict[str, Any]:
    """``rec`` with JSON-ready values (geometry as a GeoJSON mapping, tuples as lists)."""
    return {k: json_value(k, v) for k, v in rec.items()}
