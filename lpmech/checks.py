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
  audited as well and its value may not exceed the optimum.

Every comparison is held to a tolerance relative to the magnitudes of the terms it is computed
from (:mod:`lpmech.tolerances`): a value gap against E|x(b - φ_i)| of the allocations compared
(or E|b·x| + E|m| for an audited profit, E[(|b| + ω·|φ̄|) 1{ω·φ̄ < b}] for g), an incentive or
participation violation against the payoffs it compares. So a far-out type (a seller who will
not sell below 1e9) widens no tolerance but its own, and the checks mean the same in any units.
A gap beyond tolerance raises :class:`CheckError`; it is never a warning.
"""

from __future__ import annotations

__all__ = ["CheckError", "Incentives", "incentive_ratios", "profit_magnitude", "gains", "g_with_magnitude",
           "failures"]

from dataclasses import dataclass

import numpy as np

from .errors import CheckError
from .profiles import along, weighted_sum
from .tolerances import TINY


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
    joint = instance.joint_pmf()
    sign = 1.0 if instance.side == "buy" else -1.0
    worst_ic = worst_ir = 0.0
    for i, (share, grid) in enumerate(zip(instance.shares, instance.grids)):
        k = grid.size
        xi = np.moveaxis(x, i, 0).reshape(k, -1)
        mi = np.moveaxis(m, i, 0).reshape(k, -1)
        si = np.moveaxis(m_size, i, 0).reshape(k, -1)
        pi = np.moveaxis(joint, i, 0).reshape(k, -1)
        belief = pi / pi.sum(axis=1, keepdims=True)
        exp_m = belief @ mi.T                           # [t, s] = E[m(s, θ_-i) | t]
        exp_abs_m = belief @ si.T
        exp_x = belief @ xi.T
        exp_abs_x = belief @ np.abs(xi).T
        util = share * sign * (exp_m - grid[:, None] * exp_x)
        size = share * (exp_abs_m + np.abs(grid)[:, None] * exp_abs_x)
        truthful, size_t = np.diag(util), np.diag(size)
        gain = util - truthful[:, None]
        worst_ic = max(worst_ic, _worst_ratio(gain, size + size_t[:, None]))
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
    joint = instance.joint_pmf()
    return float(np.sum(joint * (abs(float(instance.designer_value)) * np.abs(x) + np.abs(m))))


def gains(problem, pmf: np.ndarray, x: np.ndarray, phi) -> tuple[np.ndarray, np.ndarray]:
    """E[x(b − φ_i)] for each agent (the maximin rows) and the magnitudes E[|x| |b − φ_i|] of their terms.

    Parameters
    ----------
    problem : EngineProblem
    pmf : ndarray, shape K_1 x ... x K_N
        The profile pmf.
    x : ndarray, same shape
    phi : list of ndarray
        Raw virtual costs per agent.

    Returns
    -------
    (ndarray, ndarray), each of shape (N,)
    """
    mass = pmf * x
    absmass = np.abs(mass)
    n = problem.n
    val, mag = [], []
    for i, f in enumerate(phi):
        d = problem.b - along(f, i, n)
        val.append(float(np.sum(mass * d)))
        mag.append(float(np.sum(absmass * np.abs(d))))
    return np.array(val), np.array(mag)


def g_with_magnitude(omega, phi_bar, pmf: np.ndarray, b: float) -> tuple[float, float]:
    """g(ω) = E[(b − ω·φ̄)_+] and the magnitude E[(|b| + ω·|φ̄|) 1{ω·φ̄ < b}] of its terms.

    Parameters
    ----------
    omega : array_like, shape (N,)
        Weights (negative entries are clipped to 0).
    phi_bar : list of ndarray
        Ironed virtual costs per agent.
    pmf : ndarray, shape K_1 x ... x K_N
        The profile pmf.
    b : float
        The buyer's value (engine form).

    Returns
    -------
    (float, float)
        g(ω) and the magnitude, in the unit of ``b``.
    """
    omega = np.clip(np.asarray(omega, dtype=float), 0.0, None)
    slack = b - weighted_sum(omega, phi_bar)
    pos = slack > 0
    size = abs(b) + weighted_sum(omega, [np.abs(f) for f in phi_bar])
    return float(np.sum(pmf * slack * pos)), float(np.sum(pmf * size * pos))


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
