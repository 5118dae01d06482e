"""Parameter sweeps on dask.distributed: many instances, one tidy table.

A *sweep file* (TOML) names a base instance and the numbers to vary::

    base = "uniform_pair.toml"        # relative to the sweep file
    zip = false                       # optional: pair the vary tables instead of their product

    [[vary]]
    path = "buyer_value"              # a dotted path into the instance file's tables
    start = 0.5                       # linspace(start, stop, num) ...
    stop = 1.5
    num = 11

    [[vary]]
    path = "agents.0.params.scale"    # list entries by position (0 = the first [[agents]])
    values = [0.8, 1.0, 1.2]          # ... or the values themselves

    [solve]                           # optional
    method = "auto"                   # auto | lp | structured | continuous
    certify = false                   # passed to lpmech.solve when it takes it
    ic = "bayesian"                   # mechanism options override the base file's [mechanism]
    participation = "interim"
    veto = ["seller 1"]
    pareto = 0.5
    compare = false                   # also the compare table's values per point
    max_profiles = 100000             # optional cap on each point's profile grid

or, instead of ``base`` and ``[[vary]]``, random instances from :func:`random_instance`::

    [random]
    count = 200                       # number of instances
    seed = 7
    agents = [2, 4]                   # N drawn uniformly from 2..4 (or a fixed N: agents = 3)
    points = 8                        # grid points per agent

Each point is the base file's parsed dictionary with the dotted paths set, read by
:func:`lpmech.loader.from_dict`; a point whose instance is bad is a row with status
``"error"`` and the one-line message. :func:`run_sweep` solves the points as tasks on
dask.distributed (a :class:`distributed.LocalCluster` with one single-threaded worker process
per core, or an existing cluster given by its scheduler's address), appends one JSON line per
point to ``DIR/points.jsonl`` as results arrive (a rerun skips the points already there), and
at the end writes ``DIR/results.parquet``, ``DIR/results.csv``, ``DIR/sweep.json`` (the sweep
file, the provenance, the time) and ``DIR/sweep.png``, together and atomically.

Row statuses: ``"optimal"``; ``"error"`` (bad instance, :class:`~lpmech.errors.InstanceError`);
``"solver_error"`` (:class:`~lpmech.errors.SolverError`, HiGHS's status in the message);
``"check_failed"`` (:class:`~lpmech.errors.CheckError`, a wrong answer caught); ``"failed"``
(any other :class:`~lpmech.errors.LpmechError`); ``"crashed"`` (anything else, e.g. a worker
process that died). A rerun retries the ``"crashed"`` points only: the others are
deterministic.
"""

from __future__ import annotations

import copy
import hashlib
import inspect
import json
import logging
import math
import numbers
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import CheckError, InstanceError, LpmechError, MissingDependencyError, SolverError
from .instance import exact_float
from .loader import read_toml, read_toml_document

__all__ = [
    "load_sweep",
    "SweepSpec",
    "Vary",
    "Point",
    "run_sweep",
    "SweepOutcome",
    "row_of",
    "map_points",
    "random_instance",
    "solve_point",
    "dask_client",
    "sweep_figure",
    "add_parser",
    "command",
    "STATUSES",
    "RESULT_COLUMNS",
    "SWEEP_KEYS",
    "VARY_KEYS",
    "SOLVE_KEYS",
    "RANDOM_KEYS",
    "METHODS",
]

SWEEP_KEYS = {"name", "description", "base", "zip", "vary", "solve", "random"}
VARY_KEYS = {"path", "values", "start", "stop", "num"}
SOLVE_KEYS = {"method", "certify", "ic", "participation", "veto", "pareto", "compare", "max_profiles"}
RANDOM_KEYS = {"count", "seed", "agents", "points"}
#: Solvers a sweep can use (``continuous`` solves the agents' distributions in the continuum).
METHODS = ("auto", "lp", "structured", "continuous")
#: Row statuses, in the order the summary counts them.
STATUSES = ("optimal", "error", "solver_error", "check_failed", "failed", "crashed")
#: Statuses a rerun solves again (the others are deterministic outcomes of the point).
RETRY_STATUSES = ("crashed",)
#: Result columns (besides the varied paths and the per-agent ω columns), in table order.
RESULT_COLUMNS = ("value", "posted_price", "posted_value", "ratio", "trade_probability", "formulation")
#: Columns the compare table adds per point when ``compare = true``.
COMPARE_COLUMNS = (
    "value_bic_interim",
    "value_bic_expost",
    "value_dsic_interim",
    "value_dsic_expost",
    "value_expost_ic_interim",
    "value_expost_ic_expost",
    "first_best",
)
#: Largest linspace a [[vary]] table may ask for (a typo like num = 1e9 is refused, not allocated).
MAX_POINTS = 1_000_000
#: Tasks in flight per worker: points are submitted as results arrive, never all at once.
IN_FLIGHT_PER_WORKER = 8

POINTS_FILE = "points.jsonl"
OUTPUT_FILES = ("results.parquet", "results.csv", "sweep.json", "sweep.png")


# --------------------------------------------------------------------------- the sweep file
@dataclass(frozen=True)
class Vary:
    """One ``[[vary]]`` table: a dotted path into the instance and the values it takes."""

    path: str
    values: tuple


@dataclass(frozen=True)
class Point:
    """One point of a sweep.

    Attributes
    ----------
    index : int
        Position in the sweep (0-based, the table's order).
    key : str
        Stable hash of the base instance, the varied values and the solve options (hex).
    values : dict
        Column name -> value: each varied path, or ``seed``, ``draw`` and ``agents`` for a
        random instance.
    data : dict
        The instance file's dictionary for this point.
    label : str
        Names the point in messages (file and values).
    """

    index: int
    key: str
    values: dict
    data: dict
    label: str


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)


def _hash(obj: Any) -> str:
    return hashlib.sha256(_canonical(obj).encode()).hexdigest()[:24]


@dataclass
class SweepSpec:
    """A parsed, validated sweep file (see the module docstring); build with :func:`load_sweep`.

    Attributes
    ----------
    source : str
        The sweep file.
    text : str
        Its text (recorded in ``sweep.json``).
    base : str or None
        The base instance file (resolved against the sweep file's directory); None for a
        random sweep.
    base_data : dict or None
        The base file's parsed dictionary.
    vary : tuple of Vary
    zip : bool
        Pair the vary tables (all of one length) instead of taking their product.
    options : dict
        The ``[solve]`` options with defaults filled in: ``method``, ``certify``, ``compare``,
        ``max_profiles`` and the mechanism options given (``ic``, ``participation``, ``veto``,
        ``pareto``).
    random : dict or None
        ``count``, ``seed``, ``agents`` (lo, hi), ``points`` for a random sweep.
    name : str or None
    """

    source: str
    text: str
    base: str | None
    base_data: dict | None
    vary: tuple[Vary, ...]
    zip: bool
    options: dict
    random: dict | None = None
    name: str | None = None
    _points: list[Point] | None = field(default=None, repr=False)

    @property
    def paths(self) -> list[str]:
        """The table's input columns: the varied paths, or ``seed``, ``draw``, ``agents``."""
        return ["seed", "draw", "agents"] if self.random else [v.path for v in self.vary]

    @property
    def shape(self) -> tuple[int, ...]:
        """Number of values of each varied path (product), or the number of points (zip, random)."""
        if self.random:
            return (self.random["count"],)
        if self.zip:
            return (len(self.vary[0].values),)
        return tuple(len(v.values) for v in self.vary)

    def __len__(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def points(self) -> list[Point]:
        """Every point of the sweep, in table order (product: the last path varies fastest)."""
        if self._points is None:
            self._points = list(self.iter_points())
        return self._points

    def iter_points(self) -> Iterator[Point]:
        """The points one at a time (each instance dictionary is built when it is reached)."""
        opts = _canonical(self.options)
        if self.random:
            r = self.random
            gen = {"seed": r["seed"], "agents": list(r["agents"]), "points": r["points"]}
            for k in range(r["count"]):
                data = random_instance(r["seed"], k, agents=r["agents"], points=r["points"])
                values = {"seed": r["seed"], "draw": k, "agents": len(data["agents"])}
                yield Point(
                    k,
                    _hash({"random": gen, "draw": k, "options": opts}),
                    values,
                    data,
                    f"{self.source} [random draw {k}, seed {r['seed']}]",
                )
            return
        base_key = _hash(self.base_data)
        combos: Iterable[tuple]
        if self.zip:
            combos = zip(*(v.values for v in self.vary))
        else:
            combos = (tuple(v.values[j] for v, j in zip(self.vary, idx)) for idx in np.ndindex(*self.shape))
        for k, combo in enumerate(combos):
            data = copy.deepcopy(self.base_data)
            values = {}
            for vary, value in zip(self.vary, combo):
                _set_path(data, vary.path, value)
                values[vary.path] = _plain_value(value)
            shown = ", ".join(f"{p} = {_short(v)}" for p, v in values.items())
            yield Point(
                k,
                _hash({"base": base_key, "values": [[p, v] for p, v in values.items()], "options": opts}),
                values,
                data,
                f"{self.base} [point {k}: {shown}]",
            )


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str) if not isinstance(value, str) else value
    return text if len(text) <= 40 else text[:37] + "..."


def _path_parts(path: str) -> list[str | int]:
    parts: list[str | int] = []
    for p in path.split("."):
        if p == "":
            raise ValueError("has an empty component")
        parts.append(int(p) if p.lstrip("-").isdigit() else p)
    return parts


def _set_path(data: dict, path: str, value: Any) -> None:
    """Set ``data[a][b]...[z] = value`` for the dotted path ``"a.b....z"`` (integers index lists).

    A missing table key on the way is created (``agents.0.params.scale`` on an agent without
    ``params``); a list index out of range, or a step into a number or string, raises ValueError.
    """
    parts = _path_parts(path)
    node: Any = data
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        where = ".".join(str(p) for p in parts[:depth]) or "the file"
        if isinstance(node, list):
            if not isinstance(part, int):
                raise ValueError(  # noqa: TRY004 (load_sweep turns ValueError into an InstanceError)
                    f"{where} is a list: index it by position (e.g. {where}.0), not {part!r}"
                )
            if not -len(node) <= part < len(node):
                raise ValueError(f"{where} has {len(node)} entries; index {part} is out of range")
            if last:
                node[part] = copy.deepcopy(value)
            else:
                node = node[part]
        elif isinstance(node, dict):
            key = str(part)
            if last:
                node[key] = copy.deepcopy(value)
            else:
                if key not in node:
                    node[key] = {}
                node = node[key]
        else:
            raise ValueError(  # noqa: TRY004 (load_sweep turns ValueError into an InstanceError)
                f"{where} is a {type(node).__name__}, not a table or list: it has no {part!r}"
            )


def _bad_number(value: Any) -> Any:
    """The first number the exact reader refused (a ``BadNumber``) inside ``value``, or None."""
    if type(value).__name__ == "BadNumber":
        return value
    if isinstance(value, list):
        for v in value:
            bad = _bad_number(v)
            if bad is not None:
                return bad
    if isinstance(value, Mapping):
        for v in value.values():
            bad = _bad_number(v)
            if bad is not None:
                return bad
    return None


def _plain_value(value: Any) -> Any:
    """A varied value as the table records it: exact rationals as floats, lists element-wise."""
    if isinstance(value, numbers.Rational) and not isinstance(value, (int, bool)):
        return float(value)
    if isinstance(value, list):
        return [_plain_value(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain_value(v) for k, v in value.items()}
    return value


def _err(message: str, field: str, source: str) -> InstanceError:
    return InstanceError(message, field=field, source=source)


def _known_keys(table: Mapping, allowed, prefix: str, source: str) -> None:
    """Refuse the first key of ``table`` not in ``allowed`` (the field is ``prefix + key``)."""
    for key in table:
        if key not in allowed:
            raise _err(f"unknown key (allowed: {', '.join(sorted(allowed))})", f"{prefix}{key}", source)


def _number(value: Any, field: str, source: str, *, integer: bool = False, minimum: float | None = None):
    bad = _bad_number(value)
    if bad is not None:
        raise _err(f"{bad.text} {bad.reason}", field, source)
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or (integer and not isinstance(value, int)):
        raise _err(f"must be {'a whole number' if integer else 'a number'}, got {value!r}", field, source)
    if not integer:
        value = float(value)
    if not math.isfinite(value):
        raise _err(f"must be finite, got {value!r}", field, source)
    if minimum is not None and value < minimum:
        raise _err(f"must be >= {minimum:g}, got {value!r}", field, source)
    return value


def _vary(k: int, table: Any, source: str) -> Vary:
    label = f"vary[{k}]"
    if not isinstance(table, Mapping):
        raise _err("each [[vary]] entry must be a table with path and values (or start, stop, num)", label, source)
    for key in table:
        if key not in VARY_KEYS:
            raise _err(f"unknown key (allowed: {', '.join(sorted(VARY_KEYS))})", f"{label}.{key}", source)
    path = table.get("path")
    if not isinstance(path, str) or not path.strip():
        raise _err(
            'is required: a dotted path into the instance, e.g. "buyer_value" or "agents.0.share"',
            f"{label}.path",
            source,
        )
    try:
        _path_parts(path)
    except ValueError as exc:
        raise _err(f"{path!r} {exc}", f"{label}.path", source) from None
    has_values = "values" in table
    has_range = any(k in table for k in ("start", "stop", "num"))
    if has_values == has_range:
        raise _err("give either values = [...] or start, stop and num", f"{label}.values", source)
    if has_values:
        values = table["values"]
        if not isinstance(values, list) or not values:
            raise _err("must be a non-empty array", f"{label}.values", source)
        bad = _bad_number(values)
        if bad is not None:
            raise _err(f"{bad.text} {bad.reason}", f"{label}.values", source)
        return Vary(path, tuple(values))
    for key in ("start", "stop", "num"):
        if key not in table:
            raise _err("is required with start, stop and num (numpy.linspace)", f"{label}.{key}", source)
    start = _number(table["start"], f"{label}.start", source)
    stop = _number(table["stop"], f"{label}.stop", source)
    num = _number(table["num"], f"{label}.num", source, integer=True, minimum=1)
    if num > MAX_POINTS:
        raise _err(f"asks for {num:,} values, more than {MAX_POINTS:,}", f"{label}.num", source)
    return Vary(path, tuple(float(v) for v in np.linspace(start, stop, num)))


def _solve_options(table: Any, source: str) -> dict:
    from .instance import Mechanism

    if not isinstance(table, Mapping):
        raise _err("must be a table", "solve", source)
    _known_keys(table, SOLVE_KEYS, "solve.", source)
    method = table.get("method", "auto")
    if method not in METHODS:
        raise _err(f"must be one of {', '.join(METHODS)}, got {method!r}", "solve.method", source)
    certify = table.get("certify", False)
    if certify is True:
        certify = "exact"
    if certify is not False and not isinstance(certify, str):
        raise _err(f'must be true, false or a string such as "exact", got {certify!r}', "solve.certify", source)
    if certify:
        from .solver import solve

        if "certify" not in inspect.signature(solve).parameters:
            raise _err("this version of lpmech.solve does not take certify=", "solve.certify", source)
    compare = table.get("compare", False)
    if not isinstance(compare, bool):
        raise _err(f"must be true or false, got {compare!r}", "solve.compare", source)
    opts: dict[str, Any] = {"method": method, "certify": certify or None, "compare": compare}
    if "max_profiles" in table:
        opts["max_profiles"] = _number(table["max_profiles"], "solve.max_profiles", source, integer=True, minimum=1)
    mech = {k: table[k] for k in ("ic", "participation", "veto", "pareto") if k in table}
    try:
        Mechanism(
            **{
                k: (tuple(v) if k == "veto" and isinstance(v, list) else v)  # type: ignore[arg-type]
                for k, v in mech.items()
            }
        )  # a user's table: Mechanism validates every value
    except InstanceError as err:
        raise _err(err.message, (err.field or "solve").replace("mechanism.", "solve."), source) from None
    opts.update(_plain_value(mech))
    return opts


def _random_options(table: Any, source: str) -> dict:
    if not isinstance(table, Mapping):
        raise _err("must be a table with count (and seed, agents, points)", "random", source)
    _known_keys(table, RANDOM_KEYS, "random.", source)
    if "count" not in table:
        raise _err("is required: the number of random instances", "random.count", source)
    count = _number(table["count"], "random.count", source, integer=True, minimum=1)
    if count > MAX_POINTS:
        raise _err(f"asks for {count:,} instances, more than {MAX_POINTS:,}", "random.count", source)
    seed = _number(table.get("seed", 0), "random.seed", source, integer=True, minimum=0)
    agents = table.get("agents", 2)
    if isinstance(agents, list):
        if len(agents) != 2:
            raise _err(f"must be a number N or a range [lo, hi], got {agents!r}", "random.agents", source)
        lo, hi = (_number(a, "random.agents", source, integer=True, minimum=1) for a in agents)
        if lo > hi:
            raise _err(f"range [lo, hi] needs lo <= hi, got {agents!r}", "random.agents", source)
    else:
        lo = hi = _number(agents, "random.agents", source, integer=True, minimum=1)
    points = _number(table.get("points", 8), "random.points", source, integer=True, minimum=1)
    return {"count": count, "seed": seed, "agents": (lo, hi), "points": points}


def load_sweep(path: str | os.PathLike) -> SweepSpec:
    """Read and validate a sweep file (format: the module docstring).

    Parameters
    ----------
    path : str or path-like
        The sweep file (TOML). ``base`` is resolved against its directory.

    Returns
    -------
    SweepSpec

    Raises
    ------
    InstanceError
        One line naming the sweep file and the field: unreadable file or invalid TOML, unknown
        keys, a vary table without values, a path that does not exist in the base file (a list
        index out of range, a step into a number), zip over lists of different lengths, a bad
        ``[solve]`` or ``[random]`` option, an unreadable base file (named as well). A value
        that makes a point's instance invalid is not an error here: that point's row gets
        status ``"error"``.
    """
    source, text, data = read_toml_document(path, what="a sweep file", parse_float=exact_float)
    _known_keys(data, SWEEP_KEYS, "", source)
    name = data.get("name")
    if name is not None and not isinstance(name, str):
        raise _err("must be a string", "name", source)
    zipped = data.get("zip", False)
    if not isinstance(zipped, bool):
        raise _err(f"must be true or false, got {zipped!r}", "zip", source)
    options = _solve_options(data.get("solve", {}), source)
    if "random" in data:
        for key in ("base", "vary"):
            if key in data:
                raise _err("does not go with [random] (a random sweep draws its own instances)", key, source)
        rnd = _random_options(data["random"], source)
        return SweepSpec(source, text, None, None, (), False, options, rnd, name)
    base = data.get("base")
    if not isinstance(base, str) or not base.strip():
        raise _err(
            'is required: the base instance file, e.g. base = "uniform_pair.toml" (or give [random])', "base", source
        )
    base_path = base if os.path.isabs(base) else os.path.join(os.path.dirname(source), base)
    try:
        _, base_data = read_toml(base_path, parse_float=exact_float)
    except InstanceError as exc:
        raise _err(f"{base_path}: {exc.message}", "base", source) from None
    tables = data.get("vary")
    if tables is None:
        raise _err("no [[vary]] tables: add one with path and values (or start, stop, num)", "vary", source)
    if not isinstance(tables, list) or not tables:
        raise _err("must be a non-empty array of [[vary]] tables", "vary", source)
    vary = tuple(_vary(k, t, source) for k, t in enumerate(tables))
    paths = [v.path for v in vary]
    for k, p in enumerate(paths):
        if paths.index(p) != k:
            raise _err(f"path {p!r} is varied twice", f"vary[{k}].path", source)
        try:
            _set_path(copy.deepcopy(base_data), p, vary[k].values[0])
        except ValueError as exc:
            raise _err(f"{p!r} does not fit the base file {base_path}: {exc}", f"vary[{k}].path", source) from None
    if zipped and len({len(v.values) for v in vary}) > 1:
        sizes = ", ".join(f"{v.path}: {len(v.values)}" for v in vary)
        raise _err(f"zip = true pairs the vary tables, which need equal lengths ({sizes})", "zip", source)
    spec = SweepSpec(source, text, base_path, base_data, vary, zipped, options, None, name)
    if len(spec) > MAX_POINTS:
        raise _err(f"the product has {len(spec):,} points, more than {MAX_POINTS:,}", "vary", source)
    return spec


# --------------------------------------------------------------------------- random instances
def random_instance(seed: int, draw: int, *, agents: int | Sequence[int] = 2, points: int = 8) -> dict:
    """A random buy-side instance, as an instance file's dictionary (for :func:`lpmech.from_dict`).

    The generator (the one validation's random-instance study uses): N is drawn uniformly from
    ``agents`` = (lo, hi) (or fixed); each agent's per-share cost law is, with probability 1/3
    each, uniform(loc ~ U[0, 0.3], scale ~ U[0.5, 1.5]), powerlaw(a ~ U[0.5, 4]) or
    beta(a, b ~ U[1, 4]), discretized on ``points`` quantile midpoints; shares are equal; the
    buyer's value is b = lo + (hi − lo)·U[0.15, 0.95] with [lo, hi] the intersection of the
    supports (so every agent's support straddles b, the talks' premise). Draw ``draw`` of seed
    ``seed`` uses ``numpy.random.default_rng([seed, draw])``: each draw is reproducible alone.

    Parameters
    ----------
    seed, draw : int
        >= 0.
    agents : int or (int, int)
        N, or the range N is drawn from (inclusive).
    points : int
        Grid points per agent.

    Returns
    -------
    dict
        ``side``, ``buyer_value``, ``name`` and ``agents`` (``distribution``, ``params``,
        ``points``), JSON- and TOML-ready.

    Examples
    --------
    >>> d = random_instance(7, 0, agents=(2, 4), points=5)
    >>> d == random_instance(7, 0, agents=(2, 4), points=5), 2 <= len(d["agents"]) <= 4
    (True, True)
    """
    import scipy.stats

    lo_n, hi_n = (agents, agents) if isinstance(agents, int) else tuple(agents)
    rng = np.random.default_rng([int(seed), int(draw)])
    n = int(rng.integers(lo_n, hi_n + 1))
    laws = []
    for _ in range(n):
        kind = int(rng.integers(3))
        if kind == 0:
            laws.append(("uniform", {"loc": float(rng.uniform(0, 0.3)), "scale": float(rng.uniform(0.5, 1.5))}))
        elif kind == 1:
            laws.append(("powerlaw", {"a": float(rng.uniform(0.5, 4.0))}))
        else:
            laws.append(("beta", {"a": float(rng.uniform(1.0, 4.0)), "b": float(rng.uniform(1.0, 4.0))}))
    supports = [getattr(scipy.stats, law)(**params).support() for law, params in laws]
    lo, hi = max(float(s[0]) for s in supports), min(float(s[1]) for s in supports)
    b = float(lo + (hi - lo) * rng.uniform(0.15, 0.95))
    return {
        "name": f"random draw {draw} (seed {seed})",
        "side": "buy",
        "buyer_value": b,
        "agents": [
            {"name": f"a{i + 1}", "distribution": law, "params": params, "points": int(points)}
            for i, (law, params) in enumerate(laws)
        ],
    }


# --------------------------------------------------------------------------- one point
def _finite(v: Any) -> float:
    """A float, NaN for None or anything not a number."""
    if v is None or isinstance(v, bool):
        return math.nan
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def row_of(result: Any) -> dict:
    """The sweep table's result columns, read from any of lpmech's result types.

    Parameters
    ----------
    result : SolveResult, GeneralResult or ContinuousResult
        Read by attribute, defensively: a field a formulation does not define is NaN (the
        general LP has no ω, no posted price and no ratio; the continuum no ω range).

    Returns
    -------
    dict
        ``value``, ``omega_<agent>``, ``omega_<agent>_lo``, ``omega_<agent>_hi`` (one triple per
        agent, by name, when the result has ω), ``posted_price``, ``posted_value``, ``ratio``,
        ``trade_probability`` (floats, NaN where undefined) and ``formulation`` (str).

    Examples
    --------
    >>> import lpmech
    >>> inst = lpmech.Instance("buy", [lpmech.Agent(n, [0.25, 0.75], [0.5, 0.5]) for n in "ab"],
    ...                        buyer_value=1.0)
    >>> row = row_of(lpmech.solve(inst))
    >>> row["value"], row["omega_a"] + row["omega_b"], row["posted_value"], row["formulation"]
    (0.3125, 1.0, 0.25, 'maximin')
    """
    inst = getattr(result, "instance", None)
    names = list(getattr(result, "names", None) or (inst.names if inst is not None else []))
    row: dict[str, Any] = {"value": _finite(getattr(result, "value", None))}
    omega = getattr(result, "omega", None)
    if omega is not None and names:
        omega = np.asarray(omega, dtype=float).ravel()
        rng = getattr(result, "omega_range", None)
        rng = None if rng is None else np.asarray(rng, dtype=float).reshape(-1, 2)
        for i, name in enumerate(names):
            row[f"omega_{name}"] = float(omega[i])
            row[f"omega_{name}_lo"] = float(rng[i, 0]) if rng is not None else math.nan
            row[f"omega_{name}_hi"] = float(rng[i, 1]) if rng is not None else math.nan
    posted = getattr(result, "posted", None)
    if posted is not None:
        row["posted_price"] = _finite(getattr(posted, "price", None))
        row["posted_value"] = _finite(getattr(posted, "value", None))
    else:
        price = getattr(result, "posted_price", None)
        row["posted_price"] = _finite(price.get("price") if isinstance(price, Mapping) else price)
        row["posted_value"] = _finite(getattr(result, "posted_value", None))
    row["ratio"] = _finite(getattr(result, "ratio", None))
    tp = getattr(result, "trade_probability", None)
    if tp is None and inst is not None and getattr(result, "allocation", None) is not None:
        tp = float(np.sum(inst.joint_pmf() * np.asarray(result.allocation, dtype=float)))
    row["trade_probability"] = _finite(tp)
    form = getattr(result, "formulation", None)
    if form is None:
        form = "continuous" if type(result).__name__ == "ContinuousResult" else type(result).__name__
    row["formulation"] = str(form)
    cert = getattr(result, "certificate", None)
    if cert is not None and getattr(cert, "method", "exact") == "exact":  # the float one is never a proof
        row["certified"] = bool(getattr(cert, "proven", False))
    return row


def _compare_row(instance) -> dict:
    from .compare import compare

    table = compare(instance)
    names = {
        ("bayesian", "interim"): "value_bic_interim",
        ("bayesian", "ex-post"): "value_bic_expost",
        ("dominant", "interim"): "value_dsic_interim",
        ("dominant", "ex-post"): "value_dsic_expost",
        ("ex-post", "interim"): "value_expost_ic_interim",  # interdependent values: ex-post IC replaces DSIC
        ("ex-post", "ex-post"): "value_expost_ic_expost",
    }
    out = {names[(r["ic"], r["participation"])]: _finite(r["value"]) for r in table.rows}
    out["first_best"] = _finite(table.first_best)
    return out


def _one_line(text: Any) -> str:
    return " ".join(str(text).split())


def _max_profiles(instance, options: Mapping) -> int | str:
    """The sweep's cap, or "default": :func:`lpmech.solve` applies the formulation's own cap."""
    if options.get("max_profiles") is not None:
        return int(options["max_profiles"])
    return "default"


def solve_point(task: Mapping) -> dict:
    """Solve one point of a sweep (a dask task): build the instance, solve it, return its row.

    Parameters
    ----------
    task : dict
        ``data`` (the instance file's dictionary), ``label`` (names the point in messages),
        ``options`` (:attr:`SweepSpec.options`), ``key``, ``index`` and ``values`` (copied
        into the row).

    Returns
    -------
    dict
        ``index``, ``key``, the varied values, :func:`row_of`'s columns (and the compare
        columns), ``status`` (one of :data:`STATUSES`), ``error`` (one line, or None) and
        ``seconds`` (wall time of building and solving). Never raises for an lpmech error or a
        bug in the point: it becomes the row's status.
    """
    start = time.perf_counter()
    row: dict[str, Any] = {"index": task["index"], "key": task["key"], **task["values"]}
    options = task["options"]
    try:
        from .loader import from_dict

        instance = from_dict(task["data"], source=task["label"])
        mech = {k: options[k] for k in ("ic", "participation", "veto", "pareto") if k in options}
        if "veto" in mech:
            mech["veto"] = tuple(mech["veto"])
        if mech:
            instance = instance.with_mechanism(**mech)
        from .solver import solve

        kwargs = {"max_profiles": _max_profiles(instance, options), "method": options.get("method", "auto")}
        if options.get("certify"):
            kwargs["certify"] = options["certify"]
        result = solve(instance, **kwargs)
        row.update(row_of(result))
        if options.get("compare"):
            row.update(_compare_row(instance))
        row["status"], row["error"] = "optimal", None
    except InstanceError as err:
        if err.source is None:
            err = err.with_source(task["label"])
        row["status"], row["error"] = "error", _one_line(err)
    except SolverError as err:
        row["status"], row["error"] = "solver_error", _one_line(err)
    except CheckError as err:
        row["status"], row["error"] = "check_failed", _one_line(err)
    except LpmechError as err:
        row["status"], row["error"] = "failed", _one_line(err)
    except Exception as err:  # noqa: BLE001 (a bug or a resource failure in one point must not stop the sweep)
        row["status"], row["error"] = "crashed", _one_line(f"{type(err).__name__}: {err}")
    row["seconds"] = time.perf_counter() - start
    return row


# --------------------------------------------------------------------------- dask
def _local_workers(workers: int | None) -> int:
    if workers is not None:
        return int(workers)
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except (AttributeError, OSError):
        return max(os.cpu_count() or 1, 1)


def _distributed():
    """The dask.distributed module, or :class:`MissingDependencyError` naming the extra that installs it."""
    try:
        import distributed
    except ImportError:
        raise MissingDependencyError("running points on dask.distributed", "sweep") from None
    return distributed


@contextmanager
def dask_client(scheduler: str | None = None, workers: int | None = None):
    """A dask.distributed client, closed (with its local cluster) on exit.

    Parameters
    ----------
    scheduler : str, optional
        An existing cluster: the scheduler's address (``tcp://HOST:PORT``) or the path of its
        scheduler file (``dask scheduler --scheduler-file F``). None: a
        :class:`distributed.LocalCluster` of ``workers`` single-threaded worker processes
        (default one per core), no dashboard, started here and closed on exit.
    workers : int, optional
        Only with a local cluster.

    Yields
    ------
    distributed.Client
        Not registered as the default client (no process-wide state is changed).

    Raises
    ------
    InstanceError
        ``workers`` < 1, ``workers`` with ``scheduler``, or a scheduler that cannot be reached
        (field ``--scheduler``).
    """
    Client, LocalCluster = _distributed().Client, _distributed().LocalCluster

    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise InstanceError(f"must be a whole number >= 1, got {workers!r}", field="--workers")
    if scheduler is not None and workers is not None:
        raise InstanceError(
            "goes with a local cluster; an existing cluster (--scheduler) runs on its own workers", field="--workers"
        )
    cluster = None
    try:
        if scheduler is None:
            # no dashboard; the scheduler's HTTP endpoint on a free port of the loopback interface
            cluster = LocalCluster(
                n_workers=_local_workers(workers),
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
                silence_logs=logging.ERROR,
                scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
            )
            client = Client(cluster, set_as_default=False)
        else:
            kind = {"scheduler_file": scheduler} if os.path.isfile(scheduler) else {"address": scheduler}
            try:
                client = Client(**kind, set_as_default=False, timeout="20s")
            except (OSError, TimeoutError, ValueError) as exc:
                raise InstanceError(
                    f"cannot reach the dask scheduler {scheduler}: {_one_line(exc)}", field="--scheduler"
                ) from None
        try:
            yield client
        finally:
            client.close()
    finally:
        if cluster is not None:
            cluster.close()


def _progress_bar(total: int, progress: bool | None, desc: str):
    from tqdm import tqdm

    if progress is None:
        progress = _isatty(sys.stdout)
    return tqdm(total=total, desc=desc, disable=not progress, leave=False, file=sys.stderr)


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def map_points(
    fn: Callable[[Any], Any],
    items: Iterable[Any],
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    progress: bool | None = None,
    desc: str = "points",
) -> list:
    """Map a picklable function over items on dask.distributed; results in the items' order.

    The same machinery as :func:`run_sweep` (:func:`dask_client`): a local cluster of
    single-threaded worker processes, one per core, or an existing cluster.

    Parameters
    ----------
    fn : callable
        A module-level function (pickled by reference: the workers import its module).
    items : iterable
        Picklable arguments; ``fn(item)`` is one task.
    scheduler, workers : see :func:`dask_client`
    progress : bool or None
        A tqdm bar on standard error; None: when standard output is a terminal.
    desc : str
        The bar's label.

    Returns
    -------
    list
        ``[fn(item) for item in items]``.

    Raises
    ------
    Exception
        The first exception a task raised (the other tasks are cancelled).
    """
    as_completed = _distributed().as_completed

    items = list(items)
    if not items:
        return []
    with dask_client(scheduler, workers) as client:
        futures = [client.submit(fn, item, pure=False) for item in items]
        position = {f.key: k for k, f in enumerate(futures)}
        out: list[Any] = [None] * len(items)
        try:
            with _progress_bar(len(items), progress, desc) as bar:
                for fut in as_completed(futures, loop=client.loop):
                    out[position[fut.key]] = fut.result()
                    bar.update(1)
        except BaseException:
            client.cancel(futures)
            raise
    return out


# --------------------------------------------------------------------------- the sweep
def _jsonable(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return _jsonable(value.item())
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def _read_done(path: str) -> dict[str, dict]:
    """Rows already in ``points.jsonl`` by key (the last row of a key wins; a torn line is skipped)."""
    done: dict[str, dict] = {}
    try:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(row, dict) and isinstance(row.get("key"), str):
                    done[row["key"]] = row
    except FileNotFoundError:
        pass
    return done


@dataclass
class SweepOutcome:
    """What :func:`run_sweep` did.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per point, in sweep order (the content of ``results.parquet``).
    paths : dict
        ``parquet``, ``csv``, ``json``, ``points`` and (when drawn) ``png``: the files written.
    solved : int
        Points solved in this run.
    skipped : int
        Points found done in ``points.jsonl`` (not solved again).
    seconds : float
        Wall time of this run.
    workers : int
        Worker processes of the cluster when the sweep started.
    scheduler : str
        The scheduler's address.
    """

    spec: SweepSpec
    out_dir: str
    table: Any
    paths: dict
    solved: int
    skipped: int
    seconds: float
    workers: int
    scheduler: str

    @property
    def counts(self) -> dict[str, int]:
        """Number of rows of each status (statuses with no row omitted)."""
        vc = self.table["status"].value_counts()
        return {s: int(vc[s]) for s in STATUSES if s in vc.index}

    @property
    def failed(self) -> int:
        """Rows whose status says something went wrong beyond a bad instance (solver, check, crash)."""
        return sum(n for s, n in self.counts.items() if s not in ("optimal", "error"))

    def summary(self, max_rows: int = 20) -> str:
        """A short text report: counts, time, and the table's main columns (at most ``max_rows``)."""
        counts = ", ".join(f"{n} {s}" for s, n in self.counts.items())
        lines = [
            f"lpmech sweep: {len(self.table)} points ({self.solved} solved now, {self.skipped} already done): "
            f"{counts}; {self.workers} worker(s) at {self.scheduler}, {self.seconds:.1f} s"
        ]
        cols = [c for c in self.spec.paths if c in self.table.columns]
        cols += [
            c for c in self.table.columns if c == "value" or (c.startswith("omega_") and not c.endswith(("_lo", "_hi")))
        ]
        cols += [c for c in ("ratio", "status") if c in self.table.columns]
        view = self.table[cols]
        if len(view) > max_rows:
            half = max_rows // 2
            import pandas as pd

            view = pd.concat([view.head(half), view.tail(half)])
            lines.append(f"  (rows 1-{half} and the last {half} of {len(self.table)})")
        text = view.to_string(index=False, float_format=lambda v: f"{v:.6g}", na_rep="-")
        lines += ["  " + line for line in text.splitlines()]
        errors = self.table[self.table["status"] != "optimal"]
        for _, r in errors.head(5).iterrows():
            lines.append(f"  point {r['index']}: {r['status']}: {r['error']}")
        if len(errors) > 5:
            lines.append(f"  ... and {len(errors) - 5} more rows with errors (see results.csv)")
        return "\n".join(lines)


def _table(spec: SweepSpec, rows: list[dict]):
    import pandas as pd

    frame = pd.DataFrame(rows)
    varied = spec.paths
    for col in varied:  # a value that is not a number or a string (a list, a table) goes in as JSON text
        if col in frame and frame[col].map(lambda v: isinstance(v, (list, dict))).any():
            frame[col] = frame[col].map(lambda v: json.dumps(v) if isinstance(v, (list, dict)) else v)
    omega = [c for c in frame.columns if c.startswith("omega_")]
    compare = [c for c in COMPARE_COLUMNS if c in frame.columns]
    order = (
        ["index"]
        + varied
        + ["value"]
        + omega
        + list(RESULT_COLUMNS[1:])
        + compare
        + (["certified"] if "certified" in frame.columns else [])
        + ["status", "error", "seconds", "key"]
    )
    for col in order:
        if col not in frame.columns:
            frame[col] = None if col in ("formulation", "error") else math.nan
    float_cols = ["value", *omega, *RESULT_COLUMNS[1:-1], *compare, "seconds"]
    for col in float_cols:
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("float64")
    for col in ("formulation", "error", "status", "key"):
        frame[col] = frame[col].astype("object").where(frame[col].notna(), None)
    return frame[order].sort_values("index", kind="stable").reset_index(drop=True)


def run_sweep(
    spec: SweepSpec | str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    progress: bool | None = None,
) -> SweepOutcome:
    """Solve every point of a sweep on dask.distributed and write the tidy results.

    Parameters
    ----------
    spec : SweepSpec, or the path of a sweep file
    out_dir : str or path-like
        Created if missing. ``points.jsonl`` there receives one JSON line per point as it
        arrives (appended and flushed); points already in it (by key: base file, varied
        values, solve options) are not solved again, except rows with status ``"crashed"``.
    scheduler : str, optional
        An existing cluster's scheduler address or scheduler file; default a local cluster.
    workers : int, optional
        Worker processes of the local cluster (default one per core).
    progress : bool or None
        A tqdm bar on standard error; None: when standard output is a terminal.

    Returns
    -------
    SweepOutcome
        Its table has one row per point: a column per varied path, ``value``,
        ``omega_<agent>``, ``omega_<agent>_lo``, ``omega_<agent>_hi``, ``posted_price``,
        ``posted_value``, ``ratio``, ``trade_probability``, ``formulation`` (the compare
        columns with ``compare = true``), ``status``, ``error``, ``seconds``, ``key``.

    Raises
    ------
    InstanceError
        A bad sweep file (:func:`load_sweep`), ``out_dir`` not a writable directory (field
        ``--out``; :class:`~lpmech.errors.OutputError`), a bad ``--workers`` or an unreachable
        scheduler. Failures of single points are rows, never raised.

    Notes
    -----
    At the end ``results.parquet``, ``results.csv``, ``sweep.json`` (the sweep file's text, the
    :func:`lpmech.provenance.provenance` of the run, the times and the status counts) and, for
    one or two varied paths or a random sweep, ``sweep.png`` are written together through
    :func:`lpmech.files.write_outputs` (all or none).
    """
    as_completed = _distributed().as_completed

    from .files import check_output_path, make_output_dir, write_outputs
    from .provenance import provenance

    if not isinstance(spec, SweepSpec):
        spec = load_sweep(spec)
    out_dir = os.fspath(out_dir)
    check_output_path(out_dir, "--out", directory=True)
    started = time.time()
    t0 = time.perf_counter()
    make_output_dir(out_dir, "--out")
    jsonl = os.path.join(out_dir, POINTS_FILE)
    done = _read_done(jsonl)

    def pending(p: Point) -> bool:
        return p.key not in done or done[p.key].get("status") in RETRY_STATUSES

    keys = [p.key for p in spec.iter_points()]
    n_todo = sum(1 for p in spec.iter_points() if pending(p))
    skipped = len(keys) - n_todo
    n_workers, address = 0, str(scheduler or "local")
    if n_todo:
        with dask_client(scheduler, workers) as client, open(jsonl, "a", encoding="utf-8") as sink:
            info = client.scheduler_info()
            n_workers, address = len(info.get("workers", {})), str(info.get("address", address))
            if sink.tell() > 0 and not _ends_with_newline(jsonl):
                sink.write("\n")  # a torn last line (an interrupted run) stays on its own
            todo = (p for p in spec.iter_points() if pending(p))
            running: dict[Any, Point] = {}
            queue = as_completed(loop=client.loop)

            def submit_next() -> bool:
                p = next(todo, None)
                if p is None:
                    return False
                task = {
                    "index": p.index,
                    "key": p.key,
                    "values": p.values,
                    "data": p.data,
                    "label": p.label,
                    "options": spec.options,
                }
                fut = client.submit(solve_point, task, pure=False)
                running[fut] = p
                queue.add(fut)
                return True

            try:
                for _ in range(IN_FLIGHT_PER_WORKER * max(n_workers, 1)):
                    if not submit_next():
                        break
                with _progress_bar(n_todo, progress, "sweep") as bar:
                    for fut in queue:
                        p = running.pop(fut)
                        try:
                            row = fut.result()
                        except Exception as exc:  # noqa: BLE001 (the worker died or the task could not run)
                            row = {
                                "index": p.index,
                                "key": p.key,
                                **p.values,
                                "status": "crashed",
                                "error": _one_line(f"{type(exc).__name__}: {exc}"),
                                "seconds": math.nan,
                            }
                        fut.release()
                        done[p.key] = row
                        sink.write(json.dumps(_jsonable(row), allow_nan=False) + "\n")
                        sink.flush()
                        bar.update(1)
                        submit_next()
            except BaseException:
                client.cancel(list(running))
                raise
            os.fsync(sink.fileno())
    rows = [{**done[k], "index": i} for i, k in enumerate(keys) if k in done]
    table = _table(spec, rows)
    seconds = time.perf_counter() - t0
    counts = {s: int(n) for s, n in table["status"].value_counts().items()}
    record = {
        "sweep_file": spec.source,
        "sweep_text": spec.text,
        "base": spec.base,
        "points": len(keys),
        "shape": list(spec.shape),
        "zip": spec.zip,
        "varied": spec.paths,
        "options": spec.options,
        "random": None if spec.random is None else {**spec.random, "agents": list(spec.random["agents"])},
        "solved_now": n_todo,
        "skipped": skipped,
        "status_counts": counts,
        "scheduler": address,
        "workers": n_workers,
        "started": _iso(started),
        "finished": _iso(time.time()),
        "wall_seconds": seconds,
        "provenance": provenance(source=spec.source, options=spec.options),
    }
    if spec.base:
        from .provenance import sha256_file

        record["base_sha256"] = sha256_file(spec.base)
    paths = {
        "parquet": os.path.join(out_dir, "results.parquet"),
        "csv": os.path.join(out_dir, "results.csv"),
        "json": os.path.join(out_dir, "sweep.json"),
        "points": jsonl,
    }
    outputs = [
        (paths["parquet"], lambda tmp: table.to_parquet(tmp, engine="pyarrow", index=False)),
        (paths["csv"], lambda tmp: table.to_csv(tmp, index=False)),
        (paths["json"], lambda tmp: _write_text(tmp, json.dumps(_jsonable(record), indent=1, allow_nan=False) + "\n")),
    ]
    fig = sweep_figure(spec, table)
    if fig is not None:
        paths["png"] = os.path.join(out_dir, "sweep.png")
        outputs.append((paths["png"], lambda tmp: fig.savefig(tmp, format="png", dpi=130)))
    write_outputs(outputs)
    return SweepOutcome(spec, out_dir, table, paths, n_todo, skipped, seconds, n_workers, address)


def _ends_with_newline(path: str) -> bool:
    with open(path, "rb") as fh:
        fh.seek(0, os.SEEK_END)
        if fh.tell() == 0:
            return True
        fh.seek(-1, os.SEEK_END)
        return fh.read(1) == b"\n"


def _write_text(tmp: str, text: str) -> None:
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)


def _iso(t: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(t, dt.UTC).isoformat(timespec="seconds")


# --------------------------------------------------------------------------- figures
def _numeric(values: Sequence[Any]) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def _agents(table) -> list[str]:
    return [c[len("omega_") :] for c in table.columns if c.startswith("omega_") and not c.endswith(("_lo", "_hi"))]


def sweep_figure(spec: SweepSpec, table):
    """The sweep's figure, or None when there is nothing to draw.

    One varied path (or a zip sweep, against its first path): the optimal value and the best
    posted price's value, each agent's ω with the band of all optimal ω, and optimal/posted,
    against the varied value. Two varied paths (product): heatmaps of the value and of the first
    agent's ω. A random sweep: the histogram of optimal/posted. Rows that are not optimal are
    gaps.

    Returns
    -------
    matplotlib.figure.Figure or None
        With an Agg canvas (no pyplot state).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    ok = table["status"] == "optimal"
    title = spec.name or (os.path.basename(spec.base) if spec.base else os.path.basename(spec.source))
    agents = _agents(table)
    if spec.random:
        ratio = table.loc[ok, "ratio"].dropna()
        if ratio.empty:
            return None
        fig = Figure(figsize=(6.4, 4.2), layout="constrained")
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        ax.hist(ratio, bins=min(40, max(5, len(ratio) // 5)), color="C0")
        ax.set_xlabel("optimal expected profit / best posted price's expected profit")
        ax.set_ylabel("number of instances")
        ax.set_title(f"{title}: {len(ratio)} random instances (seed {spec.random['seed']})", fontsize=9)
        return fig
    if len(spec.vary) == 1 or spec.zip:
        path = spec.vary[0].path
        x = table[path].tolist()
        numeric = _numeric(x)
        pos = np.asarray(x, dtype=float) if numeric else np.arange(len(x), dtype=float)
        fig = Figure(figsize=(6.4, 7.6), layout="constrained")
        FigureCanvasAgg(fig)
        axes = fig.subplots(3, 1, sharex=True)

        def y(col):
            return np.where(ok, table[col].to_numpy(dtype=float), np.nan) if col in table else np.full(len(x), np.nan)

        axes[0].plot(pos, y("value"), "o-", ms=3, label="optimal mechanism")
        axes[0].plot(pos, y("posted_value"), "s--", ms=3, label="best posted price")
        axes[0].set_ylabel("designer's expected profit")
        axes[0].legend(fontsize=8)
        for k, name in enumerate(agents):
            axes[1].plot(pos, y(f"omega_{name}"), "o-", ms=3, color=f"C{k}", label=f"ω {name}")
            lo, hi = y(f"omega_{name}_lo"), y(f"omega_{name}_hi")
            if np.any(np.isfinite(lo)):
                axes[1].fill_between(pos, lo, hi, color=f"C{k}", alpha=0.2, lw=0)
        axes[1].set_ylabel("weight ω (LP's; band: all optimal ω)")
        if agents:
            axes[1].legend(fontsize=8)
        axes[2].plot(pos, y("ratio"), "o-", ms=3, color="C3")
        axes[2].set_ylabel("optimal / posted")
        axes[2].set_xlabel(path if not spec.zip else f"{path} (zipped with {', '.join(v.path for v in spec.vary[1:])})")
        if not numeric:
            axes[2].set_xticks(pos, [_short(v) for v in x], rotation=45, fontsize=7)
        bad = ~ok.to_numpy()
        if bad.any():
            axes[0].plot(pos[bad], np.zeros(bad.sum()), "x", color="crimson", label="no solution (see results.csv)")
            axes[0].legend(fontsize=8)
        fig.suptitle(f"{title}: sweep over {path}", fontsize=10)
        return fig
    if len(spec.vary) == 2:
        (a, b) = spec.vary
        if not (_numeric(a.values) and _numeric(b.values)):
            return None
        shape = (len(a.values), len(b.values))
        cols = [("value", "designer's expected profit")]
        if agents:
            cols.append((f"omega_{agents[0]}", f"ω {agents[0]}"))
        fig = Figure(figsize=(5.2 * len(cols), 4.4), layout="constrained")
        FigureCanvasAgg(fig)
        for k, (col, label) in enumerate(cols):
            ax = fig.add_subplot(1, len(cols), k + 1)
            z = np.where(ok, table[col].to_numpy(dtype=float), np.nan).reshape(shape)
            mesh = ax.pcolormesh(
                _edges(np.asarray(b.values, float)),
                _edges(np.asarray(a.values, float)),
                z,
                shading="flat",
                cmap="viridis",
            )
            fig.colorbar(mesh, ax=ax, label=label)
            ax.set_xlabel(b.path)
            ax.set_ylabel(a.path)
            ax.set_title(label, fontsize=9)
        fig.suptitle(f"{title}: sweep over {a.path} x {b.path}", fontsize=10)
        return fig
    return None


def _edges(v: np.ndarray) -> np.ndarray:
    order = np.argsort(v)
    s = v[order]
    if s.size == 1:
        return np.array([s[0] - 0.5, s[0] + 0.5])
    mid = (s[1:] + s[:-1]) / 2
    e = np.concatenate([[s[0] - (mid[0] - s[0])], mid, [s[-1] + (s[-1] - mid[-1])]])
    if not np.all(order == np.arange(v.size)):
        raise ValueError("heatmap axes must be increasing")
    return e


# --------------------------------------------------------------------------- command line
def add_parser(subparsers) -> Any:
    """Register ``lpmech sweep`` on an :mod:`argparse` sub-parser collection.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        ``parser.add_subparsers(...)`` of the ``lpmech`` parser.

    Returns
    -------
    argparse.ArgumentParser
        The ``sweep`` parser (its ``func`` default is :func:`command`).
    """
    from .cli import _positive_int  # the one parser of a whole-number option (cli imports this module lazily)

    p = subparsers.add_parser(
        "sweep",
        help="solve a parameter sweep (or random instances) on dask.distributed",
        description="Solve every point of a sweep file on dask.distributed and write "
        "results.parquet, results.csv, sweep.json and sweep.png into DIR. "
        "A rerun with the same DIR skips the points already solved.",
    )
    p.add_argument("file", help='sweep file (TOML): base = "instance.toml" and [[vary]] tables, or [random]')
    p.add_argument("--out", required=True, metavar="DIR", help="output directory (created if missing)")
    p.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="an existing dask cluster: tcp://HOST:PORT or a scheduler file (default: a local cluster)",
    )
    p.add_argument(
        "--workers",
        type=_positive_int,
        metavar="N",
        help="worker processes of the local cluster (default: one per core)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=command)
    return p


def command(args, run=None) -> int:
    """``lpmech sweep FILE --out DIR [--scheduler ADDRESS] [--workers N] [--no-progress]``.

    Parameters
    ----------
    args : argparse.Namespace
        From :func:`add_parser`'s parser.
    run : lpmech.cli._Run, optional
        The command line's output channel (``run.out``, ``run.print``); None prints to
        standard output.

    Returns
    -------
    int
        0 when every point is optimal or has a bad instance (status ``"error"``); 1 when a
        point's solver failed, a check failed or a point crashed (the table records which).

    Raises
    ------
    InstanceError
        A bad sweep file, output directory, ``--workers`` or scheduler (exit status 2).
    """
    out = getattr(run, "out", None) or sys.stdout
    progress = False if args.no_progress else _isatty(out)
    spec = load_sweep(args.file)
    outcome = run_sweep(spec, args.out, scheduler=args.scheduler, workers=args.workers, progress=progress)
    if run is not None:
        run.committed = True
    lines = [outcome.summary()]
    lines += [f"  wrote {os.path.basename(p)}: {p}" for k, p in outcome.paths.items()]
    if outcome.failed:
        lines.append(
            f"lpmech sweep: {outcome.failed} point(s) failed beyond a bad instance (solver failure, "
            f"failed check or crash): exit status 1"
        )
    print("\n".join(lines), file=out)
    return 1 if outcome.failed else 0
