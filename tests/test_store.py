"""The store on both backends (SQLite file, PostgreSQL + PostGIS): models, scope, versions,
audit, import, backup.
"""

from __future__ import annotations

import datetime as dt
import os
import pickle
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
import sqlalchemy as sa

from geo_antt import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from geo_antt.config import DEFAULT_SETTINGS
from geo_antt.store import IMPORT_PAUSE_ENV_VAR, Store, resolve_db_url
from tests.storehelp import CHEAP_HASHER, PASSWORD, model_record, seed, units_frame

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def store(store_url: str):
    s = Store.open(store_url, password_hasher=CHEAP_HASHER)
    yield s
    s.close()


@pytest.fixture
def users(store: Store):
    return seed(store)


def _frame(records: list[dict]) -> gpd.GeoDataFrame:
    geoms = [r.pop("geometry") for r in records]
    gdf = gpd.GeoDataFrame(records, geometry=geoms, crs="EPSG:4326")
    return gdf.set_index(pd.Index(gdf["id"], name="id"))


def _snapshot(store: Store) -> tuple[pd.DataFrame, int]:
    f = store.models_frame()
    return f.drop(columns="geometry").assign(wkt=f.geometry.to_wkt()), len(store.audit_frame(limit=100000))


# ----------------------------------------------------------------------------------------------
# opening


def test_open_default_creates_sqlite_file_in_wal_mode(tmp_path, monkeypatch):
    monkeypatch.delenv("GEO_ANTT_DB", raising=False)
    with Store.open(data_dir=tmp_path, password_hasher=CHEAP_HASHER) as s:
        assert s.backend == "sqlite"
        assert s.revision() == s.head_revision() is not None
    db = tmp_path / "geo-antt.sqlite"
    assert db.is_file()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"units", "models", "audit_log", "users", "user_units", "api_tokens", "alembic_version"} <= tables


def test_resolve_db_url(tmp_path, monkeypatch):
    monkeypatch.setenv("GEO_ANTT_DB", "postgresql://u@127.0.0.1:5/db")
    assert resolve_db_url().startswith("postgresql+psycopg://u@127.0.0.1:5/db")
    assert resolve_db_url(str(tmp_path / "x.sqlite")) == f"sqlite:///{tmp_path / 'x.sqlite'}"
    monkeypatch.delenv("GEO_ANTT_DB")
    assert resolve_db_url(data_dir=tmp_path) == f"sqlite:///{tmp_path / 'geo-antt.sqlite'}"


# ----------------------------------------------------------------------------------------------
# models


def test_create_read_roundtrip(store, users):
    rec = model_record(
        "c9",
        "A1",
        106.0123456789,
        10.0234567891,
        direction_deg=(45.0, 360.0),
        camera_type="PTZ",
        owner="Nhà ông Tư",
        data_sharing=True,
        start_date="2024-05-01",
        field="crime_prevention",
        host="residential",
        notes="cổng chợ",
    )
    out = store.create_model(rec, user=users["officer"])
    assert out["version"] == 1 and out["created_by"] == "can_bo_a"
    got = store.get_model("c9", user=users["officer"])
    assert got["direction_deg"] == (45.0, 0.0)  # degrees normalised to [0, 360)
    assert got["camera_type"] == "ptz" and got["data_sharing"] is True and got["owner"] == "Nhà ông Tư"
    assert got["geometry"].equals_exact(shapely.Point(106.0123457, 10.0234568), 1e-12)  # 7 decimals
    f = store.models_frame(user=users["admin"])
    assert f.crs.to_epsg() == 4326 and f.index.name == "id"
    assert set(f.index) == {"a1", "a2", "b1", "c9"}
    assert np.isnan(f.loc["a2", "fov_deg"]) and f.loc["a2", "radius_m"] == 15.0
    assert f.loc["b1", "direction_deg"] == (0.0, 180.0)
    assert f.loc["c9", "version"] == 1


def test_invalid_record_lists_every_problem(store, users):
    bad = model_record("x", "A1", 106.05, 10.05, kind="ufo", fov_deg=400.0, status="broken")
    with pytest.raises(ValidationError) as ei:
        store.create_model(bad, user=users["admin"])
    assert {p.field for p in ei.value.problems} == {"kind", "fov_deg", "status"}
    assert store.models_frame().index.tolist() == ["a1", "a2", "b1"]


def test_create_duplicate_id_conflicts(store, users):
    with pytest.raises(ConflictError):
        store.create_model(model_record("a1", "A1", 106.05, 10.05), user=users["admin"])


# role x operation x inside/outside the account's area
MATRIX = [
    ("admin", "read", "a1", None),
    ("admin", "read", "b1", None),
    ("admin", "update", "a1", None),
    ("admin", "update", "b1", None),
    ("officer", "read", "a1", None),
    ("officer", "read", "b1", NotFoundError),
    ("officer", "update", "a1", None),
    ("officer", "update", "b1", NotFoundError),
    ("viewer", "read", "a1", None),
    ("viewer", "read", "b1", NotFoundError),
    ("viewer", "update", "a1", PermissionDeniedError),
    ("viewer", "update", "b1", PermissionDeniedError),
]


@pytest.mark.parametrize(("role", "op", "model_id", "error"), MATRIX, ids=[f"{r}-{o}-{m}" for r, o, m, _ in MATRIX])
def test_role_matrix(store, users, role, op, model_id, error):
    user = users[role]
    before = store.get_model(model_id)

    def act():
        if op == "read":
            return store.get_model(model_id, user=user)
        return store.update_model(model_id, {"name": "Tên mới"}, expected_version=before["version"], user=user)

    if error is None:
        out = act()
        assert out["id"] == model_id
        if op == "update":
            assert store.get_model(model_id)["name"] == "Tên mới"
    else:
        with pytest.raises(error):
            act()
        assert store.get_model(model_id)["name"] == before["name"]
        assert store.get_model(model_id)["version"] == before["version"]


def test_lists_are_filtered_to_the_scope(store, users):
    assert set(store.models_frame(user=users["officer"]).index) == {"a1", "a2"}
    assert set(store.models_frame(user=users["viewer"]).index) == {"a1", "a2"}
    assert set(store.models_frame(user=users["officer_b"]).index) == {"b1"}
    # a larger area than the account's: only its units
    assert set(store.models_frame(unit_code="P", user=users["officer"]).index) == {"a1", "a2"}
    assert set(store.models_frame(unit_code="A2", user=users["officer"]).index) == {"a2"}
    with pytest.raises(PermissionDeniedError):
        store.models_frame(unit_code="B", user=users["officer"])
    with pytest.raises(NotFoundError):
        store.models_frame(unit_code="ZZ", user=users["admin"])
    nobody = store.add_user("khong_don_vi", role="viewer", password=PASSWORD, user=None)
    assert len(store.models_frame(user=nobody)) == 0
    assert set(store.models_frame(unit_code="P", user=users["admin"]).index) == {"a1", "a2", "b1"}
    # the audit log is scoped too
    assert set(store.audit_frame(user=users["officer_b"])["model_id"]) == {"b1"}
    # so is the list of unit names (pickers of the import and audit pages)
    assert store.unit_names(user=users["officer"]).index.tolist() == ["A", "A1", "A2"]
    assert store.unit_names(user=users["viewer"]).loc["A1", "name"] == "Ấp 1"
    assert store.unit_names(user=users["admin"]).index.tolist() == ["A", "A1", "A2", "B", "B1", "P"]
    assert store.unit_names(user=nobody).empty


def test_audit_filters(store, users):
    off = users["officer"]
    store.update_model("a1", {"name": "Camera chợ"}, expected_version=1, user=off)
    store.update_model("b1", {"name": "Camera bến"}, expected_version=1, user=users["officer_b"])
    by_off = store.audit_frame(user_name="can_bo_a")
    assert by_off["model_id"].tolist() == ["a1"] and by_off["model_name"].tolist() == ["Camera chợ"]
    assert set(store.audit_frame(unit_code="A", user=users["admin"])["model_id"]) == {"a1", "a2"}
    assert store.audit_frame(unit_code="P", user=off)["model_id"].tolist() == ["a1", "a2", "a1"]
    with pytest.raises(PermissionDeniedError):
        store.audit_frame(unit_code="B", user=off)
    newest = store.audit_frame(limit=1).iloc[0]
    assert newest["model_id"] == "b1"
    at = newest["at"].to_pydatetime()
    assert store.audit_frame(since=at)["model_id"].tolist() == ["b1"]
    assert store.audit_frame(until=at)["id"].max() < newest["id"]  # until is exclusive
    assert store.audit_frame(since=at + dt.timedelta(seconds=1)).empty
    everything = store.audit_frame(limit=1000)["id"].tolist()
    assert store.audit_frame(limit=2, offset=1)["id"].tolist() == everything[1:3]


def test_officer_cannot_move_a_model_out_of_the_area(store, users):
    off = users["officer"]
    with pytest.raises(PermissionDeniedError):
        store.update_model("a1", {"unit_code": "B1"}, expected_version=1, user=off)
    with pytest.raises(PermissionDeniedError):  # position in commune B, unit still A1
        store.update_model("a1", {"geometry": shapely.Point(106.25, 10.05)}, expected_version=1, user=off)
    with pytest.raises(PermissionDeniedError):
        store.create_model(model_record("n1", "A1", 106.35, 10.05), user=off)
    out = store.update_model(
        "a1", {"geometry": {"type": "Point", "coordinates": [106.06, 10.06]}}, expected_version=1, user=off
    )
    assert out["version"] == 2 and out["geometry"].equals(shapely.Point(106.06, 10.06))


def test_bbox_query(store, users):
    assert set(store.models_frame(bbox=(106.0, 10.0, 106.2, 10.2)).index) == {"a1", "a2"}
    assert set(store.models_frame(bbox=(106.24, 10.04, 106.26, 10.06)).index) == {"b1"}
    assert len(store.models_frame(bbox=(100.0, 0.0, 100.1, 0.1))) == 0
    assert set(store.models_frame(bbox=(106.0, 10.0, 106.4, 10.2), user=users["officer_b"]).index) == {"b1"}


def test_version_conflict(store, users):
    off = users["officer"]
    first = store.update_model("a1", {"range_m": 30.0}, expected_version=1, user=off)
    assert first["version"] == 2
    with pytest.raises(ConflictError) as ei:
        store.update_model("a1", {"range_m": 40.0}, expected_version=1, user=users["admin"])
    assert ei.value.http_status == 409 and "version 2" in ei.value.message
    assert store.get_model("a1")["range_m"] == 30.0


def test_concurrent_edits_exactly_one_wins(store, users):
    barrier = threading.Barrier(4)
    results: list[object] = []

    def edit(i: int) -> None:
        barrier.wait()
        try:
            results.append(store.update_model("a1", {"range_m": 10.0 + i}, expected_version=1, user=users["admin"]))
        except ConflictError as exc:
            results.append(exc)

    threads = [threading.Thread(target=edit, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wins = [r for r in results if isinstance(r, dict)]
    assert len(wins) == 1 and sum(isinstance(r, ConflictError) for r in results) == 3
    assert store.get_model("a1")["range_m"] == wins[0]["range_m"]
    assert store.get_model("a1")["version"] == 2


def test_retire_is_not_delete_and_is_audited(store, users):
    out = store.retire_model("a2", expected_version=1, user=users["officer"])
    assert out["status"] == "inactive" and out["version"] == 2
    assert store.get_model("a2")["status"] == "inactive"
    assert set(store.models_frame(status="active").index) == {"a1", "b1"}
    a = store.audit_frame(model_id="a2")
    assert a["action"].tolist() == ["retire", "create"]
    assert a.iloc[0]["old"] == {"status": "active"} and a.iloc[0]["new"] == {"status": "inactive"}
    assert a.iloc[0]["user_name"] == "can_bo_a"


def test_audit_records_old_and_new_values(store, users):
    store.update_model(
        "b1", {"name": "Camera cầu Bình", "direction_deg": [10, 20]}, expected_version=1, user=users["officer_b"]
    )
    a = store.audit_frame(model_id="b1")
    assert a["action"].tolist() == ["update", "create"]
    upd, created = a.iloc[0], a.iloc[1]
    assert upd["old"] == {"name": "Camera b1", "direction_deg": [0.0, 180.0]}
    assert upd["new"] == {"name": "Camera cầu Bình", "direction_deg": [10.0, 20.0]}
    assert upd["detail"] == {"version": 2}
    assert created["old"] is None and created["new"]["geometry"] == {"type": "Point", "coordinates": [106.25, 10.05]}
    assert created["user_name"] == "system"
    assert upd["at"] >= created["at"]
    # an update that changes nothing writes nothing
    same = store.update_model("b1", {"name": "Camera cầu Bình"}, expected_version=2, user=users["admin"])
    assert same["version"] == 2 and len(store.audit_frame(model_id="b1")) == 2


# ----------------------------------------------------------------------------------------------
# import


def _import_frame() -> gpd.GeoDataFrame:
    return _frame(
        [
            model_record("a1", "A1", 106.05, 10.05, range_m=30.0),  # update: range 25 -> 30
            model_record(
                "a2",
                "A2",
                106.15,
                10.05,
                kind="lighting",
                name="Đèn ngõ 3",
                direction_deg=(),
                fov_deg=None,
                range_m=None,
                radius_m=15.0,
            ),  # unchanged
            model_record("n1", None, 106.12, 10.02),  # new, gets unit A
            model_record("n2", "A1", 106.01, 10.01, kind="checkpoint", radius_m=50.0, direction_deg=(), fov_deg=None),
        ]
    )


def test_preview_classifies_rows(store, users):
    gdf = _import_frame()
    before = _snapshot(store)
    p = store.preview_import(gdf, user=users["officer"], unit_code="A", source="xa_an.xlsx")
    assert p.counts() == {"new": 2, "update": 1, "unchanged": 1, "rejected": 0}
    assert p.updates == {"a1": {"range_m": (25.0, 30.0)}}
    assert [r["id"] for r in p.new] == ["n1", "n2"] and p.new[0]["unit_code"] == "A"
    assert "update a1: range_m: 25.0 -> 30.0" in p.summary()
    pd.testing.assert_frame_equal(_snapshot(store)[0], before[0])  # a preview writes nothing
    counts = store.commit_import(p, user=users["officer"])
    assert counts["new"] == 2 and counts["update"] == 1
    f = store.models_frame()
    assert f.loc["a1", "range_m"] == 30.0 and f.loc["a1", "version"] == 2 and f.loc["n1", "version"] == 1
    audit = store.audit_frame(limit=10)
    assert audit.iloc[0]["action"] == "import_batch"
    imported = audit[audit["action"] == "import"]
    assert set(imported["model_id"]) == {"a1", "n1", "n2"}
    row_a1 = imported[imported["model_id"] == "a1"].iloc[0]
    assert row_a1["old"] == {"range_m": 25.0} and row_a1["new"] == {"range_m": 30.0}
    # re-importing the same data changes nothing, not even the audit log
    snap = _snapshot(store)
    p2 = store.preview_import(gdf, user=users["officer"], unit_code="A", source="xa_an.xlsx")
    assert p2.counts() == {"new": 0, "update": 0, "unchanged": 4, "rejected": 0}
    store.commit_import(p2, user=users["officer"])
    after = _snapshot(store)
    pd.testing.assert_frame_equal(after[0], snap[0])
    assert after[1] == snap[1]


def test_import_with_bad_rows_leaves_the_store_unchanged(store, users):
    rows = [
        model_record("n1", "A1", 106.05, 10.06),  # fine
        model_record("n2", "A1", 106.25, 10.05),  # position in commune B
        model_record("n3", "B1", 106.26, 10.05),  # unit outside A
        model_record("n1", "A1", 106.05, 10.07),  # duplicate id
        model_record("n4", "A1", 106.05, 10.05, kind="đèn lồng"),  # unknown kind
        model_record("b1", "A1", 106.05, 10.05),  # the id of a model of commune B
    ]
    gdf = _frame(rows).assign(source_row=[2, 3, 4, 5, 6, 7])  # spreadsheet rows (header = row 1)
    before = _snapshot(store)
    p = store.preview_import(gdf, user=users["officer"], unit_code="A", source="bad.csv")
    reasons = {(q.row, q.field): q.reason for q in p.rejected}
    assert reasons[(3, "geometry")] == "position outside unit A"
    assert reasons[(4, "unit_code")] == "outside unit A"
    assert reasons[(5, "id")] == "duplicate id (also row 2)"
    assert reasons[(6, "kind")].startswith("unknown kind")
    assert (7, "id") not in reasons  # an id of commune B previews as a new id would
    assert sorted(r["id"] for r in p.new) == ["b1", "n1"]
    # without row numbers, rows are named by id
    by_id = store.preview_import(gdf.drop(columns="source_row"), user=users["officer"], unit_code="A", source="bad.csv")
    assert (
        str(by_id.rejected[0])
        == "bad.csv, id n2, field 'geometry': position outside unit A (value '106.250000, 10.050000')"
    )
    assert p.counts()["rejected"] == 4 and p.counts()["new"] == 2
    with pytest.raises(ValidationError) as ei:
        store.commit_import(p, user=users["officer"])
    assert "nothing imported" in ei.value.message and "bad.csv, row 3, field 'geometry'" in ei.value.message
    after = _snapshot(store)
    pd.testing.assert_frame_equal(after[0], before[0])
    assert after[1] == before[1]
    # the id of commune B is in use: the commit says so, naming no unit (nothing imported)
    with pytest.raises(ConflictError, match="'b1' is already in use") as ci:
        store.commit_import(p, user=users["officer"], skip_rejected=True)
    assert "B1" not in ci.value.message and _snapshot(store)[1] == before[1]
    # the accepted rows can be applied explicitly
    p = store.preview_import(gdf[gdf["id"] != "b1"], user=users["officer"], unit_code="A", source="bad.csv")
    assert store.commit_import(p, user=users["officer"], skip_rejected=True)["new"] == 1
    assert "n1" in store.models_frame().index


def test_import_needs_ids(store, users):
    gdf = _import_frame()
    by_index = gdf.drop(columns="id")  # ids in the index named "id": fine
    assert store.preview_import(by_index, user=users["officer"], unit_code="A").counts()["new"] == 2
    with pytest.raises(ValidationError, match="every model needs an id"):
        store.preview_import(by_index.reset_index(drop=True), user=users["officer"], unit_code="A", source="no-id.csv")


def test_import_rights(store, users):
    gdf = _import_frame()
    with pytest.raises(PermissionDeniedError):
        store.preview_import(gdf, user=users["viewer"], unit_code="A")
    with pytest.raises(PermissionDeniedError):
        store.preview_import(gdf, user=users["officer"], unit_code="B")
    p = store.preview_import(gdf, user=users["officer"], unit_code="A")
    with pytest.raises(PermissionDeniedError):
        store.commit_import(p, user=users["officer_b"])
    store.set_user_active("can_bo_a", False, user=None)
    with pytest.raises(PermissionDeniedError):  # the preview's account, reloaded: now disabled
        store.commit_import(p)
    store.set_user_active("can_bo_a", True, user=None)
    assert store.commit_import(p)["new"] == 2
    assert store.get_model("n1")["created_by"] == "can_bo_a"


def test_commit_conflicts_when_the_store_changed_after_preview(store, users):
    p = store.preview_import(_import_frame(), user=users["officer"], unit_code="A")
    store.update_model("a1", {"notes": "sửa tay"}, expected_version=1, user=users["admin"])
    before = _snapshot(store)
    with pytest.raises(ConflictError):
        store.commit_import(p, user=users["officer"])
    after = _snapshot(store)
    pd.testing.assert_frame_equal(after[0], before[0])  # n1, n2 were not inserted either
    assert after[1] == before[1]


_CRASH_SCRIPT = r"""
import pickle, sys
from geo_antt.store import Store
url, frame_path = sys.argv[1], sys.argv[2]
gdf = pickle.load(open(frame_path, "rb"))
store = Store.open(url)
p = store.preview_import(gdf, user=None, unit_code="A", source="big.xlsx")
store.commit_import(p, user=None)
print("committed")
"""


def test_killed_import_leaves_the_store_consistent(store, users, store_url, tmp_path):
    n = 1200  # several insert batches; the hook pauses after half of them
    xs = 106.0005 + (np.arange(n) % 40) * 0.004
    ys = 10.0005 + (np.arange(n) // 40) * 0.003
    gdf = _frame([model_record(f"k{i:04d}", "A", float(x), float(y)) for i, (x, y) in enumerate(zip(xs, ys))])
    frame_path = tmp_path / "frame.pkl"
    frame_path.write_bytes(pickle.dumps(gdf))
    marker = tmp_path / "paused"
    before = _snapshot(store)
    env = {**os.environ, IMPORT_PAUSE_ENV_VAR: str(marker), "PYTHONPATH": str(ROOT)}
    errlog = tmp_path / "stderr.txt"
    with open(errlog, "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-c", _CRASH_SCRIPT, store_url, str(frame_path)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert proc.poll() is None, errlog.read_text()
        assert time.monotonic() < deadline, "the import never reached its midpoint"
        time.sleep(0.05)
    assert int(marker.read_text()) >= n // 2  # half of the rows were written inside the transaction
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    with Store.open(store_url, password_hasher=CHEAP_HASHER) as s2:
        after = _snapshot(s2)
        pd.testing.assert_frame_equal(after[0], before[0])
        assert after[1] == before[1]
        if s2.backend == "sqlite":
            db = sa.engine.make_url(store_url).database
            with sqlite3.connect(db) as conn:
                assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        # the store is usable: the same import now goes through completely
        p = s2.preview_import(gdf, user=None, unit_code="A")
        assert s2.commit_import(p, user=None)["new"] == n
        assert len(s2.models_frame(unit_code="A")) == n + 2


# ----------------------------------------------------------------------------------------------
# backup


def test_backup_restore_round_trip(store, users, tmp_path):
    store.update_model(
        "a1", {"name": "Camera chợ Đình", "data_sharing": "có chia sẻ"}, expected_version=1, user=users["officer"]
    )
    store.create_model(
        {"id": "g1", "kind": "self_management", "name": "Tổ tự quản 5", "unit_code": "A2"}, user=users["officer"]
    )
    models_before = store.models_frame()
    units_before = store.units_frame()
    audit_before = store.audit_frame(limit=1000)
    path = tmp_path / "bk" / "backup.gpkg"
    assert store.export_backup(path) == path
    assert sorted(p.name for p in path.parent.iterdir()) == ["backup.gpkg"]  # no temporary left over
    # damage the registry, then restore
    store.update_model("b1", {"status": "inactive"}, expected_version=1, user=users["admin"])
    store.create_model(model_record("zz", "B1", 106.21, 10.01), user=users["admin"])
    counts = store.restore_backup(path)
    assert counts == {"units": 6, "models": 4, "audit": len(audit_before)}
    after = store.models_frame()
    pd.testing.assert_frame_equal(after.drop(columns="geometry"), models_before.drop(columns="geometry"))
    for mid, g0 in models_before.geometry.items():
        g1 = after.geometry[mid]
        assert (g0 is None and g1 is None) or g0.equals_exact(g1, 1e-12), mid
    assert after.loc["g1", "geometry"] is None
    pd.testing.assert_frame_equal(store.units_frame(), units_before)
    audit_after = store.audit_frame(limit=1000)
    assert audit_after.iloc[0]["action"] == "restore"
    pd.testing.assert_frame_equal(audit_after.iloc[1:].reset_index(drop=True), audit_before.reset_index(drop=True))
    # users survive a restore; a new edit continues the version sequence
    assert store.authenticate("can_bo_a", PASSWORD) is not None
    assert store.update_model("a1", {"range_m": 12.0}, expected_version=2, user=users["officer"])["version"] == 3


def test_restore_refuses_a_tampered_backup(store, users, tmp_path):
    import pyogrio

    path = store.export_backup(tmp_path / "b.gpkg")
    models = pyogrio.read_dataframe(path, layer="models")
    models.loc[models["id"] == "a1", "kind"] = "ufo"
    pyogrio.write_dataframe(models, path, layer="models", driver="GPKG", geometry_type="Unknown")
    before = _snapshot(store)
    with pytest.raises(ValidationError, match="model 'a1': unknown kind"):
        store.restore_backup(path)
    pd.testing.assert_frame_equal(_snapshot(store)[0], before[0])


def test_backup_and_restore_are_admin_only(store, users, tmp_path):
    with pytest.raises(PermissionDeniedError):
        store.export_backup(tmp_path / "x.gpkg", user=users["officer"])
    with pytest.raises(ValidationError):
        bad = tmp_path / "not-backup.gpkg"
        store.units_frame().reset_index(drop=True).to_file(bad, driver="GPKG")
        store.restore_backup(bad)


# ----------------------------------------------------------------------------------------------
# accounts


def test_password_hashes_are_not_plain_text(store_url):
    with Store.open(store_url) as s:  # default argon2 parameters
        s.add_user("nguoi_dung", role="viewer", password="mat-khau-bi-mat", user=None)
        with s._engine.connect() as conn:
            stored = conn.execute(sa.text("SELECT password_hash FROM users WHERE name = 'nguoi_dung'")).scalar_one()
        assert stored.startswith("$argon2id$") and "mat-khau-bi-mat" not in stored
        assert s.authenticate("nguoi_dung", "mat-khau-bi-mat").role == "viewer"
        assert s.authenticate("nguoi_dung", "mat-khau-sai") is None
        assert s.authenticate("khong_co", "mat-khau-bi-mat") is None


def test_accounts_and_tokens(store, users):
    with pytest.raises(Exception, match="exists already"):
        store.add_user("admin", role="admin", password=PASSWORD, user=None)
    with pytest.raises(NotFoundError):
        store.add_user("x", role="officer", unit_codes=["NOPE"], password=PASSWORD, user=None)
    with pytest.raises(PermissionDeniedError):
        store.add_user("y", role="viewer", password=PASSWORD, user=users["officer"])
    assert [u.name for u in store.list_users()] == ["admin", "can_bo_a", "can_bo_b", "xem_a"]
    token = store.create_token("can_bo_a", label="script", user=None)
    assert store.user_for_token(token).name == "can_bo_a"
    assert store.user_for_token(token + "x") is None
    with store._engine.connect() as conn:
        hashes = conn.execute(sa.text("SELECT token_hash FROM api_tokens")).scalars().all()
    assert token not in hashes and len(hashes[0]) == 64
    store.set_user_active("can_bo_a", False, user=None)
    assert store.user_for_token(token) is None and store.authenticate("can_bo_a", PASSWORD) is None
    store.set_user_active("can_bo_a", True, user=None)
    assert store.revoke_tokens("can_bo_a", user=None) == 1
    assert store.user_for_token(token) is None


# ----------------------------------------------------------------------------------------------
# backend specifics: the spatial index is really there and used


def test_sqlite_bbox_query_uses_the_index(tmp_path):
    with Store.open(f"sqlite:///{tmp_path / 'x.sqlite'}", password_hasher=CHEAP_HASHER) as s:
        seed(s)
        s.create_model(
            model_record(
                "line",
                "A1",
                0,
                0,
                kind="lighting",
                direction_deg=(),
                fov_deg=None,
                range_m=None,
                radius_m=5.0,
                geometry=shapely.LineString([(106.01, 10.01), (106.03, 10.02)]),
            ),
            user=None,
        )
        with s._engine.connect() as conn:
            q = s._model_select().where(s._bbox_filter((106.0, 10.0, 106.1, 10.1), conn))
            sql = str(q.compile(s._engine, compile_kwargs={"literal_binds": True}))
            plan = " ".join(str(r[-1]) for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql))
            width_plan = " ".join(
                str(r[-1]) for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN SELECT max(maxx - minx) FROM models")
            )
        # a narrow range of the index: minx between (query min x - widest box) and query max x
        assert "USING INDEX ix_models_bbox (minx>? AND minx<?)" in plan
        assert "ix_models_bbox_width" in width_plan
        # the line (20 m wide box starting west of the query) is still found
        assert set(s.models_frame(bbox=(106.02, 10.0, 106.1, 10.1)).index) == {"a1", "line"}
        assert set(s.models_frame(bbox=(106.031, 10.0, 106.1, 10.1)).index) == {"a1"}


@pytest.mark.postgis
def test_postgis_stores_real_geometries_with_a_gist_index(postgis_url):
    with Store.open(postgis_url, password_hasher=CHEAP_HASHER) as s:
        seed(s)
        with s._engine.connect() as conn:
            assert conn.execute(sa.text("SELECT Find_SRID('public', 'models', 'geom')")).scalar_one() == 4326
            idx = conn.execute(
                sa.text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_models_geom'")
            ).scalar_one()
            assert "USING gist (geom)" in idx
            inside = (
                conn.execute(
                    sa.text(
                        "SELECT m.id FROM models m JOIN units u ON ST_Within(m.geom, u.geom) WHERE u.code = 'A' ORDER BY m.id"
                    )
                )
                .scalars()
                .all()
            )
            assert inside == ["a1", "a2"]


# ----------------------------------------------------------------------------------------------
# coverage cache


def _full_coverage(store: Store) -> pd.DataFrame:
    from geo_antt.coverage import compute_coverage

    res = compute_coverage(
        store.units_frame(),
        store.models_frame(),
        level="hamlet",
        with_gaps=False,
        settings=DEFAULT_SETTINGS.replace(metric_crs="EPSG:32648"),
    )
    return res.units


def _assert_same_figures(got: pd.DataFrame, want: pd.DataFrame) -> None:
    assert list(got.index) == sorted(want.index)
    want = want.loc[got.index]
    for col in ("area_m2", "covered_m2", "covered_m2_camera", "covered_m2_lighting"):
        np.testing.assert_allclose(
            got[col].to_numpy(float), want[col].to_numpy(float), rtol=1e-9, atol=1e-6, err_msg=col
        )
    for col in ("n_models", "n_camera", "n_lighting", "n_inactive", "rank"):
        assert got[col].astype(int).tolist() == want[col].astype(int).tolist(), col


def test_coverage_cache_recomputes_only_touched_units(store, users):
    first = store.coverage_frame()
    assert sorted(first.attrs["recomputed"]) == ["A1", "A2", "B1"]
    _assert_same_figures(first, _full_coverage(store))
    assert first.loc["A1", "covered_m2"] > 0 and first.loc["A1", "n_camera"] == 1
    again = store.coverage_frame()
    assert again.attrs["recomputed"] == []  # all from the cache
    pd.testing.assert_frame_equal(again, first)
    # move camera a1 from hamlet A1 into hamlet A2: only A1 and A2 are recomputed
    store.update_model(
        "a1", {"geometry": shapely.Point(106.16, 10.06), "unit_code": "A2"}, expected_version=1, user=users["officer"]
    )
    after = store.coverage_frame()
    assert sorted(after.attrs["recomputed"]) == ["A1", "A2"]
    _assert_same_figures(after, _full_coverage(store))
    assert after.loc["A1", "covered_m2"] == 0 and after.loc["A2", "n_camera"] == 1
    # retiring the B1 camera: only B1
    store.retire_model("b1", expected_version=1, user=users["admin"])
    after = store.coverage_frame()
    assert after.attrs["recomputed"] == ["B1"]
    assert after.loc["B1", "covered_m2"] == 0 and after.loc["B1", "n_inactive"] == 1
    _assert_same_figures(after, _full_coverage(store))
    # a non-spatial model counts in the unit it names: only that unit is recomputed
    n_before = after.loc["A2", "n_models"]
    store.create_model(
        {"id": "tq1", "kind": "self_management", "name": "Tổ tự quản 1", "unit_code": "A2"}, user=users["officer"]
    )
    after = store.coverage_frame()
    assert after.attrs["recomputed"] == ["A2"] and after.loc["A2", "n_models"] == n_before + 1
    _assert_same_figures(after, _full_coverage(store))


def test_coverage_frame_is_scoped(store, users):
    assert list(store.coverage_frame(user=users["viewer"]).index) == ["A1", "A2"]
    assert list(store.coverage_frame(user=users["officer_b"]).index) == ["B1"]
    assert list(store.coverage_frame(unit_code="P", user=users["officer_b"]).index) == ["B1"]
    with pytest.raises(PermissionDeniedError):
        store.coverage_frame(unit_code="A", user=users["officer_b"])
    communes = store.coverage_frame(level="commune", with_geometry=True)
    assert list(communes.index) == ["A", "B"] and communes.crs.to_epsg() == 4326
    assert communes.loc["A", "n_models"] == 2


# ----------------------------------------------------------------------------------------------
# changes since a generation (the web catalog follows the store with it)


def test_changes_since_lists_the_models_written_after_a_generation(store, users):
    g0 = store.generation()
    assert store.changes_since(g0).models.empty and not store.changes_since(g0).reload
    a1 = store.get_model("a1")
    store.update_model("a1", {"direction_deg": (45.0,)}, expected_version=a1["version"], user=users["officer"])
    g1 = store.generation()
    store.create_model(model_record("a3", "A2", 106.16, 10.06), user=None)
    store.retire_model("b1", expected_version=store.get_model("b1")["version"], user=None)
    ch = store.changes_since(g0)
    assert ch.generation == store.generation() == g0 + 3 and not ch.reload
    assert list(ch.models.index) == ["a1", "a3", "b1"]  # ordered by id, as stored now
    assert ch.models.loc["a1", "direction_deg"] == (45.0,) and ch.models.loc["b1", "status"] == "inactive"
    assert list(ch.models.columns) == list(store.models_frame().columns)
    assert list(store.changes_since(g1).models.index) == ["a3", "b1"]
    assert store.changes_since(g0, max_models=2).reload  # too many: reload, rows not fetched
    # an import tags its rows too; re-importing the same rows changes nothing
    g2 = store.generation()
    rec = model_record("a4", "A1", 106.02, 10.02)
    gdf = gpd.GeoDataFrame(
        [{k: v for k, v in rec.items() if k != "geometry"}], geometry=[rec["geometry"]], crs="EPSG:4326"
    )
    store.commit_import(store.preview_import(gdf, user=None, unit_code="A"), user=None)
    assert list(store.changes_since(g2).models.index) == ["a4"]
    store.commit_import(store.preview_import(gdf, user=None, unit_code="A"), user=None)
    assert store.changes_since(store.generation()).models.empty


def test_changes_since_asks_for_a_reload_after_units_change_or_a_restore(store, users, tmp_path):
    g0 = store.generation()
    store.put_units(units_frame(), user=None)
    ch = store.changes_since(g0)
    assert ch.reload and ch.models.empty and ch.generation == store.generation()
    g1 = store.generation()
    assert not store.changes_since(g1).reload
    assert store.changes_since(g1 + 5).reload  # a generation this store never had
    path = store.export_backup(tmp_path / "b.gpkg")
    store.restore_backup(path)
    assert store.changes_since(g1).reload


def test_a_locked_database_is_a_busy_error_not_a_crash(tmp_path, monkeypatch):
    """A "database is locked" never escapes the store as a raw driver error (the web answers 503)."""
    import sqlite3

    from geo_antt import BusyError
    from geo_antt.store import _store

    monkeypatch.setattr(_store, "_BUSY_TIMEOUT_MS", 100)
    path = tmp_path / "locked.sqlite"
    with Store.open(f"sqlite:///{path}", password_hasher=CHEAP_HASHER) as store:
        seed(store)
        store.close()  # no pooled connection left
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("PRAGMA locking_mode=EXCLUSIVE")  # then readers are locked out too
        try:
            other.execute("BEGIN EXCLUSIVE")
            with pytest.raises(BusyError, match="busy"):
                store.models_frame()
            with pytest.raises(BusyError, match="busy"):
                store.create_model(model_record("n9", "A1", 106.05, 10.06), user=None)
        finally:
            other.rollback()
            other.close()
