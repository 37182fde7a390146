"""Conference figures: counting by kind/field/host/status for any area, unit look-up, report text,
and the Hàm Thuận Nam figures reproduced from the generated demo data.
"""

from __future__ import annotations

import json

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point

from geo_antt import cli
from geo_antt._errors import GeoAnttError, NotFoundError
from geo_antt.cli.demo import load_frames
from geo_antt.config import DEFAULT_DATA_DIR
from geo_antt.stats import descendant_codes, format_stats, model_stats, resolve_unit


@pytest.fixture
def units() -> pd.DataFrame:
    rows = [
        ("60", "Tỉnh Bình Thuận", "province", None),
        ("598", "Huyện Hàm Thuận Nam", "district", "60"),
        ("23110", "Thị trấn Thuận Nam", "commune", "598"),
        ("23137", "Xã Hàm Minh", "commune", "598"),
        ("599", "Huyện Tánh Linh", "district", "60"),
        ("23200", "Xã Hàm Minh", "commune", "599"),  # a namesake in another district
        ("23137-01", "Thôn Hiệp Tiến", "hamlet", "23137"),
        ("23137-02", "Thôn Hàm Minh", "hamlet", "23137"),
        ("23110-01", "Khu phố 1", "hamlet", "23110"),
    ]
    df = pd.DataFrame(rows, columns=["code", "name", "level", "parent_code"])
    return df.set_index("code", drop=False).rename_axis(None)


@pytest.fixture
def models() -> gpd.GeoDataFrame:
    rows = [
        # id, kind, name, field, host, status, unit_code, start_date, geometry
        (
            "m1",
            "camera",
            "Camera an ninh",
            "crime_prevention",
            "residential",
            "active",
            "23137-01",
            "2024-03-01",
            Point(107.9, 10.8),
        ),
        (
            "m2",
            "camera",
            "Camera an ninh",
            "crime_prevention",
            "residential",
            "inactive",
            "23137-02",
            "2021-01-10",
            Point(107.9, 10.8),
        ),
        (
            "m3",
            "other",
            "Cổng trường an toàn giao thông",
            "traffic_safety",
            "school",
            "active",
            "23137",
            "2024-12-31",
            None,
        ),
        (
            "m4",
            "self_management",
            "Tổ nhân dân tự quản",
            "crime_prevention",
            "residential",
            "active",
            "23110-01",
            "2019-05-05",
            None,
        ),
        ("m5", "other", "Cơ quan an toàn", "fire_prevention", "agency", "active", "23200", "2025-01-01", None),
        ("m6", "lighting", "Thắp sáng đường quê", None, "residential", "proposed", "598", None, Point(107.8, 10.7)),
    ]
    df = pd.DataFrame(
        rows, columns=["id", "kind", "name", "field", "host", "status", "unit_code", "start_date", "geometry"]
    )
    return gpd.GeoDataFrame(df, geometry="geometry", crs=4326).set_index("id", drop=False).rename_axis(None)


def test_descendants_follow_parent_codes(units):
    assert descendant_codes(units, "598") == {"598", "23110", "23137", "23137-01", "23137-02", "23110-01"}
    assert descendant_codes(units, "23137-01") == {"23137-01"}
    with pytest.raises(NotFoundError):
        descendant_codes(units, "999")


def test_stats_of_a_district_count_the_models_below_it(units, models):
    s = model_stats(models, units, unit_code="598")
    assert s["unit"] == {"code": "598", "name": "Huyện Hàm Thuận Nam", "level": "district"}
    assert s["total"] == 5  # m5 belongs to the namesake commune of another district
    assert s["by_kind"] == {"camera": 2, "lighting": 1, "other": 1, "self_management": 1}
    assert s["by_host"] == {"residential": 4, "agency": 0, "enterprise": 0, "school": 1}
    assert s["by_status"] == {"active": 3, "inactive": 1, "proposed": 1}
    assert s["by_field"] == {
        "crime_prevention": 3,
        "subject_management": 0,
        "traffic_safety": 1,
        "ethnic_affairs": 0,
        "fire_prevention": 0,
        "unspecified": 1,
    }
    assert s["n_names"] == 4 and s["names"][0] == "Camera an ninh"
    assert s["n_fields"] == 2
    assert s["spatial"] == 3
    assert s["period"] is None and s["new"] is None


def test_stats_of_smaller_areas_and_of_everything(units, models):
    assert model_stats(models, units, unit_code="23137")["total"] == 3
    assert model_stats(models, units, unit_code="23137-02")["total"] == 1
    assert model_stats(models, units, unit_code="60")["total"] == 6
    everything = model_stats(models)
    assert everything["total"] == 6 and everything["unit"] is None
    assert everything["n_fields"] == 3


def test_new_models_in_a_period(units, models):
    s = model_stats(models, units, unit_code="598", since="2024-01-01", until="2024-12-31")
    assert s["new"] == 2 and s["period"] == {"since": "2024-01-01", "until": "2024-12-31"}
    assert model_stats(models, since="2024-06-01")["new"] == 2  # m3 and m5; open end
    assert model_stats(models, until="2020-12-31")["new"] == 1
    with pytest.raises(GeoAnttError, match="after"):
        model_stats(models, since="2025-01-01", until="2024-01-01")
    with pytest.raises(GeoAnttError, match="ISO date"):
        model_stats(models, since="31/12/2024")


def test_stats_errors(units, models):
    with pytest.raises(GeoAnttError, match="units frame"):
        model_stats(models, unit_code="598")
    with pytest.raises(NotFoundError):
        model_stats(models, units, unit_code="12345")


def test_resolve_unit_by_code_and_name(units):
    assert resolve_unit(units, "23137-01") == "23137-01"
    assert resolve_unit(units, "Huyện Hàm Thuận Nam") == "598"
    assert resolve_unit(units, "ham thuan nam") == "598"
    assert resolve_unit(units, "HÀM THUẬN NAM") == "598"
    assert resolve_unit(units, "thuan nam") == "23110"
    assert resolve_unit(units, "Hiệp Tiến") == "23137-01"
    # "Hàm Minh": two communes and a hamlet -> the communes (higher level) are still two
    with pytest.raises(GeoAnttError, match="23137.*23200"):
        resolve_unit(units, "Hàm Minh")
    assert resolve_unit(units, "Hàm Minh, Hàm Thuận Nam") == "23137"
    assert resolve_unit(units, "xa ham minh, tanh linh") == "23200"
    with pytest.raises(NotFoundError):
        resolve_unit(units, "Sơn Bình")


def test_format_stats_vi_and_en(units, models):
    s = model_stats(models, units, unit_code="598", since="2024-01-01")
    vi = format_stats(s)
    assert vi.splitlines()[0] == "Huyện Hàm Thuận Nam (598)"
    assert (
        "Có 5 mô hình với 4 tên gọi trên 2 lĩnh vực, trong đó 4 mô hình ở khu dân cư, 1 mô hình ở cơ sở giáo dục." in vi
    )
    assert "Camera an ninh 2" in vi and "Hoạt động 3" in vi and "Ngừng hoạt động 1" in vi
    assert "Mô hình mới xây dựng từ 2024-01-01 đến …: 2" in vi
    en = format_stats(s, lang="en")
    assert "5 models with 4 names in 2 fields (residential area 4, school 1)." in en
    assert "Security camera 2" in en and "Inactive 1" in en
    with pytest.raises(GeoAnttError):
        format_stats(s, lang="fr")


@pytest.fixture(scope="module")
def demo_frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    return load_frames(DEFAULT_DATA_DIR)


def test_ham_thuan_nam_reproduces_the_report_from_the_demo_data(demo_frames):
    units, models = demo_frames
    s = model_stats(models, units, unit_code=resolve_unit(units, "Hàm Thuận Nam"))
    assert s["unit"]["code"] == "598"
    assert s["total"] == 127
    assert s["n_names"] == 34
    assert s["n_fields"] == 5
    assert s["by_host"] == {"residential": 102, "agency": 6, "enterprise": 1, "school": 18}
    # the figures of the other reports
    tp = model_stats(models, units, unit_code="837")
    assert tp["by_host"]["agency"] + tp["by_host"]["enterprise"] + tp["by_host"]["school"] == 46
    gct = model_stats(models, units, unit_code="823")
    assert {"gate", "checkpoint", "lighting", "camera", "self_management"} <= set(gct["by_kind"])
    lien_hoa = model_stats(models, units, unit_code=resolve_unit(units, "Liên Hòa, Sơn Bình"))
    assert lien_hoa["by_kind"] == {"camera": lien_hoa["total"]} and lien_hoa["total"] >= 3


def test_cli_stats_json_and_text(capsys):
    assert cli.main(["stats", "--unit", "ham thuan nam", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["total"], out["n_names"], out["n_fields"]) == (127, 34, 5)
    assert cli.main(["stats", "--unit", "598", "--lang", "en"]) == 0
    assert "127 models with 34 names in 5 fields" in capsys.readouterr().out
    assert cli.main(["stats", "--unit", "Thạnh Phú"]) == 0  # the district wins over its township
    assert capsys.readouterr().out.startswith("Huyện Thạnh Phú (837)")
    assert cli.main(["stats", "--unit", "An Thạnh"]) == 1  # two communes of that name
    assert "28951" in capsys.readouterr().err
    assert cli.main(["stats", "--data", "/nonexistent/dir"]) == 1
    assert "/nonexistent/dir" in capsys.readouterr().err
