"""The import commit on PostgreSQL writes its rows with COPY: the same rows, geometries,
versions, audit entries and generation as the row-by-row path (and as SQLite), all or nothing.
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
