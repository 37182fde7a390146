"""The store's coverage cache: figures per unit and settings, dropped for the units a write's
footprints can touch (and the model generation bumped) in the writer's transaction, recomputed
and cached again by :meth:`CoverageCacheMixin.coverage_frame`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa

from ..config import DEFAULT_SETTINGS, Settings
from ..crs import utm_crs_for_lon
from ..io import json_value
from ..layers import parameter_problems
from ..schema import COUNTING_STATUSES, UNIT_COLUMNS
from . import _tables as T
from ._base import _CHUNK, User, _chunks, _models_frame_from_columns, _now
from ._scope import ScopeMixin

__all__ = ["CoverageCacheMixin"]

_log = logging.getLogger(__name__)
_BULK_INVALIDATE = 200  # a write touching more models than this drops the whole coverage cache
_TAG_LIMIT = 20_000  # a write of more models than this makes readers reload all (changes_since)


class CoverageCacheMixin(ScopeMixin):
    """The coverage cache and the model generation every write moves."""

    # ------------------------------------------------------------------------------------------
    # coverage cache

    def _reach_m(self, rec: Mapping[str, Any]) -> float:
        """How far (metres) a model's footprint can reach from its geometry."""
        spec = self._specs.get(rec.get("kind") or "")
        vals: list[Any] = [rec.get("range_m"), rec.get("radius_m")]
        if spec is not None:
            vals += [spec.defaults.get("range_m"), spec.defaults.get("radius_m")]
        vals = [float(v) for v in vals if v is not None and v == v]
        # a value beyond the kinds' bounds counts nowhere (left out of coverage): cap it there
        cap = max(s.bounds[c][1] for s in self._specs.values() for c in ("range_m", "radius_m"))
        return min(max(vals, default=0.0), cap)

    def _models_changed(self, conn: sa.Connection, records: Sequence[Mapping[str, Any]] | None) -> None:
        """Drop the cached coverage of every unit the footprints of ``records`` (old and new
        versions) can touch — all of it when ``records`` is None or long — and bump the model
        generation (in the caller's transaction).
        """
        conn.execute(
            T.store_meta.update().where(T.store_meta.c.key == "model_generation").values(value=T.store_meta.c.value + 1)
        )
        gen = self._generation(conn)
        ids = list(dict.fromkeys(str(r["id"]) for r in records or () if r.get("id") is not None))
        if records is None or len(ids) > _TAG_LIMIT:
            # readers reload everything (changes_since): no need to tag the rows one by one
            conn.execute(T.store_meta.update().where(T.store_meta.c.key == "reload_generation").values(value=gen))
        else:
            for chunk in _chunks(ids):
                conn.execute(T.models.update().where(T.models.c.id.in_(chunk)).values(generation=gen))
        if records is None or len(records) > _BULK_INVALIDATE:
            conn.execute(T.coverage_cache.delete())
            return
        cc = T.coverage_cache
        for rec in records:
            g = rec.get("geometry")
            if g is not None:
                reach = self._reach_m(rec) * 1.05 + 1.0
                x0, y0, x1, y1 = g.bounds
                dx, dy = _metres_to_degrees(reach, lat=max(abs(y0), abs(y1)))
                hit = sa.select(T.units.c.code).where(
                    self._bbox_filter((x0 - dx, y0 - dy, x1 + dx, y1 + dy), conn, table=T.units)
                )
                conn.execute(cc.delete().where(cc.c.unit_code.in_(hit)))
            if rec.get("unit_code"):
                up = self._closure_cte([rec["unit_code"]], name="up", up=True)
                conn.execute(
                    cc.delete().where(
                        sa.or_(cc.c.unit_code.in_(sa.select(up.c.code)), cc.c.unit_code == rec["unit_code"])
                    )
                )

    def _settings_key(self, settings: Settings, level: str) -> str:
        d = {
            "level": level,
            "metric_crs": settings.metric_crs,
            "segments": settings.sector_segments,
            "specs": {k: [s.footprint, dict(s.defaults)] for k, s in self._specs.items()},
            "statuses": list(COUNTING_STATUSES),
        }
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:32]

    def _units_geo(self, conn: sa.Connection, codes: Sequence[str]) -> gpd.GeoDataFrame:
        cols = [T.units.c[c] for c in UNIT_COLUMNS] + [T.units.c.geom]
        rows: list[Any] = []
        for chunk in _chunks(list(codes)):
            rows += conn.execute(sa.select(*cols).where(T.units.c.code.in_(chunk))).all()
        data = {c: [getattr(r, c) for r in rows] for c in UNIT_COLUMNS}
        geom = shapely.from_wkb(np.array([r.geom for r in rows], dtype=object)) if rows else []
        gdf = gpd.GeoDataFrame(data, geometry=gpd.GeoSeries(geom, crs="EPSG:4326"), crs="EPSG:4326")
        return gdf.set_index(pd.Index(gdf["code"], name="code"))

    def coverage_frame(
        self,
        *,
        level: str = "hamlet",
        unit_code: str | None = None,
        user: User | None = None,
        settings: Settings = DEFAULT_SETTINGS,
        with_geometry: bool = False,
    ) -> pd.DataFrame:
        """Coverage figures of every unit of ``level`` (in the user's scope, under ``unit_code``).

        Figures come from the cache; units whose cached figures were dropped by an edit (only
        those its old and new footprints can touch) are recomputed with
        :func:`geo_antt.coverage.compute_coverage` from the models near them, and cached again.
        The columns are those of ``CoverageResult.units`` (index = unit code); ``rank`` is
        recomputed over the rows returned; ``attrs["recomputed"]`` lists the recomputed units.

        Parameters
        ----------
        level
            Unit level of the figures (``hamlet``, ``commune``...).
        unit_code
            Only units at or below this unit.
        user
            Only units in the account's scope.
        settings
            Coverage settings (metric CRS, arc segments); figures are cached per settings.
        with_geometry
            Return a GeoDataFrame with the unit polygons (EPSG:4326).
        """
        from ..coverage import compute_coverage

        actor = self._actor(user)
        key = self._settings_key(settings, level)
        computed: dict[str, dict[str, Any]] = {}
        with self._read() as conn:
            q = sa.select(T.units.c.code).where(T.units.c.level == level).order_by(T.units.c.code)
            if unit_code is not None:
                q = q.where(self._within_unit(conn, actor, unit_code, T.units.c.code))
            flt = self._scope_filter(T.units.c.code, actor)
            if flt is not None:
                q = q.where(flt)
            codes = list(conn.execute(q).scalars())
            cached: dict[str, dict[str, Any]] = {}
            cc = T.coverage_cache
            for chunk in _chunks(codes):
                for code, figs in conn.execute(
                    sa.select(cc.c.unit_code, cc.c.figures).where(cc.c.unit_code.in_(chunk), cc.c.settings_key == key)
                ):
                    cached[code] = figs
            missing = [c for c in codes if c not in cached]
            if missing:
                gen0 = self._generation(conn)
                crs = settings.metric_crs
                if crs is None:
                    x0, x1 = conn.execute(
                        sa.select(sa.func.min(T.units.c.minx), sa.func.max(T.units.c.maxx)).where(
                            T.units.c.level == level
                        )
                    ).one()
                    crs = utm_crs_for_lon((x0 + x1) / 2.0).to_string()
                target = self._units_geo(conn, missing)
                x0, y0, x1, y1 = target.total_bounds
                reach = max(
                    [self._reach_m({"kind": k}) for k in self._specs]
                    + [
                        float(v)
                        for v in (
                            conn.execute(sa.select(sa.func.max(T.models.c.range_m))).scalar(),
                            conn.execute(sa.select(sa.func.max(T.models.c.radius_m))).scalar(),
                        )
                        if v is not None
                    ]
                )
                # no counted footprint reaches further than the kinds' bounds (others are left out)
                reach = min(reach, max(s.bounds[c][1] for s in self._specs.values() for c in ("range_m", "radius_m")))
                dx, dy = _metres_to_degrees(reach * 1.05 + 1.0, lat=max(abs(y0), abs(y1)))
                # non-spatial models count in the unit they name (or one below it)
                nonspatial: sa.ColumnElement[bool] = T.models.c.geom.is_(None)
                if len(missing) <= _CHUNK:  # else all of them: fewer SQL parameters, same figures
                    below = self._closure_cte(missing, name="below")
                    nonspatial = sa.and_(nonspatial, T.models.c.unit_code.in_(sa.select(below.c.code)))
                near = self._model_select().where(
                    sa.or_(self._bbox_filter((x0 - dx, y0 - dy, x1 + dx, y1 + dy), conn), nonspatial)
                )
                res = conn.execute(near)
                keys = list(res.keys())
                rows = res.all()
                models = _models_frame_from_columns(dict(zip(keys, zip(*rows))) if rows else {k: () for k in keys})
                bad = {mid for mid, *_ in parameter_problems(models, self._specs)}
                if bad:  # rows that bypassed the write checks count nowhere (see _catalog_live)
                    _log.warning(
                        "coverage leaves out %d model(s) with parameters outside their bounds: %s",
                        len(bad),
                        ", ".join(sorted(bad)[:20]),
                    )
                    models = models.loc[~models.index.astype(str).isin(bad)]
                result = compute_coverage(
                    target,
                    models,
                    level=level,
                    specs=self._specs,
                    settings=settings.replace(metric_crs=crs),
                    with_gaps=False,
                )
                figs = result.units.drop(columns=[c for c in ("geometry", "rank") if c in result.units.columns])
                computed = {
                    str(code): {k: json_value(v) for k, v in row.items()}
                    for code, row in zip(figs.index, figs.to_dict("records"))
                }
        if computed:

            def keep(conn: sa.Connection) -> None:
                if self._generation(conn, lock=True) == gen0:  # no model changed meanwhile
                    cc = T.coverage_cache
                    for chunk in _chunks(list(computed)):
                        conn.execute(cc.delete().where(cc.c.unit_code.in_(chunk)))
                    now = _now()
                    rows_in = [
                        {"unit_code": c, "settings_key": key, "figures": f, "computed_at": now}
                        for c, f in computed.items()
                    ]
                    for i in range(0, len(rows_in), _CHUNK):
                        conn.execute(cc.insert(), rows_in[i : i + _CHUNK])

            # a reader never waits for a writer: while one holds the lock, the figures are not cached
            self._try_write(keep)
        allfigs = {**cached, **computed}
        frame = pd.DataFrame.from_dict({c: allfigs[c] for c in codes if c in allfigs}, orient="index")
        frame.index.name = "code"
        if len(frame):
            order = np.lexsort(
                (-frame["uncovered_m2"].to_numpy(dtype=float), frame["covered_pct"].to_numpy(dtype=float))
            )
            rank = np.empty(len(frame), dtype=np.int64)
            rank[order] = np.arange(1, len(frame) + 1)
            frame["rank"] = rank
        if with_geometry:
            with self._read() as conn:
                geo = self._units_geo(conn, list(frame.index))
            frame = gpd.GeoDataFrame(frame, geometry=geo.geometry.reindex(frame.index).to_numpy(), crs="EPSG:4326")
        frame.attrs["recomputed"] = missing
        return frame


def _metres_to_degrees(metres: float, *, lat: float) -> tuple[float, float]:
    """(degrees of longitude, degrees of latitude) spanning at least ``metres`` at latitude ``lat``."""
    dlat = metres / 110_574.0
    dlon = metres / (111_320.0 * max(math.cos(math.radians(min(abs(lat), 89.0))), 1e-6))
    return dlon, dlat
