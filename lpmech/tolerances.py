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

__all__ = ["CHECK_RTOL", "PROB_TOL", "TIE_RTOL", "ALLOCATION_TOL", "WEIGHT_TOL", "CERTIFICATE_RTOL",
           "TINY", "magnitude", "limit"]

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
#: Relative gap between a primal value and a dual bound that certifies optimality in floating point.
CERTIFICATE_RTOL = 1e-9
#: Smallest magnitude a relative tolerance is taken of (guards a comparison of exact zeros).
TINY = 1e-300


def magnitude(*quantities: Any) -> float:
    """The largest absolute value among scalars and arrays (NaN and inf ignored; at least TINY).

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

    Examples
    --------
    >>> limit(0.25, rtol=1e-7)
    2.5e-08
    """
    return rtol * magnitude(*quantities)
