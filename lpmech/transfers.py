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

from typing import Any

import numpy as np

from .instance import EngineProblem
from .profiles import interim, outer_accumulate

__all__ = ["Transfers", "interim_sum", "interim_transfers", "transfers"]


class Transfers:
    """Ex post transfer m(θ) (engine form) and each agent's interim quantities.

    ``m`` is computed on first access, m(θ) = Σ_i M_i(θ_i) − (N − 1)T over the whole grid (K^N
    numbers): the maximin pipeline never asks for it on large grids, where the interim vectors
    and T describe it exactly. Assigning ``m`` replaces the formula by that array
    (``explicit_m`` then is True, and the checks audit the array given).
    """

    def __init__(self, X, M, U, constant, binding_agent, M_size=None, m=None):
        self.X: list[np.ndarray] = X  # interim trade probability per agent
        self.M: list[np.ndarray] = M  # interim expected transfer per agent
        self.U: list[np.ndarray] = U  # interim (per-share) utility per agent
        self.constant: float = constant  # T = max_i E[M_i⁰]
        self.binding_agent: int = binding_agent  # the argmax agent: IR binds at its highest cost
        #: per agent, the magnitude of the terms M_i(t_k) is summed from, |t_k| X_i(t_k) +
        #: Σ_{j>k} |t_j - t_{j-1}| X_i(t_j) + |T - E[M_i⁰]| (for tolerances: a type far out makes these
        #: terms huge while M_i stays moderate)
        self.M_size: list[np.ndarray] | None = M_size
        self._m = m
        self.explicit_m = m is not None

    @property
    def m(self) -> np.ndarray:
        """m(θ) = Σ_i M_i(θ_i) − (N − 1)T over the profile grid, shape (K_1, ..., K_N) (engine form)."""
        if self._m is None:
            n = len(self.M)
            self._m = outer_accumulate(np.add, -(n - 1) * self.constant, self.M)  # the floats of N whole-grid adds
        return self._m

    @m.setter
    def m(self, value: np.ndarray) -> None:
        self._m = value
        self.explicit_m = True

    def m_size(self) -> np.ndarray:
        """The magnitude of the terms of m(θ) = Σ_i M_i(θ_i) − (N − 1)T, over the profile grid."""
        n = len(self.M)
        return outer_accumulate(np.add, (n - 1) * abs(self.constant), self.M_size)

    def interim_m(self, probs, i: int, size: bool = False) -> np.ndarray:
        """E[m | θ_i] (or of its terms' magnitude, ``size``) from the interim vectors, shape (K_i,).

        By the product structure E[Σ_j M_j(θ_j) | θ_i] = M_i(θ_i) + Σ_{j≠i} E[M_j]: exact, no
        pass over the grid (the formula's m, not an array assigned to ``m``).
        """
        vecs = self.M_size if size else self.M
        n = len(vecs)
        return interim_sum(vecs, (n - 1) * (abs(self.constant) if size else -self.constant), probs, i)


def interim_sum(vecs, constant: float, probs, i: int) -> np.ndarray:
    """E[c + Σ_j v_j(θ_j) | θ_i] = v_i(θ_i) + c + Σ_{j≠i} E[v_j] for independent types, shape (K_i,).

    Parameters
    ----------
    vecs : list of ndarray, shapes (K_j,)
        Per-agent terms (e.g. the interim transfers M_j).
    constant : float
        c (e.g. −(N − 1)T).
    probs : list of ndarray, shapes (K_j,)
        The agents' pmfs.
    i : int
        The agent conditioned on.

    Returns
    -------
    ndarray, shape (K_i,)
    """
    const = float(constant)
    for j in range(len(vecs)):
        if j != i:
            const += float(np.dot(probs[j], vecs[j]))
    return np.asarray(vecs[i], dtype=float) + const


def interim_transfers(problem: EngineProblem, X: list[np.ndarray]) -> Transfers:
    """:func:`transfers` from the interim trade probabilities X_i alone (no K^N array).

    Parameters
    ----------
    problem : EngineProblem
        Independent types, increasing cost grids.
    X : list of ndarray, shapes (K_i,)
        X_i = E[x | θ_i], nonincreasing.

    Returns
    -------
    Transfers
        ``m`` computed on first access.
    """
    M0, size0 = [], []
    for t, xi in zip(problem.grids, X):
        rents = np.concatenate([np.cumsum((np.diff(t) * xi[1:])[::-1])[::-1], [0.0]])
        M0.append(t * xi + rents)
        size0.append(
            np.abs(t) * np.abs(xi)
            + np.concatenate([np.cumsum((np.abs(np.diff(t)) * np.abs(xi[1:]))[::-1])[::-1], [0.0]])
        )
    expected = np.array([float(p @ m0) for p, m0 in zip(problem.probs, M0)])
    binding = int(np.argmax(expected))
    T = float(expected[binding])
    M = [m0 + (T - e) for m0, e in zip(M0, expected)]
    U = [mi - t * xi for mi, t, xi in zip(M, problem.grids, X)]
    M_size = [s0 + abs(T - e) for s0, e in zip(size0, expected)]
    return Transfers(X=list(X), M=M, U=U, constant=T, binding_agent=binding, M_size=M_size)


def transfers(problem: EngineProblem, x: Any) -> Transfers:
    """The transfer rule of docs/model.md, section 6, for an interim-monotone x (engine form).

    Each agent's interim transfer is the envelope formula M_i(t_k) = t_k X_i(t_k) +
    Σ_{j>k} (t_j − t_{j−1}) X_i(t_j) plus a constant, and m(θ) = Σ_i M_i(θ_i) − (N − 1)T with
    T = max_i E[M_i]: Bayesian IC, and interim IR binding at the highest cost of the argmax agent.

    Parameters
    ----------
    problem : EngineProblem
        Independent types (``probs`` set), increasing cost grids (money per share).
    x : ndarray, shape (K_1, ..., K_N), or IndexRule
        The allocation, trade probabilities in [0, 1], interim-monotone (X_i nonincreasing); an
        allocation in closed form (:class:`lpmech.structured.passes.IndexRule`) with its
        ``interim_x`` set is taken through those X_i (no pass over the grid).

    Returns
    -------
    Transfers
        m (shape of ``x``, total transfer designer to group, money per share of the engine's
        unit; computed on first access), the interim X_i, M_i, U_i (shapes (K_i,)), T and the
        binding agent.

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
    X = getattr(x, "interim_x", None)  # an allocation in closed form may carry its X_i
    if X is None:
        X = [interim(x, problem.probs, i) for i in range(problem.n)]
    return interim_transfers(problem, X)
