"""Vectorized operations over the profile grid Θ = Θ_1 x ... x Θ_N.

Arrays over profiles have shape (K_1, ..., K_N), agent 1 on the first axis; flattened
vectors use C order (agent 1 slowest). Nothing here loops over profiles in Python.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import scipy.sparse as sp

__all__ = ["outer_pmf", "along", "weighted_sum", "interim", "conditional_interim", "interim_operator"]


def outer_pmf(probs: Sequence[np.ndarray]) -> np.ndarray:
    """The product pmf over profiles, shape (K_1, ..., K_N), of independent marginals."""
    out = np.ones(())
    for p in probs:
        out = np.multiply.outer(out, np.asarray(p, dtype=float))
    return out


def along(vec: np.ndarray, i: int, n: int) -> np.ndarray:
    """View a per-agent vector as an array broadcasting along axis ``i`` of an N-d profile array."""
    shape = [1] * n
    shape[i] = -1
    return np.asarray(vec).reshape(shape)


def weighted_sum(omega: Sequence[float], vecs: Sequence[np.ndarray]) -> np.ndarray:
    """Σ_i ω_i v_i(θ_i) over the profile grid (an N-d array)."""
    n = len(vecs)
    out = np.zeros(tuple(v.size for v in vecs))
    for i, (w, v) in enumerate(zip(omega, vecs)):
        out = out + w * along(v, i, n)
    return out


def interim(arr: np.ndarray, probs: Sequence[np.ndarray], i: int) -> np.ndarray:
    """E[arr(θ) | θ_i] for independent types: contract every other axis with its pmf."""
    out = np.asarray(arr, dtype=float)
    for j in range(len(probs) - 1, -1, -1):
        if j != i:
            out = np.tensordot(out, probs[j], axes=([j], [0]))
    return out


def conditional_interim(arr: np.ndarray, joint: np.ndarray, i: int) -> np.ndarray:
    """E[arr(θ) | θ_i] under a joint pmf (beliefs are conditionals)."""
    axes = tuple(j for j in range(joint.ndim) if j != i)
    marg = joint.sum(axis=axes)
    return (np.asarray(arr) * joint).sum(axis=axes) / marg


def interim_operator(probs: Sequence[np.ndarray], i: int, left: sp.spmatrix | None = None) -> sp.csr_matrix:
    """Sparse matrix X_i = A x mapping a flattened profile vector to agent i's interim vector.

    ``left`` (rows x K_i) is applied to agent i's axis: ``left @ A`` is built as one Kronecker
    product, e.g. a difference operator for monotonicity rows.
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
