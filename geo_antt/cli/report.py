"""``geo-antt report``: the review-conference report of a unit for a period (HTML, PDF, XLSX)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .._errors import GeoAnttError
from ._progress import add_quiet_argument, progress_bar
from .inputs import add_input_arguments, add_roads_argument

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add the ``report`` sub-command."""
    p = subparsers.add_parser(
        "report",
        help="review-conference report of a unit for a period (html, pdf, xlsx)",
        description=(
            "Figures of the movement for a unit and a period (models by kind, field, host; new "
            "models; active/inactive; distinct names), coverage per commune and hamlet with the "
            "uncovered list, charts, a map and the comparison with the previous period. "
            "Printable on A4; Vietnamese by default."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "examples:\n"
            "  geo-antt report --data data --unit 598 --period 2024-01-01:2024-09-30 --format html --out bao-cao.html\n"
            "  geo-antt report --data data --unit 23110 --period 2024-01-01:2024-12-31 --format xlsx --out bao-cao.xlsx\n"
        ),
    )
    add_input_arguments(p)
    add_roads_argument(p)
    p.add_argument("--unit", required=True, metavar="CODE", help="unit reported on (code or exact name)")
    p.add_argument(
        "--period", required=True, metavar="START:END", help="ISO dates, inclusive, e.g. 2024-01-01:2024-09-30"
    )
    p.add_argument("--format", choices=("html", "pdf", "xlsx"), help="output format (default: from --out)")
    p.add_argument("--out", required=True, metavar="FILE", help="output file")
    p.add_argument("--lang", choices=("vi", "en"), default="vi", help="language (default vi)")
    p.add_argument("--threshold", type=float, metavar="PCT", help="uncovered below this covered share (default 50)")
    p.add_argument(
        "--compare",
        choices=("year", "before"),
        default="year",
        help="the period compared with: the same dates a year earlier (default), or the period of "
        "the same length just before",
    )
    p.add_argument(
        "--pdf-engine",
        choices=("auto", "chromium", "matplotlib"),
        default="auto",
        help="how a PDF is made: chromium prints the HTML report as it looks in a browser (needs "
        "/usr/bin/chromium), matplotlib draws a plainer PDF without a browser; auto: chromium "
        "when installed (default)",
    )
    add_quiet_argument(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..report import build_report, parse_period, write_report
    from .inputs import load_inputs_with_roads

    period = parse_period(args.period)
    fmt = args.format or Path(args.out).suffix.lstrip(".").lower()
    if fmt not in ("html", "pdf", "xlsx"):
        raise GeoAnttError(f"say --format html|pdf|xlsx (cannot tell from {args.out!r})")
    units, models, _skipped, roads = load_inputs_with_roads(args)
    with progress_bar(args, "report") as bar:
        rep = build_report(
            units,
            models,
            unit_code=args.unit,
            period=period,
            lang=args.lang,
            threshold_pct=args.threshold,
            compare=args.compare,
            roads=roads,
            progress=bar,
        )
        if bar is not None:
            bar(f"writing {Path(args.out).name}", 0, 1)
        path = write_report(rep, args.out, fmt=fmt, pdf_engine=args.pdf_engine)
    f = rep.figures
    print(
        f"{rep.unit_name}: {f['n_models']} models ({f['n_new']} new, {f['n_active']} active), "
        f"{f['n_names']} names, {f['n_fields']} fields; covered {f.get('covered_pct')} %"
        + (f" of the area, {f['road_covered_pct']} % of the streets" if f.get("road_covered_pct") is not None else "")
        + f"; wrote {path}"
    )
    return 0
