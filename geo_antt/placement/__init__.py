"""Where new models close the most gap: ranking of uncovered units and the maximal covering
location problem (MCLP).

The planner's question is "where do N new cameras (or lights, or checkpoints) cover the most of
what is not covered yet?". It is answered in four steps, all in a metric CRS:

1. **Demand**: what there is to cover. By default area, measured exactly: the faces of the
   arrangement of the candidate footprints inside the units and outside the existing coverage
   (:func:`area_pieces`), weight = the face's area in m², so the objective *is* the newly
   covered area the coverage engine reports. With a user layer (households, population, road
   length, incidents...) :func:`demand_points` turns it into weighted points (numeric
   ``weight_column``; lines and polygons are spread over a lattice by length/area), marked
   ``covered`` when an existing active footprint covers them. Demand already covered is never
   counted again (existing models are fixed).
2. **Candidates** (:func:`candidate_sites`): where a new model may go. By default a lattice over
   the gap polygons plus each unit's representative point; or a user file (e.g. existing poles).
   A camera site gets one candidate footprint per direction (8 by default); at most one of them
   may be chosen per site.
3. **Solve**: choose ``count`` footprints maximising the weight of newly covered demand.
   ``solver="exact"`` builds the MCLP as an integer programme (PuLP, CBC) with the extra
   "one direction per site" rows spopt's MCLP has no room for; ``solver="spopt"`` runs
   :class:`spopt.locate.MCLP` itself (one footprint per site only); ``solver="greedy"`` is the
   classic (1 - 1/e) greedy heuristic for very large cases; ``"auto"`` is exact when the reduced
   problem is small enough, else greedy. Whenever the exact solver runs, the greedy runs too and
   its relative gap to the optimum is reported. Before an exact solver runs, bounds from the
   candidates' standalone values settle the problem when the greedy choice reaches them (the
   usual case while coverage is sparse) or rule out candidates that cannot be in an optimum.
   Among sites of equal gain (to ``TIE_BREAK``, 0.1 % of the largest demand piece) the plan
   takes those in the least covered units: a tiny priority bonus, never counted in the
   newly covered area reported.
4. **Before/after**: the chosen sites become active models and
   :func:`geo_antt.coverage.compute_coverage` is run with and without them, so the figures are
   exactly the coverage engine's. Each site's marginal gain (demand weight and m² of area) is
   given in the order of a greedy replay of the chosen set.

:func:`rank_uncovered` ranks units by uncovered need, weighted by an optional demand layer.
"""

from __future__ import annotations

from ._helpers import SOLVERS
from .candidates import (
    area_pieces,
    candidate_footprints,
    candidate_sites,
    coverage_matrix,
)
from .demand import demand_points
from .plan import (
    PlanResult,
    plan_count,
    plan_sites,
    planning_units,
    sites_feature_collection,
)
from .ranking import rank_uncovered, weighted_coverage
from .solvers import solve_mclp, spacing_conflicts

__all__ = [
    "PlanResult",
    "SOLVERS",
    "demand_points",
    "candidate_sites",
    "candidate_footprints",
    "coverage_matrix",
    "area_pieces",
    "solve_mclp",
    "spacing_conflicts",
    "plan_sites",
    "rank_uncovered",
    "weighted_coverage",
    "plan_count",
    "planning_units",
    "sites_feature_collection",
]
