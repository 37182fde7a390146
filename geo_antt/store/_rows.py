"""The rows an import writes, built for many records at once: the values of
:func:`~geo_antt.store._base._db_values` and :func:`~geo_antt.store._records.to_json_record`,
equal value for value, with the geometry work (WKB, bounds, GeoJSON of points) vectorised and
the name folded without a Python loop over its characters.
"""

from __future__ import annotations

import datetime as _dt
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import shapely

from ..schema import MODEL_COLUMNS
from ..text import _SPACE
from ._records import to_json_record

__all__ = ["model_values", "json_records", "fold"]


class _Marks(dict[int, int | None]):
    """``str.translate`` table deleting the characters of category Mn (nonspacing marks), filled
    as characters are met.
    """

    def __missing__(self, cp: int) -> int | None:
        keep = None if unicodedata.category(chr(cp)) == "Mn" else cp
        self[cp] = keep
        return keep


_NO_MARKS = _Marks()


def fold(text: str | None) -> str:
    """:func:`geo_antt.text.fold`, the marks deleted by ``str.translate``."""
    if text is None:
        return ""
    s = unicodedata.normalize("NFD", str(text)).translate(_NO_MARKS)
    s = s.replace("đ", "d").replace("Đ", "D").replace("ð", "d").replace("Ð", "D")
    return _SPACE.sub(" ", s.lower()).strip()


def model_values(
    records: Sequence[Mapping[str, Any]],
    *,
    versions: Sequence[int],
    now: _dt.datetime,
    who: str,
    created: bool,
) -> list[dict[str, Any]]:
    """``[_db_values(r, version=v, now=now, who=who, created=created) for r, v in ...]``."""
    geoms = np.array([r.get("geometry") for r in records] + [None], dtype=object)[:-1]  # never 2-D
    wkbs = shapely.to_wkb(geoms).tolist() if len(geoms) else []
    bounds = shapely.bounds(geoms).tolist() if len(geoms) else []
    out: list[dict[str, Any]] = []
    for rec, version, wkb, box in zip(records, versions, wkbs, bounds):
        d = {c: rec.get(c) for c in MODEL_COLUMNS}
        d["direction_deg"] = list(rec.get("direction_deg") or ())
        if wkb is None:
            d["geom"] = d["minx"] = d["miny"] = d["maxx"] = d["maxy"] = None
        else:
            d["geom"] = wkb
            d["minx"], d["miny"], d["maxx"], d["maxy"] = box
        d["search_name"] = fold(rec.get("name")) or None
        d["version"] = version
        d["updated_at"] = now
        d["updated_by"] = who
        if created:
            d["created_at"] = now
            d["created_by"] = who
        else:
            d.pop("id")
        out.append(d)
    return out


def _geojson(geoms: Sequence[Any]) -> list[Any]:
    """``shapely.geometry.mapping`` of each geometry (None kept): 2-D points vectorised."""
    arr = np.array(list(geoms) + [None], dtype=object)[:-1]
    out: list[Any] = [None] * len(arr)
    if not len(arr):
        return out
    flat = (shapely.get_type_id(arr) == 0) & ~shapely.has_z(arr)
    if hasattr(shapely, "has_m"):
        flat &= ~shapely.has_m(arr)
    at = np.flatnonzero(flat)
    xs, ys = shapely.get_x(arr[at]).tolist(), shapely.get_y(arr[at]).tolist()
    for i, x, y in zip(at.tolist(), xs, ys):
        out[i] = {"type": "Point", "coordinates": (x, y)}
    for i in np.flatnonzero(~flat & ~shapely.is_missing(arr)).tolist():
        out[i] = arr[i].__geo_interface__
    return out


def json_records(records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``[to_json_record(r) for r in records]``."""
    geo = _geojson([r.get("geometry") for r in records])
    out: list[dict[str, Any]] = []
    for rec, g in zip(records, geo):
        if "geometry" not in rec or "direction_deg" not in rec:
            out.append(to_json_record(rec))
            continue
        out.append({**rec, "direction_deg": list(rec["direction_deg"] or ()), "geometry": g})
    return out
