"""Coverage of the whole country on Dask: administrative partitions, each in its own metric CRS.

One metric CRS for all of Vietnam (102-118°E) misstates areas by up to 2.3 % at the far edge, and
the country's hamlets, cameras and buildings will not fit one process for long. A national run
is therefore cut into administrative partitions and each is computed by the same engine
(:func:`geo_antt.coverage.compute_coverage`) in the metric CRS that suits it:

1. **Partitions** (:func:`partition_units`): the units of the reported level are grouped by
   province (their top-level ancestor through ``parent_code``). A province whose lon/lat box
   one CRS cannot measure within :data:`AREA_ERROR_BOUND` (0.25 %) is split by the CRS of each
   unit's own centre; a group of more than ``max_units`` units is bisected (across the longer
   side of its units' centres) until no part has more. All parts of a group share its CRS, so
   splitting changes no figure. A unit wider than any zone measures within the bound (Đặc khu
   Trường Sa, 109.5-117.8°E: 0.32 % in UTM 49N) goes to a partition ``<key>-aea`` computed in
   the Albers equal-area projection of NATIONAL.md (:data:`geo_antt.crs.EQUAL_AREA_CRS`).
2. **CRS** (:func:`geo_antt.crs.partition_crs`): the UTM zone of the group's centre (EPSG:32648
   west of 108°E, 32649 east), or with ``crs_system="vn2000"`` the VN-2000 TM-3 zone Circular
   973/2001/TT-TCĐC fixes for the province when its code is one of
   :data:`geo_antt.crs.VN2000_PROVINCE_MERIDIANS` (the parts of a province split by CRS, and a
   province of another code: the zone nearest the part's centre).
3. **Halo** (:func:`footprint_halo_m`): every partition gets every model whose location lies
   within the largest footprint reach of any kind (the ``range_m``/``radius_m`` bounds of
   ``layers/*.toml``, or a larger value found in the data) of the box of one of its units, so a
   footprint crossing a partition border counts on both sides, exactly as in one process. The
   same for buildings (they hide what lies behind them); roads go to the partitions whose unit
   boxes they meet.
4. **Run**: with a ``distributed.Client`` (a ``LocalCluster`` of N worker processes, or a
   scheduler's address) one task per partition runs the engine (``client.submit``, the largest
   first), its inputs in the
   task graph (so Dask reruns a partition whose worker dies: scattered data would be lost with it);
   without one they run in turn in this process. Each partition returns its figures, gaps,
   street gaps and footprints in EPSG:4326; the figures are concatenated in the input order of
   the units and ranked again over the whole country.

A model is counted (``n_<kind>``) by the unit that holds it, as in one process (on the border
between two parts of one bisected province: by the unit first in the units' order, as one
process over the province counts it; in two provinces whose polygons overlap: in each, as runs
of each province apart count it); its footprint is reported once, by the first partition whose unit boxes hold its location (a model beyond every
unit box by the partition whose halo holds it).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from ._errors import GeoAnttError
from .config import DEFAULT_SETTINGS, Settings
from .coverage import choose_level, compute_coverage
from .crs import EQUAL_AREA_CRS, EQUAL_AREA_PROJ, WGS84, partition_crs, to_wgs84, utm_area_error
from .layers import LayerSpec, load_layer_specs, spatial_kinds
from .schema import COUNTING_STATUSES

__all__ = [
    "AREA_ERROR_BOUND",
    "MAX_PARTITION_UNITS",
    "CRS_SYSTEMS",
    "Partition",
    "NationalResult",
    "footprint_halo_m",
    "partition_units",
    "compute_national_coverage",
]

# A partition's CRS must measure every unit's area within this fraction (0.25 %) of the
# ellipsoidal area (the equal-area check of tests/test_national.py); a province it cannot is
# split by the CRS of each unit.
AREA_ERROR_BOUND = 0.0025
# Units of the reported level per partition, at most (a large province is bisected).
MAX_PARTITION_UNITS = 1500
CRS_SYSTEMS = ("utm", "vn2000")
# The footprint polygons reach up to +0.33 % beyond their radius (equal-area arc vertices, see
# geo_antt.footprints) and a metric CRS's scale differs from 1 by < 0.4 % in Vietnam: the halo
# is the largest radius times this, plus a metre.
_HALO_FACTOR = 1.01
# Metres per degree of latitude at least (WGS 84, at the equator), and per degree of longitude
# at the equator at most (the equatorial radius): the halo in degrees is never short.
_M_PER_DEG_LAT = 110_574.0
_M_PER_DEG_LON_EQ = 111_319.49


@dataclass(frozen=True)
class Partition:
    """One administrative partition of a national run.

    Attributes
    ----------
    key
        ``<province code>``, then ``-<EPSG>`` when the province was split by CRS and ``-<n>``
        (1-based) when it was bisected: the name of its output files.
    province
        Code of the top-level unit (province) the partition's units belong to.
    codes
        Codes of its units of the reported level, in input order.
    crs
        Its metric CRS, as ``"EPSG:NNNN"`` (or :data:`geo_antt.crs.EQUAL_AREA_PROJ`).
    bounds
        Lon/lat box of its units (degrees).
    area_error
        Largest relative area error of ``crs`` over ``bounds`` (:func:`geo_antt.crs.utm_area_error`).
    group
        The key of the province (or its part in one CRS) it was bisected from: its own key when
        it was not.
    """

    key: str
    province: str
    codes: tuple[str, ...]
    crs: str
    bounds: tuple[float, float, float, float]
    area_error: float
    group: str = ""


@dataclass
class NationalResult:
    """What :func:`compute_national_coverage` returns; every frame in EPSG:4326.

    Attributes
    ----------
    units
        The figures of every unit of the level (the columns of
        :attr:`geo_antt.coverage.CoverageResult.units` plus ``partition`` and ``metric_crs``),
        in the input order of the units; ``rank`` is over the whole country.
    gaps, street_gaps, footprints
        Per partition key (the partitions' order), the uncovered parts, the uncovered stretches
        of road and the footprints of the models the partition reports (each model once).
    partitions
        The partitions, in the order they were computed.
    level
        The level of the figures.
    timings
        Seconds: ``partition`` (cutting the inputs), ``compute`` (all partitions, wall) and,
        per partition key, the engine's own seconds.
    """

    units: gpd.GeoDataFrame
    gaps: dict[str, gpd.GeoDataFrame]
    street_gaps: dict[str, gpd.GeoDataFrame]
    footprints: dict[str, gpd.GeoDataFrame]
    partitions: list[Partition]
    level: str
    timings: dict[str, Any] = field(default_factory=dict)

    def all_gaps(self) -> gpd.GeoDataFrame:
        """The gaps of every partition in one frame."""
        return _concat(list(self.gaps.values()))

    def all_street_gaps(self) -> gpd.GeoDataFrame:
        """The street gaps of every partition in one frame."""
        return _concat(list(self.street_gaps.values()))

    def all_footprints(self) -> gpd.GeoDataFrame:
        """The footprints of every partition in one frame."""
        return _concat(list(self.footprints.values()))

    @property
    def crs_names(self) -> list[str]:
        """The distinct metric CRSs of the partitions, sorted."""
        return sorted({p.crs for p in self.partitions})


def _concat(frames: list[gpd.GeoDataFrame]) -> gpd.GeoDataFrame:
    frames = [f for f in frames if len(f)] or frames[:1]
    if not frames:
        return gpd.GeoDataFrame(geometry=[], crs=WGS84)
    return gpd.GeoDataFrame(pd.concat(frames), crs=WGS84)


def footprint_halo_m(specs: Mapping[str, LayerSpec], models: pd.DataFrame | None = None) -> float:
    """The halo of a partition, metres: the largest footprint radius of any spatial kind.

    The largest of the ``range_m`` and ``radius_m`` bounds of the spatial kinds (``[bounds]`` of
    ``layers/*.toml``) and of any finite ``range_m``/``radius_m`` in ``models`` (a frame whose
    values were never checked against the bounds reaches no further than its own values), times
    1.01 (polygon outlines and the CRS's scale), plus one metre.
    """
    reach = 0.0
    for kind in spatial_kinds(specs):
        bounds = specs[kind].bounds
        for fld in ("range_m", "radius_m"):
            if fld in bounds:
                reach = max(reach, float(bounds[fld][1]))
    if models is not None:
        for fld in ("range_m", "radius_m"):
            if fld in models.columns and len(models):
                values = pd.to_numeric(models[fld], errors="coerce").to_numpy(dtype=float)
                finite = values[np.isfinite(values)]
                if finite.size:
                    reach = max(reach, float(finite.max()))
    return reach * _HALO_FACTOR + 1.0


def _top_ancestors(units: pd.DataFrame) -> dict[str, str]:
    """Map every unit code to its top-level ancestor's code (a parent missing from the frame is
    the top: the communes of a file whose provinces are not loaded).
    """
    parent = {str(c): p for c, p in zip(units.index, units["parent_code"])}
    out: dict[str, str] = {}
    for code in parent:
        chain: list[str] = []
        c: str = code
        while c not in out:
            chain.append(c)
            p = parent.get(c)
            if p is None or p != p or str(p) == c or len(chain) > 16:  # p != p: NaN
                top = c
                break
            if str(p) not in parent:
                top = str(p)
                break
            c = str(p)
        else:
            top = out[c]
        for k in chain:
            out[k] = top
    return out


def _ancestor_at(units: pd.DataFrame, targets: set[str]) -> dict[str, str]:
    """Map every unit code at or below a target unit to that target's code."""
    parent = {str(c): p for c, p in zip(units.index, units["parent_code"])}
    out: dict[str, str] = {}
    for code in parent:
        c: object = code
        seen = 0
        while c is not None and c == c and seen < 16:  # c == c: not NaN
            if str(c) in targets:
                out[code] = str(c)
                break
            c, seen = parent.get(str(c)), seen + 1
    return out


def _bisect(order: np.ndarray, x: np.ndarray, y: np.ndarray, max_units: int) -> list[np.ndarray]:
    """Split the rows ``order`` (positions) into groups of at most ``max_units``, halving across
    the longer side of their centres' spread (deterministic: ties by position).
    """
    if len(order) <= max_units:
        return [order]
    xs, ys = x[order], y[order]
    axis = xs if (xs.max() - xs.min()) >= (ys.max() - ys.min()) else ys
    ranked = order[np.lexsort((order, axis))]
    half = len(ranked) // 2
    return _bisect(np.sort(ranked[:half]), x, y, max_units) + _bisect(np.sort(ranked[half:]), x, y, max_units)


def partition_units(
    units: gpd.GeoDataFrame,
    *,
    level: str | None = None,
    crs_system: str = "utm",
    max_units: int = MAX_PARTITION_UNITS,
) -> list[Partition]:
    """Cut the units of ``level`` into administrative partitions, each with its metric CRS.

    Parameters
    ----------
    units
        Units frame (all levels may be present), any CRS.
    level
        The reported level (default: the finest present).
    crs_system
        ``"utm"`` (the UTM zone of each partition's centre) or ``"vn2000"`` (the province's
        official VN-2000 TM-3 zone when its code is known, else the nearest one).
    max_units
        Units per partition at most (1-1,000,000); a larger province is bisected.

    Returns
    -------
    list of Partition
        Sorted by key (province code first).

    Raises
    ------
    GeoAnttError
        An unknown ``crs_system`` or a ``max_units`` out of bounds.
    """
    if crs_system not in CRS_SYSTEMS:
        raise GeoAnttError(f"crs system must be one of {', '.join(CRS_SYSTEMS)}, got {crs_system!r}")
    if not (isinstance(max_units, int) and 1 <= max_units <= 1_000_000):
        raise GeoAnttError(f"max_units must be a whole number from 1 to 1,000,000, got {max_units!r}")
    level = choose_level(units, level)
    target = units.loc[(units["level"] == level).to_numpy()]
    wgs = to_wgs84(target)
    geoms = np.asarray(wgs.geometry.to_numpy(), dtype=object)
    b = shapely.bounds(geoms)
    cx, cy = (b[:, 0] + b[:, 2]) / 2.0, (b[:, 1] + b[:, 3]) / 2.0
    tops = _top_ancestors(units)
    codes = target.index.astype(str).to_numpy()
    province = np.array([tops.get(c, c) for c in codes], dtype=object)
    out: list[Partition] = []
    for prov in sorted(set(province.tolist())):
        rows = np.flatnonzero(province == prov)
        groups: list[tuple[str, np.ndarray]] = [(prov, rows)]
        box = _box(b[rows])
        crs = partition_crs(box, system=crs_system, province=prov)
        if utm_area_error(box, crs) > AREA_ERROR_BOUND and len(rows) > 1:
            own = np.array(
                [partition_crs((cx[i], cy[i], cx[i], cy[i]), system=crs_system).to_epsg() for i in rows], dtype=np.int64
            )
            if len(set(own.tolist())) > 1:
                groups = [(f"{prov}-{epsg}", rows[own == epsg]) for epsg in sorted(set(own.tolist()))]
        final: list[tuple[str, np.ndarray, CRS]] = []
        for gkey, grows in groups:
            # the province whole: its official zone (vn2000); split by zone: each part's nearest
            gcrs = partition_crs(_box(b[grows]), system=crs_system, province=prov if gkey == prov else None)
            # a unit wider than any zone measures (Trường Sa spans 109.5-117.8°E) is computed
            # in the equal-area projection: its area exact, its footprints' areas too
            wide = np.array([utm_area_error(_box(b[i : i + 1]), gcrs) > AREA_ERROR_BOUND for i in grows], dtype=bool)
            if wide.all():
                final.append((f"{gkey}-aea", grows, EQUAL_AREA_CRS))
            elif wide.any():
                final += [(gkey, grows[~wide], gcrs), (f"{gkey}-aea", grows[wide], EQUAL_AREA_CRS)]
            else:
                final.append((gkey, grows, gcrs))
        for gkey, grows, gcrs in final:
            parts = _bisect(grows, cx * np.cos(np.radians(cy)), cy, max_units)
            name = EQUAL_AREA_PROJ if gcrs is EQUAL_AREA_CRS else f"EPSG:{gcrs.to_epsg()}"
            for n, prows in enumerate(parts, start=1):
                key = gkey if len(parts) == 1 else f"{gkey}-{n}"
                pbox = _box(b[prows])
                out.append(
                    Partition(
                        key=key,
                        province=prov,
                        codes=tuple(codes[prows].tolist()),
                        crs=name,
                        bounds=pbox,
                        area_error=utm_area_error(pbox, gcrs),
                        group=gkey,
                    )
                )
    return out


def _box(bounds: np.ndarray) -> tuple[float, float, float, float]:
    return (
        float(bounds[:, 0].min()),
        float(bounds[:, 1].min()),
        float(bounds[:, 2].max()),
        float(bounds[:, 3].max()),
    )


def _halo_boxes(bounds: np.ndarray, halo_m: float) -> np.ndarray:
    """Boxes (lon/lat) of ``bounds`` rows grown by at least ``halo_m`` metres on every side."""
    if halo_m <= 0:
        return shapely.box(bounds[:, 0], bounds[:, 1], bounds[:, 2], bounds[:, 3])
    lat = np.minimum(np.maximum(np.abs(bounds[:, 1]), np.abs(bounds[:, 3])) + 1.0, 89.0)
    dlat = halo_m / _M_PER_DEG_LAT
    dlon = halo_m / (_M_PER_DEG_LON_EQ * np.cos(np.radians(lat)))
    return shapely.box(bounds[:, 0] - dlon, bounds[:, 1] - dlat, bounds[:, 2] + dlon, bounds[:, 3] + dlat)


def _rows_near(tree: shapely.STRtree, boxes: np.ndarray) -> np.ndarray:
    """Sorted unique positions of the tree's geometries whose box meets one of ``boxes``."""
    if len(boxes) == 0:
        return np.array([], dtype=np.int64)
    _, hit = tree.query(boxes)
    return np.unique(hit)


class _Near:
    """A feature layer (roads, buildings) in EPSG:4326 with a tree of its boxes, or nothing."""

    def __init__(self, frame: gpd.GeoDataFrame | None) -> None:
        self.frame = to_wgs84(frame) if frame is not None else None
        self.tree = (
            shapely.STRtree(np.asarray(self.frame.geometry.to_numpy(), dtype=object))
            if self.frame is not None
            else None
        )

    def rows(self, boxes: np.ndarray) -> gpd.GeoDataFrame | None:
        """The features whose box meets one of ``boxes`` (None without a layer)."""
        if self.frame is None or self.tree is None:
            return None
        return self.frame.iloc[_rows_near(self.tree, boxes)]


@lru_cache(maxsize=8)
def _specs(layers_dir: str | None) -> Mapping[str, LayerSpec]:
    return load_layer_specs(layers_dir)


def _run_partition(payload: dict[str, Any]) -> dict[str, Any]:
    """The engine on one partition (runs on a Dask worker): figures, gaps, street gaps and the
    reported footprints, all in EPSG:4326, and the engine's seconds.
    """
    settings: Settings = payload["settings"]
    t = time.perf_counter()
    res = compute_coverage(
        payload["units"],
        payload["models"],
        level=payload["level"],
        specs=_specs(settings.layers_dir),
        settings=settings,
        statuses=payload["statuses"],
        with_gaps=payload["with_gaps"],
        roads=payload["roads"],
        with_street_gaps=payload["with_street_gaps"],
        buildings=payload["buildings"],
    )
    fp = res.footprints_metric
    fp = fp.loc[fp.index.isin(payload["report_ids"])]
    return {
        "key": payload["key"],
        "units": res.units,
        "gaps": res.gaps if payload["with_gaps"] else res.gaps_metric.to_crs(WGS84),
        "street_gaps": res.street_gaps,
        "footprints": to_wgs84(fp, make_valid=True),
        "model_units": res.model_units,
        "seconds": time.perf_counter() - t,
    }


def compute_national_coverage(
    units: gpd.GeoDataFrame,
    models: gpd.GeoDataFrame,
    *,
    client: Any = None,
    level: str | None = None,
    crs_system: str = "utm",
    settings: Settings = DEFAULT_SETTINGS,
    statuses: Sequence[str] = COUNTING_STATUSES,
    with_gaps: bool = True,
    roads: gpd.GeoDataFrame | None = None,
    with_street_gaps: bool = True,
    buildings: gpd.GeoDataFrame | None = None,
    max_units: int | None = None,
    progress: Callable[[list[Any]], None] | None = None,
) -> NationalResult:
    """Coverage figures and gaps of every unit of one level, partitioned by province.

    Parameters
    ----------
    units, models
        Units and models frames (see ``geo_antt.schema``), any CRS.
    client
        A ``distributed.Client``: the partitions run on its workers (``client.submit``; a partition
        whose worker dies is run again). None: in this process, one after the other.
    level
        The reported level (default: the finest present).
    crs_system
        ``"utm"`` or ``"vn2000"`` (see :func:`partition_units`). ``settings.metric_crs`` must be
        None: every partition picks its own.
    settings, statuses, with_gaps, roads, with_street_gaps, buildings
        As for :func:`geo_antt.coverage.compute_coverage`.
    max_units
        Units per partition at most (see :func:`partition_units`). None: :data:`MAX_PARTITION_UNITS`,
        and with a ``client`` at most a quarter of the units per worker thread (50 at least), so
        that the workers stay busy to the end.
    progress
        Called with the list of futures once they are submitted (e.g. ``distributed.progress``);
        only with a ``client``.

    Returns
    -------
    NationalResult

    Raises
    ------
    GeoAnttError
        ``settings.metric_crs`` set (one CRS for the whole run is what partitioning avoids).
    """
    if settings.metric_crs is not None:
        raise GeoAnttError(
            f"a national run picks a metric CRS per partition; it cannot use one CRS ({settings.metric_crs}) "
            "for every partition: leave it out, or choose the system (utm or vn2000)"
        )
    t0 = time.perf_counter()
    specs = _specs(settings.layers_dir)
    level = choose_level(units, level)
    if max_units is None:
        max_units = MAX_PARTITION_UNITS
        if client is not None:
            threads = max(1, sum(client.nthreads().values()))
            n_level = int((units["level"] == level).sum())
            max_units = min(max_units, max(50, -(-n_level // (4 * threads))))
    parts = partition_units(units, level=level, crs_system=crs_system, max_units=max_units)
    halo = footprint_halo_m(specs, models)
    units_w = to_wgs84(units)
    target = units_w.loc[(units_w["level"] == level).to_numpy()]
    tcodes = target.index.astype(str)
    tpos = pd.Series(np.arange(len(target)), index=tcodes)
    tb = shapely.bounds(np.asarray(target.geometry.to_numpy(), dtype=object))
    # the units each partition carries: its units of the level and everything below them (the
    # engine maps a non-spatial model's unit_code to the unit at or above it)
    below = _ancestor_at(units_w, set(tcodes))
    part_of_target = {c: i for i, p in enumerate(parts) for c in p.codes}
    all_codes = units_w.index.astype(str).to_numpy()
    unit_part = np.array([part_of_target.get(below.get(c, ""), -1) for c in all_codes], dtype=np.int64)

    models_w = to_wgs84(models) if len(models) else models
    mgeom = np.asarray(models_w.geometry.to_numpy(), dtype=object) if len(models_w) else np.array([], dtype=object)
    located = ~(shapely.is_missing(mgeom) | shapely.is_empty(mgeom)) if len(mgeom) else np.zeros(0, dtype=bool)
    mtree = shapely.STRtree(np.where(located, mgeom, np.array(None, dtype=object)))
    # non-spatial models go to the partition of their unit
    if "unit_code" in models_w.columns and (~located).any():
        ucodes = models_w["unit_code"].to_numpy()
        plain_part = np.array(
            [part_of_target.get(below.get(str(c), ""), -1) if not located[i] else -1 for i, c in enumerate(ucodes)],
            dtype=np.int64,
        )
    else:
        plain_part = np.full(len(models_w), -1, dtype=np.int64)
    roads_near = _Near(roads)
    buildings_near = _Near(buildings)

    owner = np.full(len(models_w), -1, dtype=np.int64)
    near: list[np.ndarray] = []
    for i, p in enumerate(parts):
        pb = tb[tpos.loc[list(p.codes)].to_numpy()]
        inside = _rows_near(mtree, _halo_boxes(pb, 0.0))
        first = inside[owner[inside] < 0]
        owner[first] = i
        rows = np.union1d(_rows_near(mtree, _halo_boxes(pb, halo)), np.flatnonzero(plain_part == i))
        near.append(rows)
    for i, rows in enumerate(near):  # a model beyond every unit box: the first halo that holds it
        free = rows[owner[rows] < 0]
        owner[free] = i
    owner[plain_part >= 0] = plain_part[plain_part >= 0]

    payloads = []
    ids = models_w.index.to_numpy()
    for i, p in enumerate(parts):
        pb = tb[tpos.loc[list(p.codes)].to_numpy()]
        rows = near[i]
        payloads.append(
            {
                "key": p.key,
                "units": units_w.loc[unit_part == i],
                "models": models_w.iloc[rows],
                "roads": roads_near.rows(_halo_boxes(pb, 0.0)),
                "buildings": buildings_near.rows(_halo_boxes(pb, halo)),
                "report_ids": ids[rows[owner[rows] == i]],
                "level": level,
                "settings": settings.replace(metric_crs=p.crs),
                "statuses": tuple(statuses),
                "with_gaps": with_gaps,
                "with_street_gaps": with_street_gaps,
            }
        )
    t1 = time.perf_counter()
    if client is None:
        outs = [_run_partition(pl) for pl in payloads]
    else:
        import dask

        # The payloads travel in the task graph, not as scattered data: the scheduler keeps
        # them, so a partition whose worker dies is run again elsewhere (scattered data lost
        # with its worker cannot be recomputed). They are large on purpose: no graph warning.
        with dask.config.set({"distributed.admin.large-graph-warning-threshold": "1TB"}):
            # the largest partitions first (by models, then units): none is left alone at the end
            order = sorted(range(len(parts)), key=lambda i: (-len(near[i]), -len(parts[i].codes), i))
            futures = [
                client.submit(
                    _run_partition,
                    payloads[i],
                    key=f"geo-antt-partition-{parts[i].key}",
                    pure=False,
                    priority=len(order) - n,
                )
                for n, i in enumerate(order)
            ]
        if progress is not None:
            progress(futures)  # Dask's bar waits for them all
        from distributed import as_completed

        # results come back as they are done, and leave the workers at once
        part_of = {f.key: order[n] for n, f in enumerate(futures)}
        done = as_completed(futures, with_results=True)
        futures.clear()
        outs_by: dict[int, dict[str, Any]] = {}
        for fut, out in done:
            outs_by[part_of[fut.key]] = out
            fut.release()
        outs = [outs_by[i] for i in range(len(parts))]
    t2 = time.perf_counter()
    counted = _doubly_counted(outs, parts, tpos)
    result = _assemble(outs, parts, target, level, {"partition": t1 - t0, "compute": t2 - t1})
    _uncount(result.units, counted, models_w, statuses)
    return result


def _doubly_counted(outs: list[dict[str, Any]], parts: list[Partition], tpos: pd.Series) -> pd.DataFrame:
    """(model, unit) counts to take back: a model on the border between two parts of one
    bisected group is counted by both; one process over the group counts it in the unit first
    in the units' order (:func:`geo_antt.coverage._unit_of_points`), so the others are dropped.
    Parts of different groups (other provinces, other CRSs) keep their counts, as runs of
    each province apart do.
    """
    rows = [
        pd.DataFrame({"model": o["model_units"].index, "unit": o["model_units"].to_numpy(), "group": p.group})
        for o, p in zip(outs, parts)
        if len(o["model_units"])
    ]
    if not rows:
        return pd.DataFrame({"model": [], "unit": []})
    mu = pd.concat(rows, ignore_index=True)
    mu["pos"] = tpos.reindex(mu["unit"].astype(str)).to_numpy()
    mu = mu.sort_values(["group", "model", "pos"], kind="stable")
    extra = mu.duplicated(["group", "model"], keep="first").to_numpy()
    return mu.loc[extra, ["model", "unit"]]


def _uncount(figures: pd.DataFrame, counted: pd.DataFrame, models: pd.DataFrame, statuses: Sequence[str]) -> None:
    """Take the ``counted`` (model, unit) pairs out of ``n_<kind>``, ``n_models``, ``n_inactive``."""
    if not len(counted):
        return
    kind = models["kind"].reindex(counted["model"]).to_numpy()
    status = models["status"].reindex(counted["model"]).to_numpy()
    unit = counted["unit"].astype(str).to_numpy()
    active = np.isin(status, list(statuses))
    for k in sorted(set(kind[active].tolist())):
        if f"n_{k}" in figures.columns:
            sub = pd.Series(unit[active & (kind == k)]).value_counts()
            figures.loc[sub.index, f"n_{k}"] -= sub.to_numpy()
    for col, sel in (("n_models", active), ("n_inactive", status == "inactive")):
        sub = pd.Series(unit[sel]).value_counts()
        if len(sub):
            figures.loc[sub.index, col] -= sub.to_numpy()


def _assemble(
    outs: list[dict[str, Any]],
    parts: list[Partition],
    target: gpd.GeoDataFrame,
    level: str,
    timings: dict[str, Any],
) -> NationalResult:
    frames = []
    for out, p in zip(outs, parts):
        u = out["units"].copy()
        u["partition"] = p.key
        u["metric_crs"] = p.crs
        frames.append(u)
        timings[p.key] = out["seconds"]
    figures = pd.concat(frames)
    figures = figures.loc[target.index]
    order = np.lexsort((-figures["uncovered_m2"].to_numpy(), figures["covered_pct"].to_numpy()))
    rank = np.empty(len(figures), dtype=np.int64)
    rank[order] = np.arange(1, len(figures) + 1)
    figures["rank"] = rank
    return NationalResult(
        units=gpd.GeoDataFrame(figures, geometry=figures.geometry.name, crs=WGS84),
        gaps={p.key: o["gaps"] for o, p in zip(outs, parts)},
        street_gaps={p.key: o["street_gaps"] for o, p in zip(outs, parts)},
        footprints={p.key: o["footprints"] for o, p in zip(outs, parts)},
        partitions=parts,
        level=level,
        timings=timings,
    )
