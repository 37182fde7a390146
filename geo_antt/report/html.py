"""The report as one HTML page (tables, charts inline), also the source of its PDF."""

from __future__ import annotations

import base64
import datetime as dt
import html
import math

import numpy as np
import pandas as pd

from .._time import VIETNAM_TZ
from ..numbers import MISSING, format_number
from .document import Report
from .strings import _t

__all__ = ["render_html"]


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
h2 { break-after: avoid; page-break-after: avoid; }
/* the map, its heading and caption on one page: the heading never sits alone at a page foot */
.keep { break-inside: avoid; page-break-inside: avoid; }
section#map img { max-height: 200mm; }
"""


def _table_html(df: pd.DataFrame, empty: str, lang: str) -> str:
    if df is None or df.empty:
        return f"<p>{html.escape(empty)}</p>"
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = []
    for row in df.itertuples(index=False):
        cells = []
        for v in row:
            num = isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
            txt = _fmt(v, lang)
            cells.append(f'<td class="num">{txt}</td>' if num else f"<td>{html.escape(txt)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _fmt(v, lang: str) -> str:
    """A table cell's text: numbers as the web writes them (``numbers.format_number``; the
    figures are already rounded to the decimals they keep).
    """
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return MISSING
    if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_)):
        return format_number(v, lang=lang, digits=4)
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
        _table_html(rep.summary, L["none"], rep.lang),
        "</section>",
        f"<section id='by-kind'><h2>{L['by_kind']}</h2>{_table_html(rep.by_kind, L['none'], rep.lang)}</section>",
        f"<section id='by-field'><h2>{L['by_field']}</h2>{_table_html(rep.by_field, L['none'], rep.lang)}</section>",
        f"<section id='by-host'><h2>{L['by_host']}</h2>{_table_html(rep.by_host, L['none'], rep.lang)}</section>",
        f"<section id='by-status'><h2>{L['by_status']}</h2>{_table_html(rep.by_status, L['none'], rep.lang)}</section>",
        f"<section id='charts'><h2>{L['charts']}</h2>{img('bar', L['chart_bar'])}{img('hist', L['chart_hist'])}</section>",
        f"<section id='map'><div class='keep'><h2>{L['map']}</h2>{img('map', L['map'])}<p class='meta'>{L['map_caption']}</p></div></section>",
        f"<section id='communes'><h2>{L['coverage_communes']}</h2>{_table_html(rep.communes, L['none'], rep.lang)}</section>",
        (
            f"<section id='communes-2025'><h2>{L['communes_2025']}</h2>{_table_html(rep.communes_2025, L['none'], rep.lang)}"
            f"<p class='meta'>{html.escape(L['note_2025'])}</p></section>"
            if len(rep.communes_2025)
            else ""
        ),
        (
            f"<section id='tiers'><h2>{L['tiers']}</h2>{_table_html(rep.tiers, L['none'], rep.lang)}"
            f"<p class='meta'>{html.escape(L['note_tiers'])}</p></section>"
            if len(rep.tiers)
            else ""
        ),
        f"<section id='uncovered'><h2>{L['uncovered_list'].format(t=_fmt(rep.threshold_pct, rep.lang))}</h2>{_table_html(rep.uncovered, L['none'], rep.lang)}"
        f"<p class='meta'>{html.escape(L['ranked_by_street' if rep.figures.get('road_covered_pct') is not None else 'ranked_by_area'])}</p></section>",
        f"<section id='hamlets'><h2>{L['coverage_hamlets']}</h2>{_table_html(rep.hamlets, L['none'], rep.lang)}</section>",
        "</body></html>",
    ]
    return "\n".join(parts)
