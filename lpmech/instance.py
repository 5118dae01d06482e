"""Instances of the group-trading problem: agents, their type grids, and the designer's side.

An :class:`Instance` is what every solver in lpmech reads. It is built either from a TOML
file (:func:`lpmech.load`) or directly in Python; both paths run the same validation, and
every rejection is an :class:`InstanceError` whose one-line message names the file, the
agent and the field.

Units. Types are kept *per share* (theory.md, section 1): on the buy side an agent's
per-share cost, on the sell side its per-share value. Files may give total values of the
agent's whole share (``types = "total"``); they are divided by the share on loading, and the
grid order of the file is kept, so results map back point by point.

The engine. Both sides are solved by one buy-side engine: the sell side is the buy side
with types, designer's value and transfers negated and the grids reversed
(:meth:`Instance.engine`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from .errors import InstanceError
from .profiles import outer_pmf

__all__ = ["Agent", "Instance", "InstanceError", "EngineProblem", "Mechanism", "PROB_TOL", "DEFAULT_MAX_PROFILES"]

#: Tolerance for probabilities and shares summing to one.
PROB_TOL = 1e-9
#: Default cap on the number of type profiles of the grid LP (configurable per call).
DEFAULT_MAX_PROFILES = 20_000_000


def _finite_number(value: Any, *, field: str, agent: str | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InstanceError(f"must be a number, got {type(value).__name__} {value!r}",
                            field=field, agent=agent)
    v = float(value)
    if not math.isfinite(v):
        raise InstanceError(f"must be finite, got {v}", field=field, agent=agent)
    return v


def _finite_vector(values: Any, *, field: str, agent: str | None) -> np.ndarray:
    if isinstance(values, np.ndarray):
        values = values.tolist()
    if not isinstance(values, (list, tuple)):
        raise InstanceError(f"must be a list of numbers, got {type(values).__name__}",
                            field=field, agent=agent)
    if len(values) == 0:
        raise InstanceError("must not be empty", field=field, agent=agent)
    out = np.empty(len(values))
    for k, v in enumerate(values):
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
            raise InstanceError(f"entry {k + 1} must be a number, got {v!r}", field=field, agent=agent)
        out[k] = float(v)
        if not math.isfinite(out[k]):
            raise InstanceError(f"entry {k + 1} must be finite, got {out[k]}", field=field, agent=agent)
    return out


def check_pmf(probs: np.ndarray, *, field: str = "probs", agent: str | None = None) -> np.ndarray:
    """Validate a probability vector: positive entries summing to one within :data:`PROB_TOL`."""
    bad = np.flatnonzero(probs <= 0)
    if bad.size:
        k = int(bad[0])
        raise InstanceError(f"entry {k + 1} is {probs[k]:g}; probabilities must be > 0",
                            field=field, agent=agent)
    total = float(probs.sum())
    if abs(total - 1.0) > PROB_TOL:
        raise InstanceError(f"sum to {total:.12g}, not 1 (tolerance {PROB_TOL:g})", field=field, agent=agent)
    return probs / total


@dataclass(frozen=True, eq=False)
class Agent:
    """One agent: a name, a share of the transfer, and a finite type grid with its pmf.

    Parameters
    ----------
    name : str
        Unique name.
    grid : array_like
        Strictly increasing per-share types (buy side: costs; sell side: values).
    probs : array_like or None
        The pmf on ``grid`` (entries > 0, summing to 1). ``None`` only when the instance
        gives a joint pmf.
    share : float or None
        Share of the transfer (> 0); ``None`` means equal shares, filled in by :class:`Instance`.
    distribution : dict or None
        Where the grid came from, when it was discretized from a scipy.stats law
        (``{"name", "params", "points", "scale"}``); solvers for the continuum read it.

    Examples
    --------
    >>> a = Agent("ann", grid=[0.25, 0.75], probs=[0.5, 0.5])
    >>> a.grid
    array([0.25, 0.75])
    >>> Agent.from_distribution("bob", "uniform", {"loc": 0, "scale": 1}, points=4).grid
    array([0.125, 0.375, 0.625, 0.875])
    """

    name: str
    grid: np.ndarray
    probs: np.ndarray | None = None
    share: float | None = None
    distribution: Mapping[str, Any] | None = field(default=None, repr=False)

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name.strip():
            raise InstanceError(f"must be a non-empty string, got {self.name!r}", field="name")
        name = self.name
        grid = _finite_vector(self.grid, field="grid", agent=name)
        steps = np.diff(grid)
        if np.any(steps <= 0):
            k = int(np.flatnonzero(steps <= 0)[0])
            raise InstanceError(f"must be strictly increasing (entry {k + 2} = {grid[k + 1]:g} "
                                f"follows {grid[k]:g})", field="grid", agent=name)
        object.__setattr__(self, "grid", grid)
        if self.probs is not None:
            probs = _finite_vector(self.probs, field="probs", agent=name)
            if probs.size != grid.size:
                raise InstanceError(f"has {probs.size} entries but grid has {grid.size}",
                                    field="probs", agent=name)
            object.__setattr__(self, "probs", check_pmf(probs, agent=name))
        if self.share is not None:
            share = _finite_number(self.share, field="share", agent=name)
            if share <= 0:
                raise InstanceError(f"must be > 0, got {share:g}", field="share", agent=name)
            object.__setattr__(self, "share", share)

    @classmethod
    def from_distribution(cls, name: str, distribution: str, params: Mapping[str, Any] | None = None,
                          points: int = 50, share: float | None = None) -> "Agent":
        """Discretize a scipy.stats continuous law into ``points`` equal-mass cells.

        See :func:`lpmech.discretize.quantile_midpoints` for the scheme.
        """
        from .discretize import discretize

        grid, probs = discretize(distribution, params or {}, points, agent=name)
        info = {"name": distribution, "params": dict(params or {}), "points": int(points)}
        return cls(name, grid, probs, share, distribution=info)

    @property
    def size(self) -> int:
        return int(self.grid.size)


@dataclass(frozen=True)
class Mechanism:
    """Which mechanisms are allowed, and what the designer maximizes (theory.md, section 9).

    Parameters
    ----------
    ic : {"bayesian", "dominant"}
    participation : {"interim", "ex-post"}
    veto : tuple of str or None
        Agents whose participation constraint binds (None: all of them).
    pareto : float or None
        None maximizes profit; λ >= 0 maximizes profit + λ x (agents' total expected surplus).

    The defaults (Bayesian IC, interim participation, every agent a veto, profit) are the
    setting of the talks, solved by the maximin LP when types are independent.
    """

    ic: str = "bayesian"
    participation: str = "interim"
    veto: tuple[str, ...] | None = None
    pareto: float | None = None

    def __post_init__(self):
        if self.ic not in ("bayesian", "dominant"):
            raise InstanceError(f'must be "bayesian" or "dominant", got {self.ic!r}', field="mechanism.ic")
        if self.participation not in ("interim", "ex-post"):
            raise InstanceError(f'must be "interim" or "ex-post", got {self.participation!r}',
                                field="mechanism.participation")
        if self.veto is not None:
            if isinstance(self.veto, str) or not all(isinstance(v, str) for v in self.veto):
                raise InstanceError("must be a list of agent names", field="mechanism.veto")
            object.__setattr__(self, "veto", tuple(self.veto))
        if self.pareto is not None:
            lam = _finite_number(self.pareto, field="mechanism.pareto")
            if lam < 0:
                raise InstanceError(f"must be >= 0, got {lam:g}", field="mechanism.pareto")
            object.__setattr__(self, "pareto", lam)

    @property
    def is_default(self) -> bool:
        return (self.ic == "bayesian" and self.participation == "interim" and self.veto is None
                and not self.pareto)


@dataclass(frozen=True)
class EngineProblem:
    """The buy-side form every engine solves: increasing cost grids, pmfs, the buyer's value.

    ``flip`` records that the instance was a sell-side one (types and transfers negated,
    grids reversed); :meth:`Instance.to_user` maps engine arrays back.
    """

    grids: tuple[np.ndarray, ...]
    probs: tuple[np.ndarray, ...] | None
    joint: np.ndarray | None
    b: float
    flip: bool

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(g.size for g in self.grids)

    @property
    def n(self) -> int:
        return len(self.grids)

    def joint_pmf(self) -> np.ndarray:
        """The pmf over profiles, shape K_1 x ... x K_N (outer product when independent)."""
        return self.joint if self.joint is not None else outer_pmf(self.probs)


@dataclass(frozen=True, eq=False)
class Instance:
    """A group-trading instance.

    Parameters
    ----------
    side : {"buy", "sell"}
        ``"buy"``: the designer buys a good the agents own jointly; ``"sell"``: the designer
        sells to the group.
    agents : sequence of Agent
    buyer_value : float
        The buyer's value b of the whole good (required on the buy side).
    seller_cost : float
        The seller's cost c (sell side, default 0).
    types : {"per-share", "total"}
        How the agents' grids are stated. ``"total"`` grids are divided by the share.
    joint : array_like, optional
        A joint pmf of shape K_1 x ... x K_N (correlated types); agents then have no probs.
    source : str, optional
        The file the instance came from, for messages.
    name : str, optional
    mechanism : Mechanism, optional
        Constraints and objective (default: the talks' setting).

    Examples
    --------
    >>> inst = Instance("buy", [Agent("a", [0.25, 0.75], [0.5, 0.5]),
    ...                         Agent("b", [0.25, 0.75], [0.5, 0.5])], buyer_value=1.0)
    >>> inst.shares
    array([0.5, 0.5])
    >>> inst.n_profiles
    4
    """

    side: str
    agents: Sequence[Agent]
    buyer_value: float | None = None
    seller_cost: float | None = None
    types: str = "per-share"
    joint: np.ndarray | None = None
    source: str | None = None
    name: str | None = None
    mechanism: Mechanism = field(default_factory=Mechanism)

    def __post_init__(self):
        try:
            self._validate()
        except InstanceError as err:
            if err.source is None and self.source is not None:
                raise err.with_source(self.source) from None
            raise

    def _validate(self):
        if self.side not in ("buy", "sell"):
            raise InstanceError(f'must be "buy" or "sell", got {self.side!r}', field="side")
        if self.types not in ("per-share", "total"):
            raise InstanceError(f'must be "per-share" or "total", got {self.types!r}', field="types")
        if self.side == "buy":
            if self.buyer_value is None:
                raise InstanceError('is required when side = "buy"', field="buyer_value")
            b = _finite_number(self.buyer_value, field="buyer_value")
            if self.seller_cost is not None:
                raise InstanceError('belongs to side = "sell"; a buy-side instance has buyer_value',
                                    field="seller_cost")
            object.__setattr__(self, "buyer_value", b)
        else:
            if self.buyer_value is not None:
                raise InstanceError('belongs to side = "buy"; a sell-side instance has seller_cost',
                                    field="buyer_value")
            c = 0.0 if self.seller_cost is None else _finite_number(self.seller_cost, field="seller_cost")
            object.__setattr__(self, "seller_cost", c)
        agents = tuple(self.agents)
        if not agents:
            raise InstanceError("at least one agent is needed", field="agents")
        for a in agents:
            if not isinstance(a, Agent):
                raise InstanceError(f"must be Agent objects, got {type(a).__name__}", field="agents")
        names = [a.name for a in agents]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            d = sorted(dup)[0]
            raise InstanceError("the name is used by more than one agent", field="name", agent=d)
        given = [a.share is not None for a in agents]
        if any(given) and not all(given):
            missing = agents[given.index(False)].name
            raise InstanceError("is missing while other agents give one; give every share or none",
                                field="share", agent=missing)
        if all(given):
            shares = np.array([a.share for a in agents], dtype=float)
            if abs(shares.sum() - 1.0) > PROB_TOL:
                raise InstanceError(f"shares sum to {shares.sum():.12g}, not 1 (tolerance {PROB_TOL:g})",
                                    field="share", agent=agents[-1].name)
        else:
            shares = np.full(len(agents), 1.0 / len(agents))
        if self.joint is None:
            for a in agents:
                if a.probs is None:
                    raise InstanceError("is missing (give probs, a distribution, or a [joint] table)",
                                        field="probs", agent=a.name)
        else:
            for a in agents:
                if a.probs is not None:
                    raise InstanceError("cannot be given together with [joint] (beliefs come from the joint pmf)",
                                        field="probs", agent=a.name)
            object.__setattr__(self, "joint", self._check_joint(self.joint, agents))
        # Per-share grids in the file's order.
        if self.types == "total":
            per_share = tuple(a.grid / s for a, s in zip(agents, shares))
        else:
            per_share = tuple(a.grid for a in agents)
        if not isinstance(self.mechanism, Mechanism):
            raise InstanceError("must be a Mechanism", field="mechanism")
        if self.mechanism.veto is not None:
            for v in self.mechanism.veto:
                if v not in names:
                    raise InstanceError(f"names {v!r}, which is not an agent (agents: {', '.join(names)})",
                                        field="mechanism.veto")
        object.__setattr__(self, "agents", agents)
        object.__setattr__(self, "_shares", shares)
        object.__setattr__(self, "_grids", per_share)

    @staticmethod
    def _check_joint(joint: Any, agents: tuple[Agent, ...]) -> np.ndarray:
        shape = tuple(a.size for a in agents)
        try:
            arr = np.asarray(joint, dtype=float)
        except (TypeError, ValueError):
            raise InstanceError(f"must be a nested array of numbers of shape {shape}",
                                field="joint.probs") from None
        if arr.shape != shape:
            raise InstanceError(f"has shape {arr.shape}, but the agents' grids give {shape}",
                                field="joint.probs")
        if not np.all(np.isfinite(arr)):
            raise InstanceError("entries must be finite", field="joint.probs")
        if np.any(arr < 0):
            raise InstanceError(f"entries must be >= 0, found {arr.min():g}", field="joint.probs")
        if abs(arr.sum() - 1.0) > PROB_TOL:
            raise InstanceError(f"sum to {arr.sum():.12g}, not 1 (tolerance {PROB_TOL:g})",
                                field="joint.probs")
        for i, a in enumerate(agents):
            marg = arr.sum(axis=tuple(j for j in range(arr.ndim) if j != i))
            if np.any(marg <= 0):
                k = int(np.flatnonzero(marg <= 0)[0])
                raise InstanceError(f"type {a.grid[k]:g} of this agent has probability 0 "
                                    "(every own type needs positive mass)", field="joint.probs", agent=a.name)
        return arr / arr.sum()

    def with_mechanism(self, **changes) -> "Instance":
        """A copy with some :class:`Mechanism` options changed (``None`` values are ignored)."""
        from dataclasses import replace

        opts = {k: v for k, v in changes.items() if v is not None}
        try:
            mech = replace(self.mechanism, **opts)
        except InstanceError as err:
            raise err.with_source(self.source) from None
        return replace(self, mechanism=mech, agents=self.agents)

    # ----------------------------------------------------------------- derived data
    @property
    def n(self) -> int:
        """Number of agents."""
        return len(self.agents)

    @property
    def names(self) -> list[str]:
        return [a.name for a in self.agents]

    @property
    def shares(self) -> np.ndarray:
        """Shares of the transfer (equal when the instance gives none)."""
        return self._shares.copy()

    @property
    def grids(self) -> tuple[np.ndarray, ...]:
        """Per-share type grids in the file's order (increasing)."""
        return self._grids

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(g.size for g in self._grids)

    @property
    def n_profiles(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def independent(self) -> bool:
        return self.joint is None

    @property
    def probs(self) -> tuple[np.ndarray, ...]:
        """Marginal pmfs of each agent's type."""
        if self.joint is None:
            return tuple(a.probs for a in self.agents)
        n = self.n
        return tuple(self.joint.sum(axis=tuple(j for j in range(n) if j != i)) for i in range(n))

    def joint_pmf(self) -> np.ndarray:
        """The pmf over profiles in the file's grid order (outer product when independent)."""
        return self.joint if self.joint is not None else outer_pmf(self.probs)

    @property
    def designer_value(self) -> float:
        """b on the buy side, c on the sell side."""
        return self.buyer_value if self.side == "buy" else self.seller_cost

    def check_size(self, max_profiles: int | None = DEFAULT_MAX_PROFILES) -> None:
        """Raise :class:`InstanceError` if the profile grid exceeds ``max_profiles``."""
        if max_profiles is not None and self.n_profiles > max_profiles:
            sizes = " x ".join(str(k) for k in self.shape)
            raise InstanceError(f"the grid has {sizes} = {self.n_profiles:,} profiles, more than the limit "
                                f"{max_profiles:,} (raise it with --max-profiles / max_profiles=)",
                                field="agents", source=self.source)

    def engine(self) -> EngineProblem:
        """The buy-side form: sell side negates types and the designer's value, reversing grids."""
        if self.side == "buy":
            grids = self._grids
            probs = None if self.joint is not None else tuple(a.probs for a in self.agents)
            joint = self.joint
            return EngineProblem(grids, probs, joint, float(self.buyer_value), False)
        grids = tuple(-g[::-1] for g in self._grids)
        probs = None if self.joint is not None else tuple(a.probs[::-1] for a in self.agents)
        joint = None if self.joint is None else self.joint[(slice(None, None, -1),) * self.n].copy()
        return EngineProblem(grids, probs, joint, -float(self.seller_cost), True)

    def to_user(self, arr: np.ndarray, *, axes: str = "profile", negate: bool = False) -> np.ndarray:
        """Map an engine array back to the file's grid order (and sign, for transfers/types).

        ``axes="profile"``: an array over the profile grid (every axis reversed on the sell side);
        ``axes="agent"``: a 1-d array over one agent's grid.
        """
        arr = np.asarray(arr)
        if self.side == "sell":
            arr = arr[(slice(None, None, -1),) * (arr.ndim if axes == "profile" else 1)]
            if negate:
                arr = -arr
        return np.ascontiguousarray(arr)

    def describe(self) -> str:
        sizes = " x ".join(str(k) for k in self.shape)
        dv = f"b = {self.buyer_value:g}" if self.side == "buy" else f"c = {self.seller_cost:g}"
        corr = "independent types" if self.independent else "correlated types (joint pmf)"
        return f"{self.side} side, {self.n} agent(s), grid {sizes} = {self.n_profiles:,} profiles, {dv}, {corr}"
