"""Writing a report: HTML, PDF (Chromium, else matplotlib) and XLSX (text cells stay text), atomically."""

from __future__ import annotations

import io
import math
import os
from pathlib import Path

import numpy as np

from .._errors import GeoAnttError
from ..io import write_atomic
from ..io.xlsx import append_text_row
from .document import Report
from .html import _fmt, render_html
from .strings import CHROMIUM, FORMATS, _t

__all__ = ["write_report"]


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
        (L["uncovered_list"].format(t=_fmt(rep.threshold_pct, rep.lang)), rep.uncovered),
        (L["coverage_hamlets"], rep.hamlets),
    ]
    if len(rep.communes_2025):
        tables.append((L["communes_2025"], rep.communes_2025))
    if len(rep.tiers):
        tables.append((L["tiers"], rep.tiers))
    with PdfPages(buf) as pdf:
        first = True
        for title, df in tables:
            chunks = [df] if df is None or len(df) <= 40 else [df.iloc[i : i + 40] for i in range(0, len(df), 40)]
            for chunk in chunks:
                fig = plt.figure(figsize=a4)
                y = 0.95
                if first:
                    fig.text(0.06, 0.97, L["title"], fontsize=12, weight="bold")
                    fig.text(
                        0.06,
                        0.955,
                        f"{rep.unit_name} — {L['period']}: {rep.start:%d/%m/%Y} – {rep.end:%d/%m/%Y}",
                        fontsize=9,
                    )
                    y = 0.93
                    first = False
                fig.text(0.06, y, title, fontsize=11, weight="bold")
                if chunk is None or chunk.empty:
                    fig.text(0.06, y - 0.03, L["none"], fontsize=9)
                else:
                    ax = fig.add_axes((0.06, 0.05, 0.88, y - 0.07))
                    ax.set_axis_off()
                    cells = [[_fmt(v, rep.lang) for v in row] for row in chunk.itertuples(index=False)]
                    t = ax.table(
                        cellText=cells, colLabels=[str(c) for c in chunk.columns], loc="upper left", cellLoc="left"
                    )
                    t.auto_set_font_size(False)
                    t.set_fontsize(7)
                    t.scale(1, 1.2)
                pdf.savefig(fig)
                plt.close(fig)
        for key in ("bar", "hist", "map"):
            if key in rep.charts:
                img = plt.imread(io.BytesIO(rep.charts[key]), format="png")
                fig = plt.figure(figsize=a4)
                ax = fig.add_axes((0.06, 0.06, 0.88, 0.88))
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
        (L["uncovered_list"].format(t=_fmt(rep.threshold_pct, rep.lang)), rep.uncovered),
    ]
    if len(rep.communes_2025):
        sheets.append((L["communes_2025"], rep.communes_2025))
    if len(rep.tiers):
        sheets.append((L["tiers"], rep.tiers))
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
