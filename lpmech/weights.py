"""The agents' weights ω: g(ω), the whole set of minimizers, and a canonical member.

By LP duality the duals of the maximin rows minimize the convex piecewise-linear

    g(ω) = E[(b - ω·φ̄(θ))_+]   over the simplex

(theory.md, section 5; Haghpanah, Kuvalekar and Lipnowski 2021, 2024). On a finite grid the
minimizers can form a whole face (ties, theory.md "Ties"), so an LP solver's ω is one vertex
among many. This module describes the face independently of the maximin LP:

* :func:`face_ranges`: for each agent, min and max of ω_i over the optimal face, described
  through an optimal allocation x*: ω is optimal iff (x*, ω) is a saddle point, i.e. x* is
  a best response to ω (x* = 1 where ω·φ̄ < b, 0 where ω·φ̄ > b, X*_i constant on the
  ironing intervals of every agent with ω_i > 0) and ω is a best response to x* (supp ω in
  argmin_i E[x*(b - φ_i)]). These are linear in ω: an LP with N columns, fast at any size;
* :func:`weight_ranges`: the same ranges from the definition, {ω in Δ : g(ω) <= g* + tol}, an
  LP in (ω, s) with one hinge variable per profile: a slower, independent reference;
* :func:`canonical_weights`: the least-norm member of the face, a QP in N variables solved
  with cvxpy (Clarabel). The face is convex and invariant under every symmetry of the
  instance, so its least-norm point is symmetric: identical agents get identical weights.
  (A least-norm point of the *level set* g <= g* + tol would drift off the face by tol over
  the slope of g, which on grids can be tiny; the face description has no such drift.)

:class:`GFunction` evaluates g on a reduced profile set: a profile with max_i φ̄_i <= b contributes b - ω·φ̄ for every
ω in the simplex (a linear term), one with min_i φ̄_i >= b contributes nothing; only the rest
need a variable, and profiles with equal φ̄ vectors are merged.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .highs import INF, SolverError, make_highs, run
from .profiles import along, outer_pmf, weighted_sum

__all__ = ["g_value", "GFunction", "Face", "optimal_face", "face_ranges", "weight_ranges", "canonical_weights"]


def _extremes(phi_bar) -> tuple[np.ndarray, np.ndarray]:
    """min_i φ̄_i(θ_i) and max_i φ̄_i(θ_i) over the profile grid."""
    n = len(phi_bar)
    shape = tuple(v.size for v in phi_bar)
    lo = np.full(shape, np.inf)
    hi = np.full(shape, -np.inf)
    for i, v in enumerate(phi_bar):
        lo = np.minimum(lo, along(v, i, n))
        hi = np.maximum(hi, along(v, i, n))
    return lo, hi


def g_value(omega, phi_bar, probs, b, *, pmf: np.ndarray | None = None) -> float:
    """g(ω) = E[(b - ω·φ̄(θ))_+] by one vectorized pass over the profile grid.

    ``pmf``: the profile pmf (the outer product of ``probs``), when the caller already has it.
    """
    pmf = outer_pmf(probs) if pmf is None else pmf
    return float(np.sum(pmf * np.maximum(b - weighted_sum(omega, phi_bar), 0.0)))


@dataclass
class GFunction:
    """g(ω) = const - lin·ω + Σ_a P_a (b - Φ_a·ω)_+ on the reduced profile set."""

    b: float
    const: float          # b · P(always trade)
    lin: np.ndarray       # Σ over always-trade profiles of P φ̄
    Phi: np.ndarray       # (A, N) distinct φ̄ vectors of ambiguous profiles
    P: np.ndarray         # (A,) their probabilities

    @classmethod
    def build(cls, phi_bar, probs, b) -> "GFunction":
        n = len(phi_bar)
        pmf = outer_pmf(probs)
        lo, hi = _extremes(phi_bar)
        always = hi <= b
        ambiguous = (lo < b) & ~always
        const = float(b * pmf[always].sum())
        lin = np.array([float(np.sum(pmf * always * along(v, i, n))) for i, v in enumerate(phi_bar)])
        idx = np.nonzero(ambiguous)
        Phi = np.stack([phi_bar[i][idx[i]] for i in range(n)], axis=1) if idx[0].size else np.zeros((0, n))
        P = pmf[ambiguous]
        if Phi.shape[0]:
            Phi, inverse = np.unique(Phi, axis=0, return_inverse=True)
            P = np.bincount(inverse.ravel(), weights=P, minlength=Phi.shape[0])
        return cls(b=float(b), const=const, lin=lin, Phi=Phi, P=P)

    def __call__(self, omega) -> float:
        omega = np.asarray(omega, dtype=float)
        amb = float(self.P @ np.maximum(self.b - self.Phi @ omega, 0.0)) if self.P.size else 0.0
        return self.const - float(self.lin @ omega) + amb


@dataclass
class Face:
    """{ω in Δ : lower <= Φ ω <= upper, ω_i = 0 for i not in ``allowed``}."""

    Phi: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    allowed: np.ndarray
    b: float = 0.0


def optimal_face(x: np.ndarray, phi_bar, b: float, gains: np.ndarray, interim_x,
                 intervals, *, value_tol: float, index_tol: float, x_tol: float = 1e-9) -> Face:
    """The optimal weights as a polytope, from one optimal allocation ``x`` (see module notes).

    ``gains[i]`` = E[x(b - φ_i)], ``interim_x[i]`` = X_i, ``intervals[i]`` = agent i's ironing
    intervals (index pairs); tolerances absorb the LP's floating-point error.
    """
    n = len(phi_bar)
    allowed = gains <= gains.min() + value_tol
    for i, ivs in enumerate(intervals):
        for lo, hi in ivs:
            if np.ptp(interim_x[i][lo:hi + 1]) > x_tol:
                allowed[i] = False
    trades = x > x_tol             # needs ω·φ̄ <= b
    refuses = x < 1.0 - x_tol      # needs ω·φ̄ >= b
    # φ̄ is nondecreasing along every axis and ω >= 0: a refusal row is implied by the row of a
    # predecessor along any axis that refuses too, a trade row by a successor that trades.
    refuses = refuses & ~_any_neighbour(refuses, -1)
    trades = trades & ~_any_neighbour(trades, +1)
    # Rows that every ω in the simplex satisfies say nothing: min_i φ̄_i >= b for a refusal,
    # max_i φ̄_i <= b for a trade.
    lowest, highest = _extremes(phi_bar)
    refuses &= lowest < b - index_tol
    trades &= highest > b + index_tol
    keep = trades | refuses
    idx = np.nonzero(keep)
    Phi = np.stack([phi_bar[i][idx[i]] for i in range(n)], axis=1)
    upper = np.where(trades[keep], b + index_tol, INF)
    lower = np.where(refuses[keep], b - index_tol, -INF)
    return Face(Phi=Phi, lower=lower, upper=upper, allowed=allowed, b=float(b))


def _any_neighbour(mask: np.ndarray, step: int) -> np.ndarray:
    """True where the neighbour one grid step away (−1: predecessor, +1: successor) along some axis is True."""
    out = np.zeros_like(mask)
    for ax in range(mask.ndim):
        if mask.shape[ax] < 2:
            continue
        src = [slice(None)] * mask.ndim
        dst = [slice(None)] * mask.ndim
        if step < 0:
            src[ax], dst[ax] = slice(None, -1), slice(1, None)
        else:
            src[ax], dst[ax] = slice(1, None), slice(None, -1)
        out[tuple(dst)] |= mask[tuple(src)]
    return out


def face_ranges(face: Face, reference: np.ndarray | None = None) -> np.ndarray:
    """[[lo, hi], ...]: the range of each ω_i over the optimal face (2N LPs with N columns).

    Rows are generated lazily: the LPs start from the rows nearest to binding at ``reference``
    (an optimal ω, e.g. the LP's) and every solution is checked against all rows, the violated
    ones added, until none is violated. The answer is the same as with all rows at once.
    """
    n = face.allowed.size
    if n == 1:
        return np.array([[1.0, 1.0]])
    out = np.empty((n, 2))
    active = _initial_rows(face, reference)
    for i in range(n):
        for j, sense in enumerate((1.0, -1.0)):
            cost = np.zeros(n)
            cost[i] = sense
            while True:
                A = sp.vstack([sp.csr_matrix(face.Phi[active]), sp.csr_matrix(np.ones((1, n)))], format="csc")
                h = make_highs(cost, A, np.concatenate([face.lower[active], [1.0]]),
                               np.concatenate([face.upper[active], [1.0]]), np.zeros(n),
                               np.where(face.allowed, 1.0, 0.0))
                w = run(h, f"range of weight {i + 1} over the optimal face").x
                more = _violated(face, w, active)
                if more.size == 0:
                    break
                active = np.union1d(active, more)
            out[i, j] = w[i]
    return np.clip(out, 0.0, 1.0)


def _initial_rows(face: Face, reference: np.ndarray | None, count: int = 2000) -> np.ndarray:
    rows = face.Phi.shape[0]
    if reference is None or rows <= count:
        return np.arange(rows)
    slack = np.minimum(face.upper - face.Phi @ reference, face.Phi @ reference - face.lower)
    return np.sort(np.argpartition(slack, count)[:count])


def _violated(face: Face, w: np.ndarray, active: np.ndarray, most: int = 2000) -> np.ndarray:
    """Indices of rows (outside ``active``) that ``w`` violates beyond floating-point noise."""
    index = face.Phi @ w
    scale = 1e-12 * max(1.0, float(np.max(np.abs(face.Phi), initial=0.0)))
    excess = np.maximum(index - face.upper, face.lower - index)
    excess[active] = -np.inf
    bad = np.flatnonzero(excess > scale)
    if bad.size > most:
        bad = bad[np.argpartition(-excess[bad], most)[:most]]
    return bad


def weight_ranges(gf: GFunction, g_star: float, tol: float) -> np.ndarray:
    """[[lo, hi], ...]: the range of each ω_i over {ω in Δ : g(ω) <= g_star + tol}."""
    n = gf.lin.size
    if n == 1:
        return np.array([[1.0, 1.0]])
    a = gf.P.size
    # Columns: ω (n), s (a). Rows: s_a + Φ_a·ω >= b ; Σ P s - lin·ω <= g* + tol - const ; Σ ω = 1.
    hinge = sp.hstack([sp.csr_matrix(gf.Phi), sp.identity(a, format="csr")], format="csr")
    level = sp.csr_matrix(np.concatenate([-gf.lin, gf.P])[None, :])
    simplex = sp.csr_matrix(np.concatenate([np.ones(n), np.zeros(a)])[None, :])
    A = sp.vstack([hinge, level, simplex], format="csc")
    row_lo = np.concatenate([np.full(a, gf.b), [-INF, 1.0]])
    row_hi = np.concatenate([np.full(a, INF), [g_star + tol - gf.const, 1.0]])
    col_lo = np.zeros(n + a)
    col_hi = np.concatenate([np.ones(n), np.full(a, INF)])
    h = make_highs(np.zeros(n + a), A, row_lo, row_hi, col_lo, col_hi)
    out = np.empty((n, 2))
    idx = np.arange(n + a, dtype=np.int32)
    for i in range(n):
        for j, sense in enumerate((1.0, -1.0)):
            cost = np.zeros(n + a)
            cost[i] = sense
            h.changeColsCost(n + a, idx, cost)
            out[i, j] = run(h, f"range of weight {i + 1} over the level set of g").x[i]
    return np.clip(out, 0.0, 1.0)


def canonical_weights(face: Face, reference: np.ndarray | None = None) -> np.ndarray:
    """The least-norm ω of the optimal face, a small QP solved with cvxpy (Clarabel).

    The face is convex and mapped to itself by every symmetry of the instance, so its
    least-norm point is symmetric: identical agents get identical canonical weights. Rows are
    generated lazily from ``reference`` as in :func:`face_ranges`.
    """
    n = face.allowed.size
    if n == 1:
        return np.array([1.0])
    active = _initial_rows(face, reference)
    while True:
        w = _polish(face, active, _least_norm(face, active))
        more = _violated(face, w, active)
        if more.size == 0:
            return w
        active = np.union1d(active, more)


def _polish(face: Face, rows: np.ndarray, w: np.ndarray, active_tol: float = 1e-7) -> np.ndarray:
    """Refine an interior-point solution to the exact least-norm point of its active set.

    Rows within ``active_tol`` of binding are made ties (Φ_a·ω = b), coordinates near 0 are
    fixed at 0, and the least-norm solution of these equalities with Σω = 1 is computed by
    least squares. It replaces ``w`` only if it satisfies every row in ``rows`` and ω >= 0
    (otherwise the interior-point answer, accurate to ~1e-8, is kept).
    """
    n = w.size
    Phi = face.Phi[rows]
    index = Phi @ w
    scale = max(1.0, abs(face.b), float(np.max(np.abs(Phi), initial=0.0)))
    tight = ((face.upper[rows] - index) <= active_tol * scale) | ((index - face.lower[rows]) <= active_tol * scale)
    free = (w > active_tol) & face.allowed
    if not free.any():
        return w
    # least-norm solution over the free coordinates (the others are fixed at 0)
    E = np.vstack([Phi[tight][:, free], np.ones((1, int(free.sum())))])
    t = np.concatenate([np.full(int(tight.sum()), face.b), [1.0]])
    sol, *_ = np.linalg.lstsq(E, t, rcond=None)
    polished = np.zeros(n)
    polished[free] = sol
    index = Phi @ polished
    slack = 1e-12 * scale
    ok = (np.all(polished >= -1e-15) and abs(polished.sum() - 1.0) <= 1e-12
          and np.all(index <= face.upper[rows] + slack) and np.all(index >= face.lower[rows] - slack))
    if not ok:
        return w
    polished = np.clip(polished, 0.0, None)
    return polished / polished.sum()


def _least_norm(face: Face, rows: np.ndarray) -> np.ndarray:
    import cvxpy as cp

    n = face.allowed.size
    w = cp.Variable(n, nonneg=True)
    cons = [cp.sum(w) == 1]
    if not face.allowed.all():
        cons.append(w[np.flatnonzero(~face.allowed)] == 0)
    Phi, upper, lower = face.Phi[rows], face.upper[rows], face.lower[rows]
    up = upper < INF
    lo = lower > -INF
    if up.any():
        cons.append(Phi[up] @ w <= upper[up])
    if lo.any():
        cons.append(Phi[lo] @ w >= lower[lo])
    prob = cp.Problem(cp.Minimize(cp.sum_squares(w)), cons)
    for accuracy in (1e-10, 1e-8):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # an inaccurate solve is retried, then reported below
            prob.solve(solver=cp.CLARABEL, tol_gap_abs=accuracy, tol_gap_rel=accuracy, tol_feas=accuracy)
        if prob.status == cp.OPTIMAL:
            break
    else:
        raise SolverError("canonical weights (cvxpy with Clarabel)", str(prob.status))
    omega = np.clip(np.asarray(w.value, dtype=float), 0.0, None)
    return omega / omega.sum()
