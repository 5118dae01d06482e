"""The general LP over ex post mechanisms (theory.md, section 9).

Variables are the trade probability x(θ) ∈ [0, 1] and the total transfer m(θ) on every type
profile θ of the grid, in the instance's own units (the file's grid order; ``m`` is designer to
group on the buy side and group to designer on the sell side). Agent i's payoff is
σ_i·sign·(m − θ_i x) with sign = +1 on the buy side and −1 on the sell side, and the designer's
profit is sign·(d·x − m) with d the buyer's value b or the seller's cost c. Rows, all of the form
``G @ [x; m] >= 0`` and stated per unit of share (σ_i > 0 divides out):

* ``"ic"``: Bayesian IC for every agent and every pair (true type t, report s), with beliefs the
  conditionals P(θ_−i | θ_i = t) of the joint pmf (Myerson 1981; correlated types as in
  Crémer and McLean 1988); or dominant-strategy IC for every pair and every θ_−i that has
  positive probability together with t.
* ``"participation"``: interim IR (one row per type) or ex post IR (one row per profile of
  positive probability) for each agent holding a veto (default: all agents).

The objective is the designer's expected profit, or with ``pareto = λ`` profit plus λ times
the agents' total expected surplus (shares included). With independent types and the default
options this LP has the value of the maximin LP of Haghpanah, Kuvalekar and Lipnowski
("Selling to a Group", EC 2021; "Buying from a Group", 2024), which the tests check. With
independent types and linear utilities, Bayesian and dominant-strategy implementation give the
same interim outcomes on a continuum (Gershkov, Goeree, Kushnir, Moldovanu and Shi,
Econometrica 2013); on a grid and with shared transfers, what DSIC or ex post IR cost is a
numerical question this module answers, not an assumption it makes.

Every row block is assembled with :mod:`scipy.sparse` from index arrays (a loop over agents,
none over profiles) and solved with HiGHS through :mod:`lpmech.highs`. Every solution is audited
by :func:`lpmech.audit.verify` with the same options; a violation above a tolerance scaled to the
instance raises :class:`CheckError`.

Well-posedness
--------------
* **Pareto weight.** Paying the group one more unit on every profile keeps every IC and IR row
  and changes profit + λ·surplus by λ − 1, so λ > 1 is unbounded and is rejected. At λ = 1 the
  objective is total surplus and the split is indeterminate: the solver then maximizes profit
  among the surplus-maximizing mechanisms (the limit λ → 1 from below).
* **No veto.** Without any participation row the designer can take any amount from the group;
  an empty veto set is rejected.
* **Zero-probability profiles.** With a joint pmf some profiles θ⁰ may have probability 0. x(θ⁰)
  and m(θ⁰) still exist: they are what an agent gets by misreporting into θ⁰, so they enter IC
  rows only as deviation payoffs and nowhere else (no objective weight, no truthful payoff, no
  ex post IR row). Lowering the group's payment there (buy: m(θ⁰) down; sell: m(θ⁰) up) only
  relaxes rows, so the LP's optimal set is unbounded in those coordinates. We bound them
  losslessly by sign·m(θ⁰) <= 0 (at an impossible profile the group may be fined, never paid)
  and, after the optimum is found, re-solve with the optimal value held (to a relative 1e-9)
  to pick the mildest such fines. Columns that no row touches end at 0.
* **Transfers on positive-probability profiles** are not unique either (e.g. adding
  f(θ_1)g(θ_2) with zero means keeps every interim row); the value and the interim quantities
  are what the LP determines, and the transfer returned is one optimal vertex.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any, Mapping

import numpy as np
import scipy.sparse as sp

from .audit import verify
from .highs import INF, make_highs, run
from .instance import Instance, InstanceError, Mechanism
from .profiles import along, conditional_interim, outer_pmf

__all__ = ["solve_general", "assemble", "GeneralLP", "GeneralResult", "CheckError", "first_best",
           "profit_bound", "CHECK_RTOL"]

#: Relative tolerance (to the instance's scale) for the audit of every solution.
CHECK_RTOL = 1e-7
#: Relative slack on an optimal value held fixed while a tie is broken.
LEX_RTOL = 1e-9


class CheckError(RuntimeError):
    """A solution failed its audit (IC, IR, bounds or the value); never downgraded to a warning."""


# --------------------------------------------------------------------------- instance helpers
def joint_pmf(instance: Instance) -> np.ndarray:
    """The pmf over profiles in the file's order (outer product of marginals when independent)."""
    return instance.joint if instance.joint is not None else outer_pmf(instance.probs)


def _sign(instance: Instance) -> float:
    return 1.0 if instance.side == "buy" else -1.0


def _scale(instance: Instance) -> float:
    """Size of the instance's numbers: the designer's value and the largest type."""
    s = max([abs(instance.designer_value)] + [float(np.max(np.abs(g))) for g in instance.grids])
    return s if s > 0 else 1.0


def _weighted_types(instance: Instance, members: list[int]) -> np.ndarray:
    """Σ_{i in members} σ_i θ_i / Σ σ_i over the profile grid."""
    shares = instance.shares
    total = np.zeros(instance.shape)
    for i in members:
        total = total + shares[i] * along(instance.grids[i], i, instance.n)
    return total / shares[members].sum()


def first_best(instance: Instance) -> float:
    """The first-best surplus: buy side E[(b − Σσ_iθ_i)_+], sell side E[(Σσ_iθ_i − c)_+].

    Examples
    --------
    >>> from lpmech.instance import Agent, Instance
    >>> inst = Instance("buy", [Agent(n, [0.25, 0.75], [0.5, 0.5]) for n in "ab"], buyer_value=1.0)
    >>> first_best(inst)
    0.5
    """
    return profit_bound(instance, instance.names)


def profit_bound(instance: Instance, vetoes) -> float:
    """Upper bound on profit when only ``vetoes`` hold participation constraints.

    Summing their IR constraints with weights σ_i gives E[m] >= E[θ̄ x] (buy side) with θ̄ the
    share-weighted mean type of the vetoes, so profit <= E[(b − θ̄)_+]; with every agent a veto
    this is :func:`first_best`.
    """
    members = [instance.names.index(v) for v in vetoes]
    gain = _sign(instance) * (instance.designer_value - _weighted_types(instance, members))
    return float(np.sum(joint_pmf(instance) * np.maximum(gain, 0.0)))


def _resolve(instance: Instance, mechanism: Mechanism | Mapping | None) -> Instance:
    """The instance with the mechanism to solve, validated against it."""
    if mechanism is None:
        mech = instance.mechanism
    else:
        mech = Mechanism(**mechanism) if isinstance(mechanism, Mapping) else mechanism
        if not isinstance(mech, Mechanism):
            raise InstanceError("must be a Mechanism or a dict of its options", field="mechanism")
        instance = replace(instance, mechanism=mech, agents=instance.agents)
    if mech.veto is not None and len(mech.veto) == 0:
        raise InstanceError("is empty: with no participation constraint the designer's profit is "
                            "unbounded (it can charge the group any amount)", field="mechanism.veto",
                            source=instance.source)
    if mech.pareto is not None and mech.pareto > 1.0:
        raise InstanceError(f"is {mech.pareto:g} > 1: the LP is unbounded (paying the group one more "
                            "unit everywhere keeps every constraint and raises profit + λ·surplus "
                            "by λ − 1); use 0 <= λ <= 1", field="mechanism.pareto", source=instance.source)
    return instance


# --------------------------------------------------------------------------- assembly
def _agent_view(shape: tuple[int, ...], i: int) -> np.ndarray:
    """Flat profile indices as a K_i x R array: agent i's type on rows, θ_−i on columns."""
    flat = np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape)
    return np.moveaxis(flat, i, 0).reshape(shape[i], -1)


def _payoff_rows(profiles: np.ndarray, weights: np.ndarray, theta: np.ndarray, n: int,
                 sign: float) -> sp.csr_matrix:
    """Rows Σ_r weights[k, r]·sign·(m − theta[k]·x) at profiles[k, r]; columns [x | m].

    ``profiles`` and ``weights`` are (rows x R); ``theta`` is the per-row type. Zero weights
    are dropped, so zero-probability profiles never appear with a zero coefficient.
    """
    rows = np.broadcast_to(np.arange(profiles.shape[0])[:, None], profiles.shape)
    live = weights != 0
    r, p, w = rows[live], profiles[live], sign * weights[live]
    t = np.broadcast_to(np.asarray(theta, dtype=float)[:, None], profiles.shape)[live]
    data = np.concatenate([-w * t, w])
    return sp.csr_matrix((data, (np.concatenate([r, r]), np.concatenate([p, p + n]))),
                         shape=(profiles.shape[0], 2 * n))


def _pairs(k: int) -> tuple[np.ndarray, np.ndarray]:
    """All (true type, report) index pairs with report != true type."""
    t, s = np.nonzero(~np.eye(k, dtype=bool))
    return t, s


def _bayesian_ic(view, belief, grid, n, sign):
    t, s = _pairs(grid.size)
    truthful = _payoff_rows(view[t], belief[t], grid[t], n, sign)
    deviation = _payoff_rows(view[s], belief[t], grid[t], n, sign)
    return truthful - deviation


def _dominant_ic(view, belief, grid, n, sign):
    t, s = _pairs(grid.size)
    live = belief[t] > 0                                    # (pairs x R): θ_−i possible given t
    pair, r = np.nonzero(live)
    tt, ss = t[pair], s[pair]
    ones = np.ones((pair.size, 1))
    truthful = _payoff_rows(view[tt, r][:, None], ones, grid[tt], n, sign)
    deviation = _payoff_rows(view[ss, r][:, None], ones, grid[tt], n, sign)
    return truthful - deviation


def _interim_ir(view, belief, grid, n, sign):
    return _payoff_rows(view, belief, grid, n, sign)


def _ex_post_ir(view, belief, grid, n, sign):
    t, r = np.nonzero(belief > 0)
    return _payoff_rows(view[t, r][:, None], np.ones((t.size, 1)), grid[t], n, sign)


_IC_ROWS = {"bayesian": _bayesian_ic, "dominant": _dominant_ic}
_IR_ROWS = {"interim": _interim_ir, "ex-post": _ex_post_ir}


@dataclass(frozen=True, eq=False)
class GeneralLP:
    """The general LP of one instance and mechanism, in the instance's units.

    Columns are ``[x, m]``, each a flattened profile vector (C order, the file's grid order,
    ``m`` with the JSON sign). The LP is: maximize ``c_x·x + c_m·m`` subject to
    ``groups[name] @ [x; m] >= 0`` for every group, ``0 <= x <= 1`` and
    ``m_lower <= m <= m_upper``.

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
    groups : dict of str to scipy.sparse.csr_matrix
        ``"ic"`` and ``"participation"`` rows.
    m_lower, m_upper : ndarray
        Bounds on m (infinite except at zero-probability profiles).
    zero : ndarray of bool
        Zero-probability profiles.
    """

    instance: Instance
    vetoes: tuple[str, ...]
    pmf: np.ndarray
    objective: tuple[np.ndarray, np.ndarray]
    profit: tuple[np.ndarray, np.ndarray]
    surplus: tuple[np.ndarray, np.ndarray]
    groups: dict[str, sp.csr_matrix]
    m_lower: np.ndarray
    m_upper: np.ndarray
    zero: np.ndarray

    @property
    def n_profiles(self) -> int:
        return self.pmf.size

    @property
    def shape(self) -> tuple[int, ...]:
        return self.instance.shape

    def matrix(self) -> sp.csr_matrix:
        """All rows stacked (``"ic"`` first)."""
        return sp.vstack(list(self.groups.values()), format="csr")

    def split(self, name: str) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        """The x and m parts of a row group: ``G_x @ x + G_m @ m >= 0``."""
        g = self.groups[name].tocsc()
        n = self.n_profiles
        return g[:, :n].tocsr(), g[:, n:].tocsr()


def assemble(instance: Instance, *, mechanism: Mechanism | Mapping | None = None) -> GeneralLP:
    """Assemble the general LP (no solve).

    Examples
    --------
    >>> from lpmech.instance import Agent, Instance
    >>> inst = Instance("buy", [Agent(n, [0.25, 0.75], [0.5, 0.5]) for n in "ab"], buyer_value=1.0)
    >>> lp = assemble(inst)
    >>> lp.groups["ic"].shape, lp.groups["participation"].shape
    ((4, 8), (4, 8))
    """
    instance = _resolve(instance, mechanism)
    mech = instance.mechanism
    vetoes = tuple(instance.names if mech.veto is None else mech.veto)
    pmf_nd = joint_pmf(instance)
    pmf = pmf_nd.ravel()
    n, sign, shape = pmf.size, _sign(instance), instance.shape
    ic_blocks, ir_blocks = [], []
    for i, (name, grid) in enumerate(zip(instance.names, instance.grids)):
        view = _agent_view(shape, i)
        joint_i = pmf[view]
        belief = joint_i / joint_i.sum(axis=1, keepdims=True)
        ic_blocks.append(_IC_ROWS[mech.ic](view, belief, grid, n, sign))
        if name in vetoes:
            ir_blocks.append(_IR_ROWS[mech.participation](view, belief, grid, n, sign))
    groups = {"ic": sp.vstack(ic_blocks, format="csr"), "participation": sp.vstack(ir_blocks, format="csr")}
    d = instance.designer_value
    mean_type = _weighted_types(instance, list(range(instance.n))).ravel()
    profit = (sign * d * pmf, -sign * pmf)
    surplus = (-sign * mean_type * pmf, sign * pmf)
    lam = mech.pareto or 0.0
    objective = (profit[0] + lam * surplus[0], profit[1] + lam * surplus[1])
    zero = pmf == 0
    m_lower = np.where(zero & (sign < 0), 0.0, -INF)
    m_upper = np.where(zero & (sign > 0), 0.0, INF)
    return GeneralLP(instance, vetoes, pmf, objective, profit, surplus, groups, m_lower, m_upper, zero)


# --------------------------------------------------------------------------- solving
def _tie_breaks(lp: GeneralLP) -> list[np.ndarray]:
    """Secondary objectives (maximized in order with the earlier optima held)."""
    n = lp.n_profiles
    out = []
    if lp.instance.mechanism.pareto == 1.0:
        out.append(np.concatenate(lp.profit))
    if lp.zero.any():
        fines = np.zeros(2 * n)
        fines[n:][lp.zero] = 1.0 if lp.instance.side == "buy" else -1.0
        out.append(fines)
    return out


def _optimize(lp: GeneralLP, scale: float) -> tuple[np.ndarray, str, float]:
    """Solve the LP, then break ties lexicographically; returns (z, status, seconds)."""
    n = lp.n_profiles
    A = lp.matrix()
    rows = A.shape[0]
    c = np.concatenate(lp.objective)
    col_lo = np.concatenate([np.zeros(n), lp.m_lower])
    col_hi = np.concatenate([np.ones(n), lp.m_upper])
    start = time.perf_counter()
    h = make_highs(-c, A, np.zeros(rows), np.full(rows, INF), col_lo, col_hi)
    sol = run(h, "general LP")
    for nxt in _tie_breaks(lp):
        held = float(c @ sol.x)
        idx = np.flatnonzero(c).astype(np.int32)
        h.addRow(held - LEX_RTOL * max(abs(held), scale), INF, idx.size, idx, c[idx])
        h.changeColsCost(2 * n, np.arange(2 * n, dtype=np.int32), -nxt)
        sol = run(h, "general LP (tie-break)")
        c = nxt
    return sol.x, sol.status, time.perf_counter() - start


def _interim(instance: Instance, x: np.ndarray, m: np.ndarray) -> list[dict]:
    pmf, sign = joint_pmf(instance), _sign(instance)
    out = []
    for i, (name, grid, share) in enumerate(zip(instance.names, instance.grids, instance.shares)):
        X = conditional_interim(x, pmf, i)
        M = conditional_interim(m, pmf, i)
        out.append({"agent": name, "grid": grid.tolist(), "trade_probability": X.tolist(),
                    "transfer": M.tolist(), "utility": (share * sign * (M - grid * X)).tolist()})
    return out


def _checks(lp: GeneralLP, x: np.ndarray, m: np.ndarray, value: float) -> dict:
    """Audit (x, m) with :func:`verify`; raise :class:`CheckError` on any failure."""
    inst = lp.instance
    mech = inst.mechanism
    audit = verify(inst, x, m, ic=mech.ic, participation=mech.participation, veto=lp.vetoes)
    surplus = float(sum(np.dot(p, a["interim_utility"]) for p, a in zip(inst.probs, audit.per_agent)))
    lam = mech.pareto or 0.0
    fb, bound = first_best(inst), profit_bound(inst, lp.vetoes)
    scale = _scale(inst)
    tol = CHECK_RTOL * max(scale, float(np.max(np.abs(m), initial=0.0)))
    gap = abs(value - (audit.profit + lam * surplus)) / max(abs(value), scale)
    checks = {"max_ic_violation": audit.max_ic_violation, "max_ir_violation": audit.max_ir_violation,
              "max_bound_violation": audit.max_bound_violation, "analytic_gap": gap,
              "first_best": fb, "profit_bound": bound, "profit": audit.profit, "surplus": surplus,
              "tolerance": tol}
    failures = [f"{k} = {checks[k]:.3g}" for k in ("max_ic_violation", "max_ir_violation",
                                                  "max_bound_violation") if checks[k] > tol]
    if gap > CHECK_RTOL:
        failures.append(f"analytic_gap = {gap:.3g}")
    if audit.profit > bound + tol:
        failures.append(f"profit {audit.profit:.10g} exceeds the bound {bound:.10g}")
    if failures:
        raise CheckError(f"general LP solution failed its audit ({inst.describe()}; tolerance {tol:.3g}): "
                         + "; ".join(failures) + f"; worst IC {audit.worst_ic}, worst IR {audit.worst_ir}")
    return checks


@dataclass
class GeneralResult:
    """An audited optimum of the general LP, in the instance's units and grid order.

    ``transfer`` follows the JSON convention (designer to group on the buy side, group to
    designer on the sell side); ``interim`` holds, per agent, the grid, E[x | θ_i], E[m | θ_i]
    and the interim utility (share included). ``checks`` holds the audit's worst violations,
    ``analytic_gap`` (the LP objective against the audited profit + λ·surplus, relative),
    ``first_best``, ``profit_bound`` (the first best for the veto set), ``profit``, ``surplus``
    and the ``tolerance`` applied.
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

    @property
    def profit(self) -> float:
        return self.checks["profit"]

    @property
    def surplus(self) -> float:
        return self.checks["surplus"]

    def mechanism_dict(self) -> dict:
        m = self.mechanism
        return {"ic": m.ic, "participation": m.participation, "veto": list(self.vetoes),
                "objective": "profit" if m.pareto is None else "pareto", "pareto": m.pareto}

    def to_dict(self) -> dict:
        """JSON-ready dict (lists and floats)."""
        return {"status": self.status, "side": self.side, "formulation": self.formulation,
                "mechanism": self.mechanism_dict(), "value": float(self.value),
                "allocation": self.allocation.tolist(), "transfer": self.transfer.tolist(),
                "interim": self.interim, "checks": {k: float(v) for k, v in self.checks.items()},
                "solve_seconds": float(self.solve_seconds)}

    def summary(self) -> str:
        """Readable text: options, value against the first best, checks, interim table."""
        m, c = self.mechanism, self.checks
        ic = "Bayesian IC" if m.ic == "bayesian" else "dominant-strategy IC"
        objective = "profit" if m.pareto is None else f"profit + {m.pareto:g} x surplus"
        fb = c["first_best"]
        share = f" ({self.value / fb:.1%} of first best {fb:.6g})" if fb > 0 else ""
        lines = [f"general LP, {self.side} side: {ic}, {m.participation} participation, "
                 f"veto {', '.join(self.vetoes)}; maximize {objective}",
                 f"status {self.status}, value {self.value:.10g}{share}, profit {c['profit']:.10g}, "
                 f"agents' surplus {c['surplus']:.10g}, {self.solve_seconds:.3f} s",
                 f"checks: IC {c['max_ic_violation']:.2e}, IR {c['max_ir_violation']:.2e}, "
                 f"gap {c['analytic_gap']:.2e} (tolerance {c['tolerance']:.1e})"]
        for a in self.interim:
            lines.append(f"  {a['agent']}: {'type':>10} {'P(trade)':>10} {'E[m]':>12} {'utility':>12}")
            for row in zip(a["grid"], a["trade_probability"], a["transfer"], a["utility"]):
                lines.append(f"  {'':{len(a['agent'])}}  {row[0]:>10.4g} {row[1]:>10.4f} {row[2]:>12.6g} "
                             f"{row[3]:>12.6g}")
        return "\n".join(lines)


def solve_general(instance: Instance, *, mechanism: Mechanism | Mapping | None = None) -> GeneralResult:
    """Solve the general LP and audit the solution.

    Parameters
    ----------
    instance : Instance
        Independent or correlated (joint pmf) types, either side.
    mechanism : Mechanism or dict, optional
        Overrides ``instance.mechanism`` (IC notion, participation, veto set, Pareto weight λ
        in [0, 1]).

    Returns
    -------
    GeneralResult

    Raises
    ------
    InstanceError
        For an empty veto set or λ > 1 (both make the LP unbounded).
    lpmech.highs.SolverError
        If HiGHS does not report an optimum.
    CheckError
        If the audit finds a violation above ``CHECK_RTOL`` times the instance's scale.

    Examples
    --------
    >>> from lpmech.instance import Agent, Instance
    >>> inst = Instance("buy", [Agent(n, [0.25, 0.75], [0.5, 0.5]) for n in "ab"], buyer_value=1.0)
    >>> res = solve_general(inst)
    >>> round(res.value, 6), res.checks["max_ic_violation"] < 1e-9
    (0.25, True)
    >>> round(solve_general(inst, mechanism={"ic": "dominant", "participation": "ex-post"}).value, 6)
    0.25
    """
    start = time.perf_counter()
    lp = assemble(instance, mechanism=mechanism)
    inst = lp.instance
    z, status, _ = _optimize(lp, _scale(inst))
    seconds = time.perf_counter() - start
    n = lp.n_profiles
    x = np.clip(z[:n], 0.0, 1.0)
    m = z[n:].copy()
    value = float(np.concatenate(lp.objective) @ np.concatenate([x, m]))
    x_nd, m_nd = x.reshape(inst.shape), m.reshape(inst.shape)
    checks = _checks(lp, x_nd, m_nd, value)
    return GeneralResult(status=status, side=inst.side, value=value, allocation=x_nd, transfer=m_nd,
                         interim=_interim(inst, x_nd, m_nd), checks=checks, solve_seconds=seconds,
                         mechanism=inst.mechanism, vetoes=lp.vetoes)
