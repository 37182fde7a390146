"""What a report holds: :class:`Report`, filled by :func:`geo_antt.report.build_report` and read
by the chart, HTML, PDF and XLSX writers.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ..config import DEFAULT_SETTINGS

__all__ = ["Report"]


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
    #: covered area (and street length) of the reported units for the recorded ranges and for
    #: each camera tier (IEC 62676-4), one row each; empty without tiers or cameras
    tiers: pd.DataFrame = field(default_factory=pd.DataFrame)
