"""x_ω off the tie set and the tie LP that completes it on the ties (:mod:`lpmech.structured`, step 2).

:func:`fixed_part` makes one grid pass for x_ω = 1{ω·φ̄ < b} and the tie set; :func:`tie_lp`
builds and solves the small LP over the tie profiles (pooled on ironing intervals) with
HiGHS; :func:`complete` does both. :func:`tie_lp` is lpmech's one tie-completion LP: the maximin
path (:meth:`lpmech.maximin.MaximinLP.solve_completion`) calls it too, through
:func:`pinned_part` and :func:`unpooled`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..highs import INF, make_highs, row_scaled, run
from ..instance import EngineProblem
from ..profiles import Grid, outer_pmf
from ..tolerances import tie_band
from ..virtual import ironing_intervals

__all__ = [
    "Completion",
    "FixedPart",
    "TieLP",
    "complete",
    "fixed_part",
    "pinned_part",
    "pool_representatives",
    "tie_lp",
    "unpooled",
]


@dataclass
class FixedPart:
    """x_ω off the ties (0 on them), the tie profiles, and the fixed part's per-agent masses."""

    x: np.ndarray  # flat, C order
    ties: np.ndarray  # flat indices of the tie set
    tie_probability: float
    mass: list[np.ndarray]  # Σ_θ P(θ) x(θ) grouped by θ_i, x = 0 on ties


def fixed_part(
    grid: Grid, omega: np.ndarray, phi_bar, b: float, tie_rtol: float, uncertainty: float = 0.0
) -> FixedPart:
    """One pass: x_ω = 1{ω·φ̄ < b - band}, the tie set |ω·φ̄ - b| <= band, and their masses.

    band = tie_rtol × (|b| + ω·|φ̄(θ)|) + uncertainty × Σ_i |φ̄_i(θ_i)|, per profile
    (:func:`lpmech.tolerances.tie_band`).
    """
    x = np.empty(grid.size)
    ties = []
    tie_probability = 0.0
    mass = [np.zeros(k) for k in grid.shape]
    omega = np.clip(np.asarray(omega, dtype=float), 0.0, None)
    abs_bar = [np.abs(f) for f in phi_bar]
    for block in grid.blocks():
        s = block.combine(omega, phi_bar)
        total = block.combine(np.ones(len(abs_bar)), abs_bar) if uncertainty else 0.0
        band = tie_band(b, block.combine(omega, abs_bar), tie_rtol, uncertainty, total)
        P = block.pmf()
        trade = s < b - band
        tie = np.abs(s - b) <= band
        x[block.start : block.stop] = trade.ravel()
        flat = np.flatnonzero(tie)
        if flat.size:
            ties.append(flat + block.start)
            tie_probability += float(np.sum(np.broadcast_to(P, block.shape)[tie]))
        for acc, part in zip(mass, block.marginals(P * trade)):
            acc += part
    tie_index = np.concatenate(ties) if ties else np.zeros(0, dtype=np.int64)
    return FixedPart(x=x, ties=tie_index, tie_probability=tie_probability, mass=mass)


def pool_representatives(phi: Sequence[np.ndarray], phi_bar: Sequence[np.ndarray]):
    """Per agent: each grid index mapped to the first index of its ironing interval, and the intervals."""
    reps, intervals = [], []
    for f, fb in zip(phi, phi_bar):
        rep = np.arange(fb.size)
        ivs = ironing_intervals(np.asarray(f, dtype=float), np.asarray(fb, dtype=float))
        for lo, hi in ivs:
            rep[lo : hi + 1] = lo
        reps.append(rep)
        intervals.append(ivs)
    return reps, intervals


def tie_lp_columns(shape, ties: np.ndarray, reps) -> tuple[tuple[np.ndarray, ...], np.ndarray, int]:
    """Coordinates of the tie profiles and their LP column: one per class of pooled profiles."""
    coords = np.unravel_index(ties, shape)
    key = np.ravel_multi_index(tuple(rep[c] for rep, c in zip(reps, coords)), shape)
    _, column = np.unique(key, return_inverse=True)
    column = column.ravel().astype(np.int32)
    return coords, column, int(column.max()) + 1


def monotonicity_entries(probs, coords, column, intervals, first_row: int):
    """Entries and bounds of the rows X_i(t_k) - X_i(t_{k+1}) >= Xf_i(t_{k+1}) - Xf_i(t_k).

    A tie profile with θ_i = k adds P_-i(θ_-i) to row (i, k) and subtracts it from row (i, k-1);
    pairs (k, k+1) inside an ironing interval get no row (pooling makes them identities).
    Returns (rows, cols, vals, per-agent list of (pairs, row numbers)).
    """
    n = len(probs)
    own = [p[c] for p, c in zip(probs, coords)]
    rows, cols, vals, layout = [], [], [], []
    next_row = first_row
    for i in range(n):
        k_i = probs[i].size
        inside = np.zeros(max(k_i - 1, 0), dtype=bool)
        for lo, hi in intervals[i]:
            inside[lo:hi] = True
        pairs = np.flatnonzero(~inside)
        row_of_pair = np.full(max(k_i - 1, 0), -1, dtype=np.int64)
        row_of_pair[pairs] = next_row + np.arange(pairs.size)
        layout.append((pairs, row_of_pair[pairs]))
        next_row += pairs.size
        if pairs.size == 0:
            continue
        others = np.ones(column.size)
        for j in range(n):
            if j != i:
                others *= own[j]
        for pair, sign in ((coords[i], 1.0), (coords[i] - 1, -1.0)):
            ok = (pair >= 0) & (pair < k_i - 1)
            ok[ok] = row_of_pair[pair[ok]] >= 0
            rows.append(row_of_pair[pair[ok]].astype(np.int32))
            cols.append(column[ok])
            vals.append(sign * others[ok])
    return rows, cols, vals, layout, next_row


@dataclass
class TieLP:
    """The solved tie LP: x on the tie profiles (in ``FixedPart.ties`` order) and the LP's own numbers."""

    x: np.ndarray  # (T,) in [0, 1]
    columns: int  # LP columns for x (pooled classes)
    value: float  # z = min_i E[x(b - φ_i)] of the completed x
    omega: np.ndarray  # (N,) duals of the maximin rows (HiGHS's sign flipped, rows unscaled)
    status: str
    iterations: int


def tie_lp(
    problem: EngineProblem, phi, fixed: FixedPart, reps, intervals, *, what: str = "tie LP completing x_omega"
) -> TieLP:
    """The one tie-completion LP of lpmech (module notes of :mod:`lpmech.structured`, step 2).

    Used by the structured solver (pooled on ironing intervals) and by
    :meth:`lpmech.maximin.MaximinLP.solve_completion` (no pooling: ``reps`` the identity and no
    intervals, which is the maximin LP with the pinned columns moved to the right-hand side).

    Columns: one x per pooled class of tie profiles, then z. Rows: the N maximin rows
    z - Σ_T P(θ)(b - φ_i(θ_i)) x <= Σ_fixed P x (b - φ_i), then the monotonicity rows
    X_i(t_k) - X_i(t_{k+1}) >= Xf_i(t_{k+1}) - Xf_i(t_k) that involve a tie column (the others
    are constants, satisfied when the fixed part is interim monotone, as x_ω is).

    Parameters
    ----------
    problem : EngineProblem
        Buy-side form, independent types, grids of sizes K_i.
    phi : list of ndarray, shapes (K_i,)
        Raw virtual costs.
    fixed : FixedPart
        x off the ties (0 on them), the tie profiles (flat indices) and the fixed part's masses.
    reps, intervals : list
        Per agent: each grid index mapped to its pooling representative, and the ironing
        intervals whose monotonicity rows are identities (:func:`pool_representatives`).
    what : str
        The LP's name in a :class:`SolverError`.

    Returns
    -------
    TieLP

    Raises
    ------
    SolverError
        HiGHS failed by primal simplex and again by interior point with crossover.
    """
    n, b = problem.n, problem.b
    probs = [np.asarray(p, dtype=float) for p in problem.probs]
    coords, column, n_cols = tie_lp_columns(problem.shape, fixed.ties, reps)
    P = np.ones(column.size)
    for p, c in zip(probs, coords):
        P *= p[c]
    rows = [np.full(column.size, i, dtype=np.int32) for i in range(n)]
    cols = [column] * n
    vals = [-P * (b - phi[i][coords[i]]) for i in range(n)]
    del P
    m_rows, m_cols, m_vals, layout, n_rows = monotonicity_entries(probs, coords, column, intervals, n)
    del coords
    # z column: +1 in every maximin row.
    rows.append(np.arange(n, dtype=np.int32))
    cols.append(np.full(n, n_cols, dtype=np.int32))
    vals.append(np.ones(n))
    A = sp.coo_matrix(
        (np.concatenate(vals + m_vals), (np.concatenate(rows + m_rows), np.concatenate(cols + m_cols))),
        shape=(n_rows, n_cols + 1),
    )
    del rows, cols, vals, m_rows, m_cols, m_vals
    A = A.tocsr()  # sums the entries of pooled profiles
    A.eliminate_zeros()
    row_lo = np.full(n_rows, -INF)
    row_hi = np.full(n_rows, INF)
    row_hi[:n] = [float(fixed.mass[i] @ (b - phi[i])) for i in range(n)]
    for i, (pairs, row_no) in enumerate(layout):
        X_fixed = fixed.mass[i] / probs[i]
        row_lo[row_no] = X_fixed[pairs + 1] - X_fixed[pairs]
    # A row without tie columns is a constant that x_ω satisfies (it is monotone): leave it out.
    keep = np.diff(A.indptr) > 0
    keep[:n] = True
    if not keep.all():
        A, row_lo, row_hi = A[keep], row_lo[keep], row_hi[keep]
    A, factor = row_scaled(A)
    A, row_lo, row_hi = A.tocsc(), row_lo * factor, row_hi * factor
    cost = np.zeros(n_cols + 1)
    cost[-1] = -1.0
    col_lo, col_hi = np.append(np.zeros(n_cols), -INF), np.append(np.ones(n_cols), INF)
    h = make_highs(cost, A, row_lo, row_hi, col_lo, col_hi)
    # x_T = 0 is feasible (x_ω with 0 on the ties is monotone), so primal simplex starts there; on
    # tens of thousands of tie columns HiGHS's default dual simplex can take 50 times longer.
    h.setOptionValue("simplex_strategy", 4)

    def interior_point():
        fresh = make_highs(cost, A, row_lo, row_hi, col_lo, col_hi)
        fresh.setOptionValue("solver", "ipm")
        return fresh, f"{what} (interior point with crossover)"

    sol = run(h, what, retry=interior_point)
    del h, interior_point  # the closure holds A
    x_cols = np.clip(sol.x[:n_cols], 0.0, 1.0)
    return TieLP(
        x=x_cols[column],
        columns=n_cols,
        value=float(sol.x[n_cols]),
        omega=-sol.row_dual[:n] * factor[:n],
        status=sol.status,
        iterations=sol.iterations,
    )


def pinned_part(problem: EngineProblem, fixed: np.ndarray) -> FixedPart:
    """The :class:`FixedPart` of pins given as an array: NaN marks a free (tie) profile.

    Parameters
    ----------
    problem : EngineProblem
        Independent types (dense: K^N profiles in memory).
    fixed : ndarray, shape (K_1, ..., K_N) or flat
        x where pinned, NaN where free.
    """
    f = np.asarray(fixed, dtype=float).ravel()
    ties = np.flatnonzero(np.isnan(f))
    x = np.where(np.isnan(f), 0.0, f)
    pmf = outer_pmf(problem.probs)
    px = pmf * x.reshape(problem.shape)
    n = problem.n
    mass = [px.sum(axis=tuple(j for j in range(n) if j != i)) for i in range(n)]
    return FixedPart(x=x, ties=ties, tie_probability=float(pmf.ravel()[ties].sum()), mass=mass)


def unpooled(problem: EngineProblem) -> tuple[list[np.ndarray], list[list]]:
    """``reps`` and ``intervals`` for :func:`tie_lp` without pooling (every profile its own column)."""
    return [np.arange(k) for k in problem.shape], [[] for _ in range(problem.n)]


@dataclass
class Completion:
    x: np.ndarray  # flat
    tie_probability: float
    tie_profiles: int
    tie_columns: int
    tie_tol: float


def complete(
    grid: Grid, problem: EngineProblem, phi, phi_bar, omega: np.ndarray, tie_tol: float, uncertainty: float = 0.0
) -> Completion:
    """x_ω off the tie set (relative tolerance ``tie_tol``, ω's uncertainty), completed on it by the tie LP."""
    fixed = fixed_part(grid, omega, phi_bar, float(problem.b), tie_tol, uncertainty)
    n_cols = 0
    if fixed.ties.size:
        reps, intervals = pool_representatives(phi, phi_bar)
        lp = tie_lp(problem, phi, fixed, reps, intervals)
        x_ties, n_cols = lp.x, lp.columns
        fixed.x[fixed.ties] = x_ties
    return Completion(
        x=fixed.x,
        tie_probability=fixed.tie_probability,
        tie_profiles=int(fixed.ties.size),
        tie_columns=n_cols,
        tie_tol=tie_tol,
    )
