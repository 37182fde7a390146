"""The review-conference report (báo cáo sơ kết / tổng kết) of a unit for a period.

:func:`build_report` gathers the movement's figures for a unit (a province, district or commune
and everything under it) and a period: models by kind, field and host; models new in the period
(by ``start_date``); active versus inactive; distinct names; coverage per commune and hamlet
(from :func:`geo_antt.coverage.compute_coverage`) with the list of uncovered hamlets; and the same
figures for the previous period of the same length. :func:`render_html` makes a printable A4
page (charts and a map drawn with matplotlib, embedded as base64 PNG, no external asset);
:func:`write_report` writes HTML, PDF (headless Chromium when present, else matplotlib's PDF
backend) or XLSX (openpyxl, one sheet per table), atomically.

A model counts in a period ending on ``end`` when it was registered by then (``start_date`` on
or before ``end``, or unknown), whatever its status (the active/inactive split is shown); it is
"new" when its ``start_date`` falls inside the period. Coverage uses the models with status
active at the end of the period and not ended by then (``end_date`` missing or later). Units
"registered as safe" are read from the models so named ("Khu dân cư / Cơ quan / Trường học /
Doanh nghiệp an toàn về an ninh trật tự"): the share of hamlets holding an active residential
one, and the number of agencies, enterprises and schools holding one.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import geopandas as gpd
import numpy as np
import pandas as pd

from .io import write_atomic
from ._xlsx import append_text_row
from ._errors import GeoAnttError
from ._time import VIETNAM_TZ
from .config import COVERAGE_COLOURS, DEFAULT_SETTINGS, Settings
from .layers import LayerSpec, load_layer_specs
from .schema import FIELDS, HOSTS, STATUSES
from .text import fold, nfc

__all__ = [
    "FORMATS",
    "Report",
    "check_period",
    "parse_period",
    "previous_period",
    "build_report",
    "render_html",
    "write_report",
    "units_under",
    "resolve_code",
]

FORMATS = ("html", "pdf", "xlsx")
CHROMIUM = "/usr/bin/chromium"

_LABELS: dict[str, dict[str, str]] = {
    "vi": {
        "title": "Báo cáo phong trào Toàn dân bảo vệ an ninh Tổ quốc",
        "period": "Kỳ báo cáo",
        "previous": "Kỳ trước",
        "generated": "Lập ngày",
        "summary": "Số liệu chung",
        "figure": "Chỉ tiêu",
        "value": "Giá trị",
        "this_period": "Kỳ này",
        "prev_period": "Kỳ trước",
        "change": "Thay đổi",
        "n_models": "Tổng số mô hình",
        "n_new": "Mô hình mới trong kỳ",
        "n_active": "Đang hoạt động",
        "n_inactive": "Ngừng hoạt động",
        "n_proposed": "Đề xuất",
        "n_names": "Số tên mô hình khác nhau",
        "n_fields": "Số lĩnh vực",
        "n_communes": "Số xã, phường, thị trấn",
        "n_hamlets": "Số thôn, ấp, khu phố",
        "covered_pct": "Tỷ lệ diện tích được phủ (%)",
        "n_uncovered": "Số thôn, ấp chưa được phủ",
        "safe_share": "Tỷ lệ thôn, ấp có mô hình khu dân cư an toàn về ANTT (%)",
        "n_safe_places": "Cơ quan, doanh nghiệp, trường học an toàn về ANTT",
        "not_recorded": "chưa ghi nhận",
        "by_kind": "Mô hình theo loại",
        "by_field": "Mô hình theo lĩnh vực",
        "by_host": "Mô hình theo nơi thực hiện",
        "by_status": "Mô hình theo trạng thái",
        "kind": "Loại",
        "field": "Lĩnh vực",
        "host": "Nơi thực hiện",
        "status": "Trạng thái",
        "count": "Số lượng",
        "new": "Mới trong kỳ",
        "unknown": "Không rõ",
        "coverage_communes": "Độ phủ theo xã",
        "coverage_hamlets": "Độ phủ theo thôn, ấp",
        "uncovered_list": "Thôn, ấp chưa được phủ (dưới {t} %)",
        "none": "Không có.",
        "code": "Mã",
        "name": "Tên",
        "parent": "Thuộc",
        "area_km2": "Diện tích (km²)",
        "covered_km2": "Được phủ (km²)",
        "uncovered_km2": "Chưa phủ (km²)",
        "pct": "Tỷ lệ phủ (%)",
        "rank": "Thứ tự",
        "charts": "Biểu đồ",
        "chart_bar": "Tỷ lệ phủ theo xã (%)",
        "chart_hist": "Phân bố tỷ lệ phủ của thôn, ấp",
        "chart_hist_x": "Tỷ lệ phủ (%)",
        "chart_hist_y": "Số thôn, ấp",
        "chart_scaled": "thang phóng to; ngưỡng {thr:g} % ở ngoài",
        "map": "Bản đồ độ phủ",
        "map_caption": "Màu: tỷ lệ phủ (%); gạch đỏ: vùng chưa được phủ; chấm và vùng xanh đậm: mô hình đang hoạt động và vùng phủ của chúng.",
        "comparison": "So sánh với kỳ trước",
        "communes_2025": "Tổng hợp theo xã sau sắp xếp (từ 1/7/2025)",
        "n_old": "Số xã cũ",
        "note_2025": "Chỉ cộng các xã cũ có trong báo cáo này; xã mới còn gồm phần của đơn vị khác thì số liệu chưa đủ. Ánh xạ: gói vietnamadminunits.",
        "old_codes": "Mã xã cũ",
        "approximate": "Ranh giới thôn, ấp là ước lượng, chỉ dùng minh họa.",
        "sheet_summary": "Tong hop",
    },
    "en": {
        "title": "Report of the movement \"All people protect national security\"",
        "period": "Reporting period",
        "previous": "Previous period",
        "generated": "Generated",
        "summary": "Key figures",
        "figure": "Figure",
        "value": "Value",
        "this_period": "This period",
        "prev_period": "Previous period",
        "change": "Change",
        "n_models": "Models in total",
        "n_new": "New models in the period",
        "n_active": "Active",
        "n_inactive": "Inactive",
        "n_proposed": "Proposed",
        "n_names": "Distinct model names",
        "n_fields": "Fields",
        "n_communes": "Communes",
        "n_hamlets": "Hamlets",
        "covered_pct": "Area covered (%)",
        "n_uncovered": "Uncovered hamlets",
        "safe_share": "Hamlets with a \"safe residential area\" model (%)",
        "n_safe_places": "Agencies, enterprises, schools registered as safe",
        "not_recorded": "not recorded",
        "by_kind": "Models by kind",
        "by_field": "Models by field",
        "by_host": "Models by host",
        "by_status": "Models by status",
        "kind": "Kind",
        "field": "Field",
        "host": "Host",
        "status": "Status",
        "count": "Count",
        "new": "New in period",
        "unknown": "Unknown",
        "coverage_communes": "Coverage per commune",
        "coverage_hamlets": "Coverage per hamlet",
        "uncovered_list": "Uncovered hamlets (below {t} %)",
        "none": "None.",
        "code": "Code",
        "name": "Name",
        "parent": "Parent",
        "area_km2": "Area (km²)",
        "covered_km2": "Covered (km²)",
        "uncovered_km2": "Uncovered (km²)",
        "pct": "Covered (%)",
        "rank": "Rank",
        "charts": "Charts",
        "chart_bar": "Coverage per commune (%)",
        "chart_hist": "Distribution of hamlet coverage",
        "chart_hist_x": "Covered (%)",
        "chart_hist_y": "Hamlets",
        "chart_scaled": "scale enlarged; the {thr:g} % threshold lies beyond it",
        "map": "Coverage map",
        "map_caption": "Colour: covered share (%); red hatching: uncovered areas; dark blue dots and areas: active models and their footprints.",
        "comparison": "Comparison with the previous period",
        "communes_2025": "Totals per commune after the 1 July 2025 merger",
        "n_old": "Former communes",
        "note_2025": "Only the former communes of this report are summed; a new commune that also took in other units is partial. Mapping: the vietnamadminunits package.",
        "old_codes": "Former codes",
        "approximate": "Hamlet boundaries are approximate, for illustration only.",
        "sheet_summary": "Summary",
    },
}


def _t(lang: str) -> Mapping[str, str]:
    if lang not in _LABELS:
        raise GeoAnttError(f"language must be 'vi' or 'en', got {lang!r}")
    return _LABELS[lang]


# --------------------------------------------------------------------------------------------
# period and unit selection


def parse_period(text: str) -> tuple[dt.date, dt.date]:
    """Parse ``"YYYY-MM-DD:YYYY-MM-DD"`` (inclusive) into two dates.

    Raises
    ------
    GeoAnttError
        When the text is not two ISO dates or the end precedes the start.
    """
    try:
        a, b = str(text).split(":")
        start, end = dt.date.fromisoformat(a.strip()), dt.date.fromisoformat(b.strip())
    except ValueError:
        raise GeoAnttError(f"period must be START:END in ISO dates, e.g. 2024-01-01:2024-09-30; got {text!r}") from None
    if end < start:
        raise GeoAnttError(f"period {text!r} ends before it starts")
    check_period(start, end)
    return start, end


# Dates a report period may span: the previous period of the same length must stay inside the
# dates Python and pandas represent (pandas: 1677-09-22 to 2262-04-11).
PERIOD_MIN = dt.date(1900, 1, 1)
PERIOD_MAX = dt.date(2200, 12, 31)


def check_period(start: dt.date, end: dt.date) -> None:
    """Raise :class:`GeoAnttError` unless ``start``..``end`` lies within 1900-01-01..2200-12-31.

    Raises
    ------
    GeoAnttError
        When a date is outside that range (naming the date and the range) or the end precedes
        the start.
    """
    for what, day in (("start", start), ("end", end)):
        if not PERIOD_MIN <= day <= PERIOD_MAX:
            raise GeoAnttError(
                f"period {what} {day.isoformat()} is outside the allowed range "
                f"{PERIOD_MIN.isoformat()} to {PERIOD_MAX.isoformat()}"
            )
    if end < start:
        raise GeoAnttError(f"period {start.isoformat()}:{end.isoformat()} ends before it starts")


COMPARE_RULES = ("year", "before")


def _year_earlier(day: dt.date) -> dt.date:
    """The same day a year earlier (29 February -> 28 February)."""
    try:
        return day.replace(year=day.year - 1)
    except ValueError:
        return day.replace(year=day.year - 1, day=28)


def previous_period(start: dt.date, end: dt.date, *, compare: str = "year") -> tuple[dt.date, dt.date]:
    """The period ``start``..``end`` is compared with.

    ``compare="year"`` (default): the same dates a year earlier (01/01-12/01/2026 against
    01/01-12/01/2025: the review conferences compare with the same period of last year); a period
    longer than a year is compared with the one just before it. ``compare="before"``: the period
    of the same length (in days) just before ``start``.
    """
    if compare not in COMPARE_RULES:
        raise GeoAnttError(f"compare={str(compare)[:40]!r}: use one of {', '.join(COMPARE_RULES)}")
    if compare == "year" and (end - start).days < 366 and _year_earlier(end) < start:
        return _year_earlier(start), _year_earlier(end)
    days = (end - start).days + 1
    pend = start - dt.timedelta(days=1)
    return pend - dt.timedelta(days=days - 1), pend


def resolve_code(units: pd.DataFrame, query: str) -> str:
    """The code of the unit ``query`` names: a code, or a name matched without diacritics and
    with or without its type word ("Hàm Thuận Nam", "huyen ham thuan nam").

    Raises
    ------
    NotFoundError
        When no unit (or more than one) matches.
    """
    if str(query) in set(units.index.astype(str)):
        return str(query)
    from .stats import resolve_unit

    return str(resolve_unit(units, str(query)))


def units_under(units: pd.DataFrame, code: str) -> pd.DataFrame:
    """The unit ``code`` and all its descendants (through ``parent_code``).

    Raises
    ------
    NotFoundError
        When ``code`` is not a unit.
    """
    idx = units.index.astype(str)
    code = resolve_code(units, code)
    parent = units["parent_code"].astype("string").fillna("") if "parent_code" in units.columns else pd.Series("", index=units.index)
    keep = {str(code)}
    frontier = {str(code)}
    while frontier:
        children = set(idx[parent.isin(frontier).to_numpy()]) - keep
        keep |= children
        frontier = children
    return units.loc[idx.isin(keep)]


def _dates(s: pd.Series | None, n: int) -> pd.Series:
    if s is None:
        return pd.Series(pd.NaT, index=range(n))
    return pd.to_datetime(s.astype("string"), errors="coerce", format="mixed")


def _models_in(models: gpd.GeoDataFrame, scope: pd.DataFrame, all_codes: set[str]) -> gpd.GeoDataFrame:
    """Models of the units in ``scope``: by ``unit_code``; a model whose code is missing or
    names no known unit (e.g. hamlet codes with only commune boundaries loaded) counts where it
    stands."""
    codes = set(scope.index.astype(str))
    uc = models["unit_code"].astype("string") if "unit_code" in models.columns else pd.Series(pd.NA, index=models.index, dtype="string")
    inside = uc.isin(codes).fillna(False).to_numpy(dtype=bool)
    unknown = (uc.isna() | ~uc.isin(all_codes).fillna(False)).to_numpy(dtype=bool)
    loose = unknown & models.geometry.notna().to_numpy()
    if loose.any() and isinstance(scope, gpd.GeoDataFrame) and len(scope) and models.crs is not None:
        geo = scope.loc[scope.geometry.notna()]
        if len(geo):
            area = geo.to_crs(models.crs).union_all()
            inside = inside | (loose & models.geometry.intersects(area).to_numpy())
    return models.loc[inside]


def _state_at(models: gpd.GeoDataFrame, end: dt.date) -> gpd.GeoDataFrame:
    """Models registered by ``end`` (``start_date`` on or before it, or unknown), any status."""
    start = _dates(models.get("start_date"), len(models))
    start.index = models.index
    keep = start.isna() | (start <= pd.Timestamp(end))
    return models.loc[keep.to_numpy()]


def _counting_at(state: gpd.GeoDataFrame, end: dt.date) -> gpd.GeoDataFrame:
    """Models of ``state`` that count toward coverage on ``end``: active and not ended."""
    stop = _dates(state.get("end_date"), len(state))
    stop.index = state.index
    status = state["status"].astype("string") if "status" in state.columns else pd.Series("active", index=state.index)
    keep = (status == "active").fillna(False) & (stop.isna() | (stop > pd.Timestamp(end)))
    return state.loc[keep.to_numpy()]


def _new_in(models: gpd.GeoDataFrame, start: dt.date, end: dt.date) -> gpd.GeoDataFrame:
    s = _dates(models.get("start_date"), len(models))
    s.index = models.index
    return models.loc[((s >= pd.Timestamp(start)) & (s <= pd.Timestamp(end))).to_numpy()]


# --------------------------------------------------------------------------------------------
# figures


@dataclass
class Report:
    """Everything a report shows; tables are pandas frames with display-ready columns."""

    unit_code: str
    unit_name: str
    lang: str
    start: dt.date
    end: dt.date
    prev_start: dt.date
    prev_end: dt.date
    summary: pd.DataFrame  # figure, this period, previous period, change
    by_kind: pd.DataFrame
    by_field: pd.DataFrame
    by_host: pd.DataFrame
    by_status: pd.DataFrame
    communes: pd.DataFrame
    hamlets: pd.DataFrame
    uncovered: pd.DataFrame
    threshold_pct: float
    communes_2025: pd.DataFrame = field(default_factory=pd.DataFrame)
    coverage_classes_pct: tuple[float, ...] = DEFAULT_SETTINGS.coverage_classes_pct
    approximate: bool = False
    figures: dict[str, Any] = field(default_factory=dict)
    prev_figures: dict[str, Any] = field(default_factory=dict)
    charts: dict[str, bytes] = field(default_factory=dict)


def _vocab_label(vocab, code, lang: str, unknown: str) -> str:
    if code is None or (isinstance(code, float) and math.isnan(code)) or code is pd.NA or code == "":
        return unknown
    if code in vocab:
        vi, en, _ = vocab[code]
        return en if lang == "en" else vi
    return str(code)


def _count_table(models, new, column, labeler, head: str, L) -> pd.DataFrame:
    if column in models.columns:
        keys = models[column].astype("string").fillna("")
        new_keys = new[column].astype("string").fillna("") if column in new.columns else pd.Series(dtype="string")
    else:
        keys = pd.Series([""] * len(models), dtype="string")
        new_keys = pd.Series([""] * len(new), dtype="string")
    counts = keys.value_counts()
    new_counts = new_keys.value_counts()
    rows = [(labeler(k or None), int(counts[k]), int(new_counts.get(k, 0))) for k in counts.index]
    out = pd.DataFrame(rows, columns=[head, L["count"], L["new"]])
    return out.sort_values([L["count"], head], ascending=[False, True], kind="stable").reset_index(drop=True)


_SAFE = "an toan ve an ninh trat tu"


def _figures(models_scope, start, end, L, hamlet_codes=()) -> dict[str, Any]:
    state = _state_at(models_scope, end)
    new = _new_in(models_scope, start, end)
    status = state["status"].astype("string") if "status" in state.columns else pd.Series(dtype="string")
    names = state["name"].dropna().map(fold) if "name" in state.columns else pd.Series(dtype=str)
    fields = state["field"].dropna().astype(str) if "field" in state.columns else pd.Series(dtype=str)
    return {
        "n_models": int(len(state)),
        "n_new": int(len(new)),
        "n_active": int((status == "active").sum()),
        "n_inactive": int((status == "inactive").sum()),
        "n_proposed": int((status == "proposed").sum()),
        "n_names": int(names[names != ""].nunique()),
        "n_fields": int(fields[fields != ""].nunique()),
        **_safe_figures(state, hamlet_codes),
        "_state": state,
        "_new": new,
    }


def _safe_figures(state, hamlet_codes) -> dict[str, Any]:
    """Units and places registered as "safe" (an toàn về an ninh trật tự): models so named."""
    if "name" not in state.columns or not len(state):
        return {"safe_share": None if not len(hamlet_codes) else 0.0, "n_safe_places": 0}
    active = (state["status"] == "active") if "status" in state.columns else pd.Series(True, index=state.index)
    safe = state.loc[(state["name"].map(fold).str.contains(_SAFE, regex=False).fillna(False) & active).to_numpy()]
    host = safe["host"].astype("string") if "host" in safe.columns else pd.Series(pd.NA, index=safe.index, dtype="string")
    places = int(host.isin(["agency", "enterprise", "school"]).fillna(False).sum())
    share = None
    if len(hamlet_codes):
        residential = safe.loc[~host.isin(["agency", "enterprise", "school"]).fillna(False).to_numpy()]
        codes = set(residential["unit_code"].dropna().astype(str)) & set(hamlet_codes)
        share = round(100.0 * len(codes) / len(hamlet_codes), 1)
    return {"safe_share": share, "n_safe_places": places}


def _coverage_tables(level_units, state, *, specs, settings, threshold_pct, parent_names):
    from .coverage import compute_coverage
    from .placement import rank_uncovered

    if level_units is None or len(level_units) == 0:
        return None, None
    res = compute_coverage(level_units, state, specs=specs, settings=settings)
    cov = res.units
    ranked = rank_uncovered(cov, threshold_pct=threshold_pct)
    return res, ranked


def _coverage_frame(res, ranked, level_units, L, parent_names) -> pd.DataFrame:
    cov = res.units
    names = level_units["name"].reindex(cov.index) if "name" in level_units.columns else pd.Series("", index=cov.index)
    parents = level_units["parent_code"].reindex(cov.index).map(lambda c: parent_names.get(str(c), str(c)) if pd.notna(c) else "")
    out = pd.DataFrame(
        {
            L["code"]: cov.index.astype(str),
            L["name"]: names.to_numpy(),
            L["parent"]: parents.to_numpy(),
            L["area_km2"]: (cov["area_m2"].astype(float) / 1e6).round(3).to_numpy(),
            L["covered_km2"]: (cov["covered_m2"].astype(float) / 1e6).round(4).to_numpy(),
            L["pct"]: cov["covered_pct"].astype(float).round(2).to_numpy(),
        }
    )
    return out.sort_values(L["pct"], kind="stable").reset_index(drop=True)


def _overall_pct(res) -> float | None:
    if res is None:
        return None
    a = float(res.units["area_m2"].sum())
    return round(100.0 * float(res.units["covered_m2"].sum()) / a, 3) if a > 0 else None


def _pre2025(communes: pd.DataFrame) -> bool:
    """True when the communes are pre-reform units (all end by 30 June 2025)."""
    if "valid_to" not in communes.columns or communes.empty:
        return False
    vt = pd.to_datetime(communes["valid_to"].astype("string"), errors="coerce")
    return bool(vt.notna().all() and (vt < pd.Timestamp("2025-07-01")).all())


def _communes_2025_table(communes, units, state, c_res, L) -> pd.DataFrame:
    """Per-commune figures summed to the 2025 communes through the crosswalk."""
    from ._errors import NotFoundError
    from .crosswalk import aggregate_to_2025

    if c_res is None or not _pre2025(communes):
        return pd.DataFrame()
    # the commune each model belongs to (its unit or an ancestor)
    parent = units["parent_code"].astype("string").reindex(units.index)
    ccodes = set(communes.index.astype(str))

    def commune_of(code):
        seen = 0
        while code is not None and not pd.isna(code) and seen < 8:
            if str(code) in ccodes:
                return str(code)
            code = parent.get(str(code))
            seen += 1
        return None

    owner = state["unit_code"].map(commune_of) if "unit_code" in state.columns else pd.Series(dtype=object)
    n_models = owner.value_counts()
    cov = c_res.units
    figs = pd.DataFrame(
        {
            "n_models": n_models.reindex(cov.index.astype(str)).fillna(0).astype(int).to_numpy(),
            "area_m2": cov["area_m2"].astype(float).to_numpy(),
            "covered_m2": cov["covered_m2"].astype(float).to_numpy(),
        },
        index=cov.index.astype(str),
    )
    try:
        agg = aggregate_to_2025(figs)
    except NotFoundError:
        return pd.DataFrame()
    return pd.DataFrame(
        {
            L["code"]: agg.index.astype(str),
            L["name"]: agg["new_name"].to_numpy(),
            L["n_old"]: agg["n_old"].to_numpy(),
            L["old_codes"]: agg["old_codes"].to_numpy(),
            L["n_models"]: agg["n_models"].to_numpy(),
            L["area_km2"]: (agg["area_m2"] / 1e6).round(3).to_numpy(),
            L["pct"]: (100.0 * agg["covered_m2"] / agg["area_m2"].where(agg["area_m2"] > 0)).round(2).to_numpy(),
        }
    )


def build_report(
    units: gpd.GeoDataFrame,
    models: gpd.GeoDataFrame,
    *,
    unit_code: str,
    period: tuple[dt.date, dt.date] | str,
    lang: str = "vi",
    specs: Mapping[str, LayerSpec] | None = None,
    settings: Settings | None = None,
    threshold_pct: float | None = None,
    approximate: bool | None = None,
    charts: bool = True,
    compare: str = "year",
) -> Report:
    """Gather the figures of ``unit_code`` (and everything under it) for ``period``.

    Parameters
    ----------
    units, models
        Units of every level (``UNIT_COLUMNS``) and the models (``MODEL_COLUMNS``), EPSG:4326.
    unit_code
        Code (or exact name) of the reported unit: a province, district or commune.
    period
        ``(start, end)`` dates, inclusive, or ``"YYYY-MM-DD:YYYY-MM-DD"``.
    lang
        "vi" (default) or "en".
    specs, settings
        Layer specs and settings (defaults: the project's).
    threshold_pct
        Hamlets below this covered share are listed as uncovered (default: settings).
    approximate
        Print the "approximate boundaries" note (default: any unit flagged ``approximate``).
    charts
        Draw the charts and the map (matplotlib).

    Returns
    -------
    Report
    """
    L = _t(lang)
    specs = specs if specs is not None else load_layer_specs()
    settings = settings or DEFAULT_SETTINGS
    threshold = float(settings.uncovered_threshold_pct if threshold_pct is None else threshold_pct)
    start, end = parse_period(period) if isinstance(period, str) else period
    check_period(start, end)
    pstart, pend = previous_period(start, end, compare=compare)
    code = resolve_code(units, unit_code)
    scope = units_under(units, code)
    root = scope.loc[scope.index.astype(str) == code]
    unit_name = nfc(str(root["name"].iloc[0])) if "name" in root.columns else code
    level = scope["level"].astype(str) if "level" in scope.columns else pd.Series("", index=scope.index)
    communes = scope.loc[(level == "commune").to_numpy()]
    hamlets = scope.loc[(level == "hamlet").to_numpy()]
    models_scope = _models_in(models, scope, set(units.index.astype(str)))
    hamlet_codes = tuple(hamlets.index.astype(str))
    cur = _figures(models_scope, start, end, L, hamlet_codes)
    prev = _figures(models_scope, pstart, pend, L, hamlet_codes)
    parent_names = {str(k): nfc(str(v)) for k, v in units["name"].items()} if "name" in units.columns else {}

    kind_label = lambda k: (specs[k].title(lang) if k in specs else (str(k) if k else L["unknown"]))  # noqa: E731
    state, new = cur.pop("_state"), cur.pop("_new")
    pstate = prev.pop("_state")
    prev.pop("_new")
    by_kind = _count_table(state, new, "kind", kind_label, L["kind"], L)
    by_field = _count_table(state, new, "field", lambda c: _vocab_label(FIELDS, c, lang, L["unknown"]), L["field"], L)
    by_host = _count_table(state, new, "host", lambda c: _vocab_label(HOSTS, c, lang, L["unknown"]), L["host"], L)
    by_status = _count_table(state, new, "status", lambda c: _vocab_label(STATUSES, c, lang, L["unknown"]), L["status"], L)

    kw = {"specs": specs, "settings": settings, "threshold_pct": threshold, "parent_names": parent_names}
    counting, pcounting = _counting_at(state, end), _counting_at(pstate, pend)
    c_res, _ = _coverage_tables(communes if len(communes) else None, counting, **kw)
    h_res, h_rank = _coverage_tables(hamlets if len(hamlets) else None, counting, **kw)
    pc_res, _ = _coverage_tables(communes if len(communes) else None, pcounting, **kw)
    ph_res, ph_rank = _coverage_tables(hamlets if len(hamlets) else None, pcounting, **kw)
    communes_tbl = _coverage_frame(c_res, None, communes, L, parent_names) if c_res is not None else pd.DataFrame()
    hamlets_tbl = _coverage_frame(h_res, h_rank, hamlets, L, parent_names) if h_res is not None else pd.DataFrame()
    if h_rank is not None:
        unc = h_rank.loc[h_rank["uncovered"]]
        uncovered_tbl = pd.DataFrame(
            {
                L["rank"]: np.arange(1, len(unc) + 1),
                L["code"]: unc.index.astype(str),
                L["name"]: hamlets["name"].reindex(unc.index).to_numpy() if "name" in hamlets.columns else "",
                L["parent"]: hamlets["parent_code"].reindex(unc.index).map(lambda c: parent_names.get(str(c), str(c))).to_numpy(),
                L["pct"]: unc["covered_pct"].astype(float).round(2).to_numpy(),
                L["uncovered_km2"]: (unc["uncovered_need"].astype(float) / 1e6).round(4).to_numpy(),
            }
        )
    else:
        uncovered_tbl = pd.DataFrame()
    main_res = h_res if h_res is not None else c_res
    prev_res = ph_res if ph_res is not None else pc_res
    cur["covered_pct"] = _overall_pct(main_res)
    prev["covered_pct"] = _overall_pct(prev_res)
    cur["n_uncovered"] = int(h_rank["uncovered"].sum()) if h_rank is not None else None
    prev["n_uncovered"] = int(ph_rank["uncovered"].sum()) if ph_rank is not None else None
    cur["n_communes"] = prev["n_communes"] = int(len(communes))
    cur["n_hamlets"] = prev["n_hamlets"] = int(len(hamlets))
    order = ["n_models", "n_new", "n_active", "n_inactive", "n_proposed", "n_names", "n_fields", "n_communes", "n_hamlets", "covered_pct", "n_uncovered", "safe_share", "n_safe_places"]
    rows = []
    for k in order:
        a, b = cur.get(k), prev.get(k)
        change = (a - b) if isinstance(a, (int, float)) and isinstance(b, (int, float)) else None
        if isinstance(change, float):
            change = round(change, 3)
        rows.append((L[k], a if a is not None else "—", b if b is not None else "—", change if change is not None else "—"))
    summary = pd.DataFrame(rows, columns=[L["figure"], L["this_period"], L["prev_period"], L["change"]])
    if approximate is None:
        approximate = bool(scope["approximate"].fillna(False).astype(bool).any()) if "approximate" in scope.columns else False
    communes_2025 = _communes_2025_table(communes, units, state, c_res, L)
    rep = Report(
        unit_code=code,
        unit_name=unit_name,
        lang=lang,
        start=start,
        end=end,
        prev_start=pstart,
        prev_end=pend,
        summary=summary,
        by_kind=by_kind,
        by_field=by_field,
        by_host=by_host,
        by_status=by_status,
        communes=communes_tbl,
        hamlets=hamlets_tbl,
        uncovered=uncovered_tbl,
        threshold_pct=threshold,
        communes_2025=communes_2025,
        coverage_classes_pct=settings.coverage_classes_pct,
        approximate=approximate,
        figures=cur,
        prev_figures=prev,
    )
    if charts:
        rep.charts = _draw_charts(rep, c_res, h_res, L, models=counting)
    return rep


# --------------------------------------------------------------------------------------------
# charts (matplotlib, Agg)


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return buf.getvalue()


def _pct_scale(values: pd.Series, threshold_pct: float) -> float:
    """The upper end of a percentage axis: 100, or, when every value lies well below the
    threshold (sparse coverage: rural hamlets are often under 1 % covered), a quarter more
    than the largest value, so that the bars can be read at all."""
    hi = float(values.max()) if len(values) else 0.0
    if not np.isfinite(hi) or hi >= 0.5 * threshold_pct:
        return 100.0
    return max(1.25 * hi, 0.1)


def _pct_text(v: float) -> str:
    return f"{v:.2f}" if abs(v) < 1 else f"{v:.1f}"


def _draw_charts(rep: Report, c_res, h_res, L, *, models=None) -> dict[str, bytes]:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    out: dict[str, bytes] = {}
    thr = rep.threshold_pct
    if len(rep.communes):
        tbl = rep.communes.sort_values(L["pct"])
        top = _pct_scale(tbl[L["pct"]], thr)
        fig, ax = plt.subplots(figsize=(7.0, max(2.0, 0.32 * len(tbl) + 0.8)))
        bars = ax.barh(tbl[L["name"]].astype(str), tbl[L["pct"]], color="#1565c0")
        ax.bar_label(bars, labels=[_pct_text(v) for v in tbl[L["pct"]]], padding=2, fontsize=7)
        ax.set_xlim(0, top * 1.08 if top < 100 else 100)
        if thr <= top:
            ax.axvline(thr, color="#c62828", lw=1, ls="--")
        ax.set_xlabel(L["pct"] if top >= 100 else f"{L['pct']} ({L['chart_scaled'].format(thr=thr)})")
        ax.set_title(L["chart_bar"])
        out["bar"] = _png(fig)
    pcts = rep.hamlets[L["pct"]] if len(rep.hamlets) else (rep.communes[L["pct"]] if len(rep.communes) else None)
    if pcts is not None and len(pcts):
        top = _pct_scale(pcts, thr)
        fig, ax = plt.subplots(figsize=(7.0, 2.8))
        ax.hist(pcts, bins=np.linspace(0, top, 21), color="#2e7d32", edgecolor="white")
        if thr <= top:
            ax.axvline(thr, color="#c62828", lw=1, ls="--")
        ax.set_xlabel(L["chart_hist_x"] if top >= 100 else f"{L['chart_hist_x']} ({L['chart_scaled'].format(thr=thr)})")
        ax.set_ylabel(L["chart_hist_y"])
        ax.set_title(L["chart_hist"])
        out["hist"] = _png(fig)
    res = h_res if h_res is not None else c_res
    if res is not None:
        from .crs import to_metric

        cov = res.units
        geo = cov if isinstance(cov, gpd.GeoDataFrame) and cov.geometry.notna().any() else None
        if geo is not None:
            g = to_metric(geo)
            fig, ax = plt.subplots(figsize=(7.0, 7.0))
            # the map page's classes and colours (fine at the low end: rural hamlets are often
            # under 1 % covered by area)
            from matplotlib.colors import BoundaryNorm, ListedColormap

            edges = [0.0, *rep.coverage_classes_pct, 100.0]
            g.plot(column="covered_pct", ax=ax, cmap=ListedColormap(COVERAGE_COLOURS),
                   norm=BoundaryNorm(edges, len(COVERAGE_COLOURS)), edgecolor="#444", linewidth=0.4, legend=True,
                   legend_kwds={"label": L["pct"], "shrink": 0.6, "ticks": edges, "spacing": "uniform"})
            gaps = getattr(res, "gaps", None)
            if gaps is not None and len(gaps):
                gaps.to_crs(g.crs).plot(ax=ax, facecolor="none", edgecolor="#c62828", hatch="////", linewidth=0.0)
            fps = getattr(res, "footprints", None)
            if fps is not None and len(fps):
                fps.to_crs(g.crs).plot(ax=ax, facecolor="#0d47a1", edgecolor="#0d47a1", linewidth=0.3)
            if models is not None and len(models) and models.crs is not None:
                pts = models.loc[models.geometry.notna()].to_crs(g.crs)
                pts = pts.loc[pts.geometry.geom_type == "Point"]
                if len(pts):
                    pts.plot(ax=ax, color="#0d47a1", markersize=4, marker="o")
            ax.set_axis_off()
            ax.set_title(f"{L['map']} — {rep.unit_name}")
            out["map"] = _png(fig)
    return out


# --------------------------------------------------------------------------------------------
# HTML


_CSS = """
@page { size: A4; margin: 15mm 12mm; }
body { font-family: "DejaVu Sans", "Noto Sans", Arial, sans-serif; font-size: 10pt; color: #111; max-width: 186mm; margin: auto; }
h1 { font-size: 15pt; margin: 0 0 2mm 0; } h2 { font-size: 12pt; margin: 6mm 0 2mm 0; border-bottom: 1px solid #999; }
.meta { color: #444; margin-bottom: 4mm; } .note { color: #8a4b00; font-style: italic; }
table { border-collapse: collapse; width: 100%; margin: 2mm 0; page-break-inside: auto; }
tr { page-break-inside: avoid; } th, td { border: 1px solid #bbb; padding: 1mm 2mm; text-align: left; }
th { background: #eee; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
img { max-width: 100%; page-break-inside: avoid; } .chart { text-align: center; }
section { page-break-inside: auto; }
"""


def _table_html(df: pd.DataFrame, empty: str) -> str:
    if df is None or df.empty:
        return f"<p>{html.escape(empty)}</p>"
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = []
    for row in df.itertuples(index=False):
        cells = []
        for v in row:
            num = isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
            txt = _fmt(v)
            cells.append(f'<td class="num">{txt}</td>' if num else f"<td>{html.escape(txt)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _fmt(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if isinstance(v, (float, np.floating)):
        return f"{float(v):,.4g}" if abs(v) < 1 and v != 0 else f"{float(v):,.2f}".rstrip("0").rstrip(".")
    if isinstance(v, (int, np.integer)):
        return f"{int(v):,}"
    return str(v)


def render_html(rep: Report) -> str:
    """The report as one self-contained HTML page (A4 print CSS, images inline)."""
    L = _t(rep.lang)

    def img(key: str, alt: str) -> str:
        if key not in rep.charts:
            return ""
        b64 = base64.b64encode(rep.charts[key]).decode("ascii")
        return f'<div class="chart"><img alt="{html.escape(alt)}" src="data:image/png;base64,{b64}"></div>'

    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{rep.lang}"><head><meta charset="utf-8">',
        f"<title>{html.escape(L['title'])} — {html.escape(rep.unit_name)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(L['title'])}</h1>",
        f"<h2 style='border:none;margin-top:0'>{html.escape(rep.unit_name)} ({html.escape(rep.unit_code)})</h2>",
        f"<p class='meta'>{L['period']}: {rep.start:%d/%m/%Y} – {rep.end:%d/%m/%Y}. "
        f"{L['previous']}: {rep.prev_start:%d/%m/%Y} – {rep.prev_end:%d/%m/%Y}. "
        f"{L['generated']}: {dt.datetime.now(VIETNAM_TZ).date():%d/%m/%Y}.</p>",
    ]
    if rep.approximate:
        parts.append(f"<p class='note'>{html.escape(L['approximate'])}</p>")
    parts += [
        f"<section id='summary'><h2>{L['summary']} — {L['comparison'].lower()}</h2>",
        _table_html(rep.summary, L["none"]),
        "</section>",
        f"<section id='by-kind'><h2>{L['by_kind']}</h2>{_table_html(rep.by_kind, L['none'])}</section>",
        f"<section id='by-field'><h2>{L['by_field']}</h2>{_table_html(rep.by_field, L['none'])}</section>",
        f"<section id='by-host'><h2>{L['by_host']}</h2>{_table_html(rep.by_host, L['none'])}</section>",
        f"<section id='by-status'><h2>{L['by_status']}</h2>{_table_html(rep.by_status, L['none'])}</section>",
        f"<section id='charts'><h2>{L['charts']}</h2>{img('bar', L['chart_bar'])}{img('hist', L['chart_hist'])}</section>",
        f"<section id='map'><h2>{L['map']}</h2>{img('map', L['map'])}<p class='meta'>{L['map_caption']}</p></section>",
        f"<section id='communes'><h2>{L['coverage_communes']}</h2>{_table_html(rep.communes, L['none'])}</section>",
        (f"<section id='communes-2025'><h2>{L['communes_2025']}</h2>{_table_html(rep.communes_2025, L['none'])}"
         f"<p class='meta'>{html.escape(L['note_2025'])}</p></section>"
         if len(rep.communes_2025) else ""),
        f"<section id='uncovered'><h2>{L['uncovered_list'].format(t=_fmt(rep.threshold_pct))}</h2>{_table_html(rep.uncovered, L['none'])}</section>",
        f"<section id='hamlets'><h2>{L['coverage_hamlets']}</h2>{_table_html(rep.hamlets, L['none'])}</section>",
        "</body></html>",
    ]
    return "\n".join(parts)


# --------------------------------------------------------------------------------------------
# writers


def _pdf_chromium(page_html: str, executable: str) -> bytes:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.set_content(page_html, wait_until="load")
            return page.pdf(format="A4", print_background=True, prefer_css_page_size=True)
        finally:
            browser.close()


def _pdf_matplotlib(rep: Report) -> bytes:
    """Pure-Python PDF: A4 pages with the tables (matplotlib tables) and the charts."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages

    L = _t(rep.lang)
    a4 = (8.27, 11.69)
    buf = io.BytesIO()
    tables = [
        (L["summary"], rep.summary),
        (L["by_kind"], rep.by_kind),
        (L["by_field"], rep.by_field),
        (L["by_host"], rep.by_host),
        (L["by_status"], rep.by_status),
        (L["coverage_communes"], rep.communes),
        (L["uncovered_list"].format(t=_fmt(rep.threshold_pct)), rep.uncovered),
        (L["coverage_hamlets"], rep.hamlets),
    ]
    if len(rep.communes_2025):
        tables.append((L["communes_2025"], rep.communes_2025))
    with PdfPages(buf) as pdf:
        first = True
        for title, df in tables:
            chunks = [df] if df is None or len(df) <= 40 else [df.iloc[i : i + 40] for i in range(0, len(df), 40)]
            for chunk in chunks:
                fig = plt.figure(figsize=a4)
                y = 0.95
                if first:
                    fig.text(0.06, 0.97, L["title"], fontsize=12, weight="bold")
                    fig.text(0.06, 0.955, f"{rep.unit_name} — {L['period']}: {rep.start:%d/%m/%Y} – {rep.end:%d/%m/%Y}", fontsize=9)
                    y = 0.93
                    first = False
                fig.text(0.06, y, title, fontsize=11, weight="bold")
                if chunk is None or chunk.empty:
                    fig.text(0.06, y - 0.03, L["none"], fontsize=9)
                else:
                    ax = fig.add_axes([0.06, 0.05, 0.88, y - 0.07])
                    ax.set_axis_off()
                    cells = [[_fmt(v) for v in row] for row in chunk.itertuples(index=False)]
                    t = ax.table(cellText=cells, colLabels=[str(c) for c in chunk.columns], loc="upper left", cellLoc="left")
                    t.auto_set_font_size(False)
                    t.set_fontsize(7)
                    t.scale(1, 1.2)
                pdf.savefig(fig)
                plt.close(fig)
        for key in ("bar", "hist", "map"):
            if key in rep.charts:
                img = plt.imread(io.BytesIO(rep.charts[key]), format="png")
                fig = plt.figure(figsize=a4)
                ax = fig.add_axes([0.06, 0.06, 0.88, 0.88])
                ax.imshow(img)
                ax.set_axis_off()
                pdf.savefig(fig)
                plt.close(fig)
    return buf.getvalue()


def _xlsx(rep: Report) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    L = _t(rep.lang)
    wb = Workbook()
    sheets = [
        (L["sheet_summary"], rep.summary),
        (L["by_kind"], rep.by_kind),
        (L["by_field"], rep.by_field),
        (L["by_host"], rep.by_host),
        (L["by_status"], rep.by_status),
        (L["coverage_communes"], rep.communes),
        (L["coverage_hamlets"], rep.hamlets),
        (L["uncovered_list"].format(t=_fmt(rep.threshold_pct)), rep.uncovered),
    ]
    if len(rep.communes_2025):
        sheets.append((L["communes_2025"], rep.communes_2025))
    first = True
    used: set[str] = set()
    for title, df in sheets:
        name = "".join(ch for ch in title if ch not in "[]:*?/\\")[:31]
        while name in used:
            name = name[:29] + f"_{len(used)}"
        used.add(name)
        ws = wb.active if first else wb.create_sheet()
        first = False
        ws.title = name
        if df is None or df.empty:
            append_text_row(ws, [L["none"]])
            continue
        append_text_row(ws, [str(c) for c in df.columns])
        for cell in ws[ws.max_row]:
            cell.font = Font(bold=True)
        for row in df.itertuples(index=False):
            append_text_row(ws, [_xl(v) for v in row])
        for col in ws.columns:
            width = max(len(str(c.value)) if c.value is not None else 0 for c in col)
            ws.column_dimensions[col[0].column_letter].width = min(60, max(8, width + 2))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _xl(v):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    return v


def write_report(rep: Report, path: str | Path, *, fmt: str | None = None, pdf_engine: str = "auto") -> Path:
    """Write ``rep`` to ``path`` as HTML, PDF or XLSX (from ``fmt`` or the file suffix), atomically.

    Parameters
    ----------
    rep
        The report from :func:`build_report`.
    path
        Output file.
    fmt
        "html", "pdf" or "xlsx" (default: the suffix of ``path``).
    pdf_engine
        "chromium" (headless Chromium through Playwright), "matplotlib" (pure Python) or "auto"
        (Chromium when ``/usr/bin/chromium`` exists).

    Returns
    -------
    pathlib.Path
        The written file.
    """
    path = Path(path)
    fmt = (fmt or path.suffix.lstrip(".")).lower()
    if fmt == "htm":
        fmt = "html"
    if fmt not in FORMATS:
        raise GeoAnttError(f"report format must be one of {', '.join(FORMATS)}; got {fmt!r}")
    if fmt == "html":
        data = render_html(rep).encode("utf-8")
    elif fmt == "xlsx":
        data = _xlsx(rep)
    else:
        engine = pdf_engine
        if engine == "auto":
            engine = "chromium" if os.path.exists(CHROMIUM) else "matplotlib"
        if engine == "chromium":
            data = _pdf_chromium(render_html(rep), CHROMIUM)
        elif engine == "matplotlib":
            data = _pdf_matplotlib(rep)
        else:
            raise GeoAnttError(f"pdf_engine must be auto, chromium or matplotlib; got {pdf_engine!r}")
    write_atomic(path, data)
    return path
