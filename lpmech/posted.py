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

from .instance import EngineProblem, Instance
from .profiles import outer_accumulate

__all__ = ["PostedPrice", "best_posted_price"]


@dataclass
class PostedPrice:
    """The best collective posted price; ``price`` is None when no price gives positive profit.

    Attributes
    ----------
    price : float or None
        The price per share offered to every agent (the instance's money units).
    value : float
        Its expected profit, money (0 when no price is profitable).
    trade_probability : float
        P(every agent accepts).
    allocation : ndarray, shape (K_1, ..., K_N)
        x of the posted-price mechanism, file order.
    transfer : ndarray, same shape
        m = p·x, the JSON sign convention.
    """

    price: float | None
    value: float
    trade_probability: float
    allocation: np.ndarray  # x of the posted-price mechanism (file order)
    transfer: np.ndarray  # m = p·x (JSON sign convention)

    def to_dict(self) -> dict:
        return {"price": self.price, "value": self.value, "trade_probability": self.trade_probability}


def _acceptance(problem: EngineProblem, prices: np.ndarray) -> np.ndarray:
    """P(every agent accepts) at each candidate engine price: P(θ_i <= p for all i), read off
    the N-d cumulative array of the engine's joint pmf; for independent types the product of the
    marginal CDFs Π_i F_i(p) (the same probability, no K^N array)."""
    idx = [np.searchsorted(g, prices, side="right") - 1 for g in problem.grids]
    if problem.probs is not None:
        out = np.ones(prices.shape)
        for k, p in zip(idx, problem.probs):
            cdf = np.cumsum(p)
            out = out * np.where(k >= 0, cdf[np.maximum(k, 0)], 0.0)
        return out
    cum = problem.joint_pmf()
    for ax in range(problem.n):
        cum = np.cumsum(cum, axis=ax)
    # idx: the largest grid point <= p (or -1: nobody of that agent accepts)
    valid = np.all([k >= 0 for k in idx], axis=0)
    safe = tuple(np.where(k >= 0, k, 0) for k in idx)
    return np.where(valid, cum[safe], 0.0)


def best_posted_price(instance: Instance) -> PostedPrice:
    """The profit-maximizing collective posted price (per-share units).

    Solved in the engine's buy-side form (:meth:`lpmech.Instance.engine`) and mapped back with
    :meth:`lpmech.Instance.user_money` and :meth:`lpmech.Instance.to_user`; among equally
    profitable prices the lowest (in the instance's own terms) is returned.

    Parameters
    ----------
    instance : Instance
        Any instance with type grids (independent or a joint pmf).

    Returns
    -------
    PostedPrice
        ``price`` (money per share, None when no price earns a positive profit), ``value``
        (expected profit, money per share), ``trade_probability``, ``allocation`` and
        ``transfer`` (arrays of the profile grid's shape, file order).

    Examples
    --------
    >>> import lpmech
    >>> inst = lpmech.Instance("buy", [lpmech.Agent(n, [0.25, 0.75], [0.5, 0.5]) for n in "ab"],
    ...                        buyer_value=1.0)
    >>> pp = best_posted_price(inst)
    >>> pp.price, pp.value
    (0.75, 0.25)
    """
    problem = instance.engine()
    prices = np.unique(np.concatenate(problem.grids))
    accept = _acceptance(problem, prices)
    values = (problem.b - prices) * accept
    best = float(np.max(values))
    shape = instance.shape
    if best <= 0:
        zero = np.zeros(shape)
        return PostedPrice(None, 0.0, 0.0, zero, zero.copy())
    ties = np.flatnonzero(values == best)
    k = int(ties[np.argmin(instance.user_money(prices[ties]))])
    p_engine = float(prices[k])
    # x(θ) = Π_i 1{θ_i <= p}, by nested outer products (one K^N write)
    x = instance.to_user(outer_accumulate(np.multiply, 1.0, [(g <= p_engine).astype(float) for g in problem.grids]))
    p = instance.user_money(p_engine)
    return PostedPrice(p, float(values[k]), float(accept[k]), x, p * x)
