"""Planning in the web app: where new models close the most gap, and the conference report.

``POST /api/plan`` runs :func:`geo_antt.placement.plan_sites` (maximal covering location
problem, existing active models kept fixed) over the hamlets of one unit of the app's dataset
and answers a GeoJSON FeatureCollection of the proposed sites (``layer`` = "site") and their
footprints (``layer`` = "footprint") with a ``summary`` member: the objective (newly covered
m²), the solver, whether it proved the optimum, the greedy heuristic's gap to it, and the
covered share of every hamlet before and after. ``GET /report/<unit>.<html|xlsx|pdf>`` returns
the review-conference report (:func:`geo_antt.report.build_report`) of a unit for a period.

The side-panel text of both (Vietnamese, English with ``?lang=en``) is handed to the map page
template by a context processor (``plan_t``, ``plan_config``); ``web/static/js/plan.js`` runs
the panel section. Computing a plan only reads the dataset: nothing is written to the registry.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import re
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Blueprint, current_app, request, send_file, url_for

from .._errors import GeoAnttError, PermissionDeniedError
from ..i18n import N_, msg, strings_table
from ..layers import MAX_MIN_SPACING_M
from ..text import nfc
from ..tiers import tier_codes, tier_of
from .context import get_catalog, scope_codes
from .context import request_lang as _lang

__all__ = [
    "bp",
    "PLAN_STRINGS",
    "PLAN_KINDS",
    "MAX_COUNT",
    "MAX_TIME_LIMIT_S",
    "DEFAULT_TIME_LIMIT_S",
    "ServiceBusyError",
    "parse_plan_request",
    "plan_response",
    "default_period",
    "report_filename",
]

bp = Blueprint("planning", __name__)

PLAN_KINDS = ("camera", "lighting", "checkpoint")
MAX_COUNT = 50
DEFAULT_TIME_LIMIT_S = 60.0
MAX_TIME_LIMIT_S = 120.0
_SOLVERS = ("auto", "exact", "highs", "spopt", "greedy")
_SAFE = re.compile(r"[^0-9A-Za-z_.-]+")
_MIMETYPES = {
    "html": "text/html",
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
# one heavy computation (plan or report) at a time per process: the machine has few cores
_HEAVY = threading.Lock()
_WAIT_S = 30.0

PLAN_STRINGS: dict[str, dict[str, str]] = strings_table(
    "plan",
    {
        "plan": N_("plan", "Suggest new sites"),
        "plan_help": N_(
            "plan",
            "Choose a kind and a number; the sites that newly cover the most uncovered area are found (active models are kept).",
        ),
        "plan_kind": N_("plan", "Kind of model"),
        "plan_count": N_("plan", "Number"),
        "plan_budget": N_("plan", "Budget (VND, optional)"),
        "plan_unit_cost": N_("plan", "Cost of one model (VND)"),
        "plan_min_spacing": N_("plan", "Least distance between two sites (m)"),
        "plan_gain_total": N_("plan", "Covered share"),
        "plan_run": N_("plan", "Suggest"),
        "plan_running": N_("plan", "Computing…"),
        "plan_need_area": N_("plan", "Choose a commune or hamlet first."),
        "plan_layer": N_("plan", "Proposed"),
        "plan_sites": N_("plan", "Proposed sites"),
        "plan_gain": N_("plan", "Newly covered"),
        "plan_total": N_("plan", "Newly covered in all"),
        "plan_solver": N_("plan", "Solver"),
        "plan_optimal": N_("plan", "optimal"),
        "solver_exact": N_("plan", "exact (integer programme, CBC)"),
        "solver_highs": N_("plan", "exact (integer programme, HiGHS)"),
        "plan_by_bound": N_(
            "plan", "the greedy choice reaches the upper bound, so it is optimal; no solver had to run"
        ),
        "solver_spopt": N_("plan", "integer programme (spopt, CBC)"),
        "solver_greedy": N_("plan", "greedy heuristic"),
        "plan_gap": N_("plan", "Greedy heuristic short of the optimum by"),
        "plan_none": N_("plan", "No site adds any coverage."),
        "plan_accept": N_("plan", "Accept into the registry"),
        "plan_accepted": N_("plan", "Accepted (active)"),
        "plan_accept_name": N_("plan", "proposed"),
        "plan_hamlet": N_("plan", "Hamlet"),
        "plan_before": N_("plan", "Before"),
        "plan_after": N_("plan", "After"),
        "plan_site": N_("plan", "Proposed site"),
        "plan_direction": N_("plan", "Direction (degrees)"),
        "plan_error": N_("plan", "Error"),
        "plan_clear": N_("plan", "Clear proposals"),
        "report": N_("plan", "Report"),
        "report_from": N_("plan", "From"),
        "report_to": N_("plan", "To"),
        "report_help": N_("plan", "Review-conference report of the selected area."),
        "kind_camera": N_("plan", "Camera"),
        "kind_lighting": N_("plan", "Security lighting"),
        "kind_checkpoint": N_("plan", "Civil-defence checkpoint"),
        "plan_tier": N_("plan", "Purpose of the new cameras"),
        "plan_tier_none": N_("plan", "The kind's default range"),
        "plan_tier_range": N_(
            "plan", "New cameras of {px} pixels: {tier} range {m} m; cameras of unknown resolution: {n}"
        ),
    },
)


class ServiceBusyError(GeoAnttError):
    """Another plan or report is being computed and did not finish in time (HTTP 503)."""

    http_status = 503


def _can_edit() -> bool:
    from .auth import current_user

    user = current_user()
    return bool(user is not None and getattr(user, "role", None) in ("admin", "officer"))


@bp.app_context_processor
def _plan_context() -> dict[str, Any]:
    """``plan_t`` (the section's text) and ``plan_config`` (text, kinds, URLs) for templates."""
    if not request:
        return {}
    lang = _lang()
    t = PLAN_STRINGS[lang]
    specs = current_app.extensions["geo_antt"].specs
    kinds = [
        {
            "code": k,
            "title": nfc(specs[k].title(lang)) if k in specs else t[f"kind_{k}"],
            "minSpacing": specs[k].min_spacing_m,
            "tiers": bool(specs[k].tiers),
        }
        for k in PLAN_KINDS
        if k in specs
    ]
    config = {
        "lang": lang,
        "strings": t,
        "kinds": kinds,
        "tiers": [
            {"code": c, "title": nfc(tier_of(specs, c).title(lang)), "px_per_m": tier_of(specs, c).px_per_m}
            for c in tier_codes(specs)
        ],
        "maxCount": MAX_COUNT,
        "maxSpacing": MAX_MIN_SPACING_M,
        "defaultPeriod": [d.isoformat() for d in default_period()],
        "urls": {
            "plan": url_for("planning.plan"),
            "report": url_for("planning.report", name="__NAME__"),
            "accept": url_for("registry.create_model"),
        },
        # accepting a proposal writes to the registry: offered to accounts that may edit
        "canEdit": _can_edit(),
    }
    return {"plan_t": t, "plan_config": config}


# -- POST /api/plan ------------------------------------------------------------------------------


def _number(
    body: dict[str, Any], key: str, *, integer: bool = False, minimum: float | None = None, maximum: float | None = None
) -> float | int | None:
    v = body.get(key)
    if v is None or v == "":
        return None
    if isinstance(v, bool):
        raise GeoAnttError(f"{key} must be a number, got {v!r}")
    if isinstance(v, str):
        try:
            v = float(v.strip())
        except ValueError:
            raise GeoAnttError(f"{key} must be a number, got {body.get(key)!r}") from None
    if not isinstance(v, (int, float)) or not math.isfinite(v):
        raise GeoAnttError(f"{key} must be a finite number, got {body.get(key)!r}")
    if integer:
        if float(v) != int(v):
            raise GeoAnttError(f"{key} must be a whole number, got {body.get(key)!r}")
        v = int(v)
    if minimum is not None and v < minimum:
        raise GeoAnttError(f"{key} must be at least {minimum:g}, got {v!r}")
    if maximum is not None and v > maximum:
        raise GeoAnttError(f"{key} must be at most {maximum:g}, got {v!r}")
    return v


def parse_plan_request(body: Any) -> dict[str, Any]:
    """Check the JSON body of ``POST /api/plan`` and return the options of the plan.

    Parameters
    ----------
    body
        The decoded JSON: ``unit`` (code, required), ``kind`` (default "camera"), ``count``,
        ``budget_vnd`` + ``unit_cost_vnd``, ``solver`` (default "auto"), ``time_limit_s``
        (default 60, at most 120), ``min_spacing_m`` (metres between two proposed sites;
        default the kind's layer spec), ``tier`` (plan cameras for one purpose of
        :mod:`geo_antt.tiers`: ``detect``, ``observe``, ``recognise``, ``identify``).

    Returns
    -------
    dict
        ``unit``, ``kind``, ``count``, ``budget_vnd``, ``unit_cost_vnd``, ``solver``,
        ``time_limit_s``, ``min_spacing_m`` (None: the layer spec's), ``tier`` (None: the
        kind's default range).

    Raises
    ------
    GeoAnttError
        A missing or malformed field (HTTP 400), naming it.
    """
    if not isinstance(body, dict):
        raise GeoAnttError('the request body must be a JSON object, e.g. {"unit": "23110", "count": 3}')
    unknown = sorted(
        set(body)
        - {"unit", "kind", "count", "budget_vnd", "unit_cost_vnd", "solver", "time_limit_s", "min_spacing_m", "tier"}
    )
    if unknown:
        raise GeoAnttError(f"unknown field(s) {', '.join(unknown)}")
    unit = body.get("unit")
    if not isinstance(unit, str) or not unit.strip():
        raise GeoAnttError("unit: give the code of the unit to plan in (a commune or hamlet code)")
    kind = body.get("kind", "camera")
    if not isinstance(kind, str) or not kind.strip():
        raise GeoAnttError(f"kind must be a model kind such as camera, lighting or checkpoint; got {kind!r}")
    solver = body.get("solver", "auto")
    if solver not in _SOLVERS:
        raise GeoAnttError(f"solver must be one of {', '.join(_SOLVERS)}; got {solver!r}")
    count = _number(body, "count", integer=True, minimum=0, maximum=MAX_COUNT)
    budget = _number(body, "budget_vnd", minimum=0)
    unit_cost = _number(body, "unit_cost_vnd", minimum=0)
    if unit_cost is not None and unit_cost <= 0:
        raise GeoAnttError("unit_cost_vnd must be more than 0")
    if (budget is None) != (unit_cost is None):
        raise GeoAnttError(msg("a budget needs both budget_vnd and unit_cost_vnd (VND)"))
    if count is None and budget is None:
        raise GeoAnttError(msg("say how many sites to place (count) or give a budget (budget_vnd, unit_cost_vnd)"))
    if count is None and budget is not None and unit_cost is not None and budget / unit_cost > MAX_COUNT:
        count = MAX_COUNT
    limit = _number(body, "time_limit_s", minimum=1, maximum=MAX_TIME_LIMIT_S)
    spacing = _number(body, "min_spacing_m", minimum=0, maximum=MAX_MIN_SPACING_M)
    tier = body.get("tier")
    if tier is not None and (not isinstance(tier, str) or not tier.strip() or len(tier) > 64):
        raise GeoAnttError(f"tier must be a tier code such as identify or detect; got {str(tier)[:64]!r}")
    return {
        "unit": unit.strip(),
        "kind": kind.strip(),
        "count": count,
        "budget_vnd": None if budget is None else float(budget),
        "unit_cost_vnd": None if unit_cost is None else float(unit_cost),
        "solver": solver,
        "time_limit_s": float(DEFAULT_TIME_LIMIT_S if limit is None else limit),
        "min_spacing_m": None if spacing is None else float(spacing),
        "tier": None if tier is None else tier.strip(),
    }


def _num(v: Any, nd: int = 3) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else round(f, nd)


def plan_response(
    result, *, unit_code: str, unit_name: str, kind: str, seconds: float, names: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The JSON answer of ``POST /api/plan`` for a :class:`geo_antt.placement.PlanResult`.

    Returns
    -------
    dict
        A GeoJSON FeatureCollection (sites then footprints, see
        :func:`geo_antt.cli.plan.sites_feature_collection`) with a ``summary`` member:
        ``unit``, ``unit_name``, ``kind``, ``count``, ``sites``, ``objective_m2``, ``solver``,
        ``optimal``, ``proven_by_bound`` (the greedy choice reached the upper bound: no solver
        ran), ``greedy_objective_m2``, ``gap_to_optimum``, ``covered_m2_before``,
        ``covered_m2_after``, ``covered_pct_before``, ``covered_pct_after``, ``seconds`` and
        ``hamlets`` (code, name, area_m2, covered_pct_before, covered_pct_after, gain_m2).
    """
    from ..placement import sites_feature_collection

    fc = sites_feature_collection(result)
    for f in fc["features"]:  # each site names its hamlet (the panel lists them with it)
        p = f["properties"]
        if p.get("layer") == "site":
            code = p.get("unit_code")
            p["unit_name"] = nfc(str(names.get(code, code))) if names is not None and code is not None else code
    table = result.comparison()
    area = float(result.before["area_m2"].sum()) if "area_m2" in result.before.columns else float("nan")
    before_m2 = float(result.before["covered_m2"].sum())
    after_m2 = float(result.after["covered_m2"].sum())
    hamlets = []
    for code, row in table.iterrows():
        name = row.get("unit_name") if "unit_name" in table.columns else row.get("name")
        hamlets.append(
            {
                "code": str(code),
                "name": nfc(str(name)) if isinstance(name, str) else str(code),
                "area_m2": _num(row.get("area_m2"), 1),
                "covered_pct_before": _num(row["covered_pct_before"], 6),
                "covered_pct_after": _num(row["covered_pct_after"], 6),
                "gain_m2": _num(row["gain_m2"], 1),
            }
        )
    fc["summary"] = {
        "unit": unit_code,
        "unit_name": unit_name,
        "kind": kind,
        "count": result.stats.get("count"),
        "sites": int(len(result.sites)),
        "objective_m2": _num(result.objective, 3),
        "solver": result.solver,
        "optimal": bool(result.optimal),
        "proven_by_bound": bool(result.stats.get("proven_by_bound", False)),
        "greedy_objective_m2": _num(result.greedy_objective, 3),
        "gap_to_optimum": _num(result.gap_to_optimum, 6),
        "covered_m2_before": _num(before_m2, 1),
        "covered_m2_after": _num(after_m2, 1),
        "covered_pct_before": _num(100.0 * before_m2 / area, 6) if area > 0 else None,
        "covered_pct_after": _num(100.0 * after_m2 / area, 6) if area > 0 else None,
        "min_spacing_m": result.stats.get("min_spacing_m"),
        "seconds": round(seconds, 2),
        "hamlets": hamlets,
    }
    fc["summary"]["by"] = result.stats.get("by", "area")
    if "tier" in result.stats:  # planned for one purpose: the new cameras' range, the unrated ones
        fc["summary"]["tier"] = result.stats["tier"]
        fc["summary"]["tier_range_m"] = _num(result.stats["tier_range_m"], 3)
        fc["summary"]["resolution_px"] = result.stats["resolution_px"]
        fc["summary"]["tier_unknown"] = result.stats["tier_unknown"]
    if "road_m" in result.after.columns:  # planned along streets: the street metres watched
        fc["summary"]["road_m"] = _num(float(result.after["road_m"].sum()), 1)
        fc["summary"]["road_covered_m_before"] = _num(float(result.before["road_covered_m"].sum()), 1)
        fc["summary"]["road_covered_m_after"] = _num(float(result.after["road_covered_m"].sum()), 1)
    return fc


def _check_scope(code: str) -> None:
    """403 when the account may not read unit ``code`` (once the app limits reads to the
    account's units, :func:`geo_antt.app.context.scope_codes`).
    """
    allowed = scope_codes()
    if allowed is not None and code not in allowed:
        raise PermissionDeniedError(msg("unit '{unit}' is outside the units of this account", unit=code))


class _Heavy:
    """Hold the process-wide lock of heavy computations, or raise :class:`ServiceBusyError`."""

    def __enter__(self) -> None:
        if not _HEAVY.acquire(timeout=_WAIT_S):
            raise ServiceBusyError(msg("another plan or report is being computed; try again in a minute"))

    def __exit__(self, *exc: object) -> None:
        _HEAVY.release()


@bp.post("/api/plan")
def plan():
    """Propose sites for new models in one unit (JSON body, see :func:`parse_plan_request`)."""
    import time

    from ..placement import plan_sites, planning_units

    try:
        body = request.get_json(silent=True)
    except RecursionError:  # json raises it (not a ValueError) for arrays nested ~1,000 deep
        raise GeoAnttError("the request body is JSON nested too deeply") from None
    opts = parse_plan_request(body)
    cat = get_catalog()
    row = cat.unit(opts["unit"])  # 404 for an unknown unit
    _check_scope(opts["unit"])
    ext = current_app.extensions["geo_antt"]
    area = planning_units(cat.units, opts["unit"])
    t0 = time.perf_counter()
    with _Heavy():
        res = plan_sites(
            area,
            cat.models,
            kind=opts["kind"],
            count=opts["count"],
            budget_vnd=opts["budget_vnd"],
            unit_cost_vnd=opts["unit_cost_vnd"],
            specs=ext.specs,
            settings=ext.settings,
            solver=opts["solver"],
            time_limit_s=opts["time_limit_s"],
            roads=cat.roads,  # along the streets when the store has roads
            min_spacing_m=opts["min_spacing_m"],
            tier=opts["tier"],
        )
    body = plan_response(
        res,
        unit_code=opts["unit"],
        unit_name=nfc(str(row["name"])),
        kind=opts["kind"],
        seconds=time.perf_counter() - t0,
        names=cat.units["name"],
    )
    return current_app.response_class(current_app.json.dumps(body), mimetype="application/geo+json")


# -- GET /report/<unit>.<fmt> ----------------------------------------------------------------------


def default_period(today: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """The current year to date: (1 January, today)."""
    today = today or dt.date.today()
    return dt.date(today.year, 1, 1), today


def report_filename(unit_code: str, start: dt.date, end: dt.date, fmt: str, *, lang: str = "vi") -> str:
    """``bao_cao_<unit>_<start>_<end>.<fmt>`` (``report_…`` in English) with only safe characters."""
    prefix = "report" if lang == "en" else "bao_cao"
    return _SAFE.sub("_", f"{prefix}_{unit_code}_{start.isoformat()}_{end.isoformat()}") + "." + fmt


@bp.get("/report/<name>")
def report(name: str):
    """The conference report of a unit: ``/report/23110.xlsx?period=2024-01-01:2024-09-30&lang=vi``."""
    from ..report import FORMATS, build_report, parse_period, write_report

    code, dot, fmt = name.rpartition(".")
    if not dot or not code or fmt not in FORMATS:
        raise GeoAnttError(f"unknown report {name!r}: use /report/UNIT.html, /report/UNIT.xlsx or /report/UNIT.pdf")
    lang = request.args.get("lang", "vi")
    if lang not in ("vi", "en"):
        raise GeoAnttError(f"lang must be vi or en, got {lang!r}")
    cat = get_catalog()
    cat.unit(code)  # 404 for an unknown unit
    _check_scope(code)
    text = request.args.get("period")
    start, end = parse_period(text) if text else default_period()
    compare = request.args.get("compare", "year")
    ext = current_app.extensions["geo_antt"]
    with _Heavy():
        rep = build_report(
            cat.units,
            cat.models,
            unit_code=code,
            period=(start, end),
            lang=lang,
            roads=cat.roads,
            specs=ext.specs,
            settings=ext.settings,
            compare=compare,
        )
        with tempfile.TemporaryDirectory(prefix="geo-antt-report-") as tmp:
            path = write_report(rep, Path(tmp) / f"report.{fmt}", fmt=fmt)
            data = path.read_bytes()
    return send_file(
        io.BytesIO(data),
        mimetype=_MIMETYPES[fmt],
        as_attachment=True,
        download_name=report_filename(code, start, end, fmt, lang=lang),
        max_age=0,
    )
