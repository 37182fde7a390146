"""The store's imports: :meth:`ImportingMixin.preview_import` compares a models frame with the
store without writing; :meth:`ImportingMixin.commit_import` applies a preview all or nothing.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
import sqlalchemy as sa

from .._errors import ConflictError, GeoAnttError, NotFoundError, PermissionDeniedError, Problem, ValidationError
from ..i18n import msg
from ..schema import MODEL_COLUMNS
from . import _tables as T
from ._accounts import AccountsMixin
from ._base import _CHUNK, SYSTEM_USER, User, _chunks, _id_taken, _isna, _now
from ._coverage_cache import CoverageCacheMixin
from ._import import ImportPreview
from ._records import check_record, normalize_record, record_diff, round_geometries, to_json_record
from ._rows import json_records, model_values
from ._types import SRID, Geometry

__all__ = ["ImportingMixin", "IMPORT_PAUSE_ENV_VAR"]

# Test hook: when set to a file path, commit_import writes that file after half of the rows and
# sleeps (up to 60 s) inside the open transaction, so a test can kill the process mid-import.
IMPORT_PAUSE_ENV_VAR = "GEO_ANTT_TEST_IMPORT_PAUSE_FILE"
_PREVIEW_USER = object()  # commit_import: "the account that made the preview"


class ImportingMixin(CoverageCacheMixin, AccountsMixin):
    """Previewing and committing imports."""

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
            new_rows = model_values(preview.new, versions=[1] * len(preview.new), now=now, who=actor.name, created=True)
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
            for r, new_json in zip(preview.new, json_records(preview.new)) if audit_each else ():
                audit_rows.append(
                    {
                        "at": now,
                        "user_name": actor.name,
                        "action": "import",
                        "model_id": r["id"],
                        "unit_code": r["unit_code"],
                        "old": None,
                        "new": new_json,
                        "detail": {"source": preview.source, "version": 1},
                    }
                )
            if preview.updates:
                upd_ids = list(preview.updates)
                upd_rows = model_values(
                    [preview.update_records[mid] for mid in upd_ids],
                    versions=[preview.base_versions[mid] + 1 for mid in upd_ids],
                    now=now,
                    who=actor.name,
                    created=False,
                )
                for mid in upd_ids if audit_each else ():
                    diff = preview.updates[mid]
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
                _update_rows(conn, T.models, upd_ids, upd_rows, written=written)
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
    prep = conn.dialect.identifier_preparer
    sql = f"COPY {prep.format_table(table)} ({', '.join(prep.quote(n) for n in names)}) FROM STDIN"
    _copy(conn, sql, _copy_columns(conn, table, names, rows), len(rows), written)


def _update_rows(
    conn: sa.Connection,
    table: sa.Table,
    ids: Sequence[Any],
    rows: Sequence[Mapping[str, Any]],
    *,
    written: Callable[[int], Any] | None = None,
) -> None:
    """Set the columns of ``rows[i]`` (dicts with the same keys: values as ``table.update()``
    takes them) on the row of ``table`` whose primary key is ``ids[i]`` (unique), in the
    caller's transaction; ``written(n)`` after every ``n`` rows sent.

    SQLite: ``executemany`` of one ``UPDATE ... WHERE id = ?`` in batches of ``_CHUNK``
    (:func:`_update_rows_executemany`). PostgreSQL: the values go by one ``COPY`` (converted as
    :func:`_insert_rows` converts them, so both paths store the same values) into a temporary
    table of the same column types, dropped at commit, and one ``UPDATE ... FROM`` it sets them;
    the last ``written`` comes after that ``UPDATE``.
    """
    if not rows:
        return
    if conn.dialect.name != "postgresql":
        _update_rows_executemany(conn, table, ids, rows, written=written)
        return
    (key,) = table.primary_key.columns
    names = list(rows[0])
    prep = conn.dialect.identifier_preparer
    tmp = prep.quote(f"_geo_antt_update_{table.name}")
    cols = [prep.quote(c) for c in [key.name, *names]]
    conn.execute(
        sa.text(
            f"CREATE TEMP TABLE {tmp} ON COMMIT DROP AS SELECT {', '.join(cols)}"
            f" FROM {prep.format_table(table)} WITH NO DATA"
        )
    )
    key_proc = key.type._cached_bind_processor(conn.dialect)
    columns = [list(ids) if key_proc is None else [key_proc(v) for v in ids], *_copy_columns(conn, table, names, rows)]
    sent = 0

    def copied(n: int) -> None:  # the last batch counts once the UPDATE has run
        nonlocal sent
        sent += n
        if written is not None and sent < len(rows):
            written(n)

    _copy(conn, f"COPY {tmp} ({', '.join(cols)}) FROM STDIN", columns, len(rows), copied)
    conn.execute(sa.text(f"ANALYZE {tmp}"))  # row count and key statistics for the join's plan
    k = prep.quote(key.name)
    conn.execute(
        sa.text(
            f"UPDATE {prep.format_table(table)} AS t SET {', '.join(f'{c} = u.{c}' for c in cols[1:])}"
            f" FROM {tmp} AS u WHERE t.{k} = u.{k}"
        )
    )
    if written is not None:
        written(len(rows) - (len(rows) - 1) // _CHUNK * _CHUNK)


def _update_rows_executemany(
    conn: sa.Connection,
    table: sa.Table,
    ids: Sequence[Any],
    rows: Sequence[Mapping[str, Any]],
    *,
    written: Callable[[int], Any] | None = None,
) -> None:
    """:func:`_update_rows` as SQLite runs it (and PostgreSQL did before ``COPY``):
    ``executemany`` of ``UPDATE ... WHERE <primary key> = :_id`` in batches of ``_CHUNK``.
    """
    if not rows:
        return
    (key,) = table.primary_key.columns
    stmt = table.update().where(key == sa.bindparam("_id")).values({c: sa.bindparam(c) for c in rows[0]})
    for i in range(0, len(rows), _CHUNK):
        part = [{**r, "_id": mid} for mid, r in zip(ids[i : i + _CHUNK], rows[i : i + _CHUNK])]
        conn.execute(stmt, part)
        if written is not None:
            written(len(part))


def _copy_columns(
    conn: sa.Connection, table: sa.Table, names: Sequence[str], rows: Sequence[Mapping[str, Any]]
) -> list[Sequence[Any]]:
    """The values of ``rows`` as ``COPY`` takes them, column by column: each through its
    column's bind processor (what ``executemany`` sends), geometries as hex EWKB (SRID 4326).
    """
    columns: list[Sequence[Any]] = []
    for n in names:
        col = table.c[n]
        values = [r[n] for r in rows]
        if isinstance(col.type, Geometry):
            columns.append(_ewkb_hex(values))
            continue
        proc = col.type._cached_bind_processor(conn.dialect)
        columns.append(values if proc is None else [proc(v) for v in values])  # None too: JSON null
    return columns


def _copy(
    conn: sa.Connection, sql: str, columns: Sequence[Sequence[Any]], n: int, written: Callable[[int], Any] | None
) -> None:
    """Run ``COPY ... FROM STDIN`` (``sql``) with the ``n`` rows of ``columns`` on the psycopg
    connection of the caller's transaction; ``written(k)`` after every ``k`` rows sent.
    """
    pg = conn.connection.driver_connection  # the psycopg connection of this transaction
    assert pg is not None  # a live connection
    try:
        with pg.cursor() as cur, cur.copy(sql) as copy:
            for i in range(0, n, _CHUNK):
                for row in zip(*(c[i : i + _CHUNK] for c in columns)):
                    copy.write_row(row)
                if written is not None:
                    written(min(_CHUNK, n - i))
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
