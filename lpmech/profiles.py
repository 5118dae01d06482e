"""Vectorized operations over the profile grid Θ = Θ_1 x ... x Θ_N.

Arrays over profiles have shape (K_1, ..., K_N), agent 1 on the first axis; flattened
vectors use C order (agent 1 slowest). Nothing here loops over profiles in Python.

* :func:`outer_pmf`, :func:`along`, :func:`weighted_sum`: whole-grid arrays;
* :func:`interim`, :func:`conditional_interim`, :func:`interim_operator`: interim
  expectations E[· | θ_i] (independent types, a joint pmf, and the sparse linear map used in
  LP rows);
* :func:`agent_view`, :func:`marginal`, :func:`beliefs`: one agent's view of a profile array,
  its marginal pmf and its conditional beliefs P(θ_-i | θ_i) (the one definition);
* :class:`Grid` / :class:`Block`: the chunked walker that visits a grid too large to hold
  (10^7 profiles and more) in blocks of at most ``chunk`` profiles.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import scipy.sparse as sp

__all__ = [
    "PASS_CHUNK",
    "Block",
    "Grid",
    "agent_view",
    "along",
    "beliefs",
    "conditional_interim",
    "interim",
    "interim_operator",
    "marginal",
    "outer_accumulate",
    "outer_pmf",
    "product",
    "weighted_sum",
]


def outer_pmf(probs: Sequence[np.ndarray]) -> np.ndarray:
    """The product pmf over profiles, shape (K_1, ..., K_N), of independent marginals.

    Parameters
    ----------
    probs : sequence of ndarray, shapes (K_i,)
        Each agent's pmf.

    Returns
    -------
    ndarray, shape (K_1, ..., K_N)
        p(θ) = Π_i p_i(θ_i).

    Examples
    --------
    >>> outer_pmf([np.array([0.5, 0.5]), np.array([0.25, 0.75])]).tolist()
    [[0.125, 0.375], [0.125, 0.375]]
    """
    out = np.ones(())
    for p in probs:
        out = np.multiply.outer(out, np.asarray(p, dtype=float))
    return out


def along(vec: np.ndarray, i: int, n: int) -> np.ndarray:
    """View a per-agent vector as an array broadcasting along axis ``i`` of an N-d profile array.

    Parameters
    ----------
    vec : ndarray, shape (K_i,)
        A quantity on agent i's grid (any unit).
    i : int
        The agent (axis).
    n : int
        The number of agents N.

    Returns
    -------
    ndarray, shape (1, ..., K_i, ..., 1)
        A view of ``vec`` with N axes.
    """
    shape = [1] * n
    shape[i] = -1
    return np.asarray(vec).reshape(shape)


def weighted_sum(omega: Sequence[float] | np.ndarray, vecs: Sequence[np.ndarray]) -> np.ndarray:
    """Σ_i ω_i v_i(θ_i) over the profile grid (an N-d array).

    Parameters
    ----------
    omega : sequence of float or ndarray, shape (N,)
        The weights (unitless).
    vecs : sequence of ndarray, shapes (K_i,)
        One vector per agent, e.g. ironed virtual costs (money per share).

    Returns
    -------
    ndarray, shape (K_1, ..., K_N)
        In the unit of ``vecs``.

    Examples
    --------
    >>> weighted_sum([0.5, 0.5], [np.array([0.0, 1.0]), np.array([0.0, 2.0])]).tolist()
    [[0.0, 1.0], [0.5, 1.5]]
    """
    # ((0 + ω_1 v_1) + ω_2 v_2) + ...: the sum in agent order, built as nested outer sums (the last
    # one alone writes K^N numbers; the same floats as adding whole-grid arrays in that order)
    return outer_accumulate(np.add, 0.0, [w * np.asarray(v, dtype=float) for w, v in zip(omega, vecs)])


def outer_accumulate(ufunc: np.ufunc, start: float, vecs: Sequence[np.ndarray]) -> np.ndarray:
    """ufunc(...ufunc(ufunc(start, v_1(θ_1)), v_2(θ_2))..., v_N(θ_N)) over the profile grid.

    Built by nested outer operations, so only the last step writes K^N numbers (adding or
    taking the minimum of N whole-grid arrays would write N K^N); each entry is combined in
    agent order, so the result is bitwise that of the whole-grid loop.

    Parameters
    ----------
    ufunc : numpy ufunc
        A binary ufunc with an ``outer`` method (np.add, np.minimum, np.maximum, ...).
    start : float
        The value the first agent's vector is combined with.
    vecs : sequence of ndarray, shapes (K_i,)

    Returns
    -------
    ndarray of float, shape (K_1, ..., K_N)

    Examples
    --------
    >>> outer_accumulate(np.maximum, -np.inf, [np.array([0.0, 2.0]), np.array([1.0, 3.0])]).tolist()
    [[1.0, 3.0], [2.0, 3.0]]
    """
    out = np.asarray(start, dtype=float)
    for v in vecs:
        out = ufunc.outer(out, np.asarray(v, dtype=float)) if out.ndim else ufunc(out, np.asarray(v, dtype=float))
    return np.array(out, dtype=float) if out.ndim == 0 else out


#: Profiles per block of the chunked passes over a grid (:class:`Grid`): 2^16 float64 numbers are
#: 512 KB, so a block's temporaries stay in the processor's cache; measured at 10^7 profiles, a
#: pass in blocks of 2^16 is 3-4 times faster than in blocks of 2 x 10^6 (whose temporaries each
#: go to main memory and back).
PASS_CHUNK = 2**16

#: :func:`interim` sums leading agents first while rows keep this many profiles (long rows make
#: matrix-vector products several times faster than tall, skinny ones; measured at 10^7 profiles).
_ROW = 1024


def interim(arr: np.ndarray, probs: Sequence[np.ndarray], i: int) -> np.ndarray:
    """E[arr(θ) | θ_i] for independent types: contract every other axis with its pmf.

    Parameters
    ----------
    arr : ndarray, shape (K_1, ..., K_N)
        A quantity over the profile grid (e.g. the allocation x).
    probs : sequence of ndarray, shapes (K_j,)
        Each agent's pmf.
    i : int
        The agent.

    Returns
    -------
    ndarray, shape (K_i,)
        The interim quantity (e.g. the interim trade probability X_i), in the unit of ``arr``.

    Notes
    -----
    Matrix-vector products on views of ``arr`` (no copy of the K^N array). The first agents
    1..d (d <= i - 1, the most that leave rows of at least :data:`_ROW` profiles) are summed
    against their product pmf in one pass with long rows; what remains, an (A, K_i, B) array
    with A the profiles of agents d+1..i-1 and B those after i, is summed over B, then over A.
    """
    out = np.asarray(arr, dtype=float)
    if not out.flags.c_contiguous:
        out = np.ascontiguousarray(out)
    d = 0
    while d < i and product(out.shape[d + 1 :]) >= _ROW:
        d += 1
    if d:
        out = (outer_pmf(probs[:d]).reshape(-1) @ out.reshape(product(out.shape[:d]), -1)).reshape(out.shape[d:])
        probs, i = probs[d:], i - d
    shape = out.shape
    lead, tail = product(shape[:i]), product(shape[i + 1 :])
    out = out.reshape(lead * shape[i], tail)
    if tail > 1:
        out = out @ outer_pmf(probs[i + 1 :]).reshape(tail)
    out = out.reshape(lead, shape[i])
    if lead > 1:
        return outer_pmf(probs[:i]).reshape(lead) @ out
    return out.reshape(shape[i])


def agent_view(arr: np.ndarray, i: int) -> np.ndarray:
    """A profile array seen from agent i: shape (K_i, R), row t = the other agents' profiles θ_-i
    (C order of the remaining axes) when θ_i = t.

    Parameters
    ----------
    arr : ndarray, shape (K_1, ..., K_N)
    i : int
        The agent (axis).

    Returns
    -------
    ndarray, shape (K_i, R), R = Π_{j≠i} K_j
        A view when possible (a copy otherwise).

    Examples
    --------
    >>> agent_view(np.arange(6).reshape(2, 3), 1).tolist()
    [[0, 3], [1, 4], [2, 5]]
    """
    arr = np.asarray(arr)
    return np.moveaxis(arr, i, 0).reshape(arr.shape[i], -1)


def marginal(joint: np.ndarray, i: int) -> np.ndarray:
    """Agent i's marginal pmf, shape (K_i,), of a joint pmf over profiles.

    Parameters
    ----------
    joint : ndarray, shape (K_1, ..., K_N)
    i : int
        The agent (axis).

    Returns
    -------
    ndarray, shape (K_i,)
    """
    joint = np.asarray(joint)
    return joint.sum(axis=tuple(j for j in range(joint.ndim) if j != i))


def beliefs(joint: np.ndarray, i: int) -> np.ndarray:
    """Agent i's conditional beliefs P(θ_-i = r | θ_i = t), shape (K_i, R), rows summing to 1.

    The one definition of conditional beliefs in lpmech (Bayesian IC with correlated types;
    independent types give identical rows). Works on float and on object (Fraction) arrays.

    Parameters
    ----------
    joint : ndarray, shape (K_1, ..., K_N)
        The joint pmf; every type of agent i has positive marginal probability.
    i : int
        The agent (axis).

    Returns
    -------
    ndarray, shape (K_i, Π_{j≠i} K_j)
        Rows indexed by θ_i, columns by θ_-i in :func:`agent_view` order.

    Examples
    --------
    >>> beliefs(np.array([[0.1, 0.3], [0.2, 0.4]]), 0).round(4).tolist()
    [[0.25, 0.75], [0.3333, 0.6667]]
    """
    view = agent_view(joint, i)
    return view / view.sum(axis=1, keepdims=True)


def conditional_interim(arr: np.ndarray, joint: np.ndarray, i: int) -> np.ndarray:
    """E[arr(θ) | θ_i] under a joint pmf (beliefs are the conditionals, :func:`beliefs`), shape (K_i,).

    Parameters
    ----------
    arr : ndarray, shape (K_1, ..., K_N)
    joint : ndarray, same shape
        The joint pmf; every type of agent i has positive marginal probability.
    i : int
        The agent (axis).

    Returns
    -------
    ndarray, shape (K_i,)
        In the unit of ``arr``.
    """
    axes = tuple(j for j in range(joint.ndim) if j != i)
    return (np.asarray(arr) * joint).sum(axis=axes) / marginal(joint, i)


def interim_operator(probs: Sequence[np.ndarray], i: int, left: sp.spmatrix | None = None) -> sp.csr_matrix:
    """Sparse matrix X_i = A x mapping a flattened profile vector to agent i's interim vector.

    ``left`` (rows x K_i) is applied to agent i's axis: ``left @ A`` is built as one Kronecker
    product, e.g. a difference operator for monotonicity rows.

    Parameters
    ----------
    probs : sequence of ndarray, shapes (K_j,)
        Each agent's pmf (independent types).
    i : int
        The agent.
    left : sparse matrix, shape (rows, K_i), optional
        Applied on agent i's axis (default: the identity).

    Returns
    -------
    scipy.sparse.csr_matrix, shape (K_i or rows, Π_j K_j)
        Acting on a profile vector flattened in C order.
    """
    n = len(probs)
    factors = []
    for j in range(n):
        if j == i:
            factors.append(sp.identity(probs[j].size, format="csr") if left is None else sp.csr_matrix(left))
        else:
            factors.append(sp.csr_matrix(np.asarray(probs[j], dtype=float)[None, :]))
    out = factors[0]
    for f in factors[1:]:
        out = sp.kron(out, f, format="csr")
    return out


class Grid:
    """The product grid of some agents' types, walked in blocks of at most ``chunk`` profiles.

    A block fixes a run of consecutive indices over the first ``d`` axes (flattened, C order)
    and spans the remaining axes whole, so block arrays have shape (rows, K_d, ..., K_{m-1}).
    ``d`` is the fewest leading axes that make one row fit in ``chunk``. Used where K^N profiles
    do not fit in memory at once (the structured solver's passes, 10^7 profiles and more).

    Parameters
    ----------
    probs : sequence of ndarray, shapes (K_i,)
        The agents' pmfs (independent types); the grid is their product, C order.
    chunk : int
        Largest number of profiles in one block (at least one row of the trailing axes).

    Examples
    --------
    >>> g = Grid([np.array([0.5, 0.5]), np.array([0.25, 0.75])], chunk=2)
    >>> [(b.start, b.stop, b.pmf().ravel().tolist()) for b in g.blocks()]
    [(0, 2, [0.125, 0.375]), (2, 4, [0.125, 0.375])]
    """

    def __init__(self, probs: Sequence[np.ndarray], chunk: int):
        self.probs = [np.asarray(p, dtype=float) for p in probs]
        self.shape = tuple(p.size for p in self.probs)
        self.m = len(self.shape)
        chunk = max(int(chunk), 1)
        d = 0
        while d < self.m and product(self.shape[d:]) > chunk:
            d += 1
        self.d = d
        self.tail = product(self.shape[d:])
        self.lead_total = product(self.shape[:d])
        self.rows_per_block = max(1, chunk // self.tail)
        tail_pmf = np.ones(())
        for p in self.probs[d:]:
            tail_pmf = np.multiply.outer(tail_pmf, p)
        self.tail_pmf = tail_pmf[None, ...]

    @property
    def size(self) -> int:
        return self.lead_total * self.tail

    def blocks(self) -> Iterator[Block]:
        """The blocks in C order of the flattened grid."""
        for r0 in range(0, self.lead_total, self.rows_per_block):
            yield Block(self, r0, min(r0 + self.rows_per_block, self.lead_total))


class Block:
    """One block of a :class:`Grid`: rows ``r0:r1`` of the leading axes, the trailing axes whole."""

    def __init__(self, grid: Grid, r0: int, r1: int):
        self.grid = grid
        self.rows = r1 - r0
        self.start = r0 * grid.tail
        self.stop = r1 * grid.tail
        self.lead = np.unravel_index(np.arange(r0, r1), grid.shape[: grid.d]) if grid.d else ()
        self.shape = (self.rows, *grid.shape[grid.d :])

    def _lead_column(self, values: np.ndarray) -> np.ndarray:
        return values.reshape((self.rows,) + (1,) * (self.grid.m - self.grid.d))

    def along(self, vec: np.ndarray, axis: int) -> np.ndarray:
        """Per-axis vector ``vec`` broadcastable over the block."""
        g = self.grid
        if axis < g.d:
            return self._lead_column(vec[self.lead[axis]])
        shape = [1] * (1 + g.m - g.d)
        shape[1 + axis - g.d] = -1
        return vec.reshape(shape)

    def pmf(self) -> np.ndarray:
        """P(θ) on the block."""
        lead = np.ones(self.rows)
        for a in range(self.grid.d):
            lead = lead * self.grid.probs[a][self.lead[a]]
        # a 2-d product with the whole trailing grid as the inner loop (an N-d broadcast whose
        # inner loop is the last axis alone is several times slower)
        return (lead[:, None] * self.grid.tail_pmf.reshape(1, -1)).reshape(self.shape)

    def combine(self, weights: Sequence[float] | np.ndarray, vecs: Sequence[np.ndarray]) -> np.ndarray:
        """Σ_a w_a v_a(θ_a) on the block (full block shape)."""
        g = self.grid
        lead = np.zeros(self.rows)
        for a in range(g.d):
            lead = lead + weights[a] * vecs[a][self.lead[a]]
        out = self._lead_column(lead)
        for a in range(g.d, g.m):
            out = out + weights[a] * self.along(vecs[a], a)
        return np.broadcast_to(out, self.shape)

    def marginals(self, vals: np.ndarray) -> list[np.ndarray]:
        """For each axis a, the sums of ``vals`` over the block grouped by θ_a."""
        g = self.grid
        vals = np.broadcast_to(vals, self.shape)
        out = []
        row_total = vals.reshape(self.rows, -1).sum(axis=1) if g.d else None
        for a in range(g.m):
            if a < g.d:
                if row_total.dtype == np.float64:
                    out.append(np.bincount(self.lead[a], weights=row_total, minlength=g.shape[a]))
                else:  # bincount would round extended precision to float64
                    acc = np.zeros(g.shape[a], dtype=row_total.dtype)
                    np.add.at(acc, self.lead[a], row_total)
                    out.append(acc)
            else:
                out.append(_axis_sums(vals, 1 + a - g.d))
        return out


def _axis_sums(vals: np.ndarray, axis: int) -> np.ndarray:
    """Σ of ``vals`` over every axis but ``axis``: matrix-vector products on views of a contiguous
    float64 array (one read of it, like :func:`interim`), numpy's sum otherwise."""
    if vals.dtype != np.float64 or not vals.flags.c_contiguous:
        return vals.sum(axis=tuple(j for j in range(vals.ndim) if j != axis))
    shape = vals.shape
    lead, k, tail = product(shape[:axis]), shape[axis], product(shape[axis + 1 :])
    flat = vals.reshape(lead, k * tail)
    row = np.ones(lead) @ flat if lead > 1 else flat.reshape(-1)
    row = row.reshape(k, tail)
    return row @ np.ones(tail) if tail > 1 else row.reshape(k)


def product(values) -> int:
    """Π of ``values`` as a Python int (no overflow), 1 for none.

    Parameters
    ----------
    values : iterable of int

    Returns
    -------
    int
    """
    out = 1
    for v in values:
        out *= int(v)
    return out
