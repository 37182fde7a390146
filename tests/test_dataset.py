"""Tests of geo_antt.io.dataset: reading a dataset directory described by dataset.toml."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import geopandas as gpd
import pytest
import shapely

from geo_antt import io
from geo_antt._errors import GeoAnttError, NotFoundError, ValidationError
from geo_antt.io.dataset import Dataset, load_dataset


def _setup(tmp_path: Path, shared_data: Path, *, communes: str = "mo_cay_nam_communes_pre2025") -> Path:
    b = tmp_path / "boundaries"
    b.mkdir()
    (tmp_path / "models").mkdir()
    shutil.copy(shared_data / "boundaries" / "mo_cay_nam_district_pre2025.geojson", b / "districts.geojson")
    shutil.copy(shared_data / "boundaries" / f"{communes}.geojson", b / "communes.geojson")
    com = io.read_units(b / "communes.geojson")
    code = com.index[0]
    poly = com.geometry.iloc[0]
    pts = [poly.representative_point(), shapely.Point(poly.centroid.x + 0.001, poly.centroid.y)]
    pts = [p for p in pts if poly.contains(p)] + [
        p for p in (shapely.affinity.translate(pts[0], 0.002, 0.0),) if poly.contains(p)
    ]
    feats = [
        {
            "type": "Feature",
            "properties": {"ma_thon": f"{code}-{i}", "ten_thon": f"Ấp {i}", "ma_xa": code},
            "geometry": shapely.geometry.mapping(p),
        }
        for i, p in enumerate(pts, start=1)
    ]
    (b / "hamlets.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": feats}), encoding="utf-8")
    x, y = pts[0].x, pts[0].y
    (tmp_path / "models" / "a.csv").write_text(
        f"id,kind,lat,lon,direction_deg\ncam1,camera,{y},{x},90\nlamp1,lighting,{y},{x},\n", encoding="utf-8"
    )
    (tmp_path / "models" / "b.csv").write_text(
        f"mã;loại;vĩ độ;kinh độ\nchot1;chốt dân phòng;{y};{x}\n", encoding="utf-8"
    )
    (tmp_path / "dataset.toml").write_text(
        'title = { vi = "Mỏ Cày Nam (thử)", en = "Mo Cay Nam (test)" }\n'
        "approximate = true\n"
        'units = ["boundaries/districts.geojson", "boundaries/communes.geojson", { path = "boundaries/hamlets.geojson", level = "hamlet" }]\n'
        'models = ["models/a.csv", { path = "models/b.csv", lang = "vi" }]\n',
        encoding="utf-8",
    )
    return tmp_path


def test_load_dataset(tmp_path: Path, shared_data: Path) -> None:
    d = load_dataset(_setup(tmp_path, shared_data))
    assert isinstance(d, Dataset)
    assert d.title() == "Mỏ Cày Nam (thử)" and d.title("en") == "Mo Cay Nam (test)"
    assert d.meta["approximate"] is True and d.meta["dir"] == str(tmp_path)
    levels = d.units["level"].value_counts().to_dict()
    assert levels["district"] == 1 and levels["commune"] == 16 and levels["hamlet"] >= 2
    assert d.units.index.is_unique and d.units.crs.to_epsg() == 4326
    hamlets = d.level("hamlet")
    assert hamlets["approximate"].all()
    commune = hamlets["parent_code"].iloc[0]
    area = lambda g: g.to_crs(32648).area.sum()  # noqa: E731
    assert area(hamlets.geometry) == pytest.approx(area(d.units.loc[[commune]].geometry), rel=1e-6)
    assert set(d.level("commune")["parent_code"]) == {"833"}
    assert list(d.models.index) == ["cam1", "lamp1", "chot1"]
    assert list(d.models["kind"]) == ["camera", "lighting", "checkpoint"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.units = d.units  # frozen


def test_orphans_warn(tmp_path: Path, shared_data: Path) -> None:
    root = _setup(tmp_path, shared_data, communes="thanh_phu_communes_pre2025")
    with pytest.warns(UserWarning, match=r"18 unit\(s\) whose parent_code is not in the dataset"):
        d = load_dataset(root)
    assert len(d.level("commune")) == 18


def test_dataset_errors(tmp_path: Path, shared_data: Path) -> None:
    with pytest.raises(NotFoundError):
        load_dataset(tmp_path)
    root = _setup(tmp_path, shared_data)
    (root / "models" / "b.csv").write_text("mã;loại;vĩ độ;kinh độ\ncam1;chốt dân phòng;10.2;106.4\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="model id already used in .*a.csv"):
        load_dataset(root)
    (root / "models" / "b.csv").write_text("mã;loại;vĩ độ;kinh độ\nx;tàu;10.2;106.4\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="row 2, field 'loại': unknown kind"):
        load_dataset(root)
    d = load_dataset(root, skip_invalid=True)  # the bad row is listed, not fatal
    assert [p.row for p in d.models.attrs["skipped"]] == [2]
    (root / "dataset.toml").write_text('units = "x"\n', encoding="utf-8")
    with pytest.raises(GeoAnttError, match="list"):
        load_dataset(root)


def test_dataset_units_only(tmp_path: Path, shared_data: Path) -> None:
    shutil.copy(shared_data / "boundaries" / "go_cong_tay_communes_2025.geojson", tmp_path / "c.geojson")
    (tmp_path / "dataset.toml").write_text('units = ["c.geojson"]\n', encoding="utf-8")
    d = load_dataset(tmp_path)
    assert len(d.units) == 5 and len(d.models) == 0
    assert isinstance(d.models, gpd.GeoDataFrame) and d.models.index.name == "id"


def test_validate_a_dataset_directory(tmp_path: Path, shared_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from geo_antt.cli import main

    root = _setup(tmp_path, shared_data)
    assert main(["validate", str(root)]) == 0
    out = capsys.readouterr().out
    assert "hamlets.geojson (units): OK" in out and "b.csv (models): OK" in out
    assert out.strip().endswith("5 files: 0 errors, 0 warnings")
    (root / "models" / "a.csv").write_text("id,kind,lat,lon\nx,camera,10.5,\n", encoding="utf-8")
    assert main(["validate", str(root)]) == 1
    assert "row 2, field 'lon': missing coordinate" in capsys.readouterr().out
