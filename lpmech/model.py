"""The general LP as a cvxpy model that researchers can extend.

:func:`model` returns the LP of :mod:`lpmech.general` (same constraint matrices, same
objective, same units) written with cvxpy: variables ``x`` (trade probability) and ``m`` (total
transfer, designer to group on the buy side, group to designer on the sell side) as flattened
profile vectors in the file's grid order, the constraints in named groups (``"bounds"``,
``"ic"``, ``"participation"``), and the objective. The constraints are the model's definitions
(docs/model.md, section 2) on the whole profile grid: DSIC for every θ_−i and ex-post IR at every
profile, zero-probability profiles included; m is free (no sign or bound anywhere). Add constraints and re-solve, e.g. an ex
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

from collections.abc import Iterable, Mapping

import cvxpy as cp
import numpy as np
import scipy.sparse as sp

from .audit import check_profile_array
from .errors import InstanceError, SolverError
from .general import LIMIT_GROUPS, GeneralLP, assemble, individual_options_ok
from .highs import in_own_thread, new_highs
from .instance import Instance, Mechanism
from .profiles import agent_view, beliefs

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
    x, m : cvxpy.Variable or cvxpy.Expression
        Trade probability and transfer on every profile, flattened in C order (use
        :meth:`reshape`), in the instance's units. The solver's variable for the transfer is
        ``m_in_units`` = m / ``unit`` (``m`` is that variable itself when ``unit`` is 1). With
        ``transfers = "individual"`` m is the total Σ_i m_i, an expression.
    agent_m : list of cvxpy.Expression or None
        With ``transfers = "individual"``: each agent's own transfer m_i(θ) in the instance's
        units (its variable is ``t[i]`` = m_i / (σ_i·unit)); agent i's IC and participation rows
        act on it. None with shared transfers.
    unit : float
        The money unit of the LP's rows (a power of two; see :class:`lpmech.general.GeneralLP`).
    pmf : ndarray
        Flattened joint pmf (so ``pmf @ m`` is E[m]; see :meth:`expect`).
    constraints : dict of str to list of cvxpy.Constraint
        ``"bounds"`` (0 <= x <= 1; m is free),
        ``"ic"`` (one constraint per agent, in agent order) and ``"participation"`` (one per
        agent holding a veto), and the groups of the transfer and trade constraints the
        mechanism sets: ``"no_subsidy"`` (m >= 0), ``"max_transfer"`` (m <= X), ``"budget"``
        (E[m] <= X), ``"min_trade_probability"`` (E[x] >= q), each on the total transfer.
    objective : cvxpy.Maximize
        Profit, plus λ times the agents' surplus when the mechanism has a Pareto weight.
    profit, surplus : cvxpy.Expression
        The designer's expected profit and the agents' total expected surplus.
    problem : cvxpy.Problem
        The model without extra constraints.
    """

    def __init__(self, instance: Instance, *, mechanism: Mechanism | Mapping | None = None):
        if not isinstance(instance, Instance):
            raise InstanceError(f"must be an lpmech.Instance, got {type(instance).__name__}", field="instance")
        instance.check_size()  # before anything the size of the grid is allocated
        self.lp: GeneralLP = assemble(instance, mechanism=mechanism)
        self.instance = self.lp.instance
        n = self.lp.n_profiles
        self.pmf = self.lp.pmf
        self.x = cp.Variable(n, name="x")
        self.unit = self.lp.unit
        # The LP's rows are in units of `unit` (a power of two, see lpmech.general._unit): the
        # solver sees m / unit, the user m, so the same instance in cents or billions solves alike.
        self.individual = self.instance.mechanism.transfers == "individual"
        if self.individual:
            # one transfer per agent (docs/model.md, section 10): t_i = m_i / (σ_i·unit) is agent
            # i's own transfer per unit of its share in LP units; the rows of agent i act on t_i
            individual_options_ok(self.instance)
            shares = self.instance.shares
            self.t = [cp.Variable(n, name=f"t_{i}") for i in range(self.instance.n)]
            self.m_in_units = sum(float(shares[i]) * self.t[i] for i in range(self.instance.n))
            self.agent_m = [float(shares[i]) * self.unit * self.t[i] for i in range(self.instance.n)]
            self.m = self.unit * self.m_in_units
        else:
            self.t = None
            self.agent_m = None
            self.m_in_units = cp.Variable(n, name="m" if self.unit == 1.0 else "m_in_units")
            self.m = self.m_in_units if self.unit == 1.0 else self.unit * self.m_in_units
        self.profit = self._linear(self.lp.profit)
        self.surplus = self._linear(self.lp.surplus)
        self.objective = cp.Maximize(self._linear(self.lp.objective))
        self.constraints = {
            "bounds": self._bounds(),
            "ic": self._rows("ic"),
            "participation": self._rows("participation"),
        }
        for group in LIMIT_GROUPS:  # transfer and trade constraints the mechanism sets
            if group in self.lp.groups:
                self.constraints[group] = self._rows(group)
        self.problem = cp.Problem(self.objective, self.all_constraints())

    # ------------------------------------------------------------------ building
    def _linear(self, coef: tuple[np.ndarray, np.ndarray]) -> cp.Expression:
        """An LP objective row (in units of ``unit``) as an expression in the instance's units."""
        expr = coef[0] @ self.x + coef[1] @ self.m_in_units
        return expr if self.unit == 1.0 else self.unit * expr

    def _bounds(self) -> list:
        return [self.x >= 0, self.x <= 1]

    def _rows(self, group: str) -> list:
        """One constraint ``G_x @ x + G_m @ m >= 0`` per agent, from the LP's own matrices."""
        n = self.lp.n_profiles
        out = []
        for block in self.lp.groups[group]:
            g = block.matrix @ self.lp.payoff_operator(block.agent) if block.acts_on == "interim" else block.matrix
            g = sp.csc_matrix(g)
            own = self.t[block.agent] if self.individual and block.agent >= 0 else self.m_in_units
            rhs = 0 if block.rhs is None else block.rhs  # outside options (LP units per share)
            out.append(g[:, :n] @ self.x + g[:, n:] @ own >= rhs)
        return out

    def all_constraints(self) -> list:
        """The model's constraints, all groups."""
        return [c for group in self.constraints.values() for c in group]

    # ------------------------------------------------------------------ helpers
    def reshape(self, vec) -> np.ndarray:
        """A flattened profile vector (or a variable's value) as a K_1 x ... x K_N array.

        Parameters
        ----------
        vec : array_like of length K_1···K_N, or cvxpy.Expression
            Flattened in C order (agent 1 slowest); an expression must have been solved.

        Returns
        -------
        ndarray, shape K_1 x ... x K_N

        Raises
        ------
        InstanceError
            If ``vec`` is not a finite numeric vector of the profile count (``field="vec"``), or
            is an expression without a value (not solved yet).
        """
        if isinstance(vec, cp.Expression):
            if vec.value is None:
                raise InstanceError("has no value: solve the model first", field="vec")
            vec = vec.value
        shape = tuple(self.instance.shape)
        try:
            arr = np.asarray(vec)
        except ValueError:  # a ragged list: check_profile_array names it
            arr = vec
        if np.shape(arr) == shape:  # already a K_1 x ... x K_N array
            arr = np.reshape(arr, -1)
        return check_profile_array(arr, (self.lp.n_profiles,), "vec").reshape(shape)

    def _profile_expression(self, expr, name: str = "expr"):
        """``expr`` as a profile vector: a cvxpy expression of shape (K_1···K_N,), or a finite
        numeric array of that length (validated)."""
        n = self.lp.n_profiles
        if isinstance(expr, cp.Expression):
            if expr.shape != (n,):
                raise InstanceError(f"must be a profile vector of shape ({n},), got shape {expr.shape}", field=name)
            return expr
        return check_profile_array(expr, (n,), name)

    def expect(self, expr: cp.Expression) -> cp.Expression:
        """E[expr(θ)] for a profile vector (e.g. ``gm.expect(gm.x)``, the trade probability).

        Parameters
        ----------
        expr : cvxpy.Expression or array_like, shape (K_1···K_N,)
            A flattened profile vector (C order).

        Returns
        -------
        cvxpy.Expression or float

        Raises
        ------
        InstanceError
            If ``expr`` is not a profile vector (wrong shape, NaN or infinity).
        """
        return self.pmf @ self._profile_expression(expr)

    def interim(self, expr: cp.Expression, agent: int | str) -> cp.Expression:
        """E[expr(θ) | θ_i = t] for every grid point t of ``agent`` (a K_i vector expression).

        Parameters
        ----------
        expr : cvxpy.Expression or array_like, shape (K_1···K_N,)
            A flattened profile vector (C order).
        agent : int or str
            The agent's index or name.

        Returns
        -------
        cvxpy.Expression or ndarray, shape (K_i,)

        Raises
        ------
        InstanceError
            If ``agent`` is not an agent of the instance or ``expr`` is not a profile vector.
        """
        names = self.instance.names
        if isinstance(agent, str):
            if agent not in names:
                raise InstanceError(
                    f"names {agent!r}, which is not an agent (agents: {', '.join(names)})", field="agent"
                )
            i = names.index(agent)
        elif isinstance(agent, (int, np.integer)) and not isinstance(agent, bool) and 0 <= agent < len(names):
            i = int(agent)
        else:
            raise InstanceError(
                f"must be an agent's name or an index in 0..{len(names) - 1}, got {agent!r}", field="agent"
            )
        expr = self._profile_expression(expr)
        joint = self.pmf.reshape(self.instance.shape)
        k = self.instance.shape[i]
        view = agent_view(np.arange(self.pmf.size).reshape(self.instance.shape), i)
        weight = beliefs(joint, i)
        rows = np.repeat(np.arange(k), view.shape[1])
        cond = sp.csr_matrix((weight.ravel(), (rows, view.ravel())), shape=(k, self.pmf.size))
        return cond @ expr

    def allocation(self) -> np.ndarray:
        """The solved x as an N-d array (file order)."""
        return self.reshape(self.x)

    def transfer(self) -> np.ndarray:
        """The solved m as an N-d array (file order, JSON sign convention)."""
        return self.reshape(self.m)

    def agent_transfers(self) -> np.ndarray:
        """With individual transfers, the solved m_i as an N x K_1 x ... x K_N array.

        Raises
        ------
        InstanceError
            With shared transfers (the model has no per-agent transfer).
        """
        if not self.individual:
            raise InstanceError(
                'has no per-agent transfers: the model shares one transfer (transfers = "shares")', field="agent_m"
            )
        return np.stack([self.reshape(e) for e in self.agent_m])

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
        new_highs()  # HiGHS prints its licence banner at a process's first Highs object: make that one ours, silent
        in_own_thread(problem.solve, **solver_kwargs)  # HiGHS's thread pool stays out of the caller's thread
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

    Raises
    ------
    InstanceError
        For bad input (not an Instance, a grid above the default profile limit, an unknown
        mechanism option, a veto that is a string or names an unknown agent), an empty veto
        set or λ > 1.

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
