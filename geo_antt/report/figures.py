"""The report's figures: counts of models by name, field and host, coverage tables, the 2025 communes."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from ..config import DEFAULT_SETTINGS, Settings
from ..layers import LayerSpec, load_layer_specs
from ..numbers import round_share
from ..schema import FIELDS, HOSTS, STATUSES
from ..text import fold, nfc
from ..units import resolve_code, units_under
from .charts import _draw_charts
from .document import Report
from .period import (
    _counting_at,
    _models_in,
    _new_in,
    _state_at,
    check_period,
    parse_period,
    previous_period,
)
from .strings import _t

__all__ = ["Report", "build_report"]


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
    host = (
        safe["host"].astype("string") if "host" in safe.columns else pd.Series(pd.NA, index=safe.index, dtype="string")
    )
    places = int(host.isin(["agency", "enterprise", "school"]).fillna(False).sum())
    share = None
    if len(hamlet_codes):
        residential = safe.loc[~host.isin(["agency", "enterprise", "school"]).fillna(False).to_numpy()]
        codes = set(residential["unit_code"].dropna().astype(str)) & set(hamlet_codes)
        share = round(100.0 * len(codes) / len(hamlet_codes), 1)
    return {"safe_share": share, "n_safe_places": places}


def _coverage_tables(level_units, state, *, specs, settings, threshold_pct, parent_names, roads=None):
    from ..coverage import compute_coverage
    from ..placement import rank_uncovered

    if level_units is None or len(level_units) == 0:
        return None, None
    res = compute_coverage(level_units, state, specs=specs, settings=settings, roads=roads, with_street_gaps=False)
    cov = res.units
    ranked = rank_uncovered(cov, threshold_pct=threshold_pct)
    return res, ranked


def _coverage_frame(res, ranked, level_units, L, parent_names) -> pd.DataFrame:
    cov = res.units
    names = level_units["name"].reindex(cov.index) if "name" in level_units.columns else pd.Series("", index=cov.index)
    parents = (
        level_units["parent_code"]
        .reindex(cov.index)
        .map(lambda c: parent_names.get(str(c), str(c)) if pd.notna(c) else "")
    )
    out = pd.DataFrame(
        {
            L["code"]: cov.index.astype(str),
            L["name"]: names.to_numpy(),
            L["parent"]: parents.to_numpy(),
            L["area_km2"]: (cov["area_m2"].astype(float) / 1e6).round(3).to_numpy(),
            L["covered_km2"]: (cov["covered_m2"].astype(float) / 1e6).round(4).to_numpy(),
            L["pct"]: round_share(cov["covered_pct"].to_numpy(dtype=float)),
        }
    )
    if "road_m" in cov.columns:  # by street first: the rule rank_uncovered and the panel follow
        out[L["road_km"]] = (cov["road_m"].astype(float) / 1e3).round(3).to_numpy()
        out[L["road_covered_km"]] = (cov["road_covered_m"].astype(float) / 1e3).round(3).to_numpy()
        out[L["road_pct"]] = cov["road_covered_pct"].astype(float).round(2).to_numpy()
        return out.sort_values([L["road_pct"], L["pct"]], kind="stable", na_position="last").reset_index(drop=True)
    return out.sort_values(L["pct"], kind="stable").reset_index(drop=True)


def _tier_table(level_units, models, main_res, *, specs, settings, roads, L, lang: str) -> pd.DataFrame:
    """One row for the recorded ranges (``main_res``) and one per camera tier: covered area
    (km², share) and, with roads, covered street length (km, share) of ``level_units``; the
    cameras of unknown resolution (they keep their recorded range) in the last column.
    """
    from ..coverage import compute_coverage
    from ..tiers import apply_tier, tier_codes, tier_of

    codes = tier_codes(specs)
    tiered_kinds = [k for k, s in specs.items() if s.tiers]
    if main_res is None or not codes or not models["kind"].isin(tiered_kinds).any():
        return pd.DataFrame()
    rows: list[tuple[str, Any, Any, Any]] = [(L["tier_recorded"], None, main_res, None)]
    for code in codes:
        tiered, run = apply_tier(models, code, specs)
        res = compute_coverage(
            level_units, tiered, specs=specs, settings=settings, roads=roads, with_gaps=False, with_street_gaps=False
        )
        t = tier_of(specs, code)
        rows.append((t.title(lang), t.px_per_m, res, run.unknown))
    with_roads = "road_m" in main_res.units.columns
    out: dict[str, list[Any]] = {L["tier"]: [], L["px_per_m"]: [], L["covered_km2"]: [], L["pct"]: []}
    if with_roads:
        out[L["road_covered_km"]] = []
        out[L["road_pct"]] = []
    out[L["tier_unknown"]] = []
    for title, ppm, res, unknown in rows:
        u = res.units
        area, covered = float(u["area_m2"].sum()), float(u["covered_m2"].sum())
        out[L["tier"]].append(title)
        out[L["px_per_m"]].append("—" if ppm is None else ppm)
        out[L["covered_km2"]].append(round(covered / 1e6, 4))
        out[L["pct"]].append(round_share(100.0 * covered / area, 3) if area > 0 else None)
        if with_roads:
            road, road_cov = float(u["road_m"].sum()), float(u["road_covered_m"].sum())
            out[L["road_covered_km"]].append(round(road_cov / 1e3, 3))
            out[L["road_pct"]].append(round(100.0 * road_cov / road, 2) if road > 0 else None)
        out[L["tier_unknown"]].append("—" if unknown is None else unknown)
    return pd.DataFrame(out)


def _overall_road_pct(res) -> float | None:
    """Share of the street length covered over all units (None without roads)."""
    if res is None or "road_m" not in res.units.columns:
        return None
    r = float(res.units["road_m"].sum())
    return round(100.0 * float(res.units["road_covered_m"].sum()) / r, 3) if r > 0 else None


def _overall_pct(res) -> float | None:
    if res is None:
        return None
    a = float(res.units["area_m2"].sum())
    return round_share(100.0 * float(res.units["covered_m2"].sum()) / a, 3) if a > 0 else None


def _pre2025(communes: pd.DataFrame) -> bool:
    """True when the communes are pre-reform units (all end by 30 June 2025)."""
    if "valid_to" not in communes.columns or communes.empty:
        return False
    vt = pd.to_datetime(communes["valid_to"].astype("string"), errors="coerce")
    return bool(vt.notna().all() and (vt < pd.Timestamp("2025-07-01")).all())


def _communes_2025_table(communes, units, state, c_res, L) -> pd.DataFrame:
    """Per-commune figures summed to the 2025 communes through the crosswalk."""
    from .._errors import NotFoundError
    from ..crosswalk import aggregate_to_2025

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
            L["pct"]: round_share(
                (100.0 * agg["covered_m2"] / agg["area_m2"].where(agg["area_m2"] > 0)).to_numpy(dtype=float)
            ),
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
    roads: gpd.GeoDataFrame | None = None,
    progress: Callable[[str, int, int], None] | None = None,
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
    progress
        Called as ``progress(what, done, total)`` between the report's stages (coverage of this
        period and the previous one, charts).

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

    kind_label = lambda k: specs[k].title(lang) if k in specs else (str(k) if k else L["unknown"])  # noqa: E731
    state, new = cur.pop("_state"), cur.pop("_new")
    pstate = prev.pop("_state")
    prev.pop("_new")
    by_kind = _count_table(state, new, "kind", kind_label, L["kind"], L)
    by_field = _count_table(state, new, "field", lambda c: _vocab_label(FIELDS, c, lang, L["unknown"]), L["field"], L)
    by_host = _count_table(state, new, "host", lambda c: _vocab_label(HOSTS, c, lang, L["unknown"]), L["host"], L)
    by_status = _count_table(
        state, new, "status", lambda c: _vocab_label(STATUSES, c, lang, L["unknown"]), L["status"], L
    )

    roads = roads if roads is not None and len(roads) else None
    kw = {
        "specs": specs,
        "settings": settings,
        "threshold_pct": threshold,
        "parent_names": parent_names,
        "roads": roads,
    }
    counting, pcounting = _counting_at(state, end), _counting_at(pstate, pend)
    n_steps = 5 if charts else 4

    def step(what: str, done: int) -> None:
        if progress is not None:
            progress(what, done, n_steps)

    step("coverage of the communes", 0)
    c_res, _ = _coverage_tables(communes if len(communes) else None, counting, **kw)
    step("coverage of the hamlets", 1)
    h_res, h_rank = _coverage_tables(hamlets if len(hamlets) else None, counting, **kw)
    step("coverage of the previous period", 2)
    pc_res, _ = _coverage_tables(communes if len(communes) else None, pcounting, **kw)
    ph_res, ph_rank = _coverage_tables(hamlets if len(hamlets) else None, pcounting, **kw)
    step("tables", 3)
    communes_tbl = _coverage_frame(c_res, None, communes, L, parent_names) if c_res is not None else pd.DataFrame()
    hamlets_tbl = _coverage_frame(h_res, h_rank, hamlets, L, parent_names) if h_res is not None else pd.DataFrame()
    by_street = h_res is not None and "road_m" in h_res.units.columns
    if h_rank is not None:
        unc = h_rank.loc[h_rank["uncovered"]]
        cols = {
            L["rank"]: np.arange(1, len(unc) + 1),
            L["code"]: unc.index.astype(str),
            L["name"]: hamlets["name"].reindex(unc.index).to_numpy() if "name" in hamlets.columns else "",
            L["parent"]: hamlets["parent_code"]
            .reindex(unc.index)
            .map(lambda c: parent_names.get(str(c), str(c)))
            .to_numpy(),
        }
        if by_street:  # ranked by street (rank_uncovered's rule when roads exist)
            cols[L["road_pct"]] = round_share(unc["kind_covered_pct"].to_numpy(dtype=float))
            cols[L["uncovered_road_km"]] = (unc["uncovered_need"].astype(float) / 1e3).round(3).to_numpy()
        else:
            cols[L["pct"]] = round_share(unc["covered_pct"].to_numpy(dtype=float))
            cols[L["uncovered_km2"]] = (unc["uncovered_need"].astype(float) / 1e6).round(4).to_numpy()
        uncovered_tbl = pd.DataFrame(cols)
    else:
        uncovered_tbl = pd.DataFrame()
    main_res = h_res if h_res is not None else c_res
    prev_res = ph_res if ph_res is not None else pc_res
    cur["covered_pct"] = _overall_pct(main_res)
    prev["covered_pct"] = _overall_pct(prev_res)
    cur["road_covered_pct"] = _overall_road_pct(main_res)
    prev["road_covered_pct"] = _overall_road_pct(prev_res)
    cur["n_uncovered"] = int(h_rank["uncovered"].sum()) if h_rank is not None else None
    prev["n_uncovered"] = int(ph_rank["uncovered"].sum()) if ph_rank is not None else None
    cur["n_communes"] = prev["n_communes"] = int(len(communes))
    cur["n_hamlets"] = prev["n_hamlets"] = int(len(hamlets))
    order = [
        "n_models",
        "n_new",
        "n_active",
        "n_inactive",
        "n_proposed",
        "n_names",
        "n_fields",
        "n_communes",
        "n_hamlets",
        "covered_pct",
        "n_uncovered",
        "safe_share",
        "n_safe_places",
    ]
    if cur["road_covered_pct"] is not None:
        order.insert(order.index("covered_pct"), "road_covered_pct")
    rows = []
    for k in order:
        a, b = cur.get(k), prev.get(k)
        change = (a - b) if isinstance(a, (int, float)) and isinstance(b, (int, float)) else None
        if isinstance(change, float):
            change = round_share(change, 3)
        rows.append(
            (L[k], a if a is not None else "—", b if b is not None else "—", change if change is not None else "—")
        )
    summary = pd.DataFrame(rows, columns=[L["figure"], L["this_period"], L["prev_period"], L["change"]])
    if approximate is None:
        approximate = (
            bool(scope["approximate"].fillna(False).astype(bool).any()) if "approximate" in scope.columns else False
        )
    communes_2025 = _communes_2025_table(communes, units, state, c_res, L)
    tiers_tbl = _tier_table(
        hamlets if h_res is not None else communes,
        counting,
        main_res,
        specs=specs,
        settings=settings,
        roads=roads,
        L=L,
        lang=lang,
    )
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
        tiers=tiers_tbl,
    )
    if charts:
        step("charts and map", 4)
        rep.charts = _draw_charts(rep, c_res, h_res, L, models=counting)
    step("done", n_steps)
    return rep
