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
    points = 40                      # quantile-midpoint grid, mass 1/points each;
                                     # without points the agent is continuous (no grid)

    [joint]                          # optional: correlated types (agents give grid, no probs)
    probs = [[...], [...]]           # shape K_1 x ... x K_N

Unknown keys are errors, so a typo is never silently ignored. Numbers are read exactly
(tomllib's ``parse_float`` is :func:`lpmech.instance.exact_float`: ``0.1`` is 1/10); the
instance keeps the exact values beside the floats it solves with. Sizes are checked before
anything of that size is allocated: at most :data:`lpmech.instance.MAX_POINTS` points per
agent, and, when ``max_profiles`` is given, the product of the grid sizes. Every problem is
an :class:`InstanceError` naming the file, the agent and the field.
"""

from __future__ import annotations

import dataclasses
import math
import os
import tomllib
from collections.abc import Mapping
from typing import Any

from .discretize import check_points, discretize, law_params
from .instance import Agent, Instance, InstanceError, Mechanism, _kind, exact_float

__all__ = ["AGENT_KEYS", "TOP_KEYS", "from_dict", "load", "read_toml", "read_toml_document"]

TOP_KEYS = {
    "name",
    "description",
    "side",
    "buyer_value",
    "seller_cost",
    "types",
    "agents",
    "joint",
    "mechanism",
    "interdependence",
}
AGENT_KEYS = {"name", "share", "grid", "probs", "distribution", "params", "points", "outside_option"}
JOINT_KEYS = {"probs"}
MECHANISM_KEYS = {
    "ic",
    "participation",
    "veto",
    "objective",
    "pareto",
    "transfers",
    "consent",
    "no_subsidy",
    "max_transfer",
    "budget",
    "min_trade_probability",
}


def _agent_name(k: int, table: Any) -> str:
    label = f"#{k + 1}"
    if not isinstance(table, Mapping):
        raise InstanceError(f"each [[agents]] entry must be a table, got {_kind(table)}", field="agents", agent=label)
    name = table.get("name", f"agent{k + 1}")
    if not isinstance(name, str) or not name.strip():
        raise InstanceError(f"must be a non-empty string, got {_kind(name)}", field="name", agent=label)
    for key in table:
        if key not in AGENT_KEYS:
            raise InstanceError(f"unknown key (allowed: {', '.join(sorted(AGENT_KEYS))})", field=key, agent=name)
    has_grid = "grid" in table
    has_dist = "distribution" in table
    if has_grid and has_dist:
        raise InstanceError(
            "give either grid (with probs) or distribution (with params, points), not both",
            field="distribution",
            agent=name,
        )
    if not has_grid and not has_dist:
        raise InstanceError(
            'is missing: give grid = [...] (with probs) or distribution = "..." (with params, and points for a grid)',
            field="grid",
            agent=name,
        )
    if has_dist:
        if "probs" in table:
            raise InstanceError(
                "does not go with distribution (the grid's masses come from it)", field="probs", agent=name
            )
    else:
        for key in ("params", "points"):
            if key in table:
                raise InstanceError("goes with distribution, not with grid", field=key, agent=name)
    return name


def _size(name: str, table: Mapping) -> int | None:
    """The agent's number of grid points, checked before anything is allocated (None: continuous)."""
    if "distribution" in table:
        return check_points(table["points"], agent=name) if "points" in table else None
    grid = table["grid"]
    if not isinstance(grid, list):
        raise InstanceError(f"must be a list of numbers, got {_kind(grid)}", field="grid", agent=name)
    return len(grid)


def _agent(name: str, table: Mapping) -> Agent:
    share = table.get("share")
    if "distribution" in table:
        params = table.get("params", {})
        if "points" not in table:  # a continuous agent: a law without a grid
            return Agent(name, None, None, share, distribution={"name": table["distribution"], "params": params})
        grid, probs = discretize(table["distribution"], params, table["points"], agent=name)
        info = {
            "name": table["distribution"],
            "params": law_params(table["distribution"], params, agent=name),
            "points": int(table["points"]),
        }
        return Agent(name, grid, probs, share, distribution=info)
    return Agent(name, table["grid"], table.get("probs"), share)


def _check_profiles(names: list[str], tables: list, sizes: list[int | None], max_profiles: int) -> None:
    if any(s is None for s in sizes):
        return  # continuous: no profile grid
    total = math.prod(sizes)
    if total > max_profiles:
        k = max(range(len(sizes)), key=lambda i: sizes[i])
        field = "points" if "points" in tables[k] else "grid"
        shown = " x ".join(str(s) for s in sizes)
        raise InstanceError(
            f"the grid would have {shown} = {total:,} profiles, more than the limit "
            f"{max_profiles:,} (raise it with --max-profiles / max_profiles=)",
            field=field,
            agent=names[k],
        )


def from_dict(data: Mapping[str, Any], source: str | None = None, *, max_profiles: int | None = None) -> Instance:
    """Build an :class:`Instance` from the parsed contents of an instance file.

    Parameters
    ----------
    data : mapping
        The parsed TOML (numbers as int, float or :class:`fractions.Fraction`).
    source : str, optional
        The file it came from, named in error messages.
    max_profiles : int, optional
        When given, the product of the agents' grid sizes is checked against it before any
        grid is built.

    Returns
    -------
    Instance

    Raises
    ------
    InstanceError
        For anything invalid, naming the file, the agent and the field.
    """
    try:
        if not isinstance(data, Mapping):
            raise InstanceError(f"an instance must be a table of keys, got {_kind(data)}")
        for key in data:
            if key not in TOP_KEYS:
                raise InstanceError(f"unknown key (allowed: {', '.join(sorted(TOP_KEYS))})", field=str(key)[:60])
        if "side" not in data:
            raise InstanceError('is required ("buy" or "sell")', field="side")
        for key in ("name", "description"):
            if key in data and not isinstance(data[key], str):
                raise InstanceError(f"must be a string, got {_kind(data[key])}", field=key)
        agents_raw = data.get("agents")
        if agents_raw is None:
            raise InstanceError("no agents: add [[agents]] tables", field="agents")
        if not isinstance(agents_raw, list) or not agents_raw:
            raise InstanceError("must be a non-empty array of [[agents]] tables", field="agents")
        joint = None
        if "joint" in data:
            jt = data["joint"]
            if not isinstance(jt, Mapping):
                raise InstanceError(f"must be a table with probs = [...], got {_kind(jt)}", field="joint")
            for key in jt:
                if key not in JOINT_KEYS:
                    raise InstanceError("unknown key (allowed: probs)", field=f"joint.{str(key)[:60]}")
            if "probs" not in jt:
                raise InstanceError("is required in [joint]", field="joint.probs")
            joint = jt["probs"]
            for k, table in enumerate(agents_raw):
                if isinstance(table, Mapping) and "distribution" in table:
                    raise InstanceError(
                        "cannot be used with [joint]: give grid only",
                        field="distribution",
                        agent=str(table.get("name", f"#{k + 1}")),
                    )
        names = [_agent_name(k, t) for k, t in enumerate(agents_raw)]
        sizes = [_size(n, t) for n, t in zip(names, agents_raw)]
        if max_profiles is not None:
            _check_profiles(names, agents_raw, sizes, max_profiles)
        mechanism = _mechanism(data.get("mechanism", {}))
        outside = {n: t["outside_option"] for n, t in zip(names, agents_raw) if "outside_option" in t}
        if outside:
            for n, v in outside.items():
                if isinstance(v, (bool, str, Mapping)):
                    raise InstanceError(
                        f"must be a number or a list over the grid, got {_kind(v)}", field="outside_option", agent=n
                    )
            mechanism = dataclasses.replace(mechanism, outside_option=outside)
        agents = [_agent(n, t) for n, t in zip(names, agents_raw)]
        return Instance(
            side=data["side"],
            agents=agents,
            buyer_value=data.get("buyer_value"),
            seller_cost=data.get("seller_cost"),
            types=data.get("types", "per-share"),
            joint=joint,
            source=source,
            name=data.get("name"),
            mechanism=mechanism,
            interdependence=data.get("interdependence"),
        )
    except InstanceError as err:
        raise err.with_source(source) from None


def _mechanism(table: Any) -> Mechanism:
    if not isinstance(table, Mapping):
        raise InstanceError(f"must be a table, got {_kind(table)}", field="mechanism")
    for key in table:
        if key not in MECHANISM_KEYS:
            raise InstanceError(
                f"unknown key (allowed: {', '.join(sorted(MECHANISM_KEYS))})", field=f"mechanism.{str(key)[:60]}"
            )
    objective = table.get("objective", "profit")
    if not isinstance(objective, str) or objective != "profit":
        raise InstanceError(
            f'must be "profit" (for a Pareto weighting give pareto = λ), got {_kind(objective)}',
            field="mechanism.objective",
        )
    if "objective" in table and "pareto" in table:
        raise InstanceError('give either objective = "profit" or pareto = λ, not both', field="mechanism.pareto")
    veto = table.get("veto")
    if veto is not None and not isinstance(veto, list):
        raise InstanceError(f"must be a list of agent names, got {_kind(veto)}", field="mechanism.veto")
    return Mechanism(
        ic=table.get("ic", "bayesian"),
        participation=table.get("participation", "interim"),
        veto=None if veto is None else tuple(veto),
        pareto=table.get("pareto"),
        transfers=table.get("transfers", "shares"),
        consent=table.get("consent"),
        no_subsidy=table.get("no_subsidy", False),
        max_transfer=table.get("max_transfer"),
        budget=table.get("budget"),
        min_trade_probability=table.get("min_trade_probability"),
    )


def load(path: str | os.PathLike, *, max_profiles: int | None = None) -> Instance:
    """Read and validate an instance file, reading its numbers exactly.

    Parameters
    ----------
    path : str or path-like
        A TOML instance file (README.md, "Instance files").
    max_profiles : int, optional
        When given, a grid with more profiles is refused before it is built.

    Returns
    -------
    Instance

    Raises
    ------
    InstanceError
        (a ``ValueError``) whose one-line message names the file, the agent and the field, for
        every problem: a missing or unreadable file, text that is not UTF-8 or not TOML, unknown
        keys, bad numbers, grids, probabilities, shares or sizes.

    Examples
    --------
    >>> import lpmech, pathlib
    >>> inst = lpmech.load(pathlib.Path(lpmech.__file__).parent.parent / "grids" / "uniform_pair.toml")
    >>> inst.n, inst.side
    (2, 'buy')
    >>> inst.exact_designer_value
    Fraction(1, 1)
    """
    source, data = read_toml(path)
    return from_dict(data, source=source, max_profiles=max_profiles)


def read_toml(path, *, what: str = "an instance file", parse_float=exact_float) -> tuple[str, dict]:
    """Read and parse a TOML file, every failure one :class:`InstanceError` naming the file.

    The one place lpmech reads a TOML file (instance files here; sweep files call it too,
    through :func:`read_toml_document`, which also returns the text).

    Parameters
    ----------
    path : str or path-like
    what : str
        What the file should be, for the message about a directory ("an instance file").
    parse_float : callable
        TOML floats are parsed with it (default :func:`exact_float`: exact binary values).

    Returns
    -------
    source : str
        The path as a string (for error messages).
    data : dict
        The parsed document.

    Raises
    ------
    InstanceError
        Not a path, no such file, a directory, no permission, another OS error, not UTF-8, not
        TOML, numbers beyond Python's conversion limits, nesting too deep.
    """
    source, _, data = read_toml_document(path, what=what, parse_float=parse_float)
    return source, data


def read_toml_document(path, *, what: str = "an instance file", parse_float=exact_float) -> tuple[str, str, dict]:
    """:func:`read_toml`, also returning the file's text (a sweep records it).

    Parameters
    ----------
    path : str or path-like
    what : str
        What the file should be, for the message about a directory.
    parse_float : callable
        TOML floats are parsed with it.

    Returns
    -------
    source : str
        The path as a string.
    text : str
        The file's contents.
    data : dict
        The parsed document.

    Raises
    ------
    InstanceError
        As :func:`read_toml`.
    """
    try:
        source = os.fspath(path)
    except TypeError:
        raise InstanceError(f"must be a file path, got {_kind(path)}", field="path") from None
    try:
        with open(source, "rb") as fh:
            raw = fh.read()
    except FileNotFoundError:
        raise InstanceError("no such file", source=source) from None
    except IsADirectoryError:
        raise InstanceError(f"is a directory, not {what}", source=source) from None
    except PermissionError:
        raise InstanceError("cannot be read (permission denied)", source=source) from None
    except (OSError, ValueError) as exc:
        raise InstanceError(f"cannot be read ({type(exc).__name__}: {exc})", source=source) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InstanceError(f"invalid TOML: not UTF-8 text (byte {exc.start + 1})", source=source) from None
    try:
        data = tomllib.loads(text, parse_float=parse_float)
    except tomllib.TOMLDecodeError as exc:
        raise InstanceError(f"invalid TOML: {exc}", source=source) from None
    except ValueError as exc:  # e.g. an integer longer than Python's int/str conversion limit
        raise InstanceError(f"invalid TOML: {str(exc).split(';')[0]}", source=source) from None
    except RecursionError:
        raise InstanceError("invalid TOML: arrays or tables nested too deeply", source=source) from None
    return source, text, data
