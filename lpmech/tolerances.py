"""Every tolerance lpmech applies, in one place, each relative to the quantities it compares.

Units are arbitrary (the same instance in cents or in billions must give the same answer,
scaled), and one far-out type must not make a check vacuous. So no tolerance here is
absolute or tied to the largest number in a file: each comparison names the magnitudes of
the terms it is computed from, and the tolerance is a relative one times those magnitudes.
For example, the audited profit E[b·x − m] is compared with the solver's value within
``CHECK_RTOL × (E|b·x| + E|m|)``: the size of what was summed, not of the grid's extremes.

Use :func:`limit` to turn a relative tolerance and the magnitudes of a comparison into the
bound a gap is held to, and :func:`magnitude` to measure those magnitudes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "CHECK_RTOL",
    "PROB_TOL",
    "TIE_RTOL",
    "ALLOCATION_TOL",
    "WEIGHT_TOL",
    "LEAST_NORM_ROW_RTOL",
    "THIN_FACE_SHARE",
    "POOL_WEIGHT_FRACTION",
    "CERTIFICATE_RTOL",
    "MONOTONICITY_TOL",
    "TRADE_TOL",
    "IRONING_RTOL",
    "TINY",
    "magnitude",
    "limit",
    "tie_band",
    "on_tie",
    "min_magnitude",
    "ROUNDING_RTOL",
    "gap_limit",
    "LEX_RTOL",
    "CROSSCHECK_SPREAD",
    "MAX_SPREAD",
    "CONTINUUM_RTOL",
    "AUDIT_CHUNK",
]

#: Relative tolerance of every cross-check between two computations of one quantity (values,
#: profits, IC and IR violations), times the magnitude of the terms the quantity is summed from.
CHECK_RTOL = 1e-7
#: Probabilities and shares must sum to one within this (absolute: they are unitless).
PROB_TOL = 1e-9
#: A profile is on the tie set when |ω·φ̄(θ) − b| <= TIE_RTOL × (|b| + Σ_i ω_i |φ̄_i(θ_i)|):
#: relative to the terms of that profile's own index, not to the largest φ̄ on the grid.
TIE_RTOL = 1e-9
#: Trade probabilities are unitless: |x − x_ω| off the tie set, and x outside [0, 1].
ALLOCATION_TOL = 1e-6
#: Weights are unitless: Σω − 1, ω below 0, ω outside its reported range.
WEIGHT_TOL = 1e-7
#: The least-norm ω (lpmech.least_norm): a row of the NNLS answer may exceed its bound by this much
#: times the magnitude of its terms (|bound| + |Φ_a|·|ω|); beyond it HiGHS's QP is run instead.
LEAST_NORM_ROW_RTOL = 1e-9
#: The optimal face's thin-face fallback (lpmech.weights.face_ranges): after 8 strict rounds a row
#: counts as violated only beyond this share of its own tie band (unitless).
THIN_FACE_SHARE = 0.5
#: The tie LP pools an agent's whole grid when its weight cannot move ω·φ̄ by this share of the
#: narrowest tie band on its grid (lpmech.structured.ties.pool_unweighted; unitless).
POOL_WEIGHT_FRACTION = 0.01
#: Relative gap between a primal value and a dual bound that certifies optimality in floating point
#: (times the magnitude of the terms both are summed from).
CERTIFICATE_RTOL = 1e-9
#: Interim trade probabilities are unitless: X_i(t_{k+1}) − X_i(t_k) above this is a monotonicity
#: violation.
MONOTONICITY_TOL = 1e-7
#: An allocation x (unitless) counts as trading where x > TRADE_TOL and as refusing where
#: x < 1 − TRADE_TOL (the optimal face of the weights reads its rows off these).
TRADE_TOL = 1e-9
#: Two ironed virtual costs are one pooled value when they differ by less than IRONING_RTOL times
#: their magnitudes (pool adjacent violators writes one number per pool, so this is rounding only).
IRONING_RTOL = 1e-12
#: Relative rounding error of a floating-point sum, times the magnitude of its terms (Σ|terms|):
#: the part of a comparison's tolerance that grows with cancellation. A sum whose terms are 1e12
#: times its value (one type far out, mixed into a trade) is known to about 1e12 × 1e-16, not to
#: CHECK_RTOL × 1e12, so the relative tolerances above apply to the compared quantities
#: themselves and only this one to the terms (:func:`gap_limit`). numpy's pairwise sums of 10^7
#: products err by at most about 26 ε ≈ 3e-15 of Σ|terms| (ε = 2^-52); 1e-14 leaves a margin of 3,
#: and the allowance stays below the compared values themselves while the terms are less than
#: 10^14 times those values.
ROUNDING_RTOL = 1e-14
#: General LP: relative slack on an optimal value held fixed while a tie is broken, times the
#: magnitude Σ|c_j z_j| of the objective's terms (HiGHS's own feasibility tolerance, 1e-9, adds to it).
LEX_RTOL = 1e-12
#: General LP: above this spread (largest |type| or |designer value| over the LP's money unit) the
#: optimum is confirmed by a second HiGHS algorithm; the maximin path uses the same figure
#: (lpmech.solver.AUTO_LP_MAX_SPREAD) to leave the LP for the structured solver.
CROSSCHECK_SPREAD = 1e6
#: General LP: above this spread the LP is refused (CheckError, exit 1): HiGHS's absolute
#: tolerances (1e-9 on x) times a type this many units away allow errors no audit can separate
#: from the answer. Measured: random 2-agent instances with one far-out type are right up to a
#: spread of about 2e10 (or stopped by the cross-check), and wrong, undetected, from 2e11 on.
MAX_SPREAD = 1e9
#: Continuum (lpmech.continuous): the target relative accuracy of the value g(ω*), and the bound
#: its estimated error (``value_error``, which sums the change between two quadrature resolutions,
#: the Bromwich tail, the suboptimality of ω and the clamping bound) is checked against, relative
#: to the value itself. An estimate above it is a failed check (CheckError) in lpmech.solve.
CONTINUUM_RTOL = 1e-9
#: Not a tolerance but a memory bound of the audits: pairwise (true type x report) arrays are
#: built in blocks of rows holding at most this many entries (float64: 8 bytes each), so an
#: agent with 20,000 grid points is audited in ~160 MB blocks, not one 3.2 GB array per quantity.
AUDIT_CHUNK = 2_000_000
#: Smallest magnitude a relative tolerance is taken of (guards a comparison of exact zeros).
TINY = 1e-300


def magnitude(*quantities: Any) -> float:
    """The largest absolute value among scalars and arrays (NaN and inf ignored; at least TINY).

    Parameters
    ----------
    *quantities : float or array_like
        The quantities a comparison is computed from, in one common unit.

    Returns
    -------
    float
        max |q| over every finite entry, in that unit (``TINY`` when there is none).

    Examples
    --------
    >>> magnitude(0.5, [-2.0, 1.0])
    2.0
    """
    best = 0.0
    for q in quantities:
        a = np.abs(np.asarray(q, dtype=float))
        a = a[np.isfinite(a)]
        if a.size:
            best = max(best, float(a.max()))
    return max(best, TINY)


def limit(*quantities: Any, rtol: float = CHECK_RTOL) -> float:
    """The bound a gap between computations built from ``quantities`` is held to: rtol × magnitude.

    Parameters
    ----------
    *quantities : float or array_like
        The quantities the compared computations are built from (one common unit).
    rtol : float
        The relative tolerance (default :data:`CHECK_RTOL`).

    Returns
    -------
    float
        ``rtol * magnitude(*quantities)``, in the unit of ``quantities``.

    Examples
    --------
    >>> limit(0.25, rtol=1e-7)
    2.5e-08
    """
    return rtol * magnitude(*quantities)


def tie_band(
    b: float, weighted_abs: Any, rtol: float = TIE_RTOL, uncertainty: float = 0.0, total_abs: Any = 0.0
) -> np.ndarray:
    """Half-width of each profile's tie band: rtol (|b| + Σ_i ω_i |φ̄_i(θ_i)|) + uncertainty Σ_i |φ̄_i(θ_i)|.

    Parameters
    ----------
    b : float
        The buyer's value (engine form; any unit).
    weighted_abs : array_like, shape K_1 x ... x K_N (or any)
        Σ_i ω_i |φ̄_i(θ_i)| (ω >= 0): the magnitude of the terms the index ω·φ̄(θ) is summed
        from, so one far-out type widens only its own band. Same unit as ``b``.
    rtol : float
        Relative tolerance (unitless).
    uncertainty : float
        Allowance for ω itself being known only to this absolute accuracy (unitless): a weight
        of 1e-13 on a virtual cost of 1e13 moves the index by 1, so such a profile is a tie of
        any weight that close (0 unless a solver widens its tie set).
    total_abs : array_like, same shape as ``weighted_abs``
        Σ_i |φ̄_i(θ_i)| (needed only with ``uncertainty``).

    Returns
    -------
    ndarray
        The half-widths, in the unit of ``b``.

    Examples
    --------
    >>> tie_band(0.5, [0.5, 3e9], rtol=1e-9).tolist()
    [1e-09, 3.0000000005]
    """
    return rtol * (abs(float(b)) + np.asarray(weighted_abs, dtype=float)) + uncertainty * np.asarray(
        total_abs, dtype=float
    )


def on_tie(
    index: Any, b: float, weighted_abs: Any, rtol: float = TIE_RTOL, uncertainty: float = 0.0, total_abs: Any = 0.0
) -> np.ndarray:
    """Where |ω·φ̄(θ) − b| <= :func:`tie_band` (the tie set of x_ω; ``index`` is ω·φ̄(θ)).

    Parameters
    ----------
    index : array_like
        ω·φ̄(θ) over the profiles.
    b, weighted_abs, rtol, uncertainty, total_abs
        As for :func:`tie_band`.

    Returns
    -------
    ndarray of bool

    Examples
    --------
    >>> on_tie([0.5 + 1e-12, 0.6], 0.5, [0.5, 0.6]).tolist()
    [True, False]
    """
    band = tie_band(b, weighted_abs, rtol, uncertainty, total_abs)
    return np.abs(np.asarray(index, dtype=float) - float(b)) <= band


def min_magnitude(values: Any, sizes: Any, rtol: float = CHECK_RTOL) -> float:
    """The magnitude of the terms of min(values): the largest ``sizes[i]`` among the i that may be
    the minimum within tolerance (values[i] − min <= :func:`gap_limit` of the two).

    A minimum over agents (V(x) = min_i E[x(b − φ_i)]) is as accurate as the computations that
    can be its argmin; an agent whose gain is far above the minimum does not widen the tolerance,
    however large the terms of its gain.

    Parameters
    ----------
    values : array_like, shape (N,)
        The quantities whose minimum is taken (e.g. each agent's gain).
    sizes : array_like, shape (N,)
        The magnitude of the terms of each (same unit).
    rtol : float
        Relative tolerance of the comparison with the minimum.

    Returns
    -------
    float

    Examples
    --------
    >>> min_magnitude([0.1, 5.0], [0.2, 1e9])
    0.2
    """
    v = np.asarray(values, dtype=float)
    s = np.abs(np.asarray(sizes, dtype=float))
    k = int(np.argmin(v))
    near = v - v[k] <= rtol * (np.abs(v) + abs(v[k])) + ROUNDING_RTOL * (s + s[k])
    return max(float(np.max(s[near])), TINY)


def gap_limit(values: Any, sizes: Any, rtol: float = CHECK_RTOL) -> float:
    """The bound on the gap between computations of one quantity.

    ``values`` are the computed numbers compared, ``sizes`` the magnitudes of the terms each was
    summed from. The bound is rtol × Σ|values| plus the rounding of the terms, ROUNDING_RTOL ×
    Σ sizes, but the rounding part never more than the relative part: a sum whose terms are
    10^11 times its value is known only to about 10^-5 of itself, which cannot certify anything to
    rtol, so such a comparison fails unless its gap is within rtol anyway. When the values
    themselves are zero to within that rounding (an exact 0 summed from nonzero terms), the
    rounding part is the bound. Every part is homogeneous of degree 1 in the instance's units,
    and nothing outside the comparison enters.

    Parameters
    ----------
    values : array_like
        The computed numbers compared (one unit).
    sizes : array_like
        The magnitudes of the terms each was summed from (same unit).
    rtol : float
        Relative tolerance of the method (e.g. CHECK_RTOL, CERTIFICATE_RTOL).

    Returns
    -------
    float
        The largest acceptable |difference|, in the unit of ``values``.

    Examples
    --------
    >>> gap_limit([0.5, 0.5], [1.0, 1.0], rtol=1e-7)
    1.0000002e-07
    >>> gap_limit([0.5, 0.5], [1e11, 1e11], rtol=1e-7)        # rounding capped: 2 × rtol × Σ|values|
    2e-07
    """
    v = float(np.abs(np.asarray(values, dtype=float)).sum())
    rounding = ROUNDING_RTOL * float(np.abs(np.asarray(sizes, dtype=float)).sum())
    if v <= rounding:
        return rounding
    return rtol * v + min(rounding, rtol * v)
