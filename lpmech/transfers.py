"""Transfers that implement an allocation rule (docs/model.md, section 6).

Buy side, independent types, interim-monotone x with interim X_i (decreasing in cost):

1. U_i(t_K) = u_i and U_i(t_k) = U_i(t_{k+1}) + (t_{k+1} - t_k) X_i(t_{k+1}) (the discrete
   envelope formula: lower costs earn rents);
2. M_i(t_k) = t_k X_i(t_k) + U_i(t_k); computed with u_i = 0 it is M_i⁰. One constant serves
   all agents: T = max_i E[M_i⁰] and u_i = T - E[M_i⁰] >= 0, so IR binds at the top type of
   the agent with the largest E[M_i⁰] = E[x φ_i];
3. m(θ) = Σ_i M_i(θ_i) - (N - 1) T, so E[m | θ_i] = M_i(θ_i) and E[b x - m] = V(x).

This is the "defined appropriately" transfer rule of Haghpanah, Kuvalekar and Lipnowski's
theorem, in the engine's buy-side form.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .instance import EngineProblem
from .profiles import interim, outer_accumulate

__all__ = ["Transfers", "transfers"]


@dataclass
class Transfers:
    """Ex post transfer m(θ) (engine form) and each agent's interim quantities."""

    m: np.ndarray  # N-d, total transfer designer -> group (engine form)
    X: list[np.ndarray]  # interim trade probability per agent
    M: list[np.ndarray]  # interim expected transfer per agent
    U: list[np.ndarray]  # interim (per-share) utility per agent
    constant: float  # T = max_i E[M_i⁰]
    binding_agent: int  # the argmax agent: IR binds at its highest cost
    #: per agent, the magnitude of the terms M_i(t_k) is summed from, |t_k| X_i(t_k) +
    #: Σ_{j>k} |t_j - t_{j-1}| X_i(t_j) + |T - E[M_i⁰]| (for tolerances: a type far out makes these
    #: terms huge while M_i stays moderate)
    M_size: list[np.ndarray] | None = None

    def m_size(self) -> np.ndarray:
        """The magnitude of the terms of m(θ) = Σ_i M_i(θ_i) − (N − 1)T, over the profile grid."""
        n = len(self.M)
        return outer_accumulate(np.add, (n - 1) * abs(self.constant), self.M_size)


def transfers(problem: EngineProblem, x: np.ndarray) -> Transfers:
    """The transfer rule of docs/model.md, section 6, for an interim-monotone x (engine form).

    Each agent's interim transfer is the envelope formula M_i(t_k) = t_k X_i(t_k) +
    Σ_{j>k} (t_j − t_{j−1}) X_i(t_j) plus a constant, and m(θ) = Σ_i M_i(θ_i) − (N − 1)T with
    T = max_i E[M_i]: Bayesian IC, and interim IR binding at the highest cost of the argmax agent.

    Parameters
    ----------
    problem : EngineProblem
        Independent types (``probs`` set), increasing cost grids (money per share).
    x : ndarray, shape (K_1, ..., K_N)
        The allocation, trade probabilities in [0, 1], interim-monotone (X_i nonincreasing).

    Returns
    -------
    Transfers
        m (shape of ``x``, total transfer designer to group, money per share of the engine's
        unit), the interim X_i, M_i, U_i (shapes (K_i,)), T and the binding agent.

    References
    ----------
    R. B. Myerson, "Optimal auction design", Mathematics of Operations Research 6(1), 58–73 (1981);
    N. Haghpanah, A. Kuvalekar, E. Lipnowski, "Buying from a Group" (2024).

    Examples
    --------
    >>> import numpy as np, lpmech
    >>> inst = lpmech.Instance("buy", [lpmech.Agent("a", [0.25, 0.75], [0.5, 0.5])], buyer_value=1.0)
    >>> tr = transfers(inst.engine(), np.array([1.0, 0.0]))   # trade iff cost 0.25: price 0.25
    >>> tr.m
    array([0.25, 0.  ])
    """
    n = problem.n
    X, M0, size0 = [], [], []
    for i, t in enumerate(problem.grids):
        xi = interim(x, problem.probs, i)
        rents = np.concatenate([np.cumsum((np.diff(t) * xi[1:])[::-1])[::-1], [0.0]])
        X.append(xi)
        M0.append(t * xi + rents)
        size0.append(
            np.abs(t) * np.abs(xi)
            + np.concatenate([np.cumsum((np.abs(np.diff(t)) * np.abs(xi[1:]))[::-1])[::-1], [0.0]])
        )
    expected = np.array([float(p @ m0) for p, m0 in zip(problem.probs, M0)])
    binding = int(np.argmax(expected))
    T = float(expected[binding])
    M = [m0 + (T - e) for m0, e in zip(M0, expected)]
    m = outer_accumulate(np.add, -(n - 1) * T, M)  # the same floats as adding N whole-grid arrays
    U = [mi - t * xi for mi, t, xi in zip(M, problem.grids, X)]
    M_size = [s0 + abs(T - e) for s0, e in zip(size0, expected)]
    return Transfers(m=m, X=X, M=M, U=U, constant=T, binding_agent=binding, M_size=M_size)
