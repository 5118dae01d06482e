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

:func:`constrained_posted_price` is the best posted price that respects what an instance's
``[mechanism]`` asks of every mechanism (docs/model.md, section 11): outside options, the
transfer and trade constraints, the participation notion and the IC notion, each audited on the
posted-price mechanism (x, p·x) from its definition. With interdependent values it gives no
number (a posted price is then in general not incentive compatible).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .instance import EngineProblem, Instance, limit_words
from .profiles import outer_accumulate
from .tolerances import ALLOCATION_TOL, CHECK_RTOL

__all__ = ["PostedPrice", "best_posted_price", "constrained_posted_price", "constraint_words"]


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
        x of the posted-price mechanism, file order. :func:`best_posted_price` builds it on first
        access from the per-agent acceptance vectors (a K^N array that lpmech's own checks never
        read: they use the price and the acceptance rates).
    transfer : ndarray, same shape
        m = p·x, the JSON sign convention (built on first access like ``allocation``).
    note : str or None
        Why no number is given (``value`` None), or what the price had to respect.
    """

    price: float | None
    value: float | None
    trade_probability: float | None
    allocation: np.ndarray | None = None
    transfer: np.ndarray | None = None
    note: str | None = None
    #: (instance, per-agent acceptance vectors 1{θ_i <= p} in engine order) to build x on demand
    accepts: tuple | None = field(default=None, repr=False, compare=False)

    def __getattribute__(self, name):
        if name in ("allocation", "transfer"):
            d = object.__getattribute__(self, "__dict__")
            if d.get(name) is None and d.get("accepts") is not None:
                inst, vectors = d["accepts"]
                # x(θ) = Π_i 1{θ_i <= p}, by nested outer products (one K^N write)
                x = inst.to_user(outer_accumulate(np.multiply, 1.0, vectors))
                d["allocation"], d["transfer"] = x, (d["price"] or 0.0) * x
        return object.__getattribute__(self, name)

    def to_dict(self) -> dict:
        out: dict = {"price": self.price, "value": self.value, "trade_probability": self.trade_probability}
        if self.note is not None:
            out["note"] = self.note
        return out


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
    if best <= 0:  # no trade: x = 0 (built on demand, like the arrays below)
        return PostedPrice(None, 0.0, 0.0, accepts=(instance, [np.zeros(k) for k in problem.shape]))
    ties = np.flatnonzero(values == best)
    k = int(ties[np.argmin(instance.user_money(prices[ties]))])
    p_engine = float(prices[k])
    p = instance.user_money(p_engine)
    accepts = [(g <= p_engine).astype(float) for g in problem.grids]
    return PostedPrice(p, float(values[k]), float(accept[k]), None, None, accepts=(instance, accepts))


#: Why a posted price gets no number with interdependent values.
INTERDEPENDENT_NOTE = (
    "n/a with interdependent values: a posted price is in general not incentive compatible "
    "(an agent's cost depends on the others' types, so accepting iff its own type is below the "
    "price is not an equilibrium)"
)


def constraint_words(mech) -> list[str]:
    """A mechanism's outside options and transfer and trade constraints as short words (empty: none).

    Parameters
    ----------
    mech : lpmech.instance.Mechanism

    Returns
    -------
    list of str
        "outside options", "no subsidy", "m <= X", "E[m] <= X", "P(trade) >= q", in this order.
    """
    return (["outside options"] if mech.outside_option is not None else []) + limit_words(mech)


def _audit_posted(instance: Instance, x: np.ndarray, m: np.ndarray) -> list[str]:
    """The [mechanism] constraints the posted-price mechanism (x, m) violates (empty: none).

    IC (Bayesian, or at every profile of the others for dominant-strategy / ex-post IC) and the
    file's participation notion with outside options for the veto holders
    (:func:`lpmech.checks.own_payoff_audit`), and the transfer and trade constraints
    (:func:`lpmech.checks.limits_audit`), each within its relative tolerance.
    """
    from .checks import limits_audit, own_payoff_audit

    mech = instance.mechanism
    pmf = instance.joint_pmf()
    ms = instance.shares.reshape((-1,) + (1,) * instance.n) * m[None]
    vetoes = instance.names if (mech.veto is None or mech.consent is not None) else list(mech.veto)
    ic = "bayesian" if mech.ic == "bayesian" else "dominant"
    audit = own_payoff_audit(instance, x, ms, ic=ic, participation=mech.participation, vetoes=vetoes)
    failed = []
    if audit["ic_relative"] > CHECK_RTOL:
        failed.append("incentive compatibility")
    if audit["ir_relative"] > CHECK_RTOL:
        failed.append(f"{mech.participation} participation with the outside options")
    size = float(np.sum(pmf * (abs(instance.designer_value) * x + np.abs(m))))
    measured, limits = limits_audit(instance, x, m, size)
    failed += [k.replace("_violation", "") for k, v in measured.items() if v > limits[k]]
    return failed


def constrained_posted_price(instance: Instance) -> PostedPrice:
    """The best collective posted price that respects the instance's [mechanism] constraints.

    A posted price p trades iff every agent accepts; agent i of type θ_i accepts iff its payoff
    from trading at p reaches its outside option, σ_i·(p − θ_i) >= r_i(θ_i) on the buy side
    (σ_i·(θ_i − p) >= r_i(θ_i) on the sell side; r_i = 0 without outside options: θ_i <= p,
    resp. θ_i >= p). The mechanism is x(θ) = Π_i 1{i accepts}, m = p·x. A price counts only if
    (x, m) passes the instance's IC and participation notions for the veto holders (outside
    options included) and its transfer and trade constraints (no subsidy: m >= 0; cap:
    m <= X at every profile; budget: E[m] <= X; P(trade) >= q), each audited from its
    definition. The candidates are every acceptance threshold, 0, the cap X, and the budget's
    X / P(trade) at every acceptance level: between two thresholds the acceptance set is fixed,
    profit falls as the price moves away from the designer's value, and the constraints are
    bounds on p, so the best feasible price is one of these. Without outside options and
    constraints this is :func:`best_posted_price`.

    Parameters
    ----------
    instance : Instance
        Any instance with type grids (independent or a joint pmf), with its ``mechanism``.

    Returns
    -------
    PostedPrice
        ``price`` (money per share, None for "no trade"), ``value`` (expected profit, money),
        ``trade_probability``, ``allocation`` and ``transfer`` (file order); ``note`` lists the
        settings the price respects. With interdependent values, or when no price (and not
        "no trade" either) satisfies the constraints, ``value`` is None and ``note`` says why.
    """
    if instance.interdependent:
        return PostedPrice(None, None, None, None, None, INTERDEPENDENT_NOTE)
    words = constraint_words(instance.mechanism)
    if not words:  # thresholds θ_i <= p: DSIC and ex-post IR by construction
        return best_posted_price(instance)
    from .general import outside_options

    mech = instance.mechanism
    s = instance.money_sign  # engine price q = s·p; accept iff q >= s·θ + r/σ
    pmf = instance.joint_pmf()
    thresholds = [s * g + r / sh for g, r, sh in zip(instance.grids, outside_options(instance), instance.shares)]
    d = s * instance.designer_value
    prices = set((s * np.concatenate(thresholds)).tolist()) | {0.0}
    if mech.max_transfer is not None:
        prices.add(float(mech.max_transfer))

    def mechanism_at(p):
        q = s * p
        accept = [(t <= q).astype(float) for t in thresholds]
        x = outer_accumulate(np.multiply, 1.0, accept)
        return x, float(np.sum(pmf * x))

    if mech.budget is not None:
        levels = {mechanism_at(p)[1] for p in list(prices)}
        prices |= {mech.budget / P for P in levels if P > ALLOCATION_TOL}
    best, failures = None, set()
    none_x = np.zeros(instance.shape)
    candidates = [(None, none_x, 0.0)] + [(float(p), *mechanism_at(p)) for p in sorted(prices)]
    for p, x, P in candidates:
        value = 0.0 if p is None else (d - s * p) * P
        if best is not None and (value < best[1] or (value == best[1] and p is not None)):
            continue  # not better (on a tie the first: no trade, then the lowest price)
        m = np.zeros(instance.shape) if p is None else p * x
        failed = _audit_posted(instance, x, m)
        if failed:
            failures.update(failed)
            continue
        best = (p, value, P, x, m)
    note = "respects " + ", ".join(words) if words else None
    if best is None:
        why = ", ".join(sorted(failures))
        return PostedPrice(None, None, None, None, None, f"n/a: every posted price (and no trade) violates {why}")
    p, value, P, x, m = best
    if p is None or P == 0.0:
        return PostedPrice(None, 0.0, 0.0, none_x, none_x.copy(), note)
    return PostedPrice(p, float(value), float(P), x, m, note)
