"""The general LP as a cvxpy model that researchers can extend.

:func:`model` returns the LP of :mod:`lpmech.general` (same constraint matrices, same
objective, same units) written with cvxpy: variables ``x`` (trade probability) and ``m`` (total
transfer, designer to group on the buy side, group to designer on the sell side) as flattened
profile vectors in the file's grid order, the constraints in named groups (``"bounds"``,
``"ic"``, ``"participation"``), and the objective. Add constraints and re-solve, e.g. an ex
post budget cap or a minimum probability of trade::

    gm = model(instance)
    base = gm.solve()
    capped = gm.solve(extra_constraints=[gm.m <= 0.8])                 # m(θ) <= B on every profile
    traded = gm.solve(extra_constraints=[gm.expect(gm.x) >= 0.6])      # E[x] >= q

The model is an LP; cvxpy passes it to HiGHS when available (Clarabel otherwise), so the
values agree with :func:`lpmech.general.solve_general` to solver tolerance. Extra constraints
are *not* audited by :func:`lpmech.audit.verify` (it knows only IC and IR); run ``verify`` on
``gm.allocation()`` / ``gm.transfer()`` to check the IC and IR part.

References: Myerson (1981) for the grid IC/IR constraints; Haghpanah, Kuvalekar and Lipnowski
("Selling to a Group", EC 2021; "Buying from a Group", 2024) for the group setting with a
shared transfer.
"""

from __future__ import annotations

from typing import Iterable, Mapping

import cvxpy as cp
import numpy as np
import scipy.sparse as sp

from .general import GeneralLP, assemble
from .highs import SolverError
from .instance import Instance, Mechanism

__all__ = ["model", "GeneralModel"]


def _default_solver() -> str:
    return "HIGHS" if "HIGHS" in cp.installed_solvers() else "CLARABEL"


class GeneralModel:
    """The general LP of one instance as a cvxpy model.

    Attributes
    ----------
    instance : Instance
        The instance, with the mechanism being modelled.
    lp : GeneralLP
        The assembled LP the model is built from.
    x, m : cvxpy.Variable
        Trade probability and transfer on every profile, flattened in C order (use
        :meth:`reshape`).
    pmf : ndarray
        Flattened joint pmf (so ``pmf @ m`` is E[m]; see :meth:`expect`).
    constraints : dict of str to list of cvxpy.Constraint
        ``"bounds"`` (0 <= x <= 1, and the sign of m at zero-probability profiles),
        ``"ic"`` (one constraint per agent, in agent order) and ``"participation"`` (one per
        agent holding a veto).
    objective : cvxpy.Maximize
        Profit, plus λ times the agents' surplus when the mechanism has a Pareto weight.
    profit, surplus : cvxpy.Expression
        The designer's expected profit and the agents' total expected surplus.
    problem : cvxpy.Problem
        The model without extra constraints.
    """

    def __init__(self, instance: Instance, *, mechanism: Mechanism | Mapping | None = None):
        self.lp: GeneralLP = assemble(instance, mechanism=mechanism)
        self.instance = self.lp.instance
        n = self.lp.n_profiles
        self.pmf = self.lp.pmf
        self.x = cp.Variable(n, name="x")
        self.m = cp.Variable(n, name="m")
        self.profit = self._linear(self.lp.profit)
        self.surplus = self._linear(self.lp.surplus)
        self.objective = cp.Maximize(self._linear(self.lp.objective))
        self.constraints = {"bounds": self._bounds(), "ic": self._rows("ic"),
                            "participation": self._rows("participation")}
        self.problem = cp.Problem(self.objective, self.all_constraints())

    # ------------------------------------------------------------------ building
    def _linear(self, coef: tuple[np.ndarray, np.ndarray]) -> cp.Expression:
        return coef[0] @ self.x + coef[1] @ self.m

    def _bounds(self) -> list:
        out = [self.x >= 0, self.x <= 1]
        zero = np.flatnonzero(self.lp.zero)
        if zero.size:   # at impossible profiles the group may be fined, never paid (lossless)
            out.append(self.m[zero] <= 0 if self.instance.side == "buy" else self.m[zero] >= 0)
        return out

    def _rows(self, group: str) -> list:
        """One constraint ``G_x @ x + G_m @ m >= 0`` per agent, from the LP's own matrices."""
        n = self.lp.n_profiles
        out = []
        for block in self.lp.groups[group]:
            g = block.matrix @ self.lp.payoff_operator(block.agent) if block.acts_on == "interim" else block.matrix
            g = sp.csc_matrix(g)
            out.append(g[:, :n] @ self.x + g[:, n:] @ self.m >= 0)
        return out

    def all_constraints(self) -> list:
        """The model's constraints, all groups."""
        return [c for group in self.constraints.values() for c in group]

    # ------------------------------------------------------------------ helpers
    def reshape(self, vec) -> np.ndarray:
        """A flattened profile vector (or a variable's value) as a K_1 x ... x K_N array."""
        if isinstance(vec, cp.Expression):
            vec = vec.value
        return np.asarray(vec, dtype=float).reshape(self.instance.shape)

    def expect(self, expr: cp.Expression) -> cp.Expression:
        """E[expr(θ)] for a profile vector expression (e.g. ``gm.expect(gm.x)``, the trade probability)."""
        return self.pmf @ expr

    def interim(self, expr: cp.Expression, agent: int | str) -> cp.Expression:
        """E[expr(θ) | θ_i = t] for every grid point t of ``agent`` (a K_i vector expression)."""
        i = agent if isinstance(agent, int) else self.instance.names.index(agent)
        joint = self.pmf.reshape(self.instance.shape)
        k = self.instance.shape[i]
        view = np.moveaxis(np.arange(self.pmf.size).reshape(self.instance.shape), i, 0).reshape(k, -1)
        weight = np.moveaxis(joint, i, 0).reshape(k, -1)
        weight = weight / weight.sum(axis=1, keepdims=True)
        rows = np.repeat(np.arange(k), view.shape[1])
        cond = sp.csr_matrix((weight.ravel(), (rows, view.ravel())), shape=(k, self.pmf.size))
        return cond @ expr

    def allocation(self) -> np.ndarray:
        """The solved x as an N-d array (file order)."""
        return self.reshape(self.x)

    def transfer(self) -> np.ndarray:
        """The solved m as an N-d array (file order, JSON sign convention)."""
        return self.reshape(self.m)

    # ------------------------------------------------------------------ solving
    def solve(self, extra_constraints: Iterable = (), **solver_kwargs) -> float:
        """Solve with the model's constraints plus ``extra_constraints``; return the optimal value.

        ``solver_kwargs`` go to :meth:`cvxpy.Problem.solve` (default ``solver="HIGHS"`` when
        installed). Raises :class:`lpmech.highs.SolverError` unless cvxpy reports ``optimal``
        (e.g. when an extra constraint makes the model infeasible).
        """
        extra = list(extra_constraints)
        problem = self.problem if not extra else cp.Problem(self.objective, self.all_constraints() + extra)
        solver_kwargs.setdefault("solver", _default_solver())
        problem.solve(**solver_kwargs)
        self.last_problem = problem
        if problem.status != cp.OPTIMAL:
            raise SolverError("cvxpy general model", str(problem.status))
        return float(problem.value)


def model(instance: Instance, *, mechanism: Mechanism | Mapping | None = None) -> GeneralModel:
    """The general LP as an extensible cvxpy model.

    Parameters
    ----------
    instance : Instance
    mechanism : Mechanism or dict, optional
        Overrides ``instance.mechanism`` (as in :func:`lpmech.general.solve_general`).

    Returns
    -------
    GeneralModel

    Examples
    --------
    Two sellers with costs 0.25 or 0.75: capping the transfer at 0.8 on every profile costs
    the buyer nothing here, requiring trade with probability at least 0.9 costs something.

    >>> from lpmech.instance import Agent, Instance
    >>> inst = Instance("buy", [Agent(n, [0.25, 0.75], [0.5, 0.5]) for n in "ab"], buyer_value=1.0)
    >>> gm = model(inst)
    >>> round(gm.solve(), 6)
    0.3125
    >>> round(gm.solve(extra_constraints=[gm.m <= 0.8]), 6)
    0.3125
    >>> round(gm.solve(extra_constraints=[gm.expect(gm.x) >= 0.9]), 6)
    0.275
    """
    return GeneralModel(instance, mechanism=mechanism)
