"""Conference report: figures, coverage tables, HTML/XLSX/PDF outputs, CLI."""

from __future__ import annotations

import datetime as dt
import math
import os
import re
from pathlib import Path

import geopandas as gpd
import pytest
import shapely

from geo_antt._errors import GeoAnttError, NotFoundError
from geo_antt.report import build_report, parse_period, previous_period, render_html, write_report
from geo_antt.schema import MODEL_COLUMNS
from geo_antt.units import units_under

UTM48 = "EPSG:32648"
X0, Y0 = 600_000.0, 1_120_000.0


def synthetic_dataset():
    """A district D1 with communes C1 (hamlets H11, H12) and C2 (hamlet H21), 200 m squares."""
    sq = lambda i, j: shapely.box(X0 + 200 * i, Y0 + 200 * j, X0 + 200 * (i + 1), Y0 + 200 * (j + 1))  # noqa: E731
    rows = [
        ("D1", "Huyện Thử", "district", None, shapely.union_all([sq(0, 0), sq(1, 0), sq(2, 0)])),
        ("C1", "Xã Một", "commune", "D1", shapely.union_all([sq(0, 0), sq(1, 0)])),
        ("C2", "Xã Hai", "commune", "D1", sq(2, 0)),
        ("H11", "Ấp Một A", "hamlet", "C1", sq(0, 0)),
        ("H12", "Ấp Một B", "hamlet", "C1", sq(1, 0)),
        ("H21", "Ấp Hai A", "hamlet", "C2", sq(2, 0)),
    ]
    units = gpd.GeoDataFrame(
        {
            "code": [r[0] for r in rows],
            "name": [r[1] for r in rows],
            "level": [r[2] for r in rows],
            "parent_code": [r[3] for r in rows],
            "approximate": [False] * len(rows),
            "valid_from": [None] * len(rows),
            "valid_to": [None] * len(rows),
        },
        geometry=[r[4] for r in rows],
        crs=UTM48,
    ).set_index("code", drop=False)
    units.index.name = "code"
    # id, kind, name, field, host, status, unit, x, y, direction, start, end
    M = [
        (
            "m1",
            "camera",
            "Camera an ninh",
            "crime_prevention",
            "residential",
            "active",
            "H11",
            100,
            100,
            (0.0,),
            "2023-03-01",
            None,
        ),
        (
            "m2",
            "camera",
            "Camera an ninh",
            "traffic_safety",
            "residential",
            "active",
            "H11",
            50,
            50,
            (90.0,),
            "2024-02-10",
            None,
        ),
        (
            "m3",
            "lighting",
            "Thắp sáng đường quê",
            "crime_prevention",
            "residential",
            "active",
            "H12",
            300,
            100,
            (),
            "2024-05-05",
            None,
        ),
        (
            "m4",
            "checkpoint",
            "Chốt dân phòng",
            "crime_prevention",
            "agency",
            "inactive",
            "H12",
            350,
            150,
            (),
            "2023-09-01",
            None,
        ),
        (
            "m5",
            "self_management",
            "Tổ tự quản",
            "subject_management",
            "residential",
            "active",
            "C2",
            None,
            None,
            (),
            "2024-03-01",
            None,
        ),
        (
            "m6",
            "camera",
            "Camera an ninh",
            "crime_prevention",
            "school",
            "active",
            "H21",
            500,
            100,
            (180.0,),
            "2025-01-01",
            None,
        ),
        (
            "m7",
            "lighting",
            "Thắp sáng đường quê",
            "fire_prevention",
            "enterprise",
            "inactive",
            "H21",
            450,
            50,
            (),
            "2022-01-01",
            "2023-12-01",
        ),
        ("m8", "other", "Gương sáng", "ethnic_affairs", "residential", "active", None, 420, 120, (), None, None),
    ]
    data = {c: [None] * len(M) for c in MODEL_COLUMNS}
    for k, m in enumerate(M):
        data["id"][k], data["kind"][k], data["name"][k], data["field"][k], data["host"][k] = (
            m[0],
            m[1],
            m[2],
            m[3],
            m[4],
        )
        data["status"][k], data["unit_code"][k], data["direction_deg"][k] = m[5], m[6], m[9]
        data["start_date"][k], data["end_date"][k] = m[10], m[11]
    for c in ("fov_deg", "range_m", "radius_m", "height_m"):
        data[c] = [math.nan] * len(M)
    geoms = [shapely.Point(X0 + m[7], Y0 + m[8]) if m[7] is not None else None for m in M]
    models = gpd.GeoDataFrame(data, geometry=geoms, crs=UTM48).set_index("id", drop=False)
    models.index.name = "id"
    return units.to_crs(4326), models.to_crs(4326)


# Expected for D1, period 2024-01-01:2024-06-30 (compare="before": 2023-07-03:2023-12-31, 182 days):
#   registered by 2024-06-30: m1 m2 m3 m4 m5 m7 m8 (m6 starts in 2025) = 7
#   new in the period: m2 m3 m5 = 3; active 5, inactive 2 (m4, m7); distinct names: Camera an
#   ninh, Thắp sáng đường quê, Chốt dân phòng, Tổ tự quản, Gương sáng = 5; fields: all 5
#   previous period end 2023-12-31: m1 m4 m7 m8 = 4 (active m1 m8), new: m4 = 1


def test_period_helpers():
    assert parse_period("2024-01-01:2024-09-30") == (dt.date(2024, 1, 1), dt.date(2024, 9, 30))
    # the same period a year earlier (the default), or the one just before
    assert previous_period(dt.date(2024, 1, 1), dt.date(2024, 6, 30)) == (dt.date(2023, 1, 1), dt.date(2023, 6, 30))
    assert previous_period(dt.date(2026, 1, 1), dt.date(2026, 1, 12)) == (dt.date(2025, 1, 1), dt.date(2025, 1, 12))
    assert previous_period(dt.date(2024, 2, 1), dt.date(2024, 2, 29)) == (dt.date(2023, 2, 1), dt.date(2023, 2, 28))
    assert previous_period(dt.date(2024, 1, 1), dt.date(2024, 6, 30), compare="before") == (
        dt.date(2023, 7, 3),
        dt.date(2023, 12, 31),
    )
    # longer than a year: the period just before
    assert previous_period(dt.date(2023, 1, 1), dt.date(2024, 6, 30)) == (dt.date(2021, 7, 3), dt.date(2022, 12, 31))
    with pytest.raises(GeoAnttError, match="compare"):
        previous_period(dt.date(2024, 1, 1), dt.date(2024, 6, 30), compare="month")
    with pytest.raises(GeoAnttError, match="START:END"):
        parse_period("2024-01-01")
    with pytest.raises(GeoAnttError, match="before"):
        parse_period("2024-02-01:2024-01-01")


def test_units_under():
    units, _ = synthetic_dataset()
    assert sorted(units_under(units, "C1").index) == ["C1", "H11", "H12"]
    assert len(units_under(units, "D1")) == 6
    assert list(units_under(units, "xa hai").index) == ["C2", "H21"]
    assert list(units_under(units, "Hai").index) == ["C2", "H21"]
    with pytest.raises(NotFoundError):
        units_under(units, "ZZ")


def test_report_figures_and_comparison():
    units, models = synthetic_dataset()
    rep = build_report(units, models, unit_code="D1", period="2024-01-01:2024-06-30", charts=False, compare="before")
    f, p = rep.figures, rep.prev_figures
    assert (f["n_models"], f["n_new"], f["n_active"], f["n_inactive"]) == (7, 3, 5, 2)
    assert (f["n_names"], f["n_fields"], f["n_communes"], f["n_hamlets"]) == (5, 5, 2, 3)
    assert (p["n_models"], p["n_new"], p["n_active"], p["n_inactive"]) == (4, 1, 2, 2)
    kinds = dict(zip(rep.by_kind.iloc[:, 0], rep.by_kind.iloc[:, 1]))
    assert kinds == {
        "Camera an ninh": 2,
        "Ánh sáng an ninh trật tự": 2,
        "Chốt dân phòng": 1,
        "Tổ nhân dân tự quản": 1,
        "Mô hình khác": 1,
    }
    hosts = dict(zip(rep.by_host.iloc[:, 0], rep.by_host.iloc[:, 1]))
    assert hosts == {"Khu dân cư": 5, "Cơ quan": 1, "Doanh nghiệp": 1}
    # coverage: only hamlets H11 (two cameras) and H12 (one light) are covered at the period end
    ham = rep.hamlets.set_index("Mã")
    assert ham.loc["H21", "Tỷ lệ phủ (%)"] == 0.0
    assert ham.loc["H11", "Tỷ lệ phủ (%)"] > 0 and ham.loc["H12", "Tỷ lệ phủ (%)"] > 0
    assert set(rep.uncovered["Mã"]) == {"H11", "H12", "H21"}  # all well below 50 %
    assert rep.uncovered["Mã"].iloc[0] == "H21"  # the most uncovered first
    # a light of radius 20 m covers pi * 20^2 of H12: 1256.6 / 40000 = 3.1 %
    assert ham.loc["H12", "Tỷ lệ phủ (%)"] == pytest.approx(100 * math.pi * 400 / 40_000, abs=0.1)


def test_the_report_compares_with_the_same_period_a_year_earlier():
    """By default the previous period is 2023-01-01:2023-06-30: registered by its end m1 m7 m8
    (m4 starts 2023-09-01) = 3, new m1 = 1, active m1 m8 = 2, inactive m7 = 1.
    """
    units, models = synthetic_dataset()
    rep = build_report(units, models, unit_code="D1", period="2024-01-01:2024-06-30", charts=False)
    p = rep.prev_figures
    assert (rep.prev_start, rep.prev_end) == (dt.date(2023, 1, 1), dt.date(2023, 6, 30))
    assert (p["n_models"], p["n_new"], p["n_active"], p["n_inactive"]) == (3, 1, 2, 1)


def test_report_html_contains_the_figures(tmp_path):
    units, models = synthetic_dataset()
    rep = build_report(units, models, unit_code="D1", period="2024-01-01:2024-06-30", compare="before")
    out = write_report(rep, tmp_path / "bao-cao.html")
    text = out.read_text(encoding="utf-8")
    assert "@page { size: A4" in text
    assert "Huyện Thử" in text and "01/01/2024 – 30/06/2024" in text
    row = lambda label: re.search(
        rf"<td>{re.escape(label)}</td><td class=\"num\">([^<]+)</td><td class=\"num\">([^<]+)</td>", text
    )  # noqa: E731
    assert row("Tổng số mô hình").groups() == ("7", "4")
    assert row("Mô hình mới trong kỳ").groups() == ("3", "1")
    assert row("Số tên mô hình khác nhau").groups()[0] == "5"
    assert row("Số lĩnh vực").groups()[0] == "5"
    assert text.count("data:image/png;base64,") == 3  # bar, histogram, map
    assert "Ấp Hai A" in text and "http" not in text.replace("http-equiv", "")
    en = render_html(
        build_report(units, models, unit_code="D1", period="2024-01-01:2024-06-30", lang="en", charts=False)
    )
    assert "Models in total" in en and "Coverage per hamlet" in en


def test_report_xlsx_has_one_sheet_per_table(tmp_path):
    from openpyxl import load_workbook

    units, models = synthetic_dataset()
    rep = build_report(units, models, unit_code="C1", period="2024-01-01:2024-06-30", charts=False)
    out = write_report(rep, tmp_path / "r.xlsx")
    wb = load_workbook(out)
    assert len(wb.sheetnames) == 9  # the last: coverage per camera tier
    assert wb.sheetnames[-1].startswith("Độ phủ theo mục đích")
    ws = wb[wb.sheetnames[0]]
    values = {r[0]: r[1] for r in ws.iter_rows(min_row=2, values_only=True)}
    assert values["Tổng số mô hình"] == 4  # m1 m2 m3 m4 in C1
    ham = wb[wb.sheetnames[6]]
    codes = {r[0] for r in ham.iter_rows(min_row=2, values_only=True)}
    assert codes == {"H11", "H12"}
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_report_pdf_pure_python(tmp_path):
    units, models = synthetic_dataset()
    rep = build_report(units, models, unit_code="D1", period="2024-01-01:2024-06-30")
    out = write_report(rep, tmp_path / "r.pdf", pdf_engine="matplotlib")
    data = out.read_bytes()
    assert data[:5] == b"%PDF-" and len(data) > 10_000


@pytest.mark.browser
@pytest.mark.skipif(not os.path.exists("/usr/bin/chromium"), reason="no /usr/bin/chromium")
def test_report_pdf_chromium_a4(tmp_path):
    units, models = synthetic_dataset()
    rep = build_report(units, models, unit_code="D1", period="2024-01-01:2024-06-30")
    out = write_report(rep, tmp_path / "r.pdf", pdf_engine="chromium")
    data = out.read_bytes()
    assert data[:5] == b"%PDF-"
    # A4 MediaBox = 595.92 x 842.88 pt (or 595 x 842)
    assert re.search(rb"/MediaBox \[0 0 59[45](\.\d+)? 84[12](\.\d+)?\]", data)


def test_models_with_codes_of_units_not_loaded_count_where_they_stand():
    units, models = synthetic_dataset()
    communes_only = units.loc[units["level"] != "hamlet"]
    rep = build_report(communes_only, models, unit_code="C1", period="2024-01-01:2024-06-30", charts=False)
    # m1..m4 stand in C1; their hamlet codes are unknown without the hamlet layer
    assert rep.figures["n_models"] == 4 and rep.figures["n_hamlets"] == 0
    assert rep.figures["covered_pct"] > 0 and len(rep.communes) == 1


def test_bad_format_and_unit(tmp_path):
    units, models = synthetic_dataset()
    with pytest.raises(NotFoundError):
        build_report(units, models, unit_code="NOPE", period="2024-01-01:2024-06-30")
    rep = build_report(units, models, unit_code="C2", period="2024-01-01:2024-06-30", charts=False)
    with pytest.raises(GeoAnttError, match="format"):
        write_report(rep, tmp_path / "r.docx")


DEMO_DIR = Path(__file__).resolve().parent.parent / "data"


@pytest.mark.skipif(not (DEMO_DIR / "dataset.toml").is_file(), reason="demo dataset not built")
def test_report_of_the_demo_ham_thuan_nam_shows_127_34_5(tmp_path, capsys):
    from geo_antt.cli import main

    out = tmp_path / "ham-thuan-nam.html"
    rc = main(
        [
            "report",
            "--data",
            str(DEMO_DIR),
            "--unit",
            "Hàm Thuận Nam",
            "--period",
            "2025-01-01:2025-06-30",
            "--format",
            "html",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    text = out.read_text(encoding="utf-8")
    first = lambda label: re.search(rf"<td>{re.escape(label)}</td><td class=\"num\">([^<]+)</td>", text).group(1)  # noqa: E731
    assert first("Tổng số mô hình") == "127"
    assert first("Số tên mô hình khác nhau") == "34"
    assert first("Số lĩnh vực") == "5"
    assert first("Số xã, phường, thị trấn") == "13"
    assert "Huyện Hàm Thuận Nam" in text
    assert "127 models" in capsys.readouterr().out
    # the 2025 communes: the 127 models summed through the crosswalk, Hàm Minh into Hàm Thuận Nam
    sec = text[text.index("id='communes-2025'") :]
    sec = sec[: sec.index("</section>")]
    cells = re.findall(
        r"<tr><td>(\d{5})</td><td>([^<]+)</td><td class=\"num\">(\d+)</td><td>([^<]+)</td><td class=\"num\">(\d+)</td>",
        sec,
    )
    assert len(cells) == 6 and sum(int(c[4]) for c in cells) == 127
    assert ("23110", "Xã Hàm Thuận Nam", "2", "23110, 23137") == cells[1][:4]
    xlsx = tmp_path / "htn.xlsx"
    assert (
        main(
            [
                "report",
                "--data",
                str(DEMO_DIR),
                "--unit",
                "598",
                "--period",
                "2025-01-01:2025-06-30",
                "--out",
                str(xlsx),
            ]
        )
        == 0
    )
    from openpyxl import load_workbook

    ws = load_workbook(xlsx).worksheets[0]
    values = {r[0]: r[1] for r in ws.iter_rows(min_row=2, values_only=True)}
    assert (values["Tổng số mô hình"], values["Số tên mô hình khác nhau"], values["Số lĩnh vực"]) == (127, 34, 5)


def test_chart_scale_follows_sparse_coverage():
    """Rural hamlets under 1 % covered get an enlarged axis (the bars are readable); once any
    value nears the threshold the axis is the full 0-100 %.
    """
    import pandas as pd

    from geo_antt.report.charts import _pct_scale

    assert _pct_scale(pd.Series([0.03, 0.7, 0.2]), 50.0) == pytest.approx(0.875)
    assert _pct_scale(pd.Series([0.0, 0.0]), 50.0) == pytest.approx(0.1)
    assert _pct_scale(pd.Series([3.0, 30.0]), 50.0) == 100.0
    assert _pct_scale(pd.Series([3.0, 12.0]), 20.0) == 100.0
    assert _pct_scale(pd.Series([], dtype=float), 50.0) == pytest.approx(0.1)


def test_coverage_classes_are_checked():
    from geo_antt.config import DEFAULT_SETTINGS, Settings

    assert DEFAULT_SETTINGS.coverage_classes_pct == (1.0, 5.0, 20.0, 50.0)
    assert Settings(coverage_classes_pct=(2, 10, 30, 60)).coverage_classes_pct == (2.0, 10.0, 30.0, 60.0)
    for bad in ((1, 5, 20), (5, 1, 20, 50), (0, 5, 20, 50), (1, 5, 20, 100), (1, 5, 5, 50)):
        with pytest.raises(ValueError, match="coverage_classes_pct"):
            Settings(coverage_classes_pct=bad)


@pytest.mark.parametrize("period", ["0001-01-01:0002-01-01", "2024-01-01:9999-12-31", "1899-12-31:1900-06-30"])
def test_periods_outside_the_dates_are_refused(period):
    # the previous period of 0001-01-01:0002-01-01 used to overflow (OverflowError: a 500)
    units, models = synthetic_dataset()
    with pytest.raises(GeoAnttError, match="outside the allowed range 1900-01-01 to 2200-12-31"):
        build_report(units, models, unit_code="D1", period=period, charts=False)
    with pytest.raises(GeoAnttError, match="outside the allowed range"):
        build_report(
            units,
            models,
            unit_code="D1",
            period=tuple(dt.date.fromisoformat(p) for p in period.split(":")),
            charts=False,
        )


def test_xlsx_stores_formula_like_text_as_text(tmp_path):
    from openpyxl import load_workbook

    units, models = synthetic_dataset()
    names = ['=HYPERLINK("http://x","y")', "+1+1", "-2", "@SUM(A1)", "\tTab", "\rCR"]
    for code, name in zip(["H11", "H12", "H21", "C1", "C2", "D1"], names):
        units.loc[code, "name"] = name
    rep = build_report(units, models, unit_code="D1", period="2024-01-01:2024-06-30", charts=False)
    out = write_report(rep, tmp_path / "r.xlsx")
    wb = load_workbook(out)
    cells = [c for ws in wb.worksheets for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    texts = {c.value for c in cells}
    assert names[0] in texts and "@SUM(A1)" in texts


def test_with_roads_the_report_measures_and_ranks_by_street(tmp_path):
    """Streets along the middle of each hamlet: the hamlet tables carry street figures, the
    uncovered list is ranked by street share with the rule stated, the summary gives the
    share of street length covered; the same figures as the engine's.
    """
    from geo_antt.coverage import compute_coverage

    units, models = synthetic_dataset()
    lines = [
        shapely.LineString([(X0 + 5, Y0 + 100), (X0 + 595, Y0 + 100)]),  # through H11, H12, H21
        shapely.LineString([(X0 + 300, Y0 + 5), (X0 + 300, Y0 + 195)]),
    ]  # across H12
    roads = gpd.GeoDataFrame(
        {"osm_id": ["w1", "w2"], "highway": "residential", "name": ["Đường Một", "Hẻm Hai"]}, geometry=lines, crs=UTM48
    ).to_crs(4326)
    rep = build_report(
        units,
        models,
        unit_code="D1",
        period="2024-01-01:2024-06-30",
        lang="vi",
        charts=False,
        roads=roads,
        threshold_pct=101.0,
    )  # every hamlet listed
    L_road_pct, L_unc = "Tỷ lệ đường được phủ (%)", "Đường chưa phủ (km)"
    assert {"Đường (km)", "Đường được phủ (km)", L_road_pct} <= set(rep.hamlets.columns)
    hamlets = units.loc[units["level"] == "hamlet"]
    state = models.loc[models["status"] == "active"]
    engine = compute_coverage(hamlets, state, roads=roads).units
    got = rep.hamlets.set_index("Mã")
    for code in hamlets.index:
        assert got.loc[code, "Đường (km)"] == pytest.approx(engine.loc[code, "road_m"] / 1e3, abs=1e-3)
        assert got.loc[code, L_road_pct] == pytest.approx(engine.loc[code, "road_covered_pct"], abs=0.01)
    assert list(rep.uncovered.columns[-2:]) == [L_road_pct, L_unc]
    shares = list(rep.uncovered[L_road_pct])
    assert shares == sorted(shares)  # least covered street share first
    summary = dict(zip(rep.summary.iloc[:, 0], rep.summary.iloc[:, 1]))
    total = 100 * engine["road_covered_m"].sum() / engine["road_m"].sum()
    assert summary["Tỷ lệ chiều dài đường được phủ (%)"] == pytest.approx(total, abs=1e-3)
    assert "Xếp theo tỷ lệ chiều dài đường được phủ" in render_html(rep)
    plain = build_report(units, models, unit_code="D1", period="2024-01-01:2024-06-30", lang="vi", charts=False)
    assert "Đường (km)" not in plain.hamlets.columns and "Xếp theo tỷ lệ diện tích" in render_html(plain)


def test_report_writes_numbers_as_the_web():
    """One formatter (geo_antt/numbers.py): the Vietnamese report writes comma decimals, the
    English one dots; a small covered share is never 0.
    """
    from geo_antt.report.html import _fmt
    from geo_antt.report.strings import _t

    units, models = synthetic_dataset()
    vi = build_report(units, models, unit_code="D1", period="2024-01-01:2024-06-30", charts=False)
    text = render_html(vi)
    cells = re.findall(r'<td class="num">([^<]+)</td>', text)
    decimals = [c for c in cells if re.search(r"\d[.,]\d", c)]
    assert decimals and all(re.fullmatch(r"-?[\d.]*\d(,\d+)?", c) for c in decimals), decimals
    assert any("," in c for c in decimals)
    en = render_html(
        build_report(units, models, unit_code="D1", period="2024-01-01:2024-06-30", lang="en", charts=False)
    )
    en_cells = re.findall(r'<td class="num">([^<]+)</td>', en)
    assert any(re.fullmatch(r"\d+\.\d+", c) for c in en_cells) and not any(
        re.fullmatch(r"\d+,\d{1,2}", c) for c in en_cells
    )
    assert (_fmt(0.865, "vi"), _fmt(27.98, "vi"), _fmt(1737, "vi"), _fmt(0.0041, "vi")) == (
        "0,865",
        "27,98",
        "1.737",
        "0,0041",
    )
    # a share of 0.004 % stays 0.004 in the tables (rounded to 2 decimals it would read 0)
    pct = vi.hamlets[_t("vi")["pct"]]
    assert not ((pct == 0) & (vi.hamlets[_t("vi")["covered_km2"]] > 0)).any()


def test_models_imported_in_the_period_count_as_new():
    """A model without a start date counts as new on the day it was registered in the store
    (``created_at``, Vietnam time): the cameras imported that day are "mới trong kỳ".
    """
    import pandas as pd

    units, models = synthetic_dataset()
    models = models.copy()
    models.loc[["m1", "m8"], "start_date"] = None
    models["created_at"] = pd.Timestamp("2023-01-01T00:00:00Z")
    # m8 imported on 2024-06-30 at 20:00 Vietnam time (13:00 UTC): in the period
    models["created_at"] = models["created_at"].astype("datetime64[ns, UTC]")
    models.loc["m8", "created_at"] = pd.Timestamp("2024-06-30T13:00:00Z")
    rep = build_report(units, models, unit_code="D1", period="2024-01-01:2024-06-30", charts=False, compare="before")
    assert rep.figures["n_new"] == 4  # m2 m3 m5 by their start dates, m8 by its import
    # on 2024-06-30 at 17:30 UTC it is already 1 July in Vietnam: not in the period
    models.loc["m8", "created_at"] = pd.Timestamp("2024-06-30T17:30:00Z")
    rep = build_report(units, models, unit_code="D1", period="2024-01-01:2024-06-30", charts=False, compare="before")
    assert rep.figures["n_new"] == 3


def test_report_map_heading_stays_with_the_map_and_the_map_has_labels_and_a_scale():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    from geo_antt.crs import to_metric
    from geo_antt.report.charts import _scale_bar, _unit_labels

    units, models = synthetic_dataset()
    html_text = render_html(build_report(units, models, unit_code="D1", period="2024-01-01:2024-06-30", charts=False))
    assert "h2 { break-after: avoid;" in html_text and ".keep { break-inside: avoid;" in html_text
    assert re.search(r"<section id='map'><div class='keep'><h2>Bản đồ độ phủ", html_text)
    hamlets = to_metric(units.loc[units["level"] == "hamlet"])
    fig, ax = plt.subplots()
    hamlets.plot(ax=ax)
    _unit_labels(ax, hamlets)
    _scale_bar(ax, "vi")
    texts = [t.get_text() for t in ax.texts]
    plt.close(fig)
    assert {"Ấp Một A", "Ấp Một B", "Ấp Hai A"} <= set(texts)
    assert any(re.fullmatch(r"\d+ m", t) for t in texts), texts  # the map is 600 m wide: a 100 m bar


def test_one_table_of_coverage_per_camera_tier(tmp_path):
    """Camera m1 (H11, north, default 90 degrees) has 1920 px, m2 has no resolution: per tier,
    m1 covers a quarter disc of 1920 / (2 p) metres, m2 keeps its 20 m and the light m3 its
    20 m disc; 3 hamlets of 200 m x 200 m.
    """
    units, models = synthetic_dataset()
    models["resolution_px"] = models["resolution_px"].astype(object)
    models.loc[models["id"] == "m1", "resolution_px"] = 1920.0
    rep = build_report(units, models, unit_code="D1", period="2024-01-01:2024-06-30", charts=False)
    tbl = rep.tiers.set_index("Mục đích")
    assert list(tbl.index) == ["Tầm xa ghi nhận", "Phát hiện", "Quan sát", "Nhận biết", "Nhận dạng"]
    others = math.pi * 20**2 / 4 + math.pi * 20**2  # m2 (tier unknown) and the light
    for name, ppm, reach in (
        ("Tầm xa ghi nhận", "—", 20.0),
        ("Phát hiện", 25.0, 38.4),
        ("Quan sát", 62.0, 1920 / 124),
        ("Nhận biết", 125.0, 7.68),
        ("Nhận dạng", 250.0, 3.84),
    ):
        covered = math.pi * reach**2 / 4 + others
        assert tbl.loc[name, "Mật độ điểm ảnh (px/m)"] == ppm
        assert tbl.loc[name, "Được phủ (km²)"] == pytest.approx(covered / 1e6, abs=5e-5)
        assert tbl.loc[name, "Tỷ lệ phủ (%)"] == pytest.approx(100 * covered / 120_000, abs=1e-3)
        assert tbl.loc[name, "Camera chưa rõ độ phân giải"] == ("—" if ppm == "—" else 1)
    assert "Độ phủ theo mục đích của camera" in render_html(rep)
    lights_only = models.loc[~models["kind"].isin(["camera"])]
    assert build_report(units, lights_only, unit_code="D1", period="2024-01-01:2024-06-30", charts=False).tiers.empty
