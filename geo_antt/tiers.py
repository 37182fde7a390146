"""What a camera is good for: its range for each purpose of IEC 62676-4 (detect, observe,
recognise, identify; "DORI").

A purpose (a *tier*, ``[tiers]`` of ``layers/camera.toml``) needs at least ``p`` pixels per
metre of target. A camera of horizontal resolution ``R`` pixels and field of view ``fov``
spreads its pixels over a width that grows with the distance ``d``; the tier's range is the
distance where the density falls to ``p``:

* rectilinear lens (``fov`` < 180 degrees): width ``2 d tan(fov / 2)``, so
  ``d = R / (2 p tan(fov / 2))``;
* fisheye or panoramic lens (and any field of view of 180 degrees or more): the pixels spread
  evenly over the angle, width ``d * fov_radians``, so ``d = R / (p * fov_radians)``.

A 1920-px, 90-degree rectilinear camera identifies (250 px/m) to 3.84 m and detects (25 px/m)
to 38.4 m. The range never exceeds the kind's ``bounds.range_m`` high, so a tier's footprint
reaches no further than the kind's bound. A camera without ``resolution_px`` keeps its
``range_m`` (or the kind's default) for every tier: it is counted as *tier unknown*.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._errors import GeoAnttError
from .layers import LayerSpec, Tier
from .schema import COUNTING_STATUSES, DEFAULT_LENS

__all__ = [
    "TierRun",
    "tier_range_m",
    "tier_codes",
    "tier_of",
    "apply_tier",
    "tier_ranges",
    "check_tier",
]

# Lenses whose pixels spread evenly over the angle.
_ANGULAR_LENSES = frozenset({"fisheye", "panoramic"})


def tier_range_m(
    resolution_px: np.ndarray | float,
    fov_deg: np.ndarray | float,
    px_per_m: float,
    *,
    lens: np.ndarray | Sequence[str | None] | str | None = None,
    max_range_m: float = math.inf,
) -> np.ndarray:
    """Distance, metres, up to which a camera gives ``px_per_m`` pixels per metre of target.

    Parameters
    ----------
    resolution_px
        Horizontal resolution, pixels (NaN gives NaN).
    fov_deg
        Total horizontal field of view, degrees (0, 360].
    px_per_m
        The tier's least pixel density, pixels per metre.
    lens
        ``rectilinear`` (None: the default), ``fisheye`` or ``panoramic``, one per camera or
        one for all.
    max_range_m
        The range is at most this many metres (the kind's ``bounds.range_m`` high).

    Returns
    -------
    numpy.ndarray
        Metres, one per camera: ``R / (2 p tan(fov/2))`` for a rectilinear lens under 180
        degrees, ``R / (p fov_radians)`` otherwise, capped at ``max_range_m``.
    """
    res = np.atleast_1d(np.asarray(resolution_px, dtype=float))
    fov = np.broadcast_to(np.asarray(fov_deg, dtype=float), res.shape)
    if lens is None or isinstance(lens, str):
        angular = np.full(res.shape, (lens or DEFAULT_LENS) in _ANGULAR_LENSES)
    else:
        angular = np.fromiter(
            ((v or DEFAULT_LENS) in _ANGULAR_LENSES for v in lens), dtype=bool, count=len(lens)
        ).reshape(res.shape)
    angular = angular | (fov >= 180.0)
    rad = np.radians(fov)
    with np.errstate(divide="ignore", invalid="ignore"):
        width_per_m = np.where(angular, rad, 2.0 * np.tan(np.where(angular, 0.0, rad / 2.0)))
        out = res / (px_per_m * width_per_m)
    return np.minimum(out, max_range_m)


def tier_codes(specs: Mapping[str, LayerSpec]) -> tuple[str, ...]:
    """Tier codes declared by any layer spec, in file order (``detect``, ``observe``...)."""
    return tuple(dict.fromkeys(t.code for s in specs.values() for t in s.tiers))


def tier_of(specs: Mapping[str, LayerSpec], code: str) -> Tier:
    """The first declaration of tier ``code`` (its names and px/m), for titles and tables."""
    for s in specs.values():
        t = s.tier(code)
        if t is not None:
            return t
    raise GeoAnttError(f"unknown tier {code!r}; tiers: {', '.join(tier_codes(specs)) or 'none declared'}")


def check_tier(specs: Mapping[str, LayerSpec], code: str | None) -> str | None:
    """``code`` when a layer spec declares it (None passes), else a GeoAnttError naming the tiers."""
    if code is not None:
        tier_of(specs, code)
    return code


@dataclass(frozen=True)
class TierRun:
    """What :func:`apply_tier` did: ``tier`` (its code), ``rated`` cameras whose range comes
    from their resolution, ``unknown`` cameras without one (they keep ``range_m``); both count
    only models of a kind with tiers and a counting status.
    """

    tier: str
    rated: int
    unknown: int

    def summary(self) -> str:
        """One line for the console, e.g. ``tier identify: 12 cameras rated, 3 tier unknown ...``."""
        return (
            f"tier {self.tier}: {self.rated} cameras ranged by their resolution, {self.unknown} tier unknown "
            f"(no resolution_px: their range_m is kept)"
        )


def _fov_and_lens(frame: pd.DataFrame, spec: LayerSpec) -> tuple[np.ndarray, list[str | None]]:
    fov = (
        pd.to_numeric(frame["fov_deg"], errors="coerce").to_numpy(dtype=float, copy=True)
        if "fov_deg" in frame
        else np.full(len(frame), np.nan)
    )
    fov[np.isnan(fov)] = spec.defaults.get("fov_deg", 360.0)
    lens = frame["lens"].tolist() if "lens" in frame else [None] * len(frame)
    return fov, [v if isinstance(v, str) else None for v in lens]


def _resolution(frame: pd.DataFrame) -> np.ndarray:
    if "resolution_px" not in frame:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame["resolution_px"], errors="coerce").to_numpy(dtype=float)


def apply_tier(
    models: pd.DataFrame,
    tier: str,
    specs: Mapping[str, LayerSpec],
    *,
    statuses: Sequence[str] = COUNTING_STATUSES,
) -> tuple[pd.DataFrame, TierRun]:
    """The models with each camera's ``range_m`` replaced by its range for ``tier``.

    Parameters
    ----------
    models
        Models frame (``schema.MODEL_COLUMNS``; ``resolution_px`` pixels, ``fov_deg`` degrees,
        ``lens``), any CRS; index kept.
    tier
        A tier code of the specs (``detect``, ``observe``, ``recognise``, ``identify``).
    specs
        Layer specs by kind: which kinds have tiers, their px/m, default fov and range bound.
    statuses
        Statuses counted in the returned :class:`TierRun` (the frame keeps every row).

    Returns
    -------
    (DataFrame, TierRun)
        A copy (same index, columns and CRS) whose ``range_m`` is, for every model of a kind with
        ``tier`` and a ``resolution_px``, :func:`tier_range_m` of it (metres, capped at the kind's
        ``bounds.range_m`` high); other rows unchanged. Kinds without tiers keep their footprint.

    Raises
    ------
    GeoAnttError
        When no layer spec declares ``tier``.
    """
    tier_of(specs, tier)
    out = models.copy()
    if "range_m" in out:
        out["range_m"] = pd.to_numeric(out["range_m"], errors="coerce").astype(float)
    else:
        out["range_m"] = np.nan
    rated = unknown = 0
    if not len(out) or "kind" not in out:
        return out, TierRun(tier, 0, 0)
    ranges = out["range_m"].to_numpy(dtype=float, copy=True)
    kinds = out["kind"].astype(object).to_numpy()
    counting = out["status"].isin(list(statuses)).to_numpy() if "status" in out else np.ones(len(out), dtype=bool)
    for kind, spec in specs.items():
        t = spec.tier(tier)
        rows = np.flatnonzero(kinds == kind)
        if t is None or not rows.size:
            continue
        sub = out.iloc[rows]
        res = _resolution(sub)
        fov, lens = _fov_and_lens(sub, spec)
        rng = tier_range_m(res, fov, t.px_per_m, lens=lens, max_range_m=spec.bounds["range_m"][1])
        known = ~np.isnan(res)
        ranges[rows[known]] = rng[known]
        rated += int((known & counting[rows]).sum())
        unknown += int((~known & counting[rows]).sum())
    out["range_m"] = ranges
    return out, TierRun(tier, rated, unknown)


def tier_ranges(record: Mapping[str, object], spec: LayerSpec) -> dict[str, float] | None:
    """``{tier code: metres}`` of one camera record for every tier of its kind (None without a
    resolution or when the kind has no tiers); metres rounded to 2 decimals (1 cm).
    """
    res = record.get("resolution_px")
    if not spec.tiers or not isinstance(res, (int, float)) or isinstance(res, bool) or math.isnan(res):
        return None
    fov = record.get("fov_deg")
    fov_v = float(fov) if isinstance(fov, (int, float)) and not math.isnan(float(fov)) else None
    if fov_v is None:
        fov_v = spec.defaults.get("fov_deg", 360.0)
    lens = record.get("lens")
    out = {}
    for t in spec.tiers:
        r = tier_range_m(float(res), fov_v, t.px_per_m, lens=lens if isinstance(lens, str) else None)
        out[t.code] = round(float(min(r[0], spec.bounds["range_m"][1])), 2)
    return out
