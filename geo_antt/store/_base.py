"""What every part of :class:`~geo_antt.store.Store` shares: the account type
(:class:`User`, :data:`SYSTEM_USER`), :class:`StoreBase` (the state :class:`Store` sets up, its
transaction primitives, and the model row plumbing every part reads or writes through) and small
helpers.

The parts are mixins, one module each (see ``_store.py``); each inherits the parts whose methods it
calls, so that mypy checks every call between them.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa
from argon2 import PasswordHasher

from .._errors import GeoAnttError
from ..layers import LayerSpec
from ..schema import MODEL_COLUMNS
from ..text import fold
from . import _tables as T
from ._records import FLOAT_COLUMNS
from ._types import utcnow

__all__ = ["StoreBase", "User", "SYSTEM_USER"]

_CHUNK = 500


@dataclass(frozen=True)
class User:
    """An account as the store sees it.

    Attributes
    ----------
    name
        Login name.
    role
        ``admin`` (everything), ``officer`` (reads and edits models of its units and their
        descendants) or ``viewer`` (reads them).
    unit_codes
        The units assigned to the account (its scope includes their descendants).
    active
        Inactive accounts cannot log in or use tokens.
    """

    name: str
    role: str
    unit_codes: tuple[str, ...] = ()
    active: bool = True
    id: int | None = None
    credential_stamp: str = field(default="", repr=False, compare=False)
    """Changes whenever the password changes: web sessions made before are no longer valid."""

    @property
    def is_admin(self) -> bool:
        """True for the admin role (every unit, every action)."""
        return self.role == "admin"

    @property
    def can_edit(self) -> bool:
        """True for roles that may change models (admin, officer)."""
        return self.role in ("admin", "officer")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (no credentials)."""
        return {"name": self.name, "role": self.role, "unit_codes": list(self.unit_codes), "active": self.active}


SYSTEM_USER = User(name="system", role="admin")
"""The actor of command-line maintenance when no account is named (full rights, audited as 'system')."""


class StoreBase:
    """The state and the primitives the store's parts share (implemented by :class:`Store`)."""

    _engine: sa.Engine
    _write_engine: sa.Engine
    _hasher: PasswordHasher
    _specs: Mapping[str, LayerSpec]
    _layers_dir: str | None
    _dummy_hash: str | None
    _token_uses: dict[str, float]
    url: str

    @property
    def backend(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self._engine.dialect.name

    # ------------------------------------------------------------------------------------------
    # transactions (defined in _store.py, where the busy timeouts live)

    def _write(self) -> contextlib.AbstractContextManager[sa.Connection]:
        """One write transaction; :class:`~geo_antt.BusyError` when the write lock is not free."""
        raise NotImplementedError

    def _try_write(self, work: Callable[[sa.Connection], Any]) -> bool:
        """Run ``work(conn)`` in one write transaction if the lock is free at once; True when it ran."""
        raise NotImplementedError

    def _read(self) -> contextlib.AbstractContextManager[sa.Connection]:
        """One read transaction; :class:`~geo_antt.BusyError` when the database is locked."""
        raise NotImplementedError

    # ------------------------------------------------------------------------------------------
    # models: the row form

    _META = ("version", "created_at", "updated_at", "created_by", "updated_by")

    def _model_select(self) -> sa.Select:
        cols = [T.models.c[c] for c in MODEL_COLUMNS] + [T.models.c.geom] + [T.models.c[c] for c in self._META]
        return sa.select(*cols)

    @staticmethod
    def _row_record(row: Any) -> dict[str, Any]:
        rec = {c: getattr(row, c) for c in MODEL_COLUMNS}
        rec["direction_deg"] = tuple(float(d) for d in (rec["direction_deg"] or ()))
        rec["geometry"] = None if row.geom is None else shapely.from_wkb(row.geom)
        return rec

    def _bbox_filter(
        self, bbox: Sequence[float], conn: sa.Connection | None = None, *, table: sa.Table = T.models
    ) -> Any:
        try:
            minx, miny, maxx, maxy = (float(v) for v in bbox)
        except (TypeError, ValueError):
            raise GeoAnttError(f"bbox must be 4 numbers (min lon, min lat, max lon, max lat), got {bbox!r}") from None
        if not (minx <= maxx and miny <= maxy) or not all(np.isfinite([minx, miny, maxx, maxy])):
            raise GeoAnttError(f"bbox must be (min lon, min lat, max lon, max lat) degrees, got {bbox!r}")
        m = table.c
        if self.backend == "postgresql":
            env = sa.func.ST_MakeEnvelope(minx, miny, maxx, maxy, 4326)
            return m.geom.op("&&")(env)
        # SQLite: a box meets the query iff minx in [query minx - its width, query maxx] and the
        # rest overlaps; bounding by the widest stored box keeps the index range narrow
        # (ix_models_bbox_width answers max(width) in O(log n); migration 0003).
        width = 0.0
        if conn is not None:
            width = conn.execute(sa.select(sa.func.max(m.maxx - m.minx))).scalar() or 0.0
        lower = [m.minx >= minx - width - 1e-9] if conn is not None else []
        return sa.and_(*lower, m.minx <= maxx, m.maxx >= minx, m.miny <= maxy, m.maxy >= miny)

    def _generation(self, conn: sa.Connection, *, lock: bool = False) -> int:
        q = sa.select(T.store_meta.c.value).where(T.store_meta.c.key == "model_generation")
        if lock:
            q = q.with_for_update()
        return int(conn.execute(q).scalar_one())


# ----------------------------------------------------------------------------------------------
# helpers


def _now() -> _dt.datetime:
    return utcnow()


def _id_taken(model_id: str) -> str:
    """The one message for a new model whose id is taken, whoever's model holds it: ids are
    unique across units, so a create reveals that an id is in use, but never where or whose.
    """
    return (
        f"the id {model_id!r} is already in use (ids are unique across all units): "
        "choose another id, or leave it out and one is generated"
    )


def _chunks(seq: Sequence[Any], n: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for i in range(0, len(seq), n):
        yield seq[i : i + n]


def _isna(v: Any) -> bool:
    if v is None:
        return True
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def _geom_columns(g: shapely.Geometry | None) -> dict[str, Any]:
    if g is None:
        return {"geom": None, "minx": None, "miny": None, "maxx": None, "maxy": None}
    minx, miny, maxx, maxy = g.bounds
    return {"geom": shapely.to_wkb(g), "minx": minx, "miny": miny, "maxx": maxx, "maxy": maxy}


def _db_values(rec: Mapping[str, Any], *, version: int, now: _dt.datetime, who: str, created: bool) -> dict[str, Any]:
    out = {c: rec.get(c) for c in MODEL_COLUMNS}
    out["direction_deg"] = list(rec.get("direction_deg") or ())
    out.update(_geom_columns(rec.get("geometry")))
    out["search_name"] = fold(rec.get("name")) or None
    out["version"] = version
    out["updated_at"] = now
    out["updated_by"] = who
    if created:
        out["created_at"] = now
        out["created_by"] = who
    else:
        out.pop("id")
    return out


def _models_frame_from_columns(columns: Mapping[str, Sequence[Any]]) -> gpd.GeoDataFrame:
    cols = list(MODEL_COLUMNS) + list(StoreBase._META)
    data: dict[str, Any] = {c: list(columns[c]) for c in cols}
    data["direction_deg"] = [tuple(float(d) for d in v) if v else () for v in data["direction_deg"]]
    for c in FLOAT_COLUMNS:
        data[c] = np.array(columns[c], dtype=float)  # None -> NaN
    data["version"] = np.array(columns["version"], dtype="int64")
    geoms = (
        shapely.from_wkb(np.array(columns["geom"], dtype=object))
        if len(columns["geom"])
        else np.array([], dtype=object)
    )
    gdf = gpd.GeoDataFrame(data, geometry=gpd.GeoSeries(geoms, crs="EPSG:4326"), crs="EPSG:4326")
    gdf["created_at"] = pd.to_datetime(gdf["created_at"], utc=True)
    gdf["updated_at"] = pd.to_datetime(gdf["updated_at"], utc=True)
    return gdf.set_index(pd.Index(gdf["id"].astype(object), name="id"))
