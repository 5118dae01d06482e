"""The best collective posted price (docs/model.md, section 7).

A collective posted price p sets m = p·x: trade happens iff every agent accepts (buy side:
θ_i <= p for all i; sell side: θ_i >= p). The designer's profit is (b - p)·P(all θ_i <= p)
on the buy side and (p - c)·P(all θ_i >= p) on the sell side. The acceptance probability is
a step function of p that jumps only at grid points, so the best price is a grid point of
some agent (between grid points moving p towards b only raises the margin). Works with
independent or correlated types: the acceptance probability is read off the N-d cumulative
(buy) or survival (sell) array of the joint pmf.

With one agent the best posted price is optimal (Myerson 1981; Riley and Zeckhauser 1983);
with two or more it is not (Haghpanah, Kuvalekar and Lipnowski 2021, 2024).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .instance import Instance

__all__ = ["PostedPrice", "best_posted_price"]


@dataclass
class PostedPrice:
    """The best collective posted price; ``price`` is None when no price gives positive profit."""

    price: float | None
    value: float
    trade_probability: float
    allocation: np.ndarray     # x of the posted-price mechanism (file order)
    transfer: np.ndarray       # m = p·x (JSON sign convention)

    def to_dict(self) -> dict:
        return {"price": self.price, "value": self.value, "trade_probability": self.trade_probability}


def _acceptance(instance: Instance, prices: np.ndarray) -> np.ndarray:
    """P(every agent accepts) at each candidate price."""
    joint = instance.joint_pmf()
    n = instance.n
    if instance.side == "buy":
        cum = joint
        for ax in range(n):
            cum = np.cumsum(cum, axis=ax)
        # index of the largest grid point <= p (or -1: nobody of that agent accepts)
        idx = [np.searchsorted(g, prices, side="right") - 1 for g in instance.grids]
    else:
        cum = joint
        for ax in range(n):
            cum = np.flip(np.cumsum(np.flip(cum, axis=ax), axis=ax), axis=ax)
        idx = [np.searchsorted(g, prices, side="left") for g in instance.grids]
        idx = [np.where(k >= g.size, -1, k) for k, g in zip(idx, instance.grids)]
    valid = np.all([k >= 0 for k in idx], axis=0)
    safe = tuple(np.where(k >= 0, k, 0) for k in idx)
    return np.where(valid, cum[safe], 0.0)


def best_posted_price(instance: Instance) -> PostedPrice:
    """The profit-maximizing collective posted price (per-share units).

    Examples
    --------
    >>> import lpmech
    >>> inst = lpmech.Instance("buy", [lpmech.Agent(n, [0.25, 0.75], [0.5, 0.5]) for n in "ab"],
    ...                        buyer_value=1.0)
    >>> pp = best_posted_price(inst)
    >>> pp.price, pp.value
    (0.75, 0.25)
    """
    prices = np.unique(np.concatenate(instance.grids))
    accept = _acceptance(instance, prices)
    margin = instance.buyer_value - prices if instance.side == "buy" else prices - instance.seller_cost
    values = margin * accept
    k = int(np.argmax(values))
    shape = instance.shape
    if values[k] <= 0:
        zero = np.zeros(shape)
        return PostedPrice(None, 0.0, 0.0, zero, zero.copy())
    p = float(prices[k])
    accepts = [g <= p if instance.side == "buy" else g >= p for g in instance.grids]
    x = np.ones(shape)
    for i, a in enumerate(accepts):
        x = x * a.reshape([-1 if j == i else 1 for j in range(instance.n)])
    return PostedPrice(p, float(values[k]), float(accept[k]), x, p * x)
