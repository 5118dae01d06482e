"""Discretizing continuous type distributions into grids.

The scheme is the *quantile-midpoint* grid: K cells of equal probability 1/K, each
represented by the quantile at its probability midpoint,

    t_k = F^{-1}((k - 1/2) / K),   p_k = 1/K,   k = 1, ..., K.

For U[0, 1] this is the midpoint grid (k - 1/2)/K. It needs no truncation of unbounded laws,
and its discrete virtual costs t_k + (t_k - t_{k-1}) F_{k-1}/p_k converge to θ + F/f
(theory.md, section 3), with error O(1/K) where the density is smooth and positive.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import scipy.stats

from .instance import InstanceError

__all__ = ["discretize", "frozen_distribution", "quantile_midpoints"]


def frozen_distribution(name: Any, params: Any, *, agent: str | None = None):
    """A frozen scipy.stats continuous distribution from its name and parameters.

    Raises :class:`InstanceError` naming the field when the name is not a scipy.stats
    continuous distribution or the parameters do not fit it.
    """
    if not isinstance(name, str):
        raise InstanceError(f"must be the name of a scipy.stats distribution, got {name!r}",
                            field="distribution", agent=agent)
    dist = getattr(scipy.stats, name, None)
    if not isinstance(dist, scipy.stats.rv_continuous):
        raise InstanceError(f"{name!r} is not a scipy.stats continuous distribution",
                            field="distribution", agent=agent)
    if not isinstance(params, Mapping):
        raise InstanceError(f"must be a table of parameters, got {type(params).__name__}",
                            field="params", agent=agent)
    shape_names = [s.strip() for s in (dist.shapes or "").split(",") if s.strip()]
    allowed = set(shape_names) | {"loc", "scale"}
    for key, value in params.items():
        if key not in allowed:
            raise InstanceError(f"{key!r} is not a parameter of {name} (it takes {', '.join(sorted(allowed))})",
                                field="params", agent=agent)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
            raise InstanceError(f"{key} must be a finite number, got {value!r}", field="params", agent=agent)
    missing = [s for s in shape_names if s not in params]
    if missing:
        raise InstanceError(f"{name} needs the shape parameter(s) {', '.join(missing)}",
                            field="params", agent=agent)
    try:
        frozen = dist(**params)
        ok = bool(dist._argcheck(*[params[s] for s in shape_names])) and params.get("scale", 1.0) > 0
    except Exception as exc:  # scipy raises various types for bad parameters
        raise InstanceError(f"scipy.stats.{name} rejects {dict(params)}: {exc}", field="params", agent=agent) from None
    if not ok:
        raise InstanceError(f"{dict(params)} are not valid parameters of scipy.stats.{name}",
                            field="params", agent=agent)
    return frozen


def quantile_midpoints(frozen, points: int) -> tuple[np.ndarray, np.ndarray]:
    """Quantile-midpoint grid of a frozen continuous law: K equal-mass cells.

    Examples
    --------
    >>> import scipy.stats
    >>> grid, probs = quantile_midpoints(scipy.stats.uniform(), 4)
    >>> grid
    array([0.125, 0.375, 0.625, 0.875])
    >>> probs
    array([0.25, 0.25, 0.25, 0.25])
    """
    k = np.arange(1, points + 1)
    grid = np.asarray(frozen.ppf((k - 0.5) / points), dtype=float)
    probs = np.full(points, 1.0 / points)
    return grid, probs


def discretize(name: Any, params: Any, points: Any, *, agent: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Validate ``(distribution, params, points)`` and return the quantile-midpoint grid."""
    if isinstance(points, bool) or not isinstance(points, (int, np.integer)) or points < 1:
        raise InstanceError(f"must be a whole number >= 1, got {points!r}", field="points", agent=agent)
    frozen = frozen_distribution(name, params, agent=agent)
    grid, probs = quantile_midpoints(frozen, int(points))
    if not np.all(np.isfinite(grid)):
        raise InstanceError(f"scipy.stats.{name}{dict(params)} gives non-finite quantiles",
                            field="params", agent=agent)
    if points > 1 and np.any(np.diff(grid) <= 0):
        raise InstanceError(f"{points} points of scipy.stats.{name}{dict(params)} are not distinct; use fewer",
                            field="points", agent=agent)
    return grid, probs
