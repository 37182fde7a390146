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

from .document import Report
from .figures import build_report
from .html import render_html
from .period import check_period, parse_period, previous_period
from .strings import FORMATS
from .writers import write_report

__all__ = [
    "FORMATS",
    "Report",
    "check_period",
    "parse_period",
    "previous_period",
    "build_report",
    "render_html",
    "write_report",
]
