"""Solving an instance: instance → virtual costs → core solve → weights → mechanism → checks.

:func:`solve` is the library's main entry point; it returns a :class:`SolveResult` holding
the optimal mechanism, the LP's weights beside the canonical ones and their ranges, the
transfers, the best posted price, and the cross-checks of :mod:`lpmech.checks` (which raise
:class:`~lpmech.checks.CheckError` when they fail).

References: Haghpanah, Kuvalekar and Lipnowski, "Selling to a Group" (ACM EC 2021) and
"Buying from a Group" (2024); Myerson, "Optimal Auction Design" (1981) for virtual costs and
ironing.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from .audit import verify
from .checks import CheckError, failures, g_with_magnitude, gains, incentive_ratios, profit_magnitude
from .errors import SolverError
from .instance import DEFAULT_MAX_PROFILES, EngineProblem, Instance, InstanceError
from .maximin import MaximinLP
from .structured import solve_structured
from .posted import best_posted_price
from .profiles import weighted_sum
from .result import SolveResult
from .tolerances import (ALLOCATION_TOL, CHECK_RTOL, MONOTONICITY_TOL, TIE_RTOL, WEIGHT_TOL, gap_limit,
                         min_magnitude, on_tie)
from .transfers import transfers
from .virtual import iron, ironing_intervals, virtual_costs
from .weights import canonical_weights, face_ranges, optimal_face

__all__ = ["solve", "METHODS", "AUTO_LP_LIMIT", "LP_MAX_PROFILES", "AUTO_LP_MAX_SPREAD", "unit_scale"]

#: Core solvers: the maximin LP over the K^N profiles, or the structured solver that minimizes
#: g(ω) by cutting planes and certifies x_ω (lpmech.structured); "auto" picks by size and conditioning.
METHODS = ("auto", "lp", "structured")
#: ``method="auto"`` uses the LP up to this many profiles and the structured solver above.
AUTO_LP_LIMIT = 50_000
#: ``method="auto"`` uses the structured solver when some |b - φ_i(t)| exceeds this many times the
#: instance's unit (:func:`unit_scale`), or an agent's largest type probability this many times
#: its smallest: the LP's rows then mix coefficients so far apart that HiGHS's absolute
#: tolerances cannot hold the small ones (one type far out, or a grid point of tiny probability,
#: whose column cannot be priced and whose neighbour's virtual cost is huge). The structured
#: solver completes x_ω exactly and certifies it (or refuses).
AUTO_LP_MAX_SPREAD = 1e6
#: The LP's columns are the profiles; beyond this many it is refused (use the structured solver).
LP_MAX_PROFILES = 2_000_000


@dataclass
class _Core:
    """What a core solver hands to the shared pipeline (engine order)."""

    x: np.ndarray             # an optimal allocation
    value: float              # its objective value as the solver reports it
    omega: np.ndarray         # an optimal ω (one vertex of the optimal face)
    x_omega: np.ndarray       # x_ω of that ω, completed on its tie set
    status: str
    seconds: float
    iterations: int
    size: dict
    tie_rtol: float           # relative tie tolerance the solver used (tolerances.on_tie)
    tie_uncertainty: float = 0.0   # and its allowance for ω's own error (tolerances.tie_band)


def unit_scale(problem: EngineProblem) -> float:
    """The instance's unit: the power of two in (s0, 2 s0], s0 = max(|b|, min_i median |θ_i|).

    Homogeneous of degree 1 in the instance's numbers and blind to far-out types (a median, not
    a maximum, and the agent whose types are nearest zero: the profiles that trade have every
    type near or below b, so an agent who mostly sits at 1e11 does not set the unit), so
    dividing by it puts every instance in the same units: the same instance in cents or in
    billions is, after the division, the same problem, and HiGHS's absolute tolerances mean the
    same thing for it. A power of two makes the division exact.

    Parameters
    ----------
    problem : EngineProblem

    Returns
    -------
    float
        A power of two, > 0.

    Examples
    --------
    >>> import numpy as np
    >>> from lpmech.instance import EngineProblem
    >>> p = EngineProblem((np.array([0.1, 0.5, 1e9]),), (np.array([0.05, 0.65, 0.3]),), None, 0.48, False)
    >>> unit_scale(p)        # max(b, median type) = 0.5: the far-out 1e9 does not count
    1.0
    """
    def median(t, p):
        order = np.argsort(np.abs(t))
        cdf = np.cumsum(np.asarray(p, dtype=float)[order])
        return float(np.abs(t)[order][min(int(np.searchsorted(cdf, 0.5 * cdf[-1])), t.size - 1)])

    probs = problem.probs if problem.probs is not None else [
        problem.joint.sum(axis=tuple(j for j in range(problem.n) if j != i)) for i in range(problem.n)]
    s0 = max(abs(float(problem.b)), min(median(t, p) for t, p in zip(problem.grids, probs)))
    if not s0 > 0:
        s0 = max(float(np.abs(t) @ p) for t, p in zip(problem.grids, probs))
    if not (s0 > 0 and math.isfinite(s0)):
        return 1.0
    return math.ldexp(1.0, math.frexp(s0)[1])


def _normalized(problem: EngineProblem, s: float) -> EngineProblem:
    return EngineProblem(tuple(g / s for g in problem.grids), problem.probs,
                         problem.joint, float(problem.b) / s, problem.flip)


def _lp_core(problem, phi, phi_bar) -> _Core:
    lp = MaximinLP(problem, phi)
    sol = lp.solve()
    # The closed form x_ω for the LP's ω, completed on its tie set by the LP with x pinned elsewhere.
    w = np.clip(sol.omega, 0.0, None)
    index = weighted_sum(w, phi_bar)
    tie = on_tie(index, problem.b, weighted_sum(w, [np.abs(f) for f in phi_bar]))
    x_omega = (index <= problem.b).astype(float)
    if tie.any():
        x_omega = lp.solve_completion(np.where(tie, np.nan, x_omega),
                                      what="maximin LP completing x_ω on its tie set").x
    return _Core(x=sol.x, value=sol.value, omega=sol.omega, x_omega=x_omega, status=sol.status,
                 seconds=sol.seconds, iterations=sol.iterations,
                 size={"rows": lp.n_rows, "columns": lp.n_cols, "nonzeros": lp.nnz, "dropped_entries": lp.dropped,
                       "strategy": sol.strategy, "sifting_rounds": sol.rounds,
                       "working_columns": sol.working_columns, "dual_infeasibility": sol.dual_infeasibility},
                 tie_rtol=TIE_RTOL)


def _structured_core(problem, phi, phi_bar) -> _Core:
    # the solver widens the relative tie tolerance if its certificate needs (solution.tie_tolerance)
    sol = solve_structured(problem, phi, phi_bar, tie_tol=TIE_RTOL)
    return _Core(x=sol.x, value=sol.value, omega=sol.omega, x_omega=sol.x, status=sol.status,
                 seconds=sol.seconds, iterations=sol.iterations,
                 size={"cutting_planes": sol.iterations, "tie_profiles": int(sol.tie_profiles),
                       "tie_columns": int(sol.tie_columns), "certificate_gap": sol.certificate_gap,
                       "tie_tolerance": sol.tie_tolerance, "weight_uncertainty": sol.weight_uncertainty},
                 tie_rtol=float(sol.tie_tolerance), tie_uncertainty=float(sol.weight_uncertainty))


def _conditioning(problem: EngineProblem, phi) -> tuple[float, str]:
    """How far apart the LP's coefficients are, and what makes them so (for ``method="auto"``).

    Two ratios, each unitless: max_i max_k |b - φ_i(t_k)| over the instance's unit (the problem is
    normalized, so this is max |b - φ|), and each agent's max_k p_i(k) / min_k p_i(k) (a profile
    of probability 1e-12 next to ones of 0.1: HiGHS cannot price its column, whose every entry
    is below its tolerances).
    """
    spread = max(float(np.max(np.abs(problem.b - f))) for f in phi)
    mass = max(float(np.max(p) / np.min(p)) for p in problem.probs)
    if mass > spread:
        return mass, f"an agent's type probabilities span a ratio of {mass:.3g}"
    return spread, f"max |b - φ_i| is {spread:.3g} times the instance's unit"


def _choose(method: str, instance: Instance, conditioning: tuple[float, str]) -> tuple[str, str]:
    """The core solver and why (``why`` is empty unless ``method="auto"``)."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r} (available: {', '.join(METHODS)})")
    if method == "auto":
        if instance.n_profiles > AUTO_LP_LIMIT:
            return "structured", f"auto: {instance.n_profiles:,} profiles > {AUTO_LP_LIMIT:,}"
        ratio, what = conditioning
        if ratio > AUTO_LP_MAX_SPREAD:
            return "structured", f"auto: ill-conditioned for the LP ({what}, above {AUTO_LP_MAX_SPREAD:g})"
        return "lp", f"auto: {instance.n_profiles:,} profiles, well conditioned ({what})"
    if method == "lp" and instance.n_profiles > LP_MAX_PROFILES:
        raise InstanceError(f"{instance.n_profiles:,} profiles are too many for the LP's columns (limit "
                            f"{LP_MAX_PROFILES:,}); use --method structured or auto", field="agents",
                            source=instance.source)
    return method, ""


def solve(instance: Instance, *, max_profiles: int | None = DEFAULT_MAX_PROFILES,
          method: str = "auto") -> SolveResult:
    """Solve for the designer's optimal mechanism and check it.

    Parameters
    ----------
    instance : Instance
        With independent types and the default mechanism options (Bayesian IC, interim
        participation, every agent a veto, profit) the maximin LP solves it; anything else
        (a joint pmf, dominant-strategy IC, ex-post participation, a partial veto, a Pareto
        weight) goes to the general LP (:func:`lpmech.general.solve_general`), whose result
        has the same core fields (value, allocation, transfer, interim, checks).
    max_profiles : int or None
        Refuse grids with more profiles than this (:class:`InstanceError`).
    method : {"auto", "lp", "structured"}
        ``"lp"``: the maximin LP of docs/model.md, section 5, over all K^N profiles; ``"structured"``:
        minimize g(ω) by cutting planes and certify x_ω (:mod:`lpmech.structured`); ``"auto"``
        (default): the LP up to :data:`AUTO_LP_LIMIT` profiles when the instance is well
        conditioned (:data:`AUTO_LP_MAX_SPREAD`), the structured solver otherwise; the reason
        is in ``lp_size["method_reason"]``. Both feed the same checks and return the same fields.

    Returns
    -------
    SolveResult or lpmech.general.GeneralResult
        Values and transfers in the instance's units; the engine works in units of
        :func:`unit_scale` (a power of two), so rescaling every number of an instance rescales
        the value and transfers and leaves ω unchanged.

    Raises
    ------
    InstanceError
        The instance is too large or outside what this solver covers.
    lpmech.highs.SolverError
        HiGHS did not report an optimal solution (its status is in the message).
    lpmech.checks.CheckError
        A cross-check failed (every tolerance is relative to the quantities it compares;
        ``checks["limits"]`` holds the bound of each).

    Examples
    --------
    >>> import lpmech
    >>> inst = lpmech.Instance("buy", [lpmech.Agent.from_distribution(n, "uniform", {}, 8) for n in "ab"],
    ...                        buyer_value=0.5)
    >>> res = lpmech.solve(inst)
    >>> round(res.value, 6), res.omega_canonical.round(6).tolist()
    (0.029297, [0.5, 0.5])
    >>> res.omega_range.round(4).tolist()
    [[0.4375, 0.5625], [0.4375, 0.5625]]
    """
    instance.check_size(max_profiles)
    if not instance.independent or not instance.mechanism.is_default:
        from .general import solve_general

        return solve_general(instance)
    start = time.perf_counter()
    user_problem = instance.engine()
    unit = unit_scale(user_problem)
    problem = _normalized(user_problem, unit)          # the engine works in units of `unit`
    phi = [virtual_costs(t, p) for t, p in zip(problem.grids, problem.probs)]
    phi_bar = [iron(f, p) for f, p in zip(phi, problem.probs)]
    chosen, why = _choose(method, instance, _conditioning(problem, phi))

    sol = _lp_core(problem, phi, phi_bar) if chosen == "lp" else _structured_core(problem, phi, phi_bar)
    if why:
        sol.size["method_reason"] = why
    sol.size["unit"] = unit
    omega_lp = sol.omega
    x = sol.x
    pmf = problem.joint_pmf()                             # built once: 80 MB at 10^7 profiles
    tie_rtol = max(TIE_RTOL, sol.tie_rtol)                # what the core solver treated as a tie
    abs_bar = [np.abs(f) for f in phi_bar]

    tr = transfers(problem, x)
    gains_lp, size_lp = gains(problem, pmf, x, phi)
    intervals = [ironing_intervals(f, fb) for f, fb in zip(phi, phi_bar)]
    face = optimal_face(x, phi_bar, problem.b, gains_lp, tr.X, intervals,
                        value_tol=np.array([gap_limit([g, gains_lp.min()], [z, min_magnitude(gains_lp, size_lp)])
                                            for g, z in zip(gains_lp, size_lp)]),
                        index_rtol=tie_rtol, uncertainty=sol.tie_uncertainty,
                        weight_budget=0.1 * CHECK_RTOL * abs(float(gains_lp.min())))
    reference = np.clip(omega_lp, 0.0, None)
    try:
        omega_range = face_ranges(face, reference)
        omega_can = canonical_weights(face, reference)
        face_error = ""
    except SolverError as err:
        # no ω has x as a best response: x is not optimal (a failed check, reported with the rest)
        face_error = str(err)
        omega_range = np.full((problem.n, 2), np.nan)
        omega_can = reference / reference.sum() if reference.sum() > 0 else np.full(problem.n, 1.0 / problem.n)

    allocation = instance.to_user(x)
    transfer = instance.to_user(tr.m * unit, negate=True)
    audit = verify(instance, allocation, transfer)
    # m = Σ_i M_i(θ_i) − (N − 1)T: the magnitude of its terms, for the IC/IR comparisons
    incentives = incentive_ratios(instance, allocation, transfer, instance.to_user(tr.m_size() * unit))
    posted = best_posted_price(instance)
    posted_audit = verify(instance, posted.allocation, posted.transfer)
    posted_incentives = incentive_ratios(instance, posted.allocation, posted.transfer)

    index = weighted_sum(reference, phi_bar)
    total_abs = weighted_sum(np.ones(problem.n), abs_bar) if sol.tie_uncertainty else 0.0
    tie = on_tie(index, problem.b, weighted_sum(reference, abs_bar), tie_rtol, sol.tie_uncertainty, total_abs)
    gains_omega, size_omega = gains(problem, pmf, sol.x_omega, phi)
    index_can = weighted_sum(omega_can, phi_bar)
    # the canonical ω solves a QP over the face, whose rows allow the tie tolerance: look for its
    # ties in a band 10 times wider
    tie_can = on_tie(index_can, problem.b, weighted_sum(omega_can, abs_bar), 10 * tie_rtol,
                     10 * sol.tie_uncertainty, total_abs)
    x_can = (index_can <= problem.b).astype(float)
    seconds = time.perf_counter() - start

    # Value: each computation against the solver's, held to CHECK_RTOL times the two values plus
    # ROUNDING_RTOL times the magnitudes of the terms of both (tolerances.gap_limit; engine units).
    size_x = min_magnitude(gains_lp, size_lp)
    g_lp, size_g = g_with_magnitude(reference, phi_bar, pmf, problem.b)
    g_can, size_g_can = g_with_magnitude(omega_can, phi_bar, pmf, problem.b)
    computed = {
        "V(x)": (float(gains_lp.min()), size_x),
        "audit": (audit.profit / unit, profit_magnitude(instance, allocation, transfer) / unit),
        "g(omega)": (g_lp, size_g),
        "g(omega_canonical)": (g_can, size_g_can),
        "V(x_omega)": (float(gains_omega.min()), min_magnitude(gains_omega, size_omega)),
    }
    values = {"solver": sol.value * unit}
    values.update({k: v * unit for k, (v, _) in computed.items()})
    gaps = {k: abs(v - sol.value) for k, (v, _) in computed.items()}
    value_limits = {k: gap_limit([v, sol.value], [size, size_x]) for k, (v, size) in computed.items()}
    support = omega_lp > WEIGHT_TOL
    support_gap = float(np.max(gains_lp[support]) - gains_lp.min()) if support.any() else 0.0
    # each supported agent's gain against the minimum
    low = float(gains_lp.min())
    support_ratio = max((float(gains_lp[i] - low) / max(gap_limit([gains_lp[i], low], [size_lp[i], size_x]), 1e-300)
                         for i in np.flatnonzero(support)), default=0.0)
    value_user = sol.value * unit
    posted_excess = max(posted.value - value_user, 0.0)
    posted_limit = gap_limit([posted.value, value_user],
                             [profit_magnitude(instance, posted.allocation, posted.transfer), size_x * unit])
    mono = max((float(np.max(np.diff(X), initial=0.0)) for X in tr.X), default=0.0)
    in_range = 0.0 if face_error else max(
        float(np.max(np.maximum(omega_range[:, 0] - w, w - omega_range[:, 1]))) for w in (omega_lp, omega_can))
    checks = {
        "max_ic_violation": audit.max_ic_violation,
        "max_ir_violation": audit.max_ir_violation,
        "ic_violation_relative": incentives.ic,
        "ir_violation_relative": incentives.ir,
        "analytic_gap": max(gaps.values()) * unit,
        "analytic_gap_ratio": max(gaps[k] / max(value_limits[k], 1e-300) for k in gaps),
        "values": values,
        "value_limits": {k: v * unit for k, v in value_limits.items()},
        "offtie_mismatch": float(np.max(np.abs(x - (index <= problem.b)) * ~tie, initial=0.0)),
        "offtie_mismatch_canonical": float(np.max(np.abs(x - x_can) * ~tie_can, initial=0.0)),
        "support_gap": support_gap * unit,
        "support_gap_ratio": support_ratio,
        "omega_sum_error": float(abs(omega_lp.sum() - 1.0)),
        "omega_below_zero": float(max(-omega_lp.min(), 0.0)),
        "omega_min": float(omega_lp.min()),
        "omega_outside_range": max(in_range, 0.0),
        "monotonicity_violation": max(mono, 0.0),
        "allocation_bounds_violation": audit.max_bound_violation,
        "posted_ic_violation": posted_audit.max_ic_violation,
        "posted_ir_violation": posted_audit.max_ir_violation,
        "posted_ic_violation_relative": posted_incentives.ic,
        "posted_ir_violation_relative": posted_incentives.ir,
        "posted_excess": posted_excess,
        "posted_excess_ratio": posted_excess / max(posted_limit, 1e-300),
        "tie_probability": float(np.sum(pmf * tie)),
        "tie_tolerance": tie_rtol,
        "tolerance": CHECK_RTOL,
    }
    limits = {
        "ic_violation_relative": CHECK_RTOL, "ir_violation_relative": CHECK_RTOL,
        "analytic_gap_ratio": 1.0,
        "offtie_mismatch": ALLOCATION_TOL, "offtie_mismatch_canonical": ALLOCATION_TOL,
        "support_gap_ratio": 1.0, "omega_sum_error": WEIGHT_TOL, "omega_below_zero": WEIGHT_TOL,
        "omega_outside_range": WEIGHT_TOL, "monotonicity_violation": MONOTONICITY_TOL,
        "allocation_bounds_violation": ALLOCATION_TOL,
        "posted_ic_violation_relative": CHECK_RTOL, "posted_ir_violation_relative": CHECK_RTOL,
        "posted_excess_ratio": 1.0,
    }
    checks["limits"] = limits
    failed = failures(checks, limits)
    if face_error:
        checks["optimal_face"] = f"empty: {face_error}"
        failed.append("optimal_face")
    checks["passed"] = not failed
    if failed:
        raise CheckError(failed, checks, limits)

    omega_lp = np.clip(omega_lp, 0.0, None)
    omega_lp = omega_lp / omega_lp.sum()
    flip = instance.side == "sell"
    user_phi = [instance.to_user(f * unit, axes="agent", negate=True) for f in phi]
    user_phi_bar = [instance.to_user(f * unit, axes="agent", negate=True) for f in phi_bar]
    interim = []
    for i, a in enumerate(instance.agents):
        share = float(instance.shares[i])
        M = instance.to_user(tr.M[i] * unit, axes="agent", negate=True)
        U = instance.to_user(tr.U[i] * unit, axes="agent")
        interim.append({
            "agent": a.name, "share": share, "grid": instance.grids[i].tolist(),
            "trade_probability": instance.to_user(tr.X[i], axes="agent").tolist(),
            "expected_transfer": M.tolist(), "expected_payout": (share * M).tolist(),
            "utility": (share * U).tolist(),
            "virtual": user_phi[i].tolist(), "virtual_ironed": user_phi_bar[i].tolist(),
            "ironing_intervals": [[float(instance.grids[i][lo]), float(instance.grids[i][hi])]
                                  for lo, hi in _user_intervals(intervals[i], instance.grids[i].size, flip)],
        })
    ratio = value_user / posted.value if posted.value > 0 else None
    return SolveResult(
        instance=instance, status="optimal", highs_status=sol.status, value=value_user,
        omega=omega_lp, omega_canonical=omega_can, omega_range=omega_range,
        allocation=allocation, transfer=transfer, interim=interim, posted=posted, ratio=ratio,
        checks=checks, solve_seconds=sol.seconds, total_seconds=seconds, iterations=sol.iterations,
        lp_size=sol.size, binding_agent=instance.names[tr.binding_agent], formulation="maximin",
        method=chosen,
        phi_bar=user_phi_bar,
    )


def _user_intervals(intervals, k, flip):
    if not flip:
        return intervals
    return sorted((k - 1 - hi, k - 1 - lo) for lo, hi in intervals)
