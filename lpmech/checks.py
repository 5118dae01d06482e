"""Cross-checks run on every solve: the LP's answer is never trusted alone.

For the maximin solution (x, z, ω) of an independent-types instance (docs/model.md, section 5):

* value: the LP value z, V(x) = min_i E[x(b - φ_i)] of the LP's x, the audited profit of
  (x, m), g(ω) for the LP's ω and for the canonical ω, and V of the closed form x_ω
  (completed on its tie set) must all agree: g is an upper bound on every monotone x
  (weak duality) and x_ω a feasible, audited mechanism, so equality certifies optimality;
* allocation: x equals x_ω = 1{ω·φ̄ <= b} wherever ω·φ̄(θ) != b, for the LP's and the
  canonical ω (any optimal x is a best response to every optimal ω);
* support: every agent with ω_i > 0 has the same, minimal, E[x(b - φ_i)] (the talks'
  condition supp ω ⊆ argmax_i E[φ_i | ω·φ <= b]);
* the weights are a probability vector, the LP's and the canonical ω lie in the reported
  ranges, X_i is monotone;
* the audit of (x, m) by brute force: no IC or IR violation; the posted-price mechanism is
  audited as well and its value may not exceed the optimum. For independent types the
  audit's expectations are the interim sums E[x | θ_i], E[m | θ_i] (exactly, by the product
  structure): one chunked pass over the grid reads x block by block
  (:func:`lpmech.structured.passes.mechanism_pass`), m's are sums of the interim transfers M_i,
  and a mechanism held in compact form is audited without forming a K^N array.

Every comparison is held to a tolerance relative to the magnitudes of the terms it is computed
from (:mod:`lpmech.tolerances`): a value gap against E|x(b - φ_i)| of the allocations compared
(or E|b·x| + E|m| for an audited profit, E[(|b| + ω·|φ̄|) 1{ω·φ̄ < b}] for g), an incentive or
participation violation against the payoffs it compares. So a far-out type (a seller who will
not sell below 1e9) widens no tolerance but its own, and the checks mean the same in any units.
A gap beyond tolerance raises :class:`CheckError`; it is never a warning.
"""

from __future__ import annotations

__all__ = [
    "CheckError",
    "Incentives",
    "incentive_ratios",
    "incentive_ratios_interim",
    "profit_magnitude",
    "gains",
    "failures",
    "CHECKS",
    "readme_list",
    "report",
    "enforce",
    "maximin_checks",
    "general_checks",
    "algorithms_agree",
    "spread_within_limit",
    "continuous_checks",
]

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .audit import Interim, audit_interim, row_blocks, verify
from .errors import CheckError
from .profiles import along, interim
from .structured.oracle import DEFAULT_CHUNK, GOracle
from .tolerances import (
    ALLOCATION_TOL,
    CHECK_RTOL,
    CONTINUUM_RTOL,
    MONOTONICITY_TOL,
    PROB_TOL,
    TINY,
    WEIGHT_TOL,
    gap_limit,
    magnitude,
    min_magnitude,
)

#: Every cross-check lpmech runs, by the name it has in ``result.checks["report"]``, with what it
#: compares. The README's list of checks is tested against this registry (tests/test_result.py).
CHECKS: dict[str, str] = {
    # maximin path (independent types, the default mechanism: methods lp and structured)
    "ic_violation_relative": "brute-force Bayesian IC audit of (x, m), relative to the payoffs compared",
    "ir_violation_relative": "brute-force interim IR audit of (x, m), relative to the payoffs compared",
    "analytic_gap_ratio": "solver value = V(x) = V(x_ω) = g(ω) = g(ω canonical) = audited profit",
    "offtie_mismatch": "x = x_ω off the tie set (solver's ω)",
    "offtie_mismatch_canonical": "x = x_ω off the tie set (canonical ω)",
    "support_gap_ratio": "every agent with ω_i > 0 has the minimal E[x(b − φ_i)]",
    "omega_sum_error": "Σ ω = 1",
    "omega_below_zero": "ω >= 0",
    "omega_outside_range": "solver's and canonical ω inside the reported ranges",
    "monotonicity_violation": "interim trade probabilities X_i monotone",
    "allocation_bounds_violation": "x in [0, 1]",
    "posted_ic_violation_relative": "posted-price mechanism: IC audit",
    "posted_ir_violation_relative": "posted-price mechanism: IR audit",
    "posted_excess_ratio": "posted-price value <= optimal value",
    "optimal_face": "some ω has x as a best response (the optimal face is not empty)",
    # general LP (correlated types or mechanism options)
    "ic_relative": "general LP: IC audit (Bayesian or dominant) of (x, m), relative to the payoffs compared",
    "ir_relative": "general LP: IR audit (interim or ex-post) of (x, m) for the vetoes",
    "max_bound_violation": "general LP: x in [0, 1]",
    "analytic_gap": "general LP: HiGHS's value = audited objective of (x, m)",
    "profit_bound_excess": "general LP: profit <= the first best of the veto set",
    "algorithms_disagree": "general LP, ill-conditioned instance: simplex and interior point agree",
    "spread": "general LP: types within MAX_SPREAD money units",
    # continuum (agents given by laws: lpmech.continuous)
    "continuous_value_error": "continuum: estimated error of g(ω*) (two resolutions, tail, suboptimality, "
    "clamping) <= CONTINUUM_RTOL × value",
    "continuous_posted_excess": "continuum: best posted price's value <= optimal value + its estimated error",
    "continuous_vertex_excess": "continuum: optimal value <= g(e_i) for every agent i (one-agent closed form, "
    "weak duality) + its estimated error",
    "continuous_weights": "continuum: ω on the simplex (Σ ω = 1, ω >= 0)",
    # exact certificate (certify="exact")
    "exact_certificate": "exact arithmetic: V(x) = g(ω) (maximin) or primal = dual (general LP)",
}


@dataclass
class Incentives:
    """Worst IC and IR violations of a mechanism, each divided by the payoffs it compares.

    ``ic`` = max over agents i, true types t, reports s of [U_i(s | t) − U_i(t | t)]_+ divided by
    the magnitude of the two payoffs' terms, σ_i(E[|m| | s] + |t| E[x | s] + E[|m| | t] + |t| E[x | t]);
    ``ir`` = max over i, t of [−U_i(t | t)]_+ / σ_i(E[|m| | t] + |t| E[x | t]) (|m| stands for the
    magnitude of the terms of m when it is given).
    """

    ic: float
    ir: float


def incentive_ratios(instance, x, m, m_size=None) -> Incentives:
    """Bayesian IC and interim IR violations relative to the payoffs compared, pair by pair.

    Parameters
    ----------
    instance : Instance
    x, m : ndarray, shape K_1 x ... x K_N
        Trade probability and total transfer on every profile, in the file's grid order and
        units (as :func:`lpmech.verify` takes them).
    m_size : ndarray, same shape, optional
        The magnitude of the terms each m(θ) was summed from (default |m|). A transfer built as
        Σ_i M_i(θ_i) − (N − 1)T is exactly 0 at some profiles only up to rounding of those terms,
        so Σ_i |M_i(θ_i)| + (N − 1)|T| is its magnitude, not |m(θ)|.

    Returns
    -------
    Incentives
        Unitless ratios: a violation of 1e-7 of the payoffs it compares gives 1e-7.

    Examples
    --------
    >>> import numpy as np, lpmech
    >>> inst = lpmech.Instance("buy", [lpmech.Agent(n, [0.25, 0.75], [0.5, 0.5]) for n in "ab"],
    ...                        buyer_value=1.0)
    >>> x = np.array([[1.0, 0.0], [0.0, 0.0]])
    >>> r = incentive_ratios(inst, x, 0.5 * x)
    >>> r.ic, r.ir
    (0.0, 0.0)
    >>> round(incentive_ratios(inst, x, 0.2 * x).ir, 6)     # price 0.2 < cost 0.25
    0.111111
    """
    x = np.asarray(x, dtype=float)
    m = np.asarray(m, dtype=float)
    m_size = np.abs(m) if m_size is None else np.asarray(m_size, dtype=float)
    arrays = {"x": x, "m": m, "size": m_size, "|x|": np.abs(x)}
    if instance.independent:  # interim sums (audit.Interim), no K^N joint pmf or (K_i, R) beliefs
        vectors = [{k: interim(a, instance.probs, i) for k, a in arrays.items()} for i in range(instance.n)]
        return incentive_ratios_interim(instance, vectors)
    joint = instance.joint_pmf()
    return _incentive_loop(instance, [Interim(instance, i, arrays, joint) for i in range(instance.n)])


def incentive_ratios_interim(instance, vectors) -> Incentives:
    """:func:`incentive_ratios` for independent types from interim vectors (no pass over the grid).

    Parameters
    ----------
    instance : Instance
        Independent types.
    vectors : list of dict
        Per agent, ``{"x", "m", "size", "|x|"}``: E[x], E[m], E[magnitude of m's terms] and
        E[|x|] given θ_i = s, shapes (K_i,), the file's order and units.

    Returns
    -------
    Incentives
    """
    from .audit import Interim as _Interim

    return _incentive_loop(instance, [_Interim.from_vectors(v) for v in vectors])


def _incentive_loop(instance, exps) -> Incentives:
    sign = instance.money_sign
    worst_ic = worst_ir = 0.0
    for i, (share, grid) in enumerate(zip(instance.shares, instance.grids)):
        exp = exps[i]
        k = grid.size
        truthful, size_t = np.empty(k), np.empty(k)
        for rows in row_blocks(k, k):  # [t, s] arrays in blocks of rows: bounded memory
            diag = np.arange(rows.start, rows.stop)  # truthful reports of these rows
            j = diag - rows.start
            exp_m = exp.table("m", rows)  # [t, s] = E[m(s, θ_-i) | t]
            exp_x = exp.table("x", rows)
            util = share * sign * (exp_m - grid[rows, None] * exp_x)
            size = share * (exp.table("size", rows) + np.abs(grid)[rows, None] * exp.table("|x|", rows))
            truthful[rows], size_t[rows] = util[j, diag], size[j, diag]
            gain = util - util[j, diag][:, None]
            worst_ic = max(worst_ic, _worst_ratio(gain, size + size[j, diag][:, None]))
        worst_ir = max(worst_ir, _worst_ratio(-truthful, size_t))
    return Incentives(ic=worst_ic, ir=worst_ir)


def _worst_ratio(gap: np.ndarray, size: np.ndarray) -> float:
    bad = gap > 0
    if not bad.any():
        return 0.0
    return float(np.max(gap[bad] / np.maximum(size[bad], TINY)))


def profit_magnitude(instance, x, m) -> float:
    """E[|d|·|x| + |m|], d the designer's value or cost: the magnitude of the terms of an audited profit.

    Parameters
    ----------
    instance : Instance
    x, m : ndarray, shape K_1 x ... x K_N
        Allocation and transfer in the file's order and units.

    Returns
    -------
    float
        In the instance's units.
    """
    terms = abs(float(instance.designer_value)) * np.abs(x) + np.abs(m)
    if instance.independent:  # Σ_t p_1(t) E[terms | θ_1 = t]: interim sums, no K^N joint pmf
        return float(instance.probs[0] @ interim(terms, instance.probs, 0))
    return float(np.sum(instance.joint_pmf() * terms))


def gains(problem, pmf: np.ndarray, x: np.ndarray, phi) -> tuple[np.ndarray, np.ndarray]:
    """E[x(b − φ_i)] for each agent (the maximin rows) and the magnitudes E[|x| |b − φ_i|] of their terms.

    Parameters
    ----------
    problem : EngineProblem
    pmf : ndarray, shape K_1 x ... x K_N, or None
        The profile pmf (unused, may be None, for independent types).
    x : ndarray, same shape
    phi : list of ndarray
        Raw virtual costs per agent.

    Returns
    -------
    (ndarray, ndarray), each of shape (N,)

    Notes
    -----
    Independent types (``problem.probs`` set): E[x(b − φ_i)] = Σ_t p_i(t)(b − φ_i(t)) X_i(t) with
    X_i = E[x | θ_i] (:func:`lpmech.profiles.interim`), and E[|x||b − φ_i|] likewise from
    E[|x| | θ_i]: interim sums, ``pmf`` unused (it may be None).
    """
    if problem.probs is not None:
        xa = np.abs(x)
        val, mag = [], []
        for i, (f, p) in enumerate(zip(phi, problem.probs)):
            d = problem.b - f
            val.append(float((p * d) @ interim(x, problem.probs, i)))
            mag.append(float((p * np.abs(d)) @ interim(xa, problem.probs, i)))
        return np.array(val), np.array(mag)
    mass = pmf * x
    absmass = np.abs(mass)
    n = problem.n
    val, mag = [], []
    for i, f in enumerate(phi):
        d = problem.b - along(f, i, n)
        val.append(float(np.sum(mass * d)))
        mag.append(float(np.sum(absmass * np.abs(d))))
    return np.array(val), np.array(mag)


def failures(measured: dict, limits: dict) -> list[str]:
    """Names whose measured value exceeds its limit (NaN fails).

    Parameters
    ----------
    measured : dict
        Every measured quantity by name.
    limits : dict
        The bound of each checked name.

    Returns
    -------
    list of str
    """
    return [k for k, lim in limits.items() if not measured[k] <= lim]


def readme_list() -> str:
    """The README's list of checks, generated from :data:`CHECKS` (tests/test_result.py compares).

    Returns
    -------
    str
        One Markdown bullet per check: ``- `name`: what it compares``.
    """
    return "\n".join(f"- `{name}`: {what}" for name, what in CHECKS.items())


def report(measured: dict, limits: dict) -> dict:
    """One entry per check: its measured gap, its limit and whether it passed.

    Parameters
    ----------
    measured : dict
        Every measured quantity by name.
    limits : dict
        The bound of each checked name.

    Returns
    -------
    dict
        ``{name: {"gap": float, "limit": float, "passed": bool}}``.
    """
    return {
        k: {"gap": float(measured[k]), "limit": float(lim), "passed": bool(measured[k] <= lim)}
        for k, lim in limits.items()
    }


def enforce(measured: dict, limits: dict, extra_failed: Sequence[str] = ()) -> dict:
    """Add ``limits``, ``report`` and ``passed`` to ``measured``; raise :class:`CheckError` if any check fails.

    Parameters
    ----------
    measured : dict
        Every measured quantity by name (modified in place).
    limits : dict
        The bound of each checked name.
    extra_failed : list of str
        Checks that failed without a number (e.g. an empty optimal face).

    Returns
    -------
    dict
        ``measured``, completed.

    Raises
    ------
    CheckError
        Some measured value exceeds its limit (NaN fails).
    """
    failed = failures(measured, limits) + list(extra_failed)
    measured["limits"] = dict(limits)
    rep = report(measured, limits)
    for k in extra_failed:
        rep[k] = {"gap": float("inf"), "limit": 0.0, "passed": False}
    measured["report"] = rep
    measured["passed"] = not failed
    if failed:
        raise CheckError(failed, measured, limits)
    return measured


def _posted_vectors(instance, posted) -> tuple[list[dict], float]:
    """Interim vectors of the posted-price mechanism from its definition, and E[x].

    Trade iff every agent accepts (buy side θ_i <= p, sell side θ_i >= p) and m = p·x, so with
    independent types E[x | θ_i = s] = 1{s accepts} Π_{j≠i} P(j accepts) and E[m | θ_i = s] =
    p E[x | θ_i = s]: K_i numbers per agent, the same as interim sums of the K^N arrays.
    """
    n = instance.n
    if posted.price is None:
        zeros = [np.zeros(k) for k in instance.shape]
        return [{"x": z, "m": z, "size": z, "|x|": z} for z in zeros], 0.0
    p = float(posted.price)
    accepts = [(g <= p) if instance.side == "buy" else (g >= p) for g in instance.grids]
    rate = [float(q @ a) for q, a in zip(instance.probs, accepts)]
    out = []
    for i in range(n):
        others = float(np.prod([rate[j] for j in range(n) if j != i]))
        xi = accepts[i] * others
        out.append({"x": xi, "m": p * xi, "size": abs(p) * xi, "|x|": xi})
    return out, float(np.prod(rate))


def maximin_checks(
    *,
    instance,
    problem,
    unit,
    core,
    phi,
    phi_bar,
    tr,
    source,
    posted,
    omega_range,
    omega_can,
    face_error,
    tie_rtol,
    x_omega=None,
    allocation=None,
    transfer=None,
    chunk: int | None = None,
) -> dict:
    """Every cross-check of a maximin solution (methods ``lp`` and ``structured``); see the module docstring.

    One chunked pass over the grid (:func:`lpmech.structured.passes.mechanism_pass`) reads the
    allocation the result reports (``source``) block by block: its per-agent masses Σ P x by θ_i,
    its bounds, and its agreement with x_ω of the solver's and of the canonical ω off their tie
    bands. Everything else is a K_i-vector: for independent types the brute-force audit of
    (x, m) reduces exactly to the interim sums E[x | θ_i], E[m | θ_i] (by the product structure
    E[Σ_j M_j(θ_j) | θ_i] = M_i(θ_i) + Σ_{j≠i} E[M_j]), and the posted-price mechanism's to its
    acceptance probabilities. No K^N array is formed.

    Parameters
    ----------
    instance : Instance
    problem : EngineProblem
        Normalized engine problem (buy side, units of ``unit``).
    unit : float
        The engine's money unit (:func:`lpmech.solver.unit_scale`).
    core : lpmech.solver._Core
        The core solver's value, ω and tie allowance (engine form).
    phi, phi_bar : list of ndarray
        Raw and ironed virtual costs per agent (engine form).
    tr : lpmech.transfers.Transfers
        The transfers reported: m = Σ_i M_i − (N − 1)T, or the array assigned to ``tr.m``
        (``tr.explicit_m``), whose interim sums are then audited.
    source : IndexRule, DenseSource or CompactSource
        The allocation reported (engine form), walked block by block.
    posted : PostedPrice
    omega_range : ndarray, shape (N, 2)
    omega_can : ndarray, shape (N,)
    face_error : str
        Non-empty when no ω has x as a best response.
    tie_rtol : float
        The relative tie tolerance the solver used.
    x_omega : DenseSource, optional
        x_ω of the solver's ω completed on its tie set when it differs from ``source`` (LP path).
    allocation, transfer : ndarray, shape K_1 x ... x K_N, optional
        The arrays the result reports (file order and units), audited by :func:`lpmech.verify`
        when given; otherwise the audit is :func:`lpmech.audit.audit_interim` of the interim
        vectors (a compact result).
    chunk : int, optional
        Largest block of the pass (profiles; default :data:`lpmech.profiles.PASS_CHUNK`).

    Returns
    -------
    dict
        Measured values, ``values``, ``value_limits``, ``limits``, ``report`` and ``passed``.

    Raises
    ------
    CheckError
        Any check beyond its limit.
    """
    from .profiles import PASS_CHUNK, Grid
    from .structured.passes import mechanism_pass
    from .transfers import interim_sum

    chunk = PASS_CHUNK if chunk is None else chunk
    sol = core
    omega_lp = sol.omega
    b = problem.b
    probs = problem.probs
    grid = Grid(probs, chunk)
    reference = np.clip(omega_lp, 0.0, None)
    # the canonical ω solves a QP over the face, whose rows allow the tie tolerance: look for its
    # ties in a band 10 times wider
    walk = mechanism_pass(
        grid,
        source,
        phi_bar,
        b,
        reference=(reference, tie_rtol, sol.tie_uncertainty),
        canonical=(np.asarray(omega_can, dtype=float), 10 * tie_rtol, 10 * sol.tie_uncertainty),
    )

    def value_rows(w):
        val = np.array([float(m @ (b - f)) for m, f in zip(w.mass, phi)])
        mag = np.array([float(a @ np.abs(b - f)) for a, f in zip(w.abs_mass, phi)])
        return val, mag

    gains_lp, size_lp = value_rows(walk)
    if x_omega is None:
        gains_omega, size_omega = gains_lp, size_lp
    else:
        gains_omega, size_omega = value_rows(mechanism_pass(grid, x_omega, phi_bar, b))
    X = [m / p for m, p in zip(walk.mass, probs)]  # engine order
    absX = [a / p for a, p in zip(walk.abs_mass, probs)]

    # the audit of (x, m) from interim sums, in the user's order and units
    user_probs = instance.probs
    vectors = []
    reported = getattr(source, "mechanism", None)  # a compact mechanism: audit its own M_i and T
    for i in range(problem.n):
        size = tr.interim_m(probs, i, size=True)
        if tr.explicit_m:  # an array was given: its interim sums
            em = interim(tr.m, probs, i)
            size = np.maximum(interim(np.abs(tr.m), probs, i), size)
        elif reported is not None:
            em = interim_sum(reported.M, -(problem.n - 1) * reported.T, probs, i)
        else:
            em = tr.interim_m(probs, i)
        vectors.append(
            {
                "x": instance.to_user(X[i], axes="agent"),
                "m": instance.to_user(em * unit, axes="agent", negate=True),
                "size": instance.to_user(size * unit, axes="agent"),
                "|x|": instance.to_user(absX[i], axes="agent"),
            }
        )
    sigma, d = instance.money_sign, float(instance.designer_value)
    expected_x = float(user_probs[0] @ vectors[0]["x"])
    expected_m = float(user_probs[0] @ vectors[0]["m"])
    bound = float(max(0.0, -walk.x_min, walk.x_max - 1.0))
    if allocation is not None and transfer is not None:  # the arrays the result reports: audit them
        audit = verify(instance, allocation, transfer)
    else:  # the compact mechanism: the same audit from its interim sums (exact, by the product structure)
        audit = audit_interim(
            instance,
            [{"x": v["x"], "m": v["m"], "|m|": v["size"]} for v in vectors],
            sigma * (d * expected_x - expected_m),
            bound,
        )
    # m = Σ_i M_i(θ_i) − (N − 1)T: the magnitude of its terms, for the IC/IR comparisons
    incentives = incentive_ratios_interim(instance, vectors)
    profit_size = abs(d) * float(user_probs[0] @ vectors[0]["|x|"]) + float(user_probs[0] @ vectors[0]["size"])
    posted_vectors, posted_trade = _posted_vectors(instance, posted)
    posted_price = 0.0 if posted.price is None else float(posted.price)
    posted_audit = audit_interim(
        instance,
        [{"x": v["x"], "m": v["m"], "|m|": v["size"]} for v in posted_vectors],
        sigma * (d - posted_price) * posted_trade,
        0.0,
    )
    posted_incentives = incentive_ratios_interim(instance, posted_vectors)

    # Value: each computation against the solver's, held to CHECK_RTOL times the two values plus
    # ROUNDING_RTOL times the magnitudes of the terms of both (tolerances.gap_limit; engine units).
    size_x = min_magnitude(gains_lp, size_lp)
    # g(ω) and the magnitude of its terms by the one evaluation of g (the structured oracle)
    g_of = GOracle(phi_bar, probs, b, DEFAULT_CHUNK)
    cut_lp, cut_can = (g_of(np.clip(w, 0.0, None), magnitude=True) for w in (reference, omega_can))
    computed = {
        "V(x)": (float(gains_lp.min()), size_x),
        "audit": (audit.profit / unit, profit_size / unit),
        "g(omega)": (cut_lp.g, cut_lp.magnitude),
        "g(omega_canonical)": (cut_can.g, cut_can.magnitude),
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
    support_ratio = max(
        (
            float(gains_lp[i] - low) / max(gap_limit([gains_lp[i], low], [size_lp[i], size_x]), 1e-300)
            for i in np.flatnonzero(support)
        ),
        default=0.0,
    )
    value_user = sol.value * unit
    posted_value = 0.0 if posted.value is None else float(posted.value)
    posted_excess = max(posted_value - value_user, 0.0)
    posted_limit = gap_limit([posted_value, value_user], [(abs(d) + abs(posted_price)) * posted_trade, size_x * unit])
    mono = max((float(np.max(np.diff(Xi), initial=0.0)) for Xi in X), default=0.0)
    in_range = (
        0.0
        if face_error
        else max(float(np.max(np.maximum(omega_range[:, 0] - w, w - omega_range[:, 1]))) for w in (omega_lp, omega_can))
    )
    checks = {
        "max_ic_violation": audit.max_ic_violation,
        "max_ir_violation": audit.max_ir_violation,
        "ic_violation_relative": incentives.ic,
        "ir_violation_relative": incentives.ir,
        "analytic_gap": max(gaps.values()) * unit,
        "analytic_gap_ratio": max(gaps[k] / max(value_limits[k], 1e-300) for k in gaps),
        "values": values,
        "value_limits": {k: v * unit for k, v in value_limits.items()},
        "offtie_mismatch": walk.offtie,
        "offtie_mismatch_canonical": walk.offtie_canonical,
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
        "tie_probability": walk.tie_probability,
        "tie_tolerance": tie_rtol,
        "tolerance": CHECK_RTOL,
    }
    limits = {
        "ic_violation_relative": CHECK_RTOL,
        "ir_violation_relative": CHECK_RTOL,
        "analytic_gap_ratio": 1.0,
        "offtie_mismatch": ALLOCATION_TOL,
        "offtie_mismatch_canonical": ALLOCATION_TOL,
        "support_gap_ratio": 1.0,
        "omega_sum_error": WEIGHT_TOL,
        "omega_below_zero": WEIGHT_TOL,
        "omega_outside_range": WEIGHT_TOL,
        "monotonicity_violation": MONOTONICITY_TOL,
        "allocation_bounds_violation": ALLOCATION_TOL,
        "posted_ic_violation_relative": CHECK_RTOL,
        "posted_ir_violation_relative": CHECK_RTOL,
        "posted_excess_ratio": 1.0,
    }
    extra = []
    if face_error:
        checks["optimal_face"] = f"empty: {face_error}"
        extra.append("optimal_face")
    return enforce(checks, limits, extra)


def continuous_checks(cont) -> dict:
    """Every cross-check of a solution in the continuum; raise :class:`CheckError` on any failure.

    The continuum's value is a quadrature, not an LP optimum, so it is checked against bounds
    computed independently of the quadrature that produced it:

    * ``continuous_value_error``: the solver's own error estimate (the change of g(ω*)
      between two resolutions, the Bromwich tail, the suboptimality of ω*, the clamping bound)
      relative to the value, at most :data:`~lpmech.tolerances.CONTINUUM_RTOL`;
    * ``continuous_posted_excess``: the best collective posted price is a feasible mechanism
      (DSIC, ex-post IR), so its value may not exceed the optimum by more than the estimated
      error (a lower bound, from a one-dimensional maximization of (b − p) Π_i F_i(p));
    * ``continuous_vertex_excess``: by weak duality every g(ω) bounds the optimum above; at a
      vertex ω = e_i, g(e_i) = E[(b − φ̄_i)_+] is the one-agent closed form (no quadrature over
      profiles), so the optimum may not exceed min_i g(e_i) by more than the estimated error;
    * ``continuous_weights``: ω* on the simplex.

    Each excess is measured relative to the magnitude of the values compared (so in any units).

    Parameters
    ----------
    cont : lpmech.continuous.ContinuousResult
        As returned by :func:`lpmech.continuous.solve_continuous` (with its ``model``).

    Returns
    -------
    dict
        The measured quantities with ``limits``, ``report`` and ``passed``.

    Raises
    ------
    CheckError
        Some check failed (NaN fails); the message names it with its gap and limit.
    """
    value, error = float(cont.value), float(cont.value_error)
    posted = float(cont.posted_value) if np.isfinite(cont.posted_value) else 0.0
    omega = np.asarray(cont.omega, dtype=float)
    size = magnitude(value, posted)
    model = cont.model
    vertex = (
        np.array([float(v.tail_moments(model.b)[0][0]) for v in model.virtuals])
        if model is not None
        else np.array([np.inf])
    )
    best_vertex = float(np.min(vertex))
    # relative to the value; a zero value (nothing trades at a profit) against the bounds' scale
    rel_error = error / (value if value > 0 else magnitude(posted, best_vertex)) if error != 0 else 0.0  # NaN fails
    checks = {
        "value": value,
        "value_error": error,
        "posted_value": posted,
        "vertex_values": vertex.tolist(),
        "continuous_value_error": rel_error,
        "continuous_posted_excess": max(0.0, posted - value - error) / size,
        "continuous_vertex_excess": max(0.0, value - best_vertex - error) / magnitude(value, best_vertex),
        "continuous_weights": float(max(abs(omega.sum() - 1.0), max(0.0, -float(omega.min())))),
        "tolerance": CHECK_RTOL,
        "continuum_rtol": CONTINUUM_RTOL,
    }
    if not np.all(np.isfinite(omega)):
        checks["continuous_weights"] = float("nan")
    if not np.isfinite(value):
        checks["continuous_value_error"] = float("nan")
    limits = {
        "continuous_value_error": CONTINUUM_RTOL,
        "continuous_posted_excess": CHECK_RTOL,
        "continuous_vertex_excess": CHECK_RTOL,
        "continuous_weights": WEIGHT_TOL,
    }
    return enforce(checks, limits)


def _enforce_general(instance, x: np.ndarray, m: np.ndarray, checks: dict, *, size: float, bound: float) -> dict:
    """The general LP's limits (and the transfer/trade constraints' audit of the total transfer
    ``m``), then :func:`enforce`: shared by shared-transfer and individual-transfer solutions."""
    limits = {
        "ic_relative": CHECK_RTOL,
        "ir_relative": CHECK_RTOL,
        "analytic_gap": CHECK_RTOL,
        "max_bound_violation": ALLOCATION_TOL,
        "profit_bound_excess": CHECK_RTOL * (size + abs(bound)),
    }
    more, more_limits = limits_audit(instance, x, m, size)
    return enforce({**checks, **more}, {**limits, **more_limits})


def general_checks(lp, x: np.ndarray, m: np.ndarray, value: float, lp_value: float) -> dict:
    """Audit a general-LP solution (x, m) with :func:`lpmech.verify`; raise :class:`CheckError` on any failure.

    Every check is relative to the magnitudes of its own comparison (:mod:`lpmech.tolerances`):
    IC and IR violations to the payoffs they compare (``ic_relative``, ``ir_relative``), the
    gap between HiGHS's optimal value and the audited objective of the mechanism returned
    (``analytic_gap``) and the excess over the profit bound to E|d·x| + E|m|
    (``value_magnitude``); x outside [0, 1] against ALLOCATION_TOL.

    Parameters
    ----------
    lp : lpmech.general.GeneralLP
    x, m : ndarray, shape K_1 x ... x K_N
        Allocation and transfer in the file's order and units.
    value : float
        The objective of (x, m) as returned.
    lp_value : float
        HiGHS's optimal value (instance's units).

    Returns
    -------
    dict

    Raises
    ------
    CheckError
    """
    from .general import _value_magnitude, first_best, profit_bound

    inst = lp.instance
    mech = inst.mechanism
    interdependent = getattr(inst, "interdependence", None) is not None
    new_ir = mech.participation == "ex-ante" or mech.outside_option is not None or interdependent
    new_ic = interdependent or mech.ic == "ex-post"
    if new_ir or new_ic:  # audited by own_payoff_audit (brute force from the definitions)
        audit = verify(inst, x, m, ic="bayesian" if new_ic else mech.ic, participation="interim", veto=[])
        shares = inst.shares.reshape((-1,) + (1,) * inst.n)
        own = own_payoff_audit(
            inst, x, shares * m[None], ic=mech.ic, participation=mech.participation, vetoes=lp.vetoes
        )
    else:
        audit = verify(inst, x, m, ic=mech.ic, participation=mech.participation, veto=lp.vetoes)
    if new_ic or new_ir:  # the agents' total surplus with their true costs
        from .general import _weighted_types

        costs = _weighted_types(inst, list(range(inst.n))) * float(inst.shares.sum())
        surplus = float(np.sum(inst.joint_pmf() * inst.money_sign * (m - costs * x)))
    else:
        surplus = float(sum(np.dot(p, a["interim_utility"]) for p, a in zip(inst.probs, audit.per_agent)))
    lam = mech.pareto or 0.0
    fb, bound = first_best(inst), profit_bound(inst, lp.vetoes)
    size = _value_magnitude(lp, x, m)
    audited = audit.profit + lam * surplus
    gap = max(abs(lp_value - audited), abs(value - audited)) / size
    if new_ir:  # summing the vetoes' participation rows: profit <= bound − Σ E[r_i] / Σ σ_i
        from .general import outer_marginal, outside_options

        idx = [inst.names.index(v) for v in lp.vetoes]
        opts = outside_options(inst)
        bound -= sum(float(outer_marginal(inst, i) @ opts[i]) for i in idx) / float(inst.shares[idx].sum())
    excess = max(0.0, audit.profit - bound)
    ir_max = own["max_ir_violation"] if new_ir else audit.max_ir_violation
    ir_rel = own["ir_relative"] if new_ir else audit.ir_relative
    ic_max = own["max_ic_violation"] if new_ic else audit.max_ic_violation
    ic_rel = own["ic_relative"] if new_ic else audit.ic_relative
    checks = {
        "max_ic_violation": ic_max,
        "max_ir_violation": ir_max,
        "ic_relative": ic_rel,
        "ir_relative": ir_rel,
        "max_bound_violation": audit.max_bound_violation,
        "analytic_gap": gap,
        "profit_bound_excess": excess,
        "first_best": fb,
        "profit_bound": bound,
        "profit": audit.profit,
        "surplus": surplus,
        "value_magnitude": size,
        "tolerance": CHECK_RTOL,
        "allocation_tolerance": ALLOCATION_TOL,
    }
    return _enforce_general(inst, x, m, checks, size=size, bound=bound)


def algorithms_agree(neg_c: np.ndarray, first, second, *, unit: float, spread: float) -> None:
    """The general LP solved by two HiGHS algorithms: their optimal values must agree.

    Parameters
    ----------
    neg_c : ndarray, shape (n_columns,)
        The minimized objective (−c).
    first, second : lpmech.highs solutions
        With ``x`` (columns) and ``objective``.
    unit : float
        The LP's money unit (values are reported in the instance's units).
    spread : float
        How many money units the instance's largest type or value is.

    Raises
    ------
    CheckError
        ``algorithms_disagree``: the gap exceeds CHECK_RTOL × (Σ|c_j|(|x_j| + |x'_j|) + the
        floor (PROB_TOL / CHECK_RTOL) Σ|c_j| for x known to PROB_TOL).
    """
    from .tolerances import PROB_TOL

    terms = np.abs(neg_c) @ (np.abs(first.x) + np.abs(second.x))
    floor = PROB_TOL / CHECK_RTOL * float(np.abs(neg_c).sum())  # x is known to PROB_TOL
    gap = abs(second.objective - first.objective)
    lim = CHECK_RTOL * max(float(terms) + floor, TINY)
    if not gap <= lim:
        u = unit
        measured = {
            "algorithms_disagree": gap * u,
            "value_first": -first.objective * u,
            "value_second": -second.objective * u,
            "spread": spread,
        }
        limits = {"algorithms_disagree": lim * u}
        measured["report"] = report(measured, limits)
        raise CheckError(
            ["algorithms_disagree"],
            measured,
            limits,
            message=(
                f"cross-check failed: HiGHS's simplex and interior point give different optimal "
                f"values ({-first.objective * u:.10g} and {-second.objective * u:.10g}) on an "
                f"instance whose types span {spread:.3g} money units: the LP is too "
                "ill-conditioned to be solved reliably in floating point"
            ),
        )


def spread_within_limit(spread: float, unit: float) -> None:
    """The general LP refuses an instance whose types span more than MAX_SPREAD money units.

    Parameters
    ----------
    spread : float
        Largest |type| or |designer value| over the money unit ``unit``.
    unit : float

    Raises
    ------
    CheckError
        ``spread`` above :data:`lpmech.tolerances.MAX_SPREAD`.
    """
    from .tolerances import MAX_SPREAD

    if spread > MAX_SPREAD:
        measured: dict[str, Any] = {"spread": spread, "unit": unit}
        limits = {"spread": MAX_SPREAD}
        measured["report"] = report(measured, limits)
        raise CheckError(
            ["spread"],
            measured,
            limits,
            message=(
                f"the general LP cannot be solved reliably in floating point: a type or value "
                f"is {spread:.3g} times the instance's money unit {unit:.3g} (limit "
                f"{MAX_SPREAD:.0e}); HiGHS's tolerances would make the answer unverifiable"
            ),
        )


def individual_checks(instance, x: np.ndarray, ms: np.ndarray, value: float, lp_value: float) -> dict:
    """Audit a mechanism with individual transfers by brute force; raise :class:`CheckError` on failure.

    Every IC and IR inequality is evaluated from its definition on the whole grid, independently
    of the LP's row builders: agent i of true type t reporting s against the others' types r
    gets sign·(m_i(s, r) − σ_i t x(s, r)); Bayesian IC and interim IR take expectations under
    the conditional P(r | t) of the joint pmf, dominant-strategy IC and ex-post IR hold at every
    r (zero-probability profiles included). Each violation is relative to the payoffs it
    compares (|m_i| + σ_i|t|·x, with x known to PROB_TOL); the value gap to
    E|d·x| + Σ_i E|m_i|.

    Parameters
    ----------
    instance : Instance
        With its mechanism (``transfers = "individual"``).
    x : ndarray, shape K_1 x ... x K_N
    ms : ndarray, shape N x K_1 x ... x K_N
        Each agent's own transfer, in the instance's money units.
    value, lp_value : float
        The objective of (x, ms) as returned, and HiGHS's optimal value.

    Returns
    -------
    dict

    Raises
    ------
    CheckError
    """
    from .general import first_best

    mech = instance.mechanism
    pmf, sign, d = instance.joint_pmf(), instance.money_sign, instance.designer_value
    floor = PROB_TOL / CHECK_RTOL
    worst = own_payoff_audit(instance, x, ms, ic=mech.ic, participation=mech.participation, vetoes=instance.names)
    profit = float(np.sum(pmf * sign * (d * x - ms.sum(axis=0))))
    size = float(np.sum(pmf * (abs(d) * np.abs(x) + np.abs(ms).sum(axis=0)))) + floor * abs(d)
    size = max(size, TINY)
    from .general import outer_marginal, outside_options

    fb = first_best(instance)
    # summing every agent's participation row: profit <= first best − Σ_i E[r_i]
    bound = fb - sum(float(outer_marginal(instance, i) @ r) for i, r in enumerate(outside_options(instance)))
    outside = float(max(np.max(-x), np.max(x - 1.0), 0.0))
    checks = {
        **worst,
        "analytic_gap": max(abs(lp_value - profit), abs(value - profit)) / size,
        "profit_bound_excess": max(0.0, profit - bound),
        "max_bound_violation": outside,
        "first_best": fb,
        "profit_bound": bound,
        "profit": profit,
        "surplus": float(
            np.sum(
                pmf
                * (
                    sign
                    * (
                        ms.sum(axis=0)
                        - x
                        * sum(
                            s * along(g, j, instance.n) for j, (g, s) in enumerate(zip(instance.grids, instance.shares))
                        )
                    )
                )
            )
        ),
        "value_magnitude": size,
        "tolerance": CHECK_RTOL,
        "allocation_tolerance": ALLOCATION_TOL,
    }
    return _enforce_general(instance, x, ms.sum(axis=0), checks, size=size, bound=bound)


def own_payoff_audit(instance, x: np.ndarray, ms: np.ndarray, *, ic: str, participation: str, vetoes) -> dict:
    """Brute-force IC and participation audit with each agent's own payment and outside option.

    Agent i of true type t reporting s against the others' types r gets
    sign·(M_i(s, r) − σ_i t x(s, r)), M_i its own payment (σ_i·m with a shared transfer, m_i with
    individual transfers). Bayesian IC and interim participation use the conditional P(r | t);
    dominant-strategy IC and ex-post participation hold at every r (zero-probability profiles
    included); ex-ante participation is the expectation over the agent's own types. The
    participation right-hand side is the outside option r_i(t) (ex ante: E[r_i]), from
    :func:`lpmech.general.outside_options`. Each violation is relative to the payoffs compared
    (|M_i| + σ_i|t|·x, plus |r_i|; x is known to PROB_TOL).

    Parameters
    ----------
    instance : Instance
    x : ndarray, shape K_1 x ... x K_N
    ms : ndarray, shape N x K_1 x ... x K_N
        Each agent's own payment, in the instance's money units.
    ic : {"bayesian", "dominant"}
    participation : {"interim", "ex-post", "ex-ante"}
    vetoes : list of str
        The agents whose participation is audited.

    Returns
    -------
    dict
        ``ic_relative``, ``ir_relative``, ``max_ic_violation``, ``max_ir_violation`` (>= 0).
    """
    from .general import outside_options

    pmf, sign = instance.joint_pmf(), instance.money_sign
    options = outside_options(instance)
    gamma = getattr(instance, "interdependence", None)
    worst = {"ic_relative": 0.0, "ir_relative": 0.0, "max_ic_violation": 0.0, "max_ir_violation": 0.0}
    floor = PROB_TOL / CHECK_RTOL
    for i, (name, grid, share) in enumerate(zip(instance.names, instance.grids, instance.shares)):
        k = grid.size
        X = np.moveaxis(x, i, 0).reshape(k, -1)
        M = np.moveaxis(ms[i], i, 0).reshape(k, -1)
        P = np.moveaxis(pmf, i, 0).reshape(k, -1)
        true = np.broadcast_to(grid[:, None], (k, X.shape[1]))  # cost of type t against r
        if gamma is not None:  # + Σ_j γ_ij θ_j(r), from the grids directly
            others = [j for j in range(instance.n) if j != i]
            mesh = np.meshgrid(*[instance.grids[j] for j in others], indexing="ij")
            start = np.zeros(tuple(instance.grids[j].size for j in others))  # shape () when N = 1
            e = sum((gamma[i, j] * g for j, g in zip(others, mesh)), start).ravel()
            true = true + e[None, :]
        cost = share * true[:, None, :] * X[None, :, :]  # t, s, r
        pay = sign * (M[None, :, :] - cost)
        size = np.abs(M)[None, :, :] + np.abs(cost) + floor * share * np.abs(true)[:, None, :]
        tt = np.arange(k)
        mass = P.sum(axis=1, keepdims=True)
        belief = np.divide(P, mass, out=np.zeros_like(P), where=mass > 0)
        U = np.einsum("tr,tsr->ts", belief, pay)
        S = np.einsum("tr,tsr->ts", belief, size)
        if ic == "bayesian":
            gap = U - U[tt, tt][:, None]
            rel = gap / np.maximum(S + S[tt, tt][:, None], TINY)
        else:
            gap = pay - pay[tt, tt][:, None, :]
            rel = gap / np.maximum(size + size[tt, tt][:, None, :], TINY)
        worst["max_ic_violation"] = max(worst["max_ic_violation"], float(gap.max()))
        worst["ic_relative"] = max(worst["ic_relative"], float(rel.max()))
        if name not in vetoes:
            continue
        r = options[i]
        if participation == "interim":
            gap = r - U[tt, tt]
            rel = gap / np.maximum(S[tt, tt] + np.abs(r), TINY)
        elif participation == "ex-post":
            gap = r[:, None] - pay[tt, tt]
            rel = gap / np.maximum(size[tt, tt] + np.abs(r)[:, None], TINY)
        else:
            own = mass.ravel()
            gap = np.array([own @ (r - U[tt, tt])])
            rel = gap / max(float(own @ (S[tt, tt] + np.abs(r))), TINY)
        worst["max_ir_violation"] = max(worst["max_ir_violation"], float(gap.max()))
        worst["ir_relative"] = max(worst["ir_relative"], float(rel.max()))
    return {k: max(v, 0.0) for k, v in worst.items()}


def limits_audit(instance, x: np.ndarray, m: np.ndarray, money_size: float) -> tuple[dict, dict]:
    """Check the transfer and trade constraints the mechanism sets, from their definitions.

    ``no_subsidy``: m(θ) >= 0 at every profile; ``max_transfer``: m(θ) <= X at every profile;
    ``budget``: E[m] <= X; ``min_trade_probability``: E[x] >= q. Money violations are relative
    to ``money_size`` + |X| (``money_size`` the magnitude E|d·x| + E|m| the LP's value is
    summed from; a transfer's accuracy is relative to it); the trade probability's to
    ALLOCATION_TOL.

    Parameters
    ----------
    instance : Instance
        With its mechanism.
    x, m : ndarray, shape K_1 x ... x K_N
        Allocation and total transfer, in the instance's units.
    money_size : float
        The money magnitude of the problem (instance's units).

    Returns
    -------
    (measured, limits) : tuple of dict
        Relative violations by name (``no_subsidy_violation``, ...) and their limits; empty when
        the mechanism sets no such constraint.
    """
    mech = instance.mechanism
    pmf = instance.joint_pmf()
    measured, limits = {}, {}
    size = max(float(money_size), TINY)
    if mech.no_subsidy:
        measured["no_subsidy_violation"] = max(0.0, float(np.max(-m))) / size
        limits["no_subsidy_violation"] = CHECK_RTOL
    if mech.max_transfer is not None:
        X = mech.max_transfer
        measured["max_transfer_violation"] = max(0.0, float(np.max(m - X))) / max(size + abs(X), TINY)
        limits["max_transfer_violation"] = CHECK_RTOL
    if mech.budget is not None:
        X = mech.budget
        measured["budget_violation"] = max(0.0, float(np.sum(pmf * m)) - X) / max(size + abs(X), TINY)
        limits["budget_violation"] = CHECK_RTOL
    if mech.min_trade_probability is not None:
        measured["min_trade_probability_violation"] = max(0.0, mech.min_trade_probability - float(np.sum(pmf * x)))
        limits["min_trade_probability_violation"] = ALLOCATION_TOL
    return measured, limits
