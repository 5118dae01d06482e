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
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..highs import INF, make_highs, row_scaled, run
from ..instance import EngineProblem
from ..profiles import Grid, outer_pmf
from ..tolerances import POOL_WEIGHT_FRACTION, tie_band
from ..virtual import ironing_intervals
from .passes import IndexRule

__all__ = [
    "Completion",
    "FixedPart",
    "TieLP",
    "complete",
    "fixed_part",
    "pinned_part",
    "pool_representatives",
    "pool_unweighted",
    "tie_lp",
    "unpooled",
]


@dataclass
class FixedPart:
    """x_ω off the ties (0 on them), the tie profiles, and the fixed part's per-agent masses."""

    x: np.ndarray | None  # flat, C order (None from fixed_part: x_ω is the index rule off the ties)
    ties: np.ndarray  # flat indices of the tie set
    tie_probability: float
    mass: list[np.ndarray]  # Σ_θ P(θ) x(θ) grouped by θ_i, x = 0 on ties


def fixed_part(
    grid: Grid, omega: np.ndarray, phi_bar, b: float, tie_rtol: float, uncertainty: float = 0.0
) -> FixedPart:
    """One pass: the tie set |ω·φ̄ - b| <= band and the masses of x_ω = 1{ω·φ̄ < b - band}.

    band = tie_rtol × (|b| + ω·|φ̄(θ)|) + uncertainty × Σ_i |φ̄_i(θ_i)|, per profile
    (:func:`lpmech.tolerances.tie_band`). x itself is not written (K^N numbers): off the ties it
    is the index rule 1{ω·φ̄ < b} (:class:`lpmech.structured.passes.IndexRule`).
    """
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
        flat = np.flatnonzero(tie)
        if flat.size:
            ties.append(flat + block.start)
            tie_probability += float(np.sum(np.broadcast_to(P, block.shape)[tie]))
        for acc, part in zip(mass, block.marginals(P * trade)):
            acc += part
    tie_index = np.concatenate(ties) if ties else np.zeros(0, dtype=np.int64)
    return FixedPart(x=None, ties=tie_index, tie_probability=tie_probability, mass=mass)


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


def summed_entries(rows: list, cols: list, vals: list, n_rows: int, n_cols: int):
    """Concatenated (rows, cols, vals) with the entries of one (row, column) summed.

    When rows × columns is not much larger than the number of entries (many profiles pooled
    into few columns), by :func:`numpy.bincount` on row × columns + column; otherwise left to
    the sparse matrix's conversion, which sums them as well.
    """
    r = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    c = np.concatenate(cols) if cols else np.zeros(0, dtype=np.int64)
    v = np.concatenate(vals) if vals else np.zeros(0)
    if r.size == 0 or n_rows * n_cols > 4 * r.size + 1_000_000:
        return r, c, v
    acc = np.bincount(r.astype(np.int64) * n_cols + c, weights=v, minlength=n_rows * n_cols)
    nz = np.flatnonzero(acc)
    return nz // n_cols, nz % n_cols, acc[nz]


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
    # maximin rows, summed over each pooled class at once (a dense N x columns block)
    dense = np.array([np.bincount(column, weights=-P * (b - phi[i][coords[i]]), minlength=n_cols) for i in range(n)])
    del P
    m_rows, m_cols, m_vals, layout, n_rows = monotonicity_entries(probs, coords, column, intervals, n)
    del coords
    m_rows, m_cols, m_vals = summed_entries(m_rows, m_cols, m_vals, n_rows, n_cols)
    d_rows, d_cols = np.nonzero(dense)
    # z column: +1 in every maximin row.
    A = sp.coo_matrix(
        (
            np.concatenate([dense[d_rows, d_cols], np.ones(n), m_vals]),
            (
                np.concatenate([d_rows, np.arange(n), m_rows]).astype(np.int32),
                np.concatenate([d_cols, np.full(n, n_cols), m_cols]).astype(np.int32),
            ),
        ),
        shape=(n_rows, n_cols + 1),
    )
    del dense, d_rows, d_cols, m_rows, m_cols, m_vals
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


def pool_unweighted(
    omega: np.ndarray,
    shape,
    reps,
    intervals,
    uncertainty: float = 0.0,
    phi_bar=None,
    b: float = 0.0,
    tie_tol: float = 0.0,
):
    """``reps``/``intervals`` that also pool every agent of weight 0 over its whole grid.

    With ω_j = 0 (and no allowance ``uncertainty`` for ω's error) neither x_ω nor the tie set
    depends on θ_j: the tie set is T_W × (grid of j). A weight from floating point (3e-15 for an
    exact 0) counts as 0 when ω_j max|φ̄_j| is below a hundredth of the narrowest tie band,
    ``tie_tol`` |b| (with ``phi_bar``; without it only ω_j = 0 does). The tie LP restricted to tie columns that
    are constant in θ_j has one column per class of the other agents' (pooled) types, not K_j
    of them, and its monotonicity rows for j are identities (X_j constant). This is a
    *restriction* of the tie LP (a smaller LP whose solutions are feasible for the full one), so
    its x is optimal only when its value reaches g(ω): the certificate decides, and
    :func:`lpmech.structured.solve_structured` falls back to ``pool_unweighted=False`` when it
    fails. Genuine ties are common here: uniform sellers have φ̄ on an evenly spaced lattice, so
    with equal weights many sums ω·φ̄ equal b exactly, times every type of the weight-0 agents
    (7 sellers, 8 points: 172,032 tied profiles, 336 pooled columns).

    Returns
    -------
    reps, intervals, pooled : list, list, int
        The new lists and the number of agents pooled whole (0: the lists are the inputs).
    """
    omega = np.asarray(omega, dtype=float)
    if uncertainty != 0.0:
        return reps, intervals, 0
    # weight 0, or (ω from floating point, e.g. 3e-15 for an exact 0) a weight too small to move
    # ω·φ̄ by POOL_WEIGHT_FRACTION of the narrowest tie band anywhere on agent j's grid
    floor: Any = np.zeros(len(shape))
    if phi_bar is not None:
        floor = [
            POOL_WEIGHT_FRACTION * tie_tol * abs(float(b)) / max(float(np.max(np.abs(f))), 1e-300) for f in phi_bar
        ]
    zero = [j for j in range(len(shape)) if not omega[j] > floor[j] and shape[j] > 1]
    if not zero:
        return reps, intervals, 0
    reps = [np.zeros_like(r) if j in zero else r for j, r in enumerate(reps)]
    intervals = [[(0, shape[j] - 1)] if j in zero else iv for j, iv in enumerate(intervals)]
    return reps, intervals, len(zero)


@dataclass
class Completion:
    rule: IndexRule  # x: the index rule off the ties, the tie LP's x on them
    tie_probability: float
    tie_profiles: int
    tie_columns: int
    tie_tol: float
    pooled_agents: int = 0  # agents of weight 0 pooled whole (pool_unweighted)


def complete(
    grid: Grid,
    problem: EngineProblem,
    phi,
    phi_bar,
    omega: np.ndarray,
    tie_tol: float,
    uncertainty: float = 0.0,
    *,
    pool_unweighted_agents: bool = False,
) -> Completion:
    """x_ω off the tie set (relative tolerance ``tie_tol``, ω's uncertainty), completed on it by the tie LP.

    With ``pool_unweighted_agents`` the tie LP is the restriction of :func:`pool_unweighted`
    (tie x constant in the types of agents of weight 0): much smaller when those agents multiply
    the tie set, optimal only if the certificate then holds.
    """
    fixed = fixed_part(grid, omega, phi_bar, float(problem.b), tie_tol, uncertainty)
    n_cols = pooled = 0
    x_ties = np.zeros(0)
    if fixed.ties.size:
        reps, intervals = pool_representatives(phi, phi_bar)
        if pool_unweighted_agents:
            reps, intervals, pooled = pool_unweighted(
                omega, problem.shape, reps, intervals, uncertainty, phi_bar, float(problem.b), tie_tol
            )
        lp = tie_lp(problem, phi, fixed, reps, intervals)
        x_ties, n_cols = lp.x, lp.columns
    rule = IndexRule(
        omega=np.clip(np.asarray(omega, dtype=float), 0.0, None),
        phi_bar=[np.asarray(f, dtype=float) for f in phi_bar],
        b=float(problem.b),
        tie_index=np.asarray(fixed.ties, dtype=np.int64),
        tie_x=np.asarray(x_ties, dtype=float),
        shape=tuple(grid.shape),
    )
    return Completion(
        rule=rule,
        tie_probability=fixed.tie_probability,
        tie_profiles=int(fixed.ties.size),
        tie_columns=n_cols,
        tie_tol=tie_tol,
        pooled_agents=pooled,
    )
