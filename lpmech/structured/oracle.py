"""g(ω) = E[(b - ω·φ̄(θ))_+] and a subgradient at ω, for independent types on a grid.

The one evaluation of g in lpmech's discrete solvers (:func:`lpmech.weights.g_value` and
:class:`lpmech.weights.GFunction` call it): :class:`GOracle` returns g(ω) with the cut
ℓ(ω') = intercept + slope·ω' that touches g at ω (slope = -E[φ̄ 1{ω·φ̄ < b}], a subgradient),
meeting in the middle over two groups of agents (:func:`split_agents`) so that one evaluation
costs about sqrt(K^N) log K^N instead of K^N. See :mod:`lpmech.structured`, step 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..profiles import Grid, product

__all__ = ["Cut", "GOracle", "split_agents"]


#: The most profiles one temporary array of the g evaluation holds (``chunk`` of :class:`GOracle`).
DEFAULT_CHUNK = 2_000_000


@dataclass
class Cut:
    """ℓ(ω) = intercept + slope·ω, below g and equal to it at the point where it was taken."""

    g: float
    intercept: float
    slope: np.ndarray
    #: E[(|b| + ω·|φ̄|) 1{ω·φ̄ < b}], the magnitude of the terms g(ω) is summed from (NaN unless
    #: asked for: ``oracle(omega, magnitude=True)``)
    magnitude: float = float("nan")

    def size(self, omega: np.ndarray) -> float:
        """|intercept| + Σ ω_i |slope_i|: the magnitude of the terms of ℓ(ω)."""
        return abs(self.intercept) + float(np.abs(self.slope) @ np.abs(np.asarray(omega, dtype=float)))


def split_agents(sizes: Sequence[int], chunk: int) -> list[int]:
    """Agents whose sub-grid is sorted in each evaluation of g (the rest is walked in blocks).

    Over all nonempty subsets B with at most ``chunk`` profiles, the cheapest by the model cost
    |B| M log M (sorting and prefix sums of the M = Π_{j∈B} K_j sums) plus R (log M + N) for the
    R = Π_{j∉B} K_j enumerated profiles; with N <= 16 the subsets are simply enumerated.

    Parameters
    ----------
    sizes : sequence of int
        Grid sizes K_i.
    chunk : int
        The most profiles the sorted sub-grid may hold.

    Returns
    -------
    list of int
        The agents of B, increasing.

    Examples
    --------
    >>> split_agents([3, 3], chunk=100)      # two agents: sorting one agent's grid is enough
    [0]
    """
    n = len(sizes)
    if n > 16:
        order = np.argsort(sizes)[::-1]
        chosen, m = [int(order[0])], sizes[order[0]]
        total = product(sizes)
        for j in order[1:]:
            if m * sizes[j] <= max(np.sqrt(total), 1.0) and m * sizes[j] <= chunk:
                chosen.append(int(j))
                m *= sizes[j]
        return sorted(chosen)
    best, best_cost = [int(np.argmax(sizes))], np.inf
    total = product(sizes)
    for mask in range(1, 2**n):
        members = [j for j in range(n) if mask >> j & 1]
        m = product(sizes[j] for j in members)
        if m > max(chunk, max(sizes)):
            continue
        rest = total // m
        log_m = np.log2(m + 1.0)
        cost = len(members) * m * log_m + rest * (log_m + n)
        if cost < best_cost:
            best, best_cost = members, cost
    return best


class GOracle:
    """g(ω) and a cut at ω, meeting in the middle over two sorted halves of the agents.

    The agents are split into B (:func:`split_agents`) and the rest A. For the weighted sums s_B of
    B's sub-grid, sorted once per evaluation, the trading set of a fixed θ_A is the prefix
    {s_B < b - s_A} of the sorted order (φ̄ sorted per agent is what makes the case N = 2
    cheap: s_B is then already sorted), and its mass, its s_B-mass and its φ̄_j-masses (j in B)
    are prefix sums read at ``searchsorted``. One evaluation costs about
    M log M + R log M for M = |B's grid| and R = |A's grid|, instead of K^N; sums are
    accumulated in extended precision (``np.longdouble``) so that cuts are accurate to well
    below the stopping tolerance.
    """

    def __init__(self, phi_bar: Sequence[np.ndarray], probs: Sequence[np.ndarray], b: float, chunk: int):
        self.n = len(phi_bar)
        self.b = float(b)
        self.phi_bar = [np.asarray(v, dtype=float) for v in phi_bar]
        sizes = [int(np.asarray(p).size) for p in probs]
        self.sorted_agents = split_agents(sizes, chunk)
        self.others = [i for i in range(self.n) if i not in self.sorted_agents]
        sub = Grid([probs[j] for j in self.sorted_agents], max(chunk, product(sizes[j] for j in self.sorted_agents)))
        (block,) = list(sub.blocks())
        self.pmf_sorted = np.ascontiguousarray(block.pmf(), dtype=float).ravel()
        self.phi_sorted = [
            np.broadcast_to(block.along(self.phi_bar[j], a), block.shape).ravel()
            for a, j in enumerate(self.sorted_agents)
        ]
        self.abs_sorted = [np.abs(v) for v in self.phi_sorted]
        self.grid = Grid([probs[i] for i in self.others], chunk)
        self.evaluations = 0

    def _prefix_sums(self, omega: np.ndarray, magnitude: bool):
        s = np.zeros(self.pmf_sorted.size)
        for a, j in enumerate(self.sorted_agents):
            s = s + float(omega[j]) * self.phi_sorted[a]
        order = np.argsort(s, kind="stable")
        P = self.pmf_sorted[order].astype(np.longdouble)

        def prefix(v):
            return np.concatenate(([np.longdouble(0)], np.cumsum(v, dtype=np.longdouble)))

        k = range(len(self.sorted_agents))
        return (
            s[order],
            prefix(P),
            prefix(P * s[order]),
            [prefix(P * self.phi_sorted[a][order]) for a in k],
            [prefix(P * self.abs_sorted[a][order]) for a in k] if magnitude else [],
        )

    def __call__(self, omega: np.ndarray, *, magnitude: bool = False) -> Cut:
        """g(ω) and the cut at ω (with :attr:`Cut.magnitude` when ``magnitude``).

        Parameters
        ----------
        omega : ndarray, shape (N,)
            Weights, nonnegative.
        magnitude : bool
            Also sum E[(|b| + ω·|φ̄|) 1{ω·φ̄ < b}] (the certificate's tolerance needs it).

        Returns
        -------
        Cut
        """
        omega = np.asarray(omega, dtype=float)
        s_sorted, cum_p, cum_ps, cum_phi, cum_abs = self._prefix_sums(omega, magnitude)
        w_others = [float(omega[i]) for i in self.others]
        v_others = [self.phi_bar[i] for i in self.others]
        g = mass = np.longdouble(0)
        sorted_mass = [np.longdouble(0)] * len(self.sorted_agents)
        sorted_abs = [np.longdouble(0)] * len(cum_abs)
        other_mass = [np.zeros(self.phi_bar[i].size, dtype=np.longdouble) for i in self.others]
        for block in self.grid.blocks():
            P = np.broadcast_to(block.pmf(), block.shape).astype(np.longdouble)
            c = self.b - block.combine(w_others, v_others)
            count = np.searchsorted(s_sorted, c, side="left")  # #{θ_B : s_B < b - s_A}
            F = cum_p[count]
            PF = P * F
            g += np.sum(P * (c * F - cum_ps[count]))
            mass += np.sum(PF)
            for a in range(len(self.sorted_agents)):
                sorted_mass[a] += np.sum(P * cum_phi[a][count])
            for a in range(len(cum_abs)):
                sorted_abs[a] += np.sum(P * cum_abs[a][count])
            for acc, part in zip(other_mass, block.marginals(PF)):
                acc += part
        slope = np.empty(self.n)
        for a, j in enumerate(self.sorted_agents):
            slope[j] = -float(sorted_mass[a])
        for a, i in enumerate(self.others):
            slope[i] = -float(np.dot(other_mass[a], self.phi_bar[i].astype(np.longdouble)))
        size = float("nan")
        if magnitude:
            total = abs(self.b) * mass
            for a, j in enumerate(self.sorted_agents):
                total += abs(float(omega[j])) * sorted_abs[a]
            for a, i in enumerate(self.others):
                total += abs(float(omega[i])) * np.dot(other_mass[a], np.abs(self.phi_bar[i]).astype(np.longdouble))
            size = float(total)
        self.evaluations += 1
        return Cut(g=float(g), intercept=float(self.b * mass), slope=slope, magnitude=size)
