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
   LP solved again (:class:`~lpmech.structured.cutting.CutModel`). The lower bound Σλ_k ℓ_k for the duals λ is valid
   whatever HiGHS's accuracy.

   Evaluating g. The agents are split into two groups A and B (:func:`~lpmech.structured.oracle.split_agents`), balancing the
   sizes of their sub-grids (about sqrt(K^N) each). Per evaluation the sums s_B = Σ_{j∈B} ω_j φ̄_j
   over B's sub-grid are sorted once; for each θ_A of A's sub-grid the trading set
   {θ_B : s_B < b - s_A(θ_A)} is then a prefix of that order, found by
   :func:`numpy.searchsorted`, and prefix sums of P_B, P_B s_B and P_B φ̄_j (j in B) give g and
   the subgradient. For N = 2 the sort is free (φ̄ is sorted per agent). A pass costs about
   sqrt(K^N) log K^N, not K^N (10^7 profiles: about 10^4 sorted and 10^3 enumerated), with sums
   in extended precision. Grid passes walk blocks over the first axes (:class:`lpmech.profiles.Grid`), none
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

3. **Certify.** A pass over the full grid computes the primal value V(x) = min_i E[x(b - φ_i)]
   with the *raw* φ, independently of how x was found; the dual bound g(ω) is the one
   evaluation of g (step 1's oracle, checked against a dense reference in the tests). For any monotone x and any
   ω in Δ, V(x) <= LP optimum <= g(ω) (weak duality), so V(x) = g(ω) proves both optimal. A gap
   above CERTIFICATE_RTOL (1e-9) times |V(x)| + |g(ω)| (plus rounding, ROUNDING_RTOL times the
   magnitude of the terms both are summed from), an interim monotonicity violation above
   MONOTONICITY_TOL, or x outside [0, 1] raises :class:`CertificateError`; no uncertified answer
   is returned. (Should ω be off the exact minimizer by more than the tie tolerance allows, the
   tie set is widened 100 and 10^4 times, then by an allowance for ω itself being off by 1e-12
   and 1e-9 (a weight of 1e-13 on a virtual cost of 1e13 decides a profile, which the cutting
   planes cannot resolve), before giving up: freeing near-ties can only raise the tie LP's value.)

Everything is in the engine's buy-side form (:meth:`lpmech.Instance.engine`).

Modules
-------
:mod:`~lpmech.structured.oracle`
    g(ω) and its subgradient (the one evaluation of g on a grid).
:mod:`~lpmech.structured.cutting`
    Kelley's cutting planes for min g (step 1).
:mod:`~lpmech.structured.ties`
    x_ω off the ties and the tie LP (step 2).
:mod:`~lpmech.structured.certificate`
    V(x) = g(ω) (step 3).
This module holds :func:`solve_structured`, which runs the three steps, and its result.
The grid walker is :class:`lpmech.profiles.Grid`.

References
----------
J. E. Kelley, "The cutting-plane method for solving convex programs", J. SIAM 8 (1960).
N. Haghpanah, A. Kuvalekar and E. Lipnowski, "Selling to a Group", ACM EC 2021; "Buying from a
Group", 2024.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..errors import CertificateError
from ..instance import EngineProblem
from ..profiles import PASS_CHUNK, Grid
from ..tolerances import TIE_RTOL
from .certificate import CERTIFICATE_TOL, complete_certified
from .cutting import Minimum, minimize_g
from .oracle import DEFAULT_CHUNK, GOracle
from .passes import IndexRule

__all__ = [
    "CERTIFICATE_TOL",
    "TIE_WIDENING",
    "CertificateError",
    "GOracle",
    "IndexRule",
    "Minimum",
    "StructuredSolution",
    "minimize_g",
    "solve_structured",
]

#: Tie sets tried in turn until the certificate holds: (multiple of ``tie_tol``, absolute
#: uncertainty of ω; see :func:`lpmech.tolerances.tie_band`).
TIE_WIDENING = ((1.0, 0.0), (1e2, 0.0), (1e4, 0.0), (1e4, 1e-12), (1e4, 1e-9))


@dataclass
class StructuredSolution:
    """A certified optimum found through the weights ω.

    Attributes
    ----------
    rule : IndexRule
        The allocation: x = 1{ω·φ̄ < b} off the tie set, the tie LP's x on it (no K^N array).
    x : ndarray
        Allocation over the profile grid (N-d, engine order), values in [0, 1]: ``rule`` on the
        whole grid, computed on first access.
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

    rule: IndexRule
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
    #: Σ_θ P(θ) x(θ) grouped by θ_i, per agent (the certificate's pass)
    mass: list | None = None

    @property
    def x(self) -> np.ndarray:
        return self.rule.dense()


# --------------------------------------------------------------------------- entry point
def solve_structured(
    problem: EngineProblem,
    phi: list[np.ndarray],
    phi_bar: list[np.ndarray],
    *,
    tol: float = 1e-12,
    chunk: int = DEFAULT_CHUNK,
    tie_tol: float = TIE_RTOL,
    max_iter: int = 20_000,
) -> StructuredSolution:
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
    oracle = GOracle(phi_bar, problem.probs, b, chunk)
    grid = Grid(problem.probs, min(chunk, PASS_CHUNK))  # blocks that stay in cache
    # the cut LP in ω, then (only if that answer fails its certificate and the agents' virtual
    # costs differ in size by 10^3 or more) in weights scaled by them (CutModel)
    reach = np.array([max(float(np.max(np.abs(f), initial=0.0)), 1e-300) for f in phi_bar])
    columns = [None] + ([float(np.min(reach)) / reach] if np.max(reach) > 1e3 * np.min(reach) else [])
    failure = None
    for scaled in columns:
        best = minimize_g(oracle, n, tol=tol, max_iter=max_iter, columns=scaled)
        for widen, uncertainty in TIE_WIDENING:
            completion, check = complete_certified(
                grid, oracle, problem, phi, phi_bar, best.omega, tie_tol * widen, uncertainty
            )
            if check.passed:
                break
            failure = check
        if check.passed:
            break
    else:
        raise CertificateError(failure.reason, value=failure.value, g_value=failure.g)
    return StructuredSolution(
        rule=completion.rule,
        value=check.value,
        omega=best.omega,
        g_value=check.g,
        certificate_gap=check.gap,
        tie_probability=completion.tie_probability,
        iterations=best.iterations,
        seconds=time.perf_counter() - start,
        status="optimal",
        gains=check.gains,
        lower_bound=best.lower_bound,
        tie_profiles=completion.tie_profiles,
        tie_columns=completion.tie_columns,
        monotonicity_violation=check.monotonicity,
        stopped=best.converged,
        tie_tolerance=completion.tie_tol,
        weight_uncertainty=uncertainty,
        mass=check.mass,
    )
