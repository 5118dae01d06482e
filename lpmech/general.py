"""The general LP over ex post mechanisms (docs/model.md, section 9).

Variables are the trade probability x(θ) ∈ [0, 1] and the total transfer m(θ) on every type
profile θ of the grid, in the instance's own units (the file's grid order; ``m`` is designer to
group on the buy side and group to designer on the sell side). Agent i's payoff is
σ_i·sign·(m − θ_i x) with sign = +1 on the buy side and −1 on the sell side, and the designer's
profit is sign·(d·x − m) with d the buyer's value b or the seller's cost c. Rows, all of the form
``G @ [x; m] >= 0`` and stated per unit of share (σ_i > 0 divides out), are the model's
definitions (docs/model.md, section 2), each on the whole profile grid:

* ``"ic"``: Bayesian IC for every agent and every pair (true type t, report s), with beliefs the
  conditionals P(θ_−i | θ_i = t) of the joint pmf (Myerson 1981; correlated types as in
  Crémer and McLean 1988); or dominant-strategy IC, the same inequality for **every** θ_−i
  separately, whether or not (t, θ_−i) has positive probability (neighbouring types suffice,
  see :func:`_dominant_ic`).
* ``"participation"``: interim IR (one row per type) or ex-post IR at **every** profile,
  zero-probability profiles included (one row per profile), for each agent holding a veto
  (default: all agents).

There is deliberately no option for the weaker "almost sure" reading (DSIC and ex-post IR only
where the profile has positive probability): it is not the model's definition, and it changes
answers (on grids/correlated_sellers.toml it put BIC with ex-post IR at 0.31520921 instead of
the model's 0.28777081). A researcher who wants it can build it from :func:`lpmech.model.model`.

The objective is the designer's expected profit, or with ``pareto = λ`` profit plus λ times
the agents' total expected surplus (shares included). m is free on every profile and x lies in
[0, 1]; nothing else is imposed. With independent types and the default options this LP has
the value of the maximin LP of Haghpanah, Kuvalekar and Lipnowski ("Selling to a Group", EC
2021; "Buying from a Group", 2024), which the tests check. With independent private values,
linear utilities and *individual* transfers, Bayesian and dominant-strategy implementation give
the same interim outcomes on a continuum (Gershkov, Goeree, Kushnir, Moldovanu and Shi,
Econometrica 2013); here the group shares one transfer and types live on grids, so what DSIC or
ex post IR cost is a numerical question this module answers, not an assumption it makes.

Every row block is assembled with :mod:`scipy.sparse` from index arrays (a loop over agents,
none over profiles). The HiGHS model gives each agent's interim expectations columns of their
own (:meth:`GeneralLP.highs_form`), which keeps the all-pairs IC rows short, and is solved
through :mod:`lpmech.highs`; the families where it measured faster (:func:`_lazy_family`:
Bayesian IC with interim IR, DSIC with ex post IR) are instead solved with every row written
out over profiles, a row joining the model only once a solution violates it
(:class:`_LazyRows`: the last solution satisfies every row, so it is the whole LP's optimum). Every solution is audited by :func:`lpmech.audit.verify` with the
same options; a violation above :data:`lpmech.tolerances.CHECK_RTOL` times the magnitude of the
payoffs it compares, or a gap between the LP's value and the audited profit above CHECK_RTOL
times E|d·x| + E|m|, raises :class:`lpmech.errors.CheckError`.

Well-posedness and the mechanism returned
-----------------------------------------
* **Pareto weight.** Paying the group one more unit on every profile keeps every IC and IR row
  and changes profit + λ·surplus by λ − 1, so λ > 1 is unbounded and is rejected. At λ = 1 the
  objective is total welfare (profit + surplus) and its split is indeterminate: the solver then
  maximizes profit among the welfare-maximizing mechanisms (the limit λ → 1 from below). At an
  explicit λ = 0 it picks, among the profit maximizers, one with the largest surplus, so every
  Pareto solution is Pareto efficient (``pareto=None``, plain profit, skips this second solve).
* **No veto.** Without any participation row the designer can take any amount from the group;
  an empty veto set is rejected.
* **Zero-probability profiles.** With a joint pmf some profiles θ⁰ may have probability 0. They
  carry no objective weight, but x(θ⁰) and m(θ⁰) are part of the mechanism: they are what an
  agent gets by misreporting into θ⁰ (every IC row), and DSIC and ex-post IR hold there as at
  every profile. With Bayesian IC and interim IR, m(θ⁰) enters only as a deviation payoff, so
  the optimal set is unbounded in it (a larger fine only relaxes rows); the value is not. The
  mechanism returned is, among the optimal ones, one with the smallest Σ|m(θ⁰)| over the
  zero-probability profiles (a second, lexicographic solve with the optimal value held within
  ``LEX_RTOL`` times the magnitude of its terms): no sign or bound is imposed on m(θ⁰).
* **Transfers on positive-probability profiles** are not unique either (e.g. adding
  f(θ_1)g(θ_2) with zero means keeps every interim row); the value and the interim quantities
  are what the LP determines, and the transfer returned is one optimal vertex.

Units and conditioning
----------------------
The LP is assembled in a money unit of the instance's own (:func:`lpmech.instance.unit_scale`, a
power of two, blind to far-out types), so the same instance in cents or in billions is the same
LP and gives the same answer, scaled. A type far from the others still spreads the LP's
coefficients: above ``CROSSCHECK_SPREAD`` units the optimum is confirmed by HiGHS's other
algorithm, and above ``MAX_SPREAD`` units the LP is refused (CheckError), because HiGHS's
absolute tolerances would then allow errors that no audit can tell from the answer.

Bad input (not an Instance, a mechanism dict with unknown keys, a veto that is a string or
names an unknown agent, λ outside [0, 1]) raises :class:`lpmech.errors.InstanceError` naming the
field.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np
import scipy.sparse as sp

from .audit import check_veto
from .errors import CheckError, InstanceError, SolverError
from .highs import FEAS_TOL, INF, cold_simplex, make_highs, run
from .instance import Instance, Mechanism, unit_scale
from .profiles import agent_view, along, beliefs, conditional_interim, outer_pmf
from .tolerances import (
    ALLOCATION_TOL,
    CHECK_RTOL,
    CROSSCHECK_SPREAD,
    LEX_RTOL,
    MAX_SPREAD,
    PROB_TOL,
    TINY,
    WEIGHT_TOL,
)

__all__ = [
    "solve_general",
    "solve_individual",
    "mechanism_scale_ok",
    "assemble",
    "GeneralLP",
    "RowBlock",
    "GeneralResult",
    "CheckError",
    "first_best",
    "profit_bound",
    "CHECK_RTOL",
    "GENERAL_LP_MAX_PROFILES",
    "LEX_RTOL",
    "CROSSCHECK_SPREAD",
    "MAX_SPREAD",
]

#: The general LP's cap on profiles (:func:`lpmech.solve` with ``method="general"``, ``compare``,
#: ``frontier``): it has a transfer column per profile and IC rows per pair of types, and grows far
#: faster than the maximin LP, whose cap is :data:`lpmech.instance.DEFAULT_MAX_PROFILES`.
GENERAL_LP_MAX_PROFILES = 20_000


def _weighted_types(instance: Instance, members: list[int]) -> np.ndarray:
    """Σ_{i in members} σ_i c_i(θ) / Σ σ_i over the profile grid, c_i(θ) = θ_i (+ Σ_j γ_ij θ_j)."""
    shares = instance.shares
    total = np.zeros(instance.shape)
    extra = interdependent_costs(instance)
    for i in members:
        total = total + shares[i] * along(instance.grids[i], i, instance.n)
        if extra is not None:
            total = total + shares[i] * extra[i]
    return total / shares[members].sum()


def first_best(instance: Instance) -> float:
    """The first-best surplus: buy side E[(b − Σσ_iθ_i)_+], sell side E[(Σσ_iθ_i − c)_+].

    Parameters
    ----------
    instance : Instance

    Returns
    -------
    float
        In the instance's money units.

    Raises
    ------
    InstanceError
        If ``instance`` is not an :class:`Instance`.

    Examples
    --------
    >>> from lpmech.instance import Agent, Instance
    >>> inst = Instance("buy", [Agent(n, [0.25, 0.75], [0.5, 0.5]) for n in "ab"], buyer_value=1.0)
    >>> first_best(inst)
    0.5
    """
    _check_instance(instance)
    return profit_bound(instance, instance.names)


def profit_bound(instance: Instance, vetoes) -> float:
    """Upper bound on profit when only ``vetoes`` hold participation constraints.

    Summing their IR constraints with weights σ_i gives E[m] >= E[θ̄ x] (buy side) with θ̄ the
    share-weighted mean type of the vetoes, so profit <= E[(b − θ̄)_+]; with every agent a veto
    this is :func:`first_best`.

    Parameters
    ----------
    instance : Instance
    vetoes : list of str
        Names of the agents holding a veto.

    Returns
    -------
    float
        In the instance's money units.

    Raises
    ------
    InstanceError
        If ``vetoes`` is not a list of the instance's agent names (a string is refused).
    """
    _check_instance(instance)
    names = check_veto(instance, vetoes, "vetoes")
    if not names:
        raise InstanceError("is empty: with no participation constraint profit is unbounded", field="vetoes")
    members = [instance.names.index(v) for v in names]
    gain = instance.money_sign * (instance.designer_value - _weighted_types(instance, members))
    return float(np.sum(instance.joint_pmf() * np.maximum(gain, 0.0)))


def _check_instance(instance) -> None:
    if not isinstance(instance, Instance):
        raise InstanceError(f"must be an lpmech.Instance, got {type(instance).__name__}", field="instance")


_MECHANISM_KEYS = (
    "ic",
    "participation",
    "veto",
    "pareto",
    "transfers",
    "outside_option",
    "consent",
    "no_subsidy",
    "max_transfer",
    "budget",
    "min_trade_probability",
)


def _resolve(instance: Instance, mechanism: Mechanism | Mapping | None) -> Instance:
    """The instance with the mechanism to solve, validated against it."""
    _check_instance(instance)
    if mechanism is None:
        mech = instance.mechanism
    else:
        if isinstance(mechanism, Mapping):
            unknown = sorted(str(k) for k in mechanism if k not in _MECHANISM_KEYS)
            if unknown:
                raise InstanceError(
                    f"unknown option(s) {', '.join(unknown)} (known: {', '.join(_MECHANISM_KEYS)})", field="mechanism"
                )
            veto = mechanism.get("veto")
            if veto is not None:
                check_veto(instance, veto, "mechanism.veto")  # a string or unknown name is bad input
            try:
                mech = Mechanism(**mechanism)
            except TypeError as err:
                raise InstanceError(f"is malformed: {err}", field="mechanism") from None
        else:
            mech = mechanism
        if not isinstance(mech, Mechanism):
            raise InstanceError("must be a Mechanism or a dict of its options", field="mechanism")
        instance = replace(instance, mechanism=mech, agents=instance.agents)
    if mech.veto is not None:
        check_veto(instance, mech.veto, "mechanism.veto")
    if mech.veto is not None and len(mech.veto) == 0:
        raise InstanceError(
            "is empty: with no participation constraint the designer's profit is "
            "unbounded (it can charge the group any amount)",
            field="mechanism.veto",
            source=instance.source,
        )
    if mech.pareto is not None and mech.pareto > 1.0:
        raise InstanceError(
            f"is {mech.pareto:g} > 1: the LP is unbounded (paying the group one more "
            "unit everywhere keeps every constraint and raises profit + λ·surplus "
            "by λ − 1); use 0 <= λ <= 1",
            field="mechanism.pareto",
            source=instance.source,
        )
    if mech.transfers == "individual":
        individual_options_ok(instance)
    if instance.interdependent and mech.ic == "dominant":
        raise InstanceError(
            'is "dominant", which is not defined here with interdependent values (a cost depends on '
            'the others\' true types, not their reports): use "ex-post" (ex-post IC) or "bayesian"',
            field="mechanism.ic",
            source=instance.source,
        )
    return instance


# --------------------------------------------------------------------------- assembly
@dataclass(frozen=True, eq=False)
class _Agent:
    """One agent's view of the profile grid, as the row makers need it."""

    view: np.ndarray  # K x R flat profile indices (own type on rows)
    belief: np.ndarray  # K x R conditional pmf of θ_−i given each own type
    grid: np.ndarray
    n: int  # number of profiles
    sign: float  # +1 buy side, −1 sell side
    extra: np.ndarray | None = None  # interdependent values: Σ_j γ_ij θ_j at each θ_−i = r (LP units)

    @property
    def k(self) -> int:
        return self.grid.size

    def beliefs(self) -> tuple[np.ndarray, np.ndarray]:
        """The distinct beliefs (U x R) and, for each own type, the index of its belief."""
        uniq, which = np.unique(self.belief, axis=0, return_inverse=True)
        return uniq, np.asarray(which).ravel()


def _beliefs(instance: Instance, view: np.ndarray, i: int) -> np.ndarray:
    """P(θ_−i = r | θ_i = t) as a K_i x R array (identical rows when types are independent)."""
    if instance.independent:
        others = outer_pmf([p for j, p in enumerate(instance.probs) if j != i]).ravel()
        return np.broadcast_to(others, view.shape).copy()
    return beliefs(instance.joint, i)


def _interim_operator(agent: _Agent) -> sp.csr_matrix:
    """E (2·U·K x 2n) mapping [x; m] to [E_u[x(s, θ_−i)]; E_u[m(s, θ_−i)]] for each distinct belief u.

    Entry u·K + s of each half is the expectation, under belief u, of the outcome when the
    agent reports s. With independent types every type has the same belief (U = 1) and this
    is the usual interim operator; with a joint pmf U is the number of distinct conditionals.
    """
    uniq, _ = agent.beliefs()
    k, n = agent.k, agent.n
    u, s = np.divmod(np.arange(uniq.shape[0] * k), k)
    weights, profiles = uniq[u], agent.view[s]
    live = weights != 0
    rows = np.broadcast_to(np.arange(u.size)[:, None], weights.shape)[live]
    ex = sp.csr_matrix((weights[live], (rows, profiles[live])), shape=(u.size, n))
    return sp.block_diag([ex, ex], format="csr")


def _interim_payoff(agent: _Agent) -> sp.csr_matrix:
    """F (K² x 2·U·K): row t·K + s is sign·(E_u(t)[m(s, ·)] − t·E_u(t)[x(s, ·)]) over E's output.

    So F @ E maps [x; m] to the interim payoffs (per unit of share) of every true type t and
    report s under t's belief.
    """
    uniq, which = agent.beliefs()
    k = agent.k
    width = uniq.shape[0] * k
    t, s = np.divmod(np.arange(k * k), k)
    col = which[t] * k + s
    rows = np.arange(t.size)
    data = agent.sign * np.concatenate([-agent.grid[t], np.ones(t.size)])
    return sp.csr_matrix(
        (data, (np.concatenate([rows, rows]), np.concatenate([col, col + width]))), shape=(t.size, 2 * width)
    )


def _pick(k: int, t: np.ndarray, s: np.ndarray) -> sp.csr_matrix:
    """Rows selecting entry t·K + s of a length-K² interim payoff vector."""
    return sp.csr_matrix((np.ones(t.size), (np.arange(t.size), t * k + s)), shape=(t.size, k * k))


def _expected_payoff(agent: _Agent, t: np.ndarray, s: np.ndarray) -> sp.csr_matrix:
    """Rows over [x; m]: E[sign·(m(s, r) − (t + e(r))·x(s, r)) | θ_i = t] for each pair (t, s).

    Written out over profiles (the interdependent case, where the cost e(r) = Σ_j γ_ij θ_j
    depends on the others' true types and the interim operator of x and m alone does not
    suffice).
    """
    k_r = agent.view.shape[1]
    extra = np.zeros(k_r) if agent.extra is None else agent.extra
    rows = np.repeat(np.arange(t.size), k_r)
    tt, ss = np.repeat(t, k_r), np.repeat(s, k_r)
    r = np.tile(np.arange(k_r), t.size)
    w = agent.belief[tt, r]
    live = w != 0
    rows, tt, ss, r, w = rows[live], tt[live], ss[live], r[live], w[live]
    prof = agent.view[ss, r]
    data = agent.sign * np.concatenate([-w * (agent.grid[tt] + extra[r]), w])
    return sp.csr_matrix(
        (data, (np.concatenate([rows, rows]), np.concatenate([prof, prof + agent.n]))), shape=(t.size, 2 * agent.n)
    )


def _bayesian_ic(agent: _Agent):
    """Every pair (t, s), s != t: the truthful interim payoff is at least the deviation's."""
    t, s = np.nonzero(~np.eye(agent.k, dtype=bool))
    if agent.extra is not None:
        return "profile", _expected_payoff(agent, t, t) - _expected_payoff(agent, t, s)
    return "interim", _pick(agent.k, t, t) - _pick(agent.k, t, s)


def _interim_ir(agent: _Agent):
    """The truthful interim payoff of every type is nonnegative."""
    t = np.arange(agent.k)
    if agent.extra is not None:
        return "profile", _expected_payoff(agent, t, t)
    return "interim", _pick(agent.k, t, t)


def _dominant_ic(agent: _Agent):
    """Dominant-strategy IC: for every θ_−i = r (possible or not) and every pair (t, s).

    At a fixed r the payoff sign·(m(s, r) − t·x(s, r)) is linear in t, so IC between
    neighbouring grid types in both directions implies it between all pairs (the usual
    single-crossing chain: the two neighbour rows give monotone x(·, r), then the rows add up).
    So the 2(K−1) neighbour rows per r are exact and stand for the K(K−1) pairs.
    """
    k, n_r = agent.view.shape
    lo, r = np.divmod(np.arange((k - 1) * n_r), n_r)
    hi = lo + 1
    t = np.concatenate([lo, hi])
    s = np.concatenate([hi, lo])
    r = np.concatenate([r, r])
    return "profile", _ex_post_payoff(agent, t, t, r) - _ex_post_payoff(agent, t, s, r)


def _ex_post_ir(agent: _Agent):
    """sign·(m − θ_i x) >= 0 on every profile (zero-probability profiles included)."""
    t, r = np.divmod(np.arange(agent.view.size), agent.view.shape[1])
    return "profile", _ex_post_payoff(agent, t, t, r)


def _ex_post_payoff(agent: _Agent, t: np.ndarray, s: np.ndarray, r: np.ndarray) -> sp.csr_matrix:
    """Rows sign·(m − t·x) at the profile (s, r): true type t reports s, the others are r."""
    rows = np.arange(t.size)
    prof = agent.view[s, r]
    cost = agent.grid[t] if agent.extra is None else agent.grid[t] + agent.extra[r]
    data = agent.sign * np.concatenate([-cost, np.ones(t.size)])
    return sp.csr_matrix(
        (data, (np.concatenate([rows, rows]), np.concatenate([prof, prof + agent.n]))), shape=(t.size, 2 * agent.n)
    )


def _ex_ante_ir(agent: _Agent, own_pmf: np.ndarray):
    """The expected truthful payoff over the agent's own types is nonnegative (one row)."""
    k = agent.k
    t = np.arange(k)
    if agent.extra is not None:
        return "profile", sp.csr_matrix(own_pmf[None, :] @ _expected_payoff(agent, t, t))
    return "interim", sp.csr_matrix((own_pmf, (np.zeros(k, dtype=int), t * k + t)), shape=(1, k * k))


_IC_ROWS = {"bayesian": _bayesian_ic, "dominant": _dominant_ic, "ex-post": _dominant_ic}


def interdependent_costs(instance: Instance) -> list[np.ndarray] | None:
    """c_i(θ) − θ_i = Σ_j γ_ij θ_j on the profile grid for each agent (None: private values)."""
    gamma = getattr(instance, "interdependence", None)
    if gamma is None:
        return None
    return [
        sum(
            (gamma[i, j] * along(instance.grids[j], j, instance.n) for j in range(instance.n) if j != i),
            np.zeros(instance.shape),
        )
        * np.ones(instance.shape)
        for i in range(instance.n)
    ]


def _make_agent(instance: Instance, i: int, flat: np.ndarray, unit: float, extra_all) -> _Agent:
    """Agent i's view of the grid (with its interdependent cost term at each θ_−i, if any)."""
    view = agent_view(flat, i)
    extra = None if extra_all is None else extra_all[i].ravel()[view[0]] / unit
    return _Agent(view, _beliefs(instance, view, i), instance.grids[i] / unit, flat.size, instance.money_sign, extra)


_IR_ROWS = {"interim": _interim_ir, "ex-post": _ex_post_ir}


def outside_options(instance: Instance) -> list[np.ndarray]:
    """Each agent's outside option r_i(θ_i) on its grid (file order), in its payoff units (0 by default)."""
    table = instance.mechanism.outside_options()
    return [
        np.broadcast_to(np.asarray(table.get(name, 0.0), dtype=float), grid.shape).copy()
        for name, grid in zip(instance.names, instance.grids)
    ]


def _participation(instance: Instance, i: int, agent: _Agent, unit: float):
    """(acts_on, matrix, rhs) of agent i's participation rows: payoff per unit of share >= r_i / (σ_i·unit).

    rhs is None when the outside option is 0.
    """
    mech = instance.mechanism
    r = outside_options(instance)[i] / (instance.shares[i] * unit)
    if mech.participation == "ex-ante":
        own = outer_marginal(instance, i)
        acts_on, matrix = _ex_ante_ir(agent, own)
        rhs = np.array([float(own @ r)])
    else:
        acts_on, matrix = _IR_ROWS[mech.participation](agent)
        rhs = r if mech.participation == "interim" else np.repeat(r, agent.view.shape[1])
    return acts_on, matrix, (rhs if np.any(rhs != 0) else None)


#: The transfer and trade constraint groups (docs/model.md, section 11), in this order.
LIMIT_GROUPS = ("no_subsidy", "max_transfer", "budget", "min_trade_probability")


def _limit_blocks(instance: Instance, pmf: np.ndarray, unit: float) -> dict[str, list[RowBlock]]:
    """Rows over [x; m / unit] of the transfer and trade constraints the mechanism sets (agent −1).

    ``no_subsidy``: m(θ) >= 0 at every profile; ``max_transfer``: −m(θ) >= −X at every profile;
    ``budget``: −E[m] >= −X; ``min_trade_probability``: E[x] >= q (zero-probability profiles
    included in the first two).
    """
    mech = instance.mechanism
    n = pmf.size
    eye, none = sp.identity(n, format="csr"), sp.csr_matrix((n, n))
    out: dict[str, list[RowBlock]] = {}
    if mech.no_subsidy:
        out["no_subsidy"] = [RowBlock(-1, "profile", sp.hstack([none, eye], format="csr"), None)]
    if mech.max_transfer is not None:
        out["max_transfer"] = [
            RowBlock(-1, "profile", sp.hstack([none, -eye], format="csr"), np.full(n, -mech.max_transfer / unit))
        ]
    if mech.budget is not None:
        row = sp.csr_matrix(np.concatenate([np.zeros(n), -pmf])[None, :])
        out["budget"] = [RowBlock(-1, "profile", row, np.array([-mech.budget / unit]))]
    if mech.min_trade_probability is not None:
        row = sp.csr_matrix(np.concatenate([pmf, np.zeros(n)])[None, :])
        out["min_trade_probability"] = [RowBlock(-1, "profile", row, np.array([mech.min_trade_probability]))]
    return out


def outer_marginal(instance: Instance, i: int) -> np.ndarray:
    """Agent i's marginal pmf over its grid (file order)."""
    pmf = instance.joint_pmf()
    return pmf.sum(axis=tuple(j for j in range(instance.n) if j != i))


@dataclass(frozen=True)
class RowBlock:
    """Rows ``matrix @ v >= 0`` of one agent.

    ``acts_on`` is ``"profile"`` (v = [x; m]) or ``"interim"`` (v = the agent's interim
    payoffs ``GeneralLP.payoff_operator(agent) @ [x; m]``, entry t·K + s the payoff per unit
    of share of true type t reporting s).
    """

    agent: int
    acts_on: str
    matrix: sp.csr_matrix
    rhs: np.ndarray | None = None  # right-hand side (None: 0), per unit of share in LP units


@dataclass(frozen=True, eq=False)
class GeneralLP:
    """The general LP of one instance and mechanism, in the instance's units.

    Columns are ``[x, m / unit]``, each a flattened profile vector (C order, the file's grid
    order, ``m`` with the JSON sign), and every money amount of the LP (types, the designer's
    value, the objective) is in units of ``unit`` (:func:`lpmech.instance.unit_scale` of the engine form): multiply the m part and
    the objective by ``unit`` for the instance's own units. The LP is: maximize ``c_x·x + c_m·m`` subject to
    ``rows(name) @ [x; m] >= 0`` for the groups ``"ic"`` and ``"participation"``,
    ``0 <= x <= 1`` and ``m_lower <= m <= m_upper``. Bayesian IC and interim IR are stored
    factored through each agent's interim payoff operator (see :class:`RowBlock`); the HiGHS
    model gives these interim expectations columns of their own: with independent types that is
    2·K_i columns per agent and the all-pairs IC rows have 4 nonzeros each; with correlated
    types it halves the matrix's nonzeros and solves an order of magnitude faster than rows
    written out over profiles.

    Attributes
    ----------
    instance : Instance
        With the mechanism being solved.
    vetoes : tuple of str
        Agents holding a participation constraint.
    pmf : ndarray
        Flattened joint pmf.
    objective, profit, surplus : tuple of ndarray
        ``(c_x, c_m)`` of the objective, of the designer's expected profit and of the agents'
        total expected surplus (so ``objective = profit + λ·surplus``).
    interim_factors : dict of int to (F, E)
        For the agents whose rows need them, the interim payoff operator F @ E factored through
        the interim expectations E (see :func:`_interim_operator`, :func:`_interim_payoff`).
    groups : dict of str to list of RowBlock
        ``"ic"`` and ``"participation"`` rows.
    m_lower, m_upper : ndarray
        Bounds on m: infinite (m is free on every profile, zero-probability ones included).
    zero : ndarray of bool
        Zero-probability profiles (where the returned mechanism has the smallest Σ|m|).
    unit : float
        The money unit of the LP (a power of two).
    """

    instance: Instance
    vetoes: tuple[str, ...]
    pmf: np.ndarray
    objective: tuple[np.ndarray, np.ndarray]
    profit: tuple[np.ndarray, np.ndarray]
    surplus: tuple[np.ndarray, np.ndarray]
    interim_factors: dict[int, tuple[sp.csr_matrix, sp.csr_matrix]]
    groups: dict[str, list[RowBlock]]
    m_lower: np.ndarray
    m_upper: np.ndarray
    zero: np.ndarray
    unit: float = 1.0

    @property
    def n_profiles(self) -> int:
        return self.pmf.size

    @property
    def shape(self) -> tuple[int, ...]:
        return self.instance.shape

    def payoff_operator(self, agent: int) -> sp.csr_matrix:
        """D (K² x 2n): D @ [x; m] is agent's interim payoff of type t reporting s at t·K + s."""
        F, E = self.interim_factors[agent]
        return (F @ E).tocsr()

    def rows(self, name: str) -> sp.csr_matrix:
        """A group's rows over [x; m] (interim blocks multiplied out).

        Raises
        ------
        InstanceError
            If ``name`` is not one of the groups (``"ic"``, ``"participation"`` and the transfer and
        trade constraints the mechanism sets, :data:`LIMIT_GROUPS`).
        """
        if name not in self.groups:
            raise InstanceError(f"must be one of {', '.join(map(repr, self.groups))}, got {name!r}", field="name")
        mats = [
            b.matrix @ self.payoff_operator(b.agent) if b.acts_on == "interim" else b.matrix for b in self.groups[name]
        ]
        return sp.vstack(mats, format="csr")

    def split(self, name: str) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        """The x and m parts of a group: ``G_x @ x + G_m @ m >= 0``."""
        g = self.rows(name).tocsc()
        n = self.n_profiles
        return g[:, :n].tocsr(), g[:, n:].tocsr()

    def highs_form(self) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(A, row_lo, row_hi, col_lo, col_hi) with auxiliary interim columns.

        Columns are [x, m, y_1, ...]; the first rows define the y_i (equalities), then come the
        groups' rows. y_i is the agent's interim expectations E_i [x; m] when that is shorter
        than its K_i² interim payoffs (independent types: 2·K_i columns, all-pairs IC rows with
        4 nonzeros), else the payoffs D_i [x; m] themselves (correlated types). Either way the
        matrix is far sparser than IC rows written out over profiles.
        """
        n = self.n_profiles
        aux = {}  # agent -> (definition operator, map from payoffs)
        for i, (F, E) in sorted(self.interim_factors.items()):
            aux[i] = (E, F) if E.shape[0] < F.shape[0] else ((F @ E).tocsr(), None)
        sizes = [op.shape[0] for op, _ in aux.values()]
        offset = dict(zip(aux, 2 * n + np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(int)))
        n_cols = 2 * n + sum(sizes)

        def place(mat, start):
            mat = sp.coo_matrix(mat)
            return sp.csr_matrix((mat.data, (mat.row, mat.col + start)), shape=(mat.shape[0], n_cols))

        define = [place(op, 0) - place(sp.identity(op.shape[0]), offset[i]) for i, (op, _) in aux.items()]
        blocks = []
        for name in self.groups:
            for b in self.groups[name]:
                if b.acts_on == "profile":
                    blocks.append(place(b.matrix, 0))
                else:
                    F = aux[b.agent][1]
                    blocks.append(place(b.matrix if F is None else b.matrix @ F, offset[b.agent]))
        A = sp.vstack(define + blocks, format="csr")
        n_def = sum(sizes)
        rhs = [
            np.zeros(b.matrix.shape[0]) if b.rhs is None else b.rhs for name in self.groups for b in self.groups[name]
        ]
        row_lo = np.concatenate([np.zeros(n_def), *rhs])
        row_hi = np.concatenate([np.zeros(n_def), np.full(A.shape[0] - n_def, INF)])
        col_lo = np.concatenate([np.zeros(n), self.m_lower, np.full(n_cols - 2 * n, -INF)])
        col_hi = np.concatenate([np.ones(n), self.m_upper, np.full(n_cols - 2 * n, INF)])
        return A, row_lo, row_hi, col_lo, col_hi


def assemble(instance: Instance, *, mechanism: Mechanism | Mapping | None = None) -> GeneralLP:
    """Assemble the general LP (no solve).

    Parameters
    ----------
    instance : Instance
    mechanism : Mechanism or dict, optional
        Overrides ``instance.mechanism`` (see :func:`solve_general`).

    Returns
    -------
    GeneralLP
        Rows over the flattened [x; m] of every profile (2·K_1···K_N columns).

    Raises
    ------
    InstanceError
        For bad input (see :func:`solve_general`).

    Examples
    --------
    >>> from lpmech.instance import Agent, Instance
    >>> inst = Instance("buy", [Agent(n, [0.25, 0.75], [0.5, 0.5]) for n in "ab"], buyer_value=1.0)
    >>> lp = assemble(inst)
    >>> lp.rows("ic").shape, lp.rows("participation").shape
    ((4, 8), (4, 8))
    """
    instance = _resolve(instance, mechanism)
    mech = instance.mechanism
    vetoes = tuple(instance.names if mech.veto is None else mech.veto)
    pmf = instance.joint_pmf().ravel()
    n, sign, shape = pmf.size, instance.money_sign, instance.shape
    unit = unit_scale(instance.engine())
    flat = np.arange(n, dtype=np.int64).reshape(shape)  # flat profile indices
    groups: dict[str, list[RowBlock]] = {"ic": [], "participation": []}
    interim_factors: dict[int, tuple[sp.csr_matrix, sp.csr_matrix]] = {}
    extra_all = interdependent_costs(instance)
    for i, name in enumerate(instance.names):
        agent = _make_agent(instance, i, flat, unit, extra_all)
        made = [("ic", *_IC_ROWS[mech.ic](agent), None)]
        if name in vetoes:
            made.append(("participation", *_participation(instance, i, agent, unit)))
        for group, acts_on, matrix, rhs in made:
            if acts_on == "interim" and i not in interim_factors:
                interim_factors[i] = (_interim_payoff(agent), _interim_operator(agent))
            groups[group].append(RowBlock(i, acts_on, matrix, rhs))
    groups.update(_limit_blocks(instance, pmf, unit))
    mean_type = _weighted_types(instance, list(range(instance.n))).ravel() / unit
    profit = (sign * instance.designer_value / unit * pmf, -sign * pmf)
    surplus = (-sign * mean_type * pmf, sign * pmf)
    lam = mech.pareto or 0.0
    objective = (profit[0] + lam * surplus[0], profit[1] + lam * surplus[1])
    zero = pmf == 0
    m_lower = np.full(n, -INF)
    m_upper = np.full(n, INF)
    return GeneralLP(
        instance, vetoes, pmf, objective, profit, surplus, interim_factors, groups, m_lower, m_upper, zero, unit
    )


# --------------------------------------------------------------------------- solving
def _tie_breaks(lp: GeneralLP) -> list[np.ndarray]:
    """Secondary objectives over [x; m] of the Pareto weight (maximized in order, earlier optima held).

    The last tie-break, the smallest Σ|m| at zero-probability profiles, needs columns of its
    own and is added by :func:`_optimize`.
    """
    out = []
    lam = lp.instance.mechanism.pareto
    if lam == 0.0:  # among profit maximizers the Pareto-efficient one (largest surplus)
        out.append(np.concatenate(lp.surplus))
    if lam == 1.0:  # among welfare maximizers the one with the largest profit (λ -> 1-)
        out.append(np.concatenate(lp.profit))
    return out


def _solver_for(mech: Mechanism) -> str:
    """HiGHS's algorithm: interior point (with crossover to a vertex) for the mixed variants.

    Dense interim rows together with many sparse ex post rows (Bayesian IC with ex post IR,
    dominant-strategy IC with interim IR) make dual simplex slow (3-5x, one correlated 40 x 40
    case over a minute); the pure variants are fastest with simplex (measured on the
    benchmarks and grids/ instances). The families solved with rows added lazily
    (:func:`_lazy_family`) use dual simplex, whose warm start survives added rows.
    """
    mixed = (mech.ic in ("dominant", "ex-post")) != (mech.participation == "ex-post")
    return "ipm" if mixed else "simplex"


def _lazy_family(lp: GeneralLP) -> bool:
    """Whether the LP is solved with its IC and participation rows added lazily (:class:`_LazyRows`).

    Measured (benchmarks/general.py and benchmarks/stalls.py, 2-core machine, the same run):
    correlated types with Bayesian IC and interim IR, N = 2 K = 40, took 7-37 s as one dual
    simplex solve of the factored form (:meth:`GeneralLP.highs_form`); primal simplex 2.9 s,
    interior point 12-13 s with or without crossover, presolve off 26 s, PDLP 2 s without a
    vertex; rows added lazily, 0.7-1.6 s (3 rounds, 2383 of the 3120 IC rows end up in the
    model). DSIC with ex post IR, uniform N = 2 K = 64: one dual simplex solve 6 s (primal 3x,
    IPM 3-9x slower); lazily, 1.3 s, one round (the binding direction of each neighbour pair and
    the worst type's participation rows already hold every other row). Independent types with
    Bayesian IC and interim IR: K = 64, 0.6-1.0 s lazily against 1.7-2.5 s factored (K = 40
    0.2 against 0.4 s; N = 3 K = 12 about 0.2 s either way). The mixed variants (Bayesian IC
    with ex post IR, DSIC with interim IR) were no faster lazily (correlated K = 40: 4.0-4.7
    against 4.9-5.6 s and 4.0 against 2.9-4.1 s; independent K = 64: 1.8-2.4 against 1.6 s and
    17-29 against 22-23 s) and stay with the factored form and interior point
    (:func:`_solver_for`); ex ante IR (one row per agent) too.
    """
    mech = lp.instance.mechanism
    if mech.participation not in ("interim", "ex-post"):
        return False
    return (mech.ic == "bayesian") == (mech.participation == "interim")


def _start_rows(lp: GeneralLP, name: str, block: RowBlock) -> np.ndarray:
    """Which of a block's rows the lazily solved LP starts with (the others join when violated).

    The rows that bind at a typical optimum and keep the first LP bounded: Bayesian IC between
    neighbouring types (both directions); dominant-strategy IC from each type to its neighbour
    on the side the agent would mimic (the higher cost on the buy side, the lower value on the
    sell side); every participation row, except that with dominant-strategy IC only the ex post
    IR rows of the type whose payoff the neighbour IC rows make the smallest (the highest cost on
    the buy side, the lowest value on the sell side). With correlated types and only the worst
    type's interim IR the first LP is unbounded (lotteries on the others' reports extract without
    limit, as in Crémer and McLean), so interim IR starts whole. Any choice gives
    the same optimum: a row left out is added as soon as a solution violates it. The row orders
    are those of :func:`_bayesian_ic`, :func:`_dominant_ic`, :func:`_interim_ir` and
    :func:`_ex_post_ir`; a block of another size starts whole.
    """
    rows = block.matrix.shape[0]
    if block.agent < 0:
        return np.ones(rows, dtype=bool)
    mech = lp.instance.mechanism
    k = lp.instance.grids[block.agent].size
    others = lp.n_profiles // k
    buy = lp.instance.money_sign > 0
    if name == "ic" and mech.ic == "bayesian" and rows == k * (k - 1):
        t, s = np.nonzero(~np.eye(k, dtype=bool))
        return np.abs(t - s) == 1
    if name == "ic" and mech.ic != "bayesian" and rows == 2 * (k - 1) * others:
        upward = np.arange(rows) < (k - 1) * others  # the low type reporting its higher neighbour
        return upward if buy else ~upward
    if name == "participation" and mech.ic != "bayesian" and mech.participation == "ex-post" and rows == k * others:
        return np.arange(rows) // others == (k - 1 if buy else 0)
    return np.ones(rows, dtype=bool)


class _LazyRows:
    """The LP's rows ``A @ [x; m] >= lo`` written out over profiles, a subset of them in the model.

    After each solve, the rows not in the model are evaluated at the solution; those violated by
    more than FEAS_TOL relative to the magnitude of their terms (|A||z| + |lo|) are added and the
    model is solved again from its last basis. When none is violated the solution is feasible
    for the whole LP and optimal for a relaxation of it, hence optimal.
    """

    def __init__(self, lp: GeneralLP):
        mats, lo, start = [], [], []
        for name in lp.groups:
            for b in lp.groups[name]:
                mat = b.matrix @ lp.payoff_operator(b.agent) if b.acts_on == "interim" else b.matrix
                mats.append(sp.csr_matrix(mat))
                lo.append(np.zeros(mat.shape[0]) if b.rhs is None else np.asarray(b.rhs, dtype=float))
                start.append(_start_rows(lp, name, b))
        self.A = sp.vstack(mats, format="csr")
        self.lo = np.concatenate(lo)
        self.have = np.concatenate(start)
        self.order = [np.flatnonzero(self.have)]  # the rows of self.A in the HiGHS model's row order
        self.rounds = 0
        self._absA = None

    def model(self, c: np.ndarray, col_lo: np.ndarray, col_hi: np.ndarray, *, whole: bool = False) -> tuple:
        """(−c, rows, row_lo, row_hi, col_lo, col_hi): the rows in the model, or every row."""
        pick = slice(None) if whole else self.have
        A, lo = self.A[pick], self.lo[pick]
        return -c, A, lo, np.full(lo.size, INF), col_lo, col_hi

    def violated(self, z: np.ndarray) -> np.ndarray:
        """The rows not in the model that ``z`` (its first A.shape[1] entries) violates."""
        out = np.flatnonzero(~self.have)
        if not out.size:
            return out
        whole = self._absA
        if whole is None:
            whole = self._absA = abs(self.A)
        v = z[: self.A.shape[1]]
        A, absA = self.A[out], whole[out]
        size = absA @ np.abs(v) + np.abs(self.lo[out])
        short = self.lo[out] - A @ v
        return out[short > FEAS_TOL * np.maximum(size, TINY)]

    def add(self, h, rows: np.ndarray) -> None:
        """Add ``rows`` to the model (HiGHS keeps its basis: the next solve is warm)."""
        sub = self.A[rows]
        h.addRows(
            rows.size,
            self.lo[rows],
            np.full(rows.size, INF),
            sub.nnz,
            sub.indptr[:-1].astype(np.int32),
            sub.indices.astype(np.int32),
            sub.data.astype(float),
        )
        self.have[rows] = True
        self.order.append(np.asarray(rows))

    def full_duals(self, row_dual: np.ndarray) -> np.ndarray:
        """The model's row duals as one per row of ``A`` (0 for the rows left out, which are slack)."""
        order = np.concatenate(self.order)
        out = np.zeros(self.A.shape[0])
        out[order] = row_dual[: order.size]
        return out

    def run(self, h, what: str):
        """Solve, add the violated rows, repeat; the solution of the whole LP.

        If a model is not solved (e.g. unbounded without the rows left out), every row left out
        is added and it is solved again; a failure with every row in raises.
        """
        while True:
            self.rounds += 1
            try:
                sol = run(h, what, retry=cold_simplex(h, what))
            except SolverError:
                rest = np.flatnonzero(~self.have)
                if not rest.size:
                    raise
                self.add(h, rest)
                continue
            new = self.violated(sol.x)
            if not new.size:
                return sol
            self.add(h, new)


def _hold(h, c: np.ndarray, z: np.ndarray) -> None:
    """Add the row c·v >= c·z − LEX_RTOL·Σ|c_j z_j| (keep an optimum while the next objective runs)."""
    terms = c * z[: c.size]
    idx = np.flatnonzero(c).astype(np.int32)
    h.addRow(float(terms.sum()) - LEX_RTOL * max(float(np.abs(terms).sum()), TINY), INF, idx.size, idx, c[idx])


def _spread(lp: GeneralLP) -> float:
    """How many of the LP's money units its largest type or value is (1 on a well-scaled instance)."""
    inst = lp.instance
    big = max([abs(inst.designer_value)] + [float(np.max(np.abs(g))) for g in inst.grids])
    return big / lp.unit


def _cross_check(lp: GeneralLP, model: tuple, sol) -> None:
    """Solve the LP again with HiGHS's other algorithm; raise CheckError if the optimal values differ.

    When one type is many money units away from the others (``_spread`` above
    CROSSCHECK_SPREAD), the LP's coefficients span as many orders of magnitude and HiGHS's
    simplex has been seen to stop at a feasible but suboptimal vertex that no audit can tell
    from an optimum (a type at 1e12 with the others near 1: profit 0.0046 instead of 0.0131).
    Interior point and simplex fail differently, so two equal values are the evidence here; two
    different ones are an error, never an answer.
    """
    neg_c, A, row_lo, row_hi, col_lo, col_hi = model
    other = "ipm" if _solver_for(lp.instance.mechanism) == "simplex" else "simplex"
    h = make_highs(neg_c, A, row_lo, row_hi, col_lo, col_hi)
    h.setOptionValue("solver", other)
    second = run(h, f"general LP ({other}, cross-check of an instance whose types span {_spread(lp):.3g} money units)")
    from .checks import algorithms_agree

    algorithms_agree(neg_c, sol, second, unit=lp.unit, spread=_spread(lp))


def _group_rows(lp: GeneralLP) -> tuple[np.ndarray, np.ndarray]:
    """For every row of the groups, stacked in ``lp.groups`` order (as :class:`_LazyRows` and
    :meth:`GeneralLP.highs_form` stack them): its agent (−1 for the transfer and trade
    constraints) and whether it is a participation row."""
    agent, part = [], []
    for name in lp.groups:
        for b in lp.groups[name]:
            rows = b.matrix.shape[0]
            agent.append(np.full(rows, b.agent))
            part.append(np.full(rows, name == "participation"))
    return np.concatenate(agent), np.concatenate(part)


def participation_weights(lp: GeneralLP, duals: np.ndarray) -> np.ndarray | None:
    """Each agent's total shadow price of its participation rows, normalised to sum to 1.

    The participation rows are stated per unit of share, sign·(m − c_i x) >= r_i / σ_i (the
    agent's payoff σ_i·sign·(m − c_i x) divided by σ_i > 0), so the dual of a row is the gain in
    the objective per unit (of the LP's money) by which every one of the agent's IR rows is
    relaxed, in the units of the shared transfer m. With independent private values, Bayesian
    IC and interim IR, relaxing all of agent i's rows by ε relaxes the maximin row
    z <= E[x(b − φ_i)] by ε, so these sums are the maximin LP's weights ω (docs/model.md,
    section 5.2); stated in the agent's own payoff units σ_i(m − c_i x) the duals would be
    divided by σ_i and would not be.

    Parameters
    ----------
    lp : GeneralLP
    duals : ndarray, shape (R,)
        Row duals of the group rows, stacked in ``lp.groups`` order (HiGHS's convention for the
        minimization of −objective: >= 0 on a binding row ``>= lo``), 0 for rows that were not
        in the model.

    Returns
    -------
    ndarray of shape (N,) or None
        Nonnegative, summing to 1 (0 for an agent without a veto); None when there are no
        participation rows or every one of their duals is 0 (e.g. λ = 1, where m drops out of
        the objective).

    Raises
    ------
    CheckError
        If a participation row's dual has the wrong sign by more than WEIGHT_TOL times the
        magnitude of the participation duals (HiGHS's duals would then not be dual feasible).
    """
    agent, part = _group_rows(lp)
    if not part.any():
        return None
    mu = np.asarray(duals, dtype=float)[part]
    who = agent[part]
    size = float(np.abs(mu).sum())
    if size <= TINY:
        return None
    worst = float(mu.min())
    if worst < -WEIGHT_TOL * size:
        raise CheckError(
            ["participation_dual_sign"],
            {"participation_dual_sign": -worst / size},
            limits={"participation_dual_sign": WEIGHT_TOL},
            message=f"a participation row's dual is {worst:.3g} < 0 (relative {-worst / size:.1e})",
        )
    w = np.zeros(lp.instance.n)
    np.add.at(w, who, np.maximum(mu, 0.0))
    total = float(w.sum())
    if total <= WEIGHT_TOL * size:
        return None
    return w / total


def _optimize(lp: GeneralLP) -> tuple[np.ndarray, str, float, np.ndarray | None]:
    """Solve the LP, then break ties lexicographically; returns ([x; m], HiGHS status, optimal
    value, participation weights of the first solve, :func:`participation_weights`).

    The LP goes to HiGHS in the form measured fastest for its family (:func:`_lazy_family`):
    the factored form with interim columns (:meth:`GeneralLP.highs_form`), or every row written
    out over profiles with rows added lazily (:class:`_LazyRows`). Both solve the same LP.

    Last tie-break: with zero-probability profiles Z, minimize Σ_{θ∈Z} |m(θ)| (columns u_θ with
    u_θ >= m(θ) and u_θ >= −m(θ)) with every earlier optimum held.
    """
    n = lp.n_profiles
    lazy = _LazyRows(lp) if _lazy_family(lp) else None
    if lazy is None:
        A, row_lo, row_hi, col_lo, col_hi = lp.highs_form()
        n_cols = A.shape[1]
        c = np.concatenate([*list(lp.objective), np.zeros(n_cols - 2 * n)])
        whole = (-c, A, row_lo, row_hi, col_lo, col_hi)
        h = make_highs(*whole)
        h.setOptionValue("solver", _solver_for(lp.instance.mechanism))

        def solve(what):
            return run(h, what, retry=cold_simplex(h, what))

    else:
        n_cols = 2 * n
        c = np.concatenate(lp.objective)
        bounds = (np.concatenate([np.zeros(n), lp.m_lower]), np.concatenate([np.ones(n), lp.m_upper]))
        h = make_highs(*lazy.model(c, *bounds))
        h.setOptionValue("solver", "simplex")
        whole = None

        def solve(what):
            return lazy.run(h, what)

    pad = np.zeros(n_cols - 2 * n)
    what = "general LP"
    sol = solve(what)
    lp_value = -sol.objective
    if lazy is None:  # the definitions of the interim columns come first, then the groups' rows
        group_duals = sol.row_dual[A.shape[0] - sum(b.matrix.shape[0] for g in lp.groups.values() for b in g) :]
    else:  # rows left out of the final model are slack at its optimum: their duals are 0
        group_duals = lazy.full_duals(sol.row_dual)
    weights = participation_weights(lp, group_duals)
    if _spread(lp) > CROSSCHECK_SPREAD:
        _cross_check(lp, whole or lazy.model(c, *bounds, whole=True), sol)
    h.setOptionValue("solver", "simplex")  # tie-breaks start from the optimal basis
    for nxt in _tie_breaks(lp):
        _hold(h, c, sol.x)
        c = np.concatenate([nxt, pad])
        h.changeColsCost(n_cols, np.arange(n_cols, dtype=np.int32), -c)
        sol = solve("general LP (tie-break)")
    zero = np.flatnonzero(lp.zero)
    if zero.size:
        _hold(h, c, sol.x)
        k = zero.size
        h.addCols(
            k,
            np.zeros(k),
            np.zeros(k),
            np.full(k, INF),
            0,
            np.zeros(k, dtype=np.int32),
            np.zeros(0, dtype=np.int32),
            np.zeros(0),
        )
        u = n_cols + np.arange(k)
        idx = np.stack([u, u, n + zero, n + zero], axis=1)[:, [0, 2, 1, 3]].ravel()  # (u, m), (u, m)
        val = np.tile([1.0, -1.0, 1.0, 1.0], k)
        h.addRows(
            2 * k,
            np.zeros(2 * k),
            np.full(2 * k, INF),
            4 * k,
            np.arange(0, 4 * k, 2, dtype=np.int32),
            idx.astype(np.int32),
            val,
        )
        cost = np.concatenate([np.zeros(n_cols), np.ones(k)])
        h.changeColsCost(cost.size, np.arange(cost.size, dtype=np.int32), cost)
        sol = solve("general LP (tie-break: smallest transfers at zero-probability profiles)")
    return sol.x[: 2 * n], sol.status, lp_value, weights


def _interim(instance: Instance, x: np.ndarray, m: np.ndarray) -> list[dict]:
    """Per agent: grid, E[x | θ_i], E[m | θ_i] (as "expected_transfer" and its older key
    "transfer"), the agent's part σ_i·E[m | θ_i] ("expected_payout") and the interim utility."""
    pmf, sign = instance.joint_pmf(), instance.money_sign
    extra = interdependent_costs(instance)
    out = []
    for i, (name, grid, share) in enumerate(zip(instance.names, instance.grids, instance.shares)):
        X = conditional_interim(x, pmf, i)
        M = conditional_interim(m, pmf, i)
        C = grid * X if extra is None else grid * X + conditional_interim(extra[i] * x, pmf, i)
        out.append(
            {
                "agent": name,
                "grid": grid.tolist(),
                "trade_probability": X.tolist(),
                "expected_transfer": M.tolist(),
                "transfer": M.tolist(),
                "expected_payout": (share * M).tolist(),
                "utility": (share * sign * (M - C)).tolist(),
            }
        )
    return out


def _value_magnitude(lp: GeneralLP, x: np.ndarray, m: np.ndarray) -> float:
    """The size of the terms the objective is summed from, which its cross-checks are relative to.

    E|d·x| + E|m| (plus λ·(E|θ̄·x| + E|m|) with a Pareto weight, θ̄ the share-weighted mean type),
    and, since x is a probability known to PROB_TOL (the solver's accuracy on it is absolute),
    the term d·x is never taken as smaller than |d|·PROB_TOL: so the magnitude adds
    (PROB_TOL / CHECK_RTOL)·(|d| + λ·E|θ̄|). Without that floor an optimum of exactly 0 (no trade,
    no transfer) would be held to a tolerance of 0 against the solver's 1e-19 noise.
    """
    inst, pmf = lp.instance, lp.pmf
    xf, mf = np.abs(x.ravel()), np.abs(m.ravel())
    d = abs(inst.designer_value)
    size = float(pmf @ (d * xf + mf))
    floor = d
    lam = inst.mechanism.pareto or 0.0
    if lam:
        mean_type = np.abs(_weighted_types(inst, list(range(inst.n))).ravel())
        size += lam * float(pmf @ (mean_type * xf + mf))
        floor += lam * float(pmf @ mean_type)
    return max(size + PROB_TOL / CHECK_RTOL * floor, TINY)


def _checks(lp: GeneralLP, x: np.ndarray, m: np.ndarray, value: float, lp_value: float) -> dict:
    """The general LP's audit (:func:`lpmech.checks.general_checks`)."""
    from .checks import general_checks

    return general_checks(lp, x, m, value, lp_value)


def _fmt(value: float, size: float, rtol: float = CHECK_RTOL, digits: int = 6) -> str:
    """``value`` with at most ``digits`` significant digits and none finer than rtol·size, the
    precision its check supports; a value within rtol·size of 0 prints as 0."""
    value = float(value)
    if not np.isfinite(value):
        return str(value)
    lim = rtol * max(float(size), TINY)
    if abs(value) <= lim:
        return "0"
    sig = int(np.floor(np.log10(abs(value))) - np.floor(np.log10(lim)))
    return f"{value:.{max(1, min(digits, sig))}g}"


def _prob(p: float) -> str:
    """A probability to 4 decimals; within ALLOCATION_TOL of 0 it prints as 0."""
    return "0" if abs(p) <= ALLOCATION_TOL else f"{p:.4f}"


@dataclass
class GeneralResult:
    """An audited optimum of the general LP, in the instance's units and grid order.

    Attributes
    ----------
    status : str
        ``"optimal"``: HiGHS found an optimum and every check passed (otherwise an error is
        raised, never a result).
    highs_status : str
        HiGHS's own model status of the last solve (``"Optimal"``).
    side : {"buy", "sell"}
    value : float
        The objective of the mechanism returned: expected profit, or profit + λ·surplus.
    allocation : ndarray, shape K_1 x ... x K_N
        x(θ), the trade probability on every profile (file's grid order).
    transfer : ndarray, shape K_1 x ... x K_N
        m(θ), the total transfer (designer to group on the buy side, group to designer on the
        sell side), in the file's money units.
    interim : list of dict
        Per agent: ``grid`` (per-share types), ``trade_probability`` E[x | θ_i],
        ``expected_transfer`` E[m | θ_i] (also under its older key ``transfer``),
        ``expected_payout`` σ_i·E[m | θ_i] (the agent's part) and ``utility``, the interim
        expected payoff σ_i·sign·(E[m | θ_i] − θ_i·E[x | θ_i]).
    checks : dict
        The audit's worst violations, absolute (``max_ic_violation``, ``max_ir_violation``,
        payoff units) and relative to the payoffs compared (``ic_relative``,
        ``ir_relative``); ``analytic_gap`` (HiGHS's value against the audited objective,
        relative to ``value_magnitude`` = E|d·x| + E|m|), ``first_best``, ``profit_bound``
        (the first best for the veto set), ``profit_bound_excess``, ``profit``, ``surplus``
        (the agents' total expected surplus), ``tolerance`` (the relative tolerance applied)
        and ``allocation_tolerance``.
    solve_seconds : float
        Wall time of assembly and HiGHS (all stages), without the audit.
    mechanism : Mechanism
    vetoes : tuple of str
    participation_weights : ndarray of shape (N,) or None
        The agents' weights ω in the general LP (shared transfers): agent i's total shadow
        price of its participation rows, Σ of their HiGHS row duals with each row stated per
        unit of share, normalised to sum to 1 (:func:`participation_weights`); 0 for an agent
        without a veto. With independent private values, Bayesian IC and interim IR it is an
        optimal ω of the maximin LP (docs/model.md, section 5.2); with interdependent values,
        correlated types or other participation notions it is the same shadow price. None with
        individual transfers, or when every participation dual is 0 (λ = 1).
    """

    status: str
    side: str
    value: float
    allocation: np.ndarray
    transfer: np.ndarray
    interim: list[dict]
    checks: dict
    solve_seconds: float
    mechanism: Mechanism
    vetoes: tuple[str, ...]
    formulation: str = "general"
    instance: Instance | None = field(default=None, repr=False)
    highs_status: str = "Optimal"
    agent_transfers: np.ndarray | None = None
    coalitions: list[dict] | None = None
    participation_weights: np.ndarray | None = None

    @property
    def profit(self) -> float:
        return self.checks["profit"]

    @property
    def surplus(self) -> float:
        return self.checks["surplus"]

    def mechanism_dict(self) -> dict:
        m = self.mechanism
        out = {
            "ic": m.ic,
            "participation": m.participation,
            "veto": list(self.vetoes),
            "objective": "profit" if m.pareto is None else "pareto",
            "pareto": m.pareto,
        }
        if m.transfers != "shares":
            out["transfers"] = m.transfers
        if m.outside_option is not None:
            out["outside_option"] = {k: (list(v) if isinstance(v, tuple) else v) for k, v in m.outside_option}
        if m.consent is not None:
            out["consent"] = m.consent
            out["coalitions"] = self.coalitions
        return out

    def to_dict(self) -> dict:
        """JSON-ready dict (lists and floats)."""
        interim = self.interim
        extra = {} if self.agent_transfers is None else {"agent_transfers": self.agent_transfers.tolist()}
        if self.coalitions is not None:
            extra["coalitions"] = self.coalitions
        if self.participation_weights is not None:
            extra["participation_weights"] = [float(w) for w in self.participation_weights]
        return {
            **extra,
            "status": self.status,
            "highs_status": self.highs_status,
            "side": self.side,
            "formulation": self.formulation,
            "mechanism": self.mechanism_dict(),
            "value": float(self.value),
            "allocation": self.allocation.tolist(),
            "transfer": self.transfer.tolist(),
            "interim": interim,
            "checks": __import__("lpmech.result", fromlist=["_jsonable"])._jsonable(self.checks),
            "solve_seconds": float(self.solve_seconds),
        }

    def summary(self) -> str:
        """Readable text: options, value against the first best, checks, and the interim table
        with every column defined. Numbers carry the precision their checks support."""
        m, c = self.mechanism, self.checks
        ic = {
            "bayesian": "Bayesian IC",
            "dominant": "dominant-strategy IC (every profile of the others)",
            "ex-post": "ex-post IC (a best reply at every profile of truthful others)",
        }[m.ic]
        gamma = getattr(self.instance, "interdependence", None)
        if gamma is not None:
            ic += ", interdependent values γ = " + str(np.asarray(gamma).tolist())
        ir = {
            "interim": "interim IR",
            "ex-post": "ex-post IR (every profile)",
            "ex-ante": "ex-ante IR (expected over own types)",
        }[m.participation]
        if m.outside_option is not None:
            ir += " with outside options " + ", ".join(
                f"{k} {list(v) if isinstance(v, tuple) else v:g}" if not isinstance(v, tuple) else f"{k} {list(v)}"
                for k, v in m.outside_option
            )
        objective = "profit" if m.pareto is None else f"profit + {m.pareto:g} x surplus"
        size = c.get("value_magnitude", abs(self.value))
        fb = c["first_best"]
        share = f" ({self.value / fb:.1%} of first best {_fmt(fb, fb)})" if fb > 0 else ""
        buy = self.side == "buy"
        flow = "designer to group" if buy else "group to designer"
        own = self.agent_transfers is not None
        lines = [
            f"general LP, {self.side} side: {ic}, {ir}, veto {', '.join(self.vetoes)}; maximize {objective}"
            + ("; individual transfers m_i(θ), one per agent" if own else ""),
            (
                f"status {self.status}, value {_fmt(self.value, size, digits=10)}{share}, "
                f"profit {_fmt(c['profit'], size, digits=10)}, "
                f"agents' surplus {_fmt(c['surplus'], size, digits=10)}, {self.solve_seconds:.3f} s"
            ),
            (
                f"checks, each relative to the magnitude of what it compares (tolerance {c['tolerance']:.0e}): "
                f"IC {c.get('ic_relative', 0.0):.1e}, IR {c.get('ir_relative', 0.0):.1e}, "
                f"value {c['analytic_gap']:.1e}"
            ),
            "interim table, per agent and type θ (per share):",
            "  P(trade) = E[x | θ], the probability of trade given the agent's type;",
            (
                f"  E[m | θ] = expected total transfer given the agent's type, {flow};"
                if not own
                else f"  E[m_i | θ] = the agent's own expected transfer given its type, {flow};"
            ),
            "  utility = the agent's expected payoff given its type, share σ included: "
            + (
                ("σ·(E[m | θ] − θ·P(trade))" if buy else "σ·(θ·P(trade) − E[m | θ])")
                if not own
                else ("E[m_i | θ] − σ·θ·P(trade)" if buy else "σ·θ·P(trade) − E[m_i | θ]")
            )
            + ".",
        ]
        if self.coalitions is not None:
            lines.insert(
                1,
                f"consent of any {m.consent} agent(s): the designer picks the coalition whose "
                "participation binds; value of each coalition:",
            )
            for j, c in enumerate(self.coalitions):
                best = " (best)" if tuple(c["veto"]) == tuple(self.vetoes) else ""
                lines.insert(2 + j, f"  {', '.join(c['veto'])}: {_fmt(c['value'], size, digits=10)}{best}")
        for i, a in enumerate(self.interim):
            lines.append(
                f"  {a['agent']}: {'θ':>10} {'P(trade)':>10} {'E[m_i | θ]' if own else 'E[m | θ]':>12} {'utility':>12}"
            )
            n_types = len(a["grid"])
            # each number's check is relative to the terms it is summed from: E[|m| | θ] and |θ|
            if self.instance is not None:
                mine = self.transfer if not own else self.agent_transfers[i]
                size_m = conditional_interim(np.abs(mine), self.instance.joint_pmf(), i)
                size_u = self.instance.shares[i] * (size_m + np.abs(np.asarray(a["grid"])))
            else:
                size_m, size_u = np.abs(a["expected_transfer"]), np.abs(a["utility"])
            for k in range(n_types):
                lines.append(
                    f"  {'':{len(a['agent'])}}  {_fmt(a['grid'][k], abs(a['grid'][k]), 1e-12):>10} "
                    f"{_prob(a['trade_probability'][k]):>10} "
                    f"{_fmt(a['expected_transfer'][k], size_m[k]):>12} "
                    f"{_fmt(a['utility'][k], size_u[k]):>12}"
                )
        return "\n".join(lines)


def solve_general(instance: Instance, *, mechanism: Mechanism | Mapping | None = None) -> GeneralResult:
    """Solve the general LP and audit the solution.

    Parameters
    ----------
    instance : Instance
        Independent or correlated (joint pmf) types, either side.
    mechanism : Mechanism or dict, optional
        Overrides ``instance.mechanism`` (IC notion, participation, veto set, Pareto weight λ
        in [0, 1], transfers); a dict may hold the keys ``ic``, ``participation``, ``veto``,
        ``pareto``, ``transfers``. ``transfers = "individual"`` is solved by
        :func:`solve_individual`.

    Returns
    -------
    GeneralResult

    Raises
    ------
    InstanceError
        For bad input (not an Instance, an unknown mechanism option, a veto that is a string
        or names an unknown agent), an empty veto set or λ > 1 (both make the LP unbounded);
        an outside option or interdependent cost term above ``MAX_SPREAD`` money units, or a
        ``max_transfer`` or ``budget`` above ``CROSSCHECK_SPREAD`` times the instance's largest
        type or value that binds (one that does not bind is dropped exactly:
        :func:`mechanism_scale_ok`).
    SolverError
        If HiGHS does not report an optimum (its status is in the error).
    CheckError
        If the audit finds an IC or IR violation above ``CHECK_RTOL`` times the magnitude of
        the payoffs compared, or HiGHS's value and the audited objective differ by more than
        ``CHECK_RTOL`` times E|d·x| + E|m|; if a type lies more than ``MAX_SPREAD`` money units
        from zero (the unit is :func:`lpmech.instance.unit_scale`), or more than
        ``CROSSCHECK_SPREAD`` and HiGHS's simplex and interior point disagree.

    Examples
    --------
    >>> from lpmech.instance import Agent, Instance
    >>> inst = Instance("buy", [Agent(n, [0.25, 0.75], [0.5, 0.5]) for n in "ab"], buyer_value=1.0)
    >>> res = solve_general(inst)
    >>> round(res.value, 6), res.status, res.checks["ic_relative"] < 1e-9
    (0.3125, 'optimal', True)
    >>> round(solve_general(inst, mechanism={"ic": "dominant", "participation": "ex-post"}).value, 6)
    0.25
    """
    start = time.perf_counter()
    _check_instance(instance)
    instance.check_size()  # before anything the size of the grid is allocated
    resolved = _resolve(instance, mechanism)
    far = mechanism_scale_ok(resolved)
    if far:
        return _solve_without_limits(resolved, far)
    if resolved.mechanism.consent is not None:
        return _solve_consent(resolved)
    if resolved.mechanism.transfers == "individual":
        return solve_individual(instance, mechanism=mechanism)
    lp = assemble(instance, mechanism=mechanism)
    inst = lp.instance
    from .checks import spread_within_limit

    spread_within_limit(_spread(lp), lp.unit)
    z, highs_status, lp_value, weights = _optimize(lp)
    seconds = time.perf_counter() - start
    n = lp.n_profiles
    x = np.clip(z[:n], 0.0, 1.0)
    value = float(np.concatenate(lp.objective) @ np.concatenate([x, z[n:]])) * lp.unit
    lp_value *= lp.unit
    m = z[n:] * lp.unit  # back to the instance's units (exact: a power of two)
    x_nd, m_nd = x.reshape(inst.shape), m.reshape(inst.shape)
    checks = _checks(lp, x_nd, m_nd, value, lp_value)
    return GeneralResult(
        status="optimal",
        side=inst.side,
        value=value,
        allocation=x_nd,
        transfer=m_nd,
        interim=_interim(inst, x_nd, m_nd),
        checks=checks,
        solve_seconds=seconds,
        mechanism=inst.mechanism,
        vetoes=lp.vetoes,
        instance=inst,
        highs_status=highs_status,
        participation_weights=weights,
    )


# --------------------------------------------------------------------------- individual transfers
def _individual_lp(instance: Instance, unit: float):
    """(c, A, row_lo, row_hi, col_lo, col_hi) of the LP with one transfer column block per agent.

    Columns are ``[x, t_1, ..., t_N]`` (each a flattened profile vector), t_i = m_i / (σ_i·unit)
    agent i's own transfer per unit of its share in LP units. Agent i's rows are the shared-
    transfer rows of :func:`assemble` (``_IC_ROWS``, ``_IR_ROWS``: per unit of share,
    sign·(t − θ_i x)) with the transfer column m replaced by t_i; ``c`` is the designer's
    expected profit sign·(d·x − Σ_i σ_i t_i) per LP unit (to maximize).
    """
    mech = instance.mechanism
    pmf = instance.joint_pmf().ravel()
    n, nag, sign = pmf.size, instance.n, instance.money_sign
    flat = np.arange(n, dtype=np.int64).reshape(instance.shape)
    blocks, rhs_parts = [], []
    extra_all = interdependent_costs(instance)
    for i in range(nag):
        agent = _make_agent(instance, i, flat, unit, extra_all)
        for acts_on, matrix, rhs in ((*_IC_ROWS[mech.ic](agent), None), _participation(instance, i, agent, unit)):
            rhs_parts.append(np.zeros(matrix.shape[0]) if rhs is None else rhs)
            if acts_on == "interim":
                matrix = matrix @ (_interim_payoff(agent) @ _interim_operator(agent))
            g = sp.csc_matrix(matrix)
            zeros = [sp.csc_matrix((g.shape[0], n))] * nag
            parts = [g[:, :n]] + [g[:, n:] if j == i else zeros[j] for j in range(nag)]
            blocks.append(sp.hstack(parts, format="csr"))
    for group in _limit_blocks(instance, pmf, unit).values():  # on the total Σ_i σ_i t_i
        for b in group:
            g = sp.csc_matrix(b.matrix)
            blocks.append(sp.hstack([g[:, :n]] + [instance.shares[i] * g[:, n:] for i in range(nag)], format="csr"))
            rhs_parts.append(np.zeros(g.shape[0]) if b.rhs is None else b.rhs)
    A = sp.vstack(blocks, format="csr")
    row_lo = np.concatenate(rhs_parts)
    c = np.concatenate(
        [sign * instance.designer_value / unit * pmf] + [-sign * instance.shares[i] * pmf for i in range(nag)]
    )
    col_lo = np.concatenate([np.zeros(n), np.full(nag * n, -INF)])
    col_hi = np.concatenate([np.ones(n), np.full(nag * n, INF)])
    return c, A, row_lo, np.full(A.shape[0], INF), col_lo, col_hi


def mechanism_scale_ok(instance: Instance) -> tuple[str, ...]:
    """Refuse mechanism numbers too far outside the instance's money scale for the LP.

    Every number that enters the general LP's rows or bounds is, in the LP's money unit
    (:func:`lpmech.instance.unit_scale`), at most ``MAX_SPREAD``: the types (checked by
    :func:`lpmech.checks.spread_within_limit`) and the mechanism's own numbers, checked here —
    each outside option r_i(θ_i) / σ_i (the participation row's right-hand side per unit of
    share) and each interdependent cost term Σ_j |γ_ij|·max|θ_j|. HiGHS's tolerances are
    absolute in those units, so a row with a term 1e12 units lets the solution violate IC or IR
    by 1e-12 of that term, which is not small next to the value. A transfer cap or budget this
    far out is not refused here: its names are returned, and :func:`solve_general` solves
    without it and keeps the answer only if it satisfies the cap (then it is optimal for the
    capped LP too, whose feasible set is smaller), refusing it otherwise. "Far" for a cap is
    ``CROSSCHECK_SPREAD`` times the instance's largest type or value.

    Parameters
    ----------
    instance : Instance
        With the mechanism to solve.

    Returns
    -------
    tuple of str
        ``"max_transfer"`` and/or ``"budget"`` when above ``CROSSCHECK_SPREAD`` times the
        instance's largest type or value (else empty).

    Raises
    ------
    InstanceError
        An outside option or an interdependence term above ``MAX_SPREAD`` units (names the
        field and the agent).
    """
    mech = instance.mechanism
    unit = unit_scale(instance.engine())
    limit = MAX_SPREAD * unit
    options = outside_options(instance)
    for i, name in enumerate(instance.names):
        r = float(np.max(np.abs(options[i]))) / float(instance.shares[i]) if options[i].size else 0.0
        if not r <= limit:
            raise InstanceError(
                f"is {r * float(instance.shares[i]):.3g} ({r:.3g} per unit of share), more than {MAX_SPREAD:.0e} times the instance's money "
                f"unit {unit:.3g}: the LP cannot resolve the answer next to it (use numbers within "
                f"{MAX_SPREAD:.0e} units of the types and the designer's value)",
                field="outside_option",
                agent=name,
            )
    gamma = getattr(instance, "interdependence", None)
    if gamma is not None:
        for i, name in enumerate(instance.names):
            term = sum(
                abs(float(gamma[i, j])) * float(np.max(np.abs(instance.grids[j]))) for j in range(instance.n) if j != i
            )
            if not term <= limit:
                raise InstanceError(
                    f"makes agent {name!r}'s cost term Σ_j γ_ij·θ_j as large as {term:.3g}, more than "
                    f"{MAX_SPREAD:.0e} times the instance's money unit {unit:.3g}: the LP cannot "
                    "resolve the answer next to it",
                    field="interdependence",
                    agent=name,
                )
    # A cap is compared with the instance's largest number (its types and b): the LP keeps a cap
    # that far out at a vertex (an optimal face is often unbounded in the transfers), where the
    # IC and IR rows hold 1e6 times larger terms than the value and HiGHS's absolute tolerances
    # move the value by more than CHECK_RTOL (measured: 9e-9 of it at 1e8, 1.5e-7 at 1e9).
    big = max([abs(instance.designer_value)] + [float(np.max(np.abs(g))) for g in instance.grids])
    far = []
    for key in ("max_transfer", "budget"):
        value = getattr(mech, key)
        if value is not None and not abs(value) <= CROSSCHECK_SPREAD * max(big, unit):
            far.append(key)
    return tuple(far)


def _solve_without_limits(inst: Instance, far: tuple[str, ...]) -> GeneralResult:
    """Solve without the transfer limits named in ``far`` (far outside the money scale); keep the
    answer only if it satisfies them (then it is optimal for the limited LP as well)."""
    from .checks import enforce, limits_audit

    mech = inst.mechanism
    loose = replace(mech, **{key: None for key in far})
    why = "the LP cannot resolve the answer next to it"
    try:
        res = solve_general(inst, mechanism=loose)
    except SolverError as exc:  # without the limit HiGHS finds no optimum: the limit binds
        key = far[0]
        raise InstanceError(
            f"is {getattr(mech, key):.3g}, more than {CROSSCHECK_SPREAD:.0e} times the instance's largest "
            f"type or value, and binds (without it HiGHS reports {exc.status}): {why}",
            field=f"mechanism.{key}",
        ) from None
    pmf = inst.joint_pmf()
    m = np.asarray(res.transfer, dtype=float)
    held = {"max_transfer": lambda X: float(np.max(m)) <= X, "budget": lambda X: float(np.sum(pmf * m)) <= X}
    for key in far:
        if not held[key](getattr(mech, key)):
            raise InstanceError(
                f"is {getattr(mech, key):.3g}, more than {CROSSCHECK_SPREAD:.0e} times the instance's "
                f"largest type or value, and binds (the optimum without it breaks it): {why}",
                field=f"mechanism.{key}",
            )
    # Feasible for the limited LP and optimal for the larger unlimited one: optimal for the limited LP.
    orig = replace(res.instance, mechanism=mech) if res.instance is not None else inst
    measured, limits = limits_audit(orig, np.asarray(res.allocation), m, res.checks.get("value_magnitude", TINY))
    more = enforce(dict(measured), limits)  # CheckError if the limit does not hold within tolerance
    checks = dict(res.checks)
    checks.update(measured)
    checks["limits"] = {**checks.get("limits", {}), **limits}
    checks["report"] = {**checks.get("report", {}), **more["report"]}
    if res.mechanism.consent is None and mech.consent is None:
        res.mechanism = mech
    else:
        res.mechanism = replace(res.mechanism, **{key: getattr(mech, key) for key in far})
    res.instance = orig
    res.checks = checks
    return res


def _solve_consent(inst: Instance) -> GeneralResult:
    """Consent of any k agents: solve with every coalition of k veto holders, return the best.

    The result's ``vetoes`` is the best coalition (the first in the agents' order on a tie
    within CHECK_RTOL of the values' magnitude) and ``coalitions`` lists every coalition's value.
    """
    from itertools import combinations

    mech = inst.mechanism
    k = mech.consent
    start = time.perf_counter()
    runs = []
    for coalition in combinations(inst.names, k):
        sub = replace(mech, consent=None, veto=None if k == inst.n else tuple(coalition))
        runs.append((coalition, solve_general(inst, mechanism=sub)))
    top = max(r.value for _, r in runs)
    tol = CHECK_RTOL * max(max(r.checks["value_magnitude"] for _, r in runs), TINY)
    coalition, best = next((c, r) for c, r in runs if r.value >= top - tol)
    best.coalitions = [{"veto": list(c), "value": r.value} for c, r in runs]
    best.mechanism = mech
    best.vetoes = tuple(coalition)
    best.solve_seconds = time.perf_counter() - start
    return best


def individual_options_ok(inst: Instance) -> None:
    """Refuse what individual transfers do not support: a Pareto weight, an agent without a veto.

    Raises
    ------
    InstanceError
        A Pareto weight (profit only), or a veto set that leaves an agent out (its own transfer
        could be made arbitrarily negative: the LP is unbounded).
    """
    mech = inst.mechanism
    if mech.consent is not None and mech.consent < inst.n:
        raise InstanceError(
            f"= {mech.consent} < {inst.n} leaves agents without a veto, which individual transfers "
            "cannot have (an agent's own transfer would be unbounded)",
            field="mechanism.consent",
            source=inst.source,
        )
    if mech.pareto is not None:
        raise InstanceError(
            "is not supported with individual transfers (profit only)", field="mechanism.pareto", source=inst.source
        )
    if mech.veto is not None and set(mech.veto) != set(inst.names):
        left = [a for a in inst.names if a not in mech.veto]
        raise InstanceError(
            "must include every agent with individual transfers: an agent without a "
            "participation constraint can be charged any amount of its own transfer "
            "(the LP is unbounded)",
            field="mechanism.veto",
            agent=left[0],
            source=inst.source,
        )


def solve_individual(instance: Instance, *, mechanism: Mechanism | Mapping | None = None) -> GeneralResult:
    """The general LP with individual transfers: each agent i gets its own transfer m_i(θ).

    Agent i's payoff is sign·(m_i − σ_i θ_i x) (θ_i per share), the designer's profit
    sign·(d·x − Σ_i m_i); every agent is BIC (or DSIC) and IR (interim or ex post) with its own
    transfer (docs/model.md, section 10). With independent per-share types the value is
    g(σ) = E[(b − σ·φ̄)_+] on the buy side (E[(σ·φ̄ − c)_+] on the sell side), φ̄ the ironed
    virtual costs (values): revenue equivalence agent by agent. The solution is audited by
    :func:`lpmech.checks.individual_checks`, a brute-force evaluation of every IC and IR
    inequality from the definitions.

    Parameters
    ----------
    instance : Instance
        Independent or correlated types, either side.
    mechanism : Mechanism or dict, optional
        Overrides ``instance.mechanism``; its ``transfers`` is taken as ``"individual"``.

    Returns
    -------
    GeneralResult
        ``transfer`` is the total Σ_i m_i(θ) (shape K_1 x ... x K_N) and ``agent_transfers``
        the N x K_1 x ... x K_N array of the m_i, in the instance's money units; ``interim``
        reports each agent's own transfer.

    Raises
    ------
    InstanceError
        Bad options (see :func:`solve_general`), a Pareto weight, or a veto set that leaves an
        agent out (its own transfer could then be made arbitrarily negative: unbounded).
    SolverError
        HiGHS reports no optimum (its status is in the error).
    CheckError
        The brute-force audit finds an IC or IR violation above CHECK_RTOL times the payoffs
        compared, or a value gap above CHECK_RTOL times E|d·x| + Σ E|m_i|.
    """
    from .checks import individual_checks

    start = time.perf_counter()
    _check_instance(instance)
    instance.check_size()
    inst = _resolve(instance, mechanism)
    mech = inst.mechanism
    if mech.transfers != "individual":
        inst = replace(inst, mechanism=replace(mech, transfers="individual"), agents=inst.agents)
        mech = inst.mechanism
    individual_options_ok(inst)
    far = mechanism_scale_ok(inst)
    if far:
        return _solve_without_limits(inst, far)
    unit = unit_scale(inst.engine())
    from .checks import spread_within_limit

    big = max([abs(inst.designer_value)] + [float(np.max(np.abs(g))) for g in inst.grids])
    spread_within_limit(big / unit, unit)
    c, A, row_lo, row_hi, col_lo, col_hi = _individual_lp(inst, unit)
    h = make_highs(-c, A, row_lo, row_hi, col_lo, col_hi)
    h.setOptionValue("solver", _solver_for(mech))
    what = "general LP (individual transfers)"
    sol = run(h, what, retry=cold_simplex(h, what))
    seconds = time.perf_counter() - start
    n = inst.n_profiles
    x = np.clip(sol.x[:n], 0.0, 1.0).reshape(inst.shape)
    per_share = sol.x[n : n * (inst.n + 1)].reshape((inst.n, *inst.shape)) * unit
    ms = inst.shares.reshape((-1,) + (1,) * inst.n) * per_share
    lp_value = -sol.objective * unit
    pmf = inst.joint_pmf()
    sign = inst.money_sign
    value = float(np.sum(pmf * sign * (inst.designer_value * x - ms.sum(axis=0))))
    checks = individual_checks(inst, x, ms, value, lp_value)
    interim = []
    for i, (name, grid, share) in enumerate(zip(inst.names, inst.grids, inst.shares)):
        X = conditional_interim(x, pmf, i)
        M = conditional_interim(ms[i], pmf, i)
        extra = interdependent_costs(inst)
        C = grid * X if extra is None else grid * X + conditional_interim(extra[i] * x, pmf, i)
        interim.append(
            {
                "agent": name,
                "grid": grid.tolist(),
                "trade_probability": X.tolist(),
                "expected_transfer": M.tolist(),
                "transfer": M.tolist(),
                "expected_payout": M.tolist(),
                "utility": (sign * (M - share * C)).tolist(),
            }
        )
    return GeneralResult(
        status="optimal",
        side=inst.side,
        value=value,
        allocation=x,
        transfer=ms.sum(axis=0),
        interim=interim,
        checks=checks,
        solve_seconds=seconds,
        mechanism=mech,
        vetoes=tuple(inst.names),
        instance=inst,
        highs_status=sol.status,
        agent_transfers=ms,
        formulation="general",
    )
