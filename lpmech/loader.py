"""Reading instance files (TOML, with the standard library's :mod:`tomllib`).

Format (README.md, "Instance files")::

    name = "uniform pair"            # optional
    description = "..."              # optional
    side = "buy"                     # or "sell"
    buyer_value = 1.0                # buy side: the buyer's value b of the whole good
    # seller_cost = 0.0              # sell side: the seller's cost c (default 0)
    types = "per-share"              # or "total": grid points value the agent's whole share

    [[agents]]
    name = "north"
    share = 0.5                      # > 0, shares sum to 1 (default: equal)
    grid = [0.1, 0.3, 0.5]           # strictly increasing
    probs = [0.2, 0.5, 0.3]          # > 0, summing to 1

    [[agents]]
    name = "south"
    distribution = "beta"            # any scipy.stats continuous distribution
    params = { a = 2, b = 3 }
    points = 40                      # quantile-midpoint grid, mass 1/points each

    [joint]                          # optional: correlated types (agents give grid, no probs)
    probs = [[...], [...]]           # shape K_1 x ... x K_N

Unknown keys are errors, so a typo is never silently ignored.
"""

from __future__ import annotations

import os
import tomllib
from typing import Any, Mapping

import numpy as np

from .discretize import discretize
from .instance import Agent, Instance, InstanceError, Mechanism

__all__ = ["load", "from_dict", "TOP_KEYS", "AGENT_KEYS"]

TOP_KEYS = {"name", "description", "side", "buyer_value", "seller_cost", "types", "agents", "joint", "mechanism"}
AGENT_KEYS = {"name", "share", "grid", "probs", "distribution", "params", "points"}
JOINT_KEYS = {"probs"}
MECHANISM_KEYS = {"ic", "participation", "veto", "objective", "pareto"}


def _agent_from_table(k: int, table: Any) -> Agent:
    label = f"#{k + 1}"
    if not isinstance(table, Mapping):
        raise InstanceError("each [[agents]] entry must be a table", field="agents", agent=label)
    name = table.get("name", f"agent{k + 1}")
    if not isinstance(name, str) or not name.strip():
        raise InstanceError(f"must be a non-empty string, got {name!r}", field="name", agent=label)
    for key in table:
        if key not in AGENT_KEYS:
            raise InstanceError(f"unknown key (allowed: {', '.join(sorted(AGENT_KEYS))})",
                                field=key, agent=name)
    has_grid = "grid" in table
    has_dist = "distribution" in table
    if has_grid and has_dist:
        raise InstanceError("give either grid (with probs) or distribution (with params, points), not both",
                            field="distribution", agent=name)
    if not has_grid and not has_dist:
        raise InstanceError("is missing: give grid = [...] (with probs) or distribution = \"...\" "
                            "(with params, points)", field="grid", agent=name)
    share = table.get("share")
    if has_dist:
        for key in ("probs",):
            if key in table:
                raise InstanceError("does not go with distribution (the grid's masses come from it)",
                                    field=key, agent=name)
        if "points" not in table:
            raise InstanceError("is required with distribution (the number of grid points)",
                                field="points", agent=name)
        params = table.get("params", {})
        grid, probs = discretize(table["distribution"], params, table["points"], agent=name)
        info = {"name": table["distribution"], "params": dict(params), "points": int(table["points"])}
        return Agent(name, grid, probs, share, distribution=info)
    for key in ("params", "points"):
        if key in table:
            raise InstanceError("goes with distribution, not with grid", field=key, agent=name)
    return Agent(name, table["grid"], table.get("probs"), share)


def from_dict(data: Mapping[str, Any], source: str | None = None) -> Instance:
    """Build an :class:`Instance` from the parsed contents of an instance file."""
    try:
        for key in data:
            if key not in TOP_KEYS:
                raise InstanceError(f"unknown key (allowed: {', '.join(sorted(TOP_KEYS))})", field=key)
        if "side" not in data:
            raise InstanceError('is required ("buy" or "sell")', field="side")
        for key in ("name", "description"):
            if key in data and not isinstance(data[key], str):
                raise InstanceError("must be a string", field=key)
        agents_raw = data.get("agents")
        if agents_raw is None:
            raise InstanceError("no agents: add [[agents]] tables", field="agents")
        if not isinstance(agents_raw, list) or not agents_raw:
            raise InstanceError("must be a non-empty array of [[agents]] tables", field="agents")
        joint = None
        if "joint" in data:
            jt = data["joint"]
            if not isinstance(jt, Mapping):
                raise InstanceError("must be a table with probs = [...]", field="joint")
            for key in jt:
                if key not in JOINT_KEYS:
                    raise InstanceError("unknown key (allowed: probs)", field=f"joint.{key}")
            if "probs" not in jt:
                raise InstanceError("is required in [joint]", field="joint.probs")
            joint = jt["probs"]
            for k, table in enumerate(agents_raw):
                if isinstance(table, Mapping) and "distribution" in table:
                    raise InstanceError("cannot be used with [joint]: give grid only",
                                        field="distribution", agent=table.get("name", f"#{k + 1}"))
        agents = [_agent_from_table(k, t) for k, t in enumerate(agents_raw)]
        return Instance(side=data["side"], agents=agents, buyer_value=data.get("buyer_value"),
                        seller_cost=data.get("seller_cost"), types=data.get("types", "per-share"),
                        joint=_nested_joint(joint), source=source, name=data.get("name"),
                        mechanism=_mechanism(data.get("mechanism", {})))
    except InstanceError as err:
        raise err.with_source(source) from None


def _mechanism(table: Any) -> Mechanism:
    if not isinstance(table, Mapping):
        raise InstanceError("must be a table", field="mechanism")
    for key in table:
        if key not in MECHANISM_KEYS:
            raise InstanceError(f"unknown key (allowed: {', '.join(sorted(MECHANISM_KEYS))})",
                                field=f"mechanism.{key}")
    objective = table.get("objective", "profit")
    if objective != "profit":
        raise InstanceError(f'must be "profit" (for a Pareto weighting give pareto = λ), got {objective!r}',
                            field="mechanism.objective")
    if "objective" in table and "pareto" in table:
        raise InstanceError('give either objective = "profit" or pareto = λ, not both', field="mechanism.pareto")
    veto = table.get("veto")
    if veto is not None and not isinstance(veto, list):
        raise InstanceError("must be a list of agent names", field="mechanism.veto")
    return Mechanism(ic=table.get("ic", "bayesian"), participation=table.get("participation", "interim"),
                     veto=None if veto is None else tuple(veto), pareto=table.get("pareto"))


def _nested_joint(joint: Any):
    if joint is None:
        return None
    # Ragged or non-numeric nested lists must give a clear message, not a numpy traceback.
    try:
        return np.array(joint, dtype=float)
    except (TypeError, ValueError):
        raise InstanceError("must be a rectangular nested array of numbers", field="joint.probs") from None


def load(path: str | os.PathLike) -> Instance:
    """Read and validate an instance file.

    Raises :class:`InstanceError` (a ``ValueError``) whose message names the file, the agent
    and the field for every problem: a missing or unreadable file, invalid TOML, unknown keys,
    bad grids, probabilities or shares.

    Examples
    --------
    >>> import lpmech, pathlib
    >>> inst = lpmech.load(pathlib.Path(lpmech.__file__).parent.parent / "grids" / "uniform_pair.toml")
    >>> inst.n, inst.side
    (2, 'buy')
    """
    source = os.fspath(path)
    try:
        with open(source, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise InstanceError("no such file", source=source) from None
    except IsADirectoryError:
        raise InstanceError("is a directory, not an instance file", source=source) from None
    except PermissionError:
        raise InstanceError("cannot be read (permission denied)", source=source) from None
    except tomllib.TOMLDecodeError as exc:
        raise InstanceError(f"invalid TOML: {exc}", source=source) from None
    except UnicodeDecodeError:
        raise InstanceError("invalid TOML: not UTF-8 text", source=source) from None
    return from_dict(data, source=source)
