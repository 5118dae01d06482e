"""The agents' weights ω: g(ω), the whole set of minimizers, and a canonical member.

By LP duality the duals of the maximin rows minimize the convex piecewise-linear

    g(ω) = E[(b - ω·φ̄(θ))_+]   over the simplex

(docs/model.md, section 5; Haghpanah, Kuvalekar and Lipnowski 2021, 2024). On a finite grid the
minimizers can form a whole face (ties, docs/model.md, section 5.3), so an LP solver's ω is one vertex
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

:class:`GFunction` holds g on a reduced profile set (the LP of :func:`weight_ranges`; it evaluates g
by :func:`g_value`, which is :class:`lpmech.structured.oracle.GOracle`): a profile with max_i φ̄_i <= b contributes b - ω·φ̄ for every
ω in the simplex (a linear term), one with min_i φ̄_i >= b contributes nothing; only the rest
need a variable, and profiles with equal φ̄ vectors are merged.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from .highs import INF, SolverError, make_highs, run
from .profiles import along, outer_accumulate, outer_pmf
from .structured.oracle import DEFAULT_CHUNK, GOracle
from .tolerances import TIE_RTOL, TRADE_TOL

__all__ = ["Face", "GFunction", "canonical_weights", "face_ranges", "g_value", "optimal_face", "weight_ranges"]


def _extremes(phi_bar) -> tuple[np.ndarray, np.ndarray]:
    """min_i φ̄_i(θ_i) and max_i φ̄_i(θ_i) over the profile grid."""
    return outer_accumulate(np.minimum, np.inf, phi_bar), outer_accumulate(np.maximum, -np.inf, phi_bar)


def g_value(omega, phi_bar, probs, b, *, pmf: np.ndarray | None = None, chunk: int = DEFAULT_CHUNK) -> float:
    """g(ω) = E[(b - ω·φ̄(θ))_+] for independent types on a grid.

    The one evaluation of g (:class:`lpmech.structured.oracle.GOracle`, which also gives the
    subgradient); a one-pass reference lives in the tests, not here.

    Parameters
    ----------
    omega : array_like, shape (N,)
        Weights (in the simplex for g's usual meaning; any finite vector is evaluated).
    phi_bar : list of ndarray, shapes (K_i,)
        Ironed virtual costs on each agent's grid, engine (buy-side, per-share) units.
    probs : list of ndarray, shapes (K_i,)
        Each agent's pmf.
    b : float
        The buyer's value in engine units.
    pmf : ndarray, optional
        Accepted for compatibility and ignored (the oracle never forms the K^N pmf).
    chunk : int
        Largest number of profiles in one temporary array.

    Returns
    -------
    float
        g(ω), in the units of b.
    """
    return GOracle(phi_bar, probs, b, chunk)(np.asarray(omega, dtype=float)).g


@dataclass
class GFunction:
    """g(ω) = const - lin·ω + Σ_a P_a (b - Φ_a·ω)_+ on the reduced profile set.

    The data of the LP in :func:`weight_ranges`; calling it evaluates g by :func:`g_value`
    (one definition of g).
    """

    b: float
    const: float  # b · P(always trade)
    lin: np.ndarray  # Σ over always-trade profiles of P φ̄
    Phi: np.ndarray  # (A, N) distinct φ̄ vectors of ambiguous profiles
    P: np.ndarray  # (A,) their probabilities
    phi_bar: list = field(default_factory=list, repr=False)
    probs: list = field(default_factory=list, repr=False)

    @classmethod
    def build(cls, phi_bar, probs, b) -> GFunction:
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
        return cls(
            b=float(b),
            const=const,
            lin=lin,
            Phi=Phi,
            P=P,
            phi_bar=[np.asarray(v, dtype=float) for v in phi_bar],
            probs=[np.asarray(q, dtype=float) for q in probs],
        )

    def __call__(self, omega) -> float:
        return g_value(omega, self.phi_bar, self.probs, self.b)


@dataclass
class Face:
    """{ω in Δ : lower <= Phi ω <= upper, ω_i <= cap_i}; ``allowed`` = cap > 0.

    An agent outside argmin_i E[x(b - φ_i)] has cap 0 in exact arithmetic; with a budget of
    value it is budget / (N × its excess gain) (:func:`optimal_face`), so a weight of 1e-12 on
    an agent whose gain the tie LP left 0.1 above the minimum is not declared impossible.

    ``Phi`` holds the rows as constrained (each widened by its own tie band, see
    :func:`optimal_face`), ``exact`` the profiles' φ̄ vectors they come from (the ties
    exact·ω = b that :func:`canonical_weights` polishes onto).
    """

    Phi: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    allowed: np.ndarray
    b: float = 0.0
    exact: np.ndarray | None = None
    cap: np.ndarray | None = None

    def __post_init__(self):
        if self.exact is None:
            self.exact = self.Phi
        if self.cap is None:
            self.cap = np.where(self.allowed, 1.0, 0.0)


def optimal_face(
    x: np.ndarray,
    phi_bar,
    b: float,
    gains: np.ndarray,
    interim_x,
    intervals,
    *,
    value_tol: float | np.ndarray,
    index_rtol: float = TIE_RTOL,
    uncertainty: float = 0.0,
    weight_budget: float = 0.0,
    x_tol: float = TRADE_TOL,
) -> Face:
    """The optimal weights as a polytope, from one optimal allocation ``x`` (see module notes).

    Parameters
    ----------
    x : ndarray, shape K_1 x ... x K_N
        An optimal allocation (engine order).
    phi_bar : list of ndarray
        Ironed virtual costs per agent.
    b : float
        The buyer's value (engine form).
    gains : ndarray, shape (N,)
        E[x(b - φ_i)] per agent.
    interim_x : list of ndarray
        X_i per agent.
    intervals : list of list of (int, int)
        Each agent's ironing intervals (index pairs).
    value_tol : float or ndarray of shape (N,)
        Agent i may carry weight when its gain is within value_tol (or value_tol[i]) of the
        smallest (units of ``gains``; the caller takes it relative to the gains and their terms).
    weight_budget : float
        Any other agent may carry at most weight_budget / (N (its gain − the smallest)): ω
        then stays within weight_budget of complementary slackness in value (units of
        ``gains``; 0 for exact complementarity).
    index_rtol : float
        Each row ω·φ̄(θ) <= b (trade) or >= b (refusal) is relaxed by its own tie band,
        index_rtol × (|b| + ω·|φ̄(θ)|) (:func:`lpmech.tolerances.tie_band`): linear in ω, so the
        relaxed row is (φ̄ ∓ index_rtol |φ̄|)·ω <= / >= b ± index_rtol |b|. The core solvers'
        tie sets use the same band, so their ω lies in the face.
    uncertainty : float
        The core solver's allowance for ω's own error (:func:`lpmech.tolerances.tie_band`):
        each row's bound is relaxed by uncertainty × Σ_i |φ̄_i(θ_i)| as well.
    x_tol : float
        x > x_tol trades, x < 1 - x_tol refuses (unitless), at a profile whose φ̄_i are all of
        one size; the threshold is multiplied by (|b| + min_i |φ̄_i(θ_i)|) / (|b| + max_i |φ̄_i(θ_i)|).

    Returns
    -------
    Face
    """
    n = len(phi_bar)
    excess = gains - gains.min()
    tol = np.broadcast_to(np.asarray(value_tol, dtype=float), excess.shape)
    cap = np.where(excess <= tol, 1.0, np.minimum(1.0, weight_budget / (n * np.where(excess > 0, excess, 1.0))))
    for i, ivs in enumerate(intervals):
        for lo, hi in ivs:
            if np.ptp(interim_x[i][lo : hi + 1]) > x_tol:
                cap[i] = 0.0
    allowed = cap > 0
    # x is unitless, but a trade probability of 1e-10 at a profile where some φ̄_i is 1e9 moves the
    # value as much as 0.1 elsewhere: the threshold shrinks by (|b| + min_i |φ̄_i|) / (|b| + max_i |φ̄_i|)
    # The threshold is at most x_tol, so it is computed only where x is within x_tol of 0 or 1
    # (the same floats, profile by profile, as on the whole grid).
    abs_bar = [np.abs(np.asarray(v, dtype=float)) for v in phi_bar]

    def threshold(where):
        lowest = np.min([a[k] for a, k in zip(abs_bar, where)], axis=0)
        highest = np.max([a[k] for a, k in zip(abs_bar, where)], axis=0)
        return x_tol * (abs(b) + lowest) / np.maximum(abs(b) + highest, 1e-300)

    trades = x > x_tol  # needs ω·φ̄ <= b
    near = np.nonzero((x > 0.0) & ~trades)
    trades[near] = x[near] > threshold(near)
    refuses = x < 1.0 - x_tol  # needs ω·φ̄ >= b
    near = np.nonzero((x < 1.0) & ~refuses)
    refuses[near] = x[near] < 1.0 - threshold(near)
    # φ̄ is nondecreasing along every axis and ω >= 0: a refusal row is implied by the row of a
    # predecessor along any axis that refuses too, a trade row by a successor that trades.
    refuses = refuses & ~_any_neighbour(refuses, -1)
    trades = trades & ~_any_neighbour(trades, +1)
    r = float(index_rtol)
    low_rows = [np.asarray(v, dtype=float) + r * np.abs(v) for v in phi_bar]  # refusal rows
    up_rows = [np.asarray(v, dtype=float) - r * np.abs(v) for v in phi_bar]  # trade rows
    # Rows that every ω in the simplex satisfies say nothing: min_i of a refusal row's
    # coefficients >= its bound, max_i of a trade row's <= its bound (tested on the rows kept).
    for mask, vecs, keep in (
        (refuses, low_rows, lambda c: c.min(axis=0) < b - r * abs(b)),
        (trades, up_rows, lambda c: c.max(axis=0) > b + r * abs(b)),
    ):
        where = np.nonzero(mask)
        if where[0].size:
            mask[where] = keep(np.array([v[k] for v, k in zip(vecs, where)]))

    def rows(mask, vecs):
        idx = np.nonzero(mask)
        return np.stack([vecs[i][idx[i]] for i in range(n)], axis=1).reshape(-1, n)

    Phi = np.vstack([rows(trades, up_rows), rows(refuses, low_rows)])
    exact = np.vstack([rows(trades, phi_bar), rows(refuses, phi_bar)])
    n_up, n_low = int(trades.sum()), int(refuses.sum())
    slack = uncertainty * np.abs(exact).sum(axis=1)
    upper = np.concatenate([b + r * abs(b) + slack[:n_up], np.full(n_low, INF)])
    lower = np.concatenate([np.full(n_up, -INF), b - r * abs(b) - slack[n_up:]])
    return Face(Phi=Phi, lower=lower, upper=upper, allowed=allowed, b=float(b), exact=exact, cap=cap)


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

    Parameters
    ----------
    face : Face
        The optimal face (:func:`optimal_face`).
    reference : ndarray, shape (N,), optional
        An optimal ω to start the row generation from.

    Returns
    -------
    ndarray, shape (N, 2)
        ``[lo, hi]`` of each ω_i (unitless, in [0, 1]).

    Raises
    ------
    SolverError
        HiGHS did not solve one of the range LPs (the face is empty: no ω has x as a best
        response).
    """
    n = face.allowed.size
    if n == 1:
        return np.array([[1.0, 1.0]])
    out = np.empty((n, 2))
    active = _initial_rows(face, reference)
    h, built = None, None  # one HiGHS model per row set; only the cost changes between LPs
    columns = np.arange(n, dtype=np.int32)
    for i in range(n):
        for j, sense in enumerate((1.0, -1.0)):
            cost = np.zeros(n)
            cost[i] = sense
            while True:
                if built is not active:
                    A = sp.vstack([sp.csr_matrix(face.Phi[active]), sp.csr_matrix(np.ones((1, n)))], format="csc")
                    h = make_highs(
                        cost,
                        A,
                        np.concatenate([face.lower[active], [1.0]]),
                        np.concatenate([face.upper[active], [1.0]]),
                        np.zeros(n),
                        face.cap,
                    )
                    built = active
                else:
                    h.changeColsCost(n, columns, cost)
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
    """Indices of rows (outside ``active``) that ``w`` violates beyond floating-point noise.

    Noise is 1e-12 times the magnitude of each row's own terms, |bound| + |Phi_a|·w.
    """
    index = face.Phi @ w
    bound = np.where(np.isfinite(face.upper), face.upper, face.lower)
    noise = 1e-12 * (np.abs(bound) + np.abs(face.Phi) @ np.abs(w))
    excess = np.maximum(index - face.upper, face.lower - index)
    excess[active] = -np.inf
    bad = np.flatnonzero(excess > noise)
    if bad.size > most:
        bad = bad[np.argpartition(-excess[bad], most)[:most]]
    return bad


def weight_ranges(gf: GFunction, g_star: float, tol: float) -> np.ndarray:
    """[[lo, hi], ...]: the range of each ω_i over {ω in Δ : g(ω) <= g_star + tol}.

    Parameters
    ----------
    gf : GFunction
        g on the reduced profile set.
    g_star : float
        The minimum of g (money, engine units).
    tol : float
        How far above ``g_star`` counts as optimal (same units).

    Returns
    -------
    ndarray, shape (N, 2)
        ``[lo, hi]`` of each ω_i.

    Raises
    ------
    SolverError
        HiGHS did not solve one of the 2N range LPs.
    """
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

    Parameters
    ----------
    face : Face
        The optimal face (:func:`optimal_face`).
    reference : ndarray, shape (N,), optional
        An optimal ω to start the row generation from.

    Returns
    -------
    ndarray, shape (N,)
        The canonical ω: nonnegative, summing to 1.

    Raises
    ------
    SolverError
        The QP was not solved (the face is empty, or cvxpy's solver failed).
    """
    n = face.allowed.size
    if n == 1:
        return np.array([1.0])
    active = _initial_rows(face, reference)
    while True:
        w = _polish(face, active, _least_norm(face, active))
        more = _violated(face, w, active)
        if more.size == 0:
            return w if reference is None else _pulled_inside(face, w, np.asarray(reference, dtype=float))
        active = np.union1d(active, more)


def _pulled_inside(face: Face, w: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``w`` moved toward ``reference`` (a member of the face) just far enough to satisfy every row.

    The QP is solved to about 1e-8, and a row holding a coefficient of 1e9 (a type far out)
    turns that into a violation of 10: such a w is not in the face, and g at it is not the
    optimum. Rows are linear, so the least t in [0, 1] with (1 - t) w + t reference feasible is
    found row by row; w itself (t = 0) whenever it satisfies them all.
    """
    if reference.sum() <= 0:
        return w
    ref = np.clip(reference, 0.0, None)
    ref = np.minimum(ref / ref.sum(), face.cap)
    step = ref - w
    index, move = face.Phi @ w, face.Phi @ step
    noise = 1e-12 * (np.abs(np.where(np.isfinite(face.upper), face.upper, face.lower)) + np.abs(face.Phi) @ np.abs(w))
    t = 0.0
    for excess, rate in ((index - face.upper, -move), (face.lower - index, move)):
        bad = (excess > noise) & (rate > 0)
        if bad.any():
            t = max(t, float(np.max(excess[bad] / rate[bad])))
    out = (1.0 - min(t, 1.0)) * w + min(t, 1.0) * ref
    out = np.clip(out, 0.0, None)
    return out / out.sum()


def _polish(face: Face, rows: np.ndarray, w: np.ndarray, active_tol: float = 1e-7) -> np.ndarray:
    """Refine an interior-point solution to the exact least-norm point of its active set.

    Rows within ``active_tol`` of binding (relative to the magnitude of the row's terms,
    |b| + |φ̄_a|·w) are made ties (φ̄_a·ω = b), coordinates near 0 are fixed at 0, and the
    least-norm solution of these equalities with Σω = 1 is computed by least squares. It
    replaces ``w`` only if it satisfies every row in ``rows`` and ω >= 0 (otherwise the
    interior-point answer, accurate to ~1e-8, is kept).
    """
    n = w.size
    Phi, exact = face.Phi[rows], face.exact[rows]
    size = abs(face.b) + np.abs(exact) @ np.abs(w)
    index = exact @ w
    tight = np.abs(index - face.b) <= active_tol * size
    free = (w > active_tol) & face.allowed
    if not free.any():
        return w
    # least-norm solution over the free coordinates (the others are fixed at 0)
    E = np.vstack([exact[tight][:, free], np.ones((1, int(free.sum())))])
    t = np.concatenate([np.full(int(tight.sum()), face.b), [1.0]])
    sol, *_ = np.linalg.lstsq(E, t, rcond=None)
    polished = np.zeros(n)
    polished[free] = sol
    index = Phi @ polished
    slack = 1e-12 * (abs(face.b) + np.abs(Phi) @ np.abs(polished))
    ok = (
        np.all(polished >= -1e-15)
        and np.all(polished <= face.cap + 1e-15)
        and abs(polished.sum() - 1.0) <= 1e-12
        and np.all(index <= face.upper[rows] + slack)
        and np.all(index >= face.lower[rows] - slack)
    )
    if not ok:
        return w
    polished = np.clip(polished, 0.0, None)
    return polished / polished.sum()


def _least_norm(face: Face, rows: np.ndarray) -> np.ndarray:
    import cvxpy as cp

    n = face.allowed.size
    w = cp.Variable(n, nonneg=True)
    cons = [cp.sum(w) == 1]
    capped = np.flatnonzero(face.cap < 1.0)
    if capped.size:
        cons.append(w[capped] <= face.cap[capped])
    Phi, upper, lower = face.Phi[rows], face.upper[rows], face.lower[rows]
    up = upper < INF
    lo = lower > -INF
    if up.any():
        cons.append(Phi[up] @ w <= upper[up])
    if lo.any():
        cons.append(Phi[lo] @ w >= lower[lo])
    prob = cp.Problem(cp.Minimize(cp.sum_squares(w)), cons)
    status = "not solved"
    for accuracy in (1e-10, 1e-8):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # an inaccurate solve is retried, then reported below
            try:
                prob.solve(solver=cp.CLARABEL, tol_gap_abs=accuracy, tol_gap_rel=accuracy, tol_feas=accuracy)
                status = str(prob.status)
            except cp.error.SolverError as err:  # Clarabel gave up: lpmech's error, with its words
                status = f"failed ({err})".replace("\n", " ")
                continue
        if prob.status == cp.OPTIMAL:
            break
    else:
        raise SolverError("canonical weights (cvxpy with Clarabel)", status)
    omega = np.clip(np.asarray(w.value, dtype=float), 0.0, None)
    return omega / omega.sum()
