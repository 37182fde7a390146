"""The import commit on PostgreSQL writes its rows with COPY (new models; updates by COPY into a
temporary table and one UPDATE ... FROM it): the same rows, geometries, versions, audit entries
and generation as the row-by-row path (and as SQLite), all or nothing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
import sqlalchemy as sa

from geo_antt import ConflictError
from geo_antt.store import Store
from geo_antt.store import _importing as store_module
from tests.storehelp import CHEAP_HASHER, model_record, seed

N = 3000  # several batches of 500
FIXED_NOW = dt.datetime(2026, 3, 1, 8, 30, 15, 123456, tzinfo=dt.UTC)


def _new_database(server: dict[str, Any]) -> str:
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server["dsn"] + " dbname=postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name} TEMPLATE geo_tpl")
    return f"postgresql://geo@127.0.0.1:{server['port']}/{name}"


def _frame() -> gpd.GeoDataFrame:
    """N new cameras and lights of hamlet A1 (varied values, some missing) and an update of a1."""
    rng = np.random.default_rng(20)
    recs = []
    for i in range(N):
        x, y = 106.0 + rng.uniform(0.0005, 0.0995), 10.0 + rng.uniform(0.0005, 0.0995)
        if i % 3 == 0:
            rec = model_record(f"n{i:05d}", "A1", x, y, kind="lighting", name=f"Đèn {i}", direction_deg=())
            rec.pop("fov_deg")
            rec.pop("range_m")
            rec["radius_m"] = 15.0
        else:
            rec = model_record(
                f"n{i:05d}",
                "A1",
                x,
                y,
                direction_deg=tuple(float(d) for d in rng.uniform(0, 360, 1 + i % 2).round(1)),
                fov_deg=round(float(rng.uniform(30, 120)), 2),
                name=None if i % 7 == 0 else f"Camera «{i}» ngõ {i % 13}",
                owner="Công an xã" if i % 5 == 0 else None,
                notes="ghi chú\tcó tab\nvà xuống dòng \\ gạch" if i % 11 == 0 else None,
            )
        recs.append(rec)
    recs.append(model_record("a1", "A1", 106.051, 10.052, range_m=30.0))
    geoms = [r.pop("geometry") for r in recs]
    gdf = gpd.GeoDataFrame(recs, geometry=geoms, crs="EPSG:4326")
    return gdf.set_index(pd.Index(gdf["id"], name="id"))


def _import(url: str, *, audit_each: bool = True) -> dict[str, int]:
    with Store.open(url, password_hasher=CHEAP_HASHER) as s:
        seed(s)
        preview = s.preview_import(_frame(), user=None, unit_code="A")
        assert not preview.rejected
        return s.commit_import(preview, user=None, audit_each=audit_each)


def _pg_tables(url: str) -> dict[str, list[Any]]:
    """Every row of the tables an import writes, as PostgreSQL's own text of them."""
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as conn:
            return {
                "models": conn.execute(
                    sa.text(
                        "SELECT (to_jsonb(m) - 'geom')::text, encode(ST_AsEWKB(geom), 'hex'), ST_SRID(geom)"
                        " FROM models m ORDER BY id"
                    )
                ).all(),
                "audit_log": conn.execute(sa.text("SELECT row_to_json(a)::text FROM audit_log a ORDER BY id")).all(),
                "store_meta": conn.execute(sa.text("SELECT key, value FROM store_meta ORDER BY key")).all(),
                "nulls": conn.execute(
                    sa.text(
                        "SELECT count(*) FILTER (WHERE old IS NULL), count(*) FILTER (WHERE old::text = 'null')"
                        " FROM audit_log"
                    )
                ).all(),
            }
    finally:
        engine.dispose()


def _row_by_row(conn: sa.Connection, table: sa.Table, rows: Any, *, written: Any = None) -> None:
    """The insert path before COPY: executemany in batches."""
    for i in range(0, len(rows), 500):
        conn.execute(table.insert(), rows[i : i + 500])
        if written is not None:
            written(len(rows[i : i + 500]))


@pytest.mark.postgis
@pytest.mark.parametrize("audit_each", [True, False])
def test_copy_import_stores_what_row_by_row_inserts_store(postgis_server, tmp_path, monkeypatch, audit_each):
    import geo_antt.store as store_pkg

    for name in ("_accounts", "_audit", "_base", "_coverage_cache", "_importing", "_models"):
        monkeypatch.setattr(getattr(store_pkg, name), "_now", lambda: FIXED_NOW)  # one clock for every row
    copy_url, rows_url = _new_database(postgis_server), _new_database(postgis_server)
    sqlite_url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    sent: list[int] = []
    real_insert = store_module._insert_rows

    def spy(conn, table, rows, *, written=None):
        sent.append(len(rows))
        assert conn.dialect.name == "postgresql"
        real_insert(conn, table, rows, written=written)

    with monkeypatch.context() as m:
        m.setattr(store_module, "_insert_rows", spy)
        counts = _import(copy_url, audit_each=audit_each)
    assert counts == {"new": N, "update": 1, "unchanged": 0, "rejected": 0}
    assert sent == [N, N + 1 if audit_each else 0]  # models, then their audit entries, by COPY
    with monkeypatch.context() as m:
        m.setattr(store_module, "_insert_rows", _row_by_row)
        assert _import(rows_url, audit_each=audit_each) == counts
    assert _import(sqlite_url, audit_each=audit_each) == counts

    got, want = _pg_tables(copy_url), _pg_tables(rows_url)
    assert len(got["models"]) == N + 3
    assert {r[2] for r in got["models"]} == {4326}
    for key in want:
        assert got[key] == want[key], key
    with Store.open(copy_url, password_hasher=CHEAP_HASHER) as pg, Store.open(sqlite_url) as lite:
        a, b = pg.models_frame(), lite.models_frame()
        pd.testing.assert_frame_equal(a.drop(columns="geometry"), b.drop(columns="geometry"))
        assert shapely.to_wkb(a.geometry.values).tolist() == shapely.to_wkb(b.geometry.values).tolist()
        assert (a["version"] == np.where(a.index == "a1", 2, 1)).all()
        assert pg.generation() == lite.generation()
        pd.testing.assert_frame_equal(pg.audit_frame(limit=10 * N), lite.audit_frame(limit=10 * N))
        assert len(pg.audit_frame(limit=10 * N, model_id="n00001")) == (1 if audit_each else 0)


def _state(s: Store) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    f = s.models_frame()
    return f.drop(columns="geometry").assign(wkt=f.geometry.to_wkt()), s.audit_frame(limit=10 * N), s.generation()


def _assert_same_state(a: tuple[pd.DataFrame, pd.DataFrame, int], b: tuple[pd.DataFrame, pd.DataFrame, int]) -> None:
    pd.testing.assert_frame_equal(a[0], b[0])
    pd.testing.assert_frame_equal(a[1], b[1])
    assert a[2] == b[2]


@pytest.mark.postgis
def test_a_row_the_database_refuses_mid_copy_leaves_nothing(postgis_url):
    with Store.open(postgis_url, password_hasher=CHEAP_HASHER) as s:
        seed(s)
        before = _state(s)
        preview = s.preview_import(_frame(), user=None, unit_code="A")
        bad = {**preview.new[-1], "id": "zz-bad", "kind": "x" * 100}  # longer than kind's 64 characters
        broken = dataclasses.replace(preview, new=(*preview.new, bad))
        with pytest.raises(sa.exc.DataError):
            s.commit_import(broken, user=None)
        _assert_same_state(_state(s), before)
        assert s.commit_import(preview, user=None)["new"] == N  # the store is usable afterwards
        assert len(s.models_frame()) == N + 3


def test_a_failure_after_half_of_the_rows_leaves_nothing(store_url):
    with Store.open(store_url, password_hasher=CHEAP_HASHER) as s:
        seed(s)
        before = _state(s)
        preview = s.preview_import(_frame(), user=None, unit_code="A")
        seen: list[int] = []

        def progress(done: int, total: int) -> None:
            seen.append(done)
            if done >= total // 2:
                raise KeyboardInterrupt  # the operator gives up halfway

        with pytest.raises(KeyboardInterrupt):
            s.commit_import(preview, user=None, progress=progress)
        assert seen == list(range(500, N // 2 + 1, 500))  # reported batch by batch, as before
        _assert_same_state(_state(s), before)


# ----------------------------------------------------------------------------------------------
# updates: COPY into a temporary table, then one UPDATE ... FROM it


def _changed_frame(*, version: int) -> gpd.GeoDataFrame:
    """The models of ``_frame`` re-imported with new values (hard text for COPY, missing values,
    several directions, moved or reshaped geometries; a tenth unchanged) and a few new ones.
    """
    base = _frame()
    recs = []
    for mid, row in base.iterrows():
        rec = {k: row[k] for k in base.columns if k != "geometry"}
        rec["geometry"] = row.geometry
        i = int(mid[1:]) if mid.startswith("n") else 0
        camera = rec["kind"] == "camera"
        if i % 10 == 9:
            recs.append(rec)  # unchanged
            continue
        x, y = row.geometry.x, row.geometry.y
        if i % 4 == 0:
            rec["name"] = f"Cam \"{i}\"\t{version}\\N \\ 'q' \\.\nline\r2 ; ,|"
            rec["notes"] = "\\N"  # COPY's null marker, as text
        elif i % 4 == 1:
            rec["name"] = None
            rec["owner"] = f"Chủ\t{version} \\x41"
            rec["notes"] = None
        elif i % 4 == 2 and camera:
            rec["direction_deg"] = (0.0, 359.9, 120.5 + version)
            rec["fov_deg"] = 33.33 + version
        elif i % 4 == 2:
            rec["radius_m"] = 12.5 + version
            rec["status"] = "inactive"
        elif i % 8 == 3:
            rec["geometry"] = shapely.Point(x + 1e-4 * version, y - 2e-7)
        else:
            rec["geometry"] = shapely.LineString([(x, y), (min(x + 3e-4, 106.0999), y + 1e-4 * version)])
        recs.append(rec)
    for j in range(3):
        recs.append(model_record(f"v{version}-{j}", "A1", 106.02 + j * 0.001, 10.02, name=f"Mới\t{j}"))
    geoms = [r.pop("geometry") for r in recs]
    gdf = gpd.GeoDataFrame(recs, geometry=geoms, crs="EPSG:4326")
    return gdf.set_index(pd.Index(gdf["id"], name="id"))


N_UPDATED = sum(1 for i in range(N) if i % 10 != 9) + 1  # and a1


def _import_updates(url: str, *, audit_each: bool = True) -> list[dict[str, int]]:
    """``_import``, then two imports of changed values (the second one on the pooled connection
    of the first: the temporary table went at commit).
    """
    out = [_import(url, audit_each=audit_each)]
    with Store.open(url, password_hasher=CHEAP_HASHER) as s:
        for version in (2, 3):
            preview = s.preview_import(_changed_frame(version=version), user=None, unit_code="A")
            assert not preview.rejected
            out.append(s.commit_import(preview, user=None, audit_each=audit_each))
    return out


@pytest.mark.postgis
@pytest.mark.parametrize("audit_each", [True, False])
def test_copy_updates_store_what_executemany_updates_store(postgis_server, tmp_path, monkeypatch, audit_each):
    import geo_antt.store as store_pkg

    for name in ("_accounts", "_audit", "_base", "_coverage_cache", "_importing", "_models"):
        monkeypatch.setattr(getattr(store_pkg, name), "_now", lambda: FIXED_NOW)
    copy_url, rows_url = _new_database(postgis_server), _new_database(postgis_server)
    sqlite_url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    sent: list[int] = []
    real_update = store_module._update_rows

    def spy(conn, table, ids, rows, *, written=None):
        sent.append(len(rows))
        assert conn.dialect.name == "postgresql"
        real_update(conn, table, ids, rows, written=written)

    with monkeypatch.context() as m:
        m.setattr(store_module, "_update_rows", spy)
        counts = _import_updates(copy_url, audit_each=audit_each)
    assert counts[1:] == [{"new": 3, "update": N_UPDATED, "unchanged": N + 1 - N_UPDATED, "rejected": 0}] * 2
    assert sent == [1, N_UPDATED, N_UPDATED]  # a1 in the first import, then by COPY
    with monkeypatch.context() as m:  # the path before COPY updates
        m.setattr(store_module, "_update_rows", store_module._update_rows_executemany)
        m.setattr(store_module, "_insert_rows", _row_by_row)
        assert _import_updates(rows_url, audit_each=audit_each) == counts
    assert _import_updates(sqlite_url, audit_each=audit_each) == counts

    got, want = _pg_tables(copy_url), _pg_tables(rows_url)
    assert len(got["models"]) == N + 9
    for key in want:
        assert got[key] == want[key], key
    with Store.open(copy_url, password_hasher=CHEAP_HASHER) as pg, Store.open(sqlite_url) as lite:
        a, b = pg.models_frame(), lite.models_frame()
        pd.testing.assert_frame_equal(a.drop(columns="geometry"), b.drop(columns="geometry"))
        assert shapely.to_wkb(a.geometry.values).tolist() == shapely.to_wkb(b.geometry.values).tolist()
        assert a.loc["n00000", "name"] == "Cam \"0\"\t3\\N \\ 'q' \\.\nline\r2 ; ,|"
        assert a.loc["n00000", "notes"] == "\\N" and a.loc["n00001", "owner"] == "Chủ\t3 \\x41"
        assert a.loc["n00002", "direction_deg"] == (0.0, 359.9, 123.5)
        assert a.loc["n00007", "geometry"].geom_type == "LineString"
        assert pd.isna(a.loc["n00001", "name"])
        assert a.loc["n00009", "version"] == 1 and a.loc["n00008", "version"] == 3
        assert pg.generation() == lite.generation()
        pd.testing.assert_frame_equal(pg.audit_frame(limit=10 * N), lite.audit_frame(limit=10 * N))
        assert len(pg.audit_frame(limit=10 * N, model_id="n00001")) == (3 if audit_each else 0)
        with pg._engine.connect() as conn:  # the temporary tables went with their transactions
            assert not conn.execute(sa.text("SELECT count(*) FROM pg_class WHERE relname LIKE '_geo_antt%'")).scalar()


def _updates_preview(s: Store) -> Any:
    s.commit_import(s.preview_import(_frame(), user=None, unit_code="A"), user=None)
    preview = s.preview_import(_changed_frame(version=2), user=None, unit_code="A")
    assert len(preview.updates) == N_UPDATED and len(preview.new) == 3
    return preview


@pytest.mark.postgis
def test_an_update_the_database_refuses_mid_copy_leaves_nothing(postgis_url):
    with Store.open(postgis_url, password_hasher=CHEAP_HASHER) as s:
        seed(s)
        preview = _updates_preview(s)
        before = _state(s)
        last = list(preview.updates)[-1]
        records = {**preview.update_records, last: {**preview.update_records[last], "kind": "x" * 100}}
        with pytest.raises(sa.exc.DataError):  # after the new rows and most updates went
            s.commit_import(dataclasses.replace(preview, update_records=records), user=None)
        _assert_same_state(_state(s), before)
        assert s.commit_import(preview, user=None)["update"] == N_UPDATED  # usable afterwards
        assert s.get_model("n00000")["version"] == 2


def test_an_update_changed_since_the_preview_leaves_nothing(store_url):
    with Store.open(store_url, password_hasher=CHEAP_HASHER) as s:
        seed(s)
        preview = _updates_preview(s)
        last = list(preview.updates)[-1]
        s.update_model(last, {"owner": "người khác"}, expected_version=preview.base_versions[last], user=None)
        before = _state(s)
        with pytest.raises(ConflictError):
            s.commit_import(preview, user=None)
        _assert_same_state(_state(s), before)


def test_a_failure_after_half_of_the_updates_leaves_nothing(store_url):
    with Store.open(store_url, password_hasher=CHEAP_HASHER) as s:
        seed(s)
        preview = _updates_preview(s)
        before = _state(s)
        seen: list[int] = []
        total = 3 + N_UPDATED

        def progress(done: int, total: int) -> None:
            seen.append(done)
            if done >= total * 3 // 4:
                raise KeyboardInterrupt  # the operator gives up when three quarters went

        with pytest.raises(KeyboardInterrupt):
            s.commit_import(preview, user=None, progress=progress)
        assert seen == [3, *range(503, total * 3 // 4 + 500, 500)]  # new rows, then batch by batch
        _assert_same_state(_state(s), before)
        counts = s.commit_import(preview, user=None, progress=lambda d, t: seen.append(d))
        assert counts["update"] == N_UPDATED and seen[-1] == total
