"""Discretizing continuous type distributions into grids.

The scheme is the *quantile-midpoint* grid: K cells of equal probability 1/K, each
represented by the quantile at its probability midpoint,

    t_k = F^{-1}((k - 1/2) / K),   p_k = 1/K,   k = 1, ..., K.

For U[0, 1] this is the midpoint grid (k - 1/2)/K. It needs no truncation of unbounded laws,
and its discrete virtual costs t_k + (t_k - t_{k-1}) F_{k-1}/p_k converge to θ + F/f
(docs/model.md, section 3), with error O(1/K) where the density is smooth and positive.

The grid's exact data (:attr:`lpmech.Agent.exact_grid`) are the exact values of the floats
scipy produces; the masses are exactly 1/K.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import scipy.stats

from .errors import InstanceError
from .instance import MAX_MAGNITUDE, MAX_POINTS, _kind, _show, float_number

__all__ = ["discretize", "frozen_distribution", "law_params", "quantile_midpoints", "check_points"]


def _law(name: Any, *, agent: str | None):
    if not isinstance(name, str):
        raise InstanceError(
            f"must be the name of a scipy.stats distribution, got {_kind(name)}", field="distribution", agent=agent
        )
    dist = getattr(scipy.stats, name, None) if name.isidentifier() and not name.startswith("_") else None
    if not isinstance(dist, scipy.stats.rv_continuous):
        raise InstanceError(
            f"{name[:40]!r} is not a scipy.stats continuous distribution", field="distribution", agent=agent
        )
    return dist


def law_params(name: Any, params: Any, *, agent: str | None = None) -> dict[str, float]:
    """The parameters of a scipy.stats continuous law, checked by name and converted to floats.

    Parameters
    ----------
    name : str
        A scipy.stats continuous distribution.
    params : mapping
        Its shape parameters, ``loc`` and ``scale`` (numbers of magnitude at most
        :data:`lpmech.instance.MAX_MAGNITUDE`; exact fractions are rounded to doubles: a law
        is evaluated in floating point).
    agent : str, optional
        Named in error messages.

    Returns
    -------
    dict of str to float

    Raises
    ------
    InstanceError
        When the name is not a scipy.stats continuous law, a key is not one of its parameters,
        a value is not a finite number, or a shape parameter is missing.
    """
    dist = _law(name, agent=agent)
    if not isinstance(params, Mapping):
        raise InstanceError(f"must be a table of parameters, got {_kind(params)}", field="params", agent=agent)
    shape_names = [s.strip() for s in (dist.shapes or "").split(",") if s.strip()]
    allowed = set(shape_names) | {"loc", "scale"}
    clean = {}
    for key, value in params.items():
        if key not in allowed:
            raise InstanceError(
                f"{str(key)[:40]!r} is not a parameter of {name} (it takes {', '.join(sorted(allowed))})",
                field="params",
                agent=agent,
            )
        try:
            clean[key] = float_number(value, field="params", agent=agent)
        except InstanceError as err:
            raise InstanceError(f"{key} {err.message}", field="params", agent=agent) from None
    missing = [s for s in shape_names if s not in clean]
    if missing:
        raise InstanceError(f"{name} needs the shape parameter(s) {', '.join(missing)}", field="params", agent=agent)
    return clean


def frozen_distribution(name: Any, params: Any, *, agent: str | None = None):
    """A frozen scipy.stats continuous distribution from its name and parameters.

    Parameters
    ----------
    name : str
    params : mapping
        See :func:`law_params`.
    agent : str, optional

    Returns
    -------
    scipy.stats frozen distribution

    Raises
    ------
    InstanceError
        Naming the field when the name is not a scipy.stats continuous distribution or the
        parameters do not fit it.
    """
    dist = _law(name, agent=agent)
    clean = law_params(name, params, agent=agent)
    shape_names = [s.strip() for s in (dist.shapes or "").split(",") if s.strip()]
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            frozen = dist(**clean)
            ok = bool(np.all(dist._argcheck(*[clean[s] for s in shape_names]))) and clean.get("scale", 1.0) > 0
    except Exception as exc:  # noqa: BLE001 (scipy raises various types for bad parameters)
        why = str(exc).splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise InstanceError(f"scipy.stats.{name} rejects {clean}: {why}", field="params", agent=agent) from None
    if not ok:
        raise InstanceError(f"{clean} are not valid parameters of scipy.stats.{name}", field="params", agent=agent)
    return frozen


def quantile_midpoints(frozen, points: int) -> tuple[np.ndarray, np.ndarray]:
    """Quantile-midpoint grid of a frozen continuous law: K equal-mass cells.

    Parameters
    ----------
    frozen : scipy.stats frozen continuous distribution
    points : int
        K, the number of cells.

    Returns
    -------
    grid : ndarray, shape (K,)
        t_k = F^{-1}((k - 1/2)/K).
    probs : ndarray, shape (K,)
        1/K each.

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
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        grid = np.asarray(frozen.ppf((k - 0.5) / points), dtype=float)
    probs = np.full(points, 1.0 / points)
    return grid, probs


def check_points(points: Any, *, agent: str | None = None) -> int:
    """Validate a number of grid points: a whole number in [1, MAX_POINTS] (checked before allocating).

    Parameters
    ----------
    points : Any
        The number of grid points asked for.
    agent : str, optional
        The agent named in an error.

    Returns
    -------
    int
        ``points`` as a Python int.

    Raises
    ------
    InstanceError
        Not a whole number, below 1, or above :data:`MAX_POINTS`.
    """
    if isinstance(points, (bool, np.bool_)) or not isinstance(points, (int, np.integer)):
        shown = points if isinstance(points, float) else _kind(points)
        raise InstanceError(f"must be a whole number >= 1, got {shown}", field="points", agent=agent)
    if points < 1:
        raise InstanceError(f"must be a whole number >= 1, got {_show(int(points))}", field="points", agent=agent)
    if points > MAX_POINTS:
        raise InstanceError(
            f"is {_show(int(points))}, more than the limit of {MAX_POINTS:,} grid points per agent",
            field="points",
            agent=agent,
        )
    return int(points)


def discretize(name: Any, params: Any, points: Any, *, agent: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Validate ``(distribution, params, points)`` and return the quantile-midpoint grid.

    Parameters
    ----------
    name : str
        A scipy.stats continuous distribution.
    params : mapping
        Its parameters (:func:`law_params`).
    points : int
        Number of grid points, 1 ... :data:`lpmech.instance.MAX_POINTS` (checked before any
        allocation).
    agent : str, optional
        Named in error messages.

    Returns
    -------
    grid, probs : ndarray, shape (points,)

    Raises
    ------
    InstanceError
        For bad names, parameters or sizes, non-finite or out-of-range quantiles, and points
        that are not distinct in floating point.
    """
    points = check_points(points, agent=agent)
    frozen = frozen_distribution(name, params, agent=agent)
    grid, probs = quantile_midpoints(frozen, points)
    if not np.all(np.isfinite(grid)):
        raise InstanceError(
            f"scipy.stats.{name}{law_params(name, params)} gives non-finite quantiles", field="params", agent=agent
        )
    if np.any(np.abs(grid) > MAX_MAGNITUDE):
        raise InstanceError(
            f"scipy.stats.{name}{law_params(name, params)} gives quantiles beyond the magnitude "
            f"limit {MAX_MAGNITUDE:g}",
            field="params",
            agent=agent,
        )
    if points > 1 and np.any(np.diff(grid) <= 0):
        raise InstanceError(
            f"{points} points of scipy.stats.{name}{law_params(name, params)} are not distinct; use fewer",
            field="points",
            agent=agent,
        )
    return grid, probs
