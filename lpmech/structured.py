"""The optimal allocation from the theorem: minimize g over the simplex, then read x off ω.

For independent types the maximin LP of docs/model.md, section 5, has K^N columns. Haghpanah,
Kuvalekar and Lipnowski ("Selling to a Group", ACM EC 2021; "Buying from a Group", 2024) show
that its dual collapses to N numbers: the weights ω minimize the convex, piecewise-linear

    g(ω) = E[(b - ω·φ̄(θ))_+]      over the simplex Δ,

and x_ω(θ) = 1{ω·φ̄(θ) < b} is an optimal allocation off the tie set {ω·φ̄ = b}. This module
solves an instance that way and certifies the answer, never trusting either step alone:

1. **Minimize g exactly** by Kelley's cutting-plane method (Kelley, "The cutting-plane method
   for solving convex programs", J. SIAM 8, 1960) on a small LP in (ω, t) solved with HiGHS.
   At ω_k let S_k = {θ : ω_k·φ̄(θ) < b}. The affine function

       ℓ_k(ω) = E[(b - ω·φ̄) 1_{S_k}] = b·P(S_k) - ω·E[φ̄ 1_{S_k}]

   is below g everywhere (y_+ >= y·1_S for any set S) and equals g at ω_k: it is a cut whose
   slope -E[φ̄ 1_{S_k}] is a subgradient (at a kink every convex combination over the ties is
   one; excluding the ties picks one). A cut is valid for *any* S, so rounding in deciding
   ω_k·φ̄ < b can only loosen a cut, never make it wrong. g has finitely many such pieces, so
   the method ends after finitely many cuts: once ω_k's piece is already a cut, the LP's
   lower bound t_k equals g(ω_k). It stops when a lower bound from the LP's duals meets the
   best value of g found (relative ``tol``, default 1e-12), or when a cut repeats.

   Floating point. HiGHS accepts points that violate rows by up to 1e-9, far coarser than
   locating ties needs, so the (ω, t) vertex is recomputed from HiGHS's basis, every cut is
   checked at it, and rows HiGHS treated as satisfied within its tolerance are scaled up and the
   LP solved again (:class:`_CutModel`). The lower bound Σλ_k ℓ_k for the duals λ is valid
   whatever HiGHS's accuracy.

   Evaluating g. The agents are split into two groups A and B (:func:`_split`), balancing the
   sizes of their sub-grids (about sqrt(K^N) each). Per evaluation the sums s_B = Σ_{j∈B} ω_j φ̄_j
   over B's sub-grid are sorted once; for each θ_A of A's sub-grid the trading set
   {θ_B : s_B < b - s_A(θ_A)} is then a prefix of that order, found by
   :func:`numpy.searchsorted`, and prefix sums of P_B, P_B s_B and P_B φ̄_j (j in B) give g and
   the subgradient. For N = 2 the sort is free (φ̄ is sorted per agent). A pass costs about
   sqrt(K^N) log K^N, not K^N (10^7 profiles: about 10^4 sorted and 10^3 enumerated), with sums
   in extended precision. Grid passes walk blocks over the first axes (:class:`_Grid`), none
   larger than ``chunk`` profiles.

2. **Complete x on the ties.** x = x_ω off T = {θ : |ω·φ̄(θ) - b| <= tie tolerance}; on T a small
   LP chooses x: columns x_T in [0, 1] and z, rows z <= E[x(b - φ_i)] for every agent (raw φ, the
   fixed part a constant) and interim monotonicity X_i(t_k) >= X_i(t_{k+1}) (fixed part as
   constants, tie columns through the interim operator restricted to T); maximize z. HiGHS runs
   primal simplex from x_T = 0 (feasible); rows are scaled so that no probability of a single
   profile falls below HiGHS's ``small_matrix_value`` (1e-9), which it would silently drop.

   *Why x_ω off T and the LP on T reach the optimum.* For monotone x the ironing inequality
   E[x φ_i] >= E[x φ̄_i] gives max over monotone x of E[x(b - ω·φ)] = g(ω), attained exactly
   by the best responses to ω: x = 1 where ω·φ̄ < b, x = 0 where ω·φ̄ > b, and X_i constant on
   the ironing intervals of each agent with ω_i > 0. Every optimal x* of the maximin LP is a
   best response to every minimizer ω* of g (saddle point), so x* = x_ω off T, x* is feasible
   for the tie LP, and the tie LP's value is the LP optimum, which is g(ω*).

   *Pooling on ironing intervals.* Off T, x_ω is constant in θ_i over each ironing interval of
   agent i (φ̄_i, hence ω·φ̄ and the tie status, are constant there). On T the tie LP pools too:
   tie profiles that differ only in coordinates lying in one ironing interval share one
   column. This loses nothing: averaging any optimal x over an ironing interval of agent i
   (weights p_i) leaves x_ω off T, X_j (j != i) and E[x(b - φ_j)] unchanged, replaces X_i by
   its block averages (still decreasing), and raises E[x(b - φ_i)] by the ironing
   inequality. So no equality rows are needed: with merged columns X_i is constant on the
   interval by construction, the monotonicity rows inside an interval are identities and are
   left out, and E[x φ_i] = E[x φ̄_i]. (Without pooling the optimum would be the same; equality
   rows would only choose among optimal x.)

3. **Certify.** Two independent passes over the full grid compute the primal value
   V(x) = min_i E[x(b - φ_i)] with the *raw* φ and the dual bound g(ω). For any monotone x and any
   ω in Δ, V(x) <= LP optimum <= g(ω) (weak duality), so V(x) = g(ω) proves both optimal. A gap
   above CERTIFICATE_RTOL (1e-9) times |V(x)| + |g(ω)| (plus rounding, ROUNDING_RTOL times the
   magnitude of the terms both are summed from), an interim monotonicity violation above
   MONOTONICITY_TOL, or x outside [0, 1] raises :class:`CertificateError`; no uncertified answer
   is returned. (Should ω be off the exact minimizer by more than the tie tolerance allows, the
   tie set is widened 100 and 10^4 times, then by an allowance for ω itself being off by 1e-12
   and 1e-9 (a weight of 1e-13 on a virtual cost of 1e13 decides a profile, which the cutting
   planes cannot resolve), before giving up: freeing near-ties can only raise the tie LP's value.)

Everything is in the engine's buy-side form (:meth:`lpmech.Instance.engine`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Iterator, Sequence

import numpy as np
import scipy.sparse as sp

from .errors import CertificateError, SolverError
from .highs import INF, make_highs, run
from .instance import EngineProblem
from .tolerances import CERTIFICATE_RTOL, MONOTONICITY_TOL, TIE_RTOL, gap_limit, min_magnitude, tie_band
from .virtual import ironing_intervals

__all__ = ["CertificateError", "StructuredSolution", "solve_structured", "CERTIFICATE_TOL"]

#: Relative gap |V(x) - g(ω)| / (magnitude of the terms of both) above which the answer is refused
#: (:data:`lpmech.tolerances.CERTIFICATE_RTOL`).
CERTIFICATE_TOL = CERTIFICATE_RTOL
#: Tie sets tried in turn until the certificate holds: (multiple of ``tie_tol``, absolute
#: uncertainty of ω; see :func:`lpmech.tolerances.tie_band`).
TIE_WIDENING = ((1.0, 0.0), (1e2, 0.0), (1e4, 0.0), (1e4, 1e-12), (1e4, 1e-9))


@dataclass
class StructuredSolution:
    """A certified optimum found through the weights ω.

    Attributes
    ----------
    x : ndarray
        Allocation over the profile grid (N-d, engine order), values in [0, 1].
    value : float
        Primal value min_i E[x(b - φ_i)] of ``x`` with the raw virtual costs.
    omega : ndarray
        A minimizer of g over the simplex.
    g_value : float
        The dual bound g(ω) = E[(b - ω·φ̄)_+].
    certificate_gap : float
        |value - g_value| relative to the two values and (for rounding) to the magnitude of the
        terms both are summed from; the answer is refused above CERTIFICATE_RTOL (1e-9).
    tie_probability : float
        Probability of the tie set (|ω·φ̄ - b| within the relative tie tolerance), the mass on
        which x was chosen by the tie LP.
    iterations : int
        Cutting-plane iterations (LP solves after the initial cuts).
    seconds : float
        Wall time of the whole call.
    status : str
        ``"optimal"`` (certified).
    gains : ndarray
        E[x(b - φ_i)] for each agent (value is their minimum).
    lower_bound : float
        The cutting-plane LP's final lower bound on min g.
    tie_profiles : int
        Number of profiles in the tie set.
    tie_columns : int
        Columns of the tie LP after pooling on ironing intervals.
    monotonicity_violation : float
        max_i max_k X_i(t_{k+1}) - X_i(t_k), clipped at 0.
    stopped : str
        Why the cutting planes stopped ("bounds met", "cut repeated", "LP stalled",
        "iteration limit", "one agent"); the certificate is checked in every case.
    weight_uncertainty : float
        The allowance for ω's own error in the tie band (0 unless the certificate needed it):
        the band is widened by weight_uncertainty × Σ_i |φ̄_i(θ_i)|.
    tie_tolerance : float
        The relative tie tolerance under which the certificate held: θ is tied when
        |ω·φ̄(θ) - b| <= tie_tolerance × (|b| + ω·|φ̄(θ)|) (:func:`lpmech.tolerances.on_tie`).
    """

    x: np.ndarray
    value: float
    omega: np.ndarray
    g_value: float
    certificate_gap: float
    tie_probability: float
    iterations: int
    seconds: float
    status: str
    gains: np.ndarray = field(default_factory=lambda: np.zeros(0))
    lower_bound: float = float("nan")
    tie_profiles: int = 0
    tie_columns: int = 0
    monotonicity_violation: float = 0.0
    stopped: str = ""
    tie_tolerance: float = 0.0
    weight_uncertainty: float = 0.0


# --------------------------------------------------------------------------- grid passes
class _Grid:
    """The product grid of some agents' types, walked in blocks of at most ``chunk`` profiles.

    A block fixes a run of consecutive indices over the first ``d`` axes (flattened, C order)
    and spans the remaining axes whole, so block arrays have shape (rows, K_d, ..., K_{m-1}).
    ``d`` is the fewest leading axes that make one row fit in ``chunk``.
    """

    def __init__(self, probs: Sequence[np.ndarray], chunk: int):
        self.probs = [np.asarray(p, dtype=float) for p in probs]
        self.shape = tuple(p.size for p in self.probs)
        self.m = len(self.shape)
        chunk = max(int(chunk), 1)
        d = 0
        while d < self.m and _prod(self.shape[d:]) > chunk:
            d += 1
        self.d = d
        self.tail = _prod(self.shape[d:])
        self.lead_total = _prod(self.shape[:d])
        self.rows_per_block = max(1, chunk // self.tail)
        tail_pmf = np.ones(())
        for p in self.probs[d:]:
            tail_pmf = np.multiply.outer(tail_pmf, p)
        self.tail_pmf = tail_pmf[None, ...]

    @property
    def size(self) -> int:
        return self.lead_total * self.tail

    def blocks(self) -> Iterator["_Block"]:
        """The blocks in C order of the flattened grid."""
        for r0 in range(0, self.lead_total, self.rows_per_block):
            yield _Block(self, r0, min(r0 + self.rows_per_block, self.lead_total))


class _Block:
    """One block of a :class:`_Grid`: rows ``r0:r1`` of the leading axes, the trailing axes whole."""

    def __init__(self, grid: _Grid, r0: int, r1: int):
        self.grid = grid
        self.rows = r1 - r0
        self.start = r0 * grid.tail
        self.stop = r1 * grid.tail
        self.lead = np.unravel_index(np.arange(r0, r1), grid.shape[:grid.d]) if grid.d else ()
        self.shape = (self.rows,) + grid.shape[grid.d:]

    def _lead_column(self, values: np.ndarray) -> np.ndarray:
        return values.reshape((self.rows,) + (1,) * (self.grid.m - self.grid.d))

    def along(self, vec: np.ndarray, axis: int) -> np.ndarray:
        """Per-axis vector ``vec`` broadcastable over the block."""
        g = self.grid
        if axis < g.d:
            return self._lead_column(vec[self.lead[axis]])
        shape = [1] * (1 + g.m - g.d)
        shape[1 + axis - g.d] = -1
        return vec.reshape(shape)

    def pmf(self) -> np.ndarray:
        """P(θ) on the block."""
        lead = np.ones(self.rows)
        for a in range(self.grid.d):
            lead = lead * self.grid.probs[a][self.lead[a]]
        return self._lead_column(lead) * self.grid.tail_pmf

    def combine(self, weights: Sequence[float], vecs: Sequence[np.ndarray]) -> np.ndarray:
        """Σ_a w_a v_a(θ_a) on the block (full block shape)."""
        g = self.grid
        lead = np.zeros(self.rows)
        for a in range(g.d):
            lead = lead + weights[a] * vecs[a][self.lead[a]]
        out = self._lead_column(lead)
        for a in range(g.d, g.m):
            out = out + weights[a] * self.along(vecs[a], a)
        return np.broadcast_to(out, self.shape)

    def marginals(self, vals: np.ndarray) -> list[np.ndarray]:
        """For each axis a, the sums of ``vals`` over the block grouped by θ_a."""
        g = self.grid
        vals = np.broadcast_to(vals, self.shape)
        out = []
        row_total = vals.reshape(self.rows, -1).sum(axis=1) if g.d else None
        for a in range(g.m):
            if a < g.d:
                if row_total.dtype == np.float64:
                    out.append(np.bincount(self.lead[a], weights=row_total, minlength=g.shape[a]))
                else:   # bincount would round extended precision to float64
                    acc = np.zeros(g.shape[a], dtype=row_total.dtype)
                    np.add.at(acc, self.lead[a], row_total)
                    out.append(acc)
            else:
                axes = tuple(j for j in range(1 + g.m - g.d) if j != 1 + a - g.d)
                out.append(vals.sum(axis=axes))
        return out


def _prod(values) -> int:
    out = 1
    for v in values:
        out *= int(v)
    return out


# --------------------------------------------------------------------------- g and its cuts
@dataclass
class _Cut:
    """ℓ(ω) = intercept + slope·ω, below g and equal to it at the point where it was taken."""

    g: float
    intercept: float
    slope: np.ndarray

    def size(self, omega: np.ndarray) -> float:
        """|intercept| + Σ ω_i |slope_i|: the magnitude of the terms of ℓ(ω)."""
        return abs(self.intercept) + float(np.abs(self.slope) @ np.abs(np.asarray(omega, dtype=float)))


def _split(sizes: Sequence[int], chunk: int) -> list[int]:
    """Agents whose sub-grid is sorted in each evaluation of g (the rest is walked in blocks).

    Over all nonempty subsets B with at most ``chunk`` profiles, the cheapest by the model cost
    |B| M log M (sorting and prefix sums of the M = Π_{j∈B} K_j sums) plus R (log M + N) for the
    R = Π_{j∉B} K_j enumerated profiles; with N <= 16 the subsets are simply enumerated.
    """
    n = len(sizes)
    if n > 16:
        order = np.argsort(sizes)[::-1]
        chosen, m = [int(order[0])], sizes[order[0]]
        total = _prod(sizes)
        for j in order[1:]:
            if m * sizes[j] <= max(np.sqrt(total), 1.0) and m * sizes[j] <= chunk:
                chosen.append(int(j))
                m *= sizes[j]
        return sorted(chosen)
    best, best_cost = [int(np.argmax(sizes))], np.inf
    total = _prod(sizes)
    for mask in range(1, 2 ** n):
        members = [j for j in range(n) if mask >> j & 1]
        m = _prod(sizes[j] for j in members)
        if m > max(chunk, max(sizes)):
            continue
        rest = total // m
        log_m = np.log2(m + 1.0)
        cost = len(members) * m * log_m + rest * (log_m + n)
        if cost < best_cost:
            best, best_cost = members, cost
    return best


class _GOracle:
    """g(ω) and a cut at ω, meeting in the middle over two sorted halves of the agents.

    The agents are split into B (:func:`_split`) and the rest A. For the weighted sums s_B of
    B's sub-grid, sorted once per evaluation, the trading set of a fixed θ_A is the prefix
    {s_B < b - s_A} of the sorted order (φ̄ sorted per agent is what makes the case N = 2
    cheap: s_B is then already sorted), and its mass, its s_B-mass and its φ̄_j-masses (j in B)
    are prefix sums read at ``searchsorted``. One evaluation costs about
    M log M + R log M for M = |B's grid| and R = |A's grid|, instead of K^N; sums are
    accumulated in extended precision (``np.longdouble``) so that cuts are accurate to well
    below the stopping tolerance.
    """

    def __init__(self, phi_bar: Sequence[np.ndarray], probs: Sequence[np.ndarray], b: float, chunk: int):
        self.n = len(phi_bar)
        self.b = float(b)
        self.phi_bar = [np.asarray(v, dtype=float) for v in phi_bar]
        sizes = [int(np.asarray(p).size) for p in probs]
        self.sorted_agents = _split(sizes, chunk)
        self.others = [i for i in range(self.n) if i not in self.sorted_agents]
        sub = _Grid([probs[j] for j in self.sorted_agents], max(chunk, _prod(sizes[j] for j in self.sorted_agents)))
        (block,) = list(sub.blocks())
        self.pmf_sorted = np.ascontiguousarray(block.pmf(), dtype=float).ravel()
        self.phi_sorted = [np.broadcast_to(block.along(self.phi_bar[j], a), block.shape).ravel()
                           for a, j in enumerate(self.sorted_agents)]
        self.grid = _Grid([probs[i] for i in self.others], chunk)
        self.evaluations = 0

    def _prefix_sums(self, omega: np.ndarray):
        s = np.zeros(self.pmf_sorted.size)
        for a, j in enumerate(self.sorted_agents):
            s = s + float(omega[j]) * self.phi_sorted[a]
        order = np.argsort(s, kind="stable")
        P = self.pmf_sorted[order].astype(np.longdouble)

        def prefix(v):
            return np.concatenate(([np.longdouble(0)], np.cumsum(v, dtype=np.longdouble)))

        return (s[order], prefix(P), prefix(P * s[order]),
                [prefix(P * self.phi_sorted[a][order]) for a in range(len(self.sorted_agents))])

    def __call__(self, omega: np.ndarray) -> _Cut:
        omega = np.asarray(omega, dtype=float)
        s_sorted, cum_p, cum_ps, cum_phi = self._prefix_sums(omega)
        w_others = [float(omega[i]) for i in self.others]
        v_others = [self.phi_bar[i] for i in self.others]
        g = mass = np.longdouble(0)
        sorted_mass = [np.longdouble(0)] * len(self.sorted_agents)
        other_mass = [np.zeros(self.phi_bar[i].size, dtype=np.longdouble) for i in self.others]
        for block in self.grid.blocks():
            P = np.broadcast_to(block.pmf(), block.shape).astype(np.longdouble)
            c = self.b - block.combine(w_others, v_others)
            count = np.searchsorted(s_sorted, c, side="left")        # #{θ_B : s_B < b - s_A}
            F = cum_p[count]
            PF = P * F
            g += np.sum(P * (c * F - cum_ps[count]))
            mass += np.sum(PF)
            for a in range(len(self.sorted_agents)):
                sorted_mass[a] += np.sum(P * cum_phi[a][count])
            for acc, part in zip(other_mass, block.marginals(PF)):
                acc += part
        slope = np.empty(self.n)
        for a, j in enumerate(self.sorted_agents):
            slope[j] = -float(sorted_mass[a])
        for a, i in enumerate(self.others):
            slope[i] = -float(np.dot(other_mass[a], self.phi_bar[i].astype(np.longdouble)))
        self.evaluations += 1
        return _Cut(g=float(g), intercept=float(self.b * mass), slope=slope)


@dataclass
class _Minimum:
    omega: np.ndarray
    g: float
    lower_bound: float
    iterations: int
    converged: str


def _vertex(h, rows: np.ndarray, lower: np.ndarray, n: int, fallback: np.ndarray,
            upper: np.ndarray | None = None) -> np.ndarray:
    """The LP's basic solution (ω, t) recomputed from HiGHS's optimal basis in extended precision.

    HiGHS returns a point feasible to its tolerance (1e-9), too coarse to locate the ties of
    ω·φ̄ = b; the basis it found is exact information, so the vertex is re-solved from it:
    nonbasic rows hold with equality at their bound, nonbasic columns sit at their bound.
    Falls back to HiGHS's point if the basis does not give a square nonsingular system.
    """
    import highspy

    basis = h.getBasis()
    nonbasic = (highspy.HighsBasisStatus.kLower, highspy.HighsBasisStatus.kUpper)
    eqs, rhs = [], []
    for r, status in enumerate(basis.row_status):
        if status in nonbasic:
            eqs.append(rows[r])
            rhs.append(lower[r])
    for j, status in enumerate(basis.col_status):
        if status in nonbasic:
            e = np.zeros(n + 1)
            e[j] = 1.0
            eqs.append(e)
            at_upper = status == highspy.HighsBasisStatus.kUpper and j < n
            rhs.append((1.0 if upper is None else float(upper[j])) if at_upper else 0.0)
    if len(eqs) != n + 1:
        return fallback
    M = np.array(eqs, dtype=float)
    y = np.array(rhs, dtype=float)
    try:
        v = np.linalg.solve(M, y)
    except np.linalg.LinAlgError:
        return fallback
    if not np.all(np.isfinite(v)):
        return fallback
    M_ext, y_ext = M.astype(np.longdouble), y.astype(np.longdouble)
    for _ in range(2):   # iterative refinement with extended-precision residuals
        resid = y_ext - M_ext @ v.astype(np.longdouble)
        v = v + np.linalg.solve(M, resid.astype(float))
    if np.any(np.abs(v - fallback) > 1e-6 * (np.abs(fallback) + np.max(np.abs(fallback)) + 1e-300)):
        return fallback
    return v


def _dual_bound(row_dual: np.ndarray, rows: np.ndarray, lower: np.ndarray, n: int) -> float:
    """A lower bound on min g from the LP's row duals: any λ in the simplex over the cuts gives one.

    min_{ω∈Δ} g(ω) >= min_{ω∈Δ} Σ_k λ_k ℓ_k(ω) = λ·intercepts + min_i (Σ_k λ_k slope_k)_i, whatever
    λ >= 0 with Σλ = 1; HiGHS's duals (clipped and normalized) make it tight. Valid even when
    HiGHS's point is only feasible to its tolerance.
    """
    bound = -np.inf
    for sign in (1.0, -1.0):        # either sign convention for duals of >= rows gives a valid λ
        lam = np.clip(sign * np.asarray(row_dual[1:], dtype=float), 0.0, None)
        if lam.sum() > 0:
            lam = lam / lam.sum()
            bound = max(bound, float(lam @ lower[1:] + np.min(-(lam @ rows[1:, :n]))))
    return bound


class _CutModel:
    """Kelley's LP: min t s.t. Σω = 1, 0 <= ω <= 1, t >= intercept_k + slope_k·ω for every cut k.

    ``rows``/``lower`` keep the rows as taken (row 0 is Σω = 1; a cut row is (-slope_k, 1) with
    lower bound intercept_k); HiGHS holds row k multiplied by ``scales[k]``, and its columns are
    ν_i = ω_i / ``columns[i]`` (default 1). An agent whose ironed virtual costs reach 1e12 times
    the others' (a type far out, or next to a type of probability 1e-12) can have an optimal
    weight near 1e-12, which HiGHS's absolute tolerances cannot tell from 0; with columns
    min_j M_j / M_i (M_i = max |φ̄_i|) every ω_i M_i is resolved alike. :func:`solve_structured`
    tries this when the plain model's answer fails its certificate.

    Numerics. HiGHS accepts a point that violates a row by up to its tolerance (1e-9), far
    coarser than the ties of ω·φ̄ = b need. So (i) a new cut is scaled (by up to 1e6) so that it
    cuts off the current vertex by about 1e-6; (ii) the vertex is recomputed from HiGHS's basis
    (:func:`_vertex`) and checked against every cut: a cut it violates by more than rounding is
    scaled up and the model solved again; (iii) the lower bound comes from the duals
    (:func:`_dual_bound`), which is valid whatever HiGHS's tolerances.
    """

    MAX_SCALE = 1e12

    def __init__(self, n: int, cuts: Sequence[_Cut], columns: np.ndarray | None = None):
        self.n = n
        self.rows = np.array([np.append(np.ones(n), 0.0)] + [np.append(-c.slope, 1.0) for c in cuts])
        self.lower = np.array([1.0] + [c.intercept for c in cuts])
        self.scales = np.ones(len(self.lower))
        self.columns = np.ones(n) if columns is None else np.asarray(columns, dtype=float)
        self._colmul = np.append(self.columns, 1.0)        # HiGHS's matrix = rows × _colmul
        self._idx = np.arange(n + 1, dtype=np.int32)
        self._build()

    def _build(self) -> None:
        n = self.n
        self.h = make_highs(np.append(np.zeros(n), 1.0),
                            sp.csr_matrix(self.rows * self.scales[:, None] * self._colmul[None, :]),
                            self.lower * self.scales, np.append(1.0, np.full(len(self.lower) - 1, INF)),
                            np.append(np.zeros(n), -INF), np.append(1.0 / self.columns, INF))

    def add(self, cut: _Cut, factor: float) -> None:
        row = np.append(-cut.slope, 1.0)
        self.rows = np.vstack([self.rows, row])
        self.lower = np.append(self.lower, cut.intercept)
        self.scales = np.append(self.scales, factor)
        self.h.addRow(cut.intercept * factor, INF, self.n + 1, self._idx, row * factor * self._colmul)

    def contains(self, cut: _Cut, omega: np.ndarray) -> bool:
        """Whether the same cut (to rounding) is in the model: each slope entry equal to rounding
        of itself, the intercept to rounding of the cut's terms at ``omega`` (:meth:`_Cut.size`).
        (Not relative to the cut's largest entry: one agent's slope of 1e9 must not make another's
        0.25 and 0.3 "equal".)"""
        row = np.append(-cut.slope, 1.0)
        same = np.all(np.abs(self.rows[1:] - row) <= 1e-15 * (np.abs(row) + np.abs(self.rows[1:])), axis=1) & \
            (np.abs(self.lower[1:] - cut.intercept) <= 1e-15 * (abs(cut.intercept) + cut.size(omega)))
        return bool(np.any(same))

    def _run(self):
        try:
            return run(self.h, "cutting-plane LP for min g")
        except SolverError:
            # HiGHS can stall on a warm start whose only violated row is a tiny cut; the same
            # model built afresh usually solves.
            self._build()
            return run(self.h, "cutting-plane LP for min g (rebuilt)")

    def solve(self, rounds: int = 6):
        """(ω, t, lower bound) at an exact optimal vertex; raises SolverError if HiGHS fails twice."""
        n = self.n
        for _ in range(rounds):
            sol = self._run()
            v = _vertex(self.h, self.rows * self.scales[:, None] * self._colmul[None, :], self.lower * self.scales,
                        n, sol.x, upper=1.0 / self.columns)
            omega = np.clip(v[:n] * self.columns, 0.0, None)
            omega = omega / omega.sum()
            t = float(v[n])
            excess = self.lower[1:] - self.rows[1:, :n] @ omega - t
            noise = 1e-14 * (np.abs(self.lower[1:]) + np.abs(self.rows[1:, :n]) @ omega + abs(t))
            bad = excess > noise
            if not bad.any():
                break
            grown = self.scales[1:][bad] * np.clip(1e-6 / excess[bad], 1.0, 1e6)
            self.scales[1:][bad] = np.minimum(grown, self.MAX_SCALE)
            self._build()
        bound = _dual_bound(sol.row_dual * self.scales, self.rows, self.lower, n)
        return omega, t, bound


def _minimize_g(oracle: _GOracle, n: int, *, tol: float, max_iter: int,
                columns: np.ndarray | None = None) -> _Minimum:
    """Kelley's cutting planes for min g over the simplex (:class:`_CutModel` on HiGHS).

    Starts from cuts at the vertices and the centre of the simplex; stops when the dual lower
    bound meets the best g found (``tol`` relative to the magnitude of the best cut's terms,
    |b| P(S) + Σ ω_i |E[φ̄_i 1_S]|), when a cut repeats, or when HiGHS fails.
    """
    if n == 1:
        omega = np.ones(1)
        value = oracle(omega).g
        return _Minimum(omega, value, value, 0, "one agent")
    starts = [np.eye(n)[i] for i in range(n)] + [np.full(n, 1.0 / n)]
    cuts = [oracle(w) for w in starts]
    best = min(range(len(cuts)), key=lambda k: cuts[k].g)
    best_omega, best_g, best_size = starts[best], cuts[best].g, cuts[best].size(starts[best])
    model = _CutModel(n, cuts, columns)
    lower_bound = -np.inf
    rebuilt = False

    def met() -> bool:
        return best_g - lower_bound <= tol * max(abs(best_g), best_size)

    for it in range(1, max_iter + 1):
        try:
            omega, t, bound = model.solve()
        except SolverError:
            return _Minimum(best_omega, best_g, lower_bound, it, "LP stalled")
        lower_bound = max(lower_bound, bound)
        if met():
            return _Minimum(best_omega, best_g, lower_bound, it, "bounds met")
        cut = oracle(omega)
        if cut.g < best_g:
            best_omega, best_g, best_size = omega, cut.g, cut.size(omega)
        if met():
            return _Minimum(best_omega, best_g, lower_bound, it, "bounds met")
        if model.contains(cut, omega):
            if not rebuilt:
                # HiGHS warm-started from the last basis can accept a vertex whose reduced cost
                # hides below its tolerance behind a huge coefficient (a type far out); the same
                # model built afresh is solved again before the repeated cut ends the search
                model._build()
                rebuilt = True
                continue
            return _Minimum(best_omega, best_g, lower_bound, it, "cut repeated")
        rebuilt = False
        model.add(cut, float(np.clip(1e-6 / max(cut.g - t, 1e-300), 1.0, 1e6)))
    return _Minimum(best_omega, best_g, lower_bound, max_iter, "iteration limit")


# --------------------------------------------------------------------------- x_ω and the ties
@dataclass
class _Fixed:
    """x_ω off the ties (0 on them), the tie profiles, and the fixed part's per-agent masses."""

    x: np.ndarray                # flat, C order
    ties: np.ndarray             # flat indices of the tie set
    tie_probability: float
    mass: list[np.ndarray]       # Σ_θ P(θ) x(θ) grouped by θ_i, x = 0 on ties


def _fixed_part(grid: _Grid, omega: np.ndarray, phi_bar, b: float, tie_rtol: float,
                uncertainty: float = 0.0) -> _Fixed:
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
        x[block.start:block.stop] = trade.ravel()
        flat = np.flatnonzero(tie)
        if flat.size:
            ties.append(flat + block.start)
            tie_probability += float(np.sum(np.broadcast_to(P, block.shape)[tie]))
        for acc, part in zip(mass, block.marginals(P * trade)):
            acc += part
    ties = np.concatenate(ties) if ties else np.zeros(0, dtype=np.int64)
    return _Fixed(x=x, ties=ties, tie_probability=tie_probability, mass=mass)


def _pool_representatives(phi: Sequence[np.ndarray], phi_bar: Sequence[np.ndarray]):
    """Per agent: each grid index mapped to the first index of its ironing interval, and the intervals."""
    reps, intervals = [], []
    for f, fb in zip(phi, phi_bar):
        rep = np.arange(fb.size)
        ivs = ironing_intervals(np.asarray(f, dtype=float), np.asarray(fb, dtype=float))
        for lo, hi in ivs:
            rep[lo:hi + 1] = lo
        reps.append(rep)
        intervals.append(ivs)
    return reps, intervals


def _tie_columns(shape, ties: np.ndarray, reps) -> tuple[tuple[np.ndarray, ...], np.ndarray, int]:
    """Coordinates of the tie profiles and their LP column: one per class of pooled profiles."""
    coords = np.unravel_index(ties, shape)
    key = np.ravel_multi_index(tuple(rep[c] for rep, c in zip(reps, coords)), shape)
    _, column = np.unique(key, return_inverse=True)
    column = column.ravel().astype(np.int32)
    return coords, column, int(column.max()) + 1


def _monotonicity_entries(probs, coords, column, intervals, first_row: int):
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


def _tie_lp(problem: EngineProblem, phi, fixed: _Fixed, reps, intervals):
    """The tie LP (module notes, step 2): returns x on the tie profiles and the number of columns.

    Columns: one x per pooled class of tie profiles, then z. Rows: the N maximin rows
    z - Σ_T P(θ)(b - φ_i(θ_i)) x <= Σ_fixed P x (b - φ_i), then the monotonicity rows.
    """
    n, b = problem.n, problem.b
    probs = [np.asarray(p, dtype=float) for p in problem.probs]
    coords, column, n_cols = _tie_columns(problem.shape, fixed.ties, reps)
    P = np.ones(column.size)
    for p, c in zip(probs, coords):
        P *= p[c]
    rows = [np.full(column.size, i, dtype=np.int32) for i in range(n)]
    cols = [column] * n
    vals = [-P * (b - phi[i][coords[i]]) for i in range(n)]
    del P
    m_rows, m_cols, m_vals, layout, n_rows = _monotonicity_entries(probs, coords, column, intervals, n)
    del coords
    # z column: +1 in every maximin row.
    rows.append(np.arange(n, dtype=np.int32))
    cols.append(np.full(n, n_cols, dtype=np.int32))
    vals.append(np.ones(n))
    A = sp.coo_matrix((np.concatenate(vals + m_vals), (np.concatenate(rows + m_rows), np.concatenate(cols + m_cols))),
                      shape=(n_rows, n_cols + 1))
    del rows, cols, vals, m_rows, m_cols, m_vals
    A = A.tocsr()          # sums the entries of pooled profiles
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
    A, row_lo, row_hi = _scale_rows(A, row_lo, row_hi)
    cost = np.zeros(n_cols + 1)
    cost[-1] = -1.0
    col_lo, col_hi = np.append(np.zeros(n_cols), -INF), np.append(np.ones(n_cols), INF)
    h = make_highs(cost, A, row_lo, row_hi, col_lo, col_hi)
    # x_T = 0 is feasible (x_ω with 0 on the ties is monotone), so primal simplex starts there; on
    # tens of thousands of tie columns HiGHS's default dual simplex can take 50 times longer.
    h.setOptionValue("simplex_strategy", 4)
    try:
        sol = run(h, "tie LP completing x_omega")
    except SolverError:
        h = make_highs(cost, A, row_lo, row_hi, col_lo, col_hi)
        h.setOptionValue("solver", "ipm")
        sol = run(h, "tie LP completing x_omega (interior point with crossover)")
    del h, A
    x_cols = np.clip(sol.x[:n_cols], 0.0, 1.0)
    return x_cols[column], n_cols


def _scale_rows(A: sp.csr_matrix, lo: np.ndarray, hi: np.ndarray):
    """Scale each row by 1/sqrt(min|a| max|a|) so its entries straddle 1 (returns CSC).

    Entries of the tie LP are probabilities of single profiles (down to 1e-12 and below for
    N = 7), and HiGHS drops matrix entries below 1e-9 (its ``small_matrix_value``) without a
    word; centred rows keep every entry unless one row spans more than 18 orders of magnitude.
    """
    A = sp.csr_matrix(A)
    mags = np.abs(A.data)
    counts = np.diff(A.indptr)
    factor = np.ones(A.shape[0])
    nonempty = counts > 0
    if mags.size:
        starts = A.indptr[:-1][nonempty]
        row_max = np.maximum.reduceat(mags, starts)
        row_min = np.minimum.reduceat(mags, starts)
        factor[nonempty] = 1.0 / np.sqrt(row_min * row_max)
    del mags
    A.data *= np.repeat(factor, counts)
    return A.tocsc(), lo * factor, hi * factor


# --------------------------------------------------------------------------- certificate
@dataclass
class _Audit:
    gains: np.ndarray
    interim: list[np.ndarray]
    g: float
    gains_size: np.ndarray      # E[x |b - φ_i|]: the magnitude of the terms of each gain
    g_size: float               # E[(|b| + ω·|φ̄|) 1{ω·φ̄ < b}]: the magnitude of g's terms


def _audit(grid: _Grid, x: np.ndarray, omega: np.ndarray, phi, phi_bar, b: float) -> _Audit:
    """Full-grid pass: E[x(b - φ_i)] with raw φ, the interim X_i, and g(ω) directly."""
    mass = [np.zeros(k) for k in grid.shape]
    g = g_size = 0.0
    omega = np.clip(np.asarray(omega, dtype=float), 0.0, None)
    abs_bar = [np.abs(f) for f in phi_bar]
    for block in grid.blocks():
        P = block.pmf()
        xb = x[block.start:block.stop].reshape(block.shape)
        for acc, part in zip(mass, block.marginals(P * xb)):
            acc += part
        slack = b - block.combine(omega, phi_bar)
        pos = slack > 0
        g += float(np.sum(P * slack * pos))
        g_size += float(np.sum(P * (abs(b) + block.combine(omega, abs_bar)) * pos))
    gains = np.array([float(m @ (b - f)) for m, f in zip(mass, phi)])
    gains_size = np.array([float(np.abs(m) @ np.abs(b - f)) for m, f in zip(mass, phi)])
    interim = [m / p for m, p in zip(mass, grid.probs)]
    return _Audit(gains=gains, interim=interim, g=g, gains_size=gains_size, g_size=g_size)


# --------------------------------------------------------------------------- entry point
def solve_structured(problem: EngineProblem, phi: list[np.ndarray], phi_bar: list[np.ndarray], *,
                     tol: float = 1e-12, chunk: int = 2_000_000, tie_tol: float = TIE_RTOL,
                     max_iter: int = 20_000) -> StructuredSolution:
    """Optimal allocation for independent types through the weights ω (module notes).

    Parameters
    ----------
    problem : EngineProblem
        Buy-side form with independent types (``problem.probs`` set).
    phi, phi_bar : list of ndarray
        Raw and ironed virtual costs on each agent's grid (:func:`lpmech.virtual.virtual_costs`,
        :func:`lpmech.virtual.iron`); each φ̄_i nondecreasing.
    tol : float
        Relative gap between the cutting-plane LP's bound and the best g that ends the
        minimization (a repeated cut also ends it).
    chunk : int
        Largest number of profiles in one temporary array of a grid pass.
    tie_tol : float
        Relative: |ω·φ̄(θ) - b| <= tie_tol × (|b| + ω·|φ̄(θ)|) puts θ in the tie set (each
        profile against the terms of its own index, :func:`lpmech.tolerances.on_tie`).
        Should the certificate fail, the tie LP is re-run with the set widened 100 and 10^4
        times (freeing near-ties never lowers the tie LP's value) before giving up.
    max_iter : int
        Cap on cutting-plane iterations (the certificate still decides).

    Returns
    -------
    StructuredSolution

    Raises
    ------
    ValueError
        Correlated types, or φ̄ not nondecreasing.
    CertificateError
        V(x) and g(ω) differ by more than CERTIFICATE_RTOL times the magnitude of their terms,
        or x is not monotone.
    lpmech.highs.SolverError
        HiGHS did not solve one of the small LPs.

    Examples
    --------
    >>> import lpmech
    >>> from lpmech.virtual import iron, virtual_costs
    >>> inst = lpmech.Instance("buy", [lpmech.Agent.from_distribution(n, "uniform", {}, 8) for n in "ab"],
    ...                        buyer_value=0.5)
    >>> e = inst.engine()
    >>> phi = [virtual_costs(t, p) for t, p in zip(e.grids, e.probs)]
    >>> sol = solve_structured(e, phi, [iron(f, p) for f, p in zip(phi, e.probs)])
    >>> round(sol.value, 6), sol.certificate_gap < 1e-9, bool(0.4375 <= sol.omega[0] <= 0.5625)
    (0.029297, True, True)
    """
    start = time.perf_counter()
    if problem.probs is None:
        raise ValueError("solve_structured needs independent types (problem.probs)")
    n, b = problem.n, float(problem.b)
    phi = [np.asarray(f, dtype=float) for f in phi]
    phi_bar = [np.asarray(f, dtype=float) for f in phi_bar]
    for i, fb in enumerate(phi_bar):
        if np.any(np.diff(fb) < 0):
            raise ValueError(f"phi_bar of agent {i + 1} is not nondecreasing (iron it first)")
    oracle = _GOracle(phi_bar, problem.probs, b, chunk)
    grid = _Grid(problem.probs, chunk)
    # the cut LP in ω, then (only if that answer fails its certificate and the agents' virtual
    # costs differ in size by 10^3 or more) in weights scaled by them (_CutModel)
    reach = np.array([max(float(np.max(np.abs(f), initial=0.0)), 1e-300) for f in phi_bar])
    columns = [None] + ([float(np.min(reach)) / reach] if np.max(reach) > 1e3 * np.min(reach) else [])
    failure = None
    for scaled in columns:
        best = _minimize_g(oracle, n, tol=tol, max_iter=max_iter, columns=scaled)
        for widen, uncertainty in TIE_WIDENING:
            completion = _complete(grid, problem, phi, phi_bar, best.omega, tie_tol * widen, uncertainty)
            check = _certify(grid, completion.x, best.omega, phi, phi_bar, b)
            if check.passed:
                break
            failure = check
        if check.passed:
            break
    else:
        raise CertificateError(failure.reason, value=failure.value, g_value=failure.g)
    return StructuredSolution(
        x=completion.x.reshape(problem.shape), value=check.value, omega=best.omega, g_value=check.g,
        certificate_gap=check.gap, tie_probability=completion.tie_probability, iterations=best.iterations,
        seconds=time.perf_counter() - start, status="optimal", gains=check.gains,
        lower_bound=best.lower_bound, tie_profiles=completion.tie_profiles, tie_columns=completion.tie_columns,
        monotonicity_violation=check.monotonicity, stopped=best.converged, tie_tolerance=completion.tie_tol,
        weight_uncertainty=uncertainty)


@dataclass
class _Completion:
    x: np.ndarray                 # flat
    tie_probability: float
    tie_profiles: int
    tie_columns: int
    tie_tol: float


def _complete(grid: _Grid, problem: EngineProblem, phi, phi_bar, omega: np.ndarray, tie_tol: float,
              uncertainty: float = 0.0) -> _Completion:
    """x_ω off the tie set (relative tolerance ``tie_tol``, ω's uncertainty), completed on it by the tie LP."""
    fixed = _fixed_part(grid, omega, phi_bar, float(problem.b), tie_tol, uncertainty)
    n_cols = 0
    if fixed.ties.size:
        reps, intervals = _pool_representatives(phi, phi_bar)
        x_ties, n_cols = _tie_lp(problem, phi, fixed, reps, intervals)
        fixed.x[fixed.ties] = x_ties
    return _Completion(x=fixed.x, tie_probability=fixed.tie_probability, tie_profiles=int(fixed.ties.size),
                       tie_columns=n_cols, tie_tol=tie_tol)


@dataclass
class _Check:
    passed: bool
    reason: str
    value: float
    g: float
    gap: float
    gains: np.ndarray
    monotonicity: float


def _certify(grid: _Grid, x: np.ndarray, omega: np.ndarray, phi, phi_bar, b: float) -> _Check:
    """V(x) = g(ω) to :data:`CERTIFICATE_TOL`, X_i monotone, x in [0, 1] (module notes, step 3).

    The gap is held to :func:`lpmech.tolerances.gap_limit`: CERTIFICATE_RTOL × (|V(x)| + |g(ω)|)
    plus rounding (ROUNDING_RTOL) of the terms V(x) and g(ω) are summed from (E[x |b - φ_i|] of
    the agents that attain the minimum, and E[(|b| + ω·|φ̄|) 1{ω·φ̄ < b}]); ``gap`` is reported
    scaled so that CERTIFICATE_RTOL is its limit. Nothing outside the comparison (the grid's
    extreme points) enters.
    """
    audit = _audit(grid, x, omega, phi, phi_bar, b)
    value = float(audit.gains.min())
    size = min_magnitude(audit.gains, audit.gains_size, CERTIFICATE_RTOL)
    bound = gap_limit([value, audit.g], [size, audit.g_size], CERTIFICATE_RTOL)
    gap = abs(value - audit.g) / max(bound, 1e-300) * CERTIFICATE_RTOL
    mono = max(max((float(np.max(np.diff(X), initial=0.0)) for X in audit.interim), default=0.0), 0.0)
    reason = ""
    if not (np.all(np.isfinite(x)) and x.min(initial=0.0) >= 0.0 and x.max(initial=0.0) <= 1.0):
        reason = "x is not in [0, 1]"
    elif not mono <= MONOTONICITY_TOL:
        reason = f"x is not interim monotone (violation {mono:.3g} > {MONOTONICITY_TOL:g})"
    elif not gap <= CERTIFICATE_TOL:
        reason = f"certificate gap {gap:.3g} exceeds {CERTIFICATE_TOL:g}"
    return _Check(passed=not reason, reason=reason, value=value, g=audit.g, gap=gap, gains=audit.gains,
                  monotonicity=mono)
