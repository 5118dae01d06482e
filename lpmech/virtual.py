"""Discrete virtual costs and ironing (docs/model.md, section 3).

On a cost grid t_1 < ... < t_K with pmf p and cdf F_k = p_1 + ... + p_k the discrete virtual
cost is

    φ(t_1) = t_1,    φ(t_k) = t_k + (t_k - t_{k-1}) F_{k-1} / p_k,

the grid analogue of Myerson's θ + F(θ)/f(θ). Where φ is not nondecreasing it is *ironed*:
φ̄ is the slope of the greatest convex minorant of H(F_k) = Σ_{j<=k} p_j φ(t_j), which is the
p-weighted isotonic regression of φ (Myerson 1981, section 6; Barlow et al. 1972), computed by
:func:`scipy.optimize.isotonic_regression` (pool adjacent violators).

Everything here is in the buy-side engine form (costs, increasing grids); a sell-side
instance's values are negated and reversed by :meth:`lpmech.Instance.engine` first, which turns
the sell-side formula φ(t_k) = t_k - (t_{k+1} - t_k)(1 - F_k)/p_k into this one.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import isotonic_regression

from .tolerances import IRONING_RTOL

__all__ = ["virtual_costs", "iron", "ironing_intervals"]


def virtual_costs(grid: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Discrete virtual costs of a cost grid: φ(t_k) = t_k + (t_k − t_{k−1}) F(t_{k−1}) / p_k.

    Parameters
    ----------
    grid : ndarray, shape (K,)
        Increasing costs per share (engine form: money per share, buy side).
    probs : ndarray, shape (K,)
        The type pmf on ``grid``, every entry > 0.

    Returns
    -------
    ndarray, shape (K,)
        The virtual costs, in the units of ``grid``; φ(t_1) = t_1.

    References
    ----------
    R. B. Myerson, "Optimal auction design", Mathematics of Operations Research 6(1), 58–73 (1981).

    Examples
    --------
    >>> virtual_costs(np.array([0.25, 0.75]), np.array([0.5, 0.5]))
    array([0.25, 1.25])
    """
    grid = np.asarray(grid, dtype=float)
    probs = np.asarray(probs, dtype=float)
    cdf_before = np.concatenate(([0.0], np.cumsum(probs)[:-1]))
    steps = np.concatenate(([0.0], np.diff(grid)))
    return grid + steps * cdf_before / probs


def iron(phi: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Ironed virtual costs: slopes of the greatest convex minorant of H against F.

    Computed as the probability-weighted isotonic regression of φ
    (:func:`scipy.optimize.isotonic_regression`), which is the same thing.

    Parameters
    ----------
    phi : ndarray, shape (K,)
        Virtual costs on one agent's grid (:func:`virtual_costs`), any money unit.
    probs : ndarray, shape (K,)
        The type pmf, every entry > 0 (the weights of the regression).

    Returns
    -------
    ndarray, shape (K,)
        Nondecreasing ironed virtual costs φ̄, same units; equal to ``phi`` where it is already
        nondecreasing.

    References
    ----------
    R. B. Myerson, "Optimal auction design", Mathematics of Operations Research 6(1), 58–73 (1981),
    section 6 (ironing).

    Examples
    --------
    >>> iron(np.array([1.0, 3.0, 2.0]), np.array([0.2, 0.4, 0.4]))
    array([1. , 2.5, 2.5])
    """
    phi = np.asarray(phi, dtype=float)
    if phi.size < 2 or np.all(np.diff(phi) >= 0):
        return phi.copy()
    res = isotonic_regression(phi, weights=np.asarray(probs, dtype=float), increasing=True)
    return np.asarray(res.x, dtype=float)


def ironing_intervals(phi: np.ndarray, phi_bar: np.ndarray, rtol: float = IRONING_RTOL) -> list[tuple[int, int]]:
    """Maximal index ranges [lo, hi] (inclusive, hi > lo) on which ironing pooled φ.

    Two values count as equal when they differ by at most ``rtol`` times their own magnitudes
    (|a − c| <= rtol (|a| + |c|)), so the answer does not depend on the units or on a far-out
    type elsewhere on the grid.

    Parameters
    ----------
    phi, phi_bar : ndarray, shape (K,)
        Raw and ironed virtual costs on one agent's grid (any common unit).
    rtol : float
        Relative tolerance of the comparisons.

    Returns
    -------
    list of (int, int)

    Examples
    --------
    >>> ironing_intervals(np.array([1.0, 3.0, 2.0]), np.array([1.0, 2.5, 2.5]))
    [(1, 2)]
    """
    phi = np.asarray(phi, dtype=float)
    phi_bar = np.asarray(phi_bar, dtype=float)

    def same(a, c):
        return np.abs(a - c) <= rtol * (np.abs(a) + np.abs(c))

    out: list[tuple[int, int]] = []
    k, n = 0, phi_bar.size
    while k < n:
        j = k
        while j + 1 < n and same(phi_bar[j + 1], phi_bar[k]):
            j += 1
        if j > k and not np.all(same(phi[k : j + 1], phi_bar[k : j + 1])):
            out.append((k, j))
        k = j + 1
    return out
