"""The store: units, models, users, tokens and the audit log in SQLite or PostgreSQL + PostGIS.

:class:`Store` is the only stateful class of geo-antt. Every public method runs in one database
transaction; every change to a model is checked against the caller's role and unit scope and
written to the audit log with the old and new values.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import logging
import math
import os
import re
import secrets
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa
from alembic import command as _alembic_command
from alembic.config import Config as _AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError as _AlembicCommandError
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy.dialects import postgresql as _pg_dialect
from sqlalchemy.dialects import sqlite as _sqlite_dialect

from .._errors import (
    BusyError,
    ConflictError,
    GeoAnttError,
    NotFoundError,
    PermissionDeniedError,
    Problem,
    ValidationError,
)
from ..config import DEFAULT_DATA_DIR, DEFAULT_SETTINGS, Settings, state_dir
from ..crs import utm_crs_for_lon
from ..i18n import msg
from ..io import json_value
from ..layers import load_layer_specs, parameter_problems
from ..schema import COUNTING_STATUSES, MODEL_COLUMNS, UNIT_COLUMNS, UNIT_LEVELS
from ..text import fold, nfc
from . import _context
from . import _tables as T
from ._import import ImportPreview
from ._records import (
    FLOAT_COLUMNS,
    check_record,
    normalize_geometry,
    normalize_record,
    record_diff,
    round_geometries,
    to_json_record,
)
from ._types import SRID, Geometry, utcnow

__all__ = [
    "Store",
    "User",
    "ModelChanges",
    "SYSTEM_USER",
    "ROLES",
    "DB_ENV_VAR",
    "DEFAULT_DB_NAME",
    "resolve_db_url",
    "IMPORT_PAUSE_ENV_VAR",
]

from ..schema import ROLES  # noqa: E402  (re-exported)

_log = logging.getLogger(__name__)
DB_ENV_VAR = "GEO_ANTT_DB"
DEFAULT_DB_NAME = "geo-antt.sqlite"
# Test hook: when set to a file path, commit_import writes that file after half of the rows and
# sleeps (up to 60 s) inside the open transaction, so a test can kill the process mid-import.
IMPORT_PAUSE_ENV_VAR = "GEO_ANTT_TEST_IMPORT_PAUSE_FILE"
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_NAME_RE = re.compile(r"^[^\s/\\:]{1,128}$")
_CHUNK = 500
_TOKEN_PREFIX = "gat_"
_PREVIEW_USER = object()  # commit_import: "the account that made the preview"
_TOUCH_INTERVAL_S = 60  # an API token's last_used_at is recorded at most once a minute
_TOUCH_WAIT_MS = 100
_ACCESS_KEY = "access_revision"  # store_meta: moves when a session or token stops being valid
_BUSY_TIMEOUT_MS = 30_000  # how long a write waits for another writer before BusyError (SQLite)  # ... and only if the write lock is free within this many milliseconds
_PG_LOCK_KEY = 7_470_011  # advisory lock serialising concurrent migrations on PostgreSQL
_BULK_INVALIDATE = 200  # a write touching more models than this drops the whole coverage cache
_TAG_LIMIT = 20_000  # a write of more models than this makes readers reload all (changes_since)


@dataclass(frozen=True)
class ModelChanges:
    """What :meth:`Store.changes_since` returns: the store's ``generation`` now, whether the
    reader must ``reload`` everything, and the changed ``models`` (a models frame).
    """

    generation: int
    reload: bool
    models: gpd.GeoDataFrame = field(repr=False)


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


def resolve_db_url(url: str | None = None, *, data_dir: str | os.PathLike[str] | None = None) -> str:
    """The database URL to use: ``url``, else ``$GEO_ANTT_DB``, else ``<data_dir>/geo-antt.sqlite``.

    A bare file path is taken as an SQLite file; ``postgresql://`` URLs use the psycopg driver.
    """
    url = url or os.environ.get(DB_ENV_VAR) or None
    if url is None:
        folder = Path(data_dir or DEFAULT_DATA_DIR)
        if folder.resolve() == DEFAULT_DATA_DIR.resolve():
            folder = state_dir()  # an installed package's own demo data folder is read-only
        path = folder / DEFAULT_DB_NAME
        return f"sqlite:///{path.resolve()}"
    if "://" not in url:
        return f"sqlite:///{Path(url).resolve()}"
    u = sa.engine.make_url(url)
    if u.drivername in ("postgresql", "postgres"):
        u = u.set(drivername="postgresql+psycopg")
    if u.get_backend_name() not in ("sqlite", "postgresql"):
        raise GeoAnttError(f"database URL {url!r}: only sqlite:///FILE and postgresql://... are supported")
    return u.render_as_string(hide_password=False)


def _engine_for(url: str) -> sa.Engine:
    u = sa.engine.make_url(url)
    if u.get_backend_name() == "sqlite":
        if u.database and u.database != ":memory:":
            Path(u.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": _BUSY_TIMEOUT_MS / 1000})

        @sa.event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, record: Any) -> None:
            # Let SQLAlchemy (not the sqlite3 module) decide when transactions begin.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
            cur.close()

        @sa.event.listens_for(engine, "begin")
        def _on_begin(conn: sa.Connection) -> None:
            # Writers take the write lock up front: no lock upgrade deadlocks between writers.
            write = conn.get_execution_options().get("geo_antt_write", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        return engine
    return sa.create_engine(url, pool_pre_ping=True)


def _now() -> _dt.datetime:
    return utcnow()


class Store:
    """The persistent registry of geo-antt (see the module docstring).

    Open it with :meth:`Store.open`; close it with :meth:`close` (or use ``with``).

    Scope rules, enforced by every method that takes ``user``: an ``admin`` reads and changes
    everything; an ``officer`` reads and changes models whose ``unit_code`` is one of its units or
    a descendant of one (via ``parent_code``); a ``viewer`` only reads them. Reading or changing
    one model outside the scope raises :class:`~geo_antt.NotFoundError` (HTTP 404) with the
    message of an unknown id (no existence oracle across units); putting a model into a unit
    outside the scope raises :class:`~geo_antt.PermissionDeniedError` (HTTP 403); lists are
    filtered to the scope. Creating a model whose id is in use anywhere raises
    :class:`~geo_antt.ConflictError` with one message that names neither unit nor owner. ``user=None`` means :data:`SYSTEM_USER` (command-line maintenance).
    """

    def __init__(
        self,
        engine: sa.Engine,
        *,
        password_hasher: PasswordHasher | None = None,
        layers_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self._engine = engine
        self._write_engine = engine.execution_options(geo_antt_write=True)
        self._hasher = password_hasher or PasswordHasher()
        self._specs = load_layer_specs(layers_dir)
        self._layers_dir = None if layers_dir is None else str(layers_dir)
        self._dummy_hash: str | None = None  # made on first use (hashing costs ~0.1 s)
        # token hash -> time.monotonic() of the last recorded use (record_token_use); a token
        # missing here has its use recorded on its next lookup
        self._token_uses: dict[str, float] = {}
        self.url = engine.url.render_as_string(hide_password=True)

    # ------------------------------------------------------------------------------------------
    # opening, schema

    @classmethod
    def open(
        cls,
        url: str | None = None,
        *,
        data_dir: str | os.PathLike[str] | None = None,
        upgrade: bool = True,
        password_hasher: PasswordHasher | None = None,
        layers_dir: str | os.PathLike[str] | None = None,
    ) -> Store:
        """Open (and create on first use) the store at ``url``.

        Parameters
        ----------
        url
            ``sqlite:///PATH``, a file path, or ``postgresql://user@host:port/db``; None: the
            ``GEO_ANTT_DB`` environment variable, else ``<data_dir>/geo-antt.sqlite``.
        data_dir
            Folder of the default SQLite file (default: the project's ``data/``).
        upgrade
            Bring the schema to the newest revision (Alembic) before returning.
        password_hasher
            An :class:`argon2.PasswordHasher` (default parameters when None).
        layers_dir
            Folder of the layer specs defining the model kinds.
        """
        engine = _engine_for(resolve_db_url(url, data_dir=data_dir))
        store = cls(engine, password_hasher=password_hasher, layers_dir=layers_dir)
        if upgrade:
            try:
                store.upgrade()
            except BaseException:
                store.close()
                raise
        return store

    def reopen_args(self) -> tuple[str, str | None] | None:
        """``(url with its password, layers_dir)`` for another process to open this store with
        :meth:`open`; None when it cannot (an in-memory SQLite database lives in this process only).
        """
        url = self._engine.url
        if url.get_backend_name() == "sqlite" and (url.database in (None, "", ":memory:") or "mode=memory" in str(url)):
            return None
        return url.render_as_string(hide_password=False), self._layers_dir

    def close(self) -> None:
        """Release every database connection."""
        self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def backend(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self._engine.dialect.name

    def _alembic_config(self) -> _AlembicConfig:
        cfg = _AlembicConfig()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        return cfg

    def upgrade(self, revision: str = "head") -> str | None:
        """Migrate the schema to ``revision`` (default the newest) in one transaction; returns it."""
        cfg = self._alembic_config()
        with self._write_engine.begin() as conn:
            if self.backend == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
            cfg.attributes["connection"] = conn
            try:
                _alembic_command.upgrade(cfg, revision)
            except _AlembicCommandError as exc:
                current = MigrationContext.configure(conn).get_current_revision()
                raise GeoAnttError(
                    f"{self.url}: cannot migrate the schema from revision {current} to {revision} ({exc}); "
                    f"a database made by a newer geo-antt needs that version"
                ) from None
        return self.revision()

    def downgrade(self, revision: str) -> str | None:
        """Migrate the schema back to ``revision`` (may drop columns added later; for repairs)."""
        cfg = self._alembic_config()
        with self._write_engine.begin() as conn:
            if self.backend == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
            cfg.attributes["connection"] = conn
            _alembic_command.downgrade(cfg, revision)
        return self.revision()

    def revision(self) -> str | None:
        """The schema revision of the database (None when empty)."""
        with self._engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def head_revision(self) -> str | None:
        """The newest revision this version of geo-antt knows."""
        return ScriptDirectory.from_config(self._alembic_config()).get_current_head()

    @contextlib.contextmanager
    def _write(self) -> Iterator[sa.Connection]:
        try:
            with self._write_engine.begin() as conn:
                yield conn
        except sa.exc.OperationalError as exc:
            if not _is_lock_error(exc):
                raise
            raise BusyError(
                "the registry is busy with another write (an import?); nothing was changed: try again in a few seconds"
            ) from None

    def _try_write(self, work: Callable[[sa.Connection], Any]) -> bool:
        """Run ``work(conn)`` in one write transaction if the write lock is free within
        ``_TOUCH_WAIT_MS`` milliseconds; True when it ran. Never raises for a busy database:
        for bookkeeping that must not make a reader wait (a token's ``last_used_at``, the
        coverage cache).
        """
        try:
            with self._engine.connect() as conn:
                sqlite = self.backend == "sqlite"
                if sqlite:  # before the transaction begins (BEGIN IMMEDIATE waits busy_timeout)
                    assert conn.connection.driver_connection is not None  # a live connection
                    conn.connection.driver_connection.execute(f"PRAGMA busy_timeout={_TOUCH_WAIT_MS}")
                try:
                    with conn.execution_options(geo_antt_write=True).begin():
                        if not sqlite:
                            conn.execute(sa.text(f"SET LOCAL lock_timeout = '{_TOUCH_WAIT_MS}ms'"))
                        work(conn)
                finally:
                    if sqlite:
                        assert conn.connection.driver_connection is not None  # a live connection
                        conn.connection.driver_connection.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
        except sa.exc.OperationalError as exc:
            if _is_lock_error(exc):
                return False
            raise
        return True

    @contextlib.contextmanager
    def _read(self) -> Iterator[sa.Connection]:
        try:
            with self._engine.connect() as conn:
                yield conn
        except sa.exc.OperationalError as exc:  # rare with WAL (e.g. a checkpoint in progress)
            if not _is_lock_error(exc):
                raise
            raise BusyError(
                "the registry is busy (another write holds the database): try again in a few seconds"
            ) from None

    # ------------------------------------------------------------------------------------------
    # scope

    @staticmethod
    def _closure_cte(roots: Sequence[str], *, name: str, up: bool = False) -> Any:
        base = sa.select(T.units.c.code.label("code"), T.units.c.parent_code.label("parent")).where(
            T.units.c.code.in_(list(roots))
        )
        cte = base.cte(name, recursive=True)
        u = T.units.alias(f"{name}_u")
        if up:
            step = sa.select(u.c.code, u.c.parent_code).where(u.c.code == cte.c.parent)
        else:
            step = sa.select(u.c.code, u.c.parent_code).where(u.c.parent_code == cte.c.code)
        return cte.union(step)

    def _closure(self, conn: sa.Connection, roots: Sequence[str], *, up: bool = False) -> set[str]:
        if not roots:
            return set()
        cte = self._closure_cte(roots, name="closure", up=up)
        return set(conn.execute(sa.select(cte.c.code)).scalars()) | set(roots)

    def _scope(self, conn: sa.Connection, user: User) -> set[str] | None:
        """Codes the user may see (None = everything)."""
        if user.is_admin:
            return None
        return self._closure(conn, user.unit_codes)

    def _within_unit(
        self, conn: sa.Connection, actor: User, unit_code: str, column: sa.ColumnElement
    ) -> sa.ColumnElement:
        """Condition "``column`` is ``unit_code`` or a unit below it", after checking the unit
        exists (404) and overlaps the account's area (403).
        """
        if not self._unit_exists(conn, unit_code):
            raise NotFoundError(f"unit {unit_code!r} is not in the store")
        if not actor.is_admin:
            scope = self._scope(conn, actor) or set()
            if unit_code not in scope and not (self._closure(conn, [unit_code]) & scope):
                raise PermissionDeniedError(f"unit {unit_code} is outside the area of account {actor.name!r}")
        sub = self._closure_cte([unit_code], name="subtree")
        return sa.or_(column.in_(sa.select(sub.c.code)), column == unit_code)

    def _scope_filter(self, column: Any, user: User) -> Any:
        if user.is_admin:
            return None
        if not user.unit_codes:
            return sa.false()
        cte = self._closure_cte(user.unit_codes, name="scope")
        return sa.or_(column.in_(sa.select(cte.c.code)), column.in_(list(user.unit_codes)))

    def scope_codes(self, user: User | None) -> frozenset[str] | None:
        """The unit codes ``user`` may see (its units and their descendants); None = all (admin)."""
        actor = self._actor(user)
        with self._read() as conn:
            scope = self._scope(conn, actor)
        return None if scope is None else frozenset(scope)

    def in_scope(self, user: User | None, unit_code: str) -> bool:
        """True when ``user`` may see unit ``unit_code`` (admins: always)."""
        scope = self.scope_codes(user)
        return scope is None or unit_code in scope

    @staticmethod
    def _actor(user: User | None) -> User:
        if user is None:
            return SYSTEM_USER
        if not isinstance(user, User):
            raise TypeError(f"'user' should be a geo_antt.store.User or None, got {type(user).__name__}")
        if not user.active:
            raise PermissionDeniedError(f"account {user.name!r} is disabled")
        return user

    @staticmethod
    def _require_edit(user: User) -> None:
        if not user.can_edit:
            raise PermissionDeniedError(f"account {user.name!r} ({user.role}) may not change models")

    @staticmethod
    def _require_admin(user: User, what: str) -> None:
        if not user.is_admin:
            raise PermissionDeniedError(f"only an admin may {what} (account {user.name!r} is {user.role})")

    def _check_unit_in_scope(self, scope: set[str] | None, unit_code: str | None, user: User, *, what: str) -> None:
        if scope is None:
            return
        if unit_code is None:
            raise PermissionDeniedError(
                f"{what}: no unit_code; account {user.name!r} may only use its own units ({', '.join(user.unit_codes) or 'none'})"
            )
        if unit_code not in scope:
            raise PermissionDeniedError(f"{what}: unit {unit_code} is outside the area of account {user.name!r}")

    @staticmethod
    def _require_visible(scope: set[str] | None, row: Any, model_id: str) -> None:
        """Raise :class:`~geo_antt.NotFoundError` unless the model ``row`` exists and is in
        ``scope``: a model outside the account's area answers exactly as an unknown id (same
        error, same message), so that ids cannot be probed across units.
        """
        if row is None or (scope is not None and row.unit_code not in scope):
            raise NotFoundError(f"no model with id {model_id!r}")

    # ------------------------------------------------------------------------------------------
    # roads and buildings (store/_context.py)

    def put_context_layer(
        self, layer: str, frame: gpd.GeoDataFrame, *, unit_code: str, user: User | None
    ) -> dict[str, int]:
        """Replace one unit's roads or buildings (:func:`geo_antt.store._context.put_context_layer`)."""
        return _context.put_context_layer(self, layer, frame, unit_code=unit_code, user=user)

    def load_context(
        self,
        layer: str,
        frame: gpd.GeoDataFrame,
        *,
        unit_codes: Sequence[str] | None = None,
        level: str = "commune",
        user: User | None,
    ) -> dict[str, dict[str, int]]:
        """Replace the roads or buildings of every unit they meet (:func:`geo_antt.store._context.load_context`)."""
        return _context.load_context(self, layer, frame, unit_codes=unit_codes, level=level, user=user)

    def context_frame(
        self,
        layer: str,
        *,
        unit_codes: Sequence[str] | None = None,
        bbox: Sequence[float] | None = None,
        merged: bool = False,
    ) -> gpd.GeoDataFrame:
        """The stored roads or buildings (:func:`geo_antt.store._context.context_frame`)."""
        return _context.context_frame(self, layer, unit_codes=unit_codes, bbox=bbox, merged=merged)

    def context_counts(self) -> dict[str, int]:
        """Roads and buildings stored (:func:`geo_antt.store._context.context_counts`)."""
        return _context.context_counts(self)

    # ------------------------------------------------------------------------------------------
    # units

    def put_units(self, units_gdf: gpd.GeoDataFrame, *, user: User | None) -> dict[str, int]:
        """Insert or replace units (a units frame, see DEVELOPING.md) in one transaction.

        Returns ``{"inserted": n, "updated": n}``. Admin only.
        """
        actor = self._actor(user)
        self._require_admin(actor, "load units")
        gdf = _check_units_frame(units_gdf)
        rows = []
        extra_cols = [c for c in gdf.columns if c not in UNIT_COLUMNS and c != gdf.geometry.name]
        geoms = np.asarray(gdf.geometry.values, dtype=object)
        for i, (code, r) in enumerate(gdf.iterrows()):
            g = normalize_geometry(geoms[i])
            extra = {c: json_value(r[c]) for c in extra_cols}
            rows.append(
                {
                    "code": str(code),
                    "name": nfc(str(r["name"])),
                    "level": str(r["level"]),
                    "parent_code": None if _isna(r.get("parent_code")) else str(r["parent_code"]),
                    "approximate": bool(False if _isna(r.get("approximate")) else r.get("approximate")),
                    "valid_from": None if _isna(r.get("valid_from")) else str(r["valid_from"])[:10],
                    "valid_to": None if _isna(r.get("valid_to")) else str(r["valid_to"])[:10],
                    "extra": {k: v for k, v in extra.items() if v is not None} or None,
                    **_geom_columns(g),
                }
            )
        with self._write() as conn:
            existing = set()
            codes = [r["code"] for r in rows]
            for chunk in _chunks(codes):
                existing |= set(conn.execute(sa.select(T.units.c.code).where(T.units.c.code.in_(chunk))).scalars())
            ins = [r for r in rows if r["code"] not in existing]
            upd = [r for r in rows if r["code"] in existing]
            if ins:
                conn.execute(T.units.insert(), ins)
            if upd:
                stmt = T.units.update().where(T.units.c.code == sa.bindparam("_code"))
                stmt = stmt.values({k: sa.bindparam(k) for k in upd[0] if k != "code"})
                conn.execute(stmt, [{**{k: v for k, v in r.items() if k != "code"}, "_code": r["code"]} for r in upd])
            self._models_changed(conn, None)  # unit polygons changed: every cached figure may be stale
            self._audit(conn, actor, "units", detail={"inserted": len(ins), "updated": len(upd)})
        return {"inserted": len(ins), "updated": len(upd)}

    def units_frame(self) -> gpd.GeoDataFrame:
        """All units as a units frame (index ``code``, EPSG:4326). Boundaries are not secret."""
        cols = [T.units.c[c] for c in UNIT_COLUMNS] + [T.units.c.extra, T.units.c.geom]
        with self._read() as conn:
            rows = conn.execute(sa.select(*cols).order_by(T.units.c.code)).all()
        data: dict[str, list[Any]] = {c: [getattr(r, c) for r in rows] for c in UNIT_COLUMNS}
        extras = [r.extra or {} for r in rows]
        extra_keys = sorted({k for e in extras for k in e})
        for k in extra_keys:
            data[k] = [e.get(k) for e in extras]
        geom = shapely.from_wkb(np.array([r.geom for r in rows], dtype=object)) if rows else []
        gdf = gpd.GeoDataFrame(data, geometry=gpd.GeoSeries(geom, crs="EPSG:4326"), crs="EPSG:4326")
        gdf["approximate"] = gdf["approximate"].astype(bool)
        return gdf.set_index(pd.Index(gdf["code"], name="code"))

    def unit_names(self, *, user: User | None = None) -> pd.DataFrame:
        """Code, name, level and parent of the units ``user`` may see (admins: all), without
        boundaries: a cheap list for pickers. Index ``code``, ordered by code.
        """
        actor = self._actor(user)
        u = T.units
        q = sa.select(u.c.code, u.c.name, u.c.level, u.c.parent_code).order_by(u.c.code)
        flt = self._scope_filter(u.c.code, actor)
        if flt is not None:
            q = q.where(flt)
        with self._read() as conn:
            rows = conn.execute(q).all()
        cols = ["code", "name", "level", "parent_code"]
        df = pd.DataFrame({c: pd.Series([getattr(r, c) for r in rows], dtype=object) for c in cols}, columns=cols)
        return df.set_index(pd.Index(df["code"], name="code"))

    def _unit_exists(self, conn: sa.Connection, code: str) -> bool:
        return conn.execute(sa.select(T.units.c.code).where(T.units.c.code == code)).first() is not None

    def _area(self, conn: sa.Connection, code: str) -> shapely.Geometry | None:
        """Polygon of ``code``; a point-only unit falls back to its nearest polygonal ancestor."""
        seen = set()
        cur: str | None = code
        while cur is not None and cur not in seen:
            seen.add(cur)
            row = conn.execute(sa.select(T.units.c.geom, T.units.c.parent_code).where(T.units.c.code == cur)).first()
            if row is None:
                return None
            if row.geom is not None:
                g = shapely.from_wkb(row.geom)
                if g.geom_type in ("Polygon", "MultiPolygon"):
                    return g
            cur = row.parent_code
        return None

    # ------------------------------------------------------------------------------------------
    # users and tokens

    def _user_from_row(self, conn: sa.Connection, row: Any) -> User:
        codes = conn.execute(
            sa.select(T.user_units.c.unit_code)
            .where(T.user_units.c.user_id == row.id)
            .order_by(T.user_units.c.unit_code)
        ).scalars()
        stamp = hashlib.sha256((row.password_hash or "").encode("utf-8")).hexdigest()[:16]
        return User(
            name=row.name,
            role=row.role,
            unit_codes=tuple(codes),
            active=bool(row.active),
            id=row.id,
            credential_stamp=stamp,
        )

    def add_user(
        self,
        name: str,
        *,
        role: str,
        password: str | None = None,
        unit_codes: Iterable[str] = (),
        user: User | None = None,
    ) -> User:
        """Create an account (admin only). ``password`` None: no password login until one is set.

        Raises
        ------
        GeoAnttError
            Bad name, unknown role, or an account of that name exists.
        NotFoundError
            An unknown unit code.
        """
        actor = self._actor(user)
        self._require_admin(actor, "add accounts")
        name = nfc(name) or ""
        if not _NAME_RE.match(name):
            raise GeoAnttError(f"account name {name!r}: 1-128 characters, no spaces, '/', '\\' or ':'")
        if role not in ROLES:
            raise GeoAnttError(f"role {role!r}: use one of {', '.join(ROLES)}")
        codes = list(dict.fromkeys(str(c) for c in unit_codes))
        pw_hash = None if password is None else self._hash_password(password)
        with self._write() as conn:
            for c in codes:
                if not self._unit_exists(conn, c):
                    raise NotFoundError(
                        f"unit {c!r} is not in the store (load the boundaries first: geo-antt db load-units)"
                    )
            if conn.execute(sa.select(T.users.c.id).where(T.users.c.name == name)).first():
                raise GeoAnttError(f"account {name!r} exists already")
            uid = conn.execute(
                T.users.insert().values(name=name, password_hash=pw_hash, role=role, active=True, created_at=_now())
            ).inserted_primary_key[0]  # type: ignore[index]  # an INSERT's result has it; SQLAlchemy types it Optional
            if codes:
                conn.execute(T.user_units.insert(), [{"user_id": uid, "unit_code": c} for c in codes])
            self._audit(conn, actor, "user_add", detail={"user": name, "role": role, "units": codes})
        return User(name=name, role=role, unit_codes=tuple(sorted(codes)), active=True, id=uid)

    def _hash_password(self, password: str) -> str:
        if not isinstance(password, str) or len(password) < 8:
            raise GeoAnttError("a password needs at least 8 characters")
        return self._hasher.hash(password)

    def set_password(self, name: str, password: str, *, user: User | None) -> None:
        """Set the password of ``name`` (admin, or the account itself); ends its web sessions."""
        actor = self._actor(user)
        if not actor.is_admin and actor.name != name:
            raise PermissionDeniedError("only an admin may set another account's password")
        h = self._hash_password(password)
        with self._write() as conn:
            n = conn.execute(T.users.update().where(T.users.c.name == name).values(password_hash=h)).rowcount
            if n != 1:
                raise NotFoundError(f"no account named {name!r}")
            self._end_sessions(conn, name)
            self._bump_access(conn)
            self._audit(conn, actor, "user_password", detail={"user": name})

    def set_user_active(self, name: str, active: bool, *, user: User | None) -> None:
        """Enable or disable an account (admin only); a disabled account's tokens stop working and
        its web sessions end.
        """
        actor = self._actor(user)
        self._require_admin(actor, "enable or disable accounts")
        with self._write() as conn:
            n = conn.execute(T.users.update().where(T.users.c.name == name).values(active=bool(active))).rowcount
            if n != 1:
                raise NotFoundError(f"no account named {name!r}")
            if not active:
                self._end_sessions(conn, name)
            self._bump_access(conn)
            self._audit(conn, actor, "user_active", detail={"user": name, "active": bool(active)})

    def set_user_access(
        self, name: str, *, role: str | None = None, unit_codes: Iterable[str] | None = None, user: User | None
    ) -> User:
        """Change the role and/or the units of an account (admin only); returns it afterwards.
        A change ends the account's web sessions (it logs in again with its new rights).
        """
        actor = self._actor(user)
        self._require_admin(actor, "change accounts")
        if role is not None and role not in ROLES:
            raise GeoAnttError(f"role {role!r}: use one of {', '.join(ROLES)}")
        codes = None if unit_codes is None else list(dict.fromkeys(str(c) for c in unit_codes))
        with self._write() as conn:
            row = conn.execute(sa.select(T.users).where(T.users.c.name == name)).first()
            if row is None:
                raise NotFoundError(f"no account named {name!r}")
            old = self._user_from_row(conn, row)
            if role is not None:
                conn.execute(T.users.update().where(T.users.c.id == row.id).values(role=role))
            if codes is not None:
                for c in codes:
                    if not self._unit_exists(conn, c):
                        raise NotFoundError(f"unit {c!r} is not in the store")
                conn.execute(T.user_units.delete().where(T.user_units.c.user_id == row.id))
                if codes:
                    conn.execute(T.user_units.insert(), [{"user_id": row.id, "unit_code": c} for c in codes])
            new_row = conn.execute(sa.select(T.users).where(T.users.c.id == row.id)).one()
            new = self._user_from_row(conn, new_row)
            if (new.role, new.unit_codes) != (old.role, old.unit_codes):
                self._end_sessions(conn, name)
            self._bump_access(conn)
            self._audit(conn, actor, "user_access", detail={"user": name, "old": old.to_dict(), "new": new.to_dict()})
        return new

    def get_user(self, name: str) -> User:
        """The account ``name``; :class:`~geo_antt.NotFoundError` when there is none."""
        with self._read() as conn:
            row = conn.execute(sa.select(T.users).where(T.users.c.name == name)).first()
            if row is None:
                raise NotFoundError(f"no account named {name!r}")
            return self._user_from_row(conn, row)

    def list_users(self) -> list[User]:
        """Every account, by name."""
        with self._read() as conn:
            rows = conn.execute(sa.select(T.users).order_by(T.users.c.name)).all()
            return [self._user_from_row(conn, r) for r in rows]

    def authenticate(self, name: str, password: str) -> User | None:
        """The active account ``name`` if ``password`` is its password, else None.

        Unknown names cost the same hashing time as wrong passwords (no account enumeration by
        timing). A hash made with older argon2 parameters is upgraded on success.
        """
        with self._read() as conn:
            row = conn.execute(sa.select(T.users).where(T.users.c.name == (nfc(name) or ""))).first()
            user = self._user_from_row(conn, row) if row is not None else None
        if row is not None and row.password_hash:
            stored = row.password_hash
        else:
            if self._dummy_hash is None:
                self._dummy_hash = self._hasher.hash(secrets.token_hex(16))
            stored = self._dummy_hash
        try:
            self._hasher.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        if row is None or not row.password_hash or not row.active or user is None:
            return None
        if self._hasher.check_needs_rehash(stored):  # best effort: a later login does it if busy now
            stmt = T.users.update().where(T.users.c.id == row.id).values(password_hash=self._hasher.hash(password))
            self._try_write(lambda conn: conn.execute(stmt))
        return user

    def create_token(self, name: str, *, label: str = "", user: User | None) -> str:
        """Create an API token for account ``name`` and return it (shown once; only its SHA-256 is stored)."""
        actor = self._actor(user)
        if not actor.is_admin and actor.name != name:
            raise PermissionDeniedError("only an admin may create tokens for another account")
        token = _TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self._write() as conn:
            row = conn.execute(sa.select(T.users.c.id).where(T.users.c.name == name)).first()
            if row is None:
                raise NotFoundError(f"no account named {name!r}")
            conn.execute(
                T.api_tokens.insert().values(
                    user_id=row.id, token_hash=_token_hash(token), label=nfc(label) or None, created_at=_now()
                )
            )
            self._audit(conn, actor, "token_create", detail={"user": name, "label": nfc(label) or None})
        return token

    def revoke_tokens(self, name: str, *, user: User | None) -> int:
        """Revoke every token of account ``name``; returns how many were active."""
        actor = self._actor(user)
        if not actor.is_admin and actor.name != name:
            raise PermissionDeniedError("only an admin may revoke another account's tokens")
        with self._write() as conn:
            row = conn.execute(sa.select(T.users.c.id).where(T.users.c.name == name)).first()
            if row is None:
                raise NotFoundError(f"no account named {name!r}")
            n = conn.execute(
                T.api_tokens.update()
                .where(T.api_tokens.c.user_id == row.id, T.api_tokens.c.revoked_at.is_(None))
                .values(revoked_at=_now())
            ).rowcount
            self._bump_access(conn)
            self._audit(conn, actor, "token_revoke", detail={"user": name, "count": n})
        return n

    def user_for_token(self, token: str) -> User | None:
        """The active account owning the unrevoked API token ``token``, else None."""
        if not token or not token.startswith(_TOKEN_PREFIX):
            return None
        h = _token_hash(token)
        with self._read() as conn:
            row = conn.execute(
                sa.select(T.users, T.api_tokens.c.id.label("token_id"), T.api_tokens.c.last_used_at)
                .join(T.api_tokens, T.api_tokens.c.user_id == T.users.c.id)
                .where(T.api_tokens.c.token_hash == h, T.api_tokens.c.revoked_at.is_(None))
            ).first()
            if row is None or not row.active:
                return None
            user = self._user_from_row(conn, row)
        if row.last_used_at is None or (_now() - row.last_used_at).total_seconds() > _TOUCH_INTERVAL_S:
            self._token_uses.pop(h, None)
            self.record_token_use(token)
        else:
            self._token_uses.setdefault(h, time.monotonic())
        return user

    def record_token_use(self, token: str) -> bool:
        """Record that ``token`` was just used (``api_tokens.last_used_at``), at most once every
        ``_TOUCH_INTERVAL_S`` seconds per token, best effort: skipped (and tried again on the
        next use) while another writer holds the database, so a read never waits for the write
        lock. Callers that remember :meth:`user_for_token` answers call it on each use.

        Returns
        -------
        bool
            True when the use is recorded (now or within the last interval).
        """
        h = _token_hash(token)
        last = self._token_uses.get(h)
        now = time.monotonic()
        if last is not None and now - last < _TOUCH_INTERVAL_S:
            return True
        stamp = _now()
        stmt = (
            T.api_tokens.update()
            .where(T.api_tokens.c.token_hash == h, T.api_tokens.c.revoked_at.is_(None))
            .values(last_used_at=stamp)
        )
        if not self._try_write(lambda conn: conn.execute(stmt)):
            return False
        if len(self._token_uses) > 10_000:
            self._token_uses.clear()
        self._token_uses[h] = now
        return True

    # ------------------------------------------------------------------------------------------
    # web sessions (server side, so that they can be ended at once)

    def start_session(self, name: str, *, lifetime_s: float) -> str:
        """Record a new web session of account ``name`` and return its id (random, 256 bits;
        only its SHA-256 is stored). Expired sessions of every account are purged.

        Parameters
        ----------
        name
            The account that just logged in.
        lifetime_s
            Seconds until the session expires (the session cookie's lifetime).
        """
        if not (isinstance(lifetime_s, (int, float)) and 0 < lifetime_s < 366 * 86400):
            raise GeoAnttError(f"session lifetime {lifetime_s!r} s: use more than 0 and less than 366 days")
        sid = secrets.token_urlsafe(32)
        now = _now()
        with self._write() as conn:
            row = conn.execute(sa.select(T.users.c.id).where(T.users.c.name == name)).first()
            if row is None:
                raise NotFoundError(f"no account named {name!r}")
            conn.execute(T.web_sessions.delete().where(T.web_sessions.c.expires_at <= now))
            conn.execute(
                T.web_sessions.insert().values(
                    id_hash=_token_hash(sid),
                    user_id=row.id,
                    created_at=now,
                    expires_at=now + _dt.timedelta(seconds=float(lifetime_s)),
                )
            )
        return sid

    def user_for_session(self, session_id: str | None) -> User | None:
        """The active account of the unexpired, not ended web session ``session_id``, else None
        (a read: never waits for a writer).
        """
        if not session_id or not isinstance(session_id, str):
            return None
        with self._read() as conn:
            row = conn.execute(
                sa.select(T.users)
                .join(T.web_sessions, T.web_sessions.c.user_id == T.users.c.id)
                .where(T.web_sessions.c.id_hash == _token_hash(session_id), T.web_sessions.c.expires_at > _now())
            ).first()
            if row is None or not row.active:
                return None
            return self._user_from_row(conn, row)

    def end_session(self, session_id: str | None) -> bool:
        """End one web session (logout); True when it was open."""
        if not session_id or not isinstance(session_id, str):
            return False
        with self._write() as conn:
            n = conn.execute(
                T.web_sessions.delete().where(T.web_sessions.c.id_hash == _token_hash(session_id))
            ).rowcount
            self._bump_access(conn)
        return n == 1

    def end_sessions(self, name: str, *, user: User | None) -> int:
        """End every web session of account ``name`` (admin, or the account itself: "log out
        everywhere"); returns how many were open.
        """
        actor = self._actor(user)
        if not actor.is_admin and actor.name != name:
            raise PermissionDeniedError("only an admin may end another account's sessions")
        with self._write() as conn:
            if conn.execute(sa.select(T.users.c.id).where(T.users.c.name == name)).first() is None:
                raise NotFoundError(f"no account named {name!r}")
            return self._end_sessions(conn, name)

    @classmethod
    def _end_sessions(cls, conn: sa.Connection, name: str) -> int:
        uid = sa.select(T.users.c.id).where(T.users.c.name == name).scalar_subquery()
        n = conn.execute(T.web_sessions.delete().where(T.web_sessions.c.user_id == uid)).rowcount
        cls._bump_access(conn)
        return n

    @staticmethod
    def _bump_access(conn: sa.Connection) -> None:
        """Move ``store_meta.access_revision`` (in the caller's write transaction): a session
        ended, a token revoked, an account's password, role, units or state changed. Readers
        that remember token/session lookups (the web's login guard) drop them when it moves.
        An upsert: stores made before it have no such row (no migration needed).
        """
        insert = _pg_dialect.insert if conn.dialect.name == "postgresql" else _sqlite_dialect.insert
        stmt = insert(T.store_meta).values(key=_ACCESS_KEY, value=1)
        conn.execute(
            stmt.on_conflict_do_update(index_elements=[T.store_meta.c.key], set_={"value": T.store_meta.c.value + 1})
        )

    def revisions(self) -> tuple[int, int]:
        """``(generation, access_revision)`` in one read: :meth:`generation`, and a counter that
        moves whenever a web session ends, a token is revoked or an account's password, role,
        units or state change (any process; 0 before the first such change).
        """
        keys = ("model_generation", _ACCESS_KEY)
        with self._read() as conn:
            rows = dict(
                conn.execute(
                    sa.select(T.store_meta.c.key, T.store_meta.c.value).where(T.store_meta.c.key.in_(keys))
                ).all()
            )
        return int(rows["model_generation"]), int(rows.get(_ACCESS_KEY, 0))

    # ------------------------------------------------------------------------------------------
    # audit

    def _audit(
        self,
        conn: sa.Connection,
        actor: User,
        action: str,
        *,
        model_id: str | None = None,
        unit_code: str | None = None,
        old: Any = None,
        new: Any = None,
        detail: Any = None,
    ) -> None:
        conn.execute(
            T.audit_log.insert().values(
                at=_now(),
                user_name=actor.name,
                action=action,
                model_id=model_id,
                unit_code=unit_code,
                old=old,
                new=new,
                detail=detail,
            )
        )

    def audit_frame(
        self,
        *,
        model_id: str | None = None,
        limit: int = 100,
        user: User | None = None,
        user_name: str | None = None,
        unit_code: str | None = None,
        since: _dt.datetime | None = None,
        until: _dt.datetime | None = None,
        offset: int = 0,
    ) -> pd.DataFrame:
        """The newest ``limit`` audit entries (all, or those matching the filters), newest first.

        Parameters
        ----------
        model_id
            Only entries of this model.
        limit, offset
            At most ``limit`` entries, after skipping the ``offset`` newest matching ones (pages).
        user
            Who reads: non-admins see only entries of units in their scope (entries without a
            unit, such as account changes, only admins see).
        user_name
            Only entries made by this account.
        unit_code
            Only entries of this unit and the units below it (NotFoundError for an unknown
            unit, PermissionDeniedError for a unit outside the reader's area).
        since, until
            Only entries at or after ``since`` and before ``until`` (timezone-aware datetimes;
            naive ones are taken as UTC).

        Returns
        -------
        pandas.DataFrame
            Columns ``id, at, user_name, action, model_id, unit_code, old, new, detail,
            model_name`` (``at`` UTC; ``model_name`` the model's current name, None when the
            entry has no model).
        """
        actor = self._actor(user)
        if limit < 1:
            raise GeoAnttError(f"limit must be >= 1, got {limit}")
        if offset < 0:
            raise GeoAnttError(f"offset must be >= 0, got {offset}")
        a = T.audit_log
        m = T.models
        q = (
            sa.select(a, m.c.name.label("model_name"))
            .select_from(a.outerjoin(m, m.c.id == a.c.model_id))
            .order_by(a.c.id.desc())
            .limit(int(limit))
            .offset(int(offset))
        )
        if model_id is not None:
            q = q.where(a.c.model_id == model_id)
        if user_name is not None:
            q = q.where(a.c.user_name == user_name)
        if since is not None:
            q = q.where(a.c.at >= _aware(since))
        if until is not None:
            q = q.where(a.c.at < _aware(until))
        flt = self._scope_filter(a.c.unit_code, actor)
        if flt is not None:
            q = q.where(flt)
        with self._read() as conn:
            if unit_code is not None:
                q = q.where(self._within_unit(conn, actor, unit_code, a.c.unit_code))
            rows = conn.execute(q).all()
        cols = ["id", "at", "user_name", "action", "model_id", "unit_code", "old", "new", "detail", "model_name"]
        df = pd.DataFrame({c: pd.Series([getattr(r, c) for r in rows], dtype=object) for c in cols}, columns=cols)
        df["id"] = df["id"].astype("int64")
        df["at"] = pd.to_datetime(df["at"], utc=True)
        return df

    # ------------------------------------------------------------------------------------------
    # models: reading

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

    def models_frame(
        self,
        unit_code: str | None = None,
        bbox: Sequence[float] | None = None,
        user: User | None = None,
        *,
        status: str | Sequence[str] | None = None,
    ) -> gpd.GeoDataFrame:
        """The models as a canonical models frame (index ``id``, EPSG:4326).

        Extra columns after ``MODEL_COLUMNS``: ``version``, ``created_at``, ``updated_at``,
        ``created_by``, ``updated_by`` (an editor sends ``version`` back as ``expected_version``).

        Parameters
        ----------
        unit_code
            Only models of this unit and its descendants.
        bbox
            ``(min lon, min lat, max lon, max lat)`` in degrees: models whose bounding box meets it.
        user
            Filter to the account's scope; None: everything.
        status
            Only models with this status (or one of these).

        Raises
        ------
        NotFoundError
            ``unit_code`` is not in the store.
        PermissionDeniedError
            ``unit_code`` lies wholly outside the user's scope.
        """
        actor = self._actor(user)
        q = self._model_select().order_by(T.models.c.id)
        with self._read() as conn:
            if unit_code is not None:
                q = q.where(self._within_unit(conn, actor, unit_code, T.models.c.unit_code))
            flt = self._scope_filter(T.models.c.unit_code, actor)
            if flt is not None:
                q = q.where(flt)
            if bbox is not None:
                q = q.where(self._bbox_filter(bbox, conn))
            if status is not None:
                q = q.where(T.models.c.status.in_([status] if isinstance(status, str) else list(status)))
            res = conn.execute(q)
            keys = list(res.keys())
            rows = res.all()
        return _models_frame_from_columns(dict(zip(keys, zip(*rows))) if rows else {k: () for k in keys})

    def get_model(self, model_id: str, *, user: User | None = None) -> dict[str, Any]:
        """One model as a record (``MODEL_COLUMNS`` + ``geometry`` + ``version`` and timestamps)."""
        actor = self._actor(user)
        with self._read() as conn:
            row = conn.execute(self._model_select().where(T.models.c.id == model_id)).first()
            self._require_visible(self._scope(conn, actor), row, model_id)
        rec = self._row_record(row)
        rec.update({c: getattr(row, c) for c in self._META})
        return rec

    # ------------------------------------------------------------------------------------------
    # models: writing

    def _validate(self, rec: Mapping[str, Any], *, what: str) -> None:
        problems = check_record(rec, self._specs)
        if problems:
            raise ValidationError([Problem(what, None, f, v, r) for f, v, r in problems])

    def _check_position(self, conn: sa.Connection, rec: Mapping[str, Any], actor: User, *, what: str) -> None:
        """Non-admins may only place a model inside the polygon of its unit."""
        if actor.is_admin or rec.get("geometry") is None or rec.get("unit_code") is None:
            return
        area = self._area(conn, rec["unit_code"])
        if area is None:
            raise PermissionDeniedError(
                f"{what}: unit {rec['unit_code']} has no boundary polygon; its positions cannot be checked"
            )
        if not area.covers(rec["geometry"]):
            raise PermissionDeniedError(f"{what}: the position lies outside unit {rec['unit_code']}")

    def create_model(self, record: Mapping[str, Any], *, user: User | None) -> dict[str, Any]:
        """Add one model; returns it as stored (``version`` 1). A missing id is generated.

        Raises
        ------
        ValidationError
            Every problem of the record (unknown kind or code, bad parameter, missing location).
        PermissionDeniedError
            Viewer, unit outside the scope, or (non-admin) a position outside the unit.
        ConflictError
            A model with that id exists.
        """
        actor = self._actor(user)
        self._require_edit(actor)
        rec = normalize_record(record)
        if rec["id"] is None:
            rec["id"] = f"{rec.get('kind') or 'model'}-{uuid.uuid4().hex[:12]}"
        self._validate(rec, what=f"model {rec['id']}")
        now = _now()
        with self._write() as conn:
            if rec["unit_code"] is not None and not self._unit_exists(conn, rec["unit_code"]):
                raise ValidationError(
                    [Problem(f"model {rec['id']}", None, "unit_code", rec["unit_code"], "unknown unit")]
                )
            self._check_unit_in_scope(self._scope(conn, actor), rec["unit_code"], actor, what=f"model {rec['id']}")
            self._check_position(conn, rec, actor, what=f"model {rec['id']}")
            if conn.execute(sa.select(T.models.c.id).where(T.models.c.id == rec["id"])).first():
                raise ConflictError(_id_taken(rec["id"]))
            conn.execute(T.models.insert().values(_db_values(rec, version=1, now=now, who=actor.name, created=True)))
            self._models_changed(conn, [rec])
            self._audit(conn, actor, "create", model_id=rec["id"], unit_code=rec["unit_code"], new=to_json_record(rec))
        return {
            **rec,
            "version": 1,
            "created_at": now,
            "updated_at": now,
            "created_by": actor.name,
            "updated_by": actor.name,
        }

    def update_model(
        self,
        model_id: str,
        changes: Mapping[str, Any],
        *,
        expected_version: int,
        user: User | None,
        _action: str = "update",
    ) -> dict[str, Any]:
        """Change some fields of a model; returns the model as stored afterwards.

        Parameters
        ----------
        model_id
            The model to change.
        changes
            ``{column: new value}`` (any of ``MODEL_COLUMNS`` but ``id``, and ``geometry`` as a
            shapely geometry, GeoJSON mapping or WKT).
        expected_version
            The ``version`` the caller's edit is based on.
        user
            Who edits (scope and role are checked; None = system).

        Raises
        ------
        ConflictError
            The model's stored version is not ``expected_version`` (someone saved first).
        PermissionDeniedError
            Viewer; the model's old or new unit is outside the scope; a position outside the unit.
        NotFoundError
            No such model.
        ValidationError
            The changed record is invalid.
        """
        actor = self._actor(user)
        self._require_edit(actor)
        changes = dict(changes)
        if "id" in changes and changes.pop("id") != model_id:
            raise GeoAnttError("the id of a model cannot be changed (retire it and add a new one)")
        delta = normalize_record(changes, partial=True)
        with self._write() as conn:
            row = conn.execute(self._model_select().where(T.models.c.id == model_id).with_for_update()).first()
            scope = self._scope(conn, actor)
            self._require_visible(scope, row, model_id)
            assert row is not None  # _require_visible raised otherwise
            if row.version != int(expected_version):
                raise ConflictError(
                    f"model {model_id} was changed by {row.updated_by} at {row.updated_at:%Y-%m-%d %H:%M:%S} UTC "
                    f"(now version {row.version}; your edit is based on version {expected_version}): reload and edit again"
                )
            old = self._row_record(row)
            diff = record_diff(old, delta)
            if not diff:
                return {**old, **{c: getattr(row, c) for c in self._META}}
            new = {**old, **delta}
            self._validate(new, what=f"model {model_id}")
            if "unit_code" in diff:
                if new["unit_code"] is not None and not self._unit_exists(conn, new["unit_code"]):
                    raise ValidationError(
                        [Problem(f"model {model_id}", None, "unit_code", new["unit_code"], "unknown unit")]
                    )
                self._check_unit_in_scope(scope, new["unit_code"], actor, what=f"model {model_id}")
            if "geometry" in diff or "unit_code" in diff:
                self._check_position(conn, new, actor, what=f"model {model_id}")
            now = _now()
            version = row.version + 1
            values = _db_values(new, version=version, now=now, who=actor.name, created=False)
            n = conn.execute(
                T.models.update().where(T.models.c.id == model_id, T.models.c.version == row.version).values(values)
            ).rowcount
            if n != 1:  # pragma: no cover - the row is locked (PostgreSQL) or the database is (SQLite)
                raise ConflictError(f"model {model_id} was changed meanwhile; reload and edit again")
            self._models_changed(conn, [old, new])
            self._audit(
                conn,
                actor,
                _action,
                model_id=model_id,
                unit_code=new["unit_code"],
                old=to_json_record({k: o for k, (o, _) in diff.items()}),
                new=to_json_record({k: v for k, (_, v) in diff.items()}),
                detail={"version": version},
            )
        return {
            **new,
            "version": version,
            "created_at": row.created_at,
            "updated_at": now,
            "created_by": row.created_by,
            "updated_by": actor.name,
        }

    def retire_model(self, model_id: str, *, expected_version: int, user: User | None) -> dict[str, Any]:
        """Set a model's status to ``inactive`` (models are never deleted); same checks as
        :meth:`update_model`; audited as ``retire``.
        """
        return self.update_model(
            model_id, {"status": "inactive"}, expected_version=expected_version, user=user, _action="retire"
        )

    # ------------------------------------------------------------------------------------------
    # import

    def preview_import(
        self,
        models_gdf: gpd.GeoDataFrame,
        *,
        user: User | None,
        unit_code: str | None = None,
        source: str = "",
        problems: Sequence[Problem] = (),
    ) -> ImportPreview:
        """Compare a models frame with the store without changing anything.

        Each row becomes *new* (its id is not stored, or is the id of a model outside the user's
        area: such ids preview exactly as unknown ones, and committing them fails as for any id
        in use, so that a preview never tells which ids exist elsewhere), *update* (stored, some field differs: the
        preview lists each difference), *unchanged*, or *rejected* with every reason: invalid
        values, duplicate id in the input, unknown unit, unit outside ``unit_code`` or the user's
        scope, and — for ``unit_code`` (or, for a
        non-admin without one, the user's units) — a position outside the unit's polygon.

        Parameters
        ----------
        models_gdf
            A models frame (``geo_antt.io.load_models``); index or column ``id``. Columns that
            are absent are left as stored for updated models. Messages name rows by a
            ``source_row`` column or ``attrs["source_rows"]`` (spreadsheet row numbers) when
            present, else by id.
        user
            Who imports (viewer -> PermissionDeniedError).
        unit_code
            The unit the data belongs to; rows without ``unit_code`` get it.
        source
            The file name, for messages and the audit log.
        problems
            What the file reader found (``read_models_file``): its errors (rows that could not be
            read, with their row numbers) are rejections of this preview, so that the counts,
            the commit refusal and the fingerprint cover them; its warnings are warnings.

        Returns
        -------
        ImportPreview
            Also lists (``outside``) the rows whose position is outside the import area.
        """
        actor = self._actor(user)
        self._require_edit(actor)
        if not isinstance(models_gdf, gpd.GeoDataFrame):
            raise TypeError(f"'models_gdf' should be a GeoDataFrame, got {type(models_gdf).__name__}")
        gdf = models_gdf
        if gdf.crs is not None and not gdf.crs.equals("EPSG:4326"):
            gdf = gdf.to_crs("EPSG:4326")
        if "id" not in gdf.columns:
            if gdf.index.name != "id":
                why = msg("missing column: every model needs an id (an import updates models by id)")
                raise ValidationError([Problem(source or "import", None, "id", None, why)])
            gdf = gdf.reset_index()
        present = [c for c in MODEL_COLUMNS if c in gdf.columns] + ["geometry"]
        label = source or "import"
        rejected: list[Problem] = []
        rejected_ids: list[str] = []
        problem_ids: list[str | None] = []
        outside: list[dict[str, Any]] = []
        warnings: list[Problem] = []
        for q in problems:
            if q.severity != "error":
                warnings.append(q)
                continue
            rejected.append(q)
            problem_ids.append(q.model_id)
            rejected_ids.append(f"row {q.row}" if q.row is not None else label)
        with self._read() as conn:
            scope = self._scope(conn, actor)
            allowed_units: set[str] | None
            if unit_code is not None:
                if not self._unit_exists(conn, unit_code):
                    raise NotFoundError(f"unit {unit_code!r} is not in the store")
                self._check_unit_in_scope(scope, unit_code, actor, what="import")
                allowed_units = self._closure(conn, [unit_code])
                if scope is not None:
                    allowed_units &= scope
                areas = [self._area(conn, unit_code)]
            else:
                allowed_units = scope
                areas = [self._area(conn, c) for c in actor.unit_codes] if not actor.is_admin else []
            if any(a is None for a in areas):
                why = msg("a unit of the import area has no boundary polygon: positions cannot be checked")
                if actor.is_admin:
                    warnings.append(Problem(label, None, "geometry", unit_code, why, severity="warning"))
                    areas = [a for a in areas if a is not None]
                else:
                    raise PermissionDeniedError(why)
            area = shapely.union_all(areas) if areas else None
            if area is not None:
                shapely.prepare(area)
            known_units = set(conn.execute(sa.select(T.units.c.code)).scalars())

            # spreadsheet row numbers when the reader kept them, else rows are named by their id
            if "source_row" in gdf.columns:
                rows_no: list[Any] = [None if _isna(r) else int(r) for r in gdf["source_row"]]
            elif gdf.attrs.get("source_rows") is not None and len(gdf.attrs["source_rows"]) == len(gdf):
                rows_no = [int(r) for r in gdf.attrs["source_rows"]]
            else:
                rows_no = [None] * len(gdf)

            def place_of(i: int, mid: Any) -> str:
                if rows_no[i] is not None:
                    return label
                return f"{label}, id {mid}" if mid else f"{label}, feature {i + 1}"

            records: list[tuple[str, Any, dict[str, Any]]] = []
            seen: dict[str, Any] = {}
            geoms = np.asarray(gdf.geometry.values, dtype=object)
            try:
                geoms = round_geometries(geoms)
                rounded = True
            except Exception:  # a bad geometry: normalise row by row to name it  # pragma: no cover
                rounded = False
            data = gdf[[c for c in present if c != "geometry"]].to_dict("records")
            for i, raw in enumerate(data):
                rowno = rows_no[i]
                raw["geometry"] = geoms[i]
                try:
                    rec = normalize_record(raw, rounded=rounded)
                except GeoAnttError as exc:
                    rejected.append(Problem(place_of(i, raw.get("id")), rowno, None, raw.get("id"), exc.message))
                    problem_ids.append(None if _isna(raw.get("id")) else str(raw.get("id")))
                    rejected_ids.append(str(raw.get("id") or f"row {rowno or i + 1}"))
                    continue
                if rec["unit_code"] is None and unit_code is not None:
                    rec["unit_code"] = unit_code
                probs = check_record(rec, self._specs)
                mid = rec["id"]
                if mid is not None and mid in seen:
                    probs.append(
                        (
                            "id",
                            mid,
                            msg("duplicate id (also row {row})", row=seen[mid])
                            if seen[mid] is not None
                            else msg("duplicate id (also an earlier row)"),
                        )
                    )
                if rec["unit_code"] is not None and rec["unit_code"] not in known_units:
                    probs.append(("unit_code", rec["unit_code"], msg("unknown unit")))
                elif allowed_units is not None and rec["unit_code"] not in allowed_units:
                    probs.append(
                        (
                            "unit_code",
                            rec["unit_code"],
                            msg("outside unit {unit}", unit=unit_code)
                            if unit_code
                            else msg("outside the area of account '{account}'", account=actor.name),
                        )
                    )
                if area is not None and rec["geometry"] is not None and not area.covers(rec["geometry"]):
                    x, y = rec["geometry"].representative_point().coords[0]
                    probs.append(
                        (
                            "geometry",
                            f"{x:.6f}, {y:.6f}",
                            msg("position outside unit {unit}", unit=unit_code)
                            if unit_code
                            else msg("position outside the area of account '{account}'", account=actor.name),
                        )
                    )
                    outside.append(
                        {"row": rowno, "id": mid, "lon": round(x, 7), "lat": round(y, 7), "unit_code": rec["unit_code"]}
                    )
                if mid is not None:
                    seen.setdefault(mid, rowno)
                if probs:
                    rejected.extend(Problem(place_of(i, mid), rowno, f, v, r) for f, v, r in probs)
                    problem_ids.extend([mid] * len(probs))
                    rejected_ids.append(str(mid or f"row {rowno or i + 1}"))
                    continue
                records.append((place_of(i, mid), rowno, rec))

            existing: dict[str, Any] = {}
            ids = [r["id"] for _, _, r in records]
            for chunk in _chunks(ids):
                for found in conn.execute(self._model_select().where(T.models.c.id.in_(chunk))):
                    existing[found.id] = found
        new: list[dict[str, Any]] = []
        updates: dict[str, dict[str, tuple[Any, Any]]] = {}
        update_records: dict[str, dict[str, Any]] = {}
        base_versions: dict[str, int] = {}
        unchanged: list[str] = []
        for _place, _rowno, rec in records:
            row = existing.get(rec["id"])
            if row is None or (scope is not None and row.unit_code not in scope):
                # a model outside the area previews as an unknown id would (no existence
                # oracle); committing it then fails as any taken id does (ConflictError)
                new.append(rec)
                continue
            old = self._row_record(row)
            incoming = {k: rec[k] for k in present}
            diff = record_diff(old, incoming)
            if diff:
                updates[rec["id"]] = diff
                update_records[rec["id"]] = {**old, **incoming}
                base_versions[rec["id"]] = row.version
            else:
                unchanged.append(rec["id"])
        return ImportPreview(
            source=source,
            unit_code=unit_code,
            user_name=actor.name,
            new=tuple(new),
            updates=updates,
            update_records=update_records,
            base_versions=base_versions,
            unchanged=tuple(unchanged),
            rejected=tuple(rejected),
            rejected_ids=tuple(dict.fromkeys(rejected_ids)),
            warnings=tuple(warnings),
            store_url=self.url,
            rejected_model_ids=tuple(problem_ids),
            outside=tuple(outside),
        )

    def commit_import(
        self,
        preview: ImportPreview,
        *,
        user: User | None | object = _PREVIEW_USER,
        skip_rejected: bool = False,
        audit_each: bool = True,
        progress: Callable[[int, int], Any] | None = None,
    ) -> dict[str, int]:
        """Apply a preview all-or-nothing, in one transaction; returns the counts applied.

        ``progress(done, total)`` is called after each batch of rows written (models new and
        updated; the transaction commits after the last).

        ``user`` defaults to the account that made the preview, reloaded from the store (so a
        disabled account or a lost role cannot commit); when given it must be that account.
        The audit log gets the batch (source and counts) and, with ``audit_each``, one entry per
        model with its old and new values; without it (seeding a store from a dataset) the
        batch alone.

        Raises
        ------
        ValidationError
            The preview has rejected rows (unless ``skip_rejected``): nothing is written.
        ConflictError
            A model changed or appeared since the preview: nothing is written.
        PermissionDeniedError
            ``user`` is not the account that made the preview, or may not edit.
        """
        if user is _PREVIEW_USER:
            user = None if preview.user_name == SYSTEM_USER.name else self.get_user(preview.user_name)
        actor = self._actor(user)  # type: ignore[arg-type]
        self._require_edit(actor)
        if actor.name != preview.user_name:
            raise PermissionDeniedError(
                f"this preview was made by {preview.user_name!r}; {actor.name!r} cannot commit it"
            )
        if preview.store_url and preview.store_url != self.url:
            raise GeoAnttError("this preview was made against another store")
        if preview.rejected and not skip_rejected:
            raise ValidationError(
                list(preview.rejected),
                message=f"{len(preview.rejected_ids)} row(s) rejected; nothing imported (fix the file, or skip them explicitly)\n  "
                + "\n  ".join(str(p) for p in preview.rejected[:50]),
            )
        if not preview.new and not preview.updates:
            # Re-importing the same data changes nothing (not even the audit log).
            return {
                "new": 0,
                "update": 0,
                "unchanged": len(preview.unchanged),
                "rejected": len(preview.rejected_ids) if skip_rejected else 0,
            }
        now = _now()
        pause_file = os.environ.get(IMPORT_PAUSE_ENV_VAR)
        total = len(preview.new) + len(preview.updates)
        half = total // 2
        done = 0

        def maybe_pause() -> None:
            if pause_file and done >= half:
                Path(pause_file).write_text(str(done))
                time.sleep(60)

        with self._write() as conn:
            ids_new = [r["id"] for r in preview.new]
            for chunk in _chunks(ids_new):
                clash = conn.execute(sa.select(T.models.c.id).where(T.models.c.id.in_(chunk))).scalars().first()
                if clash is not None:  # also an id of a model outside the area (previewed as new)
                    raise ConflictError(f"{_id_taken(clash)}; nothing imported")
            for chunk in _chunks(list(preview.base_versions)):
                for mid, ver in conn.execute(
                    sa.select(T.models.c.id, T.models.c.version).where(T.models.c.id.in_(chunk)).with_for_update()
                ):
                    if ver != preview.base_versions[mid]:
                        raise ConflictError(
                            f"model {mid!r} was changed by someone else after the preview; preview again"
                        )
            new_rows = [_db_values(r, version=1, now=now, who=actor.name, created=True) for r in preview.new]
            audit_rows: list[dict[str, Any]] = []

            def written(n: int) -> None:
                nonlocal done, pause_file
                done += n
                if progress is not None:
                    progress(done, total)
                if pause_file and done >= half:
                    maybe_pause()
                    pause_file = None

            _insert_rows(conn, T.models, new_rows, written=written)
            for r in preview.new if audit_each else ():
                audit_rows.append(
                    {
                        "at": now,
                        "user_name": actor.name,
                        "action": "import",
                        "model_id": r["id"],
                        "unit_code": r["unit_code"],
                        "old": None,
                        "new": to_json_record(r),
                        "detail": {"source": preview.source, "version": 1},
                    }
                )
            if preview.updates:
                upd_ids = list(preview.updates)
                cols = list(
                    _db_values(preview.update_records[upd_ids[0]], version=1, now=now, who=actor.name, created=False)
                )
                stmt = (
                    T.models.update()
                    .where(T.models.c.id == sa.bindparam("_id"))
                    .values({c: sa.bindparam(c) for c in cols})
                )
                params = []
                for mid in upd_ids:
                    v = _db_values(
                        preview.update_records[mid],
                        version=preview.base_versions[mid] + 1,
                        now=now,
                        who=actor.name,
                        created=False,
                    )
                    params.append({**v, "_id": mid})
                    diff = preview.updates[mid]
                    if not audit_each:
                        continue
                    audit_rows.append(
                        {
                            "at": now,
                            "user_name": actor.name,
                            "action": "import",
                            "model_id": mid,
                            "unit_code": preview.update_records[mid]["unit_code"],
                            "old": to_json_record({k: o for k, (o, _) in diff.items()}),
                            "new": to_json_record({k: n for k, (_, n) in diff.items()}),
                            "detail": {"source": preview.source, "version": preview.base_versions[mid] + 1},
                        }
                    )
                for i in range(0, len(params), _CHUNK):
                    part = params[i : i + _CHUNK]
                    conn.execute(stmt, part)
                    done += len(part)
                    if progress is not None:
                        progress(done, total)
                    if pause_file and done >= half:
                        maybe_pause()
                        pause_file = None
            _insert_rows(conn, T.audit_log, audit_rows)
            counts = {
                "new": len(preview.new),
                "update": len(preview.updates),
                "unchanged": len(preview.unchanged),
                "rejected": len(preview.rejected_ids) if skip_rejected else 0,
            }
            changed = list(preview.new) + [self._row_record_from_values(mid, preview) for mid in preview.updates]
            self._models_changed(conn, changed + [preview.update_records[m] for m in preview.updates])
            self._audit(
                conn,
                actor,
                "import_batch",
                unit_code=preview.unit_code,
                detail={"source": preview.source, "counts": counts},
            )
        return counts

    @staticmethod
    def _row_record_from_values(mid: str, preview: ImportPreview) -> dict[str, Any]:
        """The record before an import's update (new record with the diff's old values)."""
        rec = dict(preview.update_records[mid])
        rec.update({k: o for k, (o, _) in preview.updates[mid].items()})
        return rec

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

    def generation(self) -> int:
        """A counter that grows with every change of models or units (any process): readers
        that keep frames in memory compare it to know when to reload.
        """
        with self._read() as conn:
            return self._generation(conn)

    def changes_since(self, generation: int, *, max_models: int | None = None) -> ModelChanges:
        """What changed after generation ``generation`` (a value of :meth:`generation` read earlier).

        One consistent snapshot (one read transaction; REPEATABLE READ on PostgreSQL): the current
        generation and every model written after ``generation``, as stored now (all statuses; no
        scope filter: this is for in-process caches such as the web catalog, never for a reply).

        Parameters
        ----------
        generation
            The generation the reader's copy was made at.
        max_models
            When more models than this changed, return ``reload=True`` and no rows (the reader
            will reload everything anyway; the rows are not fetched).

        Returns
        -------
        ModelChanges
            ``generation`` (now), ``reload`` (True when the changes cannot be followed model by
            model: units replaced, a backup restored, a very large import, ``generation`` unknown
            or newer than the store's, more than ``max_models`` models) and ``models`` (a models
            frame as :meth:`models_frame` returns, ordered by id; empty when ``reload``).
        """
        with self._read() as conn:
            if self.backend == "postgresql":
                conn.execute(sa.text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
            now = self._generation(conn)

            def none() -> gpd.GeoDataFrame:
                return _models_frame_from_columns({k: () for k in [*MODEL_COLUMNS, "geom", *self._META]})

            if now == generation:
                return ModelChanges(generation=now, reload=False, models=none())
            reload_gen = conn.execute(
                sa.select(T.store_meta.c.value).where(T.store_meta.c.key == "reload_generation")
            ).scalar()
            if generation > now or (reload_gen is not None and int(reload_gen) > generation):
                return ModelChanges(generation=now, reload=True, models=none())
            changed = T.models.c.generation > int(generation)
            if max_models is not None:
                n = conn.execute(sa.select(sa.func.count()).select_from(T.models).where(changed)).scalar_one()
                if n > max_models:
                    return ModelChanges(generation=now, reload=True, models=none())
            # no ORDER BY: SQLite would walk the primary key instead of ix_models_generation
            res = conn.execute(self._model_select().where(changed))
            keys = list(res.keys())
            rows = res.all()
        rows = sorted(rows, key=lambda r: r.id)
        models = _models_frame_from_columns(dict(zip(keys, zip(*rows))) if rows else {k: () for k in keys})
        return ModelChanges(generation=now, reload=False, models=models)

    def is_empty(self) -> bool:
        """True when the store holds no unit and no model (a new store, before seeding)."""
        with self._read() as conn:
            return (
                conn.execute(sa.select(T.units.c.code).limit(1)).first() is None
                and conn.execute(sa.select(T.models.c.id).limit(1)).first() is None
            )

    def _generation(self, conn: sa.Connection, *, lock: bool = False) -> int:
        q = sa.select(T.store_meta.c.value).where(T.store_meta.c.key == "model_generation")
        if lock:
            q = q.with_for_update()
        return int(conn.execute(q).scalar_one())

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

    # ------------------------------------------------------------------------------------------
    # backup

    def export_backup(self, path: str | os.PathLike[str], *, user: User | None = None) -> Path:
        """Write units, models, roads and buildings and the audit log to a GeoPackage at ``path``
        (atomically). Admin only.
        """
        from ._backup import write_backup

        actor = self._actor(user)
        self._require_admin(actor, "export a backup")
        with self._read() as conn:
            # One read transaction: a consistent snapshot on both backends.
            if self.backend == "postgresql":
                conn.execute(sa.text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
            unit_rows = conn.execute(sa.select(T.units).order_by(T.units.c.code)).all()
            model_rows = conn.execute(self._model_select().order_by(T.models.c.id)).all()
            audit_rows = conn.execute(sa.select(T.audit_log).order_by(T.audit_log.c.id)).all()
            cf = T.context_features
            context_rows = conn.execute(sa.select(cf).order_by(cf.c.layer, cf.c.unit_code, cf.c.feature_id)).all()
            rev = MigrationContext.configure(conn).get_current_revision()
        return write_backup(
            Path(path), units=unit_rows, models=model_rows, audit=audit_rows, revision=rev, context=context_rows
        )

    def restore_backup(self, path: str | os.PathLike[str], *, user: User | None = None) -> dict[str, int]:
        """Replace units, models, roads and buildings and the audit log by those of a backup, in one
        transaction.

        Accounts are kept. Admin only. Returns the number of units, models and audit entries.
        """
        from ._backup import read_backup

        actor = self._actor(user)
        self._require_admin(actor, "restore a backup")
        b = read_backup(Path(path))
        problems: list[Problem] = []
        for i, u in enumerate(b.units, start=1):
            if not u.get("code") or u.get("level") not in UNIT_LEVELS:
                problems.append(
                    Problem(f"{path} (units)", i, "level", u.get("level"), f"unit {u.get('code')!r}: bad code or level")
                )
        for i, m in enumerate(b.models, start=1):
            rec = {c: m.get(c) for c in MODEL_COLUMNS}
            rec["direction_deg"] = tuple(m.get("direction_deg") or ())
            rec["geometry"] = None if m.get("geom") is None else shapely.from_wkb(m["geom"])
            problems.extend(
                Problem(f"{path} (models)", i, f, v, f"model {m.get('id')!r}: {r}")
                for f, v, r in check_record(rec, self._specs)
            )
        if problems:
            raise ValidationError(problems)
        with self._write() as conn:
            conn.execute(T.audit_log.delete())
            conn.execute(T.models.delete())
            conn.execute(T.context_features.delete())
            conn.execute(T.units.delete())
            for table, rows in (
                (T.units, b.units),
                (T.models, b.models),
                (T.audit_log, b.audit),
                (T.context_features, b.context),
            ):
                for i in range(0, len(rows), _CHUNK):
                    conn.execute(table.insert(), rows[i : i + _CHUNK])
            if self.backend == "postgresql" and b.audit:
                conn.execute(
                    sa.text("SELECT setval(pg_get_serial_sequence('audit_log', 'id'), (SELECT max(id) FROM audit_log))")
                )
            counts = {"units": len(b.units), "models": len(b.models), "audit": len(b.audit)}
            self._models_changed(conn, None)
            self._audit(conn, actor, "restore", detail={"file": Path(path).name, **counts})
        return counts


# ----------------------------------------------------------------------------------------------
# helpers


def _metres_to_degrees(metres: float, *, lat: float) -> tuple[float, float]:
    """(degrees of longitude, degrees of latitude) spanning at least ``metres`` at latitude ``lat``."""
    dlat = metres / 110_574.0
    dlon = metres / (111_320.0 * max(math.cos(math.radians(min(abs(lat), 89.0))), 1e-6))
    return dlon, dlat


def _id_taken(model_id: str) -> str:
    """The one message for a new model whose id is taken, whoever's model holds it: ids are
    unique across units, so a create reveals that an id is in use, but never where or whose.
    """
    return (
        f"the id {model_id!r} is already in use (ids are unique across all units): "
        "choose another id, or leave it out and one is generated"
    )


def _is_lock_error(exc: sa.exc.OperationalError) -> bool:
    """True for "the database is locked/busy" (SQLite) or a lock timeout (PostgreSQL)."""
    orig = exc.orig
    if getattr(orig, "sqlstate", None) in ("55P03", "40P01"):  # lock_not_available, deadlock_detected
        return True
    text = str(orig).lower()
    return "database is locked" in text or "database is busy" in text or "database table is locked" in text


def _aware(t: _dt.datetime) -> _dt.datetime:
    """A datetime with a time zone (naive ones are UTC)."""
    if not isinstance(t, _dt.datetime):
        raise TypeError(f"expected a datetime, got {type(t).__name__}")
    return t if t.tzinfo is not None else t.replace(tzinfo=_dt.UTC)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _chunks(seq: Sequence[Any], n: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for i in range(0, len(seq), n):
        yield seq[i : i + n]


def _insert_rows(
    conn: sa.Connection,
    table: sa.Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    written: Callable[[int], Any] | None = None,
) -> None:
    """Insert ``rows`` (dicts with the same keys: column values as ``table.insert()`` takes
    them) in the caller's transaction; ``written(n)`` after every ``n`` rows sent.

    SQLite: ``executemany`` in batches of ``_CHUNK``. PostgreSQL: one ``COPY ... FROM STDIN``
    (psycopg 3) on the connection of the transaction, each value through its column's bind
    processor (what ``executemany`` would send) and geometries as hex EWKB with SRID 4326 (what
    ``ST_GeomFromWKB(wkb, 4326)`` makes of the WKB), so both paths store the same values.
    """
    if not rows:
        return
    if conn.dialect.name != "postgresql":
        for part in _chunks(rows):
            conn.execute(table.insert(), part)
            if written is not None:
                written(len(part))
        return
    names = list(rows[0])
    columns: list[Sequence[Any]] = []
    for n in names:
        col = table.c[n]
        values = [r[n] for r in rows]
        if isinstance(col.type, Geometry):
            columns.append(_ewkb_hex(values))
            continue
        proc = col.type._cached_bind_processor(conn.dialect)
        columns.append(values if proc is None else [proc(v) for v in values])  # None too: JSON null
    prep = conn.dialect.identifier_preparer
    sql = f"COPY {prep.format_table(table)} ({', '.join(prep.quote(n) for n in names)}) FROM STDIN"
    pg = conn.connection.driver_connection  # the psycopg connection of this transaction
    assert pg is not None  # a live connection
    try:
        with pg.cursor() as cur, cur.copy(sql) as copy:
            for i in range(0, len(rows), _CHUNK):
                for row in zip(*(c[i : i + _CHUNK] for c in columns)):
                    copy.write_row(row)
                if written is not None:
                    written(min(_CHUNK, len(rows) - i))
    except conn.dialect.loaded_dbapi.Error as exc:  # the exception executemany would raise
        raise sa.exc.DBAPIError.instance(sql, None, exc, conn.dialect.loaded_dbapi.Error) from exc


def _ewkb_hex(wkbs: Sequence[Any]) -> list[str | None]:
    """Hex EWKB with SRID 4326 of WKB geometries (the text form of a geometry PostGIS reads in
    ``COPY``: the same geometry as ``ST_GeomFromWKB(wkb, 4326)``).
    """
    out: list[str | None] = [None] * len(wkbs)
    at = [i for i, w in enumerate(wkbs) if w is not None]
    if at:
        geoms = shapely.set_srid(shapely.from_wkb(np.array([bytes(wkbs[i]) for i in at], dtype=object)), SRID)
        for i, h in zip(at, shapely.to_wkb(geoms, hex=True, include_srid=True)):
            out[i] = str(h)
    return out


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
    cols = list(MODEL_COLUMNS) + list(Store._META)
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


def _check_units_frame(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise TypeError(f"'units_gdf' should be a GeoDataFrame, got {type(gdf).__name__}")
    if gdf.crs is None:
        raise GeoAnttError("units have no CRS; say which one they are in (e.g. EPSG:4326)")
    if not gdf.crs.equals("EPSG:4326"):
        gdf = gdf.to_crs("EPSG:4326")
    if "code" not in gdf.columns:
        gdf = gdf.assign(code=gdf.index)
    gdf = gdf.set_index(pd.Index(gdf["code"].astype(str), name="code"))
    problems = []
    for col in ("name", "level"):
        if col not in gdf.columns:
            problems.append(Problem("units", None, col, None, "missing column"))
    if problems:
        raise ValidationError(problems)
    for i, (code, r) in enumerate(gdf.iterrows(), start=1):
        if _isna(code) or not str(code).strip():
            problems.append(Problem("units", i, "code", code, "missing code"))
        if r["level"] not in UNIT_LEVELS:
            problems.append(Problem("units", i, "level", r["level"], f"level must be one of {', '.join(UNIT_LEVELS)}"))
        if _isna(r["name"]):
            problems.append(Problem("units", i, "name", None, "missing name"))
    dup = gdf.index[gdf.index.duplicated()].unique()
    for code in dup:
        problems.append(Problem("units", None, "code", code, "duplicate code"))
    if problems:
        raise ValidationError(problems)
    return gdf
