"""Layer specs: one TOML file per model kind in ``layers/`` (title, footprint rule and whether
buildings occlude it, defaults, bounds, style, popup fields). Adding a model kind is adding a file.

``[bounds]`` gives the plausible range ``[low, high]`` of each parameter (``range_m``,
``radius_m``, ``height_m`` in metres, ``fov_deg`` in degrees, ``resolution_px`` in pixels); a
parameter a file does not bound
takes :data:`DEFAULT_BOUNDS`. Every write path (API, map editor, spreadsheet import, CLI) checks
them through :func:`bound_problem`, and the coverage engine leaves out a stored model outside
them (:func:`parameter_problems`). Text fields are bounded by :data:`TEXT_MAX_LENGTH`
(characters) and directions by :data:`MAX_DIRECTIONS`.

``[tiers]`` (cameras) declares the purposes of IEC 62676-4 (detect, observe, recognise,
identify) with the pixel density each needs (:class:`Tier`); ``geo_antt.tiers`` turns them into
ranges.
"""

from __future__ import annotations

import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from ._errors import GeoAnttError
from .config import resource_dir
from .i18n import msg
from .text import fold, nfc

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "LayerSpec",
    "Tier",
    "MAX_PX_PER_M",
    "DEFAULT_LAYERS_DIR",
    "DEFAULT_BOUNDS",
    "BOUNDED_FIELDS",
    "TEXT_MAX_LENGTH",
    "MAX_DIRECTIONS",
    "MAX_MIN_SPACING_M",
    "load_layer_specs",
    "resolve_kind",
    "spatial_kinds",
    "bound_problem",
    "text_problem",
    "parameter_problems",
]

DEFAULT_LAYERS_DIR = resource_dir("layers")
FOOTPRINT_RULES = ("sector", "disc", "none")
# Parameters bounded per kind, and their bounds when a layer file does not give them: fov_deg in
# degrees, the others in metres. A footprint never reaches further than the kind's bound.
DEFAULT_BOUNDS: Mapping[str, tuple[float, float]] = MappingProxyType(
    {
        "fov_deg": (1.0, 360.0),
        "range_m": (1.0, 300.0),
        "radius_m": (1.0, 200.0),
        "height_m": (0.0, 100.0),
        "resolution_px": (320.0, 16384.0),
    }
)
BOUNDED_FIELDS = tuple(DEFAULT_BOUNDS)
# Longest text of each model field, in characters (ids and codes 64, a name 200, notes 2000).
TEXT_MAX_LENGTH: Mapping[str, int] = MappingProxyType({
    "id": 64, "kind": 64, "field": 64, "host": 64, "status": 64, "unit_code": 64, "camera_type": 64, "lens": 64,
    "name": 200, "owner": 200, "notes": 2000, "start_date": 64, "end_date": 64, "data_sharing": 64,
})  # fmt: skip
# Most directions (sectors) one camera may watch.
MAX_DIRECTIONS = 8
# Largest least distance between two proposed sites (placement.min_spacing_m), metres.
MAX_MIN_SPACING_M = 5000.0
# Largest pixel density a tier may ask for, pixels per metre of target (IEC 62676-4 tops at
# 1,000 px/m for "inspect").
MAX_PX_PER_M = 10_000.0


@dataclass(frozen=True)
class Tier:
    """One purpose a camera may serve (``[tiers]`` of a layer file; IEC 62676-4 "DORI").

    ``code`` (``detect``, ``observe``, ``recognise``, ``identify``), names in Vietnamese and
    English, and ``px_per_m``: the least pixel density on the target, pixels per metre.
    """

    code: str
    title_vi: str
    title_en: str
    px_per_m: float

    def title(self, lang: str = "vi") -> str:
        """The tier's name in ``lang`` (vi or en)."""
        return self.title_en if lang == "en" else self.title_vi


@dataclass(frozen=True)
class LayerSpec:
    """One model kind: how its footprint is built and how it is drawn.

    ``occluded``: buildings hide what lies behind them from this kind (``[footprint]
    occluded`` of the file; cameras and lighting: true, a checkpoint's watch: false).
    ``defaults`` holds default parameters in their units (``fov_deg`` degrees, ``range_m``,
    ``radius_m`` and ``height_m`` metres); ``bounds`` the allowed ``(low, high)`` of each (both
    included), :data:`DEFAULT_BOUNDS` where the file gives none.
    """

    kind: str
    spatial: bool
    title_vi: str
    title_en: str
    aliases: tuple[str, ...]
    footprint: str
    occluded: bool = False
    defaults: Mapping[str, float] = field(default_factory=dict)
    bounds: Mapping[str, tuple[float, float]] = field(default_factory=lambda: DEFAULT_BOUNDS)
    color: str = "#555555"
    icon: str = "circle"
    popup_fields: tuple[str, ...] = ()
    #: Least distance between two proposed sites of this kind, metres (``[placement]``; 0: none).
    min_spacing_m: float = 0.0
    #: Purposes and the pixel density each needs (``[tiers]``, in file order; empty: no tiers).
    tiers: tuple[Tier, ...] = ()
    #: Horizontal resolution of a proposed site when planning for a tier, pixels
    #: (``[placement] resolution_px``; NaN: the kind has no tiers).
    placement_resolution_px: float = math.nan

    def tier(self, code: str) -> Tier | None:
        """The tier ``code`` of this kind, or None when it declares none of that code."""
        return next((t for t in self.tiers if t.code == code), None)

    def title(self, lang: str = "vi") -> str:
        """The kind's name in ``lang`` (vi or en)."""
        return self.title_en if lang == "en" else self.title_vi


def _parse(path: Path) -> LayerSpec:
    with path.open("rb") as fh:
        try:
            d = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise GeoAnttError(f"{path}: invalid TOML: {exc}") from None
    try:
        kind = d["kind"]
        rule = d.get("footprint", {}).get("rule", "none")
        if rule not in FOOTPRINT_RULES:
            raise GeoAnttError(f"{path}: footprint.rule must be one of {FOOTPRINT_RULES}, got {rule!r}")
        occluded = d.get("footprint", {}).get("occluded", False)
        if not isinstance(occluded, bool):
            raise GeoAnttError(f"{path}: footprint.occluded must be true or false, got {occluded!r}")
        title = d["title"]
        defaults = {k: float(v) for k, v in d.get("defaults", {}).items()}
        bounds = _bounds(path, d.get("bounds", {}), defaults)
        tiers = _tiers(path, d.get("tiers", {}))
        placement = d.get("placement", {})
        res_px = placement.get("resolution_px", 1920.0 if tiers else math.nan)
        if tiers and _out_of_bounds(bounds, "resolution_px", res_px):
            raise GeoAnttError(
                f"{path}: placement.resolution_px must be pixels in {list(bounds['resolution_px'])}, got {res_px!r}"
            )
        return LayerSpec(
            kind=kind,
            spatial=bool(d.get("spatial", rule != "none")),
            title_vi=title["vi"],
            title_en=title["en"],
            aliases=tuple(fold(a) for a in d.get("aliases", ())),
            footprint=rule,
            occluded=occluded,
            defaults=MappingProxyType(defaults),
            bounds=bounds,
            color=d.get("style", {}).get("color", "#555555"),
            icon=d.get("style", {}).get("icon", "circle"),
            popup_fields=tuple(d.get("popup", {}).get("fields", ())),
            min_spacing_m=_min_spacing(path, placement.get("min_spacing_m", 0.0)),
            tiers=tiers,
            placement_resolution_px=float(res_px),
        )
    except KeyError as exc:
        raise GeoAnttError(f"{path}: layer spec lacks required key {exc}") from None


def _out_of_bounds(bounds: Mapping[str, tuple[float, float]], fld: str, value: object) -> bool:
    """True when ``value`` is not a finite number within ``bounds[fld]``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return True
    lo, hi = bounds[fld]
    return not (math.isfinite(value) and lo <= value <= hi)


def _tiers(path: Path, table: Mapping[str, object]) -> tuple[Tier, ...]:
    """The ``[tiers]`` table of a layer file: ``code = { px_per_m = N, vi = "...", en = "..." }``."""
    out: list[Tier] = []
    for code, entry in table.items():
        if not isinstance(entry, Mapping):
            raise GeoAnttError(f"{path}: tiers.{code} must be a table {{ px_per_m = N, vi = ..., en = ... }}")
        ppm = entry.get("px_per_m")
        vi, en = entry.get("vi"), entry.get("en")
        if _out_of_bounds({"px": (1.0, MAX_PX_PER_M)}, "px", ppm):
            raise GeoAnttError(
                f"{path}: tiers.{code}.px_per_m must be pixels per metre in [1, {MAX_PX_PER_M:g}], got {ppm!r}"
            )
        if not (isinstance(vi, str) and vi and isinstance(en, str) and en):
            raise GeoAnttError(f"{path}: tiers.{code} needs names vi and en")
        out.append(Tier(code=str(code), title_vi=nfc(vi), title_en=en, px_per_m=float(ppm)))  # type: ignore[arg-type]
    return tuple(out)


def _min_spacing(path: Path, value: object) -> float:
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        v = math.nan
    if not (math.isfinite(v) and 0.0 <= v <= MAX_MIN_SPACING_M):
        raise GeoAnttError(
            f"{path}: placement.min_spacing_m must be metres in [0, {MAX_MIN_SPACING_M:g}], got {value!r}"
        )
    return v


def _bounds(
    path: Path, table: Mapping[str, object], defaults: Mapping[str, float]
) -> Mapping[str, tuple[float, float]]:
    """The ``[bounds]`` table of a layer file, completed with :data:`DEFAULT_BOUNDS`."""
    out = dict(DEFAULT_BOUNDS)
    for key, pair in table.items():
        if key not in DEFAULT_BOUNDS:
            raise GeoAnttError(
                f"{path}: bounds.{key}: unknown parameter; bounded parameters are {', '.join(BOUNDED_FIELDS)}"
            )
        ok = (
            isinstance(pair, list)
            and len(pair) == 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in pair)
        )
        lo, hi = (float(pair[0]), float(pair[1])) if ok else (math.nan, math.nan)  # type: ignore[index]
        if not (ok and math.isfinite(lo) and math.isfinite(hi) and 0.0 <= lo <= hi):
            raise GeoAnttError(f"{path}: bounds.{key} must be [low, high] with 0 <= low <= high, got {pair!r}")
        out[key] = (lo, hi)
    if not out["fov_deg"][1] <= 360.0:
        raise GeoAnttError(f"{path}: bounds.fov_deg may not exceed 360 degrees, got {out['fov_deg']}")
    for key, value in defaults.items():
        if key in out and not out[key][0] <= value <= out[key][1]:
            raise GeoAnttError(f"{path}: defaults.{key} = {value:g} lies outside bounds.{key} {list(out[key])}")
    return MappingProxyType(out)


def _unit(fld: str) -> str:
    return msg("degrees") if fld.endswith("_deg") else msg("pixels") if fld.endswith("_px") else msg("metres")


def bound_problem(spec: LayerSpec | None, fld: str, value: float | None) -> str | None:
    """Why ``value`` of parameter ``fld`` is not allowed for ``spec``'s kind, or None when it is.

    Parameters
    ----------
    spec
        The model's layer spec (None: :data:`DEFAULT_BOUNDS`).
    fld
        ``fov_deg`` (degrees), ``range_m``, ``radius_m``, ``height_m`` (metres) or
        ``resolution_px`` (pixels).
    value
        The value; None (use the kind's default) is allowed.

    Returns
    -------
    str or None
        A reason that names the allowed range, e.g. ``"must be a number of metres from 1 to 300
        for a camera"``.
    """
    if value is None:
        return None
    lo, hi = (spec.bounds if spec is not None else DEFAULT_BOUNDS).get(fld, (-math.inf, math.inf))
    if math.isfinite(value) and lo <= value <= hi:
        return None
    if spec is None:
        return msg("must be a number of {unit} from {low:g} to {high:g}", unit=_unit(fld), low=lo, high=hi)
    return msg(
        "must be a number of {unit} from {low:g} to {high:g} for a {kind}",
        unit=_unit(fld),
        low=lo,
        high=hi,
        kind=spec.kind,
    )


def text_problem(fld: str, value: object) -> str | None:
    """Why the text ``value`` of model field ``fld`` is too long, or None (see :data:`TEXT_MAX_LENGTH`)."""
    limit = TEXT_MAX_LENGTH.get(fld)
    if limit is None or not isinstance(value, str) or len(value) <= limit:
        return None
    return msg("is {n} characters long; at most {limit} characters are allowed", n=len(value), limit=limit)


def parameter_problems(models: pd.DataFrame, specs: Mapping[str, LayerSpec]) -> list[tuple[str, str, object, str]]:
    """Models whose footprint parameters lie outside their kind's bounds (or are not finite).

    The engine leaves such a model out of coverage rather than let one stored row break every
    figure (rows written by hand or by an old version bypass the write checks).

    Parameters
    ----------
    models
        A models frame (index = id) with ``kind`` and any of ``fov_deg``, ``range_m``,
        ``radius_m``, ``height_m`` (NaN = the default), ``direction_deg``.
    specs
        Layer specs by kind.

    Returns
    -------
    list of (id, field, value, reason)
        In row order, then field order.
    """
    import numpy as np
    import pandas as pd

    out: list[tuple[str, str, object, str]] = []
    if not len(models) or "kind" not in models:
        return out
    kinds = models["kind"].astype(object).to_numpy()
    bad = np.zeros(len(models), dtype=bool)
    cols: dict[str, np.ndarray] = {}
    for fld in BOUNDED_FIELDS:
        if fld not in models:
            continue
        v = pd.to_numeric(models[fld], errors="coerce").to_numpy(dtype=float)
        lo = _per_kind_bound(kinds, {k: s.bounds[fld][0] for k, s in specs.items()}, -np.inf)
        hi = _per_kind_bound(kinds, {k: s.bounds[fld][1] for k, s in specs.items()}, np.inf)
        with np.errstate(invalid="ignore"):
            cols[fld] = ~np.isnan(v) & ~((v >= lo) & (v <= hi))
        bad |= cols[fld]
    dirs = models["direction_deg"].to_numpy() if "direction_deg" in models else None
    if dirs is not None:
        too_many = np.array([isinstance(d, (tuple, list)) and len(d) > MAX_DIRECTIONS for d in dirs], dtype=bool)
        bad |= too_many
    for i in np.flatnonzero(bad).tolist():
        mid, spec = str(models.index[i]), specs.get(kinds[i])
        for fld, flags in cols.items():
            if flags[i]:
                value = models[fld].iloc[i]
                out.append((mid, fld, value, bound_problem(spec, fld, float(value)) or "not a number"))
        if dirs is not None and too_many[i]:
            out.append((mid, "direction_deg", len(dirs[i]), f"{len(dirs[i])} directions; at most {MAX_DIRECTIONS}"))
    return out


def _per_kind_bound(kinds, bounds: Mapping[str, object], missing: float):
    """``bounds[kind]`` of each row as floats, ``missing`` for an unknown kind or no bound
    (what ``Series.map(bounds).fillna(missing)`` gives, without its cost on a few rows).
    """
    import numpy as np

    out = np.full(len(kinds), missing, dtype=float)
    for i, k in enumerate(kinds):
        try:
            v = bounds.get(k)
        except TypeError:  # an unhashable kind: no bound
            v = None
        if v is not None and v == v:
            out[i] = float(v)  # type: ignore[arg-type]
    return out


@lru_cache(maxsize=8)
def _load(dir_: str) -> Mapping[str, LayerSpec]:
    specs: dict[str, LayerSpec] = {}
    files = sorted(Path(dir_).glob("*.toml"))
    if not files:
        raise GeoAnttError(f"no layer specs (*.toml) in {dir_}")
    for p in files:
        spec = _parse(p)
        if spec.kind in specs:
            raise GeoAnttError(f"{p}: kind {spec.kind!r} is defined twice")
        specs[spec.kind] = spec
    return MappingProxyType(specs)


def load_layer_specs(layers_dir: str | os.PathLike[str] | None = None) -> Mapping[str, LayerSpec]:
    """Return ``{kind: LayerSpec}`` read from ``layers_dir`` (default: the project's ``layers/``)."""
    return _load(str(Path(layers_dir or DEFAULT_LAYERS_DIR).resolve()))


def resolve_kind(value: object, specs: Mapping[str, LayerSpec]) -> str | None:
    """Return the kind code for ``value`` (a code, a title or an alias in Vietnamese or English;
    diacritics and case ignored), or None when no spec claims it.
    """
    key = fold(None if value is None else str(value))
    if not key:
        return None
    for spec in specs.values():
        if key in (fold(spec.kind), fold(spec.kind.replace("_", " ")), fold(spec.title_vi), fold(spec.title_en)):
            return spec.kind
        if key in spec.aliases:
            return spec.kind
    return None


def spatial_kinds(specs: Mapping[str, LayerSpec]) -> tuple[str, ...]:
    """Kinds whose models have a footprint (in spec file order)."""
    return tuple(k for k, s in specs.items() if s.footprint != "none")
