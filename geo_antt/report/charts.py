"""The report's charts (matplotlib, Agg backend) as PNG bytes."""

from __future__ import annotations

import io
import math

import geopandas as gpd
import numpy as np
import pandas as pd

from ..config import COVERAGE_COLOURS
from ..numbers import format_number, format_percent
from .document import Report

__all__ = []


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return buf.getvalue()


def _pct_scale(values: pd.Series, threshold_pct: float) -> float:
    """The upper end of a percentage axis: 100, or, when every value lies well below the
    threshold (sparse coverage: rural hamlets are often under 1 % covered), a quarter more
    than the largest value, so that the bars can be read at all.
    """
    hi = float(values.max()) if len(values) else 0.0
    if not np.isfinite(hi) or hi >= 0.5 * threshold_pct:
        return 100.0
    return max(1.25 * hi, 0.1)


def _pct_text(v: float, lang: str) -> str:
    return format_percent(v, lang=lang, sign=False)


def _number_axes(ax, lang: str, *, x: bool = True, y: bool = True) -> None:
    """Tick labels written as the rest of the report (comma decimals in Vietnamese)."""
    from matplotlib.ticker import FuncFormatter

    tick = FuncFormatter(lambda v, _pos: format_number(v, lang=lang, digits=2))
    if x:
        ax.xaxis.set_major_formatter(tick)
    if y:
        ax.yaxis.set_major_formatter(tick)


#: Most units named on the report map (more would pile up over each other).
MAP_LABELS_MAX = 80


def _unit_labels(ax, g: gpd.GeoDataFrame) -> None:
    """The name of each unit at a point inside it (metric frame ``g``), when there are few
    enough to read.
    """
    if "unit_name" in g.columns:
        names = g["unit_name"]
    elif "name" in g.columns:
        names = g["name"]
    else:
        names = pd.Series(g.index.astype(str), index=g.index)
    if len(g) > MAP_LABELS_MAX:
        return
    size = 7 if len(g) <= 20 else 5
    pts = g.geometry.representative_point()
    for name, pt in zip(names, pts):
        if pt is None or pt.is_empty or not isinstance(name, str) or not name:
            continue
        ax.annotate(
            name,
            (pt.x, pt.y),
            ha="center",
            va="center",
            fontsize=size,
            color="#102027",
            bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.7},
        )


def _scale_bar(ax, lang: str) -> None:
    """A scale bar in the lower left corner of a map drawn in metres: a round length (1, 2 or
    5 × 10^k m) near a fifth of the map's width.
    """
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    target = (x1 - x0) / 5.0
    if not target > 0:
        return
    exp = math.floor(math.log10(target))
    length = max(m * 10.0**exp for m in (1, 2, 5) if m * 10.0**exp <= target)
    bx, by = x0 + 0.04 * (x1 - x0), y0 + 0.04 * (y1 - y0)
    ax.plot([bx, bx + length], [by, by], color="#102027", lw=3, solid_capstyle="butt")
    ax.plot([bx, bx], [by - 0.008 * (y1 - y0), by + 0.008 * (y1 - y0)], color="#102027", lw=1)
    ax.plot([bx + length, bx + length], [by - 0.008 * (y1 - y0), by + 0.008 * (y1 - y0)], color="#102027", lw=1)
    text = (
        f"{format_number(length / 1000.0, lang=lang)} km" if length >= 1000 else f"{format_number(length, lang=lang)} m"
    )
    ax.annotate(text, (bx + length / 2, by + 0.015 * (y1 - y0)), ha="center", va="bottom", fontsize=7, color="#102027")
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)


def _draw_charts(rep: Report, c_res, h_res, L, *, models=None) -> dict[str, bytes]:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    out: dict[str, bytes] = {}
    thr = rep.threshold_pct
    thr_text = format_number(thr, lang=rep.lang)
    if len(rep.communes):
        tbl = rep.communes.sort_values(L["pct"])
        top = _pct_scale(tbl[L["pct"]], thr)
        fig, ax = plt.subplots(figsize=(7.0, max(2.0, 0.32 * len(tbl) + 0.8)))
        bars = ax.barh(tbl[L["name"]].astype(str), tbl[L["pct"]], color="#1565c0")
        ax.bar_label(bars, labels=[_pct_text(v, rep.lang) for v in tbl[L["pct"]]], padding=2, fontsize=7)
        ax.set_xlim(0, top * 1.08 if top < 100 else 100)
        if thr <= top:
            ax.axvline(thr, color="#c62828", lw=1, ls="--")
        _number_axes(ax, rep.lang, y=False)
        ax.set_xlabel(L["pct"] if top >= 100 else f"{L['pct']} ({L['chart_scaled'].format(thr=thr_text)})")
        ax.set_title(L["chart_bar"])
        out["bar"] = _png(fig)
    pcts = rep.hamlets[L["pct"]] if len(rep.hamlets) else (rep.communes[L["pct"]] if len(rep.communes) else None)
    if pcts is not None and len(pcts):
        top = _pct_scale(pcts, thr)
        fig, ax = plt.subplots(figsize=(7.0, 2.8))
        ax.hist(pcts, bins=np.linspace(0, top, 21).tolist(), color="#2e7d32", edgecolor="white")
        if thr <= top:
            ax.axvline(thr, color="#c62828", lw=1, ls="--")
        _number_axes(ax, rep.lang)
        ax.set_xlabel(
            L["chart_hist_x"] if top >= 100 else f"{L['chart_hist_x']} ({L['chart_scaled'].format(thr=thr_text)})"
        )
        ax.set_ylabel(L["chart_hist_y"])
        ax.set_title(L["chart_hist"])
        out["hist"] = _png(fig)
    res = h_res if h_res is not None else c_res
    if res is not None:
        from ..crs import to_metric

        cov = res.units
        geo = cov if isinstance(cov, gpd.GeoDataFrame) and cov.geometry.notna().any() else None
        if geo is not None:
            g = to_metric(geo)
            fig, ax = plt.subplots(figsize=(7.0, 7.0))
            # the map page's classes and colours (fine at the low end: rural hamlets are often
            # under 1 % covered by area)
            from matplotlib.colors import BoundaryNorm, ListedColormap
            from matplotlib.ticker import FuncFormatter

            edges = [0.0, *rep.coverage_classes_pct, 100.0]
            g.plot(
                column="covered_pct",
                ax=ax,
                cmap=ListedColormap(COVERAGE_COLOURS),
                norm=BoundaryNorm(edges, len(COVERAGE_COLOURS)),
                edgecolor="#444",
                linewidth=0.4,
                legend=True,
                legend_kwds={
                    "label": L["pct"],
                    "shrink": 0.6,
                    "ticks": edges,
                    "spacing": "uniform",
                    "format": FuncFormatter(lambda v, _pos: format_number(v, lang=rep.lang, digits=2)),
                },
            )
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
            _unit_labels(ax, g)
            _scale_bar(ax, rep.lang)
            ax.set_axis_off()
            ax.set_title(f"{L['map']} — {rep.unit_name}")
            out["map"] = _png(fig)
    return out
