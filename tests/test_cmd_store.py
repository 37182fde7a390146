"""The store commands of the ``geo-antt`` CLI, run in-process against an SQLite file."""

from __future__ import annotations

import io
import json

import geopandas as gpd
import pytest

from geo_antt.cli import main
from geo_antt.store import Store
from tests.storehelp import CHEAP_HASHER, model_record, units_frame


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "cli.sqlite"
    units = tmp_path / "units.geojson"
    units_frame().to_file(units)
    assert main(["db", "upgrade", "--db", str(path)]) == 0
    assert main(["db", "load-units", str(units), "--db", str(path)]) == 0
    return str(path)


def _models_file(path, records):
    geoms = [r.pop("geometry") for r in records]
    g = gpd.GeoDataFrame(records, geometry=geoms, crs="EPSG:4326")
    g["direction_deg"] = g["direction_deg"].map(lambda t: ";".join(map(str, t)))
    g.to_file(path)
    return str(path)


def test_users_and_tokens(db, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("mat-khau-dai-123\n"))
    assert (
        main(["users", "add", "an", "--role", "officer", "--unit", "A", "--unit", "B1", "--password-stdin", "--db", db])
        == 0
    )
    assert main(["users", "add", "xem", "--role", "viewer", "--no-password", "--db", db]) == 0
    assert main(["users", "add", "an", "--role", "viewer", "--no-password", "--db", db]) == 1
    assert "exists already" in capsys.readouterr().err
    assert main(["users", "add", "x", "--role", "officer", "--unit", "NOPE", "--no-password", "--db", db]) == 1
    assert "unit 'NOPE' is not in the store" in capsys.readouterr().err
    assert main(["users", "list", "--json", "--db", db]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed == [
        {"name": "an", "role": "officer", "unit_codes": ["A", "B1"], "active": True},
        {"name": "xem", "role": "viewer", "unit_codes": [], "active": True},
    ]
    assert main(["users", "set", "xem", "--role", "officer", "--unit", "B", "--db", db]) == 0
    assert "account xem: officer; units B" in capsys.readouterr().out
    assert main(["users", "set", "xem", "--unit", "ZZ", "--db", db]) == 1
    assert main(["token", "create", "an", "--db", db]) == 0
    token = capsys.readouterr().out.strip()
    with Store.open(db, password_hasher=CHEAP_HASHER) as s:
        assert s.user_for_token(token).name == "an"
        assert s.authenticate("an", "mat-khau-dai-123") is not None
        assert s.authenticate("xem", "") is None
        xem = s.get_user("xem")
        assert xem.role == "officer" and xem.unit_codes == ("B",)
        assert s.audit_frame(limit=5)["action"].tolist()[:2] == ["token_create", "user_access"]


def test_import_preview_commit_and_audit(db, tmp_path, capsys):
    assert main(["users", "add", "an", "--role", "officer", "--unit", "A", "--no-password", "--db", db]) == 0
    bad = _models_file(
        tmp_path / "bad.geojson", [model_record("c1", "A1", 106.05, 10.05), model_record("c2", "A1", 106.35, 10.05)]
    )
    good = _models_file(
        tmp_path / "good.geojson", [model_record("c1", "A1", 106.05, 10.05, direction_deg=(10.0, 200.0))]
    )
    capsys.readouterr()
    assert main(["import", bad, "--unit", "A", "--user", "an", "--db", db]) == 1
    out = capsys.readouterr().out
    assert "1 new, 0 updated, 0 unchanged, 1 rejected (1 outside the area)" in out
    # rejected rows are named by their place in the file (feature 2 here; a spreadsheet row for CSV/XLSX) and id
    assert (
        "bad.geojson, row 2, field 'geometry': position outside unit A (value '106.350000, 10.050000') [id c2]" in out
    )
    assert main(["import", bad, "--unit", "A", "--user", "an", "--commit", "--db", db]) == 1
    assert "nothing imported" in capsys.readouterr().err
    with Store.open(db, password_hasher=CHEAP_HASHER) as s:
        assert len(s.models_frame()) == 0
    assert main(["import", good, "--unit", "A", "--user", "an", "--commit", "--db", db]) == 0
    assert "imported: 1 new" in capsys.readouterr().out
    assert main(["import", good, "--unit", "A", "--user", "an", "--commit", "--db", db]) == 0
    assert "imported: 0 new, 0 updated, 1 unchanged" in capsys.readouterr().out
    with Store.open(db, password_hasher=CHEAP_HASHER) as s:
        f = s.models_frame()
        assert f.index.tolist() == ["c1"] and f.loc["c1", "direction_deg"] == (10.0, 200.0)
        assert f.loc["c1", "created_by"] == "an"
    assert main(["import", bad, "--unit", "B", "--user", "an", "--db", db]) == 1
    assert "outside the area of account 'an'" in capsys.readouterr().err
    assert main(["audit", "--model", "c1", "--json", "--db", db]) == 0
    entries = json.loads(capsys.readouterr().out)
    assert [e["action"] for e in entries] == ["import"] and entries[0]["user_name"] == "an"
    assert entries[0]["new"]["direction_deg"] == [10.0, 200.0]
    # filters: by account, unit (and the units below it), dates (Vietnam time)
    assert main(["audit", "--by", "an", "--unit", "A", "--json", "--db", db]) == 0
    entries = json.loads(capsys.readouterr().out)
    assert {e["action"] for e in entries} == {"import", "import_batch"} and all(e["user_name"] == "an" for e in entries)
    assert entries[-1]["model_name"] == "Camera c1"
    assert main(["audit", "--unit", "B", "--json", "--db", db]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert main(["audit", "--since", "2999-01-01", "--json", "--db", db]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert main(["audit", "--until", "1.1.2020", "--db", db]) == 1
    assert "--until: '1.1.2020' is not a date" in capsys.readouterr().err


def test_import_reads_x_y_columns_in_the_crs_given(db, tmp_path, capsys):
    """x/y columns (UTM 48N metres) need --input-crs, which the refusal names; with it the row
    is read where it lies (106.05 E, 10.05 N: inside unit A).
    """
    from pyproj import Transformer

    x, y = Transformer.from_crs(4326, 32648, always_xy=True).transform(106.05, 10.05)
    csv = tmp_path / "xy.csv"
    csv.write_text(f"id,kind,name,x,y,direction\nxy1,camera,Cam,{x:.1f},{y:.1f},90\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["import", str(csv), "--unit", "A", "--db", db]) == 1
    assert "give --input-crs" in capsys.readouterr().out
    assert main(["import", str(csv), "--unit", "A", "--input-crs", "EPSG:32648", "--json", "--db", db]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["counts"]["new"] == 1 and d["new"][0]["id"] == "xy1"


def test_import_csv_names_spreadsheet_rows(db, tmp_path, capsys):
    """Rows rejected by the reader (row 4: not a coordinate) and by the store (row 3: outside
    the unit) are both named by their spreadsheet row (header = row 1) and counted.
    """
    csv = tmp_path / "xa_an.csv"
    csv.write_text(
        "mã,loại,tên,vĩ độ,kinh độ,hướng,góc,tầm xa,mã thôn\n"
        "c1,camera,Camera 1,10.05,106.05,90,60,25,A1\n"
        "c2,camera,Camera 2,10.05,106.35,90,60,25,A1\n"
        "c3,camera,Camera 3,abc,106.05,90,60,25,A1\n",
        encoding="utf-8",
    )
    capsys.readouterr()
    assert main(["import", str(csv), "--unit", "A", "--db", db]) == 1
    out = capsys.readouterr().out
    assert "1 new, 0 updated, 0 unchanged, 2 rejected (1 outside the area)" in out
    assert "xa_an.csv, row 3, field 'geometry': position outside unit A" in out and "[id c2]" in out
    assert "row 4, field 'vĩ độ': not a coordinate" in out
    assert main(["import", str(csv), "--unit", "A", "--json", "--db", db]) == 1
    d = json.loads(capsys.readouterr().out)
    assert sorted((r["row"], r["id"]) for r in d["rejected"]) == [
        (3, "c2"),
        (4, "c3"),
    ]  # a row the reader rejects keeps its id
    assert d["outside"] == [{"row": 3, "id": "c2", "lon": 106.35, "lat": 10.05, "unit_code": "A1"}]
    assert main(["import", str(csv), "--unit", "A", "--commit", "--skip-rejected", "--db", db]) == 0
    assert "imported: 1 new, 0 updated, 0 unchanged, 2 rejected rows skipped" in capsys.readouterr().out


def test_backup_restore(db, tmp_path, capsys):
    with Store.open(db, password_hasher=CHEAP_HASHER) as s:
        s.create_model(model_record("c1", "A1", 106.05, 10.05), user=None)
    path = tmp_path / "backup.gpkg"
    assert main(["backup", str(path), "--db", db]) == 0
    with Store.open(db, password_hasher=CHEAP_HASHER) as s:
        s.retire_model("c1", expected_version=1, user=None)
    assert main(["restore", str(path), "--db", db]) == 0
    assert "restored 6 units, 1 models" in capsys.readouterr().out
    with Store.open(db, password_hasher=CHEAP_HASHER) as s:
        assert s.get_model("c1")["status"] == "active"
    assert main(["restore", str(tmp_path / "missing.gpkg"), "--db", db]) == 1


def test_db_seed_from_a_dataset_folder(tmp_path, capsys):
    data = tmp_path / "ds"
    (data / "boundaries").mkdir(parents=True)
    (data / "models").mkdir()
    units_frame().to_file(data / "boundaries" / "units.geojson")
    _models_file(
        data / "models" / "m.geojson",
        [model_record("c1", "A1", 106.05, 10.05), model_record("c2", "B1", 106.25, 10.05)],
    )
    (data / "dataset.toml").write_text('units = ["boundaries/units.geojson"]\nmodels = ["models/m.geojson"]\n')
    db = str(tmp_path / "seed.sqlite")
    assert main(["db", "seed", "--data", str(data), "--db", db]) == 0
    assert "2 models new" in capsys.readouterr().out
    assert main(["db", "seed", "--data", str(data), "--db", db]) == 0  # idempotent
    assert "0 models new, 0 updated, 2 unchanged" in capsys.readouterr().out
    with Store.open(db, password_hasher=CHEAP_HASHER) as s:
        assert sorted(s.models_frame().index) == ["c1", "c2"] and len(s.units_frame()) == 6


def test_seeding_a_store_is_one_audit_entry_per_file_not_one_per_model(tmp_path, synthetic_dir):
    """The audit log's first page shows what people did, not the seed's thousand rows: seeding
    writes one batch entry per model file, with its counts.
    """
    from geo_antt.store import Store, seed_from_dataset

    with Store.open(f"sqlite:///{tmp_path / 's.sqlite'}") as store:
        counts = seed_from_dataset(store, synthetic_dir, echo=lambda line: None)
        entries = store.audit_frame(user=None, limit=1000).to_dict("records")
    assert counts["models"] > 10
    models = [e for e in entries if e["model_id"] is not None]
    batches = [e for e in entries if e["action"] == "import_batch"]
    assert models == [] and len(batches) == 1 and batches[0]["detail"]["counts"]["new"] == counts["models"]


def test_analysis_commands_read_the_store_with_db_and_say_so(tmp_path, synthetic_dir, capsys):
    """After a change in the store (what the web edits), `geo-antt stats --db` and `coverage --db`
    count what the store holds and name it; without --db the files are read, with a note when the
    dataset's store file exists beside them.
    """
    import json as _json
    import shutil

    from geo_antt.cli import main
    from geo_antt.store import Store, seed_from_dataset

    data = tmp_path / "data"
    shutil.copytree(synthetic_dir, data)
    db = data / "geo-antt.sqlite"
    with Store.open(f"sqlite:///{db}") as store:
        seed_from_dataset(store, data, echo=lambda line: None)
        models = store.models_frame(user=None)
        active = models[models["status"] == "active"]
        mid = active.index[0]
        store.retire_model(mid, expected_version=store.get_model(mid)["version"], user=None)
    assert main(["stats", "--data", str(data), "--json"]) == 0
    out = capsys.readouterr()
    files = _json.loads(out.out)
    assert f"--db {db}" in out.err  # the note: the store may differ
    assert main(["stats", "--data", str(data), "--db", str(db), "--json"]) == 0
    out = capsys.readouterr()
    stored = _json.loads(out.out)
    assert "source: the store sqlite:///" in out.err and f"{len(models)} models" in out.err
    assert stored["by_status"]["active"] == files["by_status"]["active"] - 1
    assert stored["by_status"]["inactive"] == files["by_status"]["inactive"] + 1
    gaps = tmp_path / "cov.geojson"
    assert main(["coverage", "--db", str(db), "--out", str(gaps)]) == 0
    assert "source: the store" in capsys.readouterr().err
    assert main(["stats", "--db", str(tmp_path / "none.sqlite")]) == 1
    assert "no such store file" in capsys.readouterr().err
