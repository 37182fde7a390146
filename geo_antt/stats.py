"""The figures of a review conference (sơ kết, tổng kết) for any area, from the models frame.

:func:`model_stats` counts the security models of an area — totals by kind, field (lĩnh vực),
host (nơi thực hiện), status, the number of distinct model names and of fields, and optionally
the models started in a period. :func:`format_stats` writes them as the sentences of a report in
Vietnamese or English. :func:`resolve_unit` finds a unit by code or by name (diacritics and case
ignored, with or without "Xã", "Huyện"...).
"""

from __future__ import annotations

import datetime as _dt
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from ._errors import GeoAnttError, NotFoundError
from .schema import FIELDS, HOSTS, STATUSES, UNIT_LEVELS
from .text import fold, strip_unit_type

__all__ = ["model_stats", "format_stats", "resolve_unit", "descendant_codes", "street_share_order"]

_LEVEL_RANK = {lvl: i for i, lvl in enumerate(UNIT_LEVELS)}


def street_share_order(road_m: np.ndarray, road_covered_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The one ranking rule by streets: least covered share of street length first, then the
    most uncovered metres (a unit without road counts as covered: nothing to watch).

    Parameters
    ----------
    road_m, road_covered_m
        Metres of road in each unit and inside the footprints (NaN: none).

    Returns
    -------
    (order, share_pct)
        Positions in ranking order (stable: ties keep their order) and each unit's covered
        share in percent (in input order).
    """
    road = np.nan_to_num(np.asarray(road_m, dtype=float))
    covered = np.minimum(np.nan_to_num(np.asarray(road_covered_m, dtype=float)), road)
    share = np.where(road > 0, 100.0 * covered / np.where(road > 0, road, 1.0), 100.0)
    return np.lexsort((-(road - covered), share)), share


def _is_missing(v: Any) -> bool:
    if v is None:
        return True
    if isinstance(v, float) and math.isnan(v):
        return True
    try:
        return bool(pd.isna(v)) if not isinstance(v, (list, tuple)) else False
    except (TypeError, ValueError):
        return False


def _units_frame(units: pd.DataFrame) -> pd.DataFrame:
    if "code" in units.columns:
        return units
    u = units.copy()
    u["code"] = u.index.astype(str)
    return u


def descendant_codes(units: pd.DataFrame, code: str) -> set[str]:
    """Codes of the unit ``code`` and of every unit below it (following ``parent_code``).

    Raises
    ------
    NotFoundError
        When no unit has this code.
    """
    u = _units_frame(units)
    codes = u["code"].astype(str)
    if code not in set(codes):
        raise NotFoundError(f"unit {code!r} is not in the units")
    children: dict[str, list[str]] = {}
    for c, p in zip(codes, u["parent_code"]):
        if not _is_missing(p):
            children.setdefault(str(p), []).append(c)
    found = {code}
    todo = [code]
    while todo:
        for ch in children.get(todo.pop(), ()):
            if ch not in found:
                found.add(ch)
                todo.append(ch)
    return found


def resolve_unit(units: pd.DataFrame, query: str) -> str:
    """Return the code of the unit named or coded ``query``.

    A code matches exactly; otherwise names are compared with :func:`geo_antt.text.fold`, first
    in full ("Huyện Hàm Thuận Nam"), then without the unit-type word ("Hàm Thuận Nam",
    "ham thuan nam"). When a bare name fits several units, the one of the highest level wins if
    it is the only one of that level (a district over its township of the same name). A
    comma-separated query ("An Thạnh, Thạnh Phú") looks for the first name inside the unit named
    by the rest.

    Raises
    ------
    NotFoundError
        When nothing matches.
    GeoAnttError
        When the name is ambiguous; the message lists the candidates with their codes.
    """
    u = _units_frame(units)
    q = str(query).strip()
    codes = u["code"].astype(str).tolist()
    if q in codes:
        return q
    if "," in q:
        head, rest = q.split(",", 1)
        within = descendant_codes(u, resolve_unit(u, rest))
        return resolve_unit(u[u["code"].astype(str).isin(within)], head)
    fq = fold(q)
    names = [fold(n) for n in u["name"].astype(str)]
    hits = [i for i, n in enumerate(names) if n == fq]
    if not hits:
        bare = strip_unit_type(fq)
        hits = [i for i, n in enumerate(names) if strip_unit_type(n) == bare]
    if not hits:
        raise NotFoundError(f"no unit has the code or name {query!r}")
    if len(hits) > 1:
        levels = u["level"].astype(str).tolist()
        best = min(_LEVEL_RANK.get(levels[i], 99) for i in hits)
        top = [i for i in hits if _LEVEL_RANK.get(levels[i], 99) == best]
        if len(top) > 1:
            cands = "; ".join(
                f"{codes[i]} {u['name'].iloc[i]} ({levels[i]}, in {u['parent_code'].iloc[i]})" for i in top
            )
            raise GeoAnttError(f"{query!r} names several units: {cands}; give the code, or 'name, parent name'")
        hits = top
    return codes[hits[0]]


def _to_date(v: Any, *, what: str) -> _dt.date | None:
    if _is_missing(v):
        return None
    if isinstance(v, _dt.datetime):
        return v.date()
    if isinstance(v, _dt.date):
        return v
    if isinstance(v, pd.Timestamp):
        return v.date()
    try:
        return _dt.date.fromisoformat(str(v)[:10])
    except ValueError:
        raise GeoAnttError(f"{what}: not an ISO date (YYYY-MM-DD): {v!r}") from None


def _ordered_counts(values: Iterable[Any], vocab: Iterable[str]) -> dict[str, int]:
    """Counts in vocabulary order (zeros included), then unknown codes, then missing values as
    ``"unspecified"``.
    """
    cnt = Counter("unspecified" if _is_missing(v) else str(v) for v in values)
    out = {k: cnt.pop(k, 0) for k in vocab}
    for k in sorted(k for k in cnt if k != "unspecified"):
        out[k] = cnt[k]
    if cnt.get("unspecified"):
        out["unspecified"] = cnt["unspecified"]
    return out


def model_stats(
    models: pd.DataFrame,
    units: pd.DataFrame | None = None,
    *,
    unit_code: str | None = None,
    since: str | _dt.date | None = None,
    until: str | _dt.date | None = None,
) -> dict[str, Any]:
    """Conference figures of the models of an area.

    Parameters
    ----------
    models
        Models frame (``schema.MODEL_COLUMNS``; the ``id`` may be the index).
    units
        Units frame (``code``/index, ``name``, ``level``, ``parent_code``); needed with
        ``unit_code``.
    unit_code
        Code of a unit of any level: the models whose ``unit_code`` is that unit or one below it
        count. None: every model.
    since, until
        Optional period (ISO dates, inclusive): ``new`` counts the models whose ``start_date``
        falls in it; an open end is unbounded.

    Returns
    -------
    dict
        ``unit`` (code, name, level or None), ``total``, ``by_kind``, ``by_field``, ``by_host``,
        ``by_status`` (dicts of counts; field/host/status in vocabulary order with zeros),
        ``n_names`` and ``names`` (distinct model names, most frequent first), ``n_fields``
        (distinct fields used), ``spatial`` (models with a geometry), ``period`` and ``new``
        (None when no period is given).

    Raises
    ------
    GeoAnttError
        ``unit_code`` without ``units``, or a bad date.
    NotFoundError
        ``unit_code`` is not a unit.
    """
    unit_info = None
    frame = models
    if unit_code is not None:
        if units is None:
            raise GeoAnttError("model_stats: unit_code needs the units frame (parent_code links)")
        codes = descendant_codes(units, str(unit_code))
        frame = models[models["unit_code"].astype(str).isin(codes)]
        u = _units_frame(units)
        row = u[u["code"].astype(str) == str(unit_code)].iloc[0]
        unit_info = {"code": str(unit_code), "name": str(row["name"]), "level": str(row["level"])}

    names = Counter(str(n) for n in frame["name"] if not _is_missing(n))
    fields_used = {str(f) for f in frame["field"] if not _is_missing(f)}
    kinds = Counter("unspecified" if _is_missing(k) else str(k) for k in frame["kind"])
    by_kind = dict(sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0])))
    spatial = 0
    if "geometry" in frame.columns:
        spatial = int(sum(1 for g in frame["geometry"] if g is not None and not _is_missing(g) and not g.is_empty))

    period = None
    new = None
    if since is not None or until is not None:
        lo = _to_date(since, what="since")
        hi = _to_date(until, what="until")
        if lo and hi and lo > hi:
            raise GeoAnttError(f"period: since {lo} is after until {hi}")
        period = {"since": lo.isoformat() if lo else None, "until": hi.isoformat() if hi else None}
        new = 0
        for v in frame["start_date"] if "start_date" in frame.columns else ():
            d = _to_date(v, what="start_date")
            if d is not None and (lo is None or d >= lo) and (hi is None or d <= hi):
                new += 1

    return {
        "unit": unit_info,
        "total": int(len(frame)),
        "by_kind": by_kind,
        "by_field": _ordered_counts(frame["field"], FIELDS),
        "by_host": _ordered_counts(frame["host"], HOSTS),
        "by_status": _ordered_counts(frame["status"], STATUSES),
        "n_names": len(names),
        "names": [n for n, _ in sorted(names.items(), key=lambda kv: (-kv[1], kv[0]))],
        "n_fields": len(fields_used),
        "spatial": spatial,
        "period": period,
        "new": new,
    }


def _label(vocab: Mapping[str, tuple], code: str, lang: str) -> str:
    if code in vocab:
        return vocab[code][1 if lang == "en" else 0]
    return ("unspecified" if lang == "en" else "chưa rõ") if code == "unspecified" else code


def _kind_label(code: str, lang: str) -> str:
    from .layers import load_layer_specs

    try:
        specs = load_layer_specs()
    except GeoAnttError:  # pragma: no cover - the project ships its layer specs
        return code
    spec = specs.get(code)
    return spec.title(lang) if spec else code


def format_stats(stats: Mapping[str, Any], *, lang: str = "vi") -> str:
    """The figures of :func:`model_stats` as report text (``lang`` "vi" or "en")."""
    if lang not in ("vi", "en"):
        raise GeoAnttError(f"lang must be 'vi' or 'en', got {lang!r}")
    en = lang == "en"
    unit = stats.get("unit")
    where = unit["name"] if unit else ("the whole dataset" if en else "toàn bộ dữ liệu")
    head = f"{where} ({unit['code']})" if unit else where
    hosts = {k: v for k, v in stats["by_host"].items() if v}
    host_txt = ", ".join(f"{_label(HOSTS, k, lang).lower()} {v}" for k, v in hosts.items())
    lines = [head]
    if en:
        lines.append(
            f"{stats['total']} models with {stats['n_names']} names in {stats['n_fields']} fields"
            + (f" ({host_txt})." if host_txt else ".")
        )
    else:
        host_vi = ", ".join(f"{v} mô hình ở {_label(HOSTS, k, lang).lower()}" for k, v in hosts.items())
        lines.append(
            f"Có {stats['total']} mô hình với {stats['n_names']} tên gọi trên {stats['n_fields']} lĩnh vực"
            + (f", trong đó {host_vi}." if host_vi else ".")
        )
    lines.append(
        ("By host: " if en else "Theo nơi thực hiện: ")
        + "; ".join(f"{_label(HOSTS, k, lang)} {v}" for k, v in stats["by_host"].items())
    )
    lines.append(
        ("By field: " if en else "Theo lĩnh vực: ")
        + "; ".join(f"{_label(FIELDS, k, lang)} {v}" for k, v in stats["by_field"].items())
    )
    lines.append(
        ("By kind: " if en else "Theo loại: ")
        + "; ".join(f"{_kind_label(k, lang)} {v}" for k, v in stats["by_kind"].items())
    )
    lines.append(
        ("By status: " if en else "Tình trạng: ")
        + "; ".join(f"{_label(STATUSES, k, lang)} {v}" for k, v in stats["by_status"].items())
    )
    sp = stats.get("spatial", 0)
    lines.append(
        f"On the map (with a location): {sp}; without a location: {stats['total'] - sp}"
        if en
        else f"Có vị trí trên bản đồ: {sp}; không có vị trí: {stats['total'] - sp}"
    )
    if stats.get("period"):
        p = stats["period"]
        lo = p["since"] or "…"
        hi = p["until"] or "…"
        lines.append(
            f"New models started {lo} – {hi}: {stats['new']}"
            if en
            else f"Mô hình mới xây dựng từ {lo} đến {hi}: {stats['new']}"
        )
    return "\n".join(lines)
