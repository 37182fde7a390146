"""Maximal covering location problem (MCLP) solvers: exact (HiGHS MILP), spopt, greedy, auto."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .._errors import GeoAnttError
from ._helpers import AUTO_EXACT_MAX_NNZ, SOLVERS, TIE_BREAK

if TYPE_CHECKING:  # scipy is imported where it is used
    from scipy import sparse

__all__ = ["solve_mclp", "spacing_conflicts"]


@dataclass(frozen=True)
class _Solution:
    chosen: np.ndarray  # footprint (column) positions
    objective: float
    optimal: bool
    seconds: float


def _reduce(a: sparse.csr_matrix, w: np.ndarray):
    """Drop rows no column covers and merge rows covered by the same set of columns."""
    from scipy import sparse

    a = sparse.csr_matrix(a, dtype=bool)
    a.sort_indices()
    nnz_row = np.diff(a.indptr)
    keep = (nnz_row > 0) & (w > 0)
    a = a[keep]
    w = w[keep]
    if a.shape[0] == 0:
        return a, w
    keys: dict[bytes, int] = {}
    rows = np.empty(a.shape[0], dtype=np.int64)
    indptr, indices = a.indptr, a.indices
    for r in range(a.shape[0]):
        k = indices[indptr[r] : indptr[r + 1]].tobytes()
        rows[r] = keys.setdefault(k, len(keys))
    if len(keys) == a.shape[0]:
        return a, w
    merged_w = np.bincount(rows, weights=w, minlength=len(keys))
    first = np.full(len(keys), -1, dtype=np.int64)
    order = np.arange(len(rows))[::-1]
    first[rows[order]] = order
    return a[first], merged_w


def spacing_conflicts(xy: np.ndarray, min_spacing_m: float, groups: np.ndarray | None = None) -> np.ndarray:
    """Pairs ``(i, j)``, ``i < j``, of candidate columns standing closer than ``min_spacing_m``
    (metres; ``xy`` their positions in a metric CRS) that may not both be chosen. Columns of one
    group (directions of one site) are left out: the group rule already allows one of them.

    Returns
    -------
    numpy.ndarray
        Shape (k, 2), int64.
    """
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    if not min_spacing_m or min_spacing_m <= 0 or len(xy) < 2:
        return np.empty((0, 2), dtype=np.int64)
    from scipy.spatial import cKDTree

    pairs = cKDTree(xy).query_pairs(r=float(min_spacing_m), output_type="ndarray").astype(np.int64)
    if len(pairs):
        d = np.hypot(*(xy[pairs[:, 0]] - xy[pairs[:, 1]]).T)
        pairs = pairs[d < min_spacing_m]  # strictly closer: a site exactly at the spacing is allowed
    if groups is not None and len(pairs):
        g = np.asarray(groups)
        pairs = pairs[g[pairs[:, 0]] != g[pairs[:, 1]]]
    return np.sort(pairs, axis=1) if len(pairs) else np.empty((0, 2), dtype=np.int64)


def _conflict_lists(conflicts: np.ndarray | None, n_cols: int) -> list[np.ndarray] | None:
    if conflicts is None or len(conflicts) == 0:
        return None
    from scipy import sparse

    c = np.asarray(conflicts, dtype=np.int64)
    m = sparse.coo_matrix(
        (np.ones(2 * len(c)), (np.r_[c[:, 0], c[:, 1]], np.r_[c[:, 1], c[:, 0]])), shape=(n_cols, n_cols)
    ).tocsr()
    return [m.indices[m.indptr[j] : m.indptr[j + 1]] for j in range(n_cols)]


def _sub_conflicts(conflicts: np.ndarray | None, keep: np.ndarray) -> np.ndarray | None:
    """The conflicts among the kept columns, in the kept columns' positions."""
    if conflicts is None or len(conflicts) == 0:
        return None
    pos = np.full(int(max(conflicts.max(), keep.max())) + 1, -1, dtype=np.int64)
    pos[keep] = np.arange(len(keep))
    sub = pos[conflicts]
    return sub[(sub >= 0).all(axis=1)]


@dataclass(frozen=True)
class _Pruned:
    keep: np.ndarray  # candidate (column) positions that may still be in an optimal choice
    a: sparse.csr_matrix  # the rows and those columns (rows no kept column covers dropped)
    w: np.ndarray


def _bounded(
    a: sparse.csr_matrix, w: np.ndarray, groups: np.ndarray, p: int, greedy: _Solution, bonus: np.ndarray | None = None
) -> _Pruned | None:
    """Bounds that settle or shrink the exact problem before a solver sees it.

    A candidate alone covers ``v_j`` (the weight of its rows), and ``p`` candidates of
    different groups together cover at most the ``p`` largest group maxima of ``v`` (``U``).
    When the greedy choice covers ``U`` it is optimal and None is returned: the common case
    of sparse coverage, where the best footprints do not overlap. Otherwise a candidate ``j``
    whose best possible company, ``v_j`` plus the ``p - 1`` largest maxima of the other
    groups, stays below the greedy's cover cannot be in any choice better than the greedy's:
    such candidates are dropped (the optimum is unchanged) and the smaller problem returned.
    Values and bounds include the candidates' tie-break ``bonus``.
    """
    from scipy import sparse

    v = np.asarray(sparse.csr_matrix(a, dtype=np.float64).T @ w).ravel()
    g_val = greedy.objective
    if bonus is not None:
        v = v + bonus
        g_val += float(bonus[greedy.chosen].sum())
    _, g = np.unique(groups, return_inverse=True)
    gmax = np.full(g.max() + 1, -np.inf)
    np.maximum.at(gmax, g, v)
    top = np.sort(gmax)[::-1]
    ub = float(top[:p].sum())
    tol = 1e-9 * max(abs(ub), 1.0)
    if g_val >= ub - tol:
        return None
    # the p - 1 largest maxima of the groups other than j's
    rank = np.empty(len(gmax), dtype=np.int64)
    rank[np.argsort(-gmax, kind="stable")] = np.arange(len(gmax))
    t_p1 = float(top[: p - 1].sum())
    next_best = float(top[p - 1]) if len(top) >= p else 0.0
    others = np.where(rank[g] < p - 1, t_p1 - gmax[g] + next_best, t_p1)
    keep = np.flatnonzero(v + others >= g_val - tol)
    keep = np.union1d(keep, greedy.chosen)
    sub = sparse.csr_matrix(a, dtype=bool)[:, keep]
    rows = np.flatnonzero(np.diff(sub.indptr) > 0)
    return _Pruned(keep, sub[rows], w[rows])


def _greedy(
    a: sparse.csr_matrix,
    w: np.ndarray,
    groups: np.ndarray,
    p: int,
    bonus: np.ndarray | None = None,
    conflicts: np.ndarray | None = None,
) -> _Solution:
    """The classic greedy: take the candidate covering the most uncovered weight, p times (one
    per group, none in ``conflicts`` with one taken); ``bonus`` (tiny, per candidate) breaks
    ties. The objective is the covered weight.
    """
    from scipy import sparse

    t0 = time.perf_counter()
    a = sparse.csr_matrix(a, dtype=np.float64)
    at = a.T.tocsr()
    alive = np.ones(a.shape[0], dtype=bool)
    gain = np.asarray(at @ w).ravel()
    extra = np.zeros(len(gain)) if bonus is None else bonus
    chosen: list[int] = []
    near = _conflict_lists(conflicts, a.shape[1])
    for _ in range(p):
        if gain.size == 0:
            break
        j = int(np.argmax(np.where(gain > 0, gain + extra, -np.inf)))
        if not gain[j] > 0:
            break
        chosen.append(j)
        rows = at.indices[at.indptr[j] : at.indptr[j + 1]]
        new = rows[alive[rows]]
        alive[new] = False
        if len(new):
            gain -= np.asarray(a[new].T @ w[new]).ravel()
        gain[groups == groups[j]] = -np.inf  # one footprint per site
        if near is not None:
            gain[near[j]] = -np.inf  # no two sites closer than the spacing
    obj = float(w[~alive].sum())
    return _Solution(np.asarray(chosen, dtype=np.int64), obj, False, time.perf_counter() - t0)


def _own_coefficients(csr: sparse.csr_matrix, w: np.ndarray, bonus: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """The integer programmes' objective coefficient of each candidate (the weight of the rows
    it alone covers, plus its tie-break ``bonus``) and the rows covered by several candidates.
    """
    single = np.diff(csr.indptr) == 1
    own = np.bincount(csr.indices[csr.indptr[:-1][single]], weights=w[single], minlength=csr.shape[1])
    if bonus is not None:
        own = own + bonus
    return own, np.flatnonzero(~single)


def _exact(a, w, groups, p, *, time_limit_s, warm=None, bonus=None, conflicts=None) -> _Solution:
    """Exact MCLP with PuLP + CBC: max sum c_j x_j + sum w_i y_i, y_i <= sum_{j covers i} x_j,
    sum x_j <= p, at most one x per group. Demand rows covered by a single candidate are folded
    into that candidate's own coefficient c_j (the same optimum, far fewer rows); the tie-break
    ``bonus`` of each candidate is added to it; x_i + x_j <= 1 for each pair of ``conflicts``.
    """
    import pulp
    from scipy import sparse

    t0 = time.perf_counter()
    csr = sparse.csr_matrix(a, dtype=bool)
    n_rows, n_cols = csr.shape
    own, multi = _own_coefficients(csr, w, bonus)
    prob = pulp.LpProblem("mclp", pulp.LpMaximize)
    x = [pulp.LpVariable(f"x{j}", cat=pulp.LpBinary) for j in range(n_cols)]
    # y continuous in [0, 1]: with binary x the optimum has y_i = min(1, sum x) anyway.
    y = [pulp.LpVariable(f"y{i}", lowBound=0, upBound=1) for i in range(len(multi))]
    obj = [(x[j], float(own[j])) for j in np.flatnonzero(own > 0)]
    obj += [(y[k], float(w[i])) for k, i in enumerate(multi)]
    prob += pulp.LpAffineExpression(obj)
    indptr, indices = csr.indptr, csr.indices
    for k, i in enumerate(multi):
        terms = [(x[j], 1) for j in indices[indptr[i] : indptr[i + 1]]]
        terms.append((y[k], -1))
        prob += pulp.LpConstraint(pulp.LpAffineExpression(terms), sense=pulp.LpConstraintGE, rhs=0)
    prob += pulp.LpConstraint(pulp.LpAffineExpression([(v, 1) for v in x]), sense=pulp.LpConstraintLE, rhs=p)
    order = np.argsort(groups, kind="stable")
    _, starts = np.unique(groups[order], return_index=True)
    bounds = list(starts[1:]) + [len(order)]
    for s_, e_ in zip(starts, bounds):
        if e_ - s_ > 1:
            terms = [(x[j], 1) for j in order[s_:e_]]
            prob += pulp.LpConstraint(pulp.LpAffineExpression(terms), sense=pulp.LpConstraintLE, rhs=1)
    if conflicts is not None:
        for i, j in np.asarray(conflicts, dtype=np.int64):
            prob += pulp.LpConstraint(
                pulp.LpAffineExpression([(x[int(i)], 1), (x[int(j)], 1)]), sense=pulp.LpConstraintLE, rhs=1
            )
    warm_start = False
    if warm is not None and len(warm):
        for j in warm:
            x[int(j)].setInitialValue(1)
        warm_start = True
    solver = pulp.PULP_CBC_CMD(msg=False, timeLimit=time_limit_s, warmStart=warm_start)
    prob.solve(solver)
    if prob.sol_status not in (pulp.LpSolutionIntegerFeasible, pulp.LpSolutionOptimal):
        raise GeoAnttError(f"the CBC solver found no solution (status {pulp.LpStatus[prob.status]})")
    xv = np.array([v.value() or 0.0 for v in x])
    chosen = np.flatnonzero(xv > 0.5)
    covered = np.asarray(csr[:, chosen].sum(axis=1) > 0).ravel() if len(chosen) else np.zeros(n_rows, bool)
    obj_value = float(w[covered].sum())
    optimal = prob.sol_status == pulp.LpSolutionOptimal
    return _Solution(chosen, obj_value, bool(optimal), time.perf_counter() - t0)


def _highs(a, w, groups, p, *, time_limit_s, bonus=None, conflicts=None) -> _Solution:
    """The same integer programme as :func:`_exact`, solved by HiGHS (scipy.optimize.milp)."""
    from scipy import sparse
    from scipy.optimize import Bounds, LinearConstraint, milp

    t0 = time.perf_counter()
    csr = sparse.csr_matrix(a, dtype=float)
    n_rows, n_cols = csr.shape
    own, multi = _own_coefficients(csr, w, bonus)
    k = len(multi)
    _, group_row = np.unique(groups, return_inverse=True)
    g = sparse.csr_matrix((np.ones(n_cols), (group_row, np.arange(n_cols))))
    if conflicts is not None and len(conflicts):  # x_i + x_j <= 1: rows like the groups'
        c = np.asarray(conflicts, dtype=np.int64)
        rows = np.repeat(np.arange(len(c)), 2)
        g = sparse.vstack(
            [g, sparse.csr_matrix((np.ones(2 * len(c)), (rows, c.ravel())), shape=(len(c), n_cols))]
        ).tocsr()
    m = sparse.vstack(
        [
            sparse.hstack([csr[multi], -sparse.identity(k, format="csr")]),
            sparse.hstack([sparse.csr_matrix(np.ones((1, n_cols))), sparse.csr_matrix((1, k))]),
            sparse.hstack([g, sparse.csr_matrix((g.shape[0], k))]),
        ]
    ).tocsr()
    lb = np.concatenate([np.zeros(k), [-np.inf], np.full(g.shape[0], -np.inf)])
    ub = np.concatenate([np.full(k, np.inf), [float(p)], np.ones(g.shape[0])])
    res = milp(
        -np.concatenate([own, w[multi]]),
        constraints=LinearConstraint(m, lb, ub),
        integrality=np.concatenate([np.ones(n_cols), np.zeros(k)]),
        bounds=Bounds(0, 1),
        options={"time_limit": float(time_limit_s)},
    )
    if res.x is None:
        raise GeoAnttError(f"HiGHS found no solution ({res.message})")
    chosen = np.flatnonzero(res.x[:n_cols] > 0.5)
    covered = np.asarray(csr[:, chosen].sum(axis=1) > 0).ravel() if len(chosen) else np.zeros(n_rows, bool)
    return _Solution(chosen, float(w[covered].sum()), res.status == 0, time.perf_counter() - t0)


def _spopt(a, w, groups, p) -> _Solution:
    import pulp
    from spopt.locate import MCLP

    if len(np.unique(groups)) != len(groups):
        msg = "spopt's MCLP cannot limit the choice to one direction per site; use solver='exact' or one direction (fov_deg=360 or directions_deg=[d])"
        raise GeoAnttError(msg)
    t0 = time.perf_counter()
    dense = a.toarray()
    cost = np.where(dense, 0.0, 1.0)
    model = MCLP.from_cost_matrix(cost, np.asarray(w, dtype=float), service_radius=0.5, p_facilities=int(p))
    model = model.solve(pulp.PULP_CBC_CMD(msg=False))
    chosen = np.asarray([j for j, var in enumerate(model.fac_vars) if (var.value() or 0) > 0.5], dtype=np.int64)
    covered = dense[:, chosen].any(axis=1) if len(chosen) else np.zeros(dense.shape[0], bool)
    optimal = pulp.LpStatus[model.problem.status] == "Optimal"
    return _Solution(chosen, float(w[covered].sum()), optimal, time.perf_counter() - t0)


def solve_mclp(
    a: sparse.spmatrix,
    weights: np.ndarray,
    *,
    count: int,
    groups: np.ndarray | None = None,
    solver: str = "exact",
    time_limit_s: float = 300.0,
    compare_greedy: bool = True,
    priority: np.ndarray | None = None,
    conflicts: np.ndarray | None = None,
) -> dict[str, Any]:
    """Solve the maximal covering location problem on a coverage matrix.

    Parameters
    ----------
    a
        Demand × candidate boolean matrix (True: the candidate covers the demand point).
    weights
        Weight of each demand row (rows already covered must be removed beforehand).
    count
        Number of candidates to choose (at most).
    groups
        Group of each candidate column: at most one column per group is chosen (one direction
        per camera site). Default: every column its own group.
    solver
        "exact" (PuLP + CBC), "highs" (the same integer programme solved by HiGHS through
        scipy.optimize.milp, often faster on dense cases), "spopt" (spopt.locate.MCLP + CBC),
        "greedy", or "auto" (exact when the reduced matrix has at most ``AUTO_EXACT_MAX_NNZ``
        non-zeros, else greedy).
    time_limit_s
        Time limit of CBC, seconds; a solution stopped by it is reported as not optimal.
    compare_greedy
        Also run the greedy heuristic when solving exactly and report its gap.
    priority
        Tie-break of each candidate column, 0..1 (e.g. how uncovered its hamlet is): among
        choices covering the same weight, to ``TIE_BREAK`` (1e-3) of the largest row weight per
        candidate, the higher priorities win. The covered weight reported is the true one.
        Not used by "spopt".
    conflicts
        Pairs of candidate columns that may not both be chosen (two sites closer than the
        least spacing, :func:`spacing_conflicts`); every solver but "spopt" keeps to them.

    Returns
    -------
    dict
        ``chosen`` (column positions), ``objective`` (covered weight), ``solver``, ``optimal``,
        ``greedy_objective``, ``gap_to_optimum`` (relative shortfall of the greedy from the exact
        optimum, 0..1, or None), ``seconds``, ``n_rows``/``n_cols``/``nnz`` of the reduced problem,
        and for "exact"/"highs" ``bound``: what the bounds settled before the solver ran (the
        greedy choice proven optimal, or how many candidates were ruled out; see
        :func:`_bounded`) and ``proven_by_bound`` (True: no solver had to run).
    """
    from scipy import sparse

    if solver not in SOLVERS:
        raise GeoAnttError(f"solver must be one of {', '.join(SOLVERS)}; got {solver!r}")
    if count < 0 or int(count) != count:
        raise GeoAnttError(f"count must be a whole number >= 0, got {count!r}")
    a = sparse.csr_matrix(a, dtype=bool)
    w = np.asarray(weights, dtype=float)
    if a.shape[0] != len(w):
        raise ValueError(f"'weights' has {len(w)} values for {a.shape[0]} demand rows")
    groups = np.arange(a.shape[1]) if groups is None else np.asarray(groups)
    if conflicts is not None:
        conflicts = np.asarray(conflicts, dtype=np.int64).reshape(-1, 2)
        if len(conflicts) and (conflicts.min() < 0 or conflicts.max() >= a.shape[1]):
            raise ValueError("'conflicts' names columns the matrix does not have")
        if not len(conflicts):
            conflicts = None
    ar, wr = _reduce(a, w)
    info: dict[str, Any] = {"n_rows": int(ar.shape[0]), "n_cols": int(ar.shape[1]), "nnz": int(ar.nnz)}
    if solver == "auto":
        solver = "exact" if ar.nnz <= AUTO_EXACT_MAX_NNZ else "greedy"
    if count == 0 or ar.shape[0] == 0:
        return {
            "chosen": np.empty(0, dtype=np.int64),
            "objective": 0.0,
            "solver": solver,
            "optimal": True,
            "greedy_objective": 0.0,
            "gap_to_optimum": 0.0,
            "seconds": 0.0,
            **info,
        }
    bonus = None
    if priority is not None:
        if len(priority) != a.shape[1]:
            raise ValueError(f"'priority' has {len(priority)} values for {a.shape[1]} candidates")
        bonus = TIE_BREAK * float(wr.max()) * np.clip(np.nan_to_num(np.asarray(priority, dtype=float)), 0.0, 1.0)
        bonus[np.asarray(sparse.csr_matrix(ar, dtype=np.float64).T @ wr).ravel() <= 0] = (
            0.0  # nothing to cover: no pull
        )
    # the greedy answer is a lower bound for the exact solvers (and CBC's warm start)
    greedy = _greedy(ar, wr, groups, int(count), bonus, conflicts) if solver != "spopt" or compare_greedy else None
    if solver == "greedy":
        assert greedy is not None  # computed for every solver but spopt
        sol = greedy
    elif solver == "spopt":
        if conflicts is not None:
            raise GeoAnttError("spopt's MCLP cannot keep proposed sites apart; use solver='exact' or a spacing of 0")
        sol = _spopt(ar, wr, groups, int(count))
    else:
        assert greedy is not None  # computed for every solver but spopt
        pruned = _bounded(ar, wr, groups, int(count), greedy, bonus)
        if pruned is None:  # the greedy choice is optimal: no solver needed
            info["bound"] = "the greedy choice reaches the upper bound"
            info["proven_by_bound"] = True
            sol = _Solution(greedy.chosen, greedy.objective, True, greedy.seconds)
            greedy = _Solution(greedy.chosen, greedy.objective, False, 0.0)  # its time counted once
        else:
            info["bound"] = f"{ar.shape[1] - len(pruned.keep)} of {ar.shape[1]} candidates ruled out"
            info["proven_by_bound"] = False
            keep, sub_groups = pruned.keep, groups[pruned.keep]
            sub_bonus = None if bonus is None else bonus[keep]
            sub_conf = _sub_conflicts(conflicts, keep)
            if solver == "highs":
                sol = _highs(
                    pruned.a,
                    pruned.w,
                    sub_groups,
                    int(count),
                    time_limit_s=time_limit_s,
                    bonus=sub_bonus,
                    conflicts=sub_conf,
                )
            else:
                warm = np.flatnonzero(np.isin(keep, greedy.chosen))
                sol = _exact(
                    pruned.a,
                    pruned.w,
                    sub_groups,
                    int(count),
                    time_limit_s=time_limit_s,
                    warm=warm,
                    bonus=sub_bonus,
                    conflicts=sub_conf,
                )
            sol = _Solution(keep[sol.chosen], sol.objective, sol.optimal, sol.seconds)
    gap = None
    if greedy is not None and solver != "greedy" and sol.optimal:
        gap = 0.0 if sol.objective <= 0 else max(0.0, (sol.objective - greedy.objective) / sol.objective)
    reported = compare_greedy or solver == "greedy"
    return {
        "chosen": np.sort(sol.chosen),
        "objective": sol.objective,
        "solver": solver,
        "optimal": sol.optimal,
        "greedy_objective": greedy.objective if greedy is not None and reported else None,
        "gap_to_optimum": gap if reported else None,
        "seconds": sol.seconds + (greedy.seconds if greedy is not None and greedy is not sol else 0.0),
        **info,
    }
