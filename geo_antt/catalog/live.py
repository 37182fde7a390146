"""A :class:`~geo_antt.catalog.Catalog` that follows a store: built once, then updated model by model.

:func:`build_catalog` builds the catalog of a store's units and models with their coverage (as
``Catalog(units, models, coverage=compute_coverage(...))``, models in id order) and keeps what an
update needs. :func:`update_catalog` applies the models a store reports changed
(:meth:`geo_antt.store.Store.changes_since`) and returns a *new* catalog, equal to a full rebuild:

* the changed rows replace the old ones in the models table, in their kind's collection and in
  the footprints (a footprint is built for the changed models only);
* coverage and gaps are recomputed, with :func:`geo_antt.coverage.compute_coverage` as the store's
  coverage cache does (:meth:`Store.coverage_frame`), only for the units of the coverage level
  that the old or new footprint, location or unit of a changed model touches, from the models
  near those units; the ranks of all units are recomputed (a vector sort) and only the features
  whose figures or rank changed are serialised again (their geometry text is kept);
* collections are copy-on-write (:meth:`Collection.with_changes`): unchanged rows, their GeoJSON
  texts and their spatial index are shared with the old catalog, which stays valid and unchanged
  for the requests still reading it; after :data:`COMPACT_ABOVE` changed rows a collection is
  compacted into one frame again.

``update_catalog`` returns None when a full rebuild is needed instead: the catalog was not built
here (a coverage given from outside), a non-spatial kind appears or disappears (a collection is
added or dropped), the change adds columns, or it is large (:data:`MAX_INCREMENTAL` models: the
measured break-even with a full rebuild, see ``bench/catalog_bench.py``).
"""

from __future__ import annotations

import copy
import logging
import math
import threading
import time
import warnings
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .._errors import GeoAnttError
from .._memory import release_memory
from ..config import Settings
from ..coverage import (
    _descendant_map,
    _valid_wgs84,
    building_pieces,
    choose_level,
    compute_coverage,
    occluded_footprints,
)
from ..crs import metric_crs_for
from ..footprints import footprints as build_footprints
from ..layers import LayerSpec, parameter_problems
from ..schema import COUNTING_STATUSES
from ..store import Store
from ..tiers import apply_tier, tier_of
from ._catalog import Catalog, _align, _feature_texts, _link_codes, _property_texts, _reorder, _wgs84, _with_properties
from ._context import _tidy

__all__ = [
    "LiveCatalog",
    "build_catalog",
    "update_catalog",
    "leave_out_unbuildable",
    "tier_catalog",
    "MAX_INCREMENTAL",
    "COMPACT_ABOVE",
]

# More changed models than this: a full rebuild instead. bench/catalog_bench.py measured 1.3 to 4 ms
# per changed camera (by machine load) against 23 to 50 s for a full rebuild at 100,000 cameras
# (break-even near 12,000 to 17,000 models); 5,000 leaves room for changes spread over many units.
MAX_INCREMENTAL = 5_000
# A collection with more changed rows than this since it was built is compacted again.
COMPACT_ABOVE = 4_000
_log = logging.getLogger(__name__)
# Gap keys: unit position x _GAP_SLOTS + the gap's number in its unit.
_GAP_SLOTS = 1_000_000
# Footprints kept (metric CRS) in an update's own table before it is merged into the shared one.
_FOOTPRINT_OVERLAY = 20_000
# Model fields that change a footprint, a location or a count; the others (name, notes...)
# change only the model's own features.
_COVERAGE_FIELDS = ("kind", "status", "unit_code", "direction_deg", "fov_deg", "range_m", "radius_m", "geometry")
# The catalogs of each tier, per base catalog (built on first use, dropped with their base: a
# store change makes a new base catalog, so a tier's figures never lag behind the plain ones).
_TIER_CATALOGS: weakref.WeakKeyDictionary[Catalog, dict[str, Catalog]] = weakref.WeakKeyDictionary()
_TIER_LOCK = threading.Lock()


class _Rebuild(Exception):
    """Raised when a change needs a full rebuild."""


@dataclass(frozen=True)
class _Shared:
    """What every version of one full build shares (units do not change between versions)."""

    specs: Mapping[str, LayerSpec]
    settings: Settings  # metric_crs fixed to the full build's
    level: str
    codes: np.ndarray  # coverage-level unit codes, in the coverage collection's order
    pos: Mapping[str, int]
    tree: shapely.STRtree  # over their polygons in lon/lat
    targets: Mapping[str, str]  # unit code at or below a coverage unit -> that unit's code
    units: gpd.GeoDataFrame  # the coverage units' rows of the units frame
    units_m: gpd.GeoDataFrame  # the same in the metric CRS, made valid (as compute_coverage does)
    roads: gpd.GeoDataFrame | None = None  # the roads of the street coverage (lon/lat), None without
    road_tree: shapely.STRtree | None = None  # over the roads' lines in lon/lat
    buildings: gpd.GeoDataFrame | None = None  # the buildings that hide what lies behind them (lon/lat)
    # the same made disjoint in the metric CRS once per full build (coverage.building_pieces) and
    # an STRtree over them: an update takes those near the touched units, ready-made
    building_pieces_m: np.ndarray | None = None
    building_pieces_tree: shapely.STRtree | None = None


@dataclass(frozen=True)
class _Version:
    """What changes with every update (copied, never changed in place)."""

    shared: _Shared
    pct: np.ndarray  # covered_pct of each coverage unit
    unc: np.ndarray  # uncovered_m2
    rank: np.ndarray
    reach_m: float  # how far any footprint may reach from its model (never shrinks)
    nogeom: Mapping[str, frozenset[str]]  # coverage unit code -> ids of models without geometry counted there
    kinds: Mapping[str, int]  # models per kind
    # every counted model's footprint as compute_coverage made it (metric CRS, visible with
    # buildings; an empty polygon for one that sees nothing): the full build's (shared by every
    # version) and the models changed since (None: none, made again when needed)
    fp_base: Mapping[str, Any] | None = None
    fp_over: Mapping[str, Any] | None = None


def build_catalog(
    units: gpd.GeoDataFrame,
    models: gpd.GeoDataFrame,
    *,
    specs: Mapping[str, LayerSpec],
    settings: Settings,
    coverage: Any = None,
    roads: gpd.GeoDataFrame | None = None,
    context: Mapping[str, gpd.GeoDataFrame] | None = None,
    buildings: gpd.GeoDataFrame | None = None,
) -> Catalog:
    """The catalog of ``units`` and ``models`` with their coverage, ready for :func:`update_catalog`.

    Parameters
    ----------
    units, models
        Units and models frames (EPSG:4326; models indexed by id; sorted by id here).
    specs
        Layer specs by kind.
    settings
        Coverage settings (metric CRS, arc segments, smallest gap).
    coverage
        A coverage result to use instead of computing one; such a catalog is not updated model
        by model (its first update is a full rebuild).
    roads
        Road lines (EPSG:4326) for the street coverage figures (``road_m``, ``road_covered_m``,
        ``road_covered_pct``... of every coverage unit, kept up to date model by model too).
    context
        Roads and buildings (:func:`geo_antt.catalog.context_layers`), served as they are.
    buildings
        Building footprints (EPSG:4326): coverage, gaps and footprints are the visible ones
        (``compute_coverage(..., buildings=)``), model by model too (an update recomputes the
        touched units with the buildings near them).

    Returns
    -------
    Catalog
        Its ``excluded_models`` lists the models left out (see :func:`leave_out_unbuildable`).
    """
    models, excluded = leave_out_unbuildable(_sorted(models), specs)
    given = coverage is not None
    buildings = buildings if buildings is not None and len(buildings) else None
    bpieces = None
    if coverage is None and len(units):
        if buildings is not None:  # made disjoint once, kept for the updates
            level = choose_level(units)
            crs = metric_crs_for(units.loc[(units["level"] == level).to_numpy()], crs=settings.metric_crs)
            bpieces = building_pieces(buildings, crs)
        coverage = _coverage(
            units,
            models,
            specs=specs,
            settings=settings,
            roads=roads if roads is not None and len(roads) else None,
            with_street_gaps=False,
            buildings=buildings if bpieces is None else None,
            building_pieces_m=bpieces,
        )
    cat = Catalog(units, models, specs=specs, coverage=coverage, context=context)
    cat.excluded_models = excluded
    cat.roads = roads if roads is not None and len(roads) else None
    cat.buildings = buildings
    if not given and coverage is not None:
        try:
            cat._live = _start(
                cat,
                coverage,
                specs=specs,
                settings=settings,
                roads=roads if roads is not None and len(roads) else None,
                buildings=buildings,
                bpieces=bpieces,
            )
        except _Rebuild:
            cat._live = None
    return cat


def tier_catalog(cat: Catalog, tier: str, *, settings: Settings) -> Catalog:
    """The catalog of ``cat``'s units and models with every camera ranged for ``tier``.

    Built on first use (:func:`geo_antt.tiers.apply_tier`, then
    :func:`geo_antt.coverage.compute_coverage` at ``cat``'s coverage level, with its streets)
    and kept as long as ``cat`` lives; one build at a time. Its ``footprints``, ``coverage`` and
    ``gaps`` collections and its :meth:`Catalog.stats` coverage are the tier's; serve the models
    themselves from ``cat`` (their ``range_m`` here is the tier's). ``Catalog.tier`` is the
    code.

    Raises
    ------
    GeoAnttError
        When no layer spec declares ``tier``.
    """
    tier_of(cat.specs, tier)
    with _TIER_LOCK:
        done = _TIER_CATALOGS.setdefault(cat, {})
        if tier in done:
            return done[tier]
        models, _run = apply_tier(cat.models, tier, cat.specs)
        cu = cat.coverage_units
        level = str(cu["level"].iloc[0]) if cu is not None and len(cu) and "level" in cu else None
        coverage = (
            _coverage(
                cat.units,
                models,
                level=level,
                specs=cat.specs,
                settings=settings,
                roads=cat.roads,
                with_street_gaps=False,
                buildings=cat.buildings,  # the tier's footprints are the visible ones too
            )
            if len(cat.units)
            else None
        )
        out = Catalog(cat.units, models, specs=cat.specs, coverage=coverage)
        out.roads, out.excluded_models, out.tier = cat.roads, cat.excluded_models, tier
        out.buildings = cat.buildings
        done[tier] = out
        return out


def _coverage(*args: Any, **kwargs: Any) -> Any:
    """``compute_coverage(...)`` with its warnings (a camera inside a building) logged: the web
    catalog has no one to show them to, and a warning must not fail a request.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = compute_coverage(*args, **kwargs)
    for w in caught:
        _log.warning("coverage: %s", w.message)
    return res


def leave_out_unbuildable(
    models: gpd.GeoDataFrame, specs: Mapping[str, LayerSpec]
) -> tuple[gpd.GeoDataFrame, tuple[dict[str, str], ...]]:
    """``models`` without those whose footprint parameters lie outside their kind's bounds.

    Such rows bypassed the write checks (written by hand or by an old version): one of them
    must not break the map, the figures or the start-up for everyone, so it is left out of the
    catalog (map, items and coverage), logged as a warning and listed for the admin
    (``GET /api/registry/excluded``) until it is fixed.

    Returns
    -------
    (GeoDataFrame, tuple of dict)
        The usable models, and one ``{"id", "field", "value", "reason"}`` per problem.
    """
    problems = parameter_problems(models, specs)
    if not problems:
        return models, ()
    excluded = tuple({"id": mid, "field": fld, "value": str(v), "reason": reason} for mid, fld, v, reason in problems)
    for p in excluded:
        _log.warning(
            "model %s left out of the map and coverage: %s = %s %s", p["id"], p["field"], p["value"], p["reason"]
        )
    bad = pd.Index([p["id"] for p in excluded])
    return models.loc[~models.index.astype(str).isin(bad)], excluded


def _sorted(models: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    idx = models.index.astype(str)
    if not idx.is_monotonic_increasing:
        models = models.iloc[np.argsort(idx.to_numpy(dtype=object), kind="stable")]
    return models


def _start(
    cat: Catalog,
    coverage: Any,
    *,
    specs: Mapping[str, LayerSpec],
    settings: Settings,
    roads: gpd.GeoDataFrame | None = None,
    buildings: gpd.GeoDataFrame | None = None,
    bpieces: np.ndarray | None = None,
) -> _Version:
    """Attach sort keys to the collections and gather the update state of a fresh catalog."""
    level = choose_level(cat.units, coverage.level)
    ids = cat._models.base.index.to_numpy(dtype=object)
    if not pd.Index(ids).is_unique:
        raise _Rebuild
    cat._models.base_keys = ids
    for col in cat.collections.values():
        if col.group in ("models", "footprints"):
            col._table.base_keys = col._table.base.index.to_numpy(dtype=object)
    cov = cat.collections["coverage"]
    codes = cov.frame.index.to_numpy(dtype=object)
    pos = {c: i for i, c in enumerate(codes)}
    if len(pos) != len(codes):
        raise _Rebuild
    if "gaps" in cat.collections:
        g = cat.collections["gaps"]
        keys = _gap_keys(g.frame, pos)
        if len(keys) > 1 and np.any(np.diff(keys) <= 0):
            raise _Rebuild  # not in unit order: cannot merge updates into it
        g._table.base_keys = keys
    crs = coverage.metric_crs
    settings = settings.replace(metric_crs=crs.to_string() if hasattr(crs, "to_string") else str(crs))
    target = cat.units.loc[codes]
    units_m = target.to_crs(crs)
    metric = np.asarray(units_m.geometry.to_numpy(), dtype=object)
    bad = ~shapely.is_valid(metric)
    if bad.any():
        metric = metric.copy()
        metric[bad] = shapely.make_valid(metric[bad])
        units_m = units_m.set_geometry(gpd.GeoSeries(metric, index=units_m.index, crs=units_m.crs))
    shared = _Shared(
        specs=specs,
        settings=settings,
        level=level,
        codes=codes,
        pos=pos,
        tree=shapely.STRtree(target.geometry.to_numpy()),
        targets=_descendant_map(cat.units, pd.Index(codes)),
        units=target,
        units_m=units_m,
        roads=roads,
        road_tree=None if roads is None else shapely.STRtree(roads.geometry.to_numpy()),
        buildings=buildings,
        building_pieces_m=bpieces if buildings is not None else None,
        building_pieces_tree=shapely.STRtree(bpieces) if buildings is not None and bpieces is not None else None,
    )
    if buildings is not None and bpieces is None:
        raise _Rebuild
    frame = cov.frame
    models = cat.models
    nogeom: dict[str, set[str]] = {}
    for mid, t in _nogeom_targets(models, shared):
        nogeom.setdefault(t, set()).add(mid)
    return _Version(
        shared=shared,
        pct=frame["covered_pct"].to_numpy(dtype=float).copy(),
        unc=frame["uncovered_m2"].to_numpy(dtype=float).copy(),
        rank=frame["rank"].to_numpy(dtype=np.int64).copy(),
        reach_m=max([_reach_m(models, specs)] + [_spec_reach(s) for s in specs.values()]),
        nogeom={k: frozenset(v) for k, v in nogeom.items()},
        kinds={str(k): int(n) for k, n in models["kind"].astype(str).value_counts().items()},
        fp_base=_footprint_table(coverage.footprints_metric),
        fp_over={},
    )


def _footprint_table(fp: gpd.GeoDataFrame) -> dict[str, Any]:
    """Model id -> footprint geometry (an empty polygon where it has none: sees nothing)."""
    g = np.asarray(fp.geometry.to_numpy(), dtype=object).copy()
    miss = shapely.is_missing(g)
    g[miss] = shapely.Polygon()
    return dict(zip(fp.index.astype(str), g))


def _gap_keys(gaps: pd.DataFrame, pos: Mapping[str, int]) -> np.ndarray:
    if not len(gaps):
        return np.array([], dtype=np.int64)
    unit = np.array([pos.get(str(c), -1) for c in gaps["unit_code"]], dtype=np.int64)
    if (unit < 0).any():
        raise _Rebuild
    seq = pd.Series(np.ones(len(unit), dtype=np.int64)).groupby(unit).cumsum().to_numpy() - 1
    if (seq >= _GAP_SLOTS).any():
        raise _Rebuild
    return unit * _GAP_SLOTS + seq


def _nogeom_targets(models: pd.DataFrame, shared: _Shared):
    """(id, coverage unit code) of the models without geometry that count in a coverage unit."""
    if not len(models) or "unit_code" not in models:
        return
    g = models.geometry.to_numpy()
    none = shapely.is_missing(g)
    none[~none] = shapely.is_empty(g[~none])
    for mid, code in zip(models.index[none], models["unit_code"].to_numpy()[none]):
        t = shared.targets.get(str(code)) if code is not None else None
        if t is not None:
            yield str(mid), t


def _spec_reach(spec: LayerSpec) -> float:
    vals = [spec.defaults.get("range_m"), spec.defaults.get("radius_m")]
    return max([float(v) for v in vals if v is not None and v == v], default=0.0)


def _reach_m(models: pd.DataFrame, specs: Mapping[str, LayerSpec]) -> float:
    out = 0.0
    for c in ("range_m", "radius_m"):
        if c in models and len(models):
            v = pd.to_numeric(models[c], errors="coerce").to_numpy(dtype=float)
            if np.isfinite(v).any():
                out = max(out, float(np.nanmax(v)))
    return out


def update_catalog(cat: Catalog, changed: gpd.GeoDataFrame, *, compact_above: int = COMPACT_ABOVE) -> Catalog | None:
    """A new catalog with the models ``changed`` (as stored now) applied; ``cat`` is unchanged.

    Parameters
    ----------
    cat
        A catalog made by :func:`build_catalog` (or by an earlier update).
    changed
        The changed models, every column as the store's models frame has (new models, edited
        ones, retired ones; :attr:`ModelChanges.models`).
    compact_above
        Compact a collection once it holds more changed rows than this.

    Returns
    -------
    Catalog or None
        The updated catalog, equal to a full rebuild; None when a full rebuild is needed.
    """
    live: _Version | None = cat._live
    if live is None:
        return None
    if not len(changed):
        return cat
    excluded = {p["id"] for p in getattr(cat, "excluded_models", ())}
    if parameter_problems(changed, live.shared.specs) or excluded & set(changed.index.astype(str)):
        return None  # a row to leave out, or one left out that changed: the full build settles it
    try:
        return _update(cat, live, changed, compact_above=compact_above)
    except (_Rebuild, GeoAnttError):
        return None


def _update(cat: Catalog, live: _Version, changed: gpd.GeoDataFrame, *, compact_above: int) -> Catalog:
    sh = live.shared
    new = _wgs84(changed, "changed models")
    new.index = new.index.astype(str)
    new = _sorted(new)
    if not new.index.is_unique or set(new.columns) != set(cat._models.base.columns):
        raise _Rebuild
    new = new[list(cat._models.base.columns)]
    ids = new.index.to_numpy(dtype=object)
    old = cat._models.rows(ids)

    # kinds: a collection appears or disappears -> full rebuild
    kinds = dict(live.kinds)
    for k in old["kind"].astype(str):
        kinds[k] -= 1
    for k in new["kind"].astype(str):
        if k not in sh.specs:
            raise _Rebuild
        kinds[k] = kinds.get(k, 0) + 1
    before = {k for k, n in live.kinds.items() if n > 0}
    after = {k for k, n in kinds.items() if n > 0}
    if any(not sh.specs[k].spatial for k in before ^ after if k in sh.specs):
        raise _Rebuild

    links = _link_codes(new, cat.units)
    models = cat._models.with_changes(remove=old.index.to_numpy(dtype=object), add=new, add_keys=ids, add_links=links)
    if models.n_extra + int(models.removed.sum()) > compact_above:
        models = models.compacted()
    collections = dict(cat.collections)
    old_kind, new_kind = old["kind"].to_numpy(dtype=object), new["kind"].to_numpy(dtype=object)
    old_ids = old.index.to_numpy(dtype=object)
    for cid, col in cat.collections.items():
        if col.group != "models":
            continue
        rem = old_ids[old_kind == cid]
        sel = new_kind == cid
        if len(rem) or sel.any():
            add = new[sel]
            collections[cid] = col.with_changes(
                remove=rem, add=add, add_keys=ids[sel], add_links=links[sel], compact_above=compact_above
            )

    # the coverage units touched by the old or new state of a model whose coverage fields changed
    fcol = collections["footprints"]
    fp_old = fcol._table.rows(ids)  # the old footprints are in the footprints collection
    rel = _coverage_changed(old, new)
    new_rel = new.loc[new.index.isin(rel)]
    touched = _touched(sh, old.loc[old.index.isin(rel)], new_rel, fp_old.geometry[fp_old.index.isin(rel)].to_numpy())
    nogeom = dict(live.nogeom)
    for frame, add in ((old, False), (new, True)):
        for mid, t in _nogeom_targets(frame, sh):
            cur = set(nogeom.get(t, frozenset()))
            (cur.add if add else cur.discard)(mid)
            nogeom[t] = frozenset(cur)
    reach = max(live.reach_m, _reach_m(new, sh.specs))
    version = replace(live, reach_m=reach, nogeom=nogeom, kinds=kinds)
    fp_parts = []
    if version.fp_base is not None and version.fp_over is not None:
        # the changed models' footprints are made again; the new ones are kept below
        over = dict(version.fp_over)
        for mid in rel:
            over[mid] = None
        version = replace(version, fp_over=over)
    if len(touched):
        version, res_fp = _recompute(
            sh, version, collections, models, touched, cat.units, compact_above=compact_above, fresh_ids=frozenset(rel)
        )
        made_fp = res_fp.loc[res_fp.index.isin(rel)]  # the changed models' new footprints
        fp_parts.append(made_fp)
        if version.fp_over is not None and version.fp_base is not None and len(made_fp):
            over = dict(version.fp_over)
            over.update(_footprint_table(made_fp))
            if len(over) > _FOOTPRINT_OVERLAY:  # merged into a new shared table
                base = dict(version.fp_base)
                base.update(over)
                version = replace(version, fp_base={k: v for k, v in base.items() if v is not None}, fp_over={})
            else:
                version = replace(version, fp_over=over)
    # new footprints of changed models that no touched unit's computation made (outside every unit)
    made = set(fp_parts[0].index) if fp_parts else set()
    todo = new_rel.loc[~new_rel.index.isin(made)]
    if len(todo):
        fp_parts.append(_footprints(todo.to_crs(sh.settings.metric_crs), sh))
    fp = pd.concat(fp_parts) if len(fp_parts) > 1 else (fp_parts[0] if fp_parts else None)
    fp = _valid_wgs84(fp) if fp is not None and len(fp) else fcol._table.base.iloc[:0]
    # models whose coverage fields did not change keep their footprint; only its name may differ
    same = fp_old.loc[~fp_old.index.isin(rel)]
    if len(same):
        same = same.copy()
        same["name"] = new.loc[same.index, "name"].to_numpy()
        fp = pd.concat([fp, same]) if len(fp) else same
    fp.index = fp.index.astype(str)
    fp = fp.iloc[np.argsort(fp.index.to_numpy(dtype=object), kind="stable")]
    fp_links = pd.Series(links, index=new.index).reindex(fp.index).to_numpy(dtype=object)
    if any(not v for v in fp_links):  # a model linked to no unit: as the full build does it
        fp_links = _link_codes(fp, cat.units, model_links=pd.Series(links, index=new.index))
    collections["footprints"] = fcol.with_changes(
        remove=ids, add=fp, add_keys=fp.index.to_numpy(dtype=object), add_links=fp_links, compact_above=compact_above
    )

    out = copy.copy(cat)
    out.collections = collections
    out._models = models
    out._live = version
    return out


def _kept_footprints(version: _Version, near: pd.DataFrame, fresh: frozenset[str], crs: Any) -> gpd.GeoDataFrame | None:
    """The footprints ``version`` keeps for the models ``near`` (not those in ``fresh``), as
    ``compute_coverage(footprints_m=)`` takes them.
    """
    base, over = version.fp_base, version.fp_over
    if base is None or over is None:
        return None
    ids, geoms, at = [], [], []
    for i, mid in enumerate(map(str, near.index)):
        if mid in fresh:
            continue
        g = over[mid] if mid in over else base.get(mid)
        if g is not None:
            ids.append(mid)
            geoms.append(g)
            at.append(i)
    if not ids:
        return None
    g = np.asarray(geoms, dtype=object)
    return gpd.GeoDataFrame(
        {
            "kind": near["kind"].to_numpy()[at],
            "status": near["status"].to_numpy()[at],
            "area_m2": shapely.area(g),
        },
        geometry=gpd.GeoSeries(g, index=pd.Index(ids, dtype=object), crs=crs),
        index=pd.Index(ids, dtype=object),
        crs=crs,
    )


def _footprints(models_m: gpd.GeoDataFrame, sh: _Shared) -> gpd.GeoDataFrame:
    """Footprints of the counted models among ``models_m`` as compute_coverage makes them."""
    counted = (
        models_m["status"].isin(list(COUNTING_STATUSES)).to_numpy().copy() if len(models_m) else np.zeros(0, dtype=bool)
    )
    g = models_m.geometry.to_numpy()
    counted &= ~shapely.is_missing(g)
    counted[counted] = ~shapely.is_empty(g[counted])
    if not counted.any():
        return gpd.GeoDataFrame({"kind": [], "name": [], "status": [], "area_m2": []}, geometry=[], crs=models_m.crs)
    fp = build_footprints(models_m.loc[counted], specs=sh.specs, segments_per_quarter=sh.settings.sector_segments)
    if len(fp) and sh.building_pieces_m is not None and sh.building_pieces_tree is not None:
        # cut by the buildings they meet, as the full build cuts every footprint
        near = sh.building_pieces_m[np.unique(sh.building_pieces_tree.query(fp.geometry.to_numpy())[1])]
        if len(near):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a model inside a building: the full build warns
                fp = occluded_footprints(fp, models_m, near, specs=sh.specs)
            g = fp.geometry.to_numpy()
            blind = shapely.is_empty(g)
            if blind.any():  # one facing its wall sees nothing: no geometry, as compute_coverage gives it
                fp = fp.set_geometry(gpd.GeoSeries(np.where(blind, None, g), index=fp.index, crs=fp.crs))
    if "name" in models_m.columns and len(fp):
        fp.insert(1, "name", models_m.loc[fp.index, "name"].to_numpy())
    return fp


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, shapely.Geometry) or isinstance(b, shapely.Geometry):
        if a is None or b is None:
            return a is b
        return bool(shapely.equals_exact(a, b, tolerance=0.0))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


def _coverage_changed(old: pd.DataFrame, new: pd.DataFrame) -> set[str]:
    """Ids whose coverage fields differ (or that are new)."""
    at = new.index.get_indexer(old.index)  # old holds rows of some of the changed ids
    present = np.zeros(len(new), dtype=bool)
    present[at[at >= 0]] = True
    out = set(map(str, new.index[~present]))
    old = old.iloc[np.flatnonzero(at >= 0)]
    at = at[at >= 0]
    if not len(at):
        return out
    common = old.index
    differ = np.zeros(len(common), dtype=bool)
    for c in _COVERAGE_FIELDS:
        if c not in new.columns:
            continue
        a, b = old[c].to_numpy(dtype=object), new[c].to_numpy(dtype=object)[at]
        if c == "geometry":
            miss_a, miss_b = shapely.is_missing(a), shapely.is_missing(b)
            same = miss_a & miss_b
            both = ~miss_a & ~miss_b
            same[both] = shapely.equals_exact(a[both], b[both], tolerance=0.0)
        else:
            same = np.fromiter((_same(x, y) for x, y in zip(a, b)), dtype=bool, count=len(a))
        differ |= ~same
    out.update(map(str, common[differ]))
    return out


def _touched(sh: _Shared, old: gpd.GeoDataFrame, new: gpd.GeoDataFrame, old_footprints: np.ndarray) -> np.ndarray:
    """Positions of the coverage units the old or new footprint, location or unit of these
    models may touch: in lon/lat, units within 1e-6 degree of an old footprint or location, and
    within a model's own reach (range or radius, 1 % more) of its new location.
    """
    hit: list[np.ndarray] = []
    probes, dist = [], []
    for frame in (old, new):
        for _, t in _nogeom_targets(frame, sh):
            hit.append(np.array([sh.pos[t]]))
    for g, d in ((np.asarray(old_footprints, dtype=object), 0.0), (old.geometry.to_numpy(), 0.0)):
        probes.append(g)
        dist.append(np.full(len(g), d))
    if len(new):
        g = new.geometry.to_numpy()
        lat = np.nan_to_num(shapely.get_y(shapely.centroid(g)), nan=0.0)
        dlon, _ = _degrees(1.0, lat)
        probes.append(g)
        dist.append(_row_reach(new, sh.specs) * 1.01 * dlon)
    geoms = np.concatenate(probes) if probes else np.array([], dtype=object)
    reach = np.concatenate(dist) + 1e-6 if probes else np.array([])
    ok = ~shapely.is_missing(geoms)
    ok[ok] = ~shapely.is_empty(geoms[ok])
    if ok.any():
        hit.append(sh.tree.query(geoms[ok], predicate="dwithin", distance=reach[ok])[1])
    if not hit:
        return np.array([], dtype=np.int64)
    return np.unique(np.concatenate(hit)).astype(np.int64)


def _row_reach(models: pd.DataFrame, specs: Mapping[str, LayerSpec]) -> np.ndarray:
    """How far (metres) each model's footprint may reach from its geometry."""
    out = np.zeros(len(models))
    for c in ("range_m", "radius_m"):
        if c in models:
            v = pd.to_numeric(models[c], errors="coerce").to_numpy(dtype=float)
            out = np.fmax(out, v)
    default = {k: _spec_reach(s) for k, s in specs.items()}
    return np.fmax(out, np.array([default.get(str(k), 0.0) for k in models["kind"]], dtype=float))


def _degrees(metres: float, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(degrees of longitude, of latitude) spanning at least ``metres`` at latitudes ``lat``."""
    dlat = np.full(len(lat), metres / 110_574.0)
    dlon = metres / (111_320.0 * np.maximum(np.cos(np.radians(np.minimum(np.abs(lat), 89.0))), 1e-6))
    return dlon, dlat


def _recompute(
    sh: _Shared,
    version: _Version,
    collections: dict,
    models,
    touched: np.ndarray,
    units: gpd.GeoDataFrame,
    *,
    compact_above: int,
    fresh_ids: frozenset[str] = frozenset(),
) -> tuple[_Version, gpd.GeoDataFrame]:
    """Coverage figures and gaps of the ``touched`` coverage units, from the models near them
    (compute_coverage, as the store's cache does); ranks of every unit; changed features only.
    Returns the new version and the footprints of the models near (metric CRS). The models
    near keep their footprint (``version``'s), except those in ``fresh_ids``: theirs are made.
    """
    b = shapely.bounds(sh.units.geometry.to_numpy()[touched])
    lat = np.maximum(np.abs(b[:, 1]), np.abs(b[:, 3]))
    dx, dy = _degrees(version.reach_m * 1.05 + 1.0, lat)
    boxes = shapely.box(b[:, 0] - dx, b[:, 1] - dy, b[:, 2] + dx, b[:, 3] + dy)
    near_pos = models.query(boxes)
    near = models.take(near_pos)
    extra_ids = sorted({mid for c in sh.codes[touched] for mid in version.nogeom.get(c, ())})
    if extra_ids:
        near = pd.concat([near, models.rows(extra_ids)])
    near_roads = None
    if sh.roads is not None and sh.road_tree is not None:  # the roads of the touched units only
        ub = shapely.box(*np.asarray(shapely.bounds(sh.units.geometry.to_numpy()[touched])).T)
        near_roads = sh.roads.iloc[np.unique(sh.road_tree.query(ub)[1])]
    near_pieces = None
    if sh.building_pieces_m is not None and sh.building_pieces_tree is not None:
        # a building hides part of a footprint only if it meets it: those within two reaches of
        # the touched units (the near models stand within one, their footprints reach one more)
        ub = np.atleast_2d(shapely.bounds(sh.units_m.geometry.to_numpy()[touched]))
        d = 2.0 * (version.reach_m * 1.05 + 1.0)
        wide = shapely.box(ub[:, 0] - d, ub[:, 1] - d, ub[:, 2] + d, ub[:, 3] + d)
        near_pieces = sh.building_pieces_m[np.unique(sh.building_pieces_tree.query(wide)[1])]
    res = _coverage(
        sh.units_m.iloc[touched],
        near,
        level=sh.level,
        specs=sh.specs,
        settings=sh.settings,
        with_gaps=True,
        roads=near_roads,
        with_street_gaps=False,
        building_pieces_m=near_pieces,
        footprints_m=_kept_footprints(version, near, fresh_ids, sh.settings.metric_crs),
    )
    figs = res.units

    cov = collections["coverage"]
    pct, unc = version.pct.copy(), version.unc.copy()
    pct[touched] = figs["covered_pct"].to_numpy(dtype=float)
    unc[touched] = figs["uncovered_m2"].to_numpy(dtype=float)
    order = np.lexsort((-unc, pct))
    rank = np.empty(len(pct), dtype=np.int64)
    rank[order] = np.arange(1, len(pct) + 1)
    changed = np.union1d(touched, np.flatnonzero(rank != version.rank)).astype(np.int64)
    rows = cov._table.take(changed)
    fresh = np.isin(changed, touched)
    # the touched units: the new figures, with the unit's own geometry (and name) kept
    got = figs.drop(columns=[c for c in ("geometry",) if c in figs.columns])
    got = got[[c for c in got.columns if c in rows.columns]]
    keep = rows.iloc[np.flatnonzero(fresh)]
    got = keep.drop(columns=list(got.columns)).join(got)
    parts, where = [got], [np.flatnonzero(fresh)]
    if (~fresh).any():  # the others: only their rank moved
        parts.append(rows.iloc[np.flatnonzero(~fresh)])
        where.append(np.flatnonzero(~fresh))
    rows = _align(_reorder(parts, where, rows), rows)
    rows["rank"] = rank[changed]
    feats = cov.features
    texts = [_with_properties(feats[int(i)], p) for i, p in zip(changed, _property_texts(rows))]
    collections["coverage"] = cov.with_changes(
        remove=changed,
        add=rows,
        add_keys=changed,
        add_links=cov.unit_codes[changed],
        add_texts=texts,
        compact_above=compact_above,
    )

    if "gaps" in collections:
        gcol = collections["gaps"]
        rem = np.concatenate([gcol._table.key_range(int(h) * _GAP_SLOTS, (int(h) + 1) * _GAP_SLOTS) for h in touched])
        g = res.gaps.copy()
        g.index = g.index.astype(str)
        keys = _gap_keys(g, sh.pos)
        links = _link_codes(g, units)
        gcol2 = gcol.with_changes(
            remove=rem, add=g, add_keys=keys, add_links=links, add_texts=_feature_texts(g), compact_above=compact_above
        )
        collections["gaps"] = gcol2
    return replace(version, pct=pct, unc=unc, rank=rank), res.footprints_metric


class LiveCatalog:
    """The catalog of the store's current units and models, following the store's generation
    counter: on the first request after a change, the models changed since
    (:meth:`Store.changes_since`) are applied to a copy of the catalog
    (:func:`geo_antt.catalog.live.update_catalog`: only their rows, footprints and the coverage
    units they touch); a large change, new units or a restore rebuild it whole. Requests keep
    the catalog they started with; the new one replaces it in one assignment, whole. A
    background thread brings it up to date; requests wait for it at most ``wait_s``, then are
    served from the previous catalog.
    """

    def __init__(
        self,
        store: Store,
        *,
        specs,
        settings: Settings,
        dataset: Any = None,
        coverage: Any = None,
        wait_s: float = 1.0,
        context: Mapping[str, gpd.GeoDataFrame] | None = None,
    ) -> None:
        """``wait_s``: seconds a request waits for another request's update of the catalog
        before it is served from the previous one; ``context``: roads and buildings, kept in
        every catalog.
        """
        self.store = store
        self.context = dict(context or {})
        self.specs = specs
        self.settings = settings
        self.static = dataset is not None
        self._lock = threading.Lock()  # held by the one thread that updates the catalog
        self._updated = threading.Condition()  # notified whenever the catalog changes
        self._updater: threading.Thread | None = None
        self._failed_at = -math.inf  # monotonic time of the last failed update
        self.wait_s = wait_s
        self.generation = store.generation()
        self.rebuild_seconds: float | None = None
        self.last_update: str | None = None  # "incremental" or "full", for logs and benches
        if dataset is not None:
            cov = (
                coverage
                if coverage is not None
                else _compute_coverage(dataset, specs=specs, settings=settings, buildings=self.context.get("buildings"))
            )
            self.catalog = Catalog(dataset.units, dataset.models, specs=specs, coverage=cov, context=self.context)
            b = self.context.get("buildings")
            self.catalog.buildings = b if coverage is None and b is not None and len(b) else None
        else:
            self.catalog = self._full(coverage=coverage)

    def _full(self, *, coverage: Any = None) -> Catalog:
        counts = self.store.context_counts()
        roads = self.store.context_frame("roads", merged=True) if counts["roads"] else None
        context = self._context()
        # cameras and lights do not see through the buildings the map draws: the store's, else
        # the dataset's
        buildings = self.store.context_frame("buildings", merged=True) if counts["buildings"] else None
        if buildings is None:
            buildings = context.get("buildings")
        return build_catalog(
            self.store.units_frame(),
            self.store.models_frame(user=None),
            specs=self.specs,
            settings=self.settings,
            coverage=coverage,
            roads=roads,
            context=context,
            buildings=buildings,
        )

    def _context(self) -> dict[str, gpd.GeoDataFrame]:
        """The roads and buildings the map draws: the store's when it holds any (loaded with
        ``geo-antt db load-roads|load-buildings`` or seeded from the dataset), else those the
        dataset folder lists.
        """
        counts = self.store.context_counts()
        if not any(counts.values()):
            return self.context
        return {cid: _tidy(cid, self.store.context_frame(cid, merged=True)) for cid, n in counts.items() if n}

    def current(self, generation: int | None = None) -> Catalog:
        """The catalog of the store's ``generation`` (read from the store when None; the web
        layer passes the one its request read), or the previous one while it is brought up to
        date.

        The update runs on a background thread, never on a request's: a request that finds the
        catalog behind starts it (when it is not running) and waits for it at most ``wait_s``
        (an edit's incremental update takes ~0.1 s, so an officer sees the save just made),
        then is served from the previous catalog (whole and consistent, one generation behind)
        instead of waiting out a full rebuild after a large import (issue #13, item 7).
        """
        if self.static:
            return self.catalog
        gen = self.store.generation() if generation is None else generation
        if gen == self.generation:
            return self.catalog
        self.request_update()
        deadline = time.monotonic() + self.wait_s
        with self._updated:
            while self.generation != gen and self.updating:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._updated.wait(left)
        return self.catalog

    @property
    def updating(self) -> bool:
        """Whether a background update of the catalog is running."""
        t = self._updater
        return t is not None and t.is_alive()

    def request_update(self) -> None:
        """Start bringing the catalog up to the store's generation on a background thread,
        unless one is already at it (or the last attempt failed less than ``RETRY_S`` ago: a
        broken store costs a log line per ``RETRY_S``, not a rebuild per request). Writers call
        it after a large change so that the rebuild starts before the next request.
        """
        with self._updated:
            if self.updating or time.monotonic() - self._failed_at < self.RETRY_S:
                return
            self._updater = threading.Thread(target=self._update_loop, name="geo-antt-catalog", daemon=True)
            self._updater.start()

    RETRY_S = 5.0

    def _update_loop(self) -> None:
        """The background updater: refresh until the catalog has caught up with the store."""
        try:
            while True:
                with self._lock:
                    if self.store.generation() == self.generation:
                        return
                    self.refresh()
                with self._updated:
                    self._updated.notify_all()
        except Exception:  # the previous catalog keeps being served; retried after RETRY_S
            _log.exception("updating the map catalog failed; serving the previous one")
            self._failed_at = time.monotonic()
        finally:
            with self._updated:
                self._updater = None if self._updater is threading.current_thread() else self._updater
                self._updated.notify_all()

    def wait_until_current(self, timeout_s: float | None = None) -> bool:
        """Wait (at most ``timeout_s`` seconds; None: as long as it takes) until the catalog
        has the store's generation, updating it if needed; whether it has. For the command
        line, tests and benchmarks: a request never waits longer than ``wait_s``.
        """
        deadline = math.inf if timeout_s is None else time.monotonic() + timeout_s
        while True:
            if self.static or self.store.generation() == self.generation:
                return True
            self.request_update()
            with self._updated:
                if self.updating:
                    self._updated.wait(min(1.0, max(0.0, deadline - time.monotonic())))
                elif time.monotonic() - self._failed_at < self.RETRY_S:
                    return False  # the update failed: do not spin
            if time.monotonic() >= deadline:
                return self.store.generation() == self.generation

    def refresh(self) -> None:
        """Bring the catalog up to the store's generation now, on the caller's thread (the
        background updater holds the lock while it calls it).
        """
        t0 = time.perf_counter()
        changes = self.store.changes_since(self.generation, max_models=MAX_INCREMENTAL)
        try:
            cat = None if changes.reload else update_catalog(self.catalog, changes.models)
        except Exception:  # a bug must cost time, not the map: rebuild
            _log.exception("incremental catalog update failed; rebuilding the catalog")
            cat = None
        if cat is not None:
            self.catalog, self.generation, self.last_update = cat, changes.generation, "incremental"
        else:
            gen = self.store.generation()  # before reading: a later write is applied again next time
            self.catalog, self.generation, self.last_update = self._full(), gen, "full"
            # the previous catalog and the build's intermediate frames are garbage now: give
            # their pages back, or RSS keeps the peak of two catalogs (issue #13, item 7)
            release_memory()
        self.rebuild_seconds = time.perf_counter() - t0
        _log.info(
            "catalog updated (%s, %d model(s)) after a store change in %.3f s",
            self.last_update,
            len(changes.models),
            self.rebuild_seconds,
        )


def _compute_coverage(dataset, *, specs, settings: Settings, buildings: gpd.GeoDataFrame | None = None):
    if not len(dataset.units):
        return None
    buildings = buildings if buildings is not None and len(buildings) else None
    return _coverage(dataset.units, dataset.models, specs=specs, settings=settings, buildings=buildings)
