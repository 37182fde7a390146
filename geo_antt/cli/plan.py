"""``geo-antt plan``: where N new cameras (lights, checkpoints) close the most gap."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import geopandas as gpd
import pandas as pd

from .._errors import GeoAnttError
from ..io import read_layer, write_atomic
from ..layers import load_layer_specs
from ..placement import planning_units, sites_feature_collection
from ..text import nfc
from ..tiers import tier_codes
from .inputs import (
    add_dem_argument,
    add_input_arguments,
    add_roads_argument,
    load_inputs,
    load_inputs_with_features,
    open_dem_argument,
)

__all__ = ["register", "load_frames"]


def _add_data_args(p: argparse.ArgumentParser) -> None:
    add_input_arguments(p)


def register(subparsers: Any) -> None:
    """Add the ``plan`` sub-command."""
    p = subparsers.add_parser(
        "plan",
        help="suggest sites for N new models that cover the most uncovered area/demand (MCLP)",
        description=(
            "Choose N sites for new models (camera, lighting, checkpoint...) among candidates to "
            "maximise newly covered demand, keeping existing active models fixed (maximal covering "
            "location problem, solved exactly with CBC, or greedily for very large cases)."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "examples:\n"
            "  geo-antt plan --data data --unit 23110 --kind camera --count 10 --out sites.geojson\n"
            "  geo-antt plan --data data --unit 23110 --kind lighting --budget 50000000 --unit-cost 3500000\n"
            "  geo-antt plan --data data --unit 23110 --count 5 --candidates poles.geojson \\\n"
            "      --demand households.geojson --weight-column so_ho\n"
        ),
    )
    _add_data_args(p)
    p.add_argument("--unit", required=True, metavar="CODE", help="unit to plan in (its hamlets are the demand area)")
    p.add_argument("--kind", default="camera", help="kind of the new models (default camera)")
    p.add_argument("--count", type=int, help="number of new models")
    p.add_argument("--budget", type=float, metavar="VND", help="budget in VND (caps the count with --unit-cost)")
    p.add_argument("--unit-cost", type=float, metavar="VND", help="cost of one new model in VND")
    p.add_argument(
        "--candidates",
        metavar="FILE",
        help="candidate sites (points, e.g. poles); default a grid over the gaps + hamlet centres",
    )
    p.add_argument("--candidate-spacing", type=float, metavar="METRES", help="grid spacing of default candidates (m)")
    p.add_argument(
        "--min-spacing",
        type=float,
        metavar="METRES",
        help="least distance between two proposed sites, metres (default: the layer spec's, 30 for cameras; 0: none)",
    )
    p.add_argument("--demand", metavar="FILE", help="demand layer (points/lines/polygons) weighting what to cover")
    p.add_argument("--weight-column", metavar="COL", help="numeric column of --demand (households, population...)")
    p.add_argument("--demand-spacing", type=float, metavar="METRES", help="demand grid spacing (m)")
    add_roads_argument(p)
    p.add_argument(
        "--by",
        choices=("street", "area"),
        default=None,
        help="what to cover: street metres (sites on the streets; the default when there are roads) or area",
    )
    p.add_argument("--solver", choices=("exact", "highs", "spopt", "greedy", "auto"), default="auto")
    p.add_argument("--fov-deg", type=float, help="camera angle of view, degrees")
    p.add_argument("--range-m", type=float, help="camera range, metres")
    p.add_argument("--radius-m", type=float, help="radius of lights/checkpoints, metres")
    p.add_argument(
        "--tier",
        choices=tier_codes(load_layer_specs()),
        help="plan cameras for one purpose (IEC 62676-4): their range is that tier's range for --resolution "
        "pixels and --fov-deg; registered cameras count with their own tier ranges (instead of --range-m)",
    )
    p.add_argument(
        "--resolution",
        type=float,
        metavar="PX",
        help="horizontal pixels of the new cameras with --tier (default: the layer spec's, 1920 = 2MP)",
    )
    p.add_argument("--directions", type=int, metavar="N", help="camera directions tried per site (default 8)")
    p.add_argument("--time-limit", type=float, default=300.0, metavar="SECONDS", help="exact solver time limit")
    p.add_argument(
        "--buildings",
        metavar="FILE",
        help="building footprints (Polygons, any CRS): candidates are judged by what they see without looking "
        "through walls, sites inside buildings are left out, building interiors are no demand",
    )
    add_dem_argument(p)
    p.add_argument("--out", metavar="FILE", help="write the proposed sites and their footprints (GeoJSON)")
    p.add_argument("--table", metavar="FILE", help="write the before/after table per hamlet (CSV)")
    p.add_argument("--json", action="store_true", help="print the result summary as JSON")
    p.set_defaults(func=run)


# --------------------------------------------------------------------------------------------
# loading (dataset directory or explicit files)


def load_frames(args: argparse.Namespace) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, dict]:
    """Units and models of ``--data DIR`` or ``--boundaries``/``--models``; returns
    ``(units, models, meta)`` (units indexed by ``code``, models by ``id``).
    """
    units, models, _skipped = load_inputs(args)
    return units, models, {}


# --------------------------------------------------------------------------------------------
# output


def run(args: argparse.Namespace) -> int:
    from ..placement import plan_sites

    dem = open_dem_argument(args)
    units, models, _skipped, roads, buildings = load_inputs_with_features(args)
    if args.by == "street" and roads is None:
        raise GeoAnttError("--by street needs roads: give --roads FILE (or a dataset or store that has roads)")
    if args.by == "area" or args.demand:
        roads = None  # a demand layer is its own measure
    area = planning_units(units, args.unit)
    candidates = read_layer(args.candidates) if args.candidates else None
    demand = read_layer(args.demand) if args.demand else None
    if args.weight_column and demand is None:
        raise GeoAnttError("--weight-column needs --demand FILE")
    res = plan_sites(
        area,
        models,
        kind=args.kind,
        count=args.count,
        budget_vnd=args.budget,
        unit_cost_vnd=args.unit_cost,
        candidates=candidates,
        candidate_spacing_m=args.candidate_spacing,
        demand=demand,
        weight_column=args.weight_column,
        demand_spacing_m=args.demand_spacing,
        solver=args.solver,
        fov_deg=args.fov_deg,
        range_m=args.range_m,
        radius_m=args.radius_m,
        n_directions=args.directions,
        time_limit_s=args.time_limit,
        roads=roads,
        buildings=buildings,
        dem=dem,
        min_spacing_m=args.min_spacing,
        tier=args.tier,
        resolution_px=args.resolution,
    )
    if args.out:
        write_atomic(args.out, json.dumps(sites_feature_collection(res), ensure_ascii=False))
    table = res.comparison()
    if args.table:
        write_atomic(args.table, table.to_csv(index_label="unit_code"))
    summary = {
        "unit": args.unit,
        "kind": args.kind,
        "count": res.stats.get("count"),
        "sites": int(len(res.sites)),
        "objective": round(res.objective, 3),
        "solver": res.solver,
        "optimal": res.optimal,
        "greedy_objective": None if res.greedy_objective is None else round(res.greedy_objective, 3),
        "gap_to_optimum": res.gap_to_optimum,
        "covered_m2_before": round(float(res.before["covered_m2"].sum()), 1),
        "covered_m2_after": round(float(res.after["covered_m2"].sum()), 1),
        "by": res.stats.get("by", "area"),
        **(
            {
                "road_m": round(float(res.after["road_m"].sum()), 1),
                "road_covered_m_before": round(float(res.before["road_covered_m"].sum()), 1),
                "road_covered_m_after": round(float(res.after["road_covered_m"].sum()), 1),
            }
            if "road_m" in res.after.columns
            else {}
        ),
        "stats": {k: (round(v, 3) if isinstance(v, float) else v) for k, v in res.stats.items()},
        **({"tier": args.tier, "tier_unknown": res.stats["tier_unknown"]} if args.tier else {}),
    }
    if args.json:
        print(json.dumps(summary, ensure_ascii=False, indent=2))
        return 0
    out = sys.stdout
    print(
        f"plan {args.kind} × {summary['sites']} in {args.unit}: solver {res.solver}"
        f"{' (optimal)' if res.optimal else ''}, newly covered {res.objective:,.0f}"
        f"{' m of street' if summary['by'] == 'street' else '' if args.weight_column else ' m²'}",
        file=out,
    )
    if args.tier:
        st = res.stats
        print(
            f"tier {args.tier}: new cameras of {st['resolution_px']:g} px reach {st['tier_range_m']:.2f} m; "
            f"registered cameras in the area: {st['tier_rated']} ranged by their resolution, {st['tier_unknown']} tier unknown "
            "(no resolution_px: their range_m is kept)",
            file=out,
        )
    if res.gap_to_optimum is not None:
        print(
            f"greedy heuristic: {res.greedy_objective:,.0f} (gap to optimum {100 * res.gap_to_optimum:.2f} %)", file=out
        )
    if res.stats.get("proven_by_bound"):
        print("optimal by the upper bound: the greedy choice reaches it (no solver had to run)", file=out)
    print(
        f"covered before {summary['covered_m2_before']:,.0f} m², after {summary['covered_m2_after']:,.0f} m²", file=out
    )
    if "road_m" in summary:
        print(
            f"streets covered before {summary['road_covered_m_before']:,.0f} m, after {summary['road_covered_m_after']:,.0f} m"
            f" of {summary['road_m']:,.0f} m",
            file=out,
        )
    # where to go: the hamlet by name and the site's position (WGS84, about 10 cm)
    names = area["name"].astype(str) if "name" in area.columns else pd.Series(dtype=str)
    street = summary["by"] == "street"
    print(
        f"{'rank':>4}  {'unit':<10}  {'name':<22}  {'lat':>10}  {'lon':>11}  {'direction':>9}  {'gain_m2':>8}"
        + (f"  {'gain_m':>7}" if street else ""),
        file=out,
    )
    for _, r in res.sites.iterrows():
        d = ",".join(f"{x:g}" for x in r["direction_deg"]) if r["direction_deg"] else "-"
        name = nfc(names.get(r["unit_code"], "")) or ""
        print(
            f"{r['rank']:>4}  {str(r['unit_code'])[:10]:<10}  {name[:22]:<22}  {r.geometry.y:>10.6f}  {r.geometry.x:>11.6f}  "
            f"{d:>9}  {r['gain_m2']:>8.1f}" + (f"  {r['gain_weight']:>7.1f}" if street else ""),
            file=out,
        )
    if args.out:
        print(f"wrote {args.out}", file=out)
    return 0
