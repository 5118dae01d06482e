"""Kelley's cutting-plane method for min g over the simplex, on a small LP in (ω, t) solved by HiGHS.

:func:`minimize_g` drives the cuts of :class:`lpmech.structured.oracle.GOracle` into
:class:`CutModel`; the LP's vertex is recomputed exactly from HiGHS's basis
(:func:`exact_vertex`) and its lower bound comes from the duals (:func:`dual_bound`). See
:mod:`lpmech.structured`, step 1.

References
----------
J. E. Kelley, "The cutting-plane method for solving convex programs", J. SIAM 8 (1960) 703-712.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..errors import SolverError
from ..highs import INF, make_highs, run
from .oracle import Cut, GOracle

__all__ = ["CutModel", "Minimum", "dual_bound", "exact_vertex", "minimize_g"]


@dataclass
class Minimum:
    omega: np.ndarray
    g: float
    lower_bound: float
    iterations: int
    converged: str


def exact_vertex(
    h, rows: np.ndarray, lower: np.ndarray, n: int, fallback: np.ndarray, upper: np.ndarray | None = None
) -> np.ndarray:
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
    for _ in range(2):  # iterative refinement with extended-precision residuals
        resid = y_ext - M_ext @ v.astype(np.longdouble)
        v = v + np.linalg.solve(M, resid.astype(float))
    if np.any(np.abs(v - fallback) > 1e-6 * (np.abs(fallback) + np.max(np.abs(fallback)) + 1e-300)):
        return fallback
    return v


def dual_bound(row_dual: np.ndarray, rows: np.ndarray, lower: np.ndarray, n: int) -> float:
    """A lower bound on min g from the LP's row duals: any λ in the simplex over the cuts gives one.

    min_{ω∈Δ} g(ω) >= min_{ω∈Δ} Σ_k λ_k ℓ_k(ω) = λ·intercepts + min_i (Σ_k λ_k slope_k)_i, whatever
    λ >= 0 with Σλ = 1; HiGHS's duals (clipped and normalized) make it tight. Valid even when
    HiGHS's point is only feasible to its tolerance.
    """
    bound = -np.inf
    for sign in (1.0, -1.0):  # either sign convention for duals of >= rows gives a valid λ
        lam = np.clip(sign * np.asarray(row_dual[1:], dtype=float), 0.0, None)
        if lam.sum() > 0:
            lam = lam / lam.sum()
            bound = max(bound, float(lam @ lower[1:] + np.min(-(lam @ rows[1:, :n]))))
    return bound


class CutModel:
    """Kelley's LP: min t s.t. Σω = 1, 0 <= ω <= 1, t >= intercept_k + slope_k·ω for every cut k.

    ``rows``/``lower`` keep the rows as taken (row 0 is Σω = 1; a cut row is (-slope_k, 1) with
    lower bound intercept_k); HiGHS holds row k multiplied by ``scales[k]``, and its columns are
    ν_i = ω_i / ``columns[i]`` (default 1). An agent whose ironed virtual costs reach 1e12 times
    the others' (a type far out, or next to a type of probability 1e-12) can have an optimal
    weight near 1e-12, which HiGHS's absolute tolerances cannot tell from 0; with columns
    min_j M_j / M_i (M_i = max |φ̄_i|) every ω_i M_i is resolved alike. :func:`lpmech.structured.solve_structured`
    tries this when the plain model's answer fails its certificate.

    Numerics. HiGHS accepts a point that violates a row by up to its tolerance (1e-9), far
    coarser than the ties of ω·φ̄ = b need. So (i) a new cut is scaled (by up to 1e6) so that it
    cuts off the current vertex by about 1e-6; (ii) the vertex is recomputed from HiGHS's basis
    (:func:`exact_vertex`) and checked against every cut: a cut it violates by more than rounding is
    scaled up and the model solved again; (iii) the lower bound comes from the duals
    (:func:`dual_bound`), which is valid whatever HiGHS's tolerances.
    """

    MAX_SCALE = 1e12

    def __init__(self, n: int, cuts: Sequence[Cut], columns: np.ndarray | None = None):
        self.n = n
        self.rows = np.array([np.append(np.ones(n), 0.0)] + [np.append(-c.slope, 1.0) for c in cuts])
        self.lower = np.array([1.0] + [c.intercept for c in cuts])
        self.scales = np.ones(len(self.lower))
        self.columns = np.ones(n) if columns is None else np.asarray(columns, dtype=float)
        self._colmul = np.append(self.columns, 1.0)  # HiGHS's matrix = rows × _colmul
        self._idx = np.arange(n + 1, dtype=np.int32)
        self._build()

    def _build(self) -> None:
        n = self.n
        self.h = make_highs(
            np.append(np.zeros(n), 1.0),
            sp.csr_matrix(self.rows * self.scales[:, None] * self._colmul[None, :]),
            self.lower * self.scales,
            np.append(1.0, np.full(len(self.lower) - 1, INF)),
            np.append(np.zeros(n), -INF),
            np.append(1.0 / self.columns, INF),
        )
        self.h.setOptionValue("threads", 1)  # a small LP run many times: one thread halves HiGHS's start-up

    def add(self, cut: Cut, factor: float) -> None:
        row = np.append(-cut.slope, 1.0)
        self.rows = np.vstack([self.rows, row])
        self.lower = np.append(self.lower, cut.intercept)
        self.scales = np.append(self.scales, factor)
        self.h.addRow(cut.intercept * factor, INF, self.n + 1, self._idx, row * factor * self._colmul)

    def contains(self, cut: Cut, omega: np.ndarray) -> bool:
        """Whether the same cut (to rounding) is in the model: each slope entry equal to rounding
        of itself, the intercept to rounding of the cut's terms at ``omega`` (:meth:`Cut.size`).
        (Not relative to the cut's largest entry: one agent's slope of 1e9 must not make another's
        0.25 and 0.3 "equal".)"""
        row = np.append(-cut.slope, 1.0)
        same = np.all(np.abs(self.rows[1:] - row) <= 1e-15 * (np.abs(row) + np.abs(self.rows[1:])), axis=1) & (
            np.abs(self.lower[1:] - cut.intercept) <= 1e-15 * (abs(cut.intercept) + cut.size(omega))
        )
        return bool(np.any(same))

    def _run(self):
        def rebuilt():
            # HiGHS can stall on a warm start whose only violated row is a tiny cut; the same
            # model built afresh usually solves.
            self._build()
            return self.h, "cutting-plane LP for min g (rebuilt)"

        return run(self.h, "cutting-plane LP for min g", retry=rebuilt)

    def solve(self, rounds: int = 6):
        """(ω, t, lower bound) at an exact optimal vertex; raises SolverError if HiGHS fails twice."""
        n = self.n
        for _ in range(rounds):
            sol = self._run()
            v = exact_vertex(
                self.h,
                self.rows * self.scales[:, None] * self._colmul[None, :],
                self.lower * self.scales,
                n,
                sol.x,
                upper=1.0 / self.columns,
            )
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
        bound = dual_bound(sol.row_dual * self.scales, self.rows, self.lower, n)
        return omega, t, bound


def minimize_g(oracle: GOracle, n: int, *, tol: float, max_iter: int, columns: np.ndarray | None = None) -> Minimum:
    """Kelley's cutting planes for min g over the simplex (:class:`CutModel` on HiGHS).

    Starts from cuts at the vertices and the centre of the simplex; stops when the dual lower
    bound meets the best g found (``tol`` relative to the magnitude of the best cut's terms,
    |b| P(S) + Σ ω_i |E[φ̄_i 1_S]|), when a cut repeats, or when HiGHS fails.

    Parameters
    ----------
    oracle : GOracle
        Evaluates g(ω) and a cut at ω (engine money units).
    n : int
        The number of agents N.
    tol : float
        Relative stopping tolerance (unitless).
    max_iter : int
        The most cutting-plane iterations.
    columns : ndarray, optional
        Which ω_i the master LP may move (default: all).

    Returns
    -------
    Minimum
        The best ω found (shape (N,)), its g, the lower bound, the iterations and why it stopped.

    References
    ----------
    J. E. Kelley, "The cutting-plane method for solving convex programs", Journal of the SIAM
    8(4), 703–712 (1960).
    """
    if n == 1:
        omega = np.ones(1)
        value = oracle(omega).g
        return Minimum(omega, value, value, 0, "one agent")
    starts = [np.eye(n)[i] for i in range(n)] + [np.full(n, 1.0 / n)]
    cuts = [oracle(w) for w in starts]
    best = min(range(len(cuts)), key=lambda k: cuts[k].g)
    best_omega, best_g, best_size = starts[best], cuts[best].g, cuts[best].size(starts[best])
    model = CutModel(n, cuts, columns)
    lower_bound = -np.inf
    rebuilt = False

    def met() -> bool:
        return best_g - lower_bound <= tol * max(abs(best_g), best_size)

    for it in range(1, max_iter + 1):
        try:
            omega, t, bound = model.solve()
        except SolverError:
            return Minimum(best_omega, best_g, lower_bound, it, "LP stalled")
        lower_bound = max(lower_bound, bound)
        if met():
            return Minimum(best_omega, best_g, lower_bound, it, "bounds met")
        cut = oracle(omega)
        if cut.g < best_g:
            best_omega, best_g, best_size = omega, cut.g, cut.size(omega)
        if met():
            return Minimum(best_omega, best_g, lower_bound, it, "bounds met")
        if model.contains(cut, omega):
            if not rebuilt:
                # HiGHS warm-started from the last basis can accept a vertex whose reduced cost
                # hides below its tolerance behind a huge coefficient (a type far out); the same
                # model built afresh is solved again before the repeated cut ends the search
                model._build()
                rebuilt = True
                continue
            return Minimum(best_omega, best_g, lower_bound, it, "cut repeated")
        rebuilt = False
        model.add(cut, float(np.clip(1e-6 / max(cut.g - t, 1e-300), 1.0, 1e6)))
    return Minimum(best_omega, best_g, lower_bound, max_iter, "iteration limit")
