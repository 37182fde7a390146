"""The store's models: reading (frames, one model), writing (create, update, retire: versioned,
scope-checked, audited) and following changes (generation, changes_since).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import sqlalchemy as sa

from .._errors import ConflictError, GeoAnttError, PermissionDeniedError, Problem, ValidationError
from ..schema import MODEL_COLUMNS
from . import _tables as T
from ._audit import AuditMixin
from ._base import User, _db_values, _id_taken, _models_frame_from_columns, _now
from ._coverage_cache import CoverageCacheMixin
from ._records import check_record, normalize_record, record_diff, to_json_record

__all__ = ["ModelsMixin", "ModelChanges"]


@dataclass(frozen=True)
class ModelChanges:
    """What :meth:`Store.changes_since` returns: the store's ``generation`` now, whether the
    reader must ``reload`` everything, and the changed ``models`` (a models frame).
    """

    generation: int
    reload: bool
    models: gpd.GeoDataFrame = field(repr=False)


class ModelsMixin(CoverageCacheMixin, AuditMixin):
    """Reading and writing models, and what changed since a generation."""

    # ------------------------------------------------------------------------------------------
    # models: reading

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

    def check_model(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """``record`` as :meth:`create_model` would store it (normalised and checked by the same
        path: types, codes, the kind's parameter bounds, text lengths), without writing anything
        or needing an account: for previews. A missing id becomes ``"preview"``.

        Raises
        ------
        ValidationError
            Every problem of the record, as :meth:`create_model` raises them.
        """
        rec = normalize_record(record)
        if rec["id"] is None:
            rec["id"] = "preview"
        self._validate(rec, what=f"model {rec['id']}")
        return rec

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
    # models: changes

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
