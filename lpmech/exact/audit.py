"""Exact brute-force audit of any mechanism (x, m) on an instance's grid.

The rational twin of :func:`lpmech.audit.verify`: for every agent, true type and report it
computes the agent's expected payoff in exact arithmetic and returns the worst incentive and
participation violations and the designer's expected profit as Fractions. It works in the
instance's own units and orientation (the file's grid order, per-share types; the transfer m is
designer to group on the buy side, group to designer on the sell side), with its own payoff
formulas for each side (docs/model.md, section 1): buy side agent i gets σ_i(m − θ_i x) and the
buyer b·x − m; sell side agent i gets σ_i(θ_i x − m) and the seller m − c·x.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from .data import ZERO, ExactData, exact_data, frac, fraction_str, q, qarray

__all__ = ["ExactAudit", "verify_exact"]


@dataclass
class ExactAudit:
    """What :func:`verify_exact` found; violations in the agents' payoff units (share included).

    Attributes
    ----------
    max_ic_violation, max_ir_violation : Fraction
        The largest gain from misreporting and the largest shortfall below 0 (0 when none).
    profit : Fraction
        The designer's expected profit.
    max_bound_violation : Fraction
        How far x leaves [0, 1].
    worst_ic, worst_ir : dict or None
        Where the worst violations are (agent, type, report / others' profile).
    per_agent : list of dict
        ``ic_violation``, ``ir_violation`` and ``interim_utility`` (Fractions) per agent.
    """

    max_ic_violation: Fraction
    max_ir_violation: Fraction
    profit: Fraction
    max_bound_violation: Fraction
    worst_ic: dict | None = None
    worst_ir: dict | None = None
    per_agent: list[dict] = field(default_factory=list)
    ic: str = "bayesian"
    participation: str = "interim"

    def ok(self) -> bool:
        """True iff no violation at all (exactly)."""
        return self.max_ic_violation == 0 and self.max_ir_violation == 0 and self.max_bound_violation == 0

    def to_dict(self) -> dict:
        """JSON-ready: fraction strings beside floats."""
        out: dict[str, Any] = {
            "ic": self.ic,
            "participation": self.participation,
            "worst_ic": self.worst_ic,
            "worst_ir": self.worst_ir,
        }
        for key in ("max_ic_violation", "max_ir_violation", "profit", "max_bound_violation"):
            v = getattr(self, key)
            out[key] = fraction_str(v)
            out[f"{key}_float"] = float(v)
        out["per_agent"] = [
            {
                "agent": a["agent"],
                "ic_violation": fraction_str(a["ic_violation"]),
                "ir_violation": fraction_str(a["ir_violation"]),
                "interim_utility": [fraction_str(u) for u in a["interim_utility"]],
            }
            for a in self.per_agent
        ]
        return out


def _argmax(arr: np.ndarray):
    """Index and value of the largest entry of an object array (first one on ties)."""
    flat = arr.ravel()
    best, where = flat[0], 0
    for k in range(1, flat.size):
        if flat[k] > best:
            best, where = flat[k], k
    return np.unravel_index(where, arr.shape), best


def verify_exact(
    instance, x, m, *, ic: str = "bayesian", participation: str = "interim", veto: Sequence[str] | None = None
) -> ExactAudit:
    """Audit a mechanism by brute force in exact rational arithmetic.

    Parameters
    ----------
    instance : lpmech.Instance or ExactData
        Read exactly (:func:`lpmech.exact.data.exact_data`).
    x, m : array_like, shape K_1 x ... x K_N
        Trade probability and total transfer on every profile, in the file's grid order, as
        Fractions, ints, decimal strings or floats (floats taken at their exact binary value).
    ic : {"bayesian", "dominant"}
        Bayesian IC (beliefs: conditionals of the joint pmf) or dominant-strategy IC (every
        report against every profile of the others, possible or not; docs/model.md, section 2).
    participation : {"interim", "ex-post"}
        For the agents in ``veto`` (default: all); ex post IR at every profile, zero-probability
        ones included.

    Returns
    -------
    ExactAudit

    Raises
    ------
    ValueError
        Unknown options, agent names, or arrays of the wrong shape.

    Examples
    --------
    A collective posted price of 1/2 to two sellers is IC and IR, with profit exactly 1/8:

    >>> import lpmech
    >>> inst = lpmech.Instance("buy", [lpmech.Agent(n, [0.25, 0.75], [0.5, 0.5]) for n in "ab"],
    ...                        buyer_value=1.0)
    >>> a = verify_exact(inst, [[1, 0], [0, 0]], [["1/2", 0], [0, 0]])
    >>> a.max_ic_violation, a.max_ir_violation, a.profit
    (Fraction(0, 1), Fraction(0, 1), Fraction(1, 8))
    """
    if ic not in ("bayesian", "dominant"):
        raise ValueError(f'ic must be "bayesian" or "dominant", got {ic!r}')
    if participation not in ("interim", "ex-post"):
        raise ValueError(f'participation must be "interim" or "ex-post", got {participation!r}')
    data = instance if isinstance(instance, ExactData) else exact_data(instance)
    shape = data.shape
    x = qarray(x)
    m = qarray(m)
    if x.shape != shape or m.shape != shape:
        raise ValueError(f"x and m must have shape {shape}, got {x.shape} and {m.shape}")
    names = list(data.names)
    vetoes = set(names if veto is None else veto)
    unknown = vetoes - set(names)
    if unknown:
        raise ValueError(f"veto names unknown agent(s): {sorted(unknown)}")
    joint = data.joint_pmf()
    sign = data.sign
    worst_ic, worst_ir = ZERO, ZERO
    where_ic = where_ir = None
    per_agent = []
    for i, name in enumerate(names):
        share = q(data.shares[i])
        grid = qarray(data.grids[i])
        k = grid.size
        xi = np.moveaxis(x, i, 0).reshape(k, -1)  # [report s, others r]
        mi = np.moveaxis(m, i, 0).reshape(k, -1)
        pi = np.moveaxis(joint, i, 0).reshape(k, -1)  # [true t, others r]
        marg = pi.sum(axis=1)
        if data.independent:
            belief_row = pi[0] / marg[0]  # the same belief for every type
            exp_m = np.broadcast_to(mi.dot(belief_row), (k, k))  # [t, s] = E[m(s, θ_-i)]
            exp_x = np.broadcast_to(xi.dot(belief_row), (k, k))
        else:
            belief = pi / marg[:, None]
            exp_m = belief.dot(mi.T)
            exp_x = belief.dot(xi.T)
        util = (share * sign) * (exp_m - grid[:, None] * exp_x)  # [t, s]
        truthful = np.array([util[t, t] for t in range(k)], dtype=object)
        if ic == "bayesian":
            gains = util - truthful[:, None]
            (t_i, s_i), gap = _argmax(gains)
            ic_where = {"agent": name, "type": float(grid[t_i]), "report": float(grid[s_i])}
        else:
            gap, ic_where = None, None
            for t in range(k):  # every θ_−i, possible or not
                u = (share * sign) * (mi - grid[t] * xi)  # [s, r]
                g = u - u[t][None, :]
                (s_b, r_b), v = _argmax(g)
                if gap is None or v > gap:
                    gap = v
                    ic_where = {
                        "agent": name,
                        "type": float(grid[t]),
                        "report": float(grid[s_b]),
                        "others_profile": int(r_b),
                    }
        gap = max(gap, ZERO)
        if gap > worst_ic:
            worst_ic, where_ic = gap, ic_where
        ir_gap, ir_where = ZERO, None
        if name in vetoes:
            if participation == "interim":
                t = min(range(k), key=lambda j: truthful[j])
                ir_gap = max(ZERO, -truthful[t])
                ir_where = {"agent": name, "type": float(grid[t])}
            else:
                u = (share * sign) * (mi - grid[:, None] * xi)
                for t, r in itertools.product(range(k), range(u.shape[1])):  # every profile
                    if -u[t, r] > ir_gap:
                        ir_gap = -u[t, r]
                        ir_where = {"agent": name, "type": float(grid[t]), "others_profile": int(r)}
        if ir_gap > worst_ir:
            worst_ir, where_ir = ir_gap, ir_where
        per_agent.append(
            {
                "agent": name,
                "ic_violation": frac(gap),
                "ir_violation": frac(ir_gap),
                "interim_utility": [frac(u) for u in truthful],
            }
        )
    d = q(data.designer_value)
    if data.side == "buy":
        profit = (joint * (d * x - m)).sum()
    else:
        profit = (joint * (m - d * x)).sum()
    below = max((-v for v in x.ravel() if v < 0), default=ZERO)
    above = max((v - 1 for v in x.ravel() if v > 1), default=ZERO)
    return ExactAudit(
        max_ic_violation=frac(worst_ic),
        max_ir_violation=frac(worst_ir),
        profit=frac(profit),
        max_bound_violation=frac(max(below, above)),
        worst_ic=where_ic,
        worst_ir=where_ir,
        per_agent=per_agent,
        ic=ic,
        participation=participation,
    )
