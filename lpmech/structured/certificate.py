"""The certificate of the structured solver: V(x) = g(ω) by two full-grid passes (:mod:`lpmech.structured`, step 3).

:func:`audit_pass` computes E[x(b - φ_i)] with the raw φ and the interim X_i, and takes g(ω)
from the one evaluation of g (:class:`lpmech.structured.oracle.GOracle`, tested against a dense
reference in tests/test_structured.py);
:func:`certify` holds the gap to :data:`CERTIFICATE_TOL` and checks monotonicity and
x in [0, 1]. By weak duality V(x) <= LP optimum <= g(ω), so equality proves both optimal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..profiles import Grid
from ..tolerances import CERTIFICATE_RTOL, MONOTONICITY_TOL, gap_limit, min_magnitude
from .oracle import GOracle
from .passes import DenseSource, IndexRule
from .ties import complete

__all__ = ["CERTIFICATE_TOL", "Audit", "Check", "audit_pass", "certify", "complete_certified"]

#: Relative gap |V(x) - g(ω)| / (magnitude of the terms of both) above which the answer is refused
#: (:data:`lpmech.tolerances.CERTIFICATE_RTOL`).
CERTIFICATE_TOL = CERTIFICATE_RTOL


@dataclass
class Audit:
    gains: np.ndarray
    interim: list[np.ndarray]
    g: float
    gains_size: np.ndarray  # E[x |b - φ_i|]: the magnitude of the terms of each gain
    g_size: float  # E[(|b| + ω·|φ̄|) 1{ω·φ̄ < b}]: the magnitude of g's terms
    x_min: float = 0.0
    x_max: float = 0.0
    finite: bool = True
    mass: list | None = None  # Σ P x by θ_i


def audit_pass(grid: Grid, oracle: GOracle, x, omega: np.ndarray, phi, b: float) -> Audit:
    """Full-grid pass: E[x(b - φ_i)] with raw φ and the interim X_i; g(ω) from the one g (``oracle``).

    ``x``: an array over the grid, or an :class:`~lpmech.structured.passes.IndexRule` (walked block by block).
    """
    source = DenseSource(np.asarray(x, dtype=float)) if isinstance(x, np.ndarray) else x
    mass = [np.zeros(k) for k in grid.shape]
    omega = np.clip(np.asarray(omega, dtype=float), 0.0, None)
    x_min, x_max, finite = np.inf, -np.inf, True
    for block in grid.blocks():
        P = block.pmf()
        xb = source.block_x(block)
        x_min, x_max = min(x_min, float(xb.min(initial=np.inf))), max(x_max, float(xb.max(initial=-np.inf)))
        finite = finite and bool(np.all(np.isfinite(xb)))
        for acc, part in zip(mass, block.marginals(P * xb)):
            acc += part
    cut = oracle(omega, magnitude=True)
    g, g_size = cut.g, cut.magnitude
    gains = np.array([float(m @ (b - f)) for m, f in zip(mass, phi)])
    gains_size = np.array([float(np.abs(m) @ np.abs(b - f)) for m, f in zip(mass, phi)])
    interim = [m / p for m, p in zip(mass, grid.probs)]
    return Audit(
        gains=gains,
        interim=interim,
        g=g,
        gains_size=gains_size,
        g_size=g_size,
        x_min=x_min,
        x_max=x_max,
        finite=finite,
        mass=mass,
    )


@dataclass
class Check:
    passed: bool
    reason: str
    value: float
    g: float
    gap: float
    gains: np.ndarray
    monotonicity: float
    mass: list | None = None


def certify(grid: Grid, oracle: GOracle, x: np.ndarray | IndexRule, omega: np.ndarray, phi, b: float) -> Check:
    """V(x) = g(ω) to :data:`CERTIFICATE_TOL`, X_i monotone, x in [0, 1] (module notes, step 3).

    The gap is held to :func:`lpmech.tolerances.gap_limit`: CERTIFICATE_RTOL × (|V(x)| + |g(ω)|)
    plus rounding (ROUNDING_RTOL) of the terms V(x) and g(ω) are summed from (E[x |b - φ_i|] of
    the agents that attain the minimum, and E[(|b| + ω·|φ̄|) 1{ω·φ̄ < b}]); ``gap`` is reported
    scaled so that CERTIFICATE_RTOL is its limit. Nothing outside the comparison (the grid's
    extreme points) enters.

    Parameters
    ----------
    grid : Grid
        The profile grid walker (independent types).
    oracle : GOracle
        The evaluation of g.
    x : ndarray, shape (K_1, ..., K_N), or IndexRule
        The allocation to certify (an :class:`~lpmech.structured.passes.IndexRule` is walked in blocks).
    omega : ndarray, shape (N,)
        The certifying weights.
    phi : list of ndarray, shapes (K_i,)
        Raw virtual costs (engine money units).
    b : float
        The buyer's value, same units.

    Returns
    -------
    Check
        ``passed``, the reason when not, V(x), g(ω), the scaled gap, the gains and the
        monotonicity violation.
    """
    audit = audit_pass(grid, oracle, x, omega, phi, b)
    value = float(audit.gains.min())
    size = min_magnitude(audit.gains, audit.gains_size, CERTIFICATE_RTOL)
    bound = gap_limit([value, audit.g], [size, audit.g_size], CERTIFICATE_RTOL)
    gap = abs(value - audit.g) / max(bound, 1e-300) * CERTIFICATE_RTOL
    mono = max(max((float(np.max(np.diff(X), initial=0.0)) for X in audit.interim), default=0.0), 0.0)
    reason = ""
    if not (audit.finite and min(audit.x_min, 0.0) >= 0.0 and max(audit.x_max, 0.0) <= 1.0):
        reason = "x is not in [0, 1]"
    elif not mono <= MONOTONICITY_TOL:
        reason = f"x is not interim monotone (violation {mono:.3g} > {MONOTONICITY_TOL:g})"
    elif not gap <= CERTIFICATE_TOL:
        reason = f"certificate gap {gap:.3g} exceeds {CERTIFICATE_TOL:g}"
    return Check(
        passed=not reason,
        reason=reason,
        value=value,
        g=audit.g,
        gap=gap,
        gains=audit.gains,
        monotonicity=mono,
        mass=audit.mass,
    )


def complete_certified(
    grid: Grid, oracle: GOracle, problem, phi, phi_bar, omega: np.ndarray, tie_tol: float, uncertainty: float = 0.0
):
    """x_ω completed on its tie set (:func:`lpmech.structured.ties.complete`) and its certificate.

    The tie LP is first solved with the agents of weight 0 pooled whole
    (:func:`lpmech.structured.ties.pool_unweighted`, a restriction of the tie LP: it has one
    column per class of the weighted agents' types instead of multiplying them by the unweighted
    agents' grids); if that answer fails :func:`certify`, the full tie LP is solved and certified.
    Both answers are certified the same way, so the restriction can only save time.

    Parameters
    ----------
    grid, oracle : Grid, GOracle
        As for :func:`certify`.
    problem : EngineProblem
        Buy-side form, independent types.
    phi, phi_bar : list of ndarray, shapes (K_i,)
        Raw and ironed virtual costs (engine money units).
    omega : ndarray, shape (N,)
        The weights.
    tie_tol, uncertainty : float
        The tie band (:func:`lpmech.tolerances.tie_band`).

    Returns
    -------
    completion : lpmech.structured.ties.Completion
    check : Check
    """
    completion = complete(grid, problem, phi, phi_bar, omega, tie_tol, uncertainty, pool_unweighted_agents=True)
    check = certify(grid, oracle, completion.rule, omega, phi, float(problem.b))
    if check.passed or not completion.pooled_agents:
        return completion, check
    completion = complete(grid, problem, phi, phi_bar, omega, tie_tol, uncertainty)
    return completion, certify(grid, oracle, completion.rule, omega, phi, float(problem.b))
