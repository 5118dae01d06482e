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

import time
from dataclasses import dataclass

import numpy as np

from .audit import verify
from .checks import CheckError, Tolerances
from .instance import DEFAULT_MAX_PROFILES, Instance, InstanceError
from .maximin import MaximinLP
from .structured import solve_structured
from .posted import best_posted_price
from .profiles import along, weighted_sum
from .result import SolveResult
from .transfers import transfers
from .virtual import iron, ironing_intervals, virtual_costs
from .weights import canonical_weights, face_ranges, g_value, optimal_face

__all__ = ["solve", "METHODS", "AUTO_LP_LIMIT", "LP_MAX_PROFILES"]

#: Core solvers: the maximin LP over the K^N profiles, or the structured solver that minimizes
#: g(ω) by cutting planes and certifies x_ω (lpmech.structured); "auto" picks by size.
METHODS = ("auto", "lp", "structured")
#: ``method="auto"`` uses the LP up to this many profiles and the structured solver above.
AUTO_LP_LIMIT = 50_000
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
    tie_tol: float            # absolute |ω·φ̄ - b| under which the solver treated profiles as tied


def _lp_core(problem, phi, phi_bar, tie_tol: float) -> _Core:
    lp = MaximinLP(problem, phi)
    sol = lp.solve()
    # The closed form x_ω for the LP's ω, completed on its tie set by the LP with x pinned elsewhere.
    index = weighted_sum(sol.omega, phi_bar)
    tie = np.abs(index - problem.b) <= tie_tol
    x_omega = (index <= problem.b).astype(float)
    if tie.any():
        x_omega = lp.solve_completion(np.where(tie, np.nan, x_omega),
                                      what="maximin LP completing x_ω on its tie set").x
    return _Core(x=sol.x, value=sol.value, omega=sol.omega, x_omega=x_omega, status=sol.status,
                 seconds=sol.seconds, iterations=sol.iterations,
                 size={"rows": lp.n_rows, "columns": lp.n_cols, "nonzeros": lp.nnz, "dropped_entries": lp.dropped,
                       "strategy": sol.strategy, "sifting_rounds": sol.rounds,
                       "working_columns": sol.working_columns, "dual_infeasibility": sol.dual_infeasibility},
                 tie_tol=tie_tol)


def _structured_core(problem, phi, phi_bar, tie_tol: float) -> _Core:
    # tie_tol is relative here; the solver widens it if its certificate needs (solution.tie_tolerance)
    sol = solve_structured(problem, phi, phi_bar, tie_tol=tie_tol)
    return _Core(x=sol.x, value=sol.value, omega=sol.omega, x_omega=sol.x, status=sol.status,
                 seconds=sol.seconds, iterations=sol.iterations,
                 size={"cutting_planes": sol.iterations, "tie_profiles": int(sol.tie_profiles),
                       "tie_columns": int(sol.tie_columns), "certificate_gap": sol.certificate_gap,
                       "tie_tolerance": sol.tie_tolerance},
                 tie_tol=float(sol.tie_tolerance))


def _choose(method: str, instance: Instance) -> str:
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r} (available: {', '.join(METHODS)})")
    if method == "auto":
        return "lp" if instance.n_profiles <= AUTO_LP_LIMIT else "structured"
    if method == "lp" and instance.n_profiles > LP_MAX_PROFILES:
        raise InstanceError(f"{instance.n_profiles:,} profiles are too many for the LP's columns (limit "
                            f"{LP_MAX_PROFILES:,}); use --method structured or auto", field="agents",
                            source=instance.source)
    return method


def _values_per_agent(problem, pmf, x, phi) -> np.ndarray:
    """E[x(θ)(b - φ_i(θ_i))] for each agent (the maximin rows); ``pmf`` over profiles."""
    mass = pmf * x
    return np.array([float(np.sum(mass * (problem.b - along(f, i, problem.n)))) for i, f in enumerate(phi)])


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
        ``"lp"``: the maximin LP of theory.md section 5 over all K^N profiles; ``"structured"``:
        minimize g(ω) by cutting planes and certify x_ω (:mod:`lpmech.structured`); ``"auto"``
        (default): the LP up to :data:`AUTO_LP_LIMIT` profiles, the structured solver above.
        Both feed the same checks and return the same fields.

    Returns
    -------
    SolveResult or lpmech.general.GeneralResult

    Raises
    ------
    InstanceError
        The instance is too large or outside what this solver covers.
    lpmech.highs.SolverError
        HiGHS did not report an optimal solution (its status is in the message).
    lpmech.checks.CheckError
        A cross-check failed.

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
    chosen = _choose(method, instance)
    start = time.perf_counter()
    problem = instance.engine()
    phi = [virtual_costs(t, p) for t, p in zip(problem.grids, problem.probs)]
    phi_bar = [iron(f, p) for f, p in zip(phi, problem.probs)]
    scale = max(abs(problem.b), max(float(np.max(np.abs(t))) for t in problem.grids)) or 1.0
    # the scale of ω·φ̄ - b (the structured solver uses the same for its tie set)
    phi_scale = max(abs(problem.b), max(float(np.max(np.abs(f))) for f in phi + phi_bar)) or 1.0
    tol = Tolerances(scale=scale)

    sol = _lp_core(problem, phi, phi_bar, tol.tie * phi_scale) if chosen == "lp" else \
        _structured_core(problem, phi, phi_bar, tol.tie)
    omega_lp = sol.omega
    x = sol.x
    pmf = problem.joint_pmf()                             # built once: 80 MB at 10^7 profiles
    tie_tol = max(tol.tie * phi_scale, sol.tie_tol)       # what the core solver treated as a tie

    tr = transfers(problem, x)
    gains_lp = _values_per_agent(problem, pmf, x, phi)
    intervals = [ironing_intervals(f, fb) for f, fb in zip(phi, phi_bar)]
    face = optimal_face(x, phi_bar, problem.b, gains_lp, tr.X, intervals,
                        value_tol=tol.value, index_tol=tie_tol)
    reference = np.clip(omega_lp, 0.0, None)
    omega_range = face_ranges(face, reference)
    g_lp = g_value(reference, phi_bar, problem.probs, problem.b, pmf=pmf)
    omega_can = canonical_weights(face, reference)

    allocation = instance.to_user(x)
    transfer = instance.to_user(tr.m, negate=True)
    audit = verify(instance, allocation, transfer)
    posted = best_posted_price(instance)
    posted_audit = verify(instance, posted.allocation, posted.transfer)

    index = weighted_sum(omega_lp, phi_bar)
    tie = np.abs(index - problem.b) <= tie_tol
    gains_omega = _values_per_agent(problem, pmf, sol.x_omega, phi)
    index_can = weighted_sum(omega_can, phi_bar)
    # the canonical ω solves a QP over the face, whose rows allow the tie tolerance: look for its
    # ties in a band 10 times wider
    tie_can = np.abs(index_can - problem.b) <= 10 * tie_tol
    x_can = (index_can <= problem.b).astype(float)
    seconds = time.perf_counter() - start

    values = {"solver": sol.value, "V(x)": float(gains_lp.min()), "audit": audit.profit,
              "g(omega)": g_lp,
              "g(omega_canonical)": g_value(omega_can, phi_bar, problem.probs, problem.b, pmf=pmf),
              "V(x_omega)": float(gains_omega.min())}
    analytic_gap = max(abs(v - sol.value) for v in values.values())
    support = omega_lp > 1e-9
    support_gap = float(np.max(gains_lp[support]) - gains_lp.min()) if support.any() else 0.0
    mono = max((float(np.max(np.diff(X), initial=0.0)) for X in tr.X), default=0.0)
    in_range = max(float(np.max(np.maximum(omega_range[:, 0] - w, w - omega_range[:, 1])))
                   for w in (omega_lp, omega_can))
    checks = {
        "max_ic_violation": audit.max_ic_violation,
        "max_ir_violation": audit.max_ir_violation,
        "analytic_gap": analytic_gap,
        "values": values,
        "offtie_mismatch": float(np.max(np.abs(x - (index <= problem.b)) * ~tie, initial=0.0)),
        "offtie_mismatch_canonical": float(np.max(np.abs(x - x_can) * ~tie_can, initial=0.0)),
        "support_gap": support_gap,
        "omega_sum_error": float(abs(omega_lp.sum() - 1.0)),
        "omega_min": float(omega_lp.min()),
        "omega_outside_range": max(in_range, 0.0),
        "monotonicity_violation": max(mono, 0.0),
        "allocation_bounds_violation": audit.max_bound_violation,
        "posted_ic_violation": posted_audit.max_ic_violation,
        "posted_ir_violation": posted_audit.max_ir_violation,
        "posted_excess": max(posted.value - sol.value, 0.0),
        "tie_probability": float(np.sum(pmf * tie)),
        "tie_tolerance": tie_tol,
        "tolerance": tol.value,
    }
    limits = {
        "max_ic_violation": tol.value, "max_ir_violation": tol.value, "analytic_gap": tol.value,
        "offtie_mismatch": tol.allocation, "offtie_mismatch_canonical": tol.allocation,
        "support_gap": tol.value, "omega_sum_error": 1e-7, "omega_outside_range": 1e-6,
        "monotonicity_violation": 1e-7, "allocation_bounds_violation": 1e-9,
        "posted_ic_violation": tol.value, "posted_ir_violation": tol.value, "posted_excess": tol.value,
    }
    failed = [k for k, lim in limits.items() if not checks[k] <= lim]
    if checks["omega_min"] < -1e-7:
        failed.append("omega_min")
    checks["passed"] = not failed
    if failed:
        raise CheckError(failed, checks)

    omega_lp = np.clip(omega_lp, 0.0, None)
    omega_lp = omega_lp / omega_lp.sum()
    flip = instance.side == "sell"
    user_phi = [instance.to_user(f, axes="agent", negate=True) for f in phi]
    user_phi_bar = [instance.to_user(f, axes="agent", negate=True) for f in phi_bar]
    interim = []
    for i, a in enumerate(instance.agents):
        share = float(instance.shares[i])
        M = instance.to_user(tr.M[i], axes="agent", negate=True)
        U = instance.to_user(tr.U[i], axes="agent")
        interim.append({
            "agent": a.name, "share": share, "grid": instance.grids[i].tolist(),
            "trade_probability": instance.to_user(tr.X[i], axes="agent").tolist(),
            "expected_transfer": M.tolist(), "expected_payout": (share * M).tolist(),
            "utility": (share * U).tolist(),
            "virtual": user_phi[i].tolist(), "virtual_ironed": user_phi_bar[i].tolist(),
            "ironing_intervals": [[float(instance.grids[i][lo]), float(instance.grids[i][hi])]
                                  for lo, hi in _user_intervals(intervals[i], instance.grids[i].size, flip)],
        })
    ratio = sol.value / posted.value if posted.value > 0 else None
    return SolveResult(
        instance=instance, status="optimal", highs_status=sol.status, value=sol.value,
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
