"""Brute-force audit of any mechanism (x, m) on an instance's grid.

:func:`verify` needs nothing but the instance and the two arrays: for every agent, every
true type and every report it computes the agent's expected payoff and returns the worst
incentive and participation violations and the designer's expected profit. It works in the
instance's own units and orientation (the file's grid order, per-share types, the transfer
as the JSON's ``transfer``: designer to group on the buy side, group to designer on the sell
side) with its own formulas for each side, so it checks the engine's sell-side mapping too.

Payoffs (theory.md, section 1): buy side, agent i gets σ_i (m − θ_i x) and the buyer b x − m;
sell side, agent i gets σ_i (θ_i x − m) and the seller m − c x.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from .instance import Instance

__all__ = ["verify", "Audit"]


@dataclass
class Audit:
    """What :func:`verify` found. Violations are in the agents' payoff units (share included)."""

    max_ic_violation: float
    max_ir_violation: float
    profit: float
    max_bound_violation: float
    worst_ic: dict | None = None
    worst_ir: dict | None = None
    per_agent: list[dict] = field(default_factory=list)
    ic: str = "bayesian"
    participation: str = "interim"

    def ok(self, tol: float) -> bool:
        return max(self.max_ic_violation, self.max_ir_violation, self.max_bound_violation) <= tol

    def to_dict(self) -> dict:
        return {"max_ic_violation": self.max_ic_violation, "max_ir_violation": self.max_ir_violation,
                "profit": self.profit, "max_bound_violation": self.max_bound_violation,
                "worst_ic": self.worst_ic, "worst_ir": self.worst_ir, "ic": self.ic,
                "participation": self.participation}


def _payoff_sign(side: str) -> float:
    # Per-share payoff is sign * (m - θ x): buy side m - θx, sell side θx - m.
    return 1.0 if side == "buy" else -1.0


def verify(instance: Instance, x, m, *, ic: str = "bayesian", participation: str = "interim",
           veto: Sequence[str] | None = None) -> Audit:
    """Audit a mechanism by brute force.

    Parameters
    ----------
    instance : Instance
    x, m : array_like, shape K_1 x ... x K_N
        Trade probability and total transfer on every profile, in the file's grid order.
    ic : {"bayesian", "dominant"}
        Bayesian IC (interim, beliefs are the conditionals of the joint pmf) or dominant-strategy
        IC (every report against every profile of the others).
    participation : {"interim", "ex-post"}
        Interim IR or ex-post IR, for the agents named in ``veto`` (default: all).

    Returns
    -------
    Audit
        Worst IC and IR violations (0 when none), their location, and the designer's expected profit.

    Examples
    --------
    A collective posted price p = 0.5 to two sellers is IC and IR:

    >>> import numpy as np, lpmech
    >>> inst = lpmech.Instance("buy", [lpmech.Agent(n, [0.25, 0.75], [0.5, 0.5]) for n in "ab"],
    ...                        buyer_value=1.0)
    >>> x = np.array([[1.0, 0.0], [0.0, 0.0]]); m = 0.5 * x
    >>> a = lpmech.verify(inst, x, m)
    >>> a.max_ic_violation, a.max_ir_violation, a.profit
    (0.0, 0.0, 0.125)
    """
    if ic not in ("bayesian", "dominant"):
        raise ValueError(f'ic must be "bayesian" or "dominant", got {ic!r}')
    if participation not in ("interim", "ex-post"):
        raise ValueError(f'participation must be "interim" or "ex-post", got {participation!r}')
    shape = instance.shape
    x = np.asarray(x, dtype=float)
    m = np.asarray(m, dtype=float)
    if x.shape != shape or m.shape != shape:
        raise ValueError(f"x and m must have shape {shape}, got {x.shape} and {m.shape}")
    names = instance.names
    vetoes = set(names if veto is None else veto)
    unknown = vetoes - set(names)
    if unknown:
        raise ValueError(f"veto names unknown agent(s): {sorted(unknown)}")
    joint = instance.joint_pmf()
    sign = _payoff_sign(instance.side)
    worst_ic, worst_ir = 0.0, 0.0
    where_ic: dict | None = None
    where_ir: dict | None = None
    per_agent = []
    for i, (name, share, grid) in enumerate(zip(names, instance.shares, instance.grids)):
        k = grid.size
        xi = np.moveaxis(x, i, 0).reshape(k, -1)          # [report s, others r]
        mi = np.moveaxis(m, i, 0).reshape(k, -1)
        pi = np.moveaxis(joint, i, 0).reshape(k, -1)       # [true t, others r]
        belief = pi / pi.sum(axis=1, keepdims=True)       # P(θ_-i = r | θ_i = t)
        if ic == "bayesian":
            exp_m = belief @ mi.T                         # [t, s] = E[m(s, θ_-i) | t]
            exp_x = belief @ xi.T
            util = share * sign * (exp_m - grid[:, None] * exp_x)   # [t, s]
            truthful = np.diag(util)
            gains = util - truthful[:, None]
            t_idx, s_idx = np.unravel_index(np.argmax(gains), gains.shape)
            ic_gap = float(gains[t_idx, s_idx])
            ic_where = {"agent": name, "type": float(grid[t_idx]), "report": float(grid[s_idx])}
        else:
            # u[t, s, r] = payoff of true type t reporting s against others r; only r with P(t, r) > 0 matter.
            ic_gap, ic_where = -np.inf, None
            for t in range(k):
                live = pi[t] > 0
                u = share * sign * (mi[:, live] - grid[t] * xi[:, live])      # [s, r]
                g = u - u[t][None, :]
                s_best, r_best = np.unravel_index(np.argmax(g), g.shape)
                if g[s_best, r_best] > ic_gap:
                    ic_gap = float(g[s_best, r_best])
                    ic_where = {"agent": name, "type": float(grid[t]), "report": float(grid[s_best]),
                                "others_profile": int(np.flatnonzero(live)[r_best])}
            truthful = share * sign * ((belief * mi).sum(axis=1) - grid * (belief * xi).sum(axis=1))
        ic_gap = max(ic_gap, 0.0)
        if ic_gap > worst_ic:
            worst_ic, where_ic = ic_gap, ic_where
        ir_gap, ir_where = 0.0, None
        if name in vetoes:
            if participation == "interim":
                t = int(np.argmin(truthful))
                ir_gap = max(0.0, -float(truthful[t]))
                ir_where = {"agent": name, "type": float(grid[t])}
            else:
                u = share * sign * (mi - grid[:, None] * xi)
                u = np.where(pi > 0, u, np.inf)
                t, r = np.unravel_index(np.argmin(u), u.shape)
                ir_gap = max(0.0, -float(u[t, r]))
                ir_where = {"agent": name, "type": float(grid[t]), "others_profile": int(r)}
        if ir_gap > worst_ir:
            worst_ir, where_ir = ir_gap, ir_where
        per_agent.append({"agent": name, "ic_violation": ic_gap, "ir_violation": ir_gap,
                          "interim_utility": truthful.tolist()})
    if instance.side == "buy":
        profit = float(np.sum(joint * (instance.buyer_value * x - m)))
    else:
        profit = float(np.sum(joint * (m - instance.seller_cost * x)))
    bound = float(max(0.0, -x.min(), x.max() - 1.0))
    return Audit(max_ic_violation=worst_ic, max_ir_violation=worst_ir, profit=profit,
                 max_bound_violation=bound, worst_ic=where_ic, worst_ir=where_ir,
                 per_agent=per_agent, ic=ic, participation=participation)
