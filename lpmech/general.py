"""The general LP over ex post mechanisms (theory.md, section 9).

Variables are the trade probability x(θ) ∈ [0, 1] and the total transfer m(θ) on every type
profile θ of the grid, in the instance's own units (the file's grid order; ``m`` is designer to
group on the buy side and group to designer on the sell side). Agent i's payoff is
σ_i·sign·(m − θ_i x) with sign = +1 on the buy side and −1 on the sell side, and the designer's
profit is sign·(d·x − m) with d the buyer's value b or the seller's cost c. Rows, all of the form
``G @ [x; m] >= 0`` and stated per unit of share (σ_i > 0 divides out):

* ``"ic"``: Bayesian IC for every agent and every pair (true type t, report s), with beliefs the
  conditionals P(θ_−i | θ_i = t) of the joint pmf (Myerson 1981; correlated types as in
  Crémer and McLean 1988); or dominant-strategy IC for every θ_−i that has positive
  probability together with the true type t (neighbouring types suffice, see
  :func:`_dominant_ic`).
* ``"participation"``: interim IR (one row per type) or ex post IR (one row per profile of
  positive probability) for each agent holding a veto (default: all agents).

The objective is the designer's expected profit, or with ``pareto = λ`` profit plus λ times
the agents' total expected surplus (shares included). With independent types and the default
options this LP has the value of the maximin LP of Haghpanah, Kuvalekar and Lipnowski
("Selling to a Group", EC 2021; "Buying from a Group", 2024), which the tests check. With
independent private values, linear utilities and *individual* transfers, Bayesian and
dominant-strategy implementation give the same interim outcomes on a continuum (Gershkov,
Goeree, Kushnir, Moldovanu and Shi, Econometrica 2013); here the group shares one transfer and
types live on grids, so what DSIC or ex post IR cost is a numerical question this module
answers, not an assumption it makes.

Every row block is assembled with :mod:`scipy.sparse` from index arrays (a loop over agents,
none over profiles). The HiGHS model gives each agent's interim expectations columns of their
own (:meth:`GeneralLP.highs_form`), which keeps the all-pairs IC rows short, and is solved
through :mod:`lpmech.highs`. Every solution is audited by :func:`lpmech.audit.verify` with the
same options; a violation above a tolerance scaled to the instance raises :class:`CheckError`
(the project's :class:`lpmech.checks.CheckError`, re-exported here).

Well-posedness
--------------
* **Pareto weight.** Paying the group one more unit on every profile keeps every IC and IR row
  and changes profit + λ·surplus by λ − 1, so λ > 1 is unbounded and is rejected. At λ = 1 the
  objective is total welfare (profit + surplus) and its split is indeterminate: the solver then
  maximizes profit among the welfare-maximizing mechanisms (the limit λ → 1 from below). At an
  explicit λ = 0 it picks, among the profit maximizers, one with the largest surplus, so every
  Pareto solution is Pareto efficient (``pareto=None``, plain profit, skips this second solve).
* **No veto.** Without any participation row the designer can take any amount from the group;
  an empty veto set is rejected.
* **Zero-probability profiles.** With a joint pmf some profiles θ⁰ may have probability 0. x(θ⁰)
  and m(θ⁰) still exist: they are what an agent gets by misreporting into θ⁰, so they enter IC
  rows only as deviation payoffs and nowhere else (no objective weight, no truthful payoff, no
  ex post IR row). Lowering the group's payment there (buy: m(θ⁰) down; sell: m(θ⁰) up) only
  relaxes rows, so the LP's optimal set is unbounded in those coordinates. We bound them
  losslessly by sign·m(θ⁰) <= 0 (at an impossible profile the group may be fined, never paid)
  and, after the optimum is found, re-solve with the optimal value held (to HiGHS's tolerance)
  to pick the mildest such fines. Columns that no row touches end at 0.
* **Transfers on positive-probability profiles** are not unique either (e.g. adding
  f(θ_1)g(θ_2) with zero means keeps every interim row); the value and the interim quantities
  are what the LP determines, and the transfer returned is one optimal vertex.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Mapping

import numpy as np
import scipy.sparse as sp

from .audit import verify
from .checks import CheckError
from .highs import INF, SolverError, make_highs, run
from .instance import Instance, InstanceError, Mechanism
from .profiles import along, conditional_interim, outer_pmf

__all__ = ["solve_general", "assemble", "GeneralLP", "RowBlock", "GeneralResult", "CheckError", "first_best",
           "profit_bound", "CHECK_RTOL"]

#: Relative tolerance (to the instance's scale) for the audit of every solution.
CHECK_RTOL = 1e-7
#: Relative slack on an optimal value held fixed while a tie is broken (HiGHS's own feasibility
#: tolerance, 1e-9, adds to it).
LEX_RTOL = 1e-12


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
    return float(np.sum(instance.joint_pmf() * np.maximum(gain, 0.0)))


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


@dataclass(frozen=True, eq=False)
class _Agent:
    """One agent's view of the profile grid, as the row makers need it."""

    view: np.ndarray        # K x R flat profile indices (own type on rows)
    belief: np.ndarray      # K x R conditional pmf of θ_−i given each own type
    grid: np.ndarray
    n: int                  # number of profiles
    sign: float             # +1 buy side, −1 sell side

    @property
    def k(self) -> int:
        return self.grid.size

    def beliefs(self) -> tuple[np.ndarray, np.ndarray]:
        """The distinct beliefs (U x R) and, for each own type, the index of its belief."""
        uniq, which = np.unique(self.belief, axis=0, return_inverse=True)
        return uniq, np.asarray(which).ravel()


def _beliefs(instance: Instance, pmf: np.ndarray, view: np.ndarray, i: int) -> np.ndarray:
    """P(θ_−i = r | θ_i = t) as a K_i x R array (identical rows when types are independent)."""
    if instance.independent:
        others = outer_pmf([p for j, p in enumerate(instance.probs) if j != i]).ravel()
        return np.broadcast_to(others, view.shape).copy()
    joint_i = pmf[view]
    return joint_i / joint_i.sum(axis=1, keepdims=True)


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
    return sp.csr_matrix((data, (np.concatenate([rows, rows]), np.concatenate([col, col + width]))),
                         shape=(t.size, 2 * width))


def _pick(k: int, t: np.ndarray, s: np.ndarray) -> sp.csr_matrix:
    """Rows selecting entry t·K + s of a length-K² interim payoff vector."""
    return sp.csr_matrix((np.ones(t.size), (np.arange(t.size), t * k + s)), shape=(t.size, k * k))


def _bayesian_ic(agent: _Agent):
    """Every pair (t, s), s != t: the truthful interim payoff is at least the deviation's."""
    t, s = np.nonzero(~np.eye(agent.k, dtype=bool))
    return "interim", _pick(agent.k, t, t) - _pick(agent.k, t, s)


def _interim_ir(agent: _Agent):
    """The truthful interim payoff of every type is nonnegative."""
    t = np.arange(agent.k)
    return "interim", _pick(agent.k, t, t)


def _dominant_ic(agent: _Agent):
    """Ex post IC against every θ_−i that is possible given the true type.

    At a fixed θ_−i = r the payoff m − t·x is linear in t, so among the types t that are
    possible with r ("live") IC between neighbours implies IC between all of them (the usual
    single-crossing chain). Reports into a profile that is impossible with r are threats with
    no IC row of their own, so every (live t, impossible s) pair keeps its row. The rows kept
    are a subset of all pairs and imply the rest, so this is exact; it cuts K(K−1) rows per
    θ_−i to about 2(K−1).
    """
    live = agent.belief > 0                                  # (K x R): (t, r) has positive probability
    r_live, t_live = np.nonzero(live.T)                      # sorted by r, then t
    same = r_live[1:] == r_live[:-1]
    lo, hi, r_adj = t_live[:-1][same], t_live[1:][same], r_live[1:][same]
    t_out, s_out, r_out = np.nonzero(live[:, None, :] & ~live[None, :, :])
    t = np.concatenate([lo, hi, t_out])
    s = np.concatenate([hi, lo, s_out])
    r = np.concatenate([r_adj, r_adj, r_out])
    return "profile", _ex_post_payoff(agent, t, t, r) - _ex_post_payoff(agent, t, s, r)


def _ex_post_ir(agent: _Agent):
    """sign·(m − θ_i x) >= 0 on every profile of positive probability."""
    t, r = np.nonzero(agent.belief > 0)
    return "profile", _ex_post_payoff(agent, t, t, r)


def _ex_post_payoff(agent: _Agent, t: np.ndarray, s: np.ndarray, r: np.ndarray) -> sp.csr_matrix:
    """Rows sign·(m − t·x) at the profile (s, r): true type t reports s, the others are r."""
    rows = np.arange(t.size)
    prof = agent.view[s, r]
    data = agent.sign * np.concatenate([-agent.grid[t], np.ones(t.size)])
    return sp.csr_matrix((data, (np.concatenate([rows, rows]), np.concatenate([prof, prof + agent.n]))),
                         shape=(t.size, 2 * agent.n))


_IC_ROWS = {"bayesian": _bayesian_ic, "dominant": _dominant_ic}
_IR_ROWS = {"interim": _interim_ir, "ex-post": _ex_post_ir}


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


@dataclass(frozen=True, eq=False)
class GeneralLP:
    """The general LP of one instance and mechanism, in the instance's units.

    Columns are ``[x, m]``, each a flattened profile vector (C order, the file's grid order,
    ``m`` with the JSON sign). The LP is: maximize ``c_x·x + c_m·m`` subject to
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
    interim_factors: dict[int, tuple[sp.csr_matrix, sp.csr_matrix]]
    groups: dict[str, list[RowBlock]]
    m_lower: np.ndarray
    m_upper: np.ndarray
    zero: np.ndarray

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
        """A group's rows over [x; m] (interim blocks multiplied out)."""
        mats = [b.matrix @ self.payoff_operator(b.agent) if b.acts_on == "interim" else b.matrix
                for b in self.groups[name]]
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
        aux = {}                                      # agent -> (definition operator, map from payoffs)
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
        row_lo = np.zeros(A.shape[0])
        row_hi = np.concatenate([np.zeros(n_def), np.full(A.shape[0] - n_def, INF)])
        col_lo = np.concatenate([np.zeros(n), self.m_lower, np.full(n_cols - 2 * n, -INF)])
        col_hi = np.concatenate([np.ones(n), self.m_upper, np.full(n_cols - 2 * n, INF)])
        return A, row_lo, row_hi, col_lo, col_hi


def assemble(instance: Instance, *, mechanism: Mechanism | Mapping | None = None) -> GeneralLP:
    """Assemble the general LP (no solve).

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
    n, sign, shape = pmf.size, _sign(instance), instance.shape
    groups: dict[str, list[RowBlock]] = {"ic": [], "participation": []}
    interim_factors: dict[int, tuple[sp.csr_matrix, sp.csr_matrix]] = {}
    for i, (name, grid) in enumerate(zip(instance.names, instance.grids)):
        view = _agent_view(shape, i)
        agent = _Agent(view, _beliefs(instance, pmf, view, i), grid, n, sign)
        makers = [("ic", _IC_ROWS[mech.ic])] + ([("participation", _IR_ROWS[mech.participation])]
                                                if name in vetoes else [])
        for group, make in makers:
            acts_on, matrix = make(agent)
            if acts_on == "interim" and i not in interim_factors:
                interim_factors[i] = (_interim_payoff(agent), _interim_operator(agent))
            groups[group].append(RowBlock(i, acts_on, matrix))
    mean_type = _weighted_types(instance, list(range(instance.n))).ravel()
    profit = (sign * instance.designer_value * pmf, -sign * pmf)
    surplus = (-sign * mean_type * pmf, sign * pmf)
    lam = mech.pareto or 0.0
    objective = (profit[0] + lam * surplus[0], profit[1] + lam * surplus[1])
    zero = pmf == 0
    m_lower = np.where(zero & (sign < 0), 0.0, -INF)
    m_upper = np.where(zero & (sign > 0), 0.0, INF)
    return GeneralLP(instance, vetoes, pmf, objective, profit, surplus, interim_factors, groups,
                     m_lower, m_upper, zero)


# --------------------------------------------------------------------------- solving
def _tie_breaks(lp: GeneralLP) -> list[np.ndarray]:
    """Secondary objectives over [x; m] (maximized in order with the earlier optima held)."""
    n = lp.n_profiles
    out = []
    lam = lp.instance.mechanism.pareto
    if lam == 0.0:          # among profit maximizers the Pareto-efficient one (largest surplus)
        out.append(np.concatenate(lp.surplus))
    if lam == 1.0:          # among welfare maximizers the one with the largest profit (λ -> 1-)
        out.append(np.concatenate(lp.profit))
    if lp.zero.any():
        fines = np.zeros(2 * n)
        fines[n:][lp.zero] = 1.0 if lp.instance.side == "buy" else -1.0
        out.append(fines)
    return out


def _solver_for(mech: Mechanism) -> str:
    """HiGHS's algorithm: interior point (with crossover to a vertex) for the mixed variants.

    Dense interim rows together with many sparse ex post rows (Bayesian IC with ex post IR,
    dominant-strategy IC with interim IR) make dual simplex slow (3-5x, one correlated 40 x 40
    case over a minute); the pure variants are fastest with simplex (measured on the
    benchmarks and grids/ instances).
    """
    mixed = (mech.ic == "dominant") != (mech.participation == "ex-post")
    return "ipm" if mixed else "simplex"


def _optimize(lp: GeneralLP, scale: float) -> tuple[np.ndarray, str]:
    """Solve the LP, then break ties lexicographically; returns ([x; m], HiGHS status)."""
    A, row_lo, row_hi, col_lo, col_hi = lp.highs_form()
    n_cols = A.shape[1]
    pad = np.zeros(n_cols - 2 * lp.n_profiles)
    c = np.concatenate(list(lp.objective) + [pad])
    h = make_highs(-c, A, row_lo, row_hi, col_lo, col_hi)
    h.setOptionValue("solver", _solver_for(lp.instance.mechanism))
    sol = _run(h, "general LP")
    h.setOptionValue("solver", "simplex")     # tie-breaks start from the optimal basis
    for nxt in _tie_breaks(lp):
        held = float(c @ sol.x)
        idx = np.flatnonzero(c).astype(np.int32)
        h.addRow(held - LEX_RTOL * max(abs(held), scale), INF, idx.size, idx, c[idx])
        c = np.concatenate([nxt, pad])
        h.changeColsCost(n_cols, np.arange(n_cols, dtype=np.int32), -c)
        sol = _run(h, "general LP (tie-break)")
    return sol.x[:2 * lp.n_profiles], sol.status


def _run(h, what: str):
    """:func:`lpmech.highs.run`, retried once from scratch with simplex if HiGHS gives up.

    A warm start after a row is added can stall numerically (HiGHS reports status "Unknown";
    seen on a 2 x 2 correlated instance); a cold simplex solve of the same LP succeeds. A
    second failure is raised.
    """
    try:
        return run(h, what)
    except SolverError:
        h.clearSolver()
        h.setOptionValue("solver", "simplex")
        return run(h, what)


def _interim(instance: Instance, x: np.ndarray, m: np.ndarray) -> list[dict]:
    pmf, sign = instance.joint_pmf(), _sign(instance)
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
              "profit_bound_excess": max(0.0, audit.profit - bound), "first_best": fb, "profit_bound": bound,
              "profit": audit.profit, "surplus": surplus, "tolerance": tol}
    failed = [k for k in ("max_ic_violation", "max_ir_violation", "max_bound_violation", "profit_bound_excess")
              if checks[k] > tol]
    if gap > CHECK_RTOL:
        failed.append("analytic_gap")
    if failed:
        raise CheckError(failed, checks)
    return checks


@dataclass
class GeneralResult:
    """An audited optimum of the general LP, in the instance's units and grid order.

    ``transfer`` follows the JSON convention (designer to group on the buy side, group to
    designer on the sell side); ``interim`` holds, per agent, the grid, E[x | θ_i], E[m | θ_i]
    and the interim utility (share included). ``checks`` holds the audit's worst violations,
    ``analytic_gap`` (the LP objective against the audited profit + λ·surplus, relative),
    ``first_best``, ``profit_bound`` (the first best for the veto set), ``profit_bound_excess``,
    ``profit``, ``surplus`` (the agents' total expected surplus) and the ``tolerance`` applied.
    ``solve_seconds`` is the wall time of assembly and HiGHS (all stages), without the audit.
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
            for row in zip(*(np.asarray(a[k]) + 0.0 for k in ("grid", "trade_probability", "transfer", "utility"))):
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
    (0.3125, True)
    >>> round(solve_general(inst, mechanism={"ic": "dominant", "participation": "ex-post"}).value, 6)
    0.25
    """
    start = time.perf_counter()
    instance.check_size()
    lp = assemble(instance, mechanism=mechanism)
    inst = lp.instance
    z, status = _optimize(lp, _scale(inst))
    seconds = time.perf_counter() - start
    n = lp.n_profiles
    x = np.clip(z[:n], 0.0, 1.0)
    m = z[n:].copy()
    value = float(np.concatenate(lp.objective) @ np.concatenate([x, m]))
    x_nd, m_nd = x.reshape(inst.shape), m.reshape(inst.shape)
    checks = _checks(lp, x_nd, m_nd, value)
    return GeneralResult(status=status, side=inst.side, value=value, allocation=x_nd, transfer=m_nd,
                         interim=_interim(inst, x_nd, m_nd), checks=checks, solve_seconds=seconds,
                         mechanism=inst.mechanism, vetoes=lp.vetoes, instance=inst)
