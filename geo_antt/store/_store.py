"""The store: units, models, users, tokens and the audit log in SQLite or PostgreSQL + PostGIS.

:class:`Store` is the only stateful class of geo-antt. Every public method runs in one database
transaction; every change to a model is checked against the caller's role and unit scope and
written to the audit log with the old and new values.

The class is composed of one mixin per concern, each in its own module: ``_scope`` (unit tree,
scope and role checks), ``_audit`` (audit log), ``_accounts`` (users, tokens, web sessions),
``_coverage_cache`` (coverage figures, model generation), ``_models`` (model reading, writing,
changes), ``_units`` (units) and ``_importing`` (import preview and commit); ``_base`` holds what
they share. This module opens the store (engine, schema, transactions) and makes backups.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import shapely
import sqlalchemy as sa
from alembic import command as _alembic_command
from alembic.config import Config as _AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError as _AlembicCommandError
from argon2 import PasswordHasher

from .._errors import BusyError, GeoAnttError, Problem, ValidationError
from ..config import DEFAULT_DATA_DIR, state_dir
from ..layers import load_layer_specs
from ..schema import MODEL_COLUMNS, UNIT_LEVELS
from . import _context
from . import _tables as T
from ._accounts import AccountsMixin
from ._audit import AuditMixin
from ._base import _CHUNK, SYSTEM_USER, StoreBase, User
from ._coverage_cache import CoverageCacheMixin
from ._importing import IMPORT_PAUSE_ENV_VAR, ImportingMixin
from ._models import ModelChanges, ModelsMixin
from ._records import check_record
from ._scope import ScopeMixin
from ._units import UnitsMixin

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

DB_ENV_VAR = "GEO_ANTT_DB"
DEFAULT_DB_NAME = "geo-antt.sqlite"
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_TOUCH_WAIT_MS = 100
_BUSY_TIMEOUT_MS = 30_000  # how long a write waits for another writer before BusyError (SQLite)  # ... and only if the write lock is free within this many milliseconds
_PG_LOCK_KEY = 7_470_011  # advisory lock serialising concurrent migrations on PostgreSQL


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


class Store(
    ImportingMixin,
    ModelsMixin,
    UnitsMixin,
    CoverageCacheMixin,
    AccountsMixin,
    AuditMixin,
    ScopeMixin,
    StoreBase,
):
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


def _is_lock_error(exc: sa.exc.OperationalError) -> bool:
    """True for "the database is locked/busy" (SQLite) or a lock timeout (PostgreSQL)."""
    orig = exc.orig
    if getattr(orig, "sqlstate", None) in ("55P03", "40P01"):  # lock_not_available, deadlock_detected
        return True
    text = str(orig).lower()
    return "database is locked" in text or "database is busy" in text or "database table is locked" in text
