"""The collections the web service serves, indexed for fast bbox / unit / paging queries.

A :class:`Catalog` holds named collections (administrative units per level, one per model kind,
footprints, per-hamlet coverage, gaps) as GeoDataFrames in EPSG:4326, each with a spatial index
and its features pre-serialised to RFC 7946 GeoJSON text, so that an items query is an STRtree
look-up plus a string join. Every collection knows, for each feature, the administrative unit it
belongs to, so that ``unit=CODE`` selects that unit and all its descendants (``parent_code``
links).

Scope: every read takes ``allowed``, the unit codes the reader may see (None = everything, the
admin): lists, exports, search, drill-down and figures keep only features linked to those units,
a ``unit`` wholly outside them raises :class:`~geo_antt.PermissionDeniedError` (403), and one
feature outside them raises :class:`~geo_antt.NotFoundError` (404) exactly as an unknown id
(no existence oracle). Features linked to no unit are for admins only.

No Flask here: :mod:`geo_antt.app.ogcapi` and :mod:`geo_antt.app.maps` call it.
"""

from __future__ import annotations

import json
import math
import tempfile
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .._errors import GeoAnttError, NotFoundError, PermissionDeniedError
from ..crs import WGS84
from ..io import json_value
from ..io.geojson import geometry_texts, round_coordinates
from ..layers import LayerSpec
from ..schema import COUNTING_STATUSES, FIELDS, HOSTS, STATUSES, UNIT_LEVELS
from ..stats import street_share_order
from ..text import fold, nfc, strip_unit_type
from ..tiers import tier_of
from ._context import CONTEXT_COLLECTIONS
from .query import OutputCrs
from .query import geometry_texts as crs_geometry_texts

__all__ = [
    "Catalog",
    "Collection",
    "ItemsPage",
    "UNIT_COLLECTIONS",
    "parse_bbox",
    "feature_collection_text",
]

# collection id -> (unit level, Vietnamese title, English title)
UNIT_COLLECTIONS: Mapping[str, tuple[str, str, str]] = {
    "provinces": ("province", "Tỉnh, thành phố", "Provinces"),
    "districts": ("district", "Quận, huyện (trước 7/2025)", "Districts (before 7/2025)"),
    "communes": ("commune", "Xã, phường, đặc khu", "Communes"),
    "hamlets": ("hamlet", "Thôn, ấp, tổ dân phố", "Hamlets"),
}
_DERIVED_TITLES = {
    "footprints": ("Vùng giám sát, chiếu sáng", "Footprints (camera sectors, light and checkpoint discs)"),
    "coverage": ("Tỷ lệ phủ theo thôn", "Coverage per hamlet"),
    "gaps": ("Vùng chưa được phủ", "Coverage gaps"),
}
_DECIMALS = 7  # RFC 7946 advice: 7 decimals of a degree (~1 cm)


def parse_bbox(text: str | None) -> tuple[float, float, float, float] | None:
    """Parse an OGC ``bbox`` parameter ``minLon,minLat,maxLon,maxLat`` (degrees, WGS84).

    Returns None for an absent/empty parameter.

    Raises
    ------
    GeoAnttError
        When it is not four finite numbers, min > max, or outside lon/lat ranges.
    """
    if text is None or not text.strip():
        return None
    parts = text.split(",")
    if len(parts) == 6:  # 3-D bbox: drop the heights
        parts = [parts[0], parts[1], parts[3], parts[4]]
    if len(parts) != 4:
        raise GeoAnttError(f"bbox must be minLon,minLat,maxLon,maxLat (4 numbers in degrees), got {text!r}")
    try:
        vals = tuple(float(p) for p in parts)
    except ValueError:
        raise GeoAnttError(f"bbox must be 4 numbers in degrees, got {text!r}") from None
    minx, miny, maxx, maxy = vals
    if not all(math.isfinite(v) for v in vals):
        raise GeoAnttError(f"bbox values must be finite numbers, got {text!r}")
    if minx > maxx or miny > maxy:
        raise GeoAnttError(f"bbox minimum greater than maximum in {text!r} (order: minLon,minLat,maxLon,maxLat)")
    if not (-180 <= minx <= 180 and -180 <= maxx <= 180 and -90 <= miny <= 90 and -90 <= maxy <= 90):
        raise GeoAnttError(f"bbox outside longitude -180..180 / latitude -90..90 in {text!r}")
    return vals  # type: ignore[return-value]


def _text(v: str) -> str:
    """NFC text; the (common) already-normalised case costs one C call."""
    if unicodedata.is_normalized("NFC", v) and not (v[:1].isspace() or v[-1:].isspace()):
        return v
    return nfc(v)


def _column_values(s: pd.Series) -> list[Any]:
    """JSON-ready values of one column (fast paths by dtype; NaN/NaT -> None)."""
    kind = s.dtype.kind
    if kind == "f":
        a = s.to_numpy(dtype=float)
        out = a.tolist()
        for i in np.flatnonzero(~np.isfinite(a)).tolist():
            out[i] = None
        return out
    if kind in "iub":
        return s.tolist()
    out = s.astype(object).tolist()
    seen: dict[str, str] = {}  # codes (kind, status...) repeat: normalise each once
    for i, v in enumerate(out):
        if v is None:
            continue
        if type(v) is str:
            t = seen.get(v)
            if t is None:
                t = seen[v] = _text(v)
            out[i] = t
        else:
            out[i] = json_value(v)
    return out


def _geometry_json(geoms: np.ndarray) -> list[str]:
    """RFC 7946 geometry texts: coordinates rounded to 7 decimals (never breaking a valid
    geometry), exteriors counter-clockwise.
    """
    out = np.asarray(geoms, dtype=object)
    present = ~shapely.is_missing(out) & ~shapely.is_empty(np.where(shapely.is_missing(out), None, out))  # type: ignore[call-overload]  # numpy's stubs reject x=None
    texts = ["null"] * len(out)
    if present.any():
        g = out[present]
        g = round_coordinates(g, _DECIMALS)
        for i, t in zip(np.flatnonzero(present), geometry_texts(g)):
            texts[i] = t
    return texts


_PROPERTIES = ',"properties":'  # what separates a feature text's geometry from its properties


def _property_texts(frame: gpd.GeoDataFrame) -> list[str]:
    """The ``properties`` member of each row as JSON text (every column but the geometry)."""
    cols = [c for c in frame.columns if c != frame.geometry.name]
    values = [_column_values(frame[c]) for c in cols]
    return [
        json.dumps({c: vals[k] for c, vals in zip(cols, values)}, ensure_ascii=False, allow_nan=False)
        for k in range(len(frame))
    ]


def _feature_texts(frame: gpd.GeoDataFrame) -> list[str]:
    geoms = _geometry_json(frame.geometry.values)
    ids = [json.dumps(str(i), ensure_ascii=False) for i in frame.index]
    props = _property_texts(frame)
    return [
        '{"type":"Feature","id":' + ids[k] + ',"geometry":' + geoms[k] + _PROPERTIES + props[k] + "}"
        for k in range(len(frame))
    ]


_GEOMETRY = ',"geometry":'  # what separates a feature text's id from its geometry


def _with_geometry(text: str, geometry: str) -> str:
    """A feature text with its ``geometry`` replaced (the id text never holds the separator:
    its quotes are escaped).
    """
    a = text.index(_GEOMETRY) + len(_GEOMETRY)
    return text[:a] + geometry + text[text.index(_PROPERTIES, a) :]


def _with_properties(text: str, properties: str) -> str:
    """A feature text with its ``properties`` replaced (id and geometry text kept as they are).

    The properties member is the last one of a feature text and the geometry JSON never holds
    the separator, so its first occurrence is the one.
    """
    k = text.index(_PROPERTIES)
    return text[:k] + _PROPERTIES + properties + "}"


def feature_collection_text(features: Iterable[str], *, extra: Mapping[str, Any] | None = None) -> str:
    """Join pre-serialised features into a GeoJSON FeatureCollection text (``extra`` members
    such as numberMatched, links are written after ``features``).
    """
    tail = ""
    if extra:
        tail = "," + json.dumps(extra, ensure_ascii=False)[1:-1]
    return '{"type":"FeatureCollection","features":[' + ",".join(features) + "]" + tail + "}"


@dataclass
class ItemsPage:
    """One page of an items query: the features (GeoJSON texts) and how many matched in all."""

    features: list[str]
    number_matched: int
    offset: int
    limit: int

    @property
    def number_returned(self) -> int:
        return len(self.features)


_MAX_CHUNKS = 32  # extra rows kept in more frames than this are gathered into one


class _Table:
    """Rows of a frame with their unit links, updated copy-on-write.

    A table is a *base* (a frame, its sort keys, its unit links; never changed once built, so
    its spatial index is built once) plus a patch: the base rows removed since, and the *extra*
    rows added since (kept in the frames they came in, "chunks", with arrays of their keys,
    links, geometries and ids sorted by key; gathered into one frame only when asked for).
    Reads see the merged rows in key order, exactly as if the table had been built from them;
    :meth:`with_changes` returns a new table sharing the base, so a reader holding the old
    table keeps a consistent view.
    """

    def __init__(
        self,
        frame: gpd.GeoDataFrame,
        links: np.ndarray,
        *,
        keys: np.ndarray | None = None,
        _removed: np.ndarray | None = None,
        _extra: dict[str, Any] | None = None,
    ) -> None:
        self.base = frame
        self.base_links = np.asarray(links, dtype=object)
        self.base_keys = np.arange(len(frame)) if keys is None else np.asarray(keys)
        n = len(frame)
        self.removed = np.zeros(n, dtype=bool) if _removed is None else _removed
        if _extra is None:
            e = np.array([], dtype=np.int64)
            o = np.array([], dtype=object)
            _extra = {"chunks": (), "chunk": e, "row": e, "keys": self.base_keys[:0], "links": o, "geoms": o, "ids": o}
        self.x_chunks: tuple[gpd.GeoDataFrame, ...] = _extra["chunks"]
        self.x_chunk, self.x_row = _extra["chunk"], _extra["row"]
        self.x_keys, self.x_links, self.x_geoms, self.x_ids = (
            _extra["keys"],
            _extra["links"],
            _extra["geoms"],
            _extra["ids"],
        )
        surv = np.flatnonzero(~self.removed)
        m = len(self.x_keys)
        if m == 0 and len(surv) == n:
            self.src = None  # no patch: merged rows are the base rows
            self.base_to_merged = None
            self.x_pos = np.array([], dtype=np.int64)
            self.size = n
            return
        if m:
            # surviving base rows before each extra row: base rows before it minus removed ones
            at = np.searchsorted(self.base_keys, self.x_keys)
            ins = at - np.searchsorted(np.flatnonzero(self.removed), at)
        else:
            ins = np.array([], dtype=np.int64)
        self.x_pos = ins + np.arange(m)
        self.size = len(surv) + m
        is_x = np.zeros(self.size, dtype=bool)
        is_x[self.x_pos] = True
        src = np.empty(self.size, dtype=np.int64)
        src[self.x_pos] = ~np.arange(m)
        src[~is_x] = surv
        self.src = src
        b2m = np.full(n, -1, dtype=np.int64)
        b2m[surv] = np.flatnonzero(~is_x)
        self.base_to_merged = b2m

    @property
    def patched(self) -> bool:
        return self.src is not None

    @property
    def n_extra(self) -> int:
        return len(self.x_keys)

    def _extras(self, xi: np.ndarray) -> gpd.GeoDataFrame:
        """Extra rows ``xi`` (indices in key order) as a frame, in that order."""
        xi = np.asarray(xi, dtype=np.int64)
        if not len(xi):
            return self.base.iloc[:0]
        ch, rw = self.x_chunk[xi], self.x_row[xi]
        parts, where = [], []
        for c in np.unique(ch):
            sel = np.flatnonzero(ch == c)
            parts.append(self.x_chunks[c].take(rw[sel]))
            where.append(sel)
        return _reorder(parts, where, self.base)

    @cached_property
    def x_frame(self) -> gpd.GeoDataFrame:
        """Every extra row, in key order."""
        return self._extras(np.arange(self.n_extra))

    @cached_property
    def _x_index(self) -> dict[str, int]:
        return {str(v): i for i, v in enumerate(self.x_ids)}

    @cached_property
    def frame(self) -> gpd.GeoDataFrame:
        """The merged rows as one frame (built on first use after a change)."""
        if not self.patched:
            return self.base
        return self.take(np.arange(self.size))

    @cached_property
    def links(self) -> np.ndarray:
        if self.src is None:  # not patched
            return self.base_links
        out = np.empty(self.size, dtype=object)
        b = self.src >= 0
        out[b] = self.base_links[self.src[b]]
        out[self.x_pos] = self.x_links
        return out

    @cached_property
    def geometries(self) -> np.ndarray:
        if self.src is None:  # not patched
            return np.asarray(self.base.geometry.to_numpy(), dtype=object)
        out = np.empty(self.size, dtype=object)
        b = self.src >= 0
        out[b] = self.base.geometry.to_numpy()[self.src[b]]
        out[self.x_pos] = self.x_geoms
        return out

    @cached_property
    def keys(self) -> np.ndarray:
        if self.src is None:  # not patched
            return self.base_keys
        out = np.empty(self.size, dtype=self.base_keys.dtype)
        b = self.src >= 0
        out[b] = self.base_keys[self.src[b]]
        out[self.x_pos] = self.x_keys
        return out

    def query(self, geoms: Any, *, predicate: str = "intersects") -> np.ndarray:
        """Sorted merged positions of the rows whose geometry meets any of ``geoms``."""
        geoms = np.atleast_1d(np.asarray(geoms, dtype=object))
        hit = (
            np.unique(self.base.sindex.query(geoms, predicate=predicate)[1])
            if len(self.base)
            else np.array([], dtype=np.int64)
        )
        if self.base_to_merged is not None:  # patched
            hit = self.base_to_merged[hit]
            hit = hit[hit >= 0]
            if self.n_extra:
                ok = ~shapely.is_missing(self.x_geoms)
                if ok.any():
                    xi = np.flatnonzero(ok)
                    _, xj = shapely.STRtree(self.x_geoms[xi]).query(geoms, predicate=predicate)
                    hit = np.concatenate([hit, self.x_pos[xi[np.unique(xj)]]])
            hit = np.sort(hit)
        return hit.astype(np.int64)

    def locate(self, fid: str) -> int | None:
        """Merged position of the row with index label ``fid`` (None when absent)."""
        if self.n_extra:
            xi = self._x_index.get(str(fid))
            if xi is not None:
                return int(self.x_pos[xi])
        try:
            i = self.base.index.get_loc(fid)
        except KeyError:
            return None
        if not isinstance(i, (int, np.integer)):
            raise NotFoundError(f"feature id {fid!r} is not unique")
        if self.base_to_merged is None:  # not patched
            return int(i)
        j = int(self.base_to_merged[int(i)])
        return None if j < 0 else j

    def rows(self, labels: Sequence[str]) -> gpd.GeoDataFrame:
        """The rows with these index labels (those present), as a frame in the given order."""
        pos = [p for p in (self.locate(str(x)) for x in labels) if p is not None]
        return self.take(np.asarray(pos, dtype=np.int64))

    def take(self, pos: np.ndarray) -> gpd.GeoDataFrame:
        """The rows at merged positions ``pos`` (without building the merged frame)."""
        pos = np.asarray(pos, dtype=np.int64)
        if self.src is None:  # not patched
            return self.base.take(pos)
        s = self.src[pos]
        b = s >= 0
        parts, where = [], []
        if b.any():
            parts.append(self.base.take(s[b]))
            where.append(np.flatnonzero(b))
        if (~b).any():
            parts.append(self._extras(~s[~b]))
            where.append(np.flatnonzero(~b))
        if not parts:
            return self.base.iloc[:0]
        return _reorder(parts, where, self.base)

    def key_positions(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(base positions, extra positions) of the rows holding ``keys`` (absent keys skipped)."""
        keys = np.asarray(keys, dtype=self.base_keys.dtype)
        out = []
        for arr in (self.base_keys, self.x_keys):
            if len(arr) == 0 or len(keys) == 0:
                out.append(np.array([], dtype=np.int64))
                continue
            p = np.searchsorted(arr, keys)
            ok = p < len(arr)
            ok[ok] = arr[p[ok]] == keys[ok]
            out.append(p[ok].astype(np.int64))
        return out[0], out[1]

    def key_range(self, lo: Any, hi: Any) -> np.ndarray:
        """Keys in ``[lo, hi)`` (base rows not removed, and extra rows)."""
        a, b = np.searchsorted(self.base_keys, [lo, hi])
        base = np.arange(a, b)
        base = base[~self.removed[base]]
        c, d = np.searchsorted(self.x_keys, [lo, hi]) if self.n_extra else (0, 0)
        return np.concatenate([self.base_keys[base], self.x_keys[c:d]])

    def with_changes(
        self, *, remove: np.ndarray, add: gpd.GeoDataFrame, add_keys: np.ndarray, add_links: np.ndarray
    ) -> _Table:
        """A new table without the rows keyed ``remove`` and with the rows ``add`` (keyed
        ``add_keys``; a key may be removed and added again: a replaced row). The base is shared.
        """
        bpos, xpos = self.key_positions(np.asarray(remove))
        removed = self.removed.copy()
        removed[bpos] = True
        keep = np.ones(self.n_extra, dtype=bool)
        keep[xpos] = False
        add_keys = np.asarray(add_keys, dtype=self.base_keys.dtype)
        bcheck, _ = self.key_positions(add_keys)
        if (~removed[bcheck]).any():
            raise GeoAnttError("table update adds a key that is already present")
        chunks = self.x_chunks
        new = {
            "chunk": [self.x_chunk[keep]],
            "row": [self.x_row[keep]],
            "keys": [self.x_keys[keep]],
            "links": [self.x_links[keep]],
            "geoms": [self.x_geoms[keep]],
            "ids": [self.x_ids[keep]],
        }
        if len(add):
            add = _align(add, self.base)
            new["chunk"].append(np.full(len(add), len(chunks), dtype=np.int64))
            new["row"].append(np.arange(len(add), dtype=np.int64))
            new["keys"].append(add_keys)
            new["links"].append(np.asarray(add_links, dtype=object))
            new["geoms"].append(np.asarray(add.geometry.to_numpy(), dtype=object))
            new["ids"].append(add.index.to_numpy(dtype=object))
            chunks = chunks + (add,)
        x: dict[str, Any] = {k: np.concatenate(v) for k, v in new.items()}
        x["keys"] = x["keys"].astype(self.base_keys.dtype, copy=False)
        order = np.argsort(x["keys"], kind="stable")
        x = {k: v[order] for k, v in x.items()}
        sk = x["keys"]
        if len(sk) > 1 and not np.all(sk[1:] != sk[:-1]):
            raise GeoAnttError("table update adds a key twice")
        used, x["chunk"] = np.unique(x["chunk"], return_inverse=True)
        chunks = tuple(chunks[int(c)] for c in used)
        x["chunks"] = chunks
        out = _Table(self.base, self.base_links, keys=self.base_keys, _removed=removed, _extra=x)
        if len(chunks) > _MAX_CHUNKS:  # gather the extra rows into one frame
            x = dict(x, chunks=(out.x_frame,), chunk=np.zeros(len(sk), dtype=np.int64), row=np.arange(len(sk)))
            out = _Table(self.base, self.base_links, keys=self.base_keys, _removed=removed, _extra=x)
        return out

    def compacted(self) -> _Table:
        """The same rows as a new base without a patch (its index is rebuilt on first query)."""
        if not self.patched:
            return self
        frame = self.frame.copy()
        return _Table(frame, self.links, keys=self.keys)


def _reorder(parts: list[gpd.GeoDataFrame], where: list[np.ndarray], like: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Frames ``parts`` whose rows go to positions ``where`` of the result, as one frame."""
    both = pd.concat(parts) if len(parts) > 1 else parts[0]
    idx = np.concatenate(where)
    if not np.array_equal(idx, np.arange(len(idx))):
        back = np.empty(len(idx), dtype=np.int64)
        back[idx] = np.arange(len(idx))
        both = both.take(back)
    return _geo(both, like)


def _geo(frame: pd.DataFrame, like: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """``frame`` as a GeoDataFrame with the geometry column and CRS of ``like``."""
    if isinstance(frame, gpd.GeoDataFrame) and frame.geometry.name == like.geometry.name:
        return frame
    return gpd.GeoDataFrame(frame, geometry=like.geometry.name, crs=like.crs)


def _align(add: gpd.GeoDataFrame, like: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """``add`` with the columns (order, and dtype where it converts) of ``like``."""
    if not len(add):
        return like.iloc[:0]
    if list(add.columns) != list(like.columns):
        if set(add.columns) != set(like.columns):
            raise GeoAnttError(f"rows with columns {sorted(add.columns)} cannot join a table of {sorted(like.columns)}")
        add = add[list(like.columns)]
    want, have = like.dtypes, add.dtypes
    for c in [c for c, a, b in zip(like.columns, want, have) if a != b and c != like.geometry.name]:
        try:
            add = add.astype({c: want[c]})
        except (TypeError, ValueError):
            pass
    return add


class _MergedTexts(Sequence[str]):
    """The feature texts of a patched collection in merged order (base list + extra list)."""

    def __init__(self, table: _Table, base: list[str], extra: list[str]) -> None:
        assert table.src is not None  # a patched table
        self._src, self._base, self._extra = table.src, base, extra

    def __len__(self) -> int:
        return len(self._src)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        s = int(self._src[i])
        return self._base[s] if s >= 0 else self._extra[~s]


class Collection:
    """One collection: a frame in EPSG:4326, its features as GeoJSON texts, and for each feature
    the code of the unit it belongs to (``unit_codes``, "" when none).

    A collection never changes once built: :meth:`with_changes` makes a new one that shares
    the unchanged rows, their texts and their spatial index with this one.
    """

    def __init__(
        self,
        *,
        id: str,
        title_vi: str,
        title_en: str,
        group: str,
        frame: gpd.GeoDataFrame,
        unit_codes: Sequence[str] | np.ndarray,
        features: list[str],
        spec: LayerSpec | None = None,
        keys: np.ndarray | None = None,
        _table: _Table | None = None,
        _texts: tuple[list[str], list[str]] | None = None,
    ) -> None:
        self.id, self.title_vi, self.title_en, self.group, self.spec = id, title_vi, title_en, group, spec
        self._table = _table if _table is not None else _Table(frame, np.asarray(unit_codes, dtype=object), keys=keys)
        self._texts = _texts if _texts is not None else (features, [])

    def __repr__(self) -> str:
        return f"<Collection {self.id} ({self.group}): {len(self)} features>"

    def __len__(self) -> int:
        return self._table.size

    def __bool__(self) -> bool:  # a collection is there even when empty
        return True

    def title(self, lang: str = "vi") -> str:
        return self.title_en if lang == "en" else self.title_vi

    @property
    def frame(self) -> gpd.GeoDataFrame:
        """The features as a frame (EPSG:4326, in the collection's order)."""
        return self._table.frame

    @property
    def unit_codes(self) -> np.ndarray:
        return self._table.links

    @cached_property
    def features(self) -> Sequence[str]:
        """GeoJSON text of each feature, in the collection's order."""
        base, extra = self._texts
        return base if not self._table.patched else _MergedTexts(self._table, base, extra)

    @cached_property
    def extent(self) -> tuple[float, float, float, float] | None:
        """Bounds (degrees) of the features with a geometry; None when there is none."""
        return _bounds(self._table.geometries)

    def positions(
        self,
        *,
        bbox: tuple[float, float, float, float] | None = None,
        unit_codes: frozenset[str] | None = None,
        region: Any = None,
    ) -> np.ndarray:
        """Sorted row positions matching the bbox (intersects), the region (a lon/lat
        geometry: intersects) and the unit set.
        """
        pos = None
        for g in ([shapely.box(*bbox)] if bbox is not None else []) + ([region] if region is not None else []):
            hit = self._table.query(g)
            pos = hit if pos is None else np.intersect1d(pos, hit)
        if pos is None:
            pos = np.arange(len(self))
        if unit_codes is not None and self.group != "context":
            keep = pd.Index(self.unit_codes[pos]).isin(list(unit_codes))
            pos = pos[np.asarray(keep, dtype=bool)]
        return pos

    def page(
        self,
        *,
        bbox: tuple[float, float, float, float] | None = None,
        unit_codes: frozenset[str] | None = None,
        limit: int,
        offset: int,
        region: Any = None,
        where: Callable[[gpd.GeoDataFrame], Any] | None = None,
        crs: OutputCrs | None = None,
    ) -> ItemsPage:
        """Features ``offset`` .. ``offset + limit`` of the matches, in frame order (stable paging).

        ``where``: a function of the matching rows (a frame, lon/lat) returning a boolean mask
        of those to keep (a filter: it only narrows the matches). ``crs``: the page's geometries
        written in that CRS (None or CRS84: the stored texts).
        """
        pos = self.positions(bbox=bbox, unit_codes=unit_codes, region=region)
        if where is not None and len(pos):
            keep = np.asarray(where(self._table.take(pos)), dtype=bool)
            pos = pos[keep]
        sel = pos[offset : offset + limit]
        feats = self.features
        texts = [feats[i] for i in sel]
        if crs is not None and not crs.is_crs84 and len(sel):
            geoms = crs_geometry_texts(self._table.geometries[sel], crs)
            texts = [_with_geometry(t, g) for t, g in zip(texts, geoms)]
        return ItemsPage(texts, int(len(pos)), offset, limit)

    def feature(self, fid: str, *, allowed: frozenset[str] | None = None, crs: OutputCrs | None = None) -> str:
        """GeoJSON text of feature ``fid``; :class:`NotFoundError` when absent or when its unit
        is not in ``allowed`` (None: all): the same error and message, so that ids of other
        areas cannot be told from unknown ids.
        """
        try:
            i = self._table.locate(fid)
        except NotFoundError:
            raise NotFoundError(f"collection {self.id!r}: feature id {fid!r} is not unique") from None
        if i is None or (allowed is not None and self.group != "context" and str(self.unit_codes[i]) not in allowed):
            raise NotFoundError(f"collection {self.id!r} has no feature {fid!r}")
        if crs is not None and not crs.is_crs84:
            return _with_geometry(self.features[i], crs_geometry_texts(self._table.geometries[i : i + 1], crs)[0])
        return self.features[i]

    def bounds(self, *, allowed: frozenset[str] | None = None) -> tuple[float, float, float, float] | None:
        """Bounds (degrees) of the features in ``allowed`` (None: :attr:`extent`)."""
        if allowed is None or self.group == "context":
            return self.extent
        return _bounds(self._table.geometries[self.positions(unit_codes=allowed)])

    # -- copy-on-write updates (geo_antt.catalog.live) --------------------------------------
    @property
    def keys(self) -> np.ndarray:
        """The sort key of each feature (the collection's order is the order of its keys)."""
        return self._table.keys

    def with_changes(
        self,
        *,
        remove: np.ndarray,
        add: gpd.GeoDataFrame,
        add_keys: np.ndarray,
        add_links: np.ndarray,
        add_texts: list[str] | None = None,
        compact_above: int | None = None,
    ) -> Collection:
        """A new collection without the features keyed ``remove`` and with the rows ``add``
        (sorted by ``add_keys``; texts made from them unless given). This one is unchanged.
        With more than ``compact_above`` changed rows in all, the new one is compacted (one
        frame, one text list; its spatial index is rebuilt on first use).
        """
        texts = _feature_texts(add) if add_texts is None else list(add_texts)
        table = self._table.with_changes(remove=remove, add=add, add_keys=add_keys, add_links=add_links)
        # the extra texts follow the extra rows (sorted by key): rebuild that list
        old_x = dict(zip(self._table.x_keys.tolist(), self._texts[1]))
        new_x = dict(zip(np.asarray(add_keys, dtype=self._table.base_keys.dtype).tolist(), texts))
        extra = [new_x[k] if k in new_x else old_x[k] for k in table.x_keys.tolist()]
        out = Collection(
            id=self.id,
            title_vi=self.title_vi,
            title_en=self.title_en,
            group=self.group,
            frame=self._table.base,
            unit_codes=(),
            features=[],
            spec=self.spec,
            _table=table,
            _texts=(self._texts[0], extra),
        )
        if compact_above is not None and table.n_extra + int(table.removed.sum()) > compact_above:
            out = out.compacted()
        return out

    def compacted(self) -> Collection:
        """The same features without a patch."""
        if not self._table.patched:
            return self
        feats = self.features
        texts = [feats[i] for i in range(len(self))]
        return Collection(
            id=self.id,
            title_vi=self.title_vi,
            title_en=self.title_en,
            group=self.group,
            frame=self._table.frame,
            unit_codes=(),
            features=texts,
            spec=self.spec,
            _table=self._table.compacted(),
            _texts=(texts, []),
        )

    def with_texts(self, replaced: Mapping[int, str]) -> Collection:
        """A new collection whose base features at these positions have new texts (rows
        unchanged); only for a collection without a patch.
        """
        if self._table.patched:
            raise GeoAnttError("with_texts needs a collection without a patch")
        texts = list(self._texts[0])
        for i, t in replaced.items():
            texts[i] = t
        return Collection(
            id=self.id,
            title_vi=self.title_vi,
            title_en=self.title_en,
            group=self.group,
            frame=self._table.base,
            unit_codes=(),
            features=texts,
            spec=self.spec,
            _table=self._table,
            _texts=(texts, []),
        )


def _bounds(geoms: np.ndarray) -> tuple[float, float, float, float] | None:
    g = np.asarray(geoms, dtype=object)
    if len(g):
        g = g[~shapely.is_missing(g)]
    if len(g):
        g = g[~shapely.is_empty(g)]
    if not len(g):
        return None
    b = shapely.bounds(g)
    return (float(np.min(b[:, 0])), float(np.min(b[:, 1])), float(np.max(b[:, 2])), float(np.max(b[:, 3])))


def _link_codes(
    frame: gpd.GeoDataFrame, units: gpd.GeoDataFrame, *, model_links: pd.Series | None = None
) -> np.ndarray:
    """The unit code each feature belongs to: a ``unit_code``/``hamlet_code`` column, else the
    model it derives from (``model_id`` column), else the deepest unit containing its
    representative point.
    """
    for col in ("unit_code", "hamlet_code"):
        if col in frame.columns:  # the common case: every feature names its unit
            v = frame[col].to_numpy(dtype=object)
            if all(type(x) is str and x for x in v):
                return v.copy()
            break
    codes = pd.Series([""] * len(frame), index=frame.index, dtype=object)
    for col in ("unit_code", "hamlet_code"):
        if col in frame.columns:
            v = frame[col].astype(object)
            ok = v.notna() & (v.astype(str) != "")
            codes[ok] = v[ok].astype(str)
            break
    if model_links is not None:
        key = frame["model_id"] if "model_id" in frame.columns else pd.Series(frame.index, index=frame.index)
        missing = codes == ""
        codes[missing] = key[missing].map(model_links).fillna("").astype(str)
    missing = (codes == "").to_numpy()
    geom = frame.geometry.to_numpy()
    has_geom = missing & ~shapely.is_missing(geom)
    if has_geom.any() and len(units):
        has_geom[has_geom] = ~shapely.is_empty(geom[has_geom])
    if has_geom.any() and len(units):
        pts = shapely.point_on_surface(geom[has_geom])
        depth = units["level"].map({lv: i for i, lv in enumerate(UNIT_LEVELS)}).fillna(-1).to_numpy()
        tree = shapely.STRtree(units.geometry.to_numpy())
        pi, ui = tree.query(pts, predicate="within")
        best: dict[int, int] = {}
        for p, u in zip(pi, ui):
            if p not in best or depth[u] > depth[best[p]]:
                best[p] = u
        idx = np.flatnonzero(has_geom)
        ucodes = units.index.to_numpy()
        for p, u in best.items():
            codes.iat[idx[p]] = str(ucodes[u])
    return codes.to_numpy(dtype=object)


class Catalog:
    """Named collections over one dataset and its coverage, with unit hierarchy look-ups.

    Parameters
    ----------
    units
        Units frame (schema.UNIT_COLUMNS, index ``code``, EPSG:4326).
    models
        Models frame (schema.MODEL_COLUMNS, index ``id``, EPSG:4326).
    specs
        ``{kind: LayerSpec}`` (geo_antt.layers.load_layer_specs).
    coverage
        A coverage result with ``.units`` (per-unit figures, index = unit code), ``.gaps`` and
        ``.footprints`` frames, or None (no coverage collections).
    context
        Context layers ``{"roads": frame, "buildings": frame}`` (:func:`geo_antt.catalog.context_layers`):
        collections of the group ``context``, public to every reader (no unit scope; ``unit=``
        keeps the features within the unit's bounding box).
    """

    def __init__(
        self,
        units: gpd.GeoDataFrame,
        models: gpd.GeoDataFrame,
        *,
        specs: Mapping[str, LayerSpec],
        coverage: Any = None,
        context: Mapping[str, gpd.GeoDataFrame] | None = None,
    ) -> None:
        self.specs = specs
        self.excluded_models: tuple[dict[str, str], ...] = ()  # left out by catalog.live (bad parameters)
        self.roads: gpd.GeoDataFrame | None = None  # the streets of the coverage figures (catalog.live)
        self.tier: str | None = None  # the cameras' tier of this catalog's coverage (catalog.live.tier_catalog)
        # the buildings its coverage is occluded by (lon/lat), or None (catalog.live.build_catalog)
        self.buildings: gpd.GeoDataFrame | None = None
        self.units = _wgs84(units, "units")
        self.units.index = self.units.index.astype(str)
        models = _wgs84(models, "models")
        models.index = models.index.astype(str)
        self._children: dict[str, list[str]] = {}
        for code, parent in zip(self.units.index, self.units["parent_code"].astype(object)):
            if parent is not None and not (isinstance(parent, float) and math.isnan(parent)) and str(parent):
                self._children.setdefault(str(parent), []).append(code)
        self._name_fold = [fold(n) for n in self.units["name"].astype(str)]
        self._name_bare = [strip_unit_type(n) for n in self._name_fold]  # without "xa", "ap"...
        self.collections: dict[str, Collection] = {}

        for cid, (level, vi, en) in UNIT_COLLECTIONS.items():
            f = self.units[self.units["level"] == level]
            if len(f):
                self._add(cid, vi, en, "units", f, f.index.to_numpy(dtype=object))

        model_links = pd.Series(_link_codes(models, self.units), index=models.index)
        self._models = _Table(models, model_links.to_numpy(dtype=object))
        kinds = list(specs)
        present = set(models["kind"].astype(str)) if len(models) else set()
        for kind in kinds:
            spec = specs[kind]
            if not spec.spatial and kind not in present:
                continue
            f = models[models["kind"] == kind]
            self._add(
                kind,
                spec.title_vi,
                spec.title_en,
                "models",
                f,
                model_links.reindex(f.index).to_numpy(dtype=object),
                spec=spec,
            )

        self._live: Any = None  # geo_antt.catalog.live state of a catalog that follows a store
        if coverage is not None:
            cu = _wgs84(coverage.units, "coverage units")
            if "code" in cu.columns:
                cu = cu.set_index(cu["code"].astype(str).rename("code"))
            cu.index = cu.index.astype(str)
            if "covered_pct" not in cu.columns and {"area_m2", "covered_m2"} <= set(cu.columns):
                cu["covered_pct"] = 100.0 * cu["covered_m2"] / cu["area_m2"].where(cu["area_m2"] > 0)
            if "level" not in cu.columns:
                cu["level"] = self.units["level"].reindex(cu.index)
            if "name" not in cu.columns:
                cu["name"] = self.units["name"].reindex(cu.index)
            self._add("coverage", *_DERIVED_TITLES["coverage"], "coverage", cu, cu.index.to_numpy(dtype=object))
            for cid in ("footprints", "gaps"):
                f = getattr(coverage, cid, None)
                if f is None:
                    continue
                f = _wgs84(f, cid)
                f.index = f.index.astype(str)
                links = _link_codes(f, self.units, model_links=model_links if cid == "footprints" else None)
                self._add(cid, *_DERIVED_TITLES[cid], cid, f, links)
        for cid, f in (context or {}).items():
            vi, en, _ = CONTEXT_COLLECTIONS[cid]
            self._add(cid, vi, en, "context", _wgs84(f, cid), np.full(len(f), "", dtype=object))

    # -- building -------------------------------------------------------------------------
    def _add(self, cid, vi, en, group, frame, links, *, spec=None) -> None:
        frame = frame.copy()
        _ = frame.sindex  # build the STRtree now, not on the first request
        self.collections[cid] = Collection(
            id=cid,
            title_vi=vi,
            title_en=en,
            group=group,
            frame=frame,
            unit_codes=np.asarray(links, dtype=object),
            features=_feature_texts(frame),
            spec=spec,
        )

    @property
    def models(self) -> gpd.GeoDataFrame:
        """Every model (index ``id``, EPSG:4326)."""
        return self._models.frame

    @property
    def model_links(self) -> pd.Series:
        """The unit code each model belongs to (index ``id``)."""
        return pd.Series(self._models.links, index=self._models.frame.index)

    @property
    def coverage_units(self) -> gpd.GeoDataFrame | None:
        """Coverage figures per unit (index = unit code), or None without coverage."""
        col = self.collections.get("coverage")
        return None if col is None else col.frame

    # -- look-ups -------------------------------------------------------------------------
    def get(self, cid: str) -> Collection:
        """Return collection ``cid``; :class:`NotFoundError` when there is none."""
        try:
            return self.collections[cid]
        except KeyError:
            known = ", ".join(self.collections)
            raise NotFoundError(f"unknown collection {cid!r}; known: {known}") from None

    def unit(self, code: str) -> pd.Series:
        """The row of unit ``code``; :class:`NotFoundError` when unknown."""
        if code not in self.units.index:
            raise NotFoundError(f"unknown unit code {code!r}")
        return self.units.loc[code]

    def descendants(self, code: str) -> frozenset[str]:
        """``code`` and the codes of all units below it (parent_code links)."""
        self.unit(code)
        out, stack = {code}, [code]
        while stack:
            for c in self._children.get(stack.pop(), ()):
                if c not in out:
                    out.add(c)
                    stack.append(c)
        return frozenset(out)

    def ancestors(self, code: str) -> list[str]:
        """Codes above ``code``, nearest first."""
        out: list[str] = []
        cur = self.unit(code)["parent_code"]
        while isinstance(cur, str) and cur and cur in self.units.index and cur not in out:
            out.append(cur)
            cur = self.units.loc[cur, "parent_code"]
        return out

    def scoped(self, unit: str | None, allowed: frozenset[str] | None) -> frozenset[str] | None:
        """Unit codes to keep for ``unit`` (and below) read by someone allowed ``allowed``.

        None = no filter. Raises :class:`NotFoundError` for an unknown ``unit`` and
        :class:`PermissionDeniedError` when ``unit`` and its descendants are all outside
        ``allowed`` (a larger area than ``allowed`` is fine: only the allowed part is kept).
        """
        if unit is None:
            return allowed
        codes = self.descendants(unit)
        if allowed is None:
            return codes
        inside = codes & allowed
        if not inside:
            raise PermissionDeniedError(f"unit {unit} lies outside your area")
        return frozenset(inside)

    def items(
        self,
        cid: str,
        *,
        bbox: tuple[float, float, float, float] | None = None,
        unit: str | None = None,
        limit: int = 1000,
        offset: int = 0,
        allowed: frozenset[str] | None = None,
        region: Any = None,
        where: Callable[[gpd.GeoDataFrame], Any] | None = None,
        crs: OutputCrs | None = None,
    ) -> ItemsPage:
        """One page of collection ``cid``.

        Parameters
        ----------
        cid
            Collection id.
        bbox
            (min lon, min lat, max lon, max lat) in degrees: features intersecting it.
        unit
            Unit code: features of that unit and of every unit below it.
        limit, offset
            Page size and start (features, in the collection's order).
        allowed
            Unit codes the reader may see (None: all).
        region
            A lon/lat geometry: features intersecting it (a ``bbox`` given in another CRS).
        where
            A filter: a function of the matching rows (frame) giving a boolean mask; it sees
            only the rows in ``allowed``, so it can narrow the matches, never widen them.
        crs
            The CRS to write the page's geometries in (:func:`geo_antt.catalog.query.parse_crs_uri`;
            None: CRS84).

        Raises
        ------
        NotFoundError
            Unknown collection or unit.
        PermissionDeniedError
            ``unit`` wholly outside ``allowed``.
        """
        col = self.get(cid)
        codes = self.scoped(unit, allowed)
        if col.group == "context" and unit is not None:
            bbox = self._unit_box(unit, bbox)
            if bbox is None:
                return ItemsPage([], 0, offset, limit)
        return col.page(bbox=bbox, unit_codes=codes, limit=limit, offset=offset, region=region, where=where, crs=crs)

    def _unit_box(
        self, unit: str, bbox: tuple[float, float, float, float] | None
    ) -> tuple[float, float, float, float] | None:
        """The bounding box of ``unit``'s geometry, cut to ``bbox``; None when they do not meet."""
        geom = self.unit(unit).geometry
        if geom is None or geom.is_empty:
            return None
        w, s, e, n = geom.bounds
        if bbox is not None:
            w, s, e, n = max(w, bbox[0]), max(s, bbox[1]), min(e, bbox[2]), min(n, bbox[3])
        return (w, s, e, n) if w <= e and s <= n else None

    def item(self, cid: str, fid: str, *, allowed: frozenset[str] | None = None, crs: OutputCrs | None = None) -> str:
        """GeoJSON text of feature ``fid`` of ``cid`` (404 when unknown or outside ``allowed``),
        its geometry in ``crs`` (None: CRS84).
        """
        return self.get(cid).feature(fid, allowed=allowed, crs=crs)

    def top_units(self, allowed: frozenset[str]) -> list[str]:
        """The highest units of ``allowed`` (those whose parent is not in it), known here."""
        out = []
        for code in sorted(allowed):
            if code not in self.units.index:
                continue
            parent = self.units.at[code, "parent_code"]
            if not (isinstance(parent, str) and parent in allowed):
                out.append(code)
        return out

    def children(self, code: str | None, *, allowed: frozenset[str] | None = None) -> list[dict[str, Any]]:
        """The units directly below ``code`` (the top level when None), sorted by name.

        With ``allowed``, the top level is the reader's own units, and below ``code`` only the
        units holding something allowed are listed.
        """
        if code is None and allowed is not None:
            codes = self.top_units(allowed)
        elif code is None:
            present = [lv for lv in UNIT_LEVELS if (self.units["level"] == lv).any()]
            codes = list(self.units.index[self.units["level"] == present[0]]) if present else []
        else:
            self.scoped(code, allowed)
            codes = self._children.get(code, [])
            if allowed is not None:
                codes = [c for c in codes if self.descendants(c) & allowed]
        return sorted((self._unit_dict(c) for c in codes), key=lambda d: fold(d["name"]))

    def _unit_dict(self, code: str) -> dict[str, Any]:
        row = self.units.loc[code]
        g = row.geometry
        bbox = None if g is None or g.is_empty else [round(float(v), _DECIMALS) for v in g.bounds]
        return {
            "code": code,
            "name": nfc(str(row["name"])),
            "level": row["level"],
            "parent_code": json_value(row["parent_code"]),
            "bbox": bbox,
        }

    def search(self, query: str, *, limit: int = 20, allowed: frozenset[str] | None = None) -> list[dict[str, Any]]:
        """Units whose name contains every word of ``query``, diacritics and case ignored
        ("huong my" finds "Hương Mỹ"), or whose code starts with it ("28756"); each with its
        parents' names for context. Only units in ``allowed`` (None: all).

        Best first: the code itself; the name itself, with or without its unit-type word
        ("an thanh" is "Xã An Thạnh"); the words as a phrase of whole words ("Ấp An Thạnh
        Đông"); every word the start of a word of the name; any other containment ("an"
        inside "Thạnh"). Within each, the higher level first (province, district, commune,
        hamlet), then the name.
        """
        words = fold(query).split()
        if not words:
            return []
        q = " ".join(words)
        raw = str(query).strip()
        codes = self.units.index
        by_code = set(np.flatnonzero(codes.str.startswith(raw)).tolist()) if raw and " " not in raw else set()
        hits = sorted(by_code | {i for i, n in enumerate(self._name_fold) if all(w in n for w in words)})
        if allowed is not None:
            hits = [i for i in hits if codes[i] in allowed]
        depth = {lv: i for i, lv in enumerate(UNIT_LEVELS)}
        levels = self.units["level"].to_numpy()
        bare_q = strip_unit_type(q)

        def tier(i: int) -> int:
            name = self._name_fold[i]
            if codes[i] == raw:
                return 0
            if name == q or self._name_bare[i] == bare_q:
                return 1
            if f" {q} " in f" {name} ":
                return 2
            tokens = name.split()
            if all(any(t.startswith(w) for t in tokens) for w in words):
                return 3
            return 4 if i not in by_code else 5

        hits.sort(key=lambda i: (tier(i), depth.get(levels[i], 9), self._name_fold[i]))
        out = []
        for i in hits[:limit]:
            code = codes[i]
            d = self._unit_dict(code)
            d["context"] = ", ".join(nfc(str(self.units.loc[a, "name"])) for a in self.ancestors(code))
            out.append(d)
        return out

    def stats(
        self, code: str | None, *, lang: str = "vi", ranked_limit: int = 20, allowed: frozenset[str] | None = None
    ) -> dict[str, Any]:
        """Conference figures of unit ``code`` and below (all units when None): models counted
        by kind, field, host and status; coverage totals; the least-covered hamlets. Only the
        units in ``allowed`` count (None: all).
        """
        codes = self.scoped(code, allowed)
        if codes is None:
            sel = self.models
        else:
            sel = self.models[np.asarray(pd.Index(self._models.links).isin(list(codes)), dtype=bool)]

        counts = _model_counts(sel)
        out: dict[str, Any] = {
            "unit": None if code is None else {**self._unit_dict(code), "path": self._path(code, allowed)},
            "models_total": int(len(sel)),
            "by_kind": self._labelled(counts["by_kind"], None, lang),
            "by_field": self._labelled(counts["by_field"], FIELDS, lang),
            "by_host": self._labelled(counts["by_host"], HOSTS, lang),
            "by_status": self._labelled(counts["by_status"], STATUSES, lang),
            "n_names": counts.get("n_names"),
            "coverage": None,
            "least_covered": [],
        }
        if self.tier is not None:
            out["tier"] = self._tier_figures(sel, lang)
        cu = self.coverage_units
        if cu is not None:
            hamlets = cu  # one level: the finest the coverage was computed for
            if codes is not None:
                hamlets = hamlets[hamlets.index.isin(codes)]
            if (
                code is not None
                and code in cu.index
                and "area_m2" in cu.columns
                and (allowed is None or code in allowed)
            ):
                area, covered = float(cu.at[code, "area_m2"]), float(cu.at[code, "covered_m2"])
            else:
                area, covered = float(hamlets["area_m2"].sum()), float(hamlets["covered_m2"].sum())
            out["coverage"] = {
                "area_m2": area,
                "covered_m2": covered,
                "covered_pct": round(100.0 * covered / area, 6) if area > 0 else None,
                "hamlets": int(len(hamlets)),
                "measure": "area",
            }
            # where streets are known the measure is the covered street length, ranked by the rule
            # of placement.rank_uncovered: street share (a hamlet without road counts as covered),
            # then the most uncovered metres first
            by_street = "road_m" in hamlets.columns and float(hamlets["road_m"].fillna(0).sum()) > 0
            if by_street:
                if code is not None and code in cu.index and (allowed is None or code in allowed):
                    road, road_cov = float(cu.at[code, "road_m"]), float(cu.at[code, "road_covered_m"])
                else:
                    road, road_cov = float(hamlets["road_m"].sum()), float(hamlets["road_covered_m"].sum())
                out["coverage"].update(
                    measure="street",
                    road_m=road,
                    road_covered_m=road_cov,
                    road_covered_pct=round(100.0 * min(road_cov, road) / road, 6) if road > 0 else None,
                )
                order, share = street_share_order(
                    hamlets["road_m"].to_numpy(dtype=float), hamlets["road_covered_m"].to_numpy(dtype=float)
                )
                worst = hamlets.iloc[order].head(ranked_limit)
                shares = dict(zip(hamlets.index[order], share[order]))
            else:
                worst = hamlets.sort_values(["covered_pct", "name"], kind="stable").head(ranked_limit)
                shares = {}
            for hc, row in worst.iterrows():
                d = (
                    self._unit_dict(hc)
                    if hc in self.units.index
                    else {"code": hc, "name": str(row["name"]), "bbox": None}
                )
                d["covered_pct"] = json_value(row["covered_pct"])
                d["measure"] = "street" if by_street else "area"
                if by_street:
                    d["road_covered_pct"] = round(float(shares[hc]), 6)
                    d["road_m"] = json_value(row["road_m"])
                # the hamlet's commune: names such as "Khu phố 1" repeat in every commune
                parent = self.units.at[hc, "parent_code"] if hc in self.units.index else None
                d["parent_name"] = (
                    nfc(str(self.units.at[parent, "name"]))
                    if isinstance(parent, str) and parent in self.units.index
                    else None
                )
                out["least_covered"].append(d)
        return out

    def _tier_figures(self, sel: pd.DataFrame, lang: str) -> dict[str, Any]:
        """The tier of this catalog and its counted cameras in ``sel``: ``rated`` (ranged by
        their resolution) and ``unknown`` (no ``resolution_px``: their ``range_m`` kept).
        """
        code = str(self.tier)
        kinds = [k for k, s in self.specs.items() if s.tier(code) is not None]
        t = tier_of(self.specs, code)
        counted = sel["kind"].isin(kinds) & sel["status"].isin(list(COUNTING_STATUSES))
        res = sel["resolution_px"] if "resolution_px" in sel else pd.Series(np.nan, index=sel.index)
        known = pd.to_numeric(res, errors="coerce").notna()
        return {
            "code": code,
            "title": t.title(lang),
            "px_per_m": t.px_per_m,
            "rated": int((counted & known).sum()),
            "unknown": int((counted & ~known).sum()),
        }

    def _path(self, code: str, allowed: frozenset[str] | None) -> list[str]:
        """Codes from the top to ``code``; for a scoped reader, from the reader's own top unit
        (what the drill-down lists at its first level).
        """
        path = [*reversed(self.ancestors(code)), code]
        if allowed is None:
            return path
        return [c for c in path if c in allowed]

    def _labelled(
        self, counts: Mapping[str, int], vocab: Mapping[str, tuple] | None, lang: str
    ) -> list[dict[str, Any]]:
        rows = []
        for k, n in counts.items():
            if vocab is not None and k in vocab:
                label = vocab[k][1] if lang == "en" else vocab[k][0]
            elif vocab is None and k in self.specs:
                label = self.specs[k].title(lang)
            else:
                label = "(not given)" if lang == "en" else "(không ghi)"
            rows.append({"code": k, "label": label, "count": int(n)})
        return rows

    # -- export ---------------------------------------------------------------------------
    def _export_positions(self, col: Collection, unit: str | None, allowed: frozenset[str] | None) -> np.ndarray:
        codes = self.scoped(unit, allowed)
        if col.group == "context" and unit is not None:
            box = self._unit_box(unit, None)
            return col.positions(bbox=box) if box is not None else np.arange(0)
        return col.positions(unit_codes=codes)

    def export_geojson(self, cid: str, *, unit: str | None = None, allowed: frozenset[str] | None = None) -> str:
        """The whole collection (or the part under ``unit``; only units in ``allowed``) as RFC
        7946 GeoJSON text.
        """
        col = self.get(cid)
        pos = self._export_positions(col, unit, allowed)
        return feature_collection_text(col.features[i] for i in pos)

    def export_gpkg(self, cid: str, *, unit: str | None = None, allowed: frozenset[str] | None = None) -> bytes:
        """The collection (or the part under ``unit``; only units in ``allowed``) as a
        GeoPackage file (bytes), layer named after the collection.
        """
        col = self.get(cid)
        pos = self._export_positions(col, unit, allowed)
        f = col.frame.iloc[pos].copy()
        for c in f.columns:
            if c == f.geometry.name:
                continue
            if f[c].dtype == object:
                f[c] = [
                    None
                    if v is None
                    else (
                        json.dumps(json_value(v), ensure_ascii=False)
                        if isinstance(v, (tuple, list, np.ndarray))
                        else json_value(v)
                    )
                    for v in f[c]
                ]
        # keep the feature id as a column (the OGC id), unless a column already holds it
        if f.index.name in f.columns or (f.index.name is None and "id" in f.columns):
            f = f.reset_index(drop=True)
        else:
            f = f.rename_axis(f.index.name or "id").reset_index()
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"{cid}.gpkg"
            f.to_file(path, layer=cid, driver="GPKG", engine="pyogrio")
            return path.read_bytes()


def _model_counts(sel: pd.DataFrame) -> dict[str, Any]:
    """Counts by kind, field, host and status: :func:`geo_antt.stats.model_stats` (vocabulary
    order, zeros kept) when the package has it, else plain value counts.
    """
    try:
        from ..stats import model_stats
    except ImportError:  # pragma: no cover - stats module absent
        model_stats = None  # type: ignore[assignment]  # mypy's optional-import idiom
    if model_stats is not None:
        st = model_stats(sel)
        return {k: st[k] for k in ("by_kind", "by_field", "by_host", "by_status", "n_names")}
    out: dict[str, Any] = {"n_names": int(sel["name"].nunique()) if "name" in sel else None}
    for col in ("kind", "field", "host", "status"):
        v = sel[col].astype(object).where(sel[col].notna(), "") if col in sel else pd.Series([], dtype=object)
        out[f"by_{col}"] = {str(k): int(n) for k, n in v.astype(str).value_counts().items()}
    return out


def _wgs84(frame: gpd.GeoDataFrame, what: str) -> gpd.GeoDataFrame:
    if not isinstance(frame, gpd.GeoDataFrame):
        raise GeoAnttError(f"{what}: expected a GeoDataFrame, got {type(frame).__name__}")
    if frame.crs is None:
        raise GeoAnttError(f"{what}: frame has no CRS (expected EPSG:4326)")
    if not frame.crs.equals(WGS84):
        frame = frame.to_crs(WGS84)
    return frame.copy()
